// The engine factory: the one switch that knows the engines this build has. Adding an engine is a folder
// under src/backends/ and one line here (docs/README-dev.md, "Adding a backend").
#include "eagle/backends.h"

#include "eagle/error.h"
#include "eagle/mock-vlm.h"

#include "openai/openai-engine.h"
#include "server/server-engine.h"

#if EAGLE_WITH_LLAMA
#include "llama/llama-engine.h"
#endif

namespace eagle {

std::unique_ptr<vlm_model> load_vlm(const model_params & params) {
    // the numeric params, checked here once for every engine (a negative thread count used to mean "all")
    if (params.n_threads < 0) {
        throw error(errc::invalid_argument, "load_vlm: n_threads must be >= 0 (0 = all hardware threads), got " +
                                                std::to_string(params.n_threads));
    }
    if (params.n_gpu_layers < -1) {
        throw error(errc::invalid_argument, "load_vlm: n_gpu_layers must be >= -1 (-1 = all), got " +
                                                std::to_string(params.n_gpu_layers));
    }
    if (params.n_workers < 0) {
        throw error(errc::invalid_argument, "load_vlm: n_workers must be >= 0 (0 = auto), got " +
                                                std::to_string(params.n_workers));
    }
    if (params.blas != "auto" && params.blas != "on" && params.blas != "off") {
        throw error(errc::invalid_argument, "load_vlm: blas must be auto, on or off, got '" + params.blas + "'");
    }
    parse_chat_family(params.chat_template); // a bad name fails before any file is read
    const std::string & engine = params.engine;
    if (engine == "llama") {
#if EAGLE_WITH_LLAMA
        return llama_backend::load_model(params);
#else
        throw error(errc::unsupported, "engine 'llama': this eagle was built without llama.cpp (EAGLE_WITH_LLAMA=OFF)");
#endif
    }
    if (engine == "server") {
        return server_backend::load_model(params);
    }
    if (engine == "openai") {
        return openai_backend::load_model(params);
    }
    if (engine == "vllm" || engine == "sglang") {
        return openai_backend::load_exact_model(params);
    }
    if (engine == "mock") {
        return load_mock_vlm(params);
    }
    throw error(errc::invalid_argument, "unknown engine '" + engine + "' (expected llama, server, openai, vllm, sglang or mock)");
}

std::vector<std::string> vlm_engines() {
#if EAGLE_WITH_LLAMA
    return {"llama", "server", "openai", "vllm", "sglang", "mock"};
#else
    return {"server", "openai", "vllm", "sglang", "mock"};
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
