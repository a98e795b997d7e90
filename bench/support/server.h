/* A `takedown serve` child for the benchmarks that measure the real server: started on
 * 127.0.0.1:0, its URL and (on a fresh data folder) its admin key read from what it prints, the
 * rest of its output drained, and stopped with SIGTERM (SIGKILL after a grace period). */
#ifndef TD_BENCH_SERVER_H
#define TD_BENCH_SERVER_H

#include <sys/types.h>

typedef struct bench_server {
    pid_t pid;           /* 0 when not running */
    char url[128];       /* "http://127.0.0.1:PORT" */
    int port;            /* PORT of url */
    char admin_key[128]; /* "" unless the server created its admin key at this start */
} bench_server;

/* Starts `path serve --listen 127.0.0.1:0 --data dir` followed by the words of args (NULL ends
 * the list; args itself may be NULL), with the "NAME=value" entries of env (likewise) set in the
 * child's environment. The child's standard error goes to log_path, or stays this program's when
 * log_path is NULL. Returns 1 once the server says where it listens (its output is then read by a
 * detached thread until it exits), 0 if it ended or could not be started before that. */
int bench_server_start(bench_server *s, const char *path, const char *dir, const char *const *args,
                       const char *const *env, const char *log_path);

/* Sends SIGTERM and waits for the server to finish what is in flight; one that has not exited
 * after grace_s seconds is killed. Returns 1 if it had to be killed, 0 otherwise (also when it
 * was not running). */
int bench_server_stop(bench_server *s, double grace_s);

#endif
