#include "eagle/metrics.h"

#include "eagle/error.h"
#include "numpy-compat.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace eagle {

namespace {

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();

bool point_game(const saliency_map & map, const std::vector<uint8_t> & inside) {
    // the script: (map * region).max() == map.max(); outside pixels are multiplied by 0
    double global = -std::numeric_limits<double>::infinity(), masked = global;
    for (size_t i = 0; i < map.values.size(); ++i) {
        const double v = map.values[i];
        if (std::isnan(v)) {
            return false; // NaN max on both sides, and NaN == NaN is false
        }
        global = std::max(global, v);
        masked = std::max(masked, v * (inside[i] ? 1.0 : 0.0));
    }
    return !map.values.empty() && masked == global;
}

void check_map(const saliency_map & map, const char * fn) {
    if (map.nx <= 0 || map.ny <= 0 || map.values.size() != size_t(map.nx) * size_t(map.ny)) {
        throw error(errc::invalid_argument, std::string(fn) + ": map of " + std::to_string(map.values.size()) +
                                                " values is not " + std::to_string(map.nx) + "x" + std::to_string(map.ny));
    }
}

} // namespace

// ---------------------------------------------------------------------------------------------------------
// faithfulness

faithfulness_curves sentence_curves(const explanation_log & log) {
    faithfulness_curves c;
    c.x_insertion.push_back(0.0);
    c.x_insertion.insert(c.x_insertion.end(), log.region_area.begin(), log.region_area.end());
    for (double x : c.x_insertion) {
        c.x_deletion.push_back(1.0 - x);
    }
    c.y_insertion.push_back(log.deletion_score.empty() ? k_nan : log.deletion_score.back());
    c.y_insertion.insert(c.y_insertion.end(), log.insertion_score.begin(), log.insertion_score.end());
    c.y_deletion.push_back(log.insertion_score.empty() ? k_nan : log.insertion_score.back());
    c.y_deletion.insert(c.y_deletion.end(), log.deletion_score.begin(), log.deletion_score.end());
    return c;
}

faithfulness curve_metrics(const faithfulness_curves & curves) {
    faithfulness f;
    f.insertion_auc = auc(curves.x_insertion, curves.y_insertion);
    f.deletion_auc  = auc(curves.x_deletion, curves.y_deletion);
    f.highest_score = numpy_max(curves.y_insertion);
    return f;
}

std::vector<uint8_t> sensitive_tokens(const explanation_log & log, double threshold) {
    if (log.insertion_word_score.empty() || log.deletion_word_score.empty()) {
        return {};
    }
    const std::vector<double> & full = log.insertion_word_score.back();
    const std::vector<double> & black = log.deletion_word_score.back();
    std::vector<uint8_t> out(std::min(full.size(), black.size()), 0);
    for (size_t t = 0; t < out.size(); ++t) {
        out[t] = full[t] - black[t] > threshold ? 1 : 0;
    }
    return out;
}

std::optional<faithfulness_curves> sensitive_curves(const explanation_log & log, double threshold) {
    const std::vector<uint8_t> keep = sensitive_tokens(log, threshold);
    if (std::find(keep.begin(), keep.end(), 1) == keep.end()) {
        return std::nullopt;
    }
    auto selected_mean = [&keep](const std::vector<double> & row) {
        std::vector<double> v;
        for (size_t t = 0; t < keep.size() && t < row.size(); ++t) {
            if (keep[t]) {
                v.push_back(row[t]);
            }
        }
        return numpy_mean(v);
    };
    faithfulness_curves c = sentence_curves(log);
    c.y_insertion = {selected_mean(log.deletion_word_score.back())};
    for (const auto & row : log.insertion_word_score) {
        c.y_insertion.push_back(selected_mean(row));
    }
    c.y_deletion = {selected_mean(log.insertion_word_score.back())};
    for (const auto & row : log.deletion_word_score) {
        c.y_deletion.push_back(selected_mean(row));
    }
    return c;
}

// ---------------------------------------------------------------------------------------------------------
// localisation

bool point_game_box(const saliency_map & map, const std::array<int64_t, 4> & box) {
    check_map(map, "point_game_box");
    int64_t x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
    numpy_slice(box[0], box[2], map.nx, x_lo, x_hi);
    numpy_slice(box[1], box[3], map.ny, y_lo, y_hi);
    std::vector<uint8_t> inside(map.values.size(), 0);
    for (int64_t y = y_lo; y < y_hi; ++y) {
        std::fill_n(inside.begin() + y * map.nx + x_lo, x_hi - x_lo, uint8_t(1));
    }
    return point_game(map, inside);
}

bool point_game_mask(const saliency_map & map, const std::vector<uint8_t> & mask) {
    check_map(map, "point_game_mask");
    if (mask.size() != map.values.size()) {
        throw error(errc::invalid_argument, "point_game_mask: mask of " + std::to_string(mask.size()) + " pixels for a " +
                                                std::to_string(map.nx) + "x" + std::to_string(map.ny) + " map");
    }
    return point_game(map, mask);
}

std::vector<uint8_t> polygons_to_mask(const std::vector<std::vector<double>> & polygons, int32_t nx, int32_t ny) {
    if (nx <= 0 || ny <= 0) {
        throw error(errc::invalid_argument, "polygons_to_mask: image of " + std::to_string(nx) + "x" + std::to_string(ny));
    }
    cv::Mat mask = cv::Mat::zeros(ny, nx, CV_8U);
    for (size_t p = 0; p < polygons.size(); ++p) {
        const std::vector<double> & poly = polygons[p];
        if (poly.size() < 6) {
            continue; // fewer than 3 points: the script skips it
        }
        if (poly.size() % 2 != 0) {
            throw error(errc::invalid_argument, "polygons_to_mask: polygon " + std::to_string(p) + " has an odd number (" +
                                                    std::to_string(poly.size()) + ") of coordinates");
        }
        std::vector<cv::Point> pts;
        for (size_t i = 0; i < poly.size(); i += 2) {
            int32_t xy[2];
            for (int k = 0; k < 2; ++k) {
                // np.asarray(float32) -> np.round (half to even) -> astype(int32) -> clip
                const float r = std::nearbyint(float(poly[i + k]));
                // out of int32 range (or NaN) casts to INT32_MIN on x86, which the clip then sends to 0
                xy[k] = (std::isfinite(r) && r >= -2147483648.0f && r < 2147483648.0f) ? int32_t(r)
                                                                                      : std::numeric_limits<int32_t>::min();
            }
            pts.emplace_back(std::clamp(xy[0], 0, nx - 1), std::clamp(xy[1], 0, ny - 1));
        }
        const std::vector<std::vector<cv::Point>> one = {pts};
        cv::fillPoly(mask, one, cv::Scalar(1), cv::LINE_8, 0); // cv2.fillPoly(mask, [pts], 1)
    }
    std::vector<uint8_t> out(size_t(nx) * ny);
    for (int32_t y = 0; y < ny; ++y) {
        std::memcpy(out.data() + size_t(y) * nx, mask.ptr<uint8_t>(y), size_t(nx));
    }
    return out;
}

saliency_map add_value_map(const std::vector<int32_t> & rank, int32_t nx, int32_t ny, const std::vector<double> & smdl_score,
                           const std::vector<double> & org_score, const std::vector<double> & baseline_score) {
    if (nx <= 0 || ny <= 0 || rank.size() != size_t(nx) * size_t(ny)) {
        throw error(errc::invalid_argument, "add_value_map: " + std::to_string(rank.size()) + " ranks for a " +
                                                std::to_string(nx) + "x" + std::to_string(ny) + " image");
    }
    if (org_score.size() != baseline_score.size()) {
        throw error(errc::invalid_argument, "add_value_map: org_score has " + std::to_string(org_score.size()) +
                                                " targets, baseline_score " + std::to_string(baseline_score.size()));
    }
    // F_0 = np.mean(1 - org + baseline)
    std::vector<double> f0_terms(org_score.size());
    for (size_t t = 0; t < org_score.size(); ++t) {
        f0_terms[t] = (1.0 - org_score[t]) + baseline_score[t];
    }
    const double f0 = numpy_mean(f0_terms);
    // value_k = -sum |smdl_k - smdl_{k-1}| in float64, stored as float16 on the pixels
    std::vector<double> region_half(smdl_score.size());
    double value = 0.0;
    for (size_t k = 0; k < smdl_score.size(); ++k) {
        const double prev = k == 0 ? f0 : smdl_score[k - 1];
        value = value - std::fabs(smdl_score[k] - prev);
        region_half[k] = round_to_half(value);
    }
    saliency_map map{nx, ny, std::vector<double>(rank.size(), 0.0)};
    for (size_t i = 0; i < rank.size(); ++i) {
        if (rank[i] >= 0 && size_t(rank[i]) < region_half.size()) {
            map.values[i] = region_half[size_t(rank[i])];
        }
    }
    const double lo = numpy_min(map.values);
    for (double & v : map.values) {
        v = half_sub(v, lo);
    }
    const double hi = numpy_max(map.values);
    for (double & v : map.values) {
        v = half_div(v, hi); // 0 / 0 when every value is equal: NaN, as numpy
    }
    return map;
}

saliency_map region_value_map(const std::vector<int32_t> & labels, int32_t nx, int32_t ny,
                              const std::vector<double> & region_values) {
    if (nx <= 0 || ny <= 0 || labels.size() != size_t(nx) * size_t(ny)) {
        throw error(errc::invalid_argument, "region_value_map: " + std::to_string(labels.size()) + " labels for a " +
                                                std::to_string(nx) + "x" + std::to_string(ny) + " image");
    }
    saliency_map map{nx, ny, std::vector<double>(labels.size())};
    for (size_t i = 0; i < labels.size(); ++i) {
        const int32_t id = labels[i];
        if (id < 0 || size_t(id) >= region_values.size()) {
            throw error(errc::invalid_argument, "region_value_map: pixel " + std::to_string(i) + " has region " +
                                                    std::to_string(id) + " but there are " +
                                                    std::to_string(region_values.size()) + " region values");
        }
        map.values[i] = region_values[size_t(id)];
    }
    // the reference's add_value divides 0 by 0 on a flat map: NaN, a miss (see add_value_map)
    const double lo = numpy_min(map.values), hi = numpy_max(map.values);
    if (!(hi > lo)) {
        std::fill(map.values.begin(), map.values.end(), k_nan);
    }
    return map;
}

namespace {

// the script's arithmetic runs in the map's dtype: float32 maps stay float32 through the division and cv2.resize
template <typename T>
saliency_map normalize_dense_as(const saliency_map & map, int32_t nx, int32_t ny, int cv_type) {
    std::vector<T> v(map.values.begin(), map.values.end());
    const T lo = *std::min_element(v.begin(), v.end());
    for (T & x : v) {
        x = T(x - lo);
    }
    // max + 1e-8 is formed in float64 and cast back to the array's type for the division
    const T divisor = T(double(*std::max_element(v.begin(), v.end())) + 0.00000001);
    for (T & x : v) {
        x = T(x / divisor);
    }
    saliency_map out{map.nx, map.ny, {}};
    if (nx > 0 && ny > 0 && (nx != map.nx || ny != map.ny)) {
        cv::Mat src(map.ny, map.nx, cv_type, v.data());
        cv::Mat dst;
        cv::resize(src, dst, cv::Size(nx, ny), 0, 0, cv::INTER_LINEAR);
        out.nx = nx;
        out.ny = ny;
        v.assign(size_t(nx) * ny, T(0));
        for (int32_t y = 0; y < ny; ++y) {
            std::memcpy(v.data() + size_t(y) * nx, dst.ptr<T>(y), sizeof(T) * size_t(nx));
        }
    }
    out.values.assign(v.begin(), v.end());
    return out;
}

} // namespace

saliency_map normalize_dense_map(const saliency_map & map, int32_t nx, int32_t ny, bool is_float32) {
    check_map(map, "normalize_dense_map");
    if (std::isnan(numpy_min(map.values))) {
        return map; // the script counts a NaN map as a miss before normalising
    }
    return is_float32 ? normalize_dense_as<float>(map, nx, ny, CV_32F) : normalize_dense_as<double>(map, nx, ny, CV_64F);
}

// ---------------------------------------------------------------------------------------------------------
// hallucination correction

correction minimal_correction(const std::vector<std::optional<std::string>> & revised_answering,
                              const std::vector<double> & region_area, const std::string & prefix) {
    const size_t n_answers = revised_answering.size();
    const size_t n_area = region_area.size() + 1; // insertion_area = [0] + region_area
    if (n_answers > n_area) {
        throw error(errc::invalid_argument, "minimal_correction: " + std::to_string(n_answers) + " revised answers for " +
                                                std::to_string(region_area.size()) + " ranking steps");
    }
    correction c;
    for (size_t k = 1; k <= n_answers; ++k) {
        const std::optional<std::string> & answer = revised_answering[n_answers - k];
        if (answer.has_value() && starts_with(*answer, prefix)) {
            const size_t i_area = n_area - k;
            const double kept = i_area == 0 ? 0.0 : region_area[i_area - 1];
            c.is_corrected = true;
            c.n_kept = int32_t(i_area);
            c.removed_fraction = 1.0 - kept;
            c.is_within_budget = c.removed_fraction <= correction_budget;
            return c;
        }
    }
    return c; // never corrected: AMCR term 1, no CSR term (the reference)
}

std::string prefix_for_label(const std::string & label) {
    if (label == "yes") {
        return "Yes";
    }
    if (label == "no") {
        return "No";
    }
    return "";
}


sample_metrics evaluate_sample(const eval_sample & sample, const saliency_map * map, double sensitivity) {
    sample_metrics m;
    m.source = sample.source;
    m.all = curve_metrics(sentence_curves(sample.log));
    const std::vector<uint8_t> sensitive = sensitive_tokens(sample.log, sensitivity);
    m.n_sensitive_tokens = int32_t(std::count(sensitive.begin(), sensitive.end(), uint8_t(1)));
    if (auto curves = sensitive_curves(sample.log, sensitivity)) {
        m.sensitive = curve_metrics(*curves);
    }
    if (sample.needs_map()) {
        if (map == nullptr) {
            throw error(errc::invalid_argument, "evaluate_sample: " + sample.source + " has localisation ground truth but no map");
        }
        if (sample.location) {
            m.point_game_box = point_game_box(*map, *sample.location);
        }
        if (sample.segmentation) {
            m.point_game_mask = point_game_mask(*map, polygons_to_mask(*sample.segmentation, map->nx, map->ny));
        }
    }
    if (!sample.correct_prefix.empty() && !sample.revised_answering.empty()) {
        // an empty answer list adds nothing in the script, not even the never-corrected 1
        m.correction_result = minimal_correction(sample.revised_answering, sample.log.region_area, sample.correct_prefix);
    }
    return m;
}

eval_summary summarize(const std::vector<sample_metrics> & samples) {
    std::vector<double> ins, del, high, s_ins, s_del, s_high, box, mask, amcr, csr, csr_clean;
    int64_t n_localised = 0;
    for (const sample_metrics & m : samples) {
        ins.push_back(m.all.insertion_auc);
        del.push_back(m.all.deletion_auc);
        high.push_back(m.all.highest_score);
        if (m.sensitive) {
            s_ins.push_back(m.sensitive->insertion_auc);
            s_del.push_back(m.sensitive->deletion_auc);
            s_high.push_back(m.sensitive->highest_score);
        }
        if (m.point_game_box) {
            box.push_back(*m.point_game_box ? 1.0 : 0.0);
        }
        if (m.point_game_mask) {
            mask.push_back(*m.point_game_mask ? 1.0 : 0.0);
        }
        n_localised += (m.point_game_box || m.point_game_mask) ? 1 : 0;
        if (m.correction_result) {
            const correction & c = *m.correction_result;
            amcr.push_back(c.removed_fraction);
            if (c.is_corrected) {
                csr.push_back(c.is_within_budget ? 1.0 : 0.0);
            }
            csr_clean.push_back(c.is_corrected && c.is_within_budget ? 1.0 : 0.0);
        }
    }
    auto mean_or_zero = [](const std::vector<double> & v) { return v.empty() ? 0.0 : numpy_mean(v); };
    eval_summary s;
    s.n_samples = int64_t(samples.size());
    s.insertion_auc = mean_or_zero(ins);
    s.deletion_auc  = mean_or_zero(del);
    s.average_highest_confidence = mean_or_zero(high);
    s.n_sensitive_samples = int64_t(s_ins.size());
    s.sensitive_insertion_auc = mean_or_zero(s_ins);
    s.sensitive_deletion_auc  = mean_or_zero(s_del);
    s.sensitive_average_highest_confidence = mean_or_zero(s_high);
    s.n_box_samples  = int64_t(box.size());
    s.n_mask_samples = int64_t(mask.size());
    s.n_localised_samples = n_localised;
    s.point_game_box  = mean_or_zero(box);
    s.point_game_mask = mean_or_zero(mask);
    s.n_hallucination_samples = int64_t(amcr.size());
    s.n_corrected_samples = int64_t(csr.size());
    s.amcr = mean_or_zero(amcr);
    s.csr_10 = numpy_mean(csr); // NaN when no sample was corrected, as the script
    s.csr_10_clean = mean_or_zero(csr_clean);
    return s;
}

nlohmann::ordered_json summary_to_json(const eval_summary & s) {
    nlohmann::ordered_json j;
    j["n_samples"] = s.n_samples;
    j["insertion_auc"] = s.insertion_auc;
    j["deletion_auc"] = s.deletion_auc;
    j["average_highest_confidence"] = s.average_highest_confidence;
    j["n_sensitive_samples"] = s.n_sensitive_samples;
    if (s.n_sensitive_samples > 0) {
        j["sensitive_insertion_auc"] = s.sensitive_insertion_auc;
        j["sensitive_deletion_auc"] = s.sensitive_deletion_auc;
        j["sensitive_average_highest_confidence"] = s.sensitive_average_highest_confidence;
    }
    if (s.n_localised_samples > 0) {
        j["n_localised_samples"] = s.n_localised_samples;
        if (s.n_box_samples > 0) {
            j["point_game_box"] = s.point_game_box;
        }
        if (s.n_mask_samples > 0) {
            j["point_game_mask"] = s.point_game_mask;
        }
        if (s.n_box_samples != s.n_mask_samples) {
            j["n_box_samples"] = s.n_box_samples;
            j["n_mask_samples"] = s.n_mask_samples;
        }
    }
    if (s.n_hallucination_samples > 0) {
        j["n_hallucination_samples"] = s.n_hallucination_samples;
        j["n_corrected_samples"] = s.n_corrected_samples;
        j["amcr"] = s.amcr;
        j["csr_10"] = std::isnan(s.csr_10) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s.csr_10);
        j["csr_10_clean"] = s.csr_10_clean;
    }
    return j;
}

nlohmann::ordered_json sample_metrics_to_json(const sample_metrics & m) {
    nlohmann::ordered_json j;
    j["source"] = m.source;
    j["insertion_auc"] = m.all.insertion_auc;
    j["deletion_auc"] = m.all.deletion_auc;
    j["highest_confidence"] = m.all.highest_score;
    j["n_sensitive_tokens"] = m.n_sensitive_tokens;
    if (m.sensitive) {
        j["sensitive_insertion_auc"] = m.sensitive->insertion_auc;
        j["sensitive_deletion_auc"] = m.sensitive->deletion_auc;
        j["sensitive_highest_confidence"] = m.sensitive->highest_score;
    }
    if (m.point_game_box) {
        j["point_game_box"] = *m.point_game_box ? 1 : 0;
    }
    if (m.point_game_mask) {
        j["point_game_mask"] = *m.point_game_mask ? 1 : 0;
    }
    if (m.correction_result) {
        const correction & c = *m.correction_result;
        j["corrected"] = c.is_corrected;
        j["regions_kept"] = c.n_kept;
        j["minimal_correction_region"] = c.removed_fraction;
        j["within_10_percent"] = c.is_corrected && c.is_within_budget;
    }
    return j;
}

} // namespace eagle
