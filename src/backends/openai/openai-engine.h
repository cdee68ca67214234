// !!! Internal header, for the engine factory (src/backends/backends.cpp) only !!!
// The openai engine's entry point: a model served by OpenAI-compatible chat servers, scored approximately.
#pragma once

#include "eagle/vlm.h"

#include <memory>

namespace eagle::openai_backend {

std::unique_ptr<vlm_model> load_model(const model_params & params); // openai-model.cpp

} // namespace eagle::openai_backend
