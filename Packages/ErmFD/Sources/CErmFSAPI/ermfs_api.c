// The C-only part of ERMFS's C API; the other functions are defined in Swift
// (@_cdecl in the ErmFDC module) and declared in ermfs.h.
#include "ermfs.h"

int ermfs_api_version(void) { return ERMFS_API_VERSION; }
