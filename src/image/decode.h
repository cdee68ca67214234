// Private: every image file eagle reads (images, masks, region labels) goes through here, so no decoder prints.
#pragma once

#include <opencv2/core.hpp>

#include <string>

namespace eagle::detail {

// Reads and decodes `path` with cv::imread flags. Every file's size is held to max_image_side / max_image_pixels
// (eagle/image.h) from its header, before a decoder allocates: PNGs are checked and made canonical first
// (png-check.h), JPEGs decoded once by a silent libjpeg (jpeg-check.h), BMP, TIFF, WebP and PNM/PAM/PFM sized
// from their headers (image-header.h); other files are refused. No decoder prints: OpenCV's own log is silenced
// once per process. Throws errc::io naming `what` and the path for a missing, unreadable, unrecognised or
// undecodable file, and errc::invalid_argument for an image over the limits.
cv::Mat decode_image_file(const std::string & path, int flags, const char * what);

} // namespace eagle::detail
