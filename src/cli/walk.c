/* Directory expansion for the CLI (see walk.h). */
#include "cli/walk.h"

#include "core/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DEPTH 64

static int push(file_list *list, const char *path)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        char **grown = td__realloc(list->paths, cap * sizeof *grown);
        if (!grown)
            return -1;
        list->paths = grown;
        list->cap = cap;
    }
    if (!(list->paths[list->count] = td__strdup(path)))
        return -1;
    list->count++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_dir(file_list *list, const char *dir, int depth)
{
    file_list names = {0};
    DIR *d;
    struct dirent *e;
    int rc = 0;
    if (depth > MAX_DEPTH) {
        fprintf(stderr, "takedown: %s: directories nested deeper than %d\n", dir, MAX_DEPTH);
        return -1;
    }
    if (!(d = opendir(dir))) {
        fprintf(stderr, "takedown: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && push(&names, e->d_name) != 0) {
            rc = -1;
            break;
        }
    closedir(d);
    if (rc == 0)
        qsort(names.paths, names.count, sizeof *names.paths, by_name);
    for (size_t i = 0; rc == 0 && i < names.count; i++) {
        size_t n = strlen(dir) + strlen(names.paths[i]) + 2;
        char *child = td__malloc(n);
        struct stat st;
        if (!child) {
            rc = -1;
            break;
        }
        snprintf(child, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", names.paths[i]);
        if (stat(child, &st) == 0 && S_ISDIR(st.st_mode))
            rc = add_dir(list, child, depth + 1);
        else if (stat(child, &st) == 0 && S_ISREG(st.st_mode))
            rc = push(list, child);
        td__free(child);
    }
    file_list_free(&names);
    return rc;
}

int file_list_add(file_list *list, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return add_dir(list, path, 0);
    /* Anything else (including a missing file) is hashed, so that its error is reported in the
     * output like any other failure. */
    return push(list, path);
}

void file_list_free(file_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        td__free(list->paths[i]);
    td__free(list->paths);
    memset(list, 0, sizeof *list);
}
