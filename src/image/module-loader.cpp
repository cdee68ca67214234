#include "module-loader.h"

#include "eagle/error.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

namespace eagle::detail {

namespace {

std::vector<std::string> module_candidates(const char * file_name, const char * env_var) {
    if (const char * given = std::getenv(env_var); given && *given) {
        return {given};
    }
    std::vector<std::string> out;
    const auto add = [&](const std::filesystem::path & path) {
        const std::string s = path.string();
        if (path.is_absolute() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    };
    Dl_info info{};
    std::error_code ec;
    // for the main program dli_fname is argv[0], a bare name when it was found on PATH
    if (dladdr(reinterpret_cast<void *>(&load_module), &info) && info.dli_fname &&
        std::string(info.dli_fname).find('/') != std::string::npos) {
        add(std::filesystem::absolute(info.dli_fname, ec).parent_path() / file_name);
    }
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        add(exe.parent_path() / file_name);
#ifdef EAGLE_MODULE_FROM_BIN
        add((exe.parent_path() / EAGLE_MODULE_FROM_BIN / file_name).lexically_normal());
#endif
    }
#ifdef EAGLE_MODULE_INSTALLED
    add(std::filesystem::path(EAGLE_MODULE_INSTALLED) / file_name);
#endif
#ifdef EAGLE_MODULE_BUILT
    add(std::filesystem::path(EAGLE_MODULE_BUILT) / file_name);
#endif
    return out;
}

} // namespace

std::vector<void *> load_module(const char * file_name, const char * env_var, const char * needed_for,
                                const std::vector<const char *> & symbols) {
    static std::mutex mutex;
    static std::map<std::string, std::vector<void *>> loaded; // by file name; modules stay loaded
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = loaded.find(file_name); it != loaded.end()) {
        return it->second;
    }
    std::string tried;
    for (const std::string & path : module_candidates(file_name, env_var)) {
        void * handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char * why = dlerror();
            tried += (tried.empty() ? "" : "; ") + (why ? std::string(why) : path);
            continue;
        }
        std::vector<void *> addresses;
        for (const char * symbol : symbols) {
            addresses.push_back(dlsym(handle, symbol));
        }
        if (std::find(addresses.begin(), addresses.end(), nullptr) != addresses.end()) {
            dlclose(handle);
            tried += (tried.empty() ? "" : "; ") + path + ": not eagle's " + file_name;
            continue;
        }
        return loaded[file_name] = addresses;
    }
    throw error(errc::unsupported, std::string(needed_for) + " needs " + file_name + ", not found (" + env_var +
                                       " names its path): " + tried);
}

} // namespace eagle::detail
