// Private: a PNG checked before OpenCV sees it. OpenCV decodes PNGs with libpng's default error and warning
// handlers, which print "libpng error: ..." / "libpng warning: ..." straight to stderr (OpenCV exposes no hook),
// so a library that never prints must not hand it a file libpng would complain about.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eagle::detail {

bool has_png_signature(const std::vector<uint8_t> & file);

// A canonical copy of a PNG file: IHDR, PLTE (palette images, padded to 2^depth entries with black, as libpng
// reads out-of-range indices), all image data in one IDAT, the first eXIf, IEND. Ancillary chunks OpenCV does
// not use for RGB/gray pixels (gAMA, iCCP, sRGB, tRNS, text...) are dropped, so libpng has nothing to warn about;
// the decoded pixels are the same. Throws errc::io naming `path` and the defect (a bad CRC, a truncated file, a
// malformed IHDR/PLTE, image data that does not inflate to exactly the bytes the IHDR implies, a bad filter
// byte), and errc::invalid_argument for a size over max_image_side / max_image_pixels (eagle/image.h), both
// before any pixel is inflated.
std::vector<uint8_t> sanitize_png(const std::vector<uint8_t> & file, const std::string & path, const char * what);

} // namespace eagle::detail
