// !!! Internal header, to be used by the llama.cpp engine (src/backends/llama) only !!!
// The llama.cpp model: a libllama text model plus a libmtmd projector, shared by its sessions.
#pragma once

#include "eagle/vlm.h"

#include <llama.h>
#include <mtmd.h>

#include <vector>

#include <memory>
#include <span>
#include <mutex>
#include <string>

namespace eagle::llama_backend {

// What a prompt is made of before the image is known: the formatted text with libmtmd's marker, or the
// caller's token ids around the image placeholder run; and the fit the image gets.
struct prompt_source {
    std::string text;                // text mode: the formatted prompt (libmtmd's marker where the image goes)
    bool use_ids = false;            // ids mode: before + the image chunk(s) + after, every id as given
    std::vector<int32_t> before;
    std::vector<int32_t> after;
    fit_mode fit = fit_mode::native;
    int32_t fit_size = 0;
};

// One piece of a tokenized prompt: text ids, or a media chunk owned by the tokenized_prompt's chunks.
struct prompt_piece {
    const mtmd_input_chunk * media = nullptr;
    std::vector<int32_t> text;
};

struct tokenized_prompt {
    mtmd::input_chunks_ptr chunks;   // owns the media chunks
    std::vector<prompt_piece> pieces;
};

class llama_vlm_model final : public vlm_model {
public:
    explicit llama_vlm_model(const model_params & params); // throws errc::io (missing file) / errc::model
    ~llama_vlm_model() override;
    llama_vlm_model(const llama_vlm_model &) = delete;
    llama_vlm_model & operator=(const llama_vlm_model &) = delete;

    const model_params & params() const override { return params_; } // as asked (n_threads 0 = all)
    int32_t n_threads() const { return n_threads_; }                  // as run
    int32_t n_workers() const override { return int32_t(encoders_.size()); } // as run (model_params::n_workers)
    bool uses_blas() const override { return uses_blas_; }
    // model_params::pin_workers, unless BLAS runs on OpenBLAS's own pthreads: those threads would be bound too
    // if OpenBLAS grew its pool while a worker is bound (llama-workers.h)
    bool pins_workers() const { return pins_workers_; }
    std::string description() const override;
    std::string engine_version() const override;
    int32_t n_vocab() const override;
    int32_t n_ctx_train() const override;
    bool has_chat_template() const override { return !chat_template_.empty(); }
    chat_family chat_format() const override { return chat_family_; }

    std::vector<int32_t> tokenize(const std::string & text, bool add_bos, bool parse_special = false) const override;
    std::string token_piece(int32_t id) const override;
    std::string detokenize(std::span<const int32_t> ids) const override;
    bool is_eog(int32_t id) const override;
    int32_t eog_token() const override;
    std::string format_prompt(const std::string & prompt, bool use_raw_prompt) const override;
    std::vector<sequence_part> prompt_sequence(const score_request & request) const override;

    // The prompt of a request (text or ids) with a place for each of n_images images; throws
    // errc::invalid_argument for ids without a placeholder or a prompt whose placeholders are not n_images.
    prompt_source make_prompt_source(const std::string & prompt, bool use_raw_prompt, const std::vector<int32_t> & prompt_ids,
                                     int32_t image_token, fit_mode fit, int32_t fit_size, int32_t n_images = 1) const;
    // The prompt around its images (each fitted first), in prompt order: libmtmd's chunks, as pieces in
    // feeding order.
    // `worker`: whose libmtmd context preprocesses the images (see mtmd()).
    tokenized_prompt tokenize_prompt(std::span<const image_rgb8 * const> images, const prompt_source & source,
                                     int32_t worker = 0) const;
    tokenized_prompt tokenize_prompt(const image_rgb8 & image, const prompt_source & source, int32_t worker = 0) const {
        const image_rgb8 * one[] = {&image};
        return tokenize_prompt(one, source, worker);
    }

    // for the engine's sessions (llama-session.cpp)
    llama_model * model() const { return model_; }
    // One libmtmd context per worker (0 .. n_workers() - 1): each holds its own copy of the projector's weights
    // and the encoder's buffers, so workers encode at the same time; a context encodes one image at a time
    // (lock its mutex).
    mtmd_context * mtmd(int32_t worker = 0) const { return encoders_[size_t(worker)]->ctx; }
    std::mutex & encode_mutex(int32_t worker = 0) const { return encoders_[size_t(worker)]->mutex; }

private:
    std::string format_prompt_for(const std::string & prompt, bool use_raw_prompt, int32_t n_images) const;

protected:
    std::unique_ptr<vlm_session> make_session(const session_params & params) const override; // llama-session.cpp

private:
    model_params params_;
    int32_t n_threads_ = 1;
    bool uses_blas_ = false;
    bool pins_workers_ = false;
    llama_model * model_ = nullptr;
    const llama_vocab * vocab_ = nullptr;
    struct encoder {
        mtmd_context * ctx = nullptr;
        mutable std::mutex mutex; // libmtmd's context holds the encoder's buffers: one encode at a time
        ~encoder() {
            if (ctx) {
                mtmd_free(ctx);
            }
        }
    };
    std::vector<std::unique_ptr<encoder>> encoders_; // one per worker
    std::string chat_template_;       // empty: the GGUF has none
    chat_family chat_family_ = chat_family::llama_cpp;
};

} // namespace eagle::llama_backend
