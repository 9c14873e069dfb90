/* blockcache: the in-memory LRU of file blocks (see blockcache.h). Owns the hash table, the
 * LRU list, single-flight fills and the byte bound.
 *
 * Life of an entry. A miss inserts a FILLING placeholder into the hash table (not the LRU,
 * so eviction can never pick it) and its filler runs the fill with no lock held; readers of
 * the same block wait on the condvar meanwhile. Completion (by the filler, or earlier by a
 * bcache_put of that very block from inside some fill) makes it READY and puts it at the LRU
 * head; a failed fill marks it FAILED and unlinks it so the next get retries. Whoever waits
 * on or fills an entry holds a reference: an entry leaves the table when evicted or dropped
 * but its memory is freed only once the last reference is gone, so a waiter can always read
 * the data or the error of the entry it waited on.
 *
 * Invariants: linked && READY <=> in hash table and LRU, counted in bytes; linked && FILLING
 * <=> in hash table only; !linked => in neither, kept alive by refs. */
#include "blockcache.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 64

enum entry_state { FILLING, READY, FAILED };

struct entry {
    struct entry *hnext;         /* hash chain */
    struct entry *lprev, *lnext; /* LRU list, head = most recently used */
    uint64_t hash;
    uint64_t block;
    void *data; /* exactly len bytes (NULL when len is 0): small files stay small */
    size_t len;
    enum entry_state state;
    int err;       /* FAILED: the fill's -errno, read by waiters */
    unsigned refs; /* filler + waiters */
    bool linked;
    bool drop; /* dropped while FILLING: serve the waiters, then discard */
    size_t keylen;
    char key[];
};

struct bcache {
    pthread_mutex_t lock;
    pthread_cond_t filled; /* broadcast whenever any FILLING entry settles */
    size_t block_size;
    size_t capacity;
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;    /* linked entries */
    struct entry *lru_head, *lru_tail;
    size_t bytes; /* entry_cost() of every READY linked entry */
    /* hits: gets served by a READY block; misses: every other get, waiters of another's fill
     * included; fills: fill calls (so misses - fills gets were saved by single flight) */
    uint64_t hits, misses, fills, evictions;
};

/* --- entries and hashing -------------------------------------------------------------- */

/* FNV-1a over the key and the block number, with a final fold so the low bits used as the
 * bucket index also depend on the high ones. */
static uint64_t hash_key(const char *key, size_t keylen, uint64_t block)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < keylen; i++)
        h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
    for (int i = 0; i < 8; i++)
        h = (h ^ ((block >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
    return h ^ (h >> 32);
}

/* The byte bound counts the entry's own memory too, so that many tiny (or empty) blocks are
 * bounded as well as a few big ones. */
static size_t entry_cost(const struct entry *e)
{
    return e->len + sizeof(*e) + e->keylen + 1;
}

static struct entry *entry_new(const char *key, size_t keylen, uint64_t block, uint64_t hash)
{
    struct entry *e = calloc(1, sizeof(*e) + keylen + 1);

    if (!e)
        return NULL;
    memcpy(e->key, key, keylen + 1);
    e->keylen = keylen;
    e->block = block;
    e->hash = hash;
    return e;
}

static void entry_free(struct entry *e)
{
    free(e->data);
    free(e);
}

/* --- LRU list ------------------------------------------------------------------------- */

static void lru_remove(struct bcache *bc, struct entry *e)
{
    if (e->lprev)
        e->lprev->lnext = e->lnext;
    else
        bc->lru_head = e->lnext;
    if (e->lnext)
        e->lnext->lprev = e->lprev;
    else
        bc->lru_tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_push_head(struct bcache *bc, struct entry *e)
{
    e->lprev = NULL;
    e->lnext = bc->lru_head;
    if (bc->lru_head)
        bc->lru_head->lprev = e;
    else
        bc->lru_tail = e;
    bc->lru_head = e;
}

static void lru_touch(struct bcache *bc, struct entry *e)
{
    if (bc->lru_head == e)
        return;
    lru_remove(bc, e);
    lru_push_head(bc, e);
}

/* --- hash table (all called with the lock held) ---------------------------------------- */

static struct entry **bucket_of(struct bcache *bc, uint64_t hash)
{
    return &bc->buckets[hash & (bc->nbuckets - 1)];
}

static struct entry *lookup(struct bcache *bc, const char *key, size_t keylen, uint64_t block,
                            uint64_t hash)
{
    for (struct entry *e = *bucket_of(bc, hash); e; e = e->hnext)
        if (e->hash == hash && e->block == block && e->keylen == keylen &&
            memcmp(e->key, key, keylen) == 0)
            return e;
    return NULL;
}

/* Doubling is rare (log n times in the cache's life) and O(count), so it is done in place
 * under the lock. Without memory the table keeps its size: chains get longer, nothing
 * breaks. */
static void table_grow(struct bcache *bc)
{
    size_t n = bc->nbuckets * 2;
    struct entry **nb = calloc(n, sizeof(*nb));

    if (!nb)
        return;
    for (size_t i = 0; i < bc->nbuckets; i++) {
        struct entry *e = bc->buckets[i];

        while (e) {
            struct entry *next = e->hnext;
            struct entry **b = &nb[e->hash & (n - 1)];

            e->hnext = *b;
            *b = e;
            e = next;
        }
    }
    free(bc->buckets);
    bc->buckets = nb;
    bc->nbuckets = n;
}

static void table_insert(struct bcache *bc, struct entry *e)
{
    struct entry **b = bucket_of(bc, e->hash);

    e->hnext = *b;
    *b = e;
    e->linked = true;
    if (++bc->count > bc->nbuckets)
        table_grow(bc);
}

/* Takes e out of the table (and the LRU and the byte count when READY). */
static void unlink_entry(struct bcache *bc, struct entry *e)
{
    struct entry **pp = bucket_of(bc, e->hash);

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->hnext = NULL;
    if (e->state == READY) {
        lru_remove(bc, e);
        bc->bytes -= entry_cost(e);
    }
    e->linked = false;
    bc->count--;
}

static void release(struct entry *e)
{
    if (--e->refs == 0 && !e->linked)
        entry_free(e);
}

static void remove_entry(struct bcache *bc, struct entry *e)
{
    unlink_entry(bc, e);
    if (e->refs == 0)
        entry_free(e);
}

static void evict(struct bcache *bc)
{
    while (bc->bytes > bc->capacity && bc->lru_tail) {
        remove_entry(bc, bc->lru_tail);
        bc->evictions++;
    }
}

/* --- settling entries (lock held) ----------------------------------------------------- */

/* A FILLING entry gets its data (ownership passes to the entry). */
static void complete(struct bcache *bc, struct entry *e, void *data, size_t len)
{
    if (e->drop)
        unlink_entry(bc, e); /* still FILLING here, so only the hash chain is touched */
    e->data = data;
    e->len = len;
    e->state = READY;
    if (e->linked) {
        lru_push_head(bc, e);
        bc->bytes += entry_cost(e);
    }
    pthread_cond_broadcast(&bc->filled);
}

static void fail(struct bcache *bc, struct entry *e, int err)
{
    unlink_entry(bc, e);
    e->state = FAILED;
    e->err = err;
    pthread_cond_broadcast(&bc->filled);
}

/* A READY entry gets new data; returns the old data for the caller to free. */
static void *replace(struct bcache *bc, struct entry *e, void *data, size_t len)
{
    void *old = e->data;

    if (e->linked) {
        bc->bytes = bc->bytes - e->len + len;
        lru_touch(bc, e);
    }
    e->data = data;
    e->len = len;
    return old;
}

static long copy_out(struct entry *e, void *dst)
{
    if (e->len)
        memcpy(dst, e->data, e->len);
    return (long)e->len;
}

/* --- lifecycle ------------------------------------------------------------------------ */

struct bcache *bcache_new(size_t capacity_bytes, size_t block_size)
{
    struct bcache *bc;

    if (block_size == 0 || block_size > LONG_MAX)
        return NULL;
    bc = calloc(1, sizeof(*bc));
    if (!bc)
        return NULL;
    bc->buckets = calloc(INITIAL_BUCKETS, sizeof(*bc->buckets));
    if (!bc->buckets)
        goto fail;
    bc->nbuckets = INITIAL_BUCKETS;
    bc->capacity = capacity_bytes;
    bc->block_size = block_size;
    if (pthread_mutex_init(&bc->lock, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&bc->filled, NULL) != 0) {
        pthread_mutex_destroy(&bc->lock);
        goto fail;
    }
    return bc;
fail:
    free(bc->buckets);
    free(bc);
    return NULL;
}

/* Callers make sure no get or put is still running. */
void bcache_free(struct bcache *bc)
{
    if (!bc)
        return;
    for (size_t i = 0; i < bc->nbuckets; i++) {
        struct entry *e = bc->buckets[i];

        while (e) {
            struct entry *next = e->hnext;

            entry_free(e);
            e = next;
        }
    }
    free(bc->buckets);
    pthread_cond_destroy(&bc->filled);
    pthread_mutex_destroy(&bc->lock);
    free(bc);
}

size_t bcache_block_size(const struct bcache *bc)
{
    return bc->block_size;
}

/* --- get ------------------------------------------------------------------------------ */

/* Called on a miss with the lock held: returns the entry for (key, block) with a reference
 * taken, after inserting a FILLING placeholder when there is none (then *filler is set and
 * the caller must run the fill). The lock is dropped while allocating, so somebody else may
 * have inserted the block meanwhile: look again. NULL on ENOMEM. */
static struct entry *claim(struct bcache *bc, const char *key, size_t keylen, uint64_t block,
                           uint64_t hash, bool *filler)
{
    struct entry *e, *fresh;

    pthread_mutex_unlock(&bc->lock);
    fresh = entry_new(key, keylen, block, hash);
    pthread_mutex_lock(&bc->lock);
    if (!fresh)
        return NULL;
    e = lookup(bc, key, keylen, block, hash);
    if (e) {
        free(fresh);
        *filler = false;
    } else {
        e = fresh;
        e->state = FILLING;
        table_insert(bc, e);
        bc->fills++;
        *filler = true;
    }
    e->refs++;
    return e;
}

/* Waits (lock held) for somebody else's fill of e, then hands out its data or its error. */
static long wait_fill(struct bcache *bc, struct entry *e, void *dst)
{
    long r;

    while (e->state == FILLING)
        pthread_cond_wait(&bc->filled, &bc->lock);
    if (e->state == READY) {
        r = copy_out(e, dst);
        if (e->linked)
            lru_touch(bc, e);
    } else {
        r = e->err;
    }
    release(e);
    return r;
}

/* Runs the fill for the placeholder e (lock NOT held on entry or return). A bcache_put of
 * this very block from inside the fill may have completed e already: its data then stays
 * (and its waiters got it), whatever the fill itself returns to our caller. */
static long run_fill(struct bcache *bc, struct entry *e, void *dst, bcache_fill_fn fill, void *arg)
{
    size_t len = 0;
    void *copy = NULL;
    int rc = fill(arg, e->key, e->block, dst, &len);

    if (rc == 0 && len > bc->block_size)
        rc = -EIO;
    if (rc == 0 && len > 0 && !(copy = malloc(len)))
        rc = -ENOMEM;
    if (copy)
        memcpy(copy, dst, len);
    pthread_mutex_lock(&bc->lock);
    if (e->state == FILLING) {
        if (rc == 0)
            complete(bc, e, copy, len);
        else
            fail(bc, e, rc);
        copy = NULL;
    }
    release(e);
    evict(bc);
    pthread_mutex_unlock(&bc->lock);
    free(copy);
    return rc ? rc : (long)len;
}

long bcache_get(struct bcache *bc, const char *key, uint64_t block, void *dst, bcache_fill_fn fill,
                void *arg)
{
    size_t keylen = strlen(key);
    uint64_t hash = hash_key(key, keylen, block);
    struct entry *e;
    bool filler = false;
    long r = 0;

    pthread_mutex_lock(&bc->lock);
    e = lookup(bc, key, keylen, block, hash);
    if (e && e->state == READY) {
        bc->hits++;
        lru_touch(bc, e);
        r = copy_out(e, dst);
        goto out;
    }
    bc->misses++;
    if (e)
        e->refs++;
    else
        e = claim(bc, key, keylen, block, hash, &filler);
    if (!e)
        r = -ENOMEM;
    else if (!filler)
        r = wait_fill(bc, e, dst);
out:
    pthread_mutex_unlock(&bc->lock);
    if (filler)
        r = run_fill(bc, e, dst, fill, arg);
    return r;
}

/* --- read ----------------------------------------------------------------------------- */

long bcache_read(struct bcache *bc, const char *key, uint64_t off, size_t len, void *dst,
                 bcache_fill_fn fill, void *arg)
{
    size_t bs = bc->block_size;
    char *scratch = NULL;
    size_t done = 0;
    long r = 0;

    while (done < len) {
        size_t boff = (size_t)(off % bs);
        size_t want = len - done < bs - boff ? len - done : bs - boff;
        /* whole blocks go straight into dst; partial ones through the scratch block */
        bool direct = boff == 0 && want == bs;
        char *buf = direct ? (char *)dst + done : scratch;

        if (!buf && !(buf = scratch = malloc(bs))) {
            r = -ENOMEM;
            break;
        }
        r = bcache_get(bc, key, off / bs, buf, fill, arg);
        if (r < 0 || (size_t)r <= boff)
            break;
        if ((size_t)r - boff < want)
            want = (size_t)r - boff;
        if (!direct)
            memcpy((char *)dst + done, buf + boff, want);
        done += want;
        off += want;
        if ((size_t)r < bs)
            break; /* a short block ends the file */
    }
    free(scratch);
    /* An error fails the whole read, even after some blocks: FUSE takes a short read for
     * the end of the file and shrinks the file's size to it (fuse_short_read), so cp would
     * quietly copy a truncated file. */
    return r < 0 ? r : (long)done;
}

/* --- put, contains, drop, stats ------------------------------------------------------- */

int bcache_put(struct bcache *bc, const char *key, uint64_t block, const void *data, size_t len)
{
    void *copy = len ? malloc(len) : NULL;

    if (len && !copy)
        return -ENOMEM;
    if (len && len <= bc->block_size)
        memcpy(copy, data, len);
    return bcache_put_take(bc, key, block, copy, len);
}

int bcache_put_take(struct bcache *bc, const char *key, uint64_t block, void *data, size_t len)
{
    size_t keylen = strlen(key);
    uint64_t hash = hash_key(key, keylen, block);
    struct entry *fresh = NULL;
    struct entry *e;
    int rc = 0;

    if (len > bc->block_size) {
        rc = -EINVAL;
        goto out;
    }
    fresh = entry_new(key, keylen, block, hash);
    if (!fresh) {
        rc = -ENOMEM;
        goto out;
    }
    pthread_mutex_lock(&bc->lock);
    e = lookup(bc, key, keylen, block, hash);
    if (!e) {
        fresh->state = FILLING;
        table_insert(bc, fresh);
        complete(bc, fresh, data, len);
        fresh = NULL;
        data = NULL;
    } else if (e->state == FILLING) {
        complete(bc, e, data, len);
        data = NULL;
    } else {
        data = replace(bc, e, data, len);
    }
    evict(bc);
    pthread_mutex_unlock(&bc->lock);
out:
    free(fresh);
    free(data);
    return rc;
}

int bcache_contains(struct bcache *bc, const char *key, uint64_t block)
{
    size_t keylen = strlen(key);
    uint64_t hash = hash_key(key, keylen, block);
    struct entry *e;
    int found;

    pthread_mutex_lock(&bc->lock);
    e = lookup(bc, key, keylen, block, hash);
    found = e && e->state == READY;
    pthread_mutex_unlock(&bc->lock);
    return found;
}

/* O(entries) under the lock; it runs only when an extension's version changes. */
void bcache_drop_prefix(struct bcache *bc, const char *prefix)
{
    size_t plen = strlen(prefix);

    pthread_mutex_lock(&bc->lock);
    for (size_t i = 0; i < bc->nbuckets; i++) {
        struct entry *e = bc->buckets[i];

        while (e) {
            struct entry *next = e->hnext;

            if (e->keylen >= plen && memcmp(e->key, prefix, plen) == 0) {
                if (e->state == FILLING)
                    e->drop = true;
                else
                    remove_entry(bc, e);
            }
            e = next;
        }
    }
    pthread_mutex_unlock(&bc->lock);
}

void bcache_get_stats(struct bcache *bc, struct bcache_stats *out)
{
    pthread_mutex_lock(&bc->lock);
    out->hits = bc->hits;
    out->misses = bc->misses;
    out->fills = bc->fills;
    out->evictions = bc->evictions;
    out->bytes = bc->bytes;
    out->capacity = bc->capacity;
    pthread_mutex_unlock(&bc->lock);
}
