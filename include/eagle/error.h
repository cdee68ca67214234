// eagle/error.h - the one error convention of eagle.cpp.
//
// Failures throw eagle::error: a std::runtime_error with a category (errc) and a message that names the
// function and the value that failed, e.g. "load_image: cannot decode 'x.png'". The library never returns
// bool/int status codes and never prints. The CLI maps errc to exit codes (see cli/main.cpp).
#pragma once

#include <stdexcept>
#include <string>

namespace eagle {

enum class errc {
    invalid_argument, // a value given by the caller is out of range or malformed
    io,               // a file cannot be read, decoded or written
    model,            // a model file is missing, corrupt, or does not fit its partner
    backend,          // the inference backend failed while running
    unsupported,      // a valid request this build or model cannot serve
};

class error : public std::runtime_error {
public:
    error(errc code, const std::string & message) : std::runtime_error(message), code_(code) {}
    errc code() const noexcept { return code_; }

private:
    errc code_;
};

// "name" of an errc, for logs and tests
const char * errc_name(errc code) noexcept;

} // namespace eagle
