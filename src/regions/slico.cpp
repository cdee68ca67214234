// a port of OpenCV ximgproc's SLICO (slic.cpp, 4.6.0)
//
// Original: OpenCV contrib 4.6.0, modules/ximgproc/src/slic.cpp, whose SLIC/SLICO part carries this notice
// (BSD 3-clause, compatible with the project's licence; kept here as its first condition asks):
//
//   SLIC, SLICO Copyright (c) 2013 Radhakrishna Achanta
//   Redistribution and use in source and binary forms, with or without modification, are permitted provided
//   that the following conditions are met:
//    * Redistributions of source code must retain the above copyright notice, this list of conditions and the
//      following disclaimer.
//    * Redistributions in binary form must reproduce the above copyright notice, this list of conditions and
//      the following disclaimer in the documentation and/or other materials provided with the distribution.
//    * Neither the name of the copyright holders nor the names of its contributors may be used to endorse or
//      promote products derived from this software without specific prior written permission.
//   THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED
//   WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A
//   PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE FOR ANY
//   DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO,
//   PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION)
//   HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
//   NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
//   POSSIBILITY OF SUCH DAMAGE.
//
// This is an independent rewrite of the path
// createSuperpixelSLIC(bgr 8-bit, SLICO, region_size, ruler) -> iterate(n) -> getLabels() takes, restricted to
// three 8-bit channels. What OpenCV computes there, and the port repeats:
//   - the colour space is the raw B, G, R bytes (no Lab conversion), and `ruler` plays no part in SLICO;
//   - seeds sit on a shifted grid and each moves to its lowest-gradient 8-neighbour, but only when that
//     neighbour is diagonal (see perturb_seeds);
//   - every iteration each seed scans the (2S)x(2S) window around it and claims the pixels it is nearest to
//     in the distance colour/max_colour[seed] + spatial/S^2, all in float;
//   - labels, and each pixel's colour distance to the last seed that scanned it, carry over between
//     iterations; per-seed max_colour starts at FLT_MIN and only grows;
//   - centres become float means, summed pixel by pixel in column-major order.
// OpenCV runs the window scans through parallel_for_ over rows, but every row writes only its own pixels, so
// the result does not depend on the thread count; its centre sums use a parallel_reduce that the Debian build
// (no HAVE_TBB in ximgproc) runs serially over all columns, which is the order reproduced below.
//
// Everything is single-precision float exactly where OpenCV's is, with the same operand order, so the labels
// match bit for bit under IEEE float without contraction (see slico.h).

#include "slico.h"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cstddef>
#include <utility>

namespace eagle::detail {

namespace {

constexpr int32_t n_channels = 3;

struct bgr_image {
    const uint8_t * pixels; // row-major, n_channels bytes per pixel
    int32_t nx;
    int32_t ny;

    size_t index(int32_t x, int32_t y) const { return size_t(y) * size_t(nx) + size_t(x); }
    const uint8_t * at(int32_t x, int32_t y) const { return pixels + index(x, y) * n_channels; }
};

// a cluster centre; OpenCV keeps position and colour in float
struct seed {
    float x;
    float y;
    std::array<float, n_channels> colour;
};

seed seed_at(const bgr_image & image, int32_t x, int32_t y) {
    const uint8_t * px = image.at(x, y);
    return seed{float(x), float(y), {float(px[0]), float(px[1]), float(px[2])}};
}

// --- seeds ---------------------------------------------------------------------------------------------------

// OpenCV's GetChSeedsK: seed rows every S pixels starting at S/2; within a row seeds every S pixels, starting at
// S/2 on even rows and at 2*(S/2) on odd ones (a hex-like stagger; `half << parity` in the original). Rows and
// columns past the image are skipped, so the count is whatever fits, not nx*ny/S^2.
std::vector<seed> seed_grid(const bgr_image & image, int32_t region_size) {
    const int32_t half = region_size / 2;
    std::vector<seed> seeds;
    int32_t row_parity = 0;
    for (int32_t y = half; y < image.ny; y += region_size) {
        for (int32_t x = half << row_parity; x < image.nx; x += region_size) {
            seeds.push_back(seed_at(image, x, y));
        }
        row_parity ^= 1;
    }
    return seeds;
}

// Reflect-101 border (OpenCV's BORDER_DEFAULT) for the one-pixel overhang of a [-1 0 1] derivative: -1 -> 1,
// n -> n - 2, and a one-pixel-long axis maps everything to 0.
int32_t reflect_101(int32_t i, int32_t n) {
    if (n == 1) {
        return 0;
    }
    if (i < 0) {
        return -i;
    }
    if (i >= n) {
        return 2 * n - 2 - i;
    }
    return i;
}

// OpenCV's DetectChEdges at one pixel: over the channels, sum of squared Sobel ksize-1 derivatives (plain central
// differences) in x and in y. OpenCV computes a float image, but every term is an integer well below 2^24, so
// integer arithmetic gives exactly the same values and the same comparisons.
int32_t edge_magnitude(const bgr_image & image, int32_t x, int32_t y) {
    const uint8_t * left = image.at(reflect_101(x - 1, image.nx), y);
    const uint8_t * right = image.at(reflect_101(x + 1, image.nx), y);
    const uint8_t * up = image.at(x, reflect_101(y - 1, image.ny));
    const uint8_t * down = image.at(x, reflect_101(y + 1, image.ny));
    int32_t sum = 0;
    for (int32_t c = 0; c < n_channels; ++c) {
        const int32_t dx = int32_t(right[c]) - int32_t(left[c]);
        const int32_t dy = int32_t(down[c]) - int32_t(up[c]);
        sum += dx * dx + dy * dy;
    }
    return sum;
}

// OpenCV's PerturbSeeds: look at the 8 neighbours in OpenCV's order (left, then clockwise), keep the first with
// a strictly smaller gradient than the best so far, and move there only if both coordinates changed. The
// original tests `x != ox && y != oy` (most likely meant as ||), so a best neighbour straight left, right, up or
// down leaves the seed where it was; reproduced as is, since it decides where seeds start.
void perturb_seeds(const bgr_image & image, std::vector<seed> & seeds) {
    static constexpr int32_t step_x[8] = {-1, -1, 0, 1, 1, 1, 0, -1};
    static constexpr int32_t step_y[8] = {0, -1, -1, -1, 0, 1, 1, 1};
    for (seed & s : seeds) {
        const int32_t x0 = int32_t(s.x);
        const int32_t y0 = int32_t(s.y);
        int32_t best_x = x0;
        int32_t best_y = y0;
        int32_t best_edge = edge_magnitude(image, x0, y0);
        for (int32_t i = 0; i < 8; ++i) {
            const int32_t x = x0 + step_x[i];
            const int32_t y = y0 + step_y[i];
            if (x < 0 || x >= image.nx || y < 0 || y >= image.ny) {
                continue;
            }
            const int32_t edge = edge_magnitude(image, x, y);
            if (edge < best_edge) {
                best_x = x;
                best_y = y;
                best_edge = edge;
            }
        }
        if (best_x != x0 && best_y != y0) {
            s = seed_at(image, best_x, best_y);
        }
    }
}

// --- iterations ----------------------------------------------------------------------------------------------

struct slico_state {
    bgr_image image;
    int32_t region_size;
    std::vector<seed> seeds;
    // per pixel: the current label; starts at 0 and keeps its value through an iteration in which no seed
    // claims the pixel (OpenCV never resets its label matrix)
    std::vector<int32_t> labels;
    // per pixel: squared colour distance to the LAST seed whose window covered it, whether or not that seed won
    // it (OpenCV's distchans is shared by all seeds and never reset); FLT_MAX where no window reached yet
    std::vector<float> last_colour_distance;
    // per pixel: the best distance of this iteration
    std::vector<float> best_distance;
    // per seed: the largest colour distance seen among its pixels, the adaptive colour scale of SLICO
    std::vector<float> max_colour_distance;
};

// One seed claims the pixels of its window it is strictly nearer to than any earlier seed (ties stay with the
// lower seed index). The window is [int(s) - S, int(s) + S) clipped to the image, as in OpenCV.
void scan_window(slico_state & state, int32_t seed_index) {
    const bgr_image & image = state.image;
    const seed s = state.seeds[size_t(seed_index)];
    const int32_t region_size = state.region_size;
    const int32_t x_begin = std::max(0, int32_t(s.x) - region_size);
    const int32_t x_end = std::min(image.nx, int32_t(s.x) + region_size);
    const int32_t y_begin = std::max(0, int32_t(s.y) - region_size);
    const int32_t y_end = std::min(image.ny, int32_t(s.y) + region_size);
    // SLICO divides the colour term by the seed's own max colour distance and the spatial term by S^2 (float,
    // not a reciprocal multiply: the division's rounding is part of the result)
    const float colour_scale = state.max_colour_distance[size_t(seed_index)];
    const float spatial_scale = float(region_size * region_size);

    for (int32_t y = y_begin; y < y_end; ++y) {
        const float dy = float(y) - s.y;
        const float dy2 = dy * dy;
        const uint8_t * px = image.at(x_begin, y);
        const size_t row = image.index(0, y);
        for (int32_t x = x_begin; x < x_end; ++x, px += n_channels) {
            const size_t i = row + size_t(x);
            // accumulated channel by channel in float, B then G then R, as OpenCV does
            float colour = 0.0f;
            for (int32_t c = 0; c < n_channels; ++c) {
                const float d = float(px[c]) - s.colour[size_t(c)];
                colour += d * d;
            }
            state.last_colour_distance[i] = colour;
            const float dx = float(x) - s.x;
            const float spatial = dx * dx + dy2;
            // While colour_scale is still FLT_MIN (first iteration) any colour distance above ~4 overflows to
            // inf, and inf < FLT_MAX is false: such pixels stay unclaimed and keep label 0.
            const float distance = colour / colour_scale + spatial / spatial_scale;
            if (distance < state.best_distance[i]) {
                state.best_distance[i] = distance;
                state.labels[i] = seed_index;
            }
        }
    }
}

void assign_pixels(slico_state & state) {
    std::fill(state.best_distance.begin(), state.best_distance.end(), FLT_MAX);
    for (int32_t n = 0; n < int32_t(state.seeds.size()); ++n) {
        scan_window(state, n);
    }
}

// SLICO's adaptive compactness: each seed's colour scale becomes the largest colour distance among the pixels
// now labelled with it, never shrinking. The distance used is the last scanning seed's (see slico_state), and a
// pixel no window has reached contributes FLT_MAX. A max is order-independent, so row-major order is fine.
void grow_max_colour_distance(slico_state & state) {
    for (size_t i = 0; i < state.labels.size(); ++i) {
        float & max_colour = state.max_colour_distance[size_t(state.labels[i])];
        if (max_colour < state.last_colour_distance[i]) {
            max_colour = state.last_colour_distance[i];
        }
    }
}

struct centre_sums {
    std::vector<std::array<float, n_channels>> colour;
    std::vector<float> x;
    std::vector<float> y;
    std::vector<int32_t> count;

    explicit centre_sums(size_t n_seeds) : colour(n_seeds, {0.0f, 0.0f, 0.0f}), x(n_seeds, 0.0f), y(n_seeds, 0.0f), count(n_seeds, 0) {}
};

// OpenCV's sums, as it forms them: float accumulators, pixels visited column by column (x outer, y inner).
// Once a sum passes 2^24 float addition rounds, and the result depends on this order.
centre_sums column_major_float_sums(const slico_state & state) {
    const bgr_image & image = state.image;
    centre_sums sums(state.seeds.size());
    for (int32_t x = 0; x < image.nx; ++x) {
        for (int32_t y = 0; y < image.ny; ++y) {
            const size_t k = size_t(state.labels[image.index(x, y)]);
            const uint8_t * px = image.at(x, y);
            for (int32_t c = 0; c < n_channels; ++c) {
                sums.colour[k][size_t(c)] += float(px[c]);
            }
            sums.x[k] += float(x);
            sums.y[k] += float(y);
            ++sums.count[k];
        }
    }
    return sums;
}

// The same sums in exact integers, visited row by row (cache-friendly). While every total stays at or below 2^24
// each float partial sum above was an exactly representable integer, so both agree bit for bit; returns false
// when some total is larger and only the float order gives OpenCV's value (e.g. the big label-0 cluster the
// first iteration leaves on a textured image).
bool exact_integer_sums(const slico_state & state, centre_sums & out) {
    const bgr_image & image = state.image;
    const size_t n_seeds = state.seeds.size();
    std::vector<std::array<int64_t, n_channels + 2>> totals(n_seeds, {0, 0, 0, 0, 0}); // B, G, R, x, y
    for (int32_t y = 0; y < image.ny; ++y) {
        const uint8_t * px = image.at(0, y);
        const int32_t * labels = state.labels.data() + image.index(0, y);
        for (int32_t x = 0; x < image.nx; ++x, px += n_channels) {
            const size_t k = size_t(labels[x]);
            std::array<int64_t, n_channels + 2> & t = totals[k];
            t[0] += px[0];
            t[1] += px[1];
            t[2] += px[2];
            t[3] += x;
            t[4] += y;
            ++out.count[k];
        }
    }
    constexpr int64_t exact_float_integers = int64_t(1) << 24;
    for (size_t k = 0; k < n_seeds; ++k) {
        for (int64_t t : totals[k]) {
            if (t > exact_float_integers) {
                return false;
            }
        }
        for (int32_t c = 0; c < n_channels; ++c) {
            out.colour[k][size_t(c)] = float(totals[k][size_t(c)]);
        }
        out.x[k] = float(totals[k][3]);
        out.y[k] = float(totals[k][4]);
    }
    return true;
}

// OpenCV's SeedsCenters + SeedNormInvoker: every seed moves to the mean position and colour of its pixels. A seed
// with no pixels divides its zero sums by 1 and so jumps to (0, 0) with colour 0; OpenCV does that too.
void update_centres(slico_state & state) {
    centre_sums sums(state.seeds.size());
    if (!exact_integer_sums(state, sums)) {
        sums = column_major_float_sums(state);
    }
    for (size_t k = 0; k < state.seeds.size(); ++k) {
        const float count = float(sums.count[k] > 0 ? sums.count[k] : 1);
        seed & s = state.seeds[k];
        for (size_t c = 0; c < n_channels; ++c) {
            s.colour[c] = sums.colour[k][c] / count;
        }
        s.x = sums.x[k] / count;
        s.y = sums.y[k] / count;
    }
}

} // namespace

std::vector<int32_t> slico_labels(const uint8_t * bgr, int32_t nx, int32_t ny, int32_t region_size, int32_t n_iterations) {
    slico_state state;
    state.image = bgr_image{bgr, nx, ny};
    state.region_size = region_size;
    state.seeds = seed_grid(state.image, region_size);
    perturb_seeds(state.image, state.seeds);

    const size_t n_px = size_t(nx) * size_t(ny);
    state.labels.assign(n_px, 0);
    state.last_colour_distance.assign(n_px, FLT_MAX);
    state.best_distance.assign(n_px, FLT_MAX);
    // FLT_MIN (the smallest normal float), not 0, so the first iteration's division is finite for a zero colour
    // distance; it also makes any other colour distance dwarf the spatial term then (or overflow, see
    // scan_window). OpenCV resets it to FLT_MIN after the first iteration's assignment, which changes nothing.
    state.max_colour_distance.assign(state.seeds.size(), FLT_MIN);

    for (int32_t iteration = 0; iteration < n_iterations; ++iteration) {
        assign_pixels(state);
        grow_max_colour_distance(state);
        update_centres(state);
    }
    return std::move(state.labels);
}

} // namespace eagle::detail
