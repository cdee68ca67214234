// blas-threads.h says why this file defines one of ggml's functions.
#include "blas-threads.h"

#include <ggml-backend.h>

#include <dlfcn.h>

#include <atomic>

namespace eagle::llama_backend {

namespace {

std::atomic<int32_t> g_threads{0};
std::atomic<int64_t> g_n_made{0};
std::atomic<int32_t> g_last_threads{0};

using init_fn = ggml_backend_t (*)();
using set_threads_fn = void (*)(ggml_backend_t, int);

// ggml's own ggml_backend_blas_init and ggml_backend_blas_set_n_threads, found in the library of the registered BLAS
// backend: its set_n_threads (which the registry hands out) names the file, and a lookup in that file's own
// scope finds its ggml_backend_blas_init, not this one.
struct blas_functions {
    init_fn init = nullptr;
    set_threads_fn set_threads = nullptr;
};

blas_functions find_blas_functions() {
    ggml_backend_reg_t reg = ggml_backend_reg_by_name("BLAS");
    if (!reg) return {};
    auto set_threads = reinterpret_cast<set_threads_fn>(ggml_backend_reg_get_proc_address(reg, "ggml_backend_set_n_threads"));
    Dl_info info{};
    if (!set_threads || !dladdr(reinterpret_cast<void *>(set_threads), &info) || !info.dli_fname) return {};
    void * handle = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (!handle) return {};
    auto init = reinterpret_cast<init_fn>(dlsym(handle, "ggml_backend_blas_init"));
    dlclose(handle); // RTLD_NOLOAD took a reference; ggml's registry holds its own
    return {init, set_threads};
}

} // namespace

void set_blas_backend_threads(int32_t n_threads) { g_threads.store(n_threads > 0 ? n_threads : 0); }

blas_backend_counts blas_backends_made() { return {g_n_made.load(), g_last_threads.load()}; }

} // namespace eagle::llama_backend

// ggml's declaration (ggml-blas.h): the BLAS device's init_backend calls this through libggml-blas.so's PLT.
extern "C" __attribute__((visibility("default"))) ggml_backend_t ggml_backend_blas_init(void) {
    using namespace eagle::llama_backend;
    // looked up at every call (once per context made), as the library may have been unloaded and loaded again
    const blas_functions real = find_blas_functions();
    if (!real.init || real.init == &ggml_backend_blas_init) {
        return nullptr; // no BLAS backend is registered: nothing could have asked for one
    }
    ggml_backend_t backend = real.init();
    const int32_t n_threads = g_threads.load();
    if (backend && n_threads > 0 && real.set_threads) {
        real.set_threads(backend, n_threads);
    }
    if (backend) {
        g_n_made.fetch_add(1);
        g_last_threads.store(n_threads);
    }
    return backend;
}
