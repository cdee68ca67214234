// eagle/file.h - whole-file reads and crash-safe writes, the two ways eagle touches files.
#pragma once

#include <string>

namespace eagle {

// The bytes of a file. Throws errc::io naming the path.
std::string read_file(const std::string & path);

// Writes through a temporary file (path.tmp-<pid>) and a rename, so a killed run never leaves half a file, and
// two processes never write into one temporary. Throws errc::io naming the path and the reason (e.g. "No space
// left on device"); on failure the temporary is removed and the file at `path` is left as it was.
void write_file_atomic(const std::string & path, const std::string & content);

} // namespace eagle
