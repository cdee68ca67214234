// !!! Internal header, to be used by the openai engine folder (src/backends/openai) only !!!
// A model behind vLLM or SGLang servers, scored EXACTLY from their prompt log-probabilities (exact-api.h):
// implemented from the vLLM and SGLang documentation, not yet run against a live server (tests/test-exact.cpp
// runs it against mock servers of the documented formats). The tokenizer is the servers' (/tokenize,
// /detokenize). vLLM applies its own chat template to the chat messages; SGLang's /generate takes the prompt
// as text, which eagle renders with the --chat-template family and the model's image token.
#pragma once

#include "exact-api.h"

#include "server/work-pool.h"

#include "eagle/vlm.h"

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace eagle::openai_backend {

class exact_vlm_model final : public vlm_model {
public:
    // params.engine "vllm" or "sglang". Asks every server of params.servers for its models (GET /v1/models) and
    // tokenizes through it once: a server that does not answer is dropped with a warning; throws errc::io when
    // none answers, errc::model when params.model_path names a model a server does not list or two servers
    // serve different models, errc::backend for a server without /tokenize, errc::invalid_argument (sglang)
    // for a --chat-template eagle cannot render for SGLang.
    explicit exact_vlm_model(const model_params & params);

    const model_params & params() const override { return params_; } // model_path: the model's name on the servers
    std::string description() const override;
    std::string engine_version() const override;
    int32_t n_vocab() const override; // the servers do not say: any id their tokenizer gives
    int32_t n_ctx_train() const override { return n_ctx_; } // /tokenize max_model_len
    bool has_chat_template() const override { return true; }
    chat_family chat_format() const override { return family_; }

    std::vector<int32_t> tokenize(const std::string & text, bool add_bos, bool parse_special = false) const override;
    std::string token_piece(int32_t id) const override;
    std::string detokenize(std::span<const int32_t> ids) const override;
    // The end of the answer cannot be scored (the prompt ends inside the assistant's turn): no token is one,
    // and eog_token() throws errc::unsupported (explain with --no-eog).
    bool is_eog(int32_t /*id*/) const override { return false; }
    int32_t eog_token() const override;
    // vLLM: the prompt as the user turn's text; SGLang: the whole rendered prompt, the image token in place.
    // A raw prompt is errc::unsupported on vLLM (the server applies its template).
    std::string format_prompt(const std::string & prompt, bool use_raw_prompt) const override;
    // Empty: the servers do not say how they tokenize the prompt and the image.
    std::vector<sequence_part> prompt_sequence(const score_request & request) const override;

    // for the sessions (exact-session.cpp)
    exact_api api() const { return api_; }
    const char * kind() const { return server_kind(api_); }
    const std::string & engine_name() const { return params_.engine; }
    const std::vector<std::string> & servers() const { return params_.servers; }
    const std::string & model_name() const { return params_.model_path; }
    std::string system_prompt() const { return params_.system_prompt.value_or(""); }
    std::unique_ptr<server_backend::http_client> connect(const std::string & url) const;
    const server_backend::retry_policy & retry() const { return retry_; }
    bool is_down(const std::string & url) const { return down_.contains(url); }
    server_backend::server_pool pool(std::atomic<int64_t> & n_dropped) const;
    // One request to the first live server (the model's own connection; serialized); drops servers that stop answering.
    json query(const std::string & path, const json & body) const;

protected:
    std::unique_ptr<vlm_session> make_session(const session_params & params) const override; // exact-session.cpp

private:
    model_params params_;
    exact_api api_;
    chat_family family_ = chat_family::llama_cpp;
    std::string image_token_; // SGLang: the model's image token text in a rendered prompt
    server_backend::retry_policy retry_;
    int32_t n_ctx_ = 0;

    mutable std::mutex client_mutex_;
    mutable std::unique_ptr<server_backend::http_client> client_;
    server_backend::down_servers down_;
    mutable std::mutex cache_mutex_;
    mutable std::map<int32_t, std::string> pieces_;
};

// The image token an SGLang prompt carries for a chat family (what the model's Hugging Face processor expands):
// Qwen2-VL, Qwen2.5-VL, Qwen3-VL "<|vision_start|><|image_pad|><|vision_end|>", LLaVA-1.5 "<image>". Throws
// errc::invalid_argument for the other families (and llama.cpp / auto: SGLang does not render the prompt).
std::string sglang_image_token(chat_family family);

std::unique_ptr<vlm_model> load_exact_model(const model_params & params);

} // namespace eagle::openai_backend
