// Any bytes as an image file (PNG, JPEG, BMP, ... whatever OpenCV recognises): load_image, then masking with
// every fill and every segmenter on what decoded; the same bytes as a mask file.
#include "fuzz-common.h"

#include "eagle/image.h"
#include "eagle/regions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    eagle::fuzz::input in(data, size);
    const int32_t n_divisions = 1 + in.byte();
    const int32_t n_cols = 1 + in.byte() % 16, n_rows = 1 + in.byte() % 16;
    const std::string path = eagle::fuzz::write_scratch("image", in.rest(), in.rest_size());
    try {
        const eagle::image_rgb8 image = eagle::load_image(path);
        // a few compressed bytes can decode to eagle's limit of 64 Mpx: segmenting and masking that under the
        // sanitizers takes longer than libFuzzer's timeout (a CI run found one), and says nothing about parsing;
        // the segmenters and masks are fuzzed on images up to 1 Mpx
        const bool is_small = int64_t(image.nx) * image.ny <= (int64_t(1) << 20);
        std::vector<eagle::region_set> sets;
        try {
            if (is_small) sets.push_back(eagle::make_slico_regions(image, n_divisions, 2));
        } catch (const eagle::error &) {
            // D larger than the pixel count: rejected by name
        }
        if (is_small) sets.push_back(eagle::make_grid_regions(image.nx, image.ny, std::min(n_cols, image.nx), std::min(n_rows, image.ny)));
        for (const eagle::region_set & regions : sets) {
            std::vector<uint8_t> selected(size_t(regions.n_regions), 0);
            for (size_t i = 0; i < selected.size(); i += 2) selected[i] = 1;
            const eagle::mask keep = eagle::region_mask(regions, selected);
            for (eagle::fill_mode fill : {eagle::fill_mode::black, eagle::fill_mode::mean, eagle::fill_mode::blur}) {
                eagle::image_rgb8 out;
                eagle::apply_mask(image, eagle::make_fill_image(image, fill), keep, out);
            }
            (void) eagle::mask_to_polygons(keep);
        }
    } catch (const eagle::error &) {
    }
    try {
        (void) eagle::load_mask(path);
    } catch (const eagle::error &) {
    }
    return 0;
}
