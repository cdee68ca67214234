# eagle_set_warnings(target): the warning set every eagle target is built with.
function(eagle_set_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter)
    if(EAGLE_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
