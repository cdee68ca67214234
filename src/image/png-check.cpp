#include "png-check.h"

#include "eagle/error.h"
#include "eagle/image.h"

#include <zlib.h>

#include <cstring>

namespace eagle::detail {

namespace {

constexpr uint8_t k_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

uint32_t be32(const uint8_t * p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

void put32(std::vector<uint8_t> & out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

void put_chunk(std::vector<uint8_t> & out, const char * type, const uint8_t * data, size_t n) {
    put32(out, uint32_t(n));
    const size_t start = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data, data + n);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = start; off < out.size();) { // crc32 takes uInt lengths
        const uInt len = uInt(std::min<size_t>(out.size() - off, 1u << 30));
        crc = crc32(crc, out.data() + off, len);
        off += len;
    }
    put32(out, uint32_t(crc));
}

int channels_of(int color_type) {
    switch (color_type) {
        case 0: return 1;
        case 2: return 3;
        case 3: return 1;
        case 4: return 2;
        case 6: return 4;
    }
    return 0;
}

bool depth_allowed(int color_type, int depth) {
    switch (color_type) {
        case 0: return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
        case 3: return depth == 1 || depth == 2 || depth == 4 || depth == 8;
        case 2: case 4: case 6: return depth == 8 || depth == 16;
    }
    return false;
}

// the (row bytes + 1 filter byte, row count) of each pass: one pass, or Adam7's seven
std::vector<std::pair<uint64_t, uint64_t>> row_layout(uint64_t w, uint64_t h, int bits_per_px, bool interlaced) {
    auto row_bytes = [&](uint64_t width) { return (width * uint64_t(bits_per_px) + 7) / 8 + 1; };
    if (!interlaced) return {{row_bytes(w), h}};
    static const int sx[7] = {0, 4, 0, 2, 0, 1, 0}, dx[7] = {8, 8, 4, 4, 2, 2, 1};
    static const int sy[7] = {0, 0, 4, 0, 2, 0, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
    std::vector<std::pair<uint64_t, uint64_t>> passes;
    for (int p = 0; p < 7; ++p) {
        const uint64_t pw = w > uint64_t(sx[p]) ? (w - sx[p] + dx[p] - 1) / dx[p] : 0;
        const uint64_t ph = h > uint64_t(sy[p]) ? (h - sy[p] + dy[p] - 1) / dy[p] : 0;
        if (pw > 0 && ph > 0) passes.emplace_back(row_bytes(pw), ph);
    }
    return passes;
}

} // namespace

bool has_png_signature(const std::vector<uint8_t> & file) {
    return file.size() >= 8 && std::memcmp(file.data(), k_signature, 8) == 0;
}

std::vector<uint8_t> sanitize_png(const std::vector<uint8_t> & file, const std::string & path, const char * what) {
    auto fail = [&](const std::string & why) -> void {
        throw error(errc::io, std::string(what) + ": '" + path + "' is not a valid PNG (" + why + ")");
    };
    if (!has_png_signature(file)) fail("no PNG signature");
    const uint8_t * ihdr = nullptr;
    std::vector<uint8_t> palette, exif, idat;
    bool has_idat = false, idat_done = false, has_iend = false;
    uint32_t w = 0, h = 0;
    int depth = 0, color_type = 0, interlace = 0;
    size_t pos = 8;
    while (!has_iend) {
        if (file.size() - pos < 12) fail("truncated after byte " + std::to_string(pos));
        const uint32_t len = be32(&file[pos]);
        const uint8_t * type = &file[pos + 4];
        if (len > 0x7fffffffu || file.size() - pos - 12 < len) fail("truncated chunk at byte " + std::to_string(pos));
        for (int i = 0; i < 4; ++i) {
            if (!((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z'))) fail("bad chunk name at byte " + std::to_string(pos));
        }
        const std::string name(reinterpret_cast<const char *>(type), 4);
        const uint8_t * data = type + 4;
        if (uint32_t(crc32(crc32(0L, Z_NULL, 0), type, uInt(len) + 4)) != be32(data + len)) fail(name + " chunk CRC error");
        pos += size_t(len) + 12;
        if (!ihdr && name != "IHDR") fail("the first chunk is " + name + ", not IHDR");
        if (name == "IHDR") {
            if (ihdr) fail("two IHDR chunks");
            if (len != 13) fail("IHDR of " + std::to_string(len) + " bytes");
            ihdr = data;
            w = be32(data);
            h = be32(data + 4);
            depth = data[8];
            color_type = data[9];
            interlace = data[12];
            if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu) fail("image size " + std::to_string(w) + "x" + std::to_string(h));
            if (!depth_allowed(color_type, depth)) {
                fail("bit depth " + std::to_string(depth) + " with color type " + std::to_string(color_type));
            }
            if (data[10] != 0 || data[11] != 0 || interlace > 1) fail("unknown compression, filter or interlace method");
            // the limits, before a byte of pixels is inflated
            check_image_size(int64_t(w), int64_t(h), std::string(what) + ": '" + path + "'");
        } else if (name == "PLTE") {
            if (has_idat || !palette.empty()) fail("PLTE after IDAT, or twice");
            if (len == 0 || len % 3 != 0 || len / 3 > 256) fail("PLTE of " + std::to_string(len) + " bytes");
            if (color_type == 3 && len / 3 > (1u << depth)) fail("PLTE longer than the bit depth allows");
            palette.assign(data, data + len);
        } else if (name == "IDAT") {
            if (idat_done) fail("IDAT chunks not consecutive");
            has_idat = true;
            idat.insert(idat.end(), data, data + len);
        } else if (name == "IEND") {
            has_iend = true;
        } else if (name[0] >= 'A' && name[0] <= 'Z') {
            fail("unknown critical chunk " + name);
        } else if (name == "eXIf" && exif.empty()) {
            exif.assign(data, data + len);
        }
        if (has_idat && name != "IDAT") idat_done = true;
    }
    if (!has_idat) fail("no image data");
    if (color_type == 3 && palette.empty()) fail("a palette image without PLTE");

    // inflate the image data once, checking its size and every row's filter byte, without keeping it
    const auto passes = row_layout(w, h, depth * channels_of(color_type), interlace == 1);
    uint64_t expected = 0;
    for (const auto & [row, n_rows] : passes) expected += row * n_rows;
    z_stream zs{};
    if (inflateInit(&zs) != Z_OK) throw error(errc::io, std::string(what) + ": zlib inflateInit failed");
    std::vector<uint8_t> window(1 << 16);
    size_t i_pass = 0;
    uint64_t rows_left = passes[0].second, to_filter_byte = 0, total = 0;
    size_t in_pos = 0;
    int rc = Z_OK;
    std::string defect;
    while (rc == Z_OK && defect.empty()) {
        const size_t n_in = std::min<size_t>(idat.size() - in_pos, 1u << 30);
        zs.next_in = idat.data() + in_pos;
        zs.avail_in = uInt(n_in);
        zs.next_out = window.data();
        zs.avail_out = uInt(window.size());
        rc = inflate(&zs, Z_NO_FLUSH);
        in_pos += n_in - zs.avail_in;
        const size_t n_out = window.size() - zs.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END) {
            defect = rc == Z_BUF_ERROR ? "image data truncated" : std::string("image data corrupt: ") + (zs.msg ? zs.msg : "zlib error");
            break;
        }
        if (total + n_out > expected) {
            defect = "more image data than " + std::to_string(w) + "x" + std::to_string(h) + " pixels need";
            break;
        }
        for (size_t k = 0; k < n_out;) { // walk the row starts in this window
            if (to_filter_byte >= n_out - k) {
                to_filter_byte -= n_out - k;
                break;
            }
            k += to_filter_byte;
            if (window[k] > 4) {
                defect = "bad filter type " + std::to_string(window[k]);
                break;
            }
            to_filter_byte = passes[i_pass].first;
            if (--rows_left == 0 && i_pass + 1 < passes.size()) rows_left = passes[++i_pass].second;
        }
        total += n_out;
        if (rc == Z_OK && n_out == 0 && in_pos == idat.size()) {
            defect = "image data truncated";
        }
    }
    inflateEnd(&zs);
    if (defect.empty() && total != expected) defect = "image data truncated";
    if (defect.empty() && in_pos != idat.size()) defect = "data after the end of the image data";
    if (!defect.empty()) fail(defect);

    std::vector<uint8_t> out(k_signature, k_signature + 8);
    out.reserve(idat.size() + 1024);
    put_chunk(out, "IHDR", ihdr, 13);
    if (color_type == 3) {
        palette.resize(size_t(3) << depth, 0);
        put_chunk(out, "PLTE", palette.data(), palette.size());
    }
    if (!exif.empty()) put_chunk(out, "eXIf", exif.data(), exif.size());
    put_chunk(out, "IDAT", idat.data(), idat.size());
    put_chunk(out, "IEND", nullptr, 0);
    return out;
}

} // namespace eagle::detail
