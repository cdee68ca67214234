// !!! Internal header, to be used by the openai engine (src/backends/openai) only !!!
// The OpenAI chat-completions API as the approximate engine uses it: request bodies and response parsing, pure
// functions of JSON (unit-tested without a server).
//
// How a masked image is scored (the EAGLE authors' scheme for closed models, tutorial/API_interpretation.ipynb):
// one call per target position. The user turn holds the masked image (a PNG data URI, image first, as eagle's
// chat-template engines put it) and the prompt; the answer up to the target is the assistant's partial message,
// which the server continues (llama-server and vLLM prefill a trailing assistant message); `max_tokens: 1`,
// `temperature: 0`, `logprobs: true`, `top_logprobs: k` (k <= 20, OpenAI's limit). The target's probability
// is exp(logprob) of the candidate whose text equals the target token's, 0 when it is not among the k. Unlike
// the notebook, a candidate equal to the target without its leading space does not count: it is another token
// (" yellow" and "yellow" both exist in the default model), and counting it would score the wrong one.
// Tokens are known by their text only (servers may use any tokenizer): the engine numbers the texts it meets.
#pragma once

#include "server/server-api.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace eagle::openai_backend {

using json = server_backend::json;

constexpr int32_t k_max_top_logprobs = 20; // OpenAI's limit on top_logprobs

// A text split the way word-level BPE vocabularies cut it, for answers given as text (the model's own answers
// come as the server's tokens): each piece is a word (letters, digits, and any bytes >= 0x80) or one other
// character, with the spaces before it. "a yellow triangle , a" -> "a", " yellow", " triangle", " ,", " a".
std::vector<std::string> split_words(const std::string & text);

// The chat messages for an image and a prompt: a system turn when system is not empty, one user turn
// [image_url, text], then, when assistant_prefix is not empty, the assistant's partial answer to continue.
json chat_messages(const std::string & prompt, const std::string & image_png_base64, const std::string & assistant_prefix,
                   const std::string & system = "");

// The ids a server lists in GET /v1/models; throws errc::backend naming kind and url when the answer is not a
// model list or lists none.
std::vector<std::string> listed_models(const json & models, const std::string & kind, const std::string & url);

// The model of a server's list to use: wanted (--model) when given, else the first listed; throws errc::model
// when wanted is not listed.
std::string pick_model(const std::vector<std::string> & listed, const std::string & wanted, const std::string & kind,
                       const std::string & url);

// The body asking for the next token's top_k log-probabilities after the messages (model may be empty: the
// server's only model).
json next_token_body(const std::string & model, const json & messages, int32_t top_k);

// The body of greedy generation with each token's log-probability.
json generation_body(const std::string & model, const json & messages, int32_t max_tokens);

struct chat_token {
    std::string text;
    double logprob = 0.0;
    std::vector<std::pair<std::string, double>> top; // top_logprobs: (text, logprob), most probable first
};

struct chat_result {
    std::string content;
    std::string finish_reason; // "stop", "length", ...
    std::vector<chat_token> tokens;
};

// Reads choices[0] of a chat-completions response. Throws errc::unsupported when the server returned no
// log-probabilities although asked (it lacks the feature), errc::backend naming what else is missing.
chat_result parse_chat(const json & response, const std::string & url);

// The probability of the candidate whose text is piece among the first token's top log-probabilities: exp(logprob),
// or 0 when it is not among them (also when the server generated nothing: it ended the answer there).
double top_k_probability(const chat_result & result, const std::string & piece);

} // namespace eagle::openai_backend
