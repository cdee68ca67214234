// numpy-exact numerics for the metrics (numpy-compat.h, and the public ones of eagle/metrics.h): sums in
// numpy's pairwise order, float16 rounding, np.trapz as sklearn's auc calls it.
#include "numpy-compat.h"

#include "eagle/error.h"
#include "eagle/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace eagle {

namespace {

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();

} // namespace

double numpy_max(const std::vector<double> & v) {
    double m = -std::numeric_limits<double>::infinity();
    for (double x : v) {
        if (std::isnan(x)) {
            return k_nan;
        }
        m = std::max(m, x);
    }
    return m;
}

double numpy_min(const std::vector<double> & v) {
    double m = std::numeric_limits<double>::infinity();
    for (double x : v) {
        if (std::isnan(x)) {
            return k_nan;
        }
        m = std::min(m, x);
    }
    return m;
}

bool starts_with(const std::string & s, const std::string & prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// numpy slice start:stop on an axis of length len, step 1: negative counts from the end, then clamp
void numpy_slice(int64_t start, int64_t stop, int64_t len, int64_t & lo, int64_t & hi) {
    auto norm = [len](int64_t v) {
        if (v < 0) {
            v += len;
            return v < 0 ? int64_t(0) : v;
        }
        return v > len ? len : v;
    };
    lo = norm(start);
    hi = std::max(lo, norm(stop));
}

// float32 arithmetic on float16 values, rounded back to float16: what numpy's float16 loops do
double half_sub(double a, double b) { return round_to_half(double(float(a) - float(b))); }
double half_div(double a, double b) { return round_to_half(double(float(a) / float(b))); }


// ---------------------------------------------------------------------------------------------------------
// numerics

double pairwise_sum(const double * a, size_t n) {
    if (n < 8) {
        double res = -0.0; // numpy starts from -0.0 so that a sum of -0.0 stays -0.0
        for (size_t i = 0; i < n; ++i) {
            res += a[i];
        }
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (size_t j = 0; j < 8; ++j) {
            r[j] = a[j];
        }
        size_t i = 8;
        for (; i < n - (n % 8); i += 8) {
            for (size_t j = 0; j < 8; ++j) {
                r[j] += a[i + j];
            }
        }
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) {
            res += a[i];
        }
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double numpy_mean(const std::vector<double> & values) {
    if (values.empty()) {
        return k_nan;
    }
    // np.add.reduce starts from the identity 0.0, then adds the pairwise sum of all elements
    return (0.0 + pairwise_sum(values.data(), values.size())) / double(values.size());
}

double round_to_half(double value) {
    if (!std::isfinite(value) || value == 0.0) {
        return value;
    }
    const double a = std::fabs(value);
    int e = 0;
    std::frexp(a, &e); // a = m * 2^e, m in [0.5, 1)
    // binary16 keeps 11 significant bits; below 2^-14 the spacing stays 2^-24 (subnormals)
    const int ulp_exp = std::max(e - 11, -24);
    const double r = std::ldexp(std::nearbyint(std::ldexp(a, -ulp_exp)), ulp_exp); // ties to even
    if (r > 65504.0) {
        return std::copysign(std::numeric_limits<double>::infinity(), value);
    }
    return std::copysign(r, value);
}

double auc(const std::vector<double> & x, const std::vector<double> & y) {
    if (x.size() != y.size()) {
        throw error(errc::invalid_argument, "auc: x has " + std::to_string(x.size()) + " points, y " + std::to_string(y.size()));
    }
    if (x.size() < 2) {
        throw error(errc::invalid_argument, "auc: at least 2 points are needed, got " + std::to_string(x.size()));
    }
    bool any_down = false, all_down = true;
    std::vector<double> terms(x.size() - 1);
    for (size_t i = 0; i + 1 < x.size(); ++i) {
        const double dx = x[i + 1] - x[i];
        any_down = any_down || dx < 0;
        all_down = all_down && dx <= 0;
        terms[i] = dx * (y[i + 1] + y[i]) / 2.0; // np.trapz's expression, in its order
    }
    if (any_down && !all_down) {
        throw error(errc::invalid_argument, "auc: x is neither increasing nor decreasing");
    }
    const double direction = any_down ? -1.0 : 1.0;
    return direction * pairwise_sum(terms.data(), terms.size());
}


} // namespace eagle
