// !!! Internal header, to be used by the openai engine folder (src/backends/openai) only !!!
// Exact scoring on servers that return prompt log-probabilities, implemented from their documentation and not
// yet run against a live server (vLLM and SGLang cannot run here; tests/test-openai.cpp checks these functions
// against examples written from the documented formats, tests/test-exact.cpp the engines built on them against
// mock servers of those formats).
//
// vLLM (docs.vllm.ai, "OpenAI-Compatible Server", chat extra parameters; vllm/logprobs.py PromptLogprobs): one
//   /v1/chat/completions request per masked image, the answer as the final assistant turn continued
//   (`continue_final_message: true`, `add_generation_prompt: false`, so the prompt ends with the answer's tokens),
//   `prompt_logprobs: 0` (the prompt tokens' own log-probabilities), `max_tokens: 1`. The response's top-level
//   `prompt_logprobs` is a list with one entry per prompt token: null for the first, then
//   {"<token id>": {"logprob", "rank", "decoded_token"}} holding the prompt token and the top ones.
// SGLang (docs.sglang.ai, "Sampling Parameters", /generate): the formatted prompt with the answer appended as
//   `text`, the image as `image_data`, `return_logprob: true`, `logprob_start_len` = where the answer starts,
//   `max_new_tokens: 1`. The response's meta_info.input_token_logprobs lists [logprob, token id, text] from
//   logprob_start_len on (logprob null for the very first prompt token).
// Both read the answer's log-probabilities from the end of the prompt and check their token ids against the
// answer's: a server that tokenizes the answer otherwise is an error, not a silent shift.
// Tokens: both servers' POST /tokenize {"prompt", "add_special_tokens"} -> {"tokens": [ids], "count",
//   "max_model_len"} and POST /detokenize {"tokens"} -> vLLM {"prompt": text}, SGLang {"text": text}.
// Generation (the answer when the user gives none), greedy with each token's id and log-probability:
//   vLLM: /v1/chat/completions with `logprobs: true` and `return_tokens_as_token_ids: true` (each token is
//   written "token_id:<id>"); SGLang: /generate with `return_logprob: true`, meta_info.output_token_logprobs
//   [[logprob, id, text]] and meta_info.finish_reason {"type": "stop" | "length", "matched": <stop token id>}.
#pragma once

#include "openai-api.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace eagle::openai_backend {

enum class exact_api { vllm, sglang };

extern const char * const k_vllm_kind;   // "vLLM server", how messages name these servers
extern const char * const k_sglang_kind; // "SGLang server"
const char * server_kind(exact_api api);

json vllm_score_body(const std::string & model, const std::string & prompt, const std::string & image_png_base64,
                     const std::string & answer_text, const std::string & system = "");

// The log-probabilities of the answer's tokens, the last answer.size() entries of prompt_logprobs. Throws
// errc::unsupported when the response has no prompt_logprobs (the server lacks them), errc::backend when the
// prompt does not end with the answer's token ids.
std::vector<double> vllm_answer_logprobs(const json & response, std::span<const int32_t> answer, const std::string & url);

json sglang_score_body(const std::string & prompt_text, const std::string & answer_text, const std::string & image_png_base64,
                       int32_t answer_start);

// The log-probabilities of the answer's tokens, the last answer.size() entries of meta_info.input_token_logprobs.
// Throws like vllm_answer_logprobs.
std::vector<double> sglang_answer_logprobs(const json & response, std::span<const int32_t> answer, const std::string & url);

json tokenize_body(const std::string & model, const std::string & text, bool add_special);
// The ids of a /tokenize answer; throws errc::backend when it has none.
std::vector<int32_t> parse_tokens(const json & response, exact_api api, const std::string & url);
json detokenize_body(const std::string & model, std::span<const int32_t> ids);
// The text of a /detokenize answer (vLLM "prompt", SGLang "text"); throws errc::backend when it has none.
std::string parse_detokenized(const json & response, exact_api api, const std::string & url);

struct exact_generation {
    std::vector<std::pair<int32_t, double>> tokens; // (id, logprob) of every generated token
    bool is_stopped = false;                        // ended by a stop token (else cut at max_tokens)
    int32_t stop_token = -1;                        // SGLang: the stop token matched, when the server names it
};

json vllm_generation_body(const std::string & model, const std::string & prompt, const std::string & image_png_base64,
                          int32_t max_tokens, const std::string & system = "");
// Throws errc::unsupported when the tokens are not written as ids (a vLLM without return_tokens_as_token_ids),
// errc::backend naming what else is missing.
exact_generation vllm_parse_generation(const json & response, const std::string & url);

json sglang_generation_body(const std::string & prompt_text, const std::string & image_png_base64, int32_t max_tokens);
exact_generation sglang_parse_generation(const json & response, const std::string & url);

} // namespace eagle::openai_backend
