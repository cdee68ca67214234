// An advisory lock (flock) held for the life of the object. The kernel drops it when the process ends, however
// it ends (kill -9 included), so a stale lock never blocks a rerun.
#pragma once

#include <string>

namespace eagle::cli {

class file_lock {
public:
    // Opens (creating when asked; a folder is opened as is) `path` and tries to lock it exclusively without
    // waiting; locked() says whether it got the lock. Throws errc::io when the path cannot be opened.
    file_lock(const std::string & path, bool create);
    ~file_lock();
    file_lock(const file_lock &) = delete;
    file_lock & operator=(const file_lock &) = delete;

    bool locked() const { return is_locked_; }

private:
    int fd_ = -1;
    bool is_locked_ = false;
};

} // namespace eagle::cli
