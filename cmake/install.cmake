# install(): the libraries, the public headers and a CMake package, so that another project can
#   find_package(eagle CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE eagle::eagle-core eagle::eagle-backends)
# The llama.cpp engine's static library is installed with the factory; a consumer of eagle-backends then
# also needs llama.cpp where find_package(llama) finds it.
include(CMakePackageConfigHelpers)

set(_eagle_install_targets eagle-core eagle-mock eagle-server eagle-openai eagle-backends eagle-shapes)
if(EAGLE_WITH_LLAMA)
    list(APPEND _eagle_install_targets eagle-llama)
endif()
install(TARGETS ${_eagle_install_targets} EXPORT eagle-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(EAGLE_WITH_LLAMA)
    # eagle::llama is an interface target of this build (cmake/llama.cmake); it is exported with the rest
    install(TARGETS eagle_llama EXPORT eagle-targets)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/eagle DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# the modules the core loads on first use (src/image/module-loader.h): where the installed library looks for them
install(TARGETS eagle-video eagle-codecs LIBRARY DESTINATION ${EAGLE_MODULE_INSTALL_DIR})
if(EAGLE_BUILD_CLI)
    install(TARGETS eagle RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(_eagle_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/eagle)
install(EXPORT eagle-targets NAMESPACE eagle:: DESTINATION ${_eagle_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/eagleConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/eagleConfig.cmake
                              INSTALL_DESTINATION ${_eagle_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/eagleConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/eagleConfig.cmake ${PROJECT_BINARY_DIR}/eagleConfigVersion.cmake
        DESTINATION ${_eagle_cmake_dir})
