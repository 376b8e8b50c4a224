/*  ps_access: ingest's access file, read from real files: grants, '*',
    comments, and every malformed line refused with its file and line. */

#include "test_tmpdir.h"

#include "ps_access.h"

typedef struct {
    char dir[64];
    char path[128];
} s_fixture_t;

static int s_setup (void **state)
{
    static s_fixture_t f;
    memset (&f, 0, sizeof f);
    t_tmpdir_new (f.dir, "access");
    snprintf (f.path, sizeof f.path, "%s/access", f.dir);
    *state = &f;
    return 0;
}

static int s_teardown (void **state)
{
    s_fixture_t *f = *state;
    t_tmpdir_remove (f->dir);
    return 0;
}

/*  Writes TEXT as the access file and loads it; ERR gets the reason. */
static ps_access_t *s_load (s_fixture_t *f, const char *text, char *err, size_t errlen)
{
    FILE *file = fopen (f->path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
    err[0] = '\0';
    return ps_access_load (f->path, err, errlen);
}

static void test_grants (void **state)
{
    char err[512];
    ps_access_t *access = s_load (*state,
                                  "# who writes what\n"
                                  "\n"
                                  "p1 CMI BAM   # two sources\n"
                                  "  p-2.x\tCMI\r\n"
                                  "admin *\n"
                                  "both CMI *\n",
                                  err, sizeof err);
    assert_non_null (access);
    assert_int_equal (ps_access_size (access), 4);
    assert_true (ps_access_allows (access, "p1", "CMI"));
    assert_true (ps_access_allows (access, "p1", "BAM"));
    assert_false (ps_access_allows (access, "p1", "CIH"));
    /* Sources are case-sensitive, as on the wire. */
    assert_false (ps_access_allows (access, "p1", "cmi"));
    assert_true (ps_access_allows (access, "p-2.x", "CMI"));
    assert_false (ps_access_allows (access, "p-2.x", "BAM"));
    assert_true (ps_access_allows (access, "admin", "ANY_source.1"));
    assert_true (ps_access_allows (access, "both", "BAM"));
    /* A key not listed may write nothing, nor may a prefix of a listed one. */
    assert_false (ps_access_allows (access, "p3", "CMI"));
    assert_false (ps_access_allows (access, "p", "CMI"));
    /* One key's grant says nothing about a name that merely concatenates. */
    assert_false (ps_access_allows (access, "p1C", "MI"));
    ps_access_destroy (&access);
    assert_null (access);
    ps_access_destroy (&access);
}

static void test_empty_file_grants_nothing (void **state)
{
    char err[512];
    ps_access_t *access = s_load (*state, "# nobody yet\n", err, sizeof err);
    assert_non_null (access);
    assert_int_equal (ps_access_size (access), 0);
    assert_false (ps_access_allows (access, "p1", "CMI"));
    ps_access_destroy (&access);
}

static void test_bad_lines (void **state)
{
    s_fixture_t *f = *state;
    static const struct {
        const char *text;
        int line;
        const char *why;
    } cases[] = {
        {"p1 CMI\np2 BAM\np1 CIH\n", 3, "key p1 is listed twice (first on line 1)"},
        {"p1\n", 1, "key p1 has no sources"},
        {"p1   # CMI\n", 1, "key p1 has no sources"},
        {"p1 CMI\np2 C/MI\n", 2, "'C/MI' is neither a source name"},
        {"p1 _CMI\n", 1, "'_CMI' is neither a source name"},
        {"p1 ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456\n", 1, "is neither a source name"},
        {"p1 **\n", 1, "'**' is neither a source name"},
        {"p:1 CMI\n", 1, "'p:1' is not a key name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[512], where[160];
        ps_access_t *access = s_load (f, cases[i].text, err, sizeof err);
        if (access)
            fail_msg ("case %zu loaded", i);
        snprintf (where, sizeof where, "%s:%d: ", f->path, cases[i].line);
        if (strncmp (err, where, strlen (where)) != 0 || !strstr (err, cases[i].why))
            fail_msg ("case %zu: got \"%s\"", i, err);
    }
}

static void test_missing_file (void **state)
{
    s_fixture_t *f = *state;
    char err[512], path[160];
    snprintf (path, sizeof path, "%s/none", f->dir);
    assert_null (ps_access_load (path, err, sizeof err));
    assert_non_null (strstr (err, path));
    assert_non_null (strstr (err, "No such file"));
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_grants, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_empty_file_grants_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_lines, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_missing_file, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
