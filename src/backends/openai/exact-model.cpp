// Exact engines on vLLM and SGLang: the model (the servers, their model's name, their tokenizer).
#include "exact-model.h"

#include "openai-engine.h"

#include "eagle/log.h"

#include <limits>

namespace eagle::openai_backend {

using server_backend::call;
using server_backend::http_client;
using server_backend::server_down;
using server_backend::unique_urls;

namespace {

constexpr double k_connect_timeout_s = 5.0;
constexpr double k_request_timeout_s = 600.0; // one masked image on a big model can take minutes

exact_api api_of(const std::string & engine) {
    if (engine == "vllm") {
        return exact_api::vllm;
    }
    if (engine == "sglang") {
        return exact_api::sglang;
    }
    throw error(errc::invalid_argument, "exact server engine '" + engine + "' (expected vllm or sglang)");
}

} // namespace

std::string sglang_image_token(chat_family family) {
    switch (family) {
    case chat_family::qwen2_vl:
    case chat_family::qwen2_5_vl:
    case chat_family::qwen3_vl:
        return "<|vision_start|><|image_pad|><|vision_end|>";
    case chat_family::llava_1_5:
        return "<image>";
    default:
        throw error(errc::invalid_argument, "engine 'sglang' renders the prompt itself and knows the image token of "
                                            "--chat-template qwen2-vl, qwen2.5-vl, qwen3-vl and llava-1.5 only, not '" +
                                                std::string(chat_family_of(family).name) + "'");
    }
}

exact_vlm_model::exact_vlm_model(const model_params & params) : params_(params), api_(api_of(params.engine)) {
    if (params.servers.empty()) {
        throw error(errc::invalid_argument, "engine '" + params.engine + "' needs at least one server URL (--server http://host:port)");
    }
    if (api_ == exact_api::sglang) {
        const std::optional<chat_family> family = parse_chat_family(params.chat_template);
        if (!family) {
            throw error(errc::invalid_argument, "engine 'sglang' renders the prompt itself: give the model's --chat-template "
                                                "(qwen2-vl, qwen2.5-vl, qwen3-vl or llava-1.5), not 'auto'");
        }
        family_ = *family;
        image_token_ = sglang_image_token(family_);
    }
    const std::vector<std::string> urls = unique_urls(params.servers);
    std::vector<std::string> live;
    std::string last_down;
    std::string name;
    for (const std::string & url : urls) {
        const std::unique_ptr<http_client> client = connect(url);
        try {
            const std::string served =
                pick_model(listed_models(call(*client, "/v1/models", "", retry_, kind()), kind(), url), params.model_path, kind(), url);
            // a server without /tokenize (not vLLM or SGLang) fails here, not mid-search
            const json r = call(*client, "/tokenize", tokenize_body(served, "a", false).dump(), retry_, kind());
            parse_tokens(r, api_, url);
            // the model is compared only among servers that answered every probe (a server that went down between
            // its probes names no model, and live.front() is then the one the name came from)
            if (name.empty()) {
                name = served;
            } else if (served != name) {
                throw error(errc::model, std::string(kind()) + " at " + url + " serves '" + served + "', but " + live.front() +
                                             " serves '" + name + "'; every --server must run the same model (or give --model)");
            }
            n_ctx_ = r.value("max_model_len", 0);
        } catch (const server_down & e) {
            log(log_level::warn, std::string(e.what()) + "; dropped\n");
            last_down = e.what();
            continue;
        }
        live.push_back(url);
    }
    if (live.empty()) {
        throw error(errc::io, urls.size() == 1 ? last_down : "none of the " + std::to_string(urls.size()) + " " + kind() +
                                                                 "s answers (last: " + last_down + ")");
    }
    params_.model_path = name;
    params_.mmproj_path.clear();
    params_.servers = live; // the servers used (the run record's)
}

std::unique_ptr<http_client> exact_vlm_model::connect(const std::string & url) const {
    return std::make_unique<http_client>(url, k_connect_timeout_s, k_request_timeout_s);
}

server_backend::server_pool exact_vlm_model::pool(std::atomic<int64_t> & n_dropped) const {
    return server_backend::model_pool(down_, kind(), n_dropped);
}

std::string exact_vlm_model::description() const {
    std::string urls;
    for (const std::string & u : params_.servers) {
        urls += (urls.empty() ? "" : ", ") + u;
    }
    return "'" + params_.model_path + "' on " + std::to_string(params_.servers.size()) + " " + kind() +
           (params_.servers.size() > 1 ? "s" : "") + " (" + urls + "), exact: prompt log-probabilities";
}

std::string exact_vlm_model::engine_version() const {
    return api_ == exact_api::vllm ? "vLLM /v1/chat/completions prompt_logprobs (from the documentation, not yet run live)"
                                   : "SGLang /generate input logprobs (from the documentation, not yet run live)";
}

int32_t exact_vlm_model::n_vocab() const {
    return std::numeric_limits<int32_t>::max();
}

json exact_vlm_model::query(const std::string & path, const json & body) const {
    std::lock_guard<std::mutex> lock(client_mutex_);
    for (const std::string & url : params_.servers) {
        if (is_down(url)) {
            continue;
        }
        if (!client_ || client_->base_url() != url) {
            client_ = connect(url);
        }
        try {
            return call(*client_, path, body.dump(), retry_, kind());
        } catch (const server_down & e) {
            log(log_level::warn, std::string(e.what()) + "; dropped, the other servers take its work\n");
            down_.mark(url);
        }
    }
    throw error(errc::io, std::string("every ") + kind() + " stopped answering (" + std::to_string(params_.servers.size()) + " given)");
}

std::vector<int32_t> exact_vlm_model::tokenize(const std::string & text, bool add_bos, bool /*parse_special*/) const {
    // Hugging Face tokenizers always read special-token text as the special token
    return parse_tokens(query("/tokenize", tokenize_body(model_name(), text, add_bos)), api_, params_.servers.front());
}

std::string exact_vlm_model::token_piece(int32_t id) const {
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (auto it = pieces_.find(id); it != pieces_.end()) {
            return it->second;
        }
    }
    const std::vector<int32_t> one = {id};
    const std::string piece = parse_detokenized(query("/detokenize", detokenize_body(model_name(), one)), api_, params_.servers.front());
    std::lock_guard<std::mutex> lock(cache_mutex_);
    pieces_[id] = piece;
    return piece;
}

std::string exact_vlm_model::detokenize(std::span<const int32_t> ids) const {
    if (ids.empty()) {
        return "";
    }
    return parse_detokenized(query("/detokenize", detokenize_body(model_name(), ids)), api_, params_.servers.front());
}

int32_t exact_vlm_model::eog_token() const {
    throw error(errc::unsupported, "engine '" + params_.engine + "' cannot score the end of the answer: the prompt ends inside "
                                   "the assistant's turn; explain without it (--no-eog)");
}

std::string exact_vlm_model::format_prompt(const std::string & prompt, bool use_raw_prompt) const {
    if (api_ == exact_api::vllm) {
        if (use_raw_prompt) {
            throw error(errc::unsupported, "engine 'vllm': a raw prompt (--raw-prompt) cannot be sent; the server applies its "
                                           "own chat template");
        }
        return prompt;
    }
    if (use_raw_prompt) {
        return place_image_marker(prompt, image_token_, true);
    }
    return render_for_engine(*this, family_, params_.system_prompt, prompt, image_token_);
}

std::vector<sequence_part> exact_vlm_model::prompt_sequence(const score_request & /*request*/) const {
    return {};
}

std::unique_ptr<vlm_model> load_exact_model(const model_params & params) {
    return std::make_unique<exact_vlm_model>(params);
}

} // namespace eagle::openai_backend
