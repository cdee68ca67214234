// A real llama-server child process on 127.0.0.1 for the server engine's tests: started on a free port,
// waited for until /health answers, always killed (SIGKILL) by the destructor or kill().
// Where llama-server is and how it runs comes from the build (cmake/llama.cmake): with the private prefix,
// through the prefix's loader and library path, in its ggml backend folder (ggml looks for its CPU backends
// next to the executable or in the working folder, and the executable seen is the loader).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>

namespace eagle_test {

inline bool have_llama_server() { return std::string(EAGLE_TEST_LLAMA_SERVER).size() > 0; }
inline bool have_rpc_server() { return std::string(EAGLE_TEST_GGML_RPC_SERVER).size() > 0; }

inline int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
}

inline long http_status(const std::string & url) {
    CURL * curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(curl);
    return status;
}

// Starts args[0] with args in ggml's backend folder (where the prefix's tools find their backends), stdout and
// stderr to log_path; returns the child's pid (< 0: fork failed). Shared by the llama-server and rpc-server fixtures.
inline pid_t spawn_logged(std::vector<std::string> args, const std::string & log_path) {
    const pid_t pid = fork();
    if (pid == 0) {
        const std::string dir = EAGLE_TEST_GGML_BACKEND_DIR;
        if (!dir.empty() && chdir(dir.c_str()) != 0) {
            _exit(126);
        }
        const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        std::vector<char *> argv;
        for (std::string & a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

class llama_server_process {
public:
    // mmproj empty: a server without a vision projector
    llama_server_process(const std::string & model, const std::string & mmproj, int n_slots, const std::string & log_path)
        : port_(free_port()) {
        std::vector<std::string> args;
        const std::string loader = EAGLE_TEST_LLAMA_LOADER;
        if (!loader.empty()) {
            args = {loader, "--library-path", EAGLE_TEST_LLAMA_LIBRARY_PATH};
        }
        for (const std::string & a : {std::string(EAGLE_TEST_LLAMA_SERVER), std::string("-m"), model, std::string("--host"),
                                    std::string("127.0.0.1"), std::string("--port"), std::to_string(port_),
                                    std::string("-np"), std::to_string(n_slots), std::string("-t"), std::string("1"),
                                    // eagle's llama engine runs without flash attention on CPU (exact across batches)
                                    std::string("-fa"), std::string("off"), std::string("--no-webui"),
                                    // and with a float32 KV cache (session_params::use_f32_kv; the server's default is f16)
                                    std::string("--cache-type-k"), std::string("f32"), std::string("--cache-type-v"), std::string("f32")}) {
            args.push_back(a);
        }
        if (!mmproj.empty()) {
            args.push_back("--mmproj");
            args.push_back(mmproj);
        } else {
            args.push_back("--no-mmproj");
        }
        pid_ = spawn_logged(args, log_path);
        if (pid_ < 0) {
            throw std::runtime_error("fork failed");
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (http_status(url() + "/health") != 200) {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("llama-server exited at start (log: " + log_path + ")");
            }
            if (std::chrono::steady_clock::now() > deadline) {
                kill();
                throw std::runtime_error("llama-server did not become healthy in 60 s (log: " + log_path + ")");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    ~llama_server_process() { kill(); }
    llama_server_process(const llama_server_process &) = delete;
    llama_server_process & operator=(const llama_server_process &) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }

    void kill() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }

private:
    int port_ = 0;
    pid_t pid_ = -1;
};

// A ggml-rpc-server child process on 127.0.0.1 (llama.cpp's RPC backend, serving its CPU device), run the same
// way; ready once it accepts a TCP connection.
class rpc_server_process {
public:
    explicit rpc_server_process(const std::string & log_path) : port_(free_port()) {
        std::vector<std::string> args;
        const std::string loader = EAGLE_TEST_LLAMA_LOADER;
        if (!loader.empty()) {
            args = {loader, "--library-path", EAGLE_TEST_LLAMA_LIBRARY_PATH};
        }
        for (const std::string & a : {std::string(EAGLE_TEST_GGML_RPC_SERVER), std::string("-H"), std::string("127.0.0.1"),
                                      std::string("-p"), std::to_string(port_), std::string("-t"), std::string("1")}) {
            args.push_back(a);
        }
        pid_ = spawn_logged(args, log_path);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!accepts()) {
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("ggml-rpc-server exited at start (log: " + log_path + ")");
            }
            if (std::chrono::steady_clock::now() > deadline) {
                kill();
                throw std::runtime_error("ggml-rpc-server did not listen in 30 s (log: " + log_path + ")");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    ~rpc_server_process() { kill(); }
    rpc_server_process(const rpc_server_process &) = delete;
    rpc_server_process & operator=(const rpc_server_process &) = delete;

    std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

    void kill() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }

private:
    bool accepts() const {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(uint16_t(port_));
        const bool ok = connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0;
        close(fd);
        return ok;
    }
    int port_ = 0;
    pid_t pid_ = -1;
};

} // namespace eagle_test
