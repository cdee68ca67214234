// llama.cpp engine, process-wide part: ggml initialization, log routing, the GGUF probe, shared helpers.
#include "llama-runtime.h"

#include "eagle/error.h"
#include "eagle/log.h"
#include "eagle-build-info.h"

#include <ggml-backend.h>
#include <gguf.h>
#include <mtmd-helper.h>

#include <dlfcn.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

namespace eagle::llama_backend {

namespace {

// llama.cpp and libmtmd log a lot at every level, errors included; eagle reports failures itself with one
// clear message, so their log is detail for --verbose.
void route_ggml_log(ggml_log_level /*level*/, const char * text, void * /*user_data*/) {
    log(log_level::debug, text);
}

} // namespace

// before anything of ggml runs: even reading a GGUF header logs on failure
void init_logging_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        ggml_log_set(route_ggml_log, nullptr);
        llama_log_set(route_ggml_log, nullptr);
        mtmd_helper_log_set(route_ggml_log, nullptr);
    });
}

namespace {

// The folder ggml's backends were loaded from ("" = ggml's own search path).
std::string g_backend_dir;

bool is_blas(ggml_backend_reg_t reg) {
    return std::string(ggml_backend_reg_name(reg)) == "BLAS";
}

// ggml's CPU variants built for AVX-512. Their float dot product (ggml_vec_dot_f32, which runs attention's K.Q
// products) takes 64 floats per step and leaves the rest of a row to a scalar loop, so on heads of 32 floats (the
// default ShapesWorld model) it is all scalar, where the AVX2 variants' 32-float step covers it: a default
// explanation ran 12% faster on the Haswell variant than on Zen 4's (BENCHMARKS.md, "CPU variant").
bool has_avx512(const std::string & variant) {
    for (const char * name : {"skylakex", "cannonlake", "cascadelake", "icelake", "cooperlake", "zen4", "sapphirerapids"}) {
        if (variant == name) return true;
    }
    return false;
}

constexpr const char * k_cpu_prefix = "libggml-cpu-";

// "zen4" for .../libggml-cpu-zen4.so, "" for another file
std::string variant_name(const std::filesystem::path & file) {
    const std::string name = file.filename().string();
    if (name.rfind(k_cpu_prefix, 0) != 0 || file.extension() != ".so") return "";
    return name.substr(std::strlen(k_cpu_prefix), name.size() - std::strlen(k_cpu_prefix) - 3);
}

// The file a loaded backend's code lives in ("" for a backend linked into libggml itself).
std::filesystem::path backend_file(ggml_backend_reg_t reg) {
    void * fn = ggml_backend_reg_get_proc_address(reg, "ggml_backend_get_features");
    Dl_info info{};
    if (!fn || !dladdr(fn, &info) || !info.dli_fname) return {};
    return info.dli_fname;
}

// ggml's score of a CPU variant on this machine (0: it cannot run here), as ggml's own loader reads it.
int variant_score(const std::filesystem::path & file) {
    void * handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) return 0;
    using score_fn = int (*)();
    const auto score = reinterpret_cast<score_fn>(dlsym(handle, "ggml_backend_score"));
    const int out = score ? score() : 0;
    dlclose(handle);
    return out;
}

// Replaces the CPU variant ggml chose (its best-scoring one) when the text model's attention heads leave 32 or
// more floats over a multiple of 64 (32, 96, ...) and that variant is an AVX-512 one: then the best-scoring
// variant without AVX-512 runs instead. $EAGLE_GGML_CPU_VARIANT overrides: "ggml" keeps ggml's choice, a name ("haswell", "zen4") loads that
// variant (an errc::invalid_argument when it is missing or this CPU cannot run it).
void choose_cpu_variant(int32_t head_size) {
    const char * env = std::getenv("EAGLE_GGML_CPU_VARIANT");
    const std::string wanted = env && *env ? env : "auto";
    ggml_backend_reg_t cpu = ggml_backend_reg_by_name("CPU");
    const std::filesystem::path loaded = cpu ? backend_file(cpu) : std::filesystem::path();
    if (wanted == "ggml") {
        return;
    }
    if (variant_name(loaded).empty()) { // a CPU backend built without variants
        if (wanted != "auto") {
            log(log_level::warn, "EAGLE_GGML_CPU_VARIANT=" + wanted + " ignored: this ggml's CPU backend has no variants\n");
        }
        return;
    }
    std::filesystem::path choice;
    if (wanted == "auto") {
        // a 64-float step leaves head % 64 floats scalar, a 32-float one head % 32: AVX2 covers more only when
        // head % 64 >= 32 (e.g. 32, 96), and elsewhere AVX-512 is as good or better
        if (head_size <= 0 || head_size % 64 < 32 || !has_avx512(variant_name(loaded))) {
            return;
        }
        int best = 0;
        std::error_code ec;
        for (const auto & entry : std::filesystem::directory_iterator(loaded.parent_path(), ec)) {
            const std::string variant = variant_name(entry.path());
            if (variant.empty() || has_avx512(variant)) continue;
            if (const int score = variant_score(entry.path()); score > best) {
                best = score;
                choice = entry.path();
            }
        }
        if (choice.empty()) return;
    } else {
        choice = loaded.parent_path() / (k_cpu_prefix + wanted + ".so");
        std::error_code ec;
        if (!std::filesystem::is_regular_file(choice, ec) || variant_score(choice) <= 0) {
            throw error(errc::invalid_argument, "EAGLE_GGML_CPU_VARIANT=" + wanted + ": '" + choice.string() +
                                                    "' is missing or cannot run on this CPU (ggml's variants are in '" +
                                                    loaded.parent_path().string() + "')");
        }
    }
    if (choice == loaded) return;
    ggml_backend_unload(cpu);
    if (!ggml_backend_load(choice.c_str())) {
        ggml_backend_load(loaded.c_str()); // ggml's choice back
        log(log_level::warn, "ggml's CPU variant '" + choice.string() + "' did not load; keeping '" + loaded.string() + "'\n");
        return;
    }
    log(log_level::info, "ggml CPU variant: " + variant_name(choice) + " instead of " + variant_name(loaded) +
                             (wanted == "auto" ? " (attention heads of " + std::to_string(head_size) +
                                                     " floats: AVX-512's 64-float dot product would leave them scalar)"
                                               : " (EAGLE_GGML_CPU_VARIANT)") + "\n");
}

} // namespace

std::string loaded_cpu_variant() {
    ggml_backend_reg_t cpu = ggml_backend_reg_by_name("CPU");
    return cpu ? variant_name(backend_file(cpu)) : "";
}

bool cpu_variant_has_avx512(const std::string & variant) { return has_avx512(variant); }

void init_backends_once(int32_t text_head_size) {
    static std::once_flag once;
    static std::exception_ptr variant_failure;
    std::call_once(once, [text_head_size] {
        const char * env_dir = std::getenv("EAGLE_GGML_BACKEND_DIR");
        const std::string dir = env_dir ? env_dir : EAGLE_GGML_BACKEND_DIR;
        std::error_code ec;
        if (!dir.empty() && std::filesystem::is_directory(dir, ec)) {
            g_backend_dir = dir;
            ggml_backend_load_all_from_path(dir.c_str());
        } else {
            ggml_backend_load_all();
        }
        // llama.cpp adds every loaded "accelerator" (BLAS) to every context it makes. With OpenBLAS that is
        // many times slower for eagle's small prefills (BENCHMARKS.md), so BLAS is opt-in: unloaded here and
        // loaded again only when a model asks for it (enable_blas_backend).
        for (size_t i = 0; i < ggml_backend_reg_count(); ++i) {
            ggml_backend_reg_t reg = ggml_backend_reg_get(i);
            if (is_blas(reg)) {
                ggml_backend_unload(reg);
                break;
            }
        }
        // a bad EAGLE_GGML_CPU_VARIANT must not leave the once-flag unset (the next call would load every
        // backend again): ggml's pick stays, and every call reports the error
        try {
            choose_cpu_variant(text_head_size);
        } catch (...) {
            variant_failure = std::current_exception();
        }
        llama_backend_init();
    });
    if (variant_failure) {
        std::rethrow_exception(variant_failure);
    }
    if (ggml_backend_dev_count() == 0) {
        throw error(errc::backend, "no ggml backend could be loaded (backend folder '" +
                                       std::string(EAGLE_GGML_BACKEND_DIR) + "'; set EAGLE_GGML_BACKEND_DIR)");
    }
}

void enable_blas_backend() {
    static std::mutex mutex;
    const std::lock_guard<std::mutex> lock(mutex);
    for (size_t i = 0; i < ggml_backend_reg_count(); ++i) {
        if (is_blas(ggml_backend_reg_get(i))) {
            return;
        }
    }
    const std::string dir = g_backend_dir.empty() ? std::string(".") : g_backend_dir;
    const std::string path = (std::filesystem::path(dir) / "libggml-blas.so").string();
    // The backend binds libblas.so.3 as the process finds it: on Debian the BLAS update-alternatives selects
    // (OpenCV has loaded it already). For OpenBLAS: apt install libopenblas0-openmp, and select it.
    if (!ggml_backend_load(path.c_str())) {
        throw error(errc::backend, "BLAS requested but ggml's BLAS backend '" + path +
                                       "' could not be loaded (run scripts/provision-llama.sh, or set "
                                       "EAGLE_GGML_BACKEND_DIR to a folder with libggml-blas.so)");
    }
}

ggml_backend_dev_t blas_device() {
    for (size_t i = 0; i < ggml_backend_reg_count(); ++i) {
        ggml_backend_reg_t reg = ggml_backend_reg_get(i);
        if (is_blas(reg) && ggml_backend_reg_dev_count(reg) > 0) {
            return ggml_backend_reg_dev_get(reg, 0);
        }
    }
    return nullptr;
}

namespace {

blas_library probe_blas_library() {
    blas_library out;
    // the library ggml's BLAS backend would bind: already in the process (OpenCV's LAPACK loads it), or the one
    // the loader finds. The handle stays open: the backend, once loaded, binds the same library.
    void * handle = dlopen("libblas.so.3", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        return out;
    }
    using get_parallel_fn = int (*)();
    using get_config_fn = const char * (*)();
    const auto get_parallel = reinterpret_cast<get_parallel_fn>(dlsym(handle, "openblas_get_parallel"));
    const auto get_config = reinterpret_cast<get_config_fn>(dlsym(handle, "openblas_get_config"));
    if (get_parallel == nullptr) {
        out.kind = blas_library::threading::not_openblas;
        return out;
    }
    switch (get_parallel()) { // OpenBLAS: 0 sequential, 1 its own pthreads, 2 OpenMP
        case 0:  out.kind = blas_library::threading::serial; break;
        case 2:  out.kind = blas_library::threading::openmp; break;
        default: out.kind = blas_library::threading::pthreads; break;
    }
    out.config = get_config != nullptr ? get_config() : "OpenBLAS";
    return out;
}

} // namespace

blas_library find_blas_library() {
    static const blas_library found = probe_blas_library(); // the process's libblas.so.3 does not change
    return found;
}

bool wants_blas(const std::string & choice, const blas_library & library) {
    if (choice == "on") {
        return true;
    }
    if (choice == "off") {
        return false;
    }
    return library.kind == blas_library::threading::openmp;
}

namespace {

bool is_rpc(ggml_backend_dev_t dev) {
    return std::string(ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev))).rfind("RPC", 0) == 0;
}

// host:port split at the last colon; throws errc::invalid_argument naming the endpoint
std::pair<std::string, std::string> split_endpoint(const std::string & endpoint) {
    const size_t colon = endpoint.rfind(':');
    const std::string host = colon == std::string::npos ? "" : endpoint.substr(0, colon);
    const std::string port = colon == std::string::npos ? "" : endpoint.substr(colon + 1);
    const bool port_ok = !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), ::isdigit) &&
                         std::stoi(port) > 0 && std::stoi(port) < 65536;
    if (host.empty() || !port_ok) {
        throw error(errc::invalid_argument, "--rpc '" + endpoint + "' is not host:port (e.g. 192.168.1.2:50052)");
    }
    return {host, port};
}

// ggml's RPC client aborts the process on a failed connection in some versions, and waits for the kernel's
// connect timeout in others: a connection is tried here first, with a timeout, for one clear error.
void check_reachable(const std::string & endpoint, double timeout_s) {
    const auto [host, port] = split_endpoint(endpoint);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo * found = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        throw error(errc::io, "ggml RPC server '" + endpoint + "': cannot resolve '" + host + "' (" + gai_strerror(rc) + ")");
    }
    std::string why = "no address";
    bool connected = false;
    for (addrinfo * a = found; a && !connected; a = a->ai_next) {
        const int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            why = std::strerror(errno);
            continue;
        }
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            rc = poll(&p, 1, int(timeout_s * 1000));
            if (rc == 0) {
                why = "no answer in " + std::to_string(int(timeout_s)) + " s";
                rc = -1;
            } else if (rc > 0) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                rc = err == 0 ? 0 : -1;
                if (err != 0) {
                    why = std::strerror(err);
                }
            } else {
                why = std::strerror(errno);
            }
        } else if (rc != 0) {
            why = std::strerror(errno);
        }
        connected = rc == 0;
        close(fd);
    }
    freeaddrinfo(found);
    if (!connected) {
        throw error(errc::io, "ggml RPC server at " + endpoint + " does not answer (" + why +
                                  "); is ggml-rpc-server (rpc-server) running there with -H on a reachable address?");
    }
}

std::mutex g_rpc_mutex;
std::map<std::string, ggml_backend_reg_t> g_rpc_regs; // endpoint -> its registered devices

} // namespace

std::vector<ggml_backend_dev_t> rpc_devices(const std::vector<std::string> & endpoints) {
    init_backends_once();
    std::vector<ggml_backend_dev_t> devices;
    const std::lock_guard<std::mutex> lock(g_rpc_mutex);
    for (const std::string & endpoint : endpoints) {
        auto it = g_rpc_regs.find(endpoint);
        if (it == g_rpc_regs.end()) {
            check_reachable(endpoint, 5.0);
            ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
            if (!rpc) {
                throw error(errc::backend, "--rpc needs ggml's RPC backend (libggml-rpc.so, Debian: libggml0-backend-rpc) "
                                           "in the backend folder '" + g_backend_dir + "'");
            }
            using add_server_fn = ggml_backend_reg_t (*)(const char * endpoint);
            auto add_server = reinterpret_cast<add_server_fn>(ggml_backend_reg_get_proc_address(rpc, "ggml_backend_rpc_add_server"));
            if (!add_server) {
                throw error(errc::backend, "this ggml's RPC backend has no ggml_backend_rpc_add_server (too old for --rpc)");
            }
            ggml_backend_reg_t reg = add_server(endpoint.c_str());
            if (!reg || ggml_backend_reg_dev_count(reg) == 0) {
                throw error(errc::io, "ggml RPC server at " + endpoint + " accepted the connection but offers no device "
                                      "(another client connected, or another protocol version; run with --verbose)");
            }
            ggml_backend_register(reg); // once per endpoint: registering twice would list its devices twice
            it = g_rpc_regs.emplace(endpoint, reg).first;
        }
        for (size_t i = 0; i < ggml_backend_reg_dev_count(it->second); ++i) {
            devices.push_back(ggml_backend_reg_dev_get(it->second, i));
        }
    }
    return devices;
}

std::vector<ggml_backend_dev_t> local_offload_devices() {
    std::vector<ggml_backend_dev_t> gpus, igpus;
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        if (is_rpc(dev)) {
            continue;
        }
        if (ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_GPU) {
            gpus.push_back(dev);
        } else if (ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_IGPU) {
            igpus.push_back(dev);
        }
    }
    return gpus.empty() ? igpus : gpus;
}

bool has_rpc_devices() {
    const std::lock_guard<std::mutex> lock(g_rpc_mutex);
    return !g_rpc_regs.empty();
}

// All hardware threads, unless EAGLE_THREADS says otherwise: ggml's worker threads spin while they wait, so
// several eagle processes on one machine (a test suite run in parallel, dataset shards) must split the cores
// rather than each take all of them, or they slow each other down many times over.
int32_t default_n_threads() {
    if (const char * env = std::getenv("EAGLE_THREADS")) {
        const int n = std::atoi(env);
        if (n > 0) {
            return n;
        }
    }
    return int32_t(std::max(1u, std::thread::hardware_concurrency()));
}

int32_t resolve_n_workers(const model_params & params, int32_t n_threads, uint64_t n_text_params, bool uses_blas) {
    if (params.n_workers < 0 || params.n_workers > n_threads) {
        throw error(errc::invalid_argument, "load_vlm: workers must be 0 (auto) .. threads (" + std::to_string(n_threads) +
                                                "), got " + std::to_string(params.n_workers));
    }
    const bool is_cpu_only = params.n_gpu_layers == 0 && params.rpc_servers.empty();
    if (params.n_workers > 1 && !is_cpu_only) {
        // ggml's RPC client shares one socket per server between contexts, unlocked; GPU contexts side by side
        // are untested
        throw error(errc::invalid_argument, "load_vlm: workers " + std::to_string(params.n_workers) +
                                                " run on the CPU only, not with --gpu-layers or --rpc");
    }
    if (params.n_workers > 0) {
        return params.n_workers;
    }
    const bool is_small = n_text_params < 1000000000ull;
    return is_cpu_only && uses_blas && is_small && n_threads >= 2 && n_threads <= 4 ? n_threads : 1;
}

// Reads a GGUF header without loading tensors: llama.cpp and libmtmd may abort on some malformed files,
// so eagle checks the container itself first and names the file in a clean error.
gguf_header read_gguf_header(const std::string & path, const char * what) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw error(errc::io, std::string(what) + " '" + path + "' does not exist or is not a file");
    }
    gguf_init_params params{/*no_alloc =*/ true, /*ctx =*/ nullptr};
    gguf_context * gguf = gguf_init_from_file(path.c_str(), params);
    if (!gguf) {
        throw error(errc::model, std::string(what) + " '" + path + "' is not a valid GGUF file (corrupt or truncated?)");
    }
    const auto u32 = [&](const std::string & key) -> int64_t {
        const int64_t id = gguf_find_key(gguf, key.c_str());
        return id >= 0 && gguf_get_kv_type(gguf, id) == GGUF_TYPE_UINT32 ? int64_t(gguf_get_val_u32(gguf, id)) : -1;
    };
    gguf_header out;
    const int64_t arch_id = gguf_find_key(gguf, "general.architecture");
    if (arch_id >= 0 && gguf_get_kv_type(gguf, arch_id) == GGUF_TYPE_STRING) {
        out.architecture = gguf_get_val_str(gguf, arch_id);
        const std::string & arch = out.architecture;
        const int64_t key_length = u32(arch + ".attention.key_length");
        const int64_t n_embd = u32(arch + ".embedding_length"), n_head = u32(arch + ".attention.head_count");
        if (key_length > 0) {
            out.attention_head_size = int32_t(key_length);
        } else if (n_embd > 0 && n_head > 0 && n_embd % n_head == 0) {
            out.attention_head_size = int32_t(n_embd / n_head);
        }
    }
    gguf_free(gguf);
    return out;
}

int32_t gguf_attention_head_size(const std::string & path) {
    try {
        return read_gguf_header(path, "model").attention_head_size;
    } catch (const error &) {
        return 0;
    }
}

std::string gguf_architecture(const std::string & path, const char * what) {
    return read_gguf_header(path, what).architecture;
}

// p(id) under softmax(logits), accumulated in double: the reference takes softmax over the full vocabulary.
float softmax_prob(const float * logits, int32_t n_vocab, int32_t id) {
    float max_logit = logits[0];
    for (int32_t i = 1; i < n_vocab; ++i) {
        max_logit = std::max(max_logit, logits[i]);
    }
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; ++i) {
        sum += std::exp(double(logits[i]) - max_logit);
    }
    return float(std::exp(double(logits[id]) - max_logit) / sum);
}

std::string decode_error_text(int32_t ret) {
    switch (ret) {
        case 1:  return "no KV-cache slot for the batch (context too small)";
        case 2:  return "aborted";
        case -1: return "invalid input batch";
        default: return "fatal error " + std::to_string(ret);
    }
}

llama_info runtime_info() {
    return {EAGLE_LLAMA_VERSION, EAGLE_LLAMA_SOURCE, EAGLE_LLAMA_PACKAGES};
}

} // namespace eagle::llama_backend
