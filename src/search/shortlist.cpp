// The shortlist search (explain_params::shortlist): the exact greedy's first step, then per step only a
// shortlist of candidates re-evaluated, and the flat tail of the curves ordered without a search.
// Why these candidates: exact greedy re-evaluates every remaining region at every step, but on EAGLE's
// objective most gains barely move from one step to the next (background regions stay near zero). What moves
// are (a) the regions whose last-known gains are highest (the contenders) and (b) the regions next to the one
// just chosen: a superpixel rarely covers a whole object, and the other parts of an object gain together once
// one part is visible or removed (the objective is not submodular there, so a stale gain under-estimates
// them, which is where the lazy greedy loses). The flat tail: once both curves have covered nearly all of
// their range, the order of the rest hardly changes either AUC.
// Which stale candidates count as contenders (predict_gains): not by the gain last measured, but by the gain that
// measurement predicts now. A VLM's evidence adds up in log-odds, not in probability: the second part of an
// object moves a word little while the first is missing and a lot once it is there, and nothing once the word is
// certain. So each target's log-odds on the candidate's image, as last measured, is moved by as much as the
// base's log-odds moved since; the prediction is exact when every region adds a fixed amount to each target's
// log-odds, and it costs no evaluation.
// One mask per candidate (one_mask_margin): once the image a side has built gives the targets nearly 1 on its
// insertion image (or nearly 0 on its deletion image), no candidate can gain more than that on the saturated half,
// so a candidate costs one mask instead of two until it is the best one, whose other mask is then measured.
#include "search-internal.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>

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

// log-odds of a probability, kept finite (a probability of 0 or 1 in float32 is a rounded one)
float log_odds(float p) {
    p = std::min(std::max(p, 1e-6f), 1.0f - 1e-6f);
    return std::log(p / (1.0f - p));
}

float from_log_odds(float l) { return 1.0f / (1.0f + std::exp(-l)); }

} // namespace

namespace {

// One end of the ranking grown by the shortlist rule. `toward_full` = true: regions are added to an empty
// image (the front of the order, exact's direction); false: removed from the full image (the back of the order,
// the reference's negative list), where the objective of a candidate is F of what stays visible, so the region
// chosen is the one whose removal hurts F least. The other side's regions are taken out of `open`.
class shortlist_side {
public:
    shortlist_side(subset_evaluator & eval, const std::vector<std::vector<int32_t>> & adjacent, const explain_params & params,
                   int32_t n, bool toward_full, const subset_score & start, float f_full = 0.0f)
        : eval_(eval), adjacent_(adjacent), params_(params.shortlist), lambda1_(params.lambda1), lambda2_(params.lambda2),
          toward_full_(toward_full), f_full_(f_full), f_start_(start.objective), base_(n, toward_full ? 0 : 1),
          gain_(n, std::numeric_limits<float>::infinity()), fresh_at_(n, -1), fresh_score_(n), assumed_(n, half::none),
          f_current_(start.objective),
          current_(start), before_last_(start) {}

    // the subset a candidate region leads to
    subset candidate(int32_t u) const {
        subset s = base_;
        s[u] = toward_full_ ? 1 : 0;
        return s;
    }
    // scores every region in `regions_to_score` at `step` (one scorer batch): both masks of each, or only the one
    // whose half of F can still move (one_mask_margin), the other half taken as the base's
    void evaluate_now(const std::vector<int32_t> & regions_to_score, int32_t step) {
        if (regions_to_score.empty()) return;
        std::vector<subset> candidates;
        for (int32_t u : regions_to_score) {
            candidates.push_back(candidate(u));
        }
        const half bounded = bounded_half();
        if (bounded == half::none) {
            take_scores(regions_to_score, eval_.evaluate(candidates), step);
            return;
        }
        // the first region (the best expected: the shortlist's top, a re-screen's best predicted) on both masks: it is
        // chosen most often, and then needs no second batch for its other mask (verified_best)
        take_scores(regions_to_score, eval_.evaluate_one_mask(candidates, bounded == half::insertion, current_, 1), step);
        for (size_t i = 1; i < regions_to_score.size(); ++i) assumed_[regions_to_score[i]] = bounded;
    }
    // scores already measured (the two sides' first screening shares its masks)
    void take_scores(const std::vector<int32_t> & regions, const std::vector<subset_score> & scores, int32_t step) {
        begin_step(step);
        for (size_t i = 0; i < regions.size(); ++i) {
            gain_[regions[i]] = scores[i].objective - f_current_;
            fresh_at_[regions[i]] = step;
            fresh_score_[regions[i]] = scores[i];
            assumed_[regions[i]] = half::none;
        }
    }

    // One step among the `open` regions: the shortlist, further rounds, the re-screen on a loss; returns the chosen
    // region (not yet taken).
    int32_t choose(const std::vector<int32_t> & open, int32_t step, bool rescreen) {
        begin_step(step);
        // the back side's best gain expected before this step's evaluations (its loss rule below): last-known, or
        // predicted (back_loss_predicted)
        const bool expect_predicted = params_.predict_gains && params_.back_loss_predicted;
        float best_known = -std::numeric_limits<float>::infinity();
        if (!toward_full_) {
            for (int32_t u : open) best_known = std::max(best_known, expect_predicted ? contender_gain(u) : gain_[u]);
        }
        if (rescreen) {
            evaluate_now(stale_at(open, step), step);
        } else {
            // the contenders by (predicted) gain (the lower id on ties) and, with predicted gains, the
            // n_top_last_known best by last-known gain too (exact where gains add up in probability, not in
            // log-odds), then the last choice's neighbours (at most max_neighbours of them, the highest (predicted)
            // gains)
            std::vector<int32_t> first_round = top_by(open, everyone, ranked_by::expected, n_top());
            if (params_.predict_gains) {
                for (int32_t u : top_by(open, everyone, ranked_by::last_known, params_.n_top_last_known)) {
                    if (std::find(first_round.begin(), first_round.end(), u) == first_round.end()) first_round.push_back(u);
                }
            }
            const bool moved = last_chosen_ >= 0 && last_choice_moved();
            const bool neighbours = params_.use_neighbours && (toward_full_ || params_.back_neighbours);
            std::vector<std::pair<int32_t, float>> touching; // open, not shortlisted already
            for (int32_t v : moved && neighbours ? adjacent_[last_chosen_] : std::vector<int32_t>{}) {
                if (std::find(open.begin(), open.end(), v) != open.end() &&
                    std::find(first_round.begin(), first_round.end(), v) == first_round.end()) {
                    touching.emplace_back(v, contender_gain(v));
                }
            }
            if (params_.max_neighbours > 0 && touching.size() > size_t(params_.max_neighbours)) {
                std::vector<int32_t> kept = rank_by(touching); // the highest (predicted) gains, kept in adjacency order
                kept.resize(size_t(params_.max_neighbours));
                std::erase_if(touching, [&](const auto & t) { return std::find(kept.begin(), kept.end(), t.first) == kept.end(); });
            }
            for (const auto & t : touching) first_round.push_back(t.first);
            evaluate_now(first_round, step);
        }
        // further rounds (lazy's rule, capped): the stale candidates whose (predicted) gain beats the best fresh one
        for (int32_t round = 1; params_.max_rounds == 0 || round < params_.max_rounds; ++round) {
            const int32_t best = verified_best(open, step);
            const std::vector<int32_t> next = top_by(open, [&](int32_t u) {
                const float g = contender_gain(u);
                const bool beats = params_.tolerance > 0.0f ? g > gain_[best] + params_.tolerance
                                                            : g > gain_[best] || (g == gain_[best] && u < best);
                return fresh_at_[u] != step && beats;
            }, ranked_by::expected, n_top());
            if (next.empty()) break;
            evaluate_now(next, step);
        }
        int32_t chosen = verified_best(open, step);
        if (toward_full_ && stalled(gain_[chosen]) && step >= next_stall_step_) {
            // nothing on the shortlist gains although F is still far from F(all regions): the region that
            // completes a removal (a word's object in several parts) has a stale gain near zero; look at all
            const int32_t shortlisted = chosen;
            rescreen_open(open, step, [&](int32_t u) { return gain_[u] >= params_.tolerance; });
            chosen = verified_best(open, step);
            // nothing gained after all: a plateau, where no single region moves F (a caption whose objects are all
            // visible, F crawling toward F(all)); re-screening it every step is exact greedy's cost. After the k-th
            // such re-screen in a row the next one waits 2^(k-1) - 1 steps (0, 1, 3, 7, ...): the second in a
            // row still comes at once (a word's object in three parts needs two fruitless-looking steps), until
            // one finds a gain again.
            // When the language prior says the targets (stall_while_deletion_above) every gain is below the
            // tolerance by nature, and exact's choices among them are what take the deletion image down: there a
            // re-screen is fruitless only if it kept the shortlist's choice (BENCHMARKS.md, "Search")
            const bool fruitless = under_prior() ? chosen == shortlisted : gain_[chosen] < params_.tolerance;
            if (params_.stall_backoff && fruitless) {
                next_stall_step_ = step + (1 << std::min(n_fruitless_stalls_, 16));
                ++n_fruitless_stalls_;
            } else {
                next_stall_step_ = 0;
                n_fruitless_stalls_ = 0;
            }
        }
        // toward the full image: every candidate loses; from the full image, where every removal loses, every
        // candidate lost more than the last-known (or predicted) gains said: the shortlist no longer says which
        // region to take.
        // The back side does this only with back_rescreen (on by default): its stale gains drift as its necessity
        // images grow, so a loss often means drift, not a missed region, but at word level these re-screens find
        // the object part whose removal matters only after its neighbour's
        const float expected = toward_full_ ? 0.0f : best_known;
        const bool rescreen_on_loss = params_.rescreen_loss > 0.0f && (toward_full_ || params_.back_rescreen);
        if (rescreen_on_loss && gain_[chosen] < expected - params_.rescreen_loss) {
            rescreen_open(open, step, [&](int32_t u) { return gain_[u] >= expected - params_.rescreen_loss; });
            chosen = verified_best(open, step);
        }
        return chosen;
    }

    void take(int32_t u) {
        base_[u] = toward_full_ ? 1 : 0;
        before_last_ = current_;
        current_ = fresh_score_[u];
        f_current_ = current_.objective;
        last_chosen_ = u;
    }

    // The language prior says the targets (shortlist_params::prior_margin): F's range, empty to full image, is
    // about nil, so "F still far below F(all)" never calls a stall; stall instead while the image without the
    // chosen regions still gives the targets more than `p` (the part that completes a removal is then missing).
    void stall_while_deletion_above(float p) { stall_deletion_above_ = p; }

    const subset_score & score_of(int32_t u) const { return fresh_score_[u]; }
    float gain_of(int32_t u) const { return gain_[u]; }
    const subset & base() const { return base_; }

private:
    // which half of a fresh score was not measured but taken as the base's (one_mask_margin)
    enum class half : uint8_t { none, insertion, deletion };

    // The half of F that no candidate can move up by more than one_mask_margin at the current base: a candidate's
    // insertion probability is at most 1 and its deletion probability at least 0 (on either side), so with the base's
    // means that close to their bounds, that half's gain is at most lambda * (distance to the bound), whatever the
    // region. Its loss has no such bound (verified_best).
    half bounded_half() const {
        const float margin = params_.one_mask_margin;
        if (margin <= 0.0f) return half::none;
        if (lambda1_ * (1.0f - current_.ins_mean) <= margin) return half::insertion;
        if (lambda2_ * current_.del_mean <= margin) return half::deletion;
        return half::none;
    }

    // The open region with the best gain measured at this step, both its masks measured. A gain measured on one mask
    // bounds the other half's gain, not its loss (a region can hide the targets' evidence when it is added), so the
    // best one's assumed half is measured (one mask), and again for the next best while that changes the order: the
    // region returned is a record of the curves, and no other's gain beats it by more than the margin.
    int32_t verified_best(const std::vector<int32_t> & open, int32_t step) {
        for (;;) {
            const int32_t u = best_fresh(open, step);
            if (u < 0 || assumed_[u] == half::none) return u;
            const bool deletion = assumed_[u] == half::deletion;
            fresh_score_[u] = eval_.evaluate_one_mask({candidate(u)}, deletion, fresh_score_[u]).front();
            gain_[u] = fresh_score_[u].objective - f_current_;
            assumed_[u] = half::none;
        }
    }

    // The gain region u is expected to have at this step: fresh, the measured one; stale, with predict_gains, the
    // gain its last measurement predicts at the current base (file comment), else the last-known gain.
    float contender_gain(int32_t u) const {
        if (!params_.predict_gains || fresh_at_[u] < 0 || fresh_at_[u] == step_) return gain_[u];
        const subset_score & then = fresh_score_[u];
        const subset_score & base_then = base_at_step_[size_t(fresh_at_[u])];
        double f = 0.0;
        for (size_t t = 0; t < then.ins.size(); ++t) {
            const float ins = from_log_odds(log_odds(then.ins[t]) + log_odds(current_.ins[t]) - log_odds(base_then.ins[t]));
            const float del = from_log_odds(log_odds(then.del[t]) + log_odds(current_.del[t]) - log_odds(base_then.del[t]));
            f += lambda1_ * ins + lambda2_ * (1.0 - del);
        }
        return float(f / double(then.ins.size())) - f_current_;
    }

    // stall_while_deletion_above was called: the language prior says the targets
    bool under_prior() const { return stall_deletion_above_ >= 0.0f; }

    // the base's scores are what this step's candidates are measured against (contender_gain)
    void begin_step(int32_t step) {
        step_ = step;
        if (base_at_step_.size() <= size_t(step)) base_at_step_.resize(size_t(step) + 1);
        base_at_step_[size_t(step)] = current_;
    }

    std::vector<int32_t> stale_at(const std::vector<int32_t> & open, int32_t step) const {
        std::vector<int32_t> stale;
        for (int32_t u : open) {
            if (fresh_at_[u] != step) stale.push_back(u);
        }
        return stale;
    }

    // A re-screen: every open region not measured at this step. With rescreen_predicted = m, first the m with the
    // highest (predicted) gains, and the others only when none of those is `enough` (what the re-screen looks for:
    // a gain at a stall, no loss after a loss).
    template <typename Enough>
    void rescreen_open(const std::vector<int32_t> & open, int32_t step, Enough enough) {
        std::vector<int32_t> rest = stale_at(open, step);
        const size_t m = size_t(params_.rescreen_predicted);
        if (m > 0 && rest.size() > m) {
            rest = top_by(rest, everyone, ranked_by::expected, int32_t(rest.size())); // all of them, best first
            const std::vector<int32_t> first(rest.begin(), rest.begin() + std::ptrdiff_t(m));
            evaluate_now(first, step);
            if (enough(verified_best(open, step))) return; // the best fresh gain: no other is enough if it is not
            rest.erase(rest.begin(), rest.begin() + std::ptrdiff_t(m));
        }
        evaluate_now(rest, step);
    }

    bool stalled(float best_gain) const {
        if (params_.stall_room <= 0.0f || best_gain >= params_.tolerance) return false;
        if (under_prior() && current_.del_mean > stall_deletion_above_) return true;
        const float span = std::fabs(f_full_ - f_start_);
        return span > 0.0f && f_full_ - f_current_ > params_.stall_room * span;
    }

    // Did the last choice move the objective by at least `tolerance` (its neighbours' gains then change most)?
    bool last_choice_moved() const { return std::fabs(current_.objective - before_last_.objective) >= params_.tolerance; }

    int32_t best_fresh(const std::vector<int32_t> & open, int32_t step) const {
        int32_t best = -1;
        for (int32_t u : open) {
            if (fresh_at_[u] == step && (best < 0 || gain_[u] > gain_[best])) best = u;
        }
        return best;
    }
    // what stale candidates are ranked by: the gain expected now (contender_gain) or the last-known one
    enum class ranked_by { expected, last_known };

    int32_t n_top() const { return std::max(1, params_.n_top); } // stale candidates per round
    static bool everyone(int32_t) { return true; }                 // top_by's `keep` for every region given
    // the `n` regions of `open` that `keep` accepts with the highest gains of the kind `by` (the lower id on ties)
    template <typename Pred>
    std::vector<int32_t> top_by(const std::vector<int32_t> & open, Pred keep, ranked_by by, int32_t n) const {
        std::vector<std::pair<int32_t, float>> known;
        for (int32_t u : open) {
            if (keep(u)) known.emplace_back(u, by == ranked_by::expected ? contender_gain(u) : gain_[u]);
        }
        std::vector<int32_t> top = rank_by(known);
        top.resize(std::min(top.size(), size_t(std::max(0, n))));
        return top;
    }

    subset_evaluator & eval_;
    const std::vector<std::vector<int32_t>> & adjacent_;
    const explain_params::shortlist_params & params_;
    float lambda1_, lambda2_;              // F's weights, for predicted gains
    bool toward_full_;
    float f_full_;                         // F(all regions): what the front side grows toward
    float f_start_;                        // F of the side's starting image
    subset base_;
    std::vector<float> gain_;              // F(candidate) - F(base) at the step of fresh_at
    std::vector<int32_t> fresh_at_;
    std::vector<subset_score> fresh_score_;
    std::vector<half> assumed_;            // per region: the half of fresh_score_ taken as the base's, not measured
    float f_current_;
    subset_score current_, before_last_;   // the base's scores now and before the last choice
    int32_t last_chosen_ = -1;
    int32_t next_stall_step_ = 0;          // stall_backoff: no stall re-screen before this step
    int32_t n_fruitless_stalls_ = 0;       // stall re-screens in a row that found no gain
    float stall_deletion_above_ = -1.0f;   // < 0: off (stall_while_deletion_above)
    int32_t step_ = -1;                    // the step being chosen
    std::vector<subset_score> base_at_step_; // the base's scores at each step (contender_gain)
};

// The regions neither side has taken.
std::vector<int32_t> open_regions(const subset & taken) {
    std::vector<int32_t> out;
    for (int32_t i = 0; i < int32_t(taken.size()); ++i) {
        if (!taken[i]) out.push_back(i);
    }
    return out;
}

// From both ends (shortlist_params::two_sided): the efficient search's shape (a front list grown on insertion
// images, a back list removed from the full image, until they meet) with the shortlist's rule on each side.
// The first screening serves both sides: the insertion image of region u alone is the deletion image of
// "everything but u" and the other way round.
void search_two_sided(explanation & ex, subset_evaluator & eval, const std::vector<std::vector<int32_t>> & adjacent,
                      const explain_params & params, const progress_callback & progress, int32_t n,
                      const subset_score & full, const subset_score & empty) {
    shortlist_side front(eval, adjacent, params, n, true, empty, full.objective);
    shortlist_side back(eval, adjacent, params, n, false, full);
    std::vector<int32_t> all(n);
    std::iota(all.begin(), all.end(), 0);
    {
        std::vector<subset> singles;
        for (int32_t u : all) singles.push_back(front.candidate(u));
        const std::vector<subset_score> scores = eval.evaluate(singles);
        std::vector<subset_score> swapped; // region u removed from the full image: the same two masks, swapped
        for (const subset_score & one : scores) {
            swapped.push_back(make_subset_score(one.del, one.ins, params));
        }
        front.take_scores(all, scores, 0);
        back.take_scores(all, swapped, 0);
    }
    // The black image gives the targets about what the full image does: the language prior says them (a word the
    // answer's prefix predicts). Every removal from the full image then leaves an image that says them and a
    // deletion image (the removed regions alone, nearly black) that says them too, so the back side's gains are
    // ties and its choices arbitrary, yet they decide the deletion curve's second half: it stays at the prior
    // unless the regions kept visible longest are the counter-evidence (the other objects), which only a front
    // grown on necessity finds. The front orders every region then, as exact does (BENCHMARKS.md, "Search").
    const bool prior_says = params.shortlist.prior_margin > 0.0f &&
                            std::fabs(full.ins_mean - empty.ins_mean) < params.shortlist.prior_margin;
    if (prior_says) front.stall_while_deletion_above(0.5f * full.ins_mean);
    subset taken(n, 0);
    std::vector<int32_t> order_front, order_back;
    std::vector<subset_score> log_front, log_back;
    // one side's step among the open regions; false when the progress callback cancels
    const auto step_side = [&](shortlist_side & side, int32_t step, bool rescreen, std::vector<int32_t> & order,
                               std::vector<subset_score> & records) {
        const int32_t u = side.choose(open_regions(taken), step, rescreen);
        side.take(u);
        taken[u] = 1;
        order.push_back(u);
        records.push_back(side.score_of(u));
        return !progress || progress(int32_t(order_front.size() + order_back.size()), n);
    };
    for (int32_t step = 0;; ++step) {
        const std::vector<int32_t> open = open_regions(taken);
        if (open.size() <= 1) {
            if (open.size() == 1) order_front.push_back(open.front()); // its prefix is the back list's last record
            break;
        }
        // step 0 re-screens nothing: the shared screening above made every gain fresh
        const bool rescreen = step == 0 || (step < params.shortlist.rescreen_first ||
                                           (params.shortlist.rescreen_every > 0 && step % params.shortlist.rescreen_every == 0));
        if (!step_side(front, step, rescreen, order_front, log_front) ||
            (!prior_says && open.size() > 2 && !step_side(back, step, rescreen, order_back, log_back))) {
            ex.is_complete = false;
            break;
        }
    }
    if (!ex.is_complete) {
        // cancelled: the back's records are images that still show the regions neither side took, so they are not
        // prefixes of a partial order; the ranking is the front alone (the rest unranked)
        order_back.clear();
        log_back.clear();
    }
    // order = front ++ reversed back; entry k of the curves is the prefix of k + 1 regions: the front's records,
    // then the back's (each one the image without the regions removed so far), then the full image
    ex.order = order_front;
    ex.order.insert(ex.order.end(), order_back.rbegin(), order_back.rend());
    auto push = [&](const subset_score & s) {
        push_curves(ex, s);
        ex.smdl_score.push_back(s.objective);
    };
    for (const subset_score & s : log_front) push(s);
    for (size_t i = log_back.size(); i-- > 0;) push(log_back[i]);
    if (ex.is_complete) push(full);
    ex.n_ranked = int32_t(ex.order.size());
}

} // namespace

void search_shortlist(explanation & ex, search_log & log, subset_evaluator & eval, const region_set & regions,
                      const budget & limit, const explain_params & all_params,
                      const progress_callback & progress, int32_t n, const subset_score & full, const subset_score & empty) {
    const explain_params::shortlist_params & params = all_params.shortlist;
    const std::vector<std::vector<int32_t>> adjacent =
        params.use_neighbours ? region_adjacency(regions) : std::vector<std::vector<int32_t>>(n);
    if (params.two_sided) {
        search_two_sided(ex, eval, adjacent, all_params, progress, n, full, empty);
        subset visible(n, 0);
        for (int32_t u : ex.order) {
            visible[u] = 1;
            ex.region_area.push_back(float(regions.area_fraction(visible)));
        }
        ex.region_area.resize(ex.insertion_score.size());
        return;
    }
    shortlist_side side(eval, adjacent, all_params, n, true, empty, full.objective);
    const auto order_rest_by_gain = [&] {
        std::vector<std::pair<int32_t, float>> rest;
        for (int32_t u : log.remaining()) {
            rest.emplace_back(u, side.gain_of(u));
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
        const int32_t chosen = side.choose(remaining, step, rescreen);
        log.append(chosen, side.score_of(chosen));
        side.take(chosen);
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
