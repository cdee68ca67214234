// What the sessions on OpenAI-style servers share (session-common.h).
#include "session-common.h"

#include "eagle/error.h"
#include "common/base64.h"

namespace eagle::openai_backend {

std::vector<std::string> masked_images_base64(const image_rgb8 & image, const image_rgb8 & fill, fit_mode fit, int32_t fit_size,
                                              std::span<const mask> masks, size_t n_probs, size_t n_targets) {
    if (n_probs != masks.size() * n_targets) {
        throw error(errc::invalid_argument, "score: output has " + std::to_string(n_probs) + " values for " +
                                                std::to_string(masks.size()) + " masks x " + std::to_string(n_targets) + " targets");
    }
    std::vector<std::string> images;
    for (const mask & keep : masks) {
        if (keep.nx != image.nx || keep.ny != image.ny) {
            throw error(errc::invalid_argument, "score: mask is " + std::to_string(keep.nx) + "x" + std::to_string(keep.ny) +
                                                    " but the image is " + std::to_string(image.nx) + "x" + std::to_string(image.ny));
        }
        image_rgb8 masked;
        apply_mask(image, fill, keep, masked);
        images.push_back(base64_encode(png_bytes(fit_image(masked, fit, fit_size))));
    }
    return images;
}

server_workers make_workers(const std::vector<std::string> & servers, size_t n_per_server,
                            const std::function<bool(const std::string &)> & is_down,
                            const std::function<std::unique_ptr<server_backend::http_client>(const std::string &)> & connect) {
    server_workers out;
    for (const std::string & url : servers) {
        for (size_t i = 0; i < n_per_server && !is_down(url); ++i) {
            out.clients.push_back(connect(url));
            out.workers.push_back({url, out.clients.back().get()});
        }
    }
    return out;
}

} // namespace eagle::openai_backend
