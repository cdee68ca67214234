// `eagle explain`: one image, or a dataset of them, explained into folders. The pipeline is the library's
// (run_explanation, write_explanation_folder); this file holds the options, the progress bars, the summary line
// and the dataset loop.
#include "explain-options.h"
#include "progress.h"
#include "shard.h"

#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/report.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

namespace eagle::cli {

namespace {

std::string trimmed(const std::string & piece) {
    size_t b = 0, e = piece.size();
    while (b < e && std::isspace(static_cast<unsigned char>(piece[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(piece[e - 1]))) --e;
    return piece.substr(b, e - b);
}

void print_summary(const explanation_record & rec, const std::string & out_dir) {
    const explanation & ex = rec.result;
    std::printf("answer: %s\n", rec.answer_text.c_str());
    std::printf("reliance (V = vision, L = language prior):");
    for (size_t t = 0; t < rec.target_indices.size(); ++t) {
        const std::string w = trimmed(rec.target_pieces[t]);
        std::printf(" %s[%c %.2f]", w.empty() ? "<eog>" : w.c_str(), ex.reliance[t].is_visual ? 'V' : 'L',
                    ex.reliance[t].influence);
    }
    std::printf("\n%d regions, search %s: %lld images scored (exact greedy: %lld), %.1f s\n", ex.n_regions,
                search_mode_name(rec.request.params.mode), (long long) ex.n_evaluations,
                (long long) ex.n_regions * (ex.n_regions + 1), ex.t_search_us * 1e-6);
    if (rec.hallucination) {
        const correction & c = rec.hallucination->result;
        std::printf("minimal correction region: %s\n",
                    c.is_corrected ? std::to_string(c.removed_fraction).c_str() : "never corrected");
    }
    std::printf("wrote %s/{explanation.json,report.html,attribution.png,regions.npy,labels.png}\n", out_dir.c_str());
}

// "a | b | c" from one of the library's name tables
std::string alternatives(const std::vector<std::string> & names) {
    std::string out;
    for (const std::string & n : names) {
        out += (out.empty() ? "" : " | ") + n;
    }
    return out;
}

} // namespace

void add_explain_options(CLI::App & app, explain_options & o) {
    explanation_request & rq = o.request;
    explain_params & p = rq.params;
    app.add_option("--method", rq.method, alternatives(method_names()))->capture_default_str();
    app.add_option("--search", o.search, "EAGLE's search: " + alternatives(search_mode_names()))->capture_default_str();
    app.add_option("--seed", p.sampling.seed, "seed of the random, rise and lime baselines")->capture_default_str();
    app.add_option("--samples", p.sampling.n_samples, "masked images sampled by rise and lime")->capture_default_str();
    app.add_option("--segmenter", o.segmenter, "slico | grid | labels")->capture_default_str();
    app.add_option("--divisions,-D", rq.regions.n_divisions, "SLICO division number D (region size floor(sqrt(HW/D)))")->capture_default_str();
    app.add_option("--grid", o.grid, "grid cells COLSxROWS for --segmenter grid")->capture_default_str();
    app.add_option("--labels", rq.regions.labels_path, "PNG of region ids for --segmenter labels");
    app.add_option("--fill", o.fill, "what removed pixels become: black, mean or blur")->capture_default_str();
    app.add_option("--lambda1", p.lambda1, "weight of insight")->capture_default_str();
    app.add_option("--lambda2", p.lambda2, "weight of necessity")->capture_default_str();
    app.add_option("--search-scope", p.efficient.search_scope, "efficient search: window size")->capture_default_str();
    app.add_option("--pending-samples", p.efficient.pending_samples, "efficient search: removal candidates")->capture_default_str();
    app.add_option("--update-step", p.efficient.update_step, "efficient search: full re-sort period")->capture_default_str();
    app.add_option("--lazy-batch", p.lazy.batch, "lazy search: candidates re-evaluated per round")->capture_default_str();
    app.add_option("--lazy-epsilon", p.lazy.epsilon, "lazy search: accept a fresh gain within epsilon")->capture_default_str();
    app.add_option("--max-regions", p.budget.max_regions, "stop the search after k regions (0 = all)")->capture_default_str();
    app.add_option("--stop-fraction", p.budget.stop_fraction,
                   "stop when the insertion score reaches this fraction of the full-image score (0 = never)")->capture_default_str();
}

void resolve_explain_options(explain_options & o) {
    explanation_request & rq = o.request;
    rq.params.mode = search_mode_from_string(o.search);
    set_method(rq.params, rq.method);
    rq.regions.kind = region_kind_from_string(o.segmenter);
    parse_grid(o.grid, rq.regions);
    rq.fill = fill_mode_from_string(o.fill);
    rq.prompt = o.model.prompt;
    rq.use_raw_prompt = o.model.use_raw_prompt;
    check_explain_params(rq.params); // the library's rules, before any model or dataset is loaded
}

explanation_record explain_into(const vlm_model & model, vlm_session & session, const explanation_request & request,
                                const std::string & out_dir, bool show_progress) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec || !std::filesystem::is_directory(out_dir)) {
        throw error(errc::io, "cannot create output folder '" + out_dir + "'");
    }
    progress_bar search_bar("explain", show_progress);
    progress_bar revise_bar("revise ", show_progress);
    const explanation_record rec = run_explanation(model, session, request, [&](run_phase phase, int32_t n_done, int32_t n_total) {
        if (phase == run_phase::search) {
            search_bar.update(n_done, n_total, "regions, " + std::to_string(session.stats().n_evaluations) + " images scored");
        } else {
            search_bar.finish();
            revise_bar.update(n_done, n_total);
        }
        return true;
    });
    search_bar.finish();
    revise_bar.finish();
    write_explanation_folder(out_dir, rec);
    return rec;
}

namespace {

std::string safe_name(const std::string & id) {
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
// run loses at most the record in flight). Shardable: --shard i/n takes the records with index % n == i (auto:
// i and n from a Slurm array or a Kubernetes Indexed Job, cli/shard.h); the assignment depends on the file only.
// A bad record is reported with its line number and skipped; the run goes on. Returns the exit code.
int run_dataset(const explain_options & o, const model_params & mparams) {
    const shard_spec shard = parse_shard(o.shard);
    const int shard_i = shard.index, shard_n = shard.count;
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
        explanation_request request;
        std::string out_dir;
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
            explanation_request & rq = j.request;
            rq = o.request;
            const std::filesystem::path image = record["image"].get<std::string>();
            rq.image_path = (image.is_absolute() ? image : base / image).string();
            rq.prompt = record["prompt"];
            rq.answer_text = record.value("answer", std::string());
            rq.target_words = record.value("target_words", std::vector<std::string>());
            rq.target_indices = record.value("target_indices", std::vector<int32_t>());
            rq.target_text = record.value("target_text", std::string());
            rq.revise = record.value("revise", o.request.revise);
            for (const char * key : {"location", "segmentation", "label", "category", "question"}) {
                if (record.contains(key)) {
                    rq.ground_truth[key] = record[key];
                }
            }
            rq.ground_truth["dataset_line"] = line;
            const std::string name = safe_name(record.contains("id") ? (record["id"].is_string() ? record["id"].get<std::string>()
                                                                                                 : record["id"].dump())
                                                                    : "line-" + std::to_string(line));
            rq.ground_truth["id"] = name;
            j.out_dir = (std::filesystem::path(o.out_dir) / name).string();
            if (std::filesystem::exists(std::filesystem::path(j.out_dir) / "explanation.json")) {
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
        const std::unique_ptr<vlm_model> model = load_vlm(mparams);
        const std::unique_ptr<vlm_session> session = model->new_session(make_session_params(o.model));
        progress_bar bar("dataset", !is_quiet());
        for (size_t k = 0; k < jobs.size(); ++k) {
            bar.update(int(k), int(jobs.size()), "records (" + std::filesystem::path(jobs[k].out_dir).filename().string() + ")");
            try {
                explain_into(*model, *session, jobs[k].request, jobs[k].out_dir, false);
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


int run_explain(explain_options & o) {
    resolve_explain_options(o);
    const model_params mparams = resolve_model(o.model);
    if (!o.dataset_path.empty()) {
        return run_dataset(o, mparams);
    }
    const std::unique_ptr<vlm_model> model = load_vlm(mparams);
    const std::unique_ptr<vlm_session> session = model->new_session(make_session_params(o.model));
    explanation_request request = o.request;
    request.image_path = resolve_image(o.model);
    const explanation_record rec = explain_into(*model, *session, request, o.out_dir, !is_quiet());
    if (!is_quiet()) {
        print_summary(rec, o.out_dir);
    }
    return 0;
}

} // namespace

command add_explain_command(CLI::App & parent) {
    auto st = std::make_shared<explain_options>();
    explain_options & o = *st;
    CLI::App * app = parent.add_subcommand("explain", "rank image regions by how much they make the model say its answer (EAGLE)");
    explanation_request & rq = o.request;
    add_model_options(*app, o.model);
    CLI::Option * answer_opt =
        app->add_option("--answer,-a", rq.answer_text, "answer to explain (default: the model's own greedy answer)");
    app->add_option("--max-tokens,-n", rq.max_tokens, "most tokens of the generated answer (>= 1)");
    app->add_flag("!--no-eog", rq.append_eog, "do not count the end-of-generation token as a target");
    app->add_option("--target-word", rq.target_words, "explain this answer word (repeatable; default: every token)");
    app->add_option("--target-index", rq.target_indices, "explain the answer token at this index (repeatable)");
    app->add_option("--target-text", rq.target_text,
                    "explain this token instead of the model's own at the target index (default index 0), e.g. the correct answer");
    app->add_option("--out,-o", o.out_dir, "output folder")->capture_default_str();
    add_explain_options(*app, o);
    app->add_option("--dataset", o.dataset_path, "explain every record of a JSON-lines file into --out/<id>/ (resumable)");
    app->add_option("--shard", o.shard,
                    "i/n: explain the records with index % n == i (spread a dataset over machines); auto: i and n from a "
                    "Slurm job array ($SLURM_ARRAY_TASK_ID, _COUNT or _MIN/_MAX); auto/N: i from a Kubernetes Indexed "
                    "Job ($JOB_COMPLETION_INDEX), N its completions (docs/scale-out.md)")
        ->capture_default_str();
    app->add_flag("--revise", rq.revise, "regenerate the answer with the top-k regions kept; find the minimal correction region");
    add_log_flags(*app);

    return {app, [st, answer_opt] {
        explain_options & opts = *st;
        if (answer_opt->count() > 0 && opts.request.answer_text.empty()) {
            throw error(errc::invalid_argument, "--answer is empty: nothing to explain");
        }
        return run_explain(opts);
    }};
}

} // namespace eagle::cli
