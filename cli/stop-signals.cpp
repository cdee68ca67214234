#include "stop-signals.h"

#include <csignal>

namespace eagle::cli {

namespace {

volatile std::sig_atomic_t g_signal = 0;
struct sigaction g_old_int, g_old_term;

extern "C" void on_stop_signal(int signo) { g_signal = signo; }

} // namespace

stop_signals::stop_signals() {
    g_signal = 0;
    struct sigaction sa = {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; // no SA_RESTART needed: nothing here blocks in a system call the flag must break
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
}

stop_signals::~stop_signals() {
    sigaction(SIGINT, &g_old_int, nullptr);
    sigaction(SIGTERM, &g_old_term, nullptr);
}

bool stop_signals::requested() { return g_signal != 0; }

int stop_signals::signal_number() { return g_signal; }

} // namespace eagle::cli
