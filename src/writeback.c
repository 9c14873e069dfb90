/* writeback: owns the upload scheduler thread, its workers and the upload procedure (see
 * writeback.h). Per extension, io_lock serializes upload, fsync and delete; the tenant lock
 * is only taken to read or update struct ext fields, never across the network or zip I/O. */
#include "writeback.h"

#include "http.h"
#include "log.h"
#include "path.h"
#include "staging.h"
#include "tenant.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct wb {
    struct qfs *q;
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* work for the workers */
    pthread_cond_t sched_cond; /* kicks for the scheduler */
    pthread_cond_t idle_cond;  /* a worker finished */
    pthread_t sched;
    pthread_t *workers;
    int nworkers;
    bool started, stopping;
    bool kicked;
    /* When the scheduler scans next unless kicked (qfs_now() clock; INFINITY until it
     * sleeps). A change due after that needs no kick: that scan finds it. */
    double sched_wake;
    struct ext **queue; /* referenced extensions waiting for a worker */
    size_t qlen, qcap;
    unsigned busy;
    struct wb_stats st;
    struct wb_writer *writers; /* open for writing; tenant lock */
};

struct wb_writer {
    struct wb_writer *next, *prev;
    struct ext *e;
    char *rel;    /* its current name inside e */
    bool counted; /* in e->open_writers: rel is not a temporary */
};

/* --- string sets for merge decisions ---------------------------------------------- */

struct strset {
    char **v;
    size_t n, cap;
};

static int strset_add(struct strset *s, const char *str)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **n = realloc(s->v, cap * sizeof(*n));

        if (!n)
            return -ENOMEM;
        s->v = n;
        s->cap = cap;
    }
    s->v[s->n] = strdup(str);
    return s->v[s->n++] ? 0 : -ENOMEM;
}

static bool strset_has(const struct strset *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return true;
    return false;
}

static void strset_free(struct strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* --- files open for writing ------------------------------------------------------- */

/* Puts h's count in line with its current name. Tenant lock held. */
static void writer_recount(struct wb *w, struct wb_writer *h)
{
    bool counted = !stage_is_local_only(w->q, h->rel);

    if (counted != h->counted)
        h->e->open_writers += counted ? 1 : -1;
    h->counted = counted;
}

static void kick_unless_planned(struct wb *w, double due);

/* When e's quiet period and any retry backoff have passed. Tenant lock held. */
static double due_at(const struct ext *e, double delay)
{
    return fmax(e->last_change + delay, e->next_attempt);
}

struct wb_writer *wb_writer_open(struct wb *w, struct ext *e, const char *rel)
{
    struct wb_writer *h = calloc(1, sizeof(*h));

    if (!h || !(h->rel = strdup(rel))) {
        free(h);
        return NULL;
    }
    h->e = e;
    tenant_lock(w->q->tenant);
    writer_recount(w, h);
    h->next = w->writers;
    if (w->writers)
        w->writers->prev = h;
    w->writers = h;
    tenant_unlock(w->q->tenant);
    return h;
}

void wb_writer_close(struct wb *w, struct wb_writer *h)
{
    bool last = false;
    double due = 0;

    if (!h)
        return;
    tenant_lock(w->q->tenant);
    if (h->counted)
        last = --h->e->open_writers == 0 && ext_dirty(h->e);
    if (last)
        due = due_at(h->e, w->q->o.upload_delay);
    if (h->prev)
        h->prev->next = h->next;
    else
        w->writers = h->next;
    if (h->next)
        h->next->prev = h->prev;
    tenant_unlock(w->q->tenant);
    free(h->rel);
    free(h);
    /* The last writer gone can make the extension due: the scheduler skips it while open.
     * A scan already planned by then finds it without a wake-up (cp -r closes a file per
     * file; a kick each was a cross-CPU switch and a scan of every extension). */
    if (last)
        kick_unless_planned(w, due);
}

/* The name rel takes when from is renamed to to; NULL when rel is not under from. */
static char *renamed_rel(const char *rel, const char *from, const char *to)
{
    size_t n = strlen(from);
    char *out = NULL;

    if (strncmp(rel, from, n) != 0 || (rel[n] != '\0' && rel[n] != '/'))
        return NULL;
    return asprintf(&out, "%s%s", to, rel + n) < 0 ? NULL : out;
}

void wb_writer_renamed(struct wb *w, struct ext *e, const char *from, const char *to)
{
    tenant_lock(w->q->tenant);
    for (struct wb_writer *h = w->writers; h; h = h->next) {
        char *rel = h->e == e ? renamed_rel(h->rel, from, to) : NULL;

        if (!rel)
            continue;
        free(h->rel);
        h->rel = rel;
        writer_recount(w, h);
    }
    tenant_unlock(w->q->tenant);
}

bool wb_writer_counts(struct wb *w, const struct wb_writer *h)
{
    bool counted;

    if (!h)
        return false;
    tenant_lock(w->q->tenant);
    counted = h->counted;
    tenant_unlock(w->q->tenant);
    return counted;
}

/* The files of e open for writing under names that upload, but the one except is open
 * on. Tenant lock held. */
static int writers_of(struct wb *w, struct ext *e, const struct wb_writer *except,
                      struct strset *out)
{
    int rc = 0;

    for (struct wb_writer *h = w->writers; rc == 0 && h; h = h->next)
        if (h->e == e && h->counted && (!except || strcmp(h->rel, except->rel) != 0) &&
            !strset_has(out, h->rel))
            rc = strset_add(out, h->rel);
    return rc;
}

/* --- what changed where ------------------------------------------------------------ */

/* A walk over a staged tree's folders and regular files, temporaries and symlinks left
 * out. nftw has no user argument, so it is a small recursive readdir with callbacks. */
struct walk {
    struct qfs *q;
    const char *root;
    int (*dir_in)(struct walk *wk, const char *rel);  /* before its children; may be NULL */
    int (*dir_out)(struct walk *wk, const char *rel); /* after them; may be NULL */
    int (*file)(struct walk *wk, const char *rel);
    void *arg;
};

static int walk_dir(struct walk *wk, const char *rel)
{
    char path[PATH_MAX];
    struct dirent *d;
    DIR *dp;
    int rc = wk->dir_in ? wk->dir_in(wk, rel) : 0;

    if (rc == 0 && path_join(path, sizeof(path), wk->root, rel) != 0)
        rc = -ENAMETOOLONG;
    if (rc)
        return rc;
    dp = opendir(path);
    if (!dp)
        return -errno;
    while (rc == 0 && (d = readdir(dp))) {
        char sub[PATH_MAX];
        struct stat st;

        if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
            continue;
        if (path_join(sub, sizeof(sub), rel, d->d_name) != 0 || stage_is_local_only(wk->q, sub) ||
            fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk_dir(wk, sub);
        else if (S_ISREG(st.st_mode))
            rc = wk->file(wk, sub);
    }
    closedir(dp);
    if (rc == 0 && wk->dir_out)
        rc = wk->dir_out(wk, rel);
    return rc;
}

static int collect_file(struct walk *wk, const char *rel)
{
    return strset_add(wk->arg, rel);
}

/* The regular files of a staged tree (relative paths), temporaries left out. */
static int walk_tree(struct qfs *q, const char *root, struct strset *out)
{
    struct walk wk = {.q = q, .root = root, .file = collect_file, .arg = out};

    return walk_dir(&wk, "");
}

static bool entry_differs(const struct zipx_entry *a, const struct zipx_entry *b)
{
    return !b || b->is_dir || a->size != b->size || a->crc != b->crc;
}

/* The local file at path holds exactly base entry b. */
static bool same_as_base(const char *path, const struct zipx_entry *b)
{
    uint32_t crc;
    uint64_t size;

    return b && !b->is_dir && zipx_file_crc(path, &crc, &size) == 0 && b->size == size &&
           b->crc == crc;
}

/* Paths changed in the local tree compared with the base archive. */
static int local_changes(struct qfs *q, const char *tree, const struct zipx_index *base,
                         struct strset *out)
{
    struct strset files = {0};
    int rc = walk_tree(q, tree, &files);

    for (size_t i = 0; rc == 0 && i < files.n; i++) {
        char path[PATH_MAX];

        if (path_join(path, sizeof(path), tree, files.v[i]) == 0 &&
            !same_as_base(path, zipx_lookup(base, files.v[i])))
            rc = strset_add(out, files.v[i]);
    }
    for (size_t i = 0; rc == 0 && i < zipx_count(base); i++) {
        const struct zipx_entry *b = zipx_entry_at(base, i);

        if (!b->is_dir && !strset_has(&files, b->name))
            rc = strset_add(out, b->name);
    }
    strset_free(&files);
    return rc;
}

/* Paths changed on the service (theirs) compared with the base archive. */
static int remote_changes(const struct zipx_index *base, const struct zipx_index *theirs,
                          struct strset *out)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < zipx_count(theirs); i++) {
        const struct zipx_entry *e = zipx_entry_at(theirs, i);

        if (!e->is_dir && entry_differs(e, zipx_lookup(base, e->name)))
            rc = strset_add(out, e->name);
    }
    for (size_t i = 0; rc == 0 && i < zipx_count(base); i++) {
        const struct zipx_entry *b = zipx_entry_at(base, i);

        if (!b->is_dir && !zipx_lookup(theirs, b->name))
            rc = strset_add(out, b->name);
    }
    return rc;
}

/* --- merging a moved service version --------------------------------------------- */

static int fd_write_all(void *arg, const void *buf, size_t n)
{
    int fd = *(int *)arg;
    const char *p = buf;

    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int make_parents(const char *path)
{
    char buf[PATH_MAX];

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return 0;
}

/* Writes their version of one file into the tree (or removes it), atomically. */
static int apply_theirs(const char *tree, const char *zip, const struct zipx_index *ti,
                        const char *rel)
{
    const struct zipx_entry *e = zipx_lookup(ti, rel);
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    struct timespec ts[2];
    int fd, rc;

    rc = path_join(path, sizeof(path), tree, rel);
    if (rc)
        return rc;
    if (!e)
        return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
    snprintf(tmp, sizeof(tmp), "%s.merge", path);
    rc = make_parents(path);
    if (rc)
        return rc;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, e->mode & 07777);
    if (fd < 0)
        return -errno;
    rc = zipx_extract(zip, e, fd_write_all, &fd);
    ts[0].tv_sec = ts[1].tv_sec = e->mtime;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    if (rc == 0 && futimens(fd, ts) != 0)
        rc = -errno;
    return stage_finish_tmp(fd, tmp, path, rc);
}

/* Saves the service's versions of the conflicting paths where the user can find them and
 * they survive the staging area: <state>/conflicts/<name>/conflict-<time>/. */
static void keep_their_copy(struct qfs *q, const char *name, const char *zip,
                            const struct zipx_index *ti, const struct strset *paths, char *dir,
                            size_t dirsz)
{
    char stamp[32], probe[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "conflict-%Y%m%dT%H%M%SZ", &tm);
    snprintf(dir, dirsz, "%s/conflicts/%s/%s", q->state_dir, name, stamp);
    if (path_join(probe, sizeof(probe), dir, "x") == 0)
        make_parents(probe); /* the folder exists even when they deleted every path */
    for (size_t i = 0; i < paths->n; i++) {
        int rc = apply_theirs(dir, zip, ti, paths->v[i]);

        if (rc)
            log_warn("%s: cannot save the service's copy of %s: %s", name, paths->v[i],
                     strerror(-rc));
    }
}

/* Applies their changes to the tree (all but skip), then makes their archive the base. */
static int take_theirs(struct qfs *q, struct ext *e, const char *name, const char *tree,
                       const char *theirs, const struct zipx_index *ti, const struct strset *their,
                       const struct strset *skip, const char *new_version)
{
    char base[PATH_MAX];
    int rc = 0;

    stage_file(q, name, "base.zip", base, sizeof(base));
    for (size_t i = 0; rc == 0 && i < their->n; i++)
        if (!strset_has(skip, their->v[i]))
            rc = apply_theirs(tree, theirs, ti, their->v[i]);
    if (rc == 0 && rename(theirs, base) != 0)
        rc = -errno;
    if (rc)
        return rc;
    tenant_lock(q->tenant);
    free(e->base_version);
    e->base_version = strdup(new_version);
    tenant_unlock(q->tenant);
    return stage_save_meta(q, e);
}

/* The service holds a newer version than our base. When the changed paths do not overlap,
 * merge per file. When they do, neither side is lost and the conflict ends: the service's
 * versions of the overlapping files are saved under <state>/conflicts/, its other changes
 * are merged, its archive becomes the base, and the user's tree stays as it is; the
 * conflict is reported (EIO, xattr, log) and the user's next change uploads their tree
 * over the new base. Either way the base becomes their archive. */
static int merge_moved(struct wb *w, struct ext *e, const char *name, const char *id,
                       const char *new_version, char *msg, size_t msgsz)
{
    struct qfs *q = w->q;
    char tree[PATH_MAX], base[PATH_MAX], theirs[PATH_MAX], dir[PATH_MAX] = "";
    struct zipx_index *bi = NULL, *ti = NULL;
    struct strset ours = {0}, their = {0}, overlap = {0};
    int rc;

    stage_path(q, name, "", tree, sizeof(tree));
    stage_file(q, name, "base.zip", base, sizeof(base));
    stage_file(q, name, "theirs.zip", theirs, sizeof(theirs));
    rc = tenant_fetch_archive(q->tenant, id, theirs, msg, msgsz);
    if (rc)
        goto out;
    rc = zipx_index_open(theirs, &ti, msg, msgsz);
    if (rc == 0)
        rc = zipx_index_open(base, &bi, msg, msgsz);
    if (rc == 0)
        rc = local_changes(q, tree, bi, &ours);
    if (rc == 0)
        rc = remote_changes(bi, ti, &their);
    for (size_t i = 0; rc == 0 && i < ours.n; i++)
        if (strset_has(&their, ours.v[i]))
            rc = strset_add(&overlap, ours.v[i]);
    if (rc)
        goto out;
    if (overlap.n > 0)
        keep_their_copy(q, name, theirs, ti, &overlap, dir, sizeof(dir));
    rc = take_theirs(q, e, name, tree, theirs, ti, &their, &overlap, new_version);
    if (rc) {
        snprintf(msg, msgsz, "merging the service's changes failed: %s", strerror(-rc));
        goto out;
    }
    if (overlap.n > 0) {
        snprintf(msg, msgsz,
                 "conflict: '%s'%s changed both here and on the service. Your version stays "
                 "in the mount and goes up with your next change; the service's version is "
                 "saved in %.300s",
                 overlap.v[0], overlap.n > 1 ? " and others" : "", dir);
        w->st.conflicts++;
        rc = -EBUSY; /* reported once; the user's next change resolves it */
        goto out;
    }
    log_info("%s: merged %zu file(s) changed on the service with %zu local change(s)", name,
             their.n, ours.n);
    w->st.merges++;
out:
    unlink(theirs);
    zipx_index_free(bi);
    zipx_index_free(ti);
    strset_free(&ours);
    strset_free(&their);
    strset_free(&overlap);
    return rc;
}

/* Compares the service's version with our base before overwriting anything. */
static int check_service(struct wb *w, struct ext *e, const char *name, const char *id,
                         const char *base_version, char *msg, size_t msgsz)
{
    struct api_ext cur = {0};
    int rc = api_get_extension(w->q->http, id, &cur, msg, msgsz);

    if (rc == -ENOENT) {
        snprintf(msg, msgsz,
                 "the extension was deleted on the service; local changes are kept "
                 "in the staging area");
        goto out;
    }
    if (rc)
        goto out;
    if (base_version && cur.version_token && strcmp(base_version, cur.version_token) != 0)
        rc = merge_moved(w, e, name, id, cur.version_token, msg, msgsz);
out:
    api_ext_free(&cur);
    return rc;
}

/* --- the upload -------------------------------------------------------------------- */

struct snapshot {
    char *name, *id, *base_version;
    bool is_new;
    uint64_t seq;
    struct strset held; /* open for writing: their last uploaded content goes up */
    unsigned held_back; /* of those, files whose new content did not go up */
};

static void snapshot_free(struct snapshot *s)
{
    free(s->name);
    free(s->id);
    free(s->base_version);
    strset_free(&s->held);
}

/* Building a snapshot of the tree with hard links (see build_archive). */
struct snap {
    const char *dir, *base_zip;
    const struct zipx_index *bi;
    struct snapshot *s;
};

static int snap_dir_in(struct walk *wk, const char *rel)
{
    const struct snap *sn = wk->arg;
    char to[PATH_MAX];

    if (path_join(to, sizeof(to), sn->dir, rel) != 0)
        return -ENAMETOOLONG;
    return mkdir(to, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

/* A folder's mode and times, copied once its children are in (creating them moved the
 * mtime). */
static int snap_dir_out(struct walk *wk, const char *rel)
{
    const struct snap *sn = wk->arg;
    char from[PATH_MAX], to[PATH_MAX];
    struct timespec ts[2];
    struct stat st;

    if (path_join(from, sizeof(from), wk->root, rel) != 0 ||
        path_join(to, sizeof(to), sn->dir, rel) != 0)
        return -ENAMETOOLONG;
    if (stat(from, &st) != 0)
        return -errno;
    ts[0] = st.st_atim;
    ts[1] = st.st_mtim;
    if (chmod(to, st.st_mode & 07777) != 0 || utimensat(AT_FDCWD, to, ts, 0) != 0)
        return -errno;
    return 0;
}

/* One file: a hard link to the tree's file (same bytes, mode, mtime), except for a held
 * file whose content differs from the base, which gets the base's entry (or nothing when
 * it is new). */
static int snap_file(struct walk *wk, const char *rel)
{
    const struct snap *sn = wk->arg;
    const struct zipx_entry *b = sn->bi ? zipx_lookup(sn->bi, rel) : NULL;
    char from[PATH_MAX], to[PATH_MAX];

    if (path_join(from, sizeof(from), wk->root, rel) != 0 ||
        path_join(to, sizeof(to), sn->dir, rel) != 0)
        return -ENAMETOOLONG;
    if (strset_has(&sn->s->held, rel) && !same_as_base(from, b)) {
        sn->s->held_back++;
        return b && !b->is_dir ? apply_theirs(sn->dir, sn->base_zip, sn->bi, rel) : 0;
    }
    return link(from, to) == 0 ? 0 : -errno;
}

static int snap_tree(struct qfs *q, const char *tree, struct snap *sn)
{
    struct walk wk = {.q = q,
                      .root = tree,
                      .dir_in = snap_dir_in,
                      .dir_out = snap_dir_out,
                      .file = snap_file,
                      .arg = sn};

    return walk_dir(&wk, "");
}

static bool skip_local_only(void *arg, const char *rel)
{
    return stage_is_local_only(arg, rel);
}

/* Builds the archive to upload from the base and the staged tree. When files are open for
 * writing (an fsync of another one), it is built from a snapshot of hard links in which
 * those files have their base content: a half-written file never goes up. */
static int build_archive(struct qfs *q, struct snapshot *s, char *out, size_t outsz, char *msg,
                         size_t msgsz)
{
    char base[PATH_MAX], tree[PATH_MAX], snap[PATH_MAX];
    struct zipx_index *bi = NULL;
    const char *prefix = "", *from = tree;
    bool explicit = false;
    int rc = 0;

    stage_file(q, s->name, "base.zip", base, sizeof(base));
    stage_path(q, s->name, "", tree, sizeof(tree));
    stage_file(q, s->name, "snap", snap, sizeof(snap));
    stage_file(q, s->name, "upload.zip", out, outsz);
    if (access(base, F_OK) == 0 && zipx_index_open(base, &bi, msg, msgsz) == 0) {
        prefix = zipx_prefix(bi);
        explicit = zipx_prefix_explicit(bi);
    }
    stage_rmtree(snap);
    if (s->held.n > 0) {
        struct snap sn = {.dir = snap, .base_zip = base, .bi = bi, .s = s};

        rc = snap_tree(q, tree, &sn);
        from = snap;
        if (rc)
            snprintf(msg, msgsz, "cannot snapshot the staged tree: %s", strerror(-rc));
    }
    if (rc == 0)
        rc = zipx_build(bi ? base : NULL, bi, prefix, explicit, from, out, skip_local_only, q, msg,
                        msgsz);
    stage_rmtree(snap);
    zipx_index_free(bi);
    return rc;
}

/* True when two files hold the same bytes. */
static bool same_bytes(const char *a, const char *b)
{
    char ba[65536], bb[65536];
    bool same = false;
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    size_t na, nb;

    if (!fa || !fb)
        goto out;
    do {
        na = fread(ba, 1, sizeof(ba), fa);
        nb = fread(bb, 1, sizeof(bb), fb);
        same = na == nb && memcmp(ba, bb, na) == 0;
    } while (same && na > 0);
    same = same && !ferror(fa) && !ferror(fb);
out:
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* Every file entry of a is in b with the same size and CRC, and b has no other files: what
 * counts when the service stores the archive it was sent re-packed. */
static bool same_files(const struct zipx_index *a, const struct zipx_index *b)
{
    size_t files_a = 0, files_b = 0;

    for (size_t i = 0; i < zipx_count(a); i++) {
        const struct zipx_entry *x = zipx_entry_at(a, i);

        if (x->is_dir)
            continue;
        files_a++;
        if (entry_differs(x, zipx_lookup(b, x->name)))
            return false;
    }
    for (size_t i = 0; i < zipx_count(b); i++)
        files_b += !zipx_entry_at(b, i)->is_dir;
    return files_a == files_b;
}

static bool same_archive(const char *a, const char *b)
{
    struct zipx_index *ia = NULL, *ib = NULL;
    char err[256];
    bool same = same_bytes(a, b);

    if (!same && zipx_index_open(a, &ia, err, sizeof(err)) == 0 &&
        zipx_index_open(b, &ib, err, sizeof(err)) == 0)
        same = same_files(ia, ib);
    zipx_index_free(ia);
    zipx_index_free(ib);
    return same;
}

/* A create answered 409. When the service already holds exactly the archive we sent, an
 * earlier attempt created it and its answer was lost (http.c retried the POST after a cut
 * reply or a 5xx), or we died before recording the success: adopt that extension, else
 * every later change would POST again and get 409 forever. Anything else is a real name
 * clash and the 409 stands (-EEXIST). On success *out is the service's model. */
static int adopt_created(struct wb *w, const struct snapshot *s, const char *zip,
                         struct api_ext *out)
{
    struct qfs *q = w->q;
    char qname[PATH_NAME_MAX + 1], theirs[PATH_MAX], msg[512] = "";
    struct api_ext cur = {0};
    int rc = stage_qext_name(q, s->name, qname, sizeof(qname));

    if (rc == 0)
        rc = api_get_extension(q->http, qname, &cur, msg, sizeof(msg));
    if (rc == 0 && !cur.id)
        rc = -EPROTO;
    if (rc == 0)
        rc = stage_file(q, s->name, "theirs.zip", theirs, sizeof(theirs));
    if (rc == 0) {
        rc = tenant_fetch_archive(q->tenant, cur.id, theirs, msg, sizeof(msg));
        if (rc == 0 && !same_archive(zip, theirs))
            rc = -EEXIST;
        unlink(theirs);
    }
    if (rc) {
        log_dbg("%s: the existing '%s' is not ours: %s", s->name, qname,
                msg[0] ? msg : strerror(-rc));
        api_ext_free(&cur);
        return -EEXIST;
    }
    log_info("%s: the service already holds exactly this extension (id %s), created by an "
             "earlier attempt whose answer was lost; using it",
             s->name, cur.id);
    *out = cur;
    return 0;
}

static void upload_succeeded(struct wb *w, struct ext *e, const struct snapshot *s, const char *zip,
                             const struct api_ext *m)
{
    struct qfs *q = w->q;
    char base[PATH_MAX];

    stage_file(q, s->name, "base.zip", base, sizeof(base));
    if (rename(zip, base) != 0)
        log_warn("%s: cannot keep the uploaded archive as the new base: %s", s->name,
                 strerror(errno));
    tenant_lock(q->tenant);
    api_ext_free(&e->model);
    api_ext_copy(&e->model, m);
    e->listed = true;
    free(e->base_version);
    free(e->base_id);
    e->base_version = m->version_token ? strdup(m->version_token) : NULL;
    e->base_id = m->id ? strdup(m->id) : NULL;
    e->is_new = false;
    if (!s->held_back) /* else what the open files hold still has to go up */
        e->clean_seq = s->seq;
    e->upload_err = 0;
    e->upload_err_final = false;
    e->upload_msg[0] = '\0';
    e->attempts = 0;
    tenant_unlock(q->tenant);
    if (m->version_token)
        tenant_view_install(q->tenant, e, m->version_token, base);
    w->st.uploads_ok++;
    if (s->is_new && m->qext_filename && strcmp(m->qext_filename, s->name) != 0) {
        if (tenant_ext_rename(q->tenant, e, m->qext_filename) == 0 &&
            stage_rename(q, s->name, m->qext_filename) == 0)
            log_info("%s: the service named this extension '%s' (its .qext file name); it "
                     "now appears as %s",
                     s->name, m->qext_filename, m->qext_filename);
    }
    stage_save_meta(q, e);
}

static void upload_failed(struct wb *w, struct ext *e, const struct snapshot *s, int rc,
                          const char *msg)
{
    bool final = rc == -EEXIST || rc == -EFBIG || rc == -EINVAL || rc == -EACCES || rc == -ENOENT ||
                 rc == -EBUSY;

    tenant_lock(w->q->tenant);
    e->upload_err = -http_syscall_errno(rc);
    snprintf(e->upload_msg, sizeof(e->upload_msg), "%s", msg[0] ? msg : strerror(-rc));
    e->attempts++;
    /* Rejections wait for the user's next change; transient failures retry with backoff. */
    e->upload_err_final = final;
    e->next_attempt = qfs_now() + fmin(60.0, pow(2.0, e->attempts));
    tenant_unlock(w->q->tenant);
    w->st.uploads_failed++;
    log_err("%s: upload failed, changes kept in the staging area: %s", s->name,
            msg[0] ? msg : strerror(-rc));
}

/* Uploads e's staged tree once; sync is the handle an fsync is for (NULL: none). Caller
 * holds e->io_lock and has set e->uploading. */
static int upload(struct wb *w, struct ext *e, const struct wb_writer *sync)
{
    struct qfs *q = w->q;
    struct snapshot s = {0};
    struct api_ext m = {0};
    char zip[PATH_MAX], msg[512] = "";
    int rc = 0;

    tenant_lock(q->tenant);
    if (!e->staged || !ext_dirty(e) || e->gone || e->deleting) {
        tenant_unlock(q->tenant);
        return 0;
    }
    s.name = strdup(e->name);
    s.id = e->base_id ? strdup(e->base_id) : NULL;
    s.base_version = e->base_version ? strdup(e->base_version) : NULL;
    s.is_new = e->is_new || !e->base_id;
    s.seq = e->change_seq;
    rc = writers_of(w, e, sync, &s.held);
    tenant_unlock(q->tenant);
    if (!s.name || rc)
        goto out;
    if (!stage_has_qext(q, s.name)) {
        /* Nothing the service would accept (and rm -r on its way): wait for a change. */
        log_dbg("%s: no .qext in the tree, not uploading", s.name);
        tenant_lock(q->tenant);
        e->next_attempt = INFINITY;
        tenant_unlock(q->tenant);
        goto out;
    }
    if (!s.is_new)
        rc = check_service(w, e, s.name, s.id, s.base_version, msg, sizeof(msg));
    if (rc == 0)
        rc = build_archive(q, &s, zip, sizeof(zip), msg, sizeof(msg));
    if (rc == 0 && s.is_new) {
        rc = api_create(q->http, zip, NULL, &m, msg, sizeof(msg));
        if (rc == -EEXIST && adopt_created(w, &s, zip, &m) == 0)
            rc = 0;
    } else if (rc == 0)
        rc = api_update(q->http, s.id, zip, NULL, &m, msg, sizeof(msg));
    if (rc == 0) {
        log_info("%s: uploaded (%s)", s.name, s.is_new ? "created" : "updated");
        upload_succeeded(w, e, &s, zip, &m);
    } else {
        upload_failed(w, e, &s, rc, msg);
        unlink(zip);
    }
out:
    api_ext_free(&m);
    snapshot_free(&s);
    return rc;
}

/* Runs one upload with the per-extension lock, flags and wake-ups around it. */
static int run_upload(struct wb *w, struct ext *e, const struct wb_writer *sync)
{
    int rc;

    pthread_mutex_lock(&e->io_lock);
    tenant_lock(w->q->tenant);
    e->uploading = true;
    tenant_unlock(w->q->tenant);
    rc = upload(w, e, sync);
    tenant_lock(w->q->tenant);
    e->uploading = false;
    tenant_broadcast(w->q->tenant);
    tenant_unlock(w->q->tenant);
    pthread_mutex_unlock(&e->io_lock);
    return rc;
}

/* --- scheduling -------------------------------------------------------------------- */

struct scan {
    struct wb *w;
    double now, next_due;
    bool ignore_delay;
};

bool wb_upload_due(const struct ext *e, double now, double delay, bool ignore_delay,
                   double *next_due)
{
    double due;

    if (!e->staged || !ext_dirty(e) || e->uploading || e->deleting || e->gone)
        return false;
    if (ignore_delay)
        return true;
    if (e->upload_err_final)
        return false;
    due = due_at(e, delay);
    if (due <= now && e->open_writers == 0)
        return true;
    /* While a writer is open the extension is not due, but the scan at its due time saves
     * the last close a wake-up (kick_unless_planned). A due time already past is left to
     * that close, or the scheduler would spin. */
    if (next_due && due > now && due < *next_due)
        *next_due = due;
    return false;
}

static int enqueue_if_due(void *arg, struct ext *e)
{
    struct scan *sc = arg;
    struct wb *w = sc->w;
    bool due;

    tenant_lock(w->q->tenant);
    due = wb_upload_due(e, sc->now, w->q->o.upload_delay, sc->ignore_delay, &sc->next_due);
    if (due) {
        e->uploading = true; /* reserved: nobody else starts one */
        e->refs++;
    }
    tenant_unlock(w->q->tenant);
    if (!due)
        return 0;
    pthread_mutex_lock(&w->lock);
    if (w->qlen == w->qcap) {
        size_t cap = w->qcap ? w->qcap * 2 : 32;
        struct ext **n = realloc(w->queue, cap * sizeof(*n));

        if (!n) {
            pthread_mutex_unlock(&w->lock);
            tenant_lock(w->q->tenant);
            e->uploading = false;
            tenant_unlock(w->q->tenant);
            tenant_ext_put(w->q->tenant, e);
            return 0;
        }
        w->queue = n;
        w->qcap = cap;
    }
    w->queue[w->qlen++] = e;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

static void *scheduler_main(void *arg)
{
    struct wb *w = arg;
    int pending = stage_recover(w->q); /* changes left by an earlier mount or a crash */

    if (pending > 0)
        log_info("%d extension(s) with changes from an earlier mount will be uploaded", pending);
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        struct scan sc = {.w = w, .now = qfs_now(), .next_due = INFINITY};
        struct timespec ts;
        double wait;

        w->kicked = false;
        w->sched_wake = INFINITY; /* scanning: a change made meanwhile must kick */
        pthread_mutex_unlock(&w->lock);
        tenant_foreach(w->q->tenant, enqueue_if_due, &sc);
        pthread_mutex_lock(&w->lock);
        if (w->kicked || w->stopping)
            continue;
        wait = fmin(fmax(sc.next_due - qfs_now(), 0.01), 5.0);
        w->sched_wake = qfs_now() + wait;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)wait;
        ts.tv_nsec += (long)((wait - floor(wait)) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->sched_cond, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void *worker_main(void *arg)
{
    struct wb *w = arg;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct ext *e;

        while (w->qlen == 0 && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->qlen == 0)
            break;
        e = w->queue[0];
        memmove(w->queue, w->queue + 1, (w->qlen - 1) * sizeof(*w->queue));
        w->qlen--;
        w->busy++;
        pthread_mutex_unlock(&w->lock);

        /* The scan reserved it; run_upload sets the flag again around the real work. */
        tenant_lock(w->q->tenant);
        e->uploading = false;
        tenant_unlock(w->q->tenant);
        run_upload(w, e, NULL);
        tenant_ext_put(w->q->tenant, e);

        pthread_mutex_lock(&w->lock);
        w->busy--;
        pthread_cond_broadcast(&w->idle_cond);
        pthread_cond_signal(&w->sched_cond); /* the scheduler may have more for us */
        w->kicked = true;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct wb *wb_new(struct qfs *q, int workers)
{
    struct wb *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    w->q = q;
    w->sched_wake = INFINITY;
    w->nworkers = workers > 0 ? workers : 1;
    w->workers = calloc((size_t)w->nworkers, sizeof(*w->workers));
    if (!w->workers) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->sched_cond, NULL);
    pthread_cond_init(&w->idle_cond, NULL);
    return w;
}

int wb_start(struct wb *w)
{
    int rc = pthread_create(&w->sched, NULL, scheduler_main, w);

    if (rc)
        return -rc;
    for (int i = 0; i < w->nworkers; i++) {
        rc = pthread_create(&w->workers[i], NULL, worker_main, w);
        if (rc) {
            w->nworkers = i;
            break;
        }
    }
    w->started = true;
    return rc ? -rc : 0;
}

/* Wakes the scheduler unless it is already kicked or will scan by time due anyway. */
static void kick_unless_planned(struct wb *w, double due)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    /* Already kicked: the scheduler rescans before it sleeps again, so one wake-up is enough
     * (cp -r of a tree calls this for every file; each wake-up is a cross-CPU switch). */
    if (!w->kicked && w->sched_wake > due) {
        w->kicked = true;
        pthread_cond_signal(&w->sched_cond);
    }
    pthread_mutex_unlock(&w->lock);
}

void wb_kick(struct wb *w)
{
    kick_unless_planned(w, -INFINITY);
}

/* Unmount: every extension with pending changes is uploaded once more, by as many threads as
 * there are upload workers (building archives is CPU work; a tree of new extensions copied
 * in just before unmount would otherwise go one by one). */
struct drain {
    struct wb *w;
    struct ext **v;
    size_t n, cap, next;
    int left;
    pthread_mutex_t mu;
};

static bool drain_wanted(struct tenant *t, struct ext *e, bool take_ref)
{
    bool dirty;

    tenant_lock(t);
    dirty = e->staged && ext_dirty(e) && !e->gone;
    if (dirty && take_ref)
        e->refs++;
    tenant_unlock(t);
    return dirty;
}

static int drain_collect(void *arg, struct ext *e)
{
    struct drain *d = arg;

    if (!drain_wanted(d->w->q->tenant, e, false))
        return 0;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        struct ext **v = realloc(d->v, cap * sizeof(*v));

        if (!v) {
            d->left++; /* stays staged for the next mount */
            return 0;
        }
        d->v = v;
        d->cap = cap;
    }
    if (drain_wanted(d->w->q->tenant, e, true))
        d->v[d->n++] = e;
    return 0;
}

static void drain_one(struct drain *d, struct ext *e)
{
    bool failed;

    log_info("%s: uploading pending changes before unmount", e->name);
    stage_note(d->w->q, "uploading %s", e->name);
    failed = run_upload(d->w, e, NULL) != 0;
    tenant_lock(d->w->q->tenant);
    failed = failed || ext_dirty(e);
    tenant_unlock(d->w->q->tenant);
    if (failed) {
        log_err("%s: changes could not be uploaded; they stay in the staging area and will "
                "be uploaded at the next mount",
                e->name);
        stage_note(d->w->q, "failed %s: %s (kept in the staging area)", e->name, e->upload_msg);
    } else {
        stage_note(d->w->q, "uploaded %s", e->name);
    }
    pthread_mutex_lock(&d->mu);
    d->left += failed;
    pthread_mutex_unlock(&d->mu);
}

static void *drain_main(void *arg)
{
    struct drain *d = arg;

    for (;;) {
        size_t i;

        pthread_mutex_lock(&d->mu);
        i = d->next++;
        pthread_mutex_unlock(&d->mu);
        if (i >= d->n)
            return NULL;
        drain_one(d, d->v[i]);
    }
}

static int drain_all(struct wb *w)
{
    struct drain d = {.w = w};
    pthread_t *t = calloc((size_t)w->nworkers, sizeof(*t));
    int started = 0;

    pthread_mutex_init(&d.mu, NULL);
    tenant_foreach(w->q->tenant, drain_collect, &d);
    while (t && started < w->nworkers && (size_t)started < d.n &&
           pthread_create(&t[started], NULL, drain_main, &d) == 0)
        started++;
    drain_main(&d); /* this thread helps, and does it all when no thread could start */
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i < d.n; i++)
        tenant_ext_put(w->q->tenant, d.v[i]);
    pthread_mutex_destroy(&d.mu);
    free(d.v);
    free(t);
    return d.left;
}

int wb_stop(struct wb *w, bool drain)
{
    if (!w || !w->started)
        return 0;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->cond);
    pthread_cond_signal(&w->sched_cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->sched, NULL);
    for (int i = 0; i < w->nworkers; i++)
        pthread_join(w->workers[i], NULL);
    w->started = false;
    return drain ? drain_all(w) : 0;
}

void wb_free(struct wb *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->qlen; i++)
        tenant_ext_put(w->q->tenant, w->queue[i]);
    while (w->writers) /* every handle is released before unmount; this is a safety net */
        wb_writer_close(w, w->writers);
    free(w->queue);
    free(w->workers);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->sched_cond);
    pthread_cond_destroy(&w->idle_cond);
    free(w);
}

int wb_sync(struct wb *w, struct ext *e, const struct wb_writer *h)
{
    int rc;

    rc = run_upload(w, e, h);
    tenant_lock(w->q->tenant);
    if (rc == 0 && e->upload_err && ext_dirty(e))
        rc = -EIO; /* a rejection that is still standing */
    tenant_unlock(w->q->tenant);
    return rc ? -EIO : 0;
}

static bool tree_is_empty(struct qfs *q, const char *name)
{
    char tree[PATH_MAX];
    struct dirent *d;
    bool empty = true;
    DIR *dp;

    stage_path(q, name, "", tree, sizeof(tree));
    dp = opendir(tree);
    if (!dp)
        return true;
    /* A file unlinked while open lingers as .fuse_hidden* until closed: not content. */
    while (empty && (d = readdir(dp)))
        empty = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
                !strncmp(d->d_name, ".fuse_hidden", 12);
    closedir(dp);
    return empty;
}

/* The archive to save in the trash: the staged base, or the service's current one. */
static int trash_archive(struct wb *w, struct ext *e, const char *name, bool staged)
{
    struct qfs *q = w->q;
    char base[PATH_MAX], saved[PATH_MAX];
    struct view *v = NULL;
    const char *zip = base;
    int rc;

    stage_file(q, name, "base.zip", base, sizeof(base));
    if (!staged || access(base, F_OK) != 0) {
        rc = tenant_view_get(q->tenant, e, &v);
        if (rc == 0)
            rc = tenant_view_archive(q->tenant, v, &zip);
        if (rc)
            goto out;
    }
    rc = stage_trash(q, name, zip, saved, sizeof(saved));
    if (rc == 0)
        log_info("%s: saved its last archive to %s", name, saved);
out:
    tenant_view_put(q->tenant, v);
    return rc;
}

int wb_delete(struct wb *w, struct ext *e)
{
    struct qfs *q = w->q;
    char msg[512] = "", *name, *id = NULL;
    struct view *v = NULL;
    bool staged;
    int rc = 0;

    pthread_mutex_lock(&e->io_lock);
    tenant_lock(q->tenant);
    staged = e->staged;
    name = strdup(e->name);
    if (e->model.id && !e->is_new)
        id = strdup(e->model.id);
    tenant_unlock(q->tenant);
    if (!name) {
        rc = -ENOMEM;
        goto out;
    }
    if (staged && !tree_is_empty(q, name)) {
        rc = -ENOTEMPTY;
        goto out;
    }
    if (!staged && id) {
        rc = tenant_view_get(q->tenant, e, &v);
        if (rc == 0 && zipx_count(v->idx) > 0)
            rc = -ENOTEMPTY;
        tenant_view_put(q->tenant, v);
        if (rc)
            goto out;
    }
    if (id) {
        rc = trash_archive(w, e, name, staged);
        if (rc) {
            log_err("%s: not deleting: cannot save its archive to the trash: %s", name,
                    strerror(-rc));
            goto out;
        }
        rc = api_delete(q->http, id, msg, sizeof(msg));
        /* 404/410: already gone, the goal of rm -r. A DELETE retried after its 204 was
         * lost gets exactly this. */
        if (rc == -ENOENT) {
            log_info("%s: already deleted on the service (%s)", name, msg);
            rc = 0;
        }
        if (rc) {
            log_err("%s: delete failed: %s", name, msg);
            goto out;
        }
        log_info("%s: deleted on the service", name);
    }
    tenant_lock(q->tenant);
    e->deleting = true;
    tenant_unlock(q->tenant);
    stage_discard(q, name);
    tenant_ext_forget(q->tenant, e);
out:
    pthread_mutex_unlock(&e->io_lock);
    free(name);
    free(id);
    return rc;
}

void wb_get_stats(struct wb *w, struct wb_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->st;
    out->uploading = w->busy;
    out->pending = (unsigned)w->qlen;
    pthread_mutex_unlock(&w->lock);
}
