// Exact scoring on vLLM and SGLang from their documentation (scheme and status in exact-api.h).
#include "exact-api.h"

namespace eagle::openai_backend {

const char * const k_vllm_kind = "vLLM server";
const char * const k_sglang_kind = "SGLang server";

const char * server_kind(exact_api api) {
    return api == exact_api::vllm ? k_vllm_kind : k_sglang_kind;
}

namespace {

[[noreturn]] void answer_mismatch(const std::string & server, const std::string & url, size_t i, int32_t want,
                                  const std::string & got) {
    throw error(errc::backend, server + " at " + url + ": the prompt's answer token " + std::to_string(i) + " is " + got +
                                   ", not " + std::to_string(want) + " (the server tokenizes the answer otherwise)");
}

} // namespace

json vllm_score_body(const std::string & model, const std::string & prompt, const std::string & image_png_base64,
                     const std::string & answer_text, const std::string & system) {
    json messages = chat_messages(prompt, image_png_base64, "", system);
    messages.push_back({{"role", "assistant"}, {"content", answer_text}});
    json body = {{"messages", std::move(messages)},
                 {"continue_final_message", true},
                 {"add_generation_prompt", false},
                 {"prompt_logprobs", 0},
                 {"max_tokens", 1},
                 {"temperature", 0.0}};
    if (!model.empty()) {
        body["model"] = model;
    }
    return body;
}

std::vector<double> vllm_answer_logprobs(const json & response, std::span<const int32_t> answer, const std::string & url) {
    const std::string server = k_vllm_kind;
    if (!response.is_object() || !response.contains("prompt_logprobs") || !response["prompt_logprobs"].is_array()) {
        throw error(errc::unsupported, server + " at " + url + " returned no prompt_logprobs although asked; "
                                                               "eagle needs a vLLM with prompt_logprobs on chat completions");
    }
    const json & all = response["prompt_logprobs"];
    if (all.size() <= answer.size()) {
        throw error(errc::backend, server + " at " + url + ": prompt_logprobs has " + std::to_string(all.size()) +
                                       " entries, fewer than the prompt and the " + std::to_string(answer.size()) + " answer tokens");
    }
    std::vector<double> out;
    const size_t first = all.size() - answer.size();
    try {
        for (size_t i = 0; i < answer.size(); ++i) {
            const json & entry = all[first + i];
            const std::string id = std::to_string(answer[i]);
            if (!entry.is_object() || !entry.contains(id)) {
                std::string got = entry.is_object() && !entry.empty() ? "one of " + entry.dump().substr(0, 80) : "missing";
                answer_mismatch(server, url, i, answer[i], got);
            }
            out.push_back(entry[id].at("logprob").get<double>());
        }
    } catch (const json::exception & e) {
        throw error(errc::backend, server + " at " + url + ": unexpected prompt_logprobs (" + e.what() + ")");
    }
    return out;
}

json sglang_score_body(const std::string & prompt_text, const std::string & answer_text, const std::string & image_png_base64,
                       int32_t answer_start) {
    return {{"text", prompt_text + answer_text},
            {"image_data", "data:image/png;base64," + image_png_base64},
            {"sampling_params", {{"max_new_tokens", 1}, {"temperature", 0.0}}},
            {"return_logprob", true},
            {"logprob_start_len", answer_start},
            {"return_text_in_logprobs", true}};
}

std::vector<double> sglang_answer_logprobs(const json & response, std::span<const int32_t> answer, const std::string & url) {
    const std::string server = k_sglang_kind;
    const json meta = response.is_object() ? response.value("meta_info", json()) : json();
    if (!meta.is_object() || !meta.contains("input_token_logprobs") || !meta["input_token_logprobs"].is_array()) {
        throw error(errc::unsupported, server + " at " + url + " returned no meta_info.input_token_logprobs although "
                                                               "asked with return_logprob");
    }
    const json & all = meta["input_token_logprobs"];
    if (all.size() < answer.size()) {
        throw error(errc::backend, server + " at " + url + ": input_token_logprobs has " + std::to_string(all.size()) +
                                       " entries for " + std::to_string(answer.size()) + " answer tokens");
    }
    std::vector<double> out;
    const size_t first = all.size() - answer.size();
    try {
        for (size_t i = 0; i < answer.size(); ++i) {
            const json & entry = all[first + i]; // [logprob, token id, text]
            const int32_t id = entry.at(1).get<int32_t>();
            if (id != answer[i]) {
                answer_mismatch(server, url, i, answer[i], std::to_string(id));
            }
            if (entry.at(0).is_null()) {
                throw error(errc::backend, server + " at " + url + ": answer token " + std::to_string(i) +
                                               " has no log-probability (the answer starts the prompt?)");
            }
            out.push_back(entry.at(0).get<double>());
        }
    } catch (const json::exception & e) {
        throw error(errc::backend, server + " at " + url + ": unexpected input_token_logprobs (" + e.what() + ")");
    }
    return out;
}

json tokenize_body(const std::string & model, const std::string & text, bool add_special) {
    json body = {{"prompt", text}, {"add_special_tokens", add_special}};
    if (!model.empty()) {
        body["model"] = model;
    }
    return body;
}

std::vector<int32_t> parse_tokens(const json & response, exact_api api, const std::string & url) {
    if (!response.is_object() || !response.contains("tokens") || !response["tokens"].is_array()) {
        throw error(errc::backend, std::string(server_kind(api)) + " at " + url + ": /tokenize answered without \"tokens\"");
    }
    std::vector<int32_t> ids;
    for (const json & t : response["tokens"]) {
        if (!t.is_number_integer()) {
            throw error(errc::backend, std::string(server_kind(api)) + " at " + url + ": /tokenize gave a token that is not an id (" +
                                           t.dump().substr(0, 40) + ")");
        }
        ids.push_back(t.get<int32_t>());
    }
    return ids;
}

json detokenize_body(const std::string & model, std::span<const int32_t> ids) {
    json body = {{"tokens", std::vector<int32_t>(ids.begin(), ids.end())}};
    if (!model.empty()) {
        body["model"] = model;
    }
    return body;
}

std::string parse_detokenized(const json & response, exact_api api, const std::string & url) {
    const char * field = api == exact_api::vllm ? "prompt" : "text";
    if (!response.is_object() || !response.contains(field) || !response[field].is_string()) {
        throw error(errc::backend, std::string(server_kind(api)) + " at " + url + ": /detokenize answered without \"" + field + "\"");
    }
    return response[field].get<std::string>();
}

json vllm_generation_body(const std::string & model, const std::string & prompt, const std::string & image_png_base64,
                          int32_t max_tokens, const std::string & system) {
    json body = {{"messages", chat_messages(prompt, image_png_base64, "", system)},
                 {"max_tokens", max_tokens},
                 {"temperature", 0.0},
                 {"logprobs", true},
                 {"return_tokens_as_token_ids", true}};
    if (!model.empty()) {
        body["model"] = model;
    }
    return body;
}

exact_generation vllm_parse_generation(const json & response, const std::string & url) {
    const chat_result chat = parse_chat(response, url);
    exact_generation out;
    out.is_stopped = chat.finish_reason == "stop";
    const std::string prefix = "token_id:";
    for (const chat_token & t : chat.tokens) {
        if (t.text.rfind(prefix, 0) != 0) {
            throw error(errc::unsupported, std::string(k_vllm_kind) + " at " + url + " wrote the token '" + t.text +
                                               "' as text, not as token_id:<id> although asked (return_tokens_as_token_ids)");
        }
        try {
            out.tokens.emplace_back(std::stoi(t.text.substr(prefix.size())), t.logprob);
        } catch (const std::exception &) {
            throw error(errc::backend, std::string(k_vllm_kind) + " at " + url + ": bad token id in '" + t.text + "'");
        }
    }
    return out;
}

json sglang_generation_body(const std::string & prompt_text, const std::string & image_png_base64, int32_t max_tokens) {
    return {{"text", prompt_text},
            {"image_data", "data:image/png;base64," + image_png_base64},
            {"sampling_params", {{"max_new_tokens", max_tokens}, {"temperature", 0.0}}},
            {"return_logprob", true}};
}

exact_generation sglang_parse_generation(const json & response, const std::string & url) {
    const std::string where = std::string(k_sglang_kind) + " at " + url;
    const json meta = response.is_object() ? response.value("meta_info", json()) : json();
    if (!meta.is_object() || !meta.contains("output_token_logprobs") || !meta["output_token_logprobs"].is_array()) {
        throw error(errc::unsupported, where + " returned no meta_info.output_token_logprobs although asked with return_logprob");
    }
    exact_generation out;
    try {
        for (const json & entry : meta["output_token_logprobs"]) { // [logprob, token id, text]
            out.tokens.emplace_back(entry.at(1).get<int32_t>(), entry.at(0).get<double>());
        }
        const json finish = meta.value("finish_reason", json());
        out.is_stopped = finish.is_object() && finish.value("type", std::string()) == "stop";
        if (out.is_stopped && finish.contains("matched") && finish["matched"].is_number_integer()) {
            out.stop_token = finish["matched"].get<int32_t>();
        }
    } catch (const json::exception & e) {
        throw error(errc::backend, where + ": unexpected output_token_logprobs (" + e.what() + ")");
    }
    return out;
}

} // namespace eagle::openai_backend
