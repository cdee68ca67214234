// The OpenAI chat-completions API as the approximate engine uses it (the scheme is in openai-api.h).
#include "openai-api.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace eagle::openai_backend {

std::vector<std::string> split_words(const std::string & text) {
    auto is_word = [](unsigned char c) { return std::isalnum(c) || c >= 0x80; };
    std::vector<std::string> pieces;
    size_t i = 0;
    while (i < text.size()) {
        const size_t start = i;
        while (i < text.size() && text[i] == ' ') {
            ++i;
        }
        if (i == text.size()) {
            pieces.push_back(text.substr(start)); // trailing spaces
            break;
        }
        if (is_word(static_cast<unsigned char>(text[i]))) {
            while (i < text.size() && is_word(static_cast<unsigned char>(text[i]))) {
                ++i;
            }
        } else {
            ++i;
        }
        pieces.push_back(text.substr(start, i - start));
    }
    return pieces;
}

json chat_messages(const std::string & prompt, const std::string & image_png_base64, const std::string & assistant_prefix,
                   const std::string & system) {
    json user_content = json::array({{{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64," + image_png_base64}}}},
                                     {{"type", "text"}, {"text", prompt}}});
    json messages = json::array();
    if (!system.empty()) {
        messages.push_back({{"role", "system"}, {"content", system}});
    }
    messages.push_back({{"role", "user"}, {"content", std::move(user_content)}});
    if (!assistant_prefix.empty()) {
        messages.push_back({{"role", "assistant"}, {"content", assistant_prefix}});
    }
    return messages;
}

std::vector<std::string> listed_models(const json & models, const std::string & kind, const std::string & url) {
    std::vector<std::string> ids;
    if (!models.is_object() || !models.contains("data") || !models["data"].is_array()) {
        throw error(errc::backend, kind + " at " + url + ": /v1/models is not a model list (no \"data\")");
    }
    for (const json & m : models["data"]) {
        if (m.is_object() && m.contains("id") && m["id"].is_string()) {
            ids.push_back(m["id"].get<std::string>());
        }
    }
    if (ids.empty()) {
        throw error(errc::backend, kind + " at " + url + ": /v1/models lists no model");
    }
    return ids;
}

std::string pick_model(const std::vector<std::string> & listed, const std::string & wanted, const std::string & kind,
                       const std::string & url) {
    const std::string name = wanted.empty() ? listed.front() : wanted;
    if (std::find(listed.begin(), listed.end(), name) == listed.end()) {
        throw error(errc::model, kind + " at " + url + " does not list the model '" + name + "' (it lists '" + listed.front() +
                                     "'" + (listed.size() > 1 ? ", ..." : "") + ")");
    }
    return name;
}

namespace {

json with_model(const std::string & model, json body) {
    if (!model.empty()) {
        body["model"] = model;
    }
    return body;
}

} // namespace

json next_token_body(const std::string & model, const json & messages, int32_t top_k) {
    return with_model(model, {{"messages", messages},
                              {"max_tokens", 1},
                              {"temperature", 0.0},
                              {"logprobs", true},
                              {"top_logprobs", top_k}});
}

json generation_body(const std::string & model, const json & messages, int32_t max_tokens) {
    return with_model(model, {{"messages", messages},
                              {"max_tokens", max_tokens},
                              {"temperature", 0.0},
                              {"logprobs", true},
                              {"top_logprobs", 1}});
}

chat_result parse_chat(const json & response, const std::string & url) {
    const std::string where = "the OpenAI-compatible server at " + url;
    chat_result out;
    try {
        if (!response.is_object() || !response.contains("choices") || !response["choices"].is_array() ||
            response["choices"].empty()) {
            throw error(errc::backend, where + " answered a chat completion without choices");
        }
        const json & choice = response["choices"][0];
        if (choice.contains("message") && choice["message"].is_object()) {
            const json & content = choice["message"].value("content", json());
            out.content = content.is_string() ? content.get<std::string>() : std::string();
        }
        out.finish_reason = choice.value("finish_reason", json()).is_string() ? choice["finish_reason"].get<std::string>() : "";
        const json logprobs = choice.value("logprobs", json());
        if (!logprobs.is_object() || !logprobs.contains("content") || !logprobs["content"].is_array()) {
            // an empty answer has nothing to report: content may then be null or []
            if (out.content.empty() && logprobs.is_object()) {
                return out;
            }
            throw error(errc::unsupported, where + " returned no log-probabilities (choices[0].logprobs.content) although "
                                                   "asked with logprobs: true; the openai engine needs a server that returns them");
        }
        for (const json & t : logprobs["content"]) {
            chat_token tok;
            tok.text = t.at("token").get<std::string>();
            tok.logprob = t.at("logprob").get<double>();
            for (const json & c : t.value("top_logprobs", json::array())) {
                tok.top.emplace_back(c.at("token").get<std::string>(), c.at("logprob").get<double>());
            }
            out.tokens.push_back(std::move(tok));
        }
    } catch (const json::exception & e) {
        throw error(errc::backend, where + ": unexpected chat completion (" + e.what() + ")");
    }
    return out;
}

double top_k_probability(const chat_result & result, const std::string & piece) {
    if (result.tokens.empty()) {
        return 0.0;
    }
    for (const auto & [text, logprob] : result.tokens.front().top) {
        if (text == piece) {
            return std::exp(logprob);
        }
    }
    return 0.0;
}

} // namespace eagle::openai_backend
