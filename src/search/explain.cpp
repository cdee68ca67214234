// EAGLE's searches over region subsets (../shared/method/eagle-reference.md §2.3, §3.1) and what is derived
// from their log (§4). Every subset costs two masks: insertion (the subset alone) and deletion (the image
// without it); each round of a search goes to the scorer as one batch.
#include "eagle/explain.h"

#include "eagle/error.h"
#include "common/timing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace eagle {

search_mode search_mode_from_string(const std::string & name) {
    if (name == "exact") return search_mode::exact;
    if (name == "efficient") return search_mode::efficient;
    if (name == "lazy") return search_mode::lazy;
    throw error(errc::invalid_argument, "unknown search '" + name + "' (expected exact, efficient or lazy)");
}

const char * search_mode_name(search_mode mode) {
    switch (mode) {
        case search_mode::exact:     return "exact";
        case search_mode::efficient: return "efficient";
        case search_mode::lazy:      return "lazy";
    }
    return "lazy";
}

attribution_method attribution_method_from_string(const std::string & name) {
    if (name == "eagle") return attribution_method::eagle;
    if (name == "random") return attribution_method::random;
    if (name == "occlusion") return attribution_method::occlusion;
    if (name == "rise") return attribution_method::rise;
    if (name == "lime") return attribution_method::lime;
    throw error(errc::invalid_argument, "unknown method '" + name + "' (expected eagle, random, occlusion, rise or lime)");
}

const char * attribution_method_name(attribution_method method) {
    switch (method) {
        case attribution_method::eagle:     return "eagle";
        case attribution_method::random:    return "random";
        case attribution_method::occlusion: return "occlusion";
        case attribution_method::rise:      return "rise";
        case attribution_method::lime:      return "lime";
    }
    return "eagle";
}

namespace {

using subset = std::vector<uint8_t>; // selected[i] != 0: region i visible

// The scores of one subset: per target, and the objective.
struct subset_score {
    std::vector<float> ins;  // p_t(x with only the subset)
    std::vector<float> del;  // p_t(x without the subset)
    float ins_mean = 0.0f;
    float del_mean = 0.0f;
    float objective = 0.0f;  // F = mean_t(l1 * ins + l2 * (1 - del))
};

class subset_evaluator {
public:
    subset_evaluator(scorer & sc, const region_set & regions, const explain_params & params)
        : scorer_(sc), regions_(regions), params_(params), n_targets_(sc.n_targets()) {}

    std::vector<subset_score> evaluate(const std::vector<subset> & subsets) {
        std::vector<mask> masks;
        masks.reserve(subsets.size() * 2);
        for (const subset & s : subsets) {
            masks.push_back(region_mask(regions_, s));
            subset inverse(s.size());
            for (size_t i = 0; i < s.size(); ++i) {
                inverse[i] = !s[i];
            }
            masks.push_back(region_mask(regions_, inverse));
        }
        std::vector<float> probs(masks.size() * n_targets_);
        scorer_.score(masks, probs);
        std::vector<subset_score> out(subsets.size());
        for (size_t i = 0; i < subsets.size(); ++i) {
            subset_score & r = out[i];
            r.ins.assign(probs.begin() + (2 * i) * n_targets_, probs.begin() + (2 * i + 1) * n_targets_);
            r.del.assign(probs.begin() + (2 * i + 1) * n_targets_, probs.begin() + (2 * i + 2) * n_targets_);
            double ins = 0, del = 0, f = 0;
            for (size_t t = 0; t < n_targets_; ++t) {
                ins += r.ins[t];
                del += r.del[t];
                f += params_.lambda1 * r.ins[t] + params_.lambda2 * (1.0 - r.del[t]);
            }
            r.ins_mean  = float(ins / n_targets_);
            r.del_mean  = float(del / n_targets_);
            r.objective = float(f / n_targets_);
        }
        return out;
    }

    subset_score evaluate_one(const subset & s) { return evaluate({s}).front(); }

private:
    scorer & scorer_;
    const region_set & regions_;
    const explain_params & params_;
    size_t n_targets_;
};

subset with(const subset & s, int32_t u) {
    subset out = s;
    out[u] = 1;
    return out;
}

// The search state shared by the three searches: the ranking so far and its log.
class search_log {
public:
    search_log(explanation & ex, const region_set & regions) : ex_(ex), regions_(regions), selected_(regions.n_regions, 0) {}

    void append(int32_t region, const subset_score & score) {
        ex_.order.push_back(region);
        selected_[region] = 1;
        ex_.insertion_score.push_back(score.ins_mean);
        ex_.deletion_score.push_back(score.del_mean);
        ex_.smdl_score.push_back(score.objective);
        ex_.insertion_word_score.push_back(score.ins);
        ex_.deletion_word_score.push_back(score.del);
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
size_t argmax_first(const std::vector<subset_score> & scores) {
    size_t best = 0;
    for (size_t i = 1; i < scores.size(); ++i) {
        if (scores[i].objective > scores[best].objective) {
            best = i;
        }
    }
    return best;
}

struct budget {
    const explain_params & params;
    float full_mean = 0.0f;
    bool reached(const explanation & ex) const {
        const int32_t k = int32_t(ex.order.size());
        if (params.max_regions > 0 && k >= params.max_regions) {
            return true;
        }
        return params.stop_fraction > 0.0f && k > 0 && ex.insertion_score.back() >= params.stop_fraction * full_mean;
    }
};

// Appends `rest` to the ranking in the given order, measuring each prefix (two masks per region, one batch).
void append_along(search_log & log, subset_evaluator & eval, const std::vector<int32_t> & rest) {
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
std::vector<int32_t> rank_by(const std::vector<std::pair<int32_t, float>> & values) {
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

// After a budget stop: order the rest by their last known objective and measure the prefixes along that
// order, so the curves still end at the full image.
void complete_unranked(explanation & ex, search_log & log, subset_evaluator & eval,
                       const std::vector<std::pair<int32_t, float>> & rest) {
    ex.n_ranked = log.n_selected();
    append_along(log, eval, rank_by(rest));
}

void search_exact(explanation & ex, search_log & log, subset_evaluator & eval, const budget & limit,
                  const progress_callback & progress, int32_t n) {
    std::vector<std::pair<int32_t, float>> last_known;
    while (log.n_selected() < n) {
        const std::vector<int32_t> remaining = log.remaining();
        std::vector<subset> candidates;
        for (int32_t u : remaining) {
            candidates.push_back(with(log.selected(), u));
        }
        const std::vector<subset_score> scores = eval.evaluate(candidates);
        const size_t best = argmax_first(scores);
        log.append(remaining[best], scores[best]);
        last_known.clear();
        for (size_t i = 0; i < remaining.size(); ++i) {
            if (i != best) {
                last_known.emplace_back(remaining[i], scores[i].objective);
            }
        }
        if (progress && !progress(log.n_selected(), n)) {
            ex.is_complete = false;
            return;
        }
        if (log.n_selected() < n && limit.reached(ex)) {
            complete_unranked(ex, log, eval, last_known);
            return;
        }
    }
}

// Lazy greedy. bound[u] = F(S' + u) - F(S') from the step S' at which u was last evaluated; with a submodular
// F the gain of u can only shrink as S grows, so a stale bound is an upper bound and a fresh gain that no
// stale bound beats is the exact greedy choice. The tie rule is exact's: on equal objectives the lower region
// id wins, so a stale candidate with a lower id and an equal bound is re-evaluated before one is accepted.
void search_lazy(explanation & ex, search_log & log, subset_evaluator & eval, const budget & limit,
                 const explain_params & params, const progress_callback & progress, int32_t n, float f_empty) {
    std::vector<float> bound(n, std::numeric_limits<float>::infinity());
    std::vector<int32_t> fresh_at(n, -1);         // step at which bound[u] was computed
    std::vector<subset_score> fresh_score(n);     // the score behind a fresh bound
    float f_current = f_empty;
    const int32_t n_batch = std::max(1, params.lazy_batch);
    while (log.n_selected() < n) {
        const int32_t step = log.n_selected();
        const std::vector<int32_t> remaining = log.remaining();
        if (step == 0) {
            // the first step evaluates everything, as exact does
            std::vector<subset> candidates;
            for (int32_t u : remaining) {
                candidates.push_back(with(log.selected(), u));
            }
            const std::vector<subset_score> scores = eval.evaluate(candidates);
            for (size_t i = 0; i < remaining.size(); ++i) {
                bound[remaining[i]] = scores[i].objective - f_current;
                fresh_at[remaining[i]] = step;
                fresh_score[remaining[i]] = scores[i];
            }
        }
        int32_t chosen = -1;
        while (chosen < 0) {
            // best fresh candidate (objective, then lower id)
            int32_t best = -1;
            for (int32_t u : remaining) {
                if (fresh_at[u] == step && (best < 0 || bound[u] > bound[best])) {
                    best = u;
                }
            }
            // stale candidates that could still beat it
            std::vector<int32_t> blockers;
            for (int32_t u : remaining) {
                if (fresh_at[u] == step) {
                    continue;
                }
                const bool blocks = best < 0 || bound[u] > bound[best] + params.lazy_epsilon ||
                                    (params.lazy_epsilon == 0.0f && bound[u] == bound[best] && u < best);
                if (blocks) {
                    blockers.push_back(u);
                }
            }
            if (blockers.empty()) {
                chosen = best;
                break;
            }
            std::stable_sort(blockers.begin(), blockers.end(), [&](int32_t a, int32_t b) { return bound[a] > bound[b]; });
            blockers.resize(std::min<size_t>(blockers.size(), size_t(n_batch)));
            std::vector<subset> candidates;
            for (int32_t u : blockers) {
                candidates.push_back(with(log.selected(), u));
            }
            const std::vector<subset_score> scores = eval.evaluate(candidates);
            for (size_t i = 0; i < blockers.size(); ++i) {
                bound[blockers[i]] = scores[i].objective - f_current;
                fresh_at[blockers[i]] = step;
                fresh_score[blockers[i]] = scores[i];
            }
        }
        log.append(chosen, fresh_score[chosen]);
        f_current = fresh_score[chosen].objective;
        if (progress && !progress(log.n_selected(), n)) {
            ex.is_complete = false;
            return;
        }
        if (log.n_selected() < n && limit.reached(ex)) {
            std::vector<std::pair<int32_t, float>> rest;
            for (int32_t u : log.remaining()) {
                rest.emplace_back(u, bound[u]);
            }
            complete_unranked(ex, log, eval, rest);
            return;
        }
    }
}

// The reference's EfficientMLLMSubModularExplanationVision: a positive list grown from the front (full
// re-sort every update_step steps, else only the first search_scope entries evaluated) and a negative list
// removed from the back (the last pending_samples entries evaluated), until they meet.
void search_efficient(explanation & ex, subset_evaluator & eval, const region_set & regions,
                      const explain_params & params, const progress_callback & progress, int32_t n,
                      const subset_score & full, const subset_score & empty) {
    std::vector<int32_t> pending(n);           // V_set, in the order of the last re-sort
    std::iota(pending.begin(), pending.end(), 0);
    subset base_pos(n, 0), base_neg(n, 1);
    std::vector<int32_t> order_pos, order_neg;
    std::vector<subset_score> log_pos, log_neg;  // log_neg holds (ins, del) as the reference saves them
    std::vector<float> area_pos, area_neg;
    int32_t update_count = 0;
    for (int32_t iter = 0; iter < n; ++iter) {
        if (pending.size() == 1) {
            order_pos.push_back(pending.front());
            pending.clear();
            break;
        }
        if (pending.empty()) {
            break; // n == 2: both ends took one region each
        }
        const bool refresh = order_pos.empty() || update_count % std::max(1, params.update_step) == 0;
        const size_t n_eval = refresh ? pending.size() : std::min(pending.size(), size_t(std::max(1, params.search_scope)));
        std::vector<subset> candidates;
        for (size_t i = 0; i < n_eval; ++i) {
            candidates.push_back(with(base_pos, pending[i]));
        }
        const std::vector<subset_score> scores = eval.evaluate(candidates);
        const size_t best = argmax_first(scores);
        size_t worst = 0;
        for (size_t i = 1; i < scores.size(); ++i) {
            if (scores[i].objective < scores[worst].objective) {
                worst = i;
            }
        }
        const subset_score worst_score = scores[worst];
        if (refresh) {
            std::vector<size_t> idx(n_eval);
            std::iota(idx.begin(), idx.end(), 0);
            std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a].objective > scores[b].objective; });
            std::vector<int32_t> sorted;
            for (size_t i : idx) {
                sorted.push_back(pending[i]);
            }
            pending = sorted;
            order_pos.push_back(pending.front());
            pending.erase(pending.begin());
        } else {
            order_pos.push_back(pending[best]);
            pending.erase(pending.begin() + best);
        }
        base_pos[order_pos.back()] = 1;
        log_pos.push_back(scores[best]);
        area_pos.push_back(float(regions.area_fraction(base_pos)));

        if (order_neg.empty()) {
            // first iteration: the lowest-F region goes to the back for free; the reference logs its scores
            // swapped (everything but u visible = the deletion image of u)
            subset_score s;
            s.ins = worst_score.del;
            s.del = worst_score.ins;
            s.ins_mean = worst_score.del_mean;
            s.del_mean = worst_score.ins_mean;
            order_neg.push_back(pending.back());
            base_neg[pending.back()] = 0;
            pending.pop_back();
            log_neg.push_back(s);
            area_neg.push_back(float(regions.area_fraction(base_neg)));
        } else if (pending.size() > size_t(params.pending_samples)) {
            const size_t first = pending.size() - size_t(params.pending_samples);
            std::vector<subset> removal;
            for (size_t i = first; i < pending.size(); ++i) {
                subset s = base_neg;
                s[pending[i]] = 0;
                removal.push_back(s);
            }
            const std::vector<subset_score> rs = eval.evaluate(removal);
            const size_t pick = argmax_first(rs);
            order_neg.push_back(pending[first + pick]);
            base_neg[pending[first + pick]] = 0;
            pending.erase(pending.begin() + first + pick);
            log_neg.push_back(rs[pick]);
            area_neg.push_back(float(regions.area_fraction(base_neg)));
        }
        ++update_count;
        if (progress && !progress(int32_t(order_pos.size() + order_neg.size()), n)) {
            ex.is_complete = false;
            break;
        }
    }
    // S = positives ++ [last] ++ reversed negatives; curves: positives ++ reversed negatives ++ [full image]
    ex.order = order_pos;
    ex.order.insert(ex.order.end(), order_neg.rbegin(), order_neg.rend());
    auto push = [&](const subset_score & s, float area) {
        ex.insertion_score.push_back(s.ins_mean);
        ex.deletion_score.push_back(s.del_mean);
        ex.insertion_word_score.push_back(s.ins);
        ex.deletion_word_score.push_back(s.del);
        ex.region_area.push_back(area);
    };
    for (size_t i = 0; i < log_pos.size(); ++i) {
        push(log_pos[i], area_pos[i]);
    }
    for (size_t i = log_neg.size(); i-- > 0;) {
        push(log_neg[i], area_neg[i]);
    }
    if (ex.is_complete) {
        // the full-image entry; the reference takes org from the full image and baseline from the black one
        subset_score last = full;
        last.del = empty.ins;
        last.del_mean = empty.ins_mean;
        push(last, 1.0f);
    }
    // the reference recomputes smdl as insertion + 1 - deletion, lambda ignored
    for (size_t k = 0; k < ex.insertion_score.size(); ++k) {
        ex.smdl_score.push_back(ex.insertion_score[k] + 1.0f - ex.deletion_score[k]);
    }
}

// Per-region saliency of the black-box baselines (higher = more important).
std::vector<float> baseline_saliency(subset_evaluator & eval, const explain_params & params, int32_t n,
                                     const subset_score & full) {
    std::mt19937_64 rng(params.seed);
    std::vector<float> saliency(n, 0.0f);
    switch (params.method) {
        case attribution_method::random: {
            std::vector<int32_t> perm(n);
            std::iota(perm.begin(), perm.end(), 0);
            std::shuffle(perm.begin(), perm.end(), rng);
            for (int32_t i = 0; i < n; ++i) {
                saliency[perm[i]] = float(n - i) / n;
            }
            break;
        }
        case attribution_method::occlusion: {
            // the drop of the mean target probability when the region alone is removed
            std::vector<subset> all_but(n, subset(n, 1));
            for (int32_t i = 0; i < n; ++i) {
                all_but[i][i] = 0;
            }
            const std::vector<subset_score> scores = eval.evaluate(all_but);
            for (int32_t i = 0; i < n; ++i) {
                saliency[i] = full.ins_mean - scores[i].ins_mean;
            }
            break;
        }
        case attribution_method::rise:
        case attribution_method::lime: {
            // random subsets, each region visible with probability 1/2 (their insertion images are scored;
            // the evaluator also scores the complements, which are random subsets of the same law: use both)
            const int32_t n_pairs = std::max(1, params.n_samples / 2);
            std::vector<subset> samples(n_pairs, subset(n, 0));
            std::bernoulli_distribution coin(0.5);
            for (subset & s : samples) {
                for (int32_t i = 0; i < n; ++i) {
                    s[i] = coin(rng);
                }
            }
            const std::vector<subset_score> scores = eval.evaluate(samples);
            std::vector<subset> xs;
            std::vector<double> ys;
            for (int32_t m = 0; m < n_pairs; ++m) {
                xs.push_back(samples[m]);
                ys.push_back(scores[m].ins_mean);
                subset inverse(n);
                for (int32_t i = 0; i < n; ++i) {
                    inverse[i] = !samples[m][i];
                }
                xs.push_back(inverse);
                ys.push_back(scores[m].del_mean);
            }
            if (params.method == attribution_method::rise) {
                // saliency_i = E[p | region i visible] (RISE's importance, over regions instead of pixels)
                std::vector<double> sum(n, 0.0), count(n, 0.0);
                for (size_t m = 0; m < xs.size(); ++m) {
                    for (int32_t i = 0; i < n; ++i) {
                        if (xs[m][i]) {
                            sum[i] += ys[m];
                            count[i] += 1.0;
                        }
                    }
                }
                for (int32_t i = 0; i < n; ++i) {
                    saliency[i] = count[i] > 0 ? float(sum[i] / count[i]) : 0.0f;
                }
            } else {
                // LIME: weights exp(-d^2 / 0.25^2), d = cosine distance to the full image (all ones),
                // ridge (alpha 1) with an intercept; saliency = the region's coefficient
                const int32_t dim = n + 1;
                std::vector<double> a(size_t(dim) * dim, 0.0), b(dim, 0.0);
                for (size_t m = 0; m < xs.size(); ++m) {
                    double n_on = 0;
                    for (int32_t i = 0; i < n; ++i) n_on += xs[m][i];
                    const double cosine = n_on > 0 ? n_on / std::sqrt(n_on * n) : 0.0;
                    const double d = 1.0 - cosine;
                    const double w = std::exp(-d * d / (0.25 * 0.25));
                    std::vector<double> x(dim);
                    x[0] = 1.0;
                    for (int32_t i = 0; i < n; ++i) x[i + 1] = xs[m][i];
                    for (int32_t r = 0; r < dim; ++r) {
                        b[r] += w * x[r] * ys[m];
                        for (int32_t c = 0; c < dim; ++c) a[size_t(r) * dim + c] += w * x[r] * x[c];
                    }
                }
                for (int32_t r = 1; r < dim; ++r) a[size_t(r) * dim + r] += 1.0; // ridge, intercept unpenalised
                // Gaussian elimination with partial pivoting (dim <= a few hundred)
                for (int32_t col = 0; col < dim; ++col) {
                    int32_t pivot = col;
                    for (int32_t r = col + 1; r < dim; ++r)
                        if (std::fabs(a[size_t(r) * dim + col]) > std::fabs(a[size_t(pivot) * dim + col])) pivot = r;
                    for (int32_t c = 0; c < dim; ++c) std::swap(a[size_t(col) * dim + c], a[size_t(pivot) * dim + c]);
                    std::swap(b[col], b[pivot]);
                    const double diag = a[size_t(col) * dim + col];
                    if (std::fabs(diag) < 1e-12) continue;
                    for (int32_t r = 0; r < dim; ++r) {
                        if (r == col) continue;
                        const double f = a[size_t(r) * dim + col] / diag;
                        if (f == 0.0) continue;
                        for (int32_t c = col; c < dim; ++c) a[size_t(r) * dim + c] -= f * a[size_t(col) * dim + c];
                        b[r] -= f * b[col];
                    }
                }
                for (int32_t i = 0; i < n; ++i) {
                    const double diag = a[size_t(i + 1) * dim + i + 1];
                    saliency[i] = std::fabs(diag) < 1e-12 ? 0.0f : float(b[i + 1] / diag);
                }
            }
            break;
        }
        case attribution_method::eagle:
            break;
    }
    return saliency;
}

std::vector<float> min_max(const std::vector<float> & v) {
    if (v.empty()) {
        return v;
    }
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    std::vector<float> out(v.size(), 0.0f);
    if (*hi > *lo) {
        for (size_t i = 0; i < v.size(); ++i) {
            out[i] = (v[i] - *lo) / (*hi - *lo);
        }
    }
    return out;
}

float trapezoid(const std::vector<float> & x, const std::vector<float> & y) {
    double area = 0.0;
    for (size_t i = 1; i < x.size(); ++i) {
        area += (double(x[i]) - x[i - 1]) * (double(y[i]) + y[i - 1]) * 0.5;
    }
    return float(area);
}

// v_k = -sum_{j<=k} |F_j - F_{j-1}| per ranked region, then min-max over the ranked regions to [0, 1] (top
// region 1, last 0). Regions the log does not reach (a cancelled run) get 0: they were never ranked, so they
// must not outrank the last ranked region (their raw value 0 would be above every ranked one).
std::vector<float> add_value_regions(const std::vector<float> & objective, float f_empty, const std::vector<int32_t> & order,
                                     int32_t n_regions) {
    std::vector<float> value(n_regions, 0.0f);
    double cumulative = 0.0;
    float prev = f_empty;
    for (size_t k = 0; k < order.size() && k < objective.size(); ++k) {
        cumulative -= std::fabs(double(objective[k]) - prev);
        prev = objective[k];
        value[order[k]] = float(cumulative);
    }
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (size_t k = 0; k < order.size() && k < objective.size(); ++k) {
        lo = std::min(lo, value[order[k]]);
        hi = std::max(hi, value[order[k]]);
    }
    std::vector<float> out(n_regions, 0.0f);
    if (!(hi > lo)) {
        return out; // every gain after the first is zero: the ranking carries no magnitude
    }
    for (size_t k = 0; k < order.size() && k < objective.size(); ++k) {
        out[order[k]] = (value[order[k]] - lo) / (hi - lo);
    }
    return out;
}

std::vector<float> per_pixel(const std::vector<float> & region_value, const region_set & regions) {
    std::vector<float> map(regions.labels.size());
    for (size_t i = 0; i < map.size(); ++i) {
        map[i] = region_value.at(regions.labels[i]);
    }
    return map;
}

} // namespace

explanation explain(scorer & sc, const score_request & request, const region_set & regions, const explain_params & params,
                    const progress_callback & progress) {
    const int64_t t_start_us = detail::time_us();
    if (regions.n_regions < 1) {
        throw error(errc::invalid_argument, "explain: no regions to rank");
    }
    if (regions.nx != request.image.nx || regions.ny != request.image.ny) {
        throw error(errc::invalid_argument, "explain: regions are " + std::to_string(regions.nx) + "x" + std::to_string(regions.ny) +
                                                " but the image is " + std::to_string(request.image.nx) + "x" +
                                                std::to_string(request.image.ny));
    }
    if (params.max_regions < 0 || params.stop_fraction < 0.0f || params.lazy_epsilon < 0.0f) {
        throw error(errc::invalid_argument, "explain: budgets and epsilon must not be negative");
    }
    if (params.n_samples < 2) {
        throw error(errc::invalid_argument, "explain: n_samples must be >= 2, got " + std::to_string(params.n_samples));
    }
    if (params.search_scope < 1 || params.pending_samples < 1 || params.update_step < 1 || params.lazy_batch < 1) {
        throw error(errc::invalid_argument, "explain: search_scope, pending_samples, update_step and lazy_batch must be >= 1");
    }
    sc.prepare(request);
    const scorer_stats stats_before = sc.stats();
    const int32_t n = regions.n_regions;

    explanation ex;
    ex.n_regions = n;
    subset_evaluator eval(sc, regions, params);
    // the two ends: nothing visible (baseline) and everything visible (org); later steps hit the memo
    const subset_score empty = eval.evaluate_one(subset(n, 0));
    const subset_score full  = eval.evaluate_one(subset(n, 1));
    ex.org_score      = full.ins;
    ex.baseline_score = empty.ins;
    const float f_empty = empty.objective;

    search_log log(ex, regions);
    const budget limit{params, full.ins_mean};
    // the bidirectional search needs a middle region; with two or fewer it is the exact greedy anyway
    const search_mode mode = params.mode == search_mode::efficient && n <= 2 ? search_mode::exact : params.mode;
    const bool is_efficient = params.method == attribution_method::eagle && mode == search_mode::efficient;
    std::vector<float> saliency;
    if (params.method != attribution_method::eagle) {
        saliency = baseline_saliency(eval, params, n, full);
        std::vector<std::pair<int32_t, float>> values;
        for (int32_t i = 0; i < n; ++i) {
            values.emplace_back(i, saliency[i]);
        }
        append_along(log, eval, rank_by(values));
    } else {
        switch (mode) {
            case search_mode::exact:     search_exact(ex, log, eval, limit, progress, n); break;
            case search_mode::lazy:      search_lazy(ex, log, eval, limit, params, progress, n, f_empty); break;
            case search_mode::efficient: search_efficient(ex, eval, regions, params, progress, n, full, empty); break;
        }
    }
    if (ex.n_ranked == 0) {
        ex.n_ranked = int32_t(ex.order.size());
    }
    if (ex.is_complete && !is_efficient) {
        // the reference takes org/baseline from the last step (all regions): identical masks, same numbers
        ex.org_score      = ex.insertion_word_score.back();
        ex.baseline_score = ex.deletion_word_score.back();
    }
    // F(empty set); the efficient search's smdl ignores lambda (the reference recomputes it as ins + 1 - del)
    const float f_start = is_efficient ? empty.ins_mean + 1.0f - full.ins_mean : f_empty;
    float prev = f_start;
    for (float f : ex.smdl_score) {
        ex.marginal_gain.push_back(f - prev);
        prev = f;
    }

    ex.region_value = saliency.empty() ? add_value_regions(ex.smdl_score, f_start, ex.order, n) : min_max(saliency);
    const size_t n_targets = ex.org_score.size();
    ex.reliance.resize(n_targets);
    if (!ex.insertion_word_score.empty()) {
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        for (size_t t = 0; t < n_targets; ++t) {
            token_reliance & r = ex.reliance[t];
            r.p_black = ex.baseline_score[t];
            r.p_full  = ex.org_score[t];
            r.influence = influence_score(ex, int32_t(t));
            r.is_sensitive = r.p_full - r.p_black > sensitive_token_threshold;
            r.is_visual = r.influence >= visual_influence_threshold;
            lo = std::min(lo, r.influence);
            hi = std::max(hi, r.influence);
        }
        for (token_reliance & r : ex.reliance) {
            r.influence_normalized = hi > lo ? (r.influence - lo) / (hi - lo) : 0.0f;
        }
    }
    const scorer_stats stats_after = sc.stats();
    ex.n_evaluations = stats_after.n_evaluations - stats_before.n_evaluations;
    ex.n_memo_hits   = stats_after.n_memo_hits - stats_before.n_memo_hits;
    ex.t_search_us   = detail::time_us() - t_start_us;
    return ex;
}

float influence_score(const explanation & ex, int32_t i_target) {
    std::vector<float> x = {0.0f}, y = {ex.baseline_score.at(i_target)};
    for (size_t k = 0; k < ex.insertion_word_score.size(); ++k) {
        x.push_back(ex.region_area[k]);
        y.push_back(ex.insertion_word_score[k][i_target]);
    }
    return trapezoid(x, y) - *std::min_element(y.begin(), y.end());
}

std::vector<float> attribution_map(const explanation & ex, const region_set & regions) {
    if (int32_t(ex.region_value.size()) != regions.n_regions) {
        throw error(errc::invalid_argument, "attribution_map: explanation of " + std::to_string(ex.region_value.size()) +
                                                " regions for a set of " + std::to_string(regions.n_regions));
    }
    return per_pixel(ex.region_value, regions);
}

std::vector<float> token_attribution_map(const explanation & ex, const region_set & regions, int32_t i_target,
                                         float lambda1, float lambda2) {
    std::vector<float> objective;
    for (size_t k = 0; k < ex.insertion_word_score.size(); ++k) {
        objective.push_back(lambda1 * ex.insertion_word_score[k][i_target] + lambda2 * (1.0f - ex.deletion_word_score[k][i_target]));
    }
    const float f_empty = lambda1 * ex.baseline_score.at(i_target) + lambda2 * (1.0f - ex.org_score.at(i_target));
    return per_pixel(add_value_regions(objective, f_empty, ex.order, regions.n_regions), regions);
}

} // namespace eagle
