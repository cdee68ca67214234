// !!! Internal header, to be used by the llama.cpp engine (src/backends/llama) only !!!
// The thread count of the BLAS backends libmtmd makes for its vision encoder.
//
// ggml's BLAS backend turns an f16 operand into f32 before calling BLAS, on std::async threads: its default of 4
// starts 3 threads per product and joins them. libmtmd's patch embedding is such a product (ggml_conv_2d makes its
// im2col f16), and libmtmd sets the thread count of its CPU backend only, with no handle to its BLAS backend: so
// every image encode started 3 threads (1,187 in a default explanation of the ShapesWorld sample, ~6% of its wall
// time, BENCHMARKS.md). ggml's BLAS device makes its backends through ggml_backend_blas_init, which it calls through
// its PLT; this engine defines that function too (blas-threads.cpp) and an executable linking it exports it, so
// the dynamic linker binds libggml-blas.so's call to it. It makes the backend with ggml's own function and gives
// it the thread count set here (1: the encoding thread converts alone). llama.cpp's contexts set their BLAS
// backends' threads themselves at every decode,
// so only libmtmd's are changed. In a process whose main executable does not export the function (the Python
// module) ggml's default stays: a speed difference, never a result one. The count is process-wide: two models
// loading at once may make each other's backends with the other's count (a speed difference too). Where ggml's
// own function cannot be found (no BLAS backend registered, which no caller of this function can meet), the
// backend is not made and its context fails to load with llama.cpp's or libmtmd's error.
#pragma once

#include <cstdint>

namespace eagle::llama_backend {

// The thread count BLAS backends made from now on get (0: ggml's default). Thread-safe.
void set_blas_backend_threads(int32_t n_threads);

// How many BLAS backends this process has made through eagle's ggml_backend_blas_init, and the thread count the
// last one got (0: ggml's default); both 0 where the executable does not export it.
struct blas_backend_counts {
    int64_t n_made = 0;
    int32_t last_threads = 0;
};
blas_backend_counts blas_backends_made();

} // namespace eagle::llama_backend
