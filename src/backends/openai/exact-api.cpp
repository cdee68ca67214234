// Exact scoring on vLLM and SGLang from their documentation (scheme and status in exact-api.h).
#include "exact-api.h"

namespace eagle::openai_backend {

namespace {

[[noreturn]] void answer_mismatch(const std::string & server, const std::string & url, size_t i, int32_t want,
                                  const std::string & got) {
    throw error(errc::backend, server + " at " + url + ": the prompt's answer token " + std::to_string(i) + " is " + got +
                                   ", not " + std::to_string(want) + " (the server tokenizes the answer otherwise)");
}

} // namespace

json vllm_score_body(const std::string & model, const std::string & prompt, const std::string & image_png_base64,
                     const std::string & answer_text) {
    json messages = chat_messages(prompt, image_png_base64, "");
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
    const std::string server = "vLLM server";
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
    const std::string server = "SGLang server";
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

} // namespace eagle::openai_backend
