/* One table of configuration options (name, type, default, limits, help), shared by the
 * environment (TAKEDOWN_<NAME>), command-line flags and, later, the config file and the API.
 * Precedence: flag over environment over default. */
#ifndef TAKEDOWN_CONFIG_H
#define TAKEDOWN_CONFIG_H

#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct td_config_option {
    const char *name; /* e.g. "max_file_bytes"; environment TAKEDOWN_MAX_FILE_BYTES */
    int64_t min, max, def;
    const char *help;
} td_config_option;

/* The table, terminated by an entry whose name is NULL. */
const td_config_option *td_config_options(void);

/* Looks an option up by name (NULL if unknown). */
const td_config_option *td_config_find(const char *name);

/* Parses text as a value of opt: a decimal integer, optionally with a K, M or G suffix
 * (powers of 1024), within [min, max]. */
__attribute__((warn_unused_result)) td_status
td_config_parse(const td_config_option *opt, const char *text, int64_t *value, td_error *err);

/* The value from the environment, or the default; a malformed environment value is an error. */
__attribute__((warn_unused_result)) td_status td_config_get(const char *name, int64_t *value,
                                                            td_error *err);

#ifdef __cplusplus
}
#endif

#endif
