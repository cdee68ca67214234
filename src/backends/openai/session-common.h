// !!! Internal header, to be used by the openai engine folder (src/backends/openai) only !!!
// What the sessions on OpenAI-style servers (openai, vllm, sglang) share in score(): the masked images as they
// are sent, and the workers of the parallel work pool (server/work-pool.h).
#pragma once

#include "server/work-pool.h"

#include "eagle/image.h"

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace eagle::openai_backend {

// Each mask applied to image (removed pixels from fill), fit as asked, as base64 PNG (lossless: the server
// decodes the very pixels). Throws errc::invalid_argument when n_probs is not masks x n_targets or a mask is not
// the image's size.
std::vector<std::string> masked_images_base64(const image_rgb8 & image, const image_rgb8 & fill, fit_mode fit, int32_t fit_size,
                                              std::span<const mask> masks, size_t n_probs, size_t n_targets);

// n_per_server workers on every server not down, each with its own connection (clients owns them).
struct server_workers {
    std::vector<std::unique_ptr<server_backend::http_client>> clients;
    std::vector<server_backend::pool_worker> workers;
};
server_workers make_workers(const std::vector<std::string> & servers, size_t n_per_server,
                            const std::function<bool(const std::string &)> & is_down,
                            const std::function<std::unique_ptr<server_backend::http_client>(const std::string &)> & connect);

} // namespace eagle::openai_backend
