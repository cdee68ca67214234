// The shortlist search (explain_params::shortlist): the exact greedy's first step, then per step only a
// shortlist of candidates re-evaluated, and the flat tail of the curves ordered without a search.
// Why these candidates: exact greedy re-evaluates every remaining region at every step, but on EAGLE's
// objective most gains barely move from one step to the next (background regions stay near zero). What moves
// are (a) the regions whose last-known gains are highest (the contenders) and (b) the regions next to the one
// just chosen: a superpixel rarely covers a whole object, and the other parts of an object gain together once
// one part is visible or removed (the objective is not submodular there, so a stale gain under-estimates
// them, which is where the lazy greedy loses). The flat tail: once both curves have covered nearly all of
// their range, the order of the rest hardly changes either AUC.
#include "search-internal.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace eagle::detail {

namespace {

// Region ids that share a pixel edge (4-connectivity), per region, ascending.
std::vector<std::vector<int32_t>> region_adjacency(const region_set & regions) {
    std::vector<std::vector<uint8_t>> touches(regions.n_regions, std::vector<uint8_t>(regions.n_regions, 0));
    auto link = [&](int32_t a, int32_t b) {
        if (a != b) {
            touches[a][b] = touches[b][a] = 1;
        }
    };
    // several images (join_regions): each image's pixels in their own rows; regions of different images never touch
    for (size_t k = 0; k < n_images(regions); ++k) {
        const int32_t nx = regions.parts.empty() ? regions.nx : regions.parts[k].nx;
        const int32_t ny = regions.parts.empty() ? regions.ny : regions.parts[k].ny;
        const int32_t * labels = regions.labels.data() + (regions.parts.empty() ? 0 : regions.parts[k].first_pixel);
        for (int32_t y = 0; y < ny; ++y) {
            for (int32_t x = 0; x < nx; ++x) {
                const int32_t here = labels[size_t(y) * nx + x];
                if (x + 1 < nx) link(here, labels[size_t(y) * nx + x + 1]);
                if (y + 1 < ny) link(here, labels[size_t(y + 1) * nx + x]);
            }
        }
    }
    std::vector<std::vector<int32_t>> out(regions.n_regions);
    for (int32_t a = 0; a < regions.n_regions; ++a) {
        for (int32_t b = 0; b < regions.n_regions; ++b) {
            if (touches[a][b]) out[a].push_back(b);
        }
    }
    return out;
}

// How much of a curve's range (value at the empty set -> value at all regions) `value` has covered; a curve
// without range (the model answers the same on the black and the full image) counts as covered.
float covered(float value, float at_start, float at_end) {
    const float range = at_end - at_start;
    return std::fabs(range) < 1e-6f ? 1.0f : (value - at_start) / range;
}

} // namespace

void search_shortlist(explanation & ex, search_log & log, subset_evaluator & eval, const region_set & regions,
                      const budget & limit, const explain_params::shortlist_params & params,
                      const progress_callback & progress, int32_t n, const subset_score & full, const subset_score & empty) {
    const std::vector<std::vector<int32_t>> adjacent =
        params.use_neighbours ? region_adjacency(regions) : std::vector<std::vector<int32_t>>(n);
    std::vector<float> gain(n, std::numeric_limits<float>::infinity()); // F(S' + u) - F(S') at the step S' of fresh_at
    std::vector<int32_t> fresh_at(n, -1);
    std::vector<subset_score> fresh_score(n);
    float f_current = empty.objective;
    const size_t n_top = size_t(std::max(1, params.n_top));
    int32_t last_chosen = -1;
    float f_before_last = f_current; // F before the last choice: did it move the objective?

    const auto evaluate_now = [&](const std::vector<int32_t> & regions_to_score, int32_t step) {
        std::vector<subset> candidates;
        for (int32_t u : regions_to_score) {
            candidates.push_back(with(log.selected(), u));
        }
        const std::vector<subset_score> scores = eval.evaluate(candidates);
        for (size_t i = 0; i < regions_to_score.size(); ++i) {
            gain[regions_to_score[i]] = scores[i].objective - f_current;
            fresh_at[regions_to_score[i]] = step;
            fresh_score[regions_to_score[i]] = scores[i];
        }
    };
    const auto order_rest_by_gain = [&] {
        std::vector<std::pair<int32_t, float>> rest;
        for (int32_t u : log.remaining()) {
            rest.emplace_back(u, gain[u]);
        }
        ex.n_ranked = log.n_selected();
        append_along(log, eval, rank_by(rest));
    };

    while (log.n_selected() < n) {
        const int32_t step = log.n_selected();
        const std::vector<int32_t> remaining = log.remaining();
        if (step > 0 && params.saturation < 1.0f &&
            covered(ex.insertion_score.back(), empty.ins_mean, full.ins_mean) >= params.saturation &&
            covered(ex.deletion_score.back(), full.ins_mean, empty.ins_mean) >= params.saturation) {
            order_rest_by_gain();
            return;
        }
        const bool rescreen = step < params.rescreen_first || (params.rescreen_every > 0 && step % params.rescreen_every == 0);
        std::vector<int32_t> first_round;
        if (rescreen) {
            first_round = remaining;
        } else {
            // the contenders by last-known gain (the lower id on ties), then the last choice's neighbours
            first_round = rank_by([&] {
                std::vector<std::pair<int32_t, float>> known;
                for (int32_t u : remaining) known.emplace_back(u, gain[u]);
                return known;
            }());
            first_round.resize(std::min(first_round.size(), n_top));
            const bool moved = std::fabs(fresh_score[last_chosen].objective - f_before_last) >= params.tolerance;
            for (int32_t v : moved ? adjacent[last_chosen] : std::vector<int32_t>{}) {
                if (!log.selected()[v] && std::find(first_round.begin(), first_round.end(), v) == first_round.end()) {
                    first_round.push_back(v);
                }
            }
        }
        evaluate_now(first_round, step);
        // further rounds (lazy's rule, capped): the stale candidates whose last-known gain beats the best fresh one
        for (int32_t round = 1; params.max_rounds == 0 || round < params.max_rounds; ++round) {
            int32_t best = -1;
            for (int32_t u : remaining) {
                if (fresh_at[u] == step && (best < 0 || gain[u] > gain[best])) best = u;
            }
            std::vector<std::pair<int32_t, float>> blockers;
            for (int32_t u : remaining) {
                const bool beats = params.tolerance > 0.0f ? gain[u] > gain[best] + params.tolerance
                                                           : gain[u] > gain[best] || (gain[u] == gain[best] && u < best);
                if (fresh_at[u] != step && beats) {
                    blockers.emplace_back(u, gain[u]);
                }
            }
            if (blockers.empty()) break;
            std::vector<int32_t> next = rank_by(blockers);
            next.resize(std::min(next.size(), n_top));
            evaluate_now(next, step);
        }
        const auto best_fresh = [&] {
            int32_t best = -1;
            for (int32_t u : remaining) {
                if (fresh_at[u] == step && (best < 0 || gain[u] > gain[best])) best = u;
            }
            return best;
        };
        int32_t chosen = best_fresh();
        if (params.rescreen_loss > 0.0f && gain[chosen] < -params.rescreen_loss) {
            // every candidate loses: the last-known gains no longer say which region keeps the objective
            std::vector<int32_t> rest;
            for (int32_t u : remaining) {
                if (fresh_at[u] != step) rest.push_back(u);
            }
            evaluate_now(rest, step);
            chosen = best_fresh();
        }
        log.append(chosen, fresh_score[chosen]);
        f_before_last = f_current;
        f_current = fresh_score[chosen].objective;
        last_chosen = chosen;
        if (progress && !progress(log.n_selected(), n)) {
            ex.is_complete = false;
            return;
        }
        if (log.n_selected() < n && limit.reached(ex)) {
            order_rest_by_gain();
            return;
        }
    }
}

} // namespace eagle::detail
