#include "eagle/version.h"
#include "eagle-build-info.h"

namespace eagle {

const char * version() { return EAGLE_VERSION; }

} // namespace eagle
