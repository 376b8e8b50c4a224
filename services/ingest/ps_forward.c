/*  ps_forward: the pump towards compute; see ps_forward.h. */

#include "ps_forward.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "ps_log.h"
#include "ps_proto.h"

struct ps_forward_t {
    ps_forward_config_t config;
    ps_journal_t *journal;
    ps_delivery_t *delivery;
    ps_forward_send_fn *send;
    ps_forward_dropped_fn *dropped;
    void *arg;
    bool blocked; /* the link is full: wait until it is writable */
    msgpack_sbuffer out;
};

ps_forward_t *ps_forward_new (const ps_forward_config_t *config, ps_journal_t *journal,
                              ps_forward_send_fn *send, ps_forward_dropped_fn *dropped, void *arg)
{
    ps_forward_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->journal = journal;
    self->send = send;
    self->dropped = dropped;
    self->arg = arg;
    msgpack_sbuffer_init (&self->out);
    ps_delivery_config_t dconfig = {ps_journal_id (journal), config->window, config->sync_ms};
    if (!(self->delivery = ps_delivery_new (&dconfig)))
        ps_forward_destroy (&self);
    return self;
}

void ps_forward_destroy (ps_forward_t **self_p)
{
    ps_forward_t *self = *self_p;
    if (!self)
        return;
    ps_delivery_destroy (&self->delivery);
    msgpack_sbuffer_destroy (&self->out);
    free (self);
    *self_p = NULL;
}

static void s_hello (ps_forward_t *self, int64_t now)
{
    ps_hello_t hello = {"", ps_journal_id (self->journal), ps_journal_first (self->journal),
                        ps_journal_durable (self->journal)};
    snprintf (hello.ingest, sizeof hello.ingest, "%s", self->config.ingest);
    msgpack_sbuffer_clear (&self->out);
    /* A hello lost to a full link is no loss: the next one is due in
       sync_ms, and one already queued says the same. */
    if (ps_control_hello_encode (&hello, &self->out) == 0 &&
        self->send (self->arg, self->out.data, self->out.size) == 0)
        ps_debug ("hello", "first=%" PRIu64 " head=%" PRIu64, hello.first, hello.head);
    ps_delivery_hello_sent (self->delivery, now);
}

/*  Says loudly that delivery is stuck: a new refusal (NEWS) as an error,
    its repeats (one per resend) throttled. */
static void s_log_stuck (ps_forward_t *self, bool news)
{
    const char *why;
    uint64_t jseq = ps_delivery_stuck (self->delivery, &why);
    if (news)
        ps_error ("journal entry refused; compute gets nothing after it until it is fixed "
                  "(docs/durability.md)",
                  "ingest=%s jseq=%" PRIu64 " reason=\"%s\"", self->config.ingest, jseq, why);
    else
        ps_log_every (PS_LOG_ERROR, 10, "journal entry still refused; compute is stuck",
                      "ingest=%s jseq=%" PRIu64 " reason=\"%s\"", self->config.ingest, jseq, why);
}

/*  Journal reader: sends entry JSEQ unless it may not go. Returns 0 to
    read on, 1 to stop. */
static int s_send_entry (void *arg, uint64_t jseq, const void *frame, size_t size)
{
    ps_forward_t *self = arg;
    if (ps_delivery_next (self->delivery, ps_journal_first (self->journal),
                          ps_journal_durable (self->journal)) == 0)
        return 1;
    if (size > self->config.max_entry) {
        /* Written by a build that accepted more: compute would refuse it. */
        ps_error_t e;
        ps_error_limit (&e, "entry", size, self->config.max_entry);
        s_log_stuck (self, ps_delivery_refused (self->delivery, jseq, e.reason));
        ps_delivery_sent (self->delivery, jseq);
        return 1;
    }
    if (self->send (self->arg, frame, size) != 0) {
        self->blocked = errno == EAGAIN;
        if (!self->blocked)
            ps_error ("cannot send to compute", "error=\"%s\"", zmq_strerror (errno));
        return 1;
    }
    ps_delivery_sent (self->delivery, jseq);
    return 0;
}

void ps_forward_pump (ps_forward_t *self, int64_t now_ms)
{
    if (self->blocked)
        return;
    uint64_t next = ps_delivery_next (self->delivery, ps_journal_first (self->journal),
                                      ps_journal_durable (self->journal));
    if (next && ps_journal_read (self->journal, next, s_send_entry, self) < 0)
        ps_error ("cannot read the journal", "reason=\"%s\"", ps_journal_error (self->journal));
    if (ps_delivery_hello_due (self->delivery, now_ms))
        s_hello (self, now_ms);
}

int64_t ps_forward_wait (const ps_forward_t *self, int64_t now_ms)
{
    return ps_delivery_hello_wait (self->delivery, now_ms);
}

bool ps_forward_blocked (const ps_forward_t *self)
{
    return self->blocked;
}

void ps_forward_writable (ps_forward_t *self)
{
    self->blocked = false;
}

static void s_on_position (ps_forward_t *self, const ps_position_t *pos,
                           const ps_refusal_t *refusal, int64_t now)
{
    if (!ps_delivery_position (self->delivery, pos, now)) {
        ps_debug ("ignored a position about another journal", "journal=%" PRIu64, pos->journal);
        return;
    }
    uint64_t durable = ps_journal_durable (self->journal);
    if (pos->resend && pos->applied > durable) {
        /* The journal lost its tail (restored from an old copy?): number
           new entries after what compute has, or it would skip them. */
        ps_error ("compute has applied entries this journal does not hold",
                  "applied=%" PRIu64 " head=%" PRIu64, pos->applied, durable);
        /* Uncommitted entries got numbers compute has: take them back. */
        if (ps_journal_head (self->journal) > durable) {
            ps_journal_abort (self->journal);
            self->dropped (self->arg, "ingest renumbers its journal; retry later");
        }
        ps_journal_skip (self->journal, pos->applied);
    }
    if (pos->resend)
        ps_debug ("compute asks to resend", "from=%" PRIu64, pos->applied + 1);
    if (refusal->jseq)
        s_log_stuck (self, ps_delivery_refused (self->delivery, refusal->jseq, refusal->reason));
    ps_journal_confirm (self->journal, ps_delivery_ckpt (self->delivery));
}

void ps_forward_receive (ps_forward_t *self, const void *data, size_t size, bool more,
                         int64_t now_ms)
{
    ps_position_t pos;
    ps_refusal_t refusal;
    ps_error_t err, answer;
    bool refused = ps_peek_type (data, size) == PS_PEEK_ERROR;
    if (more)
        ps_log_every (PS_LOG_WARN, 10, "ignored a multipart frame from compute", NULL);
    else if (!refused &&
             ps_control_position_decode_refusal (data, size, &pos, &refusal, &err) == 0)
        s_on_position (self, &pos, &refusal, now_ms);
    else if (refused && ps_error_refusal_decode (data, size, &answer, &err) == 0)
        ps_log_every (PS_LOG_ERROR, 10,
                      "compute refuses this ingest's journal: nothing of it is applied",
                      "journal=%" PRIu64 " code=%s reason=\"%s\"", ps_journal_id (self->journal),
                      ps_error_code_name (answer.code), answer.reason);
    else
        ps_log_every (PS_LOG_WARN, 10, "ignored a malformed position", "reason=\"%s\"",
                      err.reason);
}

bool ps_forward_drained (const ps_forward_t *self)
{
    return ps_delivery_applied (self->delivery) >= ps_journal_durable (self->journal);
}

const ps_delivery_t *ps_forward_delivery (const ps_forward_t *self)
{
    return self->delivery;
}
