// Private: the C interface of libeagle-video.so, the module that decodes videos (video-module.cpp).
//
// Video decoding is the one use of OpenCV's videoio, and videoio brings FFmpeg's codecs: about a hundred shared
// libraries that every process linking it loads and relocates at start (0.07 s of the eagle executable's 0.29 s start,
// BENCHMARKS.md). So it lives in a module that read_video_frames (video.cpp) loads the first time a video is read.
// The interface is plain C, so neither side's exceptions or C++ types cross it.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {

// One decoded frame as 8-bit BGR rows (OpenCV's order), `row_bytes` apart; valid only during the call.
// Returns 0 to go on, nonzero to stop (the read then fails with the code returned).
typedef int (*eagle_video_frame_fn)(void * user, int32_t index, int32_t width, int32_t height, const uint8_t * bgr,
                                    size_t row_bytes);

// Counts the frames of the video at `path` by reading them all (containers' counts are estimates). Returns 0, or
// nonzero with a message in `message` (NUL-terminated, cut to `message_size`).
typedef int (*eagle_video_count_fn)(const char * path, int64_t * n_frames, char * message, size_t message_size);

// Decodes the frames `wanted` (ascending indices, `n_wanted` of them) of the video at `path` and hands each to
// `on_frame`. Returns 0, the nonzero code `on_frame` returned, or -1 with a message in `message`.
typedef int (*eagle_video_read_fn)(const char * path, const int32_t * wanted, int32_t n_wanted,
                                   eagle_video_frame_fn on_frame, void * user, char * message, size_t message_size);

// the module's exported names
#define EAGLE_VIDEO_COUNT_SYMBOL "eagle_video_count_frames"
#define EAGLE_VIDEO_READ_SYMBOL  "eagle_video_read_frames"
#define EAGLE_VIDEO_MODULE_NAME  "libeagle-video.so"

} // extern "C"
