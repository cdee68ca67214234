// The searches, maps and outputs on analytic scorers (no model): rankings against hand computation and the
// reference greedy's recorded behaviour, lazy vs exact, partitions, map monotonicity, the JSON schema.
#include "eagle/error.h"
#include "eagle/explain.h"
#include "eagle/report.h"
#include "mock-scorer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <tuple>
#include <utility>

using eagle::testing::analytic_scorer;
using eagle::testing::dummy_request;

namespace {

// additive: p = sum_i w_i * kept_i; F(S) = 2 * sum_{i in S} w_i + 1 - W, so greedy = descending weights
analytic_scorer additive_scorer(const eagle::region_set & regions, std::vector<double> w) {
    return analytic_scorer(regions, 1, [w](int32_t, const std::vector<double> & kept) {
        double p = 0;
        for (size_t i = 0; i < w.size(); ++i) p += w[i] * kept[i];
        return float(p);
    });
}

eagle::explain_params with_mode(eagle::search_mode mode) {
    eagle::explain_params p;
    p.mode = mode;
    return p;
}

// the one-sided shortlist search as BENCHMARKS.md measured it (before the two-sided one became the default)
eagle::explain_params one_sided_shortlist() {
    eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
    p.shortlist.two_sided = false;
    p.shortlist.n_top = 2;
    p.shortlist.predict_gains = false; // last-known gains, all re-screens at once
    p.shortlist.rescreen_predicted = 0;
    p.shortlist.max_rounds = 2;
    p.shortlist.stall_room = 0.0f;
    return p;
}

// 64 grid regions (8 x 8) in pairs (i, i + 1) that count only together, later pairs more, plus a faint
// per-region term; each region's partner is its grid neighbour
analytic_scorer pairs_scorer(const eagle::region_set & regions) {
    return analytic_scorer(regions, 1, [](int32_t, const std::vector<double> & kept) {
        double p = 0.0;
        for (int i = 0; i < 64; i += 2) p += kept[i] * kept[i + 1] * (1 + i) / 1056.0 + 0.0001 * kept[i];
        return float(p);
    });
}

// every region ranked once, both curves one point per region, the last prefix the whole image
void expect_permutation_with_complete_curves(const eagle::explanation & ex, size_t n) {
    ASSERT_EQ(ex.order.size(), n);
    EXPECT_EQ(std::set<int32_t>(ex.order.begin(), ex.order.end()).size(), n);
    EXPECT_EQ(ex.insertion_score.size(), n);
    EXPECT_EQ(ex.deletion_score.size(), n);
    EXPECT_NEAR(ex.region_area.back(), 1.0f, 1e-6);
}

// every curve entry k is the measured value of the order's first k + 1 regions (insertion image) and of the image
// without them (deletion image), per target, and smdl is ins + lambda2 * (1 - del) averaged over the targets
template <typename P>
void expect_curves_are_measured_prefixes(const eagle::explanation & ex, P p_of, int32_t n_targets, double lambda2 = 1.0) {
    ASSERT_EQ(ex.insertion_word_score.size(), ex.order.size());
    std::vector<double> kept(ex.order.size(), 0.0);
    for (size_t k = 0; k < ex.order.size(); ++k) {
        kept[ex.order[k]] = 1.0;
        std::vector<double> removed(kept.size());
        for (size_t i = 0; i < kept.size(); ++i) removed[i] = 1.0 - kept[i];
        double f = 0;
        for (int32_t t = 0; t < n_targets; ++t) {
            EXPECT_NEAR(ex.insertion_word_score[k][t], p_of(t, kept), 1e-6) << k;
            EXPECT_NEAR(ex.deletion_word_score[k][t], p_of(t, removed), 1e-6) << k;
            f += (p_of(t, kept) + lambda2 * (1.0 - p_of(t, removed))) / n_targets;
        }
        EXPECT_NEAR(ex.smdl_score[k], f, 1e-6) << k;
    }
}

} // namespace

TEST(search, exact_ranks_an_additive_scorer_by_weight) {
    const eagle::region_set regions = eagle::make_grid_regions(40, 10, 4, 1);
    analytic_scorer sc = additive_scorer(regions, {0.1, 0.4, 0.2, 0.3});
    const eagle::explanation ex = eagle::explain(sc, dummy_request(40, 10, 1), regions, with_mode(eagle::search_mode::exact));
    EXPECT_EQ(ex.order, (std::vector<int32_t>{1, 3, 2, 0}));
    const std::vector<float> expected_ins = {0.4f, 0.7f, 0.9f, 1.0f};
    const std::vector<float> expected_area = {0.25f, 0.5f, 0.75f, 1.0f};
    for (size_t k = 0; k < 4; ++k) {
        EXPECT_NEAR(ex.insertion_score[k], expected_ins[k], 1e-6);
        EXPECT_NEAR(ex.deletion_score[k], 1.0f - expected_ins[k], 1e-6);
        EXPECT_NEAR(ex.region_area[k], expected_area[k], 1e-6);
        EXPECT_NEAR(ex.smdl_score[k], 2 * expected_ins[k], 1e-6); // ins + 1 - (1 - ins)
    }
    EXPECT_NEAR(ex.org_score[0], 1.0f, 1e-6);
    EXPECT_NEAR(ex.baseline_score[0], 0.0f, 1e-6);
}

TEST(search, exact_breaks_ties_by_the_first_remaining_region) {
    // hand computed, additive w = {0.1, 0.3, 0.3, 0.2} plus a bonus of 0.25 when regions 0 and 3 are both
    // visible (W = 0.9, full image p = 1.15 -> clamped by nothing, the scorer is not a probability here):
    // step 1: F({i}) = w_i + 1 - p(others): F(0) = 0.1 + 1 - 0.8 = 0.3, F(1) = 0.3 + 1 - (0.6 + 0.25) = 0.45,
    //         F(2) = 0.45 (same), F(3) = 0.2 + 1 - 0.7 = 0.5 -> 3
    // step 2 from {3}: F(+0) = 0.55 + 1 - 0.6 = 0.95, F(+1) = 0.5 + 1 - 0.4 = 1.1, F(+2) = 1.1 -> tie, 1 wins
    // step 3 from {1,3}: F(+0) = 0.85 + 1 - 0.3 = 1.55, F(+2) = 0.8 + 1 - 0.1 = 1.7 -> 2, then 0
    const eagle::region_set regions = eagle::make_grid_regions(40, 10, 4, 1);
    const std::vector<double> w = {0.1, 0.3, 0.3, 0.2};
    analytic_scorer sc(regions, 1, [w](int32_t, const std::vector<double> & kept) {
        double p = 0;
        for (size_t i = 0; i < w.size(); ++i) p += w[i] * kept[i];
        if (kept[0] > 0.5 && kept[3] > 0.5) p += 0.25;
        return float(p);
    });
    const eagle::explanation ex = eagle::explain(sc, dummy_request(40, 10, 1), regions, with_mode(eagle::search_mode::exact));
    EXPECT_EQ(ex.order, (std::vector<int32_t>{3, 1, 2, 0}));
    const std::vector<float> expected_f = {0.5f, 1.1f, 1.7f, 2.15f};
    for (size_t k = 0; k < 4; ++k) EXPECT_NEAR(ex.smdl_score[k], expected_f[k], 1e-6) << k;
    // the reference greedy's cost: 2 * (4 + 3 + 2 + 1) masks, plus the empty and full image, minus repeats
    EXPECT_LE(ex.n_evaluations, 22);
}

TEST(search, exact_reproduces_the_reference_greedy_on_recorded_scores) {
    std::ifstream in(std::string(EAGLE_TEST_SOURCE_DIR) + "/data/recorded-scores.json");
    const nlohmann::json rec = nlohmann::json::parse(in);
    const int32_t n = rec["n_regions"], n_targets = rec["n_targets"];
    const std::vector<std::vector<float>> table = rec["table"];
    const eagle::region_set regions = eagle::make_grid_regions(6 * 5, 4, n, 1); // equal areas
    analytic_scorer sc(regions, n_targets, [&](int32_t t, const std::vector<double> & kept) {
        int bits = 0;
        for (int32_t i = 0; i < n; ++i) bits |= (kept[i] > 0.5) << i;
        return table[bits][t];
    });
    const eagle::explanation ex = eagle::explain(sc, dummy_request(30, 4, n_targets), regions, with_mode(eagle::search_mode::exact));
    EXPECT_EQ(ex.order, rec["expected_order"].get<std::vector<int32_t>>());
    const auto & log = rec["expected_log"];
    for (const char * key : {"insertion_score", "deletion_score", "smdl_score", "region_area"}) {
        const std::vector<float> expected = log[key];
        const std::vector<float> & got = key == std::string("insertion_score") ? ex.insertion_score
                                       : key == std::string("deletion_score")  ? ex.deletion_score
                                       : key == std::string("smdl_score")      ? ex.smdl_score
                                                                               : ex.region_area;
        ASSERT_EQ(got.size(), expected.size()) << key;
        for (size_t k = 0; k < got.size(); ++k) EXPECT_NEAR(got[k], expected[k], 1e-5) << key << "[" << k << "]";
    }
    const std::vector<std::vector<float>> word = log["insertion_word_score"];
    for (size_t k = 0; k < word.size(); ++k)
        for (int32_t t = 0; t < n_targets; ++t) EXPECT_NEAR(ex.insertion_word_score[k][t], word[k][t], 1e-6);
    const std::vector<float> org = log["org_score"], base = log["baseline_score"];
    for (int32_t t = 0; t < n_targets; ++t) {
        EXPECT_NEAR(ex.org_score[t], org[t], 1e-6);
        EXPECT_NEAR(ex.baseline_score[t], base[t], 1e-6);
    }
}

TEST(search, lazy_equals_exact_on_submodular_objectives_with_fewer_evaluations) {
    // insight only (lambda2 = 0) with a probabilistic-coverage scorer: F is monotone submodular
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    std::vector<double> w(64);
    for (int i = 0; i < 64; ++i) w[i] = 0.005 + 0.04 * std::fabs(std::sin(i * 1.7));
    analytic_scorer coverage(regions, 2, [w](int32_t t, const std::vector<double> & kept) {
        double miss = 1.0;
        for (size_t i = 0; i < w.size(); ++i) miss *= 1.0 - (t == 0 ? w[i] : w[63 - i] * 0.8) * kept[i];
        return float(1.0 - miss);
    });
    eagle::explain_params exact = with_mode(eagle::search_mode::exact), lazy = with_mode(eagle::search_mode::lazy);
    exact.lambda2 = lazy.lambda2 = 0.0f;
    const eagle::explanation a = eagle::explain(coverage, dummy_request(80, 80, 2), regions, exact);
    analytic_scorer coverage2(regions, 2, [w](int32_t t, const std::vector<double> & kept) {
        double miss = 1.0;
        for (size_t i = 0; i < w.size(); ++i) miss *= 1.0 - (t == 0 ? w[i] : w[63 - i] * 0.8) * kept[i];
        return float(1.0 - miss);
    });
    const eagle::explanation b = eagle::explain(coverage2, dummy_request(80, 80, 2), regions, lazy);
    EXPECT_EQ(a.order, b.order);
    EXPECT_LT(b.n_evaluations * 2, a.n_evaluations) << "lazy " << b.n_evaluations << " vs exact " << a.n_evaluations;

    // additive (modular) with both terms: also submodular
    analytic_scorer add1 = additive_scorer(regions, w), add2 = additive_scorer(regions, w);
    const eagle::explanation c = eagle::explain(add1, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::exact));
    const eagle::explanation d = eagle::explain(add2, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::lazy));
    EXPECT_EQ(c.order, d.order);
}

TEST(search, lazy_stays_close_to_exact_on_non_submodular_objectives) {
    const std::string path = std::string(EAGLE_TEST_SOURCE_DIR) + "/data/recorded-scores.json";
    const nlohmann::json rec = nlohmann::json::parse(std::ifstream(path));
    const std::vector<std::vector<float>> table = rec["table"];
    const eagle::region_set regions = eagle::make_grid_regions(30, 4, 6, 1);
    auto fn = [&](int32_t t, const std::vector<double> & kept) {
        int bits = 0;
        for (int32_t i = 0; i < 6; ++i) bits |= (kept[i] > 0.5) << i;
        return table[bits][t];
    };
    analytic_scorer s1(regions, 3, fn), s2(regions, 3, fn);
    const eagle::explanation a = eagle::explain(s1, dummy_request(30, 4, 3), regions, with_mode(eagle::search_mode::exact));
    const eagle::explanation b = eagle::explain(s2, dummy_request(30, 4, 3), regions, with_mode(eagle::search_mode::lazy));
    auto auc = [](const eagle::explanation & ex) {
        double area = 0, x0 = 0, y0 = ex.deletion_score.back();
        for (size_t k = 0; k < ex.insertion_score.size(); ++k) {
            area += (ex.region_area[k] - x0) * (ex.insertion_score[k] + y0) / 2;
            x0 = ex.region_area[k];
            y0 = ex.insertion_score[k];
        }
        return area;
    };
    EXPECT_GE(auc(b), 0.95 * auc(a));
    EXPECT_LE(b.n_evaluations, a.n_evaluations);
}

// The shortlist search on objectives whose exact greedy is known: on an additive objective gains never change,
// so re-evaluating only the top stale candidates (and ordering the flat tail by them) is the exact greedy's
// order, at a fraction of its cost; with unlimited rounds, no neighbours and no tail it is the lazy greedy,
// so on a submodular objective it is the exact order again.
TEST(search, shortlist_equals_exact_on_additive_and_unbounded_rounds_on_submodular_objectives) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    std::vector<double> w(64);
    for (int i = 0; i < 64; ++i) w[i] = (1 + (i * 29) % 64) / 2080.0; // distinct, sum 1
    analytic_scorer add1 = additive_scorer(regions, w), add2 = additive_scorer(regions, w);
    const eagle::explanation a = eagle::explain(add1, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::exact));
    const eagle::explanation b = eagle::explain(add2, dummy_request(80, 80, 1), regions, one_sided_shortlist());
    EXPECT_EQ(a.order, b.order);
    EXPECT_LT(b.n_evaluations * 5, a.n_evaluations) << "shortlist " << b.n_evaluations << " vs exact " << a.n_evaluations;
    ASSERT_EQ(b.insertion_score.size(), 64u);
    for (size_t k = 0; k < 64; ++k) {
        EXPECT_NEAR(b.insertion_score[k], a.insertion_score[k], 1e-6) << k; // the tail's curves are measured too
        EXPECT_NEAR(b.deletion_score[k], a.deletion_score[k], 1e-6) << k;
    }

    auto coverage = [&] {
        return analytic_scorer(regions, 2, [w](int32_t t, const std::vector<double> & kept) {
            double miss = 1.0;
            for (size_t i = 0; i < w.size(); ++i) miss *= 1.0 - (t == 0 ? 4 * w[i] : 3 * w[63 - i]) * kept[i];
            return float(1.0 - miss);
        });
    };
    eagle::explain_params exact = with_mode(eagle::search_mode::exact), lazy_like = one_sided_shortlist();
    exact.lambda2 = lazy_like.lambda2 = 0.0f; // insight only: monotone submodular
    lazy_like.shortlist.max_rounds = 0;
    lazy_like.shortlist.use_neighbours = false;
    lazy_like.shortlist.saturation = 1.0f;
    lazy_like.shortlist.tolerance = 0.0f;
    lazy_like.shortlist.rescreen_loss = 0.0f;
    analytic_scorer c1 = coverage(), c2 = coverage();
    const eagle::explanation c = eagle::explain(c1, dummy_request(80, 80, 2), regions, exact);
    const eagle::explanation d = eagle::explain(c2, dummy_request(80, 80, 2), regions, lazy_like);
    EXPECT_EQ(c.order, d.order);
    EXPECT_EQ(d.n_ranked, 64);
    EXPECT_LT(d.n_evaluations, c.n_evaluations);
}

// On an objective that is not submodular (recorded model scores, and a pair of regions worth something only
// together) the shortlist search still returns a permutation of every region with complete curves, counts
// its evaluations, and stays within the exact greedy's cost.
TEST(search, shortlist_returns_a_permutation_with_complete_curves) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    for (bool neighbours : {true, false}) {
        eagle::explain_params p = one_sided_shortlist();
        p.shortlist.use_neighbours = neighbours;
        p.shortlist.rescreen_every = neighbours ? 0 : 7;
        analytic_scorer pairs = pairs_scorer(regions);
        const eagle::explanation ex = eagle::explain(pairs, dummy_request(80, 80, 1), regions, p);
        ASSERT_NO_FATAL_FAILURE(expect_permutation_with_complete_curves(ex, 64));
        EXPECT_NEAR(ex.insertion_score.back(), ex.org_score[0], 1e-6);
        EXPECT_GT(ex.n_evaluations, 2 * 64); // every region screened once
        EXPECT_LT(ex.n_evaluations, 64 * 65);
        EXPECT_GE(ex.n_ranked, 1);
        EXPECT_LE(ex.n_ranked, 64);
    }
    // with every step searched (no tail), the partner of each chosen region (its grid neighbour, re-evaluated at
    // once) follows it, and the order is the exact greedy's
    analytic_scorer pairs_exact = pairs_scorer(regions), pairs2 = pairs_scorer(regions);
    const eagle::explanation exact = eagle::explain(pairs_exact, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::exact));
    eagle::explain_params p = one_sided_shortlist();
    p.shortlist.saturation = 1.0f;
    const eagle::explanation ex = eagle::explain(pairs2, dummy_request(80, 80, 1), regions, p);
    EXPECT_EQ(ex.order, exact.order);
}

// A cap on the neighbours re-evaluated per step: still a permutation with complete curves, at no more
// evaluations than re-evaluating every neighbour (one-sided and two-sided).
TEST(search, shortlist_neighbour_cap_keeps_a_permutation_at_fewer_evaluations) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    for (bool two_sided : {false, true}) {
        int64_t n_all = 0;
        for (int32_t cap : {0, 1}) {
            eagle::explain_params p = two_sided ? with_mode(eagle::search_mode::shortlist) : one_sided_shortlist();
            p.shortlist.max_neighbours = cap;
            analytic_scorer sc = pairs_scorer(regions);
            const eagle::explanation ex = eagle::explain(sc, dummy_request(80, 80, 1), regions, p);
            ASSERT_NO_FATAL_FAILURE(expect_permutation_with_complete_curves(ex, 64));
            if (cap == 0) {
                n_all = ex.n_evaluations;
            } else {
                EXPECT_LE(ex.n_evaluations, n_all) << (two_sided ? "two-sided" : "one-sided");
            }
        }
    }
}

// The first rescreen_first steps re-evaluate every region, as exact does: on the pairs objective with a
// one-candidate shortlist and no neighbour rule, the first k choices are exact's, each full step costs
// evaluations, and with k = n the whole order is exact's.
TEST(search, shortlist_rescreen_first_follows_exact_for_its_steps) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    analytic_scorer exact_scorer = pairs_scorer(regions);
    const eagle::explanation exact = eagle::explain(exact_scorer, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::exact));
    auto shortlist = [&](int32_t first) {
        eagle::explain_params p = one_sided_shortlist();
        p.shortlist.use_neighbours = false;
        p.shortlist.n_top = 1;
        p.shortlist.max_rounds = 1;
        p.shortlist.rescreen_loss = 0.0f;
        p.shortlist.rescreen_first = first;
        analytic_scorer sc = pairs_scorer(regions);
        return eagle::explain(sc, dummy_request(80, 80, 1), regions, p);
    };
    const size_t k = 6;
    const eagle::explanation base = shortlist(1), first_k = shortlist(int32_t(k)), all = shortlist(64);
    const auto prefix = [&](const eagle::explanation & ex) { return std::vector<int32_t>(ex.order.begin(), ex.order.begin() + k); };
    EXPECT_EQ(prefix(first_k), prefix(exact));
    EXPECT_EQ(all.order, exact.order);
    EXPECT_LT(base.n_evaluations, first_k.n_evaluations);
    EXPECT_LT(first_k.n_evaluations, all.n_evaluations);
}

// The two-sided shortlist search (grown from both ends, as the efficient search): on an additive objective
// both sides are right at every step, so the whole order is the exact greedy's, and every curve entry k is the
// measured value of the order's first k + 1 regions (the back's records are the images without the regions
// removed so far) at a fraction of exact's evaluations.
TEST(search, two_sided_shortlist_equals_exact_on_additive_objectives_with_prefix_curves) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    std::vector<double> w(64);
    for (int i = 0; i < 64; ++i) w[i] = (1 + (i * 29) % 64) / 2080.0;
    analytic_scorer add1 = additive_scorer(regions, w), add2 = additive_scorer(regions, w);
    const eagle::explanation exact = eagle::explain(add1, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::exact));
    eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
    p.shortlist.two_sided = true;
    const eagle::explanation ex = eagle::explain(add2, dummy_request(80, 80, 1), regions, p);
    EXPECT_EQ(ex.order, exact.order);
    ASSERT_EQ(ex.insertion_score.size(), 64u);
    ASSERT_EQ(ex.region_area.size(), 64u);
    for (size_t k = 0; k < 64; ++k) {
        EXPECT_NEAR(ex.insertion_score[k], exact.insertion_score[k], 1e-6) << k;
        EXPECT_NEAR(ex.deletion_score[k], exact.deletion_score[k], 1e-6) << k;
        EXPECT_NEAR(ex.smdl_score[k], exact.smdl_score[k], 1e-6) << k;
        EXPECT_NEAR(ex.region_area[k], (k + 1) / 64.0, 1e-6) << k;
    }
    EXPECT_EQ(ex.n_ranked, 64);
    EXPECT_LT(ex.n_evaluations * 5, exact.n_evaluations) << ex.n_evaluations << " vs exact " << exact.n_evaluations;
}

// On an objective that is not additive (pairs worth something only together; two targets, lambda2 != lambda1)
// the two-sided search returns a permutation whose curves are the measured prefixes of that permutation and
// whose smdl is lambda1 * ins + lambda2 * (1 - del) per prefix.
TEST(search, two_sided_shortlist_curves_are_the_prefixes_of_its_order) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    const auto p_of = [](int32_t t, const std::vector<double> & kept) {
        double p = 0.0;
        for (int i = 0; i < 64; i += 2) p += kept[i] * kept[(i + 1 + 2 * t) % 64] * (1 + i) / 1056.0 + 0.0001 * kept[i];
        return float(p);
    };
    analytic_scorer sc(regions, 2, p_of);
    eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
    p.shortlist.two_sided = true;
    p.lambda2 = 0.5f;
    const eagle::explanation ex = eagle::explain(sc, dummy_request(80, 80, 2), regions, p);
    ASSERT_EQ(ex.order.size(), 64u);
    EXPECT_EQ(std::set<int32_t>(ex.order.begin(), ex.order.end()).size(), 64u);
    expect_curves_are_measured_prefixes(ex, p_of, 2, 0.5);
    EXPECT_LT(ex.n_evaluations * 2, 64 * 65); // exact: 64 * 65
}

// A word's object in three parts that do not touch: part A alone shows the word, B and C only together.
// Once A is chosen every region's last-known gain is near zero (removing B alone changes nothing), so a
// shortlist without the stall rule picks background; exact takes B or C next (the word's probability on the
// deletion image drops to the background's). With stall_room the front side re-screens when nothing gains while
// F is far from F(all regions), and takes exact's second region.
TEST(search, shortlist_stall_rule_finds_the_part_that_completes_a_removal) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    constexpr int32_t part_a = 0, part_b = 36, part_c = 63;
    auto object_scorer = [&] {
        return analytic_scorer(regions, 1, [](int32_t, const std::vector<double> & kept) {
            double background = 0.0;
            for (int i = 0; i < 64; ++i) background += kept[i] * (1 + (i * 29) % 64) / 2080.0;
            return float(0.99 * std::max(kept[part_a], kept[part_b] * kept[part_c]) + 0.01 * background);
        });
    };
    const auto completes = [&](int32_t region) { return region == part_b || region == part_c; };
    analytic_scorer exact_scorer = object_scorer();
    const eagle::explanation exact = eagle::explain(exact_scorer, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::exact));
    ASSERT_EQ(exact.order[0], part_a);
    EXPECT_TRUE(completes(exact.order[1])) << exact.order[1];
    EXPECT_LT(exact.deletion_score[1], 0.2f);
    for (bool two_sided : {false, true}) {
        eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
        p.shortlist.two_sided = two_sided;
        analytic_scorer without_rule = object_scorer(), with_rule = object_scorer();
        p.shortlist.stall_room = 0.0f;
        const eagle::explanation stalled = eagle::explain(without_rule, dummy_request(80, 80, 1), regions, p);
        EXPECT_EQ(stalled.order[0], part_a);
        EXPECT_FALSE(completes(stalled.order[1])) << "two-sided " << two_sided; // the case the rule is for
        p.shortlist.stall_room = 0.25f;
        const eagle::explanation ex = eagle::explain(with_rule, dummy_request(80, 80, 1), regions, p);
        EXPECT_EQ(ex.order[0], part_a);
        EXPECT_TRUE(completes(ex.order[1])) << "two-sided " << two_sided << ": " << ex.order[1];
        EXPECT_NEAR(ex.deletion_score[1], exact.deletion_score[1], 1e-6);
        EXPECT_LT(ex.n_evaluations * 3, exact.n_evaluations);
    }
}

// A plateau: every region moves F by less than the tolerance, so each front step stalls while F is far from
// F(all regions), and without the backoff every one re-screens all open regions (exact's cost). The gains are
// additive (a stale gain is exact), so skipping fruitless re-screens must not change the order, only the cost.
TEST(search, shortlist_stall_backoff_skips_fruitless_rescreens_on_a_plateau) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    std::vector<double> w(64);
    for (int i = 0; i < 64; ++i) w[i] = (1 + (i * 29) % 64) / 64.0 * 2e-4; // distinct, all below the tolerance / 2
    auto plateau_scorer = [&] {
        return analytic_scorer(regions, 1, [w](int32_t, const std::vector<double> & kept) {
            double p = 0.5;
            for (int i = 0; i < 64; ++i) p += w[i] * kept[i];
            return float(p);
        });
    };
    analytic_scorer exact_scorer = plateau_scorer();
    const eagle::explanation exact = eagle::explain(exact_scorer, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::exact));
    for (bool two_sided : {false, true}) {
        SCOPED_TRACE(two_sided ? "two-sided" : "one-sided");
        eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
        p.shortlist.two_sided = two_sided;
        p.shortlist.stall_backoff = false;
        analytic_scorer every_step = plateau_scorer(), backing_off = plateau_scorer();
        const eagle::explanation rescreened = eagle::explain(every_step, dummy_request(80, 80, 1), regions, p);
        p.shortlist.stall_backoff = true;
        const eagle::explanation ex = eagle::explain(backing_off, dummy_request(80, 80, 1), regions, p);
        EXPECT_EQ(ex.order, rescreened.order);
        EXPECT_EQ(std::vector<int32_t>(ex.order.begin(), ex.order.begin() + 16),
                  std::vector<int32_t>(exact.order.begin(), exact.order.begin() + 16));
        EXPECT_LT(ex.n_evaluations * 2, rescreened.n_evaluations) << ex.n_evaluations << " vs " << rescreened.n_evaluations;
    }
}

// The back side of the two-sided search on an objective whose removals all cost more at every step (the
// probability grows with the square of the regions shown, up to half of them: each region added to the small images
// of the back's necessity term is worth more than the last). The last-known gains then under-state every loss,
// by 0.001 more per step since they were measured, which fires the loss re-screen once they are 0.01 off: with
// back_rescreen (the default) the back re-evaluates all open regions then, without it never. The front side is
// the same search either way until the sides meet. Against predicted gains (back_loss_predicted) fewer losses fire.
TEST(search, two_sided_back_side_rescreens_on_a_loss_only_with_back_rescreen) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    std::vector<double> w(64);
    for (int i = 0; i < 64; ++i) w[i] = (1 + (i * 29) % 64) / 2080.0; // distinct, summing to 1
    auto drifting_scorer = [&] {
        return analytic_scorer(regions, 1, [w](int32_t, const std::vector<double> & kept) {
            double p = 0.0, n_shown = 0.0;
            for (int i = 0; i < 64; ++i) {
                p += 0.45 * w[i] * kept[i];
                n_shown += kept[i];
            }
            return float(p + 0.0005 * std::pow(std::min(n_shown, 32.0), 2));
        });
    };
    eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
    ASSERT_TRUE(p.shortlist.two_sided);
    ASSERT_TRUE(p.shortlist.back_rescreen);
    p.shortlist.back_loss_predicted = false; // a loss against the last-known gains (below: against predicted ones)
    analytic_scorer rescreening = drifting_scorer(), plain = drifting_scorer(), predicting = drifting_scorer();
    const eagle::explanation rescreened = eagle::explain(rescreening, dummy_request(80, 80, 1), regions, p);
    p.shortlist.back_loss_predicted = true;
    const eagle::explanation predicted = eagle::explain(predicting, dummy_request(80, 80, 1), regions, p);

    p.shortlist.back_rescreen = false;
    const eagle::explanation ex = eagle::explain(plain, dummy_request(80, 80, 1), regions, p);
    EXPECT_EQ(std::set<int32_t>(ex.order.begin(), ex.order.end()).size(), 64u);
    EXPECT_EQ(std::set<int32_t>(rescreened.order.begin(), rescreened.order.end()).size(), 64u);
    EXPECT_EQ(std::vector<int32_t>(ex.order.begin(), ex.order.begin() + 16),
              std::vector<int32_t>(rescreened.order.begin(), rescreened.order.begin() + 16));
    // at least one re-screen of the 32 or more regions still open on the back's first ten steps: 2 masks each
    EXPECT_LE(ex.n_evaluations + 64, rescreened.n_evaluations) << ex.n_evaluations << " vs " << rescreened.n_evaluations;
    // against the predicted gains (the default), which move every stale gain by what the base moved since, the
    // drift is expected and fewer losses fire
    EXPECT_EQ(std::set<int32_t>(predicted.order.begin(), predicted.order.end()).size(), 64u);
    EXPECT_EQ(std::vector<int32_t>(predicted.order.begin(), predicted.order.begin() + 16),
              std::vector<int32_t>(rescreened.order.begin(), rescreened.order.begin() + 16));
    EXPECT_LT(predicted.n_evaluations, rescreened.n_evaluations) << predicted.n_evaluations << " vs " << rescreened.n_evaluations;
}

// A word the language prior says: the black image gives it probability 1, as the full image does, and only the
// counter-evidence lowers it: another object in two parts (regions 62 and 63, both needed) while the word's own
// object (region 9) is hidden. Every single region's removal from the full image and every single region alone
// then say the word: the back side's gains are all ties and it ranks low ids last, leaving 62 and 63 to the middle
// of the order, where the deletion curve returns to the prior once either is removed. With prior_margin (the
// default) the front orders every region, as exact does: 9 first, the counter-evidence last, the deletion curve
// low to the end.
TEST(search, two_sided_orders_from_the_front_when_the_prior_says_the_target) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    auto prior_scorer = [&] {
        return analytic_scorer(regions, 1, [](int32_t, const std::vector<double> & kept) {
            return float(1.0 - 0.98 * kept[62] * kept[63] * (1.0 - kept[9]));
        });
    };
    auto mean_deletion = [](const eagle::explanation & ex) {
        double sum = 0.0;
        for (float p : ex.deletion_score) sum += p;
        return sum / double(ex.deletion_score.size());
    };
    eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
    ASSERT_GT(p.shortlist.prior_margin, 0.0f);
    analytic_scorer front_scorer = prior_scorer(), both_scorer = prior_scorer(), exact_scorer = prior_scorer();
    const eagle::explanation front_only = eagle::explain(front_scorer, dummy_request(80, 80, 1), regions, p);
    p.shortlist.prior_margin = 0.0f;
    const eagle::explanation both_sides = eagle::explain(both_scorer, dummy_request(80, 80, 1), regions, p);
    const eagle::explanation exact =
        eagle::explain(exact_scorer, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::exact));
    for (const eagle::explanation * ex : {&front_only, &both_sides}) {
        EXPECT_EQ(std::set<int32_t>(ex->order.begin(), ex->order.end()).size(), 64u);
        EXPECT_EQ(ex->order.front(), 9);
    }
    EXPECT_EQ(std::set<int32_t>(front_only.order.end() - 2, front_only.order.end()), (std::set<int32_t>{62, 63}));
    EXPECT_LE(mean_deletion(front_only), mean_deletion(exact) + 0.01);
    EXPECT_GE(mean_deletion(both_sides), mean_deletion(front_only) + 0.3)
        << mean_deletion(both_sides) << " vs " << mean_deletion(front_only);
    EXPECT_LT(front_only.n_evaluations, exact.n_evaluations);
}

// The stall rule when the prior says the target: the word's object in three parts (A alone shows it, B and C
// only together) and one region of counter-evidence X that lowers the word to 0.02 when the object is hidden. The
// black and the full image both give 1, so F's range is nil and "F far below F(all)" never calls a stall: after
// A, every last-known gain is 0 and the shortlist takes background. With prior_margin the front stalls while the
// image without its regions still says the word (p > 0.5) and, as exact, takes B or C second.
TEST(search, two_sided_stall_rule_under_the_prior_looks_at_the_deletion_image) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    constexpr int32_t part_a = 0, part_b = 36, part_c = 63, counter = 27;
    auto object_scorer = [&] {
        return analytic_scorer(regions, 1, [](int32_t, const std::vector<double> & kept) {
            return float(1.0 - 0.98 * kept[counter] * (1.0 - std::max(kept[part_a], kept[part_b] * kept[part_c])));
        });
    };
    const auto completes = [&](int32_t region) { return region == part_b || region == part_c; };
    analytic_scorer exact_scorer = object_scorer();
    const eagle::explanation exact = eagle::explain(exact_scorer, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::exact));
    ASSERT_EQ(exact.order[0], part_a);
    ASSERT_TRUE(completes(exact.order[1])) << exact.order[1];
    eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
    analytic_scorer with_rule = object_scorer(), without_rule = object_scorer();
    const eagle::explanation ex = eagle::explain(with_rule, dummy_request(80, 80, 1), regions, p);
    EXPECT_EQ(ex.order[0], part_a);
    EXPECT_TRUE(completes(ex.order[1])) << ex.order[1];
    EXPECT_NEAR(ex.deletion_score[1], exact.deletion_score[1], 1e-6);
    EXPECT_LT(ex.n_evaluations * 3, exact.n_evaluations);
    p.shortlist.prior_margin = 0.0f;
    const eagle::explanation stalled = eagle::explain(without_rule, dummy_request(80, 80, 1), regions, p);
    EXPECT_EQ(stalled.order[0], part_a);
    EXPECT_FALSE(completes(stalled.order[1])) << stalled.order[1]; // the case the rule is for
}

// The stall rule under the prior needs a full re-screen at every step while the deletion image still says the word,
// even though none of them finds a gain above the tolerance. The word's evidence is redundant, in six parts: the
// image without the front's regions says it while any part is visible, and the counter-evidence X is what lowers it
// then. What tells the parts apart from background is tiny: the deletion image's probability falls by EPS per part
// of a chain P1, P2, ... hidden in order, and by less than EPS for each of the decoys (background). Hiding P(k+1)
// gains only once P1..Pk are hidden, so its last-known gain is 0 until a re-screen finds it, and the decoys lead
// the shortlist. Exact hides the six parts first. The stall backoff, meant for a caption's plateau, counted every
// one of these re-screens as fruitless (EPS is below the tolerance), skipped the third in a row and put decoys
// between the parts (0, 2, decoy, 4, decoy, decoy), keeping the deletion curve at the prior for longer; under the
// prior a re-screen that changed the shortlist's choice is not fruitless.
TEST(search, two_sided_stall_rule_under_the_prior_rescreens_every_step_until_the_word_is_gone) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    constexpr int32_t counter = 63;
    const std::vector<int32_t> chain = {0, 2, 4, 6, 16, 18}; // no two touching, so no neighbour rule finds them
    constexpr double eps = 2e-4;                            // below the tolerance (1e-3)
    auto chain_scorer = [&] {
        return analytic_scorer(regions, 1, [chain](int32_t, const std::vector<double> & kept) {
            double any_part = 0.0, hidden_prefix = 0.0, decoys = 0.0;
            bool prefix = true;
            for (int32_t part : chain) {
                any_part = std::max(any_part, kept[part]);
                prefix = prefix && kept[part] == 0.0;
                hidden_prefix += prefix ? 1.0 : 0.0;
            }
            for (int i = 0; i < 63; ++i) {
                if (std::find(chain.begin(), chain.end(), i) == chain.end()) decoys += (1.0 - kept[i]) * eps * (0.5 + 0.4 * ((i * 29) % 64) / 64.0);
            }
            return float(1.0 - kept[counter] * (0.98 * (1.0 - any_part) + eps * hidden_prefix + decoys));
        });
    };
    const std::set<int32_t> parts(chain.begin(), chain.end());
    analytic_scorer exact_scorer = chain_scorer(), default_scorer = chain_scorer();
    const eagle::explanation exact = eagle::explain(exact_scorer, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::exact));
    ASSERT_EQ(std::set<int32_t>(exact.order.begin(), exact.order.begin() + 6), parts);
    ASSERT_LT(exact.deletion_score[5], 0.1f);
    eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
    ASSERT_TRUE(p.shortlist.stall_backoff);
    ASSERT_GT(p.shortlist.prior_margin, 0.0f);
    const eagle::explanation ex = eagle::explain(default_scorer, dummy_request(80, 80, 1), regions, p);
    EXPECT_EQ(std::vector<int32_t>(ex.order.begin(), ex.order.begin() + 6), std::vector<int32_t>(exact.order.begin(), exact.order.begin() + 6));
    EXPECT_NEAR(ex.deletion_score[5], exact.deletion_score[5], 1e-6);
    EXPECT_EQ(ex.order.back(), counter);
    EXPECT_LT(ex.n_evaluations * 2, exact.n_evaluations) << ex.n_evaluations << " vs " << exact.n_evaluations;
}

// An objective additive in log-odds, as a VLM's evidence roughly is: each of two targets is a logistic function of
// the sum of its own group's regions (16 regions each, the second part of a group moving its target far more than
// the first once that is visible, and nothing once the target is certain), plus a faint term for every region.
// Gains last measured at an earlier step then say little (the first part's gain under-states the second's, and a
// certain target's parts keep their old gains), while the predicted gains (shortlist_params::predict_gains) are
// exact here: the shortlist search then takes exact's order at every step, and without them it does not.
TEST(search, shortlist_with_predicted_gains_equals_exact_on_log_odds_additive_objectives) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    auto logistic_scorer = [&] {
        return analytic_scorer(regions, 2, [](int32_t t, const std::vector<double> & kept) {
            double log_odds = t == 0 ? -7.0 : -6.0;
            for (int i = 0; i < 64; ++i) {
                const bool own = t == 0 ? i % 4 == 0 : i % 4 == 1; // each group spread over the grid
                log_odds += kept[i] * (own ? 1.2 + 0.013 * i : 0.01 + 0.0002 * ((i * 29) % 64));
            }
            return float(1.0 / (1.0 + std::exp(-log_odds)));
        });
    };
    analytic_scorer exact_scorer = logistic_scorer();
    const eagle::explanation exact = eagle::explain(exact_scorer, dummy_request(80, 80, 2), regions, with_mode(eagle::search_mode::exact));
    for (bool two_sided : {false, true}) {
        SCOPED_TRACE(two_sided ? "two-sided" : "one-sided");
        eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
        p.shortlist.two_sided = two_sided;
        ASSERT_TRUE(p.shortlist.predict_gains);
        analytic_scorer predicting = logistic_scorer(), last_known = logistic_scorer();
        const eagle::explanation ex = eagle::explain(predicting, dummy_request(80, 80, 2), regions, p);
        // the two groups' regions, where the gains are not ties of the faint term (the two-sided search's front
        // reaches that far before the sides meet; its back grows from the other end by its own rule)
        const size_t n_front = 32;
        EXPECT_EQ(std::vector<int32_t>(ex.order.begin(), ex.order.begin() + std::ptrdiff_t(n_front)),
                  std::vector<int32_t>(exact.order.begin(), exact.order.begin() + std::ptrdiff_t(n_front)));
        EXPECT_LT(ex.n_evaluations * 3, exact.n_evaluations) << ex.n_evaluations << " vs exact " << exact.n_evaluations;
        p.shortlist.predict_gains = false;
        const eagle::explanation stale = eagle::explain(last_known, dummy_request(80, 80, 2), regions, p);
        EXPECT_NE(std::vector<int32_t>(stale.order.begin(), stale.order.begin() + std::ptrdiff_t(n_front)),
                  std::vector<int32_t>(exact.order.begin(), exact.order.begin() + std::ptrdiff_t(n_front)));
    }
}

// One mask per candidate (shortlist_params::one_mask_margin). Regions 0, 1 and 2 make the target certain (its
// insertion probability within 1e-4 of 1), after which no candidate's insertion image can gain more than the
// margin: the search scores only deletion masks, where the background's distinct weights order the candidates as
// with two masks (until the deletion image has lost the target as well). Region 63 hides the target's evidence when it is shown with region 0 (and is evidence without it):
// on its deletion mask alone it is the best candidate at every step, but its insertion image loses the target. The
// search measures the chosen region's other mask before it takes it, so it takes the next best instead: the same
// order as with two masks per candidate, at fewer evaluations, every curve entry the measured prefix.
TEST(search, shortlist_scores_one_mask_per_candidate_once_the_other_half_is_bounded) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    const auto p_of = [](int32_t, const std::vector<double> & kept) {
        double log_odds = -6.0 + 5.0 * (kept[0] + kept[1] + kept[2]) + kept[63] * (kept[0] > 0.5 ? -12.0 : 3.0);
        for (int i = 3; i < 63; ++i) log_odds += kept[i] * (0.01 + 0.0015 * i);
        return float(1.0 / (1.0 + std::exp(-log_odds)));
    };
    for (bool two_sided : {false, true}) {
        SCOPED_TRACE(two_sided ? "two-sided" : "one-sided");
        eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
        p.shortlist.two_sided = two_sided;
        p.shortlist.one_mask_margin = 0.0f;
        analytic_scorer two_masks(regions, 1, p_of), one_mask(regions, 1, p_of);
        const eagle::explanation both = eagle::explain(two_masks, dummy_request(80, 80, 1), regions, p);
        p.shortlist.one_mask_margin = 1e-3f;
        const eagle::explanation ex = eagle::explain(one_mask, dummy_request(80, 80, 1), regions, p);
        // the same order while the deletion half tells the candidates apart; in the tail, where the candidates'
        // deletion gains differ by less than the insertion half that is not measured, any order is within the margin
        const size_t n_told_apart = 40;
        EXPECT_EQ(std::vector<int32_t>(ex.order.begin(), ex.order.begin() + n_told_apart),
                  std::vector<int32_t>(both.order.begin(), both.order.begin() + n_told_apart));
        ASSERT_EQ(ex.smdl_score.size(), both.smdl_score.size());
        for (size_t k = 0; k < ex.smdl_score.size(); ++k) EXPECT_NEAR(ex.smdl_score[k], both.smdl_score[k], 2e-3) << k;
        EXPECT_LT(ex.n_evaluations, both.n_evaluations);
        ASSERT_EQ(ex.order.size(), 64u);
        expect_curves_are_measured_prefixes(ex, p_of, 1);
    }
    // The other half: with the black image at 1.2e-4, the back side's deletion images (the removed regions alone)
    // start within the margin of 0, so its candidates are scored on their insertion masks only, the deletion half
    // taken as the base's; the records stay measured and F within the margin of the two-mask search's.
    const auto p_faint = [&](int32_t t, const std::vector<double> & kept) {
        const double p = p_of(t, kept); // the same evidence, its log-odds 3 lower
        return float(1.0 / (1.0 + std::exp(3.0) * (1.0 - p) / p));
    };
    eagle::explain_params p = with_mode(eagle::search_mode::shortlist);
    p.shortlist.one_mask_margin = 0.0f;
    analytic_scorer two_masks(regions, 1, p_faint), one_mask(regions, 1, p_faint);
    const eagle::explanation both = eagle::explain(two_masks, dummy_request(80, 80, 1), regions, p);
    p.shortlist.one_mask_margin = 1e-3f;
    const eagle::explanation ex = eagle::explain(one_mask, dummy_request(80, 80, 1), regions, p);
    ASSERT_EQ(ex.order.size(), 64u);
    expect_curves_are_measured_prefixes(ex, p_faint, 1);
    EXPECT_LT(ex.n_evaluations, both.n_evaluations);
    ASSERT_EQ(ex.smdl_score.size(), both.smdl_score.size());
    for (size_t k = 0; k < ex.smdl_score.size(); ++k) EXPECT_NEAR(ex.smdl_score[k], both.smdl_score[k], 2e-3) << k;
}

TEST(search, efficient_has_the_reference_layout) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    std::vector<double> w(64);
    for (int i = 0; i < 64; ++i) w[i] = (i * 37 % 64) / 64.0 / 32.0;
    analytic_scorer sc = additive_scorer(regions, w);
    const eagle::explanation ex = eagle::explain(sc, dummy_request(80, 80, 1), regions, with_mode(eagle::search_mode::efficient));
    ASSERT_EQ(ex.order.size(), 64u);
    EXPECT_EQ(std::set<int32_t>(ex.order.begin(), ex.order.end()).size(), 64u);
    EXPECT_EQ(ex.insertion_score.size(), 64u);
    EXPECT_EQ(ex.region_area.size(), 64u);
    EXPECT_NEAR(ex.region_area.back(), 1.0f, 1e-6);
    for (size_t k = 0; k < 64; ++k) {
        EXPECT_NEAR(ex.region_area[k], (k + 1) / 64.0, 1e-6) << k; // entry k = the first k+1 regions
        EXPECT_NEAR(ex.smdl_score[k], ex.insertion_score[k] + 1 - ex.deletion_score[k], 1e-6);
    }
    // on an additive scorer both ends are right: the first region is the heaviest, the last the lightest
    EXPECT_EQ(ex.order.front(), int32_t(std::max_element(w.begin(), w.end()) - w.begin()));
    EXPECT_EQ(ex.order.back(), int32_t(std::min_element(w.begin(), w.end()) - w.begin()));
    EXPECT_LT(ex.n_evaluations, 64 * 65);
}

TEST(search, budgets_rank_k_regions_and_complete_the_curves) {
    const eagle::region_set regions = eagle::make_grid_regions(80, 80, 8, 8);
    std::vector<double> w(64);
    for (int i = 0; i < 64; ++i) w[i] = (1 + (i * 29) % 64) / 2080.0;
    for (auto mode : {eagle::search_mode::exact, eagle::search_mode::lazy, eagle::search_mode::shortlist}) {
        analytic_scorer sc = additive_scorer(regions, w);
        eagle::explain_params p = mode == eagle::search_mode::shortlist ? one_sided_shortlist() : with_mode(mode);
        p.budget.max_regions = 5;
        const eagle::explanation ex = eagle::explain(sc, dummy_request(80, 80, 1), regions, p);
        EXPECT_EQ(ex.n_ranked, 5);
        EXPECT_EQ(ex.order.size(), 64u);
        EXPECT_EQ(ex.insertion_score.size(), 64u);
        EXPECT_NEAR(ex.region_area.back(), 1.0f, 1e-6);
        EXPECT_NEAR(ex.insertion_score.back(), ex.org_score[0], 1e-6);
    }
}

TEST(maps, attribution_is_monotone_along_the_ranking_and_spans_zero_to_one) {
    const eagle::region_set regions = eagle::make_grid_regions(40, 40, 4, 4);
    std::vector<double> w(16);
    for (int i = 0; i < 16; ++i) w[i] = (1 + (i * 7) % 16) / 136.0;
    analytic_scorer sc = additive_scorer(regions, w);
    const eagle::explanation ex = eagle::explain(sc, dummy_request(40, 40, 1), regions, {});
    const std::vector<float> map = eagle::attribution_map(ex, regions);
    std::vector<float> region_value(16);
    for (size_t i = 0; i < map.size(); ++i) region_value[regions.labels[i]] = map[i];
    for (size_t k = 1; k < ex.order.size(); ++k) {
        EXPECT_GE(region_value[ex.order[k - 1]], region_value[ex.order[k]]);
    }
    EXPECT_FLOAT_EQ(region_value[ex.order.front()], 1.0f);
    EXPECT_FLOAT_EQ(region_value[ex.order.back()], 0.0f);
    // the gap between consecutive regions is the later one's |gain|, normalised
    const std::vector<float> token_map = eagle::token_gain_map(ex, regions, 0);
    ASSERT_EQ(token_map.size(), map.size()); // one target, lambdas 1: the same objective
    for (size_t i = 0; i < map.size(); ++i) ASSERT_NEAR(token_map[i], map[i], 1e-5) << i;
}

TEST(reliance, influence_separates_visual_from_prior_tokens) {
    // target 0 appears once region 0 is visible; target 1 is likely whatever the image shows
    const eagle::region_set regions = eagle::make_grid_regions(40, 10, 4, 1);
    analytic_scorer sc(regions, 2, [](int32_t t, const std::vector<double> & kept) {
        return t == 0 ? float(0.02 + 0.9 * kept[0]) : 0.93f;
    });
    const eagle::explanation ex = eagle::explain(sc, dummy_request(40, 10, 2), regions, {});
    EXPECT_EQ(ex.order.front(), 0);
    EXPECT_TRUE(ex.reliance[0].is_visual);
    EXPECT_TRUE(ex.reliance[0].is_sensitive);
    EXPECT_FALSE(ex.reliance[1].is_visual);
    EXPECT_FALSE(ex.reliance[1].is_sensitive);
    // I_0 = AUC - min: curve 0.02 -> 0.92 at 25% area, flat after: 0.125*0.94 + 0.75*0.92 - 0.02
    EXPECT_NEAR(ex.reliance[0].influence, 0.125 * 0.94 + 0.75 * 0.92 - 0.02, 1e-5);
    EXPECT_NEAR(ex.reliance[1].influence, 0.0, 1e-6);
    EXPECT_FLOAT_EQ(ex.reliance[0].influence_normalized, 1.0f);
    EXPECT_FLOAT_EQ(ex.reliance[1].influence_normalized, 0.0f);
}

TEST(outputs, json_has_the_reference_keys_and_types_and_npy_partitions) {
    const eagle::region_set regions = eagle::make_grid_regions(40, 30, 4, 3);
    std::vector<double> w(12, 1.0 / 12);
    analytic_scorer sc = additive_scorer(regions, w);
    const eagle::explanation ex = eagle::explain(sc, dummy_request(40, 30, 1), regions, {});
    eagle::explanation_record rec;
    rec.words = {"a"};
    rec.answer = {1};
    rec.target_indices = {0};
    rec.target_ids = {1};
    rec.regions = regions;
    rec.result = ex;
    const nlohmann::ordered_json j = eagle::to_json(rec);
    for (const char * key : {"insertion_score", "deletion_score", "smdl_score", "region_area"}) {
        ASSERT_TRUE(j[key].is_array()) << key;
        ASSERT_EQ(j[key].size(), 12u) << key;
        for (const auto & v : j[key]) ASSERT_TRUE(v.is_number_float()) << key;
    }
    for (const char * key : {"insertion_word_score", "deletion_word_score"}) {
        ASSERT_EQ(j[key].size(), 12u);
        for (const auto & row : j[key]) {
            ASSERT_TRUE(row.is_array());
            ASSERT_EQ(row.size(), 1u);
        }
    }
    for (const char * key : {"org_score", "baseline_score", "selected_interpretation_token_id",
                             "selected_interpretation_token_word_id", "words"}) {
        ASSERT_TRUE(j[key].is_array()) << key;
    }
    EXPECT_TRUE(j["lambda1"].is_number());
    EXPECT_TRUE(j["lambda2"].is_number());
    EXPECT_EQ(j["sub-region_number"].get<int>(), 12);
    // float parameters are written as the decimal they were given (0.1, not 0.10000000149011612; the text checks
    // fail with a plain float-to-double widening) and read back from the text as the same float
    eagle::explain_params & given_params = rec.request.params;
    given_params.lambda1 = 0.3f;
    given_params.lambda2 = 0.7f;
    given_params.lazy.epsilon = 0.05f;
    given_params.shortlist.saturation = 0.9f;
    given_params.shortlist.stall_room = 1.0f / 3.0f;
    given_params.budget.stop_fraction = 0.6f;
    const std::string text = eagle::to_json(rec).dump();
    for (const char * written : {"\"lambda1\":0.3,", "\"lambda2\":0.7,", "\"lazy_epsilon\":0.05,", "\"shortlist_tolerance\":0.001,",
                                 "\"shortlist_rescreen_loss\":0.01,", "\"shortlist_saturation\":0.9,",
                                 "\"shortlist_stall_room\":0.33333334,", "\"shortlist_prior_margin\":0.1,",
                                 "\"shortlist_one_mask_margin\":0.001,", "\"shortlist_back_loss_predicted\":true,", "\"stop_fraction\":0.6}"}) {
        EXPECT_NE(text.find(written), std::string::npos) << written;
    }
    const nlohmann::json read_back = nlohmann::json::parse(text);
    EXPECT_EQ(read_back["lambda2"].get<float>(), given_params.lambda2);
    EXPECT_EQ(read_back["search"]["shortlist_stall_room"].get<float>(), given_params.shortlist.stall_room);
    EXPECT_EQ(read_back["search"]["shortlist_prior_margin"].get<float>(), given_params.shortlist.prior_margin);
    EXPECT_EQ(read_back["search"]["stop_fraction"].get<float>(), given_params.budget.stop_fraction);

    const std::string npy = std::string(EAGLE_TEST_TMP_DIR) + "/regions.npy";
    std::filesystem::create_directories(EAGLE_TEST_TMP_DIR);
    eagle::write_regions_npy(ex, regions, npy);
    std::ifstream in(npy, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_EQ(bytes.substr(0, 6), "\x93NUMPY");
    const size_t header_len = uint8_t(bytes[8]) | (uint8_t(bytes[9]) << 8);
    EXPECT_EQ((10 + header_len) % 64, 0u);
    EXPECT_NE(bytes.find("'shape': (12, 30, 40, 1)"), std::string::npos);
    const size_t offset = 10 + header_len, n_px = 40 * 30;
    ASSERT_EQ(bytes.size(), offset + 12 * n_px);
    for (size_t i = 0; i < n_px; ++i) {
        int covered = 0;
        for (size_t k = 0; k < 12; ++k) covered += bytes[offset + k * n_px + i];
        ASSERT_EQ(covered, 1) << "pixel " << i; // the ordered masks partition the image
    }
    // mask k is region order[k]
    for (size_t i = 0; i < n_px; ++i) EXPECT_EQ(bytes[offset + 0 * n_px + i] == 1, regions.labels[i] == ex.order[0]);
}

TEST(explain, bad_inputs) {
    const eagle::region_set regions = eagle::make_grid_regions(40, 10, 4, 1);
    analytic_scorer sc = additive_scorer(regions, {0.1, 0.2, 0.3, 0.4});
    EXPECT_THROW(eagle::explain(sc, dummy_request(40, 10, 0), regions, {}), eagle::error); // no targets
    EXPECT_THROW(eagle::explain(sc, dummy_request(41, 10, 1), regions, {}), eagle::error); // size mismatch
    eagle::explain_params p;
    p.budget.max_regions = -1;
    EXPECT_THROW(eagle::explain(sc, dummy_request(40, 10, 1), regions, p), eagle::error);
    EXPECT_THROW(eagle::search_mode_from_string("greedy"), eagle::error);
}

TEST(explain, cancellation_returns_a_partial_ranking) {
    const eagle::region_set regions = eagle::make_grid_regions(40, 40, 4, 4);
    analytic_scorer sc = additive_scorer(regions, std::vector<double>(16, 1.0 / 16));
    // the default search (two-sided shortlist) ranks a region from each end per step; cancelled, it keeps the front
    // (what was reported, less the back's removals, whose records still show the regions nobody took): every curve
    // entry k is the measured prefix of k + 1 regions (additive, equal weights: (k + 1) / 16)
    int32_t last_reported = 0;
    const eagle::explanation ex = eagle::explain(sc, dummy_request(40, 40, 1), regions, {},
                                                 [&](int32_t n_done, int32_t) { last_reported = n_done; return n_done < 3; });
    EXPECT_FALSE(ex.is_complete);
    EXPECT_LE(ex.order.size(), size_t(last_reported));
    EXPECT_GE(ex.order.size(), 2u);
    ASSERT_EQ(ex.insertion_score.size(), ex.order.size());
    ASSERT_EQ(ex.region_area.size(), ex.order.size());
    for (size_t k = 0; k < ex.order.size(); ++k) {
        EXPECT_NEAR(ex.insertion_score[k], (k + 1) / 16.0, 1e-6) << k;
        EXPECT_NEAR(ex.deletion_score[k], 1.0 - (k + 1) / 16.0, 1e-6) << k;
        EXPECT_NEAR(ex.region_area[k], (k + 1) / 16.0, 1e-6) << k;
    }
}

TEST(explain, a_cancelled_run_keeps_every_region_value_in_zero_one) {
    // unequal weights, so the ranked regions spread over [0, 1]; the run is cancelled after 3 of 16 regions
    const eagle::region_set regions = eagle::make_grid_regions(40, 40, 4, 4);
    std::vector<double> w(16);
    for (int i = 0; i < 16; ++i) w[i] = (1 + (i * 7) % 16) / 136.0;
    for (auto mode : {eagle::search_mode::exact, eagle::search_mode::lazy, eagle::search_mode::efficient, eagle::search_mode::shortlist}) {
        analytic_scorer sc = additive_scorer(regions, w);
        const eagle::explanation ex = eagle::explain(sc, dummy_request(40, 40, 1), regions, with_mode(mode),
                                                     [](int32_t n_done, int32_t) { return n_done < 3; });
        const char * name = eagle::search_mode_name(mode);
        ASSERT_FALSE(ex.is_complete) << name;
        ASSERT_LT(ex.order.size(), 16u) << name;
        ASSERT_EQ(ex.region_value.size(), 16u) << name;
        const std::set<int32_t> ranked(ex.order.begin(), ex.order.end());
        float lowest_ranked = 1.0f;
        for (int32_t r : ex.order) lowest_ranked = std::min(lowest_ranked, ex.region_value[r]);
        for (int32_t r = 0; r < 16; ++r) {
            EXPECT_GE(ex.region_value[r], 0.0f) << name << " region " << r;
            EXPECT_LE(ex.region_value[r], 1.0f) << name << " region " << r;
            if (!ranked.count(r)) {
                EXPECT_LE(ex.region_value[r], lowest_ranked) << name << " unranked region " << r;
            }
        }
        EXPECT_FLOAT_EQ(ex.region_value[ex.order.front()], 1.0f) << name;
        for (float v : eagle::token_gain_map(ex, regions, 0)) {
            EXPECT_GE(v, 0.0f) << name;
            EXPECT_LE(v, 1.0f) << name;
        }
    }
}

TEST(baselines, rank_a_planted_region_first) {
    // the targets depend on region 9 strongly, on the others weakly
    const eagle::region_set regions = eagle::make_grid_regions(60, 60, 4, 4);
    auto fn = [](int32_t t, const std::vector<double> & kept) {
        double p = 0.05 + 0.8 * kept[9];
        for (size_t i = 0; i < kept.size(); ++i) p += 0.004 * (i % 3) * kept[i];
        return float(std::min(1.0, p + 0.01 * t));
    };
    for (auto method : {eagle::attribution_method::occlusion, eagle::attribution_method::rise,
                        eagle::attribution_method::lime, eagle::attribution_method::eagle}) {
        analytic_scorer sc(regions, 2, fn);
        eagle::explain_params p;
        p.method = method;
        p.sampling.n_samples = 128;
        const eagle::explanation ex = eagle::explain(sc, dummy_request(60, 60, 2), regions, p);
        EXPECT_EQ(ex.order.front(), 9) << eagle::attribution_method_name(method);
        ASSERT_EQ(ex.order.size(), 16u);
        EXPECT_EQ(std::set<int32_t>(ex.order.begin(), ex.order.end()).size(), 16u);
        EXPECT_NEAR(ex.region_area.back(), 1.0f, 1e-6);
        EXPECT_FLOAT_EQ(ex.region_value[9], 1.0f) << eagle::attribution_method_name(method);
    }
}

TEST(baselines, random_order_is_seeded_and_measured_along_its_ranking) {
    const eagle::region_set regions = eagle::make_grid_regions(60, 60, 4, 4);
    analytic_scorer a = additive_scorer(regions, std::vector<double>(16, 1.0 / 16));
    analytic_scorer b = additive_scorer(regions, std::vector<double>(16, 1.0 / 16));
    analytic_scorer c = additive_scorer(regions, std::vector<double>(16, 1.0 / 16));
    eagle::explain_params p;
    p.method = eagle::attribution_method::random;
    const eagle::explanation x = eagle::explain(a, dummy_request(60, 60, 1), regions, p);
    const eagle::explanation y = eagle::explain(b, dummy_request(60, 60, 1), regions, p);
    p.sampling.seed = 2;
    const eagle::explanation z = eagle::explain(c, dummy_request(60, 60, 1), regions, p);
    EXPECT_EQ(x.order, y.order);
    EXPECT_NE(x.order, z.order);
    for (size_t k = 0; k < 16; ++k) EXPECT_NEAR(x.insertion_score[k], (k + 1) / 16.0, 1e-5);
    EXPECT_EQ(x.n_evaluations, 2 * 16 + 2 - 2); // prefixes along the order; the last equals the full image
}

TEST(methods, one_table_with_the_ablations) {
    const std::vector<std::string> names = eagle::method_names();
    EXPECT_EQ(names, (std::vector<std::string>{"eagle", "insight-only", "necessity-only", "random", "occlusion", "rise", "lime"}));
    for (const std::string & name : names) {
        eagle::explain_params p;
        p.lambda1 = 0.7f;
        p.lambda2 = 0.3f;
        eagle::set_method(p, name);
        if (name == "insight-only" || name == "necessity-only") {
            EXPECT_EQ(p.method, eagle::attribution_method::eagle);
            // the switched-off term is zeroed, the other is left as the caller set it
            EXPECT_EQ(p.lambda1, name == "insight-only" ? 0.7f : 0.0f) << name;
            EXPECT_EQ(p.lambda2, name == "insight-only" ? 0.0f : 0.3f) << name;
        } else {
            EXPECT_EQ(p.method, eagle::attribution_method_from_string(name));
            EXPECT_EQ(eagle::attribution_method_name(p.method), name);
            EXPECT_EQ(p.lambda1, 0.7f);
            EXPECT_EQ(p.lambda2, 0.3f);
        }
    }
    eagle::explain_params p;
    try {
        eagle::set_method(p, "gradcam");
        ADD_FAILURE() << "gradcam was accepted";
    } catch (const eagle::error & e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("'gradcam'"), std::string::npos) << what;
        for (const std::string & name : names) EXPECT_NE(what.find(name), std::string::npos) << what;
    }
    for (const std::string & name : eagle::search_mode_names()) {
        EXPECT_EQ(eagle::search_mode_name(eagle::search_mode_from_string(name)), name);
    }
}

TEST(maps, token_gain_map_follows_the_sentence_ranking) {
    // target 0 depends on region 0 strongly, target 1 on region 3 only: the sentence ranks region 0 first,
    // and target 1's gain map still puts region 0 on top. It is the target's share of the gains along the
    // sentence order, not the target's own ranking.
    const eagle::region_set regions = eagle::make_grid_regions(40, 10, 4, 1);
    analytic_scorer sc(regions, 2, [](int32_t t, const std::vector<double> & kept) {
        return t == 0 ? float(0.05 + 0.9 * kept[0] + 0.02 * kept[3]) : float(0.1 + 0.3 * kept[3] + 0.01 * kept[0]);
    });
    const eagle::explanation ex = eagle::explain(sc, dummy_request(40, 10, 2), regions, with_mode(eagle::search_mode::exact));
    ASSERT_EQ(ex.order.front(), 0);
    for (int32_t t = 0; t < 2; ++t) {
        const std::vector<float> map = eagle::token_gain_map(ex, regions, t);
        ASSERT_EQ(map.size(), regions.labels.size());
        std::vector<float> value(4);
        for (size_t i = 0; i < map.size(); ++i) value[regions.labels[i]] = map[i];
        for (float v : value) {
            EXPECT_GE(v, 0.0f);
            EXPECT_LE(v, 1.0f);
        }
        for (size_t k = 1; k < ex.order.size(); ++k) {
            EXPECT_GE(value[ex.order[k - 1]], value[ex.order[k]]) << "target " << t << " step " << k; // the sentence order
        }
        EXPECT_FLOAT_EQ(value[ex.order.front()], 1.0f) << "target " << t; // the sentence's top region, always
        if (t == 1) {
            EXPECT_FLOAT_EQ(value[3], 0.0f); // the region target 1 depends on shows as its lowest
        }
    }
    const std::vector<float> old_name = eagle::token_attribution_map(ex, regions, 1);
    EXPECT_EQ(old_name, eagle::token_gain_map(ex, regions, 1)); // the alias is the same function
}

TEST(explain_params, defaults_are_the_documented_ones) {
    // the documented defaults (explain.h): EAGLE with the two-sided shortlist search, both terms, no budget, and
    // the reference's efficient-search window; the CLI and explanation.json show these values
    const eagle::explain_params p;
    EXPECT_EQ(p.lambda1, 1.0f);
    EXPECT_EQ(p.lambda2, 1.0f);
    EXPECT_EQ(p.method, eagle::attribution_method::eagle);
    EXPECT_EQ(p.mode, eagle::search_mode::shortlist);
    EXPECT_EQ(p.budget.max_regions, 0);
    EXPECT_EQ(p.budget.stop_fraction, 0.0f);
    EXPECT_EQ(p.lazy.batch, 8);
    EXPECT_EQ(p.lazy.epsilon, 0.0f);
    EXPECT_EQ(p.shortlist.n_top, 1);
    EXPECT_TRUE(p.shortlist.predict_gains);
    EXPECT_EQ(p.shortlist.n_top_last_known, 1);
    EXPECT_EQ(p.shortlist.max_rounds, 1);
    EXPECT_TRUE(p.shortlist.use_neighbours);
    EXPECT_EQ(p.shortlist.max_neighbours, 0);
    EXPECT_EQ(p.shortlist.tolerance, 1e-3f);
    EXPECT_EQ(p.shortlist.rescreen_loss, 0.01f);
    EXPECT_EQ(p.shortlist.rescreen_predicted, 8);
    EXPECT_EQ(p.shortlist.rescreen_every, 0);
    EXPECT_EQ(p.shortlist.rescreen_first, 1);
    EXPECT_EQ(p.shortlist.saturation, 1.0f);
    EXPECT_EQ(p.shortlist.stall_room, 0.25f);
    EXPECT_TRUE(p.shortlist.stall_backoff);
    EXPECT_FALSE(p.shortlist.back_neighbours);
    EXPECT_TRUE(p.shortlist.back_rescreen);
    EXPECT_TRUE(p.shortlist.back_loss_predicted);
    EXPECT_EQ(p.shortlist.prior_margin, 0.1f);
    EXPECT_EQ(p.shortlist.one_mask_margin, 1e-3f);
    EXPECT_TRUE(p.shortlist.two_sided);
    EXPECT_EQ(p.efficient.search_scope, 10);
    EXPECT_EQ(p.efficient.pending_samples, 8);
    EXPECT_EQ(p.efficient.update_step, 5);
    EXPECT_EQ(p.sampling.seed, 1u);
    EXPECT_EQ(p.sampling.n_samples, 256);
}

// explain() refuses p with errc::invalid_argument and a message that contains `needle`
static void expect_rejected(eagle::scorer & sc, const eagle::region_set & regions, const eagle::explain_params & p,
                     const std::string & name, const std::string & needle) {
    try {
        eagle::explain(sc, dummy_request(40, 10, 1), regions, p);
        ADD_FAILURE() << name << " was accepted";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument) << name;
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

// The efficient search and the two-sided shortlist search (the default) build the order from both ends at once,
// so "stop after k regions" has no meaning for them: a budget with them is one error naming the budget and the
// searches that take one.
TEST(search, a_budget_with_a_search_from_both_ends_is_an_error_naming_it) {
    const eagle::region_set regions = eagle::make_grid_regions(40, 10, 4, 1);
    analytic_scorer sc = additive_scorer(regions, {0.1, 0.2, 0.3, 0.4});
    eagle::explain_params p;
    p.mode = eagle::search_mode::efficient;
    p.budget.max_regions = 2;
    expect_rejected(sc, regions, p, "a region budget", "budget (max_regions 2, stop_fraction 0) needs the exact, lazy or one-sided shortlist search");
    p.budget.max_regions = 0;
    p.budget.stop_fraction = 0.5f;
    expect_rejected(sc, regions, p, "a score budget", "stop_fraction 0.5) needs");
    p = eagle::explain_params{}; // the default: the two-sided shortlist search
    ASSERT_EQ(p.mode, eagle::search_mode::shortlist);
    ASSERT_TRUE(p.shortlist.two_sided);
    p.budget.stop_fraction = 0.5f;
    expect_rejected(sc, regions, p, "a budget, two-sided", "the shortlist search ranks from both ends");
    p.budget.stop_fraction = 0.0f;
    p.shortlist.saturation = 0.99f;
    expect_rejected(sc, regions, p, "saturation, two-sided", "shortlist.saturation 0.99 needs a one-sided shortlist search");
    p.shortlist = {};
    p.budget.stop_fraction = 0.5f;
    p.mode = eagle::search_mode::lazy; // the same budget is fine where it means something
    EXPECT_NO_THROW(eagle::explain(sc, dummy_request(40, 10, 1), regions, p));
}

TEST(explain_params, every_nested_knob_is_checked) {
    const eagle::region_set regions = eagle::make_grid_regions(40, 10, 4, 1);
    analytic_scorer sc = additive_scorer(regions, {0.1, 0.2, 0.3, 0.4});
    const std::vector<std::pair<std::string, std::function<void(eagle::explain_params &)>>> bad = {
        {"budget.max_regions", [](eagle::explain_params & p) { p.budget.max_regions = -1; }},
        {"budget.stop_fraction", [](eagle::explain_params & p) { p.budget.stop_fraction = -0.5f; }},
        {"lazy.batch", [](eagle::explain_params & p) { p.lazy.batch = 0; }},
        {"lazy.epsilon", [](eagle::explain_params & p) { p.lazy.epsilon = -1.0f; }},
        {"shortlist.n_top", [](eagle::explain_params & p) { p.shortlist.n_top = 0; }},
        {"shortlist.max_rounds", [](eagle::explain_params & p) { p.shortlist.max_rounds = -1; }},
        {"shortlist.rescreen_every", [](eagle::explain_params & p) { p.shortlist.rescreen_every = -2; }},
        {"shortlist.rescreen_first", [](eagle::explain_params & p) { p.shortlist.rescreen_first = 0; }},
        {"shortlist.rescreen_predicted", [](eagle::explain_params & p) { p.shortlist.rescreen_predicted = -1; }},
        {"shortlist.n_top_last_known", [](eagle::explain_params & p) { p.shortlist.n_top_last_known = -1; }},
        {"shortlist.saturation", [](eagle::explain_params & p) { p.shortlist.saturation = 0.0f; }},
        {"shortlist.tolerance", [](eagle::explain_params & p) { p.shortlist.tolerance = -1e-3f; }},
        {"shortlist.rescreen_loss", [](eagle::explain_params & p) { p.shortlist.rescreen_loss = -0.5f; }},
        {"shortlist.stall_room", [](eagle::explain_params & p) { p.shortlist.stall_room = -0.1f; }},
        {"shortlist.prior_margin", [](eagle::explain_params & p) { p.shortlist.prior_margin = -0.1f; }},
        {"shortlist.max_neighbours", [](eagle::explain_params & p) { p.shortlist.max_neighbours = -1; }},
        {"shortlist.one_mask_margin", [](eagle::explain_params & p) { p.shortlist.one_mask_margin = 1.0f; }},
        {"efficient.search_scope", [](eagle::explain_params & p) { p.efficient.search_scope = 0; }},
        {"efficient.pending_samples", [](eagle::explain_params & p) { p.efficient.pending_samples = 0; }},
        {"efficient.update_step", [](eagle::explain_params & p) { p.efficient.update_step = 0; }},
        {"sampling.n_samples", [](eagle::explain_params & p) { p.sampling.n_samples = 1; }},
    };
    for (const auto & [name, spoil] : bad) {
        eagle::explain_params p;
        spoil(p);
        expect_rejected(sc, regions, p, name, name); // names the parameter
    }
}

// issue 13: `eagle explain --lambda1 nan` ran to the end and wrote all-null scores; negative and infinite
// weights were accepted. Every float is now checked for finiteness and range, naming the parameter and the value.
TEST(explain_params, non_finite_and_out_of_range_floats_are_rejected_with_their_value) {
    const eagle::region_set regions = eagle::make_grid_regions(40, 10, 4, 1);
    analytic_scorer sc = additive_scorer(regions, {0.1, 0.2, 0.3, 0.4});
    const float nan = std::nanf(""), inf = INFINITY;
    const std::vector<std::tuple<std::string, std::function<void(eagle::explain_params &)>, std::string>> bad = {
        {"lambda1", [=](eagle::explain_params & p) { p.lambda1 = nan; }, "explain: lambda1 must be finite and >= 0, got nan"},
        {"lambda1", [=](eagle::explain_params & p) { p.lambda1 = -1.0f; }, "explain: lambda1 must be finite and >= 0, got -1"},
        {"lambda2", [=](eagle::explain_params & p) { p.lambda2 = inf; }, "explain: lambda2 must be finite and >= 0, got inf"},
        {"lambda2", [=](eagle::explain_params & p) { p.lambda2 = -inf; }, "got -inf"},
        {"both", [=](eagle::explain_params & p) { p.lambda1 = p.lambda2 = 0.0f; }, "lambda1 or lambda2 must be > 0"},
        {"stop_fraction", [=](eagle::explain_params & p) { p.budget.stop_fraction = nan; }, "budget.stop_fraction must be finite and in [0, 1], got nan"},
        {"stop_fraction", [=](eagle::explain_params & p) { p.budget.stop_fraction = 1.5f; }, "budget.stop_fraction must be finite and in [0, 1], got 1.5"},
        {"epsilon", [=](eagle::explain_params & p) { p.lazy.epsilon = inf; }, "lazy.epsilon must be finite and >= 0, got inf"},
        {"one_mask_margin", [=](eagle::explain_params & p) { p.shortlist.one_mask_margin = nan; },
         "shortlist.one_mask_margin must be finite and in [0, 1) (0 = off), got nan"},
    };
    for (const auto & [name, spoil, message] : bad) {
        eagle::explain_params p;
        spoil(p);
        expect_rejected(sc, regions, p, name, message);
        EXPECT_THROW(eagle::check_explain_params(p), eagle::error) << name;
    }
    // the edges stay valid: one-sided objectives (the ablations), stop_fraction 1 (with a search that takes a budget)
    eagle::explain_params p = with_mode(eagle::search_mode::lazy);
    p.lambda1 = 0.0f;
    p.budget.stop_fraction = 1.0f;
    EXPECT_NO_THROW(eagle::check_explain_params(p));
    EXPECT_NO_THROW(eagle::check_explain_params(eagle::explain_params{}));
}
