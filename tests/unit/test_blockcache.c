/* Unit tests for the block cache: hits, misses and stats, LRU order and the byte bound,
 * bcache_read's block walking and end of file, fill errors, drop_prefix, puts from inside a
 * fill, and the single-flight and concurrency guarantees (run these under TSan and ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "blockcache.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- a fake file source: every byte follows from (key, block, offset) ------------------ */

struct src {
    size_t bs;
    uint64_t file_len; /* length of every file, unless per_key_len */
    bool per_key_len;  /* length derived from the key: 6 blocks, the last short */
    atomic_uint calls; /* fills run */
    atomic_int fail;   /* fail this many fills with err */
    int err;
    unsigned sleep_us;  /* each fill sleeps this long (0: no sleep) */
    unsigned jitter_us; /* ... or up to this long, varying */
    sem_t *gate;        /* when set, each fill first waits on it */
    atomic_uint *ready; /* when set, incremented as a fill starts */
    struct bcache *bc;  /* for fills that put */
    bool prefetch;      /* put block + 1 as well */
};

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static void gen_block(const char *key, uint64_t block, size_t len, void *buf)
{
    uint32_t h = fnv(key);
    unsigned char *p = buf;

    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(h + block * 131 + i * 7 + (i >> 5));
}

static uint64_t src_file_len(const struct src *s, const char *key)
{
    if (!s->per_key_len)
        return s->file_len;
    return 5 * s->bs + 1 + fnv(key) % (s->bs - 1);
}

static size_t src_block_len(const struct src *s, const char *key, uint64_t block)
{
    uint64_t flen = src_file_len(s, key);
    uint64_t off = block * s->bs;

    if (off >= flen)
        return 0;
    return flen - off < s->bs ? (size_t)(flen - off) : s->bs;
}

static void sleep_us(unsigned us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};

    nanosleep(&ts, NULL);
}

static int src_fill(void *arg, const char *key, uint64_t block, void *buf, size_t *len)
{
    struct src *s = arg;

    atomic_fetch_add(&s->calls, 1);
    if (s->ready)
        atomic_fetch_add(s->ready, 1);
    if (s->gate)
        sem_wait(s->gate);
    if (s->sleep_us)
        sleep_us(s->sleep_us);
    if (s->jitter_us)
        sleep_us((unsigned)(block * 37 + fnv(key)) % s->jitter_us);
    if (atomic_load(&s->fail) > 0 && atomic_fetch_sub(&s->fail, 1) > 0)
        return s->err;
    if (s->prefetch) {
        char next[4096];
        size_t n = src_block_len(s, key, block + 1);

        gen_block(key, block + 1, n, next);
        bcache_put(s->bc, key, block + 1, next, n);
    }
    *len = src_block_len(s, key, block);
    gen_block(key, block, *len, buf);
    return 0;
}

static void src_init(struct src *s, size_t bs, uint64_t file_len)
{
    memset(s, 0, sizeof(*s));
    s->bs = bs;
    s->file_len = file_len;
}

static void expect_block(const char *key, uint64_t block, const void *got, size_t len)
{
    char want[4096];

    assert_true(len <= sizeof(want));
    gen_block(key, block, len, want);
    assert_memory_equal(got, want, len);
}

/* What one cached block of `len` bytes under `key` costs against the capacity. */
static size_t block_cost(const char *key, size_t len)
{
    struct bcache *bc = bcache_new(1 << 20, len);
    struct bcache_stats st;
    char *buf = calloc(1, len);

    assert_non_null(bc);
    assert_int_equal(bcache_put(bc, key, 0, buf, len), 0);
    bcache_get_stats(bc, &st);
    bcache_free(bc);
    free(buf);
    assert_true(st.bytes >= len);
    return st.bytes;
}

/* --- single-threaded behaviour -------------------------------------------------------- */

static void hit_miss_and_stats(void **state)
{
    struct bcache *bc = bcache_new(1 << 20, 64);
    struct bcache_stats st;
    struct src s;
    char buf[64];

    (void)state;
    src_init(&s, 64, 1000);
    assert_int_equal(bcache_block_size(bc), 64);
    assert_false(bcache_contains(bc, "k", 0));
    assert_int_equal(bcache_get(bc, "k", 0, buf, src_fill, &s), 64);
    expect_block("k", 0, buf, 64);
    assert_true(bcache_contains(bc, "k", 0));
    assert_false(bcache_contains(bc, "k", 1));
    assert_false(bcache_contains(bc, "k2", 0));
    memset(buf, 0, sizeof(buf));
    assert_int_equal(bcache_get(bc, "k", 0, buf, src_fill, &s), 64);
    expect_block("k", 0, buf, 64);
    assert_int_equal(atomic_load(&s.calls), 1);
    /* same block number, other key: a different block */
    assert_int_equal(bcache_get(bc, "k2", 0, buf, src_fill, &s), 64);
    expect_block("k2", 0, buf, 64);
    assert_int_equal(atomic_load(&s.calls), 2);

    bcache_get_stats(bc, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.fills, 2);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.bytes, 2 * block_cost("k", 64) + 1);
    assert_int_equal(st.capacity, 1 << 20);
    bcache_free(bc);
}

static void touching_protects_from_eviction(void **state)
{
    size_t cost = block_cost("A", 1024);
    struct bcache *bc = bcache_new(3 * cost, 1024);
    struct bcache_stats st;
    char data[1024] = {0};
    char buf[1024];
    struct src s;

    (void)state;
    src_init(&s, 1024, 1 << 20);
    assert_int_equal(bcache_put(bc, "A", 0, data, sizeof(data)), 0);
    assert_int_equal(bcache_put(bc, "B", 0, data, sizeof(data)), 0);
    assert_int_equal(bcache_put(bc, "C", 0, data, sizeof(data)), 0);
    /* A is the oldest; a hit makes it the newest, so B goes first */
    assert_int_equal(bcache_get(bc, "A", 0, buf, src_fill, &s), 1024);
    assert_int_equal(bcache_put(bc, "D", 0, data, sizeof(data)), 0);
    assert_true(bcache_contains(bc, "A", 0));
    assert_false(bcache_contains(bc, "B", 0));
    assert_true(bcache_contains(bc, "C", 0));
    assert_true(bcache_contains(bc, "D", 0));
    /* contains does not touch: C is now the oldest */
    assert_true(bcache_contains(bc, "C", 0));
    assert_int_equal(bcache_get(bc, "E", 0, buf, src_fill, &s), 1024);
    assert_false(bcache_contains(bc, "C", 0));
    assert_true(bcache_contains(bc, "A", 0));
    bcache_get_stats(bc, &st);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(st.bytes, 3 * cost);
    assert_int_equal(atomic_load(&s.calls), 1);
    bcache_free(bc);
}

static void bytes_stay_bounded(void **state)
{
    size_t cap = 10 * 512 + 100;
    struct bcache *bc = bcache_new(cap, 512);
    struct bcache_stats st;
    char buf[512];
    char key[32];
    struct src s;

    (void)state;
    src_init(&s, 512, 1 << 20);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "file-%d", i % 7);
        if (i % 2)
            assert_true(bcache_get(bc, key, (uint64_t)i, buf, src_fill, &s) >= 0);
        else
            assert_int_equal(bcache_put(bc, key, (uint64_t)i, buf, 512), 0);
        bcache_get_stats(bc, &st);
        assert_true(st.bytes <= cap);
    }
    assert_true(st.evictions >= 80);
    assert_true(bcache_contains(bc, "file-1", 99)); /* the newest survives */
    assert_false(bcache_contains(bc, "file-0", 0));
    bcache_free(bc);
}

/* Empty and tiny blocks are bounded too: the entry's own memory counts. */
static void tiny_blocks_stay_bounded(void **state)
{
    struct bcache *bc = bcache_new(4096, 512);
    struct bcache_stats st;
    char key[32];

    (void)state;
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "empty-%d", i);
        assert_int_equal(bcache_put(bc, key, 0, "x", (size_t)(i % 2)), 0);
    }
    bcache_get_stats(bc, &st);
    assert_true(st.bytes <= 4096);
    assert_true(st.evictions > 9000);
    bcache_free(bc);
}

static void put_replaces_ready_block(void **state)
{
    struct bcache *bc = bcache_new(1 << 20, 64);
    struct bcache_stats st, st2;
    char buf[64];
    struct src s;

    (void)state;
    src_init(&s, 64, 1000);
    assert_int_equal(bcache_put(bc, "k", 3, "hello world", 11), 0);
    bcache_get_stats(bc, &st);
    assert_int_equal(bcache_put(bc, "k", 3, "bye", 3), 0);
    bcache_get_stats(bc, &st2);
    assert_int_equal(st2.bytes, st.bytes - 8);
    assert_int_equal(bcache_get(bc, "k", 3, buf, src_fill, &s), 3);
    assert_memory_equal(buf, "bye", 3);
    assert_int_equal(atomic_load(&s.calls), 0);
    assert_int_equal(bcache_put(bc, "k", 3, buf, 65), -EINVAL);
    bcache_free(bc);
}

static void read_walks_blocks(void **state)
{
    struct bcache *bc = bcache_new(1 << 20, 16);
    char want[64], got[100];
    struct src s;

    (void)state;
    src_init(&s, 16, 40); /* blocks of 16, 16, 8 */
    for (uint64_t b = 0; b < 3; b++)
        gen_block("f", b, 16, want + b * 16);

    assert_int_equal(bcache_read(bc, "f", 10, 20, got, src_fill, &s), 20);
    assert_memory_equal(got, want + 10, 20);
    assert_int_equal(bcache_read(bc, "f", 0, sizeof(got), got, src_fill, &s), 40);
    assert_memory_equal(got, want, 40);
    assert_int_equal(bcache_read(bc, "f", 16, 16, got, src_fill, &s), 16);
    assert_memory_equal(got, want + 16, 16);
    assert_int_equal(bcache_read(bc, "f", 38, 10, got, src_fill, &s), 2);
    assert_memory_equal(got, want + 38, 2);
    assert_int_equal(bcache_read(bc, "f", 40, 10, got, src_fill, &s), 0);
    assert_int_equal(bcache_read(bc, "f", 45, 10, got, src_fill, &s), 0);
    assert_int_equal(bcache_read(bc, "f", 5, 0, got, src_fill, &s), 0);
    assert_int_equal(atomic_load(&s.calls), 3); /* every block fetched once */
    /* far past the end: the empty block there is fetched, nothing copied */
    assert_int_equal(bcache_read(bc, "f", 1000, 10, got, src_fill, &s), 0);
    bcache_free(bc);
}

static void read_file_of_whole_blocks(void **state)
{
    struct bcache *bc = bcache_new(1 << 20, 16);
    char want[32], got[100];
    struct src s;

    (void)state;
    src_init(&s, 16, 32); /* the empty block 2 ends the file */
    gen_block("g", 0, 16, want);
    gen_block("g", 1, 16, want + 16);
    assert_int_equal(bcache_read(bc, "g", 0, sizeof(got), got, src_fill, &s), 32);
    assert_memory_equal(got, want, 32);
    assert_int_equal(bcache_read(bc, "g", 32, 16, got, src_fill, &s), 0);

    src_init(&s, 16, 0); /* an empty file */
    assert_int_equal(bcache_read(bc, "empty", 0, 16, got, src_fill, &s), 0);
    assert_true(bcache_contains(bc, "empty", 0));
    bcache_free(bc);
}

static void fill_error_is_not_cached(void **state)
{
    struct bcache *bc = bcache_new(1 << 20, 32);
    struct bcache_stats st;
    char buf[64];
    struct src s;

    (void)state;
    src_init(&s, 32, 100);
    s.err = -EIO;
    atomic_store(&s.fail, 1);
    assert_int_equal(bcache_get(bc, "k", 0, buf, src_fill, &s), -EIO);
    assert_false(bcache_contains(bc, "k", 0));
    bcache_get_stats(bc, &st);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(bcache_get(bc, "k", 0, buf, src_fill, &s), 32);
    expect_block("k", 0, buf, 32);
    assert_int_equal(atomic_load(&s.calls), 2);

    /* bcache_read: an error on the first block is the result ... */
    s.err = -EACCES;
    atomic_store(&s.fail, 1);
    assert_int_equal(bcache_read(bc, "r", 0, 64, buf, src_fill, &s), -EACCES);
    /* ... and so is one on a later block: a short read would say the file ends there */
    assert_int_equal(bcache_get(bc, "r", 0, buf, src_fill, &s), 32);
    atomic_store(&s.fail, 1);
    assert_int_equal(bcache_read(bc, "r", 16, 48, buf, src_fill, &s), -EACCES);
    assert_int_equal(bcache_read(bc, "r", 16, 48, buf, src_fill, &s), 48);
    bcache_free(bc);
}

static void drop_prefix_matches_only_prefix(void **state)
{
    struct bcache *bc = bcache_new(1 << 20, 64);
    const char *keys[] = {"a\n1\nx.js", "a\n2\ny.js", "ab\n1\nz.js", "b\n1\na\n", "xa\n1\n"};
    struct bcache_stats st;

    (void)state;
    for (size_t i = 0; i < 5; i++)
        for (uint64_t b = 0; b < 3; b++)
            assert_int_equal(bcache_put(bc, keys[i], b, "data", 4), 0);
    bcache_drop_prefix(bc, "a\n");
    for (uint64_t b = 0; b < 3; b++) {
        assert_false(bcache_contains(bc, keys[0], b));
        assert_false(bcache_contains(bc, keys[1], b));
        assert_true(bcache_contains(bc, keys[2], b));
        assert_true(bcache_contains(bc, keys[3], b));
        assert_true(bcache_contains(bc, keys[4], b));
    }
    bcache_get_stats(bc, &st);
    assert_int_equal(
        st.bytes, 3 * (block_cost(keys[2], 4) + block_cost(keys[3], 4) + block_cost(keys[4], 4)));
    assert_int_equal(st.evictions, 0);
    bcache_drop_prefix(bc, "nothing");
    assert_true(bcache_contains(bc, keys[2], 0));
    bcache_drop_prefix(bc, "");
    bcache_get_stats(bc, &st);
    assert_int_equal(st.bytes, 0);
    assert_false(bcache_contains(bc, keys[3], 1));
    bcache_free(bc);
}

/* A fill that puts its own block (with other bytes) and the next one, as a whole-archive
 * fill does: the put completes the placeholder and its bytes stay cached. */
static int self_put_fill(void *arg, const char *key, uint64_t block, void *buf, size_t *len)
{
    struct src *s = arg;

    atomic_fetch_add(&s->calls, 1);
    assert_int_equal(bcache_put(s->bc, key, block, "put", 3), 0);
    assert_int_equal(bcache_put(s->bc, key, block + 1, "next", 4), 0);
    memcpy(buf, "filled", 6);
    *len = 6;
    return 0;
}

static void put_of_block_being_filled(void **state)
{
    struct bcache *bc = bcache_new(1 << 20, 64);
    struct bcache_stats st;
    char buf[64];
    struct src s;

    (void)state;
    src_init(&s, 64, 1000);
    s.bc = bc;
    assert_int_equal(bcache_get(bc, "k", 0, buf, self_put_fill, &s), 6);
    assert_memory_equal(buf, "filled", 6);
    assert_int_equal(bcache_get(bc, "k", 0, buf, self_put_fill, &s), 3);
    assert_memory_equal(buf, "put", 3);
    assert_int_equal(bcache_get(bc, "k", 1, buf, self_put_fill, &s), 4);
    assert_memory_equal(buf, "next", 4);
    assert_int_equal(atomic_load(&s.calls), 1);
    bcache_get_stats(bc, &st);
    assert_int_equal(st.bytes, block_cost("k", 3) + block_cost("k", 4));
    bcache_free(bc);
}

/* --- threads ------------------------------------------------------------------------- */

struct getter {
    struct bcache *bc;
    struct src *src;
    const char *key;
    uint64_t block;
    pthread_barrier_t *start;
    long result;
    char buf[4096];
};

static void *getter_main(void *arg)
{
    struct getter *g = arg;

    if (g->start)
        pthread_barrier_wait(g->start);
    g->result = bcache_get(g->bc, g->key, g->block, g->buf, src_fill, g->src);
    return NULL;
}

static void single_flight(void **state)
{
    struct bcache *bc = bcache_new(1 << 20, 256);
    struct getter g[8];
    pthread_t th[8];
    pthread_barrier_t start;
    struct bcache_stats st;
    struct src s;

    (void)state;
    src_init(&s, 256, 10000);
    s.sleep_us = 50000;
    pthread_barrier_init(&start, NULL, 8);
    for (int i = 0; i < 8; i++) {
        g[i] = (struct getter){.bc = bc, .src = &s, .key = "same", .block = 7, .start = &start};
        assert_int_equal(pthread_create(&th[i], NULL, getter_main, &g[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(g[i].result, 256);
        expect_block("same", 7, g[i].buf, 256);
    }
    assert_int_equal(atomic_load(&s.calls), 1);
    bcache_get_stats(bc, &st);
    assert_int_equal(st.fills, 1);
    assert_int_equal(st.hits + st.misses, 8);
    pthread_barrier_destroy(&start);
    bcache_free(bc);
}

/* Starts a getter whose fill is held at the gate, and a second getter that waits on it.
 * Returns once both are in place: the fill has started and both gets have missed. */
static void start_filler_and_waiter(struct bcache *bc, struct src *s, struct getter *g,
                                    pthread_t *th)
{
    struct bcache_stats st;

    for (int i = 0; i < 2; i++) {
        g[i] = (struct getter){.bc = bc, .src = s, .key = "a\n1\nf", .block = 0};
        assert_int_equal(pthread_create(&th[i], NULL, getter_main, &g[i]), 0);
        do {
            sleep_us(1000);
            bcache_get_stats(bc, &st);
        } while (st.misses < (uint64_t)i + 1 || atomic_load(s->ready) < 1);
    }
}

static void waiters_share_fill_error(void **state)
{
    struct bcache *bc = bcache_new(1 << 20, 64);
    atomic_uint ready = 0;
    struct getter g[2];
    pthread_t th[2];
    sem_t gate;
    struct src s;

    (void)state;
    src_init(&s, 64, 1000);
    sem_init(&gate, 0, 0);
    s.gate = &gate;
    s.ready = &ready;
    s.err = -ENOENT;
    atomic_store(&s.fail, 1);
    start_filler_and_waiter(bc, &s, g, th);
    sem_post(&gate);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(g[i].result, -ENOENT);
    }
    assert_int_equal(atomic_load(&s.calls), 1);
    assert_false(bcache_contains(bc, "a\n1\nf", 0));
    sem_destroy(&gate);
    bcache_free(bc);
}

static void drop_while_filling_serves_waiters(void **state)
{
    struct bcache *bc = bcache_new(1 << 20, 64);
    struct bcache_stats st;
    atomic_uint ready = 0;
    struct getter g[2];
    pthread_t th[2];
    sem_t gate;
    struct src s;

    (void)state;
    src_init(&s, 64, 1000);
    sem_init(&gate, 0, 0);
    s.gate = &gate;
    s.ready = &ready;
    start_filler_and_waiter(bc, &s, g, th);
    bcache_drop_prefix(bc, "a\n");
    sem_post(&gate);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(g[i].result, 64);
        expect_block("a\n1\nf", 0, g[i].buf, 64);
    }
    assert_int_equal(atomic_load(&s.calls), 1);
    assert_false(bcache_contains(bc, "a\n1\nf", 0)); /* fetched before the drop: discarded */
    bcache_get_stats(bc, &st);
    assert_int_equal(st.bytes, 0);
    sem_destroy(&gate);
    bcache_free(bc);
}

struct stress {
    struct bcache *bc;
    struct src *src;
    unsigned seed;
    int iterations;
    int nkeys;
    int mismatches;
    atomic_bool *stop; /* for the dropper */
    const char *drop;
};

static void stress_key(char *key, size_t sz, int k)
{
    snprintf(key, sz, "%c\nv1\nfile-%02d.js", k % 2 ? 'a' : 'b', k);
}

static void *stress_main(void *arg)
{
    struct stress *t = arg;
    char key[64], buf[4096], want[4096];

    for (int i = 0; i < t->iterations; i++) {
        int k = rand_r(&t->seed) % t->nkeys;
        uint64_t block = (uint64_t)(rand_r(&t->seed) % 6);
        size_t n;
        long r;

        stress_key(key, sizeof(key), k);
        n = src_block_len(t->src, key, block);
        r = bcache_get(t->bc, key, block, buf, src_fill, t->src);
        gen_block(key, block, n, want);
        if (r != (long)n || memcmp(buf, want, n) != 0)
            t->mismatches++;
    }
    return NULL;
}

static void *dropper_main(void *arg)
{
    struct stress *t = arg;

    while (!atomic_load(t->stop)) {
        bcache_drop_prefix(t->bc, t->drop);
        sleep_us(50);
    }
    return NULL;
}

static void run_stress(struct src *s, size_t cap, int iterations, bool drop)
{
    struct bcache *bc = bcache_new(cap, s->bs);
    struct stress t[8], dropper;
    atomic_bool stop = false;
    struct bcache_stats st;
    pthread_t th[8], dth;
    char key[64];

    stress_key(key, sizeof(key), 0);
    s->bc = bc;
    for (int i = 0; i < 8; i++) {
        t[i] = (struct stress){
            .bc = bc, .src = s, .seed = 1234u + (unsigned)i, .iterations = iterations, .nkeys = 50};
        assert_int_equal(pthread_create(&th[i], NULL, stress_main, &t[i]), 0);
    }
    dropper = (struct stress){.bc = bc, .stop = &stop, .drop = "a\n"};
    if (drop)
        assert_int_equal(pthread_create(&dth, NULL, dropper_main, &dropper), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].mismatches, 0);
    }
    atomic_store(&stop, true);
    if (drop)
        pthread_join(dth, NULL);
    bcache_get_stats(bc, &st);
    assert_true(st.bytes <= cap);
    assert_int_equal(st.hits + st.misses, 8 * (uint64_t)iterations);
    assert_true(st.hits > 0);
    assert_true(st.evictions > 0 || drop);
    bcache_free(bc);
}

/* 50 files of 6 blocks (the last short), room for 100 blocks; fills prefetch the next
 * block with a put, racing with the gets of it. */
static void concurrent_gets_stay_consistent(void **state)
{
    struct src s;

    (void)state;
    src_init(&s, 256, 0);
    s.per_key_len = true;
    s.prefetch = true;
    run_stress(&s, 100 * block_cost("a\nv1\nfile-00.js", 256), 20000, false);
}

static void drop_prefix_races_with_fills(void **state)
{
    struct src s;

    (void)state;
    src_init(&s, 256, 0);
    s.per_key_len = true;
    s.jitter_us = 200;
    run_stress(&s, 100 * block_cost("a\nv1\nfile-00.js", 256), 1000, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hit_miss_and_stats),
        cmocka_unit_test(touching_protects_from_eviction),
        cmocka_unit_test(bytes_stay_bounded),
        cmocka_unit_test(tiny_blocks_stay_bounded),
        cmocka_unit_test(put_replaces_ready_block),
        cmocka_unit_test(read_walks_blocks),
        cmocka_unit_test(read_file_of_whole_blocks),
        cmocka_unit_test(fill_error_is_not_cached),
        cmocka_unit_test(drop_prefix_matches_only_prefix),
        cmocka_unit_test(put_of_block_being_filled),
        cmocka_unit_test(single_flight),
        cmocka_unit_test(waiters_share_fill_error),
        cmocka_unit_test(drop_while_filling_serves_waiters),
        cmocka_unit_test(concurrent_gets_stay_consistent),
        cmocka_unit_test(drop_prefix_races_with_fills),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
