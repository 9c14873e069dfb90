/* node: the filesystem's semantics, one function per operation, independent of FUSE. A
 * mount path resolves to the root, an extension directory, or an entry inside one; entries
 * of an extension are served from its remote view (archive index + block cache) until the
 * first change stages it, and from its staged tree on local disk after that. Every function
 * returns 0 (or a count) or -errno. fs_ops.c is the thin FUSE table over these. */
#ifndef QEXTFS_NODE_H
#define QEXTFS_NODE_H

#include "qextfs.h"
#include "tenant.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

/* An open file. fd >= 0 for a staged file (a real local file), else a remote entry. */
struct node_fh {
    int fd;
    bool writer;          /* open for writing */
    struct wb_writer *wr; /* a writer's registration: its current name, renames included */
    struct ext *e;        /* referenced */
    struct view *v;       /* referenced, remote only */
    const struct zipx_entry *ent;
    struct tenant_ra ra; /* remote only: sequential read detection */
    char rel[];          /* path inside the extension at open time (wr follows renames) */
};

/* Receives one directory entry; st may be NULL. Returns non-zero to stop. */
typedef int (*node_fill_fn)(void *arg, const char *name, const struct stat *st);
/* The same, with the offset a later read resumes from to list the entries after it. */
typedef int (*node_dir_fn)(void *arg, const char *name, const struct stat *st, off_t next);

/* An open directory (node.c keeps its listing). */
struct node_dh;

int node_getattr(struct qfs *q, const char *path, struct stat *st, struct node_fh *fh);
int node_opendir(const char *path, struct node_dh **out);
/* Lists dh from entry off on; off 0 takes a new listing, later offsets continue it. */
int node_readdir(struct qfs *q, struct node_dh *dh, off_t off, node_dir_fn fill, void *arg);
void node_releasedir(struct node_dh *dh);
int node_open(struct qfs *q, const char *path, int flags, struct node_fh **out);
int node_create(struct qfs *q, const char *path, mode_t mode, int flags, struct node_fh **out);
long node_read(struct qfs *q, struct node_fh *fh, char *buf, size_t size, off_t off);
long node_write(struct qfs *q, struct node_fh *fh, const char *buf, size_t size, off_t off);
int node_flush(struct qfs *q, struct node_fh *fh);
int node_fsync(struct qfs *q, struct node_fh *fh, bool datasync);
void node_release(struct qfs *q, struct node_fh *fh);
int node_truncate(struct qfs *q, const char *path, off_t size, struct node_fh *fh);
int node_unlink(struct qfs *q, const char *path);
int node_mkdir(struct qfs *q, const char *path, mode_t mode);
int node_rmdir(struct qfs *q, const char *path);
int node_rename(struct qfs *q, const char *from, const char *to, unsigned flags);
int node_chmod(struct qfs *q, const char *path, mode_t mode, struct node_fh *fh);
/* Only the mount owner's ids are accepted (a no-op); others are EPERM. path may be NULL
 * when fh is given. */
int node_chown(struct qfs *q, const char *path, uid_t uid, gid_t gid, struct node_fh *fh);
int node_utimens(struct qfs *q, const char *path, const struct timespec tv[2], struct node_fh *fh);
int node_statfs(struct qfs *q, struct statvfs *st);
/* Kernel settings of the mount libfuse has no call for (read-ahead); best effort. */
void node_tune_mount(struct qfs *q);
int node_getxattr(struct qfs *q, const char *path, const char *name, char *buf, size_t size);
int node_listxattr(struct qfs *q, const char *path, char *buf, size_t size);

#endif
