/* takedown audit: verify the tamper-evident log of a data directory, sign checkpoints, produce
 * inclusion and consistency proofs as JSON, and check a proof offline with only the log's public
 * key (what an external auditor runs). All the work is in libtakedown (include/takedown/audit.h).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/serve_config.h"
#include "core/hex.h"
#include "takedown/audit.h"
#include "takedown/media.h"
#include "takedown/store.h"

/* Declared in cli/commands.h once the command is registered there; repeated here so that this
 * file builds (with -Wmissing-prototypes) before and after. */
int td_cli_audit(int argc, char **argv);
extern const char td_cli_audit_usage[];

const char td_cli_audit_usage[] =
    "Usage: takedown audit verify --data DIR\n"
    "       takedown audit verify --export FILE --pubkey HEX\n"
    "       takedown audit export --data DIR -o FILE\n"
    "       takedown audit checkpoint --data DIR\n"
    "       takedown audit pubkey --data DIR\n"
    "       takedown audit prove --data DIR --seq N [--size M]\n"
    "       takedown audit consistency --data DIR --from N --to M\n"
    "       takedown audit check-proof FILE --pubkey HEX\n"
    "\n"
    "verify       recompute every entry, tree node and signed checkpoint of the log in\n"
    "             DIR/takedown.db; exit 1 and name the first altered entry if any\n"
    "verify --export  check an export offline with the log's public key only: every entry,\n"
    "             the tree, every checkpoint's root and signature; exit 1 and name the first\n"
    "             problem (an edited entry, a forged checkpoint, lines missing or added)\n"
    "export       write the whole log and its signed checkpoints as JSON lines to FILE ('-':\n"
    "             stdout), with a checkpoint of the whole log signed now (docs/audit.md)\n"
    "checkpoint   sign a checkpoint of the whole log now and print it (JSON)\n"
    "pubkey       print the log's Ed25519 public key (hex) for auditors\n"
    "prove        inclusion proof of entry N in the tree of M entries (default: all), with the\n"
    "             entry and a signed checkpoint of size M (JSON)\n"
    "consistency  proof that the tree of N entries is a prefix of the tree of M, with signed\n"
    "             checkpoints of both sizes (JSON)\n"
    "check-proof  verify a JSON document from prove, consistency or checkpoint offline against\n"
    "             the public key; exit 0 when it holds, 1 when it does not\n";

typedef struct opts {
    const char *data, *pubkey, *file, *export_file, *output;
    uint64_t seq, size, from, to;
    int has_seq, has_size, has_from, has_to;
} opts;

static int parse_u64(const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-') {
        fprintf(stderr, "takedown audit: %s needs a non-negative number\n", flag);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) {
        fprintf(stderr, "takedown audit: %s: '%s' is not a number\n", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--data") == 0 && v) {
            o->data = v;
        } else if (strcmp(a, "--pubkey") == 0 && v) {
            o->pubkey = v;
        } else if (strcmp(a, "--export") == 0 && v) {
            o->export_file = v;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && v) {
            o->output = v;
        } else if (strcmp(a, "--seq") == 0) {
            if (parse_u64(a, v, &o->seq))
                return -1;
            o->has_seq = 1;
        } else if (strcmp(a, "--size") == 0) {
            if (parse_u64(a, v, &o->size))
                return -1;
            o->has_size = 1;
        } else if (strcmp(a, "--from") == 0) {
            if (parse_u64(a, v, &o->from))
                return -1;
            o->has_from = 1;
        } else if (strcmp(a, "--to") == 0) {
            if (parse_u64(a, v, &o->to))
                return -1;
            o->has_to = 1;
        } else if (a[0] != '-' && !o->file) {
            o->file = a;
            continue;
        } else {
            fprintf(stderr, "takedown audit: unknown or incomplete option '%s'\n", a);
            return -1;
        }
        i++;
    }
    return 0;
}

typedef struct session {
    td_store *store;
    td_audit *log;
} session;

static int open_log(const char *data, session *s)
{
    td_error err;
    char path[4096];
    struct stat sb;
    memset(s, 0, sizeof *s);
    if (!data) {
        fputs("takedown audit: --data DIR is required\n", stderr);
        return -1;
    }
    snprintf(path, sizeof path, "%s/takedown.db", data);
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "takedown audit: %s: %s\n", path, strerror(errno));
        return -1;
    }
    td_audit_options ao;
    td_store_options so;
    td_store_options_default(&so);
    so.readers = 1;
    td_status st = td_store_open(path, &so, &s->store, &err);
    if (st == TD_OK) {
        td_config *cfg = td__cli_config_env("audit");
        if (!cfg) {
            td_store_close(s->store);
            return -1;
        }
        st = td_audit_options_from_config(&ao, cfg, &err);
        td_config_free(cfg);
    }
    if (st == TD_OK)
        st = td_audit_open(s->store, data, &ao, &s->log, &err);
    if (st) {
        fprintf(stderr, "takedown audit: %s\n", err.message);
        td_store_close(s->store);
        return -1;
    }
    return 0;
}

static void close_log(session *s)
{
    td_audit_close(s->log);
    td_store_close(s->store);
}

static int print_doc(const td_audit_doc *doc)
{
    char *text;
    size_t len;
    td_error err;
    if (td_audit_doc_format(doc, &text, &len, &err) != TD_OK) {
        fprintf(stderr, "takedown audit: %s\n", err.message);
        return 1;
    }
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    td_free(text);
    return 0;
}

static int unhex32(const char *s, uint8_t out[32]);
static int cmd_verify_export(const opts *o);

static int cmd_verify(const opts *o)
{
    if (o->export_file)
        return cmd_verify_export(o);
    session s;
    td_audit_report rep;
    td_error err;
    if (open_log(o->data, &s))
        return 2;
    td_status st = td_audit_verify_log(s.log, &rep, &err);
    close_log(&s);
    if (st) {
        fprintf(stderr, "takedown audit verify: %s\n", err.message);
        return 2;
    }
    printf("{\"ok\":%s,\"entries\":%llu,\"checkpoints\":%llu,\"unsigned_entries\":%llu",
           rep.ok ? "true" : "false", (unsigned long long)rep.entries,
           (unsigned long long)rep.checkpoints, (unsigned long long)rep.uncovered);
    if (!rep.ok) {
        /* The problem text is ours and plain ASCII without quotes. */
        printf(",\"first_bad_seq\":%lld,\"problem\":\"%s\"", (long long)rep.first_bad_seq,
               rep.problem);
        fprintf(stderr, "takedown audit verify: TAMPERED: %s\n", rep.problem);
    }
    printf("}\n");
    return rep.ok ? 0 : 1;
}

static int cmd_checkpoint(const opts *o)
{
    session s;
    td_error err;
    td_audit_doc doc = {.type = TD_AUDIT_DOC_CHECKPOINT};
    if (open_log(o->data, &s))
        return 2;
    td_status st = td_audit_sign_checkpoint(s.log, &doc.checkpoint, &err);
    close_log(&s);
    if (st) {
        fprintf(stderr, "takedown audit checkpoint: %s\n", err.message);
        return 2;
    }
    return print_doc(&doc) ? 2 : 0;
}

static int cmd_pubkey(const opts *o)
{
    session s;
    uint8_t pub[TD_AUDIT_PUBKEY_LEN];
    if (open_log(o->data, &s))
        return 2;
    td_audit_public_key(s.log, pub);
    close_log(&s);
    char hex[2 * TD_AUDIT_PUBKEY_LEN + 1];
    td__hex_encode(pub, sizeof pub, hex);
    printf("%s\n", hex);
    return 0;
}

static int cmd_prove(const opts *o)
{
    session s;
    td_error err;
    td_audit_doc doc = {.type = TD_AUDIT_DOC_INCLUSION};
    uint64_t size = o->size;
    int rc = 2;
    if (!o->has_seq) {
        fputs("takedown audit prove: --seq N is required\n", stderr);
        return 2;
    }
    if (open_log(o->data, &s))
        return 2;
    td_status st = o->has_size ? TD_OK : td_audit_size(s.log, &size, &err);
    if (st == TD_OK &&
        (st = td_audit_checkpoint_for_size(s.log, size, &doc.checkpoint, &err)) == TD_OK &&
        (st = td_audit_prove_inclusion(s.log, o->seq, size, &doc.proof, &err)) == TD_OK &&
        (st = td_audit_get_canonical(s.log, o->seq, &doc.entry, &doc.entry_len, &err)) == TD_OK) {
        td_audit_leaf_hash(doc.entry, doc.entry_len, doc.leaf_hash);
        rc = print_doc(&doc) ? 2 : 0;
    }
    if (st)
        fprintf(stderr, "takedown audit prove: %s\n", err.message);
    td_audit_doc_clear(&doc);
    close_log(&s);
    return rc;
}

static int cmd_consistency(const opts *o)
{
    session s;
    td_error err;
    td_audit_doc doc = {.type = TD_AUDIT_DOC_CONSISTENCY};
    int rc = 2;
    if (!o->has_from || !o->has_to) {
        fputs("takedown audit consistency: --from N and --to M are required\n", stderr);
        return 2;
    }
    if (open_log(o->data, &s))
        return 2;
    td_status st;
    if ((st = td_audit_checkpoint_for_size(s.log, o->from, &doc.first, &err)) == TD_OK &&
        (st = td_audit_checkpoint_for_size(s.log, o->to, &doc.checkpoint, &err)) == TD_OK &&
        (st = td_audit_prove_consistency(s.log, o->from, o->to, &doc.proof, &err)) == TD_OK)
        rc = print_doc(&doc) ? 2 : 0;
    if (st)
        fprintf(stderr, "takedown audit consistency: %s\n", err.message);
    close_log(&s);
    return rc;
}

static int unhex32(const char *s, uint8_t out[32])
{
    return s ? td__hex_decode_exact(s, strlen(s), out, 32) : -1;
}

static int cmd_check_proof(const opts *o)
{
    uint8_t pub[TD_AUDIT_PUBKEY_LEN];
    td_error err;
    td_audit_doc doc;
    if (!o->file || unhex32(o->pubkey, pub)) {
        fputs("takedown audit check-proof: FILE and --pubkey HEX (64 digits) are required\n",
              stderr);
        return 2;
    }
    uint8_t *buf;
    size_t len;
    td_status st = td_file_read(o->file, TD_AUDIT_MAX_DOC, &buf, &len, &err);
    if (st) {
        fprintf(stderr, "takedown audit check-proof: %s\n", err.message);
        return 2;
    }
    st = td_audit_doc_parse((const char *)buf, len, &doc, &err);
    td_free(buf);
    if (st) {
        fprintf(stderr, "takedown audit check-proof: %s\n", err.message);
        return 2;
    }
    st = td_audit_doc_verify(&doc, pub, &err);
    if (st == TD_OK) {
        if (doc.type == TD_AUDIT_DOC_INCLUSION)
            printf("ok: entry %llu is in the signed log of %llu entries\n",
                   (unsigned long long)doc.proof.index, (unsigned long long)doc.proof.size);
        else if (doc.type == TD_AUDIT_DOC_CONSISTENCY)
            printf("ok: the log of %llu entries extends the log of %llu entries\n",
                   (unsigned long long)doc.proof.size, (unsigned long long)doc.proof.index);
        else
            printf("ok: checkpoint of %llu entries signed by this key\n",
                   (unsigned long long)doc.checkpoint.size);
    } else {
        fprintf(stderr, "takedown audit check-proof: FAILED: %s\n", err.message);
    }
    td_audit_doc_clear(&doc);
    return st == TD_OK ? 0 : 1;
}

static void print_report(const td_audit_report *rep)
{
    json_t *j = json_pack("{s:b, s:I, s:I, s:I}", "ok", rep->ok, "entries",
                          (json_int_t)rep->entries, "checkpoints", (json_int_t)rep->checkpoints,
                          "unsigned_entries", (json_int_t)rep->uncovered);
    if (j && !rep->ok) {
        json_object_set_new(j, "first_bad_seq", json_integer(rep->first_bad_seq));
        json_object_set_new(j, "problem", json_string(rep->problem));
    }
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (text)
        puts(text);
    free(text);
}

/* Offline: the export file and the public key, nothing else. */
static int cmd_verify_export(const opts *o)
{
    uint8_t pub[TD_AUDIT_PUBKEY_LEN];
    td_error err;
    if (unhex32(o->pubkey, pub)) {
        fputs("takedown audit verify: --export FILE needs --pubkey HEX (64 digits)\n", stderr);
        return 2;
    }
    FILE *in = strcmp(o->export_file, "-") == 0 ? stdin : fopen(o->export_file, "r");
    if (!in) {
        fprintf(stderr, "takedown audit verify: %s: %s\n", o->export_file, strerror(errno));
        return 2;
    }
    td_audit_export_check *x = NULL;
    td_status st = td_audit_export_check_new(pub, &x, &err);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (st == TD_OK && (n = getline(&line, &cap, in)) >= 0) {
        if (n && line[n - 1] == '\n')
            n--;
        st = td_audit_export_check_line(x, line, (size_t)n, &err);
    }
    int read_error = ferror(in);
    free(line);
    if (in != stdin)
        fclose(in);
    if (st || read_error) {
        fprintf(stderr, "takedown audit verify: %s\n", st ? err.message : "cannot read the export");
        td_audit_export_check_free(x);
        return 2;
    }
    td_audit_report rep;
    td_audit_export_check_finish(x, &rep);
    td_audit_export_check_free(x);
    print_report(&rep);
    if (!rep.ok)
        fprintf(stderr, "takedown audit verify: TAMPERED: %s\n", rep.problem);
    return rep.ok ? 0 : 1;
}

static int write_line(void *ctx, const char *line, size_t len)
{
    FILE *out = ctx;
    return fwrite(line, 1, len, out) != len || fputc('\n', out) == EOF;
}

static int cmd_export(const opts *o)
{
    session s;
    td_error err;
    uint64_t entries = 0, checkpoints = 0;
    if (!o->output) {
        fputs("takedown audit export: -o FILE is required ('-' for stdout)\n", stderr);
        return 2;
    }
    if (open_log(o->data, &s))
        return 2;
    int to_stdout = strcmp(o->output, "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(o->output, "w");
    if (!out) {
        fprintf(stderr, "takedown audit export: %s: %s\n", o->output, strerror(errno));
        close_log(&s);
        return 2;
    }
    td_status st = td_audit_export(s.log, write_line, out, &entries, &checkpoints, &err);
    close_log(&s);
    int bad = fflush(out) != 0 || ferror(out);
    if (!to_stdout)
        bad |= fclose(out) != 0;
    if (st || bad) {
        fprintf(stderr, "takedown audit export: %s\n",
                st ? err.message : "cannot write the export");
        return 2;
    }
    fprintf(stderr, "takedown audit export: %llu entries, %llu checkpoints\n",
            (unsigned long long)entries, (unsigned long long)checkpoints);
    return 0;
}

int td_cli_audit(int argc, char **argv)
{
    opts o;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(td_cli_audit_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (parse_args(argc, argv, &o))
        return 2;
    const char *sub = argv[1];
    if (strcmp(sub, "verify") == 0)
        return cmd_verify(&o);
    if (strcmp(sub, "export") == 0)
        return cmd_export(&o);
    if (strcmp(sub, "checkpoint") == 0)
        return cmd_checkpoint(&o);
    if (strcmp(sub, "pubkey") == 0)
        return cmd_pubkey(&o);
    if (strcmp(sub, "prove") == 0)
        return cmd_prove(&o);
    if (strcmp(sub, "consistency") == 0)
        return cmd_consistency(&o);
    if (strcmp(sub, "check-proof") == 0)
        return cmd_check_proof(&o);
    fprintf(stderr, "takedown audit: unknown subcommand '%s'\n%s", sub, td_cli_audit_usage);
    return 2;
}
