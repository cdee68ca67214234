// The options every model command shares, and where the embedded default model lives.
#pragma once

#include "eagle/backends.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace eagle::cli {

struct model_options {
    std::string model_path;   // empty: the embedded default model
    std::string mmproj_path;
    std::vector<std::string> servers; // --server URL (repeatable): the server engine instead of llama.cpp in process
    std::string server_api = "llama"; // --server-api: what the servers speak (llama: the exact server engine; openai:
                                      // any OpenAI-compatible chat server, approximate; vllm, sglang: exact, from
                                      // their documentation); the engine of the same name (llama: "server")
    int32_t top_logprobs = 20;        // --top-logprobs: with --server-api openai, log-probabilities per call
    std::vector<std::string> rpc_servers; // --rpc host:port,...: ggml RPC servers the in-process model is split over
    std::vector<std::string> image_paths; // --image (repeatable: the prompt's images in order); empty: the bundled sample
    std::string prompt = EAGLE_DEFAULT_PROMPT;
    bool use_raw_prompt = false;
    std::string chat_template = "auto";       // --chat-template FAMILY
    std::optional<std::string> system_prompt; // --system TEXT (unset: the family's default)
    int32_t n_threads = 0;
    int32_t n_workers = 0; // --workers: 0 = auto
    bool use_no_pin_workers = false; // --no-pin-workers
    int32_t n_seq     = 16;
    int32_t n_ctx     = 0;
    int32_t n_gpu_layers = 0;
    bool use_blas = false;    // --blas: on
    bool use_no_blas = false; // --no-blas: off (neither: auto)
    bool use_flash_attn = false;
    bool use_f16_kv = false;
    bool is_json  = false;
};

void add_model_options(CLI::App & app, model_options & opts);

// model/mmproj/image paths with the defaults filled in; throws eagle::error if a default is missing, and
// errc::invalid_argument for an in-process option (--threads, --batch, --ctx, ...) set with --server
model_params resolve_model(const model_options & opts);
std::string resolve_image(const model_options & opts); // the one image; errc::invalid_argument for several
std::vector<std::string> resolve_images(const model_options & opts); // every --image, in order (explain)
session_params make_session_params(const model_options & opts);

// Token ids written "1 2 3", "1,2,3" or "[1, 2, 3]"; throws errc::invalid_argument naming the option.
std::vector<int32_t> parse_token_ids(const std::string & text, const std::string & option);

// what every output records to make a run reproducible: versions, model, image, prompt, engine options;
// workers and BLAS as the loaded model resolved them (auto asked), as explanation.json records them
nlohmann::ordered_json run_identity(const model_options & opts, const model_params & params, const vlm_model & model,
                                    const std::string & image_path);

} // namespace eagle::cli
