// !!! Internal header, for the engine factory (src/backends/backends.cpp) only !!!
// The llama.cpp engine's entry points.
#pragma once

#include "eagle/backends.h"

#include <memory>

namespace eagle::llama_backend {

std::unique_ptr<vlm_model> load_model(const model_params & params); // llama-model.cpp
llama_info runtime_info();                                          // llama-runtime.cpp

} // namespace eagle::llama_backend
