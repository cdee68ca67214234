// openai engine: the model (the servers, their model's name, the token texts met so far).
#include "openai-model.h"

#include "openai-engine.h"

#include "eagle/log.h"

#include <algorithm>
#include <cstdlib>

namespace eagle::openai_backend {

using server_backend::call;
using server_backend::http_client;
using server_backend::unique_urls;
using server_backend::server_down;

const char * const k_server_kind = "OpenAI-compatible server";

namespace {

constexpr double k_connect_timeout_s = 5.0;
constexpr double k_request_timeout_s = 600.0; // one masked image on a big model on CPU can take minutes

} // namespace

openai_vlm_model::openai_vlm_model(const model_params & params) : params_(params) {
    if (params.servers.empty()) {
        throw error(errc::invalid_argument, "engine 'openai' needs at least one server URL (--server http://host:port)");
    }
    if (params.top_logprobs < 1 || params.top_logprobs > k_max_top_logprobs) {
        throw error(errc::invalid_argument, "engine 'openai': top_logprobs must be 1.." + std::to_string(k_max_top_logprobs) +
                                                " (OpenAI's limit), got " + std::to_string(params.top_logprobs));
    }
    if (const char * key = std::getenv("OPENAI_API_KEY"); key && *key) {
        api_key_ = key;
    }
    const std::vector<std::string> urls = unique_urls(params.servers);
    std::string last_down;
    for (const std::string & url : urls) {
        const std::unique_ptr<http_client> client = connect(url);
        try {
            const std::string name = pick_model(listed_models(call(*client, "/v1/models", "", retry_, k_server_kind), k_server_kind, url),
                                                params.model_path, k_server_kind, url);
            // a server without log-probabilities (or with a lower top_logprobs limit) fails here, not mid-search
            const json probe = next_token_body(name, json::array({{{"role", "user"}, {"content", "Say yes."}}}), top_k());
            const chat_result r = parse_chat(call(*client, "/v1/chat/completions", probe.dump(), retry_, k_server_kind), url);
            if (!r.tokens.empty() && r.tokens.front().top.empty()) {
                throw error(errc::unsupported, std::string(k_server_kind) + " at " + url +
                                                   " returned no top_logprobs although asked for " + std::to_string(top_k()) +
                                                   "; the openai engine needs them");
            }
            // compared only among servers that answered every probe: urls_.front() is where the name came from
            if (model_name_.empty()) {
                model_name_ = name;
            } else if (name != model_name_) {
                throw error(errc::model, std::string(k_server_kind) + " at " + url + " serves '" + name + "', but " + urls_.front() +
                                             " serves '" + model_name_ + "'; every --server must run the same model (or give --model)");
            }
        } catch (const server_down & e) {
            log(log_level::warn, std::string(e.what()) + "; dropped\n");
            last_down = e.what();
            continue;
        }
        urls_.push_back(url);
    }
    if (urls_.empty()) {
        throw error(errc::io, urls.size() == 1 ? last_down : "none of the " + std::to_string(urls.size()) + " " + k_server_kind +
                                                                 "s answers (last: " + last_down + ")");
    }
    params_.model_path = model_name_;
    params_.mmproj_path.clear();
    log(log_level::warn, "engine 'openai' is approximate: each probability comes from the server's top-" +
                             std::to_string(top_k()) + " log-probabilities (0 outside them), one call per target and "
                             "masked image; explanations are marked \"approximate\"\n");
}

std::unique_ptr<http_client> openai_vlm_model::connect(const std::string & url) const {
    auto client = std::make_unique<http_client>(url, k_connect_timeout_s, k_request_timeout_s);
    if (!api_key_.empty()) {
        client->add_header("Authorization: Bearer " + api_key_);
    }
    return client;
}

std::string openai_vlm_model::description() const {
    std::string urls;
    for (const std::string & u : urls_) {
        urls += (urls.empty() ? "" : ", ") + u;
    }
    return "'" + model_name_ + "' on " + std::to_string(urls_.size()) + " " + k_server_kind + (urls_.size() > 1 ? "s" : "") +
           " (" + urls + "), approximate: top-" + std::to_string(top_k()) + " log-probabilities";
}

std::string openai_vlm_model::engine_version() const {
    return std::string(k_server_kind) + " /v1/chat/completions (approximate, top_logprobs " + std::to_string(top_k()) + ")";
}

int32_t openai_vlm_model::n_vocab() const {
    std::lock_guard<std::mutex> lock(vocab_mutex_);
    return int32_t(pieces_.size());
}

int32_t openai_vlm_model::intern(const std::string & piece) const {
    std::lock_guard<std::mutex> lock(vocab_mutex_);
    auto [it, is_new] = ids_.emplace(piece, int32_t(pieces_.size()));
    if (is_new) {
        pieces_.push_back(piece);
    }
    return it->second;
}

std::vector<int32_t> openai_vlm_model::tokenize(const std::string & text, bool /*add_bos*/, bool /*parse_special*/) const {
    std::vector<int32_t> ids;
    for (const std::string & piece : split_words(text)) {
        ids.push_back(intern(piece));
    }
    return ids;
}

std::string openai_vlm_model::token_piece(int32_t id) const {
    std::lock_guard<std::mutex> lock(vocab_mutex_);
    if (id < 0 || id >= int32_t(pieces_.size())) {
        throw error(errc::invalid_argument, "token id " + std::to_string(id) + " is not one of the " +
                                                std::to_string(pieces_.size()) + " token texts the openai engine has met");
    }
    return pieces_[size_t(id)];
}

std::string openai_vlm_model::detokenize(std::span<const int32_t> ids) const {
    std::string text;
    for (int32_t id : ids) {
        text += token_piece(id); // the end of the answer is ""
    }
    return text;
}

std::string openai_vlm_model::format_prompt(const std::string & prompt, bool use_raw_prompt) const {
    if (use_raw_prompt) {
        throw error(errc::unsupported, "engine 'openai': a raw prompt (--raw-prompt) cannot be sent; the server applies its "
                                       "own chat template");
    }
    return prompt;
}

std::vector<sequence_part> openai_vlm_model::prompt_sequence(const score_request & /*request*/) const {
    return {};
}

server_backend::server_pool openai_vlm_model::pool(std::atomic<int64_t> & n_dropped) const {
    return server_backend::model_pool(down_, k_server_kind, n_dropped);
}

std::unique_ptr<vlm_model> load_model(const model_params & params) {
    return std::make_unique<openai_vlm_model>(params);
}

} // namespace eagle::openai_backend
