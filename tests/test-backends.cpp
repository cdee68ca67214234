// The engine seam without llama.cpp: the memo decorator, request normalisation, the stats JSON, the
// pinned defaults of the params structs, and the mock engine reached through the factory.
#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/scorer-json.h"
#include "mock-scorer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>

namespace {

using eagle::testing::quadrant_image;


std::unique_ptr<eagle::vlm_model> mock_model() {
    eagle::model_params params;
    params.engine = "mock";
    return eagle::load_vlm(params);
}

std::string error_of(const std::function<void()> & fn) {
    try {
        fn();
    } catch (const eagle::error & e) {
        return std::string(eagle::errc_name(e.code())) + ": " + e.what();
    }
    return "no error";
}

} // namespace

TEST(defaults, params_structs_are_pinned) {
    const eagle::model_params m;
    EXPECT_EQ(m.engine, "llama");
    EXPECT_TRUE(m.model_path.empty());
    EXPECT_TRUE(m.mmproj_path.empty());
    EXPECT_EQ(m.n_threads, 0);
    EXPECT_EQ(m.n_gpu_layers, 0);

    const eagle::session_params s;
    EXPECT_EQ(s.n_seq, 16);
    EXPECT_EQ(s.n_ctx, 0);
    EXPECT_TRUE(s.share_prefix);
    EXPECT_TRUE(s.use_memo);
    EXPECT_FALSE(s.use_unified_kv);
    EXPECT_FALSE(s.use_batch_encode);
    EXPECT_FALSE(s.use_flash_attn);

    const eagle::generate_request g;
    EXPECT_FALSE(g.use_raw_prompt);
    EXPECT_EQ(g.max_tokens, 128); // the reference's max_new_tokens
    EXPECT_TRUE(g.prompt_ids.empty());
    EXPECT_EQ(g.image_token, -1);
    EXPECT_EQ(g.fit, eagle::fit_mode::native);
    EXPECT_EQ(g.fit_size, 0);

    const eagle::score_request r;
    EXPECT_FALSE(r.use_raw_prompt);
    EXPECT_EQ(r.fill, eagle::fill_mode::black);
    EXPECT_TRUE(r.prompt_ids.empty());
    EXPECT_EQ(r.image_token, -1);
    EXPECT_EQ(r.fit, eagle::fit_mode::native);
}

TEST(factory, knows_its_engines_and_rejects_others) {
    const std::vector<std::string> engines = eagle::vlm_engines();
    EXPECT_NE(std::find(engines.begin(), engines.end(), "mock"), engines.end());
    eagle::model_params params;
    params.engine = "tpu";
    const std::string e = error_of([&] { eagle::load_vlm(params); });
    EXPECT_NE(e.find("invalid_argument"), std::string::npos) << e;
    EXPECT_NE(e.find("'tpu'"), std::string::npos) << e;
    EXPECT_FALSE(eagle::llama_cpp_info().version.empty());
}

TEST(factory, new_session_checks_its_params) {
    const auto model = mock_model();
    eagle::session_params p;
    p.n_seq = 0;
    EXPECT_NE(error_of([&] { model->new_session(p); }).find("batch of 0 sequences"), std::string::npos);
    p.n_seq = 4;
    p.n_ctx = -1;
    EXPECT_NE(error_of([&] { model->new_session(p); }).find("context size -1"), std::string::npos);
}

// issue 13: every numeric param is checked where it enters the library, with the parameter and the value
TEST(factory, load_vlm_and_new_session_name_the_bad_value) {
    eagle::model_params mp;
    mp.engine = "mock";
    mp.n_threads = -2;
    EXPECT_NE(error_of([&] { eagle::load_vlm(mp); }).find("invalid_argument: load_vlm: n_threads must be >= 0"), std::string::npos);
    EXPECT_NE(error_of([&] { eagle::load_vlm(mp); }).find("got -2"), std::string::npos);
    mp.n_threads = 0;
    mp.n_gpu_layers = -5;
    EXPECT_NE(error_of([&] { eagle::load_vlm(mp); }).find("n_gpu_layers must be >= -1 (-1 = all), got -5"), std::string::npos)
        << error_of([&] { eagle::load_vlm(mp); });
    mp.n_gpu_layers = -1; // all layers: valid
    EXPECT_EQ(error_of([&] { eagle::load_vlm(mp); }), "no error");
    const auto model = mock_model();
    eagle::session_params p;
    p.n_seq = 257;
    EXPECT_NE(error_of([&] { model->new_session(p); }).find("invalid_argument: new_session: n_seq must be in 1..256, got 257"),
              std::string::npos);
    p.n_seq = 1;
    p.n_ctx = -7;
    EXPECT_NE(error_of([&] { model->new_session(p); }).find("n_ctx must be >= 0 (0 = sized from the request), got -7"),
              std::string::npos);
}

TEST(resolve_request, fills_defaults) {
    eagle::score_request req = eagle::testing::dummy_request(4, 4, 3);
    req.answer = {5, 6, 7};
    eagle::resolved_request r = eagle::resolve_request(req, 10);
    EXPECT_EQ(r.target_indices, (std::vector<int32_t>{0, 1, 2}));
    EXPECT_EQ(r.target_ids, (std::vector<int32_t>{5, 6, 7}));
    req.target_indices = {0, 2};
    r = eagle::resolve_request(req, 10);
    EXPECT_EQ(r.target_ids, (std::vector<int32_t>{5, 7}));
    req.target_ids = {9, 9};
    EXPECT_EQ(eagle::resolve_request(req, 10).target_ids, (std::vector<int32_t>{9, 9}));
}

TEST(resolve_request, rejects_bad_values_by_name) {
    const eagle::score_request good = eagle::testing::dummy_request(4, 4, 3);
    auto fails_with = [&](auto change, const std::string & text) {
        eagle::score_request req = good;
        change(req);
        const std::string e = error_of([&] { eagle::resolve_request(req, 10); });
        EXPECT_NE(e.find("invalid_argument: prepare: " + text), std::string::npos) << e;
    };
    fails_with([](eagle::score_request & r) { r.image = {}; }, "the image is empty");
    fails_with([](eagle::score_request & r) { r.answer.clear(); }, "the answer is empty");
    fails_with([](eagle::score_request & r) { r.answer[1] = 10; }, "answer token id 10 is outside the vocabulary");
    fails_with([](eagle::score_request & r) { r.target_indices = {3}; }, "target index 3 is outside the answer (0..2)");
    fails_with([](eagle::score_request & r) { r.target_indices = {1, 1}; }, "target indices must be strictly ascending");
    fails_with([](eagle::score_request & r) { r.target_ids = {1}; }, "1 target ids for 3 targets");
    fails_with([](eagle::score_request & r) { r.target_ids = {1, -1, 1}; }, "target token id -1 is outside the vocabulary");
}

TEST(memo_scorer, scores_each_distinct_mask_once_until_prepare) {
    const eagle::region_set regions = eagle::make_grid_regions(8, 8, 2, 2);
    eagle::testing::analytic_function_scorer inner(regions, 2, [](int32_t t, const std::vector<double> & kept) {
        return float(kept[0] + t);
    });
    eagle::memo_scorer memo(inner);
    memo.prepare(eagle::testing::dummy_request(8, 8, 2));
    const std::vector<eagle::mask> masks = {eagle::mask::full(8, 8), eagle::mask::empty(8, 8), eagle::mask::full(8, 8)};
    std::vector<float> probs(masks.size() * 2);
    memo.score(masks, probs);
    EXPECT_EQ(probs, (std::vector<float>{1, 2, 0, 1, 1, 2}));
    EXPECT_EQ(memo.stats().n_evaluations, 2);
    EXPECT_EQ(memo.stats().n_memo_hits, 1);
    memo.score(masks, probs);
    EXPECT_EQ(memo.stats().n_evaluations, 2);
    EXPECT_EQ(memo.stats().n_memo_hits, 4);
    EXPECT_EQ(memo.memo_size(), 2u);
    memo.prepare(eagle::testing::dummy_request(8, 8, 2)); // a new request forgets every score
    EXPECT_EQ(memo.memo_size(), 0u);
    memo.score(masks, probs);
    EXPECT_EQ(memo.stats().n_evaluations, 4);
    std::vector<float> wrong(5);
    EXPECT_NE(error_of([&] { memo.score(masks, wrong); }).find("output has 5 values for 3 masks x 2 targets"), std::string::npos);
}

TEST(stats_json, flattens_engine_counters_and_keeps_the_explanation_subset) {
    eagle::scorer_stats s;
    s.n_evaluations = 7;
    s.n_memo_hits = 2;
    s.engine = {{"n_decode_calls", 3}, {"t_decode_us", 40}};
    const nlohmann::ordered_json j = eagle::to_json(s);
    EXPECT_EQ(j["n_evaluations"], 7);
    EXPECT_EQ(j["n_decode_calls"], 3);
    EXPECT_EQ(j.size(), 8u);
    EXPECT_EQ(s.engine_value("t_decode_us"), 40);
    EXPECT_EQ(s.engine_value("absent"), 0);
    const nlohmann::ordered_json e = eagle::to_explanation_json(s);
    std::vector<std::string> keys;
    for (const auto & [key, value] : e.items()) {
        keys.push_back(key);
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"n_evaluations", "n_memo_hits", "n_decode_calls", "n_encode_calls",
                                              "t_encode_us", "t_decode_us"}));
    EXPECT_EQ(e["n_encode_calls"], 0);
    EXPECT_EQ(e["t_decode_us"], 40);
}

TEST(mock_engine, generates_the_quadrant_colours) {
    const auto model = mock_model();
    const auto session = model->new_session({});
    const eagle::generation gen = session->generate({quadrant_image(), "describe the image"});
    EXPECT_EQ(gen.text, "top left red top right green bottom left blue bottom right white");
    ASSERT_EQ(gen.tokens.size(), 13u);
    EXPECT_TRUE(gen.tokens.back().is_eog);
    EXPECT_EQ(model->tokenize(gen.text, false).size(), 12u);
    EXPECT_EQ(session->generate({quadrant_image(), "describe", false, 2}).text, "top left");
    EXPECT_THROW(session->generate({quadrant_image(), "no placeholder", true}), eagle::error);
}

TEST(mock_engine, score_agrees_with_generate_and_masks_matter) {
    const auto model = mock_model();
    const auto session = model->new_session({});
    const eagle::image_rgb8 image = quadrant_image();
    const eagle::generation gen = session->generate({image, "describe the image"});
    eagle::score_request req{image, "describe the image", false, {}, {}, {}};
    for (const auto & t : gen.tokens) req.answer.push_back(t.id);
    session->prepare(req);
    const size_t n = size_t(session->n_targets());
    ASSERT_EQ(n, gen.tokens.size());
    const std::vector<eagle::mask> masks = {eagle::mask::full(32, 32), eagle::mask::empty(32, 32)};
    std::vector<float> probs(masks.size() * n);
    session->score(masks, probs);
    for (size_t t = 0; t < n; ++t) {
        EXPECT_FLOAT_EQ(probs[t], gen.tokens[t].prob) << t;
    }
    EXPECT_GT(probs[2], 0.9f);     // "red" with its quadrant visible
    EXPECT_LT(probs[n + 2], 0.2f); // and without
    EXPECT_FLOAT_EQ(probs[0], probs[n]); // "top" does not look at the image
}

TEST(mock_engine, memo_is_the_factorys_choice) {
    const auto model = mock_model();
    eagle::score_request req{quadrant_image(), "describe the image", false, {3, 5, 7}, {}, {}};
    const std::vector<eagle::mask> masks = {eagle::mask::full(32, 32), eagle::mask::full(32, 32)};
    std::vector<float> probs(masks.size() * 3);
    for (bool use_memo : {true, false}) {
        eagle::session_params p;
        p.use_memo = use_memo;
        const auto session = model->new_session(p);
        session->prepare(req);
        session->score(masks, probs);
        EXPECT_EQ(session->stats().n_evaluations, use_memo ? 1 : 2);
        EXPECT_EQ(session->stats().n_memo_hits, use_memo ? 1 : 0);
    }
}

TEST(mock_engine, explains_a_colour_word_by_its_quadrant) {
    const auto model = mock_model();
    const auto session = model->new_session({});
    const eagle::image_rgb8 image = quadrant_image();
    eagle::score_request req{image, "describe the image", false, {}, {}, {}};
    for (const auto & t : session->generate({image, "describe the image"}).tokens) req.answer.push_back(t.id);
    req.target_indices = {8}; // "blue", bottom left
    const eagle::region_set regions = eagle::make_grid_regions(32, 32, 2, 2);
    const eagle::explanation ex = eagle::explain(*session, req, regions, {});
    ASSERT_FALSE(ex.order.empty());
    EXPECT_EQ(ex.order.front(), 2); // grid regions are row-major: bottom left is region 2
    EXPECT_GT(session->stats().n_memo_hits, 0);
}
