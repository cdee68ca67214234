// The text, image, colour and table pieces of report.html (html-parts.h).
#include "html-parts.h"

#include "common/base64.h"

#include "eagle/error.h"
#include "eagle/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace eagle::html {

// ---------------------------------------------------------------------------------------------------------
// text

// Valid UTF-8 with every invalid byte (stray continuation, truncated or overlong sequence, surrogate, > U+10FFFF)
// replaced by U+FFFD, so the page is valid UTF-8 whatever the tokenizer produced.
std::string sanitize_utf8(const std::string & s) {
    static const char replacement[] = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(s.size());
    const auto * p = reinterpret_cast<const unsigned char *>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        size_t len = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            out.push_back(char(c));
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) {
                ok = false;
            } else {
                cp = (cp << 6) | (p[i + k] & 0x3F);
            }
        }
        if (ok) {
            static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
            ok = cp >= min_cp[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (ok) {
            out.append(s, i, len);
            i += len;
        } else {
            out += replacement; // one replacement per bad byte: resynchronizes on the next one
            ++i;
        }
    }
    return out;
}

// HTML-escaped, valid UTF-8; safe in element content and in quoted attribute values.
std::string escape_html(const std::string & raw) {
    const std::string s = sanitize_utf8(raw);
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    for (const char c : s) {
        switch (c) {
            case '&':  out += "&amp;"; break;
            case '<':  out += "&lt;"; break;
            case '>':  out += "&gt;"; break;
            case '"':  out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            case '\n': out += "&#10;"; break; // keeps line breaks inside title="" tooltips
            default:
                // other control characters would make the document invalid; show them as a replacement
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\r') {
                    out += "&#xFFFD;";
                } else {
                    out.push_back(c);
                }
        }
    }
    return out;
}

// How a token piece reads on a chip: surrounding blanks dropped (" cat" -> "cat"), a newline as ↵, nothing as ∅.
std::string display_piece(const std::string & piece) {
    std::string s = piece;
    const auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!s.empty() && is_blank(s.front())) s.erase(s.begin());
    while (!s.empty() && is_blank(s.back())) s.pop_back();
    std::string out;
    for (const char c : s) {
        if (c == '\n') {
            out += "\xE2\x86\xB5"; // ↵
        } else {
            out.push_back(c);
        }
    }
    if (out.empty()) {
        return piece.empty() ? "\xE2\x88\x85" : "\xE2\x90\xA3"; // ∅ (end of generation) or ␣ (only blanks)
    }
    return out;
}

std::string fmt(double v, int decimals) {
    if (!std::isfinite(v)) {
        return "–";
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string fmt_percent(double v, int decimals) { return std::isfinite(v) ? fmt(100.0 * v, decimals) + "%" : "–"; }

std::string fmt_count(int64_t v) {
    // 1234567 -> "1 234 567" (thin spaces): counts of evaluations read at a glance
    std::string digits = std::to_string(v < 0 ? -v : v), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out += "\xE2\x80\x89";
        }
        out.push_back(digits[i]);
    }
    return (v < 0 ? "-" : "") + out;
}

std::string fmt_duration_us(int64_t us) {
    if (us < 1000) return std::to_string(us) + " µs";
    if (us < 1000000) return fmt(us * 1e-3, 1) + " ms";
    if (us < 600000000) return fmt(us * 1e-6, 2) + " s";
    return fmt(us * 1e-6 / 60.0, 1) + " min";
}

// The last path component, for showing "model.gguf" with the full path in a tooltip.
std::string basename_of(const std::string & path) {
    const size_t slash = path.find_last_of("/\\");
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A scalar as text (strings raw, numbers compact), containers as compact JSON; invalid UTF-8 replaced.
std::string json_text(const json & v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "–";
    if (v.is_number_float()) {
        const double d = v.get<double>();
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.6g", d);
        return buf;
    }
    return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------------------------
// images

std::string img_tag(const image_rgb8 & image, const std::string & alt, const std::string & extra_class) {
    if (image.empty()) {
        return "<div class=\"img-missing\">no image</div>";
    }
    if (image.rgb.size() != size_t(image.nx) * image.ny * 3) {
        throw error(errc::invalid_argument, "render_html_report: image '" + alt + "' has " + std::to_string(image.rgb.size()) +
                                                " bytes for " + std::to_string(image.nx) + "x" + std::to_string(image.ny) + " RGB");
    }
    return "<img class=\"pic" + (extra_class.empty() ? "" : " " + extra_class) + "\" width=\"" + std::to_string(image.nx) +
           "\" height=\"" + std::to_string(image.ny) + "\" alt=\"" + escape_html(alt) + "\" src=\"data:image/png;base64," +
           base64_encode(png_bytes(image)) + "\">";
}

// ---------------------------------------------------------------------------------------------------------
// colors


rgb mix(rgb a, rgb b, double t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }

std::string css(rgb c) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(std::lround(std::clamp(c.r, 0.0, 255.0))),
                  int(std::lround(std::clamp(c.g, 0.0, 255.0))), int(std::lround(std::clamp(c.b, 0.0, 255.0))));
    return buf;
}

// bwr-like diverging scale: 0 = language prior (blue), 0.5 = white, 1 = vision (red); the ends a little
// softer than matplotlib's pure blue/red so chip text stays readable
const rgb scale_blue{40, 96, 214}, scale_white{247, 247, 247}, scale_red{214, 46, 40};

rgb reliance_color(double v) {
    v = std::isfinite(v) ? std::clamp(v, 0.0, 1.0) : 0.5;
    return v < 0.5 ? mix(scale_blue, scale_white, v * 2.0) : mix(scale_white, scale_red, (v - 0.5) * 2.0);
}

// ---------------------------------------------------------------------------------------------------------
// tables

void flatten(const std::string & prefix, const json & v, std::vector<std::pair<std::string, std::string>> & rows) {
    if (v.is_object() && !v.empty()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            flatten(prefix.empty() ? it.key() : prefix + "." + it.key(), it.value(), rows);
        }
    } else {
        rows.emplace_back(prefix, json_text(v));
    }
}

std::string kv_table(const std::string & title, const std::vector<std::pair<std::string, std::string>> & rows) {
    std::string o = "<div class=\"kv\"><h3>" + escape_html(title) + "</h3><table>";
    for (const auto & [k, v] : rows) {
        o += "<tr><th>" + escape_html(k) + "</th><td>" + (v.empty() ? "<span class=\"muted\">(empty)</span>" : escape_html(v)) +
             "</td></tr>";
    }
    return o + "</table></div>";
}

std::string stat(const std::string & label, const std::string & value_html, const std::string & hint) {
    return "<div class=\"stat\"" + (hint.empty() ? "" : " title=\"" + escape_html(hint) + "\"") + "><span>" +
           escape_html(label) + "</span><b>" + value_html + "</b></div>";
}

} // namespace eagle::html
