#include "file-lock.h"

#include "eagle/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace eagle::cli {

file_lock::file_lock(const std::string & path, bool create) {
    fd_ = create ? ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
        const int err = errno;
        throw error(errc::io, "cannot open '" + path + "' to lock it (" + std::strerror(err) + ")");
    }
    int rc = 0;
    do {
        rc = ::flock(fd_, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    is_locked_ = rc == 0;
}

file_lock::~file_lock() {
    if (fd_ >= 0) {
        ::close(fd_); // releases the lock
    }
}

} // namespace eagle::cli
