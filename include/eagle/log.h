// eagle/log.h - the library logs through one process-wide callback and never prints by itself.
//
// The default callback drops everything below warn and writes the rest to stderr; the CLI installs its own.
// llama.cpp's and libmtmd's own logs are routed through the same callback (level debug) by the llama backend.
// Thread safety: set_log_callback must not race with logging; logging itself may be called from any thread.
#pragma once

#include <string>

namespace eagle {

enum class log_level { debug, info, warn, error };

using log_callback = void (*)(log_level level, const char * text, void * user_data);

// install a callback (nullptr restores the default); user_data is passed back unchanged
void set_log_callback(log_callback callback, void * user_data);

void log(log_level level, const std::string & text);

} // namespace eagle
