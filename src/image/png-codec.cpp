#include "png-codec.h"

#include "image-header.h"

#include "eagle/error.h"

#include <opencv2/imgcodecs.hpp> // the IMREAD_* flag values only: nothing from the library is called

#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

namespace eagle::detail {

namespace {

// libpng reports errors through a handler that must not return; longjmp back to the setjmp below is its
// documented way out. Warnings are dropped: the library never prints (and canonical PNGs raise none).
struct png_failure {
    char message[256] = {};
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
    auto * failure = static_cast<png_failure *>(png_get_error_ptr(png));
    std::snprintf(failure->message, sizeof(failure->message), "%s", message);
    png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

struct memory_reader {
    const uint8_t * data;
    size_t size;
    size_t pos = 0;
};

void read_from_memory(png_structp png, png_bytep out, png_size_t n) {
    auto * in = static_cast<memory_reader *>(png_get_io_ptr(png));
    if (n > in->size - in->pos) {
        png_error(png, "the file ends early");
    }
    std::memcpy(out, in->data + in->pos, n);
    in->pos += n;
}

void write_to_memory(png_structp png, png_bytep data, png_size_t n) {
    auto * out = static_cast<std::vector<uint8_t> *>(png_get_io_ptr(png));
    try {
        out->insert(out->end(), data, data + n);
    } catch (...) { // no C++ exception may unwind through libpng's frames: a libpng error instead
        png_error(png, "out of memory");
    }
}

// Destroys libpng's read state on every way out of decode_png, exceptions included (no longjmp crosses
// decode_png's frame: each lands in read_header or read_rows).
struct read_state {
    png_structp png = nullptr;
    png_infop info = nullptr;
    png_infop end_info = nullptr;
    read_state(const read_state &) = delete;
    read_state & operator=(const read_state &) = delete;
    read_state() = default;
    ~read_state() { png_destroy_read_struct(&png, &info, &end_info); }
};

void flush_nothing(png_structp) {}

// The EXIF orientation in the eXIf chunk libpng read (before or after the image data), 1 where there is none.
int exif_orientation_of(png_structp png, png_infop info, png_infop end_info) {
    png_uint_32 n = 0;
    png_bytep exif = nullptr;
    if (png_get_valid(png, info, PNG_INFO_eXIf)) {
        png_get_eXIf_1(png, info, &n, &exif);
    } else if (png_get_valid(png, end_info, PNG_INFO_eXIf)) {
        png_get_eXIf_1(png, end_info, &n, &exif);
    }
    return exif && n > 0 ? tiff_exif_orientation(exif, n) : 1;
}

// The two steps that may longjmp hold plain C state only; the Mat and the row pointers live in the caller, so
// no C++ object is skipped by a jump.
bool read_header(png_structp png, png_infop info, png_uint_32 & width, png_uint_32 & height, int & bit_depth,
                 int & color_type) {
    if (setjmp(png_jmpbuf(png))) {
        return false;
    }
    png_read_info(png, info);
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
    return true;
}

bool read_rows(png_structp png, png_infop info, png_infop end_info, int bit_depth, int color_type, bool color,
               bool strip_16, png_bytep * rows) {
    if (setjmp(png_jmpbuf(png))) {
        return false;
    }
    // OpenCV's PNG decoder's transforms, in its order
    if (strip_16) {
        png_set_strip_16(png);
    } else {
        png_set_swap(png); // 16-bit samples in this machine's (little-endian) order
    }
    png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
    }
    if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    if ((color_type & PNG_COLOR_MASK_COLOR) != 0 && color) {
        png_set_bgr(png);
    } else if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && color) {
        png_set_gray_to_rgb(png);
    } else if ((color_type & PNG_COLOR_MASK_COLOR) != 0 && !color) {
        png_set_rgb_to_gray(png, 1, 0.299, 0.587);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_read_image(png, rows);
    png_read_end(png, end_info);
    return true;
}

} // namespace

cv::Mat decode_png(const std::vector<uint8_t> & canonical_png, int flags, const std::string & path, const char * what) {
    if (flags != cv::IMREAD_COLOR && flags != cv::IMREAD_GRAYSCALE && flags != (cv::IMREAD_ANYDEPTH | cv::IMREAD_GRAYSCALE)) {
        throw error(errc::invalid_argument, "decode_png: flags " + std::to_string(flags) +
                                                " (IMREAD_COLOR, IMREAD_GRAYSCALE or IMREAD_ANYDEPTH | IMREAD_GRAYSCALE)");
    }
    png_failure failure;
    read_state state;
    state.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, on_png_error, on_png_warning);
    state.info = state.png ? png_create_info_struct(state.png) : nullptr;
    state.end_info = state.png ? png_create_info_struct(state.png) : nullptr;
    png_structp png = state.png;
    png_infop info = state.info, end_info = state.end_info;
    if (!png || !info || !end_info) {
        throw error(errc::io, std::string(what) + ": '" + path + "': libpng could not start");
    }
    memory_reader in{canonical_png.data(), canonical_png.size()};
    png_set_read_fn(png, &in, read_from_memory);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0;
    bool ok = read_header(png, info, width, height, bit_depth, color_type);
    // the Mat type imdecode asks its decoder for: 8 bits unless IMREAD_ANYDEPTH, 3 channels for IMREAD_COLOR
    const bool color = (flags & cv::IMREAD_COLOR) != 0;
    const int depth = (flags & cv::IMREAD_ANYDEPTH) != 0 && bit_depth == 16 ? CV_16U : CV_8U;
    cv::Mat pixels;
    std::vector<png_bytep> rows;
    if (ok) {
        pixels.create(int(height), int(width), CV_MAKETYPE(depth, color ? 3 : 1));
        rows.resize(height);
        for (png_uint_32 y = 0; y < height; ++y) {
            rows[y] = pixels.ptr<uint8_t>(int(y));
        }
        ok = read_rows(png, info, end_info, bit_depth, color_type, color, depth == CV_8U && bit_depth == 16, rows.data());
    }
    if (!ok) {
        throw error(errc::io, std::string(what) + ": cannot decode '" + path + "' as a PNG (libpng: " + failure.message + ")");
    }
    // upright, as imdecode turns them for all three flags taken here; the eXIf chunk is parsed outside the setjmp
    // frames (the TIFF reader builds C++ objects)
    return apply_exif_orientation(pixels, exif_orientation_of(png, info, end_info));
}

namespace {

bool write_pixels(png_structp png, png_infop info, const cv::Mat & pixels) {
    if (setjmp(png_jmpbuf(png))) {
        return false;
    }
    const int bit_depth = pixels.depth() == CV_16U ? 16 : 8;
    const int color_type = pixels.channels() == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY;
    // OpenCV's defaults, tuned for speed: the Sub filter, zlib's fastest level, run-length matches only
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
    png_set_compression_level(png, Z_BEST_SPEED);
    png_set_compression_strategy(png, Z_RLE);
    png_set_IHDR(png, info, png_uint_32(pixels.cols), png_uint_32(pixels.rows), bit_depth, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (bit_depth == 16) {
        png_set_swap(png);
    }
    if (color_type == PNG_COLOR_TYPE_RGB) {
        png_set_bgr(png);
    }
    for (int y = 0; y < pixels.rows; ++y) {
        png_write_row(png, pixels.ptr<uint8_t>(y));
    }
    png_write_end(png, info);
    return true;
}

} // namespace

std::vector<uint8_t> encode_png(const cv::Mat & pixels, const char * what) {
    const int type = pixels.type();
    if (pixels.empty() || (type != CV_8UC3 && type != CV_8UC1 && type != CV_16UC1)) {
        throw error(errc::invalid_argument, std::string(what) + ": cannot write a PNG of a " + std::to_string(pixels.cols) +
                                                "x" + std::to_string(pixels.rows) + " image of OpenCV type " +
                                                std::to_string(type) + " (expected 8-bit BGR or gray, or 16-bit gray)");
    }
    png_failure failure;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &failure, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        throw error(errc::io, std::string(what) + ": libpng could not start");
    }
    std::vector<uint8_t> out;
    png_set_write_fn(png, &out, write_to_memory, flush_nothing);
    const bool ok = write_pixels(png, info, pixels);
    png_destroy_write_struct(&png, &info);
    if (!ok) {
        throw error(errc::io, std::string(what) + ": cannot encode a PNG (libpng: " + failure.message + ")");
    }
    return out;
}

} // namespace eagle::detail
