/* libtakedown: the umbrella header. */
#ifndef TAKEDOWN_H
#define TAKEDOWN_H

#define TD_VERSION "0.1.0"

#include "config.h"
#include "hash.h"
#include "index.h"
#include "media.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string, e.g. "0.1.0". */
const char *td_version(void);

#ifdef __cplusplus
}
#endif

#endif
