/* One table of configuration options (name, type, default, limits, help), shared by the config
 * file, the environment (TAKEDOWN_<NAME>), command-line flags and the API.
 *
 * A td_config holds one value per option. The caller builds it explicitly, in order of
 * precedence: td_config_new (defaults), td_config_load_file, td_config_load_env, then
 * td_config_set per flag; each later source overrides the earlier ones. The library reads its
 * settings from a td_config handed to it (the *_options_from_config functions) and never reads
 * the environment itself. */
#ifndef TAKEDOWN_CONFIG_H
#define TAKEDOWN_CONFIG_H

#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum td_config_type {
    TD_CONFIG_INT,   /* decimal integer, optional K/M/G suffix, within [min, max] */
    TD_CONFIG_STRING /* non-empty text when set */
} td_config_type;

typedef struct td_config_option {
    const char *name; /* e.g. "max_file_bytes"; environment TAKEDOWN_MAX_FILE_BYTES */
    td_config_type type;
    int64_t min, max, def; /* TD_CONFIG_INT */
    const char *def_text;  /* TD_CONFIG_STRING: the default ("" for none) */
    const char *help;
} td_config_option;

/* The table, terminated by an entry whose name is NULL. */
const td_config_option *td_config_options(void);

/* Looks an option up by name (NULL if unknown); dashes in name count as underscores. */
const td_config_option *td_config_find(const char *name);

/* Parses text as a value of the integer option opt: a decimal integer, optionally with a K, M
 * or G suffix (powers of 1024), within [min, max]. */
__attribute__((warn_unused_result)) td_status
td_config_parse(const td_config_option *opt, const char *text, int64_t *value, td_error *err);

typedef struct td_config td_config;

/* A configuration holding every option's default. */
__attribute__((warn_unused_result)) td_status td_config_new(td_config **out, td_error *err);

/* Accepts NULL. */
void td_config_free(td_config *cfg);

/* Sets one option from text (name as in the table, dashes allowed). Errors: TD_ERR_NOT_FOUND
 * "unknown option 'NAME'"; TD_ERR_INVALID or TD_ERR_LIMIT for a malformed or out-of-range
 * integer (the message names the limits); TD_ERR_INVALID "'NAME' needs a value" for an empty
 * string. cfg is unchanged on error. */
__attribute__((warn_unused_result)) td_status td_config_set(td_config *cfg, const char *name,
                                                            const char *value, td_error *err);

/* Applies a file of 'name = value' lines ('#' comments, blank lines). Errors name the file and
 * line ("FILE line N: ..."); TD_ERR_IO when the file cannot be opened. */
__attribute__((warn_unused_result)) td_status td_config_load_file(td_config *cfg, const char *path,
                                                                  td_error *err);

/* Applies the TAKEDOWN_<NAME>=VALUE entries of env (a NULL-terminated array such as environ);
 * other entries, unknown names and empty string values are ignored. A malformed integer is an
 * error prefixed "environment TAKEDOWN_<NAME>: ". */
__attribute__((warn_unused_result)) td_status td_config_load_env(td_config *cfg, char *const *env,
                                                                 td_error *err);

/* The value of an integer option; cfg NULL gives the default. TD_ERR_NOT_FOUND for an unknown
 * name or one that is not an integer. */
__attribute__((warn_unused_result)) td_status td_config_int(const td_config *cfg, const char *name,
                                                            int64_t *value, td_error *err);

/* The value of a string option ("" when unset and without default); cfg NULL gives the
 * default; NULL for an unknown name. Valid until the option is set again or cfg is freed. */
const char *td_config_string(const td_config *cfg, const char *name);

#ifdef __cplusplus
}
#endif

#endif
