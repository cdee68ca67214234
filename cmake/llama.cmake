# Finds llama.cpp (libllama, libmtmd, ggml) and defines eagle::llama.
#
# 1. EAGLE_LLAMA_PREFIX set (scripts/provision-llama.sh): Debian unstable's packages unpacked into a private
#    prefix together with unstable's glibc. Executables that link eagle::llama are linked with that prefix's
#    loader and an RPATH into it, so they run on bookworm without touching the system.
# 2. Otherwise a llama.cpp that find_package(llama) finds (Debian unstable/Ubuntu's libllama-dev, Homebrew,
#    a source install with CMAKE_PREFIX_PATH).
set(EAGLE_LLAMA_PREFIX "" CACHE PATH "private llama.cpp prefix made by scripts/provision-llama.sh")

if(EAGLE_LLAMA_PREFIX)
    set(_eagle_libdir "${EAGLE_LLAMA_PREFIX}/usr/lib/x86_64-linux-gnu")
    if(NOT EXISTS "${_eagle_libdir}/libllama.so")
        message(FATAL_ERROR "EAGLE_LLAMA_PREFIX='${EAGLE_LLAMA_PREFIX}' holds no libllama.so; run scripts/provision-llama.sh")
    endif()
    find_package(llama CONFIG REQUIRED PATHS "${_eagle_libdir}/cmake" NO_DEFAULT_PATH)
    find_library(EAGLE_MTMD_LIBRARY mtmd PATHS "${_eagle_libdir}" NO_DEFAULT_PATH REQUIRED)
    set(EAGLE_GGML_BACKEND_DIR "${_eagle_libdir}/ggml/backends0")
    set(_eagle_link_options
        -Wl,--allow-shlib-undefined -Wl,--disable-new-dtags
        -Wl,-rpath,${_eagle_libdir}
        -Wl,--dynamic-linker=${_eagle_libdir}/ld-linux-x86-64.so.2)
    # the stamp: "package version" per unpacked package, libllama0's first (scripts/provision-llama.sh)
    file(STRINGS "${EAGLE_LLAMA_PREFIX}/.eagle-provisioned" _eagle_prov REGEX "^[^#]")
    list(GET _eagle_prov 0 _eagle_prov_first)
    list(REMOVE_AT _eagle_prov 0)
    list(JOIN _eagle_prov ", " EAGLE_LLAMA_PACKAGES)
    set(EAGLE_LLAMA_SOURCE "${_eagle_prov_first} (private prefix)")
    # llama.cpp's tools from the same prefix (the server engine's tests start llama-server and ggml-rpc-server):
    # run through the prefix's loader and library path
    set(EAGLE_LLAMA_TOOLS_LOADER "${_eagle_libdir}/ld-linux-x86-64.so.2")
    set(EAGLE_LLAMA_TOOLS_LIBRARY_PATH "${_eagle_libdir}:${_eagle_libdir}/llama")
    find_program(EAGLE_LLAMA_SERVER llama-server PATHS "${EAGLE_LLAMA_PREFIX}/usr/bin" NO_DEFAULT_PATH)
    find_program(EAGLE_GGML_RPC_SERVER ggml-rpc-server PATHS "${EAGLE_LLAMA_PREFIX}/usr/libexec/x86_64-linux-gnu/llama/bin"
                 NO_DEFAULT_PATH)
else()
    find_package(llama CONFIG REQUIRED)
    get_target_property(_eagle_llama_loc llama IMPORTED_LOCATION)
    get_filename_component(_eagle_libdir "${_eagle_llama_loc}" DIRECTORY)
    find_library(EAGLE_MTMD_LIBRARY mtmd HINTS "${_eagle_libdir}" REQUIRED)
    set(EAGLE_GGML_BACKEND_DIR "")
    set(_eagle_link_options "")
    set(EAGLE_LLAMA_SOURCE "system")
    set(EAGLE_LLAMA_PACKAGES "")
    set(EAGLE_LLAMA_TOOLS_LOADER "")
    set(EAGLE_LLAMA_TOOLS_LIBRARY_PATH "")
    find_program(EAGLE_LLAMA_SERVER llama-server)
    find_program(EAGLE_GGML_RPC_SERVER NAMES ggml-rpc-server rpc-server)
endif()

# The llama.cpp eagle.cpp is tested with (Debian's 1:0.7.0+dfsg-2, build 11669): libmtmd's API moves between
# releases, so an older one fails here with its version named rather than later with a compiler error.
set(EAGLE_LLAMA_MIN_VERSION 0.7.0)
set(EAGLE_LLAMA_MIN_BUILD 11669)
if(LLAMA_VERSION VERSION_LESS EAGLE_LLAMA_MIN_VERSION OR
   (LLAMA_BUILD_NUMBER MATCHES "^[0-9]+$" AND LLAMA_BUILD_NUMBER LESS EAGLE_LLAMA_MIN_BUILD))
    message(FATAL_ERROR "eagle: llama.cpp ${LLAMA_VERSION} (build ${LLAMA_BUILD_NUMBER}) from ${EAGLE_LLAMA_SOURCE} is older "
                        "than ${EAGLE_LLAMA_MIN_VERSION} (build ${EAGLE_LLAMA_MIN_BUILD}), the version eagle.cpp is tested with; "
                        "run scripts/provision-llama.sh (cmake --preset default) or install a newer libllama-dev")
endif()

set(EAGLE_LLAMA_VERSION "${LLAMA_VERSION} (build ${LLAMA_BUILD_NUMBER}, ${LLAMA_BUILD_COMMIT})")
message(STATUS "eagle: llama.cpp ${EAGLE_LLAMA_VERSION} from ${EAGLE_LLAMA_SOURCE}")

add_library(eagle_llama INTERFACE)
add_library(eagle::llama ALIAS eagle_llama)
target_link_libraries(eagle_llama INTERFACE llama ${EAGLE_MTMD_LIBRARY})
target_link_options(eagle_llama INTERFACE ${_eagle_link_options})
