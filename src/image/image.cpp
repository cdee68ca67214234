#include "eagle/image.h"

#include "codecs-module.h"
#include "decode.h"
#include "image-header.h"
#include "jpeg-check.h"
#include "module-loader.h"
#include "png-check.h"
#include "png-codec.h"

#include "eagle/error.h"
#include "eagle/file.h"
#include "eagle/log.h"

#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp> // the IMREAD_* flag values only: imgcodecs itself is the codecs module's
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>

namespace eagle {

namespace detail {

// OpenCV works in BGR; eagle's images are RGB like libmtmd's bitmaps.
image_rgb8 from_bgr(const cv::Mat & bgr) {
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    image_rgb8 out;
    out.nx = rgb.cols;
    out.ny = rgb.rows;
    out.rgb.resize(size_t(out.nx) * out.ny * 3);
    for (int y = 0; y < rgb.rows; ++y) {
        std::memcpy(out.rgb.data() + size_t(y) * out.nx * 3, rgb.ptr<uint8_t>(y), size_t(out.nx) * 3);
    }
    return out;
}

} // namespace detail

namespace {

using detail::from_bgr;

cv::Mat to_mat(const image_rgb8 & image) {
    // const_cast: the Mat header only reads the buffer
    return cv::Mat(image.ny, image.nx, CV_8UC3, const_cast<uint8_t *>(image.rgb.data()));
}

} // namespace

void check_image_size(int64_t nx, int64_t ny, const std::string & what) {
    if (nx > max_image_side || ny > max_image_side || nx * ny > max_image_pixels) {
        throw error(errc::invalid_argument, what + " is " + std::to_string(nx) + "x" + std::to_string(ny) +
                                                ": larger than eagle's limit of " + std::to_string(max_image_side) +
                                                " px per side and " + std::to_string(max_image_pixels / (1 << 20)) +
                                                " Mpx (" + std::to_string(max_image_pixels) + " pixels)");
    }
}

namespace detail {

void check_readable(const std::string & path, const char * what) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw error(errc::io, std::string(what) + ": '" + path + "' does not exist or is not a file");
    }
}

void silence_opencv_log() {
    static std::once_flag silenced;
    std::call_once(silenced, [] { cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT); });
}

namespace {

// what the codecs module's image callback fills
struct decoded_sink {
    cv::Mat pixels;
};

int take_decoded(void * user, int32_t width, int32_t height, int32_t cv_type, const uint8_t * data, size_t row_bytes) {
    try {
        static_cast<decoded_sink *>(user)->pixels = cv::Mat(height, width, cv_type, const_cast<uint8_t *>(data), row_bytes).clone();
        return 0;
    } catch (...) {
        return 1; // out of memory: the module reports the decode as failed
    }
}

// `bytes` decoded by OpenCV's imdecode in the codecs module (codecs-module.h)
cv::Mat decode_in_module(const std::vector<uint8_t> & bytes, int flags, const std::string & path, const char * what) {
    const std::vector<void *> symbols = load_module(EAGLE_CODECS_MODULE_NAME, "EAGLE_CODECS_MODULE",
                                                    (std::string(what) + ": reading '" + path + "'").c_str(),
                                                    {EAGLE_CODECS_DECODE_SYMBOL});
    const auto decode = reinterpret_cast<eagle_codecs_decode_fn>(symbols[0]);
    decoded_sink sink;
    char message[256] = {};
    const int rc = decode(bytes.data(), bytes.size(), flags, take_decoded, &sink, message, sizeof(message));
    if (rc != 0) {
        throw error(errc::io, std::string(what) + ": cannot decode '" + path + "' as an image (" +
                                  (rc == 1 ? std::string("out of memory") : std::string(message)) + ")");
    }
    return sink.pixels;
}

} // namespace

cv::Mat decode_image_file(const std::string & path, int flags, const char * what) {
    silence_opencv_log();
    check_readable(path, what);
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
    if (!in && !in.eof()) {
        throw error(errc::io, std::string(what) + ": cannot read '" + path + "'");
    }
    // turned upright as imdecode would (it does so unless asked for the pixels unchanged)
    const bool upright = flags != cv::IMREAD_UNCHANGED && (flags & cv::IMREAD_IGNORE_ORIENTATION) == 0;
    cv::Mat out;
    try {
        if (has_png_signature(bytes)) {
            out = decode_png(sanitize_png(bytes, path, what), flags, path, what);
        } else if (has_jpeg_signature(bytes)) {
            jpeg_check jpeg = check_jpeg(bytes, (flags & cv::IMREAD_COLOR) == 0, path, what);
            if (!jpeg.warning.empty()) {
                eagle::log(log_level::warn, std::string(what) + ": '" + path + "' has damaged JPEG data (libjpeg: " +
                                         jpeg.warning + "); using what libjpeg recovered\n");
            }
            if (jpeg.pixels.empty()) { // a CMYK file: OpenCV's own conversion
                out = decode_in_module(bytes, flags, path, what);
            } else {
                out = upright ? apply_exif_orientation(jpeg.pixels, jpeg_exif_orientation(bytes)) : jpeg.pixels;
            }
        } else if (const std::optional<image_header> header = read_image_header(bytes, path, what)) {
            // BMP, TIFF, WebP, PNM/PAM/PFM: the header's size is held to eagle's limits before OpenCV allocates
            check_image_size(header->width, header->height, std::string(what) + ": '" + path + "' (" + header->format + ")");
            out = decode_in_module(bytes, flags, path, what); // as imread did (EXIF orientation included)
        } else {
            throw error(errc::io, std::string(what) + ": '" + path + "' is not an image eagle reads (PNG, JPEG, BMP, "
                                  "TIFF, WebP, PNM, PAM or PFM, by its first bytes); convert it to PNG");
        }
    } catch (const cv::Exception &) {
        out = cv::Mat();
    }
    if (out.empty()) {
        throw error(errc::io, std::string(what) + ": cannot decode '" + path + "' as an image");
    }
    check_image_size(out.cols, out.rows, std::string(what) + ": '" + path + "'");
    return out;
}

} // namespace detail

mask mask::full(int32_t nx, int32_t ny) { return mask{nx, ny, std::vector<uint8_t>(size_t(nx) * ny, 1)}; }
mask mask::empty(int32_t nx, int32_t ny) { return mask{nx, ny, std::vector<uint8_t>(size_t(nx) * ny, 0)}; }

fill_mode fill_mode_from_string(const std::string & name) {
    if (name == "black") return fill_mode::black;
    if (name == "mean")  return fill_mode::mean;
    if (name == "blur")  return fill_mode::blur;
    throw error(errc::invalid_argument, "unknown fill '" + name + "' (expected black, mean or blur)");
}

const char * fill_mode_name(fill_mode fill) {
    switch (fill) {
        case fill_mode::black: return "black";
        case fill_mode::mean:  return "mean";
        case fill_mode::blur:  return "blur";
    }
    return "black";
}

image_rgb8 load_image(const std::string & path) {
    return from_bgr(detail::decode_image_file(path, cv::IMREAD_COLOR, "load_image"));
}

void save_png(const image_rgb8 & image, const std::string & path) {
    const std::string bytes = png_bytes(image);
    write_file_atomic(path, bytes);
}

std::string png_bytes(const image_rgb8 & image) {
    cv::Mat bgr;
    cv::cvtColor(to_mat(image), bgr, cv::COLOR_RGB2BGR);
    const std::vector<uint8_t> png = detail::encode_png(bgr, "png_bytes");
    return std::string(png.begin(), png.end());
}

mask load_mask(const std::string & path) {
    const cv::Mat gray = detail::decode_image_file(path, cv::IMREAD_GRAYSCALE, "load_mask");
    mask out{gray.cols, gray.rows, {}};
    out.keep.resize(size_t(gray.cols) * gray.rows);
    for (int y = 0; y < gray.rows; ++y) {
        const uint8_t * row = gray.ptr<uint8_t>(y);
        for (int x = 0; x < gray.cols; ++x) {
            out.keep[size_t(y) * gray.cols + x] = row[x] != 0;
        }
    }
    return out;
}

image_rgb8 make_fill_image(const image_rgb8 & image, fill_mode fill) {
    image_rgb8 out{image.nx, image.ny, std::vector<uint8_t>(image.rgb.size(), 0)};
    if (fill == fill_mode::mean) {
        const cv::Scalar mean = cv::mean(to_mat(image));
        for (size_t i = 0; i < out.rgb.size(); i += 3) {
            for (int c = 0; c < 3; ++c) {
                out.rgb[i + c] = cv::saturate_cast<uint8_t>(mean[c]);
            }
        }
    } else if (fill == fill_mode::blur) {
        // a kernel a quarter of the short side wide removes object detail but keeps the global colors
        const int k = std::max(3, (std::min(image.nx, image.ny) / 4) | 1);
        cv::Mat blurred;
        cv::GaussianBlur(to_mat(image), blurred, cv::Size(k, k), 0);
        std::memcpy(out.rgb.data(), blurred.data, out.rgb.size());
    }
    return out;
}

void apply_mask(const image_rgb8 & image, const image_rgb8 & fill, const mask & keep, image_rgb8 & out) {
    if (keep.nx != image.nx || keep.ny != image.ny) {
        throw error(errc::invalid_argument, "apply_mask: mask is " + std::to_string(keep.nx) + "x" +
                                                std::to_string(keep.ny) + " but the image is " +
                                                std::to_string(image.nx) + "x" + std::to_string(image.ny));
    }
    out.nx = image.nx;
    out.ny = image.ny;
    out.rgb.resize(image.rgb.size());
    const size_t n_px = keep.keep.size();
    for (size_t i = 0; i < n_px; ++i) {
        const uint8_t * src = keep.keep[i] ? &image.rgb[i * 3] : &fill.rgb[i * 3];
        out.rgb[i * 3 + 0] = src[0];
        out.rgb[i * 3 + 1] = src[1];
        out.rgb[i * 3 + 2] = src[2];
    }
}

std::vector<std::vector<int32_t>> mask_to_polygons(const mask & m) {
    cv::Mat img(m.ny, m.nx, CV_8U);
    for (int y = 0; y < m.ny; ++y) {
        for (int x = 0; x < m.nx; ++x) {
            img.at<uint8_t>(y, x) = m.keep[size_t(y) * m.nx + x] ? 255 : 0;
        }
    }
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(img, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
    std::vector<std::vector<int32_t>> polygons;
    for (const auto & contour : contours) {
        if (contour.size() < 3) {
            continue;
        }
        std::vector<int32_t> poly;
        for (const cv::Point & p : contour) {
            poly.push_back(p.x);
            poly.push_back(p.y);
        }
        polygons.push_back(std::move(poly));
    }
    return polygons;
}

mask_key mask_hash(const mask & keep) {
    // Pack the keep bits 64 pixels to a word and fold the words into two differently seeded accumulators:
    // 128 bits make an accidental collision (which would silently return another mask's scores from the
    // memo) practically impossible, at a fraction of the cost of storing and comparing whole masks.
    auto mix = [](uint64_t x) {
        x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 27; x *= 0x94d049bb133111ebull;
        return x ^ (x >> 31);
    };
    mask_key key{mix(uint64_t(uint32_t(keep.nx)) << 32 | uint32_t(keep.ny)), 0x9e3779b97f4a7c15ull};
    const size_t n = keep.keep.size();
    for (size_t i = 0; i < n; i += 64) {
        uint64_t word = 0;
        const size_t end = std::min(n, i + 64);
        for (size_t j = i; j < end; ++j) {
            word |= uint64_t(keep.keep[j] != 0) << (j - i);
        }
        key.lo = mix(key.lo ^ word) + i;
        key.hi = mix(key.hi + word * 0x9e3779b97f4a7c15ull) ^ i;
    }
    return key;
}

} // namespace eagle
