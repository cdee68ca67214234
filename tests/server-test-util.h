// What the tests of the server engines (test-server, test-openai, test-exact) share: one clear error caught,
// random masks over the default image's regions, a session's scores for masks, the largest difference of two
// score vectors.
#pragma once

#include "eagle/eagle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace eagle_test {

// The message of the eagle::error f throws ("" when none), its code in *code.
inline std::string error_of(const std::function<void()> & f, eagle::errc * code = nullptr) {
    try {
        f();
    } catch (const eagle::error & e) {
        if (code) {
            *code = e.code();
        }
        return e.what();
    }
    return "";
}

// n masks, each keeping a random subset of the image's 4x4 grid cells.
inline std::vector<eagle::mask> random_masks(const eagle::image_rgb8 & image, int n, uint32_t seed) {
    eagle::region_params rp;
    rp.kind = eagle::region_kind::grid;
    rp.n_cols = 4;
    rp.n_rows = 4;
    const eagle::region_set regions = eagle::make_regions(image, rp);
    std::mt19937 rng(seed);
    std::vector<eagle::mask> masks;
    for (int i = 0; i < n; ++i) {
        eagle::mask m = eagle::mask::empty(image.nx, image.ny);
        for (int32_t p = 0; p < image.nx * image.ny; ++p) {
            m.keep[p] = (rng() >> (regions.labels[p] % 16)) & 1;
        }
        masks.push_back(std::move(m));
    }
    return masks;
}

// The probabilities a fresh session (no memo, n_seq masks per batch) gives r's targets under each mask.
inline std::vector<float> scores(const eagle::vlm_model & model, const eagle::score_request & r,
                                 const std::vector<eagle::mask> & masks, eagle::scorer_stats * stats = nullptr,
                                 int32_t n_seq = eagle::session_params{}.n_seq) {
    eagle::session_params sp;
    sp.use_memo = false;
    sp.n_seq = n_seq;
    auto session = model.new_session(sp);
    session->prepare(r);
    std::vector<float> probs(masks.size() * size_t(session->n_targets()));
    session->score(masks, probs);
    if (stats) {
        *stats = session->stats();
    }
    return probs;
}

inline float max_abs_diff(const std::vector<float> & a, const std::vector<float> & b) {
    EXPECT_EQ(a.size(), b.size());
    float d = 0.0f;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        d = std::max(d, std::fabs(a[i] - b[i]));
    }
    return d;
}

} // namespace eagle_test
