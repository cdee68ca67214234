// eagle/version.h - eagle.cpp's own version. Thread-safe.
#pragma once

namespace eagle {

const char * version(); // e.g. "0.1.0"

} // namespace eagle
