#include "eagle/file.h"

#include "eagle/error.h"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace eagle {

std::string read_file(const std::string & path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw error(errc::io, "cannot read '" + path + "'");
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
        throw error(errc::io, "cannot read '" + path + "'");
    }
    return bytes;
}

void write_file_atomic(const std::string & path, const std::string & content) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(content.data(), std::streamsize(content.size()));
        out.close();
        if (!out) {
            throw error(errc::io, "cannot write '" + path + "'");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw error(errc::io, "cannot write '" + path + "'");
    }
}

} // namespace eagle
