// eagle/metrics.h - the EAGLE reference's evaluation metrics over explanations (see
// ../shared/method/eagle-reference.md §6.3, §7.3, §7.4): faithfulness (insertion/deletion AUC, average highest
// score, and their sensitive-token variants), localisation (Point Game on a box and on a mask) and hallucination
// correction (AMCR, CSR@10%).
//
//   eagle::eval_sample s = eagle::to_eval_sample(record);       // or eval_sample_from_json (eagle/report.h)
//   eagle::sample_metrics m = eagle::evaluate_sample(s, nullptr, eagle::default_sensitivity);
//   eagle::eval_summary all = eagle::summarize({m});
//
// Every definition follows the authors' scripts (evals/eval_AUC_faithfulness.py, eval_point_game.py,
// eval_hallucination_correction.py, visualization.py:add_value) to the last quirk. Where eagle departs, the
// comment says so. Sums use numpy's pairwise order, so that the float16 map of add_value and the tie tests
// that depend on it come out the same bit for bit. The aggregates are means over samples, as in the scripts.
// All functions are pure (OpenCV does the polygon fill and the dense-map resize, as cv2 does in the script).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eagle {

// p_full - p_black above this makes a target token "sensitive" (eval_AUC_faithfulness.py --sensitiveity)
inline constexpr double default_sensitivity = 0.2;
// CSR@10%: a correction that removes at most this fraction of the image counts as a success
inline constexpr double correction_budget = 0.10;

// ---------------------------------------------------------------------------------------------------------
// numerics with numpy's rounding

// np.add.reduce on float64: 8-way unrolled blocks of up to 128, recursive halves above.
double pairwise_sum(const double * values, size_t n);
// np.mean: pairwise_sum / n. NaN for an empty vector.
double numpy_mean(const std::vector<double> & values);
// A double rounded to the nearest IEEE binary16 value (ties to even), as numpy's float64 -> float16 cast.
double round_to_half(double value);

// sklearn.metrics.auc: trapezoid area sum(dx * (y[i+1] + y[i]) / 2); for a non-increasing x the sign is
// flipped, so a curve drawn right-to-left still has a positive area.
// Throws errc::invalid_argument for sizes that differ, fewer than 2 points, or x that goes both ways.
double auc(const std::vector<double> & x, const std::vector<double> & y);

// ---------------------------------------------------------------------------------------------------------
// faithfulness (eval_AUC_faithfulness.py)

// The reference's per-sample log: entry k = the top k+1 regions visible (insertion) or removed (deletion).
struct explanation_log {
    std::vector<double> insertion_score;                   // mean over targets
    std::vector<double> deletion_score;
    std::vector<double> region_area;                       // cumulative visible area fraction, ends at 1
    std::vector<std::vector<double>> insertion_word_score; // [k][target]
    std::vector<std::vector<double>> deletion_word_score;
};

struct faithfulness_curves {
    std::vector<double> x_insertion, y_insertion; // [0] + region_area, [p(black)] + insertion_score
    std::vector<double> x_deletion, y_deletion;   // 1 - x_insertion,   [p(full)]  + deletion_score
};

struct faithfulness {
    double insertion_auc = 0.0;  // higher is better
    double deletion_auc  = 0.0;  // lower is better
    double highest_score = 0.0;  // max of the insertion curve, black-image start point included
};

// The curves exactly as the script builds them: p(black) is deletion_score[-1] (every region removed) and
// p(full) is insertion_score[-1] (every region kept).
faithfulness_curves sentence_curves(const explanation_log & log);
faithfulness curve_metrics(const faithfulness_curves & curves);

// Targets with insertion_word_score[-1][t] - deletion_word_score[-1][t] > threshold.
std::vector<uint8_t> sensitive_tokens(const explanation_log & log, double threshold);
// The same curves over the sensitive targets only (per-step means over them); nullopt when there is none
// (the script skips such samples for all three sensitive numbers).
std::optional<faithfulness_curves> sensitive_curves(const explanation_log & log, double threshold);

// ---------------------------------------------------------------------------------------------------------
// localisation (eval_point_game.py)

// A saliency map at image resolution, row-major; may hold NaN (a degenerate add_value map), which misses.
struct saliency_map {
    int32_t nx = 0;
    int32_t ny = 0;
    std::vector<double> values;
};

// Hit when max(map * box) == max(map): ties count, so a hit needs any pixel of the top value inside.
// The box is xyxy and is applied like the script's numpy slice map[y1:y2, x1:x2]: end-exclusive, negative
// values count from the far edge, and out-of-range values are clamped. (The script's `w, h = map.shape`
// names rows w and columns h, but only to build a zeros array of the map's own shape, so nothing is
// transposed; "Not bug", as its comment says.) Any NaN in the map is a miss.
bool point_game_box(const saliency_map & map, const std::array<int64_t, 4> & box_xyxy);
// Same with a ground-truth mask (nx * ny, nonzero = inside).
bool point_game_mask(const saliency_map & map, const std::vector<uint8_t> & mask);

// COCO polygons (flat x1,y1,x2,y2,... lists) filled as the script does: coordinates cast to float32, rounded
// half to even, cast to int32, clipped to the image, then each polygon filled on its own with cv::fillPoly
// (8-connected edges included). Polygons with fewer than 3 points are skipped.
// Throws errc::invalid_argument for a polygon with an odd number of coordinates.
std::vector<uint8_t> polygons_to_mask(const std::vector<std::vector<double>> & polygons, int32_t nx, int32_t ny);

// The reference's add_value (visualization.py) at pixel level, float16 like the script:
//   F_0 = mean(1 - org + baseline); v_k = -sum_{j<=k} |F_j - F_{j-1}|, stored as float16 on the pixels of
//   the k-th region; map = (map - min) / max(map - min), both in float16 arithmetic.
// rank[p] is the ranking position of the region covering pixel p (-1: none; such pixels keep 0, the map's
// largest value, as in the script); so do ranks >= smdl_score.size() (the script's zip stops at the shorter).
// A map whose values are all equal divides 0 by 0: NaN everywhere, which misses the point game.
// float16 can tie regions that eagle's float32 region_attribution keeps apart (a later gain below ~1e-4 of the
// running sum): then the point game of the two maps differs, and this one is the reference's.
saliency_map add_value_map(const std::vector<int32_t> & rank, int32_t nx, int32_t ny, const std::vector<double> & smdl_score,
                           const std::vector<double> & org_score, const std::vector<double> & baseline_score);
// eagle's own map: region_values[label[p]] (explanation.json's region_attribution, already in [0, 1]).
// A constant map is a miss too, as the reference's add_value would make it (see add_value_map).
// Throws errc::invalid_argument for a label outside region_values.
saliency_map region_value_map(const std::vector<int32_t> & labels, int32_t nx, int32_t ny,
                              const std::vector<double> & region_values);
// The script's branch for dense (baseline) maps: (m - min) / (max + 1e-8), then a bilinear resize to nx x ny
// when the size differs (cv2.resize INTER_LINEAR), in float32 when the stored map is float32 (as numpy and
// cv2 keep the dtype; ties at the maximum depend on it). A map with any NaN is returned as it is: it misses.
saliency_map normalize_dense_map(const saliency_map & map, int32_t nx, int32_t ny, bool is_float32 = false);

// ---------------------------------------------------------------------------------------------------------
// hallucination correction (eval_hallucination_correction.py)

struct correction {
    bool is_corrected = false;
    int32_t n_kept = 0;            // regions kept by the first correct answer (0 when never corrected)
    double removed_fraction = 1.0; // AMCR term: 1 - area of the kept regions; 1 when never corrected
    bool is_within_budget = false; // removed_fraction <= correction_budget (only meaningful when corrected)
};

// Walks j = 0, 1, ... lowest-ranked regions removed (answer revised_answering[n-1-j], kept area
// ([0] + region_area)[-(j+1)]) and stops at the first answer that starts with `prefix` (case-sensitive).
// A null entry (not computed) is not a correct answer. Throws errc::invalid_argument for more than
// region_area.size() + 1 answers (the script would index past its area list).
correction minimal_correction(const std::vector<std::optional<std::string>> & revised_answering,
                              const std::vector<double> & region_area, const std::string & prefix);

// The reference's label test: "yes" -> "Yes", "no" -> "No"; any other label is not evaluated (empty).
std::string prefix_for_label(const std::string & label);

// ---------------------------------------------------------------------------------------------------------
// one explanation, its metrics, and the summary

struct eval_sample {
    std::string source;                 // the file it came from, for messages and per-sample rows
    explanation_log log;
    // for the map
    std::vector<int32_t> order;         // region ids, most important first (eagle; may be empty)
    std::vector<double> region_attribution; // per region id (eagle; may be empty)
    std::vector<double> smdl_score, org_score, baseline_score;
    std::optional<std::array<int32_t, 2>> image_size; // [nx, ny] from run.image_size
    // localisation ground truth
    std::optional<std::array<int64_t, 4>> location;   // xyxy
    std::optional<std::vector<std::vector<double>>> segmentation; // polygons; empty list = empty mask
    // hallucination: counted when prefix is not empty
    std::string correct_prefix;         // "Yes"/"No" from `label`, else hallucination.correct_answer
    std::vector<std::optional<std::string>> revised_answering;

    bool needs_map() const { return location.has_value() || segmentation.has_value(); }
};

struct sample_metrics {
    std::string source;
    faithfulness all;
    std::optional<faithfulness> sensitive;
    int32_t n_sensitive_tokens = 0;
    std::optional<bool> point_game_box;   // present when the sample has `location`
    std::optional<bool> point_game_mask;  // present when the sample has `segmentation`
    std::optional<correction> correction_result; // present for hallucination samples
};

// map: the sample's saliency map at image resolution; required (errc::invalid_argument) when the sample has
// localisation ground truth, ignored otherwise.
sample_metrics evaluate_sample(const eval_sample & sample, const saliency_map * map, double sensitivity);

struct eval_summary {
    int64_t n_samples = 0;
    double insertion_auc = 0.0, deletion_auc = 0.0, average_highest_confidence = 0.0;
    int64_t n_sensitive_samples = 0;
    double sensitive_insertion_auc = 0.0, sensitive_deletion_auc = 0.0, sensitive_average_highest_confidence = 0.0;
    int64_t n_box_samples = 0, n_mask_samples = 0, n_localised_samples = 0;
    double point_game_box = 0.0, point_game_mask = 0.0;
    int64_t n_hallucination_samples = 0, n_corrected_samples = 0;
    double amcr = 0.0;          // never-corrected samples count 1
    double csr_10 = 0.0;        // the reference: over corrected samples only (NaN when none was corrected)
    double csr_10_clean = 0.0;  // over every hallucination sample (never corrected = failure)
};

// Means over samples, as the scripts compute them; a metric over no sample is left 0 with its count 0
// (csr_10 is NaN when no sample was corrected, as np.mean of an empty list).
eval_summary summarize(const std::vector<sample_metrics> & samples);

// { n_samples, insertion_auc, deletion_auc, average_highest_confidence, n_sensitive_samples, and where they
//   apply: sensitive_*, point_game_box, point_game_mask, n_localised_samples, amcr, csr_10 (null when no
//   sample was corrected), csr_10_clean, n_hallucination_samples, n_corrected_samples }
nlohmann::ordered_json summary_to_json(const eval_summary & summary);

// One sample's row of `eagle eval --per-sample --json`: source, insertion_auc, deletion_auc, highest_confidence,
// n_sensitive_tokens, and where they apply sensitive_*, point_game_box/mask (0/1), corrected, regions_kept,
// minimal_correction_region, within_10_percent.
nlohmann::ordered_json sample_metrics_to_json(const sample_metrics & metrics);

} // namespace eagle
