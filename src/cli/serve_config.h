/* Configuration of the CLI commands: builds the td_config the library reads, from the table's
 * defaults, then --config FILE, then the environment (TAKEDOWN_*), then --NAME VALUE flags. */
#ifndef TD_CLI_SERVE_CONFIG_H
#define TD_CLI_SERVE_CONFIG_H

#include <stddef.h>

#include "takedown/config.h"

/* The configuration of a service command (serve): defaults, --config FILE, the environment,
 * then every --NAME VALUE pair (--listen, --data, any option of the table). On NULL *rc holds
 * the exit status (0 after --help / --options, 2 on a usage or configuration error, printed).
 * Arguments that are not options are refused. */
td_config *td__cli_config(int argc, char **argv, const char *command, const char *usage, int *rc);

/* Defaults overridden by the environment, for commands without configuration flags; NULL on
 * error (printed, prefixed "takedown COMMAND: "). */
td_config *td__cli_config_env(const char *command);

/* Splits "ADDR:PORT" or "[V6]:PORT"; host receives ADDR without brackets. */
int td__cli_parse_listen(const char *text, char *host, size_t cap, unsigned *port);

#endif
