// eagle-eval-shapes: quality of a ShapesWorld GGUF pair through the real llama.cpp path (eagle::vlm_session,
// greedy decoding), on scenes of a seed the trainer never saw. Prints a JSON report on stdout.
//
//   eagle-eval-shapes --model M.gguf --mmproj P.gguf [--seed 2] [--n 500] [--n-probe 300] [--threads 0]
//
// Metrics: caption exact match; yes/no accuracy on the standard scenes (outside the bias probe); color and
// shape accuracy; on the probe scenes (a yellow triangle, no green square) the hallucination rate = how often
// the model answers "yes" to "is there a green square ?", and how often its caption mentions a green square.
#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/shapes.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

namespace {

struct tally {
    int64_t n_right = 0, n_total = 0;
    void add(bool right) {
        n_right += right ? 1 : 0;
        ++n_total;
    }
    double rate() const { return n_total > 0 ? double(n_right) / double(n_total) : 0.0; }
    nlohmann::ordered_json json() const { return {{"rate", rate()}, {"n", n_total}}; }
};

long long parse_count(const std::string & flag, const std::string & value) {
    size_t pos = 0;
    long long x = -1;
    try {
        x = std::stoll(value, &pos);
    } catch (const std::exception &) {
        pos = 0;
    }
    if (value.empty() || pos != value.size() || x < 0) {
        throw eagle::error(eagle::errc::invalid_argument, "invalid value for " + flag + ": '" + value + "'");
    }
    return x;
}

int run(int argc, char ** argv) {
    eagle::model_params params;
    uint64_t seed = 2;
    int64_t n = 500, n_probe = 300;
    for (int i = 1; i < argc; i += 2) {
        const std::string a = argv[i];
        if (i + 1 >= argc) {
            throw eagle::error(eagle::errc::invalid_argument, "missing value for " + a);
        }
        const std::string v = argv[i + 1];
        if      (a == "--model")   params.model_path = v;
        else if (a == "--mmproj")  params.mmproj_path = v;
        else if (a == "--seed")    seed = uint64_t(parse_count(a, v));
        else if (a == "--n")       n = parse_count(a, v);
        else if (a == "--n-probe") n_probe = parse_count(a, v);
        else if (a == "--threads") params.n_threads = int32_t(parse_count(a, v));
        else throw eagle::error(eagle::errc::invalid_argument, "unknown option " + a);
    }
    if (params.model_path.empty() || params.mmproj_path.empty()) {
        throw eagle::error(eagle::errc::invalid_argument, "usage: eagle-eval-shapes --model M --mmproj P [--seed N] [--n N] [--n-probe N]");
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::unique_ptr<eagle::vlm_model> model_ptr = eagle::load_vlm(params);
    const eagle::vlm_model & model = *model_ptr;
    const auto session_ptr = model.new_session({});
    eagle::vlm_session & session = *session_ptr;
    auto ask = [&](const eagle::image_rgb8 & image, const std::string & prompt) {
        return session.generate({image, prompt, false, 32}).text;
    };

    std::map<std::string, tally> by_task;
    tally caption_by_count[eagle::k_shapes_max_objects + 1];
    nlohmann::ordered_json failures = nlohmann::ordered_json::array();
    eagle::shapes_config cfg;
    for (int64_t i = 0; i < n; ++i) {
        const eagle::shapes_scene scene = eagle::make_shapes_scene(cfg, seed, i);
        const std::string caption = ask(scene.image, eagle::k_shapes_caption_prompt);
        by_task["caption"].add(caption == scene.caption);
        caption_by_count[scene.objects.size()].add(caption == scene.caption);
        if (caption != scene.caption && failures.size() < 20) {
            failures.push_back({{"index", i}, {"expected", scene.caption}, {"got", caption}});
        }
        for (const eagle::shapes_qa & q : scene.qa) {
            by_task[q.task].add(ask(scene.image, q.question) == q.answer);
        }
        if ((i + 1) % 100 == 0) {
            std::fprintf(stderr, "standard %lld/%lld: caption %.3f\n", static_cast<long long>(i + 1),
                         static_cast<long long>(n), by_task["caption"].rate());
        }
    }

    tally probe_yes, probe_caption_mentions, probe_caption_exact, probe_other_yesno;
    eagle::shapes_config probe_cfg;
    probe_cfg.split = eagle::shapes_split::probe;
    for (int64_t i = 0; i < n_probe; ++i) {
        const eagle::shapes_scene scene = eagle::make_shapes_scene(probe_cfg, seed, i);
        const std::string caption = ask(scene.image, eagle::k_shapes_caption_prompt);
        probe_caption_mentions.add(caption.find("green square") != std::string::npos);
        probe_caption_exact.add(caption == scene.caption);
        for (const eagle::shapes_qa & q : scene.qa) {
            const std::string answer = ask(scene.image, q.question);
            if (q.task == "probe") {
                probe_yes.add(answer == "yes");
            } else if (q.task == "yesno") {
                probe_other_yesno.add(answer == q.answer);
            }
        }
    }

    nlohmann::ordered_json report;
    report["model"] = params.model_path;
    report["llama_cpp"] = eagle::llama_cpp_info().version;
    report["seed"] = seed;
    report["standard"] = nlohmann::ordered_json::object();
    for (const auto & [task, t] : by_task) {
        report["standard"][task] = t.json();
    }
    for (int k = 1; k <= eagle::k_shapes_max_objects; ++k) {
        report["standard"]["caption_" + std::to_string(k) + "_objects"] = caption_by_count[k].json();
    }
    report["probe"] = {{"hallucination_yes_green_square", probe_yes.json()},
                       {"caption_mentions_green_square", probe_caption_mentions.json()},
                       {"caption_exact", probe_caption_exact.json()},
                       {"other_yesno_accuracy", probe_other_yesno.json()}};
    report["caption_failures"] = failures;
    report["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
}

} // namespace

int main(int argc, char ** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception & e) {
        std::fprintf(stderr, "eagle-eval-shapes: %s\n", e.what());
        return 1;
    }
}
