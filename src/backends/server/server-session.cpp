// Server engine: the session (request groups, parallel scoring over every server's slots, generation).
#include "server-session.h"

#include "work-pool.h"

#include "eagle/log.h"
#include "common/timing.h"

#include <algorithm>
#include <cmath>

namespace eagle::server_backend {

using detail::scoped_timer;

std::vector<request_group> make_groups(std::span<const int32_t> answer, std::span<const int32_t> target_indices,
                                       std::span<const int32_t> target_ids, const vlm_model & model) {
    // forced[0..n) then, if end_id is an end-of-generation token, that one sampled after the grammar ends
    auto make = [&](std::vector<int32_t> forced, int32_t last) {
        request_group g;
        for (size_t i = 0; i < forced.size(); ++i) {
            if (model.is_eog(forced[i]) && i + 1 < forced.size()) {
                throw error(errc::unsupported, "the answer has the end-of-generation token '" + model.token_piece(forced[i]) +
                                                   "' at position " + std::to_string(i) +
                                                   ", before its end; llama-server cannot be made to go on after it");
            }
        }
        g.n_predict = last + 1;
        if (model.is_eog(forced.back())) {
            forced.pop_back(); // llama.cpp's grammars never consume end-of-generation tokens: sampled, then checked
        }
        g.forced = std::move(forced);
        return g;
    };
    std::vector<request_group> groups;
    int32_t last_own = -1;
    for (size_t t = 0; t < target_indices.size(); ++t) {
        if (target_ids[t] == answer[target_indices[t]]) {
            last_own = std::max(last_own, target_indices[t]);
        }
    }
    if (last_own >= 0) {
        request_group g = make(std::vector<int32_t>(answer.begin(), answer.begin() + last_own + 1), last_own);
        for (size_t t = 0; t < target_indices.size(); ++t) {
            if (target_ids[t] == answer[target_indices[t]]) {
                g.outputs.push_back({int32_t(t), target_indices[t], target_ids[t]});
            }
        }
        groups.push_back(std::move(g));
    }
    for (size_t t = 0; t < target_indices.size(); ++t) {
        const int32_t pos = target_indices[t];
        if (target_ids[t] != answer[pos]) {
            std::vector<int32_t> forced(answer.begin(), answer.begin() + pos);
            forced.push_back(target_ids[t]);
            request_group g = make(std::move(forced), pos);
            g.outputs.push_back({int32_t(t), pos, target_ids[t]});
            groups.push_back(std::move(g));
        }
    }
    return groups;
}

void read_group(const request_group & group, const completion_result & result, const std::string & url,
                std::span<float> probs) {
    const std::string where = "llama-server at " + url;
    if (int32_t(result.tokens.size()) < group.n_predict) {
        throw error(errc::backend, where + " generated " + std::to_string(result.tokens.size()) + " tokens where " +
                                       std::to_string(group.n_predict) + " were forced (stop: " + result.stop_type + ")");
    }
    for (size_t i = 0; i < group.forced.size(); ++i) {
        if (result.tokens[i].id != group.forced[i]) {
            throw error(errc::backend, where + " generated token " + std::to_string(result.tokens[i].id) + " at answer position " +
                                           std::to_string(i) + " where the grammar forced " + std::to_string(group.forced[i]) +
                                           "; its grammar does not support token ids (llama-server 0.7.0 or newer)");
        }
    }
    for (const request_group::output & o : group.outputs) {
        const token_logprob & t = result.tokens[o.position];
        double logprob = 0.0;
        bool found = t.id == o.id;
        if (found) {
            logprob = t.logprob;
        } else {
            for (const auto & [id, lp] : t.top) {
                if (id == o.id) {
                    logprob = lp;
                    found = true;
                }
            }
        }
        if (!found) {
            throw error(errc::unsupported, where + " ended the answer with end-of-generation token " + std::to_string(t.id) +
                                               ", not " + std::to_string(o.id) + " as asked, and gave no probability for " +
                                               std::to_string(o.id) + "; explain this answer without --eog");
        }
        probs[o.i_target] = float(std::exp(logprob));
    }
}

std::string server_vlm_session::with_marker(const std::string & prompt_text, const server_info & server) const {
    // each llama-server draws its own random media marker at start; the model formats with the first one's
    const std::string & first = model_.servers().front().media_marker;
    std::string out = prompt_text;
    for (size_t pos = out.find(first); pos != std::string::npos; pos = out.find(first, pos + server.media_marker.size())) {
        out.replace(pos, first.size(), server.media_marker);
    }
    return out;
}

std::unique_ptr<vlm_session> server_vlm_model::make_session(const session_params & params) const {
    return std::make_unique<server_vlm_session>(*this, params);
}

server_vlm_session::server_vlm_session(const server_vlm_model & model, const session_params & params)
    : model_(model), params_(params) {
    for (const server_info & info : model.servers()) {
        endpoint e;
        e.info = info;
        e.is_down = model.is_down(info.url);
        endpoints_.push_back(std::move(e));
    }
}

server_vlm_session::~server_vlm_session() = default;

scorer_stats server_vlm_session::stats() const {
    scorer_stats s;
    s.n_evaluations = n_evaluations_;
    s.n_backend_calls = n_requests_;
    s.t_prepare_us = t_prepare_us_;
    s.t_score_us = t_score_us_;
    s.t_backend_us = t_request_us_;
    int64_t n_live = 0;
    for (const endpoint & e : endpoints_) {
        n_live += e.is_down ? 0 : 1;
    }
    s.engine = {{"n_http_requests", n_requests_}, {"n_servers_live", n_live}, {"n_servers_dropped", n_dropped_}};
    return s;
}

void server_vlm_session::prepare(const score_request & request) {
    require_one_image(request.more_images.size() + 1, "server");
    scoped_timer timer(t_prepare_us_);
    is_prepared_ = false;
    const resolved_request targets = resolve_request(request, model_.n_vocab());
    std::vector<request_group> groups = make_groups(request.answer, targets.target_indices, targets.target_ids, model_);
    const std::string prompt_text = model_.format_prompt(request.prompt, request.use_raw_prompt);
    for (endpoint & e : endpoints_) {
        e.prompt_text = with_marker(prompt_text, e.info);
    }
    image_ = request.image;
    fill_ = make_fill_image(request.image, request.fill);
    target_ids_ = targets.target_ids;
    groups_ = std::move(groups);
    is_prepared_ = true;
}

std::string server_vlm_session::image_base64(const mask * keep) const {
    if (!keep) {
        return base64_encode(png_bytes(image_));
    }
    image_rgb8 masked;
    apply_mask(image_, fill_, *keep, masked);
    return base64_encode(png_bytes(masked)); // PNG: lossless, the server decodes the very pixels
}

void server_vlm_session::score_one(http_client & client, const std::string & prompt_text, const mask & keep,
                                   const request_group & group, std::span<float> probs) {
    const json body = forced_completion_body(prompt_text, image_base64(&keep), group.forced, group.n_predict);
    const int64_t t0 = detail::time_us();
    ++n_requests_;
    const json response = call(client, "/completion", body.dump(), model_.retry());
    t_request_us_ += detail::time_us() - t0;
    read_group(group, parse_completion(response), client.base_url(), probs);
}

void server_vlm_session::drop(endpoint & e, const std::string & why) {
    if (e.is_down) {
        return;
    }
    e.is_down = true;
    ++n_dropped_;
    model_.down().mark(e.info.url);
    log(log_level::warn, why + "; dropped, the other servers take its work\n");
}

void server_vlm_session::score(std::span<const mask> masks, std::span<float> probs) {
    if (!is_prepared_) {
        throw error(errc::invalid_argument, "score: call prepare() first");
    }
    const size_t n_targets = target_ids_.size();
    if (probs.size() != masks.size() * n_targets) {
        throw error(errc::invalid_argument, "score: output has " + std::to_string(probs.size()) + " values for " +
                                                std::to_string(masks.size()) + " masks x " + std::to_string(n_targets) + " targets");
    }
    for (const mask & keep : masks) {
        if (keep.nx != image_.nx || keep.ny != image_.ny) {
            throw error(errc::invalid_argument, "score: mask is " + std::to_string(keep.nx) + "x" + std::to_string(keep.ny) +
                                                    " but the image is " + std::to_string(image_.nx) + "x" + std::to_string(image_.ny));
        }
    }
    scoped_timer timer(t_score_us_);
    // one task per (mask, group); every slot of every live server takes tasks until none is left
    std::vector<pool_worker> workers;
    for (endpoint & e : endpoints_) {
        if (e.is_down || model_.is_down(e.info.url)) {
            e.is_down = true;
            continue;
        }
        while (int32_t(e.clients.size()) < e.info.n_slots) {
            e.clients.push_back(std::make_unique<http_client>(e.info.url, model_.timeouts().connect_s, model_.timeouts().request_s));
        }
        for (auto & client : e.clients) {
            workers.push_back({e.info.url, client.get()});
        }
    }
    auto endpoint_of = [&](const std::string & url) -> endpoint & {
        return *std::find_if(endpoints_.begin(), endpoints_.end(), [&](const endpoint & e) { return e.info.url == url; });
    };
    const server_pool pool{"llama-server", [&](const std::string & url) { return endpoint_of(url).is_down; },
                           [&](const std::string & url, const std::string & why) { drop(endpoint_of(url), why); }};
    run_on_servers(masks.size() * groups_.size(), workers, pool, [&](size_t task, const pool_worker & w) {
        const size_t i_mask = task / groups_.size();
        const request_group & g = groups_[task % groups_.size()];
        std::vector<float> out(n_targets);
        score_one(*w.client, endpoint_of(w.url).prompt_text, masks[i_mask], g, out);
        for (const request_group::output & o : g.outputs) {
            probs[i_mask * n_targets + o.i_target] = out[o.i_target]; // this task's own entries
        }
    });
    n_evaluations_ += int64_t(masks.size());
}

generation server_vlm_session::generate(const generate_request & request) {
    require_one_image(request.more_images.size() + 1, "server");
    if (request.image.empty()) {
        throw error(errc::invalid_argument, "generate: the image is empty");
    }
    if (request.max_tokens <= 0) {
        throw error(errc::invalid_argument, "generate: max_tokens must be positive, got " + std::to_string(request.max_tokens));
    }
    const std::string prompt_text = model_.format_prompt(request.prompt, request.use_raw_prompt);
    const std::string image = base64_encode(png_bytes(request.image));
    for (endpoint & e : endpoints_) {
        if (e.is_down || model_.is_down(e.info.url)) {
            e.is_down = true;
            continue;
        }
        if (e.clients.empty()) {
            e.clients.push_back(std::make_unique<http_client>(e.info.url, model_.timeouts().connect_s, model_.timeouts().request_s));
        }
        const std::string body = generation_body(with_marker(prompt_text, e.info), image, request.max_tokens).dump();
        completion_result result;
        try {
            const int64_t t0 = detail::time_us();
            ++n_requests_;
            result = parse_completion(call(*e.clients.front(), "/completion", body, model_.retry()));
            t_request_us_ += detail::time_us() - t0;
        } catch (const server_down & down) {
            drop(e, down.what());
            continue;
        }
        generation out;
        std::vector<int32_t> ids;
        for (const token_logprob & t : result.tokens) {
            const bool is_eog = model_.is_eog(t.id);
            out.tokens.push_back({t.id, model_.token_piece(t.id), float(std::exp(t.logprob)), is_eog});
            if (is_eog) {
                break;
            }
            ids.push_back(t.id);
        }
        out.text = model_.detokenize(ids);
        return out;
    }
    throw error(errc::io, "every llama-server stopped answering");
}

} // namespace eagle::server_backend
