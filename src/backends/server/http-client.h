// !!! Internal header, to be used by the server engine (src/backends/server) only !!!
// A small blocking HTTP client on libcurl: one connection to one server, kept alive between requests.
#pragma once

#include <string>
#include <vector>

typedef void CURL;

namespace eagle::server_backend {

struct http_response {
    long status = 0;   // HTTP status code
    std::string body;
};

// Raised for a request that never got an HTTP answer (refused, reset, timed out): the server may be down.
// Requests that got an answer, even an error status, return it.
struct transport_error {
    std::string what;
};

class http_client {
public:
    // base_url: "http://host:port" (a trailing '/' is dropped); timeout_s bounds one whole request
    http_client(std::string base_url, double connect_timeout_s, double timeout_s);
    ~http_client();
    http_client(const http_client &) = delete;
    http_client & operator=(const http_client &) = delete;

    const std::string & base_url() const { return base_url_; }
    // A header sent with every request, e.g. "Authorization: Bearer KEY"
    void add_header(std::string header) { headers_.push_back(std::move(header)); }

    // Throw transport_error when no answer came back.
    http_response get(const std::string & path);
    http_response post_json(const std::string & path, const std::string & body);

private:
    http_response perform(const std::string & path, const std::string * body);

    std::string base_url_;
    double connect_timeout_s_;
    double timeout_s_;
    std::vector<std::string> headers_;
    CURL * curl_ = nullptr; // reused: libcurl keeps the connection alive between requests on one handle
};

// "http://host:port" checked and normalized; throws errc::invalid_argument naming the bad URL
std::string normalize_url(const std::string & url);

// Every URL normalized, repeats dropped, in the order given (the same server named twice is used once)
std::vector<std::string> unique_urls(const std::vector<std::string> & urls);

} // namespace eagle::server_backend
