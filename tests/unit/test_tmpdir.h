/*  A fresh directory under /tmp for tests that need a data directory,
    removed with everything in it afterwards. */

#ifndef TEST_TMPDIR_H_INCLUDED
#define TEST_TMPDIR_H_INCLUDED

#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* Creates a directory named after NAME into BUF (64 bytes). */
static inline void t_tmpdir_new (char buf[64], const char *name)
{
    snprintf (buf, 64, "/tmp/paystat-%s-XXXXXX", name);
    assert_non_null (mkdtemp (buf));
}

static inline int t_tmpdir_unlink (const char *path, const struct stat *st, int flag,
                                   struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove (path);
}

/* Removes directory PATH and everything in it. */
static inline void t_tmpdir_remove (const char *path)
{
    nftw (path, t_tmpdir_unlink, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
