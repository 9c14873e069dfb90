/* xcache: files already extracted for the per-file endpoint, keyed by (archive generation,
 * entry name), least recently used first out, bounded in bytes. Range requests on a big
 * entry then cost one decompression, not one per block. */
#ifndef FT_XCACHE_H
#define FT_XCACHE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct blob;
struct xentry;

struct xcache {
    pthread_mutex_t lock;
    struct xentry *head, *tail; /* head: most recently used */
    size_t bytes, limit;
};

int xcache_init(struct xcache *c, size_t limit);
void xcache_destroy(struct xcache *c);
/* A reference to the cached entry, or NULL. */
struct blob *xcache_get(struct xcache *c, uint64_t gen, const char *name);
/* Adds a reference to b under the key; entries larger than a quarter of the limit are not
 * kept. */
void xcache_put(struct xcache *c, uint64_t gen, const char *name, struct blob *b);

#endif
