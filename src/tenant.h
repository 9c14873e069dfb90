/* tenant: what the service holds, as this mount knows it. The extension table with its
 * list TTL, version tracking (a new version drops that extension's index and blocks),
 * per-version views of each archive (index + archive file), and the remote read path
 * through the block cache. Never holds its lock across network or zip I/O. */
#ifndef QEXTFS_TENANT_H
#define QEXTFS_TENANT_H

#include "qextfs.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

/* Read-ahead state of one open file (zeroed at open). A reader that keeps going on from
 * where its last read ended gets the next chunk of the file fetched in the background, like
 * the kernel's read-ahead one level down. Atomic because a handle's reads run in parallel. */
struct tenant_ra {
    _Atomic uint64_t next;   /* end offset of the last read + 1; 0 before the first read */
    _Atomic uint64_t queued; /* the chunk last queued ahead + 1; 0 none yet */
};

struct tenant *tenant_new(struct qfs *q);
void tenant_free(struct tenant *t);

/* The tenant lock guards every struct ext field marked so in qextfs.h. */
void tenant_lock(struct tenant *t);
void tenant_unlock(struct tenant *t);
/* Wakes everyone waiting on an extension state change (view or staging done). */
void tenant_broadcast(struct tenant *t);
void tenant_wait(struct tenant *t);

/* Refreshes the extension list when it is older than list_ttl (always when force). Returns
 * 0 or -errno; on failure the last list keeps being served. */
int tenant_refresh(struct tenant *t, bool force);

/* A referenced extension by directory name, or NULL (errno-style *err: -ENOENT, or the
 * refresh error when there is no list at all). Release with tenant_ext_put. */
struct ext *tenant_ext_get(struct tenant *t, const char *name, int *err);
void tenant_ext_put(struct tenant *t, struct ext *e);
/* A new local extension (mkdir). -EEXIST when the name is taken. */
struct ext *tenant_ext_create(struct tenant *t, const char *name, int *err);
/* Takes e out of the table (after a delete); lookups miss from now on. */
void tenant_ext_forget(struct tenant *t, struct ext *e);
/* Moves e to a new name (the service chose another qextFilename). -EEXIST when taken. */
int tenant_ext_rename(struct tenant *t, struct ext *e, const char *new_name);
/* Records the model the service returned after an upload. */
void tenant_ext_set_model(struct tenant *t, struct ext *e, const struct api_ext *m);

/* Calls fn for every visible extension with a reference held and no lock. */
int tenant_foreach(struct tenant *t, int (*fn)(void *arg, struct ext *e), void *arg);
size_t tenant_count(struct tenant *t);

/* The current view of e, fetching the archive (or its tail) when needed. One fetch at a
 * time per extension. Returns 0 or -errno (-ENOENT when the service says it is gone). */
int tenant_view_get(struct tenant *t, struct ext *e, struct view **out);
/* Tells that a user visits e's directory (readdir). When visits move forward through the
 * list, as ls -lR, find, cp -r and rsync do, the next archives are fetched ahead in the
 * background, at most max_conns/2 at a time. */
void tenant_walk_note(struct tenant *t, struct ext *e);
void tenant_view_put(struct tenant *t, struct view *v);
/* Makes a copy of zip_path (an archive the service now holds at version) e's current
 * view. */
int tenant_view_install(struct tenant *t, struct ext *e, const char *version, const char *zip_path);
/* Ensures the view's whole archive is on disk (it may hold only the tail index) and returns
 * its path in *path (valid while the view is referenced). */
int tenant_view_archive(struct tenant *t, struct view *v, const char **path);

/* Downloads the whole archive of id into dest. */
int tenant_fetch_archive(struct tenant *t, const char *id, const char *dest, char *msg,
                         size_t msgsz);

/* The kernel's page cache of versions that were replaced: a worker drops the pages of each
 * file of an old version (fuse_invalidate_path), never from a request handler. Start once
 * the mount runs (q->fuse set), stop before the fuse struct goes away. */
int tenant_kcache_start(struct tenant *t);
void tenant_kcache_stop(struct tenant *t);
/* Whether an open of path may keep the kernel's pages (keep_cache): false while the pages
 * of an old version of that file are still queued to be dropped. */
bool tenant_kcache_keep(struct tenant *t, const char *path);

/* Reads file bytes of entry ent of view v through the block cache. ra (may be NULL) is the
 * open file's read-ahead state: sequential reads of a file read from the per-file endpoint
 * fetch its next chunk ahead, on the same workers as the directory walk. */
long tenant_read(struct tenant *t, struct view *v, const struct zipx_entry *ent,
                 struct tenant_ra *ra, char *buf, size_t size, off_t off);

/* Counters of the fetch-ahead workers, for the status xattr. */
struct tenant_stats {
    uint64_t archives_ahead;   /* archives fetched ahead of a directory walk */
    uint64_t chunks_queued;    /* file chunks queued ahead of a sequential reader */
    uint64_t chunks_ahead;     /* of those, fetched by a worker (not cached or claimed first) */
    uint64_t archive_bytes;    /* archives of the current views on disk (bound: disk_cache) */
    uint64_t archives_evicted; /* views let go to keep within disk_cache */
};
void tenant_get_stats(struct tenant *t, struct tenant_stats *out);

/* stat for an extension directory and for an entry of a view. */
void tenant_stat_ext(struct tenant *t, const struct ext *e, struct stat *st);
void tenant_stat_entry(struct tenant *t, const struct zipx_entry *ent, struct stat *st);

/* Extended attributes of an extension directory (user.qlik.*, user.qextfs.error).
 * getxattr returns the value length (copied when size > 0) or -ENODATA / -ERANGE;
 * listxattr the length of the NUL-separated name list. */
int tenant_getxattr(struct tenant *t, struct ext *e, const char *name, char *buf, size_t size);
int tenant_listxattr(struct tenant *t, struct ext *e, char *buf, size_t size);

#endif
