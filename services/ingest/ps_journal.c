/*  ps_journal: the LMDB journal; see ps_journal.h. */

#include "ps_journal.h"
#include "ps_datadir.h"

#include <inttypes.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Version of the tables' layout, stored in meta. */
#define S_FORMAT 1
/* Entries deleted per commit at most, so one commit stays short. */
#define S_TRIM_BATCH 4096
/* Room in the map beyond twice the entries' bound, for the producer and
   series tables and the pages a transaction copies before it commits. */
#define S_MAP_HEADROOM ((size_t) 1 << 30)

struct ps_journal_t {
    ps_datadir_t *dir;
    MDB_env *env;
    MDB_dbi meta, entries, producers, series;
    MDB_txn *txn;  /* the open group, or NULL */
    MDB_txn *rtxn; /* read-only, renewed for each read */
    bool broken;   /* a write failed: the group can only be aborted */
    uint64_t id;
    uint64_t head;      /* last jseq appended, open group included */
    uint64_t durable;   /* last jseq committed */
    uint64_t first;     /* oldest committed entry (durable + 1 when none) */
    uint64_t confirmed; /* compute's checkpoint, as last stored in meta */
    uint64_t target;    /* compute's checkpoint, as last heard */
    size_t max_bytes;
    size_t page;
    char error[256];
};

static void s_be64 (uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t) v;
}

static uint64_t s_get64 (const void *p)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static int s_fail (ps_journal_t *self, int rc, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  Records the error of LMDB call result RC (0 for none) after the
    printf-formatted context. Returns -1. */
static int s_fail (ps_journal_t *self, int rc, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    int n = vsnprintf (self->error, sizeof self->error, fmt, args);
    va_end (args);
    if (rc && n >= 0 && (size_t) n < sizeof self->error)
        snprintf (self->error + n, sizeof self->error - (size_t) n, ": %s", mdb_strerror (rc));
    return -1;
}

/* ---- Meta --------------------------------------------------------------- */

static int s_meta_get (ps_journal_t *self, MDB_txn *txn, const char *key, MDB_val *val)
{
    MDB_val k = {strlen (key), (void *) key};
    return mdb_get (txn, self->meta, &k, val);
}

static int s_meta_put (ps_journal_t *self, MDB_txn *txn, const char *key, const void *data,
                       size_t size)
{
    MDB_val k = {strlen (key), (void *) key}, v = {size, (void *) data};
    return mdb_put (txn, self->meta, &k, &v, 0);
}

static int s_meta_put64 (ps_journal_t *self, MDB_txn *txn, const char *key, uint64_t value)
{
    uint8_t buf[8];
    s_be64 (buf, value);
    return s_meta_put (self, txn, key, buf, sizeof buf);
}

/*  Reads the 8-byte number KEY into *OUT. Returns 0 or an LMDB error
    (MDB_CORRUPTED when the value has the wrong size). */
static int s_meta_get64 (ps_journal_t *self, MDB_txn *txn, const char *key, uint64_t *out)
{
    MDB_val v;
    int rc = s_meta_get (self, txn, key, &v);
    if (rc == 0 && v.mv_size != 8)
        rc = MDB_CORRUPTED;
    if (rc == 0)
        *out = s_get64 (v.mv_data);
    return rc;
}

static uint64_t s_new_id (void)
{
    uint64_t id = 0;
    if (getrandom (&id, sizeof id, 0) != (ssize_t) sizeof id)
        id = (uint64_t) time (NULL) << 20 ^ (uint64_t) clock ();
    id &= INT64_MAX;
    return id ? id : 1;
}

/*  Writes a new journal's meta, or checks an existing one against INGEST,
    and reads its numbers. */
static int s_meta_init (ps_journal_t *self, MDB_txn *txn, const char *ingest)
{
    MDB_val v;
    int rc = s_meta_get (self, txn, "format", &v);
    if (rc == MDB_NOTFOUND) {
        self->id = s_new_id ();
        if ((rc = s_meta_put64 (self, txn, "format", S_FORMAT)) != 0 ||
            (rc = s_meta_put (self, txn, "ingest", ingest, strlen (ingest))) != 0 ||
            (rc = s_meta_put64 (self, txn, "journal", self->id)) != 0 ||
            (rc = s_meta_put64 (self, txn, "head", 0)) != 0 ||
            (rc = s_meta_put64 (self, txn, "confirmed", 0)) != 0)
            return s_fail (self, rc, "cannot initialise the journal");
        return 0;
    }
    uint64_t format;
    if ((rc = s_meta_get64 (self, txn, "format", &format)) != 0)
        return s_fail (self, rc, "cannot read the journal's format");
    if (format != S_FORMAT)
        return s_fail (self, 0, "journal format %" PRIu64 " is not the supported %d", format,
                       S_FORMAT);
    if ((rc = s_meta_get (self, txn, "ingest", &v)) != 0)
        return s_fail (self, rc, "cannot read the journal's ingest id");
    if (v.mv_size != strlen (ingest) || memcmp (v.mv_data, ingest, v.mv_size) != 0)
        return s_fail (self, 0, "this journal belongs to ingest '%.*s', not '%s'",
                       (int) (v.mv_size > 64 ? 64 : v.mv_size), (const char *) v.mv_data, ingest);
    if ((rc = s_meta_get64 (self, txn, "journal", &self->id)) != 0 ||
        (rc = s_meta_get64 (self, txn, "head", &self->head)) != 0 ||
        (rc = s_meta_get64 (self, txn, "confirmed", &self->confirmed)) != 0)
        return s_fail (self, rc, "cannot read the journal's position");
    return 0;
}

/* ---- Opening -------------------------------------------------------------- */

/*  Begins the read transaction, which sees the last commit (never the
    open group). Returns 0 or -1. */
static int s_read_txn (ps_journal_t *self)
{
    int rc = self->rtxn ? mdb_txn_renew (self->rtxn)
                        : mdb_txn_begin (self->env, NULL, MDB_RDONLY, &self->rtxn);
    return rc ? s_fail (self, rc, "cannot begin a read") : 0;
}

/*  Begins the read transaction and opens a cursor on DBI. Returns 0 or -1. */
static int s_read_begin (ps_journal_t *self, MDB_dbi dbi, MDB_cursor **cur)
{
    if (s_read_txn (self) != 0)
        return -1;
    int rc = mdb_cursor_open (self->rtxn, dbi, cur);
    if (rc != 0) {
        mdb_txn_reset (self->rtxn);
        return s_fail (self, rc, "cannot open a cursor");
    }
    return 0;
}

static void s_read_end (ps_journal_t *self, MDB_cursor *cur)
{
    mdb_cursor_close (cur);
    mdb_txn_reset (self->rtxn);
}

/*  Sets self->first from the committed entries. Returns 0 or -1. */
static int s_refresh_first (ps_journal_t *self)
{
    MDB_cursor *cur;
    MDB_val k, v;
    if (s_read_begin (self, self->entries, &cur) != 0)
        return -1;
    int rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST);
    s_read_end (self, cur);
    if (rc == MDB_NOTFOUND) {
        self->first = self->durable + 1;
        return 0;
    }
    if (rc != 0)
        return s_fail (self, rc, "cannot read the journal");
    self->first = s_get64 (k.mv_data);
    return 0;
}

static int s_open_env (ps_journal_t *self, const ps_journal_config_t *config)
{
    int rc = mdb_env_create (&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (self->env, 4);
    if (rc == 0)
        rc = mdb_env_set_mapsize (self->env, 2 * config->max_bytes + S_MAP_HEADROOM);
    /* NOTLS: the sender's read transactions live beside the open group in
       the same thread. */
    if (rc == 0)
        rc = mdb_env_open (self->env, ps_datadir_path (self->dir), MDB_NOTLS, 0644);
    if (rc != 0)
        return s_fail (self, rc, "cannot open the journal in %s", ps_datadir_path (self->dir));
    int dead;
    mdb_reader_check (self->env, &dead);
    MDB_stat st;
    mdb_env_stat (self->env, &st);
    self->page = st.ms_psize;

    MDB_txn *txn;
    if ((rc = mdb_txn_begin (self->env, NULL, 0, &txn)) != 0)
        return s_fail (self, rc, "cannot begin a transaction");
    if ((rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &self->meta)) != 0 ||
        (rc = mdb_dbi_open (txn, "entries", MDB_CREATE, &self->entries)) != 0 ||
        (rc = mdb_dbi_open (txn, "producers", MDB_CREATE, &self->producers)) != 0 ||
        (rc = mdb_dbi_open (txn, "series", MDB_CREATE, &self->series)) != 0) {
        mdb_txn_abort (txn);
        return s_fail (self, rc, "cannot open the journal's tables");
    }
    if (s_meta_init (self, txn, config->ingest) != 0) {
        mdb_txn_abort (txn);
        return -1;
    }
    if ((rc = mdb_txn_commit (txn)) != 0)
        return s_fail (self, rc, "cannot commit the journal's meta");
    self->durable = self->head;
    self->target = self->confirmed;
    return s_refresh_first (self);
}

ps_journal_t *ps_journal_open (const ps_journal_config_t *config, char *err, size_t errlen)
{
    ps_journal_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->max_bytes = config->max_bytes;
    self->dir = ps_datadir_open (config->dir, err, errlen);
    if (!self->dir)
        goto err;
    if (s_open_env (self, config) != 0) {
        snprintf (err, errlen, "%s", self->error);
        goto err;
    }
    return self;
err:
    ps_journal_destroy (&self);
    return NULL;
}

void ps_journal_destroy (ps_journal_t **self_p)
{
    ps_journal_t *self = *self_p;
    if (!self)
        return;
    ps_journal_abort (self);
    if (self->rtxn)
        mdb_txn_abort (self->rtxn);
    if (self->env)
        mdb_env_close (self->env);
    ps_datadir_destroy (&self->dir);
    free (self);
    *self_p = NULL;
}

/* ---- Numbers ------------------------------------------------------------ */

uint64_t ps_journal_id (const ps_journal_t *self)
{
    return self->id;
}

uint64_t ps_journal_head (const ps_journal_t *self)
{
    return self->head;
}

uint64_t ps_journal_durable (const ps_journal_t *self)
{
    return self->durable;
}

uint64_t ps_journal_first (const ps_journal_t *self)
{
    return self->first;
}

uint64_t ps_journal_confirmed (const ps_journal_t *self)
{
    return self->target;
}

size_t ps_journal_max_bytes (const ps_journal_t *self)
{
    return self->max_bytes;
}

static size_t s_pages_bytes (const ps_journal_t *self, MDB_txn *txn)
{
    MDB_stat st;
    if (mdb_stat (txn, self->entries, &st) != 0)
        return 0;
    return (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * self->page;
}

size_t ps_journal_bytes (const ps_journal_t *self)
{
    if (self->txn)
        return s_pages_bytes (self, self->txn);
    MDB_txn *txn;
    if (mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    size_t bytes = s_pages_bytes (self, txn);
    mdb_txn_abort (txn);
    return bytes;
}

static bool s_trim_due (const ps_journal_t *self)
{
    return self->first <= self->durable && self->first <= self->target;
}

bool ps_journal_pending (const ps_journal_t *self)
{
    return self->txn || s_trim_due (self) || self->target != self->confirmed;
}

const char *ps_journal_error (const ps_journal_t *self)
{
    return self->error;
}

/* ---- Writing ------------------------------------------------------------ */

/*  Opens the group if needed. Returns 0, or -1 when it cannot be or a
    write of it failed already. */
/*  Records a failed write of the group (which LMDB then refuses to
    commit). Returns -1. */
static int s_broken (ps_journal_t *self, int rc, const char *what)
{
    self->broken = true;
    return s_fail (self, rc, "%s", what);
}

static int s_begin (ps_journal_t *self)
{
    if (self->broken)
        return -1;
    if (self->txn)
        return 0;
    int rc = mdb_txn_begin (self->env, NULL, 0, &self->txn);
    if (rc != 0) {
        self->txn = NULL;
        return s_fail (self, rc, "cannot begin a write transaction");
    }
    return 0;
}

int ps_journal_append (ps_journal_t *self, const void *frame, size_t size)
{
    if (s_begin (self) != 0)
        return -1;
    /* A page of slack for the key and the node header. */
    if (s_pages_bytes (self, self->txn) + size + self->page > self->max_bytes)
        return 1;
    uint8_t key[8];
    s_be64 (key, self->head + 1);
    MDB_val k = {sizeof key, key}, v = {size, (void *) frame};
    int rc = mdb_put (self->txn, self->entries, &k, &v, MDB_APPEND);
    if (rc != 0)
        return s_broken (self, rc, "cannot append an entry");
    self->head++;
    return 0;
}

int ps_journal_put_producer (ps_journal_t *self, const char *producer, size_t len, uint64_t seq,
                             const void *ack, size_t ack_len)
{
    if (s_begin (self) != 0)
        return -1;
    MDB_val k = {len, (void *) producer}, v = {8 + ack_len, NULL};
    int rc = mdb_put (self->txn, self->producers, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return s_broken (self, rc, "cannot record a producer");
    s_be64 (v.mv_data, seq);
    memcpy ((uint8_t *) v.mv_data + 8, ack, ack_len);
    return 0;
}

int ps_journal_del_producer (ps_journal_t *self, const char *producer, size_t len)
{
    if (s_begin (self) != 0)
        return -1;
    MDB_val k = {len, (void *) producer};
    int rc = mdb_del (self->txn, self->producers, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return s_broken (self, rc, "cannot forget a producer");
    return 0;
}

int ps_journal_put_series (ps_journal_t *self, const char *key, size_t len, const char *currency)
{
    if (s_begin (self) != 0)
        return -1;
    MDB_val k = {len, (void *) key}, v = {3, (void *) currency};
    int rc = mdb_put (self->txn, self->series, &k, &v, 0);
    if (rc != 0)
        return s_broken (self, rc, "cannot record a series' currency");
    return 0;
}

int ps_journal_skip (ps_journal_t *self, uint64_t jseq)
{
    if (jseq <= self->head)
        return 0;
    if (s_begin (self) != 0)
        return -1;
    self->head = jseq;
    return 0;
}

void ps_journal_confirm (ps_journal_t *self, uint64_t jseq)
{
    if (jseq > self->target)
        self->target = jseq;
}

/*  Deletes up to S_TRIM_BATCH committed entries covered by the target, and
    stores the target. */
static int s_trim (ps_journal_t *self)
{
    uint64_t upto = self->target < self->durable ? self->target : self->durable;
    MDB_cursor *cur;
    int rc = mdb_cursor_open (self->txn, self->entries, &cur);
    if (rc != 0)
        return s_broken (self, rc, "cannot open a cursor");
    MDB_val k, v;
    for (int n = 0; n < S_TRIM_BATCH; n++) {
        rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST);
        if (rc != 0 || s_get64 (k.mv_data) > upto)
            break;
        rc = mdb_cursor_del (cur, 0);
        if (rc != 0)
            break;
    }
    mdb_cursor_close (cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return s_broken (self, rc, "cannot delete checkpointed entries");
    if (self->target != self->confirmed &&
        (rc = s_meta_put64 (self, self->txn, "confirmed", self->target)) != 0)
        return s_broken (self, rc, "cannot record compute's checkpoint");
    return 0;
}

int ps_journal_commit (ps_journal_t *self)
{
    if (!ps_journal_pending (self))
        return 0;
    if (s_begin (self) != 0 || s_trim (self) != 0)
        goto fail;
    int rc = 0;
    if (self->head != self->durable &&
        (rc = s_meta_put64 (self, self->txn, "head", self->head)) != 0) {
        s_fail (self, rc, "cannot record the head");
        goto fail;
    }
    rc = mdb_txn_commit (self->txn);
    self->txn = NULL;
    if (rc != 0) {
        s_fail (self, rc, "cannot commit entries up to %" PRIu64, self->head);
        ps_journal_abort (self);
        return -1;
    }
    self->durable = self->head;
    self->confirmed = self->target;
    return s_refresh_first (self);
fail:
    ps_journal_abort (self);
    return -1;
}

void ps_journal_abort (ps_journal_t *self)
{
    if (self->txn)
        mdb_txn_abort (self->txn);
    self->txn = NULL;
    self->broken = false;
    self->head = self->durable;
}

/* ---- Reading ------------------------------------------------------------ */

long ps_journal_read (ps_journal_t *self, uint64_t from, ps_journal_entry_fn *fn, void *arg)
{
    MDB_cursor *cur;
    if (s_read_begin (self, self->entries, &cur) != 0)
        return -1;
    uint8_t key[8];
    s_be64 (key, from);
    MDB_val k = {sizeof key, key}, v;
    long n = 0;
    int rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && fn (arg, s_get64 (k.mv_data), v.mv_data, v.mv_size) == 0) {
        n++;
        rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    s_read_end (self, cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return s_fail (self, rc, "cannot read entries from %" PRIu64, from);
    return n;
}

/*  Walks table DBI of the open read transaction, calling ON_PRODUCER or
    ON_SERIES (whichever is not NULL) per record. Returns the LMDB result
    (MDB_NOTFOUND at the end) or 1 when a callback stopped the walk. */
static int s_walk (ps_journal_t *self, MDB_dbi dbi, ps_journal_producer_fn *on_producer,
                   ps_journal_series_fn *on_series, void *arg)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open (self->rtxn, dbi, &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
        if (v.mv_size < 8 && on_producer)
            rc = MDB_CORRUPTED;
        else if (v.mv_size != 3 && on_series)
            rc = MDB_CORRUPTED;
        else if (on_producer ? on_producer (arg, k.mv_data, k.mv_size, s_get64 (v.mv_data),
                                            (const uint8_t *) v.mv_data + 8, v.mv_size - 8)
                             : on_series (arg, k.mv_data, k.mv_size, v.mv_data))
            rc = 1;
        if (rc != 0)
            break;
    }
    mdb_cursor_close (cur);
    return rc;
}

int ps_journal_load (ps_journal_t *self, ps_journal_producer_fn *on_producer,
                     ps_journal_series_fn *on_series, void *arg)
{
    if (s_read_txn (self) != 0)
        return -1;
    int rc = s_walk (self, self->producers, on_producer, NULL, arg);
    if (rc == MDB_NOTFOUND)
        rc = s_walk (self, self->series, NULL, on_series, arg);
    mdb_txn_reset (self->rtxn);
    if (rc == 1)
        return s_fail (self, 0, "loading the journal was stopped");
    if (rc != MDB_NOTFOUND)
        return s_fail (self, rc, "cannot load producers and series");
    return 0;
}
