// Runs the `eagle` binary from a test: arguments quoted for the shell, stdout/stderr captured, exit code decoded.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace eagle::testing {

struct run_result {
    int exit_code = -1;  // 128 + signal when the process was killed
    std::string out;
    std::string err;
};

inline std::string read_text(const std::string & path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::string shell_quote(const std::string & arg) {
    std::string q = "'";
    for (char c : arg) {
        if (c == '\'') {
            q.append("'\\''");
        } else {
            q.push_back(c);
        }
    }
    q.push_back('\'');
    return q;
}

// scratch_dir holds the captured output files, named by process id: ctest runs test cases as parallel
// processes that share the scratch folder
inline run_result run_eagle(const std::vector<std::string> & args, const std::string & scratch_dir) {
    const std::string tag = std::to_string(getpid());
    const std::string out_path = scratch_dir + "/stdout-" + tag + ".txt", err_path = scratch_dir + "/stderr-" + tag + ".txt";
    std::string cmd = shell_quote(EAGLE_CLI_PATH);
    for (const auto & a : args) {
        cmd.append(" ").append(shell_quote(a));
    }
    cmd.append(" >").append(shell_quote(out_path)).append(" 2>").append(shell_quote(err_path)).append(" </dev/null");
    const int status = std::system(cmd.c_str());
    run_result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_text(out_path);
    r.err = read_text(err_path);
    return r;
}

} // namespace eagle::testing
