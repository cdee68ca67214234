// `eagle eval DIR...`: the EAGLE reference's evaluation numbers over explanation folders, computed as its
// scripts compute them (evals/eval_AUC_faithfulness.py, eval_point_game.py, eval_hallucination_correction.py):
// insertion/deletion AUC and average highest score (all targets, and sensitive targets only), Point Game on
// the `location` box and the `segmentation` mask, AMCR and CSR@10% on samples with revised answers.
//
// A DIR is an explanation folder (explanation.json, regions.npy, labels.png), a folder of such folders (one
// level), or the reference's layout DIR/json/*.json with DIR/npy/*.npy. A bad sample inside a folder of
// samples is reported on stderr and skipped; a bad folder named on the command line is an error.
//
// The point-game map is eagle's region_attribution by default (the add_value map in float32); --map add-value
// recomputes the reference's float16 add_value from the ranking, which can tie the top regions where float32
// does not (see eagle/metrics.h). Folders without region_attribution (the reference's) always use add_value.
#include "command.h"

#include "eagle/error.h"
#include "eagle/metrics.h"
#include "eagle/regions.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

namespace eagle::cli {

namespace {

namespace fs = std::filesystem;

struct eval_options {
    std::vector<std::string> dirs;
    bool is_json = false;
    bool is_csv = false;
    bool per_sample = false;
    double sensitivity = default_sensitivity;
    std::string map = "attribution";
};

// where one sample's files are
struct sample_files {
    std::string name;        // shown in per-sample rows and messages
    std::string json_path;
    std::string npy_path;    // regions.npy (eagle) or npy/<name>.npy (the reference's layout); may not exist
    std::string labels_path; // labels.png (eagle only); may not exist
};

std::string read_bytes(const std::string & path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw error(errc::io, "cannot read '" + path + "'");
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool is_file(const fs::path & p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

bool is_dir(const fs::path & p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

sample_files eagle_folder(const fs::path & dir) {
    return {dir.string(), (dir / "explanation.json").string(), (dir / "regions.npy").string(), (dir / "labels.png").string()};
}

std::vector<fs::path> sorted_entries(const fs::path & dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        out.push_back(it->path());
    }
    if (ec) {
        throw error(errc::io, "cannot list '" + dir.string() + "': " + ec.message());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// the samples under one DIR argument; is_single: DIR itself is one explanation (its errors are fatal)
std::vector<sample_files> discover(const std::string & arg, bool & is_single) {
    const fs::path dir(arg);
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        throw error(errc::io, "'" + arg + "' does not exist");
    }
    if (!is_dir(dir)) {
        throw error(errc::io, "'" + arg + "' is not a folder (give the folder that holds explanation.json)");
    }
    is_single = is_file(dir / "explanation.json");
    if (is_single) {
        return {eagle_folder(dir)};
    }
    std::vector<sample_files> out;
    if (is_dir(dir / "json")) {
        for (const fs::path & p : sorted_entries(dir / "json")) {
            if (p.extension() == ".json" && is_file(p)) {
                out.push_back({p.string(), p.string(), (dir / "npy" / (p.stem().string() + ".npy")).string(), ""});
            }
        }
    }
    for (const fs::path & p : sorted_entries(dir)) {
        if (is_dir(p) && is_file(p / "explanation.json")) {
            out.push_back(eagle_folder(p));
        }
    }
    if (out.empty()) {
        throw error(errc::io, "'" + arg + "' holds no explanation.json, no subfolder with one, and no json/*.json");
    }
    return out;
}

// The saliency map the point game reads, at image resolution. eagle's map (region_attribution, unless
// --map add-value or the file has none) is placed by the region ids of labels.png, or else of regions.npy and
// `order`; the reference's float16 add_value map ranks pixels by regions.npy (what its script reads), or else
// by labels.png and `order`. A float npy (the reference's baselines) is its own dense map.
saliency_map load_map(const eval_sample & s, const sample_files & f, bool use_attribution) {
    const bool is_attribution = use_attribution && !s.region_attribution.empty();
    const bool has_labels = !f.labels_path.empty() && is_file(f.labels_path);
    if (is_attribution && has_labels && s.image_size) {
        // eagle's map needs region ids, which labels.png holds for every pixel (even when a search was cut short)
        const int32_t nx = (*s.image_size)[0], ny = (*s.image_size)[1];
        try {
            return region_value_map(load_region_labels(f.labels_path, nx, ny).labels, nx, ny, s.region_attribution);
        } catch (const error & e) {
            throw error(errc::io, f.json_path + ": 'region_attribution' does not fit " + f.labels_path + " (" + e.what() + ")");
        }
    }
    int32_t nx = 0, ny = 0;
    std::vector<int32_t> rank, labels;
    if (is_file(f.npy_path)) {
        const npy_array npy = parse_npy(read_bytes(f.npy_path), f.npy_path);
        const auto & shape = npy.shape;
        if (npy.kind == 'f' && (shape.size() == 2 || (shape.size() == 3 && shape[2] == 1))) {
            // a dense map (the reference's baselines): normalised, resized to the image when its size is known
            saliency_map dense{int32_t(shape[1]), int32_t(shape[0]), std::vector<double>(size_t(shape[0] * shape[1]))};
            for (size_t i = 0; i < dense.values.size(); ++i) {
                dense.values[i] = npy.at(i);
            }
            const std::array<int32_t, 2> size = s.image_size.value_or(std::array<int32_t, 2>{dense.nx, dense.ny});
            return normalize_dense_map(dense, size[0], size[1], npy.item_size == 4);
        }
        rank = ranks_from_masks(npy, f.npy_path, nx, ny);
    } else if (has_labels) {
        if (!s.image_size) {
            throw error(errc::io, f.json_path + ": 'run.image_size' is missing (needed to read " + f.labels_path + ")");
        }
        nx = (*s.image_size)[0];
        ny = (*s.image_size)[1];
        labels = load_region_labels(f.labels_path, nx, ny).labels;
        if (s.order.empty()) {
            throw error(errc::io, f.json_path + ": 'order' is missing (needed to rank the regions of " + f.labels_path + ")");
        }
        std::vector<int32_t> position;
        for (size_t k = 0; k < s.order.size(); ++k) {
            const int32_t id = s.order[k];
            if (id < 0 || id > 65535) {
                throw error(errc::io, f.json_path + ": 'order' has region id " + std::to_string(id));
            }
            if (size_t(id) >= position.size()) {
                position.resize(size_t(id) + 1, -1);
            }
            position[size_t(id)] = int32_t(k);
        }
        rank.resize(labels.size());
        for (size_t i = 0; i < labels.size(); ++i) {
            rank[i] = size_t(labels[i]) < position.size() ? position[size_t(labels[i])] : -1;
        }
    } else {
        throw error(errc::io, f.json_path + ": has 'location' or 'segmentation' but no " + f.npy_path +
                                  (f.labels_path.empty() ? "" : " or " + f.labels_path) + " to build the map from");
    }

    if (is_attribution) {
        if (labels.empty()) {
            if (s.order.empty()) {
                throw error(errc::io, f.json_path + ": 'order' is missing (needed to place 'region_attribution' on " +
                                          f.npy_path + ")");
            }
            labels.resize(rank.size());
            for (size_t i = 0; i < rank.size(); ++i) {
                if (rank[i] < 0 || size_t(rank[i]) >= s.order.size()) {
                    throw error(errc::io, f.npy_path + ": pixel " + std::to_string(i) + " is in no ranked region");
                }
                labels[i] = s.order[size_t(rank[i])];
            }
        }
        try {
            return region_value_map(labels, nx, ny, s.region_attribution);
        } catch (const error & e) {
            throw error(errc::io, f.json_path + ": 'region_attribution' does not fit the regions (" + e.what() + ")");
        }
    }
    const std::pair<const char *, const std::vector<double> *> needed[] = {
        {"smdl_score", &s.smdl_score}, {"org_score", &s.org_score}, {"baseline_score", &s.baseline_score}};
    for (const auto & [key, values] : needed) {
        if (values->empty()) {
            throw error(errc::io, f.json_path + ": '" + key + "' is missing (needed for the add_value map)");
        }
    }
    try {
        return add_value_map(rank, nx, ny, s.smdl_score, s.org_score, s.baseline_score);
    } catch (const error & e) {
        throw error(errc::io, f.json_path + ": " + e.what());
    }
}

sample_metrics evaluate_files(const sample_files & f, const eval_options & o) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_bytes(f.json_path));
    } catch (const nlohmann::json::exception & e) {
        throw error(errc::io, f.json_path + ": malformed JSON (" + e.what() + ")");
    }
    eval_sample s = eval_sample_from_json(j, f.json_path);
    std::optional<saliency_map> map;
    if (s.needs_map()) {
        map = load_map(s, f, o.map == "attribution");
    }
    try {
        sample_metrics m = evaluate_sample(s, map ? &*map : nullptr, o.sensitivity);
        m.source = f.name;
        return m;
    } catch (const error & e) {
        throw error(errc::io, f.json_path + ": " + e.what());
    }
}

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

json sample_to_json(const sample_metrics & m) {
    json j;
    j["source"] = m.source;
    j["insertion_auc"] = m.all.insertion_auc;
    j["deletion_auc"] = m.all.deletion_auc;
    j["highest_confidence"] = m.all.highest_score;
    j["n_sensitive_tokens"] = m.n_sensitive_tokens;
    if (m.sensitive) {
        j["sensitive_insertion_auc"] = m.sensitive->insertion_auc;
        j["sensitive_deletion_auc"] = m.sensitive->deletion_auc;
        j["sensitive_highest_confidence"] = m.sensitive->highest_score;
    }
    if (m.point_game_box) {
        j["point_game_box"] = *m.point_game_box ? 1 : 0;
    }
    if (m.point_game_mask) {
        j["point_game_mask"] = *m.point_game_mask ? 1 : 0;
    }
    if (m.correction_result) {
        const correction & c = *m.correction_result;
        j["corrected"] = c.is_corrected;
        j["regions_kept"] = c.n_kept;
        j["minimal_correction_region"] = c.removed_fraction;
        j["within_10_percent"] = c.is_corrected && c.is_within_budget;
    }
    return j;
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
    std::vector<sample_metrics> samples;
    int64_t n_skipped = 0;
    for (const std::string & dir : o.dirs) {
        bool is_single = false;
        const std::vector<sample_files> files = discover(dir, is_single);
        for (const sample_files & f : files) {
            if (is_single) {
                samples.push_back(evaluate_files(f, o)); // the folder named on the command line: errors are fatal
                continue;
            }
            try {
                samples.push_back(evaluate_files(f, o));
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
    const eval_summary summary = summarize(samples);
    if (o.is_json) {
        json j = summary_to_json(summary);
        if (n_skipped > 0) {
            j["n_skipped_samples"] = n_skipped;
        }
        if (o.per_sample) {
            json rows = json::array();
            for (const sample_metrics & m : samples) {
                rows.push_back(sample_to_json(m));
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

eval_summary evaluate_explanation_dirs(const std::vector<std::string> & dirs) {
    eval_options o;
    std::vector<sample_metrics> samples;
    for (const std::string & dir : dirs) {
        bool is_single = false;
        for (const sample_files & f : discover(dir, is_single)) {
            samples.push_back(evaluate_files(f, o));
        }
    }
    return summarize(samples);
}

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
