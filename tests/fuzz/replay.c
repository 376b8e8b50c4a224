/*  Runs a fuzz target once over every file of the directories (or files)
    given, without libFuzzer: the committed corpus, regression inputs
    included, becomes an ordinary test of every build (gcc, ASan). */

#include "fuzz.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

static int s_run_file (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        perror (path);
        return -1;
    }
    struct stat st;
    if (fstat (fileno (f), &st) != 0) {
        perror (path);
        fclose (f);
        return -1;
    }
    size_t size = (size_t) st.st_size;
    /* malloc'd to the exact size, so ASan catches a read past the end. */
    uint8_t *data = malloc (size ? size : 1);
    int rc = -1;
    if (data && fread (data, 1, size, f) == size) {
        LLVMFuzzerTestOneInput (data, size);
        rc = 0;
    } else
        fprintf (stderr, "%s: cannot read\n", path);
    free (data);
    fclose (f);
    return rc;
}

int main (int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        DIR *dir = opendir (argv[i]);
        if (!dir) {
            if (s_run_file (argv[i]) != 0)
                return 1;
            files++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir (dir))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (s_run_file (path) != 0) {
                closedir (dir);
                return 1;
            }
            files++;
        }
        closedir (dir);
    }
    printf ("%d inputs replayed\n", files);
    return files > 0 ? 0 : 1;
}
