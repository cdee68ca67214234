// !!! Internal header, to be used by src/metrics only !!!
// numpy's rounding and edge cases, which the reference's scripts inherit: NaN-propagating max/min, slice
// bounds, float16 arithmetic. The public numerics (pairwise_sum, numpy_mean, round_to_half, auc) are in
// eagle/metrics.h; their definitions are in numpy-compat.cpp too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eagle {

double numpy_max(const std::vector<double> & v); // np.max: NaN propagates
double numpy_min(const std::vector<double> & v); // np.min: NaN propagates
bool starts_with(const std::string & s, const std::string & prefix);
// numpy slice start:stop on an axis of length len, step 1: negative counts from the end, then clamp
void numpy_slice(int64_t start, int64_t stop, int64_t len, int64_t & lo, int64_t & hi);
// float32 arithmetic on float16 values, rounded back to float16: what numpy's float16 loops do
double half_sub(double a, double b);
double half_div(double a, double b);

} // namespace eagle
