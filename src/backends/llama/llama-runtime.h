// !!! Internal header, to be used by the llama.cpp engine (src/backends/llama) only !!!
// Process-wide llama.cpp set-up and the small helpers every part of the engine shares.
#pragma once

#include "eagle/backends.h"

#include <llama.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace eagle::llama_backend {

// Routes ggml/llama/mtmd logs to eagle's log (debug level); once per process, before anything of ggml runs.
void init_logging_once();

// Loads the ggml backends (CPU, GPU, RPC; not BLAS) and initializes llama.cpp once per process. The first call
// picks ggml's CPU variant: ggml's best-scoring one, unless `text_head_size` (the first model's attention head
// size, 0 = unknown) leaves 32 or more floats over a multiple of 64 and that variant has AVX-512, whose float
// dot product leaves those scalar: then the best variant without AVX-512 ($EAGLE_GGML_CPU_VARIANT = ggml | a
// variant name overrides; a bad name throws errc::invalid_argument from this and every later call, with ggml's
// pick loaded). Throws errc::backend if no backend could be loaded.
void init_backends_once(int32_t text_head_size = 0);

// The CPU variant ggml runs ("zen4", "alderlake"; "" before init_backends_once or without variants), and whether
// a variant is one of ggml's AVX-512 builds.
std::string loaded_cpu_variant();
bool cpu_variant_has_avx512(const std::string & variant);

// Loads ggml's BLAS backend (once). Process-wide: llama.cpp then uses it in every context made afterwards,
// of any model. Throws errc::backend if the backend library is missing.
void enable_blas_backend();

// ggml's BLAS device once enable_blas_backend has run, else nullptr.
ggml_backend_dev_t blas_device();

// The libblas.so.3 this process finds (the one ggml's BLAS backend would bind).
struct blas_library {
    enum class threading { none_found, not_openblas, serial, pthreads, openmp };
    threading kind = threading::none_found;
    std::string config; // OpenBLAS's own description ("OpenBLAS 0.3.21 DYNAMIC_ARCH ..."), else ""
};
blas_library find_blas_library();

// Whether a model_params::blas choice ("auto", "on", "off") turns the BLAS backend on with this library:
// "auto" only for OpenBLAS on OpenMP, which shares ggml's OpenMP threads; OpenBLAS's own pthreads spin against
// ggml's on the same cores (4x slower on the default model), and the reference BLAS is slower than ggml
// (BENCHMARKS.md).
bool wants_blas(const std::string & choice, const blas_library & library);

// The devices of ggml's RPC servers ("host:port" each, llama.cpp's rpc-server), registered with ggml once per
// endpoint for the process. Throws errc::invalid_argument for an endpoint that is not host:port, errc::io for
// one that does not accept a connection within 5 s, errc::backend when ggml's RPC backend is not loaded.
std::vector<ggml_backend_dev_t> rpc_devices(const std::vector<std::string> & endpoints);

// The offload devices llama.cpp would pick by default, RPC devices left out: GPUs, else integrated GPUs.
std::vector<ggml_backend_dev_t> local_offload_devices();

// Whether this process has registered any RPC server (their devices then join ggml's global list).
bool has_rpc_devices();

// All hardware threads, unless $EAGLE_THREADS says otherwise.
int32_t default_n_threads();

// How many workers score a batch's masks side by side (model_params::n_workers, resolved): as asked, else (0,
// auto) one per thread on a CPU-only model with BLAS on, 2..4 threads and a text model under 1B parameters, else
// 1. Each worker is one thread with its own text context and its own copy of the projector. With BLAS, on 2
// cores, two single-thread workers beat one 2-thread team by 1.6x / 1.3x / 1.2x per evaluation (1.5M / 32M /
// 256M-class models: the team's threads wait on each other at every graph node), but at the Qwen2.5-VL-3B class
// they are 5% slower and take 2.3 GiB more; with ggml's own kernels they gain only on the smallest model
// (BENCHMARKS.md). More than 4 only when asked: every worker holds another copy of the projector's weights.
// Throws errc::invalid_argument when n_workers < 0, more than n_threads, or > 1 with GPU layers or RPC servers.
int32_t resolve_n_workers(const model_params & params, int32_t n_threads, uint64_t n_text_params, bool uses_blas);

// What eagle reads of a GGUF file's metadata before llama.cpp or libmtmd see it: general.architecture, and the
// attention head size a text model states (<arch>.attention.key_length, else embedding_length / head_count; 0
// when it states neither). Throws errc::io (no such file) or errc::model (not a GGUF file); `what` ("model",
// "mmproj") names the file in the message.
struct gguf_header {
    std::string architecture;
    int32_t attention_head_size = 0;
};
gguf_header read_gguf_header(const std::string & path, const char * what);

// The attention head size a GGUF text model states (<arch>.attention.key_length, else embedding_length /
// head_count), read without loading tensors; 0 when it states neither or the file cannot be read.
int32_t gguf_attention_head_size(const std::string & path);

// general.architecture of a GGUF file, read without loading tensors. Throws errc::io (no such file) or
// errc::model (not a GGUF file); `what` ("model", "mmproj") names the file in the message.
std::string gguf_architecture(const std::string & path, const char * what);

// p(id) under softmax(logits) over the full vocabulary, accumulated in double.
float softmax_prob(const float * logits, int32_t n_vocab, int32_t id);

// Text for a llama_decode return code.
std::string decode_error_text(int32_t ret);

// The version and origin of the llama.cpp this engine was built against.
llama_info runtime_info();

// A llama_batch that frees itself.
struct batch_guard {
    llama_batch batch;
    batch_guard(int32_t n_tokens, int32_t n_embd, int32_t n_seq_max) : batch(llama_batch_init(n_tokens, n_embd, n_seq_max)) {
        batch.n_tokens = 0;
    }
    ~batch_guard() { llama_batch_free(batch); }
    batch_guard(const batch_guard &) = delete;
    batch_guard & operator=(const batch_guard &) = delete;

    void add_token(int32_t token, llama_pos pos, std::span<const llama_seq_id> seq_ids, bool output) {
        const int32_t i = batch.n_tokens++;
        batch.token[i]    = token;
        batch.pos[i]      = pos;
        batch.n_seq_id[i] = int32_t(seq_ids.size());
        for (size_t s = 0; s < seq_ids.size(); ++s) {
            batch.seq_id[i][s] = seq_ids[s];
        }
        batch.logits[i] = output;
    }
};

} // namespace eagle::llama_backend
