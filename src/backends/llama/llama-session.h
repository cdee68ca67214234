// !!! Internal header, to be used by the llama.cpp engine (src/backends/llama) only !!!
// The llama.cpp session: one llama_context, and the batched scoring of masked images on it.
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
// Repeated masks are not this class's business: vlm_model::new_session puts a memo_scorer in front of it.
#pragma once

#include "llama-model.h"

#include "eagle/vlm.h"

#include <llama.h>
#include <mtmd-helper.h>
#include <mtmd.h>

#include <span>
#include <string>
#include <vector>

namespace eagle::llama_backend {

// The request, tokenized: everything that is the same for every masked image.
struct prepared_request {
    score_request request;
    std::vector<image_rgb8> fills;         // what removed pixels become, per image of the prompt
    prompt_source source;                  // the prompt (formatted text or the caller's ids) and the image fit
    std::vector<int32_t> prefix_tokens;    // text before the first image chunk (BOS included)
    size_t n_body_pieces = 0;              // prompt pieces from the first image chunk on
    int32_t n_body_tokens = 0;             // tokens of those pieces
    std::vector<int32_t> answer_fed;       // answer tokens fed (cut after the last target)
    std::vector<int32_t> target_indices;
    std::vector<int32_t> target_ids;
};

// A masked image, tokenized: its body pieces (image and text) from i_body_begin on.
struct masked_input {
    tokenized_prompt prompt;
    size_t i_body_begin = 0;
    std::vector<std::vector<float>> image_embd; // per image chunk of the body, in order
};

// What this engine counts about itself; stats() reports it as scorer_stats plus engine counters.
struct llama_counters {
    int64_t n_evaluations  = 0;
    int64_t n_decode_calls = 0; // llama_decode calls
    int64_t n_encode_calls = 0; // image-encoder calls (one may encode several images)
    int64_t t_prepare_us   = 0;
    int64_t t_encode_us    = 0; // image preprocessing and vision encoder
    int64_t t_decode_us    = 0; // language model
    int64_t t_score_us     = 0;
};

// score()'s own checks, for a session and for workers: prepared, and n_targets values per mask in probs.
void check_score_args(bool is_prepared, size_t n_masks, size_t n_probs, size_t n_targets);

// The counters as the scorer reports them (scorer_stats, with the engine's own counters named, n_workers the
// workers they were summed over).
scorer_stats to_scorer_stats(const llama_counters & counters, int32_t n_workers = 1);

class llama_vlm_session final : public vlm_session {
public:
    // `worker`: which of the model's libmtmd contexts this session encodes with (llama-workers.h)
    llama_vlm_session(const llama_vlm_model & model, const session_params & params, int32_t worker = 0);
    ~llama_vlm_session() override;
    llama_vlm_session(const llama_vlm_session &) = delete;
    llama_vlm_session & operator=(const llama_vlm_session &) = delete;

    generation generate(const generate_request & request) override;
    const session_params & params() const override { return params_; }

    void prepare(const score_request & request) override;
    int32_t n_targets() const override { return int32_t(req_.target_ids.size()); }
    void score(std::span<const mask> masks, std::span<float> probs) override;
    scorer_stats stats() const override;
    const llama_counters & counters() const { return counters_; }

    // Threads of this session's llama.cpp context from now on (default: the model's n_threads). Its image
    // encodes use the libmtmd context's, which OpenMP cuts to one inside a team of workers.
    void set_n_threads(int32_t n_threads);

private:
    // llama-session.cpp
    void ensure_context(int32_t n_ctx, int32_t n_seq_max, int32_t n_ubatch_min);
    void decode(llama_batch batch, const char * what);
    void eval_prompt(const tokenized_prompt & prompt, llama_pos & n_past); // generation: the whole prompt, sequence 0
    bool needs_helper_decode() const;

    // llama-batch.cpp: one group of at most n_seq_ distinct masks through the model
    void decode_shared_prefix();
    void encode_images(std::vector<masked_input> & inputs);
    void score_group(std::span<const mask * const> masks, std::vector<std::vector<float>> & probs_out);

    const llama_vlm_model & model_;
    session_params params_;
    int32_t worker_    = 0;
    int32_t n_threads_ = 1;
    llama_counters counters_;

    llama_context * ctx_ = nullptr;
    int32_t ctx_n_ctx_ = 0;
    int32_t ctx_n_seq_ = 0;

    bool is_prepared_    = false;
    bool prefix_ready_   = false; // the shared prefix is in the KV cache
    bool use_non_causal_ = false; // some image chunk needs non-causal attention (set by prepare)
    bool use_batch_encode_ = true;
    prepared_request req_;
    int32_t n_seq_ = 1;           // sequences per decode for the prepared request
};

} // namespace eagle::llama_backend
