/* A `takedown serve` child for the benchmarks (see server.h). */
#include "support/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/bench.h"

#define MAX_ARGS 32

/* Reads the server's standard output until it closes (the server exited), then closes it: a
 * full pipe would block the server's next line. */
static void *drain(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b[4096];
    while (read(fd, b, sizeof b) > 0)
        ;
    close(fd);
    return NULL;
}

static void child(int out, const char *path, const char *dir, const char *const *args,
                  const char *const *env, const char *log_path)
{
    const char *argv[MAX_ARGS + 8];
    size_t n = 0;
    argv[n++] = path;
    argv[n++] = "serve";
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--data";
    argv[n++] = dir;
    for (size_t i = 0; args && args[i] && i < MAX_ARGS; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        char name[128];
        if (!eq || (size_t)(eq - env[i]) >= sizeof name)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
        setenv(name, eq + 1, 1);
    }
    if (log_path) {
        FILE *log = fopen(log_path, "w");
        if (log)
            dup2(fileno(log), 2);
    }
    dup2(out, 1);
    close(out);
    execv(path, (char *const *)argv);
    _exit(127);
}

int bench_server_start(bench_server *s, const char *path, const char *dir, const char *const *args,
                       const char *const *env, const char *log_path)
{
    int fds[2];
    memset(s, 0, sizeof *s);
    if (pipe(fds) != 0)
        return 0;
    s->pid = fork();
    if (s->pid < 0) {
        s->pid = 0;
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if (s->pid == 0) {
        close(fds[0]);
        child(fds[1], path, dir, args, env, log_path);
    }
    close(fds[1]);
    /* Byte by byte: a FILE buffer would keep lines the drain thread then never sees. */
    const char *k = "takedown: admin key (shown once): ", *l = "takedown: listening on ";
    char line[512];
    size_t n = 0;
    for (char ch; read(fds[0], &ch, 1) == 1;) {
        if (ch != '\n') {
            if (n + 1 < sizeof line)
                line[n++] = ch;
            continue;
        }
        line[n] = '\0';
        n = 0;
        if (strncmp(line, k, strlen(k)) == 0)
            snprintf(s->admin_key, sizeof s->admin_key, "%.127s", line + strlen(k));
        if (strncmp(line, l, strlen(l)) == 0) {
            snprintf(s->url, sizeof s->url, "%.100s", line + strlen(l));
            const char *colon = strrchr(s->url, ':');
            s->port = colon ? (int)strtol(colon + 1, NULL, 10) : 0;
            pthread_t t;
            if (pthread_create(&t, NULL, drain, (void *)(intptr_t)fds[0]) == 0)
                pthread_detach(t);
            else
                close(fds[0]);
            return 1;
        }
    }
    close(fds[0]);
    return 0;
}

int bench_server_stop(bench_server *s, double grace_s)
{
    int status, killed = 0;
    if (s->pid <= 0)
        return 0;
    kill(s->pid, SIGTERM);
    double until = bench_now() + grace_s;
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        if (bench_now() > until) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            killed = 1;
            break;
        }
        usleep(20000);
    }
    s->pid = 0;
    return killed;
}
