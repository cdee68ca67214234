// One explanation end to end through the library (run_explanation -> write_explanation_folder), on the mock
// engine behind the factory: the record is complete and consistent, the folder holds what report.h promises,
// and the metrics of the record held in memory equal those read back from its files.
#include "eagle/backends.h"
#include "eagle/eagle.h"

#include "mock-scorer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <cmath>

namespace {

using eagle::testing::quadrant_image;

namespace fs = std::filesystem;


struct mock_run {
    std::unique_ptr<eagle::vlm_model> model;
    std::unique_ptr<eagle::vlm_session> session;
    eagle::explanation_request request;
};

mock_run make_run() {
    mock_run r;
    eagle::model_params mp;
    mp.engine = "mock";
    r.model = eagle::load_vlm(mp);
    r.session = r.model->new_session({});
    r.request.image = quadrant_image(48, 40);
    r.request.image_path = "quadrants.png";
    r.request.prompt = "describe the image";
    r.request.regions.kind = eagle::region_kind::grid;
    r.request.regions.n_cols = 4;
    r.request.regions.n_rows = 4;
    return r;
}

fs::path tmp_dir(const std::string & name) {
    const fs::path dir = fs::path(EAGLE_TEST_TMP_DIR) / "run" / name;
    fs::remove_all(dir);
    return dir;
}

} // namespace

TEST(run_explanation, sentence_record_is_complete_and_consistent) {
    mock_run r = make_run();
    const eagle::explanation_record rec = eagle::run_explanation(*r.model, *r.session, r.request);
    EXPECT_EQ(rec.answer_text, "top left red top right green bottom left blue bottom right white");
    ASSERT_EQ(rec.answer.size(), 13u); // 12 words and the end token (append_eog)
    ASSERT_EQ(rec.words.size(), rec.answer.size());
    EXPECT_EQ(rec.words.back(), "");
    // every token a target, in order, scored as itself
    ASSERT_EQ(rec.target_indices.size(), rec.answer.size());
    for (size_t t = 0; t < rec.target_indices.size(); ++t) {
        EXPECT_EQ(rec.target_indices[t], int32_t(t));
        EXPECT_EQ(rec.target_ids[t], rec.answer[t]);
    }
    const eagle::explanation & ex = rec.result;
    EXPECT_EQ(ex.n_regions, 16);
    EXPECT_EQ(rec.regions.n_regions, 16);
    EXPECT_TRUE(ex.is_complete);
    EXPECT_EQ(ex.reliance.size(), rec.target_indices.size());
    EXPECT_EQ(rec.engine.model_path, "");
    EXPECT_EQ(rec.engine.n_seq, eagle::session_params{}.n_seq);
    EXPECT_FALSE(rec.hallucination.has_value());
    EXPECT_EQ(rec.scorer.n_evaluations, ex.n_evaluations); // a fresh session: the search's own count
}

TEST(run_explanation, targets_by_word_index_and_text) {
    mock_run r = make_run();
    r.request.target_words = {"BLUE"}; // case-insensitive, trimmed
    r.request.target_indices = {2};
    eagle::explanation_record rec = eagle::run_explanation(*r.model, *r.session, r.request);
    EXPECT_EQ(rec.target_indices, (std::vector<int32_t>{2, 8})); // "red" by index, "blue" by word; sorted
    EXPECT_EQ(rec.result.reliance.size(), 2u);

    r.request.target_words = {};
    r.request.target_indices = {};
    r.request.target_text = "green";
    rec = eagle::run_explanation(*r.model, *r.session, r.request);
    EXPECT_EQ(rec.target_indices, (std::vector<int32_t>{0})); // the default position of a target text
    EXPECT_EQ(rec.target_pieces, (std::vector<std::string>{"green"}));

    r.request.target_text = "";
    r.request.target_words = {"purple"};
    EXPECT_THROW(eagle::run_explanation(*r.model, *r.session, r.request), eagle::error);
    r.request.target_words = {};
    r.request.target_indices = {13};
    EXPECT_THROW(eagle::run_explanation(*r.model, *r.session, r.request), eagle::error);
}

TEST(run_explanation, the_word_map_of_a_colour_peaks_in_its_quadrant) {
    mock_run r = make_run();
    r.request.target_words = {"blue"};
    r.request.params.mode = eagle::search_mode::exact;
    const eagle::explanation_record rec = eagle::run_explanation(*r.model, *r.session, r.request);
    const std::vector<int32_t> bottom_left = {8, 9, 12, 13};
    for (size_t k = 0; k < 4; ++k) {
        EXPECT_NE(std::find(bottom_left.begin(), bottom_left.end(), rec.result.order[k]), bottom_left.end()) << k;
    }
    EXPECT_TRUE(rec.result.reliance[0].is_visual);
}

TEST(run_explanation, revise_finds_the_minimal_correction_with_the_metrics_rule) {
    mock_run r = make_run();
    // the mock's answer always starts with "top": a correct answer the full image already gives
    r.request.target_indices = {2};
    r.request.target_text = "top";
    r.request.revise = true;
    eagle::explanation_record rec = eagle::run_explanation(*r.model, *r.session, r.request);
    ASSERT_TRUE(rec.hallucination.has_value());
    EXPECT_EQ(rec.hallucination->correct_answer, "top");
    // the answer with every region kept already starts with "top": corrected at once, nothing removed
    EXPECT_TRUE(rec.hallucination->result.is_corrected);
    EXPECT_EQ(rec.hallucination->result.n_kept, rec.result.n_regions);
    ASSERT_TRUE(rec.hallucination->revised_answering.back().has_value());
    for (size_t k = 0; k + 1 < rec.hallucination->revised_answering.size(); ++k) {
        EXPECT_FALSE(rec.hallucination->revised_answering[k].has_value()) << k; // the walk stopped
    }
    const eagle::correction c = eagle::minimal_correction(
        rec.hallucination->revised_answering,
        std::vector<double>(rec.result.region_area.begin(), rec.result.region_area.end()), "top");
    EXPECT_EQ(c.n_kept, rec.hallucination->result.n_kept);
    EXPECT_DOUBLE_EQ(c.removed_fraction, rec.hallucination->result.removed_fraction);

    // revise_all: every answer generated, as the reference (its scripts read all n); the same correction
    r.request.revise_all = true;
    const eagle::explanation_record all = eagle::run_explanation(*r.model, *r.session, r.request);
    for (const auto & answer : all.hallucination->revised_answering) {
        EXPECT_TRUE(answer.has_value());
    }
    EXPECT_EQ(all.hallucination->result.n_kept, rec.hallucination->result.n_kept);
    EXPECT_EQ(all.hallucination->revised_answering.back(), rec.hallucination->revised_answering.back());
    r.request.revise_all = false;

    // a correct answer no masking produces: the walk visits every k and the record says never corrected
    r.request.target_text = "purple";
    rec = eagle::run_explanation(*r.model, *r.session, r.request);
    ASSERT_TRUE(rec.hallucination.has_value());
    EXPECT_FALSE(rec.hallucination->result.is_corrected);
    for (const auto & answer : rec.hallucination->revised_answering) {
        EXPECT_TRUE(answer.has_value());
    }
}

TEST(run_explanation, folder_and_in_memory_metrics_agree) {
    mock_run r = make_run();
    r.request.ground_truth = {{"location", {0, 20, 24, 40}}}; // the bottom-left quadrant, xyxy
    r.request.target_words = {"blue"};
    const eagle::explanation_record rec = eagle::run_explanation(*r.model, *r.session, r.request);
    const fs::path dir = tmp_dir("folder");
    eagle::write_explanation_folder(dir.string(), rec);
    for (const char * f : {"explanation.json", "regions.npy", "labels.png", "attribution.png", "report.html",
                           "tokens/8-blue.png"}) {
        EXPECT_TRUE(fs::exists(dir / f)) << f;
    }
    EXPECT_FALSE(fs::exists(dir / "hallucination.png"));
    // the file is the record's JSON, and reads back to the same metrics the record gives in memory
    const nlohmann::json j = nlohmann::json::parse(eagle::read_file((dir / "explanation.json").string()));
    EXPECT_EQ(j.dump(), nlohmann::json(eagle::to_json(rec)).dump());
    bool is_single = false;
    const std::vector<eagle::explanation_files> files = eagle::discover_explanations(dir.string(), is_single);
    ASSERT_TRUE(is_single);
    ASSERT_EQ(files.size(), 1u);
    for (eagle::map_source source : {eagle::map_source::attribution, eagle::map_source::add_value}) {
        const eagle::sample_metrics from_files = eagle::evaluate_explanation_files(files[0], source, eagle::default_sensitivity);
        const eagle::sample_metrics in_memory = eagle::evaluate_record(rec, source, eagle::default_sensitivity);
        EXPECT_DOUBLE_EQ(from_files.all.insertion_auc, in_memory.all.insertion_auc);
        EXPECT_DOUBLE_EQ(from_files.all.deletion_auc, in_memory.all.deletion_auc);
        EXPECT_DOUBLE_EQ(from_files.all.highest_score, in_memory.all.highest_score);
        ASSERT_TRUE(from_files.point_game_box.has_value());
        ASSERT_TRUE(in_memory.point_game_box.has_value());
        EXPECT_EQ(*from_files.point_game_box, *in_memory.point_game_box);
        EXPECT_TRUE(*in_memory.point_game_box); // "blue" is explained by its quadrant
    }
}

TEST(run_explanation, a_cancelled_search_skips_the_walk_and_says_so) {
    mock_run r = make_run();
    r.request.revise = true;
    r.request.target_text = "top";
    r.request.target_indices = {2};
    int32_t n_calls = 0;
    const eagle::explanation_record rec = eagle::run_explanation(
        *r.model, *r.session, r.request, [&](eagle::run_phase phase, int32_t, int32_t) {
            EXPECT_EQ(phase, eagle::run_phase::search);
            return ++n_calls < 3;
        });
    EXPECT_FALSE(rec.result.is_complete);
    EXPECT_FALSE(rec.hallucination.has_value());
    for (float v : rec.result.region_value) {
        EXPECT_GE(v, 0.0f);
        EXPECT_LE(v, 1.0f);
    }
}

// issue 13: run_explanation checks its numbers before the image is loaded or an answer generated
// fuzz-segmenters' finding: more regions than labels.png holds used to fail only when the folder was written,
// after the whole search; now right after the regions are cut, naming the count and the limit
TEST(run_explanation, more_regions_than_labels_png_holds_are_rejected_before_the_search) {
    mock_run r = make_run();
    r.request.image = quadrant_image(300, 300);
    r.request.regions.n_cols = 300;
    r.request.regions.n_rows = 300;
    try {
        eagle::run_explanation(*r.model, *r.session, r.request);
        ADD_FAILURE() << "90000 regions accepted";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument) << e.what();
        EXPECT_NE(std::string(e.what()).find("90000 regions, more than eagle's limit of 65535"), std::string::npos) << e.what();
    }
    EXPECT_EQ(r.session->stats().n_evaluations, 0) << "the search ran";
}

TEST(run_explanation, bad_numbers_are_rejected_first_with_their_name_and_value) {
    const std::vector<std::pair<std::function<void(eagle::explanation_request &)>, std::string>> bad = {
        {[](eagle::explanation_request & rq) { rq.max_tokens = 0; }, "max_tokens must be >= 1, got 0"},
        {[](eagle::explanation_request & rq) { rq.regions.kind = eagle::region_kind::slico; rq.regions.n_divisions = -4; },
         "regions.n_divisions must be >= 1, got -4"},
        {[](eagle::explanation_request & rq) { rq.regions.n_cols = 0; }, "grid cells must be >= 1 per side, got 0x4"},
        {[](eagle::explanation_request & rq) { rq.params.lambda1 = std::nanf(""); }, "lambda1 must be finite and >= 0, got nan"},
    };
    for (const auto & [spoil, message] : bad) {
        mock_run r = make_run();
        r.request.image = {};                       // would be loaded from image_path...
        r.request.image_path = "/nonexistent.png"; // ...and fail with errc::io if the numbers were not checked first
        spoil(r.request);
        try {
            eagle::run_explanation(*r.model, *r.session, r.request);
            ADD_FAILURE() << message << ": accepted";
        } catch (const eagle::error & e) {
            EXPECT_EQ(e.code(), eagle::errc::invalid_argument) << e.what();
            EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
        }
    }
}

// --target-word specs: the reference explains one position, the word's first occurrence
TEST(target_word, a_spec_names_one_occurrence) {
    const auto spec = [](const std::string & s) {
        const eagle::target_word_spec t = eagle::parse_target_word(s);
        return std::make_pair(t.word, t.occurrence);
    };
    EXPECT_EQ(spec("cat"), std::make_pair(std::string("cat"), 1));
    EXPECT_EQ(spec("cat@2"), std::make_pair(std::string("cat"), 2));
    EXPECT_EQ(spec("cat@all"), std::make_pair(std::string("cat"), 0));
    EXPECT_EQ(spec("a@b"), std::make_pair(std::string("a@b"), 1)); // not a number: part of the word
    EXPECT_EQ(spec("@@3"), std::make_pair(std::string("@"), 3));
    for (const char * bad : {"cat@0", "@2", "", " @all"}) {
        EXPECT_THROW(eagle::parse_target_word(bad), eagle::error) << bad;
    }
}

TEST(run_explanation, a_target_word_is_its_first_occurrence_unless_numbered) {
    mock_run r = make_run();
    // "top left red top right green bottom left blue bottom right white": "top" at 0 and 3, "left" at 1 and 7
    const auto targets = [&](std::vector<std::string> words) {
        r.request.target_words = std::move(words);
        return eagle::run_explanation(*r.model, *r.session, r.request).target_indices;
    };
    EXPECT_EQ(targets({"top"}), (std::vector<int32_t>{0}));
    EXPECT_EQ(targets({"top@2"}), (std::vector<int32_t>{3}));
    EXPECT_EQ(targets({"top@all"}), (std::vector<int32_t>{0, 3}));
    EXPECT_EQ(targets({"LEFT@2", "top"}), (std::vector<int32_t>{0, 7}));
    try {
        targets({"top@3"});
        ADD_FAILURE() << "top@3 was accepted";
    } catch (const eagle::error & e) {
        EXPECT_NE(std::string(e.what()).find("'top' occurs 2 time(s)"), std::string::npos) << e.what();
    }
    EXPECT_THROW(targets({"top@0"}), eagle::error);
}

namespace {

std::vector<std::string> g_warnings;
void collect_warnings(eagle::log_level level, const char * text, void *) {
    if (level >= eagle::log_level::warn) {
        g_warnings.emplace_back(text);
    }
}

} // namespace

TEST(run_explanation, a_cut_answer_is_recorded_and_warned_about) {
    mock_run r = make_run();
    EXPECT_EQ(r.request.max_tokens, 128); // the reference's max_new_tokens
    g_warnings.clear();
    eagle::set_log_callback(collect_warnings, nullptr);
    eagle::explanation_record rec = eagle::run_explanation(*r.model, *r.session, r.request);
    EXPECT_FALSE(rec.is_answer_cut);
    EXPECT_TRUE(g_warnings.empty());

    r.request.max_tokens = 5;
    rec = eagle::run_explanation(*r.model, *r.session, r.request);
    eagle::set_log_callback(nullptr, nullptr);
    EXPECT_TRUE(rec.is_answer_cut);
    EXPECT_EQ(rec.answer.size(), 5u); // no end token: the model never said it
    EXPECT_FALSE(r.model->is_eog(rec.answer.back()));
    ASSERT_EQ(g_warnings.size(), 1u);
    EXPECT_NE(g_warnings[0].find("cut at 5 tokens without its end token"), std::string::npos) << g_warnings[0];
    EXPECT_EQ(eagle::to_json(rec)["answer_cut"], true);
}

TEST(run_explanation, token_ids_are_scored_exactly_as_given) {
    mock_run r = make_run();
    const eagle::vlm_model & m = *r.model;
    const std::vector<int32_t> answer = m.tokenize("top left red top", false); // no end token: none is added
    const std::vector<int32_t> before = m.tokenize("describe", false), after = m.tokenize("the image", false);
    const int32_t image = m.tokenize("<image>", false, true).at(0);
    std::vector<int32_t> prompt = before;
    prompt.insert(prompt.end(), 5, image); // a Hugging Face processor's placeholder run
    prompt.insert(prompt.end(), after.begin(), after.end());
    r.request.prompt = "ignored when prompt ids are given";
    r.request.use_raw_prompt = true; // ignored too (it would need an <image> in the text)
    r.request.prompt_ids = prompt;
    r.request.answer_ids = answer;
    r.request.answer_text = "ignored";
    r.request.target_indices = {2};
    r.request.target_token_ids = {m.tokenize("green", false).at(0)}; // a counter word, as RePOPE's counter_word_id
    const eagle::explanation_record rec = eagle::run_explanation(m, *r.session, r.request);
    EXPECT_EQ(rec.answer, answer);
    EXPECT_EQ(rec.words, (std::vector<std::string>{"top", "left", "red", "top"}));
    EXPECT_EQ(rec.target_indices, (std::vector<int32_t>{2}));
    EXPECT_EQ(rec.target_ids, r.request.target_token_ids);
    EXPECT_EQ(rec.target_pieces, (std::vector<std::string>{"green"}));
    // what was fed: the ids around the run, the engine's image tokens in its place
    ASSERT_EQ(rec.prompt_sequence.size(), 3u);
    EXPECT_EQ(rec.prompt_sequence[0].ids, before);
    EXPECT_TRUE(rec.prompt_sequence[1].is_image);
    EXPECT_EQ(rec.prompt_sequence[1].n_image_tokens, 4); // the mock's image: one token per quadrant
    EXPECT_EQ(rec.prompt_sequence[2].ids, after);
    const nlohmann::ordered_json j = eagle::to_json(rec);
    EXPECT_EQ(j["scored_tokens"]["answer"], answer);
    EXPECT_EQ(j["scored_tokens"]["prompt"][0]["text"], before);
    EXPECT_EQ(j["scored_tokens"]["prompt"][1]["image_tokens"], 4);
    EXPECT_EQ(j["selected_interpretation_token_word_id"], r.request.target_token_ids);
    EXPECT_EQ(j["run"]["prompt_ids"], prompt);

    // p(green) at the red quadrant's position is the mock's "other colour" probability, mask or no mask
    EXPECT_LT(rec.result.reliance[0].p_full, 0.01f);

    const auto rejected = [&](const std::function<void(eagle::explanation_request &)> & change, const std::string & what) {
        mock_run bad = make_run();
        bad.request.prompt_ids = prompt;
        bad.request.answer_ids = answer;
        change(bad.request);
        try {
            eagle::run_explanation(*bad.model, *bad.session, bad.request);
            ADD_FAILURE() << "accepted: " << what;
        } catch (const eagle::error & e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    rejected([&](eagle::explanation_request & rq) { rq.prompt_ids = before; }, "have no image placeholder");
    rejected([&](eagle::explanation_request & rq) { rq.prompt_ids.push_back(image); }, "forms 2 runs");
    rejected([&](eagle::explanation_request & rq) { rq.image_token = 7; }, "image token 7 is not in the prompt ids");
    rejected([&](eagle::explanation_request & rq) { rq.answer_ids = {3, 999}; }, "answer token id 999 is outside the vocabulary");
    rejected([&](eagle::explanation_request & rq) { rq.target_text = "red"; rq.target_token_ids = {7}; }, "give one");
    rejected([&](eagle::explanation_request & rq) { rq.target_indices = {0, 1, 2}; rq.target_token_ids = {7, 8}; },
             "2 target token ids for 3 targets");
}

// --image-fit crop: what the model is shown is the centred square, so pixels outside it can change nothing
TEST(run_explanation, regions_outside_the_crop_are_inert) {
    eagle::model_params mp;
    mp.engine = "mock";
    const std::unique_ptr<eagle::vlm_model> model = eagle::load_vlm(mp);
    const std::unique_ptr<eagle::vlm_session> session = model->new_session({});
    const eagle::image_rgb8 image = quadrant_image(60, 36); // the crop is x in [12, 48)
    eagle::score_request rq;
    rq.image = image;
    rq.prompt = "describe the image";
    for (const auto & t : session->generate({image, rq.prompt}).tokens) {
        rq.answer.push_back(t.id);
    }
    const auto outside = [&](int32_t x0, int32_t x1) { // remove the columns [x0, x1)
        eagle::mask m = eagle::mask::full(image.nx, image.ny);
        for (int32_t y = 0; y < image.ny; ++y) {
            for (int32_t x = x0; x < x1; ++x) {
                m.keep[size_t(y) * image.nx + x] = 0;
            }
        }
        return m;
    };
    const std::vector<eagle::mask> masks = {eagle::mask::full(image.nx, image.ny), outside(0, 12), outside(48, 60),
                                            outside(0, 13)};
    const auto probs_under = [&](eagle::fit_mode fit) {
        rq.fit = fit;
        session->prepare(rq);
        std::vector<float> p(masks.size() * size_t(session->n_targets()));
        session->score(masks, p);
        return p;
    };
    const size_t n = rq.answer.size();
    const std::vector<float> crop = probs_under(eagle::fit_mode::crop);
    for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(crop[1 * n + i], crop[i]) << "left margin, target " << i;
        EXPECT_EQ(crop[2 * n + i], crop[i]) << "right margin, target " << i;
    }
    bool one_column_in_counts = false, margins_count_natively = false;
    const std::vector<float> native = probs_under(eagle::fit_mode::native);
    for (size_t i = 0; i < n; ++i) {
        one_column_in_counts |= crop[3 * n + i] != crop[i];
        margins_count_natively |= native[1 * n + i] != native[i];
    }
    EXPECT_TRUE(one_column_in_counts);   // column 12 is inside the crop
    EXPECT_TRUE(margins_count_natively); // without the crop the same pixels matter
}
