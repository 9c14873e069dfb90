/* model: the extension model as the service shows it. Which fields come from the .qext,
 * which a client may set through the `data` part, and how a record is rendered in the
 * reference shape or in the shape the live service really returns (--real-shape). */
#ifndef FT_MODEL_H
#define FT_MODEL_H

#include "zipcheck.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blob;

/* One extension, live or soft-deleted. Owned by the store; see store.h for locking. */
struct ext {
    char id[33];
    cJSON *attrs;         /* every model field but the ones below; holds qextFilename */
    struct blob *archive; /* NULL for an extension created from `data` alone */
    char *prefix;         /* folder of the .qext inside the archive: "" or "top/" */
    char *originalname;   /* file name the archive was uploaded under */
    char checksum[33];    /* md5 hex of the archive, "" without one */
    int64_t created_ms, updated_ms;
    bool deleted;
};

/* The attributes the .qext determines (name, type, version, ...). */
cJSON *model_from_qext(const struct zinfo *zi);
/* The attributes of an extension created from `data` alone (qextFilename required). */
cJSON *model_from_data(const cJSON *data);
/* Checks a `data` object: known fields must have the documented JSON type. Returns 0, or
 * 422 with the reason and offending field in why/field. */
int model_check_data(const cJSON *data, char *why, size_t whysz, const char **field);
/* Copies the client-settable fields of data into attrs. With rename, a string qextFilename
 * is copied too. Returns 0 or -ENOMEM. */
int model_apply_data(cJSON *attrs, const cJSON *data, bool rename);
/* Replaces the .qext-derived fields of attrs with those of fresh (from model_from_qext),
 * keeping what only a client sets. Returns 0 or -ENOMEM. */
int model_merge_qext(cJSON *attrs, const cJSON *fresh);
/* Returns qextFilename, or NULL. */
const char *model_name(const cJSON *attrs);
/* Builds the JSON object a client sees. NULL on ENOMEM. */
cJSON *model_render(const struct ext *e, const char *tenant_id, const char *user_id,
                    bool real_shape);
/* ISO-8601 UTC with milliseconds into out[32]. */
void model_time(int64_t ms, char out[32]);

#endif
