// eagle bench shapes: the ShapesWorld benchmark. Builds a held-out ShapesWorld set, explains every sample with
// every method (sentence level on captions, word level on object words, the hallucination probe), evaluates
// with the same metrics as `eagle eval`, and writes the tables (stdout, and BENCHMARKS.md with --update).
#include "explain-options.h"
#include "progress.h"

#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/file.h"
#include "eagle/metrics.h"
#include "eagle/report.h"
#include "eagle/shapes.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace eagle::cli {

namespace {

namespace fs = std::filesystem;

struct bench_options {
    explain_options explain;         // engine, regions and search knobs shared by every method
    int32_t n_scenes = 12;
    uint64_t seed = 90001;           // held out: the model was trained on other seeds
    int32_t size = 128;
    std::string methods = "eagle-exact,eagle-lazy,insight-only,necessity-only,occlusion,rise,lime,random";
    std::string tasks = "sentence,word,probe";
    std::string update_path;         // BENCHMARKS.md to update (between the bench markers)
};

struct method_spec {
    std::string name;
    std::string method;
    std::string search;
};

std::vector<std::string> split(const std::string & text) {
    std::vector<std::string> out;
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, ',');) {
        if (!item.empty()) out.push_back(item);
    }
    return out;
}

// eagle-<search> for EAGLE with each search; every other method of the library's table (ablations
// included) runs with the lazy search. Plain "eagle" is not a bench method: its search must be named.
method_spec parse_method(const std::string & name) {
    std::vector<std::string> valid;
    for (const std::string & search : search_mode_names()) {
        if (name == "eagle-" + search) return {name, "eagle", search};
        valid.push_back("eagle-" + search);
    }
    for (const std::string & method : method_names()) {
        if (method == "eagle") continue;
        if (name == method) return {name, name, "lazy"};
        valid.push_back(method);
    }
    std::string list;
    for (const std::string & v : valid) list += (list.empty() ? "" : ", ") + v;
    throw error(errc::invalid_argument, "unknown bench method '" + name + "' (" + list + ")");
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.4f", v);
    return buf;
}


int run_bench(bench_options & o) {
    const model_params mparams = resolve_model(o.explain.model);
    const std::unique_ptr<vlm_model> model = load_vlm(mparams);
    const std::unique_ptr<vlm_session> session = model->new_session(make_session_params(o.explain.model));
    const fs::path root = o.explain.out_dir;
    fs::create_directories(root / "images");

    // the held-out scenes and the three task lists
    struct task_sample {
        std::string task;
        std::string name;
        explanation_request request;
    };
    resolve_explain_options(o.explain);
    const auto new_request = [&](const std::string & image_path, const std::string & prompt) {
        explanation_request rq = o.explain.request;
        rq.image_path = image_path;
        rq.prompt = prompt;
        return rq;
    };
    std::vector<task_sample> samples;
    const std::vector<std::string> tasks = split(o.tasks);
    auto wants = [&](const std::string & t) { return std::find(tasks.begin(), tasks.end(), t) != tasks.end(); };
    // The probe explains hallucinations, which a good model makes on a minority of probe scenes: probe scenes
    // are scanned in order until n_scenes hallucinations are found (or k_probe_scan_factor * n_scenes scenes
    // were asked), and the rate is reported.
    constexpr int32_t k_probe_scan_factor = 25;
    int n_probe = 0, n_hallucinated = 0;
    for (int32_t i = 0; i < o.n_scenes * k_probe_scan_factor; ++i) {
        for (shapes_split split_kind : {shapes_split::standard, shapes_split::probe}) {
            if (split_kind == shapes_split::standard ? i >= o.n_scenes : n_hallucinated >= o.n_scenes) continue;
            shapes_config cfg;
            cfg.size = o.size;
            cfg.split = split_kind;
            const bool is_probe = split_kind == shapes_split::probe;
            if (is_probe && !wants("probe")) continue;
            if (!is_probe && !wants("sentence") && !wants("word")) continue;
            const shapes_scene scene = make_shapes_scene(cfg, o.seed + (is_probe ? 1 : 0), i);
            const std::string id = std::string(is_probe ? "probe-" : "scene-") + std::to_string(i);
            const std::string image_path = (root / "images" / (id + ".png")).string();
            if (!is_probe) {
                save_png(scene.image, image_path);
                if (wants("sentence")) {
                    explanation_request s = new_request(image_path, k_shapes_caption_prompt);
                    s.ground_truth = {{"expected_answer", scene.caption}};
                    samples.push_back({"sentence", id, s});
                }
                if (wants("word")) {
                    // the object whose shape word is unique in the caption, explained on the expected caption
                    for (const shapes_object & obj : scene.objects) {
                        int n_same = 0;
                        for (const shapes_object & other : scene.objects) n_same += other.shape == obj.shape;
                        if (n_same != 1) continue;
                        explanation_request s = new_request(image_path, k_shapes_caption_prompt);
                        s.answer_text = scene.caption;
                        s.target_words = {shape_name(obj.shape)};
                        s.ground_truth = {{"location", {obj.box.x0, obj.box.y0, obj.box.x1, obj.box.y1}},
                                          {"segmentation", mask_to_polygons(obj.pixels)},
                                          {"category", std::string(color_name(obj.color)) + " " + shape_name(obj.shape)}};
                        samples.push_back({"word", id, s});
                        break;
                    }
                }
            } else {
                for (const shapes_qa & qa : scene.qa) {
                    if (qa.task != "probe") continue;
                    ++n_probe;
                    const generation g = session->generate({scene.image, qa.question, false, 4});
                    if (g.text == qa.answer) continue; // answered right: nothing to diagnose
                    ++n_hallucinated;
                    save_png(scene.image, image_path);
                    explanation_request s = new_request(image_path, qa.question);
                    s.target_text = qa.answer;
                    s.revise = true;
                    s.ground_truth = {{"question", qa.question}, {"hallucinated_answer", g.text}};
                    samples.push_back({"probe", id, s});
                }
            }
        }
    }

    // every method on every sample (resumable: finished folders are kept)
    std::vector<method_spec> methods;
    for (const std::string & name : split(o.methods)) methods.push_back(parse_method(name));
    struct cell {
        std::string task, method;
        std::vector<sample_metrics> samples;
        double seconds = 0;
        int64_t n_evaluations = 0;
    };
    std::vector<cell> cells;
    progress_bar bar("bench", !is_quiet());
    const int n_total = int(samples.size() * methods.size());
    int n_done = 0;
    for (const method_spec & m : methods) {
        explain_options eo = o.explain;
        eo.request.method = m.method;
        eo.search = m.search;
        resolve_explain_options(eo);
        for (const std::string & task : tasks) {
            cell c{task, m.name, {}, 0.0, 0};
            for (const task_sample & ts : samples) {
                if (ts.task != task) continue;
                explanation_request rq = ts.request;
                rq.method = eo.request.method;
                rq.params = eo.request.params;
                const std::string out_dir = (root / task / m.name / ts.name).string();
                const fs::path json_path = fs::path(out_dir) / "explanation.json";
                if (fs::exists(json_path)) {
                    // a finished folder of an earlier run: read back from its files (resumable)
                    const json j = json::parse(read_file(json_path.string()));
                    c.seconds += j.value("t_search_us", int64_t(0)) * 1e-6;
                    c.n_evaluations += j.value("n_evaluations", int64_t(0));
                    bool is_single = false;
                    c.samples.push_back(evaluate_explanation_files(discover_explanations(out_dir, is_single).front(),
                                                                   map_source::attribution, default_sensitivity));
                } else {
                    const explanation_record rec = explain_into(*model, *session, rq, out_dir, false);
                    c.seconds += rec.result.t_search_us * 1e-6;
                    c.n_evaluations += rec.result.n_evaluations;
                    c.samples.push_back(evaluate_record(rec, map_source::attribution, default_sensitivity));
                }
                bar.update(++n_done, n_total, task + " / " + m.name);
            }
            if (!c.samples.empty()) cells.push_back(c);
        }
    }
    bar.finish();

    // tables
    std::ostringstream md;
    md << "Command: `eagle bench shapes --n " << o.n_scenes << " --seed " << o.seed << " -D " << o.explain.request.regions.n_divisions
       << "` on `" << mparams.model_path << "`, llama.cpp " << llama_cpp_info().version << ".\n\n";
    if (wants("probe")) {
        md << "Hallucination probe: the model answered " << n_hallucinated << " of " << n_probe
           << " probe questions wrongly (probe scenes are asked in order until " << o.n_scenes
           << " hallucinations are found); those are diagnosed below.\n\n";
    }
    for (const std::string & task : tasks) {
        md << "#### " << (task == "sentence" ? "Sentence level (captions, all tokens incl. the end token)"
                          : task == "word" ? "Word level (the shape word of a unique-shape object)"
                                            : "Hallucination probe (target: the correct answer)")
           << "\n\n";
        md << "| method | n | insertion AUC ↑ | deletion AUC ↓ | highest score ↑ |"
           << (task == "word" ? " point game box ↑ | point game mask ↑ |" : "")
           << (task == "probe" ? " AMCR ↓ | CSR@10% ↑ (ref.) | CSR@10% ↑ (clean) |" : "")
           << " evaluations / explanation | s / explanation |\n";
        md << "|---|---:|---:|---:|---:|" << (task == "word" ? "---:|---:|" : "") << (task == "probe" ? "---:|---:|---:|" : "")
           << "---:|---:|\n";
        for (const cell & c : cells) {
            if (c.task != task) continue;
            const eval_summary m = summarize(c.samples);
            const double n = double(c.samples.size());
            md << "| " << c.method << " | " << c.samples.size() << " | " << fmt(m.insertion_auc) << " | " << fmt(m.deletion_auc)
               << " | " << fmt(m.average_highest_confidence) << " |";
            if (task == "word") md << " " << fmt(m.point_game_box) << " | " << fmt(m.point_game_mask) << " |";
            if (task == "probe") md << " " << fmt(m.amcr) << " | " << fmt(m.csr_10) << " | " << fmt(m.csr_10_clean) << " |";
            md << " " << int64_t(c.n_evaluations / n) << " | " << fmt(c.seconds / n) << " |\n";
        }
        md << "\n";
    }
    std::printf("%s", md.str().c_str());
    if (!o.update_path.empty()) {
        const std::string begin = "<!-- bench-shapes:begin -->", end = "<!-- bench-shapes:end -->";
        std::string text;
        if (fs::exists(o.update_path)) {
            text = read_file(o.update_path);
        }
        const size_t b = text.find(begin), e = text.find(end);
        const std::string block = begin + "\n" + md.str() + end;
        if (b != std::string::npos && e != std::string::npos && e > b) {
            text.replace(b, e + end.size() - b, block);
        } else {
            text += "\n## ShapesWorld explanation benchmark\n\n" + block + "\n";
        }
        write_file_atomic(o.update_path, text);
    }
    return 0;
}

} // namespace

command add_bench_command(CLI::App & parent) {
    auto st = std::make_shared<bench_options>();
    bench_options & o = *st;
    CLI::App * bench = parent.add_subcommand("bench", "benchmarks");
    bench->require_subcommand(1);
    CLI::App * app = bench->add_subcommand("shapes", "explain a held-out ShapesWorld set with every method and evaluate");
    add_model_options(*app, o.explain.model);
    app->add_option("--n", o.n_scenes, "held-out scenes (each task takes what applies)")->check(CLI::PositiveNumber)->capture_default_str();
    app->add_option("--seed", o.seed, "scene seed (held out from training)")->capture_default_str();
    app->add_option("--size", o.size, "image side")->capture_default_str();
    app->add_option("--methods", o.methods, "comma-separated methods")->capture_default_str();
    app->add_option("--tasks", o.tasks, "comma-separated: sentence, word, probe")->capture_default_str();
    app->add_option("--divisions,-D", o.explain.request.regions.n_divisions, "SLICO division number")->capture_default_str();
    add_search_options(*app, o.explain.request.params);
    app->add_option("--out,-o", o.explain.out_dir, "output folder (resumable)")->capture_default_str();
    app->add_option("--update", o.update_path, "write the tables into this BENCHMARKS.md (between the bench markers)");
    add_log_flags(*app);
    o.explain.out_dir = "bench-shapes";

    return {app, [st] {
        return run_bench(*st);
    }};
}

} // namespace eagle::cli
