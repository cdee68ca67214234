// Shared by the fuzz targets (libFuzzer; built by `cmake --preset fuzz`, run by scripts/fuzz.sh; docs/bad-inputs.md).
// The rule they check: whatever the bytes, eagle either works or throws eagle::error; any other exception, a
// crash, a sanitizer report or a leak is a finding. So the targets catch eagle::error only.
#pragma once

#include "eagle/error.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

namespace eagle::fuzz {

// a private scratch folder for this process (the readers under test take paths), removed at exit
inline const std::string & scratch_dir() {
    static const std::string dir = [] {
        const char * base = std::getenv("TMPDIR");
        std::string templ = std::string(base && *base ? base : "/tmp") + "/eagle-fuzz-XXXXXX";
        if (!mkdtemp(templ.data())) {
            std::perror("mkdtemp");
            std::abort();
        }
        static std::string keep = templ;
        std::atexit([] { std::system(("rm -rf '" + keep + "'").c_str()); });
        return templ;
    }();
    return dir;
}

inline std::string write_scratch(const std::string & name, const uint8_t * data, size_t size) {
    const std::string path = scratch_dir() + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char *>(data), std::streamsize(size));
    return path;
}

// Reads little fields off the front of the input, then hands out the rest.
class input {
public:
    input(const uint8_t * data, size_t size) : data_(data), size_(size) {}
    uint8_t byte() { return size_ ? (--size_, *data_++) : 0; }
    uint32_t u16() { return uint32_t(byte()) | uint32_t(byte()) << 8; }
    const uint8_t * rest() const { return data_; }
    size_t rest_size() const { return size_; }
    std::string take(size_t n) {
        n = n < size_ ? n : size_;
        std::string s(reinterpret_cast<const char *>(data_), n);
        data_ += n;
        size_ -= n;
        return s;
    }

private:
    const uint8_t * data_;
    size_t size_;
};

} // namespace eagle::fuzz
