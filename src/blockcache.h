/* blockcache: an LRU cache of fixed-size file blocks in memory, bounded in bytes, safe for
 * many threads. Keys are opaque strings chosen by the caller (qextfs uses
 * "<id>\n<version>\n<path>"), so a new version never sees old bytes. At most one fill runs
 * per block: other readers of that block wait for it. No lock is held while a fill runs. */
#ifndef QEXTFS_BLOCKCACHE_H
#define QEXTFS_BLOCKCACHE_H

#include <stddef.h>
#include <stdint.h>

struct bcache;

/* Fills buf (block_size bytes) with block number `block` of the file named by key and sets
 * *len to the bytes filled (less than block_size only for the last block). May call
 * bcache_put for other blocks of the same or other keys (prefetch). Returns 0 or -errno. */
typedef int (*bcache_fill_fn)(void *arg, const char *key, uint64_t block, void *buf, size_t *len);

struct bcache *bcache_new(size_t capacity_bytes, size_t block_size);
void bcache_free(struct bcache *bc);
size_t bcache_block_size(const struct bcache *bc);

/* Copies block `block` of key into dst (block_size bytes) and returns its length, filling it
 * through fill (with arg) on a miss; returns -errno when the fill fails (nothing is cached
 * then, and waiters of the same block get the same error). */
long bcache_get(struct bcache *bc, const char *key, uint64_t block, void *dst, bcache_fill_fn fill,
                void *arg);

/* Copies len bytes at offset off of the file named key into dst, block by block, through
 * bcache_get. Returns the bytes copied (short only at end of file: a block shorter than
 * block_size ends the file) or -errno, also when blocks before the failing one were read. */
long bcache_read(struct bcache *bc, const char *key, uint64_t off, size_t len, void *dst,
                 bcache_fill_fn fill, void *arg);

/* True when the block is cached (does not touch LRU order; for prefetch decisions). */
int bcache_contains(struct bcache *bc, const char *key, uint64_t block);

/* Inserts or replaces a block (len <= block_size). Returns 0 or -ENOMEM. */
int bcache_put(struct bcache *bc, const char *key, uint64_t block, const void *data, size_t len);
/* The same, taking ownership of data (malloc'd, len bytes; NULL when len is 0), which saves
 * a copy when a fill produces whole blocks. data is freed on failure. */
int bcache_put_take(struct bcache *bc, const char *key, uint64_t block, void *data, size_t len);

/* Drops every block whose key starts with prefix (e.g. "<id>\n" for one extension). */
void bcache_drop_prefix(struct bcache *bc, const char *prefix);

struct bcache_stats {
    uint64_t hits, misses, fills, evictions;
    size_t bytes, capacity;
};
void bcache_get_stats(struct bcache *bc, struct bcache_stats *out);

#endif
