// `eagle explain`: one image, or a dataset of them, explained into folders. The pipeline is the library's
// (run_explanation, write_explanation_folder); this file holds the options, the progress bars, the summary line
// and the dataset loop.
#include "dataset-record.h"
#include "explain-options.h"
#include "file-lock.h"
#include "progress.h"
#include "shard.h"
#include "stop-signals.h"

#include "eagle/backends.h"
#include "eagle/dataset.h"
#include "eagle/eagle.h"
#include "eagle/report.h"

#include <cctype>
#include <csignal>
#include <optional>
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

} // namespace

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

// A dataset run. Two formats:
// * FILE.jsonl, one JSON object per line (the keys: dataset-record.h);
// * the reference's evaluation lists (datasets/*.json of the authors' repository; a JSON array): their token ids
//   are scored exactly (eagle/dataset.h); image names are relative to --images (default: the file's folder).
// Resumable: a record whose explanation.json (or json/<name>.json) exists is skipped (it is written last,
// atomically, so a killed run loses at most the record in flight). Shardable: --shard i/n takes the records with
// index % n == i (auto: i and n from a Slurm array or a Kubernetes Indexed Job, cli/shard.h); the assignment
// depends on the file only. A bad record is reported with its line (or record) number and skipped; the run goes on.
// Returns the exit code.
// Stops (docs/bad-inputs.md): SIGINT/SIGTERM cancel the sample in progress (its search stops at the next region,
// nothing of it is kept) and end the run with 128 + the signal; a rerun resumes. An output folder that cannot be
// written (full disk, read-only) is one error that ends the run. Two processes: the same --shard into the same
// folder is refused; otherwise each sample's folder is locked while it is produced, so they never clobber.
int run_dataset(const explain_options & o, const model_params & mparams) {
    const shard_spec sh = parse_shard(o.shard);
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
    // One process per shard and output folder: a second one with the same shard would redo the same records, so
    // it refuses at once. The lock file also proves the folder writable before the model is loaded.
    const std::string lock_path = (std::filesystem::path(o.out_dir) / (".eagle-shard-" + std::to_string(sh.index) + "-of-" +
                                                                       std::to_string(sh.count) + ".lock")).string();
    const file_lock shard_lock(lock_path, true);
    if (!shard_lock.locked()) {
        throw error(errc::io, "another eagle process is explaining shard " + std::to_string(sh.index) + "/" +
                                  std::to_string(sh.count) + " into '" + o.out_dir + "' (" + lock_path +
                                  " is locked); wait for it to finish, or give this one another --shard");
    }

    std::vector<dataset_job> jobs;
    int n_records = 0, n_failed = 0, n_already = 0;
    const size_t first = file_text.find_first_not_of(" \t\r\n");
    const bool is_array = first != std::string::npos && file_text[first] == '[';
    const char * unit = is_array ? "record" : "line";
    auto report_bad = [&](int line, const std::string & what) {
        std::fprintf(stderr, "eagle: dataset '%s' %s %d: %s (skipped)\n", o.dataset_path.c_str(), unit, line, what.c_str());
        ++n_failed;
    };
    // where a job's result lands: its folder (eagle) or the shared json/ + npy/ folders (reference)
    const auto job_dir = [&](const dataset_job & j) {
        return layout == output_layout::reference ? o.out_dir : j.out_dir;
    };
    const auto is_done = [&](const dataset_job & j) {
        const std::filesystem::path done = layout == output_layout::reference
                                               ? std::filesystem::path(reference_json_path(o.out_dir, j.name))
                                               : std::filesystem::path(j.out_dir) / "explanation.json";
        std::error_code ec_done;
        return std::filesystem::exists(done, ec_done);
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
            if (int(index) % sh.count != sh.index) {
                continue;
            }
            try {
                const eagle::dataset_job dj = reference_dataset_job(records[index], o.request, image_dir);
                dataset_job j;
                j.line = int(index) + 1;
                j.request = dj.request;
                j.request.ground_truth["dataset_record"] = index + 1;
                j.name = safe_name(dj.name);
                j.out_dir = (std::filesystem::path(o.out_dir) / j.name).string();
                if (is_done(j)) {
                    ++n_already;
                    continue;
                }
                jobs.push_back(std::move(j));
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
        if (index % sh.count != sh.index) {
            continue;
        }
        try {
            dataset_job j = parse_dataset_record(text, line, o.request, base, o.out_dir);
            if (is_done(j)) {
                ++n_already;
                continue;
            }
            jobs.push_back(std::move(j));
        } catch (const std::exception & e) {
            report_bad(line, e.what());
        }
    }

    int n_done = 0, n_busy = 0;
    int stopped_by = 0;
    if (!jobs.empty()) {
        const stop_signals signals;
        const std::unique_ptr<vlm_model> model = load_vlm(mparams);
        const std::unique_ptr<vlm_session> session = model->new_session(make_session_params(o.model));
        progress_bar bar("dataset", !is_quiet());
        for (size_t k = 0; k < jobs.size() && !stop_signals::requested(); ++k) {
            const dataset_job & job = jobs[k];
            bar.update(int(k), int(jobs.size()), "records (" + job.name + ")");
            // an output folder that cannot be made fails every record alike: one error for the run
            std::filesystem::create_directories(job.out_dir, ec);
            if (ec || !std::filesystem::is_directory(job.out_dir)) {
                throw error(errc::io, "cannot create output folder '" + job.out_dir + "'" + (ec ? " (" + ec.message() + ")" : ""));
            }
            // The sample's folder is locked while it is produced, so processes whose shards overlap (0/2 and 0/3)
            // or records that share an id never write one folder together: the second skips it.
            const file_lock sample_lock(job.out_dir, false);
            if (!sample_lock.locked()) {
                ++n_busy;
                continue;
            }
            if (is_done(job)) {
                ++n_already; // finished by another process since the records were read
                continue;
            }
            std::optional<explanation_record> rec;
            try {
                // a stop signal cancels the search; its partial result is discarded below
                rec = run_explanation(*model, *session, job.request,
                                      [](run_phase, int32_t, int32_t) { return !stop_signals::requested(); });
            } catch (const error & e) {
                bar.finish();
                report_bad(job.line, e.what());
            }
            if (!rec || stop_signals::requested()) {
                std::filesystem::remove(job.out_dir, ec); // only when empty: nothing is left of this sample
                continue;
            }
            // Writing fails alike for every record (a full disk, a read-only folder): an error here ends the run.
            // explanation.json is written last and atomically, so the sample is done or absent, never half done.
            if (layout == output_layout::reference) {
                std::filesystem::remove(job.out_dir, ec); // the lock's folder: the results go to json/ + npy/
                write_reference_layout(job_dir(job), job.name, *rec);
            } else {
                write_explanation_folder(job.out_dir, *rec);
            }
            ++n_done;
        }
        bar.finish();
        stopped_by = stop_signals::signal_number();
    }
    if (stopped_by != 0) {
        std::fprintf(stderr, "eagle: stopped by %s: %d explained, the sample in progress discarded; run the same command again to resume\n",
                     stopped_by == SIGINT ? "SIGINT" : "SIGTERM", n_done);
        return 128 + stopped_by;
    }
    if (n_busy > 0) {
        std::fprintf(stderr, "eagle: dataset '%s': %d records skipped: another eagle process is explaining them\n",
                     o.dataset_path.c_str(), n_busy);
    }
    if (!is_quiet()) {
        std::printf("dataset %s, shard %d/%d: %d explained, %d already done, %d failed; results in %s\n",
                    o.dataset_path.c_str(), sh.index, sh.count, n_done, n_already, n_failed, o.out_dir.c_str());
    }
    return n_failed > 0 || n_busy > 0 ? 1 : 0;
}


int run_explain(explain_options & o) {
    resolve_explain_options(o);
    const model_params mparams = resolve_model(o.model);
    // refused before the model loads: these combinations would be ignored, or fail only after the whole search
    const bool is_several = !o.video_path.empty() || o.model.image_paths.size() > 1;
    if (!o.dataset_path.empty() && is_several) {
        throw error(errc::invalid_argument, std::string(!o.video_path.empty() ? "--video '" + o.video_path + "'" : "a repeated --image") +
                                                " with --dataset '" + o.dataset_path + "': a dataset names its own images");
    }
    if (is_several && output_layout_from_string(o.layout) == output_layout::reference) {
        throw error(errc::unsupported, "--layout reference with " +
                                           std::string(!o.video_path.empty() ? "--video" : "several --image") +
                                           ": the authors' layout holds one image per record");
    }
    if (!o.dataset_path.empty()) {
        return run_dataset(o, mparams);
    }
    const std::unique_ptr<vlm_model> model = load_vlm(mparams);
    const std::unique_ptr<vlm_session> session = model->new_session(make_session_params(o.model));
    explanation_request request = o.request;
    if (!o.video_path.empty()) {
        if (!o.model.image_paths.empty()) {
            throw error(errc::invalid_argument, "--video '" + o.video_path + "' with --image: give one or the other");
        }
        // every frame is an image of the prompt, recorded as FILE#frame=I
        std::vector<int32_t> frame_indices;
        std::vector<image_rgb8> frames = read_video_frames(o.video_path, o.n_frames, &frame_indices);
        request.image_path = o.video_path + "#frame=" + std::to_string(frame_indices.front());
        request.image = std::move(frames.front());
        for (size_t k = 1; k < frames.size(); ++k) {
            request.more_image_paths.push_back(o.video_path + "#frame=" + std::to_string(frame_indices[k]));
            request.more_images.push_back(std::move(frames[k]));
        }
    } else {
        const std::vector<std::string> paths = resolve_images(o.model);
        request.image_path = paths.front();
        request.more_image_paths.assign(paths.begin() + 1, paths.end());
    }
    const output_layout layout = output_layout_from_string(o.layout);
    const std::string name = safe_name(std::filesystem::path(o.video_path.empty() ? request.image_path : o.video_path).stem().string());
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
    CLI::Option * answer_opt = add_explain_command_options(*app, o);
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
