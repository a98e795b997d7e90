/* Expands command-line paths into a sorted list of regular files (directories are recursed). */
#ifndef TD_CLI_WALK_H
#define TD_CLI_WALK_H

#include <stddef.h>

typedef struct file_list {
    char **paths;
    size_t count, cap;
} file_list;

/* Appends path, or every regular file below it if it is a directory (entries sorted by name,
 * hidden entries skipped, at most 64 levels deep). Returns 0, or -1 with a message on stderr. */
int file_list_add(file_list *list, const char *path);
void file_list_free(file_list *list);

#endif
