// EAGLE's greedy searches over region subsets (../shared/method/eagle-reference.md §2.3, §3.1): the reference
// greedy (exact), the lazy greedy, and the reference's bidirectional windowed search (efficient). Each round
// of a search goes to the scorer as one batch.
#include "search-internal.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace eagle::detail {

namespace {


// After a budget stop: order the rest by their last known objective and measure the prefixes along that
// order, so the curves still end at the full image.
void complete_unranked(explanation & ex, search_log & log, subset_evaluator & eval,
                       const std::vector<std::pair<int32_t, float>> & rest) {
    ex.n_ranked = log.n_selected();
    append_along(log, eval, rank_by(rest));
}

} // namespace

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
                 const explain_params::lazy_params & params, const progress_callback & progress, int32_t n,
                 float f_empty) {
    std::vector<float> bound(n, std::numeric_limits<float>::infinity());
    std::vector<int32_t> fresh_at(n, -1);         // step at which bound[u] was computed
    std::vector<subset_score> fresh_score(n);     // the score behind a fresh bound
    float f_current = f_empty;
    const int32_t n_batch = std::max(1, params.batch);
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
                const bool blocks = best < 0 || bound[u] > bound[best] + params.epsilon ||
                                    (params.epsilon == 0.0f && bound[u] == bound[best] && u < best);
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
                      const explain_params::efficient_params & params, const progress_callback & progress, int32_t n,
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
    if (!ex.is_complete) {
        // cancelled: the negatives' records still show the regions neither list took, so they are not prefixes of
        // a partial order; the ranking is the positive list alone (the rest unranked)
        order_neg.clear();
        log_neg.clear();
        area_neg.clear();
    }
    // S = positives ++ [last] ++ reversed negatives; curves: positives ++ reversed negatives ++ [full image]
    ex.order = order_pos;
    ex.order.insert(ex.order.end(), order_neg.rbegin(), order_neg.rend());
    auto push = [&](const subset_score & s, float area) {
        push_curves(ex, s);
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

} // namespace eagle::detail
