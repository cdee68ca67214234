// llama.cpp backend: vlm_model (libllama model + libmtmd projector) and vlm_session (batched scoring).
//
// How a batch of masked images is scored (see README-dev in docs/ for the picture):
//   prompt = [prefix text] [image chunk(s) and text between them] [text after the image] [answer]
//   * The prefix (BOS, system text, "USER:") does not depend on the image. It is decoded once, its tokens
//     tagged with every sequence id, so all sequences share its KV cells (unified KV cache).
//   * Each masked image gets a sequence. Its image chunks are encoded by libmtmd (batched when the projector
//     allows it), and the embeddings of all sequences go into one llama_decode; then the text after the image
//     plus the teacher-forced answer of all sequences go into one more llama_decode, with logits requested
//     only at the positions that predict a target, and the answer cut after the last target.
//   * Models whose image tokens need M-RoPE positions or non-causal attention decode their image chunks through
//     libmtmd's own helper, one sequence at a time, so their model-specific positions stay libmtmd's business.
#include "eagle/vlm.h"

#include "eagle/error.h"
#include "eagle/log.h"
#include "eagle-build-info.h"
#include "common/timing.h"

#include <ggml-backend.h>
#include <gguf.h>
#include <llama.h>
#include <mtmd-helper.h>
#include <mtmd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace eagle {

namespace {

using detail::scoped_timer;
using detail::time_us;

// llama.cpp and libmtmd log a lot at every level, errors included; eagle reports failures itself with one
// clear message, so their log is detail for --verbose.
void route_ggml_log(ggml_log_level /*level*/, const char * text, void * /*user_data*/) {
    log(log_level::debug, text);
}

// before anything of ggml runs: even reading a GGUF header logs on failure
void init_logging_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        ggml_log_set(route_ggml_log, nullptr);
        llama_log_set(route_ggml_log, nullptr);
        mtmd_helper_log_set(route_ggml_log, nullptr);
    });
}

void init_backends_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        const char * env_dir = std::getenv("EAGLE_GGML_BACKEND_DIR");
        const std::string dir = env_dir ? env_dir : EAGLE_GGML_BACKEND_DIR;
        std::error_code ec;
        if (!dir.empty() && std::filesystem::is_directory(dir, ec)) {
            ggml_backend_load_all_from_path(dir.c_str());
        } else {
            ggml_backend_load_all();
        }
        llama_backend_init();
    });
    if (ggml_backend_dev_count() == 0) {
        throw error(errc::backend, "no ggml backend could be loaded (backend folder '" +
                                       std::string(EAGLE_GGML_BACKEND_DIR) + "'; set EAGLE_GGML_BACKEND_DIR)");
    }
}

// All hardware threads, unless EAGLE_THREADS says otherwise: ggml's worker threads spin while they wait, so
// several eagle processes on one machine (a test suite run in parallel, dataset shards) must split the cores
// rather than each take all of them, or they slow each other down many times over.
int32_t default_n_threads() {
    if (const char * env = std::getenv("EAGLE_THREADS")) {
        const int n = std::atoi(env);
        if (n > 0) {
            return n;
        }
    }
    return int32_t(std::max(1u, std::thread::hardware_concurrency()));
}

// Reads a GGUF header without loading tensors: llama.cpp and libmtmd may abort on some malformed files,
// so eagle checks the container itself first and names the file in a clean error.
std::string gguf_architecture(const std::string & path, const char * what) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw error(errc::io, std::string(what) + " '" + path + "' does not exist or is not a file");
    }
    gguf_init_params params{/*no_alloc =*/ true, /*ctx =*/ nullptr};
    gguf_context * gguf = gguf_init_from_file(path.c_str(), params);
    if (!gguf) {
        throw error(errc::model, std::string(what) + " '" + path + "' is not a valid GGUF file (corrupt or truncated?)");
    }
    std::string arch;
    const int64_t key = gguf_find_key(gguf, "general.architecture");
    if (key >= 0 && gguf_get_kv_type(gguf, key) == GGUF_TYPE_STRING) {
        arch = gguf_get_val_str(gguf, key);
    }
    gguf_free(gguf);
    return arch;
}

// p(id) under softmax(logits), accumulated in double: the reference takes softmax over the full vocabulary.
float softmax_prob(const float * logits, int32_t n_vocab, int32_t id) {
    float max_logit = logits[0];
    for (int32_t i = 1; i < n_vocab; ++i) {
        max_logit = std::max(max_logit, logits[i]);
    }
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; ++i) {
        sum += std::exp(double(logits[i]) - max_logit);
    }
    return float(std::exp(double(logits[id]) - max_logit) / sum);
}

struct batch_guard {
    llama_batch batch;
    batch_guard(int32_t n_tokens, int32_t n_embd, int32_t n_seq_max) : batch(llama_batch_init(n_tokens, n_embd, n_seq_max)) {
        batch.n_tokens = 0;
    }
    ~batch_guard() { llama_batch_free(batch); }
    batch_guard(const batch_guard &) = delete;
    batch_guard & operator=(const batch_guard &) = delete;

    void add_token(int32_t token, llama_pos pos, std::span<const llama_seq_id> seq_ids, bool output) {
        const int32_t i = batch.n_tokens++;
        batch.token[i]    = token;
        batch.pos[i]      = pos;
        batch.n_seq_id[i] = int32_t(seq_ids.size());
        for (size_t s = 0; s < seq_ids.size(); ++s) {
            batch.seq_id[i][s] = seq_ids[s];
        }
        batch.logits[i] = output;
    }
};

std::string decode_error_text(int32_t ret) {
    switch (ret) {
        case 1:  return "no KV-cache slot for the batch (context too small)";
        case 2:  return "aborted";
        case -1: return "invalid input batch";
        default: return "fatal error " + std::to_string(ret);
    }
}

} // namespace

llama_info llama_cpp_info() {
    return {EAGLE_LLAMA_VERSION, EAGLE_LLAMA_SOURCE, EAGLE_LLAMA_PACKAGES};
}

// ---------------------------------------------------------------------------------------------------------
// vlm_model

struct vlm_model::impl {
    model_params params;
    llama_model * model = nullptr;
    const llama_vocab * vocab = nullptr;
    mtmd_context * mctx = nullptr;
    std::mutex encode_mutex;   // libmtmd's context holds the encoder's buffers: one encode at a time
    std::string chat_template; // empty: the GGUF has none

    ~impl() {
        if (mctx) {
            mtmd_free(mctx);
        }
        if (model) {
            llama_model_free(model);
        }
    }
};

vlm_model::vlm_model(const model_params & params) : impl_(std::make_unique<impl>()) {
    impl & m = *impl_;
    m.params = params;
    if (m.params.n_threads <= 0) {
        m.params.n_threads = default_n_threads();
    }
    init_logging_once();
    const std::string text_arch   = gguf_architecture(params.model_path, "model");
    const std::string mmproj_arch = gguf_architecture(params.mmproj_path, "mmproj");
    if (text_arch == "clip") {
        throw error(errc::model, "model '" + params.model_path + "' is a multimodal projector (clip); pass it as --mmproj");
    }
    if (mmproj_arch != "clip") {
        throw error(errc::model, "mmproj '" + params.mmproj_path + "' is not a multimodal projector (architecture '" +
                                     mmproj_arch + "', expected 'clip')");
    }
    init_backends_once();

    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = params.n_gpu_layers;
    m.model = llama_model_load_from_file(params.model_path.c_str(), mparams);
    if (!m.model) {
        throw error(errc::model, "cannot load model '" + params.model_path + "' (architecture '" + text_arch +
                                     "'): llama.cpp rejected it (run with --verbose for its log)");
    }
    m.vocab = llama_model_get_vocab(m.model);

    mtmd_context_params cparams = mtmd_context_params_default();
    cparams.use_gpu       = params.n_gpu_layers != 0;
    cparams.n_threads     = m.params.n_threads;
    cparams.print_timings = false;
    cparams.warmup        = false;
    m.mctx = mtmd_init_from_file(params.mmproj_path.c_str(), m.model, cparams);
    if (!m.mctx) {
        throw error(errc::model, "cannot load mmproj '" + params.mmproj_path + "' for model '" + params.model_path +
                                     "': corrupt, or made for another text model (run with --verbose for details)");
    }
    if (!mtmd_support_vision(m.mctx)) {
        throw error(errc::model, "mmproj '" + params.mmproj_path + "' has no vision encoder");
    }
    if (const char * tmpl = llama_model_chat_template(m.model, nullptr)) {
        m.chat_template = tmpl;
    }
}

vlm_model::~vlm_model() = default;

const model_params & vlm_model::params() const { return impl_->params; }

std::string vlm_model::description() const {
    char buf[256];
    llama_model_desc(impl_->model, buf, sizeof(buf));
    return std::string(buf) + ", " + std::to_string(llama_model_n_params(impl_->model)) + " parameters";
}

int32_t vlm_model::n_vocab() const { return llama_vocab_n_tokens(impl_->vocab); }
int32_t vlm_model::n_ctx_train() const { return llama_model_n_ctx_train(impl_->model); }
bool vlm_model::has_chat_template() const { return !impl_->chat_template.empty(); }

std::vector<int32_t> vlm_model::tokenize(const std::string & text, bool add_bos, bool parse_special) const {
    int32_t n = -llama_tokenize(impl_->vocab, text.data(), int32_t(text.size()), nullptr, 0, add_bos, parse_special);
    std::vector<int32_t> tokens(std::max(n, 0));
    if (n > 0) {
        n = llama_tokenize(impl_->vocab, text.data(), int32_t(text.size()), tokens.data(), n, add_bos, parse_special);
        if (n < 0) {
            throw error(errc::backend, "tokenize: llama_tokenize failed on '" + text + "'");
        }
        tokens.resize(n);
    }
    return tokens;
}

std::string vlm_model::token_piece(int32_t id) const {
    if (id < 0 || id >= n_vocab()) {
        throw error(errc::invalid_argument, "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                                std::to_string(n_vocab() - 1) + ")");
    }
    char buf[256];
    const int32_t n = llama_token_to_piece(impl_->vocab, id, buf, sizeof(buf), 0, true);
    if (n < 0) {
        std::string big(-n, '\0');
        llama_token_to_piece(impl_->vocab, id, big.data(), -n, 0, true);
        return big;
    }
    return std::string(buf, n);
}

std::string vlm_model::detokenize(std::span<const int32_t> ids) const {
    std::string text(ids.size() * 16 + 16, '\0');
    int32_t n = llama_detokenize(impl_->vocab, ids.data(), int32_t(ids.size()), text.data(), int32_t(text.size()),
                                 /*remove_special =*/ false, /*unparse_special =*/ false);
    if (n < 0) {
        text.resize(-n);
        n = llama_detokenize(impl_->vocab, ids.data(), int32_t(ids.size()), text.data(), int32_t(text.size()), false,
                             false);
    }
    text.resize(std::max(n, 0));
    // SPM vocabularies start a text with the word-boundary space
    if (!text.empty() && text[0] == ' ') {
        text.erase(0, 1);
    }
    return text;
}

bool vlm_model::is_eog(int32_t id) const { return llama_vocab_is_eog(impl_->vocab, id); }

int32_t vlm_model::eog_token() const {
    const llama_token eot = llama_vocab_eot(impl_->vocab);
    return eot != LLAMA_TOKEN_NULL ? eot : llama_vocab_eos(impl_->vocab);
}

std::string vlm_model::format_prompt(const std::string & prompt, bool use_raw_prompt) const {
    static const std::string placeholder = "<image>";
    const std::string marker = mtmd_get_marker(impl_->mctx);
    std::string content = prompt;
    size_t n_placeholders = 0;
    for (size_t pos = content.find(placeholder); pos != std::string::npos;
         pos = content.find(placeholder, pos + marker.size())) {
        content.replace(pos, placeholder.size(), marker);
        ++n_placeholders;
    }
    if (n_placeholders > 1) {
        throw error(errc::invalid_argument, "prompt has " + std::to_string(n_placeholders) +
                                                " <image> placeholders; eagle explains one image at a time");
    }
    if (use_raw_prompt) {
        if (n_placeholders == 0) {
            throw error(errc::invalid_argument, "raw prompt '" + prompt + "' has no <image> placeholder");
        }
        return content;
    }
    if (n_placeholders == 0) {
        content = marker + "\n" + content; // image first, as LLaVA-style models are trained
    }
    if (impl_->chat_template.empty()) {
        log(log_level::info, "model has no chat template; using the prompt as written\n");
        return content;
    }
    llama_chat_message message{"user", content.c_str()};
    std::string out(content.size() * 2 + 256, '\0');
    int32_t n = llama_chat_apply_template(impl_->chat_template.c_str(), &message, 1, true, out.data(), int32_t(out.size()));
    if (n > int32_t(out.size())) {
        out.resize(n);
        n = llama_chat_apply_template(impl_->chat_template.c_str(), &message, 1, true, out.data(), int32_t(out.size()));
    }
    if (n < 0) {
        throw error(errc::unsupported, "the chat template of '" + impl_->params.model_path +
                                           "' is not one llama.cpp knows; use --raw-prompt with an <image> placeholder");
    }
    out.resize(n);
    return out;
}

// ---------------------------------------------------------------------------------------------------------
// vlm_session

namespace {

// The request, tokenized: everything that is the same for every masked image.
struct prepared_request {
    score_request request;
    image_rgb8 fill;                       // what removed pixels become
    std::string prompt_text;               // formatted prompt, with libmtmd's media marker
    std::vector<int32_t> prefix_tokens;    // text before the first image chunk (BOS included)
    size_t n_body_chunks = 0;              // chunks from the first image chunk on
    int32_t n_body_tokens = 0;             // tokens of those chunks
    std::vector<int32_t> answer_fed;       // answer tokens fed (cut after the last target)
    std::vector<int32_t> target_indices;
    std::vector<int32_t> target_ids;
};

// Read-only view of libmtmd's chunk list.
struct chunk_list {
    const mtmd_input_chunks * chunks;
    size_t size() const { return mtmd_input_chunks_size(chunks); }
    const mtmd_input_chunk * operator[](size_t i) const { return mtmd_input_chunks_get(chunks, i); }
};

// A masked image, tokenized: its body chunks (image and text) owned by chunks.
struct masked_input {
    mtmd::input_chunks_ptr chunks;
    size_t i_body_begin = 0;
    std::vector<std::vector<float>> image_embd; // per image chunk of the body, in order
};

} // namespace

struct vlm_session::impl {
    const vlm_model & model;
    vlm_model::impl & m;
    session_params params;
    scorer_stats stats;

    llama_context * ctx = nullptr;
    int32_t ctx_n_ctx = 0;
    int32_t ctx_n_seq = 0;

    bool is_prepared  = false;
    bool prefix_ready = false; // the shared prefix is in the KV cache
    prepared_request req;
    int32_t n_seq = 1;         // sequences per decode for the prepared request
    bool use_batch_encode = true;
    std::unordered_map<mask_key, std::vector<float>, mask_key_hash> memo;

    impl(const vlm_model & model_, const session_params & params_)
        : model(model_), m(model_.get_impl()), params(params_), use_batch_encode(params_.use_batch_encode) {}

    ~impl() {
        if (ctx) {
            llama_free(ctx);
        }
    }

    bool needs_helper_decode() const {
        // M-RoPE positions and non-causal image attention are model-specific; libmtmd's helper knows them
        return mtmd_decode_use_mrope(m.mctx) || use_non_causal;
    }
    bool use_non_causal = false;

    void ensure_context(int32_t n_ctx, int32_t n_seq_max, int32_t n_ubatch_min) {
        if (ctx && ctx_n_ctx >= n_ctx && ctx_n_seq >= n_seq_max) {
            return;
        }
        if (ctx) {
            llama_free(ctx);
            ctx = nullptr;
        }
        llama_context_params cparams = llama_context_default_params();
        cparams.n_ctx           = uint32_t(n_ctx);
        cparams.n_batch         = uint32_t(n_ctx); // a whole group of sequences goes into one llama_decode
        cparams.n_ubatch        = uint32_t(std::max(std::min(n_ctx, 512), n_ubatch_min));
        cparams.n_seq_max       = uint32_t(n_seq_max);
        // unified: one KV buffer, shared-prefix cells tagged with every sequence, but every token attends over
        // the cells of all sequences (masked), so attention grows with n_seq^2. Per-sequence streams: each
        // sequence attends to its own cells only, and the shared prefix is copied into each stream.
        cparams.kv_unified      = params.use_unified_kv;
        cparams.n_threads       = m.params.n_threads;
        cparams.n_threads_batch = m.params.n_threads;
        cparams.no_perf         = true;
        // CPU flash attention accumulates in f16 in an order that depends on where a sequence's cells sit in
        // the KV cache, so the same masked image would score differently in different batches (~1e-3
        // relative). Exactness across batch compositions matters more here; GPU users can turn it on.
        cparams.flash_attn_type = params.use_flash_attn ? LLAMA_FLASH_ATTN_TYPE_AUTO : LLAMA_FLASH_ATTN_TYPE_DISABLED;
        ctx = llama_init_from_model(m.model, cparams);
        if (!ctx) {
            throw error(errc::backend, "cannot create a llama.cpp context of " + std::to_string(n_ctx) + " tokens and " +
                                           std::to_string(n_seq_max) + " sequences (out of memory?)");
        }
        ctx_n_ctx    = n_ctx;
        ctx_n_seq    = n_seq_max;
        prefix_ready = false;
    }

    void decode(llama_batch batch, const char * what) {
        scoped_timer timer(stats.t_decode_us);
        const int32_t ret = llama_decode(ctx, batch);
        ++stats.n_decode_calls;
        if (ret != 0) {
            throw error(errc::backend, std::string("llama_decode (") + what + ") failed: " + decode_error_text(ret));
        }
    }

    mtmd::input_chunks_ptr tokenize_image(const image_rgb8 & image, const std::string & prompt_text) const {
        mtmd::bitmap bitmap(uint32_t(image.nx), uint32_t(image.ny), image.rgb.data());
        mtmd::input_chunks_ptr chunks(mtmd_input_chunks_init());
        mtmd_input_text text{prompt_text.c_str(), prompt_text.size(), /*add_special =*/ true, /*parse_special =*/ true};
        const mtmd_bitmap * bitmaps[] = {bitmap.ptr.get()};
        const int32_t ret = mtmd_tokenize(m.mctx, chunks.get(), &text, bitmaps, 1);
        if (ret != 0) {
            throw error(errc::backend, "mtmd_tokenize failed (" + std::to_string(ret) + ") for a " +
                                           std::to_string(image.nx) + "x" + std::to_string(image.ny) + " image");
        }
        return chunks;
    }

    static bool is_media(const mtmd_input_chunk * chunk) {
        return mtmd_input_chunk_get_type(chunk) != MTMD_INPUT_CHUNK_TYPE_TEXT;
    }

    void prepare(const score_request & request) {
        scoped_timer timer(stats.t_prepare_us);
        is_prepared = false;
        memo.clear();
        const int32_t n_vocab = model.n_vocab();
        if (request.image.empty()) {
            throw error(errc::invalid_argument, "prepare: the image is empty");
        }
        if (request.answer.empty()) {
            throw error(errc::invalid_argument, "prepare: the answer is empty (nothing to score)");
        }
        for (int32_t id : request.answer) {
            if (id < 0 || id >= n_vocab) {
                throw error(errc::invalid_argument, "prepare: answer token id " + std::to_string(id) + " is outside the vocabulary");
            }
        }
        prepared_request r;
        r.request = request;
        const int32_t n_answer = int32_t(request.answer.size());
        if (request.target_indices.empty()) {
            for (int32_t i = 0; i < n_answer; ++i) {
                r.target_indices.push_back(i);
            }
        } else {
            r.target_indices = request.target_indices;
            for (size_t i = 0; i < r.target_indices.size(); ++i) {
                const int32_t t = r.target_indices[i];
                if (t < 0 || t >= n_answer) {
                    throw error(errc::invalid_argument, "prepare: target index " + std::to_string(t) +
                                                            " is outside the answer (0.." + std::to_string(n_answer - 1) + ")");
                }
                if (i > 0 && t <= r.target_indices[i - 1]) {
                    throw error(errc::invalid_argument, "prepare: target indices must be strictly ascending");
                }
            }
        }
        if (request.target_ids.empty()) {
            for (int32_t t : r.target_indices) {
                r.target_ids.push_back(request.answer[t]);
            }
        } else {
            if (request.target_ids.size() != r.target_indices.size()) {
                throw error(errc::invalid_argument, "prepare: " + std::to_string(request.target_ids.size()) +
                                                        " target ids for " + std::to_string(r.target_indices.size()) + " targets");
            }
            for (int32_t id : request.target_ids) {
                if (id < 0 || id >= n_vocab) {
                    throw error(errc::invalid_argument, "prepare: target token id " + std::to_string(id) + " is outside the vocabulary");
                }
            }
            r.target_ids = request.target_ids;
        }
        // the logits predicting answer[t] sit at answer[t-1]: tokens after the last target are never needed
        r.answer_fed.assign(request.answer.begin(), request.answer.begin() + r.target_indices.back());
        r.fill        = make_fill_image(request.image, request.fill);
        r.prompt_text = model.format_prompt(request.prompt, request.use_raw_prompt);

        // split the tokenized prompt into the image-independent prefix and the body
        mtmd::input_chunks_ptr chunks_ptr = tokenize_image(request.image, r.prompt_text);
        const chunk_list chunks{chunks_ptr.get()};
        const size_t n_chunks = chunks.size();
        size_t i_first_media = n_chunks;
        int32_t n_media = 0;
        int32_t max_media_tokens = 0;
        for (size_t i = 0; i < n_chunks; ++i) {
            const mtmd_input_chunk * chunk = chunks[i];
            if (is_media(chunk)) {
                i_first_media = std::min(i_first_media, i);
                ++n_media;
                max_media_tokens = std::max(max_media_tokens, int32_t(mtmd_input_chunk_get_n_tokens(chunk)));
                if (mtmd_decode_use_non_causal(m.mctx, chunk)) {
                    use_non_causal = true;
                }
            }
        }
        if (n_media == 0) {
            throw error(errc::invalid_argument, "prepare: the prompt has no place for the image");
        }
        for (size_t i = 0; i < i_first_media; ++i) {
            size_t n = 0;
            const llama_token * tokens = mtmd_input_chunk_get_tokens_text(chunks[i], &n);
            r.prefix_tokens.insert(r.prefix_tokens.end(), tokens, tokens + n);
        }
        r.n_body_chunks = n_chunks - i_first_media;
        for (size_t i = i_first_media; i < n_chunks; ++i) {
            r.n_body_tokens += int32_t(mtmd_input_chunk_get_n_tokens(chunks[i]));
        }
        if (is_media(chunks[n_chunks - 1]) && r.target_indices.front() == 0) {
            throw error(errc::unsupported, "prepare: the prompt ends with the image; put text after <image>");
        }

        // context: the shared prefix once, then one body + answer per sequence
        const int32_t n_prefix = int32_t(r.prefix_tokens.size());
        const int32_t n_per_seq = r.n_body_tokens + int32_t(r.answer_fed.size());
        const int32_t n_seq_len = n_prefix + n_per_seq;
        if (n_seq_len + 1 > model.n_ctx_train()) {
            throw error(errc::invalid_argument, "prompt, image and answer take " + std::to_string(n_seq_len) +
                                                    " tokens, more than the model's context of " + std::to_string(model.n_ctx_train()));
        }
        const int32_t n_seq_req = std::max(1, params.n_seq);
        // per-sequence streams each hold a whole sequence (llama.cpp gives each n_ctx / n_seq cells)
        const int32_t n_stream = (n_seq_len + 255) / 256 * 256;
        auto cells_for = [&](int32_t n) {
            if (!params.use_unified_kv) {
                return n * n_stream;
            }
            return params.share_prefix ? n_prefix + n * n_per_seq : n * n_seq_len;
        };
        int32_t n_ctx = 0;
        if (params.n_ctx > 0) {
            n_ctx = params.n_ctx;
            if (cells_for(1) > n_ctx) {
                throw error(errc::invalid_argument, "prompt, image and answer take " + std::to_string(n_seq_len) +
                                                        " tokens, more than the context of " + std::to_string(n_ctx) + " (--ctx)");
            }
            n_seq = n_seq_req;
            while (n_seq > 1 && cells_for(n_seq) > n_ctx) {
                --n_seq;
            }
        } else {
            n_seq = n_seq_req;
            n_ctx = (cells_for(n_seq) + 255) / 256 * 256;
        }
        ensure_context(n_ctx, n_seq, use_non_causal ? max_media_tokens : 0);
        req = std::move(r);
        prefix_ready = false;
        is_prepared  = true;
    }

    std::vector<llama_seq_id> seq_range(int32_t n) const {
        std::vector<llama_seq_id> ids(n);
        for (int32_t s = 0; s < n; ++s) {
            ids[s] = s;
        }
        return ids;
    }

    void decode_shared_prefix() {
        llama_memory_t mem = llama_get_memory(ctx);
        llama_memory_clear(mem, true);
        // unified KV: one copy of the prefix, tagged with every sequence; streams: decode into sequence 0,
        // then copy its cells into the other streams (a memory copy, no compute)
        const std::vector<llama_seq_id> seqs = params.use_unified_kv ? seq_range(n_seq) : seq_range(1);
        batch_guard batch(int32_t(req.prefix_tokens.size()), 0, int32_t(seqs.size()));
        for (size_t i = 0; i < req.prefix_tokens.size(); ++i) {
            batch.add_token(req.prefix_tokens[i], llama_pos(i), seqs, false);
        }
        if (batch.batch.n_tokens > 0) {
            decode(batch.batch, "shared prefix");
        }
        if (!params.use_unified_kv) {
            for (int32_t s = 1; s < n_seq; ++s) {
                llama_memory_seq_cp(mem, 0, s, -1, -1);
            }
        }
        prefix_ready = true;
    }

    // Encodes the image chunks of every input (batched through libmtmd when the projector allows it).
    void encode_images(std::vector<masked_input> & inputs) {
        scoped_timer timer(stats.t_encode_us);
        std::lock_guard<std::mutex> lock(m.encode_mutex);
        const int32_t n_embd = llama_model_n_embd_inp(m.model);
        std::vector<std::pair<masked_input *, const mtmd_input_chunk *>> todo;
        for (auto & input : inputs) {
            const chunk_list chunks{input.chunks.get()};
            for (size_t i = input.i_body_begin; i < chunks.size(); ++i) {
                if (is_media(chunks[i])) {
                    todo.emplace_back(&input, chunks[i]);
                }
            }
        }
        auto store = [&](masked_input & input, const mtmd_input_chunk * chunk, const float * embd) {
            const size_t n = size_t(mtmd_input_chunk_get_n_tokens(chunk)) * n_embd;
            input.image_embd.emplace_back(embd, embd + n);
        };
        size_t i_next = 0;
        while (i_next < todo.size() && use_batch_encode) {
            mtmd::batch_ptr batch(mtmd_batch_init(m.mctx));
            size_t i_end = i_next;
            while (i_end < todo.size()) {
                const int32_t ret = mtmd_batch_add_chunk(batch.get(), todo[i_end].second);
                if (ret == 2 && i_end > i_next) {
                    break; // batch full: encode what we have
                }
                if (ret != 0) {
                    if (i_end == i_next) {
                        use_batch_encode = false; // this projector cannot batch: encode one at a time from now on
                        log(log_level::debug, "libmtmd cannot batch this projector's images; encoding one by one\n");
                    }
                    break;
                }
                ++i_end;
            }
            if (!use_batch_encode || i_end == i_next) {
                break;
            }
            if (mtmd_batch_encode(batch.get()) != 0) {
                throw error(errc::backend, "mtmd_batch_encode failed for " + std::to_string(i_end - i_next) + " images");
            }
            ++stats.n_encode_calls;
            for (size_t i = i_next; i < i_end; ++i) {
                store(*todo[i].first, todo[i].second, mtmd_batch_get_output_embd(batch.get(), todo[i].second));
            }
            i_next = i_end;
        }
        for (; i_next < todo.size(); ++i_next) {
            if (mtmd_encode_chunk(m.mctx, todo[i_next].second) != 0) {
                throw error(errc::backend, "mtmd_encode_chunk failed");
            }
            ++stats.n_encode_calls;
            store(*todo[i_next].first, todo[i_next].second, mtmd_get_output_embd(m.mctx));
        }
    }

    // Scores one group of at most n_seq distinct masks; probs_out[i] gets n_targets values per mask.
    void score_group(std::span<const mask * const> masks, std::vector<std::vector<float>> & probs_out) {
        const int32_t n_group = int32_t(masks.size());
        std::vector<masked_input> inputs(n_group);
        {
            scoped_timer timer(stats.t_encode_us);
            image_rgb8 masked;
            for (int32_t s = 0; s < n_group; ++s) {
                apply_mask(req.request.image, req.fill, *masks[s], masked);
                inputs[s].chunks = tokenize_image(masked, req.prompt_text);
                inputs[s].i_body_begin = chunk_list{inputs[s].chunks.get()}.size() - req.n_body_chunks;
            }
        }
        encode_images(inputs);

        llama_memory_t mem = llama_get_memory(ctx);
        const int32_t n_prefix = int32_t(req.prefix_tokens.size());
        if (params.share_prefix) {
            if (!prefix_ready) {
                decode_shared_prefix();
            }
            for (int32_t s = 0; s < n_seq; ++s) {
                llama_memory_seq_rm(mem, s, n_prefix, -1);
            }
        } else {
            // the plain way: every sequence computes its own prefix
            llama_memory_clear(mem, true);
            prefix_ready = false;
            batch_guard batch(n_prefix * n_group, 0, 1);
            for (int32_t s = 0; s < n_group; ++s) {
                const llama_seq_id id[] = {s};
                for (int32_t i = 0; i < n_prefix; ++i) {
                    batch.add_token(req.prefix_tokens[i], i, id, false);
                }
            }
            if (batch.batch.n_tokens > 0) {
                decode(batch.batch, "prefix");
            }
        }

        // walk the body chunk by chunk; all sequences share the chunk structure
        const masked_input & first = inputs[0];
        const chunk_list first_chunks{first.chunks.get()};
        const size_t n_chunks = first_chunks.size();
        const int32_t n_embd = llama_model_n_embd_inp(m.model);
        llama_pos n_past = n_prefix;
        size_t i_image = 0;
        std::vector<int32_t> pending_text; // text chunks are merged with what follows until the next image
        auto flush_text = [&](bool is_last) {
            const int32_t n_text = int32_t(pending_text.size());
            const int32_t n_fed = is_last ? int32_t(req.answer_fed.size()) : 0;
            const int32_t n_per_seq = n_text + n_fed;
            if (n_per_seq == 0) {
                return;
            }
            batch_guard batch(n_per_seq * n_group, 0, 1);
            std::vector<int32_t> i_outputs; // batch index of each target's logits, sequence-major
            for (int32_t s = 0; s < n_group; ++s) {
                const llama_seq_id id[] = {s};
                size_t i_target = 0;
                for (int32_t j = 0; j < n_per_seq; ++j) {
                    const int32_t token = j < n_text ? pending_text[j] : req.answer_fed[j - n_text];
                    // the token at j predicts answer index j - n_text + 1
                    bool output = false;
                    if (is_last && i_target < req.target_indices.size() && req.target_indices[i_target] == j - n_text + 1) {
                        output = true;
                        ++i_target;
                        i_outputs.push_back(batch.batch.n_tokens);
                    }
                    batch.add_token(token, n_past + j, id, output);
                }
            }
            decode(batch.batch, is_last ? "answer" : "text");
            if (is_last) {
                const int32_t n_vocab = model.n_vocab();
                size_t i_out = 0;
                for (int32_t s = 0; s < n_group; ++s) {
                    std::vector<float> & p = probs_out[s];
                    p.resize(req.target_ids.size());
                    for (size_t t = 0; t < req.target_ids.size(); ++t) {
                        const float * logits = llama_get_logits_ith(ctx, i_outputs[i_out++]);
                        if (!logits) {
                            throw error(errc::backend, "llama.cpp returned no logits for a target");
                        }
                        p[t] = softmax_prob(logits, n_vocab, req.target_ids[t]);
                    }
                }
            }
            n_past += n_text;
            pending_text.clear();
        };
        for (size_t i = first.i_body_begin; i < n_chunks; ++i) {
            const mtmd_input_chunk * chunk = first_chunks[i];
            if (!is_media(chunk)) {
                size_t n = 0;
                const llama_token * tokens = mtmd_input_chunk_get_tokens_text(chunk, &n);
                pending_text.insert(pending_text.end(), tokens, tokens + n);
                continue;
            }
            flush_text(false);
            const int32_t n_tokens = int32_t(mtmd_input_chunk_get_n_tokens(chunk));
            if (needs_helper_decode()) {
                for (int32_t s = 0; s < n_group; ++s) {
                    llama_pos new_n_past = 0;
                    scoped_timer timer(stats.t_decode_us);
                    const int32_t ret = mtmd_helper_decode_image_chunk(
                        m.mctx, ctx, chunk_list{inputs[s].chunks.get()}[i], inputs[s].image_embd[i_image].data(), n_past, s,
                        int32_t(llama_n_batch(ctx)), &new_n_past, nullptr, nullptr);
                    ++stats.n_decode_calls;
                    if (ret != 0) {
                        throw error(errc::backend, "decoding the image failed (" + std::to_string(ret) + ")");
                    }
                }
            } else {
                batch_guard batch(n_tokens * n_group, n_embd, 1);
                for (int32_t s = 0; s < n_group; ++s) {
                    const std::vector<float> & embd = inputs[s].image_embd[i_image];
                    std::copy(embd.begin(), embd.end(), batch.batch.embd + size_t(s) * n_tokens * n_embd);
                    for (int32_t j = 0; j < n_tokens; ++j) {
                        const int32_t k = s * n_tokens + j;
                        batch.batch.pos[k]       = n_past + j;
                        batch.batch.n_seq_id[k]  = 1;
                        batch.batch.seq_id[k][0] = s;
                        batch.batch.logits[k]    = false;
                    }
                }
                batch.batch.n_tokens = n_tokens * n_group;
                decode(batch.batch, "image");
            }
            n_past += mtmd_input_chunk_get_n_pos(chunk);
            ++i_image;
        }
        flush_text(true);
        stats.n_evaluations += n_group;
    }

    void score(std::span<const mask> masks, std::span<float> probs) {
        if (!is_prepared) {
            throw error(errc::invalid_argument, "score: call prepare() first");
        }
        const size_t n_targets = req.target_ids.size();
        if (probs.size() != masks.size() * n_targets) {
            throw error(errc::invalid_argument, "score: output has " + std::to_string(probs.size()) + " values for " +
                                                    std::to_string(masks.size()) + " masks x " + std::to_string(n_targets) + " targets");
        }
        for (const mask & keep : masks) {
            if (keep.nx != req.request.image.nx || keep.ny != req.request.image.ny) {
                throw error(errc::invalid_argument, "score: mask is " + std::to_string(keep.nx) + "x" + std::to_string(keep.ny) +
                                                        " but the image is " + std::to_string(req.request.image.nx) + "x" +
                                                        std::to_string(req.request.image.ny));
            }
        }
        scoped_timer timer(stats.t_score_us);
        // distinct masks not in the memo, in first-seen order
        std::vector<mask_key> keys(masks.size());
        std::vector<const mask *> todo;
        std::vector<mask_key> todo_keys;
        std::unordered_map<mask_key, std::vector<float>, mask_key_hash> fresh;
        for (size_t i = 0; i < masks.size(); ++i) {
            keys[i] = mask_hash(masks[i]);
            const bool known = (params.use_memo && memo.count(keys[i])) || fresh.count(keys[i]);
            if (known) {
                ++stats.n_memo_hits;
                continue;
            }
            fresh[keys[i]];
            todo.push_back(&masks[i]);
            todo_keys.push_back(keys[i]);
        }
        for (size_t i0 = 0; i0 < todo.size(); i0 += size_t(n_seq)) {
            const size_t n = std::min(size_t(n_seq), todo.size() - i0);
            std::vector<std::vector<float>> out(n);
            score_group(std::span<const mask * const>(todo.data() + i0, n), out);
            for (size_t j = 0; j < n; ++j) {
                fresh[todo_keys[i0 + j]] = std::move(out[j]);
            }
        }
        for (size_t i = 0; i < masks.size(); ++i) {
            auto it = fresh.find(keys[i]);
            const std::vector<float> & p = it != fresh.end() ? it->second : memo.at(keys[i]);
            std::copy(p.begin(), p.end(), probs.begin() + i * n_targets);
        }
        if (params.use_memo) {
            for (auto & [key, p] : fresh) {
                memo.emplace(key, std::move(p));
            }
        }
    }

    generation generate(const image_rgb8 & image, const std::string & prompt, bool use_raw_prompt, int32_t max_tokens) {
        if (image.empty()) {
            throw error(errc::invalid_argument, "generate: the image is empty");
        }
        if (max_tokens <= 0) {
            throw error(errc::invalid_argument, "generate: max_tokens must be positive, got " + std::to_string(max_tokens));
        }
        const std::string prompt_text = model.format_prompt(prompt, use_raw_prompt);
        mtmd::input_chunks_ptr chunks_ptr = tokenize_image(image, prompt_text);
        const chunk_list chunks{chunks_ptr.get()};
        const int32_t n_prompt = int32_t(mtmd_helper_get_n_tokens(chunks_ptr.get()));
        const int32_t n_needed = n_prompt + max_tokens;
        if (n_needed > model.n_ctx_train()) {
            throw error(errc::invalid_argument, "prompt and image take " + std::to_string(n_prompt) + " tokens; with " +
                                                    std::to_string(max_tokens) + " new tokens that exceeds the model's context of " +
                                                    std::to_string(model.n_ctx_train()));
        }
        if (params.n_ctx > 0 && n_needed > params.n_ctx) {
            throw error(errc::invalid_argument, "prompt and image take " + std::to_string(n_prompt) + " tokens; with " +
                                                    std::to_string(max_tokens) + " new tokens that exceeds the context of " +
                                                    std::to_string(params.n_ctx) + " (--ctx)");
        }
        int32_t max_chunk_tokens = 0;
        for (size_t i = 0; i < chunks.size(); ++i) {
            max_chunk_tokens = std::max(max_chunk_tokens, int32_t(mtmd_input_chunk_get_n_tokens(chunks[i])));
        }
        ensure_context(std::max(ctx_n_ctx, (n_needed + 255) / 256 * 256), std::max(ctx_n_seq, 1), max_chunk_tokens);
        llama_memory_clear(llama_get_memory(ctx), true);
        prefix_ready = false;

        llama_pos n_past = 0;
        {
            std::lock_guard<std::mutex> lock(m.encode_mutex);
            scoped_timer timer(stats.t_decode_us);
            const int32_t ret = mtmd_helper_eval_chunks(m.mctx, ctx, chunks_ptr.get(), 0, 0, int32_t(llama_n_batch(ctx)),
                                                        true, &n_past);
            if (ret != 0) {
                throw error(errc::backend, "evaluating the prompt failed (" + std::to_string(ret) + ")");
            }
        }
        generation out;
        std::vector<int32_t> ids;
        const int32_t n_vocab = model.n_vocab();
        for (int32_t i = 0; i < max_tokens; ++i) {
            const float * logits = llama_get_logits_ith(ctx, -1);
            int32_t best = 0;
            for (int32_t v = 1; v < n_vocab; ++v) {
                if (logits[v] > logits[best]) {
                    best = v; // ties: the lowest id, like argmax in the reference
                }
            }
            generated_token token{best, model.token_piece(best), softmax_prob(logits, n_vocab, best), model.is_eog(best)};
            out.tokens.push_back(token);
            if (token.is_eog) {
                break;
            }
            ids.push_back(best);
            if (i + 1 == max_tokens) {
                break;
            }
            batch_guard batch(1, 0, 1);
            const llama_seq_id seq0[] = {0};
            batch.add_token(best, n_past++, seq0, true);
            decode(batch.batch, "generation");
        }
        out.text = model.detokenize(ids);
        return out;
    }
};

vlm_session::vlm_session(const vlm_model & model, const session_params & params)
    : impl_(std::make_unique<impl>(model, params)) {
    if (params.n_seq < 1 || params.n_seq > 256) {
        throw error(errc::invalid_argument, "batch of " + std::to_string(params.n_seq) + " sequences (expected 1..256)");
    }
    if (params.n_ctx < 0) {
        throw error(errc::invalid_argument, "context size " + std::to_string(params.n_ctx) + " is negative");
    }
}

vlm_session::~vlm_session() = default;

generation vlm_session::generate(const image_rgb8 & image, const std::string & prompt, bool use_raw_prompt,
                                 int32_t max_tokens) {
    return impl_->generate(image, prompt, use_raw_prompt, max_tokens);
}

void vlm_session::prepare(const score_request & request) { impl_->prepare(request); }
int32_t vlm_session::n_targets() const { return int32_t(impl_->req.target_ids.size()); }
void vlm_session::score(std::span<const mask> masks, std::span<float> probs) { impl_->score(masks, probs); }
scorer_stats vlm_session::stats() const { return impl_->stats; }
const session_params & vlm_session::params() const { return impl_->params; }

} // namespace eagle
