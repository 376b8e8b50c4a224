/*  ps_checkpoint: compute's state on disk; see ps_checkpoint.h. */

#include "ps_checkpoint.h"
#include "ps_clock.h"
#include "ps_msgpack.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAGIC   "PSCKPT\0\n"
#define S_VERSION 1
#define S_HEADER  24
#define S_FILE    "checkpoint"
#define S_TMP     "checkpoint.tmp"
/* Bits of a cell record's "has". */
#define S_HAS_COUNT  1
#define S_HAS_AMOUNT 2

static int s_fail (char *err, size_t errlen, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int s_fail (char *err, size_t errlen, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (err, errlen, fmt, args);
    va_end (args);
    return -1;
}

/*  CRC-32 as zlib computes it (IEEE polynomial, reflected), continuing
    from CRC (0 to start). */
static uint32_t s_crc32 (uint32_t crc, const void *data, size_t len)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    const uint8_t *p = data;
    crc = ~crc;
    while (len--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void s_put_be (uint8_t *out, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t) v;
}

static uint64_t s_get_be (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- Saving ------------------------------------------------------------- */

/* The packer's many small writes are gathered here, so the CRC and stdio
   see few large ones (the checkpoint writes the whole store). */
#define S_WRITE_BUF (64 * 1024)

typedef struct {
    FILE *f;
    uint32_t crc;
    uint64_t len;
    int error; /* errno of the first failed write */
    size_t used;
    char buf[S_WRITE_BUF];
} s_writer_t;

/* Writes out what W gathered. Returns 0, or -1 with W->error set. */
static int s_flush (s_writer_t *w)
{
    if (w->error)
        return -1;
    if (w->used && fwrite (w->buf, 1, w->used, w->f) != w->used) {
        w->error = errno ? errno : EIO;
        return -1;
    }
    w->crc = s_crc32 (w->crc, w->buf, w->used);
    w->len += w->used;
    w->used = 0;
    return 0;
}

static int s_write (void *data, const char *buf, size_t len)
{
    s_writer_t *w = data;
    while (len) {
        if (w->used == sizeof w->buf && s_flush (w) != 0)
            return -1;
        size_t n = sizeof w->buf - w->used;
        n = n < len ? n : len;
        memcpy (w->buf + w->used, buf, n);
        w->used += n;
        buf += n;
        len -= n;
    }
    return w->error ? -1 : 0;
}

static void s_pack_dims (msgpack_packer *pk, const ps_cells_t *cells, const ps_key_t *key)
{
    ps_dim_t dims[PS_MAX_DIMS];
    int n = ps_cells_dims (cells, key, dims);
    msgpack_pack_array (pk, (size_t) n);
    for (int i = 0; i < n; i++) {
        char token[PS_DIM_NAME_MAX + 1 + PS_DIM_VALUE_MAX + 1];
        snprintf (token, sizeof token, "%.*s=%.*s", PS_DIM_NAME_MAX, dims[i].name, PS_DIM_VALUE_MAX,
                  dims[i].value);
        ps_msgpack_pack_cstr (pk, token);
    }
}

static void s_pack_header (msgpack_packer *pk, const ps_upstream_t *upstream, uint32_t nseries,
                           uint32_t ncells)
{
    size_t ningests = 0, cursor = 0;
    const char *id;
    uint64_t journal, applied;
    const void *route;
    size_t route_len;
    while (ps_upstream_next (upstream, &cursor, &id, &journal, &applied, &route, &route_len))
        ningests++;
    msgpack_pack_map (pk, 5);
    ps_msgpack_pack_cstr (pk, "v");
    msgpack_pack_uint32 (pk, S_VERSION);
    ps_msgpack_pack_cstr (pk, "saved_us");
    msgpack_pack_int64 (pk, ps_wall_us ());
    ps_msgpack_pack_cstr (pk, "series");
    msgpack_pack_uint32 (pk, nseries);
    ps_msgpack_pack_cstr (pk, "cells");
    msgpack_pack_uint32 (pk, ncells);
    ps_msgpack_pack_cstr (pk, "ingests");
    msgpack_pack_array (pk, ningests);
    for (cursor = 0;
         ps_upstream_next (upstream, &cursor, &id, &journal, &applied, &route, &route_len);) {
        msgpack_pack_array (pk, 3);
        ps_msgpack_pack_cstr (pk, id);
        msgpack_pack_uint64 (pk, journal);
        msgpack_pack_uint64 (pk, applied);
    }
}

static void s_pack_state (msgpack_packer *pk, const ps_cells_t *cells,
                          const ps_upstream_t *upstream, ps_checkpoint_stats_t *stats)
{
    uint32_t nseries = ps_cells_series_count (cells), ncells = ps_cells_count (cells);
    stats->series = stats->cells = 0;
    for (uint32_t id = 1; id <= nseries; id++)
        stats->series += ps_cells_series_at (cells, id)->currency != 0;
    for (uint32_t id = 1; id <= ncells; id++)
        stats->cells += (ps_cells_at (cells, id)->flags & PS_CELL_REPORTED) != 0;
    s_pack_header (pk, upstream, stats->series, stats->cells);

    for (uint32_t id = 1; id <= nseries; id++) {
        const ps_series_t *s = ps_cells_series_at (cells, id);
        if (!s->currency)
            continue;
        char code[PS_CURRENCY_LEN + 1];
        ps_currency_unpack (s->currency, code);
        msgpack_pack_array (pk, 3);
        ps_msgpack_pack_cstr (pk, ps_cells_source_name (cells, s->key.source));
        s_pack_dims (pk, cells, &s->key);
        ps_msgpack_pack_cstr (pk, code);
    }
    for (uint32_t id = 1; id <= ncells; id++) {
        const ps_cell_t *c = ps_cells_at (cells, id);
        if (!(c->flags & PS_CELL_REPORTED))
            continue;
        char period[PS_PERIOD_STRLEN], code[PS_CURRENCY_LEN + 1];
        ps_period_t p = ps_period_unpack (c->key.period);
        ps_period_format (&p, period);
        ps_cells_series_currency (cells, &c->key, code);
        msgpack_pack_array (pk, 7);
        ps_msgpack_pack_cstr (pk, ps_cells_source_name (cells, c->key.source));
        ps_msgpack_pack_cstr (pk, period);
        s_pack_dims (pk, cells, &c->key);
        msgpack_pack_uint8 (pk, (uint8_t) ((c->flags & PS_CELL_HAS_COUNT ? S_HAS_COUNT : 0) |
                                           (c->flags & PS_CELL_HAS_AMOUNT ? S_HAS_AMOUNT : 0)));
        msgpack_pack_int64 (pk, c->rep_count);
        msgpack_pack_int64 (pk, c->rep_amount);
        ps_msgpack_pack_cstr (pk, code);
    }
}

/*  Writes the header in front of the payload and makes the file durable.
    Returns 0, or -1 with W->error set. */
static int s_finish (s_writer_t *w)
{
    if (s_flush (w) != 0)
        return -1;
    uint8_t header[S_HEADER];
    memcpy (header, S_MAGIC, 8);
    s_put_be (header + 8, S_VERSION, 4);
    s_put_be (header + 12, w->crc, 4);
    s_put_be (header + 16, w->len, 8);
    if (fflush (w->f) != 0 || fseek (w->f, 0, SEEK_SET) != 0 ||
        fwrite (header, 1, sizeof header, w->f) != sizeof header || fflush (w->f) != 0 ||
        fsync (fileno (w->f)) != 0) {
        w->error = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

int ps_checkpoint_save (const ps_datadir_t *dir, const ps_engine_t *engine,
                        const ps_upstream_t *upstream, ps_checkpoint_stats_t *stats, char *err,
                        size_t errlen)
{
    char path[4096], tmp[4096];
    if (ps_datadir_file (dir, S_FILE, path, sizeof path) != 0 ||
        ps_datadir_file (dir, S_TMP, tmp, sizeof tmp) != 0)
        return s_fail (err, errlen, "data directory path too long");
    ps_checkpoint_stats_t local;
    stats = stats ? stats : &local;
    s_writer_t *w = malloc (sizeof *w);
    if (!w)
        return s_fail (err, errlen, "out of memory");
    *w = (s_writer_t){.f = fopen (tmp, "wb")};
    if (!w->f) {
        free (w);
        return s_fail (err, errlen, "cannot create %s: %s", tmp, strerror (errno));
    }
    uint8_t placeholder[S_HEADER] = {0};
    if (fwrite (placeholder, 1, sizeof placeholder, w->f) != sizeof placeholder)
        w->error = errno ? errno : EIO;
    msgpack_packer pk;
    msgpack_packer_init (&pk, w, s_write);
    if (!w->error)
        s_pack_state (&pk, ps_engine_cells (engine), upstream, stats);
    if (!w->error)
        s_finish (w);
    if (fclose (w->f) != 0 && !w->error)
        w->error = errno ? errno : EIO;
    int error = w->error;
    uint64_t len = w->len;
    free (w);
    if (error) {
        unlink (tmp);
        return s_fail (err, errlen, "cannot write %s: %s", tmp, strerror (error));
    }
    if (rename (tmp, path) != 0) {
        int e = errno;
        unlink (tmp);
        return s_fail (err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror (e));
    }
    if (ps_datadir_sync (dir) != 0)
        return s_fail (err, errlen, "cannot flush directory %s: %s", ps_datadir_path (dir),
                       strerror (errno));
    stats->bytes = S_HEADER + len;
    return 0;
}

/* ---- Loading ------------------------------------------------------------ */

typedef struct {
    const char *path;
    const uint8_t *data;
    size_t len;
    size_t off;
    uint64_t record; /* 0 = the header map */
    msgpack_zone zone;
    char *err;
    size_t errlen;
} s_reader_t;

static int s_bad (s_reader_t *r, const char *what)
{
    return s_fail (r->err, r->errlen, "%s is corrupted: record %" PRIu64 ": %s", r->path, r->record,
                   what);
}

/*  Reads the next object of the payload into *OBJ. */
static int s_next (s_reader_t *r, msgpack_object *obj)
{
    msgpack_zone_clear (&r->zone);
    size_t off = r->off;
    if (off >= r->len)
        return s_bad (r, "the payload ends before it");
    msgpack_unpack_return rc = msgpack_unpack ((const char *) r->data, r->len, &off, &r->zone, obj);
    if (rc != MSGPACK_UNPACK_SUCCESS && rc != MSGPACK_UNPACK_EXTRA_BYTES)
        return s_bad (r, "not a MessagePack object");
    r->off = off;
    return 0;
}

/*  Copies string O (at most MAX bytes) into BUF. */
static int s_str (s_reader_t *r, const msgpack_object *o, char *buf, size_t max, const char *what)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max)
        return s_bad (r, what);
    memcpy (buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return 0;
}

static int s_uint (s_reader_t *r, const msgpack_object *o, uint64_t max, uint64_t *out,
                   const char *what)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
        return s_bad (r, what);
    *out = o->via.u64;
    return 0;
}

static int s_dims (s_reader_t *r, const msgpack_object *o, ps_dim_t *dims, uint8_t *ndims)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PS_MAX_DIMS)
        return s_bad (r, "dims must be an array of at most 4 tokens");
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        char token[PS_DIM_NAME_MAX + 1 + PS_DIM_VALUE_MAX + 1];
        if (s_str (r, &o->via.array.ptr[i], token, sizeof token - 1, "a dim is not a token") != 0)
            return -1;
        char *eq = strchr (token, '=');
        if (!eq || eq == token || (size_t) (eq - token) > PS_DIM_NAME_MAX || !eq[1] ||
            strlen (eq + 1) > PS_DIM_VALUE_MAX)
            return s_bad (r, "a dim is not name=value");
        *eq = '\0';
        strcpy (dims[i].name, token);
        strcpy (dims[i].value, eq + 1);
    }
    *ndims = (uint8_t) o->via.array.size;
    return 0;
}

static int s_currency (s_reader_t *r, const msgpack_object *o, char code[PS_CURRENCY_LEN + 1],
                       bool empty_ok)
{
    if (s_str (r, o, code, PS_CURRENCY_LEN, "currency is not a string") != 0)
        return -1;
    if (empty_ok && !code[0])
        return 0;
    for (int i = 0; i < PS_CURRENCY_LEN; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return s_bad (r, "currency is not 3 capital letters");
    return 0;
}

/*  Reads the header map: the ingests' positions and the record counts. */
static int s_header (s_reader_t *r, ps_upstream_t *upstream, uint64_t *nseries, uint64_t *ncells)
{
    msgpack_object o;
    if (s_next (r, &o) != 0)
        return -1;
    if (o.type != MSGPACK_OBJECT_MAP)
        return s_bad (r, "the header is not a map");
    const msgpack_object *v = ps_msgpack_map_get (&o, "v"),
                         *series = ps_msgpack_map_get (&o, "series"),
                         *cells = ps_msgpack_map_get (&o, "cells"),
                         *ingests = ps_msgpack_map_get (&o, "ingests");
    uint64_t version = 0;
    if (!v || s_uint (r, v, UINT32_MAX, &version, "v") != 0 || version != S_VERSION)
        return s_bad (r, "the header's v is not 1");
    if (!series || s_uint (r, series, UINT32_MAX, nseries, "series is not a count") != 0 ||
        !cells || s_uint (r, cells, UINT32_MAX, ncells, "cells is not a count") != 0)
        return -1;
    if (!ingests || ingests->type != MSGPACK_OBJECT_ARRAY)
        return s_bad (r, "ingests is not an array");
    for (uint32_t i = 0; i < ingests->via.array.size; i++) {
        const msgpack_object *in = &ingests->via.array.ptr[i];
        char id[PS_ID_MAX + 1];
        uint64_t journal = 0, applied = 0;
        if (in->type != MSGPACK_OBJECT_ARRAY || in->via.array.size != 3)
            return s_bad (r, "an ingest is not [id, journal, applied]");
        if (s_str (r, &in->via.array.ptr[0], id, PS_ID_MAX, "an ingest id is not a string") != 0 ||
            s_uint (r, &in->via.array.ptr[1], INT64_MAX, &journal, "bad journal") != 0 ||
            s_uint (r, &in->via.array.ptr[2], INT64_MAX, &applied, "bad applied jseq") != 0)
            return -1;
        if (ps_upstream_restore (upstream, id, journal, applied) != 0)
            return s_fail (r->err, r->errlen, "out of memory loading %s", r->path);
    }
    return 0;
}

static int s_series_record (s_reader_t *r, ps_engine_t *engine)
{
    msgpack_object o;
    if (s_next (r, &o) != 0)
        return -1;
    if (o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 3)
        return s_bad (r, "a series is not [source, dims, currency]");
    const msgpack_object *f = o.via.array.ptr;
    char source[PS_SOURCE_MAX + 1], code[PS_CURRENCY_LEN + 1];
    ps_dim_t dims[PS_MAX_DIMS];
    uint8_t ndims;
    if (s_str (r, &f[0], source, PS_SOURCE_MAX, "source is not a string") != 0 ||
        s_dims (r, &f[1], dims, &ndims) != 0 || s_currency (r, &f[2], code, false) != 0)
        return -1;
    if (ps_engine_restore_series (engine, source, dims, ndims, code) != 0)
        return s_fail (r->err, r->errlen, "out of memory loading %s", r->path);
    return 0;
}

/*  Applies cell record REP again. A set restores the reported values; a
    measure the cell lacks although it has a value (an add that lacked
    it, see PROTOCOL.md) is dropped by a second, empty add without it. */
static int s_restore_cell (s_reader_t *r, ps_engine_t *engine, ps_report_t *rep, unsigned has)
{
    ps_error_t e;
    bool with_amount = rep->currency[0] != '\0';
    rep->op = PS_OP_SET;
    rep->has_count = true;
    rep->has_amount = with_amount;
    if (ps_engine_apply (engine, rep, &e) != 0)
        return s_fail (r->err, r->errlen, "%s: record %" PRIu64 " cannot be applied: %s", r->path,
                       r->record, e.reason);
    if (has == (S_HAS_COUNT | (with_amount ? S_HAS_AMOUNT : 0u)))
        return 0;
    rep->op = PS_OP_ADD;
    rep->count = rep->amount = 0;
    rep->has_count = has & S_HAS_COUNT;
    rep->has_amount = has & S_HAS_AMOUNT;
    if (ps_engine_apply (engine, rep, &e) != 0)
        return s_fail (r->err, r->errlen, "%s: record %" PRIu64 " cannot be applied: %s", r->path,
                       r->record, e.reason);
    return 0;
}

static int s_cell_record (s_reader_t *r, ps_engine_t *engine)
{
    msgpack_object o;
    if (s_next (r, &o) != 0)
        return -1;
    if (o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 7)
        return s_bad (r, "a cell is not [source, period, dims, has, count, amount, currency]");
    const msgpack_object *f = o.via.array.ptr;
    ps_report_t rep;
    memset (&rep, 0, sizeof rep);
    char period[PS_PERIOD_STRLEN];
    uint64_t has = 0, count = 0, amount = 0;
    const char *why;
    if (s_str (r, &f[0], rep.source, PS_SOURCE_MAX, "source is not a string") != 0 ||
        s_str (r, &f[1], period, PS_PERIOD_STRLEN - 1, "period is not a string") != 0)
        return -1;
    if (ps_period_parse (period, strlen (period), &rep.period, &why) != 0)
        return s_bad (r, "not a period");
    if (s_dims (r, &f[2], rep.dims, &rep.ndims) != 0 ||
        s_uint (r, &f[3], S_HAS_COUNT | S_HAS_AMOUNT, &has, "has is not 0..3") != 0 ||
        s_uint (r, &f[4], INT64_MAX, &count, "count is not an int64 >= 0") != 0 ||
        s_uint (r, &f[5], INT64_MAX, &amount, "amount is not an int64 >= 0") != 0 ||
        s_currency (r, &f[6], rep.currency, true) != 0)
        return -1;
    if (!rep.currency[0] && (amount || (has & S_HAS_AMOUNT)))
        return s_bad (r, "an amount without a currency");
    rep.count = (int64_t) count;
    rep.amount = (int64_t) amount;
    return s_restore_cell (r, engine, &rep, (unsigned) has);
}

/*  Checks the header of the file in R and narrows R to the payload. */
static int s_check_file (s_reader_t *r)
{
    if (r->len < S_HEADER)
        return s_fail (r->err, r->errlen,
                       "%s is truncated: %zu bytes, fewer than its %d-byte header", r->path, r->len,
                       S_HEADER);
    if (memcmp (r->data, S_MAGIC, 8) != 0)
        return s_fail (r->err, r->errlen, "%s is not a paystat checkpoint", r->path);
    uint64_t version = s_get_be (r->data + 8, 4);
    if (version != S_VERSION)
        return s_fail (r->err, r->errlen,
                       "%s has format version %" PRIu64 "; this compute reads version %d", r->path,
                       version, S_VERSION);
    uint64_t want = s_get_be (r->data + 16, 8), have = r->len - S_HEADER;
    if (have < want)
        return s_fail (r->err, r->errlen,
                       "%s is truncated: %" PRIu64 " bytes of data expected, %" PRIu64 " present",
                       r->path, want, have);
    if (have > want)
        return s_fail (r->err, r->errlen, "%s is corrupted: %" PRIu64 " bytes after its data",
                       r->path, have - want);
    if (s_crc32 (0, r->data + S_HEADER, have) != (uint32_t) s_get_be (r->data + 12, 4))
        return s_fail (r->err, r->errlen, "%s is corrupted: checksum mismatch", r->path);
    r->data += S_HEADER;
    r->len = have;
    return 0;
}

/*  Reads PATH whole into *DATA, *LEN. Returns 0, 1 when it does not
    exist, or -1 with ERR. */
static int s_slurp (const char *path, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return errno == ENOENT ? 1
                               : s_fail (err, errlen, "cannot open %s: %s", path, strerror (errno));
    struct stat st;
    if (fstat (fileno (f), &st) != 0) {
        fclose (f);
        return s_fail (err, errlen, "cannot stat %s: %s", path, strerror (errno));
    }
    *len = (size_t) st.st_size;
    *data = malloc (*len ? *len : 1);
    if (!*data) {
        fclose (f);
        return s_fail (err, errlen, "out of memory reading %s (%zu bytes)", path, *len);
    }
    size_t got = fread (*data, 1, *len, f);
    int e = ferror (f) ? errno : 0;
    fclose (f);
    if (got != *len) {
        free (*data);
        return s_fail (err, errlen, "cannot read %s: %s", path, e ? strerror (e) : "short read");
    }
    return 0;
}

int ps_checkpoint_load (const ps_datadir_t *dir, ps_engine_t *engine, ps_upstream_t *upstream,
                        ps_checkpoint_stats_t *stats, char *err, size_t errlen)
{
    char path[4096];
    if (ps_datadir_file (dir, S_FILE, path, sizeof path) != 0)
        return s_fail (err, errlen, "data directory path too long");
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = s_slurp (path, &data, &len, err, errlen);
    if (rc != 0)
        return rc;
    s_reader_t r;
    memset (&r, 0, sizeof r);
    r.path = path;
    r.data = data;
    r.len = len;
    r.err = err;
    r.errlen = errlen;
    uint64_t nseries = 0, ncells = 0;
    rc = -1;
    if (!msgpack_zone_init (&r.zone, 4096)) {
        free (data);
        return s_fail (err, errlen, "out of memory reading %s", path);
    }
    if (s_check_file (&r) != 0 || s_header (&r, upstream, &nseries, &ncells) != 0)
        goto done;
    for (r.record = 1; r.record <= nseries; r.record++)
        if (s_series_record (&r, engine) != 0)
            goto done;
    for (; r.record <= nseries + ncells; r.record++)
        if (s_cell_record (&r, engine) != 0)
            goto done;
    if (r.off != r.len) {
        s_bad (&r, "data follows the last record");
        goto done;
    }
    if (stats)
        *stats = (ps_checkpoint_stats_t){(uint32_t) ncells, (uint32_t) nseries, len};
    rc = 0;
done:
    msgpack_zone_destroy (&r.zone);
    free (data);
    return rc;
}
