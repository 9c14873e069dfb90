/* fuzz_path: owns the fuzzing of path.c: mount path splitting, the archive entry safety rule,
 * percent-encoding both ways, the temporary-name rule and the glob list parser. The input is
 * a first string up to its first NUL byte and a second string after it; the raw bytes, NULs
 * included, go to the functions that take a length. Encoding then decoding must give back the
 * string, and a name called safe must have none of the parts the rule forbids. */
#include "fuzz.h"

#include "path.h"

#include <errno.h>
#include <string.h>

#define GLOB_SPEC_MAX 64 /* fnmatch backtracks: extra globs (a user's option) are kept small */
#define GLOB_STARS_MAX 2
#define GLOB_PATH_MAX 256

/* The rule of path.h written another way: split on '/' and look at each component. */
static void check_safe(const uint8_t *name, size_t len)
{
    size_t i = 0;

    FUZZ_CHECK(len > 0 && name[0] != '/');
    if (name[len - 1] == '/')
        len--;
    FUZZ_CHECK(len > 0);
    while (i <= len) {
        size_t j = i;

        while (j < len && name[j] != '/') {
            FUZZ_CHECK(name[j] != '\0' && name[j] != '\\');
            j++;
        }
        FUZZ_CHECK(j > i && j - i <= PATH_NAME_MAX);
        FUZZ_CHECK(!(j - i == 1 && name[i] == '.'));
        FUZZ_CHECK(!(j - i == 2 && name[i] == '.' && name[i + 1] == '.'));
        i = j + 1;
    }
}

static void check_split(const char *s, size_t extsz)
{
    char ext[PATH_NAME_MAX + 1];
    const char *rest = NULL;
    int rc = path_split(s, ext, extsz, &rest);

    FUZZ_CHECK(rc == 0 || rc == 1 || rc == 2 || rc == -ENAMETOOLONG);
    if (rc < 0)
        return;
    FUZZ_CHECK(rest >= s && rest <= s + strlen(s));
    FUZZ_CHECK(strlen(ext) < extsz && !strchr(ext, '/'));
    FUZZ_CHECK((rc == 0) == (ext[0] == '\0'));
    FUZZ_CHECK((rc == 2) == (*rest != '\0'));
    FUZZ_CHECK(*rest != '/');
}

static void check_roundtrip(const char *s, bool keep_slash)
{
    char *enc = path_url_encode(s, keep_slash), *dec;
    size_t n = 0;

    FUZZ_CHECK(enc != NULL);
    for (const char *p = enc; *p; p++)
        FUZZ_CHECK(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%", *p) ||
            (keep_slash && *p == '/'));
    dec = path_url_decode(enc, strlen(enc), &n);
    FUZZ_CHECK(dec != NULL && n == strlen(s) && strcmp(dec, s) == 0);
    free(dec);
    free(enc);
}

static void check_globs(const char *spec, const char *path)
{
    char **globs = path_globs_parse(spec);
    size_t stars = 0;
    char *p;

    FUZZ_CHECK(globs != NULL);
    for (size_t i = 0; globs[i]; i++)
        FUZZ_CHECK(globs[i][0] && !strchr(globs[i], ':'));
    for (const char *c = spec; *c; c++)
        stars += *c == '*';
    p = strndup(path, GLOB_PATH_MAX);
    FUZZ_CHECK(p != NULL);
    (void)path_is_temporary(p, NULL);
    if (strlen(spec) <= GLOB_SPEC_MAX && stars <= GLOB_STARS_MAX)
        (void)path_is_temporary(p, globs);
    free(p);
    path_globs_free(globs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *a = fuzz_strndup(data, size); /* the first string: up to the first NUL */
    size_t alen = strlen(a);
    const char *b = alen < size ? a + alen + 1 : ""; /* the second string */
    char joined[2 * PATH_NAME_MAX];
    size_t n = 0, joined_len;
    bool decoded;
    char *dec;

    if (path_entry_is_safe((const char *)data, size))
        check_safe(data, size);
    if (path_entry_is_safe(a, alen))
        check_safe((const uint8_t *)a, alen);

    check_split(a, PATH_NAME_MAX + 1);
    check_split(a, 4);
    check_split(a, 1);

    check_roundtrip(a, false);
    check_roundtrip(a, true);
    dec = path_url_decode((const char *)data, size, &n);
    decoded = dec != NULL;
    if (dec) {
        FUZZ_CHECK(strlen(dec) == n && n <= size);
        check_roundtrip(dec, false);
        free(dec);
    }
    dec = path_url_decode((const char *)data, size, NULL); /* outlen is optional */
    FUZZ_CHECK((dec != NULL) == decoded);
    free(dec);

    /* "a/b", just a when b is empty, just b when a is */
    joined_len = alen + (alen && *b ? 1 : 0) + strlen(b);
    if (path_join(joined, sizeof(joined), a, b) == 0)
        FUZZ_CHECK(strlen(joined) == joined_len && strncmp(joined, a, alen) == 0);
    else
        FUZZ_CHECK(joined_len >= sizeof(joined));

    check_globs(b, a);
    free(a);
    return 0;
}
