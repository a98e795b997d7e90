/* takedown serve: placeholder until the service lands (issue 4). */
#include <stdio.h>

#include "cli/commands.h"

const char td_cli_serve_usage[] = "Usage: takedown serve [--config FILE] [--listen ADDR:PORT] "
                                  "[--data DIR]\n";

int td_cli_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("takedown serve: not available in this build\n", stderr);
    return 2;
}
