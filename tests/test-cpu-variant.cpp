// ggml's CPU variant follows the first model's attention heads (init_backends_once, llama-runtime.h): on heads
// that are not a multiple of 64 floats, ggml's AVX-512 dot product runs scalar, so eagle loads the best variant
// without AVX-512 (12% faster on the default model, BENCHMARKS.md). Its own executable: the first model a
// process loads makes the choice.
#include "eagle/backends.h"
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
    EXPECT_FALSE(eagle::llama_backend::cpu_variant_has_avx512(variant)) << variant;
    EXPECT_TRUE(eagle::llama_backend::cpu_variant_has_avx512("zen4"));
    EXPECT_FALSE(eagle::llama_backend::cpu_variant_has_avx512("haswell"));
}
