/* path: pure string logic about names (see path.h). Kept free of I/O so the fuzzers and the
 * unit tests can drive it directly. */
#include "path.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int path_split(const char *path, char *ext, size_t extsz, const char **rest)
{
    const char *p = path;
    size_t n;

    while (*p == '/')
        p++;
    if (*p == '\0') {
        ext[0] = '\0';
        *rest = p;
        return 0;
    }
    n = strcspn(p, "/");
    if (n >= extsz)
        return -ENAMETOOLONG;
    memcpy(ext, p, n);
    ext[n] = '\0';
    p += n;
    while (*p == '/')
        p++;
    *rest = p;
    return *p ? 2 : 1;
}

bool path_entry_is_safe(const char *name, size_t len)
{
    size_t i = 0;

    if (len == 0 || name[0] == '/')
        return false;
    if (name[len - 1] == '/')
        len--; /* a directory entry */
    if (len == 0 || memchr(name, '\0', len) || memchr(name, '\\', len))
        return false;
    while (i < len) {
        const char *c = name + i;
        const char *slash = memchr(c, '/', len - i);
        size_t clen = slash ? (size_t)(slash - c) : len - i;

        if (clen == 0 || clen > PATH_NAME_MAX)
            return false;
        if ((clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        i += clen + 1;
        if (slash && i == len)
            return false; /* "a//" style trailing empty component */
    }
    return true;
}

static bool url_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

char *path_url_encode(const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    char *o = out;

    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (url_unreserved(*p) || (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *path_url_decode(const char *s, size_t len, size_t *outlen)
{
    char *out = malloc(len + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];

        if (c == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                goto bad;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == '\0')
            goto bad;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return out;
bad:
    free(out);
    return NULL;
}

bool path_is_rsync_temp(const char *base)
{
    size_t n = strlen(base);
    bool lower = false, upper = false, digit = false;

    if (n < 9 || base[0] != '.' || base[n - 7] != '.')
        return false;
    for (size_t i = n - 6; i < n; i++) {
        char c = base[i];

        lower |= c >= 'a' && c <= 'z';
        upper |= c >= 'A' && c <= 'Z';
        digit |= c >= '0' && c <= '9';
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return false;
    }
    return lower + upper + digit >= 2;
}

int path_join(char *out, size_t outsz, const char *a, const char *b)
{
    int n = snprintf(out, outsz, "%s%s%s", a, *a && *b ? "/" : "", b);

    return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

static const char *const temp_globs[] = {
    ".*.sw?", ".*.sw??", "4913", "*~", ".#*", "#*#", ".DS_Store", "._*", NULL,
};

bool path_is_temporary(const char *relpath, char *const *extra_globs)
{
    const char *base = strrchr(relpath, '/');

    base = base ? base + 1 : relpath;
    for (size_t i = 0; temp_globs[i]; i++)
        if (fnmatch(temp_globs[i], base, FNM_PERIOD) == 0)
            return true;
    for (size_t i = 0; extra_globs && extra_globs[i]; i++)
        if (fnmatch(extra_globs[i], base, 0) == 0 || fnmatch(extra_globs[i], relpath, 0) == 0)
            return true;
    return false;
}

/* Empty components ("", "a:", "a::b") are skipped: an empty glob would match the empty last
 * component of "dir/" and make every directory a temporary. */
char **path_globs_parse(const char *spec)
{
    size_t n = 1, i = 0;
    char **globs;
    const char *p = spec;

    for (const char *c = spec; *c; c++)
        n += *c == ':';
    globs = calloc(n + 1, sizeof(*globs));
    if (!globs)
        return NULL;
    while (*p) {
        size_t len = strcspn(p, ":");

        if (len > 0 && !(globs[i++] = strndup(p, len))) {
            path_globs_free(globs);
            return NULL;
        }
        p += len + (p[len] == ':');
    }
    return globs;
}

void path_globs_free(char **globs)
{
    for (size_t i = 0; globs && globs[i]; i++)
        free(globs[i]);
    free(globs);
}
