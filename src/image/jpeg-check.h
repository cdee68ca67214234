// Private: JPEGs decoded by libjpeg with handlers that never print. OpenCV gives libjpeg its own error_exit but
// keeps libjpeg's default output_message, so a damaged file makes libjpeg print "Corrupt JPEG data: ..." to
// stderr (OpenCV exposes no hook), and a library that never prints must not hand it such a file. Decoding here
// also keeps OpenCV's imgcodecs out of the process (png-codec.h says why): the pixels are those OpenCV's
// decoder makes (libjpeg's defaults, BGR or gray output), the caller applies the EXIF orientation.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace eagle::detail {

bool has_jpeg_signature(const std::vector<uint8_t> & file);

struct jpeg_check {
    cv::Mat pixels;       // what libjpeg decoded (BGR, or gray when is_gray); empty for a clean CMYK file
    std::string warning;  // libjpeg's first warning ("Corrupt JPEG data: ..."); empty: a clean file
};

// Decodes `file` silently. Throws errc::invalid_argument for a size over max_image_side / max_image_pixels
// (eagle/image.h), read from the header before anything is decompressed, and errc::io naming `path` and
// libjpeg's message for a file libjpeg cannot decode or a damaged CMYK one. A file libjpeg only warns about
// returns what libjpeg recovered (OpenCV's pixels would be the same) with the warning. A clean CMYK file returns
// no pixels: OpenCV converts CMYK to BGR its own way, so the codecs module decodes it (codecs-module.h).
jpeg_check check_jpeg(const std::vector<uint8_t> & file, bool is_gray, const std::string & path, const char * what);

} // namespace eagle::detail
