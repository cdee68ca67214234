// What is derived from a search's log (../shared/method/eagle-reference.md §4): the reference's add_value map,
// the per-token gain map, the influence score and the per-token reliance on the image.
#include "search-internal.h"

#include "eagle/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace eagle {

namespace detail {

std::vector<float> min_max(const std::vector<float> & values, const std::vector<int32_t> & over) {
    std::vector<float> out(values.size(), 0.0f);
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (int32_t i : over) {
        lo = std::min(lo, values[i]);
        hi = std::max(hi, values[i]);
    }
    if (!(hi > lo)) {
        return out;
    }
    for (int32_t i : over) {
        out[i] = (values[i] - lo) / (hi - lo);
    }
    return out;
}

std::vector<float> min_max(const std::vector<float> & values) {
    std::vector<int32_t> all(values.size());
    std::iota(all.begin(), all.end(), 0);
    return min_max(values, all);
}

// v_k = -sum_{j<=k} |F_j - F_{j-1}| per ranked region, then min-max over the ranked regions to [0, 1] (top
// region 1, last 0). Regions the log does not reach (a cancelled run) get 0: they were never ranked, so they
// must not outrank the last ranked region (their raw value 0 would be above every ranked one).
std::vector<float> add_value_regions(const std::vector<float> & objective, float f_empty, const std::vector<int32_t> & order,
                                     int32_t n_regions) {
    std::vector<float> value(n_regions, 0.0f);
    std::vector<int32_t> ranked;
    double cumulative = 0.0;
    float prev = f_empty;
    for (size_t k = 0; k < order.size() && k < objective.size(); ++k) {
        cumulative -= std::fabs(double(objective[k]) - prev);
        prev = objective[k];
        value[order[k]] = float(cumulative);
        ranked.push_back(order[k]);
    }
    return min_max(value, ranked); // all 0 when every gain after the first is zero: no magnitude to show
}

namespace {

float trapezoid(const std::vector<float> & x, const std::vector<float> & y) {
    double area = 0.0;
    for (size_t i = 1; i < x.size(); ++i) {
        area += (double(x[i]) - x[i - 1]) * (double(y[i]) + y[i - 1]) * 0.5;
    }
    return float(area);
}

std::vector<float> per_pixel(const std::vector<float> & region_value, const region_set & regions) {
    std::vector<float> map(regions.labels.size());
    for (size_t i = 0; i < map.size(); ++i) {
        map[i] = region_value.at(regions.labels[i]);
    }
    return map;
}

} // namespace

void compute_reliance(explanation & ex) {
    const size_t n_targets = ex.org_score.size();
    ex.reliance.resize(n_targets);
    if (ex.insertion_word_score.empty()) {
        return;
    }
    std::vector<float> influence(n_targets);
    for (size_t t = 0; t < n_targets; ++t) {
        token_reliance & r = ex.reliance[t];
        r.p_black = ex.baseline_score[t];
        r.p_full  = ex.org_score[t];
        r.influence = influence_score(ex, int32_t(t));
        r.is_sensitive = r.p_full - r.p_black > sensitive_token_threshold;
        r.is_visual = r.influence >= visual_influence_threshold;
        influence[t] = r.influence;
    }
    const std::vector<float> normalized = min_max(influence);
    for (size_t t = 0; t < n_targets; ++t) {
        ex.reliance[t].influence_normalized = normalized[t];
    }
}

} // namespace detail

float influence_score(const explanation & ex, int32_t i_target) {
    std::vector<float> x = {0.0f}, y = {ex.baseline_score.at(i_target)};
    for (size_t k = 0; k < ex.insertion_word_score.size(); ++k) {
        x.push_back(ex.region_area[k]);
        y.push_back(ex.insertion_word_score[k][i_target]);
    }
    return detail::trapezoid(x, y) - *std::min_element(y.begin(), y.end());
}

std::vector<float> attribution_map(const explanation & ex, const region_set & regions) {
    if (int32_t(ex.region_value.size()) != regions.n_regions) {
        throw error(errc::invalid_argument, "attribution_map: explanation of " + std::to_string(ex.region_value.size()) +
                                                " regions for a set of " + std::to_string(regions.n_regions));
    }
    return detail::per_pixel(ex.region_value, regions);
}

std::vector<float> token_gain_map(const explanation & ex, const region_set & regions, int32_t i_target, float lambda1,
                                  float lambda2) {
    std::vector<float> objective;
    for (size_t k = 0; k < ex.insertion_word_score.size(); ++k) {
        objective.push_back(lambda1 * ex.insertion_word_score[k][i_target] + lambda2 * (1.0f - ex.deletion_word_score[k][i_target]));
    }
    const float f_empty = lambda1 * ex.baseline_score.at(i_target) + lambda2 * (1.0f - ex.org_score.at(i_target));
    return detail::per_pixel(detail::add_value_regions(objective, f_empty, ex.order, regions.n_regions), regions);
}

} // namespace eagle
