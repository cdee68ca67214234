// A one-line progress bar on stderr, drawn only when stderr is a terminal and the user did not ask for quiet.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace eagle::cli {

class progress_bar {
public:
    progress_bar(std::string label, bool is_enabled)
        : label_(std::move(label)), is_enabled_(is_enabled && isatty(STDERR_FILENO)), t_start_(std::chrono::steady_clock::now()) {}

    ~progress_bar() { finish(); }

    void update(int n_done, int n_total, const std::string & detail = "") {
        if (!is_enabled_ || n_total <= 0) {
            return;
        }
        const int width = 30;
        const int filled = n_done * width / n_total;
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start_).count();
        std::fprintf(stderr, "\r%s [%s%s] %d/%d %s %.0fs   ", label_.c_str(), std::string(filled, '#').c_str(),
                     std::string(width - filled, '.').c_str(), n_done, n_total, detail.c_str(), seconds);
        std::fflush(stderr);
        is_drawn_ = true;
    }

    void finish() {
        if (is_drawn_) {
            std::fputc('\n', stderr);
            is_drawn_ = false;
        }
    }

private:
    std::string label_;
    bool is_enabled_;
    bool is_drawn_ = false;
    std::chrono::steady_clock::time_point t_start_;
};

} // namespace eagle::cli
