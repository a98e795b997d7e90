/* The library's version. */
#ifndef TAKEDOWN_VERSION_H
#define TAKEDOWN_VERSION_H

#define TD_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string, e.g. "0.1.0". */
const char *td_version(void);

#ifdef __cplusplus
}
#endif

#endif
