/* Inside the review media component (src/review_media/, above casework, evidence and audit,
 * which never include it): the handle and what its files share.
 *
 * Files: review_media.c (schema, handle, options, key, the background thread, keeping a copy,
 * reading it, content type sniffing), review_media_tick.c (what a closed case means for its
 * copy: deletion after the grace, or preservation into the evidence store). */
#ifndef TD_REVIEW_MEDIA_INT_H
#define TD_REVIEW_MEDIA_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "casework/service_int.h"
#include "takedown/review_media.h"

#define TD__RM_KEY_LEN 32 /* a content key, and the service's wrapping key */
/* A wrapped content key: nonce || ciphertext || tag. */
#define TD__RM_WRAPPED_LEN (24 + TD__RM_KEY_LEN + 16)

struct td_review_media {
    td_service *svc;
    td_review_media_options opts;
    char *dir;    /* DATA_DIR/review_media */
    uint8_t *key; /* the wrapping key, in guarded memory */
    /* One tick at a time in this process (nodes sharing a store claim a copy in the store before
     * they seal it). */
    pthread_mutex_t tick_lock;
    _Atomic uint64_t kept, read, deleted, preserved, ticks, tick_failures;
    pthread_t duty;
    int duty_started;
    pthread_mutex_t duty_lock;
    pthread_cond_t duty_wake;
    int duty_stop;
};

/* The path of part's file of content ref (its copy's random tag) into out. */
void td__rm_file(const td_review_media *rm, int64_t ref, const char *tag, int part, char *out,
                 size_t cap);
/* What a part's file is bound to (the additional data of its first frame). */
void td__rm_bind(int64_t ref, int part, char *out, size_t cap);
/* Unwraps the content key of content ref (stored wrapped) into key (guarded memory). */
td_status td__rm_unwrap(const td_review_media *rm, int64_t ref, const uint8_t *wrapped,
                        size_t wrapped_len, uint8_t *key, td_error *err);
/* Decrypts part's file of content ref into *data (sodium_malloc'd, *len bytes). */
td_status td__rm_open_file(const td_review_media *rm, int64_t ref, const char *tag, int part,
                           const uint8_t *key, uint8_t **data, size_t *len, td_error *err);
/* Appends an audit entry for who (NULL: "system") on "content:<content_id>" inside c's
 * transaction; details stolen. */
td_status td__rm_audit(td_review_media *rm, td_store_conn *c, const td_principal *who,
                       const char *action, const char *content_id, json_t *details, td_error *err);
/* secure_delete on SQLite around the statements that drop a key (no-op on PostgreSQL). */
td_status td__rm_shred(td_review_media *rm, td_store_conn *c, int on, td_error *err);

/* review_media_tick.c */
td_status td__rm_tick(td_review_media *rm, td_error *err);

#endif
