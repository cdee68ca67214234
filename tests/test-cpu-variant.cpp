// ggml's CPU variant follows the first model's attention heads (init_backends_once, llama-runtime.h): on heads
// of 32 floats ggml's AVX-512 dot product runs all scalar, so eagle loads the best variant without AVX-512 (12% faster on the default model, BENCHMARKS.md). Its own executable: the first model a
// process loads makes the choice.
#include "eagle/backends.h"
#include "eagle/error.h"
#include "llama/blas-threads.h"
#include "llama/llama-runtime.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace {
const std::string k_models = EAGLE_TEST_MODELS_DIR;
}

TEST(cpu_variant, head_sizes_come_from_the_gguf_metadata) {
    EXPECT_EQ(eagle::llama_backend::gguf_attention_head_size(k_models + "/shapesworld-model.gguf"), 32); // 128 / 4 heads
    EXPECT_EQ(eagle::llama_backend::gguf_attention_head_size(k_models + "/shapesworld-mmproj.gguf"), 0); // no text heads
    EXPECT_EQ(eagle::llama_backend::gguf_attention_head_size(k_models + "/no-such-model.gguf"), 0);
}

TEST(cpu_variant, heads_of_32_floats_run_on_a_variant_without_avx512) {
    unsetenv("EAGLE_GGML_CPU_VARIANT");
    eagle::model_params params;
    params.model_path = k_models + "/shapesworld-model.gguf";
    params.mmproj_path = k_models + "/shapesworld-mmproj.gguf";
    params.n_threads = 1;
    const auto model = eagle::load_vlm(params);
    const std::string variant = eagle::llama_backend::loaded_cpu_variant();
    if (variant.empty()) {
        GTEST_SKIP() << "this ggml has no CPU variants to choose from";
    }
    if (!__builtin_cpu_supports("avx512f")) {
        GTEST_SKIP() << "without AVX-512 ggml never picks an AVX-512 variant: nothing to replace (" << variant << ")";
    }
    EXPECT_FALSE(eagle::llama_backend::cpu_variant_has_avx512(variant)) << variant;
    EXPECT_TRUE(eagle::llama_backend::cpu_variant_has_avx512("zen4"));
    EXPECT_FALSE(eagle::llama_backend::cpu_variant_has_avx512("haswell"));
}

// libmtmd's BLAS backends (one per worker's projector copy) get eagle's thread count instead of ggml's default of
// 4, which started 3 threads per image encode (blas-threads.h): through eagle's ggml_backend_blas_init, which this
// test executable exports as eagle's do.
TEST(blas_threads, the_encoders_blas_backends_get_one_thread_per_worker) {
    eagle::model_params params;
    params.model_path = k_models + "/shapesworld-model.gguf";
    params.mmproj_path = k_models + "/shapesworld-mmproj.gguf";
    params.n_threads = 2;
    params.n_workers = 2;
    params.blas = "on";
    std::unique_ptr<eagle::vlm_model> model;
    try {
        model = eagle::load_vlm(params);
    } catch (const eagle::error & e) {
        if (e.code() != eagle::errc::backend) {
            throw; // a missing model is a failure, not a skip
        }
        GTEST_SKIP() << "no BLAS backend here: " << e.what();
    }
    const eagle::llama_backend::blas_backend_counts made = eagle::llama_backend::blas_backends_made();
    EXPECT_GE(made.n_made, 2); // at least the two projector copies'
    EXPECT_EQ(made.last_threads, 1);
}
