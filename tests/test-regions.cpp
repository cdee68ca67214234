// The region partitions (no model): SLICO against the reference's seed layout, grid cells, user label PNGs,
// and the checks on their parameters.
#include "eagle/error.h"
#include "eagle/regions.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

TEST(regions, slico_partitions_the_image_like_the_reference) {
    // 640x480 -> region size 69 -> SLICO seeds 7 rows x 9 columns = 63 regions (eagle-reference.md §2.1)
    eagle::image_rgb8 image{640, 480, std::vector<uint8_t>(640 * 480 * 3)};
    for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = uint8_t((i * 2654435761u) >> 24);
    const eagle::region_set r = eagle::make_slico_regions(image, 64);
    EXPECT_EQ(r.n_regions, 63);
    EXPECT_EQ(r.labels.size(), size_t(640 * 480));
    int64_t total = 0;
    for (int32_t i = 0; i < r.n_regions; ++i) {
        EXPECT_GT(r.area_px[i], 0) << "region " << i;
        total += r.area_px[i];
    }
    EXPECT_EQ(total, 640 * 480);
    for (int32_t id : r.labels) ASSERT_TRUE(id >= 0 && id < r.n_regions);
}

TEST(regions, grid_and_user_labels) {
    const eagle::region_set g = eagle::make_grid_regions(10, 7, 3, 2);
    EXPECT_EQ(g.n_regions, 6);
    EXPECT_EQ(std::accumulate(g.area_px.begin(), g.area_px.end(), int64_t(0)), 70);
    std::filesystem::create_directories(EAGLE_TEST_TMP_DIR);
    const std::string path = std::string(EAGLE_TEST_TMP_DIR) + "/labels.png";
    eagle::save_region_labels(g, path);
    const eagle::region_set back = eagle::load_region_labels(path, 10, 7);
    EXPECT_EQ(back.labels, g.labels);
    EXPECT_THROW(eagle::load_region_labels(path, 11, 7), eagle::error);
    EXPECT_THROW(eagle::load_region_labels(std::string(EAGLE_TEST_TMP_DIR) + "/none.png", 10, 7), eagle::error);
    EXPECT_THROW(eagle::make_grid_regions(10, 7, 11, 1), eagle::error);
}

TEST(regions, division_number_must_fit_the_image) {
    const eagle::image_rgb8 image{8, 8, std::vector<uint8_t>(8 * 8 * 3, 7)};
    EXPECT_THROW(eagle::make_slico_regions(image, 65), eagle::error);
    EXPECT_THROW(eagle::make_slico_regions(image, 0), eagle::error);
    EXPECT_NO_THROW(eagle::make_slico_regions(image, 4));
}

// issue 13: OpenCV's SLICO crashed (SIGSEGV) when the reference's region size exceeded the short side
TEST(regions, slico_partitions_images_of_any_shape) {
    struct shape { int32_t nx, ny, n_divisions; uint8_t value; };
    const shape shapes[] = {
        {4000, 3, 64, 0}, {3, 4000, 64, 0}, {1, 1, 1, 0}, {1, 500, 64, 9}, {500, 1, 64, 9}, {1, 64, 64, 9},
        {2, 2, 4, 255},   {7, 5, 1, 40},    {5, 7, 35, 40}, {300, 2, 64, 0}, {64, 64, 64, 0}, {16, 9, 144, 255},
    };
    for (const shape & s : shapes) {
        SCOPED_TRACE(std::to_string(s.nx) + "x" + std::to_string(s.ny) + " D=" + std::to_string(s.n_divisions));
        for (int pattern = 0; pattern < 2; ++pattern) { // one colour, then noise
            eagle::image_rgb8 image{s.nx, s.ny, std::vector<uint8_t>(size_t(s.nx) * s.ny * 3, s.value)};
            if (pattern == 1) {
                for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = uint8_t((i * 2654435761u) >> 24);
            }
            const eagle::region_set r = eagle::make_slico_regions(image, s.n_divisions);
            ASSERT_GE(r.n_regions, 1);
            ASSERT_EQ(r.labels.size(), size_t(s.nx) * s.ny);
            EXPECT_EQ(std::accumulate(r.area_px.begin(), r.area_px.end(), int64_t(0)), int64_t(s.nx) * s.ny);
            for (int32_t i = 0; i < r.n_regions; ++i) EXPECT_GT(r.area_px[i], 0);
            for (int32_t id : r.labels) ASSERT_TRUE(id >= 0 && id < r.n_regions);
        }
    }
}

TEST(regions, slico_errors_name_the_image_size_and_the_division_number) {
    const eagle::image_rgb8 image{4, 3, std::vector<uint8_t>(4 * 3 * 3, 7)};
    try {
        eagle::make_slico_regions(image, 13);
        FAIL() << "no error";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("13"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("4x3"), std::string::npos) << e.what();
    }
    EXPECT_THROW(eagle::make_slico_regions(eagle::image_rgb8{}, 1), eagle::error);
    EXPECT_THROW(eagle::make_slico_regions(eagle::image_rgb8{4, 3, {}}, 1), eagle::error); // buffer too short
    eagle::region_params grid;
    grid.kind = eagle::region_kind::grid;
    grid.n_cols = 0;
    EXPECT_THROW(eagle::make_regions(image, grid), eagle::error);
}
