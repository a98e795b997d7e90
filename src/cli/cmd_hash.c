/* takedown hash: hashes image and video files on N threads and prints the results in input
 * order; --url and --text give the URL and text signals. Videos are recognised by content. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/serve_config.h"
#include "cli/walk.h"
#include "core/alloc.h"
#include "takedown/takedown.h"
#include "takedown/text.h"
#include "takedown/url.h"
#include "takedown/video_hash.h"

const char td_cli_hash_usage[] =
    "Usage: takedown hash [OPTIONS] PATH...\n"
    "\n"
    "Hashes image files (JPEG, PNG, WebP, GIF first frame, BMP) and videos (any container and\n"
    "codec FFmpeg decodes, recognised by content); a directory is recursed.\n"
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
    "  --seconds-per-hash S  vPDQ: hash one frame every S seconds (default 1; 0: every frame)\n"
    "  --tmk-dir DIR     also compute TMK+PDQF and write DIR/<file name>.tmk\n"
    "  --url URL         the url and url_md5 signals of URL (canonical form; repeatable)\n"
    "  --text FILE       the raw_text signal of a UTF-8 text file (repeatable)\n"
    "\n"
    "Text output: 'pdq <hex> <quality> <path>' per image; per video 'video_md5 <hex> <path>',\n"
    "'video_sha256 <hex> <path>', one 'vpdq <frame>,<quality>,<hex>,<timestamp> <path>' per\n"
    "hashed frame and 'tmk <file> <path>'; 'url <canonical>' and 'url_md5 <hex>' per URL;\n"
    "'text <md5 of the normalised text> <code points> <path>' per text. JSON (--json) gives\n"
    "\"md5\", \"sha256\", \"vpdq\": [{\"frame\", \"quality\", \"pdq\", \"timestamp\"}...] and\n"
    "\"tmk\" for videos. Errors go to stderr.\n"
    "Exit status: 0 all files hashed, 1 some file failed, 2 usage error.\n";

enum output_format { OUT_TEXT, OUT_JSON, OUT_TE };

/* Results are produced by the workers into a ring of WINDOW slots and printed in order. */
#define WINDOW 256

struct slot {
    int done;
    td_status status;
    td_file_hashes hashes;
    td_error error;
    int is_video;
    td_video_hashes video; /* owned by the slot until printed */
    char *tmk_path;
};

struct job {
    const file_list *files;
    td_hash_options options;
    td_video_hash_options video;
    const char *tmk_dir;
    enum output_format format;
    struct slot slots[WINDOW];
    size_t next;    /* next file index to claim */
    size_t printed; /* files printed so far */
    pthread_mutex_t lock;
    pthread_cond_t changed;
};

static td_status save_tmk(const char *dir, const char *path, struct slot *s)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(dir) + strlen(base) + 8;
    s->tmk_path = td__malloc(len);
    if (!s->tmk_path)
        return TD_ERR_NOMEM;
    const char *dot = strrchr(base, '.');
    int stem = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(s->tmk_path, len, "%s/%.*s.tmk", dir, stem, base);
    return td_tmk_save(s->video.tmk, s->tmk_path, &s->error);
}

static void print_video_json(json_t *o, const struct slot *s)
{
    char hex[TD_PDQ_HEX_LEN + 1];
    const td_video_hashes *v = &s->video;
    json_object_set_new(o, "type", json_string("video"));
    json_object_set_new(o, "md5", json_string(v->md5));
    json_object_set_new(o, "sha256", json_string(v->sha256));
    json_object_set_new(o, "width", json_integer(v->info.width));
    json_object_set_new(o, "height", json_integer(v->info.height));
    json_object_set_new(o, "fps", json_real(v->info.fps));
    json_object_set_new(o, "frames", json_integer((json_int_t)v->frames));
    json_object_set_new(o, "codec", json_string(v->info.codec));
    json_t *list = json_array();
    for (size_t i = 0; i < v->vpdq.count; i++) {
        const td_vpdq_frame *f = &v->vpdq.frames[i];
        json_t *e = json_object();
        td_pdq_to_hex(&f->hash, hex);
        json_object_set_new(e, "frame", json_integer(f->frame));
        json_object_set_new(e, "quality", json_integer(f->quality));
        json_object_set_new(e, "pdq", json_string(hex));
        json_object_set_new(e, "timestamp", json_real(round(f->timestamp * 1000.0) / 1000.0));
        json_array_append_new(list, e);
    }
    json_object_set_new(o, "vpdq", list);
    if (s->tmk_path)
        json_object_set_new(o, "tmk", json_string(s->tmk_path));
}

static void print_video_text(const struct job *job, const char *path, const struct slot *s)
{
    const td_video_hashes *v = &s->video;
    char line[TD_VPDQ_LINE_MAX], hex[TD_PDQ_HEX_LEN + 1];
    if (job->format == OUT_TE) {
        /* python-threatexchange signals: video_md5, and vpdq as a JSON list of
         * "pdqhex,quality,timestamp" */
        printf("video_md5 %s\nvpdq [", v->md5);
        for (size_t i = 0; i < v->vpdq.count; i++) {
            td_pdq_to_hex(&v->vpdq.frames[i].hash, hex);
            printf("%s\"%s,%d,%.3f\"", i ? ", " : "", hex, v->vpdq.frames[i].quality,
                   v->vpdq.frames[i].timestamp);
        }
        printf("]\n");
        return;
    }
    printf("video_md5 %s %s\nvideo_sha256 %s %s\n", v->md5, path, v->sha256, path);
    for (size_t i = 0; i < v->vpdq.count; i++) {
        td_vpdq_format_line(&v->vpdq.frames[i], line);
        printf("vpdq %s %s\n", line, path);
    }
    if (s->tmk_path)
        printf("tmk %s %s\n", s->tmk_path, path);
}

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
        const char *path = job->files->paths[i];
        /* Images and videos alike, told apart by their first bytes. */
        td_media_hash_options mo = {job->options, job->video};
        td_media_hashes mh;
        result.status = td_hash_media_file(path, &mo, &mh, &result.error);
        result.is_video = mh.kind == TD_MEDIA_VIDEO;
        if (result.is_video)
            result.video = mh.video; /* the slot owns it until printed */
        else
            result.hashes = mh.image;
        if (result.status == TD_OK && result.is_video && job->tmk_dir)
            result.status = save_tmk(job->tmk_dir, path, &result);
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
    } else if (s->is_video) {
        print_video_json(o, s);
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
    size_t flags = JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12);
    char *text = json_dumps(o, flags);
    if (!text) {
        json_object_set_new(o, "path", json_string("(path is not valid UTF-8)"));
        text = json_dumps(o, flags);
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
    if (s->is_video) {
        print_video_text(job, path, s);
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

static void print_json_object(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (text)
        puts(text);
    free(text);
    json_decref(o);
}

/* --url: the canonical URL and its url_md5. */
static int hash_url(enum output_format format, const char *url)
{
    td_error err;
    char *canonical;
    char md5[TD_MD5_HEX_LEN + 1];
    if (td_url_canonicalize(url, strlen(url), &canonical, &err) != TD_OK ||
        td_url_md5(canonical, strlen(canonical), md5, &err) != TD_OK) {
        if (format == OUT_JSON) {
            json_t *o = json_object();
            json_object_set_new(o, "input", json_string(url));
            json_object_set_new(o, "error", json_string(err.message));
            print_json_object(o);
        } else {
            fflush(stdout);
            fprintf(stderr, "takedown: %s: %s\n", url, err.message);
        }
        return 1;
    }
    if (format == OUT_JSON) {
        json_t *o = json_object();
        json_object_set_new(o, "input", json_string(url));
        json_object_set_new(o, "url", json_string(canonical));
        json_object_set_new(o, "url_md5", json_string(md5));
        print_json_object(o);
    } else {
        printf("url %s\nurl_md5 %s\n", canonical, md5);
    }
    td_free(canonical);
    return 0;
}

/* --text: digests of the file and of its raw_text normalisation. */
static int hash_text(enum output_format format, const char *path)
{
    td_error err;
    uint8_t *data = NULL;
    size_t len, norm_len = 0;
    char *norm = NULL;
    char md5[TD_MD5_HEX_LEN + 1], sha[TD_SHA256_HEX_LEN + 1], norm_md5[TD_MD5_HEX_LEN + 1];
    td_status s = td_file_read(path, TD_TEXT_MAX_BYTES, &data, &len, &err);
    if (s == TD_OK)
        s = td_text_normalize((const char *)data, len, &norm, &norm_len, &err);
    if (s == TD_OK &&
        (td_md5_hex(data, len, md5) != TD_OK || td_sha256_hex(data, len, sha) != TD_OK ||
         td_md5_hex((const uint8_t *)norm, norm_len, norm_md5) != TD_OK)) {
        s = TD_ERR_INTERNAL;
        snprintf(err.message, sizeof err.message, "digest failed");
    }
    if (s != TD_OK) {
        fflush(stdout);
        fprintf(stderr, "takedown: %s: %s\n", path, err.message);
        td_free(data);
        return 1;
    }
    size_t points = 0;
    for (size_t i = 0; i < norm_len; i++)
        points += ((unsigned char)norm[i] & 0xc0) != 0x80;
    if (format == OUT_JSON) {
        json_t *o = json_object();
        json_object_set_new(o, "path", json_string(path));
        json_object_set_new(o, "type", json_string("text"));
        json_object_set_new(o, "md5", json_string(md5));
        json_object_set_new(o, "sha256", json_string(sha));
        json_object_set_new(o, "normalized", json_stringn(norm, norm_len));
        json_object_set_new(o, "normalized_md5", json_string(norm_md5));
        json_object_set_new(o, "length", json_integer((json_int_t)points));
        print_json_object(o);
    } else if (format == OUT_TE) {
        /* raw_text signal: the text on one line (line breaks become spaces) */
        fputs("raw_text ", stdout);
        for (size_t i = 0; i < len; i++)
            putchar(data[i] == '\n' || data[i] == '\r' ? ' ' : data[i]);
        putchar('\n');
    } else {
        printf("text %s %zu %s\n", norm_md5, points, path);
    }
    td_free(norm);
    td_free(data);
    return 0;
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
                                             {"seconds-per-hash", required_argument, NULL, 's'},
                                             {"tmk-dir", required_argument, NULL, 'T'},
                                             {"url", required_argument, NULL, 'U'},
                                             {"text", required_argument, NULL, 'X'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    static struct job job; /* large (the result ring): static rather than on the stack */
    int64_t jobs, max_bytes, max_pixels, video_bytes, video_seconds, video_frames;
    const char **urls = NULL, **texts = NULL;
    size_t n_urls = 0, n_texts = 0;
    td_error err;
    int c;

    memset(&job, 0, sizeof job);
    td_hash_options_default(&job.options);
    td_config *cfg = td__cli_config_env("hash");
    if (!cfg)
        return 2;
    if (td_config_int(cfg, "jobs", &jobs, &err) != TD_OK ||
        td_config_int(cfg, "max_file_bytes", &max_bytes, &err) != TD_OK ||
        td_config_int(cfg, "max_pixels", &max_pixels, &err) != TD_OK ||
        td_config_int(cfg, "video_max_bytes", &video_bytes, &err) != TD_OK ||
        td_config_int(cfg, "video_max_duration_s", &video_seconds, &err) != TD_OK ||
        td_config_int(cfg, "video_max_frames", &video_frames, &err) != TD_OK) {
        fprintf(stderr, "takedown hash: %s\n", err.message);
        td_config_free(cfg);
        return 2;
    }
    td_config_free(cfg);
    td_video_hash_options_default(&job.video);
    job.video.limits.max_file_bytes = (uint64_t)video_bytes;
    job.video.limits.max_duration = (double)video_seconds;
    job.video.limits.max_frames = (uint64_t)video_frames;
    urls = td__calloc((size_t)argc + 1, sizeof *urls);
    texts = td__calloc((size_t)argc + 1, sizeof *texts);
    if (!urls || !texts) {
        fprintf(stderr, "takedown hash: out of memory\n");
        td__free(urls);
        td__free(texts);
        return 1;
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
                goto usage_error;
            }
            break;
        case 'd': job.options.dihedral = 1; break;
        case 'f': job.options.fast = 1; break;
        case 'J':
            if (parse_option("jobs", optarg, &jobs))
                goto usage_error;
            break;
        case 'S':
            if (parse_option("max_file_bytes", optarg, &max_bytes))
                goto usage_error;
            break;
        case 'P':
            if (parse_option("max_pixels", optarg, &max_pixels))
                goto usage_error;
            break;
        case 's': {
            char *end;
            double v = strtod(optarg, &end);
            if (*optarg == '\0' || *end != '\0' || !(v >= 0 && v <= 86400)) {
                fprintf(stderr, "takedown hash: --seconds-per-hash wants 0..86400, not '%s'\n",
                        optarg);
                goto usage_error;
            }
            job.video.seconds_per_hash = v;
            break;
        }
        case 'T':
            job.tmk_dir = optarg;
            job.video.tmk = 1;
            break;
        case 'U': urls[n_urls++] = optarg; break;
        case 'X': texts[n_texts++] = optarg; break;
        case 'h':
            fputs(td_cli_hash_usage, stdout);
            td__free(urls);
            td__free(texts);
            return 0;
        default: fputs(td_cli_hash_usage, stderr); goto usage_error;
        }
    }
    if (optind >= argc && n_urls == 0 && n_texts == 0) {
        fputs(td_cli_hash_usage, stderr);
        goto usage_error;
    }
    int signal_failed = 0;
    for (size_t i = 0; i < n_urls; i++)
        signal_failed |= hash_url(job.format, urls[i]);
    for (size_t i = 0; i < n_texts; i++)
        signal_failed |= hash_text(job.format, texts[i]);
    td__free(urls);
    td__free(texts);
    if (optind >= argc) {
        fflush(stdout);
        return signal_failed ? 1 : 0;
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
        td_video_hashes_clear(&result.video);
        td__free(result.tmk_path);
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
    return failed || signal_failed ? 1 : 0;

usage_error:
    td__free(urls);
    td__free(texts);
    return 2;
}
