// !!! Internal header, to be used by the openai engine folder (src/backends/openai) only !!!
// The exact session on vLLM / SGLang: one request per masked image gives every target's log-probability (the
// answer's own tokens at the end of the prompt), in flight in parallel (session_params.n_seq per server); a
// server that stops answering is dropped and its requests go to the others.
#pragma once

#include "exact-model.h"

#include <atomic>
#include <vector>

namespace eagle::openai_backend {

class exact_vlm_session final : public vlm_session {
public:
    exact_vlm_session(const exact_vlm_model & model, const session_params & params);

    generation generate(const generate_request & request) override;
    const session_params & params() const override { return params_; }

    // Throws errc::unsupported for what prompt log-probabilities cannot give: prompt ids, the end of the answer,
    // a target scored as another token than the answer's own (--target-text).
    void prepare(const score_request & request) override;
    int32_t n_targets() const override { return int32_t(target_indices_.size()); }
    void score(std::span<const mask> masks, std::span<float> probs) override;
    scorer_stats stats() const override;

private:
    // the answer's log-probabilities for one (masked) image
    std::vector<double> answer_logprobs(server_backend::http_client & client, const std::string & image_base64);
    json timed_call(server_backend::http_client & client, const std::string & path, const json & body);

    const exact_vlm_model & model_;
    session_params params_;
    bool is_prepared_ = false;
    image_rgb8 image_;
    image_rgb8 fill_;
    fit_mode fit_ = fit_mode::native;
    int32_t fit_size_ = 0;
    std::string prompt_;      // vLLM: the user turn's text; SGLang: the rendered prompt
    std::vector<int32_t> answer_;
    std::string answer_text_;
    int32_t answer_start_ = 0; // SGLang: logprob_start_len, the prompt's text tokens (<= its tokens with the image's)
    std::vector<int32_t> target_indices_;

    std::atomic<int64_t> n_evaluations_{0};
    std::atomic<int64_t> n_calls_{0};
    std::atomic<int64_t> n_dropped_{0};
    int64_t t_prepare_us_ = 0;
    int64_t t_score_us_ = 0;
    std::atomic<int64_t> t_call_us_{0};
};

} // namespace eagle::openai_backend
