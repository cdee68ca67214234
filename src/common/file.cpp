#include "eagle/file.h"

#include "eagle/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <fstream>
#include <iterator>

namespace eagle {

std::string read_file(const std::string & path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw error(errc::io, "cannot read '" + path + "'");
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
        throw error(errc::io, "cannot read '" + path + "'");
    }
    return bytes;
}

void write_file_atomic(const std::string & path, const std::string & content) {
    // The temporary's name is unique per process, so two processes writing the same file never share one; POSIX
    // calls rather than a stream, so a full disk or a read-only folder is reported with its reason (errno) and
    // the temporary is removed: the target either is the complete new file or is untouched.
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    auto fail = [&](const char * step, int err) {
        ::unlink(tmp.c_str());
        throw error(errc::io, "cannot write '" + path + "' (" + step + ": " + std::strerror(err) + ")");
    };
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        const int err = errno;
        throw error(errc::io, "cannot write '" + path + "' (" + std::strerror(err) + ")");
    }
    const char * p = content.data();
    size_t left = content.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            const int err = n < 0 ? errno : ENOSPC;
            ::close(fd);
            fail("write", err);
        }
        p += n;
        left -= size_t(n);
    }
    if (::close(fd) != 0) {
        fail("close", errno);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        fail("rename", errno);
    }
}

} // namespace eagle
