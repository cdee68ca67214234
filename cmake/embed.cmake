# Embeds a file in C++ as `inline constexpr char NAME[]` (NUL-terminated), as llama.cpp embeds its web UI
# (scripts/xxd.cmake): the report's CSS and JavaScript stay real files that editors and linters read.
# Usage: cmake -DINPUT=file -DOUTPUT=header.h -DNAME=symbol -P cmake/embed.cmake
file(READ "${INPUT}" _hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," _chars "${_hex}")
file(WRITE "${OUTPUT}.tmp" "// generated from ${INPUT} by cmake/embed.cmake; do not edit\n#pragma once\n\ninline constexpr char ${NAME}[] = {${_chars}'\\0'};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
