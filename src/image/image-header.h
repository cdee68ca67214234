// Private: what an image file's header says, read before any decoder sees the file. OpenCV checks a decoded
// size only against its own limit (2^30 pixels: 3 GB for a BGR image, 12 GB for an OpenEXR one), so a
// 40-byte BMP could make it allocate gigabytes; eagle's limits (max_image_side, max_image_pixels) must hold
// before that. PNG and JPEG have their own, deeper checks (png-check.h, jpeg-check.h); this file covers the
// other formats eagle hands to OpenCV (codecs-module.h), and the EXIF orientation of the PNGs and JPEGs that
// libpng and libjpeg decode for us.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eagle::detail {

struct image_header {
    const char * format; // "BMP", "TIFF", "WebP", "PNM", "PAM", "PFM"
    int64_t width;
    int64_t height;
};

// The format named by the file's signature and the size its header states. Returns nullopt for a file that is
// none of BMP, TIFF (BigTIFF too), WebP, PNM (P1-P6), PAM (P7) and PFM. Throws errc::io naming `what` and
// `path` when the signature matches but the header is cut short or does not state a size.
std::optional<image_header> read_image_header(const std::vector<uint8_t> & file, const std::string & path, const char * what);

// The EXIF orientation (1..8) in EXIF data (a TIFF header and its first IFD, as in a PNG's eXIf chunk); 1 where
// there is none or it cannot be read.
int tiff_exif_orientation(const uint8_t * tiff, size_t size);

// The EXIF orientation (1..8) in a JPEG's APP1 segment; 1 where there is none or it cannot be read.
int jpeg_exif_orientation(const std::vector<uint8_t> & file);

// Turns decoded pixels upright for an EXIF orientation, as OpenCV's imdecode does for the files it decodes.
cv::Mat apply_exif_orientation(const cv::Mat & pixels, int orientation);

} // namespace eagle::detail
