// explain(): checks the parameters, scores the two ends (empty and full image), runs the chosen search
// (greedy.cpp) or baseline (baselines.cpp), and derives the gains, the map and the reliance (attribution.cpp).
// Also the one table of search and method names. See ../shared/method/eagle-reference.md §2-§5.
#include "search-internal.h"

#include "eagle/error.h"
#include "common/timing.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace eagle {

namespace {

constexpr std::pair<const char *, search_mode> k_search_modes[] = {
    {"exact", search_mode::exact},
    {"efficient", search_mode::efficient},
    {"lazy", search_mode::lazy},
    {"shortlist", search_mode::shortlist},
};

// the names set_method accepts; an ablation is EAGLE with one lambda zeroed
struct method_entry {
    const char * name;
    attribution_method method;
    bool is_ablation;    // not an attribution_method of its own
    bool keeps_insight;   // false: lambda1 = 0
    bool keeps_necessity; // false: lambda2 = 0
};
constexpr method_entry k_methods[] = {
    {"eagle", attribution_method::eagle, false, true, true},
    {"insight-only", attribution_method::eagle, true, true, false},
    {"necessity-only", attribution_method::eagle, true, false, true},
    {"random", attribution_method::random, false, true, true},
    {"occlusion", attribution_method::occlusion, false, true, true},
    {"rise", attribution_method::rise, false, true, true},
    {"lime", attribution_method::lime, false, true, true},
};

// "a, b or c", for the error messages
std::string one_of(const std::vector<std::string> & names) {
    std::string out;
    for (size_t i = 0; i < names.size(); ++i) {
        out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
    }
    return out;
}

std::vector<std::string> attribution_method_names() {
    std::vector<std::string> out;
    for (const method_entry & m : k_methods) {
        if (!m.is_ablation) out.push_back(m.name);
    }
    return out;
}

} // namespace

search_mode search_mode_from_string(const std::string & name) {
    for (const auto & [n, mode] : k_search_modes) {
        if (name == n) return mode;
    }
    throw error(errc::invalid_argument, "unknown search '" + name + "' (expected " + one_of(search_mode_names()) + ")");
}

const char * search_mode_name(search_mode mode) {
    for (const auto & [n, m] : k_search_modes) {
        if (m == mode) return n;
    }
    return "lazy";
}

std::vector<std::string> search_mode_names() {
    std::vector<std::string> out;
    for (const auto & entry : k_search_modes) out.push_back(entry.first);
    return out;
}

attribution_method attribution_method_from_string(const std::string & name) {
    for (const method_entry & m : k_methods) {
        if (!m.is_ablation && name == m.name) return m.method;
    }
    throw error(errc::invalid_argument, "unknown method '" + name + "' (expected " + one_of(attribution_method_names()) + ")");
}

const char * attribution_method_name(attribution_method method) {
    for (const method_entry & m : k_methods) {
        if (!m.is_ablation && m.method == method) return m.name;
    }
    return "eagle";
}

std::vector<std::string> method_names() {
    std::vector<std::string> out;
    for (const method_entry & m : k_methods) out.push_back(m.name);
    return out;
}

void set_method(explain_params & params, const std::string & name) {
    for (const method_entry & m : k_methods) {
        if (name != m.name) continue;
        params.method = m.method;
        if (!m.keeps_insight) params.lambda1 = 0.0f;
        if (!m.keeps_necessity) params.lambda2 = 0.0f;
        return;
    }
    throw error(errc::invalid_argument, "unknown method '" + name + "' (expected " + one_of(method_names()) + ")");
}

namespace {

// a float as the user wrote it: nan, inf, -1, 0.25 (std::to_string would say -1.000000)
std::string number_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

// One error per bad value, naming the parameter and the value: the library's boundary, so every front end
// (CLI, bindings, servers) gets the same checks. Non-finite floats are rejected everywhere: a NaN lambda
// used to run to the end and write all-null scores.
void check_params(const explain_params & params) {
    auto fail = [](const std::string & what, const std::string & value, const char * rule) {
        throw error(errc::invalid_argument, "explain: " + what + " must be " + rule + ", got " + value);
    };
    auto check_weight = [&](const char * name, float value) {
        if (!std::isfinite(value) || value < 0.0f) fail(name, number_text(value), "finite and >= 0");
    };
    check_weight("lambda1", params.lambda1);
    check_weight("lambda2", params.lambda2);
    if (params.lambda1 == 0.0f && params.lambda2 == 0.0f) {
        fail("lambda1 or lambda2", "both 0", "> 0 (the objective would be constant)");
    }
    if (params.budget.max_regions < 0) fail("budget.max_regions", std::to_string(params.budget.max_regions), ">= 0");
    if (!std::isfinite(params.budget.stop_fraction) || params.budget.stop_fraction < 0.0f || params.budget.stop_fraction > 1.0f) {
        fail("budget.stop_fraction", number_text(params.budget.stop_fraction), "finite and in [0, 1]");
    }
    if (!std::isfinite(params.lazy.epsilon) || params.lazy.epsilon < 0.0f) {
        fail("lazy.epsilon", number_text(params.lazy.epsilon), "finite and >= 0");
    }
    if (params.lazy.batch < 1) fail("lazy.batch", std::to_string(params.lazy.batch), ">= 1");
    if (params.shortlist.n_top < 1) fail("shortlist.n_top", std::to_string(params.shortlist.n_top), ">= 1");
    if (params.shortlist.max_rounds < 0) fail("shortlist.max_rounds", std::to_string(params.shortlist.max_rounds), ">= 0");
    if (!std::isfinite(params.shortlist.tolerance) || params.shortlist.tolerance < 0.0f) {
        fail("shortlist.tolerance", number_text(params.shortlist.tolerance), "finite and >= 0");
    }
    if (!std::isfinite(params.shortlist.rescreen_loss) || params.shortlist.rescreen_loss < 0.0f) {
        fail("shortlist.rescreen_loss", number_text(params.shortlist.rescreen_loss), "finite and >= 0");
    }
    if (params.shortlist.rescreen_every < 0) {
        fail("shortlist.rescreen_every", std::to_string(params.shortlist.rescreen_every), ">= 0");
    }
    if (params.shortlist.n_top_last_known < 0) {
        fail("shortlist.n_top_last_known", std::to_string(params.shortlist.n_top_last_known), ">= 0");
    }
    if (params.shortlist.rescreen_predicted < 0) {
        fail("shortlist.rescreen_predicted", std::to_string(params.shortlist.rescreen_predicted), ">= 0 (0 = all at once)");
    }
    if (params.shortlist.rescreen_first < 1) {
        fail("shortlist.rescreen_first", std::to_string(params.shortlist.rescreen_first), ">= 1");
    }
    if (params.shortlist.max_neighbours < 0) {
        fail("shortlist.max_neighbours", std::to_string(params.shortlist.max_neighbours), ">= 0 (0 = all)");
    }
    if (!std::isfinite(params.shortlist.stall_room) || params.shortlist.stall_room < 0.0f) {
        fail("shortlist.stall_room", number_text(params.shortlist.stall_room), "finite and >= 0");
    }
    if (!std::isfinite(params.shortlist.prior_margin) || params.shortlist.prior_margin < 0.0f) {
        fail("shortlist.prior_margin", number_text(params.shortlist.prior_margin), "finite and >= 0");
    }
    if (!std::isfinite(params.shortlist.one_mask_margin) || params.shortlist.one_mask_margin < 0.0f ||
        params.shortlist.one_mask_margin >= 1.0f) {
        fail("shortlist.one_mask_margin", number_text(params.shortlist.one_mask_margin), "finite and in [0, 1) (0 = off)");
    }
    if (!std::isfinite(params.shortlist.saturation) || params.shortlist.saturation <= 0.0f || params.shortlist.saturation > 1.0f) {
        fail("shortlist.saturation", number_text(params.shortlist.saturation), "finite and in (0, 1]");
    }
    if (params.sampling.n_samples < 2) fail("sampling.n_samples", std::to_string(params.sampling.n_samples), ">= 2");
    if (params.efficient.search_scope < 1) fail("efficient.search_scope", std::to_string(params.efficient.search_scope), ">= 1");
    if (params.efficient.pending_samples < 1) {
        fail("efficient.pending_samples", std::to_string(params.efficient.pending_samples), ">= 1");
    }
    if (params.efficient.update_step < 1) fail("efficient.update_step", std::to_string(params.efficient.update_step), ">= 1");
    const bool from_both_ends = params.mode == search_mode::efficient || (params.mode == search_mode::shortlist && params.shortlist.two_sided);
    if (params.method == attribution_method::eagle && params.mode == search_mode::shortlist && params.shortlist.two_sided &&
        params.shortlist.saturation < 1.0f) {
        throw error(errc::invalid_argument, "explain: shortlist.saturation " + number_text(params.shortlist.saturation) +
                                                " needs a one-sided shortlist search: the two-sided one ranks from both ends of the order");
    }
    if (from_both_ends && params.method == attribution_method::eagle &&
        (params.budget.max_regions > 0 || params.budget.stop_fraction > 0.0f)) {
        throw error(errc::invalid_argument, "explain: a budget (max_regions " + std::to_string(params.budget.max_regions) +
                                                ", stop_fraction " + number_text(params.budget.stop_fraction) +
                                                ") needs the exact, lazy or one-sided shortlist search: the " +
                                                search_mode_name(params.mode) + " search ranks from both ends of the order at once");
    }
}

} // namespace

void check_explain_params(const explain_params & params) { check_params(params); }


namespace {

// The regions must cover exactly the prompt's images, one part per image, so no region can lie in an image the
// prompt does not show.
void check_regions_cover_images(const region_set & regions, const score_request & request) {
    const std::vector<const image_rgb8 *> images = request_images(request.image, request.more_images);
    if (n_images(regions) != images.size()) {
        throw error(errc::invalid_argument, "explain: regions cover " + std::to_string(n_images(regions)) +
                                                " images but the prompt has " + std::to_string(images.size()));
    }
    for (size_t k = 0; k < images.size(); ++k) {
        const int32_t nx = regions.parts.empty() ? regions.nx : regions.parts[k].nx;
        const int32_t ny = regions.parts.empty() ? regions.ny : regions.parts[k].ny;
        if (nx != images[k]->nx || ny != images[k]->ny) {
            throw error(errc::invalid_argument, "explain: regions" + (images.size() > 1 ? " of image " + std::to_string(k + 1) : std::string()) +
                                                    " are " + std::to_string(nx) + "x" + std::to_string(ny) + " but the image is " +
                                                    std::to_string(images[k]->nx) + "x" + std::to_string(images[k]->ny));
        }
    }
}

} // namespace

explanation explain(scorer & sc, const score_request & request, const region_set & regions, const explain_params & params,
                    const progress_callback & progress) {
    using namespace detail;
    const int64_t t_start_us = time_us();
    if (regions.n_regions < 1) {
        throw error(errc::invalid_argument, "explain: no regions to rank");
    }
    check_regions_cover_images(regions, request);
    check_explain_params(params);
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
    const budget limit{params.budget, full.ins_mean};
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
            case search_mode::lazy:      search_lazy(ex, log, eval, limit, params.lazy, progress, n, f_empty); break;
            case search_mode::shortlist:
                search_shortlist(ex, log, eval, regions, limit, params, progress, n, full, empty);
                break;
            case search_mode::efficient: search_efficient(ex, eval, regions, params.efficient, progress, n, full, empty); break;
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
    compute_reliance(ex);
    const scorer_stats stats_after = sc.stats();
    ex.n_evaluations = stats_after.n_evaluations - stats_before.n_evaluations;
    ex.n_memo_hits   = stats_after.n_memo_hits - stats_before.n_memo_hits;
    ex.t_search_us   = time_us() - t_start_us;
    return ex;
}

} // namespace eagle
