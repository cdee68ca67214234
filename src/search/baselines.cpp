// The black-box baselines on the same scorer: random order, occlusion, RISE and LIME-style. Each returns a
// per-region saliency; explain() ranks by it and measures the curves along that ranking, so every method is
// evaluated alike.
#include "search-internal.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace eagle::detail {

namespace {

// LIME's surrogate: the weighted ridge regression (alpha 1, intercept unpenalised) of ys on the region
// indicators xs. Weights exp(-d^2 / 0.25^2), d = cosine distance to the full image (all ones). Returns one
// coefficient per region. Solved by Gaussian elimination with partial pivoting (n + 1 unknowns, n <= a few
// hundred), so no linear-algebra dependency.
std::vector<float> ridge_fit(const std::vector<subset> & xs, const std::vector<double> & ys, int32_t n) {
    std::vector<float> coef(n, 0.0f);
    const int32_t dim = n + 1;
    std::vector<double> a(size_t(dim) * dim, 0.0), b(dim, 0.0);
    for (size_t m = 0; m < xs.size(); ++m) {
        double n_on = 0;
        for (int32_t i = 0; i < n; ++i) n_on += xs[m][i];
        const double cosine = n_on > 0 ? n_on / std::sqrt(n_on * n) : 0.0;
        const double d = 1.0 - cosine;
        const double w = std::exp(-d * d / (0.25 * 0.25));
        std::vector<double> x(dim);
        x[0] = 1.0;
        for (int32_t i = 0; i < n; ++i) x[i + 1] = xs[m][i];
        for (int32_t r = 0; r < dim; ++r) {
            b[r] += w * x[r] * ys[m];
            for (int32_t c = 0; c < dim; ++c) a[size_t(r) * dim + c] += w * x[r] * x[c];
        }
    }
    for (int32_t r = 1; r < dim; ++r) a[size_t(r) * dim + r] += 1.0; // ridge, intercept unpenalised
    // Gaussian elimination with partial pivoting
    for (int32_t col = 0; col < dim; ++col) {
        int32_t pivot = col;
        for (int32_t r = col + 1; r < dim; ++r)
            if (std::fabs(a[size_t(r) * dim + col]) > std::fabs(a[size_t(pivot) * dim + col])) pivot = r;
        for (int32_t c = 0; c < dim; ++c) std::swap(a[size_t(col) * dim + c], a[size_t(pivot) * dim + c]);
        std::swap(b[col], b[pivot]);
        const double diag = a[size_t(col) * dim + col];
        if (std::fabs(diag) < 1e-12) continue;
        for (int32_t r = 0; r < dim; ++r) {
            if (r == col) continue;
            const double f = a[size_t(r) * dim + col] / diag;
            if (f == 0.0) continue;
            for (int32_t c = col; c < dim; ++c) a[size_t(r) * dim + c] -= f * a[size_t(col) * dim + c];
            b[r] -= f * b[col];
        }
    }
    for (int32_t i = 0; i < n; ++i) {
        const double diag = a[size_t(i + 1) * dim + i + 1];
        coef[i] = std::fabs(diag) < 1e-12 ? 0.0f : float(b[i + 1] / diag);
    }
    return coef;
}

} // namespace

// Per-region saliency of the black-box baselines (higher = more important).
std::vector<float> baseline_saliency(subset_evaluator & eval, const explain_params & params, int32_t n,
                                     const subset_score & full) {
    std::mt19937_64 rng(params.sampling.seed);
    std::vector<float> saliency(n, 0.0f);
    switch (params.method) {
        case attribution_method::random: {
            std::vector<int32_t> perm(n);
            std::iota(perm.begin(), perm.end(), 0);
            std::shuffle(perm.begin(), perm.end(), rng);
            for (int32_t i = 0; i < n; ++i) {
                saliency[perm[i]] = float(n - i) / n;
            }
            break;
        }
        case attribution_method::occlusion: {
            // the drop of the mean target probability when the region alone is removed
            std::vector<subset> all_but(n, subset(n, 1));
            for (int32_t i = 0; i < n; ++i) {
                all_but[i][i] = 0;
            }
            const std::vector<subset_score> scores = eval.evaluate(all_but);
            for (int32_t i = 0; i < n; ++i) {
                saliency[i] = full.ins_mean - scores[i].ins_mean;
            }
            break;
        }
        case attribution_method::rise:
        case attribution_method::lime: {
            // random subsets, each region visible with probability 1/2 (their insertion images are scored;
            // the evaluator also scores the complements, which are random subsets of the same law: use both)
            const int32_t n_pairs = std::max(1, params.sampling.n_samples / 2);
            std::vector<subset> samples(n_pairs, subset(n, 0));
            std::bernoulli_distribution coin(0.5);
            for (subset & s : samples) {
                for (int32_t i = 0; i < n; ++i) {
                    s[i] = coin(rng);
                }
            }
            const std::vector<subset_score> scores = eval.evaluate(samples);
            std::vector<subset> xs;
            std::vector<double> ys;
            for (int32_t m = 0; m < n_pairs; ++m) {
                xs.push_back(samples[m]);
                ys.push_back(scores[m].ins_mean);
                subset inverse(n);
                for (int32_t i = 0; i < n; ++i) {
                    inverse[i] = !samples[m][i];
                }
                xs.push_back(inverse);
                ys.push_back(scores[m].del_mean);
            }
            if (params.method == attribution_method::rise) {
                // saliency_i = E[p | region i visible] (RISE's importance, over regions instead of pixels)
                std::vector<double> sum(n, 0.0), count(n, 0.0);
                for (size_t m = 0; m < xs.size(); ++m) {
                    for (int32_t i = 0; i < n; ++i) {
                        if (xs[m][i]) {
                            sum[i] += ys[m];
                            count[i] += 1.0;
                        }
                    }
                }
                for (int32_t i = 0; i < n; ++i) {
                    saliency[i] = count[i] > 0 ? float(sum[i] / count[i]) : 0.0f;
                }
            } else {
                // LIME: saliency = the region's coefficient in the weighted ridge fit
                saliency = ridge_fit(xs, ys, n);
            }
            break;
        }
        case attribution_method::eagle:
            break;
    }
    return saliency;
}

} // namespace eagle::detail
