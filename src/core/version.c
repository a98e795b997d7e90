/* The library version. */
#include "takedown/version.h"

const char *td_version(void) { return TD_VERSION; }
