/* staging: the per-tenant staging area on local disk, where every change lands first.
 * Layout under q->state_dir:  ext/<name>/tree/ (the extension's whole tree, the truth while
 * staged), ext/<name>/base.zip (the archive the tree started from), ext/<name>/meta.json
 * (id, base version, prefix, dirty flag), trash/<name>-<time>.zip (archives rm -r saved),
 * lock (flock'd by the mount using the area; holds its pid).
 * Survives crashes and remounts: a dirty tree found at mount time is uploaded. */
#ifndef QEXTFS_STAGING_H
#define QEXTFS_STAGING_H

#include "qextfs.h"

#include <stddef.h>

/* The staging area of a tenant: override if given, else $XDG_STATE_HOME/qextfs/<host_port>
 * or ~/.local/state/qextfs/<host_port>. malloc'd; NULL on ENOMEM. */
char *stage_default_dir(const char *tenant_url, const char *override);

/* Creates the staging area and locks it for this process (-EBUSY, logged with the owner's
 * pid, when another mount holds it), then removes archive caches crashed mounts left. */
int stage_init(struct qfs *q);
/* Releases the lock stage_init took. */
void stage_fini(struct qfs *q);

/* Appends one line to <state_dir>/unmount.log, which `qextfs umount` prints while it waits
 * for the daemon to finish its uploads. */
void stage_note(struct qfs *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Makes e staged: its tree materialized from the current archive. No-op when it already
 * is. Returns 0 or -errno. */
int stage_ensure(struct qfs *q, struct ext *e);
/* Stages a new, empty extension (mkdir at the root). */
int stage_create_new(struct qfs *q, struct ext *e);

/* Path of rel ("" for the extension directory itself) inside e's staged tree. */
int stage_path(struct qfs *q, const char *name, const char *rel, char *out, size_t outsz);
/* Path of a file in e's staging directory (base.zip, meta.json, upload.zip, ...). */
int stage_file(struct qfs *q, const char *name, const char *file, char *out, size_t outsz);

/* Records a change to rel (ignored for temporaries): bumps change_seq, persists the dirty
 * flag on the first change, and wakes the upload scheduler. */
void stage_changed(struct qfs *q, struct ext *e, const char *rel);
/* True when rel never leaves the machine (editor/tool temporaries, -o exclude globs). */
bool stage_is_local_only(struct qfs *q, const char *rel);

/* Writes meta.json for e from its current fields (atomically, not fsync'd). */
int stage_save_meta(struct qfs *q, struct ext *e);
/* Makes e's meta.json durable (fsync), for a user's fsync of a file of e. */
int stage_sync_meta(struct qfs *q, struct ext *e);

/* Removes e's staging directory (after a delete, or a clean copy of an old version). */
void stage_discard(struct qfs *q, const char *name);
/* Moves a staging directory to a new extension name. */
int stage_rename(struct qfs *q, const char *old_name, const char *new_name);

/* Copies the archive at zip_path into the trash as <name>-<time>.zip; the path chosen is
 * written to out. */
int stage_trash(struct qfs *q, const char *name, const char *zip_path, char *out, size_t outsz);

/* At mount: registers every staged extension with pending changes so they get uploaded;
 * clean leftovers are removed. Returns the number of pending extensions or -errno. */
int stage_recover(struct qfs *q);

/* True when the tree of e holds at least one *.qext file at its root. */
bool stage_has_qext(struct qfs *q, const char *name);
/* The base name (without ".qext") of the first *.qext file at the root of the tree: the
 * qextFilename the service gives the extension. 0, -ENOENT or -ENAMETOOLONG. */
int stage_qext_name(struct qfs *q, const char *name, char *out, size_t outsz);

/* Finishes writing a temporary file: closes fd, and renames tmp over path when rc is 0 and
 * the close succeeded, else removes tmp. Returns the first error, or 0. */
int stage_finish_tmp(int fd, const char *tmp, const char *path, int rc);

/* rm -rf of a directory tree (no symlinks followed). */
int stage_rmtree(const char *path);
/* Copies a regular file (data only), creating dst with mode 0600. */
int stage_copy_file(const char *src, const char *dst);

#endif
