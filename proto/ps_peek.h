/*  ps_peek: which message a frame is, read from its "type" without
    decoding it (PROTOCOL.md 1, "Telling messages apart"). A receiver that
    can get more than one kind of message on a socket peeks first and then
    decodes the frame strictly as that kind, so no message is recognised
    by another kind's decoder failing on it. */

#ifndef PS_PEEK_H_INCLUDED
#define PS_PEEK_H_INCLUDED

#include <stddef.h>

/* The message types of version 1, by their "type" string. */
typedef enum {
    PS_PEEK_NONE = 0,  /* not a map, no string "type" at its top level, or unreadable */
    PS_PEEK_OTHER,     /* a "type" this list does not know */
    PS_PEEK_BATCH,     /* "batch" */
    PS_PEEK_ACK,       /* "ack" */
    PS_PEEK_HELLO,     /* "hello" */
    PS_PEEK_POSITION,  /* "position" */
    PS_PEEK_UPDATE,    /* "update" */
    PS_PEEK_PROGRESS,  /* "progress" */
    PS_PEEK_RESEND,    /* "resend" */
    PS_PEEK_SNAPSHOT,  /* "snapshot": a snapshot or replay request */
    PS_PEEK_END,       /* "end": the end of a snapshot or replay */
    PS_PEEK_ERROR,     /* "error": a refusal */
    PS_PEEK_HEARTBEAT, /* "hb" */
    PS_PEEK_CELL,      /* "cell" */
    PS_PEEK_RATIO,     /* "ratio" */
    PS_PEEK_REJECT,    /* "reject" */
    PS_PEEK_REMOVED,   /* "removed" */
    PS_PEEK__COUNT
} ps_peek_t;

/*  Returns the type of the message in DATA (SIZE bytes): the value of the
    first "type" key of its top-level map, read without allocating and
    never outside DATA. It says what to decode the frame as, not that the
    frame is well formed: the decoder of that type still checks all of it
    (a repeated "type" included). */
ps_peek_t ps_peek_type (const void *data, size_t size);

/* Returns the "type" string of T ("batch", ...), "" for none or other. */
const char *ps_peek_name (ps_peek_t t);

#endif
