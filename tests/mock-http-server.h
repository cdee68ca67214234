// A minimal HTTP/1.1 server on 127.0.0.1 for tests of engines whose real servers cannot run here (vLLM,
// SGLang): one thread per connection, keep-alive, Content-Length bodies only (what libcurl sends). Each
// request goes to the handler, which returns the status and the body it answers with. Stopped (and every
// connection closed) by the destructor.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace eagle_test {

struct http_request {
    std::string method; // "GET", "POST"
    std::string path;
    std::string body;
};

class mock_http_server {
public:
    using handler = std::function<std::pair<int, std::string>(const http_request &)>;

    explicit mock_http_server(handler h) : handler_(std::move(h)) {
        listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
        const int one = 1;
        setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 || listen(listen_fd_, 64) != 0) {
            throw std::runtime_error(std::string("mock_http_server: cannot listen: ") + std::strerror(errno));
        }
        socklen_t len = sizeof(addr);
        getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~mock_http_server() {
        stopping_ = true;
        shutdown(listen_fd_, SHUT_RDWR);
        close(listen_fd_);
        acceptor_.join();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (int fd : connections_) {
                shutdown(fd, SHUT_RDWR);
            }
        }
        for (std::thread & t : workers_) {
            t.join();
        }
        for (int fd : connections_) {
            close(fd);
        }
    }
    mock_http_server(const mock_http_server &) = delete;
    mock_http_server & operator=(const mock_http_server &) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int n_requests() const { return n_requests_; }

private:
    void accept_loop() {
        while (!stopping_) {
            const int fd = accept(listen_fd_, nullptr, nullptr);
            if (fd < 0) {
                return; // the listening socket was shut down
            }
            std::lock_guard<std::mutex> lock(mutex_);
            connections_.push_back(fd);
            workers_.emplace_back([this, fd] { serve(fd); });
        }
    }

    // Reads requests off one connection until the client closes it.
    void serve(int fd) {
        std::string buffer;
        char chunk[65536];
        for (;;) {
            size_t header_end;
            while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
                const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
                if (n <= 0) {
                    return; // closed by the client (the destructor closes the socket)
                }
                buffer.append(chunk, size_t(n));
            }
            const std::string head = buffer.substr(0, header_end);
            size_t content_length = 0;
            for (size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) {
                const std::string line = head.substr(at + 2, head.find("\r\n", at + 2) - at - 2);
                if (strncasecmp(line.c_str(), "content-length:", 15) == 0) {
                    content_length = std::stoul(line.substr(15));
                }
            }
            while (buffer.size() < header_end + 4 + content_length) {
                const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
                if (n <= 0) {
                    return; // closed by the client (the destructor closes the socket)
                }
                buffer.append(chunk, size_t(n));
            }
            http_request request;
            const size_t sp1 = head.find(' ');
            const size_t sp2 = head.find(' ', sp1 + 1);
            request.method = head.substr(0, sp1);
            request.path = head.substr(sp1 + 1, sp2 - sp1 - 1);
            request.body = buffer.substr(header_end + 4, content_length);
            buffer.erase(0, header_end + 4 + content_length);
            ++n_requests_;
            const auto [status, body] = handler_(request);
            const std::string response = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n"
                                         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: keep-alive\r\n\r\n" + body;
            for (size_t sent = 0; sent < response.size();) {
                const ssize_t n = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) {
                    return; // closed by the client (the destructor closes the socket)
                }
                sent += size_t(n);
            }
        }
    }

    handler handler_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> n_requests_{0};
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<int> connections_;
    std::vector<std::thread> workers_;
};

} // namespace eagle_test
