// Analytic scorers for testing searches without a model: the probability of each target is a function of
// how much of each region a mask keeps.
#pragma once

#include "eagle/error.h"
#include "eagle/regions.h"
#include "eagle/scorer.h"

#include <functional>
#include <map>
#include <vector>

namespace eagle::testing {

// p_t(mask) = fn(t, kept), kept[i] = fraction of region i the mask keeps
class analytic_scorer : public scorer {
public:
    using fn_t = std::function<float(int32_t target, const std::vector<double> & kept)>;

    analytic_scorer(region_set regions, int32_t n_targets, fn_t fn)
        : regions_(std::move(regions)), n_targets_(n_targets), fn_(std::move(fn)) {}

    void prepare(const score_request & request) override {
        if (request.answer.empty()) {
            throw error(errc::invalid_argument, "prepare: the answer is empty");
        }
        memo_.clear();
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
            const auto key = kept;
            auto it = memo_.find(key);
            if (it != memo_.end()) {
                ++stats_.n_memo_hits;
            } else {
                std::vector<float> p(n_targets_);
                for (int32_t t = 0; t < n_targets_; ++t) {
                    p[t] = fn_(t, kept);
                }
                it = memo_.emplace(key, p).first;
                ++stats_.n_evaluations;
            }
            std::copy(it->second.begin(), it->second.end(), probs.begin() + m * n_targets_);
        }
        ++n_calls;
    }
    scorer_stats stats() const override { return stats_; }

    int64_t n_calls = 0;

private:
    region_set regions_;
    int32_t n_targets_;
    fn_t fn_;
    scorer_stats stats_;
    std::map<std::vector<double>, std::vector<float>> memo_;
};

inline score_request dummy_request(int32_t nx, int32_t ny, int32_t n_answer) {
    score_request req;
    req.image = image_rgb8{nx, ny, std::vector<uint8_t>(size_t(nx) * ny * 3, 128)};
    req.prompt = "describe the image";
    req.answer.assign(n_answer, 1);
    return req;
}

} // namespace eagle::testing
