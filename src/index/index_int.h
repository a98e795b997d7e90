/* Internals of td_index shared by index.c and snapshot.c.
 *
 * Concurrency: the published state is a view (segments + append buffer) and an update sequence,
 * swapped together under view_lock; a query pins one view with a reference count and reads the
 * sequence at the same instant, then runs without any lock. Entries carry the sequence that added
 * them (append buffer only) and the one that removed them (0 while live), so a query at sequence
 * S sees exactly the updates numbered <= S: a batch is one number, never half visible. Writers
 * are serialised by write_lock; buffers a query may be reading are never changed in place except
 * for appends past the count it read and removal marks, which it filters by sequence. */
#ifndef TD_INDEX_INT_H
#define TD_INDEX_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "segment.h"
#include "takedown/index.h"

#define TD__MAX_SEGS 40

typedef struct td__delta {
    size_t cap;
    atomic_size_t count;
    uint64_t *h; /* 4 words per entry */
    uint64_t *ids;
    uint64_t *added;
    _Atomic uint64_t *removed;
    atomic_long refs;
} td__delta;

typedef struct td__view {
    size_t nseg;
    td__seg *seg[TD__MAX_SEGS];
    td__delta *delta;
    long refs; /* under view_lock */
} td__view;

struct td_index {
    pthread_mutex_t write_lock;
    pthread_mutex_t view_lock;
    td__view *cur;
    uint64_t seq; /* written under both locks */
    size_t live;  /* under write_lock */
    td_index_options opts;
    const td__kernels *k;
    int merging;     /* a large merge is being built outside the lock */
    size_t merge_hi; /* segments <= merge_hi belong to it */
    pthread_mutex_t bg_lock;
    pthread_cond_t bg_cond;
    pthread_t bg_thread;
    int bg_started, bg_stop, bg_wake;
};

/* Wraps a built segment into a fresh index (takes the segment reference, also on failure). */
td_status td__index_from_seg(td__seg *seg, const td_index_options *opts, td_index **out,
                             td_error *err);

/* Pins the current view and its sequence / unpins it. */
td__view *td__view_acquire(td_index *idx, uint64_t *seq);
void td__view_release(td_index *idx, td__view *v);

/* One segment holding every entry of v visible at seq (a new reference, possibly to v's only
 * segment when nothing else is visible). */
td_status td__view_flatten(td__view *v, uint64_t seq, td__seg **out, td_error *err);

td_status td__snapshot_write(const td__seg *seg, const char *path, td_error *err);
td_status td__snapshot_open(const char *path, td__seg **out, td_error *err);
td_status td__snapshot_from_memory(const void *data, size_t len, td__seg **out, td_error *err);

#endif
