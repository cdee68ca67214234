// read_video_frames (eagle/image.h): a video's frames as the images of one prompt, sampled as the authors
// sample theirs (evenly over the clip). Two passes: the first counts the frames (containers' frame counts are
// estimates, e.g. from the duration), the second decodes only the chosen ones.
#include "eagle/image.h"

#include "eagle/error.h"
#include "image/decode.h"

#include <opencv2/videoio.hpp>

namespace eagle {

namespace {

// FFmpeg's reader first, then OpenCV's own MJPEG one (what its built-in writer makes, when FFmpeg is absent);
// never GStreamer or the image-sequence reader, which take a path for a pipeline or a file-name pattern
cv::VideoCapture open_video(const std::string & path) {
    detail::silence_opencv_log();
    detail::check_readable(path, "video");
    for (int api : {int(cv::CAP_FFMPEG), int(cv::CAP_OPENCV_MJPEG)}) {
        cv::VideoCapture capture;
        try {
            capture.open(path, api);
        } catch (const cv::Exception &) {
            continue; // a backend that throws on a file it cannot parse: the next one may read it
        }
        if (capture.isOpened()) {
            return capture;
        }
    }
    throw error(errc::io, "cannot open video '" + path + "' (not a format OpenCV's FFmpeg or MJPEG readers know)");
}

} // namespace

std::vector<image_rgb8> read_video_frames(const std::string & path, int32_t n_frames, std::vector<int32_t> * frame_indices) {
    if (n_frames < 1) {
        throw error(errc::invalid_argument, "video '" + path + "': frames must be >= 1, got " + std::to_string(n_frames));
    }
    int64_t n_total = 0;
    {
        cv::VideoCapture capture = open_video(path);
        while (capture.grab()) {
            ++n_total;
        }
    }
    if (n_total == 0) {
        throw error(errc::io, "video '" + path + "' has no frame OpenCV can read");
    }
    if (n_frames > n_total) {
        throw error(errc::invalid_argument, "video '" + path + "' has " + std::to_string(n_total) + " frames, fewer than frames " +
                                                std::to_string(n_frames));
    }
    std::vector<int32_t> wanted;
    for (int32_t i = 0; i < n_frames; ++i) {
        wanted.push_back(int32_t((2 * int64_t(i) + 1) * n_total / (2 * int64_t(n_frames))));
    }
    std::vector<image_rgb8> frames;
    cv::VideoCapture capture = open_video(path);
    cv::Mat bgr;
    for (int32_t index = 0; frames.size() < wanted.size(); ++index) {
        if (!capture.grab()) {
            throw error(errc::io, "video '" + path + "': frame " + std::to_string(index) + " could not be read");
        }
        if (index != wanted[frames.size()]) {
            continue;
        }
        if (!capture.retrieve(bgr) || bgr.empty() || bgr.type() != CV_8UC3) {
            throw error(errc::io, "video '" + path + "': frame " + std::to_string(index) + " could not be decoded to 8-bit colour");
        }
        check_image_size(bgr.cols, bgr.rows, "video '" + path + "': frame " + std::to_string(index));
        frames.push_back(detail::from_bgr(bgr));
    }
    if (frame_indices) {
        *frame_indices = wanted;
    }
    return frames;
}

} // namespace eagle
