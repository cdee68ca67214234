// `eagle explain` with several images and with a video, end to end on the default model (the embedded
// ShapesWorld GGUF pair): one ranking over every image's regions, per-image files, and bad input as one line.
#include "cli-runner.h"

#include "eagle/image.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace {

using eagle::testing::run_result;

std::string tmp_dir() {
    const std::string dir = std::string(EAGLE_TEST_TMP_DIR) + "/cli-multi-image";
    std::filesystem::create_directories(dir);
    return dir;
}

run_result run_eagle(const std::vector<std::string> & args) { return eagle::testing::run_eagle(args, tmp_dir()); }

const std::string k_samples = std::string(EAGLE_TEST_DATA_DIR) + "/samples/shapesworld";
const std::string k_first   = k_samples + "/000002.png";
const std::string k_second  = k_samples + "/000003.png";

void expect_clean_error(const run_result & r, int exit_code, const std::string & needle) {
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
    EXPECT_EQ(r.err.rfind("eagle: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.err;
}

nlohmann::json read_json(const std::string & path) { return nlohmann::json::parse(eagle::testing::read_text(path)); }

// the explanation ranks every region id once, and the images' shares of the ids follow one another
void expect_one_ranking_over(const nlohmann::json & j, size_t n_images, int32_t regions_per_image) {
    const nlohmann::json & images = j["run"]["images"];
    ASSERT_EQ(images.size(), n_images) << j["run"].dump();
    for (size_t k = 0; k < n_images; ++k) {
        EXPECT_EQ(images[k]["first_region"].get<int32_t>(), int32_t(k) * regions_per_image);
        EXPECT_EQ(images[k]["n_regions"].get<int32_t>(), regions_per_image);
    }
    std::vector<int32_t> order = j["order"].get<std::vector<int32_t>>();
    std::sort(order.begin(), order.end());
    ASSERT_EQ(order.size(), n_images * size_t(regions_per_image));
    for (size_t i = 0; i < order.size(); ++i) {
        EXPECT_EQ(order[i], int32_t(i));
    }
}

TEST(cli_multi_image, two_images_explained_end_to_end_on_the_default_model) {
    const std::string out = tmp_dir() + "/two-images";
    std::filesystem::remove_all(out);
    // the default model's context is 256 tokens: two images and the prompt take 142, so the answer gets 48
    const run_result r = run_eagle({"explain", "--image", k_first, "--image", k_second, "--segmenter", "grid", "--grid",
                                    "2x2", "--max-tokens", "48", "--out", out, "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = read_json(out + "/explanation.json");
    expect_one_ranking_over(j, 2, 4);
    EXPECT_EQ(j["run"]["images"][0]["image"], k_first);
    EXPECT_EQ(j["run"]["images"][1]["image"], k_second);
    for (const char * file : {"attribution.png", "attribution-1.png", "labels.png", "labels-1.png", "regions.npy",
                              "regions-1.npy", "report.html"}) {
        EXPECT_TRUE(std::filesystem::exists(out + "/" + file)) << file;
    }
}

// a short clip: frame i shows the first sample image shifted right by 4i pixels
std::string write_clip(int n_frames) {
    const std::string path = tmp_dir() + "/clip-" + std::to_string(n_frames) + ".avi"; // tests run in parallel
    const cv::Mat image = cv::imread(k_first, cv::IMREAD_COLOR);
    cv::VideoWriter writer(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, image.size());
    EXPECT_TRUE(writer.isOpened());
    for (int i = 0; i < n_frames; ++i) {
        cv::Mat frame(image.size(), image.type(), cv::Scalar(0, 0, 0));
        image(cv::Rect(0, 0, image.cols - 4 * i, image.rows)).copyTo(frame(cv::Rect(4 * i, 0, image.cols - 4 * i, image.rows)));
        writer.write(frame);
    }
    return path;
}

TEST(cli_multi_image, video_explained_end_to_end_with_a_5x5_grid_per_frame) {
    const std::string clip = write_clip(6);
    const std::string out = tmp_dir() + "/video";
    std::filesystem::remove_all(out);
    // the random ranking costs only the two curves (2 x 51 masked pairs of frames): the authors' grid stays affordable
    const run_result r = run_eagle({"explain", "--video", clip, "--frames", "2", "--method", "random", "--answer", "a red circle",
                                    "--out", out, "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = read_json(out + "/explanation.json");
    EXPECT_EQ(j["run"]["segmenter"], "grid");
    EXPECT_EQ(j["run"]["grid"], "5x5"); // the authors' cells per frame
    expect_one_ranking_over(j, 2, 25);
    // frames 1 and 4 of 6: the middles of two equal spans
    EXPECT_EQ(j["run"]["images"][0]["image"], clip + "#frame=1");
    EXPECT_EQ(j["run"]["images"][1]["image"], clip + "#frame=4");
    EXPECT_TRUE(std::filesystem::exists(out + "/attribution-1.png"));
}

TEST(cli_multi_image, bad_input_is_one_line_naming_the_value) {
    const std::string out = tmp_dir() + "/bad";
    const std::string clip = write_clip(3);
    const std::string missing = tmp_dir() + "/no-such-clip.avi";
    expect_clean_error(run_eagle({"explain", "--video", missing, "--out", out}), 2, missing);
    expect_clean_error(run_eagle({"explain", "--video", clip, "--frames", "0", "--out", out}), 1, "frames must be >= 1, got 0");
    expect_clean_error(run_eagle({"explain", "--video", clip, "--frames", "9", "--out", out}), 1, "has 3 frames, fewer than frames 9");
    expect_clean_error(run_eagle({"explain", "--video", clip, "--image", k_first, "--out", out}), 1, "--video");
    expect_clean_error(run_eagle({"explain", "--image", k_first, "--image", k_second, "--prompt", "<image> what is it?",
                                  "--answer", "a red circle", "--out", out}),
                       1, "1 <image> placeholders for 2 images");
    expect_clean_error(run_eagle({"generate", "--image", k_first, "--image", k_second}), 1, "--image given 2 times");
    // combinations that used to be ignored, or to fail only after the whole search, are refused before the model loads
    expect_clean_error(run_eagle({"explain", "--frames", "3", "--out", out}), 1, "--frames 3 without --video");
    expect_clean_error(run_eagle({"explain", "--video", clip, "--dataset", "d.jsonl", "--out", out}), 1,
                       "--video '" + clip + "' with --dataset 'd.jsonl'");
    expect_clean_error(run_eagle({"explain", "--image", k_first, "--image", k_second, "--layout", "reference", "--out", out}), 3,
                       "--layout reference with several --image");
    // the video module not where it is looked for: the module named, and the path tried
    const std::string no_module = tmp_dir() + "/no-such-dir/libeagle-video.so";
    setenv("EAGLE_VIDEO_MODULE", no_module.c_str(), 1);
    const run_result without_module = run_eagle({"explain", "--video", clip, "--out", out});
    unsetenv("EAGLE_VIDEO_MODULE");
    expect_clean_error(without_module, 3, "reading videos needs libeagle-video.so");
    EXPECT_NE(without_module.err.find(no_module), std::string::npos) << without_module.err;
    // more images than the model's context holds: the count and the context named
    expect_clean_error(run_eagle({"explain", "--video", write_clip(6), "--frames", "4", "--answer", "a red circle", "--out", out}),
                       1, "4 images and answer take");
}

} // namespace
