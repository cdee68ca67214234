// The .npy format (NumPy's NEP 1), read and written here only.
#include "eagle/npy.h"

#include "eagle/error.h"
#include "eagle/image.h"

#include <cstring>
#include <limits>
#include <string>

namespace eagle {

namespace {

// NPY v1.0 bytes of n elements of `descr` (item_size bytes each, already little-endian in `raw`)
std::string npy_bytes(const char * what, const char * descr, size_t item_size, const std::vector<int64_t> & shape,
                      const char * raw, size_t n_values) {
    size_t n = 1;
    std::string dims;
    for (size_t i = 0; i < shape.size(); ++i) {
        n *= size_t(shape[i]);
        dims += (i ? ", " : "") + std::to_string(shape[i]);
    }
    if (shape.size() == 1) {
        dims += ","; // numpy writes a one-tuple as (n,)
    }
    if (n != n_values) {
        throw error(errc::invalid_argument, std::string(what) + ": " + std::to_string(n_values) + " values for a shape of " +
                                                std::to_string(n));
    }
    std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    // NPY v1.0: magic, version, header length; the header padded with spaces to a multiple of 64, ending in \n
    const size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header.push_back('\n');
    std::string out = std::string("\x93NUMPY\x01\x00", 8);
    const uint16_t len = uint16_t(header.size());
    out.push_back(char(len & 0xff));
    out.push_back(char(len >> 8));
    out += header;
    out.append(raw, n_values * item_size);
    return out;
}

} // namespace

std::string npy_bytes_u8(const std::vector<int64_t> & shape, const std::vector<uint8_t> & data) {
    return npy_bytes("npy_bytes_u8", "|u1", 1, shape, reinterpret_cast<const char *>(data.data()), data.size());
}

std::string npy_bytes_i64(const std::vector<int64_t> & shape, const std::vector<uint8_t> & data) {
    std::string wide(data.size() * 8, '\0');
    for (size_t i = 0; i < data.size(); ++i) {
        wide[i * 8] = char(data[i]); // little-endian int64 of a byte value: the low byte, zeros above
    }
    return npy_bytes("npy_bytes_i64", "<i8", 8, shape, wide.data(), data.size());
}


namespace {

[[noreturn]] void bad_npy(const std::string & source, const std::string & what) {
    throw error(errc::io, source + ": not a readable .npy (" + what + ")");
}

// the value of 'key' in the header dict: the text up to the next top-level ',' or '}'
std::string header_field(const std::string & header, const std::string & key, const std::string & source) {
    const std::string quoted[2] = {"'" + key + "'", "\"" + key + "\""};
    size_t pos = std::string::npos;
    for (const std::string & q : quoted) {
        pos = header.find(q);
        if (pos != std::string::npos) {
            pos += q.size();
            break;
        }
    }
    if (pos == std::string::npos || (pos = header.find(':', pos)) == std::string::npos) {
        bad_npy(source, "no '" + key + "' in the header");
    }
    ++pos;
    int depth = 0;
    size_t end = pos;
    for (; end < header.size(); ++end) {
        const char c = header[end];
        if (c == '(' || c == '[') {
            ++depth;
        } else if (c == ')' || c == ']') {
            --depth;
        } else if ((c == ',' || c == '}') && depth == 0) {
            break;
        }
    }
    std::string v = header.substr(pos, end - pos);
    const size_t b = v.find_first_not_of(" \t'\"");
    const size_t e = v.find_last_not_of(" \t'\"");
    return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
}

} // namespace

double npy_array::at(size_t i) const {
    const char * p = data.data() + i * size_t(item_size);
    switch (kind) {
        case 'b':
        case 'u': {
            uint64_t v = 0;
            std::memcpy(&v, p, size_t(item_size)); // little-endian host (checked by the parser's callers' platforms)
            return double(v);
        }
        case 'i': {
            int64_t v = 0;
            std::memcpy(&v, p, size_t(item_size));
            const int shift = 64 - 8 * item_size; // sign-extend
            return double(shift > 0 ? (v << shift) >> shift : v);
        }
        case 'f': {
            if (item_size == 4) {
                float f = 0;
                std::memcpy(&f, p, 4);
                return double(f);
            }
            double d = 0;
            std::memcpy(&d, p, 8);
            return d;
        }
        default: return std::numeric_limits<double>::quiet_NaN();
    }
}

npy_array parse_npy(const std::string & bytes, const std::string & source) {
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
        bad_npy(source, "bad magic");
    }
    const uint8_t major = uint8_t(bytes[6]);
    size_t header_len = 0, offset = 0;
    if (major == 1) {
        header_len = size_t(uint8_t(bytes[8])) | size_t(uint8_t(bytes[9])) << 8;
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) {
            bad_npy(source, "truncated header");
        }
        for (int k = 0; k < 4; ++k) {
            header_len |= size_t(uint8_t(bytes[8 + k])) << (8 * k);
        }
        offset = 12;
    } else {
        bad_npy(source, "version " + std::to_string(major));
    }
    if (offset + header_len > bytes.size()) {
        bad_npy(source, "truncated header");
    }
    const std::string header = bytes.substr(offset, header_len);
    npy_array a;
    const std::string descr = header_field(header, "descr", source);
    if (descr.size() < 3 || (descr[0] != '<' && descr[0] != '|' && descr[0] != '=')) {
        bad_npy(source, "dtype '" + descr + "' is not little-endian");
    }
    a.kind = descr[1];
    a.item_size = std::atoi(descr.c_str() + 2);
    const bool ok = ((a.kind == 'u' || a.kind == 'i') && (a.item_size == 1 || a.item_size == 2 || a.item_size == 4 || a.item_size == 8)) ||
                    (a.kind == 'b' && a.item_size == 1) || (a.kind == 'f' && (a.item_size == 4 || a.item_size == 8));
    if (!ok) {
        bad_npy(source, "unsupported dtype '" + descr + "'");
    }
    if (header_field(header, "fortran_order", source) != "False") {
        bad_npy(source, "Fortran order");
    }
    const std::string shape = header_field(header, "shape", source);
    size_t n = 1;
    for (size_t i = 0; i < shape.size();) {
        if (std::isdigit(static_cast<unsigned char>(shape[i]))) {
            size_t end = i;
            while (end < shape.size() && std::isdigit(static_cast<unsigned char>(shape[end]))) {
                ++end;
            }
            // at most 15 digits (no stoll overflow), and a product that fits: a shape the data must then match
            if (end - i > 15) {
                bad_npy(source, "shape " + shape + " has a dimension too large");
            }
            a.shape.push_back(std::stoll(shape.substr(i, end - i)));
            if (__builtin_mul_overflow(n, size_t(a.shape.back()), &n) || n > bytes.size()) {
                bad_npy(source, "shape " + shape + " needs more bytes than the file has (" + std::to_string(bytes.size()) + ")");
            }
            i = end;
        } else {
            ++i;
        }
    }
    const size_t data_offset = offset + header_len;
    if (bytes.size() - data_offset != n * size_t(a.item_size)) {
        bad_npy(source, "shape " + shape + " needs " + std::to_string(n * size_t(a.item_size)) + " bytes, the file has " +
                            std::to_string(bytes.size() - data_offset));
    }
    a.data = bytes.substr(data_offset);
    return a;
}

std::vector<int32_t> ranks_from_masks(const npy_array & masks, const std::string & source, int32_t & nx, int32_t & ny) {
    const auto & s = masks.shape;
    const bool is_stack = (s.size() == 3) || (s.size() == 4 && s[3] == 1);
    if (!is_stack || masks.kind == 'f') {
        throw error(errc::io, source + ": region masks must be an integer stack [n, H, W] or [n, H, W, 1]");
    }
    // a stack with no mask still names its image size, which must be one eagle accepts
    if (s[1] < 1 || s[2] < 1 || s[1] > max_image_side || s[2] > max_image_side || s[1] * s[2] > max_image_pixels) {
        throw error(errc::io, source + ": region masks of " + std::to_string(s[2]) + "x" + std::to_string(s[1]) +
                                  " pixels (eagle reads 1.." + std::to_string(max_image_side) + " px per side)");
    }
    ny = int32_t(s[1]);
    nx = int32_t(s[2]);
    const size_t n_px = size_t(nx) * size_t(ny);
    std::vector<int32_t> rank(n_px, -1);
    for (int64_t k = 0; k < s[0]; ++k) {
        for (size_t i = 0; i < n_px; ++i) {
            if (masks.at(size_t(k) * n_px + i) == 1.0) { // the script: single_mask[S == 1] = value
                rank[i] = int32_t(k);
            }
        }
    }
    return rank;
}

} // namespace eagle
