// read_video_frames: a video's frames, evenly sampled, as RGB images. The video is written here with OpenCV's
// own MJPEG encoder (built into videoio, no FFmpeg needed), one flat colour per frame, so each sampled frame
// tells which frame it is.
#include "eagle/eagle.h"

#include <gtest/gtest.h>
#include <opencv2/videoio.hpp>

#include <cstdlib>
#include <filesystem>

namespace {

constexpr int k_n_frames = 12;

// frame i: a colour no other frame comes near, even after JPEG (RGB order)
std::array<int, 3> frame_colour(int i) { return {20 * i, 240 - 20 * i, (i % 2) * 200 + 20}; }

// `name`: each test its own file, since ctest runs the tests of this file side by side (one writing the video
// while the other read it failed as "not a format OpenCV's readers know")
std::string write_test_video(const std::string & name) {
    const std::string dir = std::string(EAGLE_TEST_TMP_DIR) + "/video";
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/" + name + ".avi";
    cv::VideoWriter writer(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, cv::Size(64, 48));
    EXPECT_TRUE(writer.isOpened());
    for (int i = 0; i < k_n_frames; ++i) {
        const std::array<int, 3> c = frame_colour(i);
        writer.write(cv::Mat(48, 64, CV_8UC3, cv::Scalar(c[2], c[1], c[0]))); // BGR
    }
    return path;
}

TEST(video, frames_are_evenly_spaced_and_in_rgb) {
    const std::string path = write_test_video("colours");
    for (int32_t n : {1, 3, 4, k_n_frames}) {
        std::vector<int32_t> indices;
        const std::vector<eagle::image_rgb8> frames = eagle::read_video_frames(path, n, &indices);
        ASSERT_EQ(frames.size(), size_t(n));
        ASSERT_EQ(indices.size(), size_t(n));
        for (int32_t i = 0; i < n; ++i) {
            // the middle of the i-th of n equal spans
            EXPECT_EQ(indices[size_t(i)], (2 * i + 1) * k_n_frames / (2 * n));
            const eagle::image_rgb8 & f = frames[size_t(i)];
            ASSERT_EQ(f.nx, 64);
            ASSERT_EQ(f.ny, 48);
            const std::array<int, 3> c = frame_colour(indices[size_t(i)]);
            const size_t centre = (size_t(24) * 64 + 32) * 3;
            for (int ch = 0; ch < 3; ++ch) {
                EXPECT_NEAR(int(f.rgb[centre + size_t(ch)]), c[size_t(ch)], 8) << "frame " << indices[size_t(i)] << " channel " << ch;
            }
        }
    }
}

TEST(video, bad_inputs_name_the_value) {
    const std::string path = write_test_video("colours-for-bad-inputs");
    auto message = [&](const std::string & file, int32_t n, eagle::errc code) {
        try {
            eagle::read_video_frames(file, n);
        } catch (const eagle::error & e) {
            EXPECT_EQ(e.code(), code) << e.what();
            return std::string(e.what());
        }
        ADD_FAILURE() << file << " with " << n << " frames was read";
        return std::string();
    };
    EXPECT_NE(message(path, 0, eagle::errc::invalid_argument).find("frames must be >= 1, got 0"), std::string::npos);
    EXPECT_NE(message(path, 13, eagle::errc::invalid_argument).find("has 12 frames, fewer than frames 13"), std::string::npos);
    const std::string missing = std::string(EAGLE_TEST_TMP_DIR) + "/video/missing.avi";
    EXPECT_NE(message(missing, 2, eagle::errc::io).find("'" + missing + "' does not exist"), std::string::npos);
    // a file that is no video at all
    const std::string text = std::string(EAGLE_TEST_TMP_DIR) + "/video/not-a-video.avi";
    { std::FILE * f = std::fopen(text.c_str(), "w"); std::fputs("not a video\n", f); std::fclose(f); }
    EXPECT_NE(message(text, 2, eagle::errc::io).find(text), std::string::npos);
}

} // namespace
