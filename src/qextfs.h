/* qextfs.h: the mount's context (struct qfs) and the per-extension record (struct ext) that
 * the tenant, staging, writeback and FUSE modules share. This is the "one clear place" for
 * the state of a mount: the FUSE private_data points at struct qfs and nothing else is
 * global. Field comments say which lock guards what. */
#ifndef QEXTFS_H
#define QEXTFS_H

#include "api.h"
#include "archive.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct http;
struct bcache;
struct tenant;
struct wb;
struct fuse;
struct auth;

struct qfs_opts {
    char *tenant_url;
    char *api_key_file;
    char *client_id; /* OAuth machine-to-machine */
    char *client_secret_file;
    char *context;     /* qlik-cli context name */
    double list_ttl;   /* seconds the extension list is trusted */
    size_t cache_size; /* block cache bytes */
    size_t block_size;
    size_t read_ahead; /* kernel read-ahead bytes for the mount; 0 leaves the default */
    size_t disk_cache; /* bytes of fetched archives kept in cache_dir before the least
                          recently used are let go */
    int max_conns;
    long timeout; /* seconds without progress before a request fails */
    bool insecure;
    char *cacert;
    double upload_delay; /* quiet seconds before an upload */
    char *exclude;       /* extra temporary globs, "a:b" */
    char *state_dir;     /* staging root override */
    int tier1_per_min;   /* client-side pacing */
    int tier2_per_min;
    bool foreground;
    bool debug;
    bool single_thread;
    bool show_help;
    bool show_version;
};

struct qfs {
    struct qfs_opts o;
    struct http *http;
    struct bcache *bc;
    struct tenant *tenant;
    struct wb *wb;
    char *state_dir;  /* <state>/qextfs/<tenant-key>: staging and trash, survives mounts */
    int state_lock;   /* fd of state_dir/lock, flock'd while mounted; -1 before */
    char *cache_dir;  /* per-mount archive cache, wiped at unmount (or the next start) */
    char *mountpoint; /* absolute; NULL when it could not be resolved */
    char **exclude_globs;
    uid_t uid;
    gid_t gid;
    time_t started;    /* the root directory's times */
    struct fuse *fuse; /* for kernel cache invalidation; NULL in unit tests */
    struct auth *auth; /* credentials; never logged, wiped at exit */
};

/* One immutable snapshot of an extension's archive at one version: readers hold a reference
 * while they use it, so a new version can replace it without pulling it from under them. */
struct view {
    unsigned refs; /* tenant lock */
    char *id;
    char *version;
    struct zipx_index *idx;
    char *archive_path;       /* the whole archive on disk, or NULL when only the tail was read */
    int fd;                   /* archive_path opened for reading stored entries in place, or -1 */
    uint64_t archive_bytes;   /* archive_path's size, counted against disk_cache */
    uint64_t last_used;       /* tenant lock: the tenant's use clock at the last view_get */
    unsigned char *checked;   /* per index entry: 0 CRC not checked yet, 1 good, 2 bad */
    struct zipx_segcrc *segs; /* CRCs taken while archive_path downloaded, or NULL */
};

/* One extension directory. Guarded by the tenant lock unless said otherwise. */
struct ext {
    unsigned refs;
    char *name;           /* the directory name: qextFilename */
    struct api_ext model; /* last model from the service; model.id NULL while new */
    bool listed;          /* present in the last list */
    bool gone;            /* deleted: lookups miss, the record waits for its last ref */

    struct view *view; /* current remote snapshot, NULL until first needed */
    bool view_loading; /* one fetch at a time; others wait on tenant cond */
    int view_err;

    /* Staging (see staging.c). `staged` means the tree exists on local disk and is the
     * truth for this extension; reads and writes go to it. */
    bool staged;
    bool staging_busy;  /* materialization in progress */
    bool is_new;        /* created by mkdir, never uploaded */
    char *base_version; /* service version the staged tree started from */
    char *base_id;
    uint64_t change_seq; /* bumped by every change to a non-temporary path */
    uint64_t clean_seq;  /* change_seq that the service is known to hold */
    double last_change;  /* monotonic seconds */
    int open_writers;    /* files of this extension open for writing */
    bool uploading;
    bool deleting;
    int upload_err;          /* errno of the last failed upload, 0 when fine */
    bool upload_err_final;   /* a rejection: wait for the next change before retrying */
    char upload_msg[512];    /* what the service said */
    unsigned attempts;       /* failed attempts since the last success */
    double next_attempt;     /* monotonic time before which no retry starts */
    double dirty_since;      /* for status: when the pending change began */
    pthread_mutex_t io_lock; /* serializes materialize / upload / delete of this ext */
};

static inline bool ext_dirty(const struct ext *e)
{
    return e->change_seq != e->clean_seq;
}

double qfs_now(void); /* CLOCK_MONOTONIC seconds */

#endif
