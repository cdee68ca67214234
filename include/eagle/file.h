// eagle/file.h - whole-file reads and crash-safe writes, the two ways eagle touches files.
#pragma once

#include <string>

namespace eagle {

// The bytes of a file. Throws errc::io naming the path.
std::string read_file(const std::string & path);

// Writes through a temporary file and a rename, so a killed run never leaves half a file. Throws errc::io.
void write_file_atomic(const std::string & path, const std::string & content);

} // namespace eagle
