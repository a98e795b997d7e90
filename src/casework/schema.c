/* The service's schema, as versioned migrations. Portable SQL: the PostgreSQL backend translates
 * it mechanically (identity columns, BIGINT, BYTEA; docs/store.md), and a migration's
 * sql_postgres replaces it only where that translation cannot say it (v7). Times are integer
 * milliseconds since the epoch; labels are space-separated tokens. */
#include "casework/schema.h"

static const char v1[] =
    "CREATE TABLE banks ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, labels TEXT NOT NULL DEFAULT '',"
    " enabled INTEGER NOT NULL, threshold INTEGER NOT NULL, action INTEGER NOT NULL,"
    " kind INTEGER NOT NULL, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);"
    "CREATE TABLE signals ("
    " id INTEGER PRIMARY KEY, bank_id INTEGER NOT NULL REFERENCES banks(id) ON DELETE CASCADE,"
    " type INTEGER NOT NULL, value TEXT NOT NULL, quality INTEGER NOT NULL,"
    " labels TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, confidence INTEGER NOT NULL,"
    " enabled INTEGER NOT NULL, added_ms BIGINT NOT NULL, UNIQUE (bank_id, type, value));"
    /* The change log the in-memory indexes follow. */
    "CREATE TABLE changes ("
    " seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, signal_id BIGINT NOT NULL,"
    " type INTEGER NOT NULL, value TEXT NOT NULL, at_ms BIGINT NOT NULL);"
    "CREATE TABLE content ("
    " id INTEGER PRIMARY KEY, content_id TEXT NOT NULL UNIQUE, uploader TEXT NOT NULL,"
    " url TEXT NOT NULL, time_ms BIGINT NOT NULL, received_ms BIGINT NOT NULL,"
    " metadata TEXT NOT NULL, pdq TEXT NOT NULL, quality INTEGER NOT NULL, md5 TEXT NOT NULL,"
    " sha256 TEXT NOT NULL, verdict INTEGER NOT NULL);"
    "CREATE INDEX content_received ON content (received_ms);"
    "CREATE INDEX content_md5 ON content (md5);"
    "CREATE INDEX content_sha256 ON content (sha256);"
    "CREATE TABLE matches ("
    " id INTEGER PRIMARY KEY, content_ref INTEGER NOT NULL REFERENCES content(id),"
    " bank_id BIGINT NOT NULL, bank TEXT NOT NULL, signal_id BIGINT NOT NULL,"
    " type INTEGER NOT NULL, distance INTEGER NOT NULL, variant INTEGER NOT NULL,"
    " labels TEXT NOT NULL, action INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " confidence INTEGER NOT NULL, suppressed INTEGER NOT NULL, matched_ms BIGINT NOT NULL,"
    " UNIQUE (content_ref, signal_id));"
    "CREATE TABLE cases ("
    " id INTEGER PRIMARY KEY, content_ref INTEGER NOT NULL REFERENCES content(id),"
    " state INTEGER NOT NULL, priority INTEGER NOT NULL, labels TEXT NOT NULL,"
    " opened_by TEXT NOT NULL, opened_ms BIGINT NOT NULL, claimed_by BIGINT NOT NULL,"
    " claimed_by_name TEXT NOT NULL, claimed_ms BIGINT NOT NULL, closed_ms BIGINT NOT NULL,"
    " outcome INTEGER NOT NULL);"
    "CREATE INDEX cases_queue ON cases (state, priority, opened_ms);"
    "CREATE INDEX cases_content ON cases (content_ref);"
    "CREATE TABLE decisions ("
    " id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),"
    " kind INTEGER NOT NULL, reason TEXT NOT NULL, principal_id BIGINT NOT NULL,"
    " principal_name TEXT NOT NULL, decided_ms BIGINT NOT NULL);"
    "CREATE INDEX decisions_case ON decisions (case_id);"
    "CREATE TABLE api_keys ("
    " id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, prefix TEXT NOT NULL,"
    " role INTEGER NOT NULL, name TEXT NOT NULL, created_ms BIGINT NOT NULL,"
    " revoked_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE webhooks ("
    " id INTEGER PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, events INTEGER NOT NULL,"
    " enabled INTEGER NOT NULL, created_ms BIGINT NOT NULL);"
    "CREATE TABLE deliveries ("
    " id INTEGER PRIMARY KEY,"
    " webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,"
    " event TEXT NOT NULL, idem TEXT NOT NULL, body TEXT NOT NULL, state INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL, last_status INTEGER NOT NULL, last_error TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL, next_attempt_ms BIGINT NOT NULL,"
    " delivered_ms BIGINT NOT NULL, UNIQUE (webhook_id, idem));"
    "CREATE INDEX deliveries_due ON deliveries (state, next_attempt_ms);"
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
    "INSERT INTO counters (name, value) VALUES ('webhook_failures', 0);";

/* Signals of one bank in id order. Export pages with "bank_id = $1 AND id > $2 ORDER BY id": with
 * only the (bank_id, type, value) index SQLite read and sorted the whole bank for every page
 * (quadratic: a million-signal export took minutes). An index on bank_id holds (bank_id, id),
 * which serves that range in order; imports append to it (ids grow), so it costs them little. */
static const char v2[] = "CREATE INDEX signals_bank ON signals (bank_id);";

/* The end of an ADD_RANGE change-log entry (a bulk import logs one entry for its id range
 * instead of one per signal; see service_int.h). Adding a column with a default is cheap. */
static const char v3[] = "ALTER TABLE changes ADD COLUMN last_id BIGINT NOT NULL DEFAULT 0;";

/* Bodies of the signals that are not hashes (vPDQ hash files, raw_text documents, URLs and URL
 * rules; see td_signal_type_has_body). signals.value holds the body's SHA-256, which keeps the
 * (bank, type, value) uniqueness cheap; the body is read when the indexes load or follow, and
 * display is its readable start for listings. */
static const char v4[] = "CREATE TABLE signal_bodies ("
                         " signal_id INTEGER PRIMARY KEY REFERENCES signals(id) ON DELETE CASCADE,"
                         " body BLOB NOT NULL, display TEXT NOT NULL);";

/* Owners: the platform key that submitted a content item, and the platform key a webhook belongs
 * to (0: none; content received before this migration has none). A platform key reads only its
 * own content and its webhooks receive only its content's events (docs/api.md, "Scoping"). */
static const char v5[] = "ALTER TABLE content ADD COLUMN platform_key BIGINT NOT NULL DEFAULT 0;"
                         "ALTER TABLE webhooks ADD COLUMN platform_key BIGINT NOT NULL DEFAULT 0;";

/* Keys of one platform: a platform key created for an existing platform (rotation, several
 * services) points at that platform's first key, whose id scopes content and webhooks. */
static const char v6[] = "ALTER TABLE api_keys ADD COLUMN platform_key BIGINT NOT NULL DEFAULT 0;";

/* Signal values as raw bytes in SQLite (see signal_value.c): a bulk import writes about 40% less.
 * unhex is the store's own function; a value that is not hex (none should be) stays as it was.
 * PostgreSQL keeps its text column: nothing to do there. */
static const char v7[] =
    "UPDATE signals SET value = COALESCE(unhex(value), value) WHERE typeof(value) = 'text';";

/* Where content came from: "upload" (the platform's intake; every row received before this
 * migration) or "e2ee_report" (a verified report from end-to-end encrypted messaging, reports.h).
 * A column with a constant default is added without rewriting the table on either backend. */
static const char v8[] = "ALTER TABLE content ADD COLUMN source TEXT NOT NULL DEFAULT 'upload';";

/* The bank of each change-log entry (0: a bank-list change, or an entry written before this
 * migration): a bank's signed feed to other instances (src/exchange/) reads its own changes
 * without the signal rows, which a removal has deleted. No index: a feed reads forward from its
 * cursor along seq, and every signal change would pay for one. */
static const char v9[] = "ALTER TABLE changes ADD COLUMN bank_id BIGINT NOT NULL DEFAULT 0;";

/* The incident a match fell under (incidents.h; 0: none) and the enforcement it took: a match
 * record says why content was blocked or queued at top priority even after the incident closed. */
static const char v10[] =
    "ALTER TABLE matches ADD COLUMN incident_id BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE matches ADD COLUMN incident_action INTEGER NOT NULL DEFAULT 0;";

/* HMA (docs/hma.md). A bank's matching_enabled_ratio (td_bank.enabled_ratio), 0.0..1.0, as text
 * that reads back as the same double (the store binds no floating-point values; banks.c formats
 * it); the column enabled stays, always (ratio > 0): a disabled bank gets ratio 0.
 * HMA's bank content (bank_content.c): a content's id is its first signal's id, which every
 * signal of the content holds in bank_content_id (0: a signal that is a content of its own);
 * bank_content holds what HMA keeps of a content. The partial index costs the signals that
 * belong to no content (imports, exchanges) nothing. signal_type_ratios: HMA's enabled_ratio of
 * a signal type (td_signal_type; absent: 1). */
static const char v11[] =
    "ALTER TABLE banks ADD COLUMN enabled_ratio TEXT NOT NULL DEFAULT '1';"
    "UPDATE banks SET enabled_ratio = '0' WHERE enabled = 0;"
    "ALTER TABLE signals ADD COLUMN bank_content_id BIGINT NOT NULL DEFAULT 0;"
    "CREATE INDEX signals_bank_content ON signals (bank_content_id) WHERE bank_content_id <> 0;"
    "CREATE TABLE bank_content ("
    " id BIGINT PRIMARY KEY, bank_id BIGINT NOT NULL REFERENCES banks(id) ON DELETE CASCADE,"
    " disable_until_ts BIGINT NOT NULL, original_media_uri TEXT NOT NULL DEFAULT '',"
    " metadata TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '',"
    " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);"
    "CREATE TABLE signal_type_ratios (type BIGINT PRIMARY KEY, enabled_ratio TEXT NOT NULL);";

/* The review workflow (docs/casework.md, "Queues", "Reasons", "QA"). decisions.reason_code: a
 * code of the configured reasons list ('' when none was given). case_queues: the queues a case
 * belongs to ("bank:<name>", "label:<label>", "source:<source>", "incident:<id>"), written by the
 * service whenever a case opens or its content gains matches (queues.c), so that the counts per
 * queue and the filter are one indexed query on both backends. qa_reviews: the second review of
 * a sampled decision (state 1 pending, 2 agreed, 3 disagreed). matches by signal (the earlier
 * decisions on a signal) and content by uploader (the other content of one uploader).
 * Cases opened before this migration get their queues here: banks, sources and incidents in
 * portable SQL; labels (space-separated tokens) with a recursive split, which each backend
 * spells with its own string functions (instr / strpos). */
#define V12_TABLES                                                                                 \
    "ALTER TABLE decisions ADD COLUMN reason_code TEXT NOT NULL DEFAULT '';"                       \
    "CREATE TABLE case_queues ("                                                                   \
    " case_id BIGINT NOT NULL REFERENCES cases(id), queue TEXT NOT NULL,"                          \
    " PRIMARY KEY (case_id, queue));"                                                              \
    "CREATE INDEX case_queues_queue ON case_queues (queue, case_id);"                              \
    "CREATE TABLE qa_reviews ("                                                                    \
    " id INTEGER PRIMARY KEY, decision_id BIGINT NOT NULL UNIQUE REFERENCES decisions(id),"        \
    " case_id BIGINT NOT NULL REFERENCES cases(id), state INTEGER NOT NULL,"                       \
    " created_ms BIGINT NOT NULL, second_kind INTEGER NOT NULL DEFAULT 0,"                         \
    " second_reason_code TEXT NOT NULL DEFAULT '', second_reason TEXT NOT NULL DEFAULT '',"        \
    " second_by BIGINT NOT NULL DEFAULT 0, second_by_name TEXT NOT NULL DEFAULT '',"               \
    " second_ms BIGINT NOT NULL DEFAULT 0);"                                                       \
    "CREATE INDEX qa_reviews_state ON qa_reviews (state, id);"                                     \
    "CREATE INDEX matches_signal ON matches (signal_id);"                                          \
    "CREATE INDEX content_uploader ON content (uploader, received_ms);"                            \
    "INSERT INTO case_queues (case_id, queue) SELECT DISTINCT k.id, 'bank:' || m.bank"             \
    " FROM cases k JOIN matches m ON m.content_ref = k.content_ref;"                               \
    "INSERT INTO case_queues (case_id, queue) SELECT k.id, 'source:' || c.source"                  \
    " FROM cases k JOIN content c ON c.id = k.content_ref;"                                        \
    "INSERT INTO case_queues (case_id, queue) SELECT DISTINCT k.id,"                               \
    " 'incident:' || CAST(m.incident_id AS TEXT)"                                                  \
    " FROM cases k JOIN matches m ON m.content_ref = k.content_ref WHERE m.incident_id <> 0;"
#define V12_LABELS(FIND)                                                                           \
    "INSERT INTO case_queues (case_id, queue)"                                                     \
    " WITH RECURSIVE src(case_id, rest) AS ("                                                      \
    "  SELECT k.id, k.labels || ' ' FROM cases k"                                                  \
    "  UNION ALL SELECT k.id, m.labels || ' ' FROM cases k"                                        \
    "  JOIN matches m ON m.content_ref = k.content_ref),"                                          \
    " split(case_id, label, rest) AS ("                                                            \
    "  SELECT case_id, CAST('' AS TEXT), rest FROM src"                                            \
    "  UNION ALL SELECT case_id, substr(rest, 1, " FIND " - 1),"                                   \
    "  substr(rest, " FIND " + 1) FROM split WHERE rest <> '')"                                    \
    " SELECT DISTINCT case_id, 'label:' || label FROM split WHERE label <> ''"                     \
    " ON CONFLICT DO NOTHING;"
static const char v12[] = V12_TABLES V12_LABELS("instr(rest, ' ')");
static const char v12_postgres[] = V12_TABLES V12_LABELS("strpos(rest, ' ')");

static const td_store_migration migrations[] = {
    {1, "service schema", v1, NULL},
    {2, "signals by bank in id order", v2, NULL},
    {3, "change-log id ranges", v3, NULL},
    {4, "signal bodies", v4, NULL},
    {5, "content and webhook owners", v5, NULL},
    {6, "platform keys of one platform", v6, NULL},
    {7, "signal values as bytes", v7, "SELECT 1"},
    {8, "content sources", v8, NULL},
    {9, "change-log banks", v9, NULL},
    {10, "incidents of matches", v10, NULL},
    {11, "HMA: bank ratios, bank content, signal type ratios", v11, NULL},
    {12, "review workflow: reason codes, queues, QA", v12, v12_postgres},
};

const td_store_migration *td__schema(size_t *count)
{
    *count = sizeof migrations / sizeof migrations[0];
    return migrations;
}
