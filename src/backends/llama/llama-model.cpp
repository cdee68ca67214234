// llama.cpp engine: the model (libllama text model + libmtmd projector), tokenizer and chat template.
#include "llama-model.h"

#include "blas-attention.h"
#include "blas-threads.h"

#include "llama-engine.h"
#include "llama-runtime.h"

#include "eagle/error.h"
#include "eagle/log.h"

#include <algorithm>
#include <cstdlib>

namespace eagle::llama_backend {

namespace {

// Whether the environment variable `name` is set to `value`: the switches that turn a speed lever off, to measure it
bool env_is(const char * name, const char * value) {
    const char * set = std::getenv(name);
    return set && std::string(set) == value;
}

} // namespace

llama_vlm_model::llama_vlm_model(const model_params & params)
    : params_(params), n_threads_(params.n_threads > 0 ? params.n_threads : default_n_threads()) {
    init_logging_once();
    const gguf_header text        = read_gguf_header(params.model_path, "model");
    const std::string & text_arch = text.architecture;
    const std::string mmproj_arch = gguf_architecture(params.mmproj_path, "mmproj");
    if (text_arch == "clip") {
        throw error(errc::model, "model '" + params.model_path + "' is a multimodal projector (clip); pass it as --mmproj");
    }
    if (mmproj_arch != "clip") {
        throw error(errc::model, "mmproj '" + params.mmproj_path + "' is not a multimodal projector (architecture '" +
                                     mmproj_arch + "', expected 'clip')");
    }
    resolve_n_workers(params, n_threads_, 0, false); // a bad --workers fails before the model loads
    init_backends_once(text.attention_head_size);
    const blas_library blas = find_blas_library();
    uses_blas_ = wants_blas(params.blas, blas);
    pins_workers_ = params.pin_workers && (!uses_blas_ || blas.kind != blas_library::threading::pthreads);
    if (uses_blas_) {
        enable_blas_backend();
        log(log_level::info, "BLAS: ggml's BLAS backend on (" + params.blas + ", " +
                                 (blas.config.empty() ? std::string("libblas.so.3, not OpenBLAS") : blas.config) + ")\n");
    } else if (params.blas == "auto" && blas.kind == blas_library::threading::pthreads) {
        log(log_level::info, "BLAS: left off: libblas.so.3 is OpenBLAS on its own pthreads, which contend with "
                             "ggml's threads; libopenblas0-openmp, selected as libblas.so.3, turns it on (BENCHMARKS.md)\n");
    }

    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = params.n_gpu_layers;
    // RPC servers join ggml's process-wide device list once registered: a model names its devices then, so
    // that only a model given --rpc uses them (theirs first, as llama.cpp orders them, then local GPUs)
    std::vector<ggml_backend_dev_t> devices;
    if (!params.rpc_servers.empty()) {
        devices = rpc_devices(params.rpc_servers);
        if (params.n_gpu_layers == 0) {
            mparams.n_gpu_layers = -1; // --rpc alone: every layer goes to the servers
        }
    }
    if (has_rpc_devices()) {
        for (ggml_backend_dev_t dev : local_offload_devices()) {
            devices.push_back(dev);
        }
        devices.push_back(nullptr);
        mparams.devices = devices.data();
    }
    if (uses_blas_ && mparams.n_gpu_layers == 0) {
        // on the CPU only (with layers on a GPU or RPC servers the attention runs there); before any context is
        // made, so that their reserve graphs hold the copies. Never turned off again in the process, as BLAS.
        if (!env_is("EAGLE_BLAS_ATTENTION", "off")) {
            set_attention_in_blas(true);
        }
    }
    model_ = llama_model_load_from_file(params.model_path.c_str(), mparams);
    if (!model_) {
        throw error(errc::model, "cannot load model '" + params.model_path + "' (architecture '" + text_arch +
                                     "'): llama.cpp rejected it (run with --verbose for its log)");
    }
    vocab_ = llama_model_get_vocab(model_);

    const int32_t n_workers = resolve_n_workers(params, n_threads_, llama_model_n_params(model_), uses_blas_);
    if (n_workers > 1) {
        log(log_level::info, "workers: " + std::to_string(n_workers) + " single-thread workers, each with its own copy of the projector\n");
    }
    mtmd_context_params cparams = mtmd_context_params_default();
    cparams.use_gpu       = params.n_gpu_layers != 0;
    if (uses_blas_ && params.n_gpu_layers == 0) {
        // libmtmd gives its vision encoder a CPU backend plus one "GPU" device; without that device the
        // encoder never sees BLAS (llama.cpp adds accelerators to text contexts only). Naming the BLAS device
        // here runs the encoder's large products in BLAS and everything else on the CPU.
        cparams.use_gpu = true;
        cparams.device  = blas_device();
    }
    // all threads: a worker that encodes alone uses them; in a team of workers each gets one (OpenMP does not
    // nest, llama-workers.cpp)
    cparams.n_threads     = n_threads_;
    cparams.print_timings = false;
    cparams.warmup        = false;
    // libmtmd's default (auto) turns flash attention on for the vision encoder even on CPU, where it
    // accumulates in f16: on ShapesWorld the scores moved up to 4e-4 from llama-server's (-fa off) by that
    // alone. Off on CPU, as for the text model (session_params::use_flash_attn).
    cparams.flash_attn_type = params.n_gpu_layers != 0 ? LLAMA_FLASH_ATTN_TYPE_AUTO : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    // ggml's BLAS backend converts an encode's f16 operands on the calling thread alone, instead of starting 3
    // more per product (ggml's default of 4): a conversion is far cheaper than starting threads, also for a large
    // image's im2col (blas-threads.h). $EAGLE_GGML_BLAS_THREADS=ggml keeps ggml's (the lever off, to measure).
    set_blas_backend_threads(env_is("EAGLE_GGML_BLAS_THREADS", "ggml") ? 0 : 1);
    for (int32_t k = 0; k < n_workers; ++k) {
        encoders_.push_back(std::make_unique<encoder>());
        mtmd_context *& ctx = encoders_.back()->ctx;
        ctx = mtmd_init_from_file(params.mmproj_path.c_str(), model_, cparams);
        if (!ctx || !mtmd_support_vision(ctx)) {
            const bool is_loaded = ctx != nullptr;
            encoders_.clear();        // the projectors before the model they were made for
            llama_model_free(model_); // the destructor does not run for a constructor that throws
            throw error(errc::model, is_loaded ? "mmproj '" + params.mmproj_path + "' has no vision encoder"
                                               : "cannot load mmproj '" + params.mmproj_path + "' for model '" + params.model_path +
                                                     "': corrupt, or made for another text model (run with --verbose for details)");
        }
    }
    if (const char * tmpl = llama_model_chat_template(model_, nullptr)) {
        chat_template_ = tmpl;
    }
    char name[256] = "";
    llama_model_meta_val_str(model_, "general.name", name, sizeof(name));
    chat_family_ = resolve_chat_family(params.chat_template, chat_template_, name);
}

llama_vlm_model::~llama_vlm_model() {
    encoders_.clear();
    if (model_) {
        llama_model_free(model_);
    }
}

std::string llama_vlm_model::engine_version() const {
    return runtime_info().version;
}

std::string llama_vlm_model::description() const {
    char buf[256];
    llama_model_desc(model_, buf, sizeof(buf));
    std::string rpc;
    for (const std::string & endpoint : params_.rpc_servers) {
        rpc += (rpc.empty() ? ", layers on RPC servers " : ", ") + endpoint;
    }
    return std::string(buf) + ", " + std::to_string(llama_model_n_params(model_)) + " parameters" + rpc;
}

int32_t llama_vlm_model::n_vocab() const { return llama_vocab_n_tokens(vocab_); }
int32_t llama_vlm_model::n_ctx_train() const { return llama_model_n_ctx_train(model_); }

std::vector<int32_t> llama_vlm_model::tokenize(const std::string & text, bool add_bos, bool parse_special) const {
    int32_t n = -llama_tokenize(vocab_, text.data(), int32_t(text.size()), nullptr, 0, add_bos, parse_special);
    std::vector<int32_t> tokens(std::max(n, 0));
    if (n > 0) {
        n = llama_tokenize(vocab_, text.data(), int32_t(text.size()), tokens.data(), n, add_bos, parse_special);
        if (n < 0) {
            throw error(errc::backend, "tokenize: llama_tokenize failed on '" + text + "'");
        }
        tokens.resize(n);
    }
    return tokens;
}

std::string llama_vlm_model::token_piece(int32_t id) const {
    if (id < 0 || id >= n_vocab()) {
        throw error(errc::invalid_argument, "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                                std::to_string(n_vocab() - 1) + ")");
    }
    char buf[256];
    const int32_t n = llama_token_to_piece(vocab_, id, buf, sizeof(buf), 0, true);
    if (n < 0) {
        std::string big(-n, '\0');
        llama_token_to_piece(vocab_, id, big.data(), -n, 0, true);
        return big;
    }
    return std::string(buf, n);
}

std::string llama_vlm_model::detokenize(std::span<const int32_t> ids) const {
    std::string text(ids.size() * 16 + 16, '\0');
    int32_t n = llama_detokenize(vocab_, ids.data(), int32_t(ids.size()), text.data(), int32_t(text.size()),
                                 /*remove_special =*/ false, /*unparse_special =*/ false);
    if (n < 0) {
        text.resize(-n);
        n = llama_detokenize(vocab_, ids.data(), int32_t(ids.size()), text.data(), int32_t(text.size()), false,
                             false);
    }
    text.resize(std::max(n, 0));
    // SPM vocabularies start a text with the word-boundary space
    if (!text.empty() && text[0] == ' ') {
        text.erase(0, 1);
    }
    return text;
}

bool llama_vlm_model::is_eog(int32_t id) const { return llama_vocab_is_eog(vocab_, id); }

int32_t llama_vlm_model::eog_token() const {
    const llama_token eot = llama_vocab_eot(vocab_);
    return eot != LLAMA_TOKEN_NULL ? eot : llama_vocab_eos(vocab_);
}

std::string llama_vlm_model::format_prompt(const std::string & prompt, bool use_raw_prompt) const {
    return format_prompt_for(prompt, use_raw_prompt, 1);
}

std::string llama_vlm_model::format_prompt_for(const std::string & prompt, bool use_raw_prompt, int32_t n_images) const {
    if (!use_raw_prompt && chat_family_ != chat_family::llama_cpp) {
        return render_for_engine(*this, chat_family_, params_.system_prompt, prompt, mtmd_get_marker(mtmd()), n_images);
    }
    const std::string content = place_image_marker(prompt, mtmd_get_marker(mtmd()), use_raw_prompt, n_images);
    if (use_raw_prompt) {
        return content;
    }
    if (chat_template_.empty()) {
        log(params_.system_prompt.value_or("").empty() ? log_level::info : log_level::warn,
            std::string("model has no chat template; using the prompt as written") +
                (params_.system_prompt.value_or("").empty() ? "\n" : " (without the --system text)\n"));
        return content;
    }
    std::vector<llama_chat_message> messages;
    const std::string system = params_.system_prompt.value_or("");
    if (!system.empty()) {
        messages.push_back({"system", system.c_str()});
    }
    messages.push_back({"user", content.c_str()});
    std::string out(content.size() * 2 + system.size() + 256, '\0');
    int32_t n = llama_chat_apply_template(chat_template_.c_str(), messages.data(), messages.size(), true, out.data(),
                                          int32_t(out.size()));
    if (n > int32_t(out.size())) {
        out.resize(n);
        n = llama_chat_apply_template(chat_template_.c_str(), messages.data(), messages.size(), true, out.data(),
                                      int32_t(out.size()));
    }
    if (n < 0) {
        throw error(errc::unsupported, "the chat template of '" + params_.model_path +
                                           "' is not one llama.cpp knows; use --raw-prompt with an <image> placeholder");
    }
    out.resize(n);
    return out;
}


prompt_source llama_vlm_model::make_prompt_source(const std::string & prompt, bool use_raw_prompt,
                                                  const std::vector<int32_t> & prompt_ids, int32_t image_token,
                                                  fit_mode fit, int32_t fit_size, int32_t n_images) const {
    prompt_source src;
    src.fit = fit;
    src.fit_size = fit_size;
    if (prompt_ids.empty()) {
        src.text = format_prompt_for(prompt, use_raw_prompt, n_images);
        return src;
    }
    if (n_images != 1) {
        throw error(errc::unsupported, "a prompt given as token ids takes one image, not " + std::to_string(n_images));
    }
    const image_span span = find_image_span(*this, prompt_ids, image_token);
    src.use_ids = true;
    src.before.assign(prompt_ids.begin(), prompt_ids.begin() + std::ptrdiff_t(span.begin));
    src.after.assign(prompt_ids.begin() + std::ptrdiff_t(span.end), prompt_ids.end());
    return src;
}

namespace {

void append_text(std::vector<prompt_piece> & pieces, const int32_t * ids, size_t n) {
    if (n == 0) {
        return;
    }
    if (pieces.empty() || pieces.back().media) {
        pieces.push_back({});
    }
    pieces.back().text.insert(pieces.back().text.end(), ids, ids + n);
}

// does `ids` end (at_end) or start with `part`?
bool has_affix(const std::vector<int32_t> & ids, const std::vector<int32_t> & part, bool at_end) {
    if (part.size() > ids.size()) {
        return false;
    }
    return at_end ? std::equal(part.begin(), part.end(), ids.end() - std::ptrdiff_t(part.size()))
                  : std::equal(part.begin(), part.end(), ids.begin());
}

} // namespace

tokenized_prompt llama_vlm_model::tokenize_prompt(std::span<const image_rgb8 * const> images,
                                                  const prompt_source & source, int32_t worker) const {
    std::vector<mtmd::bitmap> bitmaps;
    for (const image_rgb8 * original : images) {
        if (source.fit == fit_mode::native) { // no copy of every masked image
            bitmaps.emplace_back(uint32_t(original->nx), uint32_t(original->ny), original->rgb.data());
        } else {
            const image_rgb8 fitted = fit_image(*original, source.fit, source.fit_size);
            bitmaps.emplace_back(uint32_t(fitted.nx), uint32_t(fitted.ny), fitted.rgb.data()); // libmtmd copies it
        }
    }
    std::vector<const mtmd_bitmap *> bitmap_ptrs;
    for (const mtmd::bitmap & b : bitmaps) {
        bitmap_ptrs.push_back(b.ptr.get());
    }
    const image_rgb8 & image = *images.front(); // named in errors
    tokenized_prompt out;
    out.chunks.reset(mtmd_input_chunks_init());
    // ids mode: libmtmd tokenizes its marker alone, which gives the image chunk(s) with the delimiter text the
    // projector wants around them (Qwen's <|vision_start|> ... <|vision_end|>, InternVL's <img> ... </img>)
    const std::string & text = source.use_ids ? std::string(mtmd_get_marker(mtmd(worker))) : source.text;
    mtmd_input_text input{text.c_str(), text.size(), /*add_special =*/ !source.use_ids, /*parse_special =*/ true};
    const int32_t ret = mtmd_tokenize(mtmd(worker), out.chunks.get(), &input, bitmap_ptrs.data(), bitmap_ptrs.size());
    if (ret != 0) {
        throw error(errc::backend, "mtmd_tokenize failed (" + std::to_string(ret) + ") for a " + std::to_string(image.nx) +
                                       "x" + std::to_string(image.ny) + " image" +
                                       (images.size() > 1 ? " and " + std::to_string(images.size() - 1) + " more" : ""));
    }
    std::vector<prompt_piece> chunk_pieces;
    const size_t n_chunks = mtmd_input_chunks_size(out.chunks.get());
    for (size_t i = 0; i < n_chunks; ++i) {
        const mtmd_input_chunk * chunk = mtmd_input_chunks_get(out.chunks.get(), i);
        if (mtmd_input_chunk_get_type(chunk) == MTMD_INPUT_CHUNK_TYPE_TEXT) {
            size_t n = 0;
            const llama_token * tokens = mtmd_input_chunk_get_tokens_text(chunk, &n);
            append_text(chunk_pieces, tokens, n);
        } else {
            chunk_pieces.push_back({chunk, {}});
        }
    }
    if (!source.use_ids) {
        out.pieces = std::move(chunk_pieces);
        return out;
    }
    // The caller's ids already hold the delimiters next to the placeholder run when they are the model's own
    // (Hugging Face's template writes them): feed them once, as given, and libmtmd's copies not at all.
    std::vector<int32_t> before = source.before, after = source.after;
    if (!chunk_pieces.empty() && !chunk_pieces.front().media && has_affix(before, chunk_pieces.front().text, true)) {
        before.resize(before.size() - chunk_pieces.front().text.size());
    }
    if (!chunk_pieces.empty() && !chunk_pieces.back().media && has_affix(after, chunk_pieces.back().text, false)) {
        after.erase(after.begin(), after.begin() + std::ptrdiff_t(chunk_pieces.back().text.size()));
    }
    append_text(out.pieces, before.data(), before.size());
    for (prompt_piece & p : chunk_pieces) {
        if (p.media) {
            out.pieces.push_back(std::move(p));
        } else {
            append_text(out.pieces, p.text.data(), p.text.size());
        }
    }
    append_text(out.pieces, after.data(), after.size());
    return out;
}

std::vector<sequence_part> llama_vlm_model::prompt_sequence(const score_request & request) const {
    const std::vector<const image_rgb8 *> images = request_images(request.image, request.more_images);
    const prompt_source src = make_prompt_source(request.prompt, request.use_raw_prompt, request.prompt_ids, request.image_token,
                                                 request.fit, request.fit_size, int32_t(images.size()));
    const tokenized_prompt tp = tokenize_prompt(images, src);
    std::vector<sequence_part> out;
    for (const prompt_piece & p : tp.pieces) {
        sequence_part part;
        part.is_image = p.media != nullptr;
        if (p.media) {
            part.n_image_tokens = int32_t(mtmd_input_chunk_get_n_tokens(p.media));
            part.n_image_pos = int32_t(mtmd_input_chunk_get_n_pos(p.media));
        } else {
            part.ids = p.text;
        }
        out.push_back(std::move(part));
    }
    return out;
}

} // namespace eagle::llama_backend

namespace eagle::llama_backend {

std::unique_ptr<vlm_model> load_model(const model_params & params) {
    return std::make_unique<llama_vlm_model>(params);
}

} // namespace eagle::llama_backend
