// Every segmenter and fill on an image of any size and aspect ratio (1x1, 1xN, Nx1, up to 4096 on a side) and
// any content, region labels of any values included: the in-memory paths, without a file format in between.
#include "fuzz-common.h"

#include "eagle/image.h"
#include "eagle/regions.h"

#include <algorithm>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    eagle::fuzz::input in(data, size);
    // a side is 1..4096, mostly small: sizes near 1 are where SLICO's seeding broke
    auto side = [&] {
        const uint32_t v = in.u16();
        return int32_t(v & 0x8000 ? 1 + (v & 0x0fff) : 1 + (v & 0x1f));
    };
    const int32_t nx = side(), ny = side();
    const int32_t n_divisions = int32_t(in.u16()) - 2; // also 0, negative and above the pixel count
    const int32_t n_cols = int32_t(in.byte()) - 1, n_rows = int32_t(in.byte()) - 1;
    if (int64_t(nx) * ny > (int64_t(1) << 18)) {
        return 0; // SLICO on a huge image is slow, not wrong; keep executions fast
    }
    eagle::image_rgb8 image{nx, ny, std::vector<uint8_t>(size_t(nx) * ny * 3)};
    for (size_t i = 0; i < image.rgb.size(); ++i) {
        image.rgb[i] = in.rest_size() ? in.rest()[i % in.rest_size()] : 0;
    }
    std::vector<eagle::region_set> sets;
    try {
        sets.push_back(eagle::make_slico_regions(image, n_divisions, 1 + int32_t(size % 3)));
    } catch (const eagle::error &) {
    }
    try {
        sets.push_back(eagle::make_grid_regions(nx, ny, n_cols, n_rows));
    } catch (const eagle::error &) {
    }
    for (const eagle::region_set & regions : sets) {
        if (regions.nx != nx || regions.ny != ny || regions.labels.size() != size_t(nx) * ny) {
            __builtin_trap(); // not a partition of this image
        }
        int64_t total = 0;
        for (int64_t a : regions.area_px) total += a;
        if (total != int64_t(nx) * ny) {
            __builtin_trap();
        }
        std::vector<uint8_t> selected(size_t(regions.n_regions), 0);
        for (size_t i = 0; i < selected.size(); i += 3) selected[i] = 1;
        const eagle::mask keep = eagle::region_mask(regions, selected);
        eagle::image_rgb8 out;
        eagle::apply_mask(image, eagle::make_fill_image(image, eagle::fill_mode::blur), keep, out);
        // the labels round trip through a PNG (the labels segmenter), up to the 16-bit limit
        if (regions.n_regions > eagle::max_regions) {
            continue;
        }
        const std::string path = eagle::fuzz::scratch_dir() + "/labels.png";
        eagle::save_region_labels(regions, path);
        const eagle::region_set back = eagle::load_region_labels(path, nx, ny);
        if (back.n_regions != regions.n_regions) {
            __builtin_trap();
        }
    }
    return 0;
}
