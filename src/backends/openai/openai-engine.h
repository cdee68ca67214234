// !!! Internal header, for the engine factory (src/backends/backends.cpp) only !!!
// The entry points of the engines on OpenAI-style servers: openai (any chat server, approximate), vllm and sglang
// (exact).
#pragma once

#include "eagle/vlm.h"

#include <memory>

namespace eagle::openai_backend {

std::unique_ptr<vlm_model> load_model(const model_params & params); // openai-model.cpp

// engines "vllm" and "sglang": exact, from their prompt log-probabilities (exact-model.h)
std::unique_ptr<vlm_model> load_exact_model(const model_params & params); // exact-model.cpp

} // namespace eagle::openai_backend
