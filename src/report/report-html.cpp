// report.html: one self-contained page per explanation, rendered from the typed record. Everything it shows is
// inlined (PNGs as base64 data URIs, curves as SVG, the CSS and a few lines of JavaScript from assets/, embedded at
// build time), so the file can be mailed, archived or opened offline and looks the same everywhere. The AUCs it
// shows are the metrics' own (sentence_curves, curve_metrics), so the page and `eagle eval` cannot disagree.
// Every text from the run (token pieces, prompt, answer, paths) goes through escape_html: token pieces are
// arbitrary bytes (byte-fallback tokens split UTF-8 sequences) and may contain markup.
#include "eagle/report.h"

#include "eagle/error.h"
#include "html-parts.h"
#include "assets/report.css.h" // k_report_css (src/report/assets, embedded by cmake/embed.cmake)
#include "assets/report.js.h"  // k_report_js

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace eagle {

using namespace eagle::html;

namespace {

// one target's curves as the metrics build a sentence's: the column of that target
explanation_log token_log(const explanation & ex, size_t t) {
    explanation_log log;
    for (size_t k = 0; k < ex.region_area.size(); ++k) {
        log.insertion_score.push_back(ex.insertion_word_score[k][t]);
        log.deletion_score.push_back(ex.deletion_word_score[k][t]);
        log.region_area.push_back(ex.region_area[k]);
    }
    return log;
}

double mean_of(const std::vector<float> & v) {
    double s = 0;
    size_t n = 0;
    for (float x : v) {
        if (std::isfinite(x)) {
            s += x;
            ++n;
        }
    }
    return n ? s / double(n) : NAN;
}

} // namespace

std::string render_html_report(const explanation_record & rec, const explanation_images & images) {
    const explanation & ex = rec.result;
    const size_t n_targets = ex.reliance.size();
    const size_t n_steps = ex.region_area.size();
    if (!images.token_overlays.empty() && images.token_overlays.size() != n_targets) {
        throw error(errc::invalid_argument, "render_html_report: " + std::to_string(images.token_overlays.size()) +
                                                " token overlays for " + std::to_string(n_targets) + " targets");
    }
    if (ex.insertion_score.size() != n_steps || ex.deletion_score.size() != n_steps ||
        ex.insertion_word_score.size() != n_steps || ex.deletion_word_score.size() != n_steps || n_steps == 0) {
        throw error(errc::invalid_argument, "render_html_report: insertion_score has " + std::to_string(ex.insertion_score.size()) +
                                                " entries, deletion_score " + std::to_string(ex.deletion_score.size()) +
                                                ", region_area " + std::to_string(n_steps) + "; expected the same, at least one");
    }
    for (size_t k = 0; k < n_steps; ++k) {
        if (ex.insertion_word_score[k].size() != n_targets || ex.deletion_word_score[k].size() != n_targets) {
            throw error(errc::invalid_argument, "render_html_report: ranking step " + std::to_string(k) + " has " +
                                                    std::to_string(ex.insertion_word_score[k].size()) + " word scores for " +
                                                    std::to_string(n_targets) + " targets");
        }
    }
    const std::vector<std::string> & words = rec.words;
    const std::vector<float> & area = ex.region_area;
    const std::vector<float> & gains_f = ex.marginal_gain;
    const std::vector<double> gains(gains_f.begin(), gains_f.end());

    // target t of answer position i
    std::vector<int> target_of(words.size(), -1);
    for (size_t t = 0; t < n_targets && t < rec.target_indices.size(); ++t) {
        const int32_t index = rec.target_indices[t];
        if (index >= 0 && size_t(index) < words.size()) {
            target_of[size_t(index)] = int(t);
        }
    }
    const auto target_index = [&](size_t t) { return t < rec.target_indices.size() ? int64_t(rec.target_indices[t]) : int64_t(-1); };
    const auto target_word = [&](size_t t) {
        const int64_t i = target_index(t);
        return display_piece(i >= 0 && size_t(i) < words.size() ? words[size_t(i)] : std::string());
    };
    const auto verdict_of = [&](size_t t) { return std::string(ex.reliance[t].is_visual ? "vision" : "language"); };
    const double org_mean = mean_of(ex.org_score), base_mean = mean_of(ex.baseline_score);

    // insertion: x = area visible (from nothing: the black image); deletion: x = area still visible after
    // removing the top regions (from everything: the full image). The curves and their AUCs are the metrics'.
    const auto curves = [&](const explanation_log & log, double & auc_ins, double & auc_del) {
        const faithfulness_curves c = sentence_curves(log);
        const faithfulness m = curve_metrics(c);
        auc_ins = m.insertion_auc;
        auc_del = m.deletion_auc;
        series si{"insertion", "#e8590c", {}};
        series sd{"deletion", "#1c7ed6", {}};
        for (size_t i = 0; i < c.x_insertion.size(); ++i) si.points.emplace_back(c.x_insertion[i], c.y_insertion[i]);
        for (size_t i = 0; i < c.x_deletion.size(); ++i) sd.points.emplace_back(c.x_deletion[i], c.y_deletion[i]);
        const double p_black = c.y_insertion.front(), p_full = c.y_deletion.front();
        return line_chart({si, sd}, "share of the image visible", "probability",
                          {{p_full, "p_full " + fmt(p_full, 2)}, {p_black, "p_black " + fmt(p_black, 2)}});
    };

    const nlohmann::ordered_json j = to_json(rec); // the parameters table shows the file's own keys
    const std::string & prompt = rec.request.prompt;
    const std::string & answer = rec.answer_text;
    const std::string & model_path = rec.engine.model_path;
    const std::string & mmproj_path = rec.engine.mmproj_path;
    const int64_t n_eval = ex.n_evaluations;
    const int64_t n_eval_exact = int64_t(ex.n_regions) * (ex.n_regions + 1);
    const int64_t n_memo = ex.n_memo_hits;
    const int64_t t_us = ex.t_search_us;
    const int64_t n_regions = ex.n_regions;
    const size_t n_ranked = size_t(std::max(0, ex.n_ranked));
    const bool is_complete = ex.is_complete;

    std::string h;
    h.reserve(1 << 20);
    h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<meta name=\"generator\" content=\"eagle.cpp\">\n<title>EAGLE · " +
         escape_html(answer.substr(0, 80)) + "</title>\n<style>" + std::string(k_report_css) + "</style>\n</head>\n<body>\n";

    // --- header ---
    h += "<section class=\"card head\"><h1>EAGLE explanation<small>which image regions make the model say its answer</small></h1>";
    h += "<dl class=\"qa\"><dt>Prompt</dt><dd>" + (prompt.empty() ? "<span class=\"muted\">(not recorded)</span>" : escape_html(prompt)) +
         "</dd><dt>Answer</dt><dd class=\"answer\">" + escape_html(answer) + "</dd></dl>";
    h += "<div class=\"meta\">";
    const auto pill = [&](const std::string & label, const std::string & value, const std::string & tip = "", bool warn = false) {
        h += "<span class=\"pill" + std::string(warn ? " warn" : "") + "\"" + (tip.empty() ? "" : " title=\"" + escape_html(tip) + "\"") +
             ">" + escape_html(label) + " <b>" + escape_html(value) + "</b></span>";
    };
    if (!model_path.empty()) pill("model", basename_of(model_path), model_path);
    if (!mmproj_path.empty()) pill("mmproj", basename_of(mmproj_path), mmproj_path);
    if (!rec.engine.llama_cpp_version.empty()) pill("llama.cpp", rec.engine.llama_cpp_version);
    if (!rec.engine.eagle_version.empty()) pill("eagle", rec.engine.eagle_version);
    pill("search", search_mode_name(rec.request.params.mode));
    pill("regions", std::to_string(n_regions) + (n_ranked < area.size() ? " (" + std::to_string(n_ranked) + " ranked)" : ""));
    pill("evaluations", fmt_count(n_eval) + " / " + fmt_count(n_eval_exact) + " exact" +
                            (n_eval_exact > 0 ? " (" + fmt_percent(double(n_eval) / double(n_eval_exact), 0) + ")" : ""),
         "masked images scored by the model, against the reference's exact greedy n(n+1)");
    pill("memo hits", fmt_count(n_memo), "masks answered from the scorer's memo, not scored again");
    pill("time", fmt_duration_us(t_us), "search wall time");
    if (!is_complete) pill("status", "cancelled: partial ranking", "", true);
    h += "</div></section>\n";

    // --- reliance strip ---
    h += "<section class=\"card\"><h2>Reliance on the image, token by token</h2><div class=\"strip\" id=\"strip\">";
    for (size_t i = 0; i < words.size(); ++i) {
        const int t = target_of[i];
        const std::string shown = escape_html(display_piece(words[i]));
        if (t < 0) {
            h += "<span class=\"chip\" title=\"not a target: " + escape_html("'" + words[i] + "'") + "\">" + shown + "</span>";
            continue;
        }
        const token_reliance & r = ex.reliance[size_t(t)];
        const double v = r.influence_normalized;
        const std::string verdict = verdict_of(size_t(t));
        const std::string tip = "'" + words[i] + "' (token " + std::to_string(i) + ")\nverdict: " + verdict +
                                (r.is_sensitive ? " (sensitive)" : "") + "\ninfluence: " + fmt(r.influence) +
                                " (normalized " + fmt(v, 2) + ")" + "\np_black: " + fmt(r.p_black) + "\np_full: " + fmt(r.p_full);
        const bool dark = std::isfinite(v) && std::abs(v - 0.5) > 0.3;
        h += "<button type=\"button\" class=\"chip target" + std::string(dark ? " dark" : "") + "\" data-key=\"t" +
             std::to_string(t) + "\" data-verdict=\"" + escape_html(verdict) + "\" style=\"background:" +
             css(reliance_color(v)) + "\" title=\"" + escape_html(tip) + "\">" + shown + "</button>";
    }
    if (words.empty()) {
        h += "<span class=\"muted\">(no answer tokens recorded)</span>";
    }
    h += "</div><div class=\"scale\"><span>language prior</span><span class=\"bar\"></span><span>vision</span>"
         "<span>· color = normalized influence; grey = not explained; click a token to see its map and curves</span></div>";
    const std::string rule = j["reliance_rule"].get<std::string>();
    if (!rule.empty()) {
        h += "<div class=\"scale\">" + escape_html(rule) + "</div>";
    }
    h += "</section>\n";

    // --- explorer: image, overlay of the selection, curves ---
    h += "<section class=\"card\"><div class=\"explorer-head\"><h2>Attribution</h2><select id=\"token-select\" aria-label=\"token\">"
         "<option value=\"all\">whole answer</option>";
    for (size_t t = 0; t < n_targets; ++t) {
        h += "<option value=\"t" + std::to_string(t) + "\">" + escape_html(target_word(t)) + "  · token " +
             std::to_string(target_index(t)) + " · " + escape_html(verdict_of(t)) + "</option>";
    }
    h += "</select></div><div class=\"explorer\"><figure>" + img_tag(images.image, "input image") +
         "<figcaption>input image</figcaption></figure>";

    // whole answer
    {
        double auc_i = 0, auc_d = 0;
        const std::string chart = curves(to_eval_sample(rec, "report").log, auc_i, auc_d);
        int n_vision = 0;
        for (size_t t = 0; t < n_targets; ++t) {
            n_vision += ex.reliance[t].is_visual;
        }
        h += "<div class=\"panel\" data-key=\"all\"><figure>" +
             img_tag(images.overlay, "sentence-level attribution overlay", "overlay") +
             "<figcaption>sentence-level attribution (viridis: yellow = most important)</figcaption></figure><div>"
             "<div class=\"panel-title\">Whole answer <span class=\"muted\">· mean over " + std::to_string(n_targets) +
             " target tokens</span></div>" +
             legend({{"#e8590c", "insertion (top regions alone)"}, {"#1c7ed6", "deletion (top regions removed)"}}) + chart +
             "<div class=\"stats\">" + stat("p_black (mean)", fmt(base_mean)) + stat("p_full (mean)", fmt(org_mean)) +
             stat("vision / language", std::to_string(n_vision) + " / " + std::to_string(int(n_targets) - n_vision)) +
             stat("insertion AUC", fmt(auc_i), "higher is better") + stat("deletion AUC", fmt(auc_d), "lower is better") +
             stat("regions", std::to_string(n_regions)) + "</div></div></div>";
    }
    for (size_t t = 0; t < n_targets; ++t) {
        const token_reliance & r = ex.reliance[t];
        double auc_i = 0, auc_d = 0;
        const double p_black = r.p_black, p_full = r.p_full;
        const std::string chart = curves(token_log(ex, t), auc_i, auc_d);
        const std::string verdict = verdict_of(t);
        const bool sensitive = r.is_sensitive;
        const int64_t index = target_index(t);
        h += "<div class=\"panel\" data-key=\"t" + std::to_string(t) + "\" hidden><figure>" +
             (images.token_overlays.empty() ? std::string("<div class=\"img-missing\">no token overlay</div>")
                                           : img_tag(images.token_overlays[t], "attribution of '" + target_word(t) + "'", "overlay")) +
             "<figcaption>this token's share of the gains along the whole answer's ranking (viridis)</figcaption></figure><div>"
             "<div class=\"panel-title\"><code>" + escape_html(target_word(t)) + "</code> <span class=\"muted\">token " +
             std::to_string(index) + "</span> <span class=\"verdict " + (verdict == "vision" ? "vision" : "language") + "\">" +
             escape_html(verdict) + "</span>" + (sensitive ? " <span class=\"muted\">sensitive</span>" : "") + "</div>" +
             legend({{"#e8590c", "insertion"}, {"#1c7ed6", "deletion"}}) + chart + "<div class=\"stats\">" +
             stat("p_black", fmt(p_black), "probability with every region removed (language prior)") +
             stat("p_full", fmt(p_full), "probability on the whole image") +
             stat("influence", fmt(r.influence), "AUC of the insertion curve minus its minimum") +
             stat("normalized", fmt(r.influence_normalized, 2)) +
             stat("insertion AUC", fmt(auc_i)) + stat("deletion AUC", fmt(auc_d)) + "</div></div></div>";
    }
    h += "</div></section>\n";

    // --- several images: each with its share of the one ranking ---
    if (!images.more.empty()) {
        const size_t n_images = images.more.size() + 1;
        auto figure = [&](const image_rgb8 & image, const image_rgb8 & overlay, size_t k) {
            const std::string name = "image " + std::to_string(k + 1) + " of " + std::to_string(n_images);
            return "<figure>" + img_tag(image, name) + img_tag(overlay, "attribution on " + name, "overlay") +
                   "<figcaption>" + name + " and its attribution</figcaption></figure>";
        };
        h += "<section class=\"card\"><h2>Every image of the prompt</h2><div class=\"muted\" style=\"font-size:12px\">"
             "one ranking across " + std::to_string(n_images) + " images; each map shows the regions that lie in its image"
             "</div><div style=\"display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:12px;margin-top:8px\">" + figure(images.image, images.overlay, 0);
        for (size_t k = 0; k < images.more.size(); ++k) {
            h += figure(images.more[k].image, images.more[k].overlay, k + 1);
        }
        h += "</div></section>\n";
    }

    // --- hallucination diagnosis ---
    if (rec.hallucination) {
        const hallucination_record & hall = *rec.hallucination;
        const correction & c = hall.result;
        h += "<section class=\"card\"><h2>Hallucination diagnosis</h2><div class=\"halluc\"><figure>" +
             (images.hallucination_overlay.empty() ? img_tag(images.image, "input image")
                                                   : img_tag(images.hallucination_overlay, "hallucination overlay", "overlay")) +
             "<figcaption>" +
             (images.hallucination_overlay.empty() ? "input image" : "regions removed first (cool colormap: 1 − attribution)") +
             "</figcaption></figure><div><div class=\"stats\">" +
             stat("target text", escape_html(hall.correct_answer)) +
             stat("correct answer", escape_html(hall.correct_answer)) +
             stat("minimal correction region",
                  c.is_corrected ? fmt_percent(c.removed_fraction) + " of the image removed" : "never corrected") +
             stat("corrected at k", c.is_corrected ? std::to_string(c.n_kept) + " regions kept" : "–") +
             stat("within 10%", c.is_corrected && c.is_within_budget ? "<span class=\"badge ok\">yes</span>"
                                                                     : "<span class=\"badge no\">no</span>") +
             "</div>";
        const std::vector<float> & curve = hall.target_probability_curve;
        if (!curve.empty()) {
            series s{"target probability", "#7048e8", {{0.0, ex.baseline_score.empty() ? NAN : ex.baseline_score.front()}}};
            for (size_t k = 0; k < curve.size() && k < area.size(); ++k) {
                s.points.emplace_back(area[k], curve[k]);
            }
            h += "<div style=\"max-width:420px;margin-top:8px\">" + legend({{"#7048e8", "target probability, top regions alone"}}) +
                 line_chart({s}, "share of the image visible", "probability") + "</div>";
        }
        h += "<h3 style=\"margin-top:10px\">Revised answers (top-k regions kept)</h3><table class=\"revised\">"
             "<tr><th>k</th><th>visible</th><th>answer</th></tr>";
        int n_rows = 0;
        for (size_t i = hall.revised_answering.size(); i-- > 0;) {
            if (!hall.revised_answering[i]) continue; // not generated: the walk stopped at the correction
            const size_t k = i + 1;
            const bool hit = c.is_corrected && size_t(c.n_kept) == k;
            h += "<tr" + std::string(hit ? " class=\"hit\"" : "") + "><td class=\"k\">" + std::to_string(k) +
                 "</td><td class=\"k\">" + (i < area.size() ? fmt_percent(area[i]) : "–") + "</td><td>" +
                 escape_html(*hall.revised_answering[i]) + "</td></tr>";
            ++n_rows;
        }
        if (n_rows == 0) {
            h += "<tr><td colspan=\"3\" class=\"muted\">no revised answer recorded</td></tr>";
        }
        h += "</table></div></div></section>\n";
    }

    // --- region ranking ---
    {
        h += "<section class=\"card\"><h2>Region ranking</h2><div class=\"muted\" style=\"font-size:12px\">marginal gain "
             "F<sub>k</sub> − F<sub>k−1</sub> of the objective at each rank" +
             std::string(n_ranked < gains.size() ? "; muted: after the budget, ordered by the last known gain" : "") + "</div>";
        h += gain_chart(gains, n_ranked);
        h += "<div class=\"ranking\">";
        for (size_t k = 0; k < ex.order.size(); ++k) {
            h += "<span" + std::string(k < n_ranked ? "" : " class=\"unranked\"") + "><em>" + std::to_string(k + 1) +
                 "</em> r" + std::to_string(ex.order[k]) +
                 (k < gains.size() ? " " + std::string(gains[k] >= 0 ? "+" : "") + fmt(gains[k], 3) : "") + "</span>";
        }
        h += "</div></section>\n";
    }

    // --- parameters ---
    {
        std::vector<std::pair<std::string, std::string>> run_rows, search_rows;
        flatten("", j["run"], run_rows);
        flatten("", j["search"], search_rows);
        for (const char * key : {"lambda1", "lambda2", "sub-region_number", "n_ranked", "is_complete", "n_evaluations",
                                 "n_evaluations_exact", "n_memo_hits", "t_search_us"}) {
            search_rows.emplace_back(key, json_text(j[key]));
        }
        h += "<section class=\"card\"><h2>Parameters</h2><div class=\"params\">" + kv_table("run", run_rows) +
             kv_table("search", search_rows) + "</div></section>\n";
    }

    h += "<footer>eagle.cpp · EAGLE explanation report · self-contained, works offline</footer>\n";
    h += "<script>" + std::string(k_report_js) + "</script>\n</body>\n</html>\n";
    return h;
}

} // namespace eagle
