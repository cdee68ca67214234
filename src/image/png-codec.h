// Private: PNG pixels in and out through libpng, as OpenCV 4.6's imdecode and imencode make them, without
// linking OpenCV's imgcodecs. imgcodecs pulls in about 120 shared libraries (GDAL's among them) that every
// process loads and relocates at start: 0.16 s of a 2.6 s explanation (BENCHMARKS.md), paid even though eagle
// reads PNG and JPEG almost always. The other formats go to the codecs module (codecs-module.h).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace eagle::detail {

// Decodes a canonical PNG (sanitize_png's output: libpng has nothing to warn about) with cv::imread flags
// IMREAD_COLOR (8-bit BGR), IMREAD_GRAYSCALE (8-bit gray) or IMREAD_ANYDEPTH | IMREAD_GRAYSCALE (8- or 16-bit
// gray), pixel for pixel as cv::imdecode: the same libpng transforms (16 bits stripped to the high byte, alpha
// dropped, palettes and low-depth grays expanded, colour made gray with libpng's 0.299/0.587 weights) and the
// eXIf orientation applied. Throws errc::io naming `what` and `path` when libpng fails.
cv::Mat decode_png(const std::vector<uint8_t> & canonical_png, int flags, const std::string & path, const char * what);

// A PNG of `pixels` (CV_8UC3 in BGR order, CV_8UC1 or CV_16UC1), with OpenCV's default settings for speed
// (the Sub filter, zlib level 1, run-length strategy). Throws errc::invalid_argument for another type and
// errc::io if libpng fails, naming `what`.
std::vector<uint8_t> encode_png(const cv::Mat & pixels, const char * what);

} // namespace eagle::detail
