// Any bytes as a .npy file (regions.npy, the reference's npy/<name>.npy): parse_npy, then the mask stack as
// ranks; every element read back.
#include "fuzz-common.h"

#include "eagle/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    const std::string bytes(reinterpret_cast<const char *>(data), size);
    try {
        const eagle::npy_array a = eagle::parse_npy(bytes, "fuzz.npy");
        size_t n = 1;
        for (int64_t d : a.shape) n *= size_t(d);
        if (n * size_t(a.item_size) != a.data.size()) {
            __builtin_trap(); // the parser promised data matching the shape
        }
        double sum = 0;
        for (size_t i = 0; i < n; ++i) sum += a.at(i);
        (void) sum;
        int32_t nx = 0, ny = 0;
        const std::vector<int32_t> ranks = eagle::ranks_from_masks(a, "fuzz.npy", nx, ny);
        if (ranks.size() != size_t(nx) * size_t(ny)) {
            __builtin_trap();
        }
    } catch (const eagle::error &) {
    }
    return 0;
}
