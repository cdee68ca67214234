// Test helper: where the fields of a GGUF file are (magic, version, counts, each key/value's type, each tensor's
// dims, type and offset), so a test can tamper with exactly one of them. GGUF v3 layout, little-endian:
//   "GGUF" u32 version, u64 n_tensors, u64 n_kv, n_kv x (string key, u32 type, value), n_tensors x (string name,
//   u32 n_dims, u64 dims[n_dims], u32 type, u64 offset); a string is u64 length + bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace eagle::testing {

struct gguf_layout {
    size_t n_tensors_at = 8, n_kv_at = 16;
    std::vector<size_t> kv_key_at, kv_type_at;                 // the key's length field, the value's type field
    std::vector<size_t> tensor_n_dims_at, tensor_type_at, tensor_offset_at;
};

inline gguf_layout parse_gguf_layout(const std::string & f) {
    size_t p = 0;
    auto u32 = [&] { uint32_t v; if (p + 4 > f.size()) throw std::runtime_error("short"); std::memcpy(&v, &f[p], 4); p += 4; return v; };
    auto u64 = [&] { uint64_t v; if (p + 8 > f.size()) throw std::runtime_error("short"); std::memcpy(&v, &f[p], 8); p += 8; return v; };
    auto skip_string = [&] { p += size_t(u64()); };
    const size_t scalar_size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    std::function<void(uint32_t)> skip_value = [&](uint32_t type) {
        if (type == 8) {
            skip_string();
        } else if (type == 9) {
            const uint32_t elem = u32();
            const uint64_t n = u64();
            for (uint64_t i = 0; i < n; ++i) skip_value(elem);
        } else if (type < 13) {
            p += scalar_size[type];
        } else {
            throw std::runtime_error("bad type");
        }
    };
    gguf_layout g;
    p = 8;
    const uint64_t n_tensors = u64(), n_kv = u64();
    for (uint64_t i = 0; i < n_kv; ++i) {
        g.kv_key_at.push_back(p);
        skip_string();
        g.kv_type_at.push_back(p);
        skip_value(u32());
    }
    for (uint64_t i = 0; i < n_tensors; ++i) {
        skip_string();
        g.tensor_n_dims_at.push_back(p);
        const uint32_t n_dims = u32();
        p += 8 * size_t(n_dims);
        g.tensor_type_at.push_back(p);
        p += 4;
        g.tensor_offset_at.push_back(p);
        p += 8;
    }
    return g;
}

template <typename T> std::string with_field(std::string f, size_t at, T value) {
    std::memcpy(&f[at], &value, sizeof(T));
    return f;
}

} // namespace eagle::testing
