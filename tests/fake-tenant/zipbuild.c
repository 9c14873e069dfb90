/* zipbuild: in-memory zip writing with libzip (zipbuild.h). libzip writes into a buffer
 * source that is kept alive past zip_close and then read back. */
#include "zipbuild.h"

#include "blob.h"
#include "log.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#define UT_FIELD 0x5455
#define DOS_DIR_ATTR 0x10

struct zipw {
    zip_source_t *src;
    zip_t *za;
    bool failed;
};

struct zipw *zipw_new(void)
{
    struct zipw *w = calloc(1, sizeof(*w));
    zip_error_t err;

    if (!w)
        return NULL;
    zip_error_init(&err);
    w->src = zip_source_buffer_create(NULL, 0, 0, &err);
    if (w->src) {
        zip_source_keep(w->src);
        w->za = zip_open_from_source(w->src, ZIP_TRUNCATE, &err);
    }
    zip_error_fini(&err);
    if (!w->za) {
        zip_source_free(w->src);
        free(w);
        return NULL;
    }
    return w;
}

/* Mode, DOS time and the extended timestamp (flags 1: mtime only, in both headers). */
static int set_meta(struct zipw *w, zip_uint64_t idx, uint32_t unix_mode, uint32_t dos_attr,
                    time_t mtime)
{
    uint32_t t = (uint32_t)mtime;
    zip_uint8_t ut[5] = {1, (zip_uint8_t)t, (zip_uint8_t)(t >> 8), (zip_uint8_t)(t >> 16),
                         (zip_uint8_t)(t >> 24)};

    if (zip_file_set_external_attributes(w->za, idx, 0, ZIP_OPSYS_UNIX,
                                         (unix_mode << 16) | dos_attr) != 0 ||
        zip_file_set_mtime(w->za, idx, mtime, 0) != 0 ||
        zip_file_extra_field_set(w->za, idx, UT_FIELD, ZIP_EXTRA_FIELD_NEW, ut, sizeof(ut),
                                 ZIP_FL_LOCAL | ZIP_FL_CENTRAL) != 0) {
        log_err("fake-tenant: zip metadata: %s", zip_strerror(w->za));
        return -1;
    }
    return 0;
}

/* Zip tools store what does not compress; a byte histogram of the first 64 KiB tells, and
 * spares start-up the deflating of big random seed files. */
static bool incompressible(const unsigned char *p, size_t len)
{
    unsigned counts[256] = {0};
    const size_t n = 65536;
    double bits = 0;

    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++)
        counts[p[i]]++;
    for (int c = 0; c < 256; c++) {
        double q = (double)counts[c] / (double)n;

        if (counts[c])
            bits -= q * log2(q);
    }
    return bits > 7.9;
}

int zipw_add_file(struct zipw *w, const char *name, void *data, size_t len, mode_t mode,
                  time_t mtime, bool store)
{
    zip_source_t *s;
    zip_int64_t idx;

    store = store || incompressible(data, len);
    s = zip_source_buffer(w->za, data, len, 1);
    if (!s) {
        free(data);
        w->failed = true;
        return -1;
    }
    idx = zip_file_add(w->za, name, s, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
        log_err("fake-tenant: cannot add %s: %s", name, zip_strerror(w->za));
        zip_source_free(s);
        w->failed = true;
        return -1;
    }
    /* Big files get the fast level: start-up time of seeded tests is what it costs. */
    if (zip_set_file_compression(w->za, (zip_uint64_t)idx, store ? ZIP_CM_STORE : ZIP_CM_DEFLATE,
                                 store                   ? 0
                                 : len > 4 * 1024 * 1024 ? 1
                                                         : 6) != 0 ||
        set_meta(w, (zip_uint64_t)idx, S_IFREG | (mode & 07777), 0, mtime) != 0) {
        w->failed = true;
        return -1;
    }
    return 0;
}

int zipw_add_dir(struct zipw *w, const char *name, mode_t mode, time_t mtime)
{
    zip_int64_t idx = zip_dir_add(w->za, name, ZIP_FL_ENC_UTF_8);

    if (idx < 0 ||
        set_meta(w, (zip_uint64_t)idx, S_IFDIR | (mode & 07777), DOS_DIR_ATTR, mtime) != 0) {
        log_err("fake-tenant: cannot add %s: %s", name, zip_strerror(w->za));
        w->failed = true;
        return -1;
    }
    return 0;
}

static struct blob *read_back(zip_source_t *src)
{
    zip_int64_t len;
    void *data = NULL;

    if (zip_source_open(src) != 0)
        return NULL;
    if (zip_source_seek(src, 0, SEEK_END) != 0 || (len = zip_source_tell(src)) < 0 ||
        zip_source_seek(src, 0, SEEK_SET) != 0)
        goto fail;
    data = malloc(len ? (size_t)len : 1);
    if (!data || zip_source_read(src, data, (zip_uint64_t)len) != len)
        goto fail;
    zip_source_close(src);
    return blob_wrap(data, (size_t)len);
fail:
    free(data);
    zip_source_close(src);
    return NULL;
}

struct blob *zipw_finish(struct zipw *w)
{
    struct blob *b = NULL;

    if (w->failed) {
        zip_discard(w->za);
    } else if (zip_close(w->za) != 0) {
        log_err("fake-tenant: cannot write zip: %s", zip_strerror(w->za));
        zip_discard(w->za);
    } else {
        b = read_back(w->src);
    }
    zip_source_free(w->src);
    free(w);
    return b;
}
