/* libtakedown: the umbrella header. */
#ifndef TAKEDOWN_H
#define TAKEDOWN_H

#define TD_VERSION "0.1.0"

#include "audit.h"
#include "casework.h"
#include "clock.h"
#include "config.h"
#include "evidence.h"
#include "hash.h"
#include "index.h"
#include "media.h"
#include "server.h"
#include "status.h"
#include "store.h"
#include "text.h"
#include "url.h"
#include "video.h"
#include "video_hash.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string, e.g. "0.1.0". */
const char *td_version(void);

#ifdef __cplusplus
}
#endif

#endif
