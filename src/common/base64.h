// !!! Internal header !!! base64 (RFC 4648, padded): the report's data-URI images and the server engine's
// multimodal_data both encode PNG bytes with it.
#pragma once

#include <string>

namespace eagle {

std::string base64_encode(const std::string & bytes);

} // namespace eagle
