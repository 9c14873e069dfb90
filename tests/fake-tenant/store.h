/* store: the tenant's extensions, live and soft-deleted, behind one mutex. Every operation
 * locks, works on the records, renders what the caller needs, and unlocks: callers never
 * hold the lock while a response is sent, and archives leave only as blob references.
 * With a state directory every change is persisted before the operation returns. */
#ifndef FT_STORE_H
#define FT_STORE_H

#include "model.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct blob;

struct store {
    pthread_mutex_t lock;
    struct ext **v; /* in creation order */
    size_t n, cap;
    uint64_t id_counter;
    int64_t clock_ms;
    atomic_uint_fast64_t next_gen;
    char tenant_id[33], user_id[33];
    const char *state_dir; /* NULL: memory only */
};

/* What a create or update brings: an archive with its check result, client data, or both. */
struct ext_change {
    struct blob *archive;     /* new archive (the store takes its own reference) or NULL */
    const struct zinfo *zi;   /* its check result, set with archive */
    const char *originalname; /* upload file name, may be NULL */
    const cJSON *data;        /* checked client data or NULL */
};

/* Loads state_dir/state.json when there is one. Returns 1 loaded, 0 empty, -1 error. */
int store_init(struct store *s, const char *state_dir);
void store_destroy(struct store *s);

/* Gives b the next archive generation (cache key, persisted file name). */
void store_stamp(struct store *s, struct blob *b);

/* Each returns an HTTP status. json receives a malloc'd rendering on success. */
int store_list(struct store *s, bool real, char **json);
int store_get(struct store *s, const char *key, bool real, char **json);
/* 200 when key names a live extension, else 404 or 410. */
int store_find(struct store *s, const char *key);
int store_create(struct store *s, const struct ext_change *c, bool real, char **json, char *why,
                 size_t whysz);
int store_update(struct store *s, const char *key, const struct ext_change *c, bool real,
                 char **json, char *why, size_t whysz);
int store_delete(struct store *s, const char *key);

struct archive_ref {
    struct blob *archive; /* a reference: blob_unref when done */
    char *prefix;
    char *name;
};
/* The archive of the live extension key names (200), or 404/410. */
int store_archive(struct store *s, const char *key, struct archive_ref *out);
void archive_ref_free(struct archive_ref *r);

#endif
