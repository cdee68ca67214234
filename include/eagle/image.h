// eagle/image.h - images, per-pixel keep masks, and masking.
//
// All images are 8-bit RGB, row-major, interleaved (RGBRGB...), the layout libmtmd's bitmaps take.
// A mask says per pixel keep (nonzero) or remove (0); masking replaces removed pixels with the fill
// (black by default, as the EAGLE reference does before the model's own preprocessing).
// Thread safety: every function is pure apart from the files it reads or writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eagle {

struct image_rgb8 {
    int32_t nx = 0;            // width in pixels
    int32_t ny = 0;            // height in pixels
    std::vector<uint8_t> rgb;  // nx * ny * 3 bytes

    bool empty() const { return nx == 0 || ny == 0; }
};

struct mask {
    int32_t nx = 0;
    int32_t ny = 0;
    std::vector<uint8_t> keep; // nx * ny values, nonzero = keep the pixel

    static mask full(int32_t nx, int32_t ny);  // keep everything
    static mask empty(int32_t nx, int32_t ny); // remove everything
};

// What a removed pixel becomes.
enum class fill_mode {
    black, // (0,0,0): the reference's choice
    mean,  // the image's mean color
    blur,  // a strongly blurred copy of the image
};

fill_mode fill_mode_from_string(const std::string & name); // "black" | "mean" | "blur"; throws errc::invalid_argument
const char * fill_mode_name(fill_mode fill);

// The largest image eagle takes: 16384 px on a side and 64 Mpx (8192x8192) in all. A bigger image costs
// gigabytes in masks and fill copies per scored batch; vision encoders downscale far below this anyway.
inline constexpr int32_t max_image_side   = 16384;
inline constexpr int64_t max_image_pixels = int64_t(64) << 20; // 67,108,864 pixels
// Throws errc::invalid_argument when nx x ny exceeds a limit; the message starts with `what` and names the size
// and the limits.
void check_image_size(int64_t nx, int64_t ny, const std::string & what);

// Decodes PNG and JPEG (libpng, libjpeg: the pixels OpenCV's imread makes, EXIF orientation applied), and BMP,
// TIFF, WebP, PNM, PAM, PFM and CMYK JPEGs through OpenCV's imgcodecs in the module libeagle-codecs.so, loaded on
// the first such file. Throws errc::io naming the path (missing, unreadable, corrupt), errc::invalid_argument
// for an image over the limits above (checked from the file's header, before decoding), errc::unsupported when
// a format that needs the module cannot find it. Prints nothing: a PNG's chunks, CRCs and image data are
// checked before libpng sees them, libjpeg's warnings on a damaged JPEG become one warn line through eagle's log
// callback, and OpenCV's log level is set to silent once per process (a host program that wants OpenCV's log
// back can raise it after the first load).
image_rgb8 load_image(const std::string & path);
// A PNG file written through a temporary and a rename (write_file_atomic); throws errc::io naming the path.
void save_png(const image_rgb8 & image, const std::string & path);
std::string png_bytes(const image_rgb8 & image); // the PNG file's bytes (throws errc::io if encoding fails)

// n_frames frames of a video (OpenCV videoio: what its FFmpeg or built-in MJPEG readers open), evenly spaced: frame
// floor((2i + 1) * n_total / (2 * n_frames)) for i = 0..n_frames-1, the middle of each of n_frames equal spans.
// frame_indices, when given, gets those indices. Throws errc::invalid_argument naming the value for n_frames < 1
// or more frames than the video has, errc::io naming the path for a video OpenCV cannot open or read, and like
// check_image_size for frames over the limits. The decoding runs in the module libeagle-video.so, loaded on the
// first call from $EAGLE_VIDEO_MODULE, else from beside the binary that holds this library, beside the running
// executable, where install() puts it (<prefix>/lib/eagle) or where the build put it; without it, throws
// errc::unsupported naming the paths tried. Thread-safe.
std::vector<image_rgb8> read_video_frames(const std::string & path, int32_t n_frames,
                                          std::vector<int32_t> * frame_indices = nullptr);

// A mask from a grayscale/color PNG: nonzero pixels keep. Throws errc::io / errc::invalid_argument (as load_image).
mask load_mask(const std::string & path);

// The fill image for `fill` (computed once per image, then reused for every mask).
image_rgb8 make_fill_image(const image_rgb8 & image, fill_mode fill);

// out = keep ? image : fill, pixel by pixel. Sizes must agree (errc::invalid_argument names both sizes).
void apply_mask(const image_rgb8 & image, const image_rgb8 & fill, const mask & keep, image_rgb8 & out);

// How the (masked) image is shaped before the engine's own preprocessing. It is applied after masking, so
// masks and regions keep referring to the original pixels; pixels a fit drops can then change nothing.
enum class fit_mode {
    native, // as it is: the engine's preprocessing decides (libmtmd letterboxes LLaVA-1.5 to a square, keeps
            // Qwen-VL's aspect ratio)
    crop,   // the centred square: shortest side resized to fit_size (bicubic) when fit_size > 0, then the
            // centred fit_size square cut out (offsets (n - size) / 2, rounded down), as the Hugging Face CLIP
            // image processor does for LLaVA-1.5 (shortest_edge 336, crop 336); fit_size 0 cuts the
            // centred min(nx, ny) square at full resolution and leaves the resize to the engine
    pad,    // centred on a square of side max(nx, ny), the margins (122, 116, 104): the CLIP mean as bytes,
            // the colour libmtmd pads LLaVA-1.5 with
};
fit_mode fit_mode_from_string(const std::string & name); // "native" | "crop" | "pad"; throws errc::invalid_argument
const char * fit_mode_name(fit_mode fit);

// The image as the engine is handed it under `fit` (a copy; native returns the image unchanged). fit_size < 0,
// or fit_size > 0 with a mode other than crop, throws errc::invalid_argument naming the value.
image_rgb8 fit_image(const image_rgb8 & image, fit_mode fit, int32_t fit_size = 0);

// The outer contours of a mask as COCO polygons (flat x0,y0,x1,y1,... lists of pixel coordinates), the ground
// truth format the reference's point game reads. Contours of fewer than 3 points are left out.
std::vector<std::vector<int32_t>> mask_to_polygons(const mask & m);

// 128-bit content key of a mask (for memoization); masks that differ only in which nonzero value marks
// "keep" get the same key.
struct mask_key {
    uint64_t lo = 0;
    uint64_t hi = 0;
    bool operator==(const mask_key &) const = default;
};
struct mask_key_hash {
    size_t operator()(const mask_key & key) const noexcept { return size_t(key.lo ^ (key.hi * 31)); }
};
mask_key mask_hash(const mask & keep);

} // namespace eagle
