/* fuzz.h: shared by the fuzz targets (tests/fuzz/fuzz_*.c) and the replay driver. Declares the
 * libFuzzer entry point and FUZZ_CHECK, which turns a broken contract of the code under test
 * into an abort that libFuzzer and the replay driver report as a crash. */
#ifndef QEXTFS_FUZZ_H
#define QEXTFS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* From the sanitizer runtime when linked in: prints "SUMMARY: msg" where sanitizer reports go,
 * which under libFuzzer's -close_fd_mask=2 is the only place still seen. */
void __sanitizer_report_error_summary(const char *msg) __attribute__((weak));

static inline void fuzz_fail(const char *file, int line, const char *cond)
{
    char msg[512];

    snprintf(msg, sizeof(msg), "qextfs fuzz: %s:%d: check failed: %s", file, line, cond);
    fprintf(stderr, "%s\n", msg);
    if (__sanitizer_report_error_summary)
        __sanitizer_report_error_summary(msg);
    abort();
}

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

/* A NUL-terminated malloc'd copy of data (which libFuzzer does not terminate). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    FUZZ_CHECK(s != NULL);
    for (size_t i = 0; i < size; i++)
        s[i] = (char)data[i];
    s[size] = '\0';
    return s;
}

#endif
