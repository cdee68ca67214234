#include "eagle/error.h"

namespace eagle {

const char * errc_name(errc code) noexcept {
    switch (code) {
        case errc::invalid_argument: return "invalid_argument";
        case errc::io:               return "io";
        case errc::model:            return "model";
        case errc::backend:          return "backend";
        case errc::unsupported:      return "unsupported";
    }
    return "unknown";
}

} // namespace eagle
