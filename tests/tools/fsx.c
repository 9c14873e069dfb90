/*
 * fsx.c: an fsx-style random operation checker (build/tools/fsx).
 *
 * Owns only its own two directories' fsx files: f0.js ... f{FILES-1}.js in TESTDIR (inside a
 * qextfs mount) and in MIRRORDIR (a local directory on a normal disk). It drives both with the
 * same seeded random sequence of write, read, truncate, append, rename, unlink, create, stat,
 * fsync and close/reopen, through open handles and through paths, and requires the same
 * results: return values, errno values, sizes and bytes. Every 100 operations (and at every
 * pause point) it compares every file and the directory listing in full.
 *
 * On the first difference it prints "fsx: MISMATCH at op N (seed S)", what differed and the
 * last 200 operations, and exits 1. Exit 0: every operation matched; the last line is then
 * "fsx: figures ops=N bytes_written=W bytes_compared=C" for the run's reliability record
 * (bytes written through the mount, bytes read from it and found equal to the mirror).
 * Exit 2: usage or an error of the harness itself (the mirror failing, memory).
 *
 * usage: fsx [-n OPS] [-S SEED] [-f FILES] [-s MAXSIZE] [-y] [-P] TESTDIR MIRRORDIR
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_RING 200
#define LOG_LINE 160
#define MAX_IO (64 * 1024)
#define HANDLES_PER_FILE 3
#define MAX_FILES 64
#define NAME_LEN 32
#define PATH_LEN 4096
#define COMPARE_EVERY 100
#define PAUSE_EVERY 250
#define PAUSE_NSEC 1500000000L

enum { TEST = 0, MIRROR = 1, SIDES = 2 };

static const char *const side_name[SIDES] = {"TESTDIR", "MIRRORDIR"};

struct opts {
    unsigned long ops;
    uint64_t seed;
    unsigned files;
    size_t maxsize;
    bool fsync;
    bool pause;
    const char *dir[SIDES];
};

/* One file opened on both sides with the same flags; fd[TEST] < 0 marks a free slot. */
struct handle {
    int fd[SIDES];
    char name[NAME_LEN]; /* the name it was opened under (renames do not follow) */
};

/* What one side's call gave: its return value and, when it failed, errno. */
struct outcome {
    ssize_t ret;
    int err;
};

struct fsx {
    struct opts o;
    uint64_t rng;
    unsigned long op;
    struct handle *h;
    size_t nh;
    unsigned char *wbuf;
    unsigned char *rbuf[SIDES];
    size_t rcap;
    unsigned long logged;
    char log[LOG_RING][LOG_LINE];
    uint64_t bytes_written, bytes_compared; /* TESTDIR side, for the figures line */
};

/* ---- randomness: splitmix64 seeds a xorshift64* stream ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rnd(struct fsx *st)
{
    st->rng ^= st->rng >> 12;
    st->rng ^= st->rng << 25;
    st->rng ^= st->rng >> 27;
    return st->rng * 0x2545f4914f6cdd1dULL;
}

/* A number in [0, n); n == 0 gives 0. */
static size_t rnd_below(struct fsx *st, size_t n)
{
    return n ? (size_t)(rnd(st) % n) : 0;
}

static void fill_random(struct fsx *st, unsigned char *buf, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint64_t v = rnd(st);
        for (int k = 0; k < 8 && i < len; k++, v >>= 8)
            buf[i++] = (unsigned char)v;
    }
}

/* ---- the op log and reporting ---- */

static const char *errname(int err)
{
    const char *n = strerrorname_np(err);
    return n ? n : "E?";
}

static char *log_slot(struct fsx *st)
{
    return st->log[(st->logged + LOG_RING - 1) % LOG_RING];
}

/* Starts a new log line "#OP text". */
static void __attribute__((format(printf, 2, 3))) log_op(struct fsx *st, const char *fmt, ...)
{
    va_list ap;
    st->logged++;
    char *line = log_slot(st);
    int n = snprintf(line, LOG_LINE, "#%lu ", st->op);
    va_start(ap, fmt);
    vsnprintf(line + n, LOG_LINE - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Appends to the current log line. */
static void __attribute__((format(printf, 2, 3))) log_add(struct fsx *st, const char *fmt, ...)
{
    va_list ap;
    char *line = log_slot(st);
    size_t n = strlen(line);
    va_start(ap, fmt);
    vsnprintf(line + n, LOG_LINE - n, fmt, ap);
    va_end(ap);
}

static void dump_log(const struct fsx *st)
{
    unsigned long first = st->logged > LOG_RING ? st->logged - LOG_RING : 0;
    fprintf(stderr, "fsx: last %lu operations (TESTDIR result | MIRRORDIR result):\n",
            st->logged - first);
    for (unsigned long i = first; i < st->logged; i++)
        fprintf(stderr, "  %s\n", st->log[i % LOG_RING]);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
mismatch(struct fsx *st, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fsx: MISMATCH at op %lu (seed %" PRIu64 ")\n", st->op, st->o.seed);
    fprintf(stderr, "fsx: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    dump_log(st);
    fprintf(stderr, "fsx: replay with -S %" PRIu64 " -n %lu -f %u -s %zu%s%s\n", st->o.seed, st->op,
            st->o.files, st->o.maxsize, st->o.fsync ? " -y" : "", st->o.pause ? " -P" : "");
    exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fsx: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(2);
}

/* ---- outcomes ---- */

static struct outcome outcome_of(ssize_t ret)
{
    return (struct outcome){ret, ret < 0 ? errno : 0};
}

static void log_outcome(struct fsx *st, const struct outcome r[SIDES])
{
    for (int s = 0; s < SIDES; s++) {
        const char *sep = s == TEST ? " -> " : " | ";
        if (r[s].ret < 0)
            log_add(st, "%s%s", sep, errname(r[s].err));
        else
            log_add(st, "%s%zd", sep, r[s].ret);
    }
}

static void fmt_outcome(const struct outcome *r, char *buf, size_t len)
{
    if (r->ret < 0)
        snprintf(buf, len, "%s", errname(r->err));
    else
        snprintf(buf, len, "%zd", r->ret);
}

/* Logs both results and stops unless they are the same value or the same error. */
static void check_outcome(struct fsx *st, const char *what, const struct outcome r[SIDES])
{
    log_outcome(st, r);
    if (r[TEST].ret == r[MIRROR].ret && (r[TEST].ret >= 0 || r[TEST].err == r[MIRROR].err))
        return;
    char t[32], m[32];
    fmt_outcome(&r[TEST], t, sizeof(t));
    fmt_outcome(&r[MIRROR], m, sizeof(m));
    mismatch(st, "%s: TESTDIR gave %s, MIRRORDIR gave %s", what, t, m);
}

/*
 * Two reads of NAME at OFF that both succeeded: stops at the first differing byte of the
 * range both returned, then on a difference of the lengths returned.
 */
static void check_read(struct fsx *st, const char *name, size_t off, const struct outcome r[SIDES])
{
    if (r[TEST].ret < 0 || r[MIRROR].ret < 0)
        return;
    const unsigned char *t = st->rbuf[TEST], *m = st->rbuf[MIRROR];
    size_t tlen = (size_t)r[TEST].ret, mlen = (size_t)r[MIRROR].ret;
    size_t len = tlen < mlen ? tlen : mlen;
    st->bytes_compared += len;
    for (size_t i = 0; i < len; i++) {
        if (t[i] != m[i])
            mismatch(st,
                     "%s: first differing byte at offset %zu: TESTDIR 0x%02x, MIRRORDIR 0x%02x "
                     "(read at %zu returned %zu bytes from TESTDIR, %zu from MIRRORDIR)",
                     name, off + i, t[i], m[i], off, tlen, mlen);
    }
    if (tlen != mlen)
        mismatch(st,
                 "%s: read at %zu returned %zu bytes from TESTDIR, %zu from MIRRORDIR "
                 "(the bytes both returned agree; file sizes differ)",
                 name, off, tlen, mlen);
}

/* ---- small helpers ---- */

static void file_name(unsigned i, char *buf)
{
    snprintf(buf, NAME_LEN, "f%u.js", i);
}

static void random_name(struct fsx *st, char *buf)
{
    file_name((unsigned)rnd_below(st, st->o.files), buf);
}

static void path_of(const struct fsx *st, int side, const char *name, char *buf)
{
    if (snprintf(buf, PATH_LEN, "%s/%s", st->o.dir[side], name) >= PATH_LEN)
        die("path too long: %s/%s", st->o.dir[side], name);
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Reads until LEN bytes, end of file or an error; returns the bytes read or -1. */
static ssize_t pread_full(int fd, unsigned char *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static void sleep_nsec(long nsec)
{
    struct timespec ts = {nsec / 1000000000L, nsec % 1000000000L};
    while (nanosleep(&ts, &ts) != 0) {
        if (errno != EINTR)
            die("nanosleep: %s", strerror(errno));
    }
}

/* The mirror's size of NAME (or of handle H's file): it decides offsets, never the mount. */
static size_t mirror_size(const struct fsx *st, const struct handle *h, const char *name)
{
    struct stat sb;
    char path[PATH_LEN];
    int rc;
    if (h) {
        rc = fstat(h->fd[MIRROR], &sb);
    } else {
        path_of(st, MIRROR, name, path);
        rc = stat(path, &sb);
    }
    if (rc != 0 && errno != ENOENT)
        die("stat of the mirror's %s: %s", name, strerror(errno));
    return rc == 0 ? (size_t)sb.st_size : 0;
}

/* ---- handles ---- */

static size_t handles_open(const struct fsx *st)
{
    size_t n = 0;
    for (size_t i = 0; i < st->nh; i++)
        n += st->h[i].fd[TEST] >= 0;
    return n;
}

/* A random open handle, or NULL when none is open. */
static struct handle *random_handle(struct fsx *st)
{
    size_t n = handles_open(st);
    if (n == 0)
        return NULL;
    size_t k = rnd_below(st, n);
    for (size_t i = 0; i < st->nh; i++) {
        if (st->h[i].fd[TEST] >= 0 && k-- == 0)
            return &st->h[i];
    }
    return NULL;
}

/* Half the time a random open handle, else NULL (the op goes through the path). */
static struct handle *maybe_handle(struct fsx *st)
{
    return rnd_below(st, 2) ? random_handle(st) : NULL;
}

static int handle_no(const struct fsx *st, const struct handle *h)
{
    return (int)(h - st->h);
}

static void close_handle(struct fsx *st, struct handle *h)
{
    struct outcome r[SIDES];
    log_op(st, "close h%d(%s)", handle_no(st, h), h->name);
    for (int s = 0; s < SIDES; s++) {
        r[s] = outcome_of(close(h->fd[s]));
        h->fd[s] = -1;
    }
    check_outcome(st, "close", r);
}

static void close_all(struct fsx *st)
{
    for (size_t i = 0; i < st->nh; i++) {
        if (st->h[i].fd[TEST] >= 0)
            close_handle(st, &st->h[i]);
    }
}

/* A free slot for another handle on NAME, closing one first to keep at most 3 per name. */
static struct handle *free_slot(struct fsx *st, const char *name)
{
    struct handle *same[HANDLES_PER_FILE];
    size_t nsame = 0;
    struct handle *slot = NULL;
    for (size_t i = 0; i < st->nh; i++) {
        struct handle *h = &st->h[i];
        if (h->fd[TEST] < 0 && !slot)
            slot = h;
        else if (h->fd[TEST] >= 0 && strcmp(h->name, name) == 0 && nsame < HANDLES_PER_FILE)
            same[nsame++] = h;
    }
    if (nsame == HANDLES_PER_FILE || !slot) {
        struct handle *victim =
            nsame == HANDLES_PER_FILE ? same[rnd_below(st, nsame)] : random_handle(st);
        close_handle(st, victim);
        slot = victim;
    }
    return slot;
}

/* Opens NAME on both sides with FLAGS; keeps the pair as a handle when both succeed. */
static void open_handle(struct fsx *st, const char *name, int flags, const char *label)
{
    struct handle *slot = free_slot(st, name);
    struct outcome r[SIDES];
    char path[PATH_LEN];
    log_op(st, "%s h%d %s %s%s%s%s", label, handle_no(st, slot), name,
           (flags & O_ACCMODE) == O_RDONLY ? "rdonly" : "rdwr", flags & O_CREAT ? " creat" : "",
           flags & O_EXCL ? " excl" : "", flags & O_TRUNC ? " trunc" : "");
    for (int s = 0; s < SIDES; s++) {
        path_of(st, s, name, path);
        r[s] = outcome_of(open(path, flags | O_CLOEXEC, 0644));
    }
    for (int s = 0; s < SIDES; s++) {
        if (r[s].ret >= 0 && r[!s].ret < 0 && close((int)r[s].ret) != 0)
            die("close: %s", strerror(errno));
    }
    /* fd numbers differ between the sides: compare success or the errno only */
    struct outcome cmp[SIDES];
    for (int s = 0; s < SIDES; s++)
        cmp[s] = (struct outcome){r[s].ret < 0 ? -1 : 0, r[s].err};
    if (r[TEST].ret >= 0 && r[MIRROR].ret >= 0) {
        slot->fd[TEST] = (int)r[TEST].ret;
        slot->fd[MIRROR] = (int)r[MIRROR].ret;
        snprintf(slot->name, sizeof(slot->name), "%s", name);
    }
    check_outcome(st, "open", cmp);
}

/* ---- path ops: open, one call, close; a failing close counts as the op's error ---- */

enum io_kind { IO_PWRITE, IO_WRITE, IO_PREAD, IO_FSTAT };

struct io {
    enum io_kind kind;
    int flags;
    unsigned char *buf;
    size_t len;
    off_t off;
    struct stat *sb;
};

static struct outcome fd_io(int fd, const struct io *io)
{
    switch (io->kind) {
    case IO_PWRITE:
        return outcome_of(pwrite(fd, io->buf, io->len, io->off));
    case IO_WRITE:
        return outcome_of(write(fd, io->buf, io->len));
    case IO_PREAD:
        return outcome_of(pread_full(fd, io->buf, io->len, io->off));
    case IO_FSTAT:
        return outcome_of(fstat(fd, io->sb));
    }
    return (struct outcome){-1, EINVAL};
}

static struct outcome path_io(const struct fsx *st, int side, const char *name, const struct io *io)
{
    char path[PATH_LEN];
    path_of(st, side, name, path);
    int fd = open(path, io->flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return outcome_of(-1);
    struct outcome r = fd_io(fd, io);
    if (close(fd) != 0 && r.ret >= 0)
        r = outcome_of(-1);
    return r;
}

/* Runs IO on both sides, through handle H or (H == NULL) through NAME's path. */
static void both_io(struct fsx *st, struct handle *h, const char *name, struct io io[SIDES],
                    struct outcome r[SIDES])
{
    for (int s = 0; s < SIDES; s++)
        r[s] = h ? fd_io(h->fd[s], &io[s]) : path_io(st, s, name, &io[s]);
}

static void log_target(struct fsx *st, const char *op, const struct handle *h, const char *name)
{
    if (h)
        log_op(st, "%s h%d(%s)", op, handle_no(st, h), h->name);
    else
        log_op(st, "%s %s", op, name);
}

/* ---- the operations ---- */

static void op_write(struct fsx *st)
{
    struct handle *h = maybe_handle(st);
    char name[NAME_LEN];
    random_name(st, name);
    size_t size = mirror_size(st, h, h ? h->name : name);
    size_t off = rnd_below(st, min_size(size + MAX_IO, st->o.maxsize));
    size_t len = 1 + rnd_below(st, min_size(MAX_IO, st->o.maxsize - off));
    int flags = O_WRONLY | (rnd_below(st, 2) ? O_CREAT : 0);
    fill_random(st, st->wbuf, len);
    log_target(st, "write", h, name);
    log_add(st, " off=%zu len=%zu%s", off, len, !h && (flags & O_CREAT) ? " creat" : "");
    struct io io = {IO_PWRITE, flags, st->wbuf, len, (off_t)off, NULL};
    struct io ios[SIDES] = {io, io};
    struct outcome r[SIDES];
    both_io(st, h, name, ios, r);
    check_outcome(st, "write", r);
    if (r[TEST].ret > 0)
        st->bytes_written += (uint64_t)r[TEST].ret;
}

static void op_append(struct fsx *st)
{
    char name[NAME_LEN];
    random_name(st, name);
    size_t size = mirror_size(st, NULL, name);
    size_t room = st->o.maxsize > size ? st->o.maxsize - size : 0;
    size_t len = room ? 1 + rnd_below(st, min_size(MAX_IO, room)) : 0;
    int flags = O_WRONLY | O_APPEND | (rnd_below(st, 2) ? O_CREAT : 0);
    fill_random(st, st->wbuf, len);
    log_op(st, "append %s len=%zu%s", name, len, flags & O_CREAT ? " creat" : "");
    struct io io = {IO_WRITE, flags, st->wbuf, len, 0, NULL};
    struct io ios[SIDES] = {io, io};
    struct outcome r[SIDES];
    both_io(st, NULL, name, ios, r);
    check_outcome(st, "append", r);
    if (r[TEST].ret > 0)
        st->bytes_written += (uint64_t)r[TEST].ret;
}

static void op_read(struct fsx *st)
{
    struct handle *h = maybe_handle(st);
    char name[NAME_LEN];
    random_name(st, name);
    size_t size = mirror_size(st, h, h ? h->name : name);
    size_t off = rnd_below(st, size + 4096);
    size_t len = 1 + rnd_below(st, MAX_IO);
    log_target(st, "read", h, name);
    log_add(st, " off=%zu len=%zu", off, len);
    struct io ios[SIDES] = {{IO_PREAD, O_RDONLY, st->rbuf[TEST], len, (off_t)off, NULL},
                            {IO_PREAD, O_RDONLY, st->rbuf[MIRROR], len, (off_t)off, NULL}};
    struct outcome r[SIDES];
    both_io(st, h, name, ios, r);
    check_read(st, h ? h->name : name, off, r);
    check_outcome(st, "read", r);
}

static void op_truncate(struct fsx *st)
{
    struct handle *h = maybe_handle(st);
    char name[NAME_LEN], path[PATH_LEN];
    random_name(st, name);
    size_t size = mirror_size(st, h, h ? h->name : name);
    size_t to = rnd_below(st, 2)
                    ? rnd_below(st, size + 1)
                    : size + rnd_below(st, st->o.maxsize - min_size(size, st->o.maxsize) + 1);
    log_target(st, "truncate", h, name);
    log_add(st, " from=%zu to=%zu", size, to);
    struct outcome r[SIDES];
    for (int s = 0; s < SIDES; s++) {
        path_of(st, s, name, path);
        r[s] = outcome_of(h ? ftruncate(h->fd[s], (off_t)to) : truncate(path, (off_t)to));
    }
    check_outcome(st, "truncate", r);
}

static void op_rename(struct fsx *st)
{
    char from[NAME_LEN], to[NAME_LEN], pf[PATH_LEN], pt[PATH_LEN];
    random_name(st, from);
    random_name(st, to);
    log_op(st, "rename %s -> %s", from, to);
    struct outcome r[SIDES];
    for (int s = 0; s < SIDES; s++) {
        path_of(st, s, from, pf);
        path_of(st, s, to, pt);
        r[s] = outcome_of(rename(pf, pt));
    }
    check_outcome(st, "rename", r);
}

static void op_unlink(struct fsx *st)
{
    char name[NAME_LEN], path[PATH_LEN];
    random_name(st, name);
    log_op(st, "unlink %s", name);
    struct outcome r[SIDES];
    for (int s = 0; s < SIDES; s++) {
        path_of(st, s, name, path);
        r[s] = outcome_of(unlink(path));
    }
    check_outcome(st, "unlink", r);
}

static void op_create(struct fsx *st)
{
    char name[NAME_LEN];
    random_name(st, name);
    open_handle(st, name, O_RDWR | O_CREAT | O_EXCL, "create");
}

/* Stats handle H's file or NAME on both sides: same result, and the same size. */
static void check_stat(struct fsx *st, struct handle *h, const char *name)
{
    struct stat sb[SIDES];
    struct io ios[SIDES] = {{IO_FSTAT, O_RDONLY, NULL, 0, 0, &sb[TEST]},
                            {IO_FSTAT, O_RDONLY, NULL, 0, 0, &sb[MIRROR]}};
    struct outcome r[SIDES];
    char path[PATH_LEN];
    for (int s = 0; s < SIDES; s++) {
        path_of(st, s, name, path);
        r[s] = h ? fd_io(h->fd[s], &ios[s]) : outcome_of(stat(path, &sb[s]));
    }
    check_outcome(st, "stat", r);
    if (r[TEST].ret != 0)
        return;
    log_add(st, " size=%jd|%jd", (intmax_t)sb[TEST].st_size, (intmax_t)sb[MIRROR].st_size);
    if (sb[TEST].st_size != sb[MIRROR].st_size || !S_ISREG(sb[TEST].st_mode))
        mismatch(st, "stat %s: TESTDIR size %jd mode 0%o, MIRRORDIR size %jd", h ? h->name : name,
                 (intmax_t)sb[TEST].st_size, (unsigned)sb[TEST].st_mode,
                 (intmax_t)sb[MIRROR].st_size);
}

static void op_stat(struct fsx *st)
{
    struct handle *h = maybe_handle(st);
    char name[NAME_LEN];
    random_name(st, name);
    log_target(st, "stat", h, name);
    check_stat(st, h, name);
}

static void op_fsync(struct fsx *st)
{
    struct handle *h = random_handle(st);
    if (!h) {
        char name[NAME_LEN];
        random_name(st, name);
        open_handle(st, name, O_RDWR, "open");
        return;
    }
    log_op(st, "fsync h%d(%s)", handle_no(st, h), h->name);
    struct outcome r[SIDES];
    for (int s = 0; s < SIDES; s++)
        r[s] = outcome_of(fsync(h->fd[s]));
    check_outcome(st, "fsync", r);
}

static void op_reopen(struct fsx *st)
{
    struct handle *h = rnd_below(st, 2) ? random_handle(st) : NULL;
    if (h) {
        close_handle(st, h);
        return;
    }
    char name[NAME_LEN];
    random_name(st, name);
    /* a read-only handle does not hold back uploads; writes through it fail alike */
    int flags = rnd_below(st, 4) == 0 ? O_RDONLY : O_RDWR;
    if (rnd_below(st, 2))
        flags |= O_CREAT;
    if (flags & O_RDWR && rnd_below(st, 8) == 0)
        flags |= O_TRUNC;
    open_handle(st, name, flags, "open");
}

/* ---- full comparison ---- */

/* The bit set of fsx names present in DIR. */
static uint64_t listing(const struct fsx *st, int side)
{
    DIR *d = opendir(st->o.dir[side]);
    if (!d)
        return UINT64_MAX; /* compared below: an unreadable TESTDIR differs from any mirror */
    uint64_t seen = 0;
    char name[NAME_LEN];
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        for (unsigned i = 0; i < st->o.files; i++) {
            file_name(i, name);
            if (strcmp(de->d_name, name) == 0)
                seen |= 1ULL << i;
        }
    }
    int err = errno;
    if (closedir(d) != 0 && err == 0)
        err = errno;
    errno = err;
    return err ? UINT64_MAX : seen;
}

static void compare_listing(struct fsx *st)
{
    uint64_t seen[SIDES];
    for (int s = 0; s < SIDES; s++) {
        seen[s] = listing(st, s);
        if (seen[s] == UINT64_MAX && s == TEST)
            mismatch(st, "listing TESTDIR failed: %s", strerror(errno));
        if (seen[s] == UINT64_MAX)
            die("cannot list %s: %s", st->o.dir[s], strerror(errno));
    }
    if (seen[TEST] == seen[MIRROR])
        return;
    unsigned i = (unsigned)__builtin_ctzll(seen[TEST] ^ seen[MIRROR]);
    char name[NAME_LEN];
    file_name(i, name);
    mismatch(st, "directory listing differs: %s is listed only in %s", name,
             seen[TEST] >> i & 1 ? side_name[TEST] : side_name[MIRROR]);
}

static void compare_file(struct fsx *st, const char *name)
{
    struct io ios[SIDES] = {{IO_PREAD, O_RDONLY, st->rbuf[TEST], st->rcap, 0, NULL},
                            {IO_PREAD, O_RDONLY, st->rbuf[MIRROR], st->rcap, 0, NULL}};
    struct outcome r[SIDES];
    log_op(st, "compare %s", name);
    both_io(st, NULL, name, ios, r);
    check_read(st, name, 0, r);
    check_outcome(st, "full read", r);
    check_stat(st, NULL, name);
}

static void compare_all(struct fsx *st)
{
    char name[NAME_LEN];
    compare_listing(st);
    for (unsigned i = 0; i < st->o.files; i++) {
        file_name(i, name);
        compare_file(st, name);
    }
}

/* Pause point: close every handle so the mount can upload, wait, then compare everything. */
static void pause_point(struct fsx *st)
{
    close_all(st);
    log_op(st, "pause %.1f s", PAUSE_NSEC / 1e9);
    sleep_nsec(PAUSE_NSEC);
    compare_all(st);
}

/* ---- the main loop ---- */

typedef void (*op_fn)(struct fsx *st);

struct op_weight {
    op_fn fn;
    unsigned weight;
};

static const struct op_weight op_table[] = {
    {op_write, 20}, {op_read, 15},  {op_truncate, 8}, {op_append, 8},  {op_rename, 6},
    {op_unlink, 4}, {op_create, 6}, {op_stat, 8},     {op_reopen, 10}, {op_fsync, 3},
};

/* Picks an operation by weight; fsync only with -y (it is the table's last entry). */
static op_fn pick_op(struct fsx *st)
{
    size_t n = sizeof(op_table) / sizeof(op_table[0]) - (st->o.fsync ? 0 : 1);
    unsigned total = 0;
    for (size_t i = 0; i < n; i++)
        total += op_table[i].weight;
    size_t k = rnd_below(st, total);
    for (size_t i = 0; i < n; i++) {
        if (k < op_table[i].weight)
            return op_table[i].fn;
        k -= op_table[i].weight;
    }
    return op_table[0].fn;
}

static void run(struct fsx *st)
{
    for (st->op = 1; st->op <= st->o.ops; st->op++) {
        pick_op(st)(st);
        if (st->op % COMPARE_EVERY == 0)
            compare_all(st);
        if (st->o.pause && st->op % PAUSE_EVERY == 0)
            pause_point(st);
    }
    st->op = st->o.ops;
    close_all(st);
    compare_all(st);
}

/* ---- set-up ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: fsx [-n OPS] [-S SEED] [-f FILES] [-s MAXSIZE] [-y] [-P] "
            "TESTDIR MIRRORDIR\n"
            "  -n OPS      operations (default 1000)\n"
            "  -S SEED     PRNG seed (default 1)\n"
            "  -f FILES    files f0.js .. f{FILES-1}.js, 1..%d (default 8)\n"
            "  -s MAXSIZE  largest file, bytes, K/M suffix (default 256K)\n"
            "  -y          fsync open handles now and then\n"
            "  -P          every %d ops close all handles and sleep 1.5 s\n",
            MAX_FILES, PAUSE_EVERY);
    exit(2);
}

static unsigned long long parse_num(const char *s, bool suffix)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *s == '-')
        usage();
    if (suffix && (*end == 'k' || *end == 'K'))
        v <<= 10, end++;
    else if (suffix && (*end == 'm' || *end == 'M'))
        v <<= 20, end++;
    if (*end != '\0')
        usage();
    return v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.ops = 1000, .seed = 1, .files = 8, .maxsize = 256 * 1024};
    int c;
    while ((c = getopt(argc, argv, "n:S:f:s:yPh")) != -1) {
        switch (c) {
        case 'n':
            o->ops = (unsigned long)parse_num(optarg, false);
            break;
        case 'S':
            o->seed = parse_num(optarg, false);
            break;
        case 'f':
            o->files = (unsigned)parse_num(optarg, false);
            break;
        case 's':
            o->maxsize = (size_t)parse_num(optarg, true);
            break;
        case 'y':
            o->fsync = true;
            break;
        case 'P':
            o->pause = true;
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 2 || o->files < 1 || o->files > MAX_FILES || o->maxsize < 1 ||
        o->maxsize > (64u << 20))
        usage();
    o->dir[TEST] = argv[optind];
    o->dir[MIRROR] = argv[optind + 1];
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

static void init_state(struct fsx *st)
{
    uint64_t x = st->o.seed;
    st->rng = splitmix64(&x) | 1; /* xorshift must not start at 0 */
    st->nh = (size_t)st->o.files * HANDLES_PER_FILE;
    st->h = xmalloc(st->nh * sizeof(*st->h));
    for (size_t i = 0; i < st->nh; i++)
        st->h[i] = (struct handle){{-1, -1}, ""};
    st->rcap = st->o.maxsize + 1; /* one more: a file grown past MAXSIZE shows as a size */
    st->wbuf = xmalloc(MAX_IO);
    for (int s = 0; s < SIDES; s++)
        st->rbuf[s] = xmalloc(st->rcap > MAX_IO ? st->rcap : MAX_IO);
}

/* Both directories must exist and hold none of the fsx files yet. */
static void check_dirs_empty(const struct fsx *st)
{
    for (int s = 0; s < SIDES; s++) {
        uint64_t seen = listing(st, s);
        if (seen == UINT64_MAX)
            die("cannot list %s %s: %s", side_name[s], st->o.dir[s], strerror(errno));
        if (seen != 0)
            die("%s %s already holds fsx files (f*.js); start with none", side_name[s],
                st->o.dir[s]);
    }
}

int main(int argc, char **argv)
{
    struct fsx *st = calloc(1, sizeof(*st));
    if (!st)
        die("out of memory");
    parse_opts(argc, argv, &st->o);
    init_state(st);
    check_dirs_empty(st);
    run(st);
    printf("fsx: %lu ops, seed %" PRIu64 ", ok\n", st->o.ops, st->o.seed);
    printf("fsx: figures ops=%lu bytes_written=%" PRIu64 " bytes_compared=%" PRIu64 "\n", st->o.ops,
           st->bytes_written, st->bytes_compared);
    if (fflush(stdout) != 0)
        die("stdout: %s", strerror(errno));
    for (int s = 0; s < SIDES; s++)
        free(st->rbuf[s]);
    free(st->wbuf);
    free(st->h);
    free(st);
    return 0;
}
