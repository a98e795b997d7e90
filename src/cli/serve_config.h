/* Configuration of the service commands (serve, key): config file, flags and the string
 * options (listen, data, fetch_allow) that the integer table of src/core/config.c cannot hold. */
#ifndef TD_CLI_SERVE_CONFIG_H
#define TD_CLI_SERVE_CONFIG_H

#include <stddef.h>

/* Applies --config FILE (environment entries not already set), then --listen, --data and
 * --NAME VALUE flags (overwriting), all as TAKEDOWN_* environment variables. Returns -1 to go
 * on, or an exit status (0 after --help / --options, 2 on a usage error, printed). Arguments
 * that are not options are refused. */
int td__cli_apply_config(int argc, char **argv, const char *command, const char *usage);

/* The value of a string option ("listen", "data", "fetch_allow"): environment, else its
 * default. */
const char *td__cli_config_string(const char *name);

/* Splits "ADDR:PORT" or "[V6]:PORT"; host receives ADDR without brackets. */
int td__cli_parse_listen(const char *text, char *host, size_t cap, unsigned *port);

#endif
