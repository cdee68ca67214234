// `eagle explain`: one image, or a dataset of them, explained into folders. The pipeline is the library's
// (run_explanation, write_explanation_folder); this file holds the options, the progress bars, the summary line
// and the dataset loop.
#include "explain-options.h"
#include "progress.h"

#include "eagle/backends.h"
#include "eagle/dataset.h"
#include "eagle/eagle.h"
#include "eagle/report.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
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
    if (!out_dir.empty()) {
        std::printf("wrote %s/{explanation.json,report.html,attribution.png,regions.npy,labels.png}\n", out_dir.c_str());
    }
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
    app.add_option("--image-fit", o.fit,
                   "how the masked image is handed to the model: native (the engine's own preprocessing), crop (centred "
                   "square: what LLaVA-1.5's Hugging Face processor shows its model), pad (centred on a square)")
        ->capture_default_str();
    app.add_option("--fit-size", rq.fit_size, "with --image-fit crop: resize the shortest side to this first, as the "
                                              "reference's processor (336 for LLaVA-1.5; 0 = crop at full resolution)")
        ->capture_default_str();
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
    rq.fit = fit_mode_from_string(o.fit);
    rq.prompt = o.model.prompt;
    rq.use_raw_prompt = o.model.use_raw_prompt;
    if (!o.answer_ids.empty()) {
        rq.answer_ids = parse_token_ids(o.answer_ids, "--answer-ids");
    }
    if (!o.prompt_ids.empty()) {
        rq.prompt_ids = parse_token_ids(o.prompt_ids, "--prompt-ids");
    }
    // their scripts read every revised answer (eval_hallucination_correction.py slices each one: a null would
    // stop it), so their layout gets the complete walk, as the reference generates it
    rq.revise_all = rq.revise_all || output_layout_from_string(o.layout) == output_layout::reference;
    check_explain_params(rq.params); // the library's rules, before any model or dataset is loaded
}

output_layout output_layout_from_string(const std::string & name) {
    if (name == "eagle") return output_layout::eagle;
    if (name == "reference") return output_layout::reference;
    throw error(errc::invalid_argument, "unknown --layout '" + name + "' (expected eagle or reference)");
}

explanation_record explain_into(const vlm_model & model, vlm_session & session, const explanation_request & request,
                                const std::string & out_dir, bool show_progress, output_layout layout, const std::string & name) {
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
    if (layout == output_layout::reference) {
        write_reference_layout(out_dir, name, rec);
    } else {
        write_explanation_folder(out_dir, rec);
    }
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

// A dataset run. Two formats:
// * FILE.jsonl, one JSON object per line. Keys: image (required; a relative path is relative to the file's
//   folder), prompt (required unless prompt_ids), id (the output name; default line-N), answer, answer_ids,
//   prompt_ids, image_token, target_words, target_indices, target_text, target_token_ids, revise; and ground
//   truth copied into explanation.json for `eagle eval`: location (box xyxy), segmentation (COCO polygons), label,
//   category, question.
// * the reference's evaluation lists (datasets/*.json of the authors' repository; a JSON array): their token ids
//   are scored exactly (eagle/dataset.h); image names are relative to --images (default: the file's folder).
// Resumable: a record whose explanation.json (or json/<name>.json) exists is skipped (it is written last,
// atomically, so a killed run loses at most the record in flight). Shardable: --shard i/n takes the records with
// index % n == i. A bad record is reported with its line (or record) number and skipped; the run goes on.
// Returns the exit code.
int run_dataset(const explain_options & o, const model_params & mparams) {
    int shard_i = 0, shard_n = 1;
    char slash = 0;
    if (std::sscanf(o.shard.c_str(), "%d%c%d", &shard_i, &slash, &shard_n) != 3 || slash != '/' || shard_n < 1 ||
        shard_i < 0 || shard_i >= shard_n) {
        throw error(errc::invalid_argument, "--shard '" + o.shard + "' is not i/n with 0 <= i < n");
    }
    const output_layout layout = output_layout_from_string(o.layout);
    std::ifstream in(o.dataset_path);
    if (!in) {
        throw error(errc::io, "cannot read dataset '" + o.dataset_path + "'");
    }
    const std::string file_text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::filesystem::path base = std::filesystem::path(o.dataset_path).parent_path();
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir, ec);
    if (ec || !std::filesystem::is_directory(o.out_dir)) {
        throw error(errc::io, "cannot create output folder '" + o.out_dir + "'");
    }

    struct job {
        int line = 0;
        std::string name;
        explanation_request request;
    };
    std::vector<job> jobs;
    int n_records = 0, n_failed = 0, n_already = 0;
    const size_t first = file_text.find_first_not_of(" \t\r\n");
    const bool is_array = first != std::string::npos && file_text[first] == '[';
    const char * unit = is_array ? "record" : "line";
    auto report_bad = [&](int line, const std::string & what) {
        std::fprintf(stderr, "eagle: dataset '%s' %s %d: %s (skipped)\n", o.dataset_path.c_str(), unit, line, what.c_str());
        ++n_failed;
    };
    auto add_job = [&](int line, std::string name, explanation_request request) {
        const std::filesystem::path done = layout == output_layout::reference
                                               ? std::filesystem::path(reference_json_path(o.out_dir, name))
                                               : std::filesystem::path(o.out_dir) / name / "explanation.json";
        if (std::filesystem::exists(done)) {
            ++n_already;
            return;
        }
        jobs.push_back({line, std::move(name), std::move(request)});
    };
    if (is_array) {
        json records;
        try {
            records = json::parse(file_text);
        } catch (const json::exception & e) {
            throw error(errc::invalid_argument, "dataset '" + o.dataset_path + "' is not valid JSON: " + e.what());
        }
        if (!is_reference_dataset(records)) {
            throw error(errc::invalid_argument, "dataset '" + o.dataset_path + "' is a JSON array but not one of the "
                                                "reference's lists (objects with generated_ids); eagle's own format is JSON lines");
        }
        const std::string image_dir = o.image_dir.empty() ? base.string() : o.image_dir;
        for (size_t index = 0; index < records.size(); ++index) {
            ++n_records;
            if (int(index) % shard_n != shard_i) {
                continue;
            }
            try {
                dataset_job dj = reference_dataset_job(records[index], o.request, image_dir);
                dj.request.ground_truth["dataset_record"] = index + 1;
                add_job(int(index) + 1, safe_name(dj.name), std::move(dj.request));
            } catch (const std::exception & e) {
                report_bad(int(index) + 1, e.what());
            }
        }
    }
    std::istringstream lines(is_array ? std::string() : file_text);
    std::string text;
    for (int line = 1; std::getline(lines, text); ++line) {
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
            const bool has_prompt_ids = record.contains("prompt_ids");
            if (!has_prompt_ids && (!record.contains("prompt") || !record["prompt"].is_string())) {
                throw error(errc::invalid_argument, "missing \"prompt\" (or \"prompt_ids\")");
            }
            explanation_request rq = o.request;
            const std::filesystem::path image = record["image"].get<std::string>();
            rq.image_path = (image.is_absolute() ? image : base / image).string();
            rq.prompt = record.value("prompt", std::string());
            rq.prompt_ids = record.value("prompt_ids", std::vector<int32_t>());
            rq.image_token = record.value("image_token", int32_t(-1));
            rq.answer_text = record.value("answer", std::string());
            rq.answer_ids = record.value("answer_ids", std::vector<int32_t>());
            rq.target_words = record.value("target_words", std::vector<std::string>());
            rq.target_indices = record.value("target_indices", std::vector<int32_t>());
            rq.target_text = record.value("target_text", std::string());
            rq.target_token_ids = record.value("target_token_ids", std::vector<int32_t>());
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
            add_job(line, name, std::move(rq));
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
            bar.update(int(k), int(jobs.size()), "records (" + jobs[k].name + ")");
            try {
                const std::string dir = layout == output_layout::reference ? o.out_dir : (std::filesystem::path(o.out_dir) / jobs[k].name).string();
                explain_into(*model, *session, jobs[k].request, dir, false, layout, jobs[k].name);
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
    const output_layout layout = output_layout_from_string(o.layout);
    const std::string name = safe_name(std::filesystem::path(request.image_path).stem().string());
    const explanation_record rec = explain_into(*model, *session, request, o.out_dir, !is_quiet(), layout, name);
    if (!is_quiet()) {
        print_summary(rec, layout == output_layout::reference ? "" : o.out_dir);
        if (layout == output_layout::reference) {
            std::printf("wrote %s and %s/npy/%s.npy\n", reference_json_path(o.out_dir, name).c_str(), o.out_dir.c_str(), name.c_str());
        }
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
    app->add_option("--answer-ids", o.answer_ids,
                    "answer as token ids (\"1 2 3\", \"1,2,3\" or \"[1, 2, 3]\"), scored exactly; give the end token yourself");
    app->add_option("--prompt-ids", o.prompt_ids,
                    "the whole prompt as token ids (chat template included) with one run of image placeholder ids where the "
                    "image goes; replaces --prompt");
    app->add_option("--image-token", rq.image_token,
                    "the image placeholder id in --prompt-ids (default: the vocabulary's <image>-like token, else the longest "
                    "run of one id)");
    app->add_option("--max-tokens,-n", rq.max_tokens,
                    "most tokens of the generated answer (>= 1; the reference's 128); a cut answer is warned about")
        ->capture_default_str();
    app->add_flag("!--no-eog", rq.append_eog, "do not count the end-of-generation token as a target");
    app->add_option("--target-word", rq.target_words,
                    "explain this answer word: W = its first occurrence (as the reference), W@k = the k-th, W@all = every "
                    "one (repeatable; default: every token)");
    app->add_option("--target-id", rq.target_token_ids,
                    "score this token id at the targets instead of the answer's own (one for all, or one per target; "
                    "the reference's counter_word_id)");
    app->add_option("--target-index", rq.target_indices, "explain the answer token at this index (repeatable)");
    app->add_option("--target-text", rq.target_text,
                    "explain this token instead of the model's own at the target index (default index 0), e.g. the correct answer");
    app->add_option("--out,-o", o.out_dir, "output folder")->capture_default_str();
    add_explain_options(*app, o);
    app->add_option("--layout", o.layout,
                    "eagle: one folder per explanation; reference: --out/json/<name>.json + --out/npy/<name>.npy, the "
                    "authors' layout their evaluation scripts read (put --out below a folder named interpretation_results)")
        ->capture_default_str();
    app->add_option("--dataset", o.dataset_path,
                    "explain every record of a JSON-lines file, or of one of the reference's datasets/*.json (their token "
                    "ids scored exactly), into --out (resumable)");
    app->add_option("--images", o.image_dir, "folder of a reference dataset's images (default: the dataset file's folder)");
    app->add_option("--shard", o.shard, "i/n: explain the records with index % n == i (spread a dataset over machines)")
        ->capture_default_str();
    app->add_flag("--revise", rq.revise, "regenerate the answer with the top-k regions kept; find the minimal correction region");
    app->add_flag("--revise-all", rq.revise_all,
                  "with --revise: generate every revised answer (k = n..1), as the reference, not only down to the first "
                  "correct one (implied by --layout reference)");
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
