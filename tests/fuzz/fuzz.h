/*  Shared by the fuzz targets: the libFuzzer entry point and a check that
    aborts (so libFuzzer reports it) whatever the build type, since a
    property violated on fuzzed input is a bug like a crash. */

#ifndef PS_FUZZ_H_INCLUDED
#define PS_FUZZ_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond);         \
            abort ();                                                                              \
        }                                                                                          \
    } while (0)

#endif
