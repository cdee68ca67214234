// !!! Internal header, to be used by the openai engine (src/backends/openai) only !!!
// A model behind OpenAI-compatible chat servers (/v1/chat/completions), scored approximately from the top-k
// log-probabilities of one call per target position (openai-api.h). The servers' tokenizers are unknown: a token
// is its text, numbered in the order the engine meets it (id 0 is the end of the answer, which these servers
// never show with a probability).
#pragma once

#include "openai-api.h"

#include "server/work-pool.h"

#include "eagle/vlm.h"

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace eagle::openai_backend {

constexpr int32_t k_end_token = 0;

class openai_vlm_model final : public vlm_model {
public:
    // Asks every server of params.servers for its models (GET /v1/models) and for one next token with
    // top_logprobs (a text-only probe): a server that does not answer is dropped with a warning; throws errc::io
    // when none answers, errc::unsupported for one that returns no log-probabilities, errc::model when
    // params.model_path names a model a server does not list. $OPENAI_API_KEY, when set, is sent as a bearer token.
    explicit openai_vlm_model(const model_params & params);

    const model_params & params() const override { return params_; } // model_path: the model's name on the servers
    std::string description() const override;
    std::string engine_version() const override;
    bool is_approximate() const override { return true; }
    int32_t n_vocab() const override; // the token texts met so far
    int32_t n_ctx_train() const override { return 0; } // the servers do not say
    bool has_chat_template() const override { return true; } // the servers apply theirs

    std::vector<int32_t> tokenize(const std::string & text, bool add_bos, bool parse_special = false) const override;
    std::string token_piece(int32_t id) const override;
    std::string detokenize(std::span<const int32_t> ids) const override;
    bool is_eog(int32_t id) const override { return id == k_end_token; }
    int32_t eog_token() const override { return k_end_token; }
    // The prompt as the user turn's text (the server applies its chat template); a raw prompt is errc::unsupported.
    std::string format_prompt(const std::string & prompt, bool use_raw_prompt) const override;
    // Empty: the servers do not say how they tokenize the prompt and the image.
    std::vector<sequence_part> prompt_sequence(const score_request & request) const override;

    // for the sessions (openai-session.cpp)
    int32_t intern(const std::string & piece) const; // the id of a token text, numbered on first sight
    const std::vector<std::string> & servers() const { return urls_; }
    const std::string & model_name() const { return model_name_; }
    int32_t top_k() const { return params_.top_logprobs; }
    // --system: the system turn sent before the user's (none when unset: the server's template decides)
    std::string system_prompt() const { return params_.system_prompt.value_or(""); }
    std::unique_ptr<server_backend::http_client> connect(const std::string & url) const;
    const server_backend::retry_policy & retry() const { return retry_; }
    bool is_down(const std::string & url) const { return down_.contains(url); }
    // the pool a session scores on: a server that stops answering is dropped for every session of the model
    server_backend::server_pool pool(std::atomic<int64_t> & n_dropped) const;

protected:
    std::unique_ptr<vlm_session> make_session(const session_params & params) const override; // openai-session.cpp

private:
    model_params params_;
    server_backend::retry_policy retry_;
    std::vector<std::string> urls_; // the servers that answered at load
    std::string model_name_;
    std::string api_key_;

    mutable std::mutex vocab_mutex_;
    mutable std::vector<std::string> pieces_{""}; // id -> text; id 0: the end of the answer
    mutable std::map<std::string, int32_t> ids_;
    server_backend::down_servers down_;
};

// "OpenAI-compatible server", how messages name these servers
extern const char * const k_server_kind;

} // namespace eagle::openai_backend
