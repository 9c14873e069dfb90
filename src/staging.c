/* staging: owns the staging area on local disk (layout in staging.h). Everything here is
 * plain file I/O; the tenant lock is taken only to read or flip struct ext fields, never
 * across the I/O itself. */
#include "staging.h"

#include "log.h"
#include "path.h"
#include "tenant.h"
#include "writeback.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);

    if (n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* "https://Tenant.EU.qlikcloud.com:443/" -> "tenant.eu.qlikcloud.com_443" */
static char *tenant_key(const char *url)
{
    const char *p = strstr(url, "://");
    char *k = strdup(p ? p + 3 : url);

    if (!k)
        return NULL;
    for (char *c = k; *c; c++) {
        if (*c == '/') {
            *c = '\0';
            break;
        }
        if (*c == ':')
            *c = '_';
        else if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    }
    return k;
}

char *stage_default_dir(const char *tenant_url, const char *override)
{
    const char *home = getenv("HOME");
    const char *xs = getenv("XDG_STATE_HOME");
    char *key, *dir = NULL;
    int n;

    if (override)
        return strdup(override);
    key = tenant_key(tenant_url);
    if (!key)
        return NULL;
    if (xs && *xs)
        n = asprintf(&dir, "%s/qextfs/%s", xs, key);
    else
        n = asprintf(&dir, "%s/.local/state/qextfs/%s", home && *home ? home : "/tmp", key);
    free(key);
    return n < 0 ? NULL : dir;
}

void stage_note(struct qfs *q, const char *fmt, ...)
{
    char path[PATH_MAX];
    va_list ap;
    FILE *f;

    snprintf(path, sizeof(path), "%s/unmount.log", q->state_dir);
    f = fopen(path, "a");
    if (!f)
        return;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

/* Writes this process's pid into the lock file, for the message a second mount gets. */
static void lock_note_pid(struct qfs *q)
{
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

    if (q->state_lock >= 0 && ftruncate(q->state_lock, 0) == 0 &&
        pwrite(q->state_lock, pid, (size_t)n, 0) != n)
        log_warn("cannot write the pid into %s/lock: %s", q->state_dir, strerror(errno));
}

/* One mount per staging area: two daemons on one would each take the other's staged trees
 * for a crash's leftovers and upload them. An flock, so a crashed mount's lock dies with
 * it and the next mount recovers its changes. */
static int lock_state_dir(struct qfs *q)
{
    char p[PATH_MAX], owner[32] = "";
    ssize_t n;
    int fd, rc;

    snprintf(p, sizeof(p), "%s/lock", q->state_dir);
    fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        log_err("cannot open %s: %s", p, strerror(-rc));
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        n = pread(fd, owner, sizeof(owner) - 1, 0);
        owner[n > 0 ? n : 0] = '\0';
        owner[strcspn(owner, "\n")] = '\0';
        if (rc == -EBUSY)
            log_err("the staging area %s is in use by another qextfs mount (pid %s); give "
                    "this mount its own -o state_dir=DIR",
                    q->state_dir, *owner ? owner : "unknown");
        else
            log_err("cannot lock %s: %s", p, strerror(-rc));
        close(fd);
        return rc;
    }
    q->state_lock = fd;
    lock_note_pid(q);
    return 0;
}

/* Archive caches (cache-XXXXXX) of mounts that did not reach their unmount. Only copies of
 * the service's archives live there, and the lock says no live mount owns them. */
static void sweep_caches(struct qfs *q)
{
    char p[PATH_MAX];
    struct dirent *d;
    DIR *dp = opendir(q->state_dir);

    if (!dp)
        return;
    while ((d = readdir(dp))) {
        if (strncmp(d->d_name, "cache-", 6) != 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", q->state_dir, d->d_name);
        if (stage_rmtree(p) == 0)
            log_info("removed %s, left by a mount that did not finish", p);
    }
    closedir(dp);
}

int stage_init(struct qfs *q)
{
    char p[PATH_MAX];
    int rc;

    q->state_lock = -1;
    snprintf(p, sizeof(p), "%s/ext", q->state_dir);
    rc = mkdir_p(p, 0700);
    if (rc == 0) {
        snprintf(p, sizeof(p), "%s/trash", q->state_dir);
        rc = mkdir_p(p, 0700);
    }
    if (rc) {
        log_err("cannot create the staging area %s: %s", q->state_dir, strerror(-rc));
        return rc;
    }
    rc = lock_state_dir(q);
    if (rc == 0)
        sweep_caches(q);
    return rc;
}

void stage_fini(struct qfs *q)
{
    if (q->state_dir && q->state_lock >= 0) {
        close(q->state_lock);
        q->state_lock = -1;
    }
}

int stage_file(struct qfs *q, const char *name, const char *file, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s/ext/%s%s%s", q->state_dir, name, *file ? "/" : "", file);

    return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

int stage_path(struct qfs *q, const char *name, const char *rel, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s/ext/%s/tree%s%s", q->state_dir, name, *rel ? "/" : "", rel);

    return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int stage_rmtree(const char *path)
{
    if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int stage_copy_file(const char *src, const char *dst)
{
    char buf[65536];
    int in = -1, out = -1, rc = 0;
    ssize_t r;

    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = -errno;
        goto out;
    }
    while ((r = read(in, buf, sizeof(buf))) > 0) {
        if (write(out, buf, (size_t)r) != r) {
            rc = errno ? -errno : -EIO;
            goto out;
        }
    }
    if (r < 0)
        rc = -errno;
    if (rc == 0 && fsync(out) != 0)
        rc = -errno;
out:
    if (out >= 0 && close(out) != 0 && rc == 0)
        rc = -errno;
    close(in);
    if (rc && out >= 0)
        unlink(dst);
    return rc;
}

int stage_finish_tmp(int fd, const char *tmp, const char *path, int rc)
{
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

/* Writes data to path through a temporary of its own and rename: meta.json must never be
 * seen half-written after a crash, and two writers must not share a temporary. Not fsync'd:
 * a crash of the daemon keeps the page cache, and the staged files it describes are no more
 * durable than this until the user's fsync, which makes both durable (stage_sync_meta). An
 * fsync here cost a disk flush on every mkdir and first write of cp -r, twice per extension. */
static int write_atomic(const char *path, const char *data)
{
    char tmp[PATH_MAX + 16];
    size_t n = strlen(data);
    int fd, rc = 0;

    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (write(fd, data, n) != (ssize_t)n)
        rc = errno ? -errno : -EIO;
    return stage_finish_tmp(fd, tmp, path, rc);
}

int stage_sync_meta(struct qfs *q, struct ext *e)
{
    char path[PATH_MAX];
    int fd, rc = 0;

    tenant_lock(q->tenant);
    rc = stage_file(q, e->name, "meta.json", path, sizeof(path));
    tenant_unlock(q->tenant);
    if (rc)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    /* On ext4 and xfs the file's fsync commits the journal that holds its rename too. */
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* meta.json's text for e's current fields, and its path. Call with the tenant lock held. */
static char *meta_text(struct qfs *q, struct ext *e, char *path, size_t pathsz)
{
    cJSON *j = cJSON_CreateObject();
    char *text = NULL;

    if (!j || stage_file(q, e->name, "meta.json", path, pathsz) != 0)
        goto out;
    cJSON_AddStringToObject(j, "name", e->name);
    if (e->base_id)
        cJSON_AddStringToObject(j, "id", e->base_id);
    if (e->base_version)
        cJSON_AddStringToObject(j, "base_version", e->base_version);
    cJSON_AddBoolToObject(j, "is_new", e->is_new);
    cJSON_AddBoolToObject(j, "dirty", ext_dirty(e));
    text = cJSON_PrintUnformatted(j);
out:
    cJSON_Delete(j);
    return text;
}

/* The text is decided under the tenant lock but written after it (no disk I/O under that
 * lock), so a writer holding an older state (an upload's dirty:false) can rename after a
 * newer one (a change's dirty:true). Each writer therefore re-reads the state after its
 * rename and writes again while it differs: the last rename is always followed by a check
 * against the latest state, and a remount never discards unsent edits. */
int stage_save_meta(struct qfs *q, struct ext *e)
{
    char path[PATH_MAX];
    char *text, *now = NULL;
    int rc = 0;

    tenant_lock(q->tenant);
    text = meta_text(q, e, path, sizeof(path));
    tenant_unlock(q->tenant);
    while (text && rc == 0) {
        rc = write_atomic(path, text);
        tenant_lock(q->tenant);
        now = meta_text(q, e, path, sizeof(path));
        tenant_unlock(q->tenant);
        if (now && strcmp(now, text) == 0)
            break;
        cJSON_free(text);
        text = now;
        now = NULL;
    }
    if (rc == 0 && !text)
        rc = -ENOMEM;
    if (rc)
        log_err("%s: cannot save staging metadata: %s", e->name, strerror(-rc));
    cJSON_free(text);
    cJSON_free(now);
    return rc;
}

/* Waits until no materialization of e is running; returns with the lock held. */
static void wait_not_busy(struct tenant *t, struct ext *e)
{
    tenant_lock(t);
    while (e->staging_busy)
        tenant_wait(t);
}

static int materialize(struct qfs *q, struct ext *e, struct view *v)
{
    char dir[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX], tree[PATH_MAX];
    const char *archive;
    int rc;

    rc = tenant_view_archive(q->tenant, v, &archive);
    if (rc)
        return rc;
    stage_file(q, e->name, "", dir, sizeof(dir));
    stage_file(q, e->name, "base.zip", base, sizeof(base));
    stage_file(q, e->name, "tree.tmp", tmp, sizeof(tmp));
    stage_path(q, e->name, "", tree, sizeof(tree));
    stage_rmtree(dir);
    rc = mkdir_p(tmp, 0700);
    if (rc == 0)
        rc = stage_copy_file(archive, base);
    if (rc == 0)
        rc = zipx_extract_all(base, v->idx, tmp);
    if (rc == 0 && chmod(tmp, 0755) != 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, tree) != 0)
        rc = -errno;
    if (rc) {
        log_err("%s: cannot stage a local copy: %s", e->name, strerror(-rc));
        stage_rmtree(dir);
    }
    return rc;
}

int stage_ensure(struct qfs *q, struct ext *e)
{
    struct tenant *t = q->tenant;
    struct view *v = NULL;
    int rc;

    wait_not_busy(t, e);
    if (e->staged || e->gone) {
        rc = e->gone ? -ENOENT : 0;
        tenant_unlock(t);
        return rc;
    }
    e->staging_busy = true;
    tenant_unlock(t);

    rc = tenant_view_get(t, e, &v);
    if (rc == 0)
        rc = materialize(q, e, v);

    tenant_lock(t);
    if (rc == 0) {
        free(e->base_version);
        free(e->base_id);
        e->base_version = strdup(v->version);
        e->base_id = strdup(v->id);
        e->staged = true;
        e->clean_seq = e->change_seq;
    }
    e->staging_busy = false;
    tenant_broadcast(t);
    tenant_unlock(t);
    tenant_view_put(t, v);
    if (rc == 0)
        rc = stage_save_meta(q, e);
    return rc;
}

int stage_create_new(struct qfs *q, struct ext *e)
{
    char tree[PATH_MAX];
    int rc;

    stage_file(q, e->name, "", tree, sizeof(tree));
    stage_rmtree(tree);
    stage_path(q, e->name, "", tree, sizeof(tree));
    rc = mkdir_p(tree, 0755);
    if (rc)
        return rc;
    tenant_lock(q->tenant);
    e->staged = true;
    e->is_new = true;
    tenant_unlock(q->tenant);
    return stage_save_meta(q, e);
}

bool stage_is_local_only(struct qfs *q, const char *rel)
{
    const char *base = strrchr(rel, '/');

    base = base ? base + 1 : rel;
    return path_is_temporary(rel, q->exclude_globs) || path_is_rsync_temp(base) ||
           strncmp(base, ".fuse_hidden", 12) == 0; /* libfuse's unlink-while-open */
}

void stage_changed(struct qfs *q, struct ext *e, const char *rel)
{
    bool first, blocked;

    if (stage_is_local_only(q, rel))
        return;
    tenant_lock(q->tenant);
    first = !ext_dirty(e);
    /* A rejected or backed-off extension is due sooner after this change than the scheduler
     * planned; one already dirty only moves its quiet period later, which the scheduler finds
     * when it wakes for the old one. */
    blocked = e->upload_err_final || e->next_attempt > 0;
    e->change_seq++;
    e->last_change = qfs_now();
    if (first)
        e->dirty_since = e->last_change;
    /* A change is the user's answer to a rejected upload: try again. The error was reported
     * (fsync, flush) already; the close of the save that fixes it must not fail too. */
    e->upload_err = 0;
    e->upload_msg[0] = '\0';
    e->upload_err_final = false;
    e->next_attempt = 0;
    e->attempts = 0;
    tenant_unlock(q->tenant);
    if (first)
        stage_save_meta(q, e);
    if (first || blocked)
        wb_kick(q->wb);
}

void stage_discard(struct qfs *q, const char *name)
{
    char dir[PATH_MAX];

    if (stage_file(q, name, "", dir, sizeof(dir)) == 0)
        stage_rmtree(dir);
}

int stage_rename(struct qfs *q, const char *old_name, const char *new_name)
{
    char from[PATH_MAX], to[PATH_MAX];

    stage_file(q, old_name, "", from, sizeof(from));
    stage_file(q, new_name, "", to, sizeof(to));
    stage_rmtree(to);
    return rename(from, to) == 0 ? 0 : -errno;
}

int stage_trash(struct qfs *q, const char *name, const char *zip_path, char *out, size_t outsz)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, outsz, "%s/trash/%s-%s.zip", q->state_dir, name, stamp);
    for (int i = 1; access(out, F_OK) == 0 && i < 1000; i++)
        snprintf(out, outsz, "%s/trash/%s-%s-%d.zip", q->state_dir, name, stamp, i);
    return stage_copy_file(zip_path, out);
}

int stage_qext_name(struct qfs *q, const char *name, char *out, size_t outsz)
{
    char tree[PATH_MAX];
    struct dirent *d;
    int rc = -ENOENT;
    DIR *dir;

    if (stage_path(q, name, "", tree, sizeof(tree)) != 0 || !(dir = opendir(tree)))
        return -ENOENT;
    while (rc == -ENOENT && (d = readdir(dir))) {
        size_t n = strlen(d->d_name);

        if (n <= 5 || strcmp(d->d_name + n - 5, ".qext") != 0 || d->d_type == DT_DIR)
            continue;
        rc = n - 5 < outsz ? 0 : -ENAMETOOLONG;
        if (rc == 0)
            snprintf(out, outsz, "%.*s", (int)(n - 5), d->d_name);
    }
    closedir(dir);
    return rc;
}

bool stage_has_qext(struct qfs *q, const char *name)
{
    char base[PATH_MAX];

    return stage_qext_name(q, name, base, sizeof(base)) == 0;
}

static char *json_str(cJSON *j, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

    return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
}

/* Registers one staged directory found at mount time. */
static int recover_one(struct qfs *q, const char *name)
{
    char path[PATH_MAX], buf[65536];
    struct ext *e = NULL;
    cJSON *j = NULL;
    ssize_t n;
    int fd, rc = 0, err = 0;

    stage_file(q, name, "meta.json", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto discard;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    j = n > 0 ? cJSON_ParseWithLength(buf, (size_t)n) : NULL;
    if (!j || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "dirty")))
        goto discard;
    stage_path(q, name, "", path, sizeof(path));
    if (access(path, F_OK) != 0)
        goto discard;

    e = tenant_ext_get(q->tenant, name, &err);
    if (!e)
        e = tenant_ext_create(q->tenant, name, &err);
    if (!e) {
        log_err("%s: cannot recover staged changes: %s", name, strerror(-err));
        rc = err;
        goto out;
    }
    tenant_lock(q->tenant);
    free(e->base_id);
    free(e->base_version);
    e->base_id = json_str(j, "id");
    e->base_version = json_str(j, "base_version");
    e->is_new = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "is_new")) || !e->base_id;
    e->staged = true;
    e->change_seq = e->clean_seq + 1;
    e->last_change = e->dirty_since = qfs_now();
    tenant_unlock(q->tenant);
    log_info("%s: found changes staged before the last unmount; uploading them", name);
    rc = 1;
    goto out;
discard:
    stage_discard(q, name);
out:
    tenant_ext_put(q->tenant, e);
    cJSON_Delete(j);
    return rc;
}

int stage_recover(struct qfs *q)
{
    char dir[PATH_MAX];
    struct dirent *d;
    int pending = 0;
    DIR *dp;

    lock_note_pid(q); /* this runs in the daemon, after fuse_daemonize forked */
    snprintf(dir, sizeof(dir), "%s/ext", q->state_dir);
    dp = opendir(dir);
    if (!dp)
        return -errno;
    while ((d = readdir(dp))) {
        if (d->d_name[0] == '.' && (!d->d_name[1] || !strcmp(d->d_name, "..")))
            continue;
        if (recover_one(q, d->d_name) > 0)
            pending++;
    }
    closedir(dp);
    return pending;
}
