/* The library version. */
#include "takedown/takedown.h"

const char *td_version(void) { return TD_VERSION; }
