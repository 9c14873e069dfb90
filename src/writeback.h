/* writeback: gets staged changes to the service. A scheduler thread starts an upload when an
 * extension has changes, no file of it is open for writing and upload_delay has passed
 * quietly; workers rebuild the archive and PATCH (or POST a new one), checking first whether
 * the service moved (per-file merge, or a kept conflict). Failures are recorded on the
 * extension for flush/fsync and getfattr; nothing staged is ever dropped on failure. */
#ifndef QEXTFS_WRITEBACK_H
#define QEXTFS_WRITEBACK_H

#include "qextfs.h"

struct wb *wb_new(struct qfs *q, int workers);
int wb_start(struct wb *w);
/* Stops the threads; with drain, first uploads every pending change (ignoring the delay)
 * and waits for it. Returns the number of extensions that still hold changes. */
int wb_stop(struct wb *w, bool drain);
void wb_free(struct wb *w);

/* Something changed: re-evaluate soon. */
void wb_kick(struct wb *w);

struct wb_writer;
/* Uploads e now if it has changes (fsync through handle h, NULL for a read-only one) and
 * returns the outcome: 0, or -EIO (rejected, conflict, retries exhausted) with the reason
 * in e->upload_msg. Other files of e still open for writing keep their last uploaded
 * content in that upload and go up in a later one. */
int wb_sync(struct wb *w, struct ext *e, const struct wb_writer *h);

/* Files open for writing, tracked per open handle so that a rename while open moves the
 * handle: while one is open under a name that uploads (not a temporary), the scheduler
 * waits (e->open_writers), and an fsync's upload leaves it out. */
/* Registers a handle open for writing rel of e. NULL on ENOMEM. */
struct wb_writer *wb_writer_open(struct wb *w, struct ext *e, const char *rel);
void wb_writer_close(struct wb *w, struct wb_writer *h);
/* rel (a file or a folder) of e was renamed to to: handles under it follow. */
void wb_writer_renamed(struct wb *w, struct ext *e, const char *from, const char *to);
/* True when h is open under a name that uploads. */
bool wb_writer_counts(struct wb *w, const struct wb_writer *h);

/* rm -r of an extension: saves its last archive to the trash, sends one DELETE, forgets it.
 * -ENOTEMPTY when its tree still holds files. */
int wb_delete(struct wb *w, struct ext *e);

/* The scheduler's decision, pure for testing: e has staged changes, no writer holds a file
 * open, the quiet period and any retry backoff have passed, no rejection is standing, and
 * no upload or delete runs. Otherwise the time it next becomes due lowers *next_due. Call
 * with the tenant lock held. ignore_delay (unmount) skips the time and writer checks. */
bool wb_upload_due(const struct ext *e, double now, double delay, bool ignore_delay,
                   double *next_due);

/* Counts for status output. */
struct wb_stats {
    unsigned pending, uploading;
    uint64_t uploads_ok, uploads_failed, conflicts, merges;
};
void wb_get_stats(struct wb *w, struct wb_stats *out);

#endif
