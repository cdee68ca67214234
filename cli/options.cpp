#include "options.h"

#include "eagle/error.h"
#include "eagle/eagle.h"

#include <cctype>
#include <climits>
#include <cstdlib>
#include <filesystem>

namespace eagle::cli {

// Numbers are not range-checked here: the library checks them (load_vlm, new_session, run_explanation) and
// main() turns its errc::invalid_argument into one "eagle: error: ..." line and exit 1.
void add_model_options(CLI::App & app, model_options & opts) {
    app.add_option("--model,-m", opts.model_path, "text model GGUF (default: the embedded ShapesWorld model)");
    app.add_option("--mmproj", opts.mmproj_path, "multimodal projector GGUF (required with --model)");
    app.add_option("--server", opts.servers,
                   "llama-server URL (http://host:port, repeatable): score and generate on running servers started with "
                   "--mmproj, the work spread over all; --model then only checks the served model's file name. The "
                   "servers' own settings apply: --threads, --batch, --ctx, --gpu-layers, --kv-f16, --blas, --flash-attn, "
                   "--rpc are errors with --server");
    app.add_option("--server-api", opts.server_api,
                   "what the --server URLs speak: llama (llama-server, exact), openai (any OpenAI-compatible "
                   "/v1/chat/completions with logprobs: APPROXIMATE, top-k log-probabilities, one call per target and "
                   "masked image; --model names the served model; $OPENAI_API_KEY is sent when set), vllm (exact: "
                   "prompt_logprobs of the answer as the continued assistant turn) or sglang (exact: /generate input "
                   "logprobs; needs --chat-template qwen2-vl, qwen2.5-vl, qwen3-vl or llava-1.5). vllm and sglang are "
                   "implemented from the vLLM/SGLang documentation, not yet run against a live server; they score "
                   "the answer's own tokens without its end (--no-eog)")
        ->check(CLI::IsMember({"llama", "openai", "vllm", "sglang"}))
        ->capture_default_str();
    app.add_option("--top-logprobs", opts.top_logprobs,
                   "with --server-api openai: log-probabilities asked per call (1..20); a target outside them scores 0")
        ->capture_default_str();
    app.add_option("--rpc", opts.rpc_servers,
                   "ggml RPC servers (host:port,...) to split the in-process model over (llama.cpp's rpc-server; "
                   "all layers go to them unless --gpu-layers says otherwise; docs/scale-out.md)")
        ->delimiter(',');
    app.add_option("--image,-i", opts.image_paths,
                   "image file (default: a bundled sample image); `eagle explain` takes it repeated: the prompt's images "
                   "in order (one <image> per image in the prompt, or none: all first), ranked together");
    app.add_option("--prompt,-p", opts.prompt, "prompt text")->capture_default_str();
    app.add_flag("--raw-prompt", opts.use_raw_prompt, "use the prompt verbatim (no chat template); <image> marks the image");
    std::string families = "auto";
    for (const chat_family_info & f : chat_families()) {
        families += ", " + std::string(f.name);
    }
    app.add_option("--chat-template", opts.chat_template,
                   "how the prompt is rendered: the Hugging Face chat template of a model family (" + families +
                       "; auto: detected from the model's GGUF template, else llama.cpp's template table)")
        ->capture_default_str();
    app.add_option_function<std::string>(
        "--system", [&opts](const std::string & text) { opts.system_prompt = resolve_system_prompt(text); },
        "the system turn (default: the template family's own, e.g. Qwen2.5-VL's \"You are a helpful assistant.\"; "
        "'' for none; with --server-api openai/vllm: none unless given). preset:eagle-continuation is the EAGLE "
        "authors' \"text continuation engine\" prompt for closed models (their API notebook), to reproduce their "
        "closed-model setup with --server-api openai");
    app.add_option("--threads,-t", opts.n_threads, "CPU threads (0 = all; not with --server)");
    app.add_option("--workers", opts.n_workers,
                   "masks of a batch scored side by side by this many single-thread workers, each with its own copy "
                   "of the projector (0 = auto: one per thread for 2..4 threads on CPU with BLAS on and a text model under 1B "
                   "parameters, else 1; 1..threads; CPU only; not with --server)");
    app.add_flag("--no-pin-workers", opts.use_no_pin_workers,
                 "leave the workers' threads unbound (default: each bound to a CPU of its own while a batch is scored, "
                 "so that threads ggml's BLAS backend starts for each image run beside their worker)");
    app.add_option("--batch,-b", opts.n_seq, "masked images per llama_decode (sequences, 1..256; not with --server)");
    app.add_option("--ctx", opts.n_ctx, "context size in tokens (0 = sized from the request; not with --server)");
    app.add_option("--gpu-layers,-g", opts.n_gpu_layers, "layers to offload to a GPU backend (-1 = all)");
    app.add_flag("--kv-f16", opts.use_f16_kv, "keep llama.cpp's KV cache in f16 (less memory; on CPU slower than the default f32)");
    app.add_flag("--blas", opts.use_blas, "use ggml's BLAS backend (the system's libblas.so.3) for the large matrix products of the text model and the vision encoder (default: on when libblas.so.3 is OpenBLAS built with OpenMP, libopenblas0-openmp: 1.4-2.9x faster per evaluation; BENCHMARKS.md)");
    app.add_flag("--no-blas", opts.use_no_blas, "never use ggml's BLAS backend")->excludes("--blas");
    app.add_flag("--flash-attn", opts.use_flash_attn, "use llama.cpp's flash attention (faster on GPU; on CPU scores then vary ~1e-3 with the batch)");
    app.add_flag("--json", opts.is_json, "print JSON");
}

namespace {

// The in-process options a --server run would silently ignore (the servers' own -t, -np, -c, -ngl, -ctk, -fa
// decide): one error naming the first one set away from its default.
void reject_in_process_options(const model_options & opts) {
    const model_options defaults;
    const std::pair<bool, const char *> set[] = {
        {opts.n_threads != defaults.n_threads, "--threads"},   {opts.n_seq != defaults.n_seq, "--batch"},
        {opts.n_workers != defaults.n_workers, "--workers"},   {opts.use_no_pin_workers, "--no-pin-workers"},
        {opts.n_ctx != defaults.n_ctx, "--ctx"},               {opts.n_gpu_layers != defaults.n_gpu_layers, "--gpu-layers"},
        {opts.use_f16_kv, "--kv-f16"},                         {opts.use_blas, "--blas"}, {opts.use_no_blas, "--no-blas"},
        {opts.use_flash_attn, "--flash-attn"},                 {!opts.rpc_servers.empty(), "--rpc"}};
    for (const auto & [is_set, name] : set) {
        if (is_set) {
            throw error(errc::invalid_argument, std::string(name) + " does not apply with --server: the servers run the model "
                                                "with their own settings (llama-server -t, -np, -c, -ngl, -ctk/-ctv, -fa, --rpc)");
        }
    }
}

} // namespace

model_params resolve_model(const model_options & opts) {
    model_params params;
    if (!opts.servers.empty()) {
        reject_in_process_options(opts);
        // the servers hold the model: --model, if given, names the file they must serve
        params.engine = opts.server_api == "llama" ? "server" : opts.server_api;
        params.servers = opts.servers;
        params.top_logprobs = opts.top_logprobs;
        params.model_path = opts.model_path;
        params.chat_template = opts.chat_template;
        params.system_prompt = opts.system_prompt;
        return params;
    }
    if (opts.server_api != "llama") {
        throw error(errc::invalid_argument, "--server-api " + opts.server_api + " needs --server URL");
    }
    if (opts.model_path.empty()) {
        if (!opts.mmproj_path.empty()) {
            throw error(errc::invalid_argument, "--mmproj given without --model");
        }
        const char * env_model  = std::getenv("EAGLE_DEFAULT_MODEL");
        const char * env_mmproj = std::getenv("EAGLE_DEFAULT_MMPROJ");
        params.model_path  = env_model ? env_model : EAGLE_DEFAULT_MODEL;
        params.mmproj_path = env_mmproj ? env_mmproj : EAGLE_DEFAULT_MMPROJ;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(params.model_path, ec)) {
            throw error(errc::io, "the embedded default model '" + params.model_path +
                                      "' is missing; build the project (scripts/setup.sh) or pass --model/--mmproj");
        }
    } else {
        if (opts.mmproj_path.empty()) {
            throw error(errc::invalid_argument, "--model '" + opts.model_path + "' needs --mmproj (its multimodal projector)");
        }
        params.model_path  = opts.model_path;
        params.mmproj_path = opts.mmproj_path;
    }
    params.n_threads    = opts.n_threads;
    params.n_workers    = opts.n_workers;
    params.pin_workers  = !opts.use_no_pin_workers;
    params.n_gpu_layers = opts.n_gpu_layers;
    params.blas = opts.use_blas ? "on" : opts.use_no_blas ? "off" : "auto";
    params.chat_template = opts.chat_template;
    params.system_prompt = opts.system_prompt;
    params.rpc_servers = opts.rpc_servers;
    return params;
}

std::string resolve_image(const model_options & opts) {
    if (opts.image_paths.size() > 1) {
        throw error(errc::invalid_argument, "--image given " + std::to_string(opts.image_paths.size()) +
                                                " times; this command takes one image (eagle explain takes several)");
    }
    return opts.image_paths.empty() ? std::string(EAGLE_DEFAULT_IMAGE) : opts.image_paths.front();
}

std::vector<std::string> resolve_images(const model_options & opts) {
    return opts.image_paths.empty() ? std::vector<std::string>{EAGLE_DEFAULT_IMAGE} : opts.image_paths;
}

std::vector<int32_t> parse_token_ids(const std::string & text, const std::string & option) {
    std::vector<int32_t> ids;
    std::string number;
    auto flush = [&] {
        if (number.empty()) {
            return;
        }
        if (number.size() > 10 || std::stoll(number) > INT32_MAX) {
            throw error(errc::invalid_argument, option + " '" + text + "': " + number + " is not a token id");
        }
        ids.push_back(int32_t(std::stoll(number)));
        number.clear();
    };
    for (size_t i = 0; i < text.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (std::isdigit(c)) {
            number.push_back(char(c));
        } else if (std::isspace(c) || c == ',' || c == '[' || c == ']') {
            flush();
        } else {
            throw error(errc::invalid_argument, option + " '" + text + "': '" + std::string(1, char(c)) +
                                                    "' at " + std::to_string(i) + " (expected token ids: \"1 2 3\", \"1,2,3\" or \"[1, 2, 3]\")");
        }
    }
    flush();
    if (ids.empty()) {
        throw error(errc::invalid_argument, option + " '" + text + "' holds no token id");
    }
    return ids;
}

session_params make_session_params(const model_options & opts) {
    session_params params;
    params.n_seq = opts.n_seq;
    params.n_ctx = opts.n_ctx;
    params.use_flash_attn = opts.use_flash_attn;
    params.use_f32_kv = !opts.use_f16_kv;
    return params;
}

} // namespace eagle::cli

namespace eagle::cli {

nlohmann::ordered_json run_identity(const model_options & opts, const model_params & params, const vlm_model & model,
                                    const std::string & image_path) {
    return {{"eagle", version()},
            {"llama_cpp", llama_cpp_info().version},
            {"engine", params.engine},
            {"servers", params.servers},
            {"rpc", params.rpc_servers},
            {"model", params.model_path},
            {"mmproj", params.mmproj_path},
            {"image", image_path},
            {"prompt", opts.prompt},
            {"raw_prompt", opts.use_raw_prompt},
            {"chat_template", opts.chat_template},
            {"system", opts.system_prompt ? nlohmann::ordered_json(*opts.system_prompt) : nlohmann::ordered_json(nullptr)},
            {"threads", params.n_threads},
            {"workers", model.n_workers()}, // as resolved (auto: 0 asked), like the explanation record
            {"batch", opts.n_seq},
            {"ctx", opts.n_ctx},
            {"flash_attn", opts.use_flash_attn},
            {"kv_f32", !opts.use_f16_kv},
            {"blas", model.uses_blas()}};
}

} // namespace eagle::cli
