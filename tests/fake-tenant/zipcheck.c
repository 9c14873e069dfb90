/* zipcheck: archive validation and single-entry extraction (zipcheck.h). The rules mirror
 * what Qlik Cloud rejects: exactly one .qext that is a JSON object, at the root or in one
 * top-level folder, no unsafe names, and the size limits. */
#include "zipcheck.h"

#include "path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define QEXT_MAX (1024 * 1024)

static zip_t *zopen(const void *zip, size_t len)
{
    zip_error_t err;
    zip_source_t *src;
    zip_t *za;

    zip_error_init(&err);
    src = zip_source_buffer_create(zip, len, 0, &err);
    if (!src) {
        zip_error_fini(&err);
        return NULL;
    }
    za = zip_open_from_source(src, ZIP_RDONLY, &err);
    if (!za)
        zip_source_free(src);
    zip_error_fini(&err);
    return za;
}

static int read_index(zip_t *za, zip_uint64_t idx, zip_uint64_t size, void **out, size_t *outlen)
{
    zip_file_t *zf = zip_fopen_index(za, idx, 0);
    char *data = malloc(size + 1);
    zip_int64_t n;
    int rc = -EIO;

    if (!data) {
        rc = -ENOMEM;
        goto out;
    }
    if (!zf)
        goto out;
    n = zip_fread(zf, data, size);
    if (n < 0 || (zip_uint64_t)n != size)
        goto out;
    data[size] = '\0';
    *out = data;
    *outlen = size;
    data = NULL;
    rc = 0;
out:
    if (zf)
        zip_fclose(zf);
    free(data);
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Walks the central directory: names, limits, and the one .qext. */
static int scan_entries(zip_t *za, unsigned flags, zip_int64_t *qext_idx, char *why, size_t whysz)
{
    bool limits = flags & ZC_LIMITS;
    zip_int64_t n = zip_get_num_entries(za, 0);
    uint64_t files = 0, total = 0;

    *qext_idx = -1;
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        bool dir;

        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME)) {
            snprintf(why, whysz, "Archive entry %lld is unreadable", (long long)i);
            return 422;
        }
        if (!path_entry_is_safe(st.name, strlen(st.name)) && !(flags & ZC_UNSAFE_NAMES)) {
            snprintf(why, whysz, "Archive entry name '%s' is not allowed", st.name);
            return 422;
        }
        dir = ends_with(st.name, "/");
        if (dir)
            continue;
        files++;
        total += st.size;
        if (limits && st.size > ZC_MAX_FILE) {
            snprintf(why, whysz, "File '%s' is larger than 30 MB", st.name);
            return 413;
        }
        if (!ends_with(st.name, ".qext"))
            continue;
        if (*qext_idx >= 0) {
            snprintf(why, whysz, "Archive holds more than one .qext file");
            return 422;
        }
        *qext_idx = i;
    }
    if (limits && files > ZC_MAX_FILES) {
        snprintf(why, whysz, "Archive holds %llu files, more than 500", (unsigned long long)files);
        return 413;
    }
    if (limits && total > ZC_MAX_TOTAL) {
        snprintf(why, whysz, "Archive is larger than 100 MB uncompressed");
        return 413;
    }
    if (*qext_idx < 0) {
        snprintf(why, whysz, "Archive holds no .qext file");
        return 422;
    }
    return 0;
}

/* Splits "top/name.qext" into prefix "top/" and name "name"; a deeper .qext is invalid. */
static int split_qext_path(const char *path, struct zinfo *out, char *why, size_t whysz)
{
    const char *slash = strchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t plen = (size_t)(base - path), blen = strlen(base) - strlen(".qext");

    if (slash && strchr(base, '/')) {
        snprintf(why, whysz, "The .qext file must be at the root or in one top-level folder");
        return 422;
    }
    if (blen == 0) {
        snprintf(why, whysz, "The .qext file has no name");
        return 422;
    }
    out->prefix = strndup(path, plen);
    out->qext_name = strndup(base, blen);
    return out->prefix && out->qext_name ? 0 : 500;
}

static int parse_qext(zip_t *za, zip_int64_t idx, struct zinfo *out, char *why, size_t whysz)
{
    zip_stat_t st;
    void *text = NULL;
    size_t len;
    int rc = 422;

    if (zip_stat_index(za, (zip_uint64_t)idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
        snprintf(why, whysz, "The .qext file is unreadable");
        goto out;
    }
    if (st.size > QEXT_MAX) {
        snprintf(why, whysz, "The .qext file is larger than 1 MB");
        goto out;
    }
    rc = read_index(za, (zip_uint64_t)idx, st.size, &text, &len);
    if (rc != 0) {
        snprintf(why, whysz, "The .qext file is unreadable");
        rc = rc == -ENOMEM ? 500 : 422;
        goto out;
    }
    out->qext = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(out->qext)) {
        snprintf(why, whysz, "The .qext file is not a JSON object");
        rc = 422;
        goto out;
    }
    rc = split_qext_path(st.name, out, why, whysz);
out:
    free(text);
    return rc;
}

int zcheck_archive(const void *zip, size_t len, unsigned flags, struct zinfo *out, char *why,
                   size_t whysz)
{
    zip_t *za = NULL;
    zip_int64_t qidx;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((flags & ZC_LIMITS) && len > ZC_MAX_ZIP) {
        snprintf(why, whysz, "Archive is larger than 30 MB");
        return 413;
    }
    za = zopen(zip, len);
    if (!za) {
        snprintf(why, whysz, "The file is not a zip archive");
        return 422;
    }
    rc = scan_entries(za, flags, &qidx, why, whysz);
    if (rc == 0)
        rc = parse_qext(za, qidx, out, why, whysz);
    zip_discard(za);
    if (rc != 0)
        zinfo_free(out);
    return rc;
}

void zinfo_free(struct zinfo *zi)
{
    free(zi->qext_name);
    free(zi->prefix);
    cJSON_Delete(zi->qext);
    memset(zi, 0, sizeof(*zi));
}

int zcheck_extract(const void *zip, size_t len, const char *name, void **out, size_t *outlen)
{
    zip_t *za = zopen(zip, len);
    zip_int64_t idx;
    zip_stat_t st;
    int rc = -ENOENT;

    if (!za)
        return -EIO;
    idx = zip_name_locate(za, name, 0);
    if (idx < 0 || ends_with(name, "/"))
        goto out;
    rc = -EIO;
    if (zip_stat_index(za, (zip_uint64_t)idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        goto out;
    rc = read_index(za, (zip_uint64_t)idx, st.size, out, outlen);
out:
    zip_discard(za);
    return rc;
}
