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
