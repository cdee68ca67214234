// !!! Internal header, for the engine factory (src/backends/backends.cpp) only !!!
// The server engine's entry point: a model served by running llama-server processes.
#pragma once

#include "eagle/vlm.h"

#include <memory>

namespace eagle::server_backend {

std::unique_ptr<vlm_model> load_model(const model_params & params); // server-model.cpp

} // namespace eagle::server_backend
