// !!! Internal header, to be used by the server engine (src/backends/server) only !!!
// The server session: masked images scored as /completion requests (scheme in server-api.h), in flight in
// parallel on every slot of every server, each slot with its own kept-alive connection. A server that stops
// answering is dropped (with a warning) and its requests go to the others; nothing is lost unless all stop.
#pragma once

#include "server-model.h"

#include <atomic>
#include <memory>
#include <vector>

namespace eagle::server_backend {

// One request per masked image scores the targets of a group: the forced tokens, then (when the answer ends
// with an end-of-generation token) the one the finished grammar lets the server sample.
struct request_group {
    std::vector<int32_t> forced;    // token ids the grammar forces (no end-of-generation token)
    int32_t n_predict = 0;          // tokens to generate
    struct output {
        int32_t i_target = 0;       // which target of the request
        int32_t position = 0;       // its answer position
        int32_t id = 0;             // the token whose probability it is
    };
    std::vector<output> outputs;
};

// The groups of a prepared request: the targets scored as the answer's own tokens share one group (the
// answer forced up to the last of them); each target scored as another token (target_ids) gets its own.
// Throws errc::unsupported for an end-of-generation token the grammar would have to force mid-answer.
std::vector<request_group> make_groups(std::span<const int32_t> answer, std::span<const int32_t> target_indices,
                                       std::span<const int32_t> target_ids, const vlm_model & model);

// Reads the probabilities of one group out of a /completion result into probs (one per target); throws
// errc::backend when the server did not generate the forced tokens, errc::unsupported when it ended the answer
// with another end-of-generation token than ours and ours is not among its top probabilities.
void read_group(const request_group & group, const completion_result & result, const std::string & url,
                std::span<float> probs);

class server_vlm_session final : public vlm_session {
public:
    server_vlm_session(const server_vlm_model & model, const session_params & params);
    ~server_vlm_session() override;

    generation generate(const generate_request & request) override;
    const session_params & params() const override { return params_; }

    void prepare(const score_request & request) override;
    int32_t n_targets() const override { return int32_t(target_ids_.size()); }
    void score(std::span<const mask> masks, std::span<float> probs) override;
    scorer_stats stats() const override;

private:
    struct endpoint {
        server_info info;
        std::vector<std::unique_ptr<http_client>> clients; // one per slot
        bool is_down = false;
        std::string prompt_text; // the prepared prompt with this server's media marker
    };
    std::string with_marker(const std::string & prompt_text, const server_info & server) const;
    std::string image_base64(const mask * keep) const;     // the (masked) image as base64 PNG
    void score_one(http_client & client, const std::string & prompt_text, const mask & keep, const request_group & group,
                   std::span<float> probs);
    void drop(endpoint & e, const std::string & why);

    const server_vlm_model & model_;
    session_params params_;
    std::vector<endpoint> endpoints_;

    bool is_prepared_ = false;
    image_rgb8 image_;
    image_rgb8 fill_;
    std::vector<int32_t> target_ids_;
    std::vector<request_group> groups_;

    std::atomic<int64_t> n_evaluations_{0};
    std::atomic<int64_t> n_requests_{0};
    std::atomic<int64_t> t_request_us_{0}; // summed over requests in flight together
    int64_t t_prepare_us_ = 0;
    int64_t t_score_us_ = 0;
    int64_t n_dropped_ = 0;
};

} // namespace eagle::server_backend
