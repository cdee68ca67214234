// The images of an explanation folder: overlays of the attribution maps on the input image.
#include "eagle/report.h"

#include "eagle/error.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstring>

namespace eagle {

image_rgb8 render_overlay(const image_rgb8 & image, const std::vector<float> & map, colormap cmap) {
    if (map.size() != size_t(image.nx) * image.ny) {
        throw error(errc::invalid_argument, "render_overlay: map has " + std::to_string(map.size()) + " values for a " +
                                                std::to_string(image.nx) + "x" + std::to_string(image.ny) + " image");
    }
    cv::Mat m(image.ny, image.nx, CV_32F, const_cast<float *>(map.data()));
    cv::Mat m8;
    m.convertTo(m8, CV_8U, 255.0);
    // the reference's smoothing: down by 20, back up (bilinear), so region edges fade
    const int sx = std::max(1, image.nx / 20), sy = std::max(1, image.ny / 20);
    cv::Mat small, smooth;
    cv::resize(m8, small, cv::Size(sx, sy), 0, 0, cv::INTER_LINEAR);
    cv::resize(small, smooth, cv::Size(image.nx, image.ny), 0, 0, cv::INTER_LINEAR);
    cv::Mat colored;
    cv::applyColorMap(smooth, colored, cmap == colormap::viridis ? cv::COLORMAP_VIRIDIS : cv::COLORMAP_COOL);
    cv::Mat rgb(image.ny, image.nx, CV_8UC3, const_cast<uint8_t *>(image.rgb.data()));
    cv::Mat bgr, blended;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    cv::addWeighted(bgr, 0.5, colored, 0.5, 0.0, blended);
    cv::Mat out_rgb;
    cv::cvtColor(blended, out_rgb, cv::COLOR_BGR2RGB);
    image_rgb8 out{image.nx, image.ny, std::vector<uint8_t>(image.rgb.size())};
    for (int y = 0; y < image.ny; ++y) {
        std::memcpy(out.rgb.data() + size_t(y) * image.nx * 3, out_rgb.ptr<uint8_t>(y), size_t(image.nx) * 3);
    }
    return out;
}

explanation_images render_explanation_images(const explanation_record & rec) {
    explanation_images out;
    const region_set & regions = rec.regions;
    const std::vector<float> map = attribution_map(rec.result, regions);
    std::vector<std::vector<float>> token_maps;
    for (size_t t = 0; t < rec.target_indices.size(); ++t) {
        token_maps.push_back(token_attribution_map(rec.result, regions, int32_t(t), rec.request.params.lambda1,
                                                   rec.request.params.lambda2));
    }
    // image k's overlays: the maps over every image, cut to its pixels (one image: the maps themselves)
    auto overlays_of = [&](const image_rgb8 & image, size_t k, image_rgb8 & overlay, std::vector<image_rgb8> & token_overlays) {
        overlay = render_overlay(image, image_pixels(map, regions, k));
        for (const std::vector<float> & token_map : token_maps) {
            token_overlays.push_back(render_overlay(image, image_pixels(token_map, regions, k)));
        }
    };
    out.image = rec.request.image;
    overlays_of(out.image, 0, out.overlay, out.token_overlays);
    for (size_t k = 0; k < rec.request.more_images.size(); ++k) {
        explanation_images::more_image & more = out.more.emplace_back();
        more.image = rec.request.more_images[k];
        overlays_of(more.image, k + 1, more.overlay, more.token_overlays);
    }
    if (rec.hallucination) {
        // the regions removed first are the ones that push towards the wrong answer: 1 - attribution
        std::vector<float> hmap = image_pixels(map, regions, 0);
        for (float & v : hmap) {
            v = 1.0f - v;
        }
        out.hallucination_overlay = render_overlay(out.image, hmap, colormap::cool);
    }
    return out;
}

} // namespace eagle
