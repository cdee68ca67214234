// read_video_frames (eagle/image.h): a video's frames as the images of one prompt, sampled as the authors
// sample theirs (evenly over the clip). Two passes: the first counts the frames (containers' frame counts are
// estimates, e.g. from the duration), the second decodes only the chosen ones. The decoding is done by the module
// libeagle-video.so (video-module.h says why), loaded here the first time a video is read.
#include "eagle/image.h"

#include "eagle/error.h"
#include "image/decode.h"
#include "image/video-module.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace eagle {

namespace {

struct video_module {
    eagle_video_count_fn count = nullptr;
    eagle_video_read_fn read = nullptr;
};

// Where the module may be: $EAGLE_VIDEO_MODULE when set (that path only), else beside the binary that holds this
// code (the eagle executable or a test in the build tree; a shared library linking eagle), beside the running
// executable, where install() puts it relative to an installed eagle's folder, then at the configured prefix.
// Every candidate is an absolute path, so dlopen never searches the library path for a module of another build.
std::vector<std::string> module_candidates() {
    if (const char * given = std::getenv("EAGLE_VIDEO_MODULE"); given && *given) {
        return {given};
    }
    std::vector<std::string> out;
    const auto add = [&](const std::filesystem::path & path) {
        const std::string s = path.string();
        if (path.is_absolute() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    };
    Dl_info info{};
    std::error_code ec;
    // for the main program dli_fname is argv[0], a bare name when it was found on PATH
    if (dladdr(reinterpret_cast<void *>(&read_video_frames), &info) && info.dli_fname &&
        std::string(info.dli_fname).find('/') != std::string::npos) {
        add(std::filesystem::absolute(info.dli_fname, ec).parent_path() / EAGLE_VIDEO_MODULE_NAME);
    }
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        add(exe.parent_path() / EAGLE_VIDEO_MODULE_NAME);
#ifdef EAGLE_VIDEO_MODULE_FROM_BIN
        add((exe.parent_path() / EAGLE_VIDEO_MODULE_FROM_BIN / EAGLE_VIDEO_MODULE_NAME).lexically_normal());
#endif
    }
#ifdef EAGLE_VIDEO_MODULE_INSTALLED
    add(std::filesystem::path(EAGLE_VIDEO_MODULE_INSTALLED) / EAGLE_VIDEO_MODULE_NAME);
#endif
    return out;
}

// The module, loaded once; a failed load throws and is tried again on the next call.
const video_module & load_video_module() {
    static std::mutex mutex;
    static video_module loaded;
    std::lock_guard<std::mutex> lock(mutex);
    if (loaded.read) {
        return loaded;
    }
    std::string tried;
    for (const std::string & path : module_candidates()) {
        void * handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char * why = dlerror();
            tried += (tried.empty() ? "" : "; ") + (why ? std::string(why) : path);
            continue;
        }
        auto count = reinterpret_cast<eagle_video_count_fn>(dlsym(handle, EAGLE_VIDEO_COUNT_SYMBOL));
        auto read = reinterpret_cast<eagle_video_read_fn>(dlsym(handle, EAGLE_VIDEO_READ_SYMBOL));
        if (!count || !read) {
            dlclose(handle);
            tried += (tried.empty() ? "" : "; ") + path + ": not eagle's video module";
            continue;
        }
        loaded = {count, read}; // kept loaded for the process's life
        return loaded;
    }
    throw error(errc::unsupported, std::string("reading videos needs ") + EAGLE_VIDEO_MODULE_NAME +
                                       ", not found (EAGLE_VIDEO_MODULE names its path): " + tried);
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
    const video_module & module = load_video_module();
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
