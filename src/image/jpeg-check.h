// Private: a JPEG decoded once by libjpeg with handlers that never print, before OpenCV sees it. OpenCV gives
// libjpeg its own error_exit but keeps libjpeg's default output_message, so a damaged file makes libjpeg print
// "Corrupt JPEG data: ..." to stderr (OpenCV exposes no hook), and a library that never prints must not hand it
// such a file.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace eagle::detail {

bool has_jpeg_signature(const std::vector<uint8_t> & file);

struct jpeg_check {
    cv::Mat pixels;       // what libjpeg decoded (BGR, or gray for IMREAD_GRAYSCALE); set only when damaged
    std::string warning;  // libjpeg's first warning ("Corrupt JPEG data: ..."); empty: a clean file
};

// Decodes `file` silently. Throws errc::invalid_argument for a size over max_image_side / max_image_pixels
// (eagle/image.h), read from the header before anything is decompressed, and errc::io naming `path` and
// libjpeg's message for a file libjpeg cannot decode. A clean file leaves `pixels` empty (OpenCV decodes it as
// before, EXIF orientation included); a file libjpeg only warns about returns libjpeg's own pixels (what it
// recovered; OpenCV's would be the same) with the warning, and OpenCV never sees it.
jpeg_check check_jpeg(const std::vector<uint8_t> & file, bool is_gray, const std::string & path, const char * what);

} // namespace eagle::detail
