// resolve_request: the backend-neutral half of prepare(). The messages start with "prepare:" because every
// backend calls this first from its prepare().
#include "eagle/scorer.h"

#include "eagle/error.h"

namespace eagle {

resolved_request resolve_request(const score_request & request, int32_t n_vocab) {
    if (request.image.empty()) {
        throw error(errc::invalid_argument, "prepare: the image is empty");
    }
    for (size_t k = 0; k < request.more_images.size(); ++k) {
        if (request.more_images[k].empty()) {
            throw error(errc::invalid_argument, "prepare: image " + std::to_string(k + 2) + " of the prompt is empty");
        }
    }
    if (!request.more_images.empty() && !request.prompt_ids.empty()) {
        throw error(errc::unsupported, "prepare: a prompt given as token ids takes one image, not " +
                                           std::to_string(request.more_images.size() + 1));
    }
    if (request.answer.empty()) {
        throw error(errc::invalid_argument, "prepare: the answer is empty (nothing to score)");
    }
    for (int32_t id : request.answer) {
        if (id < 0 || id >= n_vocab) {
            throw error(errc::invalid_argument, "prepare: answer token id " + std::to_string(id) + " is outside the vocabulary");
        }
    }
    resolved_request r;
    const int32_t n_answer = int32_t(request.answer.size());
    if (request.target_indices.empty()) {
        for (int32_t i = 0; i < n_answer; ++i) {
            r.target_indices.push_back(i);
        }
    } else {
        r.target_indices = request.target_indices;
        for (size_t i = 0; i < r.target_indices.size(); ++i) {
            const int32_t t = r.target_indices[i];
            if (t < 0 || t >= n_answer) {
                throw error(errc::invalid_argument, "prepare: target index " + std::to_string(t) +
                                                        " is outside the answer (0.." + std::to_string(n_answer - 1) + ")");
            }
            if (i > 0 && t <= r.target_indices[i - 1]) {
                throw error(errc::invalid_argument, "prepare: target indices must be strictly ascending");
            }
        }
    }
    if (request.target_ids.empty()) {
        for (int32_t t : r.target_indices) {
            r.target_ids.push_back(request.answer[t]);
        }
    } else {
        if (request.target_ids.size() != r.target_indices.size()) {
            throw error(errc::invalid_argument, "prepare: " + std::to_string(request.target_ids.size()) +
                                                    " target ids for " + std::to_string(r.target_indices.size()) + " targets");
        }
        for (int32_t id : request.target_ids) {
            if (id < 0 || id >= n_vocab) {
                throw error(errc::invalid_argument, "prepare: target token id " + std::to_string(id) + " is outside the vocabulary");
            }
        }
        r.target_ids = request.target_ids;
    }
    return r;
}

std::vector<const image_rgb8 *> request_images(const image_rgb8 & image, const std::vector<image_rgb8> & more) {
    std::vector<const image_rgb8 *> out{&image};
    for (const image_rgb8 & m : more) {
        out.push_back(&m);
    }
    return out;
}

mask_shape request_mask_shape(const score_request & request) {
    if (request.more_images.empty()) {
        return {request.image.nx, request.image.ny};
    }
    int64_t n_pixels = int64_t(request.image.nx) * request.image.ny;
    for (const image_rgb8 & image : request.more_images) {
        n_pixels += int64_t(image.nx) * image.ny;
    }
    return {int32_t(n_pixels), 1};
}

void require_one_image(size_t n_images, const char * engine) {
    if (n_images > 1) {
        throw error(errc::unsupported, std::string("the ") + engine + " engine takes one image per prompt, not " +
                                           std::to_string(n_images) + " (use the llama engine)");
    }
}

} // namespace eagle
