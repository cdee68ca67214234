// Private: the C interface of libeagle-codecs.so, the module that decodes the image formats eagle does not decode
// itself (codecs-module.cpp): BMP, TIFF, WebP, PNM, PAM, PFM and CMYK JPEGs.
//
// Those go through OpenCV's imgcodecs, which brings about 120 shared libraries (GDAL's, OpenEXR's, ...) that
// every process linking it loads and relocates at start: 0.16 s of a 2.6 s explanation. eagle decodes PNG and
// JPEG with libpng and libjpeg itself (png-codec.h, jpeg-check.h), so imgcodecs lives in this module, which
// decode_image_file (image.cpp) loads the first time another format is read. The interface is plain C, so
// neither side's exceptions or C++ types cross it.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {

// The decoded image: `height` rows of `row_bytes` bytes, OpenCV type `cv_type` (CV_8UC1, CV_8UC3 BGR, CV_16UC1,
// ...); valid only during the call. Returns 0 to accept, nonzero to fail the decode with that code.
typedef int (*eagle_codecs_image_fn)(void * user, int32_t width, int32_t height, int32_t cv_type, const uint8_t * data,
                                     size_t row_bytes);

// cv::imdecode(bytes, flags), EXIF orientation included, handed to `on_image`. Returns 0, the nonzero code
// `on_image` returned, or -1 with a message in `message` (NUL-terminated, cut to `message_size`) when OpenCV
// cannot decode the bytes.
typedef int (*eagle_codecs_decode_fn)(const uint8_t * bytes, size_t n_bytes, int flags, eagle_codecs_image_fn on_image,
                                      void * user, char * message, size_t message_size);

// the module's exported name
#define EAGLE_CODECS_DECODE_SYMBOL "eagle_codecs_decode"
#define EAGLE_CODECS_MODULE_NAME   "libeagle-codecs.so"

} // extern "C"
