// !!! Internal header, to be used by the openai engine (src/backends/openai) only !!!
// The approximate session: one chat call per (masked image, target), in flight in parallel (session_params.n_seq
// per server), a server that stops answering dropped and its calls given to the others.
#pragma once

#include "openai-model.h"

#include <atomic>
#include <memory>
#include <vector>

namespace eagle::openai_backend {

class openai_vlm_session final : public vlm_session {
public:
    openai_vlm_session(const openai_vlm_model & model, const session_params & params);
    ~openai_vlm_session() override;

    generation generate(const generate_request & request) override;
    const session_params & params() const override { return params_; }

    // Throws errc::unsupported for what these servers cannot take: prompt ids, a raw prompt, the end of the answer
    // as a target (no server shows its probability).
    void prepare(const score_request & request) override;
    int32_t n_targets() const override { return int32_t(targets_.size()); }
    void score(std::span<const mask> masks, std::span<float> probs) override;
    scorer_stats stats() const override;

private:
    struct target {
        std::string prefix; // the answer before it: the assistant's partial message
        std::string piece;  // its text, looked up among the top log-probabilities
    };
    double score_one(server_backend::http_client & client, const std::string & image_base64, const target & t);

    const openai_vlm_model & model_;
    session_params params_;
    bool is_prepared_ = false;
    image_rgb8 image_;
    image_rgb8 fill_;
    fit_mode fit_ = fit_mode::native;
    int32_t fit_size_ = 0;
    std::string prompt_;
    std::vector<target> targets_;

    std::atomic<int64_t> n_evaluations_{0};
    std::atomic<int64_t> n_calls_{0};
    std::atomic<int64_t> n_outside_top_k_{0};
    std::atomic<int64_t> n_dropped_{0};
    int64_t t_prepare_us_ = 0;
    int64_t t_score_us_ = 0;
    std::atomic<int64_t> t_call_us_{0};
};

} // namespace eagle::openai_backend
