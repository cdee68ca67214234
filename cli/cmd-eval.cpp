// `eagle eval DIR...`: the EAGLE reference's evaluation numbers over explanation folders, computed as its
// scripts compute them (evals/eval_AUC_faithfulness.py, eval_point_game.py, eval_hallucination_correction.py):
// insertion/deletion AUC and average highest score (all targets, and sensitive targets only), Point Game on
// the `location` box and the `segmentation` mask, AMCR and CSR@10% on samples with revised answers.
//
// A DIR is an explanation folder (explanation.json, regions.npy, labels.png), a folder of such folders (one
// level), or the reference's layout DIR/json/*.json with DIR/npy/*.npy. A bad sample inside a folder of
// samples is reported on stderr and skipped; a bad folder named on the command line is an error. Several DIRs
// are one set of samples (e.g. the shards of one run): their samples are taken in the order of their names, as
// one folder lists them, so the means do not depend on how the samples were split between folders.
//
// The point-game map is eagle's region_attribution by default (the add_value map in float32); --map add-value
// recomputes the reference's float16 add_value from the ranking, which can tie the top regions where float32
// does not (see eagle/metrics.h). Folders without region_attribution (the reference's) always use add_value.
#include "command.h"

#include "eagle/error.h"
#include "eagle/metrics.h"
#include "eagle/regions.h"
#include "eagle/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace eagle::cli {

namespace {


struct eval_options {
    std::vector<std::string> dirs;
    bool is_json = false;
    bool is_csv = false;
    bool per_sample = false;
    double sensitivity = default_sensitivity;
    std::string map = "attribution";
};

// ---------------------------------------------------------------------------------------------------------
// output

std::string fixed(double v, int digits) {
    if (std::isnan(v)) {
        return "nan";
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
    return buf;
}

struct table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
};

table make_table(const eval_summary & all, const std::vector<sample_metrics> & samples, bool per_sample, int digits) {
    const bool has_sensitive = all.n_sensitive_samples > 0;
    const bool has_localised = all.n_localised_samples > 0;
    const bool has_hallucination = all.n_hallucination_samples > 0;
    table t;
    t.header = {"sample", "n", "insertion AUC", "deletion AUC", "highest"};
    if (has_sensitive) {
        t.header.insert(t.header.end(), {"sensitive insertion AUC", "sensitive deletion AUC", "sensitive highest", "n sensitive"});
    }
    if (has_localised) {
        t.header.insert(t.header.end(), {"point game box", "point game mask", "n localised"});
    }
    if (has_hallucination) {
        t.header.insert(t.header.end(), {"AMCR", "CSR@10%", "CSR@10% clean", "n hallucination"});
    }
    const std::string none = "-";
    auto num = [digits](double v) { return fixed(v, digits); };
    std::vector<std::string> row = {"all", std::to_string(all.n_samples), num(all.insertion_auc), num(all.deletion_auc),
                                    num(all.average_highest_confidence)};
    if (has_sensitive) {
        row.insert(row.end(), {num(all.sensitive_insertion_auc), num(all.sensitive_deletion_auc),
                               num(all.sensitive_average_highest_confidence), std::to_string(all.n_sensitive_samples)});
    }
    if (has_localised) {
        row.insert(row.end(), {all.n_box_samples ? num(all.point_game_box) : none,
                               all.n_mask_samples ? num(all.point_game_mask) : none, std::to_string(all.n_localised_samples)});
    }
    if (has_hallucination) {
        row.insert(row.end(), {num(all.amcr), all.n_corrected_samples ? num(all.csr_10) : none, num(all.csr_10_clean),
                               std::to_string(all.n_hallucination_samples)});
    }
    t.rows.push_back(row);
    if (!per_sample) {
        return t;
    }
    for (const sample_metrics & m : samples) {
        row = {m.source, "1", num(m.all.insertion_auc), num(m.all.deletion_auc), num(m.all.highest_score)};
        if (has_sensitive) {
            if (m.sensitive) {
                row.insert(row.end(), {num(m.sensitive->insertion_auc), num(m.sensitive->deletion_auc),
                                       num(m.sensitive->highest_score), "1"});
            } else {
                row.insert(row.end(), {none, none, none, "0"});
            }
        }
        if (has_localised) {
            row.push_back(m.point_game_box ? (*m.point_game_box ? "1" : "0") : none);
            row.push_back(m.point_game_mask ? (*m.point_game_mask ? "1" : "0") : none);
            row.push_back(m.point_game_box || m.point_game_mask ? "1" : "0");
        }
        if (has_hallucination) {
            if (m.correction_result) {
                const correction & c = *m.correction_result;
                // a never-corrected sample has no CSR term in the reference, and a failure in the clean one
                row.insert(row.end(), {num(c.removed_fraction), c.is_corrected ? (c.is_within_budget ? "1" : "0") : none,
                                       c.is_corrected && c.is_within_budget ? "1" : "0", "1"});
            } else {
                row.insert(row.end(), {none, none, none, "0"});
            }
        }
        t.rows.push_back(row);
    }
    return t;
}

std::string markdown(const table & t) {
    std::string out = "|";
    for (const std::string & h : t.header) {
        out += " " + h + " |";
    }
    out += "\n|";
    for (size_t i = 0; i < t.header.size(); ++i) {
        out += i == 0 ? " --- |" : " ---: |";
    }
    out += "\n";
    for (const auto & row : t.rows) {
        out += "|";
        for (const std::string & cell : row) {
            std::string escaped;
            for (char c : cell) {
                if (c == '|') {
                    escaped += "\\";
                }
                escaped += c;
            }
            out += " " + escaped + " |";
        }
        out += "\n";
    }
    return out;
}

std::string csv(const table & t) {
    auto field = [](const std::string & s) {
        if (s.find_first_of(",\"\n") == std::string::npos) {
            return s;
        }
        std::string q = "\"";
        for (char c : s) {
            q += c == '"' ? std::string("\"\"") : std::string(1, c);
        }
        return q + "\"";
    };
    std::string out;
    auto line = [&](const std::vector<std::string> & cells) {
        for (size_t i = 0; i < cells.size(); ++i) {
            out += (i ? "," : "") + field(cells[i]);
        }
        out += "\n";
    };
    line(t.header);
    for (const auto & row : t.rows) {
        line(row);
    }
    return out;
}

int run_eval(const eval_options & o) {
    if (o.is_json && o.is_csv) {
        throw error(errc::invalid_argument, "give one of --json and --csv");
    }
    if (!std::isfinite(o.sensitivity)) {
        throw error(errc::invalid_argument, "--sensitivity must be a finite number");
    }
    if (o.map != "attribution" && o.map != "add-value") {
        throw error(errc::invalid_argument, "unknown --map '" + o.map + "' (expected attribution or add-value)");
    }
    const map_source source = o.map == "attribution" ? map_source::attribution : map_source::add_value;
    std::vector<sample_metrics> samples;
    int64_t n_skipped = 0;
    for (const std::string & dir : o.dirs) {
        bool is_single = false;
        const std::vector<explanation_files> files = discover_explanations(dir, is_single);
        for (const explanation_files & f : files) {
            if (is_single) {
                // the folder named on the command line: errors are fatal
                samples.push_back(evaluate_explanation_files(f, source, o.sensitivity));
                continue;
            }
            try {
                samples.push_back(evaluate_explanation_files(f, source, o.sensitivity));
            } catch (const error & e) {
                ++n_skipped;
                if (!is_quiet()) {
                    std::fprintf(stderr, "eagle: warning: skipping %s: %s\n", f.name.c_str(), e.what());
                }
            }
        }
    }
    if (samples.empty()) {
        throw error(errc::io, "no readable explanation among the " + std::to_string(n_skipped) + " found");
    }
    if (o.dirs.size() > 1) {
        // a float sum depends on its order: shards a+d, b, c must give the numbers of the unsharded a, b, c, d
        // the key of each sample: its folder's name, then its whole path (names repeat across shards' parents)
        std::vector<std::pair<std::string, size_t>> keys;
        keys.reserve(samples.size());
        for (size_t i = 0; i < samples.size(); ++i) {
            keys.emplace_back(std::filesystem::path(samples[i].source).filename().string(), i);
        }
        std::stable_sort(keys.begin(), keys.end(), [&](const auto & a, const auto & b) {
            return a.first != b.first ? a.first < b.first : samples[a.second].source < samples[b.second].source;
        });
        std::vector<sample_metrics> sorted;
        sorted.reserve(samples.size());
        for (const auto & key : keys) {
            sorted.push_back(std::move(samples[key.second]));
        }
        samples = std::move(sorted);
    }
    const eval_summary summary = summarize(samples);
    if (o.is_json) {
        json j = summary_to_json(summary);
        if (n_skipped > 0) {
            j["n_skipped_samples"] = n_skipped;
        }
        if (o.per_sample) {
            json rows = json::array();
            for (const sample_metrics & m : samples) {
                rows.push_back(sample_metrics_to_json(m));
            }
            j["samples"] = rows;
        }
        print_json(j);
        return 0;
    }
    const table t = make_table(summary, samples, o.per_sample, o.is_csv ? 10 : 4);
    std::fputs(o.is_csv ? csv(t).c_str() : markdown(t).c_str(), stdout);
    if (n_skipped > 0 && !is_quiet()) {
        std::fprintf(stderr, "eagle: %lld sample(s) skipped\n", static_cast<long long>(n_skipped));
    }
    return 0;
}

} // namespace

command add_eval_command(CLI::App & parent) {
    auto st = std::make_shared<eval_options>();
    eval_options & o = *st;
    CLI::App * app = parent.add_subcommand(
        "eval", "faithfulness, localisation and hallucination-correction metrics over explanation folders (the reference's scripts)");
    app->add_option("dirs", o.dirs, "explanation folders, folders of them, or the reference's DIR with json/ and npy/")->required();
    app->add_flag("--json", o.is_json, "print one JSON object instead of a table");
    app->add_flag("--csv", o.is_csv, "print the table as CSV");
    app->add_flag("--per-sample", o.per_sample, "add a row (JSON: a \"samples\" list) per explanation");
    app->add_option("--sensitivity", o.sensitivity, "a target is sensitive when p(full) - p(black) exceeds this")
        ->capture_default_str();
    app->add_option("--map", o.map,
                    "point-game map: attribution (region_attribution, else add_value) or add-value (always the "
                    "reference's float16 add_value)")
        ->capture_default_str();
    add_log_flags(*app);
    return {app, [st] { return run_eval(*st); }};
}

} // namespace eagle::cli
