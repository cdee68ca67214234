// base64 decoding for tests that read back what eagle encodes (src/common/base64.h has the encoder only: the
// library never decodes): the report's <img> data URIs, the image a mock server receives.
#pragma once

#include <cstdint>
#include <string>

namespace eagle_test {

// RFC 4648 with padding; the first '=' (or any character outside the alphabet) ends the data
inline std::string base64_decode(const std::string & in) {
    static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t bits = 0;
    int n_bits = 0;
    for (char c : in) {
        const size_t v = alphabet.find(c);
        if (v == std::string::npos) {
            break;
        }
        bits = (bits << 6) | uint32_t(v);
        n_bits += 6;
        if (n_bits >= 8) {
            n_bits -= 8;
            out.push_back(char((bits >> n_bits) & 0xff));
        }
    }
    return out;
}

} // namespace eagle_test
