// One subcommand of `eagle`: add_X_command() declares its options on the app and returns what runs it.
// A command parses into a params struct, calls the library, and hands the result to a writer; errors are
// thrown as eagle::error and mapped to exit codes by main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace eagle::cli {

using json = nlohmann::ordered_json;

struct command {
    CLI::App * app = nullptr;
    std::function<int()> run; // returns the exit code
};

command add_generate_command(CLI::App & parent);
command add_score_command(CLI::App & parent);
command add_explain_command(CLI::App & parent);
command add_eval_command(CLI::App & parent);
command add_bench_command(CLI::App & parent);

// --quiet was given (no progress bar, no summary)
bool is_quiet();
command add_shapes_command(CLI::App & parent);

// the flags every command also accepts after its name (e.g. `eagle score -q`)
void add_log_flags(CLI::App & app);

// pretty JSON on stdout; token pieces can be partial UTF-8 sequences, which are replaced rather than fatal
void print_json(const json & value);

} // namespace eagle::cli
