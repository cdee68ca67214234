// The SVG charts of report.html: curves (insertion/deletion, a hallucination's target probability) and the
// bars of the marginal gains. Plain inline SVG, styled by the page's CSS; no script needed to read them.
#include "html-parts.h"

#include <algorithm>
#include <cmath>

namespace eagle::html {

// ---------------------------------------------------------------------------------------------------------
// SVG charts


// A line chart over x in [0,1], y in [0, y_max] (y_max >= 1 probabilities; rounded up otherwise).
std::string line_chart(const std::vector<series> & lines, const std::string & x_label, const std::string & y_label,
                       const std::vector<std::pair<double, std::string>> & h_marks) {
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

} // namespace eagle::html
