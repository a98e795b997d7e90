/* A client for the HTTP API tests: the real `takedown serve` (TD_CLI_PATH) as a child process on
 * a loopback port, and libcurl requests against it. Every failure fails the running cmocka test. */
#ifndef TD_TEST_API_CLIENT_H
#define TD_TEST_API_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A running `takedown serve`. */
typedef struct api_server {
    pid_t pid;       /* 0 when not running */
    int out_fd;      /* the read end of its stdout */
    char base[128];  /* "http://127.0.0.1:PORT" */
    char admin[128]; /* the admin key when this start printed one, else "" */
    char hma[128];   /* the HMA listener's "http://127.0.0.1:PORT" (hma_listen), else "" */
} api_server;

/* A group set-up's common part: libsodium and libcurl initialised, dir (cap bytes) set to the
 * test temporary folder's `name`, emptied. Returns 0, or -1 on failure. */
int api_group_init(char *dir, size_t cap, const char *name);

/* Starts `takedown serve --listen 127.0.0.1:0 --data dir` followed by the NULL-terminated flags
 * (flags may be NULL) and waits up to 30 s for the address it listens on. */
void api_server_start(api_server *srv, const char *dir, const char *const *flags);

/* SIGTERM, then the exit status must be 0 within 20 s. */
void api_server_stop(api_server *srv);

/* A response: status (a negated CURLcode when the transfer failed), the body (NUL-terminated,
 * NULL when empty) and its Content-Type. */
typedef struct api_resp {
    long status;
    char *body;
    size_t len;
    char ctype[128];
} api_resp;

/* One request. */
typedef struct api_request {
    const char *method;
    const char *path;
    const char *key;   /* the bearer key, or NULL */
    const char *ctype; /* the Content-Type, or NULL */
    const void *body;  /* or NULL */
    long len;          /* < 0: strlen(body) */
    int chunked;       /* send the body with chunked encoding */
    const char *extra; /* one more header line, or NULL */
} api_request;

/* Sends rq; returns out->status. Free out with api_resp_free. */
long api_send(const api_server *srv, const api_request *rq, api_resp *out);

/* api_send with the fields as arguments (no extra header line). */
long api_http_ex(const api_server *srv, const char *method, const char *path, const char *key,
                 const char *ctype, const void *body, long len, int chunked, api_resp *out);

/* A request with an optional JSON body (NUL-terminated). */
long api_http(const api_server *srv, const char *method, const char *path, const char *key,
              const char *json, api_resp *out);

void api_resp_free(api_resp *r);

/* The parsed body; fails the test when it is not JSON. */
json_t *api_parse_or_fail(const char *method, const char *path, const api_resp *r);

/* A call that must answer `expect`; returns the parsed body (NULL if empty). */
json_t *api_call_req(const api_server *srv, long expect, const api_request *rq);

/* A JSON call (body of len bytes, or NULL) with an optional extra header line. */
json_t *api_call_ex(const api_server *srv, long expect, const char *method, const char *path,
                    const char *key, const char *body, size_t len, const char *extra);

/* A JSON call with a NUL-terminated body (or NULL). */
json_t *api_call(const api_server *srv, long expect, const char *method, const char *path,
                 const char *key, const char *json);

/* An error answer: the status, the JSON error shape with a message, the code (when not NULL)
 * and the field (when not NULL). */
/* Non-zero for an HMA route's path (/c/, /h/, /m/, /status): its errors are HMA's
 * {"message": ...}, without takedown's code. */
int api_hma_path(const char *path);
void api_expect_error_req(const api_server *srv, long expect, const char *code, const char *field,
                          const api_request *rq);

/* api_expect_error_req for a JSON body of len bytes with an optional extra header line. */
void api_expect_error_ex(const api_server *srv, long expect, const char *code, const char *field,
                         const char *method, const char *path, const char *key, const char *body,
                         size_t len, const char *extra);

/* api_expect_error_req for a JSON body that is NUL-terminated (or NULL). */
void api_expect_error(const api_server *srv, long expect, const char *code, const char *method,
                      const char *path, const char *key, const char *json);

/* api_expect_error_req for any body and Content-Type (len < 0: strlen(body)). */
void api_expect_error_body(const api_server *srv, long expect, const char *code, const char *method,
                           const char *path, const char *key, const char *ctype, const void *body,
                           long len);

/* Members of a JSON object. */
const char *api_jstr(json_t *o, const char *k);
json_int_t api_jint(json_t *o, const char *k);

/* Clocks: monotonic seconds, wall-clock milliseconds since the epoch, and a sleep. */
double api_now_s(void);
int64_t api_wall_ms(void);
void api_sleep_ms(int ms);

/* The Takedown-Signature header line ("Takedown-Signature: ed25519=<base64>") for body signed
 * with the Ed25519 secret key sk. */
void api_sign_header(const unsigned char *sk, const char *body, size_t len, char *out, size_t cap);

/* Registers authority `name` (member state DE, announced at announced_at, or not announced when
 * NULL) with a new Ed25519 key pair (pk: 32 bytes, sk: 64 bytes, filled) and links the API key
 * key_id to it, as admin. Returns the authority's id. */
long long api_register_authority(const api_server *srv, const char *admin, const char *name,
                                 const char *announced_at, long long key_id, unsigned char *pk,
                                 unsigned char *sk);

/* A removal order of `authority` with one target (content id and URL, either may be NULL);
 * omit names a member left out. */
void api_order_doc(char *out, size_t cap, const char *authority, const char *reference,
                   const char *content_id, const char *url, const char *omit);

#endif
