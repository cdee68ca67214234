// !!! Internal header, to be used by src/ only !!!
// Token pieces as words: SentencePiece's marker is already a space in a piece, so a word is its piece without
// surrounding white space.
#pragma once

#include <cctype>
#include <string>

namespace eagle {

inline std::string trim_space(const std::string & text) {
    size_t b = 0, e = text.size();
    while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
    return text.substr(b, e - b);
}

} // namespace eagle
