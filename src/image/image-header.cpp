#include "image-header.h"

#include "eagle/error.h"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace eagle::detail {

namespace {

// Bounds-checked reads off a byte span; every read past the end gives nullopt, so a cut header is never UB.
class bytes_at {
public:
    bytes_at(const uint8_t * data, size_t size, bool big_endian) : data_(data), size_(size), big_endian_(big_endian) {}

    std::optional<uint64_t> uint(size_t offset, int n_bytes) const {
        if (offset > size_ || size_t(n_bytes) > size_ - offset) {
            return std::nullopt;
        }
        uint64_t v = 0;
        for (int i = 0; i < n_bytes; ++i) {
            const uint64_t b = data_[offset + size_t(i)];
            v |= big_endian_ ? b << (8 * (n_bytes - 1 - i)) : b << (8 * i);
        }
        return v;
    }
    bool starts_with(size_t offset, const char * text) const {
        const size_t n = std::strlen(text);
        return offset <= size_ && n <= size_ - offset && std::memcmp(data_ + offset, text, n) == 0;
    }
    size_t size() const { return size_; }
    const uint8_t * data() const { return data_; }

private:
    const uint8_t * data_;
    size_t size_;
    bool big_endian_;
};

[[noreturn]] void bad_header(const char * format, const std::string & why, const std::string & path, const char * what) {
    throw error(errc::io, std::string(what) + ": '" + path + "' is not a valid " + format + " (" + why + ")");
}

// The values of the given SHORT/LONG/LONG8 tags in a TIFF structure's first IFD (a TIFF file, or the body of a
// JPEG's Exif segment). `tiff` starts at the byte-order mark. Tags not found, or with another type, stay unset.
struct tiff_tags {
    std::optional<uint64_t> values[3];
};

std::optional<tiff_tags> read_first_ifd(const uint8_t * tiff, size_t size, const uint16_t (&tags)[3]) {
    if (size < 8 || !((tiff[0] == 'I' && tiff[1] == 'I') || (tiff[0] == 'M' && tiff[1] == 'M'))) {
        return std::nullopt;
    }
    const bytes_at at(tiff, size, tiff[0] == 'M');
    const uint64_t magic = *at.uint(2, 2);
    const bool big = magic == 43; // BigTIFF: 8-byte offsets and counts, 20-byte entries
    if (magic != 42 && !big) {
        return std::nullopt;
    }
    if (big && (at.uint(4, 2) != uint64_t(8) || at.uint(6, 2) != uint64_t(0))) {
        return std::nullopt;
    }
    const std::optional<uint64_t> ifd = big ? at.uint(8, 8) : at.uint(4, 4);
    if (!ifd || *ifd >= size) {
        return std::nullopt;
    }
    const std::optional<uint64_t> n_entries = big ? at.uint(size_t(*ifd), 8) : at.uint(size_t(*ifd), 2);
    if (!n_entries) {
        return std::nullopt;
    }
    const size_t entry_size = big ? 20 : 12, first = size_t(*ifd) + (big ? 8 : 2);
    tiff_tags out;
    for (uint64_t k = 0; k < *n_entries; ++k) {
        // an entry past the end fails its reads below, so a count larger than the file ends the loop
        const size_t e = first + size_t(k) * entry_size;
        const std::optional<uint64_t> tag = at.uint(e, 2), type = at.uint(e + 2, 2);
        if (!tag || !type) {
            return std::nullopt;
        }
        const size_t value = e + (big ? 12 : 8); // a single SHORT or LONG sits in the entry itself
        for (int t = 0; t < 3; ++t) {
            if (*tag != tags[t] || out.values[t]) {
                continue;
            }
            if (*type == 3) {
                out.values[t] = at.uint(value, 2);
            } else if (*type == 4) {
                out.values[t] = at.uint(value, 4);
            } else if (*type == 16 && big) {
                out.values[t] = at.uint(value, 8);
            }
        }
    }
    return out;
}

// PNM, PAM and PFM headers are text: whitespace-separated decimal numbers, '#' comments to the end of a line.
class text_header {
public:
    explicit text_header(const std::vector<uint8_t> & file, size_t pos) : file_(file), pos_(pos) {}

    // the next number; nullopt at the end of the file or on anything that is not digits. Saturates far above
    // any limit (a 30-digit width is "too large", not an overflow).
    std::optional<int64_t> number() {
        skip_blanks();
        if (pos_ >= file_.size() || !std::isdigit(file_[pos_])) {
            return std::nullopt;
        }
        int64_t v = 0;
        while (pos_ < file_.size() && std::isdigit(file_[pos_])) {
            v = std::min<int64_t>(v * 10 + (file_[pos_++] - '0'), int64_t(1) << 40);
        }
        return v;
    }
    // the next word (PAM's "WIDTH", "ENDHDR", ...)
    std::string word() {
        skip_blanks();
        std::string w;
        while (pos_ < file_.size() && std::isgraph(file_[pos_]) && w.size() < 64) {
            w.push_back(char(file_[pos_++]));
        }
        return w;
    }

private:
    void skip_blanks() {
        while (pos_ < file_.size()) {
            if (file_[pos_] == '#') {
                while (pos_ < file_.size() && file_[pos_] != '\n' && file_[pos_] != '\r') ++pos_;
            } else if (std::isspace(file_[pos_])) {
                ++pos_;
            } else {
                break;
            }
        }
    }
    const std::vector<uint8_t> & file_;
    size_t pos_;
};

image_header bmp_header(const bytes_at & le, const std::string & path, const char * what) {
    const std::optional<uint64_t> dib = le.uint(14, 4);
    if (!dib || *dib < 12) {
        bad_header("BMP", "no bitmap header", path, what);
    }
    if (*dib == 12) { // OS/2 BITMAPCOREHEADER: 16-bit sizes
        const auto w = le.uint(18, 2), h = le.uint(20, 2);
        if (!w || !h) bad_header("BMP", "header cut short", path, what);
        return {"BMP", int64_t(*w), int64_t(*h)};
    }
    const auto w = le.uint(18, 4), h = le.uint(22, 4);
    if (!w || !h) {
        bad_header("BMP", "header cut short", path, what);
    }
    // signed 32-bit; a negative height means rows stored top-down
    const int64_t width = int32_t(uint32_t(*w)), height = int32_t(uint32_t(*h));
    return {"BMP", width, height < 0 ? -height : height};
}

image_header webp_header(const bytes_at & le, const std::string & path, const char * what) {
    const size_t data = 20; // the first chunk's payload, after "RIFF" size "WEBP" fourcc size
    if (le.starts_with(12, "VP8 ")) { // lossy: a 3-byte frame tag, the start code, 14-bit sizes
        const auto w = le.uint(data + 6, 2), h = le.uint(data + 8, 2);
        if (!w || !h || !(le.uint(data + 3, 3) == uint64_t(0x2a019d))) bad_header("WebP", "bad VP8 frame header", path, what);
        return {"WebP", int64_t(*w & 0x3fff), int64_t(*h & 0x3fff)};
    }
    if (le.starts_with(12, "VP8L")) { // lossless: signature 0x2f, then 14-bit width-1 and height-1
        const auto bits = le.uint(data + 1, 4);
        if (!bits || le.uint(data, 1) != uint64_t(0x2f)) bad_header("WebP", "bad VP8L header", path, what);
        return {"WebP", int64_t(*bits & 0x3fff) + 1, int64_t((*bits >> 14) & 0x3fff) + 1};
    }
    if (le.starts_with(12, "VP8X")) { // extended: 24-bit canvas width-1 and height-1
        const auto w = le.uint(data + 4, 3), h = le.uint(data + 7, 3);
        if (!w || !h) bad_header("WebP", "VP8X header cut short", path, what);
        return {"WebP", int64_t(*w) + 1, int64_t(*h) + 1};
    }
    bad_header("WebP", "no VP8, VP8L or VP8X chunk first", path, what);
}

image_header tiff_header(const std::vector<uint8_t> & file, const std::string & path, const char * what) {
    const uint16_t tags[3] = {256, 257, 0}; // ImageWidth, ImageLength
    const std::optional<tiff_tags> t = read_first_ifd(file.data(), file.size(), tags);
    if (!t || !t->values[0] || !t->values[1]) {
        bad_header("TIFF", "no readable ImageWidth and ImageLength in the first directory", path, what);
    }
    return {"TIFF", int64_t(std::min<uint64_t>(*t->values[0], uint64_t(1) << 40)),
            int64_t(std::min<uint64_t>(*t->values[1], uint64_t(1) << 40))};
}

image_header text_size(const std::vector<uint8_t> & file, const char * format, const std::string & path, const char * what) {
    text_header text(file, 2);
    const std::optional<int64_t> w = text.number(), h = text.number();
    if (!w || !h) {
        bad_header(format, "no width and height in the header", path, what);
    }
    return {format, *w, *h};
}

image_header pam_header(const std::vector<uint8_t> & file, const std::string & path, const char * what) {
    text_header text(file, 2);
    std::optional<int64_t> w, h;
    for (int n_words = 0; n_words < 64; ++n_words) { // a PAM header is a handful of "KEY value" lines
        const std::string key = text.word();
        if (key.empty() || key == "ENDHDR") {
            break;
        }
        if (key == "WIDTH") w = text.number();
        if (key == "HEIGHT") h = text.number();
    }
    if (!w || !h) {
        bad_header("PAM", "no WIDTH and HEIGHT before ENDHDR", path, what);
    }
    return {"PAM", *w, *h};
}

} // namespace

std::optional<image_header> read_image_header(const std::vector<uint8_t> & file, const std::string & path, const char * what) {
    const bytes_at le(file.data(), file.size(), false);
    const bool blank_after_magic = file.size() > 2 && std::isspace(file[2]);
    if (le.starts_with(0, "BM")) {
        return bmp_header(le, path, what);
    }
    if (le.starts_with(0, "RIFF") && le.starts_with(8, "WEBP")) {
        return webp_header(le, path, what);
    }
    if (le.starts_with(0, "II*\0") || le.starts_with(0, "MM\0*") || le.starts_with(0, "II+\0") || le.starts_with(0, "MM\0+")) {
        return tiff_header(file, path, what);
    }
    if (file.size() > 2 && file[0] == 'P' && file[1] >= '1' && file[1] <= '6' && blank_after_magic) {
        return text_size(file, "PNM", path, what);
    }
    if (le.starts_with(0, "P7") && blank_after_magic) {
        return pam_header(file, path, what);
    }
    if ((le.starts_with(0, "PF") || le.starts_with(0, "Pf")) && blank_after_magic) {
        return text_size(file, "PFM", path, what);
    }
    return std::nullopt;
}

int tiff_exif_orientation(const uint8_t * tiff, size_t size) {
    const uint16_t tags[3] = {0x0112, 0, 0}; // Orientation
    const std::optional<tiff_tags> t = read_first_ifd(tiff, size, tags);
    return t && t->values[0] && *t->values[0] >= 1 && *t->values[0] <= 8 ? int(*t->values[0]) : 1;
}

int jpeg_exif_orientation(const std::vector<uint8_t> & file) {
    // walk the marker segments up to the scan; OpenCV reads the first APP1 segment only, so does this
    const bytes_at be(file.data(), file.size(), true);
    size_t pos = 2;
    while (true) {
        const auto marker = be.uint(pos, 2), length = be.uint(pos + 2, 2);
        if (!marker || !length || (*marker >> 8) != 0xFF || *marker == 0xFFDA || *length < 2) {
            return 1;
        }
        if (*marker == 0xFFE1) {
            const size_t body = pos + 4, n = size_t(*length) - 2;
            if (n < 6 || body + n > file.size() || std::memcmp(file.data() + body, "Exif\0\0", 6) != 0) {
                return 1;
            }
            return tiff_exif_orientation(file.data() + body + 6, n - 6);
        }
        pos += 2 + size_t(*length);
    }
}

cv::Mat apply_exif_orientation(const cv::Mat & pixels, int orientation) {
    cv::Mat out;
    switch (orientation) {
        case 2: cv::flip(pixels, out, 1); break;  // mirrored left-right
        case 3: cv::flip(pixels, out, -1); break; // rotated 180 degrees
        case 4: cv::flip(pixels, out, 0); break;  // mirrored top-bottom
        case 5: cv::transpose(pixels, out); break;
        case 6: cv::transpose(pixels, out); cv::flip(out, out, 1); break;  // rotated 90 degrees clockwise
        case 7: cv::transpose(pixels, out); cv::flip(out, out, -1); break;
        case 8: cv::transpose(pixels, out); cv::flip(out, out, 0); break;  // rotated 90 degrees counter-clockwise
        default: out = pixels; break;
    }
    return out;
}

} // namespace eagle::detail
