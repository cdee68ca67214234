// Private: a PNG checked before libpng sees it. eagle decodes PNGs with libpng and silent handlers
// (png-codec.h); the check came first, when OpenCV decoded them with libpng's default handlers, which print
// "libpng error: ..." / "libpng warning: ..." to stderr, and it still gives the defects eagle's own messages
// and holds the size limits before anything is inflated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eagle::detail {

bool has_png_signature(const std::vector<uint8_t> & file);

// A canonical copy of a PNG file: IHDR, PLTE (palette images, padded to 2^depth entries with black, as libpng
// reads out-of-range indices), all image data in one IDAT, the first eXIf, IEND. Other ancillary chunks (gAMA,
// iCCP, sRGB, tRNS, text...) are dropped, so libpng has nothing to warn about; colour and gray reads of the
// pixels are OpenCV's. One difference from cv2.imread: a gray read (masks, region labels) of a colour PNG that
// carries gAMA or sRGB, where libpng would weigh the channels in linear light, here weighs the stored values. Throws errc::io naming `path` and the defect (a bad CRC, a truncated file, a
// malformed IHDR/PLTE, image data that does not inflate to exactly the bytes the IHDR implies, a bad filter
// byte), and errc::invalid_argument for a size over max_image_side / max_image_pixels (eagle/image.h), both
// before any pixel is inflated.
std::vector<uint8_t> sanitize_png(const std::vector<uint8_t> & file, const std::string & path, const char * what);

} // namespace eagle::detail
