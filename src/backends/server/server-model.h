// !!! Internal header, to be used by the server engine (src/backends/server) only !!!
// A model served by running llama-server processes: eagle keeps no weights, only the servers' answers.
// The tokenizer, the chat template and the media marker are the servers' (/tokenize, /detokenize,
// /apply-template, /props); scoring and generation are /completion requests (server-session.cpp).
#pragma once

#include "server-api.h"
#include "work-pool.h"

#include "eagle/vlm.h"

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace eagle::server_backend {

struct server_timeouts {
    double connect_s = 5.0;
    double request_s = 600.0; // one masked image on a big model on CPU can take minutes
};

class server_vlm_model final : public vlm_model {
public:
    // Connects to every server of params.servers: a server that does not answer is dropped with a warning;
    // throws errc::io when none answers, errc::unsupported for one without a vision projector, errc::model
    // when two serve different models or params.model_path names another model file.
    explicit server_vlm_model(const model_params & params);

    // model_path: the served model's path; servers: those that answered at load, normalized
    const model_params & params() const override { return params_; }
    std::string description() const override;
    std::string engine_version() const override;
    int32_t n_vocab() const override { return info_.front().n_vocab; }
    int32_t n_ctx_train() const override { return info_.front().n_ctx_train; }
    bool has_chat_template() const override { return !info_.front().chat_template.empty(); }
    chat_family chat_format() const override { return chat_family_; }

    std::vector<int32_t> tokenize(const std::string & text, bool add_bos, bool parse_special = false) const override;
    std::string token_piece(int32_t id) const override;
    std::string detokenize(std::span<const int32_t> ids) const override;
    bool is_eog(int32_t id) const override { return eog_ids_.count(id) > 0; }
    int32_t eog_token() const override { return eog_token_; }
    std::string format_prompt(const std::string & prompt, bool use_raw_prompt) const override;
    // The text around the media marker, tokenized by the server; the image part's token count is the server's
    // (it does not report it: 0 here). Prompts given as token ids are the in-process engine's: errc::unsupported.
    std::vector<sequence_part> prompt_sequence(const score_request & request) const override;

    // for the sessions (server-session.cpp)
    const std::vector<server_info> & servers() const { return info_; } // the servers that answered at load
    const server_timeouts & timeouts() const { return timeouts_; }
    const retry_policy & retry() const { return retry_; }
    const down_servers & down() const { return down_; } // servers that stopped answering: no session uses them again
    bool is_down(const std::string & url) const { return down_.contains(url); }

protected:
    std::unique_ptr<vlm_session> make_session(const session_params & params) const override; // server-session.cpp

private:
    // One request to the first server that answers (the model's own connection; serialized).
    json query(const std::string & path, const json & body) const;
    bool is_control(int32_t id) const; // a control token: detokenize drops it, as llama_detokenize does
    void find_eog_tokens();

    model_params params_;
    server_timeouts timeouts_;
    retry_policy retry_;
    std::vector<server_info> info_;
    chat_family chat_family_ = chat_family::llama_cpp;
    std::set<int32_t> eog_ids_;
    int32_t eog_token_ = -1;

    mutable std::mutex client_mutex_; // one request at a time on the model's own connection
    mutable std::unique_ptr<http_client> client_;
    down_servers down_;
    mutable std::mutex cache_mutex_;
    mutable std::map<int32_t, std::string> pieces_;
    mutable std::map<int32_t, bool> control_;
};

} // namespace eagle::server_backend
