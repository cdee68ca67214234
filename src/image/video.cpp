// read_video_frames (eagle/image.h): a video's frames as the images of one prompt, sampled as the authors
// sample theirs (evenly over the clip). Two passes: the first counts the frames (containers' frame counts are
// estimates, e.g. from the duration), the second decodes only the chosen ones. The decoding is done by the module
// libeagle-video.so (video-module.h says why), loaded here the first time a video is read.
#include "eagle/image.h"

#include "eagle/error.h"
#include "image/decode.h"
#include "image/module-loader.h"
#include "image/video-module.h"

#include <exception>
#include <string>
#include <vector>

namespace eagle {

namespace {

struct video_module {
    eagle_video_count_fn count = nullptr;
    eagle_video_read_fn read = nullptr;
};

video_module load_video_module() {
    const std::vector<void *> symbols = detail::load_module(EAGLE_VIDEO_MODULE_NAME, "EAGLE_VIDEO_MODULE", "reading videos",
                                                            {EAGLE_VIDEO_COUNT_SYMBOL, EAGLE_VIDEO_READ_SYMBOL});
    return {reinterpret_cast<eagle_video_count_fn>(symbols[0]), reinterpret_cast<eagle_video_read_fn>(symbols[1])};
}

// what the module's frame callback fills
struct frame_sink {
    std::string path;
    std::vector<image_rgb8> frames;
    std::exception_ptr failure; // a frame eagle refuses (check_image_size): rethrown after the module returns
};

int take_frame(void * user, int32_t index, int32_t width, int32_t height, const uint8_t * bgr, size_t row_bytes) {
    auto & sink = *static_cast<frame_sink *>(user);
    try {
        check_image_size(width, height, "video '" + sink.path + "': frame " + std::to_string(index));
        const cv::Mat view(height, width, CV_8UC3, const_cast<uint8_t *>(bgr), row_bytes);
        sink.frames.push_back(detail::from_bgr(view));
        return 0;
    } catch (...) {
        sink.failure = std::current_exception();
        return 1;
    }
}

} // namespace

std::vector<image_rgb8> read_video_frames(const std::string & path, int32_t n_frames, std::vector<int32_t> * frame_indices) {
    if (n_frames < 1) {
        throw error(errc::invalid_argument, "video '" + path + "': frames must be >= 1, got " + std::to_string(n_frames));
    }
    detail::check_readable(path, "video");
    const video_module module = load_video_module();
    detail::silence_opencv_log(); // the module's OpenCV is this process's: its video backends' warnings off too
    std::string message(path.size() + 512, '\0'); // the module's messages name the path
    const auto text = [&] { return std::string(message.c_str()); };
    int64_t n_total = 0;
    if (module.count(path.c_str(), &n_total, message.data(), message.size()) != 0) {
        throw error(errc::io, text());
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
    frame_sink sink{path, {}, nullptr};
    const int rc = module.read(path.c_str(), wanted.data(), int32_t(wanted.size()), take_frame, &sink, message.data(),
                               message.size());
    if (sink.failure) {
        std::rethrow_exception(sink.failure);
    }
    if (rc != 0) {
        throw error(errc::io, text());
    }
    if (frame_indices) {
        *frame_indices = wanted;
    }
    return std::move(sink.frames);
}

} // namespace eagle
