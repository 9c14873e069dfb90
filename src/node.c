/* node: owns path resolution and the semantics of every filesystem operation (see node.h).
 * The rule that keeps it simple: an extension is either remote (read-only view of the
 * service's archive) or staged (a real directory tree on local disk that every operation
 * passes through to, like a passthrough filesystem). The first change stages it. */
#include "node.h"

#include "bdi.h"
#include "log.h"
#include "path.h"
#include "staging.h"
#include "status.h"
#include "tenant.h"
#include "writeback.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A resolved mount path. */
struct loc {
    int depth; /* 0 root, 1 extension directory, 2 inside */
    char name[PATH_NAME_MAX + 1];
    const char *rel; /* inside the extension ("" at depth 1) */
    struct ext *e;   /* referenced when depth >= 1 and it exists */
    bool staged;
};

static int resolve(struct qfs *q, const char *path, struct loc *l)
{
    int err = -ENOENT;

    memset(l, 0, sizeof(*l));
    l->depth = path_split(path, l->name, sizeof(l->name), &l->rel);
    if (l->depth < 0)
        return l->depth;
    if (l->depth == 0)
        return 0;
    l->e = tenant_ext_get(q->tenant, l->name, &err);
    if (!l->e)
        return err;
    tenant_lock(q->tenant);
    l->staged = l->e->staged;
    tenant_unlock(q->tenant);
    return 0;
}

static void loc_done(struct qfs *q, struct loc *l)
{
    tenant_ext_put(q->tenant, l->e);
    l->e = NULL;
}

static int local_path(struct qfs *q, const struct loc *l, char *out, size_t outsz)
{
    return stage_path(q, l->e->name, l->rel, out, outsz);
}

/* Resolves a path that is about to change: the extension gets staged first. */
static int resolve_for_change(struct qfs *q, const char *path, struct loc *l, char *local,
                              size_t localsz)
{
    int rc = resolve(q, path, l);

    if (rc)
        return rc;
    if (l->depth < 2) {
        loc_done(q, l);
        return l->depth == 0 ? -EPERM : -EISDIR;
    }
    if (!l->staged) {
        rc = stage_ensure(q, l->e);
        if (rc) {
            loc_done(q, l);
            return rc;
        }
        l->staged = true;
    }
    rc = local_path(q, l, local, localsz);
    if (rc)
        loc_done(q, l);
    return rc;
}

static void fix_owner(struct qfs *q, struct stat *st)
{
    st->st_uid = q->uid;
    st->st_gid = q->gid;
}

/* Looks an entry up in the remote view; holds a view reference on success. */
static int remote_lookup(struct qfs *q, struct loc *l, struct view **v,
                         const struct zipx_entry **ent)
{
    int rc = tenant_view_get(q->tenant, l->e, v);

    if (rc)
        return rc;
    *ent = zipx_lookup((*v)->idx, l->rel);
    if (!*ent) {
        tenant_view_put(q->tenant, *v);
        *v = NULL;
        return -ENOENT;
    }
    return 0;
}

int node_getattr(struct qfs *q, const char *path, struct stat *st, struct node_fh *fh)
{
    char local[PATH_MAX];
    struct loc l;
    int rc;

    if (fh && fh->fd >= 0) {
        if (fstat(fh->fd, st) != 0)
            return -errno;
        fix_owner(q, st);
        return 0;
    }
    if (fh && fh->ent) {
        tenant_stat_entry(q->tenant, fh->ent, st);
        return 0;
    }
    rc = resolve(q, path, &l);
    if (rc)
        return rc;
    if (l.depth == 0) {
        memset(st, 0, sizeof(*st));
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        st->st_mtime = st->st_ctime = st->st_atime = q->started;
        fix_owner(q, st);
    } else if (l.staged) {
        rc = local_path(q, &l, local, sizeof(local));
        if (rc == 0 && lstat(local, st) != 0)
            rc = -errno;
        if (rc == 0)
            fix_owner(q, st);
    } else if (l.depth == 1) {
        tenant_stat_ext(q->tenant, l.e, st);
    } else {
        struct view *v;
        const struct zipx_entry *ent;

        rc = remote_lookup(q, &l, &v, &ent);
        if (rc == 0) {
            tenant_stat_entry(q->tenant, ent, st);
            tenant_view_put(q->tenant, v);
        }
    }
    loc_done(q, &l);
    return rc;
}

struct root_fill {
    struct qfs *q;
    node_fill_fn fill;
    void *arg;
};

static int fill_ext(void *arg, struct ext *e)
{
    struct root_fill *r = arg;
    struct stat st;
    char name[PATH_NAME_MAX + 1];

    tenant_lock(r->q->tenant);
    tenant_stat_ext(r->q->tenant, e, &st);
    snprintf(name, sizeof(name), "%s", e->name);
    tenant_unlock(r->q->tenant);
    return r->fill(r->arg, name, &st);
}

static int fill_entry(void *arg, const struct zipx_entry *ent)
{
    struct root_fill *r = arg;
    const char *base = strrchr(ent->name, '/');
    struct stat st;

    tenant_stat_entry(r->q->tenant, ent, &st);
    return r->fill(r->arg, base ? base + 1 : ent->name, &st);
}

static int readdir_local(struct qfs *q, const char *dir, node_fill_fn fill, void *arg)
{
    struct dirent *d;
    DIR *dp = opendir(dir);

    if (!dp)
        return -errno;
    while ((d = readdir(dp))) {
        struct stat st;

        if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
            continue;
        if (fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        fix_owner(q, &st);
        if (fill(arg, d->d_name, &st))
            break;
    }
    closedir(dp);
    return 0;
}

static int list_dir(struct qfs *q, const char *path, node_fill_fn fill, void *arg)
{
    struct root_fill r = {.q = q, .fill = fill, .arg = arg};
    char local[PATH_MAX];
    struct loc l;
    int rc = resolve(q, path, &l);

    if (rc)
        return rc;
    fill(arg, ".", NULL);
    fill(arg, "..", NULL);
    if (l.depth == 1)
        tenant_walk_note(q->tenant, l.e);
    if (l.depth == 0) {
        rc = tenant_refresh(q->tenant, false);
        if (rc == 0)
            tenant_foreach(q->tenant, fill_ext, &r);
    } else if (l.staged) {
        rc = local_path(q, &l, local, sizeof(local));
        if (rc == 0)
            rc = readdir_local(q, local, fill, arg);
    } else {
        struct view *v;

        rc = tenant_view_get(q->tenant, l.e, &v);
        if (rc == 0) {
            const struct zipx_entry *ent = l.depth > 1 ? zipx_lookup(v->idx, l.rel) : NULL;

            if (l.depth > 1 && (!ent || !ent->is_dir))
                rc = ent ? -ENOTDIR : -ENOENT;
            else
                zipx_foreach_child(v->idx, l.rel, fill_entry, &r);
            tenant_view_put(q->tenant, v);
        }
    }
    loc_done(q, &l);
    return rc;
}

/* An open directory: its path (with nullpath_ok, readdir gets none) and the listing taken
 * when it is read from the start. The kernel reads a listing in pieces, asking again from
 * the offset it reached; serving the pieces from one listing keeps it consistent while the
 * directory changes. Entries carry offsets because libfuse 3.14 sends the attributes of a
 * readdirplus entry (so that a later stat or open needs no LOOKUP) only for those: ls -l
 * and cp -r of a tree then cost no LOOKUP per entry. */
struct dir_ent {
    char *name;
    struct stat st;
    bool has_st;
};

struct node_dh {
    struct dir_ent *ents;
    size_t n, cap;
    bool listed;
    int err; /* of taking the listing */
    char path[];
};

int node_opendir(const char *path, struct node_dh **out)
{
    struct node_dh *dh = calloc(1, sizeof(*dh) + strlen(path) + 1);

    if (!dh)
        return -ENOMEM;
    strcpy(dh->path, path);
    *out = dh;
    return 0;
}

static void dh_clear(struct node_dh *dh)
{
    for (size_t i = 0; i < dh->n; i++)
        free(dh->ents[i].name);
    dh->n = 0;
    dh->err = 0;
    dh->listed = false;
}

void node_releasedir(struct node_dh *dh)
{
    if (!dh)
        return;
    dh_clear(dh);
    free(dh->ents);
    free(dh);
}

static int dh_add(void *arg, const char *name, const struct stat *st)
{
    struct node_dh *dh = arg;
    struct dir_ent *d;

    if (dh->n == dh->cap) {
        size_t cap = dh->cap ? dh->cap * 2 : 32;
        struct dir_ent *p = realloc(dh->ents, cap * sizeof(*p));

        if (!p)
            goto nomem;
        dh->ents = p;
        dh->cap = cap;
    }
    d = &dh->ents[dh->n];
    d->name = strdup(name);
    if (!d->name)
        goto nomem;
    d->has_st = st != NULL;
    if (st)
        d->st = *st;
    dh->n++;
    return 0;
nomem:
    dh->err = -ENOMEM;
    return 1;
}

int node_readdir(struct qfs *q, struct node_dh *dh, off_t off, node_dir_fn fill, void *arg)
{
    bool fresh = off == 0 || !dh->listed;

    if (fresh) {
        int rc;

        dh_clear(dh);
        rc = list_dir(q, dh->path, dh_add, dh);
        if (rc == 0)
            rc = dh->err;
        if (rc) {
            dh_clear(dh);
            return rc;
        }
        dh->listed = true;
    }
    for (size_t i = off > 0 ? (size_t)off : 0; i < dh->n; i++) {
        const struct dir_ent *d = &dh->ents[i];

        /* Attributes only with the listing they were taken for: the kernel trusts those
         * of a reply unless they changed since it asked, so a piece served later from an
         * older listing could set a file it has since written back to an older size. */
        if (fill(arg, d->name, fresh && d->has_st ? &d->st : NULL, (off_t)i + 1))
            break;
    }
    return 0;
}

static struct node_fh *fh_new(struct loc *l)
{
    struct node_fh *fh = calloc(1, sizeof(*fh) + strlen(l->rel) + 1);

    if (!fh)
        return NULL;
    fh->fd = -1;
    strcpy(fh->rel, l->rel);
    fh->e = l->e; /* the reference moves to the handle */
    l->e = NULL;
    return fh;
}

/* Every handle open for writing is registered, temporaries too: one may be renamed to a
 * real name while still open, and then it counts (writeback.c follows the rename). */
static int count_writer(struct qfs *q, struct node_fh *fh, int flags)
{
    if ((flags & O_ACCMODE) == O_RDONLY)
        return 0;
    fh->wr = wb_writer_open(q->wb, fh->e, fh->rel);
    if (!fh->wr)
        return -ENOMEM;
    fh->writer = true;
    return 0;
}

static int open_local(struct qfs *q, struct loc *l, const char *local, int flags, mode_t mode,
                      struct node_fh **out)
{
    struct node_fh *fh;
    int fd = open(local, (flags & ~O_NOFOLLOW) | O_NOFOLLOW | O_CLOEXEC, mode);
    int rc;

    if (fd < 0)
        return -errno;
    fh = fh_new(l);
    if (!fh) {
        close(fd);
        return -ENOMEM;
    }
    fh->fd = fd;
    rc = count_writer(q, fh, flags);
    if (rc) {
        node_release(q, fh);
        return rc;
    }
    *out = fh;
    return 0;
}

int node_open(struct qfs *q, const char *path, int flags, struct node_fh **out)
{
    bool changes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
    char local[PATH_MAX];
    struct loc l;
    int rc;

    if (changes) {
        rc = resolve_for_change(q, path, &l, local, sizeof(local));
        if (rc)
            return rc;
        rc = open_local(q, &l, local, flags & ~O_CREAT, 0, out);
        if (rc == 0 && (flags & O_TRUNC))
            stage_changed(q, (*out)->e, (*out)->rel);
        loc_done(q, &l);
        return rc;
    }
    rc = resolve(q, path, &l);
    if (rc)
        return rc;
    if (l.depth < 2) {
        rc = -EISDIR;
    } else if (l.staged) {
        rc = local_path(q, &l, local, sizeof(local));
        if (rc == 0)
            rc = open_local(q, &l, local, flags, 0, out);
    } else {
        struct view *v;
        const struct zipx_entry *ent;

        rc = remote_lookup(q, &l, &v, &ent);
        if (rc == 0 && ent->is_dir) {
            tenant_view_put(q->tenant, v);
            rc = -EISDIR;
        } else if (rc == 0) {
            struct node_fh *fh = fh_new(&l);

            if (!fh) {
                tenant_view_put(q->tenant, v);
                rc = -ENOMEM;
            } else {
                fh->v = v;
                fh->ent = ent;
                *out = fh;
            }
        }
    }
    loc_done(q, &l);
    return rc;
}

int node_create(struct qfs *q, const char *path, mode_t mode, int flags, struct node_fh **out)
{
    char local[PATH_MAX];
    struct loc l;
    int rc = resolve_for_change(q, path, &l, local, sizeof(local));

    if (rc)
        return rc;
    rc = open_local(q, &l, local, flags | O_CREAT, mode, out);
    if (rc == 0)
        stage_changed(q, (*out)->e, (*out)->rel);
    loc_done(q, &l);
    return rc;
}

long node_read(struct qfs *q, struct node_fh *fh, char *buf, size_t size, off_t off)
{
    if (fh->fd >= 0) {
        ssize_t r = pread(fh->fd, buf, size, off);

        return r < 0 ? -errno : r;
    }
    return tenant_read(q->tenant, fh->v, fh->ent, &fh->ra, buf, size, off);
}

long node_write(struct qfs *q, struct node_fh *fh, const char *buf, size_t size, off_t off)
{
    ssize_t w;

    if (fh->fd < 0)
        return -EBADF;
    w = pwrite(fh->fd, buf, size, off);
    if (w < 0)
        return -errno;
    stage_changed(q, fh->e, fh->rel);
    return w;
}

/* The kernel ignores release's result, so a failed upload is reported here, on the next
 * close of a file written in that extension (and by fsync). */
int node_flush(struct qfs *q, struct node_fh *fh)
{
    int rc = 0;

    if (!wb_writer_counts(q->wb, fh->wr))
        return 0; /* a reader, or a temporary: nothing of it was to be uploaded */
    tenant_lock(q->tenant);
    if (fh->e->upload_err && ext_dirty(fh->e))
        rc = -EIO;
    tenant_unlock(q->tenant);
    return rc;
}

int node_fsync(struct qfs *q, struct node_fh *fh, bool datasync)
{
    bool dirty;

    if (fh->fd < 0)
        return 0;
    if ((datasync ? fdatasync(fh->fd) : fsync(fh->fd)) != 0)
        return -errno;
    if (fh->wr ? !wb_writer_counts(q->wb, fh->wr) : stage_is_local_only(q, fh->rel))
        return 0;
    tenant_lock(q->tenant);
    dirty = ext_dirty(fh->e) || (fh->e->upload_err && fh->e->staged);
    tenant_unlock(q->tenant);
    if (!dirty)
        return 0;
    /* The dirty flag must survive a power loss as the bytes just synced do, should the
     * upload below fail. */
    if (stage_sync_meta(q, fh->e) != 0)
        return -EIO;
    return wb_sync(q->wb, fh->e, fh->wr);
}

void node_release(struct qfs *q, struct node_fh *fh)
{
    if (fh->fd >= 0)
        close(fh->fd);
    if (fh->wr)
        wb_writer_close(q->wb, fh->wr); /* kicks the scheduler when it was the last writer */
    tenant_view_put(q->tenant, fh->v);
    tenant_ext_put(q->tenant, fh->e);
    free(fh);
}

int node_truncate(struct qfs *q, const char *path, off_t size, struct node_fh *fh)
{
    char local[PATH_MAX];
    struct loc l;
    int rc;

    if (fh && fh->fd >= 0) {
        if (ftruncate(fh->fd, size) != 0)
            return -errno;
        stage_changed(q, fh->e, fh->rel);
        return 0;
    }
    rc = resolve_for_change(q, path, &l, local, sizeof(local));
    if (rc)
        return rc;
    rc = truncate(local, size) == 0 ? 0 : -errno;
    if (rc == 0)
        stage_changed(q, l.e, l.rel);
    loc_done(q, &l);
    return rc;
}

/* Runs one path operation on the staged tree and records the change. */
static int change_op(struct qfs *q, const char *path, int (*op)(const char *local, void *arg),
                     void *arg)
{
    char local[PATH_MAX];
    struct loc l;
    int rc = resolve_for_change(q, path, &l, local, sizeof(local));

    if (rc)
        return rc;
    rc = op(local, arg); /* > 0: succeeded without changing anything */
    if (rc == 0)
        stage_changed(q, l.e, l.rel);
    loc_done(q, &l);
    return rc;
}

static int do_unlink(const char *local, void *arg)
{
    (void)arg;
    return unlink(local) == 0 ? 0 : -errno;
}

static int do_mkdir(const char *local, void *arg)
{
    return mkdir(local, *(mode_t *)arg) == 0 ? 0 : -errno;
}

static int do_rmdir(const char *local, void *arg)
{
    (void)arg;
    return rmdir(local) == 0 ? 0 : -errno;
}

static int do_utimens(const char *local, void *arg)
{
    return utimensat(AT_FDCWD, local, arg, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

int node_unlink(struct qfs *q, const char *path)
{
    return change_op(q, path, do_unlink, NULL);
}

int node_mkdir(struct qfs *q, const char *path, mode_t mode)
{
    char name[PATH_NAME_MAX + 1];
    const char *rel;
    struct ext *e;
    int depth = path_split(path, name, sizeof(name), &rel);
    int rc = 0;

    if (depth < 0)
        return depth;
    if (depth != 1)
        return depth == 0 ? -EEXIST : change_op(q, path, do_mkdir, &mode);
    /* A new extension: it reaches the service once it holds a valid .qext. */
    tenant_refresh(q->tenant, false);
    e = tenant_ext_create(q->tenant, name, &rc);
    if (!e)
        return rc;
    rc = stage_create_new(q, e);
    if (rc)
        tenant_ext_forget(q->tenant, e);
    tenant_ext_put(q->tenant, e);
    return rc;
}

int node_rmdir(struct qfs *q, const char *path)
{
    struct loc l;
    int rc;

    rc = resolve(q, path, &l);
    if (rc)
        return rc;
    if (l.depth == 0)
        rc = -EBUSY;
    else if (l.depth == 1)
        rc = wb_delete(q->wb, l.e);
    loc_done(q, &l);
    if (rc || l.depth < 2)
        return rc;
    return change_op(q, path, do_rmdir, NULL);
}

int node_rename(struct qfs *q, const char *from, const char *to, unsigned flags)
{
    char lfrom[PATH_MAX], lto[PATH_MAX];
    struct loc a, b;
    int rc;

    if (flags != 0)
        return -EINVAL;
    rc = resolve(q, from, &a);
    if (rc)
        return rc;
    if (a.depth < 2) {
        loc_done(q, &a);
        return a.depth == 0 ? -EBUSY : -EXDEV; /* mv falls back to copy and delete */
    }
    loc_done(q, &a);
    rc = resolve_for_change(q, from, &a, lfrom, sizeof(lfrom));
    if (rc)
        return rc;
    rc = resolve(q, to, &b);
    if (rc == -ENOENT && b.depth >= 1)
        rc = -EXDEV;
    if (rc == 0 && (b.depth < 2 || b.e != a.e))
        rc = -EXDEV;
    if (rc == 0)
        rc = local_path(q, &b, lto, sizeof(lto));
    if (rc == 0 && rename(lfrom, lto) != 0)
        rc = -errno;
    if (rc == 0) {
        wb_writer_renamed(q->wb, a.e, a.rel, b.rel);
        stage_changed(q, a.e, a.rel);
        stage_changed(q, a.e, b.rel);
    }
    loc_done(q, &b);
    loc_done(q, &a);
    return rc;
}

/* Editors restore a file's mode after saving; a chmod that changes nothing is no change
 * (vim's save would otherwise upload twice). */
static int do_chmod_if_changed(const char *local, void *arg)
{
    mode_t mode = *(mode_t *)arg;
    struct stat st;

    if (lstat(local, &st) != 0)
        return -errno;
    if ((st.st_mode & 07777) == mode)
        return 1;
    return fchmodat(AT_FDCWD, local, mode, 0) == 0 ? 0 : -errno;
}

int node_chmod(struct qfs *q, const char *path, mode_t mode, struct node_fh *fh)
{
    char name[PATH_NAME_MAX + 1];
    const char *rel;
    struct stat st;
    int rc;

    mode &= 07777;
    if (fh && fh->fd >= 0) {
        if (fstat(fh->fd, &st) != 0)
            return -errno;
        if ((st.st_mode & 07777) == mode)
            return 0;
        if (fchmod(fh->fd, mode) != 0)
            return -errno;
        stage_changed(q, fh->e, fh->rel);
        return 0;
    }
    /* Extension directories have no mode of their own; cp -a and rsync -a set one anyway. */
    if (path_split(path, name, sizeof(name), &rel) < 2)
        return 0;
    rc = change_op(q, path, do_chmod_if_changed, &mode);
    return rc > 0 ? 0 : rc;
}

int node_chown(struct qfs *q, const char *path, uid_t uid, gid_t gid, struct node_fh *fh)
{
    struct stat st;

    if ((uid != (uid_t)-1 && uid != q->uid) || (gid != (gid_t)-1 && gid != q->gid))
        return -EPERM;
    return node_getattr(q, path, &st, path ? NULL : fh); /* it must exist */
}

int node_utimens(struct qfs *q, const char *path, const struct timespec tv[2], struct node_fh *fh)
{
    char name[PATH_NAME_MAX + 1];
    const char *rel;

    if (fh && fh->fd >= 0) {
        if (futimens(fh->fd, tv) != 0)
            return -errno;
        stage_changed(q, fh->e, fh->rel);
        return 0;
    }
    if (path_split(path, name, sizeof(name), &rel) < 2)
        return 0; /* extension directories take their time from the service */
    return change_op(q, path, do_utimens, (void *)tv);
}

void node_tune_mount(struct qfs *q)
{
    int rc;

    if (!q->o.read_ahead || !q->mountpoint)
        return;
    rc = bdi_set_read_ahead(q->mountpoint, (unsigned)(q->o.read_ahead / 1024));
    /* Only root may write the setting; others keep the kernel's 128 KiB. */
    if (rc)
        log_dbg("read-ahead stays at the kernel's default: %s", strerror(-rc));
}

int node_statfs(struct qfs *q, struct statvfs *st)
{
    if (statvfs(q->state_dir, st) != 0)
        return -errno;
    st->f_namemax = PATH_NAME_MAX;
    return 0;
}

static bool xattr_is_system(const char *name)
{
    return strncmp(name, "security.", 9) == 0 || strncmp(name, "system.", 7) == 0 ||
           strncmp(name, "trusted.", 8) == 0;
}

int node_getxattr(struct qfs *q, const char *path, const char *name, char *buf, size_t size)
{
    char ext[PATH_NAME_MAX + 1];
    const char *rel;
    struct loc l;
    int rc;

    /* ls and cp ask for ACLs and security labels on every file. ENOTSUP (no such namespace
     * here; setxattr says the same) rather than ENODATA: ls and cp then stop asking for the
     * rest of the device, which saves a round trip per name and file in ls -l. */
    if (xattr_is_system(name))
        return -ENOTSUP;
    switch (path_split(path, ext, sizeof(ext), &rel)) {
    case 0:
        return status_getxattr(q, name, buf, size);
    case 1:
        break;
    default:
        return -ENODATA;
    }
    rc = resolve(q, path, &l);
    if (rc)
        return rc;
    rc = tenant_getxattr(q->tenant, l.e, name, buf, size);
    loc_done(q, &l);
    return rc;
}

int node_listxattr(struct qfs *q, const char *path, char *buf, size_t size)
{
    char ext[PATH_NAME_MAX + 1];
    const char *rel;
    struct loc l;
    int rc;

    switch (path_split(path, ext, sizeof(ext), &rel)) {
    case 0:
        return status_listxattr(q, buf, size);
    case 1:
        break;
    default:
        return 0;
    }
    rc = resolve(q, path, &l);
    if (rc)
        return rc;
    rc = tenant_listxattr(q->tenant, l.e, buf, size);
    loc_done(q, &l);
    return rc;
}
