// The reference's evaluation metrics (eagle/metrics.h) on hand-computed cases, and `eagle eval` against the
// numbers tests/data/reference-metrics.py computes from the authors' formulas (tests/data/eval/expected.json).
#include "eagle/error.h"
#include "eagle/metrics.h"
#include "eagle/report.h"

#include "cli-runner.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <sys/wait.h>

namespace {

using eagle::testing::read_text;
using eagle::testing::run_result;

using json = nlohmann::json;

constexpr double k_eps = 1e-12;

// ---------------------------------------------------------------------------------------------------------
// numerics

TEST(metrics_numerics, pairwise_sum_follows_numpy_order) {
    // numpy: ((1e16 + 1) + (-1e16 + 1)) + ((1 + 1) + (1 + 1)) + 1 = 5 (a running sum gives another number)
    const std::vector<double> v = {1e16, 1, -1e16, 1, 1, 1, 1, 1, 1};
    EXPECT_EQ(eagle::pairwise_sum(v.data(), v.size()), 5.0);
    const std::vector<double> tenths(200, 0.1);
    EXPECT_EQ(eagle::pairwise_sum(tenths.data(), tenths.size()), 20.0);
    EXPECT_EQ(eagle::numpy_mean({1.0, 2.0, 6.0}), 3.0);
    EXPECT_TRUE(std::isnan(eagle::numpy_mean({})));
}

TEST(metrics_numerics, round_to_half_like_numpy_float16) {
    EXPECT_EQ(eagle::round_to_half(0.1), 0.0999755859375);
    EXPECT_EQ(eagle::round_to_half(-0.6), -0.60009765625);
    EXPECT_EQ(eagle::round_to_half(2049.0), 2048.0); // a tie goes to the even mantissa
    EXPECT_EQ(eagle::round_to_half(2051.0), 2052.0);
    EXPECT_EQ(eagle::round_to_half(3e-8), 5.9604644775390625e-08); // subnormal
    EXPECT_EQ(eagle::round_to_half(1e-8), 0.0);
    EXPECT_EQ(eagle::round_to_half(65504.0), 65504.0);
    EXPECT_TRUE(std::isinf(eagle::round_to_half(65520.0)));
}

TEST(metrics_numerics, auc_is_sklearns_trapezoid) {
    EXPECT_NEAR(eagle::auc({0.0, 0.5, 1.0}, {0.0, 1.0, 1.0}), 0.75, k_eps);
    // decreasing x: sklearn flips the sign, so the area is positive
    EXPECT_NEAR(eagle::auc({1.0, 0.5, 0.0}, {1.0, 1.0, 0.0}), 0.75, k_eps);
    // repeated x values are allowed in either direction
    EXPECT_NEAR(eagle::auc({0.0, 0.5, 0.5, 1.0}, {0.0, 1.0, 0.0, 0.0}), 0.25, k_eps);
    EXPECT_EQ(eagle::auc({0.3, 0.3}, {1.0, 2.0}), 0.0);
    EXPECT_THROW(eagle::auc({0.0, 1.0, 0.5}, {1.0, 1.0, 1.0}), eagle::error); // neither increasing nor decreasing
    EXPECT_THROW(eagle::auc({0.0}, {1.0}), eagle::error);
    EXPECT_THROW(eagle::auc({0.0, 1.0}, {1.0}), eagle::error);
}

// ---------------------------------------------------------------------------------------------------------
// faithfulness

// two steps: the top region covers 40% of the image; two targets, only the first is sensitive
eagle::explanation_log two_step_log() {
    eagle::explanation_log log;
    log.region_area = {0.4, 1.0};
    log.insertion_score = {0.5, 0.9};
    log.deletion_score = {0.3, 0.1};
    log.insertion_word_score = {{0.3, 0.5}, {0.9, 0.55}};
    log.deletion_word_score = {{0.2, 0.52}, {0.1, 0.5}};
    return log;
}

TEST(metrics_faithfulness, sentence_curves_and_numbers) {
    const eagle::faithfulness_curves c = eagle::sentence_curves(two_step_log());
    EXPECT_EQ(c.x_insertion, (std::vector<double>{0.0, 0.4, 1.0}));
    EXPECT_EQ(c.y_insertion, (std::vector<double>{0.1, 0.5, 0.9})); // starts at p(black) = deletion_score[-1]
    EXPECT_EQ(c.y_deletion, (std::vector<double>{0.9, 0.3, 0.1}));  // starts at p(full) = insertion_score[-1]
    ASSERT_EQ(c.x_deletion.size(), 3u);
    EXPECT_NEAR(c.x_deletion[1], 0.6, k_eps);
    const eagle::faithfulness f = eagle::curve_metrics(c);
    EXPECT_NEAR(f.insertion_auc, 0.4 * 0.6 / 2 + 0.6 * 1.4 / 2, k_eps); // 0.54
    EXPECT_NEAR(f.deletion_auc, 0.4 * 1.2 / 2 + 0.6 * 0.4 / 2, k_eps);  // 0.36
    EXPECT_EQ(f.highest_score, 0.9);
}

TEST(metrics_faithfulness, highest_score_includes_the_black_start) {
    eagle::explanation_log log = two_step_log();
    log.insertion_score = {0.05, 0.02};
    log.deletion_score = {0.3, 0.2};
    EXPECT_EQ(eagle::curve_metrics(eagle::sentence_curves(log)).highest_score, 0.2);
}

TEST(metrics_faithfulness, sensitive_tokens_only) {
    const eagle::explanation_log log = two_step_log();
    EXPECT_EQ(eagle::sensitive_tokens(log, 0.2), (std::vector<uint8_t>{1, 0})); // 0.8 and 0.05
    const auto c = eagle::sensitive_curves(log, 0.2);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->y_insertion, (std::vector<double>{0.1, 0.3, 0.9}));
    EXPECT_EQ(c->y_deletion, (std::vector<double>{0.9, 0.2, 0.1}));
    const eagle::faithfulness f = eagle::curve_metrics(*c);
    EXPECT_NEAR(f.insertion_auc, 0.4 * 0.4 / 2 + 0.6 * 1.2 / 2, k_eps); // 0.44
    EXPECT_NEAR(f.deletion_auc, 0.4 * 1.1 / 2 + 0.6 * 0.3 / 2, k_eps);  // 0.31
    EXPECT_EQ(f.highest_score, 0.9);
}

TEST(metrics_faithfulness, no_sensitive_token_skips_the_sample) {
    eagle::explanation_log log = two_step_log();
    EXPECT_FALSE(eagle::sensitive_curves(log, 0.9).has_value());
    // strictly greater: a difference equal to the threshold is not sensitive
    log.insertion_word_score.back() = {0.75};
    log.deletion_word_score.back() = {0.5};
    log.insertion_word_score.front() = {0.6};
    log.deletion_word_score.front() = {0.55};
    EXPECT_FALSE(eagle::sensitive_curves(log, 0.25).has_value());

    eagle::eval_sample with, without;
    with.log = two_step_log();
    without.log = log;
    const eagle::eval_summary s = eagle::summarize({eagle::evaluate_sample(with, nullptr, 0.2),
                                                    eagle::evaluate_sample(without, nullptr, 0.25)});
    EXPECT_EQ(s.n_samples, 2);
    EXPECT_EQ(s.n_sensitive_samples, 1);
    EXPECT_NEAR(s.sensitive_insertion_auc, 0.44, k_eps); // the mean over the one sample that has sensitive tokens
    EXPECT_NEAR(s.insertion_auc, (0.54 + eagle::curve_metrics(eagle::sentence_curves(log)).insertion_auc) / 2, k_eps);
}

// ---------------------------------------------------------------------------------------------------------
// localisation

// 4 x 3; the top value at (x 2, y 1)
eagle::saliency_map small_map() {
    return {4, 3, {0.1, 0.2, 0.3, 0.0,
                   0.5, 0.4, 1.0, 0.2,
                   0.0, 0.3, 0.6, 0.1}};
}

TEST(metrics_point_game, box_hits_misses_and_slicing) {
    const eagle::saliency_map m = small_map();
    EXPECT_TRUE(eagle::point_game_box(m, {2, 1, 3, 2}));
    EXPECT_FALSE(eagle::point_game_box(m, {0, 0, 2, 3}));  // x 0..1
    EXPECT_FALSE(eagle::point_game_box(m, {0, 0, 2, 2}));  // end-exclusive: x2 = 2 leaves column 2 out
    EXPECT_TRUE(eagle::point_game_box(m, {0, 0, 3, 2}));
    EXPECT_TRUE(eagle::point_game_box(m, {-2, -2, 4, 3})); // numpy: -2 counts from the far edge (x 2.., y 1..)
    EXPECT_TRUE(eagle::point_game_box(m, {2, 1, 99, 99})); // clamped
    EXPECT_FALSE(eagle::point_game_box(m, {3, 1, 2, 2}));  // empty box
    EXPECT_FALSE(eagle::point_game_box(m, {-1, 0, 4, 3})); // x -1 = column 3 only
}

TEST(metrics_point_game, ties_count_as_hits) {
    eagle::saliency_map m = small_map();
    m.values[8] = 1.0; // (0, 2) ties the maximum
    EXPECT_TRUE(eagle::point_game_box(m, {0, 2, 1, 3}));
    std::vector<uint8_t> mask(12, 0);
    mask[8] = 1;
    EXPECT_TRUE(eagle::point_game_mask(m, mask));
    EXPECT_FALSE(eagle::point_game_mask(small_map(), mask));
    mask[6] = 1;
    EXPECT_TRUE(eagle::point_game_mask(small_map(), mask));
}

TEST(metrics_point_game, nan_misses_and_zero_map_hits) {
    eagle::saliency_map m = small_map();
    m.values[0] = std::nan("");
    EXPECT_FALSE(eagle::point_game_box(m, {0, 0, 4, 3}));
    // the script's rule on a map of zeros: the max inside (0) equals the max (0), even for an empty box
    const eagle::saliency_map zeros{4, 3, std::vector<double>(12, 0.0)};
    EXPECT_TRUE(eagle::point_game_box(zeros, {1, 1, 1, 1}));
    EXPECT_THROW(eagle::point_game_mask(zeros, std::vector<uint8_t>(5, 1)), eagle::error);
}

size_t count(const std::vector<uint8_t> & mask) {
    size_t n = 0;
    for (uint8_t v : mask) n += v ? 1 : 0;
    return n;
}

TEST(metrics_point_game, polygons_fill_like_cv2) {
    // edges are drawn: a rectangle from (1,1) to (4,3) covers x 1..4, y 1..3
    const std::vector<uint8_t> rect = eagle::polygons_to_mask({{1, 1, 4, 1, 4, 3, 1, 3}}, 6, 5);
    EXPECT_EQ(count(rect), 12u);
    EXPECT_EQ(rect[1 * 6 + 1], 1);
    EXPECT_EQ(rect[3 * 6 + 4], 1);
    EXPECT_EQ(rect[0 * 6 + 1], 0);
    // np.round is half to even: 0.5 -> 0, 2.5 -> 2
    EXPECT_EQ(count(eagle::polygons_to_mask({{0.5, 0.5, 2.5, 0.5, 2.5, 2.5, 0.5, 2.5}}, 6, 5)), 9u);
    // 1.5 -> 2, 3.5 -> 4
    EXPECT_EQ(count(eagle::polygons_to_mask({{1.5, 1.5, 3.5, 1.5, 3.5, 3.5, 1.5, 3.5}}, 6, 5)), 9u);
    // clipped to the image
    EXPECT_EQ(count(eagle::polygons_to_mask({{-3, -3, 10, -3, 10, 10, -3, 10}}, 6, 5)), 30u);
    // fewer than 3 points: skipped; polygons are filled one by one (their union)
    EXPECT_EQ(count(eagle::polygons_to_mask({{1, 1, 2, 2}}, 6, 5)), 0u);
    EXPECT_EQ(count(eagle::polygons_to_mask({{0, 0, 1, 0, 1, 1, 0, 1}, {4, 3, 5, 3, 5, 4, 4, 4}}, 6, 5)), 8u);
    EXPECT_THROW(eagle::polygons_to_mask({{1, 1, 4, 1, 4, 3, 1}}, 6, 5), eagle::error);
}

TEST(metrics_point_game, add_value_in_float16) {
    // F_0 = 1 - 0.5 + 0 = 0.5; gains 0.5, 0.25, 0.125 -> v = -0.5, -0.75, -0.875 (exact in float16)
    const eagle::saliency_map m = eagle::add_value_map({0, 1, 2}, 3, 1, {1.0, 1.25, 1.375}, {0.5}, {0.0});
    ASSERT_EQ(m.values.size(), 3u);
    EXPECT_EQ(m.values[0], 1.0);
    EXPECT_EQ(m.values[1], 0.333251953125); // 0.125 / 0.375 in float32, then float16
    EXPECT_EQ(m.values[2], 0.0);
    // a pixel no region covers keeps 0 before normalising: the map's largest value (the script's quirk)
    const eagle::saliency_map uncovered = eagle::add_value_map({0, -1, 2}, 3, 1, {1.0, 1.25, 1.375}, {0.5}, {0.0});
    EXPECT_EQ(uncovered.values[1], 1.0);
    EXPECT_EQ(uncovered.values[0], 0.428466796875); // (-0.5 + 0.875) / 0.875 in float16
}

TEST(metrics_point_game, float16_ties_that_the_exact_map_does_not_have) {
    // a second gain of 5e-5 after 0.45 vanishes in float16: regions 0 and 1 share the top value
    const double f0 = 0.59;
    const std::vector<double> smdl = {f0 + 0.45, f0 + 0.45005, f0 + 0.70, f0 + 0.75};
    const eagle::saliency_map half = eagle::add_value_map({0, 1, 2, 3}, 4, 1, smdl, {0.82, 0.35}, {0.05, 0.30});
    EXPECT_EQ(half.values[0], 1.0);
    EXPECT_EQ(half.values[1], 1.0);
    EXPECT_TRUE(eagle::point_game_box(half, {1, 0, 2, 1}));
    // eagle's region_attribution keeps them apart (region 1 just below 1)
    const eagle::saliency_map exact = eagle::region_value_map({0, 1, 2, 3}, 4, 1, {1.0, 0.99984, 0.3, 0.0});
    EXPECT_FALSE(eagle::point_game_box(exact, {1, 0, 2, 1}));
}

TEST(metrics_point_game, flat_maps_miss) {
    // every gain after the first is zero: add_value divides 0 by 0
    const eagle::saliency_map m = eagle::add_value_map({0, 1}, 2, 1, {1.0, 1.0}, {0.5}, {0.0});
    EXPECT_TRUE(std::isnan(m.values[0]));
    EXPECT_FALSE(eagle::point_game_box(m, {0, 0, 2, 1}));
    const eagle::saliency_map flat = eagle::region_value_map({0, 1}, 2, 1, {0.0, 0.0});
    EXPECT_FALSE(eagle::point_game_box(flat, {0, 0, 2, 1}));
    EXPECT_THROW(eagle::region_value_map({0, 2}, 2, 1, {0.0, 1.0}), eagle::error);
}

TEST(metrics_point_game, dense_maps_normalised_and_resized) {
    const eagle::saliency_map dense{2, 1, {2.0, 4.0}};
    const eagle::saliency_map n = eagle::normalize_dense_map(dense, 2, 1);
    EXPECT_NEAR(n.values[1], 2.0 / (2.0 + 1e-8), k_eps);
    EXPECT_EQ(n.values[0], 0.0);
    const eagle::saliency_map r = eagle::normalize_dense_map(dense, 4, 2);
    EXPECT_EQ(r.nx, 4);
    EXPECT_EQ(r.values.size(), 8u);
    eagle::saliency_map with_nan = dense;
    with_nan.values[0] = std::nan("");
    EXPECT_FALSE(eagle::point_game_box(eagle::normalize_dense_map(with_nan, 2, 1), {0, 0, 2, 1}));
}

// ---------------------------------------------------------------------------------------------------------
// hallucination correction

using answers = std::vector<std::optional<std::string>>;
const std::vector<double> k_area = {0.5, 0.8, 0.95, 1.0};

TEST(metrics_correction, minimal_correction_walks_from_the_full_image) {
    // revised[k-1]: the answer with the top k regions kept; revised[3] is the full image
    eagle::correction c = eagle::minimal_correction({"No", "No", "Yes, a dog", "No"}, k_area, "Yes");
    EXPECT_TRUE(c.is_corrected);
    EXPECT_EQ(c.n_kept, 3);
    EXPECT_NEAR(c.removed_fraction, 0.05, k_eps);
    EXPECT_TRUE(c.is_within_budget);

    c = eagle::minimal_correction({"No", "Yes", "No", "No"}, k_area, "Yes");
    EXPECT_EQ(c.n_kept, 2);
    EXPECT_NEAR(c.removed_fraction, 0.2, k_eps);
    EXPECT_FALSE(c.is_within_budget);

    c = eagle::minimal_correction({"Yes", "No", "No", "Yes"}, k_area, "Yes"); // already right: nothing removed
    EXPECT_EQ(c.removed_fraction, 0.0);

    c = eagle::minimal_correction({"No", "yes", "No", "No"}, k_area, "Yes"); // case-sensitive, like the script
    EXPECT_FALSE(c.is_corrected);
    EXPECT_EQ(c.removed_fraction, 1.0);

    // eagle writes null for answers it did not need; they are not correct ones
    c = eagle::minimal_correction({std::nullopt, std::nullopt, "yes there is", "no"}, k_area, "yes");
    EXPECT_EQ(c.n_kept, 3);
    EXPECT_THROW(eagle::minimal_correction({"a", "b", "c", "d", "e", "f"}, k_area, "Yes"), eagle::error);
    EXPECT_EQ(eagle::prefix_for_label("yes"), "Yes");
    EXPECT_EQ(eagle::prefix_for_label("no"), "No");
    EXPECT_EQ(eagle::prefix_for_label("Yes"), "");
}

TEST(metrics_correction, amcr_and_both_csr_denominators) {
    auto sample = [](answers revised, const std::string & prefix) {
        eagle::eval_sample s;
        s.log = two_step_log();
        s.log.region_area = {0.5, 0.8, 0.95, 1.0};
        s.log.insertion_score = {0.1, 0.2, 0.3, 0.4};
        s.log.deletion_score = {0.4, 0.3, 0.2, 0.1};
        s.log.insertion_word_score = {{0.1}, {0.2}, {0.3}, {0.4}};
        s.log.deletion_word_score = {{0.4}, {0.3}, {0.2}, {0.1}};
        s.correct_prefix = prefix;
        s.revised_answering = std::move(revised);
        return eagle::evaluate_sample(s, nullptr, 0.2);
    };
    const eagle::eval_summary s = eagle::summarize({sample({"No", "No", "Yes", "No"}, "Yes"),  // 0.05, within
                                                    sample({"No", "Yes", "No", "No"}, "Yes"),  // 0.2, beyond
                                                    sample({"No", "No", "No", "No"}, "Yes"),   // never: AMCR 1
                                                    sample({}, "Yes")});                      // no answers: not counted
    EXPECT_EQ(s.n_hallucination_samples, 3);
    EXPECT_EQ(s.n_corrected_samples, 2);
    EXPECT_NEAR(s.amcr, (0.05 + 0.2 + 1.0) / 3, k_eps);
    EXPECT_NEAR(s.csr_10, 0.5, k_eps);           // the reference: over the corrected samples only
    EXPECT_NEAR(s.csr_10_clean, 1.0 / 3, k_eps); // never corrected counts as a failure

    const eagle::eval_summary never = eagle::summarize({sample({"No", "No", "No", "No"}, "Yes")});
    EXPECT_TRUE(std::isnan(never.csr_10));
    const auto j = eagle::summary_to_json(never);
    EXPECT_TRUE(j["csr_10"].is_null());
    EXPECT_EQ(j["csr_10_clean"], 0.0);
    EXPECT_EQ(j["amcr"], 1.0);
}

// ---------------------------------------------------------------------------------------------------------
// reading explanation.json

json minimal_json() {
    return {{"insertion_score", {0.5, 0.9}},
            {"deletion_score", {0.3, 0.1}},
            {"region_area", {0.4, 1.0}},
            {"insertion_word_score", {{0.5}, {0.9}}},
            {"deletion_word_score", {{0.3}, {0.1}}}};
}

std::string error_of(const json & j) {
    try {
        eagle::eval_sample_from_json(j, "x/explanation.json");
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::io);
        return e.what();
    }
    return "";
}

TEST(metrics_json, reads_the_reference_keys) {
    json j = minimal_json();
    j["location"] = {1, 2, 3, 4};
    j["segmentation"] = {1.0, 1.0, 3.0, 1.0, 3.0, 3.0};
    j["label"] = "no";
    j["revised_answering"] = {"No", nullptr, "Yes"};
    const eagle::eval_sample s = eagle::eval_sample_from_json(j, "x");
    EXPECT_EQ(s.log.region_area, (std::vector<double>{0.4, 1.0}));
    ASSERT_TRUE(s.location.has_value());
    EXPECT_EQ((*s.location)[3], 4);
    ASSERT_TRUE(s.segmentation.has_value());
    EXPECT_EQ(s.segmentation->size(), 1u); // a flat list is one polygon
    EXPECT_EQ(s.correct_prefix, "No");
    EXPECT_FALSE(s.revised_answering[1].has_value());

    j.erase("label");
    j["hallucination"] = {{"correct_answer", "yes"}, {"revised_answering", {"no", "yes"}}};
    j.erase("revised_answering");
    const eagle::eval_sample h = eagle::eval_sample_from_json(j, "x");
    EXPECT_EQ(h.correct_prefix, "yes");
    EXPECT_EQ(h.revised_answering.size(), 2u);

    j["label"] = "unknown"; // the script evaluates only "yes" and "no"
    EXPECT_EQ(eagle::eval_sample_from_json(j, "x").correct_prefix, "");
    j["label"] = nullptr; // a label, even null, wins over hallucination.correct_answer
    EXPECT_EQ(eagle::eval_sample_from_json(j, "x").correct_prefix, "");
    j["segmentation"] = nullptr;
    EXPECT_TRUE(eagle::eval_sample_from_json(j, "x").segmentation->empty());
}

TEST(metrics_json, errors_name_the_file_and_key) {
    json j = minimal_json();
    j.erase("region_area");
    EXPECT_NE(error_of(j).find("x/explanation.json: 'region_area' is missing"), std::string::npos);
    j = minimal_json();
    j["deletion_score"] = {0.3};
    EXPECT_NE(error_of(j).find("'deletion_score' has 1 entries"), std::string::npos);
    j = minimal_json();
    j["insertion_score"][1] = "high";
    EXPECT_NE(error_of(j).find("'insertion_score' must be an array of numbers (element 1 is string)"), std::string::npos);
    j = minimal_json();
    j["location"] = {1.5, 2, 3, 4};
    EXPECT_NE(error_of(j).find("'location' must be an integer"), std::string::npos);
    j = minimal_json();
    j["segmentation"] = {{"size", {2, 2}}, {"counts", "abc"}};
    EXPECT_NE(error_of(j).find("RLE"), std::string::npos);
    j = minimal_json();
    j["segmentation"] = json::array({json::array({1, 1, 2, 2, 3, 3, 4})});
    EXPECT_NE(error_of(j).find("'segmentation[0]' has an odd number"), std::string::npos);
    j = minimal_json();
    j["label"] = "yes";
    EXPECT_NE(error_of(j).find("'revised_answering' is missing"), std::string::npos);
    j["revised_answering"] = {"a", "b", "c", "d"};
    EXPECT_NE(error_of(j).find("4 answers for 2 ranking steps"), std::string::npos);
    EXPECT_NE(error_of(json::array()).find("not a JSON object"), std::string::npos);
}

TEST(metrics_npy, parses_region_stacks) {
    // uint8 [2, 2, 3, 1]: mask 0 = left column, mask 1 = the rest
    std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 3, 1), }";
    header.append(64 - (10 + header.size() + 1) % 64, ' ');
    header.push_back('\n');
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes.push_back(char(header.size() & 0xff));
    bytes.push_back(char(header.size() >> 8));
    bytes += header;
    const uint8_t data[12] = {1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1};
    bytes.append(reinterpret_cast<const char *>(data), 12);
    const eagle::npy_array a = eagle::parse_npy(bytes, "r.npy");
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 2, 3, 1}));
    int32_t nx = 0, ny = 0;
    EXPECT_EQ(eagle::ranks_from_masks(a, "r.npy", nx, ny), (std::vector<int32_t>{0, 1, 1, 0, 1, 1}));
    EXPECT_EQ(nx, 3);
    EXPECT_EQ(ny, 2);
    EXPECT_THROW(eagle::parse_npy("not an npy", "r.npy"), eagle::error);
    EXPECT_THROW(eagle::parse_npy(bytes.substr(0, bytes.size() - 1), "r.npy"), eagle::error);
}

// fuzz-npy's findings (docs/bad-inputs.md): a dimension past long long made std::stoll throw std::out_of_range
// (not an eagle::error); a shape whose product wraps around 2^64 matched an empty file; a stack with no mask
// and huge H, W allocated H*W ranks. Each is now an io error naming the file.
TEST(metrics_npy, hostile_shapes_are_io_errors) {
    auto npy = [](const std::string & shape, const std::string & data) {
        std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': " + shape + ", }";
        header.push_back('\n');
        std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
        bytes.push_back(char(header.size() & 0xff));
        bytes.push_back(char(header.size() >> 8));
        return bytes + header + data;
    };
    auto expect_io = [](const std::function<void()> & f, const std::string & needle) {
        try {
            f();
            ADD_FAILURE() << "no error for " << needle;
        } catch (const eagle::error & e) {
            EXPECT_EQ(e.code(), eagle::errc::io);
            EXPECT_NE(std::string(e.what()).find("h.npy"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    expect_io([&] { eagle::parse_npy(npy("(99999999999999999999, 5)", ""), "h.npy"); }, "too large");
    expect_io([&] { eagle::parse_npy(npy("(4294967296, 4294967296)", ""), "h.npy"); }, "needs more bytes");
    const eagle::npy_array empty = eagle::parse_npy(npy("(0, 3000000000, 3000000000, 1)", ""), "h.npy");
    int32_t nx = 0, ny = 0;
    expect_io([&] { eagle::ranks_from_masks(empty, "h.npy", nx, ny); }, "region masks of 3000000000x3000000000");
}

// ---------------------------------------------------------------------------------------------------------
// `eagle eval`: parity with tests/data/reference-metrics.py, the JSON contract, bad input

const std::string k_data = std::string(EAGLE_TEST_SOURCE_DIR) + "/data/eval";

// one folder per test: ctest runs the discovered tests in parallel processes
std::string tmp_dir() {
    const std::string dir = std::string(EAGLE_TEST_TMP_DIR) + "/metrics/" +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir);
    return dir;
}

void write_text(const std::string & path, const std::string & text) {
    std::ofstream(path) << text;
}

run_result run_eagle(const std::vector<std::string> & args) { return eagle::testing::run_eagle(args, tmp_dir()); }

void expect_same(const json & expected, const json & got, const std::string & what) {
    ASSERT_TRUE(got.is_object()) << what;
    for (auto it = expected.begin(); it != expected.end(); ++it) {
        ASSERT_TRUE(got.contains(it.key())) << what << ": no " << it.key();
        if (it->is_null()) {
            EXPECT_TRUE(got[it.key()].is_null()) << what << ": " << it.key();
        } else {
            EXPECT_NEAR(got[it.key()].get<double>(), it->get<double>(), 1e-6) << what << ": " << it.key();
        }
    }
    for (auto it = got.begin(); it != got.end(); ++it) {
        EXPECT_TRUE(expected.contains(it.key())) << what << ": unexpected " << it.key();
    }
}

TEST(eval_cli, equals_the_reference_scripts) {
    const json expected = json::parse(read_text(k_data + "/expected.json"));
    const std::string samples = k_data + "/samples", reference = k_data + "/reference-layout";
    for (const std::string & map : {std::string("attribution"), std::string("add-value")}) {
        for (const auto & [key, dirs] : std::vector<std::pair<std::string, std::vector<std::string>>>{
                 {"samples", {samples}}, {"reference-layout", {reference}}, {"all", {samples, reference}}}) {
            std::vector<std::string> args = {"eval", "--json", "--map", map};
            args.insert(args.end(), dirs.begin(), dirs.end());
            const run_result r = run_eagle(args);
            ASSERT_EQ(r.exit_code, 0) << r.err;
            expect_same(expected[key], json::parse(r.out), key + " (--map " + map + ")");
        }
    }
}

TEST(eval_cli, json_has_the_required_keys) {
    const run_result r = run_eagle({"eval", "--json", k_data + "/samples", k_data + "/reference-layout"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    for (const char * key : {"n_samples", "insertion_auc", "deletion_auc", "average_highest_confidence",
                             "sensitive_insertion_auc", "sensitive_deletion_auc", "sensitive_average_highest_confidence",
                             "n_sensitive_samples", "point_game_box", "point_game_mask", "n_localised_samples", "amcr",
                             "csr_10", "csr_10_clean", "n_hallucination_samples"}) {
        EXPECT_TRUE(j.contains(key)) << key;
    }
    EXPECT_EQ(j["n_samples"], 7);
    // without localisation or hallucination data, their keys are absent
    const json one = json::parse(run_eagle({"eval", "--json", k_data + "/samples/c-hallucination"}).out);
    EXPECT_FALSE(one.contains("point_game_box"));
    EXPECT_EQ(one["n_hallucination_samples"], 1);
    EXPECT_TRUE(one["csr_10"].is_null()); // never corrected: the reference's CSR has no sample
    EXPECT_EQ(one["amcr"], 1.0);
}

TEST(eval_cli, per_sample_table_and_csv) {
    const run_result md = run_eagle({"eval", "--per-sample", k_data + "/samples"});
    ASSERT_EQ(md.exit_code, 0) << md.err;
    EXPECT_NE(md.out.find("| sample | n | insertion AUC |"), std::string::npos) << md.out;
    EXPECT_NE(md.out.find("| all | 4 |"), std::string::npos) << md.out;
    EXPECT_NE(md.out.find("b-word"), std::string::npos);
    const run_result csv = run_eagle({"eval", "--csv", k_data + "/reference-layout"});
    ASSERT_EQ(csv.exit_code, 0) << csv.err;
    EXPECT_EQ(csv.out.rfind("sample,n,insertion AUC,", 0), 0u) << csv.out;
    const run_result rows = run_eagle({"eval", "--json", "--per-sample", k_data + "/reference-layout"});
    EXPECT_EQ(json::parse(rows.out)["samples"].size(), 3u);
}

TEST(eval_cli, labels_png_and_regions_npy_give_the_same_map) {
    namespace fs = std::filesystem;
    const std::string source = k_data + "/samples/b-word";
    const std::string png_only = tmp_dir() + "/png-only", npy_only = tmp_dir() + "/npy-only";
    for (const std::string & dir : {png_only, npy_only}) {
        fs::remove_all(dir);
        fs::create_directories(dir);
        fs::copy(source + "/explanation.json", dir + "/explanation.json");
    }
    fs::copy(source + "/labels.png", png_only + "/labels.png");
    fs::copy(source + "/regions.npy", npy_only + "/regions.npy");
    for (const std::string & map : {std::string("attribution"), std::string("add-value")}) {
        const json both = json::parse(run_eagle({"eval", "--json", "--map", map, source}).out);
        for (const std::string & dir : {png_only, npy_only}) {
            const run_result r = run_eagle({"eval", "--json", "--map", map, dir});
            ASSERT_EQ(r.exit_code, 0) << r.err;
            const json j = json::parse(r.out);
            EXPECT_EQ(j["point_game_box"], both["point_game_box"]) << dir << " --map " << map;
            EXPECT_EQ(j["point_game_mask"], both["point_game_mask"]) << dir << " --map " << map;
        }
    }
}

TEST(eval_cli, bad_input_is_one_clear_line) {
    namespace fs = std::filesystem;
    const std::string root = tmp_dir() + "/bad";
    fs::remove_all(root);
    fs::create_directories(root + "/empty");
    fs::create_directories(root + "/malformed");
    write_text(root + "/malformed/explanation.json", "{\"insertion_score\": [0.1,");
    fs::create_directories(root + "/no-key");
    json j = json::parse(read_text(k_data + "/samples/c-hallucination/explanation.json"));
    j.erase("region_area");
    write_text(root + "/no-key/explanation.json", j.dump());
    fs::create_directories(root + "/no-map");
    j = json::parse(read_text(k_data + "/samples/c-hallucination/explanation.json"));
    j["location"] = {0, 0, 10, 10};
    write_text(root + "/no-map/explanation.json", j.dump());

    auto expect_error = [](const run_result & r, const std::string & needle) {
        EXPECT_NE(r.exit_code, 0);
        EXPECT_EQ(r.err.rfind("eagle: error: ", 0), 0u) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    };
    expect_error(run_eagle({"eval", root + "/missing"}), "missing' does not exist");
    expect_error(run_eagle({"eval", root + "/empty"}), "holds no explanation.json");
    expect_error(run_eagle({"eval", "--json", root + "/malformed"}), "malformed/explanation.json: malformed JSON");
    expect_error(run_eagle({"eval", "--json", root + "/no-key"}), "no-key/explanation.json: 'region_area' is missing");
    expect_error(run_eagle({"eval", "--json", root + "/no-map"}), "no-map/explanation.json: has 'location'");
    expect_error(run_eagle({"eval", "--json", "--csv", k_data + "/samples"}), "one of --json and --csv");
    expect_error(run_eagle({"eval", "--map", "blur", k_data + "/samples"}), "unknown --map 'blur'");
    EXPECT_EQ(run_eagle({"eval", "--json", root + "/missing"}).exit_code, 2);
}

TEST(eval_cli, bad_samples_in_a_folder_are_reported_and_skipped) {
    namespace fs = std::filesystem;
    const std::string root = tmp_dir() + "/mixed";
    fs::remove_all(root);
    fs::create_directories(root + "/good");
    fs::copy(k_data + "/samples/d-hallucination/explanation.json", root + "/good/explanation.json");
    fs::create_directories(root + "/broken");
    write_text(root + "/broken/explanation.json", "not json");
    const run_result r = run_eagle({"eval", "--json", root});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("skipping " + root + "/broken"), std::string::npos) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["n_samples"], 1);
    EXPECT_EQ(j["n_skipped_samples"], 1);
    // nothing readable at all: an error
    fs::remove_all(root + "/good");
    const run_result none = run_eagle({"eval", "--json", root});
    EXPECT_NE(none.exit_code, 0);
    EXPECT_NE(none.err.find("no readable explanation"), std::string::npos) << none.err;
}

} // namespace
