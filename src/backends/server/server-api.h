// !!! Internal header, to be used by the server engine (src/backends/server) only !!!
// llama-server's HTTP API as eagle uses it: what a server says about itself, the forced-answer completion
// request, and its response. Pure functions of JSON (unit-tested without a server), plus `call`, which sends
// one request with retries.
//
// How a masked image is scored on llama-server (its /completion returns no prompt log-probabilities):
//   the masked image goes as `multimodal_data` (base64 PNG) with the formatted prompt, whose media marker comes
//   from /props; a GBNF grammar of token ids (<[id]> <[id]> ...) forces the answer token by token; with
//   `temperature: 0` and `n_probs: 1`, completion_probabilities[i] holds the probability the model gave the
//   forced token before sampling (the grammar only restricts what is sampled), i.e. the teacher-forced
//   p(answer[i] | image, prompt, answer[<i]). End-of-generation tokens cannot be grammar terminals (llama.cpp's
//   grammar never consumes them): an answer ending with one forces the rest and lets the finished grammar
//   allow end-of-generation tokens only; the sampled one is checked against ours.
#pragma once

#include "http-client.h"

#include "eagle/error.h"

#include "common/base64.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace eagle::server_backend {

using json = nlohmann::ordered_json;

// What one server says about itself (GET /props and GET /v1/models).
struct server_info {
    std::string url;
    std::string model_id;      // /v1/models data[0].id (llama-server: the model's path, or its --alias)
    std::string model_path;    // /props model_path
    std::string build;         // /props build_info, e.g. "b11669-Debian"
    std::string media_marker;  // /props media_marker: where the image goes in a prompt
    std::string chat_template; // /props chat_template (empty: none)
    int32_t n_slots     = 1;   // /props total_slots: requests it decodes in parallel
    int32_t n_ctx_slot  = 0;   // context per slot
    int32_t n_vocab     = 0;   // /v1/models meta
    int32_t n_ctx_train = 0;
    int64_t n_params    = 0;
    int64_t size        = 0;   // bytes of weights
};

// Checks and reads /props and /v1/models. Throws errc::unsupported for a server without a vision projector
// (or one too old to say where the image goes), errc::backend for answers that are not llama-server's.
server_info parse_server_info(const std::string & url, const json & props, const json & models);

// The file name of a model path ("/m/x.gguf" -> "x.gguf"), how servers and --model are compared.
std::string model_file_name(const std::string & path);

// Servers of one run must serve the same model: throws errc::model naming both when b differs from a.
void check_same_model(const server_info & a, const server_info & b);

// GBNF for exactly these tokens, e.g. root ::= <[264]> <[383]>
std::string token_grammar(std::span<const int32_t> ids);

// The /completion body scoring one masked image: forced tokens (no end-of-generation token among them),
// n_predict tokens generated (forced.size(), +1 when an end-of-generation token follows the forced ones).
json forced_completion_body(const std::string & prompt_text, const std::string & image_base64,
                            std::span<const int32_t> forced, int32_t n_predict);

// The /completion body of greedy generation.
json generation_body(const std::string & prompt_text, const std::string & image_base64, int32_t max_tokens);

struct token_logprob {
    int32_t id = 0;
    double logprob = 0.0;                          // natural log of the pre-sampling probability
    std::vector<std::pair<int32_t, double>> top;   // top_logprobs: (id, logprob), most probable first
};

struct completion_result {
    std::string content;
    std::string stop_type;                         // "eos", "limit", "word", ...
    std::vector<token_logprob> tokens;             // completion_probabilities, one per generated token
};

// Reads a /completion response; throws errc::backend naming what is missing.
completion_result parse_completion(const json & response);

// The message of an error response ({"error": {"message": ...}}), else the body's start.
std::string error_message(const http_response & response);

// A server that stopped answering (no HTTP answer after every retry): the pool drops it. kind names the server
// in the message ("llama-server", "OpenAI-compatible server", ...).
class server_down : public error {
public:
    server_down(const std::string & url, const std::string & what, const std::string & kind = "llama-server")
        : error(errc::io, kind + " at " + url + " does not answer (" + what + "); is it running?"), url_(url) {}
    const std::string & url() const { return url_; }

private:
    std::string url_;
};

struct retry_policy {
    int32_t max_tries = 4;         // 1 + retries
    double first_backoff_s = 0.25; // doubles after each failed try
};

// One request with retries: no answer (refused, reset, timeout) and 503 (loading, busy) are retried with
// backoff; after the last try no answer throws server_down, a 503 errc::backend. Other error statuses throw
// errc::backend with the server's message (they would fail again). body empty: GET, else POST. kind names the
// server in the messages.
json call(http_client & client, const std::string & path, const std::string & body, const retry_policy & policy,
          const std::string & kind = "llama-server");

using eagle::base64_encode; // common/base64.h

} // namespace eagle::server_backend
