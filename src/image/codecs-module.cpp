// libeagle-codecs.so: OpenCV's image decoders behind the C interface of codecs-module.h. Loaded by
// decode_image_file (image.cpp), which keeps the file checks, the size limits and eagle's errors; this side only
// decodes.
#include "image/codecs-module.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <climits>
#include <cstdint>

extern "C" {

__attribute__((visibility("default"))) int eagle_codecs_decode(const uint8_t * bytes, size_t n_bytes, int flags,
                                                               eagle_codecs_image_fn on_image, void * user,
                                                               char * message, size_t message_size) {
    // no exception may leave through the C interface, so messages are formatted without allocating
    const auto fail = [&](const char * prefix, const char * why) {
        if (message && message_size > 0) {
            std::snprintf(message, message_size, "%s%s", prefix, why);
        }
        return -1;
    };
    if (n_bytes > size_t(INT32_MAX)) {
        return fail("", "the file is over 2 GiB");
    }
    try {
        const cv::Mat encoded(1, int(n_bytes), CV_8U, const_cast<uint8_t *>(bytes));
        const cv::Mat pixels = cv::imdecode(encoded, flags);
        if (pixels.empty()) {
            return fail("", "OpenCV cannot decode it");
        }
        return on_image(user, pixels.cols, pixels.rows, pixels.type(), pixels.ptr<uint8_t>(0), pixels.step[0]);
    } catch (const std::exception & e) {
        return fail("OpenCV: ", e.what());
    } catch (...) {
        return fail("", "the decoder failed");
    }
}

} // extern "C"
