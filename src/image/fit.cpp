// fit_image: the shape an image is handed to the engine in (--image-fit). The point is to show the model what
// the reference's Hugging Face processor showed it: LLaVA-1.5's CLIP processor centre-crops where libmtmd
// letterboxes, so without the crop regions the authors' model never saw would count.
#include "eagle/image.h"

#include "eagle/error.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace eagle {

fit_mode fit_mode_from_string(const std::string & name) {
    if (name == "native") return fit_mode::native;
    if (name == "crop")   return fit_mode::crop;
    if (name == "pad")    return fit_mode::pad;
    throw error(errc::invalid_argument, "unknown image fit '" + name + "' (expected native, crop or pad)");
}

const char * fit_mode_name(fit_mode fit) {
    switch (fit) {
        case fit_mode::native: return "native";
        case fit_mode::crop:   return "crop";
        case fit_mode::pad:    return "pad";
    }
    return "native";
}

namespace {

// the rectangle [x0, x0 + w) x [y0, y0 + h) of src, copied
image_rgb8 cut(const image_rgb8 & src, int32_t x0, int32_t y0, int32_t w, int32_t h) {
    image_rgb8 out{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
    for (int32_t y = 0; y < h; ++y) {
        const uint8_t * row = &src.rgb[(size_t(y0 + y) * src.nx + x0) * 3];
        std::copy(row, row + size_t(w) * 3, &out.rgb[size_t(y) * w * 3]);
    }
    return out;
}

} // namespace

image_rgb8 fit_image(const image_rgb8 & image, fit_mode fit, int32_t fit_size) {
    if (fit_size < 0 || (fit_size > 0 && fit != fit_mode::crop)) {
        throw error(errc::invalid_argument, "fit_image: fit size " + std::to_string(fit_size) + " with fit '" +
                                                fit_mode_name(fit) + "' (a size >= 1 goes with crop only; 0 = none)");
    }
    if (image.empty() || fit == fit_mode::native) {
        return image;
    }
    const int32_t nx = image.nx, ny = image.ny;
    if (fit == fit_mode::pad) {
        const int32_t side = std::max(nx, ny);
        image_rgb8 out{side, side, std::vector<uint8_t>(size_t(side) * side * 3)};
        for (size_t i = 0; i < out.rgb.size(); i += 3) {
            out.rgb[i] = 122, out.rgb[i + 1] = 116, out.rgb[i + 2] = 104;
        }
        const int32_t x0 = (side - nx) / 2, y0 = (side - ny) / 2;
        for (int32_t y = 0; y < ny; ++y) {
            const uint8_t * row = &image.rgb[size_t(y) * nx * 3];
            std::copy(row, row + size_t(nx) * 3, &out.rgb[(size_t(y0 + y) * side + x0) * 3]);
        }
        return out;
    }
    if (fit_size == 0) {
        const int32_t side = std::min(nx, ny);
        return cut(image, (nx - side) / 2, (ny - side) / 2, side, side);
    }
    // shortest side to fit_size, the long side scaled and truncated (transformers' get_resize_output_image_size)
    const bool is_wide = nx >= ny;
    const int32_t rx = is_wide ? int32_t(int64_t(fit_size) * nx / ny) : fit_size;
    const int32_t ry = is_wide ? fit_size : int32_t(int64_t(fit_size) * ny / nx);
    check_image_size(rx, ry, "fit_image: the resized image");
    const cv::Mat src(ny, nx, CV_8UC3, const_cast<uint8_t *>(image.rgb.data()));
    image_rgb8 resized{rx, ry, std::vector<uint8_t>(size_t(rx) * ry * 3)};
    cv::Mat dst(ry, rx, CV_8UC3, resized.rgb.data());
    cv::resize(src, dst, cv::Size(rx, ry), 0, 0, cv::INTER_CUBIC);
    return cut(resized, (rx - fit_size) / 2, (ry - fit_size) / 2, fit_size, fit_size);
}

} // namespace eagle
