/* takedown hash: hashes image files on N threads and prints the results in input order. */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/walk.h"
#include "core/alloc.h"
#include "takedown/takedown.h"

const char td_cli_hash_usage[] =
    "Usage: takedown hash [OPTIONS] PATH...\n"
    "\n"
    "Hashes image files (JPEG, PNG, WebP, GIF first frame, BMP); a directory is recursed.\n"
    "\n"
    "  --json            one JSON object per file: path, pdq, quality, md5, sha256, width,\n"
    "                    height, format (and pdq_dihedral with --dihedral); a file that\n"
    "                    fails gives {\"path\": ..., \"error\": ...}\n"
    "  --format te       python-threatexchange list format: 'pdq <hex>' per file\n"
    "  --dihedral        also the 8 dihedral variants (original, rot90, rot180, rot270,\n"
    "                    flipx, flipy, flipplus1, flipminus1); text output adds one line\n"
    "                    'pdq:<variant> <hex> <quality> <path>' per variant\n"
    "  --fast            decode JPEGs at reduced scale (approximate hash, several times faster)\n"
    "  --jobs N          worker threads (default: one per core; TAKEDOWN_JOBS)\n"
    "  --max-file-size B refuse larger files (default 64M; TAKEDOWN_MAX_FILE_BYTES)\n"
    "  --max-pixels N    refuse larger images (default 100000000; TAKEDOWN_MAX_PIXELS)\n"
    "\n"
    "Text output: 'pdq <hex> <quality> <path>' per file; errors go to stderr.\n"
    "Exit status: 0 all files hashed, 1 some file failed, 2 usage error.\n";

enum output_format { OUT_TEXT, OUT_JSON, OUT_TE };

/* Results are produced by the workers into a ring of WINDOW slots and printed in order. */
#define WINDOW 256

struct slot {
    int done;
    td_status status;
    td_file_hashes hashes;
    td_error error;
};

struct job {
    const file_list *files;
    td_hash_options options;
    enum output_format format;
    struct slot slots[WINDOW];
    size_t next;    /* next file index to claim */
    size_t printed; /* files printed so far */
    pthread_mutex_t lock;
    pthread_cond_t changed;
};

static void *worker(void *arg)
{
    struct job *job = arg;
    for (;;) {
        pthread_mutex_lock(&job->lock);
        while (job->next < job->files->count && job->next >= job->printed + WINDOW)
            pthread_cond_wait(&job->changed, &job->lock);
        if (job->next >= job->files->count) {
            pthread_mutex_unlock(&job->lock);
            return NULL;
        }
        size_t i = job->next++;
        pthread_mutex_unlock(&job->lock);

        struct slot result = {0};
        result.status =
            td_hash_file(job->files->paths[i], &job->options, &result.hashes, &result.error);
        result.done = 1;

        pthread_mutex_lock(&job->lock);
        job->slots[i % WINDOW] = result;
        pthread_cond_broadcast(&job->changed);
        pthread_mutex_unlock(&job->lock);
    }
}

static void print_json(const char *path, const struct slot *s)
{
    char hex[TD_PDQ_HEX_LEN + 1];
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(path));
    if (s->status != TD_OK) {
        json_object_set_new(o, "error", json_string(s->error.message));
    } else {
        const td_file_hashes *h = &s->hashes;
        td_pdq_to_hex(&h->pdq[0], hex);
        json_object_set_new(o, "pdq", json_string(hex));
        json_object_set_new(o, "quality", json_integer(h->quality));
        json_object_set_new(o, "md5", json_string(h->md5));
        json_object_set_new(o, "sha256", json_string(h->sha256));
        json_object_set_new(o, "width", json_integer(h->width));
        json_object_set_new(o, "height", json_integer(h->height));
        json_object_set_new(o, "format", json_string(td_image_format_name(h->format)));
        if (h->n_pdq == TD_DIH_COUNT) {
            json_t *list = json_array();
            for (int v = 0; v < TD_DIH_COUNT; v++) {
                td_pdq_to_hex(&h->pdq[v], hex);
                json_array_append_new(list, json_string(hex));
            }
            json_object_set_new(o, "pdq_dihedral", list);
        }
    }
    /* Paths are not always UTF-8: jansson refuses those, so fall back to a lossy copy. */
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!text) {
        json_object_set_new(o, "path", json_string("(path is not valid UTF-8)"));
        text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    }
    if (text)
        puts(text);
    free(text);
    json_decref(o);
}

static void print_result(const struct job *job, const char *path, const struct slot *s)
{
    char hex[TD_PDQ_HEX_LEN + 1];
    if (job->format == OUT_JSON) {
        print_json(path, s);
        return;
    }
    if (s->status != TD_OK) {
        fflush(stdout);
        fprintf(stderr, "takedown: %s\n", s->error.message);
        return;
    }
    const td_file_hashes *h = &s->hashes;
    td_pdq_to_hex(&h->pdq[0], hex);
    if (job->format == OUT_TE) {
        printf("pdq %s\n", hex);
        return;
    }
    printf("pdq %s %d %s\n", hex, h->quality, path);
    for (int v = 1; v < h->n_pdq; v++) {
        td_pdq_to_hex(&h->pdq[v], hex);
        printf("pdq:%s %s %d %s\n", td_dihedral_name((td_dihedral)v), hex, h->quality, path);
    }
}

static int parse_option(const char *name, const char *text, int64_t *value)
{
    td_error err;
    if (td_config_parse(td_config_find(name), text, value, &err) != TD_OK) {
        fprintf(stderr, "takedown hash: %s\n", err.message);
        return -1;
    }
    return 0;
}

int td_cli_hash(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"format", required_argument, NULL, 'F'},
                                             {"dihedral", no_argument, NULL, 'd'},
                                             {"fast", no_argument, NULL, 'f'},
                                             {"jobs", required_argument, NULL, 'J'},
                                             {"max-file-size", required_argument, NULL, 'S'},
                                             {"max-pixels", required_argument, NULL, 'P'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    static struct job job; /* large (the result ring): static rather than on the stack */
    int64_t jobs, max_bytes, max_pixels;
    td_error err;
    int c;

    memset(&job, 0, sizeof job);
    td_hash_options_default(&job.options);
    if (td_config_get("jobs", &jobs, &err) != TD_OK ||
        td_config_get("max_file_bytes", &max_bytes, &err) != TD_OK ||
        td_config_get("max_pixels", &max_pixels, &err) != TD_OK) {
        fprintf(stderr, "takedown hash: %s\n", err.message);
        return 2;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': job.format = OUT_JSON; break;
        case 'F':
            if (strcmp(optarg, "te") == 0) {
                job.format = OUT_TE;
            } else if (strcmp(optarg, "json") == 0) {
                job.format = OUT_JSON;
            } else if (strcmp(optarg, "text") == 0) {
                job.format = OUT_TEXT;
            } else {
                fprintf(stderr, "takedown hash: unknown format '%s' (text, json, te)\n", optarg);
                return 2;
            }
            break;
        case 'd': job.options.dihedral = 1; break;
        case 'f': job.options.fast = 1; break;
        case 'J':
            if (parse_option("jobs", optarg, &jobs))
                return 2;
            break;
        case 'S':
            if (parse_option("max_file_bytes", optarg, &max_bytes))
                return 2;
            break;
        case 'P':
            if (parse_option("max_pixels", optarg, &max_pixels))
                return 2;
            break;
        case 'h': fputs(td_cli_hash_usage, stdout); return 0;
        default: fputs(td_cli_hash_usage, stderr); return 2;
        }
    }
    if (optind >= argc) {
        fputs(td_cli_hash_usage, stderr);
        return 2;
    }
    job.options.decode.max_file_bytes = (uint64_t)max_bytes;
    job.options.decode.max_pixels = (uint64_t)max_pixels;
    if (jobs == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = cores > 0 ? cores : 1;
    }

    file_list files = {0};
    for (int i = optind; i < argc; i++) {
        if (file_list_add(&files, argv[i]) != 0) {
            file_list_free(&files);
            return 1;
        }
    }
    job.files = &files;
    pthread_mutex_init(&job.lock, NULL);
    pthread_cond_init(&job.changed, NULL);

    size_t n_threads = (size_t)jobs < files.count ? (size_t)jobs : files.count;
    pthread_t *threads = td__mallocarray(n_threads ? n_threads : 1, sizeof *threads);
    size_t started = 0;
    while (threads && started < n_threads &&
           pthread_create(&threads[started], NULL, worker, &job) == 0)
        started++;
    if (started == 0 && files.count > 0) {
        fprintf(stderr, "takedown hash: cannot start worker threads\n");
        td__free(threads);
        file_list_free(&files);
        return 1;
    }

    int failed = 0;
    pthread_mutex_lock(&job.lock);
    while (job.printed < files.count) {
        struct slot *s = &job.slots[job.printed % WINDOW];
        while (!s->done)
            pthread_cond_wait(&job.changed, &job.lock);
        struct slot result = *s;
        s->done = 0;
        size_t index = job.printed++;
        pthread_cond_broadcast(&job.changed);
        pthread_mutex_unlock(&job.lock);
        failed |= result.status != TD_OK;
        print_result(&job, files.paths[index], &result);
        pthread_mutex_lock(&job.lock);
    }
    pthread_mutex_unlock(&job.lock);

    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    td__free(threads);
    pthread_mutex_destroy(&job.lock);
    pthread_cond_destroy(&job.changed);
    file_list_free(&files);
    fflush(stdout);
    return failed ? 1 : 0;
}
