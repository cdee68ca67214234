// Private: wall-clock helpers for the timings the library reports about itself.
#pragma once

#include <chrono>
#include <cstdint>

namespace eagle::detail {

inline int64_t time_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

// Adds the lifetime of the guard to a counter: { scoped_timer t(stats.t_decode_us); ... }
class scoped_timer {
public:
    explicit scoped_timer(int64_t & total_us) : total_us_(total_us), t_start_us_(time_us()) {}
    ~scoped_timer() { total_us_ += time_us() - t_start_us_; }
    scoped_timer(const scoped_timer &) = delete;
    scoped_timer & operator=(const scoped_timer &) = delete;

private:
    int64_t & total_us_;
    int64_t t_start_us_;
};

} // namespace eagle::detail
