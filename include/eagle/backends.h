// eagle/backends.h - the engine factory: the one place that knows which engines this build has
// (faiss index_factory, llama.cpp's clip_get_graph_builder switch).
//
//   auto model   = eagle::load_vlm({.model_path = "m.gguf", .mmproj_path = "p.gguf"}); // llama.cpp
//   auto mock    = eagle::load_vlm({.engine = "mock"});                                  // no files at all
//   auto session = model->new_session({});
//
// Thread safety: load_vlm may be called from several threads; each call returns its own model.
#pragma once

#include "eagle/vlm.h"

#include <memory>
#include <string>
#include <vector>

namespace eagle {

// Loads a model with the engine params.engine names. Throws errc::invalid_argument for an unknown engine or a
// bad number (n_threads < 0, n_gpu_layers < -1; the message names the parameter and the value),
// errc::unsupported for one this build lacks (llama with EAGLE_WITH_LLAMA=OFF), and the engine's own
// errors (errc::io for a missing file, errc::model for a bad one).
std::unique_ptr<vlm_model> load_vlm(const model_params & params);

// The engines this build can load, e.g. {"llama", "mock"}.
std::vector<std::string> vlm_engines();

struct llama_info {
    std::string version;        // llama.cpp version eagle was built against, e.g. "0.7.0 (build 11669, Debian)"
    std::string source;         // where it came from ("private prefix", "system"; "not built" without it)
    std::string packages;       // private prefix: every unpacked package with its version, "name version, ..."
};
llama_info llama_cpp_info();

} // namespace eagle
