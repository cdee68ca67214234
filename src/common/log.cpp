#include "eagle/log.h"

#include <atomic>
#include <cstdio>

namespace eagle {

namespace {

void log_default(log_level level, const char * text, void * /*user_data*/) {
    if (level >= log_level::warn) {
        std::fprintf(stderr, "%s", text);
    }
}

std::atomic<log_callback> g_callback{log_default};
std::atomic<void *> g_user_data{nullptr};

} // namespace

void set_log_callback(log_callback callback, void * user_data) {
    g_user_data = user_data;
    g_callback  = callback ? callback : log_default;
}

void log(log_level level, const std::string & text) {
    g_callback.load()(level, text.c_str(), g_user_data.load());
}

} // namespace eagle
