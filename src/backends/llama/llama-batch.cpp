// llama.cpp engine: one group of masked images through the model (the scheme is in llama-session.h):
// the shared prefix, the image encoder, one llama_decode for all image embeddings, one for all answers.
#include "llama-session.h"

#include "llama-runtime.h"

#include "eagle/error.h"
#include "eagle/log.h"
#include "common/timing.h"

#include <algorithm>

namespace eagle::llama_backend {

using detail::scoped_timer;

namespace {

std::vector<llama_seq_id> seq_range(int32_t n) {
    std::vector<llama_seq_id> ids(n);
    for (int32_t s = 0; s < n; ++s) {
        ids[s] = s;
    }
    return ids;
}

} // namespace

void llama_vlm_session::decode_shared_prefix() {
    llama_memory_t mem = llama_get_memory(ctx_);
    llama_memory_clear(mem, true);
    // unified KV: one copy of the prefix, tagged with every sequence; streams: decode into sequence 0,
    // then copy its cells into the other streams (a memory copy, no compute)
    const std::vector<llama_seq_id> seqs = params_.use_unified_kv ? seq_range(n_seq_) : seq_range(1);
    batch_guard batch(int32_t(req_.prefix_tokens.size()), 0, int32_t(seqs.size()));
    for (size_t i = 0; i < req_.prefix_tokens.size(); ++i) {
        batch.add_token(req_.prefix_tokens[i], llama_pos(i), seqs, false);
    }
    if (batch.batch.n_tokens > 0) {
        decode(batch.batch, "shared prefix");
    }
    if (!params_.use_unified_kv) {
        for (int32_t s = 1; s < n_seq_; ++s) {
            llama_memory_seq_cp(mem, 0, s, -1, -1);
        }
    }
    prefix_ready_ = true;
}

// Encodes the image chunks of every input (batched through libmtmd when the projector allows it).
void llama_vlm_session::encode_images(std::vector<masked_input> & inputs) {
    scoped_timer timer(counters_.t_encode_us);
    std::lock_guard<std::mutex> lock(model_.encode_mutex(worker_));
    mtmd_context * mctx = model_.mtmd(worker_);
    const int32_t n_embd = llama_model_n_embd_inp(model_.model());
    std::vector<std::pair<masked_input *, const mtmd_input_chunk *>> todo;
    for (auto & input : inputs) {
        const std::vector<prompt_piece> & pieces = input.prompt.pieces;
        for (size_t i = input.i_body_begin; i < pieces.size(); ++i) {
            if (pieces[i].media) {
                todo.emplace_back(&input, pieces[i].media);
            }
        }
    }
    auto store = [&](masked_input & input, const mtmd_input_chunk * chunk, const float * embd) {
        const size_t n = size_t(mtmd_input_chunk_get_n_tokens(chunk)) * n_embd;
        input.image_embd.emplace_back(embd, embd + n);
    };
    size_t i_next = 0;
    while (i_next < todo.size() && use_batch_encode_) {
        mtmd::batch_ptr batch(mtmd_batch_init(mctx));
        size_t i_end = i_next;
        while (i_end < todo.size()) {
            const int32_t ret = mtmd_batch_add_chunk(batch.get(), todo[i_end].second);
            if (ret == 2 && i_end > i_next) {
                break; // batch full: encode what we have
            }
            if (ret != 0) {
                if (i_end == i_next) {
                    use_batch_encode_ = false; // this projector cannot batch: encode one at a time from now on
                    log(log_level::debug, "libmtmd cannot batch this projector's images; encoding one by one\n");
                }
                break;
            }
            ++i_end;
        }
        if (!use_batch_encode_ || i_end == i_next) {
            break;
        }
        if (mtmd_batch_encode(batch.get()) != 0) {
            throw error(errc::backend, "mtmd_batch_encode failed for " + std::to_string(i_end - i_next) + " images");
        }
        ++counters_.n_encode_calls;
        for (size_t i = i_next; i < i_end; ++i) {
            store(*todo[i].first, todo[i].second, mtmd_batch_get_output_embd(batch.get(), todo[i].second));
        }
        i_next = i_end;
    }
    for (; i_next < todo.size(); ++i_next) {
        if (mtmd_encode_chunk(mctx, todo[i_next].second) != 0) {
            throw error(errc::backend, "mtmd_encode_chunk failed");
        }
        ++counters_.n_encode_calls;
        store(*todo[i_next].first, todo[i_next].second, mtmd_get_output_embd(mctx));
    }
}

// Scores one group of at most n_seq_ masks; probs_out[i] gets n_targets values per mask.
void llama_vlm_session::score_group(std::span<const mask * const> masks, std::vector<std::vector<float>> & probs_out) {
    const int32_t n_group = int32_t(masks.size());
    std::vector<masked_input> inputs(n_group);
    {
        scoped_timer timer(counters_.t_encode_us);
        const std::vector<const image_rgb8 *> images = request_images(req_.request.image, req_.request.more_images);
        std::vector<image_rgb8> masked(images.size());
        std::vector<const image_rgb8 *> masked_ptrs;
        for (const image_rgb8 & m : masked) {
            masked_ptrs.push_back(&m);
        }
        for (int32_t s = 0; s < n_group; ++s) {
            if (images.size() == 1) {
                apply_mask(*images.front(), req_.fills.front(), *masks[s], masked.front());
            } else {
                // a joined mask: the images' keep masks one after another (eagle/regions.h)
                int64_t first_pixel = 0;
                for (size_t k = 0; k < images.size(); ++k) {
                    const int64_t n_pixels = int64_t(images[k]->nx) * images[k]->ny;
                    const mask part{images[k]->nx, images[k]->ny,
                                    std::vector<uint8_t>(masks[s]->keep.begin() + first_pixel,
                                                         masks[s]->keep.begin() + first_pixel + n_pixels)};
                    apply_mask(*images[k], req_.fills[k], part, masked[k]);
                    first_pixel += n_pixels;
                }
            }
            inputs[s].prompt = model_.tokenize_prompt(masked_ptrs, req_.source, worker_);
            inputs[s].i_body_begin = inputs[s].prompt.pieces.size() - req_.n_body_pieces;
        }
    }
    encode_images(inputs);

    llama_memory_t mem = llama_get_memory(ctx_);
    const int32_t n_prefix = int32_t(req_.prefix_tokens.size());
    if (params_.share_prefix) {
        if (!prefix_ready_) {
            decode_shared_prefix();
        }
        for (int32_t s = 0; s < n_seq_; ++s) {
            llama_memory_seq_rm(mem, s, n_prefix, -1);
        }
    } else {
        // the plain way: every sequence computes its own prefix
        llama_memory_clear(mem, true);
        prefix_ready_ = false;
        batch_guard batch(n_prefix * n_group, 0, 1);
        for (int32_t s = 0; s < n_group; ++s) {
            const llama_seq_id id[] = {s};
            for (int32_t i = 0; i < n_prefix; ++i) {
                batch.add_token(req_.prefix_tokens[i], i, id, false);
            }
        }
        if (batch.batch.n_tokens > 0) {
            decode(batch.batch, "prefix");
        }
    }

    // walk the body piece by piece; all sequences share the piece structure
    const masked_input & first = inputs[0];
    const std::vector<prompt_piece> & first_pieces = first.prompt.pieces;
    const size_t n_pieces = first_pieces.size();
    const int32_t n_embd = llama_model_n_embd_inp(model_.model());
    llama_pos n_past = n_prefix;
    size_t i_image = 0;
    std::vector<int32_t> pending_text; // text chunks are merged with what follows until the next image
    auto flush_text = [&](bool is_last) {
        const int32_t n_text = int32_t(pending_text.size());
        const int32_t n_fed = is_last ? int32_t(req_.answer_fed.size()) : 0;
        const int32_t n_per_seq = n_text + n_fed;
        if (n_per_seq == 0) {
            return;
        }
        batch_guard batch(n_per_seq * n_group, 0, 1);
        std::vector<int32_t> i_outputs; // batch index of each target's logits, sequence-major
        for (int32_t s = 0; s < n_group; ++s) {
            const llama_seq_id id[] = {s};
            size_t i_target = 0;
            for (int32_t j = 0; j < n_per_seq; ++j) {
                const int32_t token = j < n_text ? pending_text[j] : req_.answer_fed[j - n_text];
                // the token at j predicts answer index j - n_text + 1
                bool output = false;
                if (is_last && i_target < req_.target_indices.size() && req_.target_indices[i_target] == j - n_text + 1) {
                    output = true;
                    ++i_target;
                    i_outputs.push_back(batch.batch.n_tokens);
                }
                batch.add_token(token, n_past + j, id, output);
            }
        }
        decode(batch.batch, is_last ? "answer" : "text");
        if (is_last) {
            const int32_t n_vocab = model_.n_vocab();
            size_t i_out = 0;
            for (int32_t s = 0; s < n_group; ++s) {
                std::vector<float> & p = probs_out[s];
                p.resize(req_.target_ids.size());
                for (size_t t = 0; t < req_.target_ids.size(); ++t) {
                    const float * logits = llama_get_logits_ith(ctx_, i_outputs[i_out++]);
                    if (!logits) {
                        throw error(errc::backend, "llama.cpp returned no logits for a target");
                    }
                    p[t] = softmax_prob(logits, n_vocab, req_.target_ids[t]);
                }
            }
        }
        n_past += n_text;
        pending_text.clear();
    };
    for (size_t i = first.i_body_begin; i < n_pieces; ++i) {
        const mtmd_input_chunk * chunk = first_pieces[i].media;
        if (!chunk) {
            pending_text.insert(pending_text.end(), first_pieces[i].text.begin(), first_pieces[i].text.end());
            continue;
        }
        flush_text(false);
        const int32_t n_tokens = int32_t(mtmd_input_chunk_get_n_tokens(chunk));
        if (needs_helper_decode()) {
            for (int32_t s = 0; s < n_group; ++s) {
                llama_pos new_n_past = 0;
                scoped_timer timer(counters_.t_decode_us);
                const int32_t ret = mtmd_helper_decode_image_chunk(
                    model_.mtmd(worker_), ctx_, inputs[s].prompt.pieces[i].media, inputs[s].image_embd[i_image].data(), n_past, s,
                    int32_t(llama_n_batch(ctx_)), &new_n_past, nullptr, nullptr);
                ++counters_.n_decode_calls;
                if (ret != 0) {
                    throw error(errc::backend, "decoding the image failed (" + std::to_string(ret) + ")");
                }
            }
        } else {
            batch_guard batch(n_tokens * n_group, n_embd, 1);
            for (int32_t s = 0; s < n_group; ++s) {
                const std::vector<float> & embd = inputs[s].image_embd[i_image];
                std::copy(embd.begin(), embd.end(), batch.batch.embd + size_t(s) * n_tokens * n_embd);
                for (int32_t j = 0; j < n_tokens; ++j) {
                    const int32_t k = s * n_tokens + j;
                    batch.batch.pos[k]       = n_past + j;
                    batch.batch.n_seq_id[k]  = 1;
                    batch.batch.seq_id[k][0] = s;
                    batch.batch.logits[k]    = false;
                }
            }
            batch.batch.n_tokens = n_tokens * n_group;
            decode(batch.batch, "image");
        }
        n_past += mtmd_input_chunk_get_n_pos(chunk);
        ++i_image;
    }
    flush_text(true);
    counters_.n_evaluations += n_group;
}

} // namespace eagle::llama_backend
