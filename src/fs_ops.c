/* fs_ops: the FUSE operations table (see fs_ops.h). No logic lives here beyond unpacking
 * FUSE's arguments: every operation returns node.c's -errno. Paths are NULL for operations
 * on open files after an unlink (nullpath_ok), so those go by handle. */
#include "fs_ops.h"

#include "log.h"
#include "node.h"
#include "staging.h"
#include "tenant.h"
#include "writeback.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct qfs *ctx(void)
{
    return fuse_get_context()->private_data;
}

static struct node_fh *fh_of(struct fuse_file_info *fi)
{
    return fi ? (struct node_fh *)(uintptr_t)fi->fh : NULL;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    if (!path && !fi)
        return -EBADF;
    return node_getattr(ctx(), path, st, fh_of(fi));
}

struct dir_fill {
    void *buf;
    fuse_fill_dir_t filler;
};

static int dir_fill(void *arg, const char *name, const struct stat *st, off_t next)
{
    struct dir_fill *d = arg;

    return d->filler(d->buf, name, st, next, st ? FUSE_FILL_DIR_PLUS : 0);
}

static struct node_dh *dh_of(struct fuse_file_info *fi)
{
    return (struct node_dh *)(uintptr_t)fi->fh;
}

/* With nullpath_ok, readdir gets no path: the directory handle keeps it. */
static int op_opendir(const char *path, struct fuse_file_info *fi)
{
    struct node_dh *dh;
    int rc = node_opendir(path, &dh);

    if (rc == 0)
        fi->fh = (uintptr_t)dh;
    return rc;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    node_releasedir(dh_of(fi));
    return 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    struct dir_fill d = {.buf = buf, .filler = filler};

    (void)path;
    (void)flags;
    return node_readdir(ctx(), dh_of(fi), off, dir_fill, &d);
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
    struct node_fh *fh = NULL;
    int rc = node_open(ctx(), path, fi->flags, &fh);

    if (rc == 0) {
        fi->fh = (uintptr_t)fh;
        /* Only writers have an upload error to report at close: readers skip the FLUSH
         * round trip (cp -r makes one per file). */
        fi->noflush = !fh->writer;
        /* The kernel keeps the file's pages while its extension's version is unchanged;
         * otherwise this open drops them before any read (see tenant_kcache_keep). */
        fi->keep_cache = tenant_kcache_keep(ctx()->tenant, path);
    }
    return rc;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    struct node_fh *fh = NULL;
    int rc = node_create(ctx(), path, mode, fi->flags, &fh);

    if (rc == 0)
        fi->fh = (uintptr_t)fh;
    return rc;
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    return (int)node_read(ctx(), fh_of(fi), buf, size, off);
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)path;
    return (int)node_write(ctx(), fh_of(fi), buf, size, off);
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    return node_flush(ctx(), fh_of(fi));
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    return node_fsync(ctx(), fh_of(fi), datasync != 0);
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    node_release(ctx(), fh_of(fi));
    return 0;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    if (!path && !(fi && fh_of(fi)->fd >= 0))
        return -EBADF;
    return node_truncate(ctx(), path, size, fh_of(fi));
}

static int op_unlink(const char *path)
{
    return node_unlink(ctx(), path);
}

static int op_mkdir(const char *path, mode_t mode)
{
    return node_mkdir(ctx(), path, mode);
}

static int op_rmdir(const char *path)
{
    return node_rmdir(ctx(), path);
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
    return node_rename(ctx(), from, to, flags);
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    if (!path && !(fi && fh_of(fi)->fd >= 0))
        return -EBADF;
    return node_chmod(ctx(), path, mode, fh_of(fi));
}

/* fchown of a file unlinked while open comes without a path: the handle answers. */
static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    if (!path && !fh_of(fi))
        return -EBADF;
    return node_chown(ctx(), path, uid, gid, fh_of(fi));
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    if (!path && !(fi && fh_of(fi)->fd >= 0))
        return -EBADF;
    return node_utimens(ctx(), path, tv, fh_of(fi));
}

static int op_statfs(const char *path, struct statvfs *st)
{
    (void)path;
    return node_statfs(ctx(), st);
}

static int op_getxattr(const char *path, const char *name, char *value, size_t size)
{
    return node_getxattr(ctx(), path, name, value, size);
}

static int op_listxattr(const char *path, char *list, size_t size)
{
    return node_listxattr(ctx(), path, list, size);
}

static int op_setxattr(const char *path, const char *name, const char *value, size_t size,
                       int flags)
{
    (void)path;
    (void)name;
    (void)value;
    (void)size;
    (void)flags;
    return -ENOTSUP;
}

static int op_removexattr(const char *path, const char *name)
{
    (void)path;
    (void)name;
    return -ENOTSUP;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    struct qfs *q = ctx();

    /* Unlink of an open file renames it to .fuse_hidden* until the last close (fstat on it
     * keeps working); those names are local-only and never uploaded. */
    cfg->hard_remove = 0;
    cfg->nullpath_ok = 1;
    /* Not auto_cache: it keeps pages while size and mtime are unchanged, which a new version
     * can be with other bytes. op_open sets keep_cache by version instead, and the kernel
     * itself drops pages when getattr shows a new size or mtime (auto_inval_data). */
    cfg->auto_cache = 0;
    cfg->attr_timeout = q->o.list_ttl;
    cfg->entry_timeout = q->o.list_ttl;
    cfg->negative_timeout = 0;
    cfg->use_ino = 0;
    /* A read-only close has nothing to report (node_flush answers for writers only), so the
     * kernel need not send a FLUSH for it: one round trip less per file cp -r reads. */
    cfg->no_rofd_flush = 1;
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS;
    if (q->o.read_ahead)
        conn->max_readahead = (unsigned)q->o.read_ahead;
    node_tune_mount(q);
    q->fuse = fuse_get_context()->fuse;
    if (tenant_kcache_start(q->tenant) != 0)
        log_err("cannot start the kernel cache thread: old versions' pages may be served");
    /* Threads start here, after fuse_main may have forked into the background. */
    if (wb_start(q->wb) != 0)
        log_err("cannot start the upload threads");
    return q;
}

static void op_destroy(void *private_data)
{
    struct qfs *q = private_data;
    int left = wb_stop(q->wb, true);

    /* main.c's run_fuse stopped the kernel-cache worker before libfuse freed its tables */

    if (left > 0)
        log_err("%d extension(s) still hold changes in %s; they will be uploaded at the next "
                "mount",
                left, q->state_dir);
}

const struct fuse_operations fs_ops = {
    .getattr = op_getattr,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .fsync = op_fsync,
    .release = op_release,
    .truncate = op_truncate,
    .unlink = op_unlink,
    .mkdir = op_mkdir,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .chmod = op_chmod,
    .chown = op_chown,
    .utimens = op_utimens,
    .statfs = op_statfs,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .setxattr = op_setxattr,
    .removexattr = op_removexattr,
    .init = op_init,
    .destroy = op_destroy,
};
