// !!! Internal header, to be used by src/report only !!!
// The pieces report.html is built from: text escaping and number formatting, inlined images, colours, SVG charts
// (svg-chart.cpp) and tables. Every text from a run goes through escape_html before it reaches the page.
#pragma once

#include "eagle/image.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace eagle::html {

using json = nlohmann::ordered_json;

// text
std::string sanitize_utf8(const std::string & s);     // invalid bytes -> U+FFFD
std::string escape_html(const std::string & raw);     // safe in element content and quoted attributes
std::string display_piece(const std::string & piece); // a token piece as a chip reads it
std::string fmt(double v, int decimals = 3);
std::string fmt_percent(double v, int decimals = 1);
std::string fmt_count(int64_t v);
std::string fmt_duration_us(int64_t us);
std::string basename_of(const std::string & path);
std::string json_text(const json & v);                // scalars raw, containers compact; invalid UTF-8 replaced

// images: a PNG data URI in an <img>
std::string img_tag(const image_rgb8 & image, const std::string & alt, const std::string & extra_class = "");

// colours
struct rgb { double r, g, b; };
rgb mix(rgb a, rgb b, double t);
std::string css(rgb c);
rgb reliance_color(double v); // 0 language prior (blue) .. 0.5 white .. 1 vision (red)

// SVG charts (svg-chart.cpp)
struct series {
    std::string name;
    std::string color;
    std::vector<std::pair<double, double>> points; // x, y in data units
    bool dashed = false;
};
// A line chart over x in [0,1], y in [0, y_max] (y_max >= 1 probabilities; rounded up otherwise), with labelled
// horizontal marks in the right margin.
std::string line_chart(const std::vector<series> & lines, const std::string & x_label, const std::string & y_label,
                       const std::vector<std::pair<double, std::string>> & h_marks = {});
std::string legend(const std::vector<std::pair<std::string, std::string>> & items); // (colour, label html)
// Bars of the marginal gains along the ranking; after n_ranked drawn muted.
std::string gain_chart(const std::vector<double> & gain, size_t n_ranked);

// tables
void flatten(const std::string & prefix, const json & v, std::vector<std::pair<std::string, std::string>> & rows);
std::string kv_table(const std::string & title, const std::vector<std::pair<std::string, std::string>> & rows);
std::string stat(const std::string & label, const std::string & value_html, const std::string & hint = "");

} // namespace eagle::html
