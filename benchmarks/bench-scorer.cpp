// bench-scorer: masked images scored per second by the llama.cpp engine, for several batch sizes, with and
// without the shared prefix, against the plain loop (one image per llama_decode, prefix recomputed).
// All configurations run in one process on the same masks, so the ratios are comparable.
//
//   bench-scorer --model M --mmproj P [--image I] [--n-masks 64] [--answer-tokens 8] [--threads N] [--workers 1]
// Prints a markdown table on stdout.
#include "eagle/backends.h"
#include "eagle/eagle.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>

namespace {

struct config {
    const char * name;
    int32_t n_seq;
    bool share_prefix;
    bool use_batch_encode = false;
};

int usage() {
    std::fprintf(stderr, "usage: bench-scorer --model M --mmproj P [--image I] [--n-masks N] [--answer-tokens K] [--threads T] [--workers W]\n");
    return 1;
}

} // namespace

int main(int argc, char ** argv) {
    eagle::model_params params;
    params.n_workers = 1; // one session per configuration, as these tables were measured; --workers to change it
    std::string image_path = std::string(EAGLE_BENCH_DATA_DIR) + "/samples/shapes-1.png";
    int n_masks = 64, n_answer = 8;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--model") params.model_path = v;
        else if (a == "--mmproj") params.mmproj_path = v;
        else if (a == "--image") image_path = v;
        else if (a == "--n-masks") n_masks = std::atoi(v.c_str());
        else if (a == "--answer-tokens") n_answer = std::atoi(v.c_str());
        else if (a == "--threads") params.n_threads = std::atoi(v.c_str());
        else if (a == "--workers") params.n_workers = std::atoi(v.c_str());
        else return usage();
    }
    if (params.model_path.empty() || params.mmproj_path.empty() || n_masks <= 0 || n_answer <= 0) {
        return usage();
    }
    try {
        const eagle::image_rgb8 image = eagle::load_image(image_path);
        const std::unique_ptr<eagle::vlm_model> model_ptr = eagle::load_vlm(params);
        const eagle::vlm_model & model = *model_ptr;
        // a fixed answer of n_answer tokens: what the model generates, padded with its first token
        eagle::score_request request;
        request.image  = image;
        request.prompt = "describe the image";
        {
            const auto session_ptr = model.new_session({});
            eagle::vlm_session & session = *session_ptr;
            const eagle::generation gen = session.generate({image, request.prompt, false, n_answer});
            for (const auto & t : gen.tokens) request.answer.push_back(t.id);
            while (int(request.answer.size()) < n_answer) request.answer.push_back(request.answer.front());
        }
        // distinct random masks over an 8x8 grid of cells (what a region search scores)
        std::mt19937 rng(7);
        std::vector<eagle::mask> masks;
        for (int i = 0; i < n_masks; ++i) {
            uint64_t cells = (uint64_t(rng()) << 32) | rng();
            eagle::mask m = eagle::mask::empty(image.nx, image.ny);
            for (int y = 0; y < image.ny; ++y)
                for (int x = 0; x < image.nx; ++x)
                    m.keep[size_t(y) * image.nx + x] = (cells >> ((y * 8 / image.ny) * 8 + x * 8 / image.nx)) & 1;
            masks.push_back(std::move(m));
        }
        const config configs[] = {
            {"plain loop (1 image per decode, prefix recomputed)", 1, false},
            {"batch 1, shared prefix", 1, true},
            {"batch 4, no prefix reuse", 4, false},
            {"batch 4, shared prefix", 4, true},
            {"batch 16, no prefix reuse", 16, false},
            {"batch 16, shared prefix", 16, true},
            {"batch 16, shared prefix, images batch-encoded by libmtmd", 16, true, true},
            {"batch 64, no prefix reuse", 64, false},
            {"batch 64, shared prefix", 64, true},
        };
        std::printf("model: %s (%s)\n", params.model_path.c_str(), model.description().c_str());
        std::printf("llama.cpp %s; %d masks of %dx%d, %d answer tokens, %u hardware threads\n\n",
                    eagle::llama_cpp_info().version.c_str(), n_masks, image.nx, image.ny, n_answer,
                    std::thread::hardware_concurrency());
        std::printf("| configuration | masked images/s | vs plain loop | decode calls | encode ms | decode ms |\n");
        std::printf("|---|---:|---:|---:|---:|---:|\n");
        double plain_rate = 0.0;
        for (const config & c : configs) {
            eagle::session_params sp;
            sp.n_seq = c.n_seq;
            sp.share_prefix = c.share_prefix;
            sp.use_memo = false;
            sp.use_batch_encode = c.use_batch_encode;
            const auto session_ptr = model.new_session(sp);
            eagle::vlm_session & session = *session_ptr;
            session.prepare(request);
            std::vector<float> probs(masks.size() * session.n_targets());
            session.score({masks.data(), 1}, {probs.data(), size_t(session.n_targets())}); // warm-up: buffers, prefix
            const eagle::scorer_stats before = session.stats();
            session.score(masks, probs);
            const eagle::scorer_stats s = session.stats();
            const double seconds = double(s.t_score_us - before.t_score_us) * 1e-6;
            const double rate = n_masks / seconds;
            if (plain_rate == 0.0) plain_rate = rate;
            std::printf("| %s | %.1f | %.2fx | %lld | %.0f | %.0f |\n", c.name, rate, rate / plain_rate,
                        (long long)(s.engine_value("n_decode_calls") - before.engine_value("n_decode_calls")),
                        (s.engine_value("t_encode_us") - before.engine_value("t_encode_us")) * 1e-3,
                        (s.engine_value("t_decode_us") - before.engine_value("t_decode_us")) * 1e-3);
            std::fflush(stdout);
        }
    } catch (const std::exception & e) {
        std::fprintf(stderr, "bench-scorer: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
