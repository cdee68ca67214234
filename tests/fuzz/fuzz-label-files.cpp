// Any bytes as a user's region-label PNG (--segmenter labels --labels FILE) and as a mask file (--mask FILE):
// 8- and 16-bit gray, palette, colour, any ids. The expected size is the file's own (from a PNG's IHDR) or one
// off it, so both the size check and the relabelling run.
#include "fuzz-common.h"

#include "eagle/image.h"
#include "eagle/regions.h"

#include <algorithm>
#include <climits>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    eagle::fuzz::input in(data, size);
    const uint8_t mode = in.byte();
    const uint8_t * file = in.rest();
    const size_t n = in.rest_size();
    int64_t w = 1, h = 1;
    if (n >= 24) { // PNG: width and height are big-endian at bytes 16..23
        w = int64_t(uint32_t(file[16]) << 24 | uint32_t(file[17]) << 16 | uint32_t(file[18]) << 8 | file[19]);
        h = int64_t(uint32_t(file[20]) << 24 | uint32_t(file[21]) << 16 | uint32_t(file[22]) << 8 | file[23]);
    }
    if (mode & 1) w += 1;
    const int32_t nx = int32_t(std::min<int64_t>(w, INT32_MAX)), ny = int32_t(std::min<int64_t>(h, INT32_MAX));
    const std::string path = eagle::fuzz::write_scratch("labels.png", file, n);
    try {
        const eagle::region_set regions = eagle::load_region_labels(path, nx, ny);
        int64_t total = 0;
        for (int64_t a : regions.area_px) total += a;
        if (total != int64_t(regions.nx) * regions.ny || regions.nx != nx || regions.ny != ny) {
            __builtin_trap(); // a labels file must give a partition of the image it was asked for
        }
    } catch (const eagle::error &) {
    }
    try {
        const eagle::mask m = eagle::load_mask(path);
        if (m.keep.size() != size_t(m.nx) * m.ny) {
            __builtin_trap();
        }
    } catch (const eagle::error &) {
    }
    return 0;
}
