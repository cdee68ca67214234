// Analytic scorers for testing searches without a model: the probability of each target is a function of
// how much of each region a mask keeps. (The weight-free engine behind the factory, for tests that need a
// whole vlm_model, is the mock engine: eagle/mock-vlm.h.)
#pragma once

#include "eagle/error.h"
#include "eagle/memo-scorer.h"
#include "eagle/regions.h"
#include "eagle/scorer.h"

#include <algorithm>
#include <functional>
#include <vector>

namespace eagle::testing {

// p_t(mask) = fn(t, kept), kept[i] = fraction of region i the mask keeps. Scores every mask it is given.
class analytic_function_scorer final : public scorer {
public:
    using fn_t = std::function<float(int32_t target, const std::vector<double> & kept)>;

    analytic_function_scorer(region_set regions, int32_t n_targets, fn_t fn)
        : regions_(std::move(regions)), n_targets_(n_targets), fn_(std::move(fn)) {}

    void prepare(const score_request & request) override {
        if (request.answer.empty()) {
            throw error(errc::invalid_argument, "prepare: the answer is empty");
        }
    }
    int32_t n_targets() const override { return n_targets_; }

    void score(std::span<const mask> masks, std::span<float> probs) override {
        for (size_t m = 0; m < masks.size(); ++m) {
            std::vector<double> kept(regions_.n_regions, 0.0);
            for (size_t i = 0; i < masks[m].keep.size(); ++i) {
                if (masks[m].keep[i]) {
                    kept[regions_.labels[i]] += 1.0;
                }
            }
            for (int32_t r = 0; r < regions_.n_regions; ++r) {
                kept[r] /= double(regions_.area_px[r]);
            }
            for (int32_t t = 0; t < n_targets_; ++t) {
                probs[m * n_targets_ + t] = fn_(t, kept);
            }
            ++stats_.n_evaluations;
        }
        ++stats_.n_backend_calls;
    }
    scorer_stats stats() const override { return stats_; }

private:
    region_set regions_;
    int32_t n_targets_;
    fn_t fn_;
    scorer_stats stats_;
};

// The analytic scorer behind a memo_scorer, as a vlm session is by default: repeated masks scored once.
// Not copyable or movable (the memo borrows the inner scorer); return it by value only as a prvalue.
class analytic_scorer final : public scorer {
public:
    using fn_t = analytic_function_scorer::fn_t;

    analytic_scorer(region_set regions, int32_t n_targets, fn_t fn)
        : inner_(std::move(regions), n_targets, std::move(fn)), memo_(inner_) {}
    analytic_scorer(const analytic_scorer &) = delete;
    analytic_scorer & operator=(const analytic_scorer &) = delete;

    void prepare(const score_request & request) override { memo_.prepare(request); }
    int32_t n_targets() const override { return memo_.n_targets(); }
    void score(std::span<const mask> masks, std::span<float> probs) override {
        memo_.score(masks, probs);
        ++n_calls;
    }
    scorer_stats stats() const override { return memo_.stats(); }

    int64_t n_calls = 0;

private:
    analytic_function_scorer inner_;
    memo_scorer memo_;
};

inline score_request dummy_request(int32_t nx, int32_t ny, int32_t n_answer) {
    score_request req;
    req.image = image_rgb8{nx, ny, std::vector<uint8_t>(size_t(nx) * ny * 3, 128)};
    req.prompt = "describe the image";
    req.answer.assign(n_answer, 1);
    return req;
}

// An image whose 2x2 quadrants are red (top left), green, blue and white (bottom right): what the mock engine
// (eagle/mock-vlm.h) names, quadrant by quadrant.
inline image_rgb8 quadrant_image(int32_t nx = 32, int32_t ny = 32) {
    image_rgb8 image{nx, ny, std::vector<uint8_t>(size_t(nx) * ny * 3)};
    const uint8_t colours[4][3] = {{200, 40, 40}, {40, 160, 40}, {40, 60, 200}, {255, 255, 255}};
    for (int32_t y = 0; y < ny; ++y) {
        for (int32_t x = 0; x < nx; ++x) {
            const int q = (y * 2 / ny) * 2 + x * 2 / nx;
            std::copy(colours[q], colours[q] + 3, &image.rgb[(size_t(y) * nx + x) * 3]);
        }
    }
    return image;
}

} // namespace eagle::testing
