// Exact engines on vLLM and SGLang: the session (one request per masked image, parallel over the servers;
// generation).
#include "exact-session.h"

#include "session-common.h"

#include "eagle/log.h"
#include "common/base64.h"
#include "common/timing.h"

#include <algorithm>
#include <cmath>

namespace eagle::openai_backend {

using detail::scoped_timer;
using server_backend::call;
using server_backend::http_client;
using server_backend::pool_worker;
using server_backend::run_on_servers;
using server_backend::server_down;

std::unique_ptr<vlm_session> exact_vlm_model::make_session(const session_params & params) const {
    return std::make_unique<exact_vlm_session>(*this, params);
}

exact_vlm_session::exact_vlm_session(const exact_vlm_model & model, const session_params & params)
    : model_(model), params_(params) {}

scorer_stats exact_vlm_session::stats() const {
    scorer_stats s;
    s.n_evaluations = n_evaluations_;
    s.n_backend_calls = n_calls_;
    s.t_prepare_us = t_prepare_us_;
    s.t_score_us = t_score_us_;
    s.t_backend_us = t_call_us_;
    s.engine = {{"n_http_requests", n_calls_}, {"n_servers_dropped", n_dropped_}};
    return s;
}

void exact_vlm_session::prepare(const score_request & request) {
    require_one_image(request.more_images.size() + 1, model_.engine_name().c_str());
    scoped_timer timer(t_prepare_us_);
    is_prepared_ = false;
    const std::string & engine = model_.engine_name();
    if (!request.prompt_ids.empty()) {
        throw error(errc::unsupported, "engine '" + engine + "': a prompt given as token ids cannot be sent; give it as text");
    }
    const resolved_request resolved = resolve_request(request, model_.n_vocab());
    for (size_t t = 0; t < resolved.target_indices.size(); ++t) {
        if (resolved.target_ids[t] != request.answer[size_t(resolved.target_indices[t])]) {
            throw error(errc::unsupported, "engine '" + engine + "' scores the answer's own tokens only (prompt log-probabilities); "
                                           "target " + std::to_string(t) + " asks for another token (--target-text)");
        }
    }
    prompt_ = model_.format_prompt(request.prompt, request.use_raw_prompt);
    answer_ = request.answer;
    answer_text_ = model_.detokenize(answer_);
    if (model_.api() == exact_api::sglang) {
        answer_start_ = int32_t(model_.tokenize(prompt_, true).size());
    }
    image_ = request.image;
    fill_ = make_fill_image(request.image, request.fill);
    fit_ = request.fit;
    fit_size_ = request.fit_size;
    target_indices_ = resolved.target_indices;
    is_prepared_ = true;
}

json exact_vlm_session::timed_call(http_client & client, const std::string & path, const json & body) {
    const int64_t t0 = detail::time_us();
    ++n_calls_;
    json response = call(client, path, body.dump(), model_.retry(), model_.kind());
    t_call_us_ += detail::time_us() - t0;
    return response;
}

std::vector<double> exact_vlm_session::answer_logprobs(http_client & client, const std::string & image_base64) {
    if (model_.api() == exact_api::vllm) {
        const json body = vllm_score_body(model_.model_name(), prompt_, image_base64, answer_text_, model_.system_prompt());
        return vllm_answer_logprobs(timed_call(client, "/v1/chat/completions", body), answer_, client.base_url());
    }
    const json body = sglang_score_body(prompt_, answer_text_, image_base64, answer_start_);
    return sglang_answer_logprobs(timed_call(client, "/generate", body), answer_, client.base_url());
}

void exact_vlm_session::score(std::span<const mask> masks, std::span<float> probs) {
    if (!is_prepared_) {
        throw error(errc::invalid_argument, "score: call prepare() first");
    }
    const size_t n_targets = target_indices_.size();
    const std::vector<std::string> images = masked_images_base64(image_, fill_, fit_, fit_size_, masks, probs.size(), n_targets);
    scoped_timer timer(t_score_us_);
    // one task per mask: its request gives every target; n_seq workers per live server
    const size_t n_per_server = std::min(size_t(std::max(params_.n_seq, 1)), masks.size());
    const server_workers w = make_workers(model_.servers(), n_per_server, [&](const std::string & url) { return model_.is_down(url); },
                                          [&](const std::string & url) { return model_.connect(url); });
    run_on_servers(masks.size(), w.workers, model_.pool(n_dropped_), [&](size_t i_mask, const pool_worker & worker) {
        const std::vector<double> lp = answer_logprobs(*worker.client, images[i_mask]);
        for (size_t t = 0; t < n_targets; ++t) {
            probs[i_mask * n_targets + t] = float(std::exp(lp[size_t(target_indices_[t])]));
        }
    });
    n_evaluations_ += int64_t(masks.size());
}

generation exact_vlm_session::generate(const generate_request & request) {
    require_one_image(request.more_images.size() + 1, model_.engine_name().c_str());
    if (request.image.empty()) {
        throw error(errc::invalid_argument, "generate: the image is empty");
    }
    if (request.max_tokens <= 0) {
        throw error(errc::invalid_argument, "generate: max_tokens must be positive, got " + std::to_string(request.max_tokens));
    }
    if (!request.prompt_ids.empty()) {
        throw error(errc::unsupported, "engine '" + model_.engine_name() + "': a prompt given as token ids cannot be sent; give it as text");
    }
    const std::string prompt = model_.format_prompt(request.prompt, request.use_raw_prompt);
    const std::string image = base64_encode(png_bytes(fit_image(request.image, request.fit, request.fit_size)));
    const bool is_vllm = model_.api() == exact_api::vllm;
    const json body = is_vllm ? vllm_generation_body(model_.model_name(), prompt, image, request.max_tokens, model_.system_prompt())
                              : sglang_generation_body(prompt, image, request.max_tokens);
    for (const std::string & url : model_.servers()) {
        if (model_.is_down(url)) {
            continue;
        }
        const std::unique_ptr<http_client> client = model_.connect(url);
        exact_generation result;
        try {
            const json response = timed_call(*client, is_vllm ? "/v1/chat/completions" : "/generate", body);
            result = is_vllm ? vllm_parse_generation(response, url) : sglang_parse_generation(response, url);
        } catch (const server_down & down) {
            model_.pool(n_dropped_).drop(url, down.what());
            continue;
        }
        // the stop token is left out of the answer (the engine cannot score the end of the answer): SGLang names
        // it; a vLLM stop token is one that writes no text
        if (result.is_stopped && !result.tokens.empty()) {
            const int32_t last = result.tokens.back().first;
            if (last == result.stop_token || (result.stop_token < 0 && model_.token_piece(last).empty())) {
                result.tokens.pop_back();
            }
        }
        generation out;
        std::vector<int32_t> ids;
        for (const auto & [id, logprob] : result.tokens) {
            out.tokens.push_back({id, model_.token_piece(id), float(std::exp(logprob)), false});
            ids.push_back(id);
        }
        out.text = model_.detokenize(ids);
        out.is_cut = !result.is_stopped;
        return out;
    }
    throw error(errc::io, std::string("every ") + model_.kind() + " stopped answering");
}

} // namespace eagle::openai_backend
