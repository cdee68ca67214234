// openai engine: the session (one call per masked image and target, parallel over the servers; generation).
#include "openai-session.h"

#include "session-common.h"

#include "eagle/log.h"
#include "common/base64.h"
#include "common/timing.h"

#include <cmath>
#include <algorithm>

namespace eagle::openai_backend {

using detail::scoped_timer;
using server_backend::call;
using server_backend::http_client;
using server_backend::run_on_servers;
using server_backend::server_down;

std::unique_ptr<vlm_session> openai_vlm_model::make_session(const session_params & params) const {
    return std::make_unique<openai_vlm_session>(*this, params);
}

openai_vlm_session::openai_vlm_session(const openai_vlm_model & model, const session_params & params)
    : model_(model), params_(params) {}

openai_vlm_session::~openai_vlm_session() = default;

scorer_stats openai_vlm_session::stats() const {
    scorer_stats s;
    s.n_evaluations = n_evaluations_;
    s.n_backend_calls = n_calls_;
    s.t_prepare_us = t_prepare_us_;
    s.t_score_us = t_score_us_;
    s.t_backend_us = t_call_us_;
    s.engine = {{"n_http_requests", n_calls_},
                {"n_outside_top_k", n_outside_top_k_},
                {"top_logprobs", model_.top_k()},
                {"n_servers_dropped", n_dropped_}};
    return s;
}

void openai_vlm_session::prepare(const score_request & request) {
    require_one_image(request.more_images.size() + 1, "openai");
    scoped_timer timer(t_prepare_us_);
    is_prepared_ = false;
    if (!request.prompt_ids.empty()) {
        throw error(errc::unsupported, "engine 'openai': a prompt given as token ids cannot be sent; give it as text");
    }
    const resolved_request resolved = resolve_request(request, model_.n_vocab());
    std::vector<target> targets;
    for (size_t t = 0; t < resolved.target_indices.size(); ++t) {
        const int32_t id = resolved.target_ids[t];
        if (model_.is_eog(id)) {
            throw error(errc::unsupported, "engine 'openai' cannot score the end of the answer (target " + std::to_string(t) +
                                               "): OpenAI-compatible servers give no probability for it; explain without it "
                                               "(--no-eog)");
        }
        const auto pos = size_t(resolved.target_indices[t]);
        targets.push_back({model_.detokenize(std::span<const int32_t>(request.answer.data(), pos)), model_.token_piece(id)});
    }
    prompt_ = model_.format_prompt(request.prompt, request.use_raw_prompt);
    image_ = request.image;
    fill_ = make_fill_image(request.image, request.fill);
    fit_ = request.fit;
    fit_size_ = request.fit_size;
    targets_ = std::move(targets);
    is_prepared_ = true;
}

double openai_vlm_session::score_one(http_client & client, const std::string & image_base64, const target & t) {
    const json body = next_token_body(model_.model_name(), chat_messages(prompt_, image_base64, t.prefix, model_.system_prompt()), model_.top_k());
    const int64_t t0 = detail::time_us();
    ++n_calls_;
    const json response = call(client, "/v1/chat/completions", body.dump(), model_.retry(), k_server_kind);
    t_call_us_ += detail::time_us() - t0;
    const double p = top_k_probability(parse_chat(response, client.base_url()), t.piece);
    if (p == 0.0) {
        ++n_outside_top_k_;
    }
    return p;
}

void openai_vlm_session::score(std::span<const mask> masks, std::span<float> probs) {
    if (!is_prepared_) {
        throw error(errc::invalid_argument, "score: call prepare() first");
    }
    const size_t n_targets = targets_.size();
    const std::vector<std::string> images = masked_images_base64(image_, fill_, fit_, fit_size_, masks, probs.size(), n_targets);
    scoped_timer timer(t_score_us_);
    // one task per (mask, target); n_seq workers per live server take tasks until none is left
    const size_t n_tasks = masks.size() * n_targets;
    const size_t n_per_server = std::min(size_t(std::max(params_.n_seq, 1)), n_tasks);
    const server_workers w = make_workers(model_.servers(), n_per_server, [&](const std::string & url) { return model_.is_down(url); },
                                          [&](const std::string & url) { return model_.connect(url); });
    run_on_servers(n_tasks, w.workers, model_.pool(n_dropped_), [&](size_t task, const server_backend::pool_worker & worker) {
        // task = mask * n_targets + target, the layout of probs
        probs[task] = float(score_one(*worker.client, images[task / n_targets], targets_[task % n_targets]));
    });
    n_evaluations_ += int64_t(masks.size());
}

generation openai_vlm_session::generate(const generate_request & request) {
    require_one_image(request.more_images.size() + 1, "openai");
    if (request.image.empty()) {
        throw error(errc::invalid_argument, "generate: the image is empty");
    }
    if (request.max_tokens <= 0) {
        throw error(errc::invalid_argument, "generate: max_tokens must be positive, got " + std::to_string(request.max_tokens));
    }
    if (!request.prompt_ids.empty()) {
        throw error(errc::unsupported, "engine 'openai': a prompt given as token ids cannot be sent; give it as text");
    }
    const image_rgb8 image = fit_image(request.image, request.fit, request.fit_size);
    const json messages = chat_messages(model_.format_prompt(request.prompt, request.use_raw_prompt),
                                        base64_encode(png_bytes(image)), "", model_.system_prompt());
    const std::string body = generation_body(model_.model_name(), messages, request.max_tokens).dump();
    for (const std::string & url : model_.servers()) {
        if (model_.is_down(url)) {
            continue;
        }
        const std::unique_ptr<http_client> client = model_.connect(url);
        chat_result result;
        try {
            const int64_t t0 = detail::time_us();
            ++n_calls_;
            result = parse_chat(call(*client, "/v1/chat/completions", body, model_.retry(), k_server_kind), url);
            t_call_us_ += detail::time_us() - t0;
        } catch (const server_down & down) {
            model_.pool(n_dropped_).drop(url, down.what());
            continue;
        }
        // the end token is left out of the answer (the engine cannot score it): OpenAI does not show it, llama-server
        // shows it as an empty text
        if (result.finish_reason == "stop" && !result.tokens.empty() && result.tokens.back().text.empty()) {
            result.tokens.pop_back();
        }
        generation out;
        for (const chat_token & t : result.tokens) {
            out.tokens.push_back({model_.intern(t.text), t.text, float(std::exp(t.logprob)), false});
            out.text += t.text;
        }
        out.is_cut = result.finish_reason == "length";
        return out;
    }
    throw error(errc::io, std::string("every ") + k_server_kind + " stopped answering");
}

} // namespace eagle::openai_backend
