// report.html: one self-contained page per explanation. Everything it shows is inlined (PNGs as base64 data
// URIs, curves as SVG drawn here, CSS and a few lines of JavaScript), so the file can be mailed, archived or
// opened offline and looks the same everywhere. Every text that comes from the run (token pieces, prompt,
// answer, paths) goes through escape_html: token pieces are arbitrary bytes (byte-fallback tokens split UTF-8
// sequences) and may contain markup.
#include "eagle/report.h"

#include "eagle/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace eagle {

namespace {

using json = nlohmann::ordered_json;

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

std::string fmt(double v, int decimals = 3) {
    if (!std::isfinite(v)) {
        return "–";
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string fmt_percent(double v, int decimals = 1) { return std::isfinite(v) ? fmt(100.0 * v, decimals) + "%" : "–"; }

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
// reading the explanation object: missing keys read as empty, wrong types are an error naming the key

const json & member(const json & j, const char * key) {
    static const json null_value;
    const auto it = j.find(key);
    return it == j.end() ? null_value : *it;
}

std::vector<double> number_list(const json & j, const char * key) {
    const json & v = member(j, key);
    std::vector<double> out;
    if (v.is_null()) return out;
    if (!v.is_array()) {
        throw error(errc::invalid_argument, std::string("render_html_report: explanation[\"") + key + "\"] is a " +
                                                v.type_name() + ", expected a list of numbers");
    }
    for (const json & x : v) {
        out.push_back(x.is_number() ? x.get<double>() : NAN);
    }
    return out;
}

// [k][target] -> one column
std::vector<double> column(const json & j, const char * key, size_t t) {
    const json & v = member(j, key);
    std::vector<double> out;
    if (!v.is_array()) return out;
    for (const json & row : v) {
        if (!row.is_array() || t >= row.size() || !row[t].is_number()) {
            throw error(errc::invalid_argument, std::string("render_html_report: explanation[\"") + key +
                                                    "\"] has a row without a number for target " + std::to_string(t));
        }
        out.push_back(row[t].get<double>());
    }
    return out;
}

std::string string_of(const json & j, const char * key) {
    const json & v = member(j, key);
    return v.is_string() ? v.get<std::string>() : v.is_null() ? std::string() : json_text(v);
}

double number_of(const json & j, const char * key, double fallback = NAN) {
    const json & v = member(j, key);
    return v.is_number() ? v.get<double>() : fallback;
}

// ---------------------------------------------------------------------------------------------------------
// images

std::string base64(const std::string & bytes) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 | uint8_t(bytes[i + 2]);
        out += table[v >> 18];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += table[v & 63];
    }
    if (i < bytes.size()) {
        uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
        if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
        out += table[v >> 18];
        out += table[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string img_tag(const image_rgb8 & image, const std::string & alt, const std::string & extra_class = "") {
    if (image.empty()) {
        return "<div class=\"img-missing\">no image</div>";
    }
    if (image.rgb.size() != size_t(image.nx) * image.ny * 3) {
        throw error(errc::invalid_argument, "render_html_report: image '" + alt + "' has " + std::to_string(image.rgb.size()) +
                                                " bytes for " + std::to_string(image.nx) + "x" + std::to_string(image.ny) + " RGB");
    }
    return "<img class=\"pic" + (extra_class.empty() ? "" : " " + extra_class) + "\" width=\"" + std::to_string(image.nx) +
           "\" height=\"" + std::to_string(image.ny) + "\" alt=\"" + escape_html(alt) + "\" src=\"data:image/png;base64," +
           base64(png_bytes(image)) + "\">";
}

// ---------------------------------------------------------------------------------------------------------
// colors

struct rgb { double r, g, b; };

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
// SVG charts

struct series {
    std::string name;
    std::string color;
    std::vector<std::pair<double, double>> points; // x, y in data units
    bool dashed = false;
};

double trapezoid(std::vector<std::pair<double, double>> pts) {
    std::sort(pts.begin(), pts.end());
    double a = 0;
    for (size_t i = 1; i < pts.size(); ++i) {
        a += (pts[i].first - pts[i - 1].first) * (pts[i].second + pts[i - 1].second) * 0.5;
    }
    return a;
}

// A line chart over x in [0,1], y in [0, y_max] (y_max >= 1 probabilities; rounded up otherwise).
std::string line_chart(const std::vector<series> & lines, const std::string & x_label, const std::string & y_label,
                       const std::vector<std::pair<double, std::string>> & h_marks = {}) {
    // the right margin holds the labels of the horizontal marks, where no curve can cover them
    const double w = 450, h = 250, left = 44, right = h_marks.empty() ? 12 : 68, top = 12, bottom = 40;
    const double pw = w - left - right, ph = h - top - bottom;
    double y_max = 1.0;
    for (const series & s : lines) {
        for (const auto & p : s.points) {
            if (std::isfinite(p.second)) y_max = std::max(y_max, p.second);
        }
    }
    if (y_max > 1.0) y_max = std::ceil(y_max * 4.0) / 4.0;
    const auto sx = [&](double x) { return left + std::clamp(x, 0.0, 1.0) * pw; };
    const auto sy = [&](double y) { return top + (1.0 - std::clamp(y, 0.0, y_max) / y_max) * ph; };

    std::string o = "<svg class=\"chart\" viewBox=\"0 0 " + fmt(w, 0) + " " + fmt(h, 0) +
                    "\" role=\"img\">";
    // grid and ticks
    for (int i = 0; i <= 4; ++i) {
        const double f = i / 4.0;
        const double gx = sx(f), gy = sy(f * y_max);
        o += "<line class=\"grid\" x1=\"" + fmt(gx, 1) + "\" y1=\"" + fmt(top, 1) + "\" x2=\"" + fmt(gx, 1) + "\" y2=\"" +
             fmt(top + ph, 1) + "\"/>";
        o += "<line class=\"grid\" x1=\"" + fmt(left, 1) + "\" y1=\"" + fmt(gy, 1) + "\" x2=\"" + fmt(left + pw, 1) +
             "\" y2=\"" + fmt(gy, 1) + "\"/>";
        o += "<text class=\"tick\" x=\"" + fmt(gx, 1) + "\" y=\"" + fmt(top + ph + 14, 1) + "\" text-anchor=\"middle\">" +
             fmt(f, 2) + "</text>";
        o += "<text class=\"tick\" x=\"" + fmt(left - 6, 1) + "\" y=\"" + fmt(gy + 3.5, 1) + "\" text-anchor=\"end\">" +
             fmt(f * y_max, 2) + "</text>";
    }
    o += "<rect class=\"frame\" x=\"" + fmt(left, 1) + "\" y=\"" + fmt(top, 1) + "\" width=\"" + fmt(pw, 1) + "\" height=\"" +
         fmt(ph, 1) + "\"/>";
    // labels top to bottom, at least a line apart (p_black and p_full of a language-prior token nearly meet)
    std::vector<std::pair<double, std::string>> marks;
    for (const auto & [y, label] : h_marks) {
        if (std::isfinite(y)) marks.emplace_back(sy(y), label);
    }
    std::sort(marks.begin(), marks.end());
    double label_y = -1e9;
    for (const auto & [py, label] : marks) {
        label_y = std::max(py + 3.5, label_y + 11.0);
        o += "<line class=\"hmark\" x1=\"" + fmt(left, 1) + "\" y1=\"" + fmt(py, 1) + "\" x2=\"" + fmt(left + pw, 1) +
             "\" y2=\"" + fmt(py, 1) + "\"/>";
        o += "<text class=\"hmark-label\" x=\"" + fmt(left + pw + 4, 1) + "\" y=\"" + fmt(label_y, 1) + "\">" +
             escape_html(label) + "</text>";
    }
    o += "<text class=\"axis\" x=\"" + fmt(left + pw / 2, 1) + "\" y=\"" + fmt(h - 6, 1) + "\" text-anchor=\"middle\">" +
         escape_html(x_label) + "</text>";
    o += "<text class=\"axis\" transform=\"translate(11 " + fmt(top + ph / 2, 1) + ") rotate(-90)\" text-anchor=\"middle\">" +
         escape_html(y_label) + "</text>";
    for (const series & s : lines) {
        std::vector<std::pair<double, double>> pts;
        for (const auto & p : s.points) {
            if (std::isfinite(p.first) && std::isfinite(p.second)) pts.push_back(p);
        }
        std::stable_sort(pts.begin(), pts.end(), [](const auto & a, const auto & b) { return a.first < b.first; });
        std::string d;
        for (const auto & p : pts) {
            d += fmt(sx(p.first), 1) + "," + fmt(sy(p.second), 1) + " ";
        }
        o += "<polyline class=\"curve\" data-series=\"" + escape_html(s.name) + "\" fill=\"none\" stroke=\"" + s.color +
             "\"" + (s.dashed ? " stroke-dasharray=\"5 4\"" : "") + " points=\"" + d + "\"/>";
        if (pts.size() <= 40) {
            for (const auto & p : pts) {
                o += "<circle cx=\"" + fmt(sx(p.first), 1) + "\" cy=\"" + fmt(sy(p.second), 1) + "\" r=\"2.2\" fill=\"" +
                     s.color + "\"/>";
            }
        }
    }
    o += "</svg>";
    return o;
}

std::string legend(const std::vector<std::pair<std::string, std::string>> & items) {
    std::string o = "<div class=\"legend\">";
    for (const auto & [color, label] : items) {
        o += "<span><i style=\"background:" + color + "\"></i>" + label + "</span>";
    }
    return o + "</div>";
}

// Bars of the marginal gains along the ranking; regions after n_ranked (ordered by a budget's cheap
// criterion, not the search) drawn muted.
std::string gain_chart(const std::vector<double> & gain, size_t n_ranked) {
    const double w = 1000, h = 120, left = 44, right = 8, top = 10, bottom = 22;
    const double pw = w - left - right, ph = h - top - bottom;
    double lo = 0, hi = 0;
    for (double g : gain) {
        if (std::isfinite(g)) {
            lo = std::min(lo, g);
            hi = std::max(hi, g);
        }
    }
    if (hi - lo <= 0) hi = lo + 1;
    const auto sy = [&](double y) { return top + (hi - y) / (hi - lo) * ph; };
    const double bw = pw / std::max<size_t>(gain.size(), 1);
    std::string o = "<svg class=\"chart gains\" viewBox=\"0 0 " + fmt(w, 0) + " " + fmt(h, 0) +
                    "\" role=\"img\" preserveAspectRatio=\"none\">";
    o += "<line class=\"grid\" x1=\"" + fmt(left, 1) + "\" y1=\"" + fmt(sy(0), 1) + "\" x2=\"" + fmt(left + pw, 1) + "\" y2=\"" +
         fmt(sy(0), 1) + "\"/>";
    o += "<text class=\"tick\" x=\"" + fmt(left - 6, 1) + "\" y=\"" + fmt(sy(hi) + 8, 1) + "\" text-anchor=\"end\">" + fmt(hi, 2) +
         "</text>";
    o += "<text class=\"tick\" x=\"" + fmt(left - 6, 1) + "\" y=\"" + fmt(sy(0) + 3.5, 1) + "\" text-anchor=\"end\">0</text>";
    for (size_t k = 0; k < gain.size(); ++k) {
        const double g = std::isfinite(gain[k]) ? gain[k] : 0.0;
        const double y0 = sy(std::max(g, 0.0)), y1 = sy(std::min(g, 0.0));
        o += "<rect class=\"" + std::string(k < n_ranked ? "bar" : "bar unranked") + "\" x=\"" +
             fmt(left + k * bw + bw * 0.12, 2) + "\" y=\"" + fmt(y0, 2) + "\" width=\"" + fmt(bw * 0.76, 2) + "\" height=\"" +
             fmt(std::max(y1 - y0, 0.5), 2) + "\"><title>rank " + std::to_string(k + 1) + ": gain " + fmt(g, 4) +
             "</title></rect>";
    }
    const size_t step = gain.size() <= 20 ? 1 : gain.size() <= 64 ? 4 : gain.size() <= 160 ? 10 : 25;
    for (size_t k = 0; k < gain.size(); k += step) {
        o += "<text class=\"tick\" x=\"" + fmt(left + (k + 0.5) * bw, 1) + "\" y=\"" + fmt(h - 6, 1) +
             "\" text-anchor=\"middle\">" + std::to_string(k + 1) + "</text>";
    }
    return o + "</svg>";
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

std::string stat(const std::string & label, const std::string & value_html, const std::string & hint = "") {
    return "<div class=\"stat\"" + (hint.empty() ? "" : " title=\"" + escape_html(hint) + "\"") + "><span>" +
           escape_html(label) + "</span><b>" + value_html + "</b></div>";
}

const char * style_sheet = R"CSS(
:root{--bg:#f4f5f7;--card:#fff;--ink:#1d2330;--muted:#6b7385;--line:#e3e6ec;--accent:#3d5afe;
--vision:#d62e28;--language:#2860d6;--ins:#e8590c;--del:#1c7ed6;--radius:10px}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0 auto;max-width:1180px;padding:18px 16px 40px;color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:19px;margin:0 0 10px;font-weight:650;letter-spacing:-.01em}
h1 small{font-weight:500;color:var(--muted);font-size:13px;margin-left:8px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 10px;font-weight:650}
h3{font-size:13px;margin:0 0 6px;font-weight:650}
.card{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);padding:14px 16px;margin:0 0 14px;
box-shadow:0 1px 2px rgba(20,30,60,.04)}
.qa{display:grid;grid-template-columns:78px 1fr;gap:4px 12px;margin:0 0 12px}
.qa dt{color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.05em;padding-top:2px}
.qa dd{margin:0;white-space:pre-wrap;word-break:break-word}
.qa dd.answer{font-size:16px;font-weight:560}
.meta{display:flex;flex-wrap:wrap;gap:6px}
.pill{background:#eef1f6;border-radius:999px;padding:2px 10px;font-size:12px;color:#394150;white-space:nowrap;
max-width:100%;overflow:hidden;text-overflow:ellipsis}
.pill b{font-weight:650;color:var(--ink)}
.pill.warn{background:#fff1e6;color:#a34400}
.strip{display:flex;flex-wrap:wrap;gap:4px;align-items:center}
.chip{font:inherit;font-size:14px;border:1px solid transparent;border-radius:6px;padding:2px 7px;margin:0;
background:#f0f1f4;color:#8a90a0;cursor:default;white-space:pre;line-height:1.5}
.chip.target{cursor:pointer;color:var(--ink);border-color:rgba(0,0,0,.08)}
.chip.target.dark{color:#fff}
.chip.target:hover{box-shadow:0 0 0 2px rgba(61,90,254,.35)}
.chip.active{box-shadow:0 0 0 2px var(--accent)!important}
.scale{display:flex;align-items:center;gap:8px;margin-top:10px;font-size:12px;color:var(--muted)}
.scale .bar{width:220px;height:10px;border-radius:5px;
background:linear-gradient(90deg,#2860d6,#f7f7f7,#d62e28)}
.explorer-head{display:flex;align-items:center;gap:12px;margin-bottom:10px}
.explorer-head h2{margin:0}
select{font:inherit;padding:4px 8px;border-radius:6px;border:1px solid var(--line);background:#fff;min-width:220px}
.explorer{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,2.3fr);gap:14px;align-items:start}
.panel{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1.3fr);gap:14px;align-items:start}
.panel[hidden]{display:none}
figure{margin:0}
figcaption{font-size:12px;color:var(--muted);margin-top:4px}
.pic{display:block;width:100%;height:auto;border-radius:6px;background:#000}
.img-missing{display:flex;align-items:center;justify-content:center;height:160px;border-radius:6px;background:#eef0f3;color:var(--muted)}
.chart{display:block;width:100%;height:auto}
.chart .grid{stroke:#eceef3;stroke-width:1}
.chart .frame{fill:none;stroke:#c9ced8;stroke-width:1}
.chart .tick{font-size:10px;fill:#7a8192}
.chart .axis{font-size:11px;fill:#4d5566}
.chart .curve{stroke-width:2.2;stroke-linejoin:round}
.chart .hmark{stroke:#9aa1b0;stroke-width:1;stroke-dasharray:3 3}
.chart .hmark-label{font-size:10px;fill:#7a8192}
.chart .bar{fill:#5b7cfa}
.chart .bar.unranked{fill:#c4cad6}
.legend{display:flex;gap:14px;font-size:12px;color:#4d5566;margin:2px 0 8px;flex-wrap:wrap}
.legend i{display:inline-block;width:14px;height:3px;border-radius:2px;vertical-align:middle;margin-right:5px}
.stats{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:6px;margin-top:8px}
.stat{background:#f6f7f9;border-radius:6px;padding:4px 8px}
.stat>span{display:block;font-size:11px;color:var(--muted)}
.stat b{font-weight:620;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;border-radius:4px;padding:0 6px;color:#fff;font-size:12px;font-weight:650}
.verdict.vision{background:var(--vision)}
.verdict.language{background:var(--language)}
.panel-title{font-weight:650;margin:0 0 4px}
.panel-title code{font-size:14px;background:#f0f1f4;border-radius:4px;padding:0 5px}
.params{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid var(--line);vertical-align:top}
.kv th{color:var(--muted);font-weight:550;white-space:nowrap;width:1%}
.kv td{word-break:break-all;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.ranking{display:flex;flex-wrap:wrap;gap:3px;margin-top:8px;font:11.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.ranking span{background:#f3f5f9;border-radius:4px;padding:1px 5px;color:#394150}
.ranking span.unranked{color:#9aa1b0}
.ranking em{font-style:normal;color:var(--muted)}
.muted{color:var(--muted)}
.halluc{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,2fr);gap:16px;align-items:start}
.revised td.k{font-variant-numeric:tabular-nums;white-space:nowrap}
.revised tr.hit td{background:#eafbea}
.badge{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;font-weight:650}
.badge.ok{background:#e3f8e6;color:#1f7a33}
.badge.no{background:#fdeaea;color:#b02a2a}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:10px}
@media (max-width:860px){.explorer,.panel,.halluc{grid-template-columns:1fr}.stats{grid-template-columns:repeat(2,1fr)}}
)CSS";

// The token selector: show one panel, mark its chip, keep the <select> in step. Clicking the selected chip
// again goes back to the whole answer.
const char * script = R"JS(
(function () {
  var select = document.getElementById('token-select');
  var panels = document.querySelectorAll('.panel');
  var chips = document.querySelectorAll('.chip.target');
  function show(key) {
    for (var i = 0; i < panels.length; ++i) panels[i].hidden = panels[i].getAttribute('data-key') !== key;
    for (var j = 0; j < chips.length; ++j) chips[j].classList.toggle('active', chips[j].getAttribute('data-key') === key);
    select.value = key;
  }
  select.addEventListener('change', function () { show(select.value); });
  // report.html#t3 opens on the fourth target: links into the page name a token
  var start = location.hash.slice(1).replace(/[^a-z0-9]/g, '');
  if (start && document.querySelector('.panel[data-key="' + start + '"]')) show(start);
  for (var j = 0; j < chips.length; ++j) {
    chips[j].addEventListener('click', function (ev) {
      var key = ev.currentTarget.getAttribute('data-key');
      show(select.value === key ? 'all' : key);
    });
  }
  document.addEventListener('keydown', function (ev) {
    // arrow keys step through the tokens when the page (not a form field) has the focus
    if (ev.target !== document.body || (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft')) return;
    var n = select.options.length, i = select.selectedIndex + (ev.key === 'ArrowRight' ? 1 : -1);
    show(select.options[(i + n) % n].value);
  });
})();
)JS";

} // namespace

std::string render_html_report(const html_report_input & input) {
    const json & ex = input.explanation;
    if (!ex.is_object()) {
        throw error(errc::invalid_argument,
                    std::string("render_html_report: the explanation is a ") + ex.type_name() + ", expected an object");
    }
    const json & run = member(ex, "run");
    const json & search = member(ex, "search");
    const json & reliance = member(ex, "reliance");
    if (!reliance.is_null() && !reliance.is_array()) {
        throw error(errc::invalid_argument, std::string("render_html_report: explanation[\"reliance\"] is a ") +
                                                reliance.type_name() + ", expected a list");
    }
    const size_t n_targets = reliance.is_array() ? reliance.size() : 0;
    if (!input.token_overlays.empty() && input.token_overlays.size() != n_targets) {
        throw error(errc::invalid_argument, "render_html_report: " + std::to_string(input.token_overlays.size()) +
                                                " token overlays for " + std::to_string(n_targets) + " targets");
    }

    const std::vector<double> area = number_list(ex, "region_area");
    const std::vector<double> ins_mean = number_list(ex, "insertion_score");
    const std::vector<double> del_mean = number_list(ex, "deletion_score");
    const std::vector<double> org = number_list(ex, "org_score");
    const std::vector<double> base = number_list(ex, "baseline_score");
    const std::vector<double> gains = number_list(ex, "marginal_gain");
    if (ins_mean.size() != area.size() || del_mean.size() != area.size()) {
        throw error(errc::invalid_argument, "render_html_report: insertion_score has " + std::to_string(ins_mean.size()) +
                                                " entries, deletion_score " + std::to_string(del_mean.size()) +
                                                ", region_area " + std::to_string(area.size()) + "; expected the same");
    }
    std::vector<std::string> words;
    if (member(ex, "words").is_array()) {
        for (const json & w : member(ex, "words")) {
            words.push_back(w.is_string() ? w.get<std::string>() : std::string());
        }
    }

    // target t of answer position i
    std::vector<int> target_of(words.size(), -1);
    for (size_t t = 0; t < n_targets; ++t) {
        const int64_t index = member(reliance[t], "index").is_number_integer() ? reliance[t]["index"].get<int64_t>() : -1;
        if (index >= 0 && size_t(index) < words.size()) {
            target_of[size_t(index)] = int(t);
        }
    }
    const auto target_word = [&](size_t t) {
        const std::string w = string_of(reliance[t], "word");
        return display_piece(w);
    };

    const auto mean_of = [](const std::vector<double> & v) {
        double s = 0;
        size_t n = 0;
        for (double x : v) {
            if (std::isfinite(x)) {
                s += x;
                ++n;
            }
        }
        return n ? s / double(n) : NAN;
    };
    const double org_mean = mean_of(org), base_mean = mean_of(base);

    // insertion: x = area visible (from nothing: the black image); deletion: x = area still visible after
    // removing the top regions (from everything: the full image), so both run between p_black and p_full
    const auto curves = [&](const std::vector<double> & ins, const std::vector<double> & del, double p_black,
                            double p_full, double & auc_ins, double & auc_del) {
        series si{"insertion", "#e8590c", {{0.0, p_black}}};
        series sd{"deletion", "#1c7ed6", {{1.0, p_full}}};
        for (size_t k = 0; k < area.size(); ++k) {
            si.points.emplace_back(area[k], ins[k]);
            sd.points.emplace_back(1.0 - area[k], del[k]);
        }
        auc_ins = trapezoid(si.points);
        auc_del = trapezoid(sd.points);
        return line_chart({si, sd}, "share of the image visible", "probability",
                          {{p_full, "p_full " + fmt(p_full, 2)}, {p_black, "p_black " + fmt(p_black, 2)}});
    };

    const std::string prompt = string_of(run, "prompt");
    const std::string answer = string_of(ex, "answer");
    const std::string model_path = string_of(run, "model");
    const std::string mmproj_path = string_of(run, "mmproj");
    const int64_t n_eval = int64_t(number_of(ex, "n_evaluations", 0));
    const int64_t n_eval_exact = int64_t(number_of(ex, "n_evaluations_exact", 0));
    const int64_t n_memo = int64_t(number_of(ex, "n_memo_hits", 0));
    const int64_t t_us = int64_t(number_of(ex, "t_search_us", 0));
    const int64_t n_regions = int64_t(number_of(ex, "sub-region_number", double(area.size())));
    const size_t n_ranked = size_t(std::max(0.0, number_of(ex, "n_ranked", double(area.size()))));
    const bool is_complete = !member(ex, "is_complete").is_boolean() || member(ex, "is_complete").get<bool>();

    std::string h;
    h.reserve(1 << 20);
    h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<meta name=\"generator\" content=\"eagle.cpp\">\n<title>EAGLE · " +
         escape_html(answer.substr(0, 80)) + "</title>\n<style>" + style_sheet + "</style>\n</head>\n<body>\n";

    // --- header ---
    h += "<section class=\"card head\"><h1>EAGLE explanation<small>which image regions make the model say its answer</small></h1>";
    h += "<dl class=\"qa\"><dt>Prompt</dt><dd>" + (prompt.empty() ? "<span class=\"muted\">(not recorded)</span>" : escape_html(prompt)) +
         "</dd><dt>Answer</dt><dd class=\"answer\">" + escape_html(answer) + "</dd></dl>";
    h += "<div class=\"meta\">";
    const auto pill = [&](const std::string & label, const std::string & value, const std::string & tip = "", bool warn = false) {
        h += "<span class=\"pill" + std::string(warn ? " warn" : "") + "\"" + (tip.empty() ? "" : " title=\"" + escape_html(tip) + "\"") +
             ">" + escape_html(label) + " <b>" + escape_html(value) + "</b></span>";
    };
    if (!model_path.empty()) pill("model", basename_of(model_path), model_path);
    if (!mmproj_path.empty()) pill("mmproj", basename_of(mmproj_path), mmproj_path);
    if (!member(run, "llama_cpp").is_null()) pill("llama.cpp", string_of(run, "llama_cpp"));
    if (!member(run, "eagle").is_null()) pill("eagle", string_of(run, "eagle"));
    pill("search", string_of(search, "mode").empty() ? "?" : string_of(search, "mode"));
    pill("regions", std::to_string(n_regions) + (n_ranked < area.size() ? " (" + std::to_string(n_ranked) + " ranked)" : ""));
    pill("evaluations", fmt_count(n_eval) + " / " + fmt_count(n_eval_exact) + " exact" +
                            (n_eval_exact > 0 ? " (" + fmt_percent(double(n_eval) / double(n_eval_exact), 0) + ")" : ""),
         "masked images scored by the model, against the reference's exact greedy n(n+1)");
    pill("memo hits", fmt_count(n_memo), "masks answered from the scorer's memo, not scored again");
    pill("time", fmt_duration_us(t_us), "search wall time");
    if (!is_complete) pill("status", "cancelled: partial ranking", "", true);
    h += "</div></section>\n";

    // --- reliance strip ---
    h += "<section class=\"card\"><h2>Reliance on the image, token by token</h2><div class=\"strip\" id=\"strip\">";
    for (size_t i = 0; i < words.size(); ++i) {
        const int t = target_of[i];
        const std::string shown = escape_html(display_piece(words[i]));
        if (t < 0) {
            h += "<span class=\"chip\" title=\"not a target: " + escape_html("'" + words[i] + "'") + "\">" + shown + "</span>";
            continue;
        }
        const json & r = reliance[size_t(t)];
        const double v = number_of(r, "influence_normalized");
        const std::string verdict = string_of(r, "verdict");
        const std::string tip = "'" + words[i] + "' (token " + std::to_string(i) + ")\nverdict: " + verdict +
                                (member(r, "sensitive").is_boolean() && r["sensitive"].get<bool>() ? " (sensitive)" : "") +
                                "\ninfluence: " + fmt(number_of(r, "influence")) + " (normalized " + fmt(v, 2) + ")" +
                                "\np_black: " + fmt(number_of(r, "p_black")) + "\np_full: " + fmt(number_of(r, "p_full"));
        const bool dark = std::isfinite(v) && std::abs(v - 0.5) > 0.3;
        h += "<button type=\"button\" class=\"chip target" + std::string(dark ? " dark" : "") + "\" data-key=\"t" +
             std::to_string(t) + "\" data-verdict=\"" + escape_html(verdict) + "\" style=\"background:" +
             css(reliance_color(v)) + "\" title=\"" + escape_html(tip) + "\">" + shown + "</button>";
    }
    if (words.empty()) {
        h += "<span class=\"muted\">(no answer tokens recorded)</span>";
    }
    h += "</div><div class=\"scale\"><span>language prior</span><span class=\"bar\"></span><span>vision</span>"
         "<span>· color = normalized influence; grey = not explained; click a token to see its map and curves</span></div>";
    const std::string rule = string_of(ex, "reliance_rule");
    if (!rule.empty()) {
        h += "<div class=\"scale\">" + escape_html(rule) + "</div>";
    }
    h += "</section>\n";

    // --- explorer: image, overlay of the selection, curves ---
    h += "<section class=\"card\"><div class=\"explorer-head\"><h2>Attribution</h2><select id=\"token-select\" aria-label=\"token\">"
         "<option value=\"all\">whole answer</option>";
    for (size_t t = 0; t < n_targets; ++t) {
        const int64_t index = member(reliance[t], "index").is_number_integer() ? reliance[t]["index"].get<int64_t>() : -1;
        h += "<option value=\"t" + std::to_string(t) + "\">" + escape_html(target_word(t)) + "  · token " + std::to_string(index) +
             " · " + escape_html(string_of(reliance[t], "verdict")) + "</option>";
    }
    h += "</select></div><div class=\"explorer\"><figure>" + img_tag(input.image, "input image") +
         "<figcaption>input image</figcaption></figure>";

    // whole answer
    {
        double auc_i = 0, auc_d = 0;
        const std::string chart = curves(ins_mean, del_mean, base_mean, org_mean, auc_i, auc_d);
        int n_vision = 0;
        for (size_t t = 0; t < n_targets; ++t) {
            n_vision += string_of(reliance[t], "verdict") == "vision";
        }
        h += "<div class=\"panel\" data-key=\"all\"><figure>" +
             img_tag(input.overlay, "sentence-level attribution overlay", "overlay") +
             "<figcaption>sentence-level attribution (viridis: yellow = most important)</figcaption></figure><div>"
             "<div class=\"panel-title\">Whole answer <span class=\"muted\">· mean over " + std::to_string(n_targets) +
             " target tokens</span></div>" +
             legend({{"#e8590c", "insertion (top regions alone)"}, {"#1c7ed6", "deletion (top regions removed)"}}) + chart +
             "<div class=\"stats\">" + stat("p_black (mean)", fmt(base_mean)) + stat("p_full (mean)", fmt(org_mean)) +
             stat("vision / language", std::to_string(n_vision) + " / " + std::to_string(int(n_targets) - n_vision)) +
             stat("insertion AUC", fmt(auc_i), "higher is better") + stat("deletion AUC", fmt(auc_d), "lower is better") +
             stat("regions", std::to_string(n_regions)) + "</div></div></div>";
    }
    for (size_t t = 0; t < n_targets; ++t) {
        const json & r = reliance[t];
        double auc_i = 0, auc_d = 0;
        const double p_black = number_of(r, "p_black", t < base.size() ? base[t] : NAN);
        const double p_full = number_of(r, "p_full", t < org.size() ? org[t] : NAN);
        const std::string chart = curves(column(ex, "insertion_word_score", t), column(ex, "deletion_word_score", t),
                                         t < base.size() ? base[t] : p_black, t < org.size() ? org[t] : p_full, auc_i, auc_d);
        const std::string verdict = string_of(r, "verdict");
        const bool sensitive = member(r, "sensitive").is_boolean() && r["sensitive"].get<bool>();
        const int64_t index = member(r, "index").is_number_integer() ? r["index"].get<int64_t>() : -1;
        h += "<div class=\"panel\" data-key=\"t" + std::to_string(t) + "\" hidden><figure>" +
             (input.token_overlays.empty() ? std::string("<div class=\"img-missing\">no token overlay</div>")
                                           : img_tag(input.token_overlays[t], "attribution of '" + target_word(t) + "'", "overlay")) +
             "<figcaption>attribution of this token (viridis)</figcaption></figure><div>"
             "<div class=\"panel-title\"><code>" + escape_html(target_word(t)) + "</code> <span class=\"muted\">token " +
             std::to_string(index) + "</span> <span class=\"verdict " + (verdict == "vision" ? "vision" : "language") + "\">" +
             escape_html(verdict) + "</span>" + (sensitive ? " <span class=\"muted\">sensitive</span>" : "") + "</div>" +
             legend({{"#e8590c", "insertion"}, {"#1c7ed6", "deletion"}}) + chart + "<div class=\"stats\">" +
             stat("p_black", fmt(p_black), "probability with every region removed (language prior)") +
             stat("p_full", fmt(p_full), "probability on the whole image") +
             stat("influence", fmt(number_of(r, "influence")), "AUC of the insertion curve minus its minimum") +
             stat("normalized", fmt(number_of(r, "influence_normalized"), 2)) +
             stat("insertion AUC", fmt(auc_i)) + stat("deletion AUC", fmt(auc_d)) + "</div></div></div>";
    }
    h += "</div></section>\n";

    // --- hallucination diagnosis ---
    const json & hall = member(ex, "hallucination");
    if (hall.is_object()) {
        const json & minimal = member(hall, "minimal_correction_region");
        const json & at_k = member(hall, "corrected_at_k");
        const bool within = member(hall, "within_10_percent").is_boolean() && hall["within_10_percent"].get<bool>();
        h += "<section class=\"card\"><h2>Hallucination diagnosis</h2><div class=\"halluc\"><figure>" +
             (input.hallucination_overlay.empty() ? img_tag(input.image, "input image")
                                                  : img_tag(input.hallucination_overlay, "hallucination overlay", "overlay")) +
             "<figcaption>" +
             (input.hallucination_overlay.empty() ? "input image" : "regions removed first (cool colormap: 1 − attribution)") +
             "</figcaption></figure><div><div class=\"stats\">" +
             stat("target text", escape_html(string_of(hall, "target_text"))) +
             stat("correct answer", escape_html(string_of(hall, "correct_answer"))) +
             stat("minimal correction region",
                  minimal.is_number() ? fmt_percent(minimal.get<double>()) + " of the image removed" : "never corrected") +
             stat("corrected at k", at_k.is_number() ? std::to_string(at_k.get<int64_t>()) + " regions kept" : "–") +
             stat("within 10%", within ? "<span class=\"badge ok\">yes</span>" : "<span class=\"badge no\">no</span>") +
             "</div>";
        const std::vector<double> curve = number_list(hall, "target_probability_curve");
        if (!curve.empty()) {
            series s{"target probability", "#7048e8", {{0.0, base.empty() ? NAN : base.front()}}};
            for (size_t k = 0; k < curve.size() && k < area.size(); ++k) {
                s.points.emplace_back(area[k], curve[k]);
            }
            h += "<div style=\"max-width:420px;margin-top:8px\">" + legend({{"#7048e8", "target probability, top regions alone"}}) +
                 line_chart({s}, "share of the image visible", "probability") + "</div>";
        }
        const json & revised = member(hall, "revised_answering");
        if (revised.is_array()) {
            h += "<h3 style=\"margin-top:10px\">Revised answers (top-k regions kept)</h3><table class=\"revised\">"
                 "<tr><th>k</th><th>visible</th><th>answer</th></tr>";
            int n_rows = 0;
            for (size_t i = revised.size(); i-- > 0;) {
                if (revised[i].is_null()) continue; // not generated: the walk stopped at the correction
                const size_t k = i + 1;
                const bool hit = at_k.is_number_integer() && at_k.get<int64_t>() == int64_t(k);
                h += "<tr" + std::string(hit ? " class=\"hit\"" : "") + "><td class=\"k\">" + std::to_string(k) +
                     "</td><td class=\"k\">" + (i < area.size() ? fmt_percent(area[i]) : "–") + "</td><td>" +
                     escape_html(json_text(revised[i])) + "</td></tr>";
                ++n_rows;
            }
            if (n_rows == 0) {
                h += "<tr><td colspan=\"3\" class=\"muted\">no revised answer recorded</td></tr>";
            }
            h += "</table>";
        }
        h += "</div></div></section>\n";
    }

    // --- region ranking ---
    {
        h += "<section class=\"card\"><h2>Region ranking</h2><div class=\"muted\" style=\"font-size:12px\">marginal gain "
             "F<sub>k</sub> − F<sub>k−1</sub> of the objective at each rank" +
             std::string(n_ranked < gains.size() ? "; muted: after the budget, ordered by the last known gain" : "") + "</div>";
        h += gain_chart(gains, n_ranked);
        h += "<div class=\"ranking\">";
        const json & order = member(ex, "order");
        if (order.is_array()) {
            for (size_t k = 0; k < order.size(); ++k) {
                h += "<span" + std::string(k < n_ranked ? "" : " class=\"unranked\"") + "><em>" + std::to_string(k + 1) +
                     "</em> r" + json_text(order[k]) + (k < gains.size() ? " " + std::string(gains[k] >= 0 ? "+" : "") + fmt(gains[k], 3) : "") +
                     "</span>";
            }
        }
        h += "</div></section>\n";
    }

    // --- parameters ---
    {
        std::vector<std::pair<std::string, std::string>> run_rows, search_rows;
        flatten("", run, run_rows);
        flatten("", search, search_rows);
        search_rows.emplace_back("lambda1", json_text(member(ex, "lambda1")));
        search_rows.emplace_back("lambda2", json_text(member(ex, "lambda2")));
        search_rows.emplace_back("sub-region_number", json_text(member(ex, "sub-region_number")));
        search_rows.emplace_back("n_ranked", json_text(member(ex, "n_ranked")));
        search_rows.emplace_back("is_complete", json_text(member(ex, "is_complete")));
        search_rows.emplace_back("n_evaluations", json_text(member(ex, "n_evaluations")));
        search_rows.emplace_back("n_evaluations_exact", json_text(member(ex, "n_evaluations_exact")));
        search_rows.emplace_back("n_memo_hits", json_text(member(ex, "n_memo_hits")));
        search_rows.emplace_back("t_search_us", json_text(member(ex, "t_search_us")));
        h += "<section class=\"card\"><h2>Parameters</h2><div class=\"params\">" + kv_table("run", run_rows) +
             kv_table("search", search_rows) + "</div></section>\n";
    }

    h += "<footer>eagle.cpp · EAGLE explanation report · self-contained, works offline</footer>\n";
    h += std::string("<script>") + script + "</script>\n</body>\n</html>\n";
    return h;
}

} // namespace eagle
