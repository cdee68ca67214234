// SIGINT/SIGTERM as a request to stop at the next safe point (a dataset run: between samples, or inside a
// sample's search, whose partial result is then discarded). The first signal sets the flag; the handler is
// one-shot (SA_RESETHAND), so a second Ctrl-C kills the process the usual way.
#pragma once

namespace eagle::cli {

class stop_signals {
public:
    stop_signals();  // installs the handlers
    ~stop_signals(); // restores the previous ones
    stop_signals(const stop_signals &) = delete;
    stop_signals & operator=(const stop_signals &) = delete;

    static bool requested();    // a signal arrived
    static int signal_number(); // which one (0: none)
};

} // namespace eagle::cli
