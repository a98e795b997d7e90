/* takedown key: placeholder until the service lands (issue 4). */
#include <stdio.h>

#include "cli/commands.h"

const char td_cli_key_usage[] = "Usage: takedown key create --data DIR --role ROLE\n";

int td_cli_key(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("takedown key: not available in this build\n", stderr);
    return 2;
}
