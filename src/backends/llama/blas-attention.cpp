// blas-attention.h says why this file defines one of ggml's functions.
#include "blas-attention.h"

#include <ggml.h>

#include <dlfcn.h>

#include <atomic>

namespace eagle::llama_backend {

namespace {

std::atomic<bool> g_on{false};
std::atomic<int64_t> g_n_made{0};

using mul_mat_fn = ggml_tensor * (*)(ggml_context *, ggml_tensor *, ggml_tensor *);

// ggml's own ggml_mul_mat: the next definition after this executable's, in libggml-base
mul_mat_fn real_mul_mat() {
    static const mul_mat_fn fn = reinterpret_cast<mul_mat_fn>(dlsym(RTLD_NEXT, "ggml_mul_mat"));
    return fn;
}

// ggml's BLAS backend's own condition for a product it takes (ggml-blas.cpp, supports_op: M, N and K at least 32),
// less contiguity, and for float32 operands only (it also converts an f16 `a`; with --kv-f16 the attention products
// stay on ggml's kernels)
bool blas_would_take(const ggml_tensor * a, const ggml_tensor * b) {
    constexpr int64_t min_batch = 32;
    return a->type == GGML_TYPE_F32 && b->type == GGML_TYPE_F32 && a->ne[1] >= min_batch && b->ne[1] >= min_batch &&
           b->ne[0] >= min_batch;
}

} // namespace

void set_attention_in_blas(bool on) { g_on.store(on); }

int64_t attention_products_made_contiguous() { return g_n_made.load(); }

} // namespace eagle::llama_backend

// ggml's declaration (ggml.h); libllama and libmtmd call it through their PLT when they build a graph.
extern "C" __attribute__((visibility("default"))) ggml_tensor * ggml_mul_mat(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b) {
    using namespace eagle::llama_backend;
    const mul_mat_fn real = real_mul_mat();
    if (!real) {
        GGML_ABORT("eagle's ggml_mul_mat: ggml's own was not found after it (dlsym RTLD_NEXT)");
    }
    // graph-building contexts only (no_alloc, as llama.cpp's and libmtmd's): a context that holds its tensors'
    // data was sized by its maker for exactly what it builds, and the copies could overflow it
    if (g_on.load(std::memory_order_relaxed) && ggml_get_no_alloc(ctx) &&
        (!ggml_is_contiguous(a) || !ggml_is_contiguous(b)) && blas_would_take(a, b)) {
        a = ggml_is_contiguous(a) ? a : ggml_cont(ctx, a);
        b = ggml_is_contiguous(b) ? b : ggml_cont(ctx, b);
        g_n_made.fetch_add(1, std::memory_order_relaxed);
    }
    return real(ctx, a, b);
}
