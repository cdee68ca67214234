// llama.cpp engine: the session (context sizing, prepare, score, generate). The batched decoding of a
// group of masked images is in llama-batch.cpp; the scheme is described in llama-session.h.
#include "llama-session.h"
#include "llama-workers.h"

#include "llama-runtime.h"

#include "eagle/error.h"
#include "common/timing.h"

#include <algorithm>
#include <cstdlib>

namespace eagle::llama_backend {

using detail::scoped_timer;

namespace {

// "image" or "N images", for messages about the context a prompt takes
std::string images_text(size_t n_images) {
    return n_images == 1 ? std::string("image") : std::to_string(n_images) + " images";
}

} // namespace

std::unique_ptr<vlm_session> llama_vlm_model::make_session(const session_params & params) const {
    if (n_workers() > 1) {
        return std::make_unique<llama_worker_session>(*this, params);
    }
    return std::make_unique<llama_vlm_session>(*this, params);
}

llama_vlm_session::llama_vlm_session(const llama_vlm_model & model, const session_params & params, int32_t worker)
    : model_(model), params_(params), worker_(worker), n_threads_(model.n_threads()),
      use_batch_encode_(params.use_batch_encode) {}

void llama_vlm_session::set_n_threads(int32_t n_threads) {
    n_threads_ = n_threads;
    if (ctx_) {
        llama_set_n_threads(ctx_, n_threads, n_threads);
    }
}

llama_vlm_session::~llama_vlm_session() {
    if (ctx_) {
        llama_free(ctx_);
    }
}

scorer_stats llama_vlm_session::stats() const {
    return to_scorer_stats(counters_);
}

void check_score_args(bool is_prepared, size_t n_masks, size_t n_probs, size_t n_targets) {
    if (!is_prepared) {
        throw error(errc::invalid_argument, "score: call prepare() first");
    }
    if (n_probs != n_masks * n_targets) {
        throw error(errc::invalid_argument, "score: output has " + std::to_string(n_probs) + " values for " +
                                                std::to_string(n_masks) + " masks x " + std::to_string(n_targets) + " targets");
    }
}

scorer_stats to_scorer_stats(const llama_counters & c, int32_t n_workers) {
    scorer_stats s;
    s.n_evaluations   = c.n_evaluations;
    s.n_backend_calls = c.n_decode_calls + c.n_encode_calls;
    s.t_prepare_us    = c.t_prepare_us;
    s.t_score_us      = c.t_score_us;
    s.t_backend_us    = c.t_encode_us + c.t_decode_us;
    s.engine = {{"n_decode_calls", c.n_decode_calls},
                {"n_encode_calls", c.n_encode_calls},
                {"t_encode_us", c.t_encode_us},
                {"t_decode_us", c.t_decode_us},
                {"n_workers", n_workers}};
    return s;
}

bool llama_vlm_session::needs_helper_decode() const {
    // M-RoPE positions and non-causal image attention are model-specific; libmtmd's helper knows them
    return mtmd_decode_use_mrope(model_.mtmd(worker_)) || use_non_causal_;
}

void llama_vlm_session::ensure_context(int32_t n_ctx, int32_t n_seq_max, int32_t n_ubatch_min) {
    if (ctx_ && ctx_n_ctx_ >= n_ctx && ctx_n_seq_ >= n_seq_max) {
        return;
    }
    if (ctx_) {
        llama_free(ctx_);
        ctx_ = nullptr;
    }
    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx           = uint32_t(n_ctx);
    cparams.n_batch         = uint32_t(n_ctx); // a whole group of sequences goes into one llama_decode
    // 512: with BLAS, 2048 measured 3-5% faster per evaluation on the two small models and 7% slower on the
    // 256M-class one (BENCHMARKS.md, "Per evaluation"); without, the same
    cparams.n_ubatch        = uint32_t(std::max(std::min(n_ctx, 512), n_ubatch_min));
    cparams.n_seq_max       = uint32_t(n_seq_max);
    // unified: one KV buffer, shared-prefix cells tagged with every sequence, but every token attends over
    // the cells of all sequences (masked), so attention grows with n_seq^2. Per-sequence streams: each
    // sequence attends to its own cells only, and the shared prefix is copied into each stream.
    cparams.kv_unified      = params_.use_unified_kv;
    cparams.n_threads       = n_threads_;
    cparams.n_threads_batch = n_threads_;
    cparams.no_perf         = true;
    // f16 (llama.cpp's default) makes the CPU convert every K/V row and run f16 dot products: 1.3x slower
    // per masked image on ShapesWorld (BENCHMARKS.md), and less exact than the reference's float32 model
    if (params_.use_f32_kv) {
        cparams.type_k = GGML_TYPE_F32;
        cparams.type_v = GGML_TYPE_F32;
    }
    // CPU flash attention accumulates in f16 in an order that depends on where a sequence's cells sit in
    // the KV cache, so the same masked image would score differently in different batches (~1e-3
    // relative). Exactness across batch compositions matters more here; GPU users can turn it on.
    cparams.flash_attn_type = params_.use_flash_attn ? LLAMA_FLASH_ATTN_TYPE_AUTO : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    ctx_ = llama_init_from_model(model_.model(), cparams);
    if (!ctx_) {
        throw error(errc::backend, "cannot create a llama.cpp context of " + std::to_string(n_ctx) + " tokens and " +
                                       std::to_string(n_seq_max) + " sequences (out of memory?)");
    }
    ctx_n_ctx_    = n_ctx;
    ctx_n_seq_    = n_seq_max;
    prefix_ready_ = false;
}

void llama_vlm_session::decode(llama_batch batch, const char * what) {
    scoped_timer timer(counters_.t_decode_us);
    const int32_t ret = llama_decode(ctx_, batch);
    ++counters_.n_decode_calls;
    if (ret != 0) {
        throw error(errc::backend, std::string("llama_decode (") + what + ") failed: " + decode_error_text(ret));
    }
}

// Feeds a tokenized prompt into sequence 0 (generation): text pieces by llama_decode, media chunks through
// libmtmd's helper (which knows M-RoPE positions and non-causal attention); logits at the last token.
void llama_vlm_session::eval_prompt(const tokenized_prompt & prompt, llama_pos & n_past) {
    const int32_t n_batch = int32_t(llama_n_batch(ctx_));
    for (size_t k = 0; k < prompt.pieces.size(); ++k) {
        const prompt_piece & piece = prompt.pieces[k];
        const bool is_last = k + 1 == prompt.pieces.size();
        if (piece.media) {
            std::lock_guard<std::mutex> lock(model_.encode_mutex(worker_));
            scoped_timer timer(counters_.t_decode_us);
            llama_pos new_n_past = 0;
            const int32_t ret = mtmd_helper_eval_chunk_single(model_.mtmd(worker_), ctx_, piece.media, n_past, 0, n_batch, is_last, &new_n_past);
            if (ret != 0) {
                throw error(errc::backend, "evaluating the prompt's image failed (" + std::to_string(ret) + ")");
            }
            n_past = new_n_past;
            continue;
        }
        const llama_seq_id seq0[] = {0};
        for (size_t i0 = 0; i0 < piece.text.size(); i0 += size_t(n_batch)) {
            const size_t n = std::min(size_t(n_batch), piece.text.size() - i0);
            batch_guard batch(int32_t(n), 0, 1);
            for (size_t i = 0; i < n; ++i) {
                batch.add_token(piece.text[i0 + i], n_past++, seq0, is_last && i0 + i + 1 == piece.text.size());
            }
            decode(batch.batch, "prompt");
        }
    }
}

void llama_vlm_session::prepare(const score_request & request) {
    scoped_timer timer(counters_.t_prepare_us);
    is_prepared_ = false;
    const resolved_request targets = resolve_request(request, model_.n_vocab());
    prepared_request r;
    r.request        = request;
    r.target_indices = targets.target_indices;
    r.target_ids     = targets.target_ids;
    // the logits predicting answer[t] sit at answer[t-1]: tokens after the last target are never needed
    r.answer_fed.assign(request.answer.begin(), request.answer.begin() + r.target_indices.back());
    const std::vector<const image_rgb8 *> images = request_images(request.image, request.more_images);
    for (const image_rgb8 * image : images) {
        r.fills.push_back(make_fill_image(*image, request.fill));
    }
    r.source = model_.make_prompt_source(request.prompt, request.use_raw_prompt, request.prompt_ids, request.image_token,
                                         request.fit, request.fit_size, int32_t(images.size()));

    // split the tokenized prompt into the image-independent prefix and the body
    const tokenized_prompt prompt = model_.tokenize_prompt(images, r.source, worker_);
    const std::vector<prompt_piece> & pieces = prompt.pieces;
    const size_t n_pieces = pieces.size();
    size_t i_first_media = n_pieces;
    int32_t n_media = 0;
    int32_t max_media_tokens = 0;
    for (size_t i = 0; i < n_pieces; ++i) {
        if (const mtmd_input_chunk * chunk = pieces[i].media) {
            i_first_media = std::min(i_first_media, i);
            ++n_media;
            max_media_tokens = std::max(max_media_tokens, int32_t(mtmd_input_chunk_get_n_tokens(chunk)));
            if (mtmd_decode_use_non_causal(model_.mtmd(worker_), chunk)) {
                use_non_causal_ = true;
            }
        }
    }
    if (n_media == 0) {
        throw error(errc::invalid_argument, "prepare: the prompt has no place for the image");
    }
    for (size_t i = 0; i < i_first_media; ++i) {
        r.prefix_tokens.insert(r.prefix_tokens.end(), pieces[i].text.begin(), pieces[i].text.end());
    }
    r.n_body_pieces = n_pieces - i_first_media;
    for (size_t i = i_first_media; i < n_pieces; ++i) {
        r.n_body_tokens += pieces[i].media ? int32_t(mtmd_input_chunk_get_n_tokens(pieces[i].media)) : int32_t(pieces[i].text.size());
    }
    if (pieces.back().media && r.target_indices.front() == 0) {
        throw error(errc::unsupported, "prepare: the prompt ends with the image; put text after <image>");
    }

    // context: the shared prefix once, then one body + answer per sequence
    const int32_t n_prefix = int32_t(r.prefix_tokens.size());
    const int32_t n_per_seq = r.n_body_tokens + int32_t(r.answer_fed.size());
    const int32_t n_seq_len = n_prefix + n_per_seq;
    if (n_seq_len + 1 > model_.n_ctx_train()) {
        throw error(errc::invalid_argument, "prompt, " + images_text(images.size()) + " and answer take " + std::to_string(n_seq_len) +
                                                " tokens, more than the model's context of " + std::to_string(model_.n_ctx_train()));
    }
    const int32_t n_seq_req = std::max(1, params_.n_seq);
    // per-sequence streams each hold a whole sequence (llama.cpp gives each n_ctx / n_seq cells)
    const int32_t n_stream = (n_seq_len + 255) / 256 * 256;
    auto cells_for = [&](int32_t n) {
        if (!params_.use_unified_kv) {
            return n * n_stream;
        }
        return params_.share_prefix ? n_prefix + n * n_per_seq : n * n_seq_len;
    };
    int32_t n_ctx = 0;
    if (params_.n_ctx > 0) {
        n_ctx = params_.n_ctx;
        if (cells_for(1) > n_ctx) {
            throw error(errc::invalid_argument, "prompt, image and answer take " + std::to_string(n_seq_len) +
                                                    " tokens, more than the context of " + std::to_string(n_ctx) + " (--ctx)");
        }
        n_seq_ = n_seq_req;
        while (n_seq_ > 1 && cells_for(n_seq_) > n_ctx) {
            --n_seq_;
        }
    } else {
        n_seq_ = n_seq_req;
        n_ctx = (cells_for(n_seq_) + 255) / 256 * 256;
    }
    ensure_context(n_ctx, n_seq_, use_non_causal_ ? max_media_tokens : 0);
    req_ = std::move(r);
    prefix_ready_ = false;
    is_prepared_  = true;
}

void llama_vlm_session::score(std::span<const mask> masks, std::span<float> probs) {
    const size_t n_targets = req_.target_ids.size();
    check_score_args(is_prepared_, masks.size(), probs.size(), n_targets);
    const mask_shape shape = request_mask_shape(req_.request);
    for (const mask & keep : masks) {
        if (keep.nx != shape.nx || keep.ny != shape.ny) {
            throw error(errc::invalid_argument, "score: mask is " + std::to_string(keep.nx) + "x" + std::to_string(keep.ny) +
                                                    " but the " + (req_.request.more_images.empty() ? "image" : "images' joined mask") +
                                                    " is " + std::to_string(shape.nx) + "x" + std::to_string(shape.ny));
        }
    }
    scoped_timer timer(counters_.t_score_us);
    // every mask is scored, repeats included (the memo in front of this session removes them)
    std::vector<const mask *> todo(masks.size());
    for (size_t i = 0; i < masks.size(); ++i) {
        todo[i] = &masks[i];
    }
    for (size_t i0 = 0; i0 < todo.size(); i0 += size_t(n_seq_)) {
        const size_t n = std::min(size_t(n_seq_), todo.size() - i0);
        std::vector<std::vector<float>> out(n);
        score_group(std::span<const mask * const>(todo.data() + i0, n), out);
        for (size_t j = 0; j < n; ++j) {
            std::copy(out[j].begin(), out[j].end(), probs.begin() + (i0 + j) * n_targets);
        }
    }
}

generation llama_vlm_session::generate(const generate_request & request) {
    const image_rgb8 & image = request.image;
    const int32_t max_tokens = request.max_tokens;
    if (image.empty()) {
        throw error(errc::invalid_argument, "generate: the image is empty");
    }
    if (max_tokens <= 0) {
        throw error(errc::invalid_argument, "generate: max_tokens must be positive, got " + std::to_string(max_tokens));
    }
    for (size_t k = 0; k < request.more_images.size(); ++k) {
        if (request.more_images[k].empty()) {
            throw error(errc::invalid_argument, "generate: image " + std::to_string(k + 2) + " of the prompt is empty");
        }
    }
    const std::vector<const image_rgb8 *> images = request_images(image, request.more_images);
    const prompt_source source = model_.make_prompt_source(request.prompt, request.use_raw_prompt, request.prompt_ids,
                                                           request.image_token, request.fit, request.fit_size,
                                                           int32_t(images.size()));
    const tokenized_prompt prompt = model_.tokenize_prompt(images, source, worker_);
    int32_t n_prompt = 0;
    int32_t max_chunk_tokens = 0;
    for (const prompt_piece & p : prompt.pieces) {
        const int32_t n = p.media ? int32_t(mtmd_input_chunk_get_n_tokens(p.media)) : int32_t(p.text.size());
        n_prompt += n;
        max_chunk_tokens = std::max(max_chunk_tokens, n);
    }
    const int32_t n_needed = n_prompt + max_tokens;
    if (n_needed > model_.n_ctx_train()) {
        throw error(errc::invalid_argument, "prompt and " + images_text(images.size()) + " take " + std::to_string(n_prompt) + " tokens; with " +
                                                std::to_string(max_tokens) + " new tokens that exceeds the model's context of " +
                                                std::to_string(model_.n_ctx_train()));
    }
    if (params_.n_ctx > 0 && n_needed > params_.n_ctx) {
        throw error(errc::invalid_argument, "prompt and image take " + std::to_string(n_prompt) + " tokens; with " +
                                                std::to_string(max_tokens) + " new tokens that exceeds the context of " +
                                                std::to_string(params_.n_ctx) + " (--ctx)");
    }
    ensure_context(std::max(ctx_n_ctx_, (n_needed + 255) / 256 * 256), std::max(ctx_n_seq_, 1), max_chunk_tokens);
    llama_memory_clear(llama_get_memory(ctx_), true);
    prefix_ready_ = false;

    llama_pos n_past = 0;
    eval_prompt(prompt, n_past);
    generation out;
    std::vector<int32_t> ids;
    const int32_t n_vocab = model_.n_vocab();
    for (int32_t i = 0; i < max_tokens; ++i) {
        const float * logits = llama_get_logits_ith(ctx_, -1);
        int32_t best = 0;
        for (int32_t v = 1; v < n_vocab; ++v) {
            if (logits[v] > logits[best]) {
                best = v; // ties: the lowest id, like argmax in the reference
            }
        }
        generated_token token{best, model_.token_piece(best), softmax_prob(logits, n_vocab, best), model_.is_eog(best)};
        out.tokens.push_back(token);
        if (token.is_eog) {
            break;
        }
        ids.push_back(best);
        if (i + 1 == max_tokens) {
            out.is_cut = true;
            break;
        }
        batch_guard batch(1, 0, 1);
        const llama_seq_id seq0[] = {0};
        batch.add_token(best, n_past++, seq0, true);
        decode(batch.batch, "generation");
    }
    out.text = model_.detokenize(ids);
    return out;
}

} // namespace eagle::llama_backend
