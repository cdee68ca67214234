// llama-server's API as eagle uses it (the scheme is in server-api.h).
#include "server-api.h"

#include <chrono>
#include <thread>

namespace eagle::server_backend {

namespace {

const json & member(const json & j, const char * key, const char * what) {
    if (!j.is_object() || !j.contains(key)) {
        throw error(errc::backend, std::string(what) + " has no \"" + key + "\"");
    }
    return j.at(key);
}

} // namespace

server_info parse_server_info(const std::string & url, const json & props, const json & models) {
    server_info info;
    info.url = url;
    const std::string where = "llama-server at " + url;
    try {
        if (!props.is_object() || !props.contains("default_generation_settings")) {
            throw error(errc::backend, where + ": /props is not llama-server's (no default_generation_settings)");
        }
        info.model_path = props.value("model_path", std::string());
        info.build = props.value("build_info", std::string());
        info.chat_template = props.value("chat_template", std::string());
        info.n_slots = props.value("total_slots", 1);
        info.n_ctx_slot = props["default_generation_settings"].value("n_ctx", 0);
        const json modalities = props.value("modalities", json::object());
        if (!modalities.value("vision", false)) {
            throw error(errc::unsupported, where + " serves '" + model_file_name(info.model_path) +
                                               "' without a vision projector; start it with --mmproj");
        }
        info.media_marker = props.value("media_marker", std::string());
        if (info.media_marker.empty()) {
            throw error(errc::unsupported, where + " (" + info.build + ") does not say where the image goes in a prompt "
                                               "(/props has no media_marker); eagle needs llama-server 0.7.0 or newer");
        }
        const json & data = member(models, "data", "/v1/models");
        if (!data.is_array() || data.empty()) {
            throw error(errc::backend, where + ": /v1/models lists no model");
        }
        info.model_id = data[0].value("id", std::string());
        const json meta = data[0].value("meta", json::object());
        info.n_vocab = meta.value("n_vocab", 0);
        info.n_ctx_train = meta.value("n_ctx_train", 0);
        info.n_params = meta.value("n_params", int64_t(0));
        info.size = meta.value("size", int64_t(0));
        if (info.n_vocab <= 0) {
            throw error(errc::backend, where + ": /v1/models gives no vocabulary size (meta.n_vocab)");
        }
        if (info.n_slots < 1) {
            info.n_slots = 1;
        }
    } catch (const json::exception & e) {
        throw error(errc::backend, where + ": unexpected /props or /v1/models (" + e.what() + ")");
    }
    return info;
}

std::string model_file_name(const std::string & path) {
    const size_t slash = path.find_last_of("/\\");
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

void check_same_model(const server_info & a, const server_info & b) {
    if (model_file_name(a.model_path) != model_file_name(b.model_path) || a.n_vocab != b.n_vocab ||
        a.n_params != b.n_params || a.size != b.size) {
        throw error(errc::model, "llama-server at " + b.url + " serves '" + model_file_name(b.model_path) + "' (" +
                                     std::to_string(b.n_params) + " parameters), but " + a.url + " serves '" +
                                     model_file_name(a.model_path) + "' (" + std::to_string(a.n_params) +
                                     " parameters); every --server must run the same model");
    }
}

std::string token_grammar(std::span<const int32_t> ids) {
    std::string g = "root ::=";
    for (int32_t id : ids) {
        g += " <[" + std::to_string(id) + "]>";
    }
    if (ids.empty()) {
        g += " \"\""; // nothing forced: the empty string, then only end-of-generation tokens
    }
    return g;
}

json forced_completion_body(const std::string & prompt_text, const std::string & image_base64,
                            std::span<const int32_t> forced, int32_t n_predict) {
    return {{"prompt", {{"prompt_string", prompt_text}, {"multimodal_data", json::array({image_base64})}}},
            {"grammar", token_grammar(forced)},
            {"temperature", 0.0},
            {"n_predict", n_predict},
            {"n_probs", 1},
            {"post_sampling_probs", false}, // the model's probabilities, not the grammar-restricted ones
            {"cache_prompt", true}}; // temperature 0: greedy over what the grammar allows
}

json generation_body(const std::string & prompt_text, const std::string & image_base64, int32_t max_tokens) {
    return {{"prompt", {{"prompt_string", prompt_text}, {"multimodal_data", json::array({image_base64})}}},
            {"temperature", 0.0},
            {"n_predict", max_tokens},
            {"n_probs", 1},
            {"post_sampling_probs", false},
            {"cache_prompt", true}};
}

completion_result parse_completion(const json & response) {
    completion_result out;
    try {
        out.content = response.value("content", std::string());
        out.stop_type = response.value("stop_type", std::string());
        const json & probs = member(response, "completion_probabilities", "the /completion response");
        for (const json & p : probs) {
            token_logprob t;
            t.id = p.at("id").get<int32_t>();
            t.logprob = p.at("logprob").get<double>();
            for (const json & q : p.value("top_logprobs", json::array())) {
                t.top.emplace_back(q.at("id").get<int32_t>(), q.at("logprob").get<double>());
            }
            out.tokens.push_back(std::move(t));
        }
    } catch (const json::exception & e) {
        throw error(errc::backend, std::string("unexpected /completion response (") + e.what() + ")");
    }
    return out;
}

std::string error_message(const http_response & response) {
    try {
        const json j = json::parse(response.body);
        if (j.contains("error")) {
            const json & e = j["error"];
            return e.is_object() ? e.value("message", e.dump()) : e.dump();
        }
    } catch (const json::exception &) {
    }
    return response.body.substr(0, 200);
}

json call(http_client & client, const std::string & path, const std::string & body, const retry_policy & policy,
          const std::string & kind) {
    double backoff = policy.first_backoff_s;
    std::string last;
    for (int32_t attempt = 1;; ++attempt) {
        const bool is_last = attempt >= policy.max_tries;
        try {
            const http_response r = body.empty() ? client.get(path) : client.post_json(path, body);
            if (r.status == 200) {
                try {
                    return json::parse(r.body);
                } catch (const json::exception & e) {
                    throw error(errc::backend, kind + " at " + client.base_url() + path + " answered no JSON (" +
                                                   e.what() + ")");
                }
            }
            const std::string message = "HTTP " + std::to_string(r.status) + ": " + error_message(r);
            if (r.status != 503 || is_last) {
                throw error(errc::backend, kind + " at " + client.base_url() + path + " failed (" + message + ")");
            }
            last = message; // loading the model, or no free slot: wait
        } catch (const transport_error & e) {
            if (is_last) {
                throw server_down(client.base_url(), e.what, kind);
            }
            last = e.what;
        }
        std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
        backoff *= 2;
    }
}

} // namespace eagle::server_backend
