// eagle/scorer.h - the one interface every scoring backend implements.
//
// A scorer answers, for a batch of masks over the request's image (or its images laid end to end, when
// score_request::more_images holds more): the teacher-forced probability of each target
// token of a fixed answer,
//     p_t(mask) = softmax(logits at the position before answer[t] | image masked by mask, prompt, answer[<t])[target_id_t]
// the quantity EAGLE's objective is built from (../shared/method/eagle-reference.md §1.2).
//
// Protocol: prepare(request) once per (images, prompt, answer, targets), then score(masks) any number of times.
// One image is a batch of one. A scorer scores what it is given: answering repeated masks from a memo is the
// job of the memo_scorer decorator (eagle/memo-scorer.h), which vlm sessions wrap themselves in by default.
// Thread safety: a scorer is a per-run object; do not call it from two threads at once.
#pragma once

#include "eagle/image.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace eagle {

struct score_request {
    image_rgb8 image;                    // the original image; masks refer to its pixels
    std::string prompt;                  // user prompt; see use_raw_prompt
    bool use_raw_prompt = false;         // false: wrap the prompt in the model's chat template, image first;
                                         // true: take it verbatim, "<image>" marks where the image goes
    std::vector<int32_t> answer;         // answer token ids, teacher forced after the prompt (no BOS)
    std::vector<int32_t> target_indices; // indices into answer to score, ascending; empty = every token
    std::vector<int32_t> target_ids;     // token scored at each target; empty = the answer's own token
                                         // (set it to explain a token the model did not produce)
    fill_mode fill = fill_mode::black;   // what removed pixels become
    fit_mode fit = fit_mode::native;     // the shape the masked image is handed to the engine in (fit_image)
    int32_t fit_size = 0;                // with fit_mode::crop: the side of the crop (0 = the short side)
    std::vector<int32_t> prompt_ids{};   // non-empty: the whole prompt as token ids (BOS and chat template
                                         // included, as a Hugging Face processor makes them), with one run of
                                         // image placeholder tokens where the image goes; the engine replaces
                                         // that run by its own image tokens and feeds every other id as given.
                                         // prompt and use_raw_prompt are then ignored (see find_image_span)
    int32_t image_token = -1;            // the placeholder id in prompt_ids; -1: found (find_image_span)
    std::vector<image_rgb8> more_images{}; // the prompt's further images, in order after `image` (one "<image>"
                                           // per image in the prompt, or none: all images first). With any,
                                           // a mask covers every image: their keep masks concatenated in
                                           // order, nx = all their pixels, ny = 1 (region_mask of join_regions).
                                           // Engines: llama (others reject it, errc::unsupported); not with
                                           // prompt_ids
};

// The pixels a mask of this request covers: the image's size, or for several images (more_images) the sum of
// their pixel counts by 1. Every scorer checks masks against it.
struct mask_shape {
    int32_t nx = 0;
    int32_t ny = 0;
};
mask_shape request_mask_shape(const score_request & request);
// A prompt's images in order: image, then more.
std::vector<const image_rgb8 *> request_images(const image_rgb8 & image, const std::vector<image_rgb8> & more);
// Throws errc::unsupported naming `engine` and the count when a prompt has more than one image.
void require_one_image(size_t n_images, const char * engine);

// A request's targets with the defaults filled in and every value checked: what a backend scores.
struct resolved_request {
    std::vector<int32_t> target_indices; // strictly ascending, each inside the answer
    std::vector<int32_t> target_ids;     // one per target, each inside the vocabulary
};

// Checks a request against a vocabulary of n_vocab tokens and fills in the target defaults (every answer
// token; the answer's own ids). Every backend calls it first in prepare(). Throws eagle::error
// (errc::invalid_argument) naming the value: an empty image or answer, a token id outside the vocabulary,
// a target index outside the answer or out of order, target ids that do not match the targets.
resolved_request resolve_request(const score_request & request, int32_t n_vocab);

// One engine-specific counter (llama.cpp: "n_decode_calls", "t_encode_us", ...): its name says its unit.
struct engine_counter {
    std::string name;
    int64_t value = 0;
};

// Counts and timings a scorer reports about itself (cumulative since construction). The first six are
// engine-neutral; `engine` holds what only one engine can say, in the order the engine declares them.
struct scorer_stats {
    int64_t n_evaluations   = 0; // masked images scored by the model (memo hits excluded)
    int64_t n_memo_hits     = 0; // masks answered from the memo
    int64_t n_backend_calls = 0; // calls into the engine's compute (llama.cpp: llama_decode + image encoder)
    int64_t t_prepare_us    = 0; // request set-up: tokenization, context, shared prefix
    int64_t t_score_us      = 0; // wall time inside score(), everything below included
    int64_t t_backend_us    = 0; // time inside those engine calls; summed over the engine's workers (llama:
                                 // model_params::n_workers), so up to that many times t_score_us
    std::vector<engine_counter> engine;

    // The engine counter called name; 0 if this engine has none (so sums over engines stay simple).
    int64_t engine_value(std::string_view name) const;
};

class scorer {
public:
    virtual ~scorer() = default;

    // Sets the request following score() calls refer to (and clears a memo, if there is one). Throws
    // eagle::error (errc::invalid_argument) on an empty answer, a target out of range, a prompt longer
    // than the context (see resolve_request).
    virtual void prepare(const score_request & request) = 0;

    // Number of targets of the prepared request.
    virtual int32_t n_targets() const = 0;

    // probs[i * n_targets() + t] = p_t(masks[i]). Every mask must have the image's size.
    // probs.size() must be masks.size() * n_targets().
    virtual void score(std::span<const mask> masks, std::span<float> probs) = 0;

    virtual scorer_stats stats() const = 0;
};

} // namespace eagle
