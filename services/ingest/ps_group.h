/*  ps_group: when the journal's open group of batches is committed.

    An ack may go only once its batch is durable, and every commit costs a
    sync, so accepted batches gather in one group and are committed
    together: as soon as COMMIT_BATCHES acks are held for it, or once
    COMMIT_MS have passed since a commit became due (a group opened, or
    confirmed entries wait for deletion), whichever comes first. While a
    group is full the front door reads no more batches, so a commit never
    waits behind a flood. No sockets and no clock of its own: the caller
    passes the time. */

#ifndef PS_GROUP_H_INCLUDED
#define PS_GROUP_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct ps_group_t ps_group_t;

typedef struct {
    long commit_ms;      /* longest wait before a due commit, >= 0 */
    long commit_batches; /* held acks that make a commit due at once, >= 1 */
} ps_group_config_t;

/*  Creates the policy, with no commit due. Returns NULL when out of
    memory. */
ps_group_t *ps_group_new (const ps_group_config_t *config);

/*  Destroys it and sets *SELF_P to NULL; NULL-safe. */
void ps_group_destroy (ps_group_t **self_p);

/*  One more batch's ack is held until the commit. */
void ps_group_hold (ps_group_t *self);

/*  Acks held for the open group. */
long ps_group_held (const ps_group_t *self);

/*  True when the group holds COMMIT_BATCHES acks: take no more batches
    until it is committed. */
bool ps_group_full (const ps_group_t *self);

/*  True when the commit is due at NOW_MS, PENDING saying whether the
    journal has anything to commit (ps_journal_pending). The first call
    that sees PENDING starts the group's clock. */
bool ps_group_due (ps_group_t *self, bool pending, int64_t now_ms);

/*  Milliseconds from NOW_MS until the commit is due (0: now), or -1 when
    nothing is PENDING: the longest the caller's poll may wait. */
int64_t ps_group_wait (const ps_group_t *self, bool pending, int64_t now_ms);

/*  A commit of the group ran (successful or not: a failed one drops the
    group) and took DURATION_US. The next group starts empty. */
void ps_group_committed (ps_group_t *self, int64_t duration_us);

/*  The group was dropped without a commit (the journal's open group was
    aborted): the next one starts empty. */
void ps_group_closed (ps_group_t *self);

/*  Commits run since start, and how long the last one took (us). */
uint64_t ps_group_commits (const ps_group_t *self);
int64_t ps_group_last_commit_us (const ps_group_t *self);

#endif
