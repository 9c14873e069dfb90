/* fuzz_archive: owns the fuzzing of archive.c with hostile zips. Each input is indexed twice
 * from memory (zipx_index_from_tail: the whole input as its own tail, then its second half)
 * and once from a file (zipx_index_open); every index must keep archive.h's promises (safe
 * sorted names, parents are directories, sizes within the limit, lookups and child walks
 * agree). Then the file entries are streamed to a sink that discards (a byte budget bounds a
 * zip bomb; a deflated entry read straight from the file must match what libzip gives), and
 * a small archive is extracted whole to check that nothing lands outside the
 * destination and every node written is an entry of the index. */
#include "fuzz.h"

#include "archive.h"
#include "crc.h"
#include "path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXTRACT_BUDGET (4u << 20)  /* bytes streamed per input, all entries together */
#define EXTRACT_MAX_CALLS 32       /* zipx_extract calls per input (each reopens the zip) */
#define EXTRACT_ALL_MAX_ENTRIES 64 /* zipx_extract_all only for archives this small */
#define EXTRACT_ALL_MAX_BYTES (1u << 20)
/* Every directory is listed only in indexes this small: in a deep chain that is quadratic. */
#define WALK_MAX_ENTRIES 2048

/* The per-process work directory: in.zip, and out/d the extraction destination. */
static char work[256], zip_path[300], out_dir[300], dest_dir[300];

/* Removes dir/name (any type, any mode) below dirfd; only one descriptor open at a time. */
/* names with room for one more after the first n; out of memory fails the run. */
static char **names_room(char **names, size_t n, size_t *cap)
{
    char **v;

    if (n < *cap)
        return names;
    *cap = *cap ? *cap * 2 : 16;
    v = realloc(names, *cap * sizeof(*names));
    FUZZ_CHECK(v != NULL);
    return v;
}

static void rm_at(int dirfd, const char *name)
{
    struct stat st;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int fd;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlinkat(dirfd, name, 0);
        return;
    }
    fchmodat(dirfd, name, 0700, 0);
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    d = fd >= 0 ? fdopendir(fd) : NULL;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        names = names_room(names, n, &cap);
        names[n] = strdup(de->d_name);
        FUZZ_CHECK(names[n] != NULL);
        n++;
    }
    if (d)
        closedir(d);
    else if (fd >= 0)
        close(fd);
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    for (size_t i = 0; i < n; i++) {
        if (fd >= 0)
            rm_at(fd, names[i]);
        free(names[i]);
    }
    if (fd >= 0)
        close(fd);
    free(names);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

static void cleanup(void)
{
    rm_at(AT_FDCWD, work);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");

    if (work[0])
        return;
    snprintf(work, sizeof(work), "%s/qextfs-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(work) != NULL);
    snprintf(zip_path, sizeof(zip_path), "%s/in.zip", work);
    snprintf(out_dir, sizeof(out_dir), "%s/out", work);
    snprintf(dest_dir, sizeof(dest_dir), "%s/out/d", work);
    atexit(cleanup);
}

/* --- index contracts -------------------------------------------------------------------- */

struct walk {
    const struct zipx_index *idx;
    const char *dir;
    size_t seen;
};

static int on_child(void *arg, const struct zipx_entry *e)
{
    struct walk *w = arg;
    size_t dlen = strlen(w->dir);
    const char *base = e->name + (dlen ? dlen + 1 : 0);

    FUZZ_CHECK(!dlen || (strncmp(e->name, w->dir, dlen) == 0 && e->name[dlen] == '/'));
    FUZZ_CHECK(*base && !strchr(base, '/'));
    w->seen++;
    return 0;
}

static int stop_at_first(void *arg, const struct zipx_entry *e)
{
    (void)arg;
    (void)e;
    return 7;
}

static void check_index(const struct zipx_index *idx)
{
    size_t n = zipx_count(idx), children;
    const char *prefix = zipx_prefix(idx);
    uint64_t total = 0;
    struct walk w = {.idx = idx, .dir = ""};

    FUZZ_CHECK(n <= 2 * ZIPX_MAX_ENTRIES);
    FUZZ_CHECK(prefix != NULL);
    FUZZ_CHECK(!*prefix || prefix[strlen(prefix) - 1] == '/');
    FUZZ_CHECK(zipx_entry_at(idx, n) == NULL);
    FUZZ_CHECK(zipx_foreach_child(idx, "", on_child, &w) == 0);
    children = w.seen;
    for (size_t i = 0; i < n; i++) {
        const struct zipx_entry *e = zipx_entry_at(idx, i);
        const char *slash;
        size_t len;

        FUZZ_CHECK(e && e->name);
        len = strlen(e->name);
        FUZZ_CHECK(len > 0 && e->name[len - 1] != '/');
        FUZZ_CHECK(path_entry_is_safe(e->name, len));
        FUZZ_CHECK(i == 0 || strcmp(zipx_entry_at(idx, i - 1)->name, e->name) < 0);
        FUZZ_CHECK(zipx_lookup(idx, e->name) == e);
        FUZZ_CHECK((e->mode & ~0777u) == 0);
        FUZZ_CHECK(!e->implicit || (e->is_dir && e->zindex == -1));
        FUZZ_CHECK(e->implicit || e->zindex >= 0);
        if (!e->is_dir) {
            FUZZ_CHECK(e->size <= ZIPX_MAX_ENTRY_SIZE);
            total += e->size;
        }
        slash = strrchr(e->name, '/');
        if (slash) { /* the parent is in the index, as a directory */
            char *parent = strndup(e->name, (size_t)(slash - e->name));
            const struct zipx_entry *p;

            FUZZ_CHECK(parent != NULL);
            p = zipx_lookup(idx, parent);
            FUZZ_CHECK(p && p->is_dir);
            free(parent);
        }
        if (e->is_dir && n <= WALK_MAX_ENTRIES) {
            w.dir = e->name;
            w.seen = 0;
            FUZZ_CHECK(zipx_foreach_child(idx, e->name, on_child, &w) == 0);
            children += w.seen;
        }
    }
    /* every entry is the child of exactly one directory */
    FUZZ_CHECK(n > WALK_MAX_ENTRIES || children == n);
    FUZZ_CHECK(total == zipx_total_size(idx));
    FUZZ_CHECK(zipx_foreach_child(idx, "", stop_at_first, NULL) == (n ? 7 : 0));
    FUZZ_CHECK(zipx_lookup(idx, "") == NULL);
}

static void check_same(const struct zipx_index *a, const struct zipx_index *b)
{
    FUZZ_CHECK(zipx_count(a) == zipx_count(b));
    FUZZ_CHECK(strcmp(zipx_prefix(a), zipx_prefix(b)) == 0);
    FUZZ_CHECK(zipx_prefix_explicit(a) == zipx_prefix_explicit(b));
    for (size_t i = 0; i < zipx_count(a); i++) {
        const struct zipx_entry *x = zipx_entry_at(a, i), *y = zipx_entry_at(b, i);

        FUZZ_CHECK(strcmp(x->name, y->name) == 0);
        FUZZ_CHECK(x->size == y->size && x->comp_size == y->comp_size && x->crc == y->crc);
        FUZZ_CHECK(x->mtime == y->mtime && x->mode == y->mode && x->zindex == y->zindex);
        FUZZ_CHECK(x->is_dir == y->is_dir && x->implicit == y->implicit);
    }
}

/* --- extraction ------------------------------------------------------------------------- */

struct sink {
    uint64_t budget; /* left for this input */
    uint64_t got;    /* by the current entry */
    uint32_t crc;    /* of what the current entry gave */
};

static int discard(void *arg, const void *buf, size_t n)
{
    struct sink *s = arg;
    const volatile unsigned char *b = buf;

    FUZZ_CHECK(n > 0);
    (void)b[0];
    (void)b[n - 1];
    if (n > s->budget)
        return -EFBIG;
    s->budget -= n;
    s->got += n;
    s->crc = crc_update(s->crc, buf, n);
    return 0;
}

/* A deflated entry is inflated straight from the file (deflate_off); libzip, the path every
 * other entry takes, must agree on it: both fail, or both give the same bytes. */
static void same_as_libzip(const struct zipx_entry *e, struct sink *s, int rc)
{
    struct zipx_entry viazip = *e;
    struct sink t = {.budget = EXTRACT_BUDGET};
    int rc2;

    viazip.deflate_off = 0;
    rc2 = zipx_extract(zip_path, &viazip, discard, &t);
    if (rc == -EFBIG || rc2 == -EFBIG)
        return; /* a budget ran out: nothing to compare */
    FUZZ_CHECK((rc == 0) == (rc2 == 0));
    FUZZ_CHECK(rc != 0 || (t.got == s->got && t.crc == s->crc));
}

static void extract_each(const struct zipx_index *idx)
{
    struct sink s = {.budget = EXTRACT_BUDGET};
    int calls = 0;

    for (size_t i = 0; i < zipx_count(idx) && calls < EXTRACT_MAX_CALLS && s.budget; i++) {
        const struct zipx_entry *e = zipx_entry_at(idx, i);
        int rc;

        if (e->is_dir)
            continue;
        s.got = 0;
        s.crc = 0;
        rc = zipx_extract(zip_path, e, discard, &s);
        calls++;
        FUZZ_CHECK(rc <= 0);
        FUZZ_CHECK(rc != 0 || s.got == e->size);
        FUZZ_CHECK(s.got <= e->size);
        if (e->deflate_off && calls < EXTRACT_MAX_CALLS) {
            same_as_libzip(e, &s, rc);
            calls++;
        }
    }
}

/* Checks every node below rel (relative to dest, the destination directory) against the
 * index; returns how many there are. complete: extraction succeeded, sizes must match. */
static size_t check_tree(const struct zipx_index *idx, int dest, const char *rel, bool complete)
{
    size_t count = 0, n = 0, cap = 0;
    char **names = NULL;
    struct dirent *de;
    DIR *d;
    int fd;

    if (rel[0])
        fchmodat(dest, rel, 0700, 0); /* an entry may say 0000; we may not be root */
    fd = openat(dest, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    d = fdopendir(fd);
    FUZZ_CHECK(d != NULL);
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        names = names_room(names, n, &cap);
        FUZZ_CHECK(asprintf(&names[n], "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) > 0);
        n++;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        const struct zipx_entry *e = zipx_lookup(idx, names[i]);
        struct stat st;

        FUZZ_CHECK(fstatat(dest, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0);
        FUZZ_CHECK(e != NULL); /* only entries of the index are written */
        FUZZ_CHECK(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
        FUZZ_CHECK(e->is_dir == S_ISDIR(st.st_mode));
        FUZZ_CHECK(!complete || e->is_dir || (uint64_t)st.st_size == e->size);
        count++;
        if (e->is_dir)
            count += check_tree(idx, dest, names[i], complete);
        free(names[i]);
    }
    free(names);
    return count;
}

static void extract_whole(const struct zipx_index *idx)
{
    size_t count;
    DIR *d;
    struct dirent *de;
    int rc, dest, others = 0;

    if (zipx_count(idx) > EXTRACT_ALL_MAX_ENTRIES || zipx_total_size(idx) > EXTRACT_ALL_MAX_BYTES)
        return;
    rm_at(AT_FDCWD, out_dir);
    FUZZ_CHECK(mkdir(out_dir, 0700) == 0 && mkdir(dest_dir, 0700) == 0);
    rc = zipx_extract_all(zip_path, idx, dest_dir);
    FUZZ_CHECK(rc <= 0);
    dest = open(dest_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    FUZZ_CHECK(dest >= 0);
    count = check_tree(idx, dest, "", rc == 0);
    close(dest);
    FUZZ_CHECK(rc != 0 || count == zipx_count(idx));
    d = opendir(out_dir); /* nothing beside the destination */
    FUZZ_CHECK(d != NULL);
    while ((de = readdir(d)))
        others += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "d");
    closedir(d);
    FUZZ_CHECK(others == 0);
    rm_at(AT_FDCWD, out_dir);
}

/* --- the target ------------------------------------------------------------------------- */

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open(zip_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t off = 0;

    FUZZ_CHECK(fd >= 0);
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);

        FUZZ_CHECK(w > 0);
        off += (size_t)w;
    }
    FUZZ_CHECK(close(fd) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zipx_index *mem = NULL, *half = NULL, *file = NULL;
    char err[256] = "";
    int rc;

    setup();
    rc = zipx_index_from_tail(data, size, size, &mem, err, sizeof(err));
    FUZZ_CHECK(rc <= 0 && (rc == 0) == (mem != NULL) && (rc == 0 || err[0]));
    if (mem)
        check_index(mem);

    err[0] = '\0';
    rc = zipx_index_from_tail(data + size / 2, size - size / 2, size, &half, err, sizeof(err));
    FUZZ_CHECK(rc <= 0 && (rc == 0) == (half != NULL) && (rc == 0 || err[0]));
    if (half)
        check_index(half);
    zipx_index_free(half);

    if (size) { /* a tail longer than the archive */
        FUZZ_CHECK(zipx_index_from_tail(data, size, size - 1, &half, err, sizeof(err)) < 0);
        FUZZ_CHECK(half == NULL);
    }

    write_input(data, size);
    err[0] = '\0';
    rc = zipx_index_open(zip_path, &file, err, sizeof(err));
    FUZZ_CHECK(rc <= 0 && (rc == 0) == (file != NULL) && (rc == 0 || err[0]));
    /* The same bytes from memory or from a file give the same index (archive.c promises the
     * index from a tail equals that of the whole archive). */
    FUZZ_CHECK((mem != NULL) == (file != NULL));
    if (file) {
        check_index(file);
        check_same(mem, file);
        extract_each(file);
        extract_whole(file);
    }
    zipx_index_free(file);
    zipx_index_free(mem);
    return 0;
}
