// The engine factory: the one switch that knows the engines this build has. Adding an engine is a folder
// under src/backends/ and one line here (docs/README-dev.md, "Adding a backend").
#include "eagle/backends.h"

#include "eagle/error.h"
#include "eagle/mock-vlm.h"

#if EAGLE_WITH_LLAMA
#include "llama/llama-engine.h"
#endif

namespace eagle {

std::unique_ptr<vlm_model> load_vlm(const model_params & params) {
    const std::string & engine = params.engine;
    if (engine == "llama") {
#if EAGLE_WITH_LLAMA
        return llama_backend::load_model(params);
#else
        throw error(errc::unsupported, "engine 'llama': this eagle was built without llama.cpp (EAGLE_WITH_LLAMA=OFF)");
#endif
    }
    if (engine == "mock") {
        return load_mock_vlm(params);
    }
    throw error(errc::invalid_argument, "unknown engine '" + engine + "' (expected llama or mock)");
}

std::vector<std::string> vlm_engines() {
#if EAGLE_WITH_LLAMA
    return {"llama", "mock"};
#else
    return {"mock"};
#endif
}

llama_info llama_cpp_info() {
#if EAGLE_WITH_LLAMA
    return llama_backend::runtime_info();
#else
    return {"none", "not built", ""};
#endif
}

} // namespace eagle
