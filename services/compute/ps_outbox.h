/*  ps_outbox: frames waiting for a socket that would have blocked.

    Compute must never wait in a send: a peer that stops reading (publish
    stopped, or stuck) would hold it there, deaf to signals and to its
    HTTP endpoints. A frame that cannot go at once waits here, in order,
    and is sent again from the poll loop when the socket is writable. The
    caller bounds what waits (compute flushes nothing new while a frame
    waits, so at most one flush's frames are here); ps_outbox_bytes tells
    how much. */

#ifndef PS_OUTBOX_H_INCLUDED
#define PS_OUTBOX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct ps_outbox_t ps_outbox_t;

/*  Sends SIZE bytes of DATA. Returns 0 when sent, 1 when it would block
    (try again later), -1 on an error that a retry would not mend (the
    frame is then dropped). */
typedef int (ps_outbox_send_fn) (void *arg, const void *data, size_t size);

/*  Creates an empty outbox. Returns NULL when out of memory. */
ps_outbox_t *ps_outbox_new (void);

/*  Destroys it with the frames it holds and sets *SELF_P to NULL;
    NULL-safe. */
void ps_outbox_destroy (ps_outbox_t **self_p);

/*  Sends DATA through SEND at once when nothing waits before it, else (or
    when SEND would block) keeps a copy after what waits. Returns 0 (sent
    or kept), or -1 when SEND failed for good or there was no memory for
    the copy (the frame is lost; the caller logs it). */
int ps_outbox_send (ps_outbox_t *self, ps_outbox_send_fn *send, void *arg, const void *data,
                    size_t size);

/*  Sends what waits, in order, until SEND would block. Returns the number
    of frames still waiting; a frame SEND fails for good is dropped and
    counted in ps_outbox_dropped. */
size_t ps_outbox_flush (ps_outbox_t *self, ps_outbox_send_fn *send, void *arg);

/*  Frames and bytes waiting. */
size_t ps_outbox_count (const ps_outbox_t *self);
size_t ps_outbox_bytes (const ps_outbox_t *self);

/*  Frames dropped because SEND failed for good, since creation. */
size_t ps_outbox_dropped (const ps_outbox_t *self);

#endif
