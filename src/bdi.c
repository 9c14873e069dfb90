/* bdi: finds a mount's device in /proc/self/mountinfo and writes its read-ahead (bdi.h).
 * Mountinfo escapes space, tab, newline and backslash in paths as \ooo octal. */
#include "bdi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Decodes mountinfo's \ooo escapes of the field [p, end) into out; false when it does not
 * fit. */
static int unescape_field(const char *p, const char *end, char *out, size_t outsz)
{
    size_t n = 0;

    while (p < end) {
        char c = *p++;

        if (c == '\\' && end - p >= 3 && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' &&
            p[2] >= '0' && p[2] <= '7') {
            c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
            p += 3;
        }
        if (n + 1 >= outsz)
            return 0;
        out[n++] = c;
    }
    out[n] = '\0';
    return 1;
}

/* The start and end of the i-th space-separated field of the line [p, eol). */
static int field(const char *p, const char *eol, int i, const char **fs, const char **fe)
{
    for (int k = 0; p < eol; k++) {
        const char *e = memchr(p, ' ', (size_t)(eol - p));

        if (!e)
            e = eol;
        if (k == i) {
            *fs = p;
            *fe = e;
            return 1;
        }
        p = e + 1;
    }
    return 0;
}

int bdi_find_device(const char *mountinfo, const char *mountpoint, char *dev, size_t devsz)
{
    const char *line = mountinfo;
    char path[4096];
    int found = -ENOENT;

    /* The last match wins: a later mount on the same path covers the earlier ones. */
    while (line && *line) {
        const char *eol = strchr(line, '\n'), *ds, *de, *ms, *me;

        if (!eol)
            eol = line + strlen(line);
        if (field(line, eol, 2, &ds, &de) && field(line, eol, 4, &ms, &me) &&
            unescape_field(ms, me, path, sizeof(path)) && strcmp(path, mountpoint) == 0 &&
            (size_t)(de - ds) < devsz) {
            memcpy(dev, ds, (size_t)(de - ds));
            dev[de - ds] = '\0';
            found = 0;
        }
        line = *eol ? eol + 1 : NULL;
    }
    return found;
}

static char *slurp(const char *path)
{
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r;

    if (!buf || fd < 0)
        goto fail;
    while ((r = read(fd, buf + len, cap - len - 1)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto fail;
        len += (size_t)r;
        if (cap - len < 2) {
            char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;

            if (!nb)
                goto fail;
            buf = nb;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    close(fd);
    return buf;
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

int bdi_set_read_ahead(const char *mountpoint, unsigned kb)
{
    char dev[64], path[128], val[32];
    char *info = slurp("/proc/self/mountinfo");
    int fd, rc, n;

    if (!info)
        return -EIO;
    rc = bdi_find_device(info, mountpoint, dev, sizeof(dev));
    free(info);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = snprintf(val, sizeof(val), "%u\n", kb);
    rc = write(fd, val, (size_t)n) == n ? 0 : -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}
