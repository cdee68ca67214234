// Private: every image file eagle reads (images, masks, region labels) goes through here, so no decoder prints.
#pragma once

#include <opencv2/core.hpp>

#include <string>

namespace eagle::detail {

// Reads and decodes `path` with cv::imread flags. PNGs are checked and made canonical first (png-check.h), so
// libpng never prints; OpenCV's own log is silenced once per process (LOG_LEVEL_SILENT). Throws errc::io naming
// `what` and the path for a missing, unreadable or undecodable file, and errc::invalid_argument for an image over
// max_image_side / max_image_pixels (eagle/image.h): PNGs before decoding, other formats right after.
cv::Mat decode_image_file(const std::string & path, int flags, const char * what);

} // namespace eagle::detail
