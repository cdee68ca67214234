// !!! Internal header, to be used by the llama.cpp engine (src/backends/llama) only !!!
// Attention products in BLAS: the K·Q and V·softmax products of llama.cpp's and libmtmd's attention, made
// contiguous so that ggml's BLAS backend takes them.
//
// Without flash attention, llama.cpp builds each layer's attention as ggml_mul_mat(K, Q) and ggml_mul_mat(V, KQ),
// where K and V are views of the KV cache: per head, rows of head-size floats a whole K row apart (all heads of a
// cell are stored together), and Q a permuted view; libmtmd's encoder builds K and Q as permuted views too (its V
// is contiguous). ggml's BLAS backend takes a product only when both operands
// are contiguous, so these stayed on ggml's CPU kernels, which compute each element as one dot product of head-size
// floats (ggml_vec_dot_f32: on the 28M model 16% of an evaluation, the largest cost after BLAS's own, where PyTorch
// runs the same products as batched sgemm; BENCHMARKS.md). Both libraries build their graphs with ggml_mul_mat,
// called through their PLT; this engine defines that function too (blas-attention.cpp) and an executable
// linking it exports it, so the dynamic linker binds their calls to it. While turned on (BLAS on, on the CPU),
// a product of two float32 operands of which one is a strided view, large enough for the BLAS backend (its own
// rule: M, N and K at least 32), gets a ggml_cont of each strided operand first: one copy of K, Q and V per
// layer, O(n·d) against the product's O(n²·d), after which the BLAS backend runs the products as one sgemm per
// head. Every other call goes to ggml's own function unchanged, and so does every call on a context that holds
// its tensors' data (only graph-building, no_alloc contexts get copies). The result is the same product in another
// summation order (scores within 1e-5, test-blas-attention). The Python module exports it too, and libllama and
// libmtmd, loaded with it, bind to it (the default explanation 1.82-1.92 s against 2.27-2.29 s with it off). Where
// no loaded object exports it first, ggml's own runs: a speed difference and ~1e-5 in the scores, as BLAS itself.
// $EAGLE_BLAS_ATTENTION=off keeps the CPU kernels (the lever off, to measure). Once on it stays on in the process,
// as BLAS does: a GPU model loaded after a CPU one with BLAS gets the copies too (on its device; a speed cost only).
#pragma once

#include <cstdint>

namespace eagle::llama_backend {

// Whether graphs built from now on get the contiguous copies (process-wide, as BLAS is; thread-safe).
void set_attention_in_blas(bool on);

// How many ggml_mul_mat calls (graph builds, the contexts' reserve graphs included) have given a product contiguous
// operands in this process (0 where the executable does not export the function, or while turned off).
int64_t attention_products_made_contiguous();

} // namespace eagle::llama_backend
