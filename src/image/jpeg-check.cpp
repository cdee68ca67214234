#include "jpeg-check.h"

#include "eagle/error.h"
#include "eagle/image.h"

#include <csetjmp>
#include <cstdio> // jpeglib.h needs FILE and size_t first
#include <jpeglib.h>

namespace eagle::detail {

namespace {

// libjpeg reports errors through error_exit (which must not return) and warnings through emit_message; both
// are kept here instead of printed. longjmp out of error_exit is libjpeg's documented way to recover; no C++
// object with a destructor lives between the setjmp and the libjpeg calls below.
struct silent_errors {
    jpeg_error_mgr pub;
    std::jmp_buf jump;
    char first_warning[JMSG_LENGTH_MAX] = {};
    char error[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
    auto * err = reinterpret_cast<silent_errors *>(cinfo->err);
    err->pub.format_message(cinfo, err->error);
    std::longjmp(err->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
    auto * err = reinterpret_cast<silent_errors *>(cinfo->err);
    if (level < 0) { // a warning (level >= 0 is trace output, off by default)
        if (err->pub.num_warnings == 0) {
            err->pub.format_message(cinfo, err->first_warning);
        }
        err->pub.num_warnings++;
    }
}

void on_output(j_common_ptr /*cinfo*/) {}

// The decoding steps that may longjmp; plain C state only. Returns false with err->error set on failure.
// `rows` receives the decoded scanlines (allocated by the caller once the header gave the size).
bool decode(jpeg_decompress_struct & cinfo, silent_errors & err, const std::vector<uint8_t> & file, bool is_gray,
            const std::string & path, const char * what, cv::Mat & out) {
    if (setjmp(err.jump)) {
        return false;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, file.data(), static_cast<unsigned long>(file.size()));
    jpeg_read_header(&cinfo, TRUE);
    // size limits before anything is decompressed (check_image_size throws a C++ exception; the caller destroys
    // cinfo on every path)
    check_image_size(cinfo.image_width, cinfo.image_height, std::string(what) + ": '" + path + "'");
    // libjpeg converts CMYK to nothing else; such files are decoded as CMYK (the check still runs)
    const bool is_cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = is_cmyk ? JCS_CMYK : is_gray ? JCS_GRAYSCALE : JCS_EXT_BGR;
    jpeg_start_decompress(&cinfo);
    out.create(static_cast<int>(cinfo.output_height), static_cast<int>(cinfo.output_width),
               CV_8UC(static_cast<int>(cinfo.output_components)));
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out.ptr<uint8_t>(static_cast<int>(cinfo.output_scanline));
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    return true;
}

} // namespace

bool has_jpeg_signature(const std::vector<uint8_t> & file) {
    return file.size() >= 3 && file[0] == 0xFF && file[1] == 0xD8 && file[2] == 0xFF;
}

jpeg_check check_jpeg(const std::vector<uint8_t> & file, bool is_gray, const std::string & path, const char * what) {
    jpeg_decompress_struct cinfo{};
    silent_errors err;
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    err.pub.output_message = on_output;
    cv::Mat pixels;
    bool ok = false;
    try {
        ok = decode(cinfo, err, file, is_gray, path, what, pixels);
    } catch (...) {
        jpeg_destroy_decompress(&cinfo);
        throw;
    }
    jpeg_destroy_decompress(&cinfo);
    if (!ok) {
        throw error(errc::io, std::string(what) + ": '" + path + "' is not a valid JPEG (libjpeg: " + err.error + ")");
    }
    jpeg_check out;
    if (err.pub.num_warnings > 0) {
        out.warning = err.first_warning;
    }
    if (pixels.channels() == 4) { // OpenCV's CMYK conversion is its own; a damaged CMYK file is not guessed at
        if (!out.warning.empty()) {
            throw error(errc::io, std::string(what) + ": '" + path + "' is a damaged CMYK JPEG (libjpeg: " + out.warning + ")");
        }
        return out;
    }
    out.pixels = pixels;
    return out;
}

} // namespace eagle::detail
