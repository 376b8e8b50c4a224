/*  ps_upstream: compute's positions in each ingest's journal; see
    ps_upstream.h. */

#include "ps_upstream.h"
#include "ps_clock.h"
#include "ps_log.h"
#include "ps_strmap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A ZeroMQ routing identity is at most 255 bytes. */
#define S_ROUTE_MAX 255

/* Frames of new ingest ids dropped while the table is full are logged at
   most this often: a peer inventing ids must not flood the log either. */
#define S_FULL_LOG_MS 1000

typedef struct {
    char id[PS_ID_MAX + 1];
    uint64_t journal;
    uint64_t applied;
    uint64_t ckpt;
    uint64_t nacked; /* applied + 1 when a resend was asked for it; 0 otherwise */
    uint8_t route[S_ROUTE_MAX];
    size_t route_len;
    bool established;    /* an entry was applied, or it came from a checkpoint */
    bool said_hello;     /* since compute started */
    uint64_t hello_head; /* head of its journal at its latest hello */
    uint64_t heard;      /* when it was last heard from, in frames */
    int64_t route_ms;    /* ps_clock_ms of the last frame accepted from ROUTE */
} s_ingest_t;

struct ps_upstream_t {
    ps_strmap_t *ingests; /* id -> s_ingest_t */
    ps_strmap_t *accepts; /* id -> uint64_t: the instance the operator accepts for it */
    uint64_t frames;      /* frames judged, the clock of s_ingest_t.heard */
    int64_t full_logged;  /* ps_clock_ms of the last "table full" log */
    uint64_t full_drops;  /* frames dropped for want of room since then */
    int64_t live_ms;      /* how long a route counts as live after its last frame */
    uint64_t refused[PS_UPSTREAM_REFUSED__N];
    ps_upstream_refusal_t refusal; /* the latest */
    int64_t refused_ms;            /* ps_clock_ms of the latest; 0 before the first */
};

ps_upstream_t *ps_upstream_new (void)
{
    ps_upstream_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->live_ms = PS_UPSTREAM_LIVE_MS;
    self->ingests = ps_strmap_new ();
    self->accepts = ps_strmap_new ();
    if (!self->ingests || !self->accepts)
        ps_upstream_destroy (&self);
    return self;
}

/* Frees every value of MAP, then MAP itself. */
static void s_map_destroy (ps_strmap_t **map_p)
{
    if (*map_p) {
        size_t cursor = 0;
        const char *key;
        size_t len;
        void *value;
        while (ps_strmap_next (*map_p, &cursor, &key, &len, &value))
            free (value);
    }
    ps_strmap_destroy (map_p);
}

void ps_upstream_destroy (ps_upstream_t **self_p)
{
    ps_upstream_t *self = *self_p;
    if (!self)
        return;
    s_map_destroy (&self->ingests);
    s_map_destroy (&self->accepts);
    free (self);
    *self_p = NULL;
}

static s_ingest_t *s_find (const ps_upstream_t *self, const char *id)
{
    void **slot = ps_strmap_get (self->ingests, id, strlen (id));
    return slot ? *slot : NULL;
}

/*  Makes room for one more record by forgetting the least recently heard
    one that is not established. Returns 0, or -1 when every record is. */
static int s_make_room (ps_upstream_t *self)
{
    s_ingest_t *victim = NULL;
    size_t cursor = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (self->ingests, &cursor, &key, &len, &value)) {
        s_ingest_t *in = value;
        if (!in->established && (!victim || in->heard < victim->heard))
            victim = in;
    }
    if (!victim)
        return -1;
    ps_debug ("forgot an ingest that never had an entry applied, for a new one", "ingest=%s",
              victim->id);
    free (ps_strmap_remove (self->ingests, victim->id, strlen (victim->id)));
    return 0;
}

static void s_log_full (ps_upstream_t *self, const char *id)
{
    self->full_drops++;
    int64_t now = ps_clock_ms ();
    if (self->full_logged && now - self->full_logged < S_FULL_LOG_MS)
        return;
    ps_warn ("too many ingest instances; dropped frames of a new one",
             "ingest=%s max=%d dropped=%" PRIu64, id, PS_UPSTREAM_MAX, self->full_drops);
    self->full_logged = now;
    self->full_drops = 0;
}

/*  Returns INGEST's record, created for JOURNAL when absent; when the
    table is full, in place of a record not established. Returns NULL,
    logged, when there is no room or no memory. UNBOUNDED: for records
    read from a checkpoint, which a bounded table wrote. */
static s_ingest_t *s_get (ps_upstream_t *self, const char *id, uint64_t journal, bool unbounded)
{
    s_ingest_t *in = s_find (self, id);
    if (in)
        return in;
    if (!unbounded && ps_strmap_size (self->ingests) >= PS_UPSTREAM_MAX &&
        s_make_room (self) != 0) {
        s_log_full (self, id);
        return NULL;
    }
    in = calloc (1, sizeof *in);
    bool inserted;
    void **slot = in ? ps_strmap_put (self->ingests, id, strlen (id), &inserted) : NULL;
    if (!slot) {
        free (in);
        ps_error ("out of memory adding an ingest", "ingest=%s", id);
        return NULL;
    }
    snprintf (in->id, sizeof in->id, "%s", id);
    in->journal = journal;
    *slot = in;
    return in;
}

const char *ps_upstream_reason_name (ps_upstream_reason_t reason)
{
    return reason == PS_UPSTREAM_REFUSED_DUPLICATE ? "duplicate" : "journal";
}

/*  Records and logs (throttled: any peer can send these as fast as it
    likes) the refusal of JOURNAL for IN. */
static void s_refuse (ps_upstream_t *self, const s_ingest_t *in, uint64_t journal,
                      ps_upstream_reason_t reason)
{
    self->refused[reason]++;
    self->refused_ms = ps_clock_ms ();
    ps_upstream_refusal_t *r = &self->refusal;
    snprintf (r->ingest, sizeof r->ingest, "%s", in->id);
    r->known = in->journal;
    r->offered = journal;
    r->reason = reason;
    snprintf (r->text, sizeof r->text,
              "refused journal %" PRIu64 " of ingest %s: compute follows its journal %" PRIu64
              " (%s)",
              journal, in->id, in->journal,
              reason == PS_UPSTREAM_REFUSED_JOURNAL ? "entries applied" : "live elsewhere");
    if (reason == PS_UPSTREAM_REFUSED_JOURNAL)
        ps_log_every (PS_LOG_ERROR, 10,
                      "refused another journal instance of an ingest compute has applied entries "
                      "of: reading it would count them again. If that ingest's journal was "
                      "recreated on purpose, restart compute with --accept-journal ID=JOURNAL, "
                      "or give the new ingest another --id",
                      "ingest=%s journal=%" PRIu64 " offered=%" PRIu64 " applied=%" PRIu64,
                      in->id, in->journal, journal, in->applied);
    else
        ps_log_every (PS_LOG_ERROR, 10,
                      "refused a second connection speaking for one ingest id with another "
                      "journal instance: two ingests share one --id",
                      "ingest=%s journal=%" PRIu64 " offered=%" PRIu64, in->id, in->journal,
                      journal);
}

/*  Decides whether JOURNAL, from ROUTE, may be read for IN. Returns 0 when
    it is the instance known, or may replace it (the ingest then starts
    over from 0: a recreated journal numbers from 1 again); -1 when it is
    refused (recorded and logged). */
static int s_check_journal (ps_upstream_t *self, s_ingest_t *in, uint64_t journal,
                            const void *route, size_t route_len)
{
    if (in->journal == journal)
        return 0;
    void **accepted = ps_strmap_get (self->accepts, in->id, strlen (in->id));
    int64_t now = ps_clock_ms ();
    bool same_route = in->route_len == route_len && memcmp (in->route, route, route_len) == 0;
    bool live = in->route_len && !same_route && now - in->route_ms < self->live_ms;
    if (accepted && *(uint64_t *) *accepted == journal)
        ps_warn ("ingest's journal replaced as --accept-journal says; reading it from the start",
                 "ingest=%s old_journal=%" PRIu64 " journal=%" PRIu64 " applied_before=%" PRIu64,
                 in->id, in->journal, journal, in->applied);
    else if (in->established) {
        s_refuse (self, in, journal, PS_UPSTREAM_REFUSED_JOURNAL);
        return -1;
    } else if (live) {
        s_refuse (self, in, journal, PS_UPSTREAM_REFUSED_DUPLICATE);
        return -1;
    } else
        /* Nothing of the old instance was applied: nothing to count twice. */
        ps_info ("ingest names another journal before compute applied any of the first; "
                 "following the new one",
                 "ingest=%s old_journal=%" PRIu64 " journal=%" PRIu64, in->id, in->journal,
                 journal);
    in->journal = journal;
    in->applied = in->ckpt = in->nacked = 0;
    in->established = false;
    return 0;
}

static void s_route (s_ingest_t *in, const void *route, size_t len)
{
    if (len > S_ROUTE_MAX)
        len = S_ROUTE_MAX;
    memcpy (in->route, route, len);
    in->route_len = len;
    in->route_ms = ps_clock_ms ();
}

int ps_upstream_accept (ps_upstream_t *self, const char *ingest, uint64_t journal)
{
    bool inserted;
    void **slot = ps_strmap_put (self->accepts, ingest, strlen (ingest), &inserted);
    if (!slot)
        return -1;
    if (inserted && !(*slot = malloc (sizeof (uint64_t)))) {
        ps_strmap_remove (self->accepts, ingest, strlen (ingest));
        return -1;
    }
    *(uint64_t *) *slot = journal;
    return 0;
}

int ps_upstream_accept_parse (ps_upstream_t *self, const char *list, char *err, size_t errlen)
{
    for (const char *item = list; item && *item;) {
        size_t len = strcspn (item, ",");
        const char *eq = memchr (item, '=', len);
        size_t id_len = eq ? (size_t) (eq - item) : len;
        if (!eq || !ps_grammar_id_valid (item, id_len)) {
            snprintf (err, errlen,
                      "'%.*s': expected ID=JOURNAL, ID an ingest id ([A-Za-z0-9_.:-]{1,64})",
                      (int) len, item);
            return -1;
        }
        char id[PS_ID_MAX + 1], *end;
        snprintf (id, sizeof id, "%.*s", (int) id_len, item);
        errno = 0;
        unsigned long long journal = eq[1] >= '0' && eq[1] <= '9' ? strtoull (eq + 1, &end, 10) : 0;
        if (journal == 0 || journal > INT64_MAX || errno || end != item + len) {
            snprintf (err, errlen, "'%.*s': JOURNAL must be a journal instance, 1 .. 2^63-1",
                      (int) len, item);
            return -1;
        }
        if (ps_strmap_get (self->accepts, id, id_len)) {
            snprintf (err, errlen, "'%s' is named twice: one journal is accepted per ingest", id);
            return -1;
        }
        if (ps_upstream_accept (self, id, journal) != 0) {
            snprintf (err, errlen, "out of memory");
            return -1;
        }
        item += len + (item[len] == ',');
    }
    return 0;
}

void ps_upstream_set_live_ms (ps_upstream_t *self, int64_t live_ms)
{
    self->live_ms = live_ms;
}

int ps_upstream_restore (ps_upstream_t *self, const char *ingest, uint64_t journal,
                         uint64_t applied)
{
    s_ingest_t *in = s_get (self, ingest, journal, true);
    if (!in)
        return -1;
    in->journal = journal;
    in->applied = in->ckpt = applied;
    in->established = applied > 0;
    return 0;
}

ps_upstream_verdict_t ps_upstream_check (ps_upstream_t *self, const char *ingest, uint64_t journal,
                                         uint64_t jseq, const void *route, size_t route_len)
{
    s_ingest_t *in = s_get (self, ingest, journal, false);
    if (!in)
        return PS_UPSTREAM_DROP;
    in->heard = ++self->frames;
    if (s_check_journal (self, in, journal, route, route_len) != 0)
        return PS_UPSTREAM_REFUSED;
    s_route (in, route, route_len);
    if (jseq <= in->applied)
        return PS_UPSTREAM_OLD;
    return jseq == in->applied + 1 ? PS_UPSTREAM_APPLY : PS_UPSTREAM_GAP;
}

void ps_upstream_applied (ps_upstream_t *self, const char *ingest, uint64_t jseq)
{
    s_ingest_t *in = s_find (self, ingest);
    if (in) {
        in->applied = jseq;
        in->established = true;
    }
}

bool ps_upstream_want_resend (ps_upstream_t *self, const char *ingest)
{
    s_ingest_t *in = s_find (self, ingest);
    if (!in || in->nacked == in->applied + 1)
        return false;
    in->nacked = in->applied + 1;
    return true;
}

int ps_upstream_hello (ps_upstream_t *self, const ps_hello_t *hello, const void *route,
                       size_t route_len)
{
    s_ingest_t *in = s_get (self, hello->ingest, hello->journal, false);
    if (!in)
        return -1;
    in->heard = ++self->frames;
    if (s_check_journal (self, in, hello->journal, route, route_len) != 0)
        return 1;
    s_route (in, route, route_len);
    in->said_hello = true;
    in->hello_head = hello->head;
    /* A hello is answered with a resend: a new gap may be asked for again. */
    in->nacked = 0;
    if (in->applied + 1 < hello->first) {
        ps_error ("entries of the journal were deleted before compute applied them; skipping "
                  "them (was compute's checkpoint lost?)",
                  "ingest=%s applied=%" PRIu64 " first=%" PRIu64, in->id, in->applied,
                  hello->first);
        in->applied = hello->first - 1;
    }
    if (in->applied > hello->head)
        ps_error ("compute has applied entries the ingest's journal does not hold",
                  "ingest=%s applied=%" PRIu64 " head=%" PRIu64, in->id, in->applied, hello->head);
    return 0;
}

int ps_upstream_position (const ps_upstream_t *self, const char *ingest, bool resend,
                          ps_position_t *pos)
{
    const s_ingest_t *in = s_find (self, ingest);
    if (!in)
        return -1;
    *pos = (ps_position_t){in->journal, in->applied, in->ckpt, resend};
    return 0;
}

bool ps_upstream_changed (const ps_upstream_t *self)
{
    size_t cursor = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (self->ingests, &cursor, &key, &len, &value)) {
        const s_ingest_t *in = value;
        if (in->applied != in->ckpt)
            return true;
    }
    return false;
}

void ps_upstream_checkpointed (ps_upstream_t *self)
{
    size_t cursor = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (self->ingests, &cursor, &key, &len, &value)) {
        s_ingest_t *in = value;
        in->ckpt = in->applied;
    }
}

bool ps_upstream_next (const ps_upstream_t *self, size_t *cursor, const char **ingest,
                       uint64_t *journal, uint64_t *applied, const void **route, size_t *route_len)
{
    const char *key;
    size_t len;
    void *value;
    if (!ps_strmap_next (self->ingests, cursor, &key, &len, &value))
        return false;
    const s_ingest_t *in = value;
    *ingest = in->id;
    *journal = in->journal;
    *applied = in->applied;
    *route = in->route;
    *route_len = in->route_len;
    return true;
}

const ps_upstream_refusal_t *ps_upstream_refusal (const ps_upstream_t *self)
{
    return self->refused_ms ? &self->refusal : NULL;
}

uint64_t ps_upstream_refused (const ps_upstream_t *self, ps_upstream_reason_t reason)
{
    return reason < PS_UPSTREAM_REFUSED__N ? self->refused[reason] : 0;
}

const char *ps_upstream_ready (const ps_upstream_t *self)
{
    if (self->refused_ms && ps_clock_ms () - self->refused_ms < PS_UPSTREAM_REFUSAL_READY_MS)
        return self->refusal.text;
    size_t cursor = 0, known = 0;
    const char *key;
    size_t len;
    void *value;
    while (ps_strmap_next (self->ingests, &cursor, &key, &len, &value)) {
        const s_ingest_t *in = value;
        /* An ingest known from the checkpoint may hold entries compute has
           not seen: only its hello tells. */
        if (!in->said_hello)
            return "waiting for the hello of an ingest it has applied entries of";
        known++;
        if (in->applied < in->hello_head)
            return "replaying the journal";
    }
    return known ? NULL : "waiting for an ingest's hello";
}
