// eagle decodes PNG and JPEG and computes SLICO superpixels without OpenCV's imgcodecs and ximgproc (their shared
// libraries cost 0.16 s at every start: src/image/codecs-module.h). The authors' code reads images with
// cv2.imread and cuts them with OpenCV's SLICO, so these must stay pixel for pixel what OpenCV 4.6 makes: here
// OpenCV is the oracle, over every PNG colour type, bit depth and interlace, EXIF orientations, JPEG variants,
// and SLICO on many images, sizes, region sizes and iteration counts.
#include "eagle/image.h"
#include "eagle/regions.h"
#include "image/decode.h"
#include "image/png-codec.h"
#include "regions/slico.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/slic.hpp>
#include <png.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

std::string written(const std::string & name, const std::vector<uint8_t> & bytes) {
    std::filesystem::create_directories(EAGLE_TEST_TMP_DIR);
    const std::string path = std::string(EAGLE_TEST_TMP_DIR) + "/parity-" + name;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    return path;
}

// the first IFD of a TIFF structure holding only Orientation, as a PNG's eXIf chunk or a JPEG's APP1 carries it
std::vector<uint8_t> exif_orientation(int orientation) {
    return {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, uint8_t(orientation), 0, 0, 0, 0, 0, 0, 0};
}

struct png_spec {
    int color_type;
    int bit_depth;
    int interlace;
    int orientation; // 0: no eXIf chunk
    bool trns;
};

std::string describe(const png_spec & s) {
    return "color type " + std::to_string(s.color_type) + ", " + std::to_string(s.bit_depth) + " bits" +
           (s.interlace ? ", Adam7" : "") + (s.orientation ? ", orientation " + std::to_string(s.orientation) : "") +
           (s.trns ? ", tRNS" : "");
}

void append(png_structp png, png_bytep data, png_size_t n) {
    auto * out = static_cast<std::vector<uint8_t> *>(png_get_io_ptr(png));
    out->insert(out->end(), data, data + n);
}

// a PNG of random samples (a 13x7 image: odd sizes exercise the sub-byte packing and Adam7's passes)
std::vector<uint8_t> random_png(const png_spec & s, std::mt19937 & rng) {
    const int nx = 13, ny = 7;
    std::vector<uint8_t> out;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    png_set_write_fn(png, &out, append, nullptr);
    png_set_IHDR(png, info, nx, ny, s.bit_depth, s.color_type, s.interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_color palette[256];
    const int n_palette = 1 << std::min(s.bit_depth, 8);
    for (int i = 0; i < 256; ++i) {
        palette[i] = {uint8_t(rng()), uint8_t(rng()), uint8_t(rng())};
    }
    if (s.color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_PLTE(png, info, palette, n_palette);
    }
    if (s.trns) {
        png_byte alpha[256];
        png_color_16 key{0, 1, 2, 3, 4};
        for (png_byte & a : alpha) a = png_byte(rng());
        png_set_tRNS(png, info, alpha, s.color_type == PNG_COLOR_TYPE_PALETTE ? n_palette : 0, &key);
    }
    std::vector<uint8_t> exif;
    if (s.orientation) {
        exif = exif_orientation(s.orientation);
        png_set_eXIf_1(png, info, png_uint_32(exif.size()), exif.data());
    }
    png_write_info(png, info);
    const int channels = s.color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : s.color_type == PNG_COLOR_TYPE_RGB ? 3
                         : s.color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    const size_t row_bytes = (size_t(nx) * channels * s.bit_depth + 7) / 8;
    std::vector<uint8_t> pixels(row_bytes * ny);
    for (uint8_t & b : pixels) b = uint8_t(rng());
    std::vector<png_bytep> rows(ny);
    for (int y = 0; y < ny; ++y) rows[y] = pixels.data() + y * row_bytes;
    png_write_image(png, rows.data());
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return out;
}

void expect_same_pixels(const cv::Mat & got, const cv::Mat & want, const std::string & what) {
    ASSERT_FALSE(want.empty()) << what << ": OpenCV decoded nothing";
    ASSERT_EQ(got.type(), want.type()) << what;
    ASSERT_EQ(got.size(), want.size()) << what;
    EXPECT_EQ(cv::norm(got, want, cv::NORM_INF), 0.0) << what;
}

// the three ways eagle reads files: images, masks, region labels
const int k_read_flags[] = {cv::IMREAD_COLOR, cv::IMREAD_GRAYSCALE, cv::IMREAD_ANYDEPTH | cv::IMREAD_GRAYSCALE};

} // namespace

TEST(opencv_parity, png_decoding_equals_imdecode_for_every_colour_type_depth_and_orientation) {
    std::mt19937 rng(7);
    const std::vector<std::pair<int, std::vector<int>>> types = {
        {PNG_COLOR_TYPE_GRAY, {1, 2, 4, 8, 16}}, {PNG_COLOR_TYPE_GRAY_ALPHA, {8, 16}}, {PNG_COLOR_TYPE_RGB, {8, 16}},
        {PNG_COLOR_TYPE_RGB_ALPHA, {8, 16}},      {PNG_COLOR_TYPE_PALETTE, {1, 2, 4, 8}},
    };
    int n_cases = 0;
    for (const auto & [color_type, depths] : types) {
        for (int bit_depth : depths) {
            for (int interlace : {PNG_INTERLACE_NONE, PNG_INTERLACE_ADAM7}) {
                for (int orientation : {0, 1, 3, 6, 8}) {
                    const bool can_trns = color_type == PNG_COLOR_TYPE_PALETTE || color_type == PNG_COLOR_TYPE_RGB;
                    for (bool trns : {false, can_trns}) {
                        const png_spec spec{color_type, bit_depth, interlace, orientation, trns};
                        const std::vector<uint8_t> bytes = random_png(spec, rng);
                        const std::string path = written("variant.png", bytes);
                        for (int flags : k_read_flags) {
                            const std::string what = describe(spec) + ", flags " + std::to_string(flags);
                            expect_same_pixels(eagle::detail::decode_image_file(path, flags, "test"),
                                               cv::imdecode(bytes, flags), what);
                            ++n_cases;
                        }
                        if (!can_trns) break;
                    }
                }
            }
        }
    }
    EXPECT_GE(n_cases, 500);
}

TEST(opencv_parity, jpeg_decoding_equals_imdecode_with_orientation_quality_and_progressive_scans) {
    // a smooth image with detail, so chroma subsampling and the DCT's rounding matter
    cv::Mat bgr(37, 53, CV_8UC3);
    std::mt19937 rng(11);
    for (int y = 0; y < bgr.rows; ++y) {
        for (int x = 0; x < bgr.cols; ++x) {
            bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x * 4 + rng() % 20), uint8_t(y * 6), uint8_t((x * y) % 251));
        }
    }
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    int n_cases = 0;
    for (const cv::Mat & source : {bgr, gray}) {
        for (int quality : {40, 95}) {
            for (int progressive : {0, 1}) {
                std::vector<uint8_t> jpeg;
                ASSERT_TRUE(cv::imencode(".jpg", source, jpeg, {cv::IMWRITE_JPEG_QUALITY, quality,
                                                                cv::IMWRITE_JPEG_PROGRESSIVE, progressive}));
                for (int orientation = 0; orientation <= 8; ++orientation) {
                    std::vector<uint8_t> bytes = jpeg;
                    if (orientation > 0) { // an APP1 Exif segment right after SOI
                        std::vector<uint8_t> app1 = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
                        const std::vector<uint8_t> tiff = exif_orientation(orientation);
                        app1.insert(app1.end(), tiff.begin(), tiff.end());
                        app1[2] = uint8_t((app1.size() - 2) >> 8);
                        app1[3] = uint8_t(app1.size() - 2);
                        bytes.insert(bytes.begin() + 2, app1.begin(), app1.end());
                    }
                    const std::string path = written("variant.jpg", bytes);
                    for (int flags : k_read_flags) {
                        const std::string what = std::string(source.channels() == 3 ? "colour" : "gray") + " quality " +
                                                 std::to_string(quality) + (progressive ? " progressive" : "") +
                                                 " orientation " + std::to_string(orientation) + " flags " + std::to_string(flags);
                        expect_same_pixels(eagle::detail::decode_image_file(path, flags, "test"), cv::imdecode(bytes, flags), what);
                        ++n_cases;
                    }
                }
            }
        }
    }
    EXPECT_EQ(n_cases, 2 * 2 * 2 * 9 * 3);
}

TEST(opencv_parity, png_encoding_round_trips_through_imdecode) {
    std::mt19937 rng(3);
    for (int type : {CV_8UC3, CV_8UC1, CV_16UC1}) {
        cv::Mat pixels(19, 23, type);
        cv::randu(pixels, 0, type == CV_16UC1 ? 65536 : 256);
        const std::vector<uint8_t> png = eagle::detail::encode_png(pixels, "test");
        expect_same_pixels(cv::imdecode(png, cv::IMREAD_UNCHANGED), pixels, "type " + std::to_string(type));
    }
}

namespace {

std::vector<int32_t> opencv_slico(const cv::Mat & bgr, int region_size, int n_iterations) {
    cv::Ptr<cv::ximgproc::SuperpixelSLIC> slic = cv::ximgproc::createSuperpixelSLIC(bgr, cv::ximgproc::SLICO, region_size, 20.0f);
    slic->iterate(n_iterations);
    cv::Mat labels;
    slic->getLabels(labels);
    return std::vector<int32_t>(labels.begin<int32_t>(), labels.end<int32_t>());
}

void expect_slico_parity(const cv::Mat & bgr, int region_size, int n_iterations, const std::string & what) {
    const std::vector<int32_t> want = opencv_slico(bgr, region_size, n_iterations);
    const std::vector<int32_t> got = eagle::detail::slico_labels(bgr.ptr<uint8_t>(0), bgr.cols, bgr.rows, region_size, n_iterations);
    ASSERT_EQ(got.size(), want.size()) << what;
    size_t n_differ = 0;
    for (size_t i = 0; i < got.size(); ++i) n_differ += got[i] != want[i];
    EXPECT_EQ(n_differ, 0u) << what << ": " << n_differ << " of " << got.size() << " pixels labelled differently";
}

} // namespace

TEST(opencv_parity, slico_labels_equal_opencv_ximgproc) {
    std::mt19937 rng(5);
    std::vector<std::pair<std::string, cv::Mat>> images;
    // the bundled samples (what eagle explains by default), then synthetic images: noise, gradients, flat colour,
    // sharp-edged shapes, and degenerate sizes
    for (const auto & entry : std::filesystem::recursive_directory_iterator(EAGLE_TEST_DATA_DIR "/samples")) {
        const std::string ext = entry.path().extension().string();
        if ((ext == ".png" || ext == ".jpg") && images.size() < 12) {
            images.emplace_back(entry.path().filename().string(), cv::imread(entry.path().string(), cv::IMREAD_COLOR));
        }
    }
    ASSERT_GE(images.size(), 4u);
    for (const cv::Size size : {cv::Size(97, 61), cv::Size(128, 128), cv::Size(224, 160), cv::Size(400, 3), cv::Size(3, 400),
                                cv::Size(5, 5), cv::Size(2, 3), cv::Size(1, 1)}) {
        cv::Mat noise(size, CV_8UC3), gradient(size, CV_8UC3), flat(size, CV_8UC3, cv::Scalar(40, 90, 200)), shapes(size, CV_8UC3, cv::Scalar(255, 255, 255));
        cv::randu(noise, 0, 256);
        for (int y = 0; y < size.height; ++y)
            for (int x = 0; x < size.width; ++x) gradient.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x * 2), uint8_t(y * 3), uint8_t(x + y));
        for (int i = 0; i < 6; ++i) {
            cv::circle(shapes, cv::Point(int(rng() % size.width), int(rng() % size.height)), 1 + int(rng() % 30),
                       cv::Scalar(rng() % 256, rng() % 256, rng() % 256), cv::FILLED);
        }
        const std::string tag = std::to_string(size.width) + "x" + std::to_string(size.height);
        images.emplace_back("noise " + tag, noise);
        images.emplace_back("gradient " + tag, gradient);
        images.emplace_back("flat " + tag, flat);
        images.emplace_back("shapes " + tag, shapes);
    }
    int n_cases = 0;
    for (const auto & [name, bgr] : images) {
        ASSERT_FALSE(bgr.empty()) << name;
        const int short_side = std::min(bgr.cols, bgr.rows);
        // eagle's size (the reference's sqrt(H W / 64), clamped to the short side) and a spread around it
        const int eagle_size = std::min(int(std::sqrt(double(bgr.total()) / 64)), short_side);
        for (int region_size : {eagle_size, 1, 2, 5, 16, 40}) {
            if (region_size < 1 || region_size > short_side) continue;
            // every iteration count eagle's size meets; the others' first iterations, where the most happens
            const std::vector<int> iteration_counts = region_size == eagle_size ? std::vector<int>{1, 3, 20} : std::vector<int>{2};
            for (int n_iterations : iteration_counts) {
                expect_slico_parity(bgr, region_size, n_iterations,
                                    name + ", region size " + std::to_string(region_size) + ", " + std::to_string(n_iterations) + " iterations");
                ++n_cases;
            }
        }
    }
    EXPECT_GE(n_cases, 200);
}
