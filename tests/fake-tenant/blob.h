/* blob: reference-counted immutable byte buffers, and a growable buffer to fill them.
 * Archives, extracted files and response bodies are blobs so a response can point into an
 * archive while a concurrent PATCH replaces it: the old bytes live until the last response
 * that uses them is done. */
#ifndef FT_BLOB_H
#define FT_BLOB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct blob {
    atomic_long refs;
    size_t len;
    unsigned char *data;
    uint64_t gen; /* archive generation for cache keys; 0 for other blobs */
};

/* Takes ownership of data (malloc'd, may be NULL when len is 0). On ENOMEM frees data and
 * returns NULL. The blob starts with one reference. */
struct blob *blob_wrap(void *data, size_t len);
/* Copies len bytes into a new blob. */
struct blob *blob_copy(const void *data, size_t len);
struct blob *blob_ref(struct blob *b);
void blob_unref(struct blob *b);

struct buf {
    unsigned char *data;
    size_t len, cap, limit; /* limit 0: unlimited */
};

/* Returns 0, -E2BIG past the limit (buffer unchanged), -ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t len);
/* Moves the contents into a blob and empties b; NULL on ENOMEM. */
struct blob *buf_to_blob(struct buf *b);
void buf_free(struct buf *b);

#endif
