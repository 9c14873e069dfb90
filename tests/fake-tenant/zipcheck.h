/* zipcheck: what the service checks in an uploaded archive, and reading one entry out of it.
 * Works on archives in memory; never modifies or copies them. */
#ifndef FT_ZIPCHECK_H
#define FT_ZIPCHECK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Qlik Cloud's service limits. */
#define ZC_MAX_ZIP (30u * 1024 * 1024)
#define ZC_MAX_FILE (30u * 1024 * 1024)
#define ZC_MAX_FILES 500u
#define ZC_MAX_TOTAL (100u * 1024 * 1024)

struct zinfo {
    char *qext_name; /* qextFilename: the .qext's base name without ".qext" */
    char *prefix;    /* folder that holds the .qext: "" or "top/" */
    cJSON *qext;     /* the parsed .qext, a JSON object */
};

/* What zcheck_archive enforces beyond the structure. ZC_UNSAFE_NAMES lets tests plant an
 * archive with hostile names (as an old or third-party upload might have left one). */
enum { ZC_LIMITS = 1, ZC_UNSAFE_NAMES = 2 };

/* Checks an archive. Returns 0 and fills out, or an HTTP status (413 past a limit with
 * ZC_LIMITS, 422 invalid, 500 out of memory) with the reason in why. */
int zcheck_archive(const void *zip, size_t len, unsigned flags, struct zinfo *out, char *why,
                   size_t whysz);
void zinfo_free(struct zinfo *zi);

/* Reads entry name (exact) into a malloc'd buffer. Returns 0, -ENOENT (no such file entry,
 * directories included), -ENOMEM, -EIO. */
int zcheck_extract(const void *zip, size_t len, const char *name, void **out, size_t *outlen);

#endif
