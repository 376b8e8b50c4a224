/*  ps_outbox: frames waiting for a socket; see ps_outbox.h. */

#include "ps_outbox.h"

#include <stdlib.h>
#include <string.h>

typedef struct s_frame_t {
    struct s_frame_t *next;
    size_t size;
    unsigned char data[];
} s_frame_t;

struct ps_outbox_t {
    s_frame_t *head, *tail;
    size_t count, bytes, dropped;
};

ps_outbox_t *ps_outbox_new (void)
{
    return calloc (1, sizeof (ps_outbox_t));
}

void ps_outbox_destroy (ps_outbox_t **self_p)
{
    ps_outbox_t *self = *self_p;
    if (!self)
        return;
    while (self->head) {
        s_frame_t *next = self->head->next;
        free (self->head);
        self->head = next;
    }
    free (self);
    *self_p = NULL;
}

/* Removes the first frame. */
static void s_pop (ps_outbox_t *self)
{
    s_frame_t *f = self->head;
    self->head = f->next;
    if (!self->head)
        self->tail = NULL;
    self->count--;
    self->bytes -= f->size;
    free (f);
}

int ps_outbox_send (ps_outbox_t *self, ps_outbox_send_fn *send, void *arg, const void *data,
                    size_t size)
{
    if (!self->head) {
        int rc = send (arg, data, size);
        if (rc <= 0)
            return rc;
    }
    s_frame_t *f = malloc (sizeof *f + size);
    if (!f)
        return -1;
    f->next = NULL;
    f->size = size;
    memcpy (f->data, data, size);
    if (self->tail)
        self->tail->next = f;
    else
        self->head = f;
    self->tail = f;
    self->count++;
    self->bytes += size;
    return 0;
}

size_t ps_outbox_flush (ps_outbox_t *self, ps_outbox_send_fn *send, void *arg)
{
    while (self->head) {
        int rc = send (arg, self->head->data, self->head->size);
        if (rc > 0)
            break;
        if (rc < 0)
            self->dropped++;
        s_pop (self);
    }
    return self->count;
}

size_t ps_outbox_count (const ps_outbox_t *self)
{
    return self->count;
}

size_t ps_outbox_bytes (const ps_outbox_t *self)
{
    return self->bytes;
}

size_t ps_outbox_dropped (const ps_outbox_t *self)
{
    return self->dropped;
}
