/*  ps_journal: ingest's crash-safe journal, an LMDB environment in the
    data directory.

    One environment holds four tables, so one transaction covers them all:
    - entries:   jseq -> the forwarded batch frame, for every accepted batch
                 that compute's checkpoint does not cover yet;
    - producers: producer id -> the last seq accepted and the ack sent;
    - series:    series key -> its currency (one currency per series);
    - meta:      format, ingest id, journal instance, head jseq, and the
                 jseq compute has confirmed as checkpointed.
    Writes gather in one open write transaction, the group: the first
    write of a group begins it, ps_journal_commit makes the whole group
    durable (LMDB syncs on commit). Ingest sends a batch's ack only after
    the commit that holds it, so an acknowledged batch survives kill -9
    and power loss; a crash before the commit loses the group as a whole,
    and its producers, who got no ack, send it again.

    The entries table is bounded: past max_bytes of pages, appends are
    refused (ingest answers retry_later) until compute's checkpoint lets
    older entries go (ps_journal_confirm). */

#ifndef PS_JOURNAL_H_INCLUDED
#define PS_JOURNAL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ps_journal_t ps_journal_t;

typedef struct {
    const char *dir;    /* created when missing; holds one ingest's journal */
    const char *ingest; /* ingest id: a journal refuses to open under another */
    size_t max_bytes;   /* bound on the pages of retained entries */
} ps_journal_config_t;

/*  Opens (or creates) the journal in CONFIG->dir and locks the directory.
    Returns NULL with a sentence in ERR (ERRLEN bytes) when the directory
    cannot be created or is in use, the store cannot be opened, it was
    written by another ingest id or in an unknown format. */
ps_journal_t *ps_journal_open (const ps_journal_config_t *config, char *err, size_t errlen);

/*  Aborts an open group, closes the store and sets *SELF_P to NULL;
    NULL-safe. */
void ps_journal_destroy (ps_journal_t **self_p);

/*  The journal instance: a random number drawn when the journal is
    created, so compute can tell a recreated journal from the old one. */
uint64_t ps_journal_id (const ps_journal_t *self);

/*  Last jseq appended, counting the open group. */
uint64_t ps_journal_head (const ps_journal_t *self);

/*  Last jseq committed: entries up to it may be read. */
uint64_t ps_journal_durable (const ps_journal_t *self);

/*  Oldest committed jseq still held (durable + 1 when none is). */
uint64_t ps_journal_first (const ps_journal_t *self);

/*  Highest jseq compute confirmed as checkpointed. */
uint64_t ps_journal_confirmed (const ps_journal_t *self);

/*  Bytes of pages the retained entries take, and the bound on them. */
size_t ps_journal_bytes (const ps_journal_t *self);
size_t ps_journal_max_bytes (const ps_journal_t *self);

/*  True while a commit is due: a group is open or confirmed entries wait
    for deletion. */
bool ps_journal_pending (const ps_journal_t *self);

/*  The last store error, one sentence. */
const char *ps_journal_error (const ps_journal_t *self);

/*  Appends FRAME (SIZE bytes) to the group under jseq head + 1. Returns 0;
    1 when the entries would pass max_bytes (nothing written, the group
    stays usable); -1 on a store error (ps_journal_error), after which the
    group can only be aborted. */
int ps_journal_append (ps_journal_t *self, const void *frame, size_t size);

/*  Records in the group that PRODUCER (LEN bytes) had batch SEQ accepted,
    answered with ACK (ACK_LEN bytes). Returns 0, or -1 as append. */
int ps_journal_put_producer (ps_journal_t *self, const char *producer, size_t len, uint64_t seq,
                             const void *ack, size_t ack_len);

/*  Forgets PRODUCER in the group. Returns 0, or -1 as append. */
int ps_journal_del_producer (ps_journal_t *self, const char *producer, size_t len);

/*  Records in the group that series KEY (LEN bytes) is in CURRENCY (3
    letters). Returns 0, or -1 as append. */
int ps_journal_put_series (ps_journal_t *self, const char *key, size_t len, const char *currency);

/*  Moves head to JSEQ when it is ahead, so that the next entry gets
    JSEQ + 1 (compute knows entries of this journal up to JSEQ that the
    journal lost). Returns 0, or -1 as append. */
int ps_journal_skip (ps_journal_t *self, uint64_t jseq);

/*  Compute has checkpointed every entry up to JSEQ: ps_journal_commit
    deletes them, a bounded number per commit (ps_journal_pending stays
    true until they are all gone). */
void ps_journal_confirm (ps_journal_t *self, uint64_t jseq);

/*  Commits the group. Returns 0 (nothing open is success too), or -1
    with ps_journal_error, the group then being aborted: nothing of it is
    durable. */
int ps_journal_commit (ps_journal_t *self);

/*  Drops the open group, if any. */
void ps_journal_abort (ps_journal_t *self);

/*  Called for each entry read: return 0 to go on, anything else to stop. */
typedef int (ps_journal_entry_fn) (void *arg, uint64_t jseq, const void *frame, size_t size);

/*  Calls FN for the committed entries from jseq FROM on, in order, until
    it returns nonzero or they run out. FRAME is valid during the call
    only. Returns the number of calls that returned 0, or -1 on a store
    error. */
long ps_journal_read (ps_journal_t *self, uint64_t from, ps_journal_entry_fn *fn, void *arg);

/*  Called for each remembered producer and series by ps_journal_load. */
typedef int (ps_journal_producer_fn) (void *arg, const char *producer, size_t len, uint64_t seq,
                                      const void *ack, size_t ack_len);
typedef int (ps_journal_series_fn) (void *arg, const char *key, size_t len, const char *currency);

/*  Calls ON_PRODUCER for every committed producer record and ON_SERIES
    for every series. A callback returning nonzero stops the walk. Returns
    0, or -1 on a store error or when a callback stopped it. */
int ps_journal_load (ps_journal_t *self, ps_journal_producer_fn *on_producer,
                     ps_journal_series_fn *on_series, void *arg);

#endif
