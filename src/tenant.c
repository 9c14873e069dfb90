/* tenant: owns the extension table, the list refresh, per-version views of archives and the
 * remote read path (see tenant.h). Locking: one mutex for the table and every ext field,
 * never held across network or zip I/O. A fetch marks the extension busy, runs unlocked,
 * and re-checks the version before installing what it fetched (the sshfs write_ctr idea:
 * a version that moved while we fetched means the result is dropped, not installed). */
#include "tenant.h"

#include "blockcache.h"
#include "http.h"
#include "log.h"
#include "path.h"
#include "staging.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Tail fetched to index an archive when the server honours Range; archives up to
 * SMALL_ARCHIVE are then completed with one more request so later reads cost nothing. */
#define TAIL_LEN (64 * 1024)
#define SMALL_ARCHIVE (2 * 1024 * 1024)
/* Bytes fetched per miss from the per-file endpoint. */
#define FILE_CHUNK (1024 * 1024)
/* Chunks fetched ahead of a sequential reader, on top of the kernel's own read-ahead (1 MiB,
 * node_tune_mount). Measured with a 24 MB file and 20-50 ms of latency: one chunk ahead
 * makes cat 25-35% faster; two or four ahead gained nothing more. */
#define RA_CHUNKS 1

struct tenant {
    struct qfs *q;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct ext **exts; /* the table: small (hundreds), kept sorted by name */
    size_t n, cap;
    double listed_at; /* monotonic time of the last good list, 0 = never */
    bool listing;
    int list_err;
    int ranges; /* -1 unknown, 0 no, 1 the server honours Range */
    unsigned archive_seq;
    uint64_t use_clock; /* ticks once per view_get: the views' LRU order for disk_cache */
    /* Per-file chunk fetches in flight: the block cache makes one fill per block, but a
     * chunk covers many blocks and kernel read-ahead asks for several at once. */
    struct chunk_fetch {
        char *key;
        uint64_t chunk;
    } * inflight;
    size_t ninflight, capinflight;
    /* Directory-walk read-ahead (tenant_walk_note): where the walk was last seen, how far
     * ahead it has been queued, and the workers fetching the queued archives. */
    bool walk_seen;
    size_t walk_pos, walk_ahead;
    double walk_at;
    struct ext **pfq;
    size_t pfq_n, pfq_cap;
    pthread_t *pf_thr;
    unsigned pf_nthr;
    bool pf_stop;
    pthread_cond_t pf_cond;
    /* Chunks to fetch ahead of sequential readers (tenant_read), served by the same workers
     * before any walk job: a reader is waiting on the next chunk soon, a walk may not be. */
    struct ra_job *raq_head, **raq_tail;
    unsigned raq_n;
    struct tenant_stats stats;
    /* Kernel page cache of old versions (kcache_*): a queue of views whose files' pages a
     * worker thread drops, one at a time, and the thread. */
    struct kinval *kq_head, **kq_tail;
    pthread_t kq_thr;
    bool kq_started, kq_stop;
    pthread_cond_t kq_cond;
};

/* A chunk of a file to fetch ahead of a sequential reader. */
struct ra_job {
    struct ra_job *next;
    struct view *v; /* referenced: the entry and the key belong to it */
    const struct zipx_entry *ent;
    char *key;
    uint64_t chunk;
};

/* One old version whose files' kernel pages are to be dropped, or (old NULL) an extension
 * name that left the root without the kernel's knowing (deleted on the service, renamed by
 * an upload), whose cached directory entry is to be dropped: readdirplus keeps refreshing
 * the entries it lists, so a name seen in a listing could otherwise outlive it by list_ttl.
 * The record stays at the head of the queue until the worker is done with it, so opens
 * meanwhile see it (tenant_kcache_keep). */
struct kinval {
    struct kinval *next;
    char *ext;        /* the directory name at the time */
    struct view *old; /* a reference; its index names the files; or NULL */
};

double qfs_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct tenant *tenant_new(struct qfs *q)
{
    struct tenant *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    t->q = q;
    t->ranges = -1;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    pthread_cond_init(&t->pf_cond, NULL);
    pthread_cond_init(&t->kq_cond, NULL);
    t->kq_tail = &t->kq_head;
    t->raq_tail = &t->raq_head;
    return t;
}

static void view_free(struct view *v)
{
    if (!v)
        return;
    if (v->archive_path) {
        unlink(v->archive_path);
        free(v->archive_path);
    }
    if (v->fd >= 0)
        close(v->fd);
    free(v->checked);
    zipx_segcrc_free(v->segs);
    zipx_index_free(v->idx);
    free(v->id);
    free(v->version);
    free(v);
}

static void ext_free(struct ext *e)
{
    if (e->view && --e->view->refs == 0)
        view_free(e->view);
    api_ext_free(&e->model);
    pthread_mutex_destroy(&e->io_lock);
    free(e->base_version);
    free(e->base_id);
    free(e->name);
    free(e);
}

static void walk_stop(struct tenant *t);

void tenant_free(struct tenant *t)
{
    if (!t)
        return;
    walk_stop(t);
    tenant_kcache_stop(t);
    for (size_t i = 0; i < t->n; i++)
        ext_free(t->exts[i]);
    free(t->exts);
    free(t->inflight);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    pthread_cond_destroy(&t->pf_cond);
    pthread_cond_destroy(&t->kq_cond);
    free(t);
}

void tenant_lock(struct tenant *t)
{
    pthread_mutex_lock(&t->lock);
}

void tenant_unlock(struct tenant *t)
{
    pthread_mutex_unlock(&t->lock);
}

void tenant_broadcast(struct tenant *t)
{
    pthread_cond_broadcast(&t->cond);
}

void tenant_wait(struct tenant *t)
{
    pthread_cond_wait(&t->cond, &t->lock);
}

/* Binary search; returns the slot where name is or would be. */
static size_t find_slot(struct tenant *t, const char *name, bool *found)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->exts[mid]->name, name);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static int table_insert(struct tenant *t, struct ext *e)
{
    bool found;
    size_t at = find_slot(t, e->name, &found);

    if (found)
        return -EEXIST;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct ext **n = realloc(t->exts, cap * sizeof(*n));

        if (!n)
            return -ENOMEM;
        t->exts = n;
        t->cap = cap;
    }
    memmove(t->exts + at + 1, t->exts + at, (t->n - at) * sizeof(*t->exts));
    t->exts[at] = e;
    t->n++;
    return 0;
}

static void table_remove(struct tenant *t, struct ext *e)
{
    bool found;
    size_t at = find_slot(t, e->name, &found);

    if (!found || t->exts[at] != e)
        return;
    memmove(t->exts + at, t->exts + at + 1, (t->n - at - 1) * sizeof(*t->exts));
    t->n--;
}

static struct ext *ext_alloc(const char *name)
{
    struct ext *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->name = strdup(name);
    if (!e->name) {
        free(e);
        return NULL;
    }
    e->refs = 1; /* the table's reference */
    pthread_mutex_init(&e->io_lock, NULL);
    return e;
}

/* A qextFilename becomes a directory name only when it is one safe path component. */
static bool name_is_usable(const char *name)
{
    return name && !strchr(name, '/') && path_entry_is_safe(name, strlen(name));
}

static void kcache_queue_locked(struct tenant *t, struct ext *e);
static void kcache_queue_name_locked(struct tenant *t, const char *name);

/* Drops the cached bytes of an extension's old version, and queues its kernel pages to be
 * dropped. Called with the lock held: the block cache has its own short lock and does no
 * I/O. */
static void drop_view_locked(struct tenant *t, struct ext *e)
{
    if (!e->view)
        return;
    kcache_queue_locked(t, e);
    if (e->view->id) {
        char prefix[512];

        snprintf(prefix, sizeof(prefix), "%s\n", e->view->id);
        bcache_drop_prefix(t->q->bc, prefix);
    }
    if (--e->view->refs == 0)
        view_free(e->view);
    e->view = NULL;
}

static void ext_gone_locked(struct tenant *t, struct ext *e)
{
    e->gone = true;
    kcache_queue_name_locked(t, e->name);
    drop_view_locked(t, e);
    table_remove(t, e);
    if (--e->refs == 0)
        ext_free(e);
}

/* Applies one list item to the table. Extensions with local changes keep their staged tree
 * whatever the list says: the upload decides (merge or conflict). */
static void merge_item(struct tenant *t, const struct api_ext *m, char ***discard, size_t *nd)
{
    bool found;
    size_t at = find_slot(t, m->qext_filename, &found);
    struct ext *e;

    if (!found) {
        e = ext_alloc(m->qext_filename);
        if (!e || api_ext_copy(&e->model, m) != 0 || table_insert(t, e) != 0) {
            if (e)
                ext_free(e);
            return;
        }
        e->listed = true;
        return;
    }
    e = t->exts[at];
    e->listed = true;
    if (e->is_new && !e->model.id)
        return; /* our own mkdir'd extension that a concurrent POST just created */
    const char *old = e->model.version_token;
    const char *new = m->version_token;
    bool moved = (old == NULL) != (new == NULL) || (old && strcmp(old, new) != 0);

    if (moved && e->uploading)
        return; /* our own upload is landing; it installs the model itself */
    api_ext_free(&e->model);
    api_ext_copy(&e->model, m);
    if (!moved)
        return;
    log_dbg("tenant: %s changed on the service (version %s)", e->name, new ? new : "?");
    if (e->view && e->view->version && new &&strcmp(e->view->version, new) == 0)
        return;
    drop_view_locked(t, e);
    if (e->staged && !ext_dirty(e) && !e->uploading && e->open_writers == 0 && !e->staging_busy) {
        /* A clean local copy of an old version: forget it, read the new one. */
        char **d = realloc(*discard, (*nd + 1) * sizeof(**discard));

        if (d) {
            *discard = d;
            d[(*nd)++] = strdup(e->name);
            e->staged = false;
        }
    }
}

static void merge_list(struct tenant *t, const struct api_list *l)
{
    char **discard = NULL;
    size_t nd = 0;

    tenant_lock(t);
    for (size_t i = 0; i < t->n; i++)
        t->exts[i]->listed = false;
    for (size_t i = 0; i < l->n; i++) {
        if (!name_is_usable(l->items[i].qext_filename)) {
            log_warn("tenant: hiding extension with unusable qextFilename (id %s)",
                     l->items[i].id ? l->items[i].id : "?");
            continue;
        }
        merge_item(t, &l->items[i], &discard, &nd);
    }
    /* Gone from the list: deleted on the service, unless it only exists here so far or
     * holds changes not yet uploaded. */
    for (size_t i = t->n; i-- > 0;) {
        struct ext *e = t->exts[i];

        if (e->listed || e->is_new || e->uploading || e->deleting || e->staging_busy)
            continue;
        if (e->staged && ext_dirty(e)) {
            log_warn("tenant: %s was deleted on the service; keeping local changes in the "
                     "staging area",
                     e->name);
            continue;
        }
        if (e->staged) {
            char **d = realloc(discard, (nd + 1) * sizeof(*discard));

            if (d) {
                discard = d;
                d[nd++] = strdup(e->name);
            }
        }
        log_dbg("tenant: %s is gone from the service", e->name);
        ext_gone_locked(t, e);
    }
    tenant_unlock(t);
    for (size_t i = 0; i < nd; i++) {
        if (discard[i])
            stage_discard(t->q, discard[i]);
        free(discard[i]);
    }
    free(discard);
}

int tenant_refresh(struct tenant *t, bool force)
{
    struct api_list l = {0};
    char msg[512] = "";
    int rc;

    tenant_lock(t);
    for (;;) {
        bool fresh = t->listed_at > 0 && qfs_now() - t->listed_at < t->q->o.list_ttl;

        if (fresh && !force) {
            tenant_unlock(t);
            return 0;
        }
        if (!t->listing)
            break;
        if (t->listed_at > 0 && !force) {
            tenant_unlock(t); /* serve the old list while another thread refreshes */
            return 0;
        }
        tenant_wait(t);
        force = false; /* the refresh we waited for counts */
    }
    t->listing = true;
    tenant_unlock(t);

    rc = http_syscall_errno(api_list_extensions(t->q->http, &l, msg, sizeof(msg)));
    if (rc == 0)
        merge_list(t, &l);
    else
        log_err("listing extensions failed: %s", msg);
    api_list_free(&l);

    tenant_lock(t);
    t->listing = false;
    t->list_err = rc;
    if (rc == 0)
        t->listed_at = qfs_now();
    tenant_broadcast(t);
    rc = t->listed_at > 0 ? 0 : rc; /* an old list is still an answer */
    tenant_unlock(t);
    return rc;
}

struct ext *tenant_ext_get(struct tenant *t, const char *name, int *err)
{
    int rc = tenant_refresh(t, false);
    struct ext *e = NULL;
    bool found;
    size_t at;

    tenant_lock(t);
    at = find_slot(t, name, &found);
    if (found && !t->exts[at]->gone) {
        e = t->exts[at];
        e->refs++;
    }
    tenant_unlock(t);
    if (!e && err)
        *err = rc ? rc : -ENOENT;
    return e;
}

void tenant_ext_put(struct tenant *t, struct ext *e)
{
    if (!e)
        return;
    tenant_lock(t);
    if (--e->refs == 0)
        ext_free(e);
    tenant_unlock(t);
}

struct ext *tenant_ext_create(struct tenant *t, const char *name, int *err)
{
    struct ext *e;
    int rc;

    if (!name_is_usable(name)) {
        *err = -EINVAL;
        return NULL;
    }
    e = ext_alloc(name);
    if (!e) {
        *err = -ENOMEM;
        return NULL;
    }
    e->is_new = true;
    tenant_lock(t);
    rc = table_insert(t, e);
    if (rc == 0)
        e->refs++;
    tenant_unlock(t);
    if (rc) {
        ext_free(e);
        *err = rc;
        return NULL;
    }
    return e;
}

void tenant_ext_forget(struct tenant *t, struct ext *e)
{
    tenant_lock(t);
    if (!e->gone)
        ext_gone_locked(t, e);
    tenant_unlock(t);
}

int tenant_ext_rename(struct tenant *t, struct ext *e, const char *new_name)
{
    char *copy = strdup(new_name);
    bool found;
    int rc = 0;

    if (!copy)
        return -ENOMEM;
    tenant_lock(t);
    find_slot(t, new_name, &found);
    if (found) {
        rc = -EEXIST;
        free(copy);
    } else {
        kcache_queue_name_locked(t, e->name);
        table_remove(t, e);
        free(e->name);
        e->name = copy;
        rc = table_insert(t, e);
    }
    tenant_unlock(t);
    return rc;
}

void tenant_ext_set_model(struct tenant *t, struct ext *e, const struct api_ext *m)
{
    tenant_lock(t);
    api_ext_free(&e->model);
    api_ext_copy(&e->model, m);
    e->listed = true;
    tenant_unlock(t);
}

int tenant_foreach(struct tenant *t, int (*fn)(void *arg, struct ext *e), void *arg)
{
    struct ext **snap;
    size_t n;
    int rc = 0;

    tenant_lock(t);
    n = t->n;
    snap = malloc((n ? n : 1) * sizeof(*snap));
    if (!snap) {
        tenant_unlock(t);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        snap[i] = t->exts[i];
        snap[i]->refs++;
    }
    tenant_unlock(t);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && !snap[i]->gone)
            rc = fn(arg, snap[i]);
        tenant_ext_put(t, snap[i]);
    }
    free(snap);
    return rc;
}

size_t tenant_count(struct tenant *t)
{
    size_t n;

    tenant_lock(t);
    n = t->n;
    tenant_unlock(t);
    return n;
}

/* --- fetching archives ------------------------------------------------------------- */

/* libcurl hands the body over in 16 KiB pieces whatever its buffer size; writing each
 * piece to the cache file was most of qextfs's CPU in a cold walk (a syscall and an ext4
 * write_begin/end per piece). The sink gathers contiguous pieces and writes them in big
 * runs; fd_sink_flush must run before anything reads the file or closes it.
 *
 * Past the first MiB, blocks are also allocated ahead of the writes, 8 MiB at a time:
 * writing into allocated blocks skips ext4's per-block delayed-allocation bookkeeping
 * (64 MiB in 512 KiB writes: 13.8 ms, 9.4 ms into fallocated blocks). The size that leaves
 * past the last byte, at most 8 MiB of disk while a download runs, is cut back by
 * fd_sink_flush. */
#define FD_SINK_RUN (512 * 1024)
#define FD_SINK_PREALLOC_FROM (1024 * 1024)
#define FD_SINK_PREALLOC_STEP (8 * 1024 * 1024)

struct fd_sink {
    int fd;
    uint64_t base;            /* file offset of body offset 0 */
    struct zipx_segcrc *segs; /* or NULL */
    char *run;                /* FD_SINK_RUN bytes, or NULL: write through */
    size_t run_len;
    uint64_t run_at; /* file offset of run[0] */
    uint64_t end;    /* one past the last byte written */
    uint64_t alloc;  /* the file size fallocate set, when above end */
    bool no_prealloc;
};

static int pwrite_all(int fd, const char *p, size_t n, uint64_t at)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)at);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        at += (uint64_t)w;
        n -= (size_t)w;
    }
    return 0;
}

static void sink_prealloc(struct fd_sink *s, uint64_t upto)
{
    /* From the block after the data: the blocks under it wait in delayed allocation. */
    uint64_t from = (s->end + 4095) & ~(uint64_t)4095;

    if (s->alloc > from)
        from = s->alloc;
    if (s->no_prealloc || upto < FD_SINK_PREALLOC_FROM || upto <= from)
        return;
    if (fallocate(s->fd, 0, (off_t)from, (off_t)(upto - from + FD_SINK_PREALLOC_STEP)) == 0)
        s->alloc = upto + FD_SINK_PREALLOC_STEP;
    else
        s->no_prealloc = true; /* not supported, or no room: plain writes will say so */
}

static int sink_put(struct fd_sink *s, const char *p, size_t n, uint64_t at)
{
    int rc;

    sink_prealloc(s, at + n);
    rc = pwrite_all(s->fd, p, n, at);
    if (rc == 0 && at + n > s->end)
        s->end = at + n;
    return rc;
}

static int sink_run_out(struct fd_sink *s)
{
    int rc = 0;

    if (s->run_len)
        rc = sink_put(s, s->run, s->run_len, s->run_at);
    s->run_len = 0;
    return rc;
}

/* Writes out what is gathered and gives the file its true size. */
static int fd_sink_flush(struct fd_sink *s)
{
    int rc = sink_run_out(s);

    if (rc == 0 && s->alloc > s->end) {
        if (ftruncate(s->fd, (off_t)s->end) != 0)
            rc = -errno;
        else
            s->alloc = 0;
    }
    return rc;
}

static int fd_sink_write(void *arg, uint64_t off, const void *buf, size_t n)
{
    struct fd_sink *s = arg;
    uint64_t at = s->base + off;
    int rc;

    if (s->segs)
        zipx_segcrc_feed(s->segs, at, buf, n);
    if (!s->run && n < FD_SINK_RUN)
        s->run = malloc(FD_SINK_RUN); /* NULL just means writing through */
    if (s->run_len && (at != s->run_at + s->run_len || s->run_len + n > FD_SINK_RUN)) {
        rc = sink_run_out(s);
        if (rc)
            return rc;
    }
    if (!s->run || n >= FD_SINK_RUN)
        return sink_put(s, buf, n, at);
    if (!s->run_len)
        s->run_at = at;
    memcpy(s->run + s->run_len, buf, n);
    s->run_len += n;
    return 0;
}

/* Flushes, frees the run and closes the file; returns the first error. */
static int fd_sink_close(struct fd_sink *s)
{
    int rc = 0;

    if (s->fd >= 0) {
        rc = fd_sink_flush(s);
        if (close(s->fd) != 0 && rc == 0)
            rc = -errno;
    }
    s->fd = -1;
    free(s->run);
    s->run = NULL;
    return rc;
}

static char *cache_name(struct tenant *t)
{
    char *path;
    unsigned seq;

    tenant_lock(t);
    seq = ++t->archive_seq;
    tenant_unlock(t);
    if (asprintf(&path, "%s/archive-%u.zip", t->q->cache_dir, seq) < 0)
        return NULL;
    return path;
}

static int fetch_archive(struct tenant *t, const char *id, const char *dest,
                         struct zipx_segcrc *segs, char *msg, size_t msgsz)
{
    struct fd_sink s = {.fd = -1, .segs = segs};
    int rc;

    s.fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (s.fd < 0) {
        rc = -errno;
        snprintf(msg, msgsz, "cannot create %s: %s", dest, strerror(errno));
        return rc;
    }
    rc = http_syscall_errno(api_get_archive(t->q->http, id, fd_sink_write, &s, msg, msgsz));
    int crc = fd_sink_close(&s);

    if (rc == 0)
        rc = crc;
    if (rc)
        unlink(dest);
    return rc;
}

int tenant_fetch_archive(struct tenant *t, const char *id, const char *dest, char *msg,
                         size_t msgsz)
{
    return fetch_archive(t, id, dest, NULL, msg, msgsz);
}

static int read_file_range(const char *path, uint64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r;

    if (fd < 0)
        return -errno;
    r = pread(fd, buf, len, (off_t)off);
    close(fd);
    return r == (ssize_t)len ? 0 : -EIO;
}

/* Tries the tail-only index. Returns 1 when it produced the view's index (and maybe the
 * whole archive), 0 when the caller should fetch the whole archive, -errno on errors that
 * a whole fetch would hit too (404, 401). */
static int fetch_tail(struct tenant *t, struct view *v, char *msg, size_t msgsz)
{
    struct fd_sink s = {.fd = -1, .segs = v->segs};
    char *path = cache_name(t);
    bool partial = false;
    int64_t total = -1;
    char *tail = NULL;
    int rc;

    if (!path)
        return -ENOMEM;
    s.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (s.fd < 0) {
        rc = -errno;
        goto out;
    }
    rc = api_get_archive_tail(t->q->http, v->id, TAIL_LEN, fd_sink_write, &s, &partial, &total, msg,
                              msgsz);
    if (rc == 0)
        rc = fd_sink_flush(&s);
    if (rc)
        goto out;
    tenant_lock(t);
    t->ranges = partial ? 1 : 0;
    tenant_unlock(t);
    s.segs = NULL;
    if (partial) {
        /* The table saw the tail as if it began the archive: start a blank one, which
         * vouches for nothing until a whole download feeds it. */
        zipx_segcrc_free(v->segs);
        v->segs = zipx_segcrc_new();
    }
    if (!partial || total < 0) {
        /* The server sent the whole archive: that is the best outcome. */
        v->archive_path = path;
        path = NULL;
        rc = zipx_index_open(v->archive_path, &v->idx, msg, msgsz) == 0 ? 1 : -EIO;
        goto out;
    }
    uint64_t tlen = (uint64_t)total < TAIL_LEN ? (uint64_t)total : TAIL_LEN;

    if ((uint64_t)total <= SMALL_ARCHIVE) {
        /* Small: move the tail into place and fetch the head, so reads are local. */
        tail = malloc(tlen);
        rc = -ENOMEM;
        if (!tail || read_file_range(path, 0, tail, tlen) != 0)
            goto out;
        if (fd_sink_write(&s, (uint64_t)total - tlen, tail, tlen) != 0)
            goto out;
        s.base = 0;
        bool p2 = false;
        rc = api_get_archive_range(t->q->http, v->id, 0, (uint64_t)total - tlen, fd_sink_write, &s,
                                   &p2, msg, msgsz);
        if (rc == 0)
            rc = fd_sink_flush(&s);
        if (rc == 0 && p2 && ftruncate(s.fd, total) == 0) {
            v->archive_path = path;
            path = NULL;
            rc = zipx_index_open(v->archive_path, &v->idx, msg, msgsz) == 0 ? 1 : -EIO;
            goto out;
        }
        rc = 0;
        goto out;
    }
    tail = malloc(tlen);
    rc = -ENOMEM;
    if (!tail || read_file_range(path, 0, tail, tlen) != 0)
        goto out;
    rc = zipx_index_from_tail(tail, tlen, (uint64_t)total, &v->idx, msg, msgsz);
    rc = rc == 0 ? 1 : 0; /* -ERANGE or odd zips: fall back to the whole archive */
out:
    free(tail);
    fd_sink_close(&s);
    if (path) {
        unlink(path);
        free(path);
    }
    return rc;
}

static int fetch_view(struct tenant *t, struct view *v, bool try_tail, char *msg, size_t msgsz)
{
    int rc;

    v->segs = zipx_segcrc_new(); /* NULL only costs a second read of stored entries */
    if (try_tail) {
        rc = fetch_tail(t, v, msg, msgsz);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    v->archive_path = cache_name(t);
    if (!v->archive_path)
        return -ENOMEM;
    rc = fetch_archive(t, v->id, v->archive_path, v->segs, msg, msgsz);
    if (rc == 0)
        rc = zipx_index_open(v->archive_path, &v->idx, msg, msgsz);
    if (rc) {
        free(v->archive_path);
        v->archive_path = NULL;
    }
    return rc;
}

static struct view *view_new(const char *id, const char *version)
{
    struct view *v = calloc(1, sizeof(*v));

    if (!v)
        return NULL;
    v->refs = 1;
    v->fd = -1;
    v->id = strdup(id);
    v->version = strdup(version ? version : "");
    if (!v->id || !v->version) {
        view_free(v);
        return NULL;
    }
    return v;
}

/* The size of a fetched archive, counted against disk_cache (0 when it cannot be told). */
static uint64_t archive_size(const char *path)
{
    struct stat st;

    return path && stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Bytes of the archives the current views keep on disk. */
static uint64_t archive_bytes_locked(const struct tenant *t)
{
    uint64_t total = 0;

    for (size_t i = 0; i < t->n; i++)
        if (t->exts[i]->view && t->exts[i]->view->archive_path)
            total += t->exts[i]->view->archive_bytes;
    return total;
}

/* Once the current views' archives outgrow disk_cache, lets go of the least recently used
 * (never keep, the one just fetched). Only the extension's reference goes: a reader still
 * holding the view keeps its file until it is done, and the blocks cached from it stay
 * valid (same version, same keys), so all a later miss costs is the archive fetched again.
 * Nothing is dropped from the kernel's page cache either, for the same reason. */
static void evict_archives_locked(struct tenant *t, const struct view *keep)
{
    uint64_t total = archive_bytes_locked(t);

    while (total > t->q->o.disk_cache) {
        struct ext *lru = NULL;

        for (size_t i = 0; i < t->n; i++) {
            struct ext *e = t->exts[i];

            if (e->view && e->view->archive_path && e->view != keep &&
                (!lru || e->view->last_used < lru->view->last_used))
                lru = e;
        }
        if (!lru)
            break;
        total -= lru->view->archive_bytes;
        log_dbg("%s: its archive is let go (disk_cache)", lru->name);
        if (--lru->view->refs == 0)
            view_free(lru->view);
        lru->view = NULL;
        t->stats.archives_evicted++;
    }
}

int tenant_view_get(struct tenant *t, struct ext *e, struct view **out)
{
    char msg[512] = "";
    struct view *v = NULL;
    char *version = NULL;
    bool try_tail;
    int rc;

    tenant_lock(t);
    while (e->view_loading)
        tenant_wait(t);
    if (e->view) {
        e->view->refs++;
        e->view->last_used = ++t->use_clock;
        *out = e->view;
        tenant_unlock(t);
        return 0;
    }
    if (!e->model.id || e->gone) {
        tenant_unlock(t);
        return -ENOENT;
    }
    v = view_new(e->model.id, e->model.version_token);
    if (!v) {
        tenant_unlock(t);
        return -ENOMEM;
    }
    version = strdup(v->version);
    e->view_loading = true;
    try_tail = t->ranges != 0;
    tenant_unlock(t);

    rc = http_syscall_errno(fetch_view(t, v, try_tail, msg, sizeof(msg)));
    if (rc)
        log_err("%s: cannot read the archive: %s", e->name, msg);
    else
        v->archive_bytes = archive_size(v->archive_path); /* v is not shared yet */

    tenant_lock(t);
    e->view_loading = false;
    e->view_err = rc;
    if (rc == 0 && version && e->model.version_token &&
        strcmp(version, e->model.version_token) != 0) {
        /* The list moved on while we fetched: still serve this read from what we have,
         * but do not install it as current. */
        log_dbg("%s: version moved during fetch", e->name);
    } else if (rc == 0) {
        v->refs++;
        v->last_used = ++t->use_clock;
        e->view = v;
        evict_archives_locked(t, v);
    }
    if (rc == -ENOENT && !e->gone && !e->staged && !e->is_new)
        ext_gone_locked(t, e); /* 404/410: deleted behind our back */
    tenant_broadcast(t);
    tenant_unlock(t);
    free(version);
    if (rc) {
        view_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void tenant_view_put(struct tenant *t, struct view *v)
{
    if (!v)
        return;
    tenant_lock(t);
    if (--v->refs == 0)
        view_free(v);
    tenant_unlock(t);
}

int tenant_view_install(struct tenant *t, struct ext *e, const char *version, const char *zip_path)
{
    char msg[512];
    struct view *v = view_new(e->model.id ? e->model.id : "", version);
    int rc;

    if (!v)
        return -ENOMEM;
    v->archive_path = cache_name(t);
    if (!v->archive_path) {
        view_free(v);
        return -ENOMEM;
    }
    rc = link(zip_path, v->archive_path) == 0 ? 0 : stage_copy_file(zip_path, v->archive_path);
    if (rc) {
        free(v->archive_path);
        v->archive_path = NULL;
        view_free(v);
        return rc;
    }
    rc = zipx_index_open(v->archive_path, &v->idx, msg, sizeof(msg));
    if (rc) {
        log_err("%s: cannot index the uploaded archive: %s", e->name, msg);
        view_free(v);
        return rc;
    }
    v->archive_bytes = archive_size(v->archive_path);
    tenant_lock(t);
    drop_view_locked(t, e);
    v->last_used = ++t->use_clock;
    e->view = v;
    evict_archives_locked(t, v);
    tenant_unlock(t);
    return 0;
}

int tenant_view_archive(struct tenant *t, struct view *v, const char **path)
{
    char msg[512] = "";
    char *p;
    int rc;

    tenant_lock(t);
    p = v->archive_path;
    tenant_unlock(t);
    if (p) {
        *path = p;
        return 0;
    }
    p = cache_name(t);
    if (!p)
        return -ENOMEM;
    rc = tenant_fetch_archive(t, v->id, p, msg, sizeof(msg));
    if (rc) {
        log_err("cannot fetch archive %s: %s", v->id, msg);
        free(p);
        return rc;
    }
    uint64_t bytes = archive_size(p);

    tenant_lock(t);
    if (v->archive_path) { /* someone else fetched it meanwhile */
        unlink(p);
        free(p);
    } else {
        v->archive_path = p;
        v->archive_bytes = bytes;
        evict_archives_locked(t, v);
    }
    *path = v->archive_path;
    tenant_unlock(t);
    return 0;
}

/* --- directory-walk read-ahead -------------------------------------------------------- */
/* ls -lR, find, cp -r and rsync visit the extensions in listing (name) order, and each
 * visit needs that extension's archive: fetched one after another, the walk costs a round
 * trip and a transfer per extension. Once two visits in a row move forward through the
 * list, the next few archives are fetched in parallel by a few workers, so the walk finds
 * them ready. A single `ls mnt/ext` never triggers it. */

/* How far a visit may jump and still count as the same forward walk. */
#define WALK_GAP 8
/* Seconds between visits before a walk counts as over. */
#define WALK_IDLE 10.0

static unsigned walk_width(const struct tenant *t)
{
    int n = t->q->o.max_conns / 2;

    return n < 1 ? 1 : (unsigned)n;
}

/* An extension the walk may fetch ahead: listed, remote, and with no archive yet. Locked. */
static bool walk_wanted_locked(const struct ext *e)
{
    return !e->gone && !e->view && !e->view_loading && !e->staged && !e->is_new && e->model.id;
}

static void ra_run(struct tenant *t, struct ra_job *j);

/* A fetch-ahead worker: chunks for sequential readers first, then archives for a walk. */
static void *walk_worker(void *arg)
{
    struct tenant *t = arg;

    tenant_lock(t);
    for (;;) {
        while (!t->pf_stop && t->pfq_n == 0 && !t->raq_head)
            pthread_cond_wait(&t->pf_cond, &t->lock);
        if (t->pf_stop)
            break;
        if (t->raq_head) {
            struct ra_job *j = t->raq_head;

            t->raq_head = j->next;
            if (!t->raq_head)
                t->raq_tail = &t->raq_head;
            t->raq_n--;
            tenant_unlock(t);
            ra_run(t, j);
            tenant_lock(t);
            continue;
        }
        struct ext *e = t->pfq[0];

        memmove(t->pfq, t->pfq + 1, --t->pfq_n * sizeof(*t->pfq));
        bool wanted = walk_wanted_locked(e);

        tenant_unlock(t);
        if (wanted) {
            struct view *v = NULL;

            if (tenant_view_get(t, e, &v) == 0) {
                tenant_view_put(t, v);
                tenant_lock(t);
                t->stats.archives_ahead++;
                tenant_unlock(t);
            }
        }
        tenant_ext_put(t, e);
        tenant_lock(t);
    }
    tenant_unlock(t);
    return NULL;
}

/* Starts the workers on first use; called locked. False when none could start. */
static bool walk_workers_locked(struct tenant *t)
{
    unsigned want = walk_width(t);

    if (t->pf_thr)
        return t->pf_nthr > 0;
    t->pf_thr = calloc(want, sizeof(*t->pf_thr));
    if (!t->pf_thr)
        return false;
    while (t->pf_nthr < want && pthread_create(&t->pf_thr[t->pf_nthr], NULL, walk_worker, t) == 0)
        t->pf_nthr++;
    return t->pf_nthr > 0;
}

/* Queues the extensions at positions (from, to] that still need their archive; locked. */
static void walk_queue_locked(struct tenant *t, size_t from, size_t to)
{
    for (size_t i = from + 1; i <= to && i < t->n; i++) {
        struct ext *e = t->exts[i];

        if (!walk_wanted_locked(e))
            continue;
        if (t->pfq_n == t->pfq_cap) {
            size_t cap = t->pfq_cap ? t->pfq_cap * 2 : 16;
            struct ext **nq = realloc(t->pfq, cap * sizeof(*nq));

            if (!nq)
                return;
            t->pfq = nq;
            t->pfq_cap = cap;
        }
        e->refs++;
        t->pfq[t->pfq_n++] = e;
    }
    pthread_cond_broadcast(&t->pf_cond);
}

void tenant_walk_note(struct tenant *t, struct ext *e)
{
    double now = qfs_now();
    bool found;
    size_t pos;

    tenant_lock(t);
    pos = find_slot(t, e->name, &found);
    if (!found || (t->walk_seen && pos == t->walk_pos)) {
        tenant_unlock(t);
        return;
    }
    if (t->walk_seen && pos > t->walk_pos && pos <= t->walk_pos + WALK_GAP &&
        now - t->walk_at < WALK_IDLE && walk_workers_locked(t)) {
        size_t to = pos + walk_width(t) * 2;
        size_t from = t->walk_ahead > pos ? t->walk_ahead : pos;

        if (to > from)
            walk_queue_locked(t, from, to);
        if (to > t->walk_ahead)
            t->walk_ahead = to;
    } else {
        t->walk_ahead = pos;
    }
    t->walk_seen = true;
    t->walk_pos = pos;
    t->walk_at = now;
    tenant_unlock(t);
}

static void walk_stop(struct tenant *t)
{
    tenant_lock(t);
    t->pf_stop = true;
    pthread_cond_broadcast(&t->pf_cond);
    tenant_unlock(t);
    for (unsigned i = 0; i < t->pf_nthr; i++)
        pthread_join(t->pf_thr[i], NULL);
    for (size_t i = 0; i < t->pfq_n; i++)
        if (--t->pfq[i]->refs == 0)
            ext_free(t->pfq[i]);
    while (t->raq_head) {
        struct ra_job *j = t->raq_head;

        t->raq_head = j->next;
        tenant_view_put(t, j->v);
        free(j->key);
        free(j);
    }
    t->raq_tail = &t->raq_head;
    t->raq_n = 0;
    free(t->pf_thr);
    free(t->pfq);
    t->pf_thr = NULL;
    t->pfq = NULL;
    t->pf_nthr = 0;
    t->pfq_n = 0;
}

/* --- the kernel's page cache --------------------------------------------------------- */
/* The kernel keeps a file's pages between opens (keep_cache). A new version with the same
 * size and mtime (zip mtimes have 2 s steps) would keep serving the old pages, so when a view
 * is dropped its files' pages are dropped too, in two ways:
 *  - an open of one of its files while the record is queued gets keep_cache off, so the
 *    kernel drops that file's pages itself, in the open, before any read;
 *  - a worker thread calls fuse_invalidate_path for each file, for files already open or
 *    mapped. Never from a request handler: the kernel handles the notification by locking
 *    the file's pages, and a page stays locked until the read that filled it is answered;
 *    a handler waiting for that (single-threaded, -s, it always would) never answers. The
 *    worker holds no lock of ours while it notifies, so handlers keep running. */

/* Called with the lock held. Without a mount (unit tests) there is no kernel cache. */
static bool kcache_running_locked(const struct tenant *t)
{
    return t->q->fuse && t->kq_started && !t->kq_stop;
}

static void kcache_push_locked(struct tenant *t, struct kinval *r)
{
    *t->kq_tail = r;
    t->kq_tail = &r->next;
    pthread_cond_signal(&t->kq_cond);
}

static struct kinval *kinval_new(const char *name)
{
    struct kinval *r = calloc(1, sizeof(*r));

    if (r && !(r->ext = strdup(name))) {
        free(r);
        r = NULL;
    }
    return r;
}

static void kcache_queue_locked(struct tenant *t, struct ext *e)
{
    struct kinval *r;

    if (!kcache_running_locked(t) || !e->view->idx)
        return;
    r = kinval_new(e->name);
    if (!r) {
        /* the pages stay until their size or mtime changes: say so, carry on */
        log_warn("%s: out of memory: the kernel may serve the old version's pages", e->name);
        return;
    }
    r->old = e->view;
    r->old->refs++;
    kcache_push_locked(t, r);
}

static void kcache_queue_name_locked(struct tenant *t, const char *name)
{
    struct kinval *r;

    if (!kcache_running_locked(t))
        return;
    r = kinval_new(name);
    if (r) /* else the entry expires after list_ttl anyway */
        kcache_push_locked(t, r);
}

/* Pops the head record. Called with the lock held. */
static void kcache_pop_locked(struct tenant *t)
{
    struct kinval *r = t->kq_head;

    t->kq_head = r->next;
    if (!t->kq_head)
        t->kq_tail = &t->kq_head;
    if (r->old && --r->old->refs == 0)
        view_free(r->old);
    free(r->ext);
    free(r);
}

static void kcache_invalidate(struct tenant *t, const struct kinval *r)
{
    const struct zipx_index *idx = r->old->idx;

    for (size_t i = 0; i < zipx_count(idx); i++) {
        const struct zipx_entry *ent = zipx_entry_at(idx, i);
        char *path;

        if (ent->is_dir || asprintf(&path, "/%s/%s", r->ext, ent->name) < 0)
            continue;
        /* -ENOENT: the kernel holds no inode for it, so no pages either */
        fuse_invalidate_path(t->q->fuse, path);
        free(path);
    }
}

static void *kcache_worker(void *arg)
{
    struct tenant *t = arg;
    struct kinval *r;

    tenant_lock(t);
    for (;;) {
        while (!t->kq_head && !t->kq_stop)
            pthread_cond_wait(&t->kq_cond, &t->lock);
        if (t->kq_stop)
            break;
        r = t->kq_head;
        tenant_unlock(t);
        if (r->old)
            kcache_invalidate(t, r);
        else /* -ENOENT: the kernel holds no entry by that name */
            fuse_lowlevel_notify_inval_entry(fuse_get_session(t->q->fuse), FUSE_ROOT_ID, r->ext,
                                             strlen(r->ext));
        tenant_lock(t);
        kcache_pop_locked(t);
    }
    tenant_unlock(t);
    return NULL;
}

int tenant_kcache_start(struct tenant *t)
{
    int rc;

    tenant_lock(t);
    rc = t->kq_started ? 0 : pthread_create(&t->kq_thr, NULL, kcache_worker, t);
    if (rc == 0)
        t->kq_started = true;
    tenant_unlock(t);
    return -rc;
}

void tenant_kcache_stop(struct tenant *t)
{
    bool join;

    tenant_lock(t);
    t->kq_stop = true;
    join = t->kq_started;
    t->kq_started = false;
    pthread_cond_broadcast(&t->kq_cond);
    tenant_unlock(t);
    if (join)
        pthread_join(t->kq_thr, NULL);
    tenant_lock(t);
    while (t->kq_head)
        kcache_pop_locked(t);
    tenant_unlock(t);
}

bool tenant_kcache_keep(struct tenant *t, const char *path)
{
    const char *name = path[0] == '/' ? path + 1 : path;
    const char *rest = strchr(name, '/');
    bool keep = true;

    if (!rest)
        return true;
    tenant_lock(t);
    for (const struct kinval *r = t->kq_head; r && keep; r = r->next)
        if (r->old && strlen(r->ext) == (size_t)(rest - name) &&
            memcmp(r->ext, name, rest - name) == 0 && zipx_lookup(r->old->idx, rest + 1))
            keep = false;
    tenant_unlock(t);
    return keep;
}

/* --- reading file bytes ------------------------------------------------------------- */

struct fill_ctx {
    struct tenant *t;
    struct view *v;
    const struct zipx_entry *ent;
    const char *archive; /* v->archive_path when the read began (set once, then fixed) */
};

/* Streams a whole entry out of the local archive, putting every block into the cache;
 * copying a whole extension then costs no request beyond the archive itself. */
struct block_sink {
    struct bcache *bc;
    const char *key;
    size_t bs;
    char *blk;
    size_t fill;
    uint64_t block;
    uint64_t want;
    void *want_buf;
    size_t *want_len;
};

/* Hands a full block to the cache without a copy and starts a fresh one; a short last
 * block is copied so a small file costs its size, not a block. */
static int block_emit(struct block_sink *s)
{
    if (s->block == s->want) {
        memcpy(s->want_buf, s->blk, s->fill);
        *s->want_len = s->fill;
    }
    if (s->fill < s->bs) {
        bcache_put(s->bc, s->key, s->block++, s->blk, s->fill);
        s->fill = 0;
        return 0;
    }
    bcache_put_take(s->bc, s->key, s->block++, s->blk, s->fill);
    s->fill = 0;
    s->blk = malloc(s->bs);
    return s->blk ? 0 : -ENOMEM;
}

static int block_sink_write(void *arg, const void *buf, size_t n)
{
    struct block_sink *s = arg;
    const char *p = buf;

    while (n > 0) {
        size_t k = s->bs - s->fill < n ? s->bs - s->fill : n;

        memcpy(s->blk + s->fill, p, k);
        s->fill += k;
        p += k;
        n -= k;
        if (s->fill == s->bs && block_emit(s) != 0)
            return -ENOMEM;
    }
    return 0;
}

static int fill_from_archive(struct fill_ctx *c, const char *key, uint64_t block, void *buf,
                             size_t *len)
{
    struct block_sink s = {
        .bc = c->t->q->bc,
        .key = key,
        .bs = bcache_block_size(c->t->q->bc),
        .block = 0,
        .want = block,
        .want_buf = buf,
        .want_len = len,
    };
    int rc;

    s.blk = malloc(s.bs);
    if (!s.blk)
        return -ENOMEM;
    *len = 0;
    rc = zipx_extract(c->archive, c->ent, block_sink_write, &s);
    if (rc == 0 && (s.fill > 0 || s.block == 0))
        rc = block_emit(&s); /* the short last block (or an empty file's only block) */
    if (rc)
        bcache_drop_prefix(c->t->q->bc, key); /* the CRC check fails only at the end */
    free(s.blk);
    return rc;
}

struct mem_sink {
    char *buf;
    size_t cap;
    size_t len;
};

static int mem_sink_write(void *arg, uint64_t off, const void *buf, size_t n)
{
    struct mem_sink *m = arg;

    if (off + n > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        char *nb;

        while (cap < off + n)
            cap *= 2;
        nb = realloc(m->buf, cap);
        if (!nb)
            return -ENOMEM;
        m->buf = nb;
        m->cap = cap;
    }
    memcpy(m->buf + off, buf, n);
    if (off + n > m->len)
        m->len = off + n;
    return 0;
}

static int fill_block_direct(void *arg, const char *key, uint64_t block, void *buf, size_t *len);

/* Bytes per per-file fetch: FILE_CHUNK rounded down to whole blocks, at least one. */
static uint64_t chunk_len(const struct tenant *t)
{
    uint64_t bs = bcache_block_size(t->q->bc);

    return FILE_CHUNK > bs ? (FILE_CHUNK / bs) * bs : bs;
}

static bool chunk_busy_locked(struct tenant *t, const char *key, uint64_t chunk)
{
    for (size_t i = 0; i < t->ninflight; i++)
        if (t->inflight[i].chunk == chunk && !strcmp(t->inflight[i].key, key))
            return true;
    return false;
}

/* Claims chunk for this thread, or waits while another thread fetches it (returns at once
 * when !wait). Returns true when claimed; false when another fetch has it or finished it
 * (its blocks may now be cached). */
static bool chunk_claim(struct tenant *t, const char *key, uint64_t chunk, bool wait)
{
    bool waited = false;

    tenant_lock(t);
    while (chunk_busy_locked(t, key, chunk)) {
        waited = true;
        if (!wait)
            break;
        tenant_wait(t);
    }
    if (!waited && t->ninflight == t->capinflight) {
        size_t cap = t->capinflight ? t->capinflight * 2 : 16;
        struct chunk_fetch *n = realloc(t->inflight, cap * sizeof(*n));

        if (n) {
            t->inflight = n;
            t->capinflight = cap;
        }
    }
    if (!waited && t->ninflight < t->capinflight) {
        t->inflight[t->ninflight].key = (char *)key;
        t->inflight[t->ninflight].chunk = chunk;
        t->ninflight++;
    }
    tenant_unlock(t);
    return !waited;
}

static void chunk_release(struct tenant *t, const char *key, uint64_t chunk)
{
    tenant_lock(t);
    for (size_t i = 0; i < t->ninflight; i++) {
        if (t->inflight[i].chunk == chunk && t->inflight[i].key == key) {
            t->inflight[i] = t->inflight[--t->ninflight];
            break;
        }
    }
    tenant_broadcast(t);
    tenant_unlock(t);
}

/* A per-file fetch on its way into the block cache. A server honouring Range sends the
 * chunk asked for, kept in m until the answer says where it starts. One that ignores Range
 * sends the whole file, told apart by outgrowing the chunk: that is streamed through a
 * block_sink from the chunk on (the blocks before it skipped) and cut off once half the
 * cache is filled, so memory stays one chunk whatever comes. No answer may outgrow the
 * file's size in the central directory. */
struct chunk_sink {
    const struct fill_ctx *c;
    uint64_t off, len; /* the chunk asked for */
    uint64_t keep_end; /* whole file: the transfer stops here (block-aligned or the size) */
    struct mem_sink m; /* the body while it may be the chunk */
    struct block_sink b;
    bool whole;
    uint64_t at; /* whole: the file offset the next body bytes belong at */
};

/* Takes body bytes of a whole-file answer at file offset at. -ECANCELED once the bytes
 * wanted now are in. */
static int chunk_whole_feed(struct chunk_sink *s, uint64_t at, const char *p, size_t n)
{
    int rc;

    if (at < s->off) {
        uint64_t skip = s->off - at < n ? s->off - at : n;

        at += skip;
        p += skip;
        n -= (size_t)skip;
    }
    if (at + n > s->keep_end)
        n = at < s->keep_end ? (size_t)(s->keep_end - at) : 0;
    rc = block_sink_write(&s->b, p, n);
    if (rc == 0 && at + n >= s->keep_end && s->keep_end < s->c->ent->size)
        rc = -ECANCELED;
    return rc;
}

static int chunk_sink_write(void *arg, uint64_t off, const void *buf, size_t n)
{
    struct chunk_sink *s = arg;
    int rc;

    if (off + n > s->c->ent->size) {
        log_err("reading %s: the service sent more than the %llu bytes the archive lists",
                s->c->ent->name, (unsigned long long)s->c->ent->size);
        return -EIO;
    }
    if (!s->whole && off + n <= s->len)
        return mem_sink_write(&s->m, off, buf, n);
    if (s->whole && off == 0) { /* a retry starts the body again */
        s->b.block = s->off / s->b.bs;
        s->b.fill = 0;
        s->at = 0;
    }
    if (!s->whole) {
        s->whole = true;
        s->b.block = s->off / s->b.bs;
        s->b.blk = malloc(s->b.bs);
        if (!s->b.blk)
            return -ENOMEM;
        if (off > s->m.len)
            return -EIO;
        rc = off ? chunk_whole_feed(s, 0, s->m.buf, (size_t)off) : 0;
        free(s->m.buf);
        s->m = (struct mem_sink){0};
        s->at = off;
        if (rc)
            return rc;
    }
    if (off != s->at)
        return -EIO; /* a body arrives in order */
    s->at += n;
    return chunk_whole_feed(s, off, buf, n);
}

/* The end of a whole-file answer: its short last block, unless a 206 outgrew its range or
 * the file ended before the archive says it does: no block of it can be trusted then. */
static int chunk_whole_finish(struct chunk_sink *s, bool partial, const char *key)
{
    const char *why = partial               ? "answered a range with more bytes than asked for"
                      : s->at < s->keep_end ? "sent fewer bytes than the archive lists"
                                            : NULL;

    if (why) {
        log_err("reading %s: the service %s", s->c->ent->name, why);
        bcache_drop_prefix(s->c->t->q->bc, key);
        return -EIO;
    }
    return s->b.fill > 0 ? block_emit(&s->b) : 0;
}

/* Fetches one chunk of a file from the per-file endpoint and caches its blocks; the block
 * wanted is copied to buf (none when block is beyond the chunk). */
static int fetch_chunk(struct fill_ctx *c, const char *key, uint64_t block, uint64_t chunk,
                       void *buf, size_t *len)
{
    struct bcache_stats st;
    struct chunk_sink s = {.c = c};
    bool partial = false;
    char msg[512] = "";
    int rc;

    bcache_get_stats(c->t->q->bc, &st);
    s.b = (struct block_sink){.bc = c->t->q->bc,
                              .key = key,
                              .bs = bcache_block_size(c->t->q->bc),
                              .want = block,
                              .want_buf = buf,
                              .want_len = len};
    s.len = chunk_len(c->t);
    s.off = chunk * s.len;
    if (s.off + s.len > c->ent->size)
        s.len = c->ent->size - s.off;
    s.keep_end = s.off + (st.capacity / 2 > s.len ? st.capacity / 2 / s.b.bs * s.b.bs : s.len);
    if (s.keep_end > c->ent->size)
        s.keep_end = c->ent->size;
    *len = 0;
    rc = api_get_file(c->t->q->http, c->v->id, c->ent->name, s.off, s.len, chunk_sink_write, &s,
                      &partial, msg, sizeof(msg));
    if (rc == -ECANCELED && s.whole)
        rc = 0; /* cut off here: what is wanted now is in */
    rc = http_syscall_errno(rc);
    if (rc) {
        log_err("reading %s failed: %s", c->ent->name, msg);
        goto out;
    }
    if (s.whole) {
        rc = chunk_whole_finish(&s, partial, key);
        goto out;
    }
    if (s.m.len != (partial ? s.len : c->ent->size)) {
        log_err("reading %s: the service sent fewer bytes than the archive lists", c->ent->name);
        rc = -EIO;
        goto out;
    }
    /* The chunk (or a small file whole, from a server that ignores Range) into the cache
     * through the same block_sink a whole-file answer streams through. */
    s.b.block = (partial ? s.off : 0) / s.b.bs;
    s.b.blk = malloc(s.b.bs);
    rc = s.b.blk ? block_sink_write(&s.b, s.m.buf, s.m.len) : -ENOMEM;
    if (rc == 0 && s.b.fill > 0)
        rc = block_emit(&s.b);
out:
    free(s.m.buf);
    free(s.b.blk);
    return rc;
}

/* A miss without a local archive: the per-file endpoint, one aligned chunk of blocks at a
 * time, one fetch per chunk however many readers want it. */
static int fill_from_service(struct fill_ctx *c, const char *key, uint64_t block, void *buf,
                             size_t *len)
{
    size_t bs = bcache_block_size(c->t->q->bc);
    uint64_t off = block * bs;
    uint64_t chunk = off / chunk_len(c->t);
    int rc;

    if (off >= c->ent->size) {
        *len = 0;
        return 0;
    }
    for (int tries = 0; tries < 3; tries++) {
        if (chunk_claim(c->t, key, chunk, true)) {
            /* A fetch that ended between our miss and the claim has put our block. */
            bool fetch = !bcache_contains(c->t->q->bc, key, block);

            rc = fetch ? fetch_chunk(c, key, block, chunk, buf, len) : 0;
            chunk_release(c->t, key, chunk);
            if (fetch)
                return rc;
        }
        /* Another fetch had this chunk: our block is cached unless that failed. */
        if (bcache_contains(c->t->q->bc, key, block)) {
            long r = bcache_get(c->t->q->bc, key, block, buf, fill_block_direct, c);

            if (r >= 0) {
                *len = (size_t)r;
                return 0;
            }
        }
    }
    return fetch_chunk(c, key, block, chunk, buf, len);
}

static int fill_block_direct(void *arg, const char *key, uint64_t block, void *buf, size_t *len)
{
    struct fill_ctx *c = arg;
    uint64_t chunk = block * bcache_block_size(c->t->q->bc) / chunk_len(c->t);

    return fetch_chunk(c, key, block, chunk, buf, len);
}

static int fill_block(void *arg, const char *key, uint64_t block, void *buf, size_t *len)
{
    struct fill_ctx *c = arg;

    if (c->archive)
        return fill_from_archive(c, key, block, buf, len);
    return fill_from_service(c, key, block, buf, len);
}

/* --- stored entries, read in place ---------------------------------------------------- */

static int view_fd(struct tenant *t, struct view *v)
{
    int fd;

    tenant_lock(t);
    fd = v->fd;
    tenant_unlock(t);
    if (fd >= 0)
        return fd;
    fd = open(v->archive_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    tenant_lock(t);
    if (v->fd < 0) {
        v->fd = fd;
    } else {
        close(fd);
        fd = v->fd;
    }
    tenant_unlock(t);
    return fd;
}

/* An entry stored uncompressed in a local archive is read straight from that file: the
 * kernel's page cache holds it once, and nothing is extracted or copied into the block
 * cache. Its CRC is checked on the first read, before any byte of it is served: from the
 * CRCs taken while the archive downloaded where there are some, so that first read does
 * not wait for the whole entry to be read again (a 64 MiB file: 23 ms). */
static long read_stored(struct tenant *t, struct view *v, const struct zipx_entry *ent, char *buf,
                        size_t size, off_t off)
{
    size_t pos = zipx_entry_pos(v->idx, ent);
    int fd = view_fd(t, v);
    unsigned char state;

    if (fd < 0)
        return fd;
    tenant_lock(t);
    if (!v->checked)
        v->checked = calloc(zipx_count(v->idx), 1);
    state = v->checked ? v->checked[pos] : 0;
    tenant_unlock(t);
    if (state == 0) {
        state = zipx_stored_verify(fd, ent, v->segs) == 0 ? 1 : 2;
        tenant_lock(t);
        if (v->checked)
            v->checked[pos] = state;
        tenant_unlock(t);
    }
    if (state != 1)
        return -EIO;
    return zipx_stored_read(fd, ent, buf, size, (uint64_t)off);
}

/* --- chunks fetched ahead of a sequential reader ------------------------------------- */

static void ra_run(struct tenant *t, struct ra_job *j)
{
    struct fill_ctx c = {.t = t, .v = j->v, .ent = j->ent};
    uint64_t first = j->chunk * chunk_len(t) / bcache_block_size(t->q->bc);
    size_t len;

    /* A reader that got there first (kernel read-ahead does) fetches it itself; the second
     * look covers a reader that finished between the first look and the claim. */
    if (!bcache_contains(t->q->bc, j->key, first) && chunk_claim(t, j->key, j->chunk, false)) {
        if (!bcache_contains(t->q->bc, j->key, first) &&
            fetch_chunk(&c, j->key, UINT64_MAX, j->chunk, NULL, &len) == 0) {
            tenant_lock(t);
            t->stats.chunks_ahead++;
            tenant_unlock(t);
        }
        chunk_release(t, j->key, j->chunk);
    }
    tenant_view_put(t, j->v);
    free(j->key);
    free(j);
}

/* Queues chunk of the file behind key; false when it was not (workers stopped or busy
 * enough: the reader then fetches it itself, as without read-ahead). */
static bool ra_queue(struct tenant *t, struct view *v, const struct zipx_entry *ent,
                     const char *key, uint64_t chunk)
{
    struct ra_job *j = calloc(1, sizeof(*j));
    bool queued = false;

    if (!j || !(j->key = strdup(key)))
        goto out;
    j->ent = ent;
    j->chunk = chunk;
    j->v = v;
    tenant_lock(t);
    if (!t->pf_stop && t->raq_n < walk_width(t) * 2 && walk_workers_locked(t)) {
        v->refs++;
        *t->raq_tail = j;
        t->raq_tail = &j->next;
        t->raq_n++;
        t->stats.chunks_queued++;
        pthread_cond_signal(&t->pf_cond);
        queued = true;
    }
    tenant_unlock(t);
out:
    if (!queued && j) {
        free(j->key);
        free(j);
    }
    return queued;
}

/* Notes a read of [off, off + size) and queues the RA_CHUNKS chunks after it when the reads
 * go forward from where the last one ended. A first read, or one that jumps, queues
 * nothing: random access costs no request it did not ask for. */
static void ra_note(struct tenant *t, struct fill_ctx *c, const char *key, struct tenant_ra *ra,
                    uint64_t off, size_t size)
{
    uint64_t cl = chunk_len(t);
    uint64_t bs = bcache_block_size(t->q->bc);
    uint64_t end = off + size;
    uint64_t prev = atomic_exchange(&ra->next, end + 1);
    uint64_t next = (end - 1) / cl + 1;
    uint64_t last = next + RA_CHUNKS - 1;
    uint64_t q;

    if (prev-- == 0 || end <= prev || off > prev + cl)
        return;
    if (last * cl >= c->ent->size)
        last = (c->ent->size - 1) / cl;
    q = atomic_load(&ra->queued);
    /* Only one of a handle's parallel reads queues a given chunk. */
    if (next > last || q > last || !atomic_compare_exchange_strong(&ra->queued, &q, last + 1))
        return;
    for (uint64_t k = q > next ? q : next; k <= last; k++)
        if (!bcache_contains(t->q->bc, key, k * cl / bs) && !ra_queue(t, c->v, c->ent, key, k))
            break; /* the reader fetches it itself, as without read-ahead */
}

long tenant_read(struct tenant *t, struct view *v, const struct zipx_entry *ent,
                 struct tenant_ra *ra, char *buf, size_t size, off_t off)
{
    struct fill_ctx c = {.t = t, .v = v, .ent = ent};
    char *key;
    long r;

    if ((uint64_t)off >= ent->size || size == 0)
        return 0;
    if ((uint64_t)off + size > ent->size)
        size = (size_t)(ent->size - (uint64_t)off);
    tenant_lock(t); /* tenant_view_archive may complete the view meanwhile */
    c.archive = v->archive_path;
    tenant_unlock(t);
    if (ent->data_off && c.archive)
        return read_stored(t, v, ent, buf, size, off);
    if (asprintf(&key, "%s\n%s\n%s", v->id, v->version, ent->name) < 0)
        return -ENOMEM;
    if (ra && !c.archive)
        ra_note(t, &c, key, ra, (uint64_t)off, size);
    r = bcache_read(t->q->bc, key, (uint64_t)off, size, buf, fill_block, &c);
    free(key);
    return r;
}

void tenant_get_stats(struct tenant *t, struct tenant_stats *out)
{
    tenant_lock(t);
    *out = t->stats;
    out->archive_bytes = archive_bytes_locked(t);
    tenant_unlock(t);
}

/* --- attributes ------------------------------------------------------------------- */

void tenant_stat_ext(struct tenant *t, const struct ext *e, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    st->st_uid = t->q->uid;
    st->st_gid = t->q->gid;
    st->st_mtime = e->model.mtime;
    st->st_ctime = e->model.mtime;
    st->st_atime = e->model.mtime;
    st->st_size = 4096;
    st->st_blocks = 8;
}

void tenant_stat_entry(struct tenant *t, const struct zipx_entry *ent, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_mode = (ent->is_dir ? S_IFDIR : S_IFREG) | (ent->mode & 07777);
    st->st_nlink = ent->is_dir ? 2 : 1;
    st->st_uid = t->q->uid;
    st->st_gid = t->q->gid;
    st->st_size = ent->is_dir ? 4096 : (off_t)ent->size;
    st->st_blocks = (st->st_size + 511) / 512;
    st->st_blksize = 4096;
    st->st_mtime = ent->mtime;
    st->st_ctime = ent->mtime;
    st->st_atime = ent->mtime;
}

/* --- extended attributes ---------------------------------------------------------- */

static const char *const xattr_names[] = {
    "user.qlik.id",
    "user.qlik.name",
    "user.qlik.version",
    "user.qlik.qextVersion",
    "user.qlik.author",
    "user.qlik.type",
    "user.qlik.description",
    "user.qlik.updatedAt",
    "user.qlik.model",
    "user.qextfs.error",
    NULL,
};

/* Copies the value of one attribute under the lock into a malloc'd string (NULL: absent). */
static char *xattr_value_locked(const struct ext *e, const char *name)
{
    const struct api_ext *m = &e->model;
    const char *v = NULL;

    if (!strcmp(name, "user.qlik.id"))
        v = m->id;
    else if (!strcmp(name, "user.qlik.name"))
        v = m->name;
    else if (!strcmp(name, "user.qlik.version"))
        v = m->version;
    else if (!strcmp(name, "user.qlik.qextVersion"))
        v = m->qext_version;
    else if (!strcmp(name, "user.qlik.author"))
        v = m->author;
    else if (!strcmp(name, "user.qlik.type"))
        v = m->type;
    else if (!strcmp(name, "user.qlik.description"))
        v = m->description;
    else if (!strcmp(name, "user.qlik.updatedAt"))
        v = m->updated_at;
    else if (!strcmp(name, "user.qlik.model"))
        v = m->model_json;
    else if (!strcmp(name, "user.qextfs.error"))
        v = e->upload_err ? e->upload_msg : NULL;
    return v ? strdup(v) : NULL;
}

int tenant_getxattr(struct tenant *t, struct ext *e, const char *name, char *buf, size_t size)
{
    char *v;
    size_t n;

    tenant_lock(t);
    v = xattr_value_locked(e, name);
    tenant_unlock(t);
    if (!v)
        return -ENODATA;
    n = strlen(v);
    if (size > 0) {
        if (n > size) {
            free(v);
            return -ERANGE;
        }
        memcpy(buf, v, n);
    }
    free(v);
    return (int)n;
}

int tenant_listxattr(struct tenant *t, struct ext *e, char *buf, size_t size)
{
    size_t total = 0;

    tenant_lock(t);
    for (size_t i = 0; xattr_names[i]; i++) {
        char *v = xattr_value_locked(e, xattr_names[i]);
        size_t n = strlen(xattr_names[i]) + 1;

        if (!v)
            continue;
        free(v);
        if (size > 0) {
            if (total + n > size) {
                tenant_unlock(t);
                return -ERANGE;
            }
            memcpy(buf + total, xattr_names[i], n);
        }
        total += n;
    }
    tenant_unlock(t);
    return (int)total;
}
