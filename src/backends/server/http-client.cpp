// The server engine's HTTP client: libcurl's easy interface, one handle per connection.
#include "http-client.h"

#include "eagle/error.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

namespace eagle::server_backend {

namespace {

void init_curl_once() {
    // curl_global_init is not thread-safe on older libcurl: once, before the first handle
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append_body(char * data, size_t size, size_t n, void * user) {
    static_cast<std::string *>(user)->append(data, size * n);
    return size * n;
}

} // namespace

std::string normalize_url(const std::string & url) {
    std::string out = url;
    while (!out.empty() && out.back() == '/') {
        out.pop_back();
    }
    const bool has_scheme = out.rfind("http://", 0) == 0 || out.rfind("https://", 0) == 0;
    if (!has_scheme || out.find('/', out.find("//") + 2) != std::string::npos || out.size() <= 8) {
        throw error(errc::invalid_argument, "server URL '" + url + "' is not http://host:port (or https://host:port)");
    }
    return out;
}

std::vector<std::string> unique_urls(const std::vector<std::string> & urls) {
    std::vector<std::string> out;
    for (const std::string & url : urls) {
        const std::string u = normalize_url(url);
        if (std::find(out.begin(), out.end(), u) == out.end()) {
            out.push_back(u);
        }
    }
    return out;
}

http_client::http_client(std::string base_url, double connect_timeout_s, double timeout_s)
    : base_url_(normalize_url(base_url)), connect_timeout_s_(connect_timeout_s), timeout_s_(timeout_s) {
    init_curl_once();
    curl_ = curl_easy_init();
    if (!curl_) {
        throw error(errc::backend, "libcurl: cannot create a handle");
    }
}

http_client::~http_client() {
    curl_easy_cleanup(curl_);
}

http_response http_client::get(const std::string & path) {
    return perform(path, nullptr);
}

http_response http_client::post_json(const std::string & path, const std::string & body) {
    return perform(path, &body);
}

http_response http_client::perform(const std::string & path, const std::string * body) {
    http_response out;
    const std::string url = base_url_ + path;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_slist * headers = nullptr;
    curl_easy_reset(curl_); // options only: the connection cache survives a reset
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L); // timeouts without SIGALRM: we run on worker threads
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, long(connect_timeout_s_ * 1000));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, long(timeout_s_ * 1000));
    curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &out.body);
    for (const std::string & h : headers_) {
        headers = curl_slist_append(headers, h.c_str());
    }
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        // no "Expect: 100-continue" round trip for large bodies (a base64 image is tens of kB)
        headers = curl_slist_append(headers, "Expect:");
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body->data());
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body->size()));
    }
    if (headers) {
        curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    }
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        throw transport_error{std::string(errbuf[0] ? errbuf : curl_easy_strerror(rc))};
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &out.status);
    return out;
}

} // namespace eagle::server_backend
