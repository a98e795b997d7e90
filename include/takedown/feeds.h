/* Signed feeds between takedown instances (docs/feeds.md): a bank's changes served to other
 * instances in pages signed by this instance, and the opinions those instances send back.
 *
 * What a page is: the bank's entries of the change log (table changes, by bank since migration
 * 9) after a cursor, made into changes "add" (the signal's type, value or body, labels, source,
 * confidence) and "remove" (type and value). An ADD whose signal is gone or no longer indexable
 * is skipped: the REMOVE that made it so follows in the log. A bulk import's ADD_RANGE entry is
 * expanded from the signals table and may span pages, so a cursor can point inside one.
 *
 * Cursors: "" (the start), "<bank id>:<seq>" (every entry up to seq delivered) or
 * "<bank id>:<seq>.<signal id>" (inside the ADD_RANGE entry seq: its signals up to that id
 * delivered). The bank id makes a cursor of a deleted and re-created bank stale; so is one past
 * the end of the log (a publisher restored from an older copy) or one inside an entry that is
 * not an ADD_RANGE of the bank. A stale cursor fails with TD_ERR_CONFLICT and the subscriber
 * starts again from "".
 *
 * What is signed: td_feed_signed_message(bank, from, to, more, count, SHA-256 of the changes
 * bytes, key id), with the instance's Ed25519 feed key (dir/feed.key, created at first open).
 * The key id is the hex of the public key's first 8 bytes. A subscriber pins the public key and
 * verifies a page before it reads any change in it (td_feed_page_verify).
 *
 * Opinions: a peer key says of a signal that it saw it (a match), that it is a true positive or
 * a false positive; each (signal, key, opinion) is stored once, audited ("feed.opinion"), and
 * counted per signal for the publisher's moderators. */
#ifndef TAKEDOWN_FEEDS_H
#define TAKEDOWN_FEEDS_H

#include <stddef.h>
#include <stdint.h>

#include "casework.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TD_FEED_PAGE_DEFAULT 1000     /* changes per page when the subscriber asks none */
#define TD_FEED_PAGE_MAX 5000         /* changes per page at most */
#define TD_FEED_PAGE_BYTES (4u << 20) /* a page stops growing past this many changes bytes */
#define TD_FEED_CURSOR_MAX 63         /* bytes of a cursor */
#define TD_FEED_KEY_FILE "feed.key"   /* the feed signing key in the data directory */
#define TD_FEED_KEY_ID_LEN 16         /* hex digits of a key id */
#define TD_FEED_OPINIONS_MAX 1000     /* opinions in one td_feed_opinions_add */
#define TD_FEED_SIGNED_PREFIX "takedown-feed-page-v1"

typedef struct td_feeds td_feeds;

/* Opens the feeds of svc (borrowed; it must outlive the handle): migrates the component's tables
 * ("feeds") and loads or creates key_dir/feed.key (key_dir NULL: the service's data directory). */
__attribute__((warn_unused_result)) td_status td_feeds_open(td_service *svc, const char *key_dir,
                                                            td_feeds **out, td_error *err);
void td_feeds_close(td_feeds *f);

/* The feed key: its public half and its id (16 hex digits and a NUL). */
void td_feeds_public_key(const td_feeds *f, uint8_t pk[32], char key_id[TD_FEED_KEY_ID_LEN + 1]);
/* The key id of a public key. */
void td_feed_key_id(const uint8_t pk[32], char key_id[TD_FEED_KEY_ID_LEN + 1]);

/* One signed page. changes is the JSON array text the signature covers (NUL-terminated). */
typedef struct td_feed_page {
    char bank[TD_NAME_MAX + 1];
    char from[TD_FEED_CURSOR_MAX + 1], to[TD_FEED_CURSOR_MAX + 1];
    int more;     /* more changes follow "to" */
    size_t count; /* changes in the page */
    char *changes;
    size_t changes_len;
    uint8_t sha256[32]; /* of changes[0..changes_len) */
    char key_id[TD_FEED_KEY_ID_LEN + 1];
    uint8_t signature[64];
} td_feed_page;

void td_feed_page_clear(td_feed_page *p);

/* The page of bank after the cursor: at most limit changes (0: TD_FEED_PAGE_DEFAULT; capped at
 * TD_FEED_PAGE_MAX), fewer when TD_FEED_PAGE_BYTES is reached, signed. An unknown bank is
 * TD_ERR_NOT_FOUND; a malformed cursor TD_ERR_INVALID; a stale one TD_ERR_CONFLICT. */
__attribute__((warn_unused_result)) td_status td_feed_read(td_feeds *f, const char *bank,
                                                           const char *after, size_t limit,
                                                           td_feed_page *out, td_error *err);

/* The bytes a page's signature covers, into out (cap bytes); returns the length, or 0 when it
 * does not fit. Each field is written "<length>:<bytes>\n" after the prefix line, so that no
 * field's bytes can pass for another's. */
size_t td_feed_signed_message(const char *bank, const char *from, const char *to, int more,
                              size_t count, const uint8_t sha256[32], const char *key_id,
                              uint8_t *out, size_t cap);

/* The page as the HTTP answer shows it (a JSON object, td_free'd text). */
__attribute__((warn_unused_result)) td_status td_feed_page_json(const td_feed_page *p, char **out,
                                                                size_t *len, td_error *err);

/* What a subscriber expects of a page. */
typedef struct td_feed_expect {
    const char *bank;   /* the bank it subscribed to */
    const char *from;   /* the cursor it asked after */
    const uint8_t *pk;  /* the pinned public key (32 bytes) */
    const char *key_id; /* the pinned key id, or NULL: the pinned key's own */
} td_feed_expect;

/* Verifies a page received as JSON text (td_feed_page_json's shape): its members, the key id,
 * the bank, the cursor it starts from, the changes' SHA-256 and the signature, in that order;
 * only then is out filled (the changes copied, unparsed). Any mismatch is TD_ERR_CORRUPT naming
 * what failed; a page that is not that JSON is TD_ERR_INVALID. */
__attribute__((warn_unused_result)) td_status td_feed_page_verify(const char *json, size_t len,
                                                                  const td_feed_expect *expect,
                                                                  td_feed_page *out, td_error *err);

/* ---- opinions ---- */

typedef enum td_feed_opinion {
    TD_FEED_SEEN = 1,           /* the subscriber matched content with the signal */
    TD_FEED_TRUE_POSITIVE = 2,  /* its reviewer confirmed a match */
    TD_FEED_FALSE_POSITIVE = 3, /* its reviewer found a match wrong */
} td_feed_opinion;
#define TD_FEED_OPINION_KINDS 3

const char *td_feed_opinion_name(td_feed_opinion o); /* "seen", "true_positive", ... */
__attribute__((warn_unused_result)) td_status td_feed_opinion_parse(const char *name,
                                                                    td_feed_opinion *out);

typedef struct td_feed_opinion_input {
    int64_t signal_id;
    td_feed_opinion opinion;
} td_feed_opinion_input;

typedef enum td_feed_opinion_result {
    TD_FEED_OPINION_STORED = 1,    /* new */
    TD_FEED_OPINION_UNCHANGED = 2, /* this key said it before */
    TD_FEED_OPINION_NOT_FOUND = 3  /* no such signal in the bank */
} td_feed_opinion_result;

/* Stores the opinions of who (a peer key) on signals of bank, in one transaction with one audit
 * entry per stored opinion; results[i] says what became of in[i]. n is 1..TD_FEED_OPINIONS_MAX. */
__attribute__((warn_unused_result)) td_status
td_feed_opinions_add(td_feeds *f, const td_principal *who, const char *bank,
                     const td_feed_opinion_input *in, size_t n, td_feed_opinion_result *results,
                     td_error *err);

typedef struct td_feed_opinion_counts {
    int64_t signal_id;
    uint64_t count[TD_FEED_OPINION_KINDS + 1]; /* by td_feed_opinion; [0] unused */
    int64_t last_ms;                           /* the latest opinion */
} td_feed_opinion_counts;

/* The signals of bank with opinions, by signal id after after_id, at most limit
 * (1..TD_PAGE_MAX). Free *out with td_free. */
__attribute__((warn_unused_result)) td_status td_feed_opinions_list(td_feeds *f, const char *bank,
                                                                    int64_t after_id, size_t limit,
                                                                    td_feed_opinion_counts **out,
                                                                    size_t *count, td_error *err);
/* The counts of one signal (all 0 when it has none). */
__attribute__((warn_unused_result)) td_status
td_feed_opinions_of(td_feeds *f, int64_t signal_id, td_feed_opinion_counts *out, td_error *err);

#ifdef __cplusplus
}
#endif

#endif
