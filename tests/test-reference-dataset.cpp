// The reference's evaluation lists (datasets/*.json in the authors' repository) as requests: one record of each
// kind, written by hand in their format, splits into the prompt ids (placeholder run included) and the answer
// ids, with the targets and the ground truth their scripts use.
#include "eagle/dataset.h"
#include "eagle/error.h"

#include <gtest/gtest.h>

namespace {

using nlohmann::json;

// LLaVA-1.5 ids: "USER: " + 4 x <image> (576 in a real record) + "\n...ASSISTANT:" then the answer
const std::vector<int32_t> k_prompt = {1, 3148, 1001, 29901, 29871, 32000, 32000, 32000, 32000, 29871, 13, 319, 1799, 9047, 13566, 29901};

json with_answer(json record, const std::vector<int32_t> & answer, bool nested) {
    std::vector<int32_t> all = k_prompt;
    all.insert(all.end(), answer.begin(), answer.end());
    record["generated_ids"] = nested ? json::array({all}) : json(all);
    return record;
}

} // namespace

TEST(reference_dataset, caption_records_score_every_answer_token_by_id) {
    const json r = with_answer({{"image_path", "000000349480.jpg"},
                                {"generate_sentence", "A bear."},
                                {"selected_interpretation_token_id", {0, 1, 2, 3}},
                                {"selected_interpretation_token_word_id", {319, 11197, 29889, 2}},
                                {"words", json::array({"A", "bear", ".", ""})}},
                               {319, 11197, 29889, 2}, true);
    eagle::explanation_request base;
    base.regions.n_divisions = 16;
    base.answer_text = "overridden";
    const eagle::dataset_job job = eagle::reference_dataset_job(r, base, "/data/coco");
    EXPECT_EQ(job.name, "000000349480");
    EXPECT_EQ(job.request.image_path, "/data/coco/000000349480.jpg");
    EXPECT_EQ(job.request.prompt_ids, k_prompt);
    EXPECT_EQ(job.request.answer_ids, (std::vector<int32_t>{319, 11197, 29889, 2}));
    EXPECT_TRUE(job.request.answer_text.empty());
    EXPECT_EQ(job.request.target_indices, (std::vector<int32_t>{0, 1, 2, 3}));
    EXPECT_EQ(job.request.target_token_ids, (std::vector<int32_t>{319, 11197, 29889, 2}));
    EXPECT_FALSE(job.request.revise);
    EXPECT_EQ(job.request.regions.n_divisions, 16); // the base's settings stay
    EXPECT_TRUE(eagle::is_reference_dataset(json::array({r})));
    EXPECT_FALSE(eagle::is_reference_dataset(json::array({{{"image", "a.png"}}})));
}

TEST(reference_dataset, object_records_score_one_word_and_carry_the_ground_truth) {
    const json r = with_answer({{"image_path", "000000385029.jpg"},
                                {"output_word_id", {319, 2022, 338, 2}},
                                {"select_category", "person"},
                                {"location", {0, 308, 273, 479}},
                                {"segmentation", json::array({json::array({3.24, 399.1, 147.78, 360.27, 190.92, 320.36})})},
                                {"target_generated_index", 1},
                                {"target_generated_id", 2022},
                                {"target_generated_token", "\u2581person"}},
                               {319, 2022, 338, 2}, false);
    const eagle::dataset_job job = eagle::reference_dataset_job(r, {}, ".");
    EXPECT_EQ(job.request.prompt_ids, k_prompt);
    EXPECT_EQ(job.request.answer_ids, (std::vector<int32_t>{319, 2022, 338, 2}));
    EXPECT_EQ(job.request.target_indices, (std::vector<int32_t>{1}));
    EXPECT_EQ(job.request.target_token_ids, (std::vector<int32_t>{2022}));
    EXPECT_EQ(job.request.ground_truth["location"], json::array({0, 308, 273, 479}));
    EXPECT_EQ(job.request.ground_truth["select_category"], "person");
    EXPECT_EQ(job.request.ground_truth["category"], "person");
    EXPECT_TRUE(job.request.ground_truth.contains("segmentation"));
}

TEST(reference_dataset, repope_records_score_the_counter_word_and_revise) {
    const json r = with_answer({{"image_name", "COCO_val2014_000000310196.jpg"},
                                {"question", "Is there a skis in the image?"},
                                {"label", "no"},
                                {"selected_interpretation_token_id", json::array({0})},
                                {"selected_interpretation_token_word_id", json::array({3869})},
                                {"words", json::array({"Yes", ""})},
                                {"counter_word_id", json::array({1939})},
                                {"id", 1}},
                               {3869, 2}, true);
    const eagle::dataset_job job = eagle::reference_dataset_job(r, {}, "imgs");
    EXPECT_EQ(job.name, "COCO_val2014_000000310196_1"); // their RePOPE scripts' file name
    EXPECT_EQ(job.request.answer_ids, (std::vector<int32_t>{3869, 2}));
    EXPECT_EQ(job.request.target_indices, (std::vector<int32_t>{0}));
    EXPECT_EQ(job.request.target_token_ids, (std::vector<int32_t>{1939})); // "No", not the answer's "Yes"
    EXPECT_TRUE(job.request.revise);
    EXPECT_EQ(job.request.prompt, "Is there a skis in the image?");
    EXPECT_EQ(job.request.ground_truth["label"], "no");
    EXPECT_EQ(job.request.ground_truth["counter_word_id"], json::array({1939}));
}

TEST(reference_dataset, inconsistent_records_name_the_key) {
    const json good = with_answer({{"image_path", "a.jpg"},
                                   {"selected_interpretation_token_id", json::array({0})},
                                   {"selected_interpretation_token_word_id", json::array({319})},
                                   {"words", json::array({"A", ""})}},
                                  {319, 2}, true);
    const auto rejected = [&](json r, const std::string & what) {
        try {
            eagle::reference_dataset_job(r, {}, ".");
            ADD_FAILURE() << "accepted: " << r.dump().substr(0, 200);
        } catch (const eagle::error & e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    json r = good;
    r.erase("image_path");
    rejected(r, "'image_path' is missing");
    r = good;
    r.erase("generated_ids");
    rejected(r, "'generated_ids' is missing");
    r = good;
    r.erase("words");
    rejected(r, "'words' is missing");
    r = good;
    r["selected_interpretation_token_id"] = json::array({2});
    rejected(r, "position 2 is outside the answer of 2 tokens");
    r = good;
    r["selected_interpretation_token_word_id"] = json::array({319, 2});
    rejected(r, "has 2 ids for 1 selected positions");
    r = good;
    r["generated_ids"] = json::array({json::array({1, -5, 2})});
    rejected(r, "must hold token ids");
    r = good;
    r["output_word_id"] = json::array({7, 2});
    rejected(r, "'output_word_id' is not the tail of generated_ids");

    // coco-object's single target: a position in the answer, never wrapped to 32 bits
    json object = good;
    object.erase("selected_interpretation_token_id");
    object["target_generated_id"] = 319;
    for (const json & index : {json(int64_t(1) << 32), json(-1), json(2), json("0")}) {
        object["target_generated_index"] = index;
        rejected(object, "'target_generated_index' must be a position in the answer of 2 tokens, found " + index.dump());
    }
    object["target_generated_index"] = 0;
    EXPECT_EQ(eagle::reference_dataset_job(object, {}, ".").request.target_indices, (std::vector<int32_t>{0}));

    // a question that is not text is no error (it is shown, never scored) and never a non-eagle exception
    r = good;
    r["question"] = json::array({1, 2});
    EXPECT_EQ(eagle::reference_dataset_job(r, {}, ".").request.prompt, "");
}
