// Images, masks and masking: invariants that need no model.
#include "eagle/error.h"
#include "eagle/image.h"
#include "eagle/log.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace {

eagle::image_rgb8 gradient(int nx, int ny) {
    eagle::image_rgb8 image{nx, ny, std::vector<uint8_t>(size_t(nx) * ny * 3)};
    for (int y = 0; y < ny; ++y) {
        for (int x = 0; x < nx; ++x) {
            uint8_t * px = &image.rgb[(size_t(y) * nx + x) * 3];
            px[0] = uint8_t(x * 7);
            px[1] = uint8_t(y * 5);
            px[2] = uint8_t(100 + x + y);
        }
    }
    return image;
}

std::string tmp_path(const std::string & name) {
    std::filesystem::create_directories(EAGLE_TEST_TMP_DIR);
    return std::string(EAGLE_TEST_TMP_DIR) + "/" + name;
}

} // namespace

TEST(image, png_round_trip_keeps_every_pixel) {
    const eagle::image_rgb8 image = gradient(23, 17);
    const std::string path = tmp_path("round-trip.png");
    eagle::save_png(image, path);
    const eagle::image_rgb8 back = eagle::load_image(path);
    EXPECT_EQ(back.nx, 23);
    EXPECT_EQ(back.ny, 17);
    EXPECT_EQ(back.rgb, image.rgb);
}

TEST(image, bundled_sample_is_rgb_not_bgr) {
    // shapes-1.png has a red circle centred at (34, 60)
    const eagle::image_rgb8 image = eagle::load_image(std::string(EAGLE_TEST_DATA_DIR) + "/samples/shapes-1.png");
    const uint8_t * px = &image.rgb[(size_t(60) * image.nx + 34) * 3];
    EXPECT_GT(px[0], 200);
    EXPECT_LT(px[2], 80);
}

TEST(image, black_fill_keeps_kept_pixels_and_zeroes_the_rest) {
    const eagle::image_rgb8 image = gradient(8, 6);
    eagle::mask keep = eagle::mask::empty(8, 6);
    for (int i = 0; i < 48; i += 3) {
        keep.keep[i] = 255; // any nonzero value keeps
    }
    const eagle::image_rgb8 fill = eagle::make_fill_image(image, eagle::fill_mode::black);
    eagle::image_rgb8 out;
    eagle::apply_mask(image, fill, keep, out);
    for (int i = 0; i < 48; ++i) {
        for (int c = 0; c < 3; ++c) {
            EXPECT_EQ(out.rgb[i * 3 + c], keep.keep[i] ? image.rgb[i * 3 + c] : 0) << "pixel " << i;
        }
    }
}

TEST(image, full_and_empty_masks_give_image_and_fill) {
    const eagle::image_rgb8 image = gradient(10, 10);
    for (auto mode : {eagle::fill_mode::black, eagle::fill_mode::mean, eagle::fill_mode::blur}) {
        const eagle::image_rgb8 fill = eagle::make_fill_image(image, mode);
        eagle::image_rgb8 out;
        eagle::apply_mask(image, fill, eagle::mask::full(10, 10), out);
        EXPECT_EQ(out.rgb, image.rgb);
        eagle::apply_mask(image, fill, eagle::mask::empty(10, 10), out);
        EXPECT_EQ(out.rgb, fill.rgb);
    }
}

TEST(image, mean_fill_is_the_mean_color) {
    eagle::image_rgb8 image{2, 1, {0, 10, 20, 100, 110, 120}};
    const eagle::image_rgb8 fill = eagle::make_fill_image(image, eagle::fill_mode::mean);
    EXPECT_EQ(fill.rgb, (std::vector<uint8_t>{50, 60, 70, 50, 60, 70}));
}

TEST(image, fill_names_round_trip_and_unknown_names_throw) {
    for (auto mode : {eagle::fill_mode::black, eagle::fill_mode::mean, eagle::fill_mode::blur}) {
        EXPECT_EQ(eagle::fill_mode_from_string(eagle::fill_mode_name(mode)), mode);
    }
    EXPECT_THROW(eagle::fill_mode_from_string("grey"), eagle::error);
}

TEST(image, mask_of_wrong_size_is_rejected_with_both_sizes) {
    const eagle::image_rgb8 image = gradient(8, 6);
    eagle::image_rgb8 out;
    try {
        eagle::apply_mask(image, image, eagle::mask::full(6, 8), out);
        FAIL() << "no error";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("6x8"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("8x6"), std::string::npos);
    }
}

TEST(image, mask_keys_separate_masks_and_ignore_the_keep_value) {
    eagle::mask a = eagle::mask::empty(40, 30);
    eagle::mask b = a;
    EXPECT_EQ(eagle::mask_hash(a), eagle::mask_hash(b));
    b.keep[1000] = 1;
    EXPECT_NE(eagle::mask_hash(a), eagle::mask_hash(b));
    eagle::mask c = b;
    c.keep[1000] = 255;
    EXPECT_EQ(eagle::mask_hash(b), eagle::mask_hash(c));
    // same bits, other shape
    EXPECT_NE(eagle::mask_hash(eagle::mask::empty(30, 40)), eagle::mask_hash(a));
    // every single-pixel mask of a 32x32 image has its own key
    std::vector<eagle::mask_key> keys;
    for (int i = 0; i < 32 * 32; ++i) {
        eagle::mask m = eagle::mask::empty(32, 32);
        m.keep[i] = 1;
        keys.push_back(eagle::mask_hash(m));
    }
    for (size_t i = 0; i < keys.size(); ++i) {
        for (size_t j = i + 1; j < keys.size(); ++j) {
            ASSERT_FALSE(keys[i] == keys[j]) << i << " and " << j;
        }
    }
}

TEST(image, load_errors_name_the_file) {
    const std::string missing = tmp_path("does-not-exist.png");
    const std::string corrupt = tmp_path("corrupt.png");
    std::ofstream(corrupt) << "this is not a png";
    for (const std::string & path : {missing, corrupt}) {
        try {
            eagle::load_image(path);
            FAIL() << "no error for " << path;
        } catch (const eagle::error & e) {
            EXPECT_EQ(e.code(), eagle::errc::io);
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(eagle::load_mask(missing), eagle::error);
    EXPECT_THROW(eagle::save_png(gradient(4, 4), "/nonexistent-dir/x.png"), eagle::error);
}

TEST(image, load_mask_reads_nonzero_as_keep) {
    eagle::image_rgb8 image{3, 1, {0, 0, 0, 255, 255, 255, 0, 9, 0}};
    const std::string path = tmp_path("mask.png");
    eagle::save_png(image, path);
    const eagle::mask m = eagle::load_mask(path);
    ASSERT_EQ(m.keep.size(), 3u);
    EXPECT_EQ(m.keep[0], 0);
    EXPECT_NE(m.keep[1], 0);
    EXPECT_NE(m.keep[2], 0);
}

namespace {

// a PNG chunk with its CRC (zlib's crc32 polynomial, written out so the test needs no zlib)
std::string png_chunk(const std::string & type, const std::string & data) {
    auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
    uint32_t crc = 0xffffffffu;
    for (unsigned char c : type + data) {
        crc ^= c;
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return be32(uint32_t(data.size())) + type + data + be32(~crc);
}

eagle::errc load_error(const std::string & path, std::string * message = nullptr) {
    try {
        eagle::load_image(path);
    } catch (const eagle::error & e) {
        if (message) *message = e.what();
        return e.code();
    }
    ADD_FAILURE() << path << " loaded";
    return eagle::errc::unsupported;
}

} // namespace

// issue 13: a corrupt PNG made libpng print "libpng error: ..." before eagle's error; now the file is checked
// first (every CRC, the IHDR, the image data's size and filter bytes) and only a clean PNG reaches libpng
TEST(image, corrupt_pngs_are_io_errors_naming_the_file_and_the_defect) {
    const std::string good = eagle::png_bytes(gradient(64, 48));
    const auto write = [](const std::string & name, const std::string & bytes) {
        const std::string path = tmp_path(name);
        std::ofstream(path, std::ios::binary) << bytes;
        return path;
    };
    std::string flipped = good;
    flipped[good.size() / 2] ^= 0x5a; // inside IDAT: CRC error
    std::string no_iend = good.substr(0, good.size() - 12);
    const std::pair<std::string, std::string> bad[] = {
        {write("truncated.png", good.substr(0, good.size() / 2)), "truncated"},
        {write("flipped.png", flipped), "CRC"},
        {write("no-iend.png", no_iend), "truncated"},
        {write("signature-only.png", good.substr(0, 8)), "truncated"},
    };
    for (const auto & [path, defect] : bad) {
        std::string message;
        EXPECT_EQ(load_error(path, &message), eagle::errc::io);
        EXPECT_NE(message.find(path), std::string::npos) << message;
        EXPECT_NE(message.find(defect), std::string::npos) << message;
    }
    // ancillary chunks (gamma, text) are dropped before decoding: same pixels, nothing printed
    const std::string with_ancillary = good.substr(0, 33) + png_chunk("gAMA", std::string(4, '\0')) +
                                       png_chunk("tEXt", std::string("k\0v", 3)) + good.substr(33);
    const eagle::image_rgb8 a = eagle::load_image(write("ancillary.png", with_ancillary));
    EXPECT_EQ(a.rgb, gradient(64, 48).rgb);
}

// issue 13: limits (image.h), checked from a PNG's header before a pixel is inflated
TEST(image, images_over_the_limits_are_rejected_before_decoding) {
    auto header_only = [](uint32_t w, uint32_t h) {
        auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
        return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", be32(w) + be32(h) + std::string("\x08\x02\0\0\0", 5)) +
               png_chunk("IDAT", "x") + png_chunk("IEND", "");
    };
    for (const auto & [w, h] : {std::pair<uint32_t, uint32_t>{20000, 3}, {3, 16385}, {9000, 9000}}) {
        const std::string path = tmp_path("huge-" + std::to_string(w) + "x" + std::to_string(h) + ".png");
        std::ofstream(path, std::ios::binary) << header_only(w, h);
        std::string message;
        EXPECT_EQ(load_error(path, &message), eagle::errc::invalid_argument);
        EXPECT_NE(message.find(std::to_string(w) + "x" + std::to_string(h)), std::string::npos) << message;
        EXPECT_NE(message.find("16384"), std::string::npos) << message;
    }
    EXPECT_NO_THROW(eagle::check_image_size(eagle::max_image_side, 4096, "x"));
    EXPECT_THROW(eagle::check_image_size(8193, 8192, "x"), eagle::error);
}

// --image-fit: crop keeps the centred square (offsets rounded down, as transformers' center_crop), pad centres the
// image on a square of libmtmd's LLaVA padding colour, native is the identity
TEST(fit_image, crop_pad_and_native) {
    eagle::image_rgb8 image{5, 3, std::vector<uint8_t>(5 * 3 * 3)};
    for (size_t i = 0; i < image.rgb.size(); ++i) {
        image.rgb[i] = uint8_t(i);
    }
    const eagle::image_rgb8 native = eagle::fit_image(image, eagle::fit_mode::native);
    EXPECT_EQ(native.rgb, image.rgb);

    const eagle::image_rgb8 crop = eagle::fit_image(image, eagle::fit_mode::crop);
    ASSERT_EQ(crop.nx, 3);
    ASSERT_EQ(crop.ny, 3);
    for (int32_t y = 0; y < 3; ++y) {
        for (int32_t x = 0; x < 3; ++x) {
            for (int c = 0; c < 3; ++c) {
                EXPECT_EQ(crop.rgb[(size_t(y) * 3 + x) * 3 + c], image.rgb[(size_t(y) * 5 + x + 1) * 3 + c]);
            }
        }
    }

    const eagle::image_rgb8 pad = eagle::fit_image(image, eagle::fit_mode::pad);
    ASSERT_EQ(pad.nx, 5);
    ASSERT_EQ(pad.ny, 5);
    for (int32_t y = 0; y < 5; ++y) {
        for (int32_t x = 0; x < 5; ++x) {
            const uint8_t * px = &pad.rgb[(size_t(y) * 5 + x) * 3];
            if (y == 0 || y == 4) {
                EXPECT_EQ(px[0], 122);
                EXPECT_EQ(px[1], 116);
                EXPECT_EQ(px[2], 104);
            } else {
                EXPECT_EQ(px[0], image.rgb[(size_t(y - 1) * 5 + x) * 3]);
            }
        }
    }

    // shortest side to the size first: 640x480 -> 448x336 -> the centred 336 square (offset 56)
    eagle::image_rgb8 big{640, 480, std::vector<uint8_t>(640 * 480 * 3, 7)};
    const eagle::image_rgb8 sized = eagle::fit_image(big, eagle::fit_mode::crop, 336);
    EXPECT_EQ(sized.nx, 336);
    EXPECT_EQ(sized.ny, 336);
    EXPECT_EQ(sized.rgb[0], 7); // a flat image stays flat under bicubic resampling

    EXPECT_THROW(eagle::fit_image(image, eagle::fit_mode::pad, 336), eagle::error);
    EXPECT_THROW(eagle::fit_image(image, eagle::fit_mode::crop, -1), eagle::error);
    EXPECT_EQ(eagle::fit_mode_from_string("crop"), eagle::fit_mode::crop);
    EXPECT_STREQ(eagle::fit_mode_name(eagle::fit_mode::pad), "pad");
    EXPECT_THROW(eagle::fit_mode_from_string("letterbox"), eagle::error);
}

// libjpeg prints "Corrupt JPEG data: ..." through OpenCV on a damaged file (OpenCV keeps libjpeg's default
// output_message). Now: a file libjpeg only warns about decodes, the warning goes to eagle's log callback
// (nothing reaches stderr); a file libjpeg cannot decode is an io error naming it and libjpeg's reason.
TEST(image, damaged_jpegs_never_print_and_undecodable_ones_are_io_errors) {
    const std::string good = std::string(EAGLE_TEST_SOURCE_DIR) + "/data/images/gradient-24x16.jpg";
    std::string bytes;
    {
        std::ifstream in(good, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    ASSERT_GT(bytes.size(), 100u);
    ASSERT_EQ(bytes.substr(bytes.size() - 2), "\xFF\xD9");
    auto write = [](const std::string & name, const std::string & content) {
        const std::string path = tmp_path(name);
        std::ofstream(path, std::ios::binary) << content;
        return path;
    };
    static std::vector<std::string> logged;
    logged.clear();
    eagle::set_log_callback([](eagle::log_level level, const char * text, void *) {
        if (level >= eagle::log_level::warn) logged.emplace_back(text);
    }, nullptr);

    // 1. the clean file: no warning
    const eagle::image_rgb8 clean = eagle::load_image(good);
    EXPECT_EQ(clean.nx, 24);
    EXPECT_EQ(clean.ny, 16);
    EXPECT_TRUE(logged.empty());

    // 2. two stray bytes between the header's segments ("Corrupt JPEG data: 2 extraneous bytes before marker
    //    0xda"), and 3. the entropy-coded data cut short ("Premature end of JPEG file"): decoded, one warning each
    const size_t sos = bytes.find("\xFF\xDA");
    ASSERT_NE(sos, std::string::npos);
    const std::string stray = write("stray.jpg", bytes.substr(0, sos) + "\x12\x34" + bytes.substr(sos));
    const std::string cut = write("cut.jpg", bytes.substr(0, sos + (bytes.size() - sos) / 2));
    for (const std::string & path : {stray, cut}) {
        logged.clear();
        ::testing::internal::CaptureStderr();
        eagle::image_rgb8 image;
        EXPECT_NO_THROW(image = eagle::load_image(path)) << path;
        EXPECT_NO_THROW((void) eagle::load_mask(path)) << path;
        EXPECT_EQ(::testing::internal::GetCapturedStderr(), "") << path;
        EXPECT_EQ(image.nx, 24);
        EXPECT_EQ(image.ny, 16);
        ASSERT_EQ(logged.size(), 2u) << path; // image and mask
        EXPECT_NE(logged[0].find(path), std::string::npos) << logged[0];
        EXPECT_NE(logged[0].find("damaged JPEG data"), std::string::npos) << logged[0];
        EXPECT_NE(logged[0].find(path == stray ? "Corrupt JPEG data: 2 extraneous bytes" : "Premature end of JPEG file"),
                  std::string::npos) << logged[0];
    }
    // the stray bytes are outside the image data: the pixels are the clean file's
    EXPECT_EQ(eagle::load_image(stray).rgb, clean.rgb);

    // 4. a header libjpeg rejects (the frame header's precision byte zeroed): an io error, nothing printed
    std::string bad = bytes;
    const size_t sof = bad.find("\xFF\xC0");
    ASSERT_NE(sof, std::string::npos);
    bad[sof + 4] = 0;
    const std::string bad_path = write("bad-header.jpg", bad);
    ::testing::internal::CaptureStderr();
    try {
        (void) eagle::load_image(bad_path);
        ADD_FAILURE() << "no error";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::io);
        EXPECT_NE(std::string(e.what()).find(bad_path), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("not a valid JPEG (libjpeg: "), std::string::npos) << e.what();
    }
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
    eagle::set_log_callback(nullptr, nullptr);
}

// BMP, TIFF, WebP, PNM, PAM and PFM: decoded as OpenCV decodes them, but sized from their headers first, so a
// header claiming a huge image is refused before a decoder allocates; other formats are refused by name.
namespace {

std::string encoded(const char * ext, const cv::Mat & bgr, const std::vector<int> & params = {}) {
    std::vector<uint8_t> buf;
    EXPECT_TRUE(cv::imencode(ext, bgr, buf, params)) << ext;
    return std::string(buf.begin(), buf.end());
}

std::string written(const std::string & name, const std::string & bytes) {
    const std::string path = tmp_path(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

std::string le32(uint32_t v) { return {char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; }
std::string le16(uint32_t v) { return {char(v), char(v >> 8)}; }

// a TIFF (little-endian) holding only an IFD with ImageWidth and ImageLength as LONGs
std::string tiff_header_only(uint32_t w, uint32_t h) {
    return std::string("II*\0", 4) + le32(8) + le16(2) + le16(256) + le16(4) + le32(1) + le32(w) + le16(257) + le16(4) +
           le32(1) + le32(h) + le32(0);
}

} // namespace

TEST(image, every_format_is_sized_from_its_header_before_decoding) {
    cv::Mat bgr(5, 7, CV_8UC3);
    for (int y = 0; y < bgr.rows; ++y) {
        for (int x = 0; x < bgr.cols; ++x) {
            bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(30 * x), uint8_t(40 * y), uint8_t(200 - 9 * (x + y)));
        }
    }
    cv::Mat bgr_f;
    bgr.convertTo(bgr_f, CV_32FC3, 1.0 / 255);
    const std::vector<std::pair<std::string, std::string>> files = {
        {"small.bmp", encoded(".bmp", bgr)},
        {"small.tiff", encoded(".tiff", bgr)},
        {"small.webp", encoded(".webp", bgr, {cv::IMWRITE_WEBP_QUALITY, 101})}, // above 100: lossless (VP8L)
        {"small-lossy.webp", encoded(".webp", bgr, {cv::IMWRITE_WEBP_QUALITY, 90})},
        {"small.ppm", encoded(".ppm", bgr)},
        {"small-ascii.ppm", encoded(".ppm", bgr, {cv::IMWRITE_PXM_BINARY, 0})},
        {"small.pam", encoded(".pam", bgr)},
        {"small.pfm", encoded(".pfm", bgr_f)},
    };
    for (const auto & [name, bytes] : files) {
        const std::string path = written(name, bytes);
        eagle::image_rgb8 image;
        ASSERT_NO_THROW(image = eagle::load_image(path)) << name;
        const cv::Mat expect = cv::imread(path, cv::IMREAD_COLOR);
        ASSERT_EQ(image.nx, expect.cols) << name;
        ASSERT_EQ(image.ny, expect.rows) << name;
        ASSERT_EQ(image.nx, 7) << name;
        for (int y = 0; y < expect.rows; ++y) {
            for (int x = 0; x < expect.cols; ++x) {
                const cv::Vec3b px = expect.at<cv::Vec3b>(y, x);
                const uint8_t * got = &image.rgb[(size_t(y) * image.nx + x) * 3];
                ASSERT_EQ(got[0], px[2]) << name << " at " << x << "," << y;
                ASSERT_EQ(got[2], px[0]) << name << " at " << x << "," << y;
            }
        }
    }

    // headers claiming 20000x3 (over the 16384 px side limit), with no pixel data behind them
    std::string bmp = encoded(".bmp", bgr).substr(0, 54);
    bmp.replace(18, 8, le32(20000) + le32(uint32_t(-3))); // a negative height: rows stored top-down
    std::string webp = std::string("RIFF") + le32(30) + "WEBPVP8X" + le32(10) + std::string(4, '\0') +
                       std::string{char(19999 & 0xff), char(19999 >> 8), 0} + std::string{2, 0, 0};
    const std::vector<std::pair<std::string, std::string>> huge = {
        {"huge.bmp", bmp},
        {"huge.tiff", tiff_header_only(20000, 3)},
        {"huge.webp", webp},
        {"huge.ppm", "P6\n# a comment\n20000 3\n255\n"},
        {"huge.pgm", "P5 20000 3 255 "},
        {"huge.pam", "P7\nWIDTH 20000\nHEIGHT 3\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n"},
        {"huge.pfm", "PF\n20000 3\n-1.0\n"},
    };
    for (const auto & [name, bytes] : huge) {
        const std::string path = written(name, bytes);
        std::string message;
        EXPECT_EQ(load_error(path, &message), eagle::errc::invalid_argument) << name << ": " << message;
        EXPECT_NE(message.find("20000x3"), std::string::npos) << message;
        EXPECT_NE(message.find(path), std::string::npos) << message;
    }
    // a side within the limit but too many pixels (9000x9000 = 81 Mpx): refused by the header too
    {
        std::string message;
        EXPECT_EQ(load_error(written("many.tiff", tiff_header_only(9000, 9000)), &message), eagle::errc::invalid_argument);
        EXPECT_NE(message.find("9000x9000"), std::string::npos) << message;
    }

    // a recognised signature whose header is cut short or states no size: an io error naming the format
    const std::vector<std::pair<std::string, std::string>> cut = {
        {"cut.bmp", std::string("BM") + le32(16)},
        {"cut.tiff", std::string("II*\0", 4) + le32(4000)},
        {"cut.webp", "RIFF" + le32(16) + "WEBPVP8 "},
        {"cut.ppm", "P6\n12\n"},
        {"cut.pam", "P7\nWIDTH 4\nENDHDR\n"},
    };
    for (const auto & [name, bytes] : cut) {
        const std::string path = written(name, bytes);
        std::string message;
        EXPECT_EQ(load_error(path, &message), eagle::errc::io) << name << ": " << message;
        EXPECT_NE(message.find("is not a valid"), std::string::npos) << message;
        EXPECT_NE(message.find(path), std::string::npos) << message;
    }

    // formats OpenCV could decode but whose headers eagle does not read (a Sun raster here), and non-images
    for (const std::string & bytes : {std::string("\x59\xa6\x6a\x95", 4) + std::string(28, '\0'), std::string("GIF89a....")}) {
        const std::string path = written("other.img", bytes);
        std::string message;
        EXPECT_EQ(load_error(path, &message), eagle::errc::io);
        EXPECT_NE(message.find("is not an image eagle reads"), std::string::npos) << message;
    }
}

// A damaged JPEG is turned upright by its EXIF orientation exactly as the same file undamaged (which
// test-opencv-parity holds to OpenCV's imdecode, orientations included).
TEST(image, damaged_jpegs_keep_their_exif_orientation) {
    std::string jpeg;
    {
        std::ifstream in(std::string(EAGLE_TEST_SOURCE_DIR) + "/data/images/gradient-24x16.jpg", std::ios::binary);
        jpeg.assign(std::istreambuf_iterator<char>(in), {});
    }
    ASSERT_EQ(jpeg.substr(0, 2), "\xFF\xD8");
    for (const bool big_endian : {false, true}) {
        for (int orientation = 1; orientation <= 8; ++orientation) {
            // an APP1 Exif segment right after SOI: a TIFF structure whose first IFD holds Orientation (a SHORT)
            auto u16 = [&](uint32_t v) { return big_endian ? std::string{char(v >> 8), char(v)} : le16(v); };
            auto u32 = [&](uint32_t v) {
                return big_endian ? std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)} : le32(v);
            };
            const std::string tiff = std::string(big_endian ? "MM" : "II") + u16(42) + u32(8) + u16(1) + u16(0x0112) +
                                     u16(3) + u32(1) + u16(uint32_t(orientation)) + u16(0) + u32(0);
            const std::string exif = std::string("Exif\0\0", 6) + tiff;
            const std::string app1 = std::string("\xFF\xE1") + char((exif.size() + 2) >> 8) + char(exif.size() + 2) + exif;
            const std::string clean = jpeg.substr(0, 2) + app1 + jpeg.substr(2);
            const size_t sos = clean.find("\xFF\xDA");
            ASSERT_NE(sos, std::string::npos);
            const std::string damaged = clean.substr(0, sos) + "\x12\x34" + clean.substr(sos); // pixels unchanged
            const std::string tag = std::to_string(orientation) + (big_endian ? "-be" : "-le");
            const eagle::image_rgb8 upright = eagle::load_image(written("exif-" + tag + ".jpg", clean));
            const eagle::image_rgb8 got = eagle::load_image(written("exif-damaged-" + tag + ".jpg", damaged));
            EXPECT_EQ(upright.nx, orientation >= 5 ? 16 : 24) << tag; // the clean file was turned
            EXPECT_EQ(got.nx, upright.nx) << tag;
            EXPECT_EQ(got.ny, upright.ny) << tag;
            EXPECT_EQ(got.rgb, upright.rgb) << tag;
        }
    }
}

// PNG and JPEG never need the codecs module (libeagle-codecs.so, loaded on first use); the other formats do, and
// without it they fail with one error naming the module and where it was looked for. Run in a fresh process (a
// threadsafe death test re-executes this binary): an earlier test in this one may have loaded the module.
namespace {

[[noreturn]] void read_without_the_codecs_module() {
    const auto fail = [](const std::string & why) {
        std::fprintf(stderr, "%s\n", why.c_str());
        std::exit(1);
    };
    cv::Mat bgr(4, 6, CV_8UC3, cv::Scalar(10, 20, 30));
    const std::string bmp = written("module.bmp", encoded(".bmp", bgr));
    const std::string png = written("module.png", encoded(".png", bgr));
    const std::string jpg = written("module.jpg", encoded(".jpg", bgr));
    const std::string missing = tmp_path("no-such-dir/libeagle-codecs.so");
    setenv("EAGLE_CODECS_MODULE", missing.c_str(), 1);
    if (eagle::load_image(png).nx != 6 || eagle::load_image(jpg).nx != 6) fail("PNG or JPEG misread");
    std::string message;
    const eagle::errc code = load_error(bmp, &message);
    unsetenv("EAGLE_CODECS_MODULE");
    if (code != eagle::errc::unsupported) fail("not errc::unsupported: " + message);
    for (const std::string & part : {std::string("needs libeagle-codecs.so"), missing, bmp}) {
        if (message.find(part) == std::string::npos) fail("'" + part + "' missing from: " + message);
    }
    if (eagle::load_image(bmp).nx != 6) fail("the BMP misread once the module is found"); // a failed load is retried
    std::exit(0);
}

} // namespace

TEST(image, formats_beyond_png_and_jpeg_need_the_codecs_module_and_say_so) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(read_without_the_codecs_module(), ::testing::ExitedWithCode(0), "");
}
