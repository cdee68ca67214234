#include "explain-runner.h"
#include "progress.h"

#include "eagle/eagle.h"
#include "eagle/explain.h"
#include "eagle/report.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

namespace eagle::cli {

namespace {

std::string trim_word(const std::string & piece) {
    size_t b = 0;
    while (b < piece.size() && (piece[b] == ' ' || std::isspace(static_cast<unsigned char>(piece[b])))) {
        ++b;
    }
    std::string w = piece.substr(b);
    while (!w.empty() && std::isspace(static_cast<unsigned char>(w.back()))) {
        w.pop_back();
    }
    return w;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

region_set make_regions(const explain_options & o, const image_rgb8 & image) {
    if (o.segmenter == "slico") {
        return make_slico_regions(image, o.n_divisions);
    }
    if (o.segmenter == "grid") {
        int cols = 0, rows = 0;
        char x = 0;
        if (std::sscanf(o.grid.c_str(), "%d%c%d", &cols, &x, &rows) != 3 || x != 'x') {
            throw error(errc::invalid_argument, "--grid '" + o.grid + "' is not COLSxROWS (e.g. 8x8)");
        }
        return make_grid_regions(image.nx, image.ny, cols, rows);
    }
    if (o.segmenter == "labels") {
        if (o.labels_path.empty()) {
            throw error(errc::invalid_argument, "--segmenter labels needs --labels PNG");
        }
        return load_region_labels(o.labels_path, image.nx, image.ny);
    }
    throw error(errc::invalid_argument, "unknown segmenter '" + o.segmenter + "' (expected slico, grid or labels)");
}

std::string slug(const std::string & word) {
    std::string s;
    for (unsigned char c : word) {
        s.push_back(std::isalnum(c) ? char(c) : '_');
    }
    return s.empty() ? "token" : s;
}



} // namespace

void resolve_method(explain_options & o) {
    o.params.mode = search_mode_from_string(o.search);
    set_method(o.params, o.method); // the library's table, EAGLE's one-sided ablations included
}

void explain_sample(const explain_options & o, const sample & smp, const model_params & mparams, const vlm_model & model,
                    vlm_session & session, bool show_progress, bool show_summary) {
    const fill_mode fill = fill_mode_from_string(o.fill);
    const image_rgb8 image = load_image(smp.image_path);
    const region_set regions = make_regions(o, image);
    std::error_code ec;
    std::filesystem::create_directories(smp.out_dir, ec);
    if (ec || !std::filesystem::is_directory(smp.out_dir)) {
        throw error(errc::io, "cannot create output folder '" + smp.out_dir + "'");
    }
    // the answer: given, or the model's own (with its end token, as the reference explains it)
    score_request request;
    request.image = image;
    request.prompt = smp.prompt;
    request.use_raw_prompt = o.model.use_raw_prompt;
    request.fill = fill;
    if (smp.answer_text.empty()) {
        const generation gen = session.generate(image, smp.prompt, o.model.use_raw_prompt, o.max_tokens);
        for (const generated_token & t : gen.tokens) {
            if (!t.is_eog || o.append_eog) {
                request.answer.push_back(t.id);
            }
        }
    } else {
        request.answer = model.tokenize(smp.answer_text, false);
        if (o.append_eog) {
            request.answer.push_back(model.eog_token());
        }
    }
    if (request.answer.empty()) {
        throw error(errc::invalid_argument, "the answer is empty: nothing to explain");
    }
    std::vector<std::string> words;
    for (int32_t id : request.answer) {
        words.push_back(model.is_eog(id) ? std::string() : model.token_piece(id));
    }
    const std::string answer_text = model.detokenize(request.answer);

    // targets
    std::vector<int32_t> indices = smp.target_indices;
    for (int32_t i : indices) {
        if (i < 0 || i >= int32_t(request.answer.size())) {
            throw error(errc::invalid_argument, "--target-index " + std::to_string(i) + " is outside the answer '" +
                                                    answer_text + "' (" + std::to_string(request.answer.size()) + " tokens)");
        }
    }
    for (const std::string & w : smp.target_words) {
        bool found = false;
        for (size_t i = 0; i < words.size(); ++i) {
            if (lower(trim_word(words[i])) == lower(trim_word(w))) {
                indices.push_back(int32_t(i));
                found = true;
            }
        }
        if (!found) {
            throw error(errc::invalid_argument, "target word '" + w + "' is not in the answer '" + answer_text + "'");
        }
    }
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
    if (!smp.target_text.empty()) {
        const std::vector<int32_t> ids = model.tokenize(smp.target_text, false);
        if (ids.empty()) {
            throw error(errc::invalid_argument, "--target-text '" + smp.target_text + "' has no tokens");
        }
        if (indices.empty()) {
            indices.push_back(0);
        }
        request.target_ids.assign(indices.size(), ids.front());
    }
    if (indices.empty()) {
        for (int32_t i = 0; i < int32_t(request.answer.size()); ++i) {
            indices.push_back(i);
        }
    }
    request.target_indices = indices;
    std::vector<int32_t> target_ids = request.target_ids;
    if (target_ids.empty()) {
        for (int32_t i : indices) {
            target_ids.push_back(request.answer[i]);
        }
    }

    progress_bar bar("explain", show_progress);
    const explanation ex = explain(session, request, regions, o.params, [&](int32_t n_done, int32_t n_total) {
        bar.update(n_done, n_total, "regions, " + std::to_string(session.stats().n_evaluations) + " images scored");
        return true;
    });
    bar.finish();

    // outputs
    explanation_context ctx;
    ctx.words = words;
    ctx.answer = request.answer;
    ctx.target_indices = indices;
    ctx.target_ids = target_ids;
    ctx.answer_text = answer_text;
    ctx.run = run_identity(o.model, mparams, smp.image_path);
    ctx.run["answer_given"] = smp.answer_text;
    ctx.run["max_tokens"] = o.max_tokens;
    ctx.run["eog_target"] = o.append_eog;
    ctx.run["target_words"] = smp.target_words;
    ctx.run["target_indices"] = smp.target_indices;
    ctx.run["target_text"] = smp.target_text;
    ctx.run["segmenter"] = o.segmenter;
    ctx.run["divisions"] = o.n_divisions;
    ctx.run["grid"] = o.grid;
    ctx.run["labels"] = o.labels_path;
    ctx.run["fill"] = o.fill;
    ctx.run["method"] = o.method;
    ctx.run["seed"] = o.params.sampling.seed;
    ctx.run["samples"] = o.params.sampling.n_samples;
    ctx.run["image_size"] = {image.nx, image.ny};
    const scorer_stats stats = session.stats();
    ctx.run["scorer"] = {{"n_evaluations", stats.n_evaluations}, {"n_memo_hits", stats.n_memo_hits},
                         {"n_decode_calls", stats.n_decode_calls}, {"n_encode_calls", stats.n_encode_calls},
                         {"t_encode_us", stats.t_encode_us}, {"t_decode_us", stats.t_decode_us}};
    json j = explanation_to_json(ex, ctx, o.params);
    for (const auto & [key, value] : smp.ground_truth.items()) {
        j[key] = value; // the dataset's ground truth (location, segmentation, label, ...) for eagle eval
    }

    const std::vector<float> map = attribution_map(ex, regions);
    html_report_input report;
    report.image = image;
    report.overlay = render_overlay(image, map);
    std::filesystem::create_directories(smp.out_dir + "/tokens");
    for (size_t t = 0; t < indices.size(); ++t) {
        report.token_overlays.push_back(
            render_overlay(image, token_gain_map(ex, regions, int32_t(t), o.params.lambda1, o.params.lambda2)));
        const std::string name = smp.out_dir + "/tokens/" + std::to_string(indices[t]) + "-" + slug(trim_word(words[indices[t]])) + ".png";
        write_file_atomic(name, png_bytes(report.token_overlays.back()));
    }

    if (smp.revise) {
        // keep the top-k regions for k = n, n-1, ...: the first k whose answer starts with the target
        // text is the minimal correction (the reference's AMCR walks the same way)
        const std::string correct = smp.target_text.empty() ? words[indices.front()] : smp.target_text;
        const std::string correct_trimmed = trim_word(correct);
        const int32_t n = ex.n_regions;
        json revised = json::array();
        for (int32_t k = 0; k < n; ++k) {
            revised.push_back(nullptr);
        }
        const image_rgb8 fill_image = make_fill_image(image, fill);
        std::vector<uint8_t> keep(n, 0);
        for (int32_t r : ex.order) {
            keep[r] = 1;
        }
        json corrected_at = nullptr;
        json minimal = nullptr;
        progress_bar rbar("revise ", show_progress);
        for (int32_t k = n; k >= 1; --k) {
            if (k < n) {
                keep[ex.order[k]] = 0; // remove the lowest-ranked region still kept
            }
            image_rgb8 masked;
            apply_mask(image, fill_image, region_mask(regions, keep), masked);
            const generation g = session.generate(masked, smp.prompt, o.model.use_raw_prompt, o.max_tokens);
            revised[k - 1] = g.text;
            rbar.update(n - k + 1, n);
            if (g.text.rfind(correct_trimmed, 0) == 0) {
                corrected_at = k;
                minimal = 1.0 - ex.region_area[k - 1];
                break;
            }
        }
        rbar.finish();
        std::vector<float> curve;
        for (const auto & row : ex.insertion_word_score) {
            curve.push_back(row.front());
        }
        j["revised_answering"] = revised; // the reference's key
        j["hallucination"] = {{"target_text", correct_trimmed},
                              {"correct_answer", correct_trimmed},
                              {"revised_answering", revised},
                              {"corrected_at_k", corrected_at},
                              {"minimal_correction_region", minimal},
                              {"within_10_percent", !minimal.is_null() && minimal.get<double>() <= 0.10},
                              {"target_probability_curve", curve}};
        std::vector<float> hmap = map;
        for (float & v : hmap) {
            v = 1.0f - v;
        }
        report.hallucination_overlay = render_overlay(image, hmap, colormap::cool);
        write_file_atomic(smp.out_dir + "/hallucination.png", png_bytes(report.hallucination_overlay));
    }

    write_file_atomic(smp.out_dir + "/attribution.png", png_bytes(report.overlay));
    write_regions_npy(ex, regions, smp.out_dir + "/regions.npy");
    save_region_labels(regions, smp.out_dir + "/labels.png");
    report.explanation = j;
    write_file_atomic(smp.out_dir + "/report.html", render_html_report(report));
    write_file_atomic(smp.out_dir + "/explanation.json", j.dump(1, ' ', false, json::error_handler_t::replace) + "\n");

    if (show_summary) {
        std::printf("answer: %s\n", answer_text.c_str());
        std::printf("reliance (V = vision, L = language prior):");
        for (size_t t = 0; t < indices.size(); ++t) {
            const std::string w = trim_word(model.is_eog(target_ids[t]) ? std::string() : model.token_piece(target_ids[t]));
            std::printf(" %s[%c %.2f]", w.empty() ? "<eog>" : w.c_str(), ex.reliance[t].is_visual ? 'V' : 'L',
                        ex.reliance[t].influence);
        }
        std::printf("\n%d regions, search %s: %lld images scored (exact greedy: %lld), %.1f s\n", ex.n_regions,
                    search_mode_name(o.params.mode), (long long) ex.n_evaluations,
                    (long long) ex.n_regions * (ex.n_regions + 1), ex.t_search_us * 1e-6);
        if (j.contains("hallucination")) {
            const json & h = j["hallucination"];
            std::printf("minimal correction region: %s\n",
                        h["minimal_correction_region"].is_null() ? "never corrected"
                                                                  : (std::to_string(h["minimal_correction_region"].get<double>())).c_str());
        }
        std::printf("wrote %s/{explanation.json,report.html,attribution.png,regions.npy,labels.png}\n", smp.out_dir.c_str());
    }
}

static std::string safe_name(const std::string & id) {
    std::string out;
    for (unsigned char c : id) {
        out.push_back(std::isalnum(c) || c == '-' || c == '_' || c == '.' ? char(c) : '_');
    }
    return out.empty() || out == "." || out == ".." ? "sample" : out;
}

// A dataset run: FILE.jsonl, one JSON object per line. Keys: image (required; a relative path is relative to the
// file's folder), prompt (required), id (the output folder's name; default line-N), answer, target_words,
// target_indices, target_text, revise; and ground truth copied into explanation.json for `eagle eval`:
// location (box xyxy), segmentation (COCO polygons), label, category.
// Resumable: a record whose folder has explanation.json is skipped (it is written last, atomically, so a killed
// run loses at most the record in flight). Shardable: --shard i/n takes the records with index % n == i.
// A bad record is reported with its line number and skipped; the run goes on. Returns the exit code.
int run_dataset(const explain_options & o, const model_params & mparams) {
    int shard_i = 0, shard_n = 1;
    char slash = 0;
    if (std::sscanf(o.shard.c_str(), "%d%c%d", &shard_i, &slash, &shard_n) != 3 || slash != '/' || shard_n < 1 ||
        shard_i < 0 || shard_i >= shard_n) {
        throw error(errc::invalid_argument, "--shard '" + o.shard + "' is not i/n with 0 <= i < n");
    }
    std::ifstream in(o.dataset_path);
    if (!in) {
        throw error(errc::io, "cannot read dataset '" + o.dataset_path + "'");
    }
    const std::filesystem::path base = std::filesystem::path(o.dataset_path).parent_path();
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir, ec);
    if (ec || !std::filesystem::is_directory(o.out_dir)) {
        throw error(errc::io, "cannot create output folder '" + o.out_dir + "'");
    }

    struct job {
        int line = 0;
        sample smp;
    };
    std::vector<job> jobs;
    int n_records = 0, n_failed = 0, n_already = 0;
    auto report_bad = [&](int line, const std::string & what) {
        std::fprintf(stderr, "eagle: dataset '%s' line %d: %s (skipped)\n", o.dataset_path.c_str(), line, what.c_str());
        ++n_failed;
    };
    std::string text;
    for (int line = 1; std::getline(in, text); ++line) {
        if (text.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        const int index = n_records++;
        if (index % shard_n != shard_i) {
            continue;
        }
        json record;
        try {
            record = json::parse(text);
        } catch (const json::exception & e) {
            report_bad(line, std::string("malformed JSON: ") + e.what());
            continue;
        }
        if (!record.is_object()) {
            report_bad(line, "a record must be a JSON object");
            continue;
        }
        try {
            if (!record.contains("image") || !record["image"].is_string()) {
                throw error(errc::invalid_argument, "missing \"image\" (a path)");
            }
            if (!record.contains("prompt") || !record["prompt"].is_string()) {
                throw error(errc::invalid_argument, "missing \"prompt\"");
            }
            job j;
            j.line = line;
            sample & smp = j.smp;
            const std::filesystem::path image = record["image"].get<std::string>();
            smp.image_path = (image.is_absolute() ? image : base / image).string();
            smp.prompt = record["prompt"];
            smp.answer_text = record.value("answer", std::string());
            smp.target_words = record.value("target_words", std::vector<std::string>());
            smp.target_indices = record.value("target_indices", std::vector<int32_t>());
            smp.target_text = record.value("target_text", std::string());
            smp.revise = record.value("revise", o.revise);
            for (const char * key : {"location", "segmentation", "label", "category", "question"}) {
                if (record.contains(key)) {
                    smp.ground_truth[key] = record[key];
                }
            }
            smp.ground_truth["dataset_line"] = line;
            smp.name = safe_name(record.contains("id") ? (record["id"].is_string() ? record["id"].get<std::string>()
                                                                                    : record["id"].dump())
                                                       : "line-" + std::to_string(line));
            smp.ground_truth["id"] = smp.name;
            smp.out_dir = (std::filesystem::path(o.out_dir) / smp.name).string();
            if (std::filesystem::exists(std::filesystem::path(smp.out_dir) / "explanation.json")) {
                ++n_already;
                continue;
            }
            jobs.push_back(std::move(j));
        } catch (const std::exception & e) {
            report_bad(line, e.what());
        }
    }

    int n_done = 0;
    if (!jobs.empty()) {
        vlm_model model(mparams);
        vlm_session session(model, make_session_params(o.model));
        progress_bar bar("dataset", !is_quiet());
        for (size_t k = 0; k < jobs.size(); ++k) {
            bar.update(int(k), int(jobs.size()), "records (" + jobs[k].smp.name + ")");
            try {
                explain_sample(o, jobs[k].smp, mparams, model, session, false, false);
                ++n_done;
            } catch (const error & e) {
                bar.finish();
                report_bad(jobs[k].line, e.what());
            }
        }
        bar.update(int(jobs.size()), int(jobs.size()), "records");
    }
    if (!is_quiet()) {
        std::printf("dataset %s, shard %d/%d: %d explained, %d already done, %d failed; results in %s\n",
                    o.dataset_path.c_str(), shard_i, shard_n, n_done, n_already, n_failed, o.out_dir.c_str());
    }
    return n_failed > 0 ? 1 : 0;
}

namespace {

int run_explain(explain_options & o) {
    resolve_method(o);
    fill_mode_from_string(o.fill); // validate before loading anything
    const model_params mparams = resolve_model(o.model);
    if (!o.dataset_path.empty()) {
        return run_dataset(o, mparams);
    }
    vlm_model model(mparams);
    vlm_session session(model, make_session_params(o.model));
    sample smp;
    smp.image_path = resolve_image(o.model);
    smp.prompt = o.model.prompt;
    smp.answer_text = o.answer_text;
    smp.target_words = o.target_words;
    smp.target_indices = o.target_indices;
    smp.target_text = o.target_text;
    smp.revise = o.revise;
    smp.out_dir = o.out_dir;
    explain_sample(o, smp, mparams, model, session, !is_quiet(), !is_quiet());
    return 0;
}

} // namespace

command add_explain_command(CLI::App & parent) {
    auto st = std::make_shared<explain_options>();
    explain_options & o = *st;
    CLI::App * app = parent.add_subcommand("explain", "rank image regions by how much they make the model say its answer (EAGLE)");
    add_model_options(*app, o.model);
    CLI::Option * answer_opt =
        app->add_option("--answer,-a", o.answer_text, "answer to explain (default: the model's own greedy answer)");
    app->add_option("--max-tokens,-n", o.max_tokens, "most tokens of the generated answer")->check(CLI::PositiveNumber);
    app->add_flag("!--no-eog", o.append_eog, "do not count the end-of-generation token as a target");
    app->add_option("--target-word", o.target_words, "explain this answer word (repeatable; default: every token)");
    app->add_option("--target-index", o.target_indices, "explain the answer token at this index (repeatable)");
    app->add_option("--target-text", o.target_text,
                    "explain this token instead of the model's own at the target index (default index 0), e.g. the correct answer");
    app->add_option("--out,-o", o.out_dir, "output folder")->capture_default_str();
    app->add_option("--method", o.method,
                    "eagle | insight-only | necessity-only | random | occlusion | rise | lime")->capture_default_str();
    app->add_option("--search", o.search, "EAGLE's search: exact | efficient | lazy")->capture_default_str();
    app->add_option("--seed", o.params.sampling.seed, "seed of the random, rise and lime baselines")->capture_default_str();
    app->add_option("--samples", o.params.sampling.n_samples, "masked images sampled by rise and lime")->capture_default_str();
    app->add_option("--segmenter", o.segmenter, "slico | grid | labels")->capture_default_str();
    app->add_option("--divisions,-D", o.n_divisions, "SLICO division number D (region size floor(sqrt(HW/D)))")->capture_default_str();
    app->add_option("--grid", o.grid, "grid cells COLSxROWS for --segmenter grid")->capture_default_str();
    app->add_option("--labels", o.labels_path, "PNG of region ids for --segmenter labels");
    app->add_option("--fill", o.fill, "what removed pixels become: black, mean or blur")->capture_default_str();
    app->add_option("--lambda1", o.params.lambda1, "weight of insight")->capture_default_str();
    app->add_option("--lambda2", o.params.lambda2, "weight of necessity")->capture_default_str();
    app->add_option("--search-scope", o.params.efficient.search_scope, "efficient search: window size")->capture_default_str();
    app->add_option("--pending-samples", o.params.efficient.pending_samples, "efficient search: removal candidates")->capture_default_str();
    app->add_option("--update-step", o.params.efficient.update_step, "efficient search: full re-sort period")->capture_default_str();
    app->add_option("--lazy-batch", o.params.lazy.batch, "lazy search: candidates re-evaluated per round")->capture_default_str();
    app->add_option("--lazy-epsilon", o.params.lazy.epsilon, "lazy search: accept a fresh gain within epsilon")->capture_default_str();
    app->add_option("--max-regions", o.params.budget.max_regions, "stop the search after k regions (0 = all)")->capture_default_str();
    app->add_option("--stop-fraction", o.params.budget.stop_fraction,
                    "stop when the insertion score reaches this fraction of the full-image score (0 = never)")->capture_default_str();
    app->add_option("--dataset", o.dataset_path, "explain every record of a JSON-lines file into --out/<id>/ (resumable)");
    app->add_option("--shard", o.shard, "i/n: explain the records with index % n == i (spread a dataset over machines)")
        ->capture_default_str();
    app->add_flag("--revise", o.revise, "regenerate the answer with the top-k regions kept; find the minimal correction region");
    add_log_flags(*app);

    return {app, [st, answer_opt] {
        explain_options & opts = *st;
        if (answer_opt->count() > 0 && opts.answer_text.empty()) {
            throw error(errc::invalid_argument, "--answer is empty: nothing to explain");
        }
        return run_explain(opts);
    }};
}

} // namespace eagle::cli
