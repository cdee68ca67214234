// eagle: the command-line tool. Each subcommand lives in cmd-<name>.cpp; this file owns stderr, the log
// level and the mapping from errors to exit codes.
//
// Exit codes: 0 ok, 1 bad usage or value, 2 unreadable/corrupt file or model, 3 backend failure.
#include "command.h"

#include "eagle/backends.h"
#include "eagle/eagle.h"

#include <csignal>
#include <cstdio>
#include <iostream>

namespace eagle::cli {

namespace {

bool g_is_quiet = false;
bool g_is_verbose = false;

void log_to_stderr(log_level level, const char * text, void * /*user_data*/) {
    const log_level min_level = g_is_verbose ? log_level::debug : g_is_quiet ? log_level::error : log_level::warn;
    if (level >= min_level) {
        std::fputs(text, stderr);
    }
}

int exit_code_for(errc code) {
    switch (code) {
        case errc::invalid_argument: return 1;
        case errc::io:
        case errc::model:            return 2;
        case errc::backend:
        case errc::unsupported:      return 3;
    }
    return 3;
}

// --help and --version (CLI11's "successes") print as CLI11 does. A real parse error (an unknown option, a value
// that is not a number, a missing value) is one line like every other error, exit 1 (bad usage): CLI11's own
// app.exit() prints two lines ("...\nRun with --help for more information.") and exits with its own codes (105...).
int exit_for_parse_error(CLI::App & app, const CLI::ParseError & e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
        return app.exit(e);
    }
    std::string message = e.what();
    for (char & c : message) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    while (!message.empty() && message.back() == ' ') {
        message.pop_back();
    }
    std::fprintf(stderr, "eagle: error: %s (see eagle --help)\n", message.c_str());
    return 1;
}

} // namespace

bool is_quiet() { return g_is_quiet; }

void add_log_flags(CLI::App & app) {
    app.add_flag("--quiet,-q", g_is_quiet, "print errors only");
    app.add_flag("--verbose,-v", g_is_verbose, "also print llama.cpp's log");
}

void print_json(const json & value) {
    std::cout << value.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

int main(int argc, char ** argv) {
    CLI::App app{"eagle: why did the vision-language model say that? (EAGLE attribution on llama.cpp)"};
    app.require_subcommand(0, 1);
    bool show_version = false;
    app.add_flag("--version", show_version, "print eagle's and llama.cpp's versions");
    add_log_flags(app);

    const std::vector<command> commands = {
        add_generate_command(app),
        add_score_command(app),
        add_explain_command(app),
        add_eval_command(app),
        add_shapes_command(app),
        add_bench_command(app),
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError & e) {
        return exit_for_parse_error(app, e);
    }
    set_log_callback(log_to_stderr, nullptr);
    // a file-size limit (ulimit -f) makes write() fail with EFBIG, reported as one error, instead of killing us
    std::signal(SIGXFSZ, SIG_IGN);

    if (show_version) {
        const llama_info llama = llama_cpp_info();
        std::printf("eagle %s\nllama.cpp %s (%s)\n", version(), llama.version.c_str(), llama.source.c_str());
        if (!llama.packages.empty()) {
            std::printf("packages: %s\n", llama.packages.c_str());
        }
        return 0;
    }
    try {
        for (const command & cmd : commands) {
            if (cmd.app->parsed()) {
                return cmd.run();
            }
        }
        std::cout << app.help();
        return 1;
    } catch (const error & e) {
        std::fprintf(stderr, "eagle: error: %s\n", e.what());
        return exit_code_for(e.code());
    } catch (const std::bad_alloc &) {
        std::fprintf(stderr, "eagle: error: out of memory\n");
        return 3;
    } catch (const std::exception & e) {
        std::fprintf(stderr, "eagle: error: %s\n", e.what());
        return 3;
    }
}

} // namespace eagle::cli

int main(int argc, char ** argv) {
    return eagle::cli::main(argc, argv);
}
