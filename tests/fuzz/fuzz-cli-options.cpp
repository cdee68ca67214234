// Any command line of `eagle explain` (numbers, ranges, target specs, grid spec, shard, method and search
// names): CLI11 parses it into the options, then what the tool does before loading any model runs -- the
// name tables, the grid, the shard and the library's parameter checks. Input: NUL-separated arguments.
#include "fuzz-common.h"

#include "explain-options.h"

#include <CLI/CLI.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    std::vector<std::string> args;
    std::string cur;
    for (size_t i = 0; i < size; ++i) {
        if (data[i] == 0) {
            args.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(char(data[i]));
        }
    }
    args.push_back(cur);
    if (args.size() > 64) {
        return 0;
    }
    eagle::cli::explain_options o;
    CLI::App app{"fuzz"};
    eagle::cli::add_explain_command_options(app, o);
    std::vector<std::string> reversed(args.rbegin(), args.rend()); // CLI11 takes them last first
    try {
        app.parse(reversed);
    } catch (const CLI::ParseError &) {
        return 0; // main.cpp prints these as one line
    }
    try {
        eagle::cli::resolve_explain_options(o);
        (void) eagle::cli::parse_shard(o.shard);
    } catch (const eagle::error &) {
    }
    return 0;
}
