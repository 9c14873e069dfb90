/* fuzz_headers: owns the fuzzing of what http.c reads from response headers that it exposes:
 * the Retry-After value (delta seconds or an HTTP date, http_parse_retry_after) and the
 * status-to-errno mapping (the multipart request body has its own target, fuzz_multipart.c);
 * the other header readers and the error-document reader are static in http.c. Retry-After
 * must come back within [0, cap]. */
#include "fuzz.h"

#include "http.h"

#include <limits.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long caps[] = {60, 1, 0, -1, 3600, LONG_MAX, LONG_MIN};
    char *s = fuzz_strndup(data, size);
    long status = 0;
    int e;

    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        long cap = caps[i] > 0 ? caps[i] : 60;
        long r = http_parse_retry_after(s, caps[i]);

        FUZZ_CHECK(r >= 0 && r <= cap);
    }
    FUZZ_CHECK(http_parse_retry_after(NULL, 60) == 1);

    memcpy(&status, data, size < sizeof(status) ? size : sizeof(status));
    e = http_status_errno(status);
    FUZZ_CHECK(status < 400 ? e == 0 : e > 0);
    e = http_status_errno(strtol(s, NULL, 10));
    FUZZ_CHECK(e >= 0);
    free(s);
    return 0;
}
