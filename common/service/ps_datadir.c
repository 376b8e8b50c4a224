/*  ps_datadir: data directory creation and locking; see ps_datadir.h. */

#include "ps_datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct ps_datadir_t {
    char *path;
    int lock_fd;
};

/*  mkdir -p PATH. Returns 0, or -1 with errno. */
static int s_mkdirs (const char *path)
{
    char buf[4096];
    if (snprintf (buf, sizeof buf, "%s", path) >= (int) sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir (buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir (buf, 0755) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat (buf, &st) != 0)
        return -1;
    if (!S_ISDIR (st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

ps_datadir_t *ps_datadir_open (const char *path, char *err, size_t errlen)
{
    ps_datadir_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->lock_fd = -1;
    self->path = strdup (path);
    if (!self->path) {
        snprintf (err, errlen, "out of memory");
        goto err;
    }
    if (s_mkdirs (path) != 0) {
        snprintf (err, errlen, "cannot create data directory %s: %s", path, strerror (errno));
        goto err;
    }
    char lock[4096];
    if (ps_datadir_file (self, "LOCK", lock, sizeof lock) != 0) {
        snprintf (err, errlen, "data directory path too long: %s", path);
        goto err;
    }
    self->lock_fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (self->lock_fd < 0) {
        snprintf (err, errlen, "cannot open %s: %s", lock, strerror (errno));
        goto err;
    }
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf (err, errlen, "data directory %s is in use by another process (%s)", path,
                  strerror (errno));
        goto err;
    }
    return self;
err:
    ps_datadir_destroy (&self);
    return NULL;
}

void ps_datadir_destroy (ps_datadir_t **self_p)
{
    ps_datadir_t *self = *self_p;
    if (!self)
        return;
    if (self->lock_fd >= 0)
        close (self->lock_fd);
    free (self->path);
    free (self);
    *self_p = NULL;
}

const char *ps_datadir_path (const ps_datadir_t *self)
{
    return self->path;
}

int ps_datadir_file (const ps_datadir_t *self, const char *name, char *buf, size_t size)
{
    int n = snprintf (buf, size, "%s/%s", self->path, name);
    return n >= 0 && (size_t) n < size ? 0 : -1;
}

int ps_datadir_sync (const ps_datadir_t *self)
{
    int fd = open (self->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    int saved = errno;
    close (fd);
    errno = saved;
    return rc;
}
