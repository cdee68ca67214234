// Internal to src/search (not installed, not for other modules): what the searches, the baselines and the
// maps share. A subset of regions costs two masks, insertion (the subset alone) and deletion (the image
// without it); subset_evaluator sends every call as one scorer batch, search_log appends ranked regions to
// the explanation's log, budget says when exact and lazy stop ranking.
#pragma once

#include "eagle/explain.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace eagle::detail {

using subset = std::vector<uint8_t>; // selected[i] != 0: region i visible

// The scores of one subset: per target, and the objective.
struct subset_score {
    std::vector<float> ins;  // p_t(x with only the subset)
    std::vector<float> del;  // p_t(x without the subset)
    float ins_mean = 0.0f;
    float del_mean = 0.0f;
    float objective = 0.0f;  // F = mean_t(l1 * ins + l2 * (1 - del))
};

// The scores of one subset from its per-target probabilities: the means and F with the run's lambdas.
inline subset_score make_subset_score(std::vector<float> ins, std::vector<float> del, const explain_params & params) {
    subset_score r;
    r.ins = std::move(ins);
    r.del = std::move(del);
    const size_t n_targets = r.ins.size();
    double ins_sum = 0, del_sum = 0, f = 0;
    for (size_t t = 0; t < n_targets; ++t) {
        ins_sum += r.ins[t];
        del_sum += r.del[t];
        f += params.lambda1 * r.ins[t] + params.lambda2 * (1.0 - r.del[t]);
    }
    r.ins_mean  = float(ins_sum / n_targets);
    r.del_mean  = float(del_sum / n_targets);
    r.objective = float(f / n_targets);
    return r;
}

// Appends one entry (one prefix of the ranking) to the explanation's insertion and deletion curves.
inline void push_curves(explanation & ex, const subset_score & s) {
    ex.insertion_score.push_back(s.ins_mean);
    ex.deletion_score.push_back(s.del_mean);
    ex.insertion_word_score.push_back(s.ins);
    ex.deletion_word_score.push_back(s.del);
}

class subset_evaluator {
public:
    subset_evaluator(scorer & sc, const region_set & regions, const explain_params & params)
        : scorer_(sc), regions_(regions), params_(params), n_targets_(sc.n_targets()) {}

    std::vector<subset_score> evaluate(const std::vector<subset> & subsets) {
        return evaluate_one_mask(subsets, false, subset_score{}, subsets.size()); // every subset on both masks
    }

    subset_score evaluate_one(const subset & s) { return evaluate({s}).front(); }

    // One mask per subset after the first `n_both` (which get both, as evaluate): its deletion mask (`deletion`) or
    // its insertion mask; the other half of those scores is `other_half`'s per-target values
    // (shortlist_params::one_mask_margin: a half that cannot raise F, or one measured before). One scorer batch.
    std::vector<subset_score> evaluate_one_mask(const std::vector<subset> & subsets, bool deletion, const subset_score & other_half,
                                                size_t n_both = 0) {
        n_both = std::min(n_both, subsets.size());
        std::vector<mask> masks;
        masks.reserve(subsets.size() + n_both);
        for (size_t i = 0; i < subsets.size(); ++i) {
            if (i < n_both || !deletion) masks.push_back(region_mask(regions_, subsets[i]));
            if (i < n_both || deletion) {
                subset inverse = subsets[i];
                for (uint8_t & v : inverse) v = !v;
                masks.push_back(region_mask(regions_, inverse));
            }
        }
        std::vector<float> probs(masks.size() * n_targets_);
        scorer_.score(masks, probs);
        std::vector<subset_score> out;
        out.reserve(subsets.size());
        auto row = [&](size_t k) { return std::vector<float>(probs.begin() + k * n_targets_, probs.begin() + (k + 1) * n_targets_); };
        size_t k = 0; // the next mask's row
        for (size_t i = 0; i < subsets.size(); ++i) {
            if (i < n_both) {
                out.push_back(make_subset_score(row(k), row(k + 1), params_));
                k += 2;
            } else {
                out.push_back(deletion ? make_subset_score(other_half.ins, row(k), params_)
                                       : make_subset_score(row(k), other_half.del, params_));
                k += 1;
            }
        }
        return out;
    }

private:
    scorer & scorer_;
    const region_set & regions_;
    const explain_params & params_;
    size_t n_targets_;
};

inline subset with(const subset & s, int32_t u) {
    subset out = s;
    out[u] = 1;
    return out;
}

// The search state shared by the searches and the baselines: the ranking so far and its log.
class search_log {
public:
    search_log(explanation & ex, const region_set & regions) : ex_(ex), regions_(regions), selected_(regions.n_regions, 0) {}

    void append(int32_t region, const subset_score & score) {
        ex_.order.push_back(region);
        selected_[region] = 1;
        push_curves(ex_, score);
        ex_.smdl_score.push_back(score.objective);
        ex_.region_area.push_back(float(regions_.area_fraction(selected_)));
    }

    const subset & selected() const { return selected_; }
    std::vector<int32_t> remaining() const {
        std::vector<int32_t> out;
        for (int32_t i = 0; i < regions_.n_regions; ++i) {
            if (!selected_[i]) {
                out.push_back(i);
            }
        }
        return out;
    }
    int32_t n_selected() const { return int32_t(ex_.order.size()); }

private:
    explanation & ex_;
    const region_set & regions_;
    subset selected_;
};

// index of the best objective, the first one on ties (like torch.argmax in the reference)
inline size_t argmax_first(const std::vector<subset_score> & scores) {
    size_t best = 0;
    for (size_t i = 1; i < scores.size(); ++i) {
        if (scores[i].objective > scores[best].objective) {
            best = i;
        }
    }
    return best;
}

// When exact and lazy stop ranking (explain_params::budget).
struct budget {
    const explain_params::budget_params & params;
    float full_mean = 0.0f;  // mean target probability on the full image
    bool reached(const explanation & ex) const {
        const int32_t k = int32_t(ex.order.size());
        if (params.max_regions > 0 && k >= params.max_regions) {
            return true;
        }
        return params.stop_fraction > 0.0f && k > 0 && ex.insertion_score.back() >= params.stop_fraction * full_mean;
    }
};

// Appends `rest` to the ranking in the given order, measuring each prefix (two masks per region, one batch).
inline void append_along(search_log & log, subset_evaluator & eval, const std::vector<int32_t> & rest) {
    std::vector<subset> prefixes;
    subset s = log.selected();
    for (int32_t region : rest) {
        s[region] = 1;
        prefixes.push_back(s);
    }
    const std::vector<subset_score> scores = eval.evaluate(prefixes);
    for (size_t i = 0; i < rest.size(); ++i) {
        log.append(rest[i], scores[i]);
    }
}

// Regions by descending value, the lower id first on ties.
inline std::vector<int32_t> rank_by(const std::vector<std::pair<int32_t, float>> & values) {
    std::vector<std::pair<int32_t, float>> sorted = values;
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto & a, const auto & b) {
        return a.second > b.second || (a.second == b.second && a.first < b.first);
    });
    std::vector<int32_t> order;
    for (const auto & [region, value] : sorted) {
        order.push_back(region);
    }
    return order;
}

// --- greedy.cpp: EAGLE's searches. Each appends to ex (through log, or directly for efficient) and sets
// ex.is_complete = false when the progress callback cancels.
void search_exact(explanation & ex, search_log & log, subset_evaluator & eval, const budget & limit,
                  const progress_callback & progress, int32_t n);
void search_lazy(explanation & ex, search_log & log, subset_evaluator & eval, const budget & limit,
                 const explain_params::lazy_params & params, const progress_callback & progress, int32_t n,
                 float f_empty);
// shortlist.cpp
void search_shortlist(explanation & ex, search_log & log, subset_evaluator & eval, const region_set & regions,
                      const budget & limit, const explain_params & params,
                      const progress_callback & progress, int32_t n, const subset_score & full, const subset_score & empty);
void search_efficient(explanation & ex, subset_evaluator & eval, const region_set & regions,
                      const explain_params::efficient_params & params, const progress_callback & progress, int32_t n,
                      const subset_score & full, const subset_score & empty);

// --- baselines.cpp: per-region saliency of a black-box baseline (higher = more important), n regions.
std::vector<float> baseline_saliency(subset_evaluator & eval, const explain_params & params, int32_t n,
                                     const subset_score & full);

// --- attribution.cpp: what is derived from the log.
// Min-max normalisation to [0, 1]: lo and hi are taken over values[i] for i in `over`, those entries become
// (v - lo) / (hi - lo), every other entry 0 (the lowest). All 0 when hi == lo: no spread to show.
std::vector<float> min_max(const std::vector<float> & values, const std::vector<int32_t> & over);
std::vector<float> min_max(const std::vector<float> & values); // over every entry
// The reference's add_value per region id, along `order` (entry k of `objective` = F of its first k+1 regions)
std::vector<float> add_value_regions(const std::vector<float> & objective, float f_empty, const std::vector<int32_t> & order,
                                     int32_t n_regions);
// ex.reliance from the log (org/baseline scores and the per-target insertion curves)
void compute_reliance(explanation & ex);

} // namespace eagle::detail
