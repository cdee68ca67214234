// Private: every image file eagle reads (images, masks, region labels) goes through here, so no decoder prints.
#pragma once

#include "eagle/image.h"

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

// Throws errc::io "<what>: '<path>' does not exist or is not a file".
void check_readable(const std::string & path, const char * what);

// OpenCV's own log (its decoders' and video backends' warnings on stderr) off, once per process.
void silence_opencv_log();

// An 8-bit BGR Mat (OpenCV's order) as eagle's RGB image.
image_rgb8 from_bgr(const cv::Mat & bgr);

} // namespace eagle::detail
