// eagle/explain.h - EAGLE explanations: rank image regions by how much they make the model say the target
// tokens (insight) and how much removing them makes it stop (necessity), then derive maps and the per-token
// reliance on the image (see ../shared/method/eagle-reference.md §2-§5).
//
//   eagle::region_set regions = eagle::make_slico_regions(image, 64);
//   eagle::explanation ex = eagle::explain(session, request, regions, {});   // session: any eagle::scorer
//   std::vector<float> map = eagle::attribution_map(ex);
//
// explain() only calls scorer.prepare() and scorer.score(); every candidate subset becomes two masks
// (insertion: the subset alone; deletion: the image without it), scored in batches.
// Thread safety: none needed; explain() uses the scorer it is given and nothing global.
#pragma once

#include "eagle/regions.h"
#include "eagle/scorer.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace eagle {

enum class search_mode {
    exact,     // the reference greedy: all remaining regions evaluated at every step, n(n+1) evaluations
    efficient, // the reference's bidirectional windowed greedy (explain_params::efficient)
    lazy,      // lazy greedy: stale gains as upper bounds, the top candidates re-evaluated until one is fresh
    shortlist, // every region screened once, then per step only a shortlist re-evaluated (explain_params::shortlist)
};
search_mode search_mode_from_string(const std::string & name); // throws errc::invalid_argument
const char * search_mode_name(search_mode mode);
std::vector<std::string> search_mode_names();                  // in the enum's order

// How regions are ranked. eagle is the method; the others are black-box baselines on the same scorer and
// output format (their curves are measured along their ranking, so every method is evaluated alike).
enum class attribution_method {
    eagle,      // greedy on insight + necessity (search_mode picks the search)
    random,     // a random order (seeded)
    occlusion,  // per-region leave-one-out: the drop of the mean target probability when it is removed
    rise,       // RISE: random region masks (keep probability 0.5), saliency = mask-weighted mean probability
    lime,       // LIME-style: weighted ridge regression of the probability on region indicators
};
attribution_method attribution_method_from_string(const std::string & name); // throws errc::invalid_argument
const char * attribution_method_name(attribution_method method);

// Nested per strategy (whisper_full_params.greedy / beam_search style): each search reads its own struct.
struct explain_params {
    float lambda1 = 1.0f;              // weight of insight (the region set alone keeps the tokens likely)
    float lambda2 = 1.0f;              // weight of necessity (removing it makes them unlikely)
    attribution_method method = attribution_method::eagle;
    // shortlist (two-sided by default): measured within 0.8% of the exact greedy's insertion AUC and, for captions,
    // 2.3% of its deletion AUC at 14-16% of its evaluations, less than half of the efficient search's; single words:
    // deletion AUC up to 1.20x exact's (efficient up to 1.33x), on four seeds' held-out scenes (BENCHMARKS.md, "Search")
    search_mode mode = search_mode::shortlist;

    // exact, lazy and one-sided shortlist search: the regions after the budget are ordered by their last known
    // gain, flagged unranked (explanation::n_ranked); the efficient and the two-sided shortlist search rank from
    // both ends and take no budget
    struct budget_params {
        int32_t max_regions   = 0;     // stop the search after this many regions (0 = rank all)
        float   stop_fraction = 0.0f;  // stop when the insertion score reaches this fraction of the
                                       // full-image score (0 = never)
    } budget;

    // lazy search
    struct lazy_params {
        int32_t batch   = 8;           // stale candidates re-evaluated per round (one scorer batch)
        float   epsilon = 0.0f;        // accept a fresh gain within epsilon of the best stale bound
    } lazy;

    // shortlist search: the first rescreen_first steps (step 0 at least) score every region, as exact does; each
    // later step re-evaluates only a shortlist: the n_top regions with the highest predicted gains and the
    // n_top_last_known with the highest last-known gains (predict_gains; without it the n_top highest last-known
    // gains), more rounds up to max_rounds while a stale gain beats the best fresh one by more than `tolerance`,
    // and, when the last chosen region moved the objective by at least `tolerance`, the regions touching it, whose
    // gains change most (parts of one object gain together). When every fresh gain is a loss larger than
    // rescreen_loss, the shortlist is stale: the remaining regions are re-evaluated at that step (rescreen_predicted
    // of them first; on the two-sided search's back side only with back_rescreen). Once the insertion and deletion
    // curves have covered `saturation` of their range (empty to full image), the rest is ordered by the last known
    // gain and flagged unranked.
    struct shortlist_params {
        // the defaults are the best of the settings measured against exact (BENCHMARKS.md, "Search"); the
        // one-sided search measured there is two_sided = false, max_rounds = 2, stall_room = 0
        int32_t n_top          = 1;     // stale candidates re-evaluated per round (one scorer batch)
        bool    predict_gains  = true;  // rank stale candidates by the gain their last measurement predicts now: each
                                        // target's log-odds on it moved by what the base's moved since (exact when
                                        // regions add to the log-odds; no evaluation); false: by the last-known gain
        int32_t n_top_last_known = 1;   // >= 0, with predict_gains: also re-evaluate this many of the highest
                                        // last-known gains (exact where gains add up in probability instead)
        int32_t max_rounds     = 1;     // rounds per step (0 = until no stale gain beats the best fresh: lazy)
        bool    use_neighbours = true;  // also re-evaluate the regions adjacent to the last chosen one
        int32_t max_neighbours = 0;     // >= 0: of those, at most this many, the highest (predicted) gains first (0 = all)
        float   tolerance      = 1e-3f; // >= 0: gains closer than this count as equal (rounds, neighbours)
        float   rescreen_loss  = 0.01f; // >= 0: re-evaluate all when the best fresh gain is below -rescreen_loss (0 = never)
        int32_t rescreen_predicted = 8; // >= 0: such a re-evaluation (a loss, or a stall below) first scores this
                                        // many regions, the highest (predicted) gains, and the rest only when none of
                                        // them ends the loss or the stall (0 = all at once)
        int32_t rescreen_every = 0;     // every k steps re-evaluate all remaining regions (0 = never)
        int32_t rescreen_first = 1;     // >= 1: the first k steps re-evaluate all remaining regions, as exact does
                                        // (the deletion curve is decided by the first regions)
        float   saturation     = 1.0f;  // in (0, 1]; 1 = rank every region by the search
        float   stall_room     = 0.25f;  // >= 0: re-evaluate all when no shortlisted region gains (< tolerance) while F
                                        // is still below F(all regions) by more than this share of F's range (0 = off)
        bool    stall_backoff  = true;  // after k such re-screens in a row that found no gain either (a plateau), the
                                        // next waits 2^(k-1) - 1 steps; one that finds a gain resets the count. Under
                                        // the prior_margin rule, where all gains are tiny: one that kept the choice
        bool    back_neighbours = false; // two-sided: the back side also re-evaluates its last choice's neighbours
        bool    back_rescreen  = true;  // two-sided: the back side also re-evaluates all on a loss (rescreen_loss). Off
                                        // saves 12-20% of a caption's evaluations, but on fresh scenes loses deletion
                                        // at caption and word level: those re-screens keep object parts apart
                                        // (BENCHMARKS.md, "Search")
        bool    back_loss_predicted = true; // two-sided, with predict_gains: the back side's loss (rescreen_loss) is
                                        // measured against the best gain predicted before the step, not the best
                                        // last-known one, which drifts as the back's necessity images grow (most of
                                        // those losses were drift; BENCHMARKS.md, "Search")
        float   prior_margin   = 0.1f;  // >= 0, two-sided: when the black image gives the targets a mean probability
                                        // within this of the full image's (the language prior says them), the back
                                        // side's removals cannot be told apart: the front alone orders every region,
                                        // and its stall rule asks instead whether the image without its regions
                                        // still gives the targets more than half of the full image's probability
                                        // (0 = off)
        float   one_mask_margin = 1e-3f; // in [0, 1): score one mask per candidate when the other cannot raise F by
                                        // more than this: with the base's insertion probability within it of 1, a
                                        // candidate's insight can gain at most that, so only its deletion mask is
                                        // scored (its insertion taken as the base's), and with the base's deletion
                                        // probability within it of 0, only its insertion mask. The best candidate's
                                        // other mask is then scored, and the next best's while that changes the order,
                                        // so the chosen region's record is measured (0 = off: two masks per candidate)
        bool    two_sided      = true;  // grow the order from both ends, as the efficient search does: the front
                                        // on insertion images, the back removed from the full image, each side by
                                        // the rule above (no budget, no saturation)
    } shortlist;

    // efficient search (the reference's defaults)
    struct efficient_params {
        int32_t search_scope    = 10;  // candidates evaluated between full re-sorts (the window's size)
        int32_t pending_samples = 8;   // removal candidates at the back per step
        int32_t update_step     = 5;   // a full re-sort every update_step steps
    } efficient;

    // the sampling baselines (random, rise, lime)
    struct sampling_params {
        uint64_t seed      = 1;        // random, rise, lime
        int32_t  n_samples = 256;      // rise, lime: masked images sampled
    } sampling;
};

// Throws errc::invalid_argument naming the first bad value, e.g. "explain: lambda1 must be finite and >= 0,
// got nan". The rules: lambda1, lambda2 finite and >= 0, not both 0; budget.max_regions >= 0;
// budget.stop_fraction finite in [0, 1]; lazy.batch >= 1; lazy.epsilon finite and >= 0; efficient.* >= 1;
// sampling.n_samples >= 2 (LIME's regression needs two samples); shortlist.* as commented there; no budget with the
// efficient or the two-sided shortlist search, and no shortlist.saturation < 1 with the latter (they rank from both
// ends of the order, so "the first k regions" is not what they build). explain() and run_explanation() call it
// first; front ends may call it to reject a request before loading anything.
void check_explain_params(const explain_params & params);

// A method by the name the CLI and the benchmarks use: every attribution_method, plus EAGLE's one-sided
// ablations, which are EAGLE with one term switched off: "insight-only" (lambda2 = 0) and "necessity-only"
// (lambda1 = 0). The one table of method names.
std::vector<std::string> method_names();

// Sets params.method from a method_names() name; an ablation also zeroes its switched-off lambda (the other
// lambda is left as it is). Throws errc::invalid_argument naming the value and the valid names.
void set_method(explain_params & params, const std::string & name);

// Per-target: does the token come from the image or from the language prior? (§4.2, §5)
struct token_reliance {
    float p_black = 0.0f;              // probability with every region removed (language prior alone)
    float p_full  = 0.0f;              // probability on the whole image
    float influence = 0.0f;            // I_t = AUC of its insertion curve - the curve's minimum
    float influence_normalized = 0.0f; // min-max over the targets of this explanation
    bool is_sensitive = false;         // p_full - p_black > 0.2 (the reference's sensitive token)
    bool is_visual = false;            // verdict: influence >= visual_influence_threshold
};
inline constexpr float visual_influence_threshold = 0.2f;
inline constexpr float sensitive_token_threshold  = 0.2f;

using progress_callback = std::function<bool(int32_t n_done, int32_t n_total)>; // false = cancel

struct explanation {
    int32_t n_regions = 0;
    std::vector<int32_t> order;                // region ids, most important first (all n_regions; only
                                               // the ranked ones when cancelled)
    int32_t n_ranked = 0;                      // order[0, n_ranked) came from the search; the rest from
                                               // a cheap criterion (a budget stopped the search)
    // the reference's log: entry k = the first k+1 regions of `order` visible
    std::vector<float> insertion_score;        // mean over targets of p(x with only those regions)
    std::vector<float> deletion_score;         // mean over targets of p(x without those regions)
    std::vector<float> smdl_score;             // objective F
    std::vector<float> region_area;            // pixel-area fraction visible
    std::vector<std::vector<float>> insertion_word_score; // [k][target]
    std::vector<std::vector<float>> deletion_word_score;
    std::vector<float> org_score;              // per target, full image
    std::vector<float> baseline_score;         // per target, every region removed
    std::vector<float> marginal_gain;          // F_k - F_{k-1}, F_0 = F(empty set)
    std::vector<float> region_value;           // per region id, in [0, 1]: the attribution map's value
                                               // (EAGLE: the reference's add_value; baselines: their saliency);
                                               // a cancelled run's unranked regions get 0, the lowest
    std::vector<token_reliance> reliance;      // per target
    bool is_complete = true;                   // false: cancelled through the progress callback
    int64_t n_evaluations = 0;                 // masked images the model scored for this explanation
    int64_t n_memo_hits   = 0;
    int64_t t_search_us   = 0;
};

// Runs the search. The request must be prepared-able by the scorer (image, prompt, answer, targets).
// Throws errc::invalid_argument for fewer than 1 region, regions that do not have one part per image of the
// request (each that image's size), or params that check_explain_params rejects.
explanation explain(scorer & scorer, const score_request & request, const region_set & regions,
                    const explain_params & params, const progress_callback & progress = {});

// The attribution map per pixel: region_value of the pixel's region. For EAGLE that is the reference's
// add_value: region ranked k gets sum_{j>k} |dF_j| / sum_{j>=2} |dF_j| (top region 1, last 0).
std::vector<float> attribution_map(const explanation & ex, const region_set & regions);

// One target's share of the gains along the SENTENCE ranking: add_value of F restricted to target i_target
// (with these lambdas), measured along ex.order. It is not a per-token attribution: the region order is the
// sentence's (the value never increases along ex.order, so the sentence's top region is always this map's top
// region, whatever the token); the token only changes the spacing of the values. Values in [0, 1]; a cancelled
// run's unranked regions get 0. The reference has no per-token map; a word's own map is a separate
// explanation with that one target.
std::vector<float> token_gain_map(const explanation & ex, const region_set & regions, int32_t i_target,
                                  float lambda1 = 1.0f, float lambda2 = 1.0f);
// The old name of token_gain_map, kept so callers can move over; it is the same function.
inline std::vector<float> token_attribution_map(const explanation & ex, const region_set & regions, int32_t i_target,
                                                float lambda1 = 1.0f, float lambda2 = 1.0f) {
    return token_gain_map(ex, regions, i_target, lambda1, lambda2);
}

// I_t = trapezoid AUC of [p_black] + insertion_word_score[:, t] over [0] + region_area, minus its minimum
float influence_score(const explanation & ex, int32_t i_target);

} // namespace eagle
