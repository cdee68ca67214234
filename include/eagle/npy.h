// eagle/npy.h - NumPy's .npy format, read and written in one place: regions.npy (the ordered region masks, uint8
// [n, H, W, 1], the reference's layout) and the reference's own files (masks, or float [H, W] baseline maps).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eagle {


struct npy_array {
    char kind = 'u';                 // numpy kind: 'u' unsigned, 'i' signed, 'b' bool, 'f' float
    int32_t item_size = 1;           // bytes per element
    std::vector<int64_t> shape;
    std::string data;                // C order, little-endian
    double at(size_t i) const;       // element i as double
};

// Parses an NPY v1/v2/v3 file held in memory. Throws errc::io naming `source` for a bad magic, header,
// big-endian or Fortran-ordered data, or a size that does not match the shape.
npy_array parse_npy(const std::string & bytes, const std::string & source);

// Per pixel, the index of the last mask that covers it (-1: none), from a stack [n, H, W] or [n, H, W, 1];
// sets nx, ny. Throws errc::io naming `source` for another shape.
std::vector<int32_t> ranks_from_masks(const npy_array & masks, const std::string & source, int32_t & nx, int32_t & ny);

// .npy bytes of a uint8 array of `shape` (C order); data.size() must be the shape's product
std::string npy_bytes_u8(const std::vector<int64_t> & shape, const std::vector<uint8_t> & data);
// the same values as int64 ('<i8'): what the reference's np.save of its int masks writes
std::string npy_bytes_i64(const std::vector<int64_t> & shape, const std::vector<uint8_t> & data);

} // namespace eagle
