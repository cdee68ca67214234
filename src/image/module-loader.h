// Private: eagle's optional modules (libeagle-video.so, libeagle-codecs.so), shared libraries built beside the
// executables that hold the parts of OpenCV whose dependencies are too costly to load in every process (each
// module's header says why). They are loaded on first use and kept for the process's life.
#pragma once

#include <string>
#include <vector>

namespace eagle::detail {

// Loads the module `file_name` once per process and returns the addresses of `symbols`, in order. Looks at
// $`env_var` when it is set (that path only), else beside the binary that holds this code (the eagle executable,
// a test in the build tree, a shared library linking eagle), beside the running executable, where install()
// puts modules relative to an installed eagle's folder, at the configured prefix, then where the build put them
// (the Python package run from the build tree finds them there); every candidate is an
// absolute path, so dlopen never finds a module of another build on the library path. Thread-safe. Throws
// errc::unsupported "<needed_for> needs <file_name>, not found (<env_var> names its path): <what was tried>"; a
// failed load is tried again on the next call.
std::vector<void *> load_module(const char * file_name, const char * env_var, const char * needed_for,
                                const std::vector<const char *> & symbols);

} // namespace eagle::detail
