// libeagle-video.so: OpenCV's video readers behind the C interface of video-module.h. Loaded by read_video_frames
// (video.cpp), which keeps the sampling, the checks and eagle's errors; this side only opens and decodes.
#include "image/video-module.h"

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include <cstdio>
#include <string>

namespace {

void put_message(char * message, size_t message_size, const std::string & text) {
    if (message && message_size > 0) {
        std::snprintf(message, message_size, "%s", text.c_str());
    }
}

// FFmpeg's reader first, then OpenCV's own MJPEG one (what its built-in writer makes, when FFmpeg is absent);
// never GStreamer or the image-sequence reader, which take a path for a pipeline or a file-name pattern
bool open_video(cv::VideoCapture & capture, const char * path) {
    for (int api : {int(cv::CAP_FFMPEG), int(cv::CAP_OPENCV_MJPEG)}) {
        try {
            capture.open(path, api);
        } catch (const cv::Exception &) {
            continue; // a backend that throws on a file it cannot parse: the next one may read it
        }
        if (capture.isOpened()) {
            return true;
        }
    }
    return false;
}

// Runs `body`, which returns 0, a frame callback's code or -1 with a message, so that no exception crosses the C
// interface: one becomes -1 with its text.
template <typename Body>
int guarded(const char * path, char * message, size_t message_size, Body body) {
    try {
        return body();
    } catch (const std::exception & e) {
        put_message(message, message_size, "video '" + std::string(path) + "': " + e.what());
    } catch (...) {
        put_message(message, message_size, "video '" + std::string(path) + "': the decoder failed");
    }
    return -1;
}

// `capture` opened on `path`, or false with the message
bool open_or_say(cv::VideoCapture & capture, const char * path, char * message, size_t message_size) {
    if (open_video(capture, path)) {
        return true;
    }
    put_message(message, message_size,
                "cannot open video '" + std::string(path) + "' (not a format OpenCV's FFmpeg or MJPEG readers know)");
    return false;
}

} // namespace

extern "C" {

__attribute__((visibility("default"))) int eagle_video_count_frames(const char * path, int64_t * n_frames, char * message,
                                                                    size_t message_size) {
    return guarded(path, message, message_size, [&] {
        cv::VideoCapture capture;
        if (!open_or_say(capture, path, message, message_size)) {
            return -1;
        }
        int64_t n = 0;
        while (capture.grab()) {
            ++n;
        }
        *n_frames = n;
        return 0;
    });
}

__attribute__((visibility("default"))) int eagle_video_read_frames(const char * path, const int32_t * wanted, int32_t n_wanted,
                                                                   eagle_video_frame_fn on_frame, void * user,
                                                                   char * message, size_t message_size) {
    return guarded(path, message, message_size, [&] {
        cv::VideoCapture capture;
        if (!open_or_say(capture, path, message, message_size)) {
            return -1;
        }
        const auto frame_failed = [&](int32_t index, const char * what) {
            put_message(message, message_size, "video '" + std::string(path) + "': frame " + std::to_string(index) + what);
            return -1;
        };
        cv::Mat bgr;
        int32_t n_done = 0;
        for (int32_t index = 0; n_done < n_wanted; ++index) {
            if (!capture.grab()) {
                return frame_failed(index, " could not be read");
            }
            if (index != wanted[n_done]) {
                continue;
            }
            if (!capture.retrieve(bgr) || bgr.empty() || bgr.type() != CV_8UC3) {
                return frame_failed(index, " could not be decoded to 8-bit colour");
            }
            if (const int rc = on_frame(user, index, bgr.cols, bgr.rows, bgr.ptr<uint8_t>(0), bgr.step[0]); rc != 0) {
                return rc;
            }
            ++n_done;
        }
        return 0;
    });
}

} // extern "C"
