/* Unit tests for archive.c: the central-directory index (sorting, directories, the stripped
 * top-level folder, hidden hostile entries, limits), reading from an archive's tail,
 * streaming and extracting entries with bounds and CRC checks, and rebuilding archives
 * (modes, exact mtimes, raw copies, skipped temporaries, atomic output). Every fixture is
 * built here with libzip, in a fresh mkdtemp directory, and patched byte by byte where libzip
 * refuses to write something hostile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

/* A time zone away from UTC, so tests show that times do not depend on it. */
#define AWAY_TZ "CET-1CEST,M3.5.0,M10.5.0/3"

struct fx {
    char dir[64];
};

/* --- fixture ------------------------------------------------------------------------ */

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/test_archive.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int unlock_cb(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_D)
        chmod(p, 0700);
    return 0;
}

static int remove_cb(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(p);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    nftw(f->dir, unlock_cb, 16, FTW_PHYS);
    nftw(f->dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* f->dir + "/" + rel in buf (PATH_MAX bytes). */
static char *P(const struct fx *f, const char *rel, char *buf)
{
    snprintf(buf, PATH_MAX, "%s/%s", f->dir, rel);
    return buf;
}

/* --- building and patching zips ----------------------------------------------------- */

struct zspec {
    const char *name;     /* a directory when it ends with '/' */
    const char *data;     /* file content; NULL for a directory */
    size_t len;           /* 0: strlen(data) */
    int method;           /* ZIP_CM_STORE unless set */
    int level;            /* compression level; 0: libzip's default */
    mode_t mode;          /* with type bits; 0: MS-DOS attributes, as Windows tools write */
    time_t ut;            /* 0: no extended timestamp */
    const char *password; /* encrypt with AES-256 */
};

static void make_zip(const char *path, const struct zspec *s, size_t n)
{
    int ze = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &ze);

    assert_non_null(za);
    for (size_t i = 0; i < n; i++) {
        zip_int64_t idx;

        if (!s[i].data) {
            idx = zip_dir_add(za, s[i].name, 0);
        } else {
            size_t len = s[i].len ? s[i].len : strlen(s[i].data);
            zip_source_t *src = zip_source_buffer(za, s[i].data, len, 0);

            assert_non_null(src);
            idx = zip_file_add(za, s[i].name, src, 0);
            if (idx < 0)
                zip_source_free(src);
            assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)idx, s[i].method,
                                                      (zip_uint32_t)s[i].level),
                             0);
        }
        assert_true(idx >= 0);
        assert_int_equal(zip_file_set_external_attributes(
                             za, (zip_uint64_t)idx, 0, s[i].mode ? ZIP_OPSYS_UNIX : ZIP_OPSYS_DOS,
                             (zip_uint32_t)s[i].mode << 16),
                         0);
        if (s[i].ut) {
            uint32_t t = (uint32_t)s[i].ut;
            zip_uint8_t ut[5] = {1, t & 0xff, (t >> 8) & 0xff, (t >> 16) & 0xff, t >> 24};

            assert_int_equal(zip_file_extra_field_set(za, (zip_uint64_t)idx, 0x5455,
                                                      ZIP_EXTRA_FIELD_NEW, ut, 5,
                                                      ZIP_FL_LOCAL | ZIP_FL_CENTRAL),
                             0);
        }
        if (s[i].password)
            assert_int_equal(
                zip_file_set_encryption(za, (zip_uint64_t)idx, ZIP_EM_AES_256, s[i].password), 0);
    }
    assert_int_equal(zip_close(za), 0);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf;
    long n;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Replaces every occurrence of old (len bytes) by new in the file; returns how many. */
static int patch_all(const char *path, const void *old, const void *new, size_t len)
{
    size_t n;
    unsigned char *buf = slurp(path, &n);
    int count = 0;

    for (size_t i = 0; i + len <= n; i++) {
        if (memcmp(buf + i, old, len) == 0) {
            memcpy(buf + i, new, len);
            count++;
        }
    }
    spit(path, buf, n);
    free(buf);
    return count;
}

static uint32_t get_le(const unsigned char *p, int width)
{
    uint32_t v = 0;

    for (int i = width - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le(unsigned char *p, int width, uint32_t v)
{
    for (int i = 0; i < width; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Sets a little-endian field of entry name: at coff in its central header and, when loff is
 * not negative, at loff in its local header. */
static void patch_field(const char *path, const char *name, int coff, int loff, int width,
                        uint32_t val)
{
    size_t n, nlen = strlen(name);
    unsigned char *buf = slurp(path, &n);
    int hits = 0;

    for (size_t p = 0; p + 46 <= n; p++) {
        if (memcmp(buf + p, "PK\1\2", 4) != 0 || get_le(buf + p + 28, 2) != nlen ||
            memcmp(buf + p + 46, name, nlen) != 0)
            continue;
        put_le(buf + p + coff, width, val);
        if (loff >= 0)
            put_le(buf + get_le(buf + p + 42, 4) + loff, width, val);
        hits++;
    }
    assert_int_equal(hits, 1);
    spit(path, buf, n);
    free(buf);
}

/* Central and local header offsets of the fields patched below. */
#define C_FLAGS 8
#define L_FLAGS 6
#define C_METHOD 10
#define L_METHOD 8
#define C_CRC 16
#define L_CRC 14
#define C_CSIZE 20
#define L_CSIZE 18
#define C_USIZE 24
#define L_USIZE 22

static struct zipx_index *open_index(const char *path)
{
    struct zipx_index *idx = NULL;
    char err[256] = "";

    assert_int_equal(zipx_index_open(path, &idx, err, sizeof(err)), 0);
    assert_non_null(idx);
    return idx;
}

/* Deterministic pseudo-random bytes (xorshift), incompressible unless text is set, in which
 * case they are words that deflate compresses well but not trivially. */
static char *noise(size_t len, uint32_t seed, int text)
{
    static const char *const words[] = {"select", "qlik ", "ext ", "data\n", "mashup ", "js "};
    char *buf = malloc(len);
    uint32_t x = seed ? seed : 1;

    assert_non_null(buf);
    for (size_t i = 0; i < len;) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (!text) {
            buf[i++] = (char)(x & 0xff);
            continue;
        }
        for (const char *w = words[x % 6]; *w && i < len; w++)
            buf[i++] = *w;
    }
    return buf;
}

/* --- sinks and collectors ----------------------------------------------------------- */

struct mem {
    char *p;
    size_t n, cap;
    int fail_with;
};

static int mem_sink(void *arg, const void *buf, size_t n)
{
    struct mem *m = arg;

    if (m->fail_with)
        return m->fail_with;
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2;
        m->p = realloc(m->p, m->cap);
        assert_non_null(m->p);
    }
    memcpy(m->p + m->n, buf, n);
    m->n += n;
    return 0;
}

struct names {
    char v[32][64];
    int n;
    int stop_after;
};

static int collect(void *arg, const struct zipx_entry *e)
{
    struct names *c = arg;

    assert_true(c->n < 32);
    snprintf(c->v[c->n++], sizeof(c->v[0]), "%s", e->name);
    return c->stop_after && c->n == c->stop_after ? 7 : 0;
}

static void put_file(const char *path, const void *data, size_t len, mode_t mode, time_t mtime)
{
    struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};

    spit(path, data, len);
    assert_int_equal(chmod(path, mode), 0);
    if (mtime)
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void set_mtime(const char *path, time_t mtime)
{
    struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};

    assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static int count_dir(const char *path)
{
    DIR *dp = opendir(path);
    struct dirent *d;
    int n = 0;

    assert_non_null(dp);
    while ((d = readdir(dp)))
        n += strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
    closedir(dp);
    return n;
}

/* Runs with TZ set away from UTC, restoring it afterwards. */
struct tz_saved {
    char *old;
};

static struct tz_saved tz_away(void)
{
    struct tz_saved s = {getenv("TZ") ? strdup(getenv("TZ")) : NULL};

    setenv("TZ", AWAY_TZ, 1);
    tzset();
    return s;
}

static void tz_restore(struct tz_saved s)
{
    if (s.old)
        setenv("TZ", s.old, 1);
    else
        unsetenv("TZ");
    free(s.old);
    tzset();
}

/* --- the index ---------------------------------------------------------------------- */

static void index_plain(void **state)
{
    struct fx *f = *state;
    char zp[PATH_MAX];
    static const char *const sorted[] = {"a.js",         "b.txt",    "img",    "img/p.png",
                                         "lib",          "lib-a.js", "lib.js", "lib/sub",
                                         "lib/sub/y.js", "lib/x.js"};
    const struct zspec s[] = {
        {.name = "lib/x.js", .data = "x();", .method = ZIP_CM_DEFLATE},
        {.name = "b.txt", .data = "bee"},
        {.name = "lib/", .data = NULL},
        {.name = "a.js", .data = "alpha"},
        {.name = "img/p.png", .data = "PNG...."},
        {.name = "lib-a.js", .data = "1"},
        {.name = "lib.js", .data = "22"},
        {.name = "lib/sub/y.js", .data = "333"},
    };
    struct names c = {0};
    struct zipx_index *idx;
    const struct zipx_entry *e;

    make_zip(P(f, "a.zip", zp), s, sizeof(s) / sizeof(s[0]));
    idx = open_index(zp);
    assert_string_equal(zipx_prefix(idx), "");
    assert_false(zipx_prefix_explicit(idx));
    assert_int_equal(zipx_count(idx), 10);
    for (size_t i = 0; i < zipx_count(idx); i++)
        assert_string_equal(zipx_entry_at(idx, i)->name, sorted[i]);
    assert_null(zipx_entry_at(idx, 10));
    assert_int_equal(zipx_total_size(idx), 4 + 3 + 5 + 7 + 1 + 2 + 3);

    e = zipx_lookup(idx, "lib/x.js");
    assert_non_null(e);
    assert_false(e->is_dir);
    assert_int_equal(e->size, 4);
    assert_int_equal(e->mode, 0644);
    assert_int_equal(e->zindex, 0);
    e = zipx_lookup(idx, "lib");
    assert_true(e->is_dir && !e->implicit);
    assert_int_equal(e->zindex, 2);
    assert_int_equal(e->mode, 0755);
    e = zipx_lookup(idx, "img");
    assert_true(e->is_dir && e->implicit);
    assert_int_equal(e->zindex, -1);
    assert_true(zipx_lookup(idx, "lib/sub")->implicit);
    assert_null(zipx_lookup(idx, ""));
    assert_null(zipx_lookup(idx, "lib/"));
    assert_null(zipx_lookup(idx, "nope"));

    assert_int_equal(zipx_foreach_child(idx, "", collect, &c), 0);
    assert_int_equal(c.n, 6);
    assert_string_equal(c.v[0], "a.js");
    assert_string_equal(c.v[2], "img");
    assert_string_equal(c.v[3], "lib");
    assert_string_equal(c.v[5], "lib.js");
    memset(&c, 0, sizeof(c));
    assert_int_equal(zipx_foreach_child(idx, "lib", collect, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.v[0], "lib/sub");
    assert_string_equal(c.v[1], "lib/x.js");
    memset(&c, 0, sizeof(c));
    assert_int_equal(zipx_foreach_child(idx, "lib/sub", collect, &c), 0);
    assert_int_equal(c.n, 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(zipx_foreach_child(idx, "li", collect, &c), 0);
    assert_int_equal(c.n, 0);
    c.stop_after = 2;
    assert_int_equal(zipx_foreach_child(idx, "", collect, &c), 7);
    assert_int_equal(c.n, 2);
    zipx_index_free(idx);
}

static void index_modes_and_times(void **state)
{
    struct fx *f = *state;
    struct tz_saved tz = tz_away();
    struct tm dos = {
        .tm_year = 121, .tm_mon = 5, .tm_mday = 15, .tm_hour = 12, .tm_min = 34, .tm_sec = 56};
    const struct zspec s[] = {
        {.name = "run.sh", .data = "#!", .mode = S_IFREG | 0755, .ut = 1234567891},
        {.name = "bin/", .mode = S_IFDIR | 0750, .ut = 1000000001},
        {.name = "suid", .data = "s", .mode = S_IFREG | 04755},
        {.name = "dos.txt", .data = "d"},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;
    zip_t *za;
    int ze;

    make_zip(P(f, "m.zip", zp), s, 4);
    /* The DOS fields alone: 2021-06-15 12:34:56, read as UTC whatever the local zone. */
    za = zip_open(zp, 0, &ze);
    assert_non_null(za);
    assert_int_equal(zip_file_set_dostime(za, 3, (12 << 11) | (34 << 5) | (56 / 2),
                                          (41 << 9) | (6 << 5) | 15, 0),
                     0);
    assert_int_equal(zip_close(za), 0);

    idx = open_index(zp);
    assert_int_equal(zipx_lookup(idx, "run.sh")->mode, 0755);
    assert_int_equal(zipx_lookup(idx, "run.sh")->mtime, 1234567891);
    assert_int_equal(zipx_lookup(idx, "bin")->mode, 0750);
    assert_int_equal(zipx_lookup(idx, "bin")->mtime, 1000000001);
    assert_int_equal(zipx_lookup(idx, "suid")->mode, 0755); /* no set-id bits from archives */
    assert_int_equal(zipx_lookup(idx, "dos.txt")->mtime, timegm(&dos));
    zipx_index_free(idx);
    tz_restore(tz);
}

static void prefix_explicit(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {
        {.name = "ext/"},
        {.name = "ext/ext.qext", .data = "{}"},
        {.name = "ext/lib/x.js", .data = "x"},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;

    make_zip(P(f, "p.zip", zp), s, 3);
    idx = open_index(zp);
    assert_string_equal(zipx_prefix(idx), "ext/");
    assert_true(zipx_prefix_explicit(idx));
    assert_int_equal(zipx_count(idx), 3);
    assert_string_equal(zipx_entry_at(idx, 0)->name, "ext.qext");
    assert_string_equal(zipx_entry_at(idx, 1)->name, "lib");
    assert_true(zipx_entry_at(idx, 1)->implicit);
    assert_string_equal(zipx_entry_at(idx, 2)->name, "lib/x.js");
    assert_int_equal(zipx_entry_at(idx, 2)->zindex, 2);
    assert_null(zipx_lookup(idx, "ext"));
    zipx_index_free(idx);
}

static void prefix_implicit(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {
        {.name = "hello-ext/hello.qext", .data = "{}"},
        {.name = "hello-ext/hello.js", .data = "define()"},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;

    make_zip(P(f, "p.zip", zp), s, 2);
    idx = open_index(zp);
    assert_string_equal(zipx_prefix(idx), "hello-ext/");
    assert_false(zipx_prefix_explicit(idx));
    assert_int_equal(zipx_count(idx), 2);
    assert_string_equal(zipx_entry_at(idx, 0)->name, "hello.js");
    zipx_index_free(idx);
}

static void no_prefix_cases(void **state)
{
    struct fx *f = *state;
    const struct zspec two_tops[] = {{.name = "a/x.js", .data = "x"},
                                     {.name = "b/y.js", .data = "y"}};
    const struct zspec root_file[] = {{.name = "ext/a.js", .data = "x"},
                                      {.name = "README.txt", .data = "y"}};
    const struct zspec only_dir[] = {{.name = "ext/"}};
    const struct zspec same_start[] = {{.name = "ext/a.js", .data = "x"},
                                       {.name = "ext2/b.js", .data = "y"}};
    char zp[PATH_MAX];
    struct zipx_index *idx;

    make_zip(P(f, "1.zip", zp), two_tops, 2);
    idx = open_index(zp);
    assert_string_equal(zipx_prefix(idx), "");
    assert_int_equal(zipx_count(idx), 4);
    zipx_index_free(idx);

    make_zip(P(f, "2.zip", zp), root_file, 2);
    idx = open_index(zp);
    assert_string_equal(zipx_prefix(idx), "");
    assert_non_null(zipx_lookup(idx, "ext/a.js"));
    zipx_index_free(idx);

    make_zip(P(f, "3.zip", zp), only_dir, 1);
    idx = open_index(zp);
    assert_string_equal(zipx_prefix(idx), "");
    assert_false(zipx_prefix_explicit(idx));
    assert_int_equal(zipx_count(idx), 1);
    assert_true(zipx_lookup(idx, "ext")->is_dir);
    zipx_index_free(idx);

    make_zip(P(f, "4.zip", zp), same_start, 2);
    idx = open_index(zp);
    assert_string_equal(zipx_prefix(idx), "");
    zipx_index_free(idx);
}

/* Each hostile name is written under a same-length placeholder, then patched in. */
static void hostile_names_hidden(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *placeholder, *hostile;
        size_t len;
    } h[] = {
        {"P1xx", "../x", 4},   {"P2xx", "/abs", 4},        {"P3xx", "a//b", 4},
        {"P4xxx", "a/./b", 5}, {"P5x", "a\\b", 3},         {"P6xxxx", "a/../b", 6},
        {"P7xxx", "a/b/.", 5}, {"P8xxxxx", "..\\evil", 7}, {"P9xxx", "//x/y", 5},
    };
    const size_t nh = sizeof(h) / sizeof(h[0]);
    char longname[320] = "d/";
    struct zspec s[16];
    char zp[PATH_MAX];
    struct zipx_index *idx;

    memset(s, 0, sizeof(s));
    for (size_t i = 0; i < nh; i++)
        s[i] = (struct zspec){.name = h[i].placeholder, .data = "h"};
    memset(longname + 2, 'L', 300);
    longname[302] = '\0';
    s[nh] = (struct zspec){.name = longname, .data = "l"};
    s[nh + 1] = (struct zspec){.name = "ok.js", .data = "fine"};
    s[nh + 2] = (struct zspec){.name = "sub/ok.js", .data = "fine"};
    make_zip(P(f, "h.zip", zp), s, nh + 3);
    for (size_t i = 0; i < nh; i++)
        assert_int_equal(patch_all(zp, h[i].placeholder, h[i].hostile, h[i].len), 2);

    idx = open_index(zp);
    assert_string_equal(zipx_prefix(idx), "");
    assert_int_equal(zipx_count(idx), 3);
    assert_non_null(zipx_lookup(idx, "ok.js"));
    assert_non_null(zipx_lookup(idx, "sub"));
    assert_non_null(zipx_lookup(idx, "sub/ok.js"));
    zipx_index_free(idx);
}

/* libzip 1.7 turns a NUL inside a central-directory name into a space before anyone sees
 * it; the index reads the raw names and hides the entry instead of showing a name the archive
 * does not hold. The rest stays, from a whole archive and from its tail alike. */
static void nul_in_name_hidden(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {{.name = "nQl.js", .data = "n"}, {.name = "ok.js", .data = "k"}};
    char zp[PATH_MAX], err[256];
    struct zipx_index *idx;
    size_t len;
    unsigned char *bytes;

    make_zip(P(f, "n.zip", zp), s, 2);
    assert_int_equal(patch_all(zp, "nQl.js", "n\0l.js", 6), 2);
    idx = open_index(zp);
    assert_int_equal(zipx_count(idx), 1);
    assert_non_null(zipx_lookup(idx, "ok.js"));
    assert_null(zipx_lookup(idx, "n l.js"));
    assert_null(zipx_lookup(idx, "n"));
    zipx_index_free(idx);
    bytes = slurp(zp, &len);
    assert_int_equal(zipx_index_from_tail(bytes, len, len, &idx, err, sizeof(err)), 0);
    assert_int_equal(zipx_count(idx), 1);
    assert_non_null(zipx_lookup(idx, "ok.js"));
    zipx_index_free(idx);
    free(bytes);
}

static void special_entries_hidden(void **state)
{
    struct fx *f = *state;
    const bool aes = zip_encryption_method_supported(ZIP_EM_AES_256, 1);
    const struct zspec s[] = {
        {.name = "link", .data = "/etc/passwd", .mode = S_IFLNK | 0777},
        {.name = "fifo", .data = "", .mode = S_IFIFO | 0644},
        {.name = "secret.js", .data = "hidden", .password = aes ? "pw" : NULL},
        {.name = "huge.bin", .data = "small really"},
        {.name = "ppmd.bin", .data = "odd method"},
        {.name = "kept.js", .data = "k"},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;

    make_zip(P(f, "s.zip", zp), s, 6);
    if (!aes) /* no crypto in this libzip: mark it encrypted the old way (flag bit 0) */
        patch_field(zp, "secret.js", C_FLAGS, L_FLAGS, 2, 1);
    patch_field(zp, "huge.bin", C_USIZE, -1, 4, 200u * 1024 * 1024);
    assert_false(zip_compression_method_supported(ZIP_CM_PPMD, 0));
    patch_field(zp, "ppmd.bin", C_METHOD, L_METHOD, 2, ZIP_CM_PPMD);

    idx = open_index(zp);
    assert_int_equal(zipx_count(idx), 1);
    assert_non_null(zipx_lookup(idx, "kept.js"));
    zipx_index_free(idx);
}

static void at_size_limit_kept(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {{.name = "edge.bin", .data = "x"}};
    char zp[PATH_MAX];
    struct zipx_index *idx;

    make_zip(P(f, "e.zip", zp), s, 1);
    patch_field(zp, "edge.bin", C_USIZE, -1, 4, (uint32_t)ZIPX_MAX_ENTRY_SIZE);
    idx = open_index(zp);
    assert_int_equal(zipx_lookup(idx, "edge.bin")->size, ZIPX_MAX_ENTRY_SIZE);
    zipx_index_free(idx);
}

static void duplicates_keep_first(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {
        {.name = "dup1.js", .data = "first"},
        {.name = "dup2.js", .data = "second"},
        {.name = "lib", .data = "a file named like a directory"},
        {.name = "lib/x.js", .data = "x"},
        {.name = "d", .data = "file first"},
        {.name = "d/", .mode = S_IFDIR | 0700},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;
    struct mem m = {0};
    const struct zipx_entry *e;

    make_zip(P(f, "d.zip", zp), s, 6);
    assert_int_equal(patch_all(zp, "dup2.js", "dup1.js", 7), 2);
    idx = open_index(zp);
    assert_int_equal(zipx_count(idx), 4);
    e = zipx_lookup(idx, "dup1.js");
    assert_int_equal(e->zindex, 0);
    assert_int_equal(zipx_extract(zp, e, mem_sink, &m), 0);
    assert_int_equal(m.n, 5);
    assert_memory_equal(m.p, "first", 5);
    e = zipx_lookup(idx, "lib");
    assert_true(e->is_dir && e->implicit);
    e = zipx_lookup(idx, "d");
    assert_true(e->is_dir && !e->implicit);
    assert_int_equal(e->mode, 0700);
    assert_int_equal(zipx_total_size(idx), 5 + 1);
    zipx_index_free(idx);
    free(m.p);
}

/* Names that differ only in case are distinct on Linux: both are shown and each reads its
 * own bytes (hiding one would hide a user's file; nothing can collide on this filesystem). */
static void names_differing_in_case(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {
        {.name = "App.js", .data = "upper"},
        {.name = "app.js", .data = "lower!"},
        {.name = "LIB/x.js", .data = "X"},
        {.name = "lib/x.js", .data = "x"},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;
    struct mem m = {0};

    make_zip(P(f, "case.zip", zp), s, 4);
    idx = open_index(zp);
    assert_int_equal(zipx_count(idx), 6); /* 4 files and 2 implicit directories */
    assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "App.js"), mem_sink, &m), 0);
    assert_int_equal(m.n, 5);
    assert_memory_equal(m.p, "upper", 5);
    m.n = 0;
    assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "app.js"), mem_sink, &m), 0);
    assert_int_equal(m.n, 6);
    assert_true(zipx_lookup(idx, "LIB")->is_dir && zipx_lookup(idx, "lib")->is_dir);
    zipx_index_free(idx);
    free(m.p);
}

static void unreadable_archives(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {{.name = "a.js", .data = "some content here"},
                              {.name = "b.js", .data = "more content"}};
    struct zipx_index *idx = (struct zipx_index *)1;
    char zp[PATH_MAX], err[256] = "";
    unsigned char *buf;
    size_t n;

    spit(P(f, "garbage.zip", zp), "this is not a zip archive at all, just text", 43);
    assert_int_equal(zipx_index_open(zp, &idx, err, sizeof(err)), -EINVAL);
    assert_null(idx);
    assert_true(strlen(err) > 0);

    make_zip(P(f, "t.zip", zp), s, 2);
    buf = slurp(zp, &n);
    spit(zp, buf, n / 2);
    err[0] = '\0';
    assert_int_equal(zipx_index_open(zp, &idx, err, sizeof(err)), -EINVAL);
    assert_true(strlen(err) > 0);
    free(buf);

    assert_int_equal(zipx_index_open(P(f, "missing.zip", zp), &idx, err, sizeof(err)), -ENOENT);
}

static void too_many_entries(void **state)
{
    struct fx *f = *state;
    char zp[PATH_MAX], name[32], err[256] = "";
    struct zipx_index *idx = NULL;
    zip_t *za;
    int ze;

    za = zip_open(P(f, "many.zip", zp), ZIP_CREATE | ZIP_TRUNCATE, &ze);
    assert_non_null(za);
    for (int i = 0; i <= ZIPX_MAX_ENTRIES; i++) {
        snprintf(name, sizeof(name), "d%05d/", i);
        assert_true(zip_dir_add(za, name, 0) >= 0);
    }
    assert_int_equal(zip_close(za), 0);
    assert_int_equal(zipx_index_open(zp, &idx, err, sizeof(err)), -EFBIG);
    assert_null(idx);
    assert_non_null(strstr(err, "20001"));
}

/* --- reading from the tail ---------------------------------------------------------- */

static void assert_same_index(const struct zipx_index *a, const struct zipx_index *b)
{
    assert_string_equal(zipx_prefix(a), zipx_prefix(b));
    assert_int_equal(zipx_prefix_explicit(a), zipx_prefix_explicit(b));
    assert_int_equal(zipx_count(a), zipx_count(b));
    assert_int_equal(zipx_total_size(a), zipx_total_size(b));
    for (size_t i = 0; i < zipx_count(a); i++) {
        const struct zipx_entry *x = zipx_entry_at(a, i), *y = zipx_entry_at(b, i);

        assert_string_equal(x->name, y->name);
        assert_int_equal(x->size, y->size);
        assert_int_equal(x->comp_size, y->comp_size);
        assert_int_equal(x->mtime, y->mtime);
        assert_int_equal(x->mode, y->mode);
        assert_int_equal(x->is_dir, y->is_dir);
        assert_int_equal(x->implicit, y->implicit);
        assert_int_equal(x->crc, y->crc);
        assert_int_equal(x->zindex, y->zindex);
    }
}

static void index_from_tail(void **state)
{
    struct fx *f = *state;
    char *big = noise(200000, 7, 0);
    char names[40][48];
    struct zspec s[42];
    char zp[PATH_MAX], err[256] = "";
    struct zipx_index *full, *tail = NULL;
    struct mem m = {0};
    unsigned char *buf;
    size_t n;

    memset(s, 0, sizeof(s));
    s[0] = (struct zspec){.name = "ext/"};
    s[1] = (struct zspec){.name = "ext/big.bin",
                          .data = big,
                          .len = 200000,
                          .mode = S_IFREG | 0600,
                          .ut = 1600000000};
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "ext/lib/part %02d – ü.js", i);
        s[i + 2] = (struct zspec){.name = names[i],
                                  .data = names[i],
                                  .method = ZIP_CM_DEFLATE,
                                  .mode = S_IFREG | 0640,
                                  .ut = 1500000000 + i};
    }
    make_zip(P(f, "t.zip", zp), s, 42);
    full = open_index(zp);
    buf = slurp(zp, &n);
    assert_true(n > 200000);

    /* 64 KiB: less than libzip's end-record search window, yet it holds the directory. */
    assert_int_equal(zipx_index_from_tail(buf + n - 65536, 65536, n, &tail, err, sizeof(err)), 0);
    assert_same_index(full, tail);
    assert_int_equal(zipx_extract(zp, zipx_lookup(tail, "big.bin"), mem_sink, &m), 0);
    assert_int_equal(m.n, 200000);
    assert_memory_equal(m.p, big, 200000);
    zipx_index_free(tail);

    assert_int_equal(zipx_index_from_tail(buf, n, n, &tail, err, sizeof(err)), 0);
    assert_same_index(full, tail);
    zipx_index_free(tail);
    tail = NULL;

    /* 300 bytes hold the end record but not the directory. */
    assert_int_equal(zipx_index_from_tail(buf + n - 300, 300, n, &tail, err, sizeof(err)), -ERANGE);
    assert_null(tail);
    assert_int_equal(zipx_index_from_tail(buf + n - 10, 10, n, &tail, err, sizeof(err)), -ERANGE);
    assert_int_equal(zipx_index_from_tail(NULL, 0, n, &tail, err, sizeof(err)), -ERANGE);

    /* Garbage: not a zip when the tail is everything, unknown (so fetch it all) otherwise. */
    memset(buf, 'x', n);
    assert_int_equal(zipx_index_from_tail(buf, 4096, 4096, &tail, err, sizeof(err)), -EINVAL);
    assert_int_equal(zipx_index_from_tail(buf, 4096, 1 << 20, &tail, err, sizeof(err)), -ERANGE);
    assert_int_equal(zipx_index_from_tail(buf, 4096, 100, &tail, err, sizeof(err)), -EINVAL);

    zipx_index_free(full);
    free(buf);
    free(big);
    free(m.p);
}

/* --- extracting --------------------------------------------------------------------- */

static void extract_contents(void **state)
{
    struct fx *f = *state;
    char *text = noise(1 << 20, 3, 1), *rnd = noise(1 << 20, 5, 0);
    const struct zspec s[] = {
        {.name = "deflated.txt", .data = text, .len = 1 << 20, .method = ZIP_CM_DEFLATE},
        {.name = "stored.bin", .data = rnd, .len = 1 << 20},
        {.name = "empty", .data = ""},
        {.name = "small.js", .data = "var a = 1;", .method = ZIP_CM_DEFLATE},
        {.name = "dir/"},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;
    const struct zipx_entry *e;
    struct mem m = {0};

    make_zip(P(f, "x.zip", zp), s, 5);
    idx = open_index(zp);
    e = zipx_lookup(idx, "deflated.txt");
    assert_true(e->comp_size < e->size / 2);
    /* deflated entries are inflated from where their bytes start, stored ones read there */
    assert_true(e->deflate_off > 0 && e->data_off == 0);
    assert_true(zipx_lookup(idx, "stored.bin")->deflate_off == 0);
    assert_int_equal(zipx_extract(zp, e, mem_sink, &m), 0);
    assert_int_equal(m.n, 1 << 20);
    assert_memory_equal(m.p, text, 1 << 20);
    m.n = 0;
    assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "stored.bin"), mem_sink, &m), 0);
    assert_int_equal(m.n, 1 << 20);
    assert_memory_equal(m.p, rnd, 1 << 20);
    m.n = 0;
    assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "empty"), mem_sink, &m), 0);
    assert_int_equal(m.n, 0);
    assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "small.js"), mem_sink, &m), 0);
    assert_int_equal(m.n, 10);
    assert_memory_equal(m.p, "var a = 1;", 10);

    /* The sink's error ends the stream and is passed on. */
    m.fail_with = -ENOSPC;
    assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "small.js"), mem_sink, &m), -ENOSPC);
    assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "dir"), mem_sink, &m), -EISDIR);
    assert_int_equal(zipx_extract(P(f, "gone.zip", zp), zipx_entry_at(idx, 0), mem_sink, &m),
                     -ENOENT);
    zipx_index_free(idx);
    free(text);
    free(rnd);
    free(m.p);
}

/* The declared size is smaller than the data: the stream stops at the declared size. */
static void extract_zip_bomb(void **state)
{
    struct fx *f = *state;
    char *zeros = calloc(1, 1 << 20);
    const struct zspec s[] = {
        {.name = "bomb.bin", .data = zeros, .len = 1 << 20, .method = ZIP_CM_DEFLATE},
        {.name = "short.bin", .data = zeros, .len = 1 << 20, .method = ZIP_CM_DEFLATE},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;
    const struct zipx_entry *e;
    struct mem m = {0};

    assert_non_null(zeros);
    make_zip(P(f, "b.zip", zp), s, 2);
    patch_field(zp, "bomb.bin", C_USIZE, L_USIZE, 4, 1000);
    patch_field(zp, "short.bin", C_USIZE, L_USIZE, 4, 3 << 20);
    idx = open_index(zp);
    e = zipx_lookup(idx, "bomb.bin");
    assert_int_equal(e->size, 1000);
    assert_int_equal(zipx_extract(zp, e, mem_sink, &m), -EIO);
    assert_true(m.n <= 1000);
    m.n = 0;
    e = zipx_lookup(idx, "short.bin");
    assert_int_equal(e->size, 3 << 20);
    assert_int_equal(zipx_extract(zp, e, mem_sink, &m), -EIO);
    assert_true(m.n <= 1 << 20);
    zipx_index_free(idx);
    free(zeros);
    free(m.p);
}

/* Deflated entries whose size falls on or near the 64 KiB read and output chunks, with data
 * compressible enough that the last compressed byte is consumed while output is still
 * pending: the stream must still end cleanly. */
static void extract_chunk_edges(void **state)
{
    struct fx *f = *state;
    const size_t sizes[] = {65535, 65536, 65537, 131072, 1 << 20, (1 << 20) + 1, 3 << 20};
    char *zeros = calloc(1, 3 << 20), *text = noise(3 << 20, 11, 1);
    char zp[PATH_MAX], name[32];

    assert_non_null(zeros);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        const struct zspec s[] = {
            {.name = "zeros.bin", .data = zeros, .len = sizes[i], .method = ZIP_CM_DEFLATE},
            {.name = "text.txt", .data = text, .len = sizes[i], .method = ZIP_CM_DEFLATE},
        };
        struct zipx_index *idx;
        struct mem m = {0};

        snprintf(name, sizeof(name), "edge%zu.zip", i);
        make_zip(P(f, name, zp), s, 2);
        idx = open_index(zp);
        assert_true(zipx_lookup(idx, "zeros.bin")->deflate_off > 0);
        assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "zeros.bin"), mem_sink, &m), 0);
        assert_int_equal(m.n, sizes[i]);
        assert_memory_equal(m.p, zeros, sizes[i]);
        m.n = 0;
        assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "text.txt"), mem_sink, &m), 0);
        assert_int_equal(m.n, sizes[i]);
        assert_memory_equal(m.p, text, sizes[i]);
        zipx_index_free(idx);
        free(m.p);
    }
    free(zeros);
    free(text);
}

/* Compressed bytes that lie: a compressed size shorter than the stream, and a stream that
 * is not deflate at all. Both give EIO, never more than the declared size. */
static void extract_bad_compressed_data(void **state)
{
    struct fx *f = *state;
    char *text = noise(200000, 9, 1);
    const struct zspec s[] = {
        {.name = "cut.txt", .data = text, .len = 200000, .method = ZIP_CM_DEFLATE},
        {.name = "junk.txt", .data = text, .len = 200000, .method = ZIP_CM_DEFLATE},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;
    const struct zipx_entry *e;
    struct mem m = {0};
    unsigned char *z;
    size_t zlen;

    make_zip(P(f, "bad.zip", zp), s, 2);
    patch_field(zp, "cut.txt", C_CSIZE, L_CSIZE, 4, 100);
    idx = open_index(zp);
    e = zipx_lookup(idx, "junk.txt");
    assert_true(e->deflate_off > 0);
    z = slurp(zp, &zlen);
    memset(z + e->deflate_off, 0xff, 64); /* 0xff: a reserved block type */
    spit(zp, z, zlen);
    assert_int_equal(zipx_extract(zp, e, mem_sink, &m), -EIO);
    assert_true(m.n <= 200000);
    m.n = 0;
    e = zipx_lookup(idx, "cut.txt");
    assert_int_equal(e->comp_size, 100);
    assert_true(e->deflate_off > 0);
    assert_int_equal(zipx_extract(zp, e, mem_sink, &m), -EIO);
    assert_true(m.n < 200000);
    zipx_index_free(idx);
    free(z);
    free(text);
    free(m.p);
}

static void extract_crc_mismatch(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {
        {.name = "d.txt", .data = "deflated content, deflated", .method = ZIP_CM_DEFLATE},
        {.name = "s.txt", .data = "stored content"},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;
    struct mem m = {0};

    make_zip(P(f, "c.zip", zp), s, 2);
    patch_field(zp, "d.txt", C_CRC, L_CRC, 4, 0xdeadbeef);
    patch_field(zp, "s.txt", C_CRC, L_CRC, 4, 0x12345678);
    idx = open_index(zp);
    assert_int_equal(zipx_lookup(idx, "d.txt")->crc, 0xdeadbeef);
    assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "d.txt"), mem_sink, &m), -EIO);
    assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "s.txt"), mem_sink, &m), -EIO);
    zipx_index_free(idx);
    free(m.p);
}

/* Stored entries of a whole archive are located for reading in place: their bytes are found
 * at data_off, the CRC is checked there, and deflated entries and tail indexes have none. */
/* The end record is looked for in the last KiB first, and in the last 64 KiB only when it is
 * not there: archives with comments of every size must index and locate alike. */
static void index_long_comment(void **state)
{
    struct fx *f = *state;
    const size_t lens[] = {0, 1000, 1003, 4000, 65535};
    char *comment = noise(65535, 11, 1);

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        const struct zspec s[] = {
            {.name = "s.txt", .data = "stored content"},
            {.name = "d.txt", .data = "deflated deflated deflated", .method = ZIP_CM_DEFLATE},
        };
        char zp[PATH_MAX];
        int ze = 0;
        zip_t *za;
        struct zipx_index *idx;
        struct mem m = {0};

        make_zip(P(f, "c.zip", zp), s, 2);
        za = zip_open(zp, 0, &ze);
        assert_non_null(za);
        assert_int_equal(zip_set_archive_comment(za, comment, (zip_uint16_t)lens[i]), 0);
        assert_int_equal(zip_close(za), 0);
        idx = open_index(zp);
        assert_true(zipx_lookup(idx, "s.txt")->data_off > 0);
        assert_true(zipx_lookup(idx, "d.txt")->deflate_off > 0);
        assert_int_equal(zipx_extract(zp, zipx_lookup(idx, "d.txt"), mem_sink, &m), 0);
        assert_int_equal(m.n, strlen("deflated deflated deflated"));
        free(m.p);
        zipx_index_free(idx);
    }
    free(comment);
}

static void stored_entries_located(void **state)
{
    struct fx *f = *state;
    char *big = noise(300000, 7, 0);
    const struct zspec s[] = {
        {.name = "top/", .data = NULL},
        {.name = "top/d.txt", .data = "deflated content, deflated", .method = ZIP_CM_DEFLATE},
        {.name = "top/s.txt", .data = "stored content"},
        {.name = "top/big.bin", .data = big, .len = 300000},
        {.name = "top/empty.txt", .data = "", .len = 0},
    };
    char zp[PATH_MAX];
    struct zipx_index *idx;
    size_t zlen;
    unsigned char *z;
    int fd;

    make_zip(P(f, "s.zip", zp), s, 5);
    z = slurp(zp, &zlen);
    idx = open_index(zp);
    const struct zipx_entry *st = zipx_lookup(idx, "s.txt");
    const struct zipx_entry *bg = zipx_lookup(idx, "big.bin");

    assert_int_equal(zipx_lookup(idx, "d.txt")->data_off, 0);
    assert_true(st->data_off > 0 && st->data_off + st->size <= zlen);
    assert_memory_equal(z + st->data_off, "stored content", st->size);
    assert_memory_equal(z + bg->data_off, big, 300000);
    assert_ptr_equal(zipx_entry_at(idx, zipx_entry_pos(idx, bg)), bg);
    fd = open(zp, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(zipx_stored_verify(fd, st, NULL), 0);
    assert_int_equal(zipx_stored_verify(fd, bg, NULL), 0);
    assert_int_equal(zipx_stored_verify(fd, zipx_lookup(idx, "empty.txt"), NULL), 0);
    char got[32];

    assert_int_equal(zipx_stored_read(fd, st, got, sizeof(got), 7), 7); /* clipped at the end */
    assert_memory_equal(got, "content", 7);
    assert_int_equal(zipx_stored_read(fd, st, got, sizeof(got), st->size), 0);
    close(fd);
    uint64_t bg_off = bg->data_off;

    zipx_index_free(idx);
    /* one byte changed in place: the CRC check refuses it */
    z[bg_off + 1000] ^= 0xff;
    spit(zp, z, zlen);
    idx = open_index(zp);
    fd = open(zp, O_RDONLY);
    assert_int_equal(zipx_stored_verify(fd, zipx_lookup(idx, "big.bin"), NULL), -EIO);
    assert_int_equal(zipx_stored_verify(fd, zipx_lookup(idx, "s.txt"), NULL), 0);
    close(fd);
    zipx_index_free(idx);
    /* an index from the tail alone has no local bytes to point at */
    idx = NULL;
    char err[256];
    size_t tl = zlen < 4096 ? zlen : 4096;

    assert_int_equal(zipx_index_from_tail(z + zlen - tl, tl, zlen, &idx, err, sizeof(err)), 0);
    assert_int_equal(zipx_lookup(idx, "s.txt")->data_off, 0);
    zipx_index_free(idx);
    free(z);
    free(big);
}

/* Feeds z[0, len) to a new table in uneven pieces, as a download would. */
static struct zipx_segcrc *segs_of(const unsigned char *z, size_t len)
{
    static const size_t steps[] = {1, 4095, 70000, 65536, 333, 200000};
    struct zipx_segcrc *segs = zipx_segcrc_new();
    size_t at = 0;

    assert_non_null(segs);
    for (size_t i = 0; at < len; i++) {
        size_t k = steps[i % 6] < len - at ? steps[i % 6] : len - at;

        zipx_segcrc_feed(segs, at, z + at, k);
        at += k;
    }
    return segs;
}

/* The CRCs taken while an archive downloads check its stored entries without reading them
 * again, with the same verdicts as reading them: entries of every alignment, one shorter
 * than a segment, an empty one, and bytes that arrived corrupt. */
static void stored_verify_from_segments(void **state)
{
    struct fx *f = *state;
    char *big = noise(400000, 11, 0);
    char *pad = noise(1100000, 12, 0); /* the table starts past the first MiB */
    const struct zspec s[] = {
        {.name = "pad.bin", .data = pad, .len = 1100000},
        {.name = "a.bin", .data = big, .len = 65536},
        {.name = "b.bin", .data = big + 1, .len = 131072 + 77},
        {.name = "small.txt", .data = "stored content"},
        {.name = "empty.txt", .data = "", .len = 0},
        {.name = "c.bin", .data = big + 5, .len = 399995},
    };
    const char *names[] = {"pad.bin", "a.bin", "b.bin", "small.txt", "empty.txt", "c.bin"};
    char zp[PATH_MAX];
    struct zipx_index *idx;
    struct zipx_segcrc *segs;
    unsigned char *z;
    size_t zlen;
    int fd;

    make_zip(P(f, "seg.zip", zp), s, 6);
    z = slurp(zp, &zlen);
    idx = open_index(zp);
    fd = open(zp, O_RDONLY);
    assert_true(fd >= 0);
    segs = segs_of(z, zlen);
    for (size_t i = 0; i < 6; i++) {
        assert_true(zipx_lookup(idx, names[i])->data_off > 0);
        assert_int_equal(zipx_stored_verify(fd, zipx_lookup(idx, names[i]), segs), 0);
    }
    /* The table speaks for the bytes as they arrived: a whole segment inside c.bin is not
     * read again, so a change made on disk afterwards is not seen... */
    const struct zipx_entry *c = zipx_lookup(idx, "c.bin");
    uint64_t mid = (c->data_off / 65536 + 2) * 65536 + 100;

    z[mid] ^= 0xff;
    spit(zp, z, zlen);
    assert_int_equal(zipx_stored_verify(fd, c, segs), 0);
    assert_int_equal(zipx_stored_verify(fd, c, NULL), -EIO);
    /* ...while bytes that arrived corrupt fail, in a middle segment or a partial end one. */
    zipx_segcrc_free(segs);
    segs = segs_of(z, zlen);
    assert_int_equal(zipx_stored_verify(fd, c, segs), -EIO);
    assert_int_equal(zipx_stored_verify(fd, zipx_lookup(idx, "b.bin"), segs), 0);
    z[mid] ^= 0xff;
    z[c->data_off + c->size - 1] ^= 0x01;
    spit(zp, z, zlen);
    zipx_segcrc_free(segs);
    segs = segs_of(z, zlen);
    assert_int_equal(zipx_stored_verify(fd, c, segs), -EIO);
    /* A write out of order makes the table vouch for nothing: the entry is read again and
     * the corruption found; a restart at offset 0 (a retried download) makes it whole. */
    z[c->data_off + c->size - 1] ^= 0x01;
    z[mid] ^= 0xff;
    spit(zp, z, zlen);
    zipx_segcrc_free(segs);
    segs = segs_of(z, zlen);
    zipx_segcrc_feed(segs, 5, z + 5, 10);
    assert_int_equal(zipx_stored_verify(fd, c, segs), -EIO);
    z[mid] ^= 0xff;
    zipx_segcrc_feed(segs, 0, z, zlen);
    assert_int_equal(zipx_stored_verify(fd, c, segs), 0);
    /* A table that stops before the entry ends falls back to reading it. */
    zipx_segcrc_free(segs);
    segs = segs_of(z, c->data_off + c->size - 1);
    assert_int_equal(zipx_stored_verify(fd, c, segs), -EIO);
    zipx_segcrc_free(segs);
    close(fd);
    zipx_index_free(idx);
    free(z);
    free(big);
    free(pad);
}

/* A local header whose lengths point past the central directory leaves the entry to
 * extraction, which then fails cleanly. */
static void stored_entry_lying_header(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {{.name = "s.txt", .data = "stored content"}};
    char zp[PATH_MAX];
    struct zipx_index *idx;
    unsigned char *z;
    size_t zlen;

    make_zip(P(f, "l.zip", zp), s, 1);
    z = slurp(zp, &zlen);
    assert_int_equal(get_le(z, 4), 0x04034b50);
    put_le(z + 28, 2, 0xffff); /* extra field length of the local header */
    spit(zp, z, zlen);
    idx = open_index(zp);
    assert_int_equal(zipx_lookup(idx, "s.txt")->data_off, 0);
    zipx_index_free(idx);
    free(z);
}

static void extract_wrong_archive(void **state)
{
    struct fx *f = *state;
    const struct zspec a[] = {{.name = "f.js", .data = "version one"}};
    const struct zspec b[] = {{.name = "f.js", .data = "version two!"}};
    char za[PATH_MAX], zb[PATH_MAX];
    struct zipx_index *idx;
    struct mem m = {0};

    make_zip(P(f, "a.zip", za), a, 1);
    make_zip(P(f, "b.zip", zb), b, 1);
    idx = open_index(za);
    assert_int_equal(zipx_extract(zb, zipx_lookup(idx, "f.js"), mem_sink, &m), -EIO);
    assert_int_equal(m.n, 0);
    zipx_index_free(idx);
}

static void assert_node(const char *path, mode_t type, mode_t mode, time_t mtime)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & S_IFMT, type);
    assert_int_equal(st.st_mode & 07777, mode);
    if (mtime)
        assert_int_equal(st.st_mtime, mtime);
}

static void assert_content(const char *path, const char *want)
{
    size_t n;
    unsigned char *buf = slurp(path, &n);

    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    free(buf);
}

static void extract_all_tree(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {
        {.name = "ext/"},
        {.name = "ext/bin/", .mode = S_IFDIR | 0750, .ut = 1100000000},
        {.name = "ext/bin/run.sh", .data = "#!/bin/sh\n", .mode = S_IFREG | 0755, .ut = 1100000001},
        {.name = "ext/ro/", .mode = S_IFDIR | 0555, .ut = 1200000000},
        {.name = "ext/ro/f.txt", .data = "read only", .mode = S_IFREG | 0444, .ut = 1200000001},
        {.name = "ext/deep/er/x.txt",
         .data = "deep",
         .method = ZIP_CM_DEFLATE,
         .mode = S_IFREG | 0600,
         .ut = 1300000000},
        {.name = "ext/plain.txt", .data = "plain"},
        {.name = "ext/empty", .data = ""},
    };
    char zp[PATH_MAX], dest[PATH_MAX], p[PATH_MAX];
    struct zipx_index *idx;

    make_zip(P(f, "e.zip", zp), s, 8);
    idx = open_index(zp);
    assert_int_equal(mkdir(P(f, "out", dest), 0700), 0);
    assert_int_equal(zipx_extract_all(zp, idx, dest), 0);

    assert_node(P(f, "out/bin", p), S_IFDIR, 0750, 1100000000);
    assert_node(P(f, "out/bin/run.sh", p), S_IFREG, 0755, 1100000001);
    assert_content(p, "#!/bin/sh\n");
    assert_node(P(f, "out/ro", p), S_IFDIR, 0555, 1200000000);
    assert_node(P(f, "out/ro/f.txt", p), S_IFREG, 0444, 1200000001);
    assert_content(p, "read only");
    assert_node(P(f, "out/deep", p), S_IFDIR, 0755, 0);
    assert_node(P(f, "out/deep/er", p), S_IFDIR, 0755, 0);
    assert_node(P(f, "out/deep/er/x.txt", p), S_IFREG, 0600, 1300000000);
    assert_content(p, "deep");
    assert_node(P(f, "out/plain.txt", p), S_IFREG, 0644, zipx_lookup(idx, "plain.txt")->mtime);
    assert_content(p, "plain");
    assert_node(P(f, "out/empty", p), S_IFREG, 0644, 0);
    assert_content(p, "");
    assert_int_equal(count_dir(dest), 5);
    zipx_index_free(idx);
}

/* A symlink planted in the destination is not followed out of it. */
static void extract_all_stays_inside(void **state)
{
    struct fx *f = *state;
    const struct zspec s[] = {{.name = "lib/x.js", .data = "x"}, {.name = "top.js", .data = "t"}};
    char zp[PATH_MAX], dest[PATH_MAX], outside[PATH_MAX], p[PATH_MAX];
    struct zipx_index *idx;

    make_zip(P(f, "e.zip", zp), s, 2);
    idx = open_index(zp);
    assert_int_equal(mkdir(P(f, "out", dest), 0700), 0);
    assert_int_equal(mkdir(P(f, "outside", outside), 0700), 0);
    assert_int_equal(symlink(outside, P(f, "out/lib", p)), 0);
    assert_true(zipx_extract_all(zp, idx, dest) < 0);
    assert_int_equal(count_dir(outside), 0);
    assert_int_equal(zipx_extract_all(zp, idx, P(f, "no-such-dir", p)), -ENOENT);
    zipx_index_free(idx);
}

/* --- building ----------------------------------------------------------------------- */

static void file_crc(void **state)
{
    struct fx *f = *state;
    char *rnd = noise(300000, 11, 0);
    const struct zspec s[] = {{.name = "r.bin", .data = rnd, .len = 300000}};
    char p[PATH_MAX], zp[PATH_MAX];
    struct zipx_index *idx;
    uint32_t crc = 0;
    uint64_t size = 0;

    put_file(P(f, "check", p), "123456789", 9, 0644, 0);
    assert_int_equal(zipx_file_crc(p, &crc, &size), 0);
    assert_int_equal(crc, 0xcbf43926);
    assert_int_equal(size, 9);
    put_file(P(f, "empty", p), "", 0, 0644, 0);
    assert_int_equal(zipx_file_crc(p, &crc, &size), 0);
    assert_int_equal(crc, 0);
    assert_int_equal(size, 0);

    put_file(P(f, "r.bin", p), rnd, 300000, 0644, 0);
    assert_int_equal(zipx_file_crc(p, &crc, &size), 0);
    make_zip(P(f, "r.zip", zp), s, 1);
    idx = open_index(zp);
    assert_int_equal(crc, zipx_lookup(idx, "r.bin")->crc);
    assert_int_equal(size, 300000);
    assert_int_equal(zipx_file_crc(P(f, "missing", p), &crc, &size), -ENOENT);
    zipx_index_free(idx);
    free(rnd);
}

#define ODD 1234567891 /* an odd second: DOS time alone could not hold it */

/* A tree of every kind of entry; directory mtimes last, since filling them moves them. */
static void make_tree(const struct fx *f, const char *root)
{
    char p[PATH_MAX], r[128];

    snprintf(r, sizeof(r), "%s/%s", f->dir, root);
    assert_int_equal(mkdir(r, 0755), 0);
#define T(rel) (snprintf(p, sizeof(p), "%s/%s", r, rel), p)
    put_file(T("ext.qext"), "{\"type\":\"visualization\"}", 24, 0644, ODD);
    put_file(T("run.sh"), "#!/bin/sh\n", 10, 0755, ODD + 2);
    put_file(T("private.txt"), "mine", 4, 0600, ODD + 4);
    put_file(T("empty.txt"), "", 0, 0644, ODD + 6);
    put_file(T("select2.min – original.js"), "/* sel */", 9, 0644, ODD + 8);
    put_file(T("with space.css"), "a{}", 3, 0644, ODD + 10);
    assert_int_equal(mkdir(T("lib"), 0750), 0);
    put_file(T("lib/a.js"), "define([],function(){});", 24, 0644, ODD + 12);
    assert_int_equal(mkdir(T("lib/deeper"), 0755), 0);
    put_file(T("lib/deeper/b.png"), "\x89PNG fake", 9, 0644, ODD + 14);
    assert_int_equal(mkdir(T("empty dir"), 0700), 0);
    set_mtime(T("lib/deeper"), ODD + 20);
    set_mtime(T("lib"), ODD + 22);
    set_mtime(T("empty dir"), ODD + 24);
#undef T
}

/* Every file and directory of tree root equals its entry in idx, and back. */
static void assert_tree_matches(const struct fx *f, const char *root, const char *zp,
                                const struct zipx_index *idx)
{
    char p[PATH_MAX];

    for (size_t i = 0; i < zipx_count(idx); i++) {
        const struct zipx_entry *e = zipx_entry_at(idx, i);
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s/%s", f->dir, root, e->name);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(e->is_dir, S_ISDIR(st.st_mode));
        assert_false(e->implicit); /* every directory has its own entry */
        assert_int_equal(e->mode, st.st_mode & 0777);
        assert_int_equal(e->mtime, st.st_mtime);
        if (!e->is_dir) {
            struct mem m = {0};
            size_t n;
            unsigned char *want = slurp(p, &n);

            assert_int_equal(e->size, st.st_size);
            assert_int_equal(zipx_extract(zp, e, mem_sink, &m), 0);
            assert_int_equal(m.n, n);
            assert_memory_equal(m.p, want, n);
            free(want);
            free(m.p);
        }
    }
}

static void build_round_trip(void **state)
{
    struct fx *f = *state;
    struct tz_saved tz = tz_away();
    char tree[PATH_MAX], out[PATH_MAX], err[256] = "";
    struct zipx_index *idx;
    zip_t *za;
    zip_stat_t st;
    struct tm tm;
    int ze;

    make_tree(f, "tree");
    assert_int_equal(symlink("/etc/passwd", P(f, "tree/link.js", tree)), 0);
    assert_int_equal(mkfifo(P(f, "tree/fifo", tree), 0644), 0);
    put_file(P(f, "tree/1971.txt", tree), "old", 3, 0644, 365 * 86400); /* before DOS time */
    assert_int_equal(zipx_build(NULL, NULL, "", false, P(f, "tree", tree), P(f, "out.zip", out),
                                NULL, NULL, err, sizeof(err)),
                     0);
    idx = open_index(out);
    assert_string_equal(zipx_prefix(idx), "");
    assert_int_equal(zipx_count(idx), 12);
    assert_int_equal(zipx_lookup(idx, "1971.txt")->mtime, 365 * 86400);
    assert_null(zipx_lookup(idx, "link.js"));
    assert_null(zipx_lookup(idx, "fifo"));
    assert_non_null(zipx_lookup(idx, "select2.min – original.js"));
    assert_non_null(zipx_lookup(idx, "empty dir"));
    assert_tree_matches(f, "tree", out, idx);

    /* Compression: deflate, but store what is compressed already. */
    za = zip_open(out, ZIP_RDONLY, &ze);
    assert_non_null(za);
    assert_int_equal(zip_stat(za, "lib/a.js", 0, &st), 0);
    assert_int_equal(st.comp_method, ZIP_CM_DEFLATE);
    assert_int_equal(zip_stat(za, "lib/deeper/b.png", 0, &st), 0);
    assert_int_equal(st.comp_method, ZIP_CM_STORE);
    assert_true(zip_name_locate(za, "lib/", 0) >= 0);
    /* The DOS fields hold UTC too (to two seconds), for readers without the extra field. */
    assert_int_equal(zip_stat(za, "run.sh", 0, &st), 0);
    assert_non_null(localtime_r(&st.mtime, &tm));
    assert_int_equal(timegm(&tm), (ODD + 2) & ~1);
    zip_discard(za);
    zipx_index_free(idx);
    tz_restore(tz);
}

static void build_keeps_prefix(void **state)
{
    struct fx *f = *state;
    char tree[PATH_MAX], out[PATH_MAX], err[256] = "";
    struct zipx_index *idx;
    zip_t *za;
    int ze;

    make_tree(f, "tree");
    P(f, "tree", tree);
    assert_int_equal(zipx_build(NULL, NULL, "my-ext/", true, tree, P(f, "e.zip", out), NULL, NULL,
                                err, sizeof(err)),
                     0);
    za = zip_open(out, ZIP_RDONLY, &ze);
    assert_int_equal(zip_name_locate(za, "my-ext/", 0), 0);
    assert_true(zip_name_locate(za, "my-ext/lib/a.js", 0) > 0);
    zip_discard(za);
    idx = open_index(out);
    assert_string_equal(zipx_prefix(idx), "my-ext/");
    assert_true(zipx_prefix_explicit(idx));
    assert_tree_matches(f, "tree", out, idx);
    zipx_index_free(idx);

    assert_int_equal(zipx_build(NULL, NULL, "my-ext/", false, tree, P(f, "i.zip", out), NULL, NULL,
                                err, sizeof(err)),
                     0);
    za = zip_open(out, ZIP_RDONLY, &ze);
    assert_true(zip_name_locate(za, "my-ext/", 0) < 0);
    zip_discard(za);
    idx = open_index(out);
    assert_string_equal(zipx_prefix(idx), "my-ext/");
    assert_false(zipx_prefix_explicit(idx));
    assert_int_equal(zipx_count(idx), 11);
    zipx_index_free(idx);
}

/* The compressed bytes of entry name. */
static char *raw_bytes(const char *zp, const char *name, zip_uint64_t *len)
{
    int ze;
    zip_t *za = zip_open(zp, ZIP_RDONLY, &ze);
    zip_stat_t st;
    zip_file_t *zf;
    char *buf;

    assert_non_null(za);
    assert_int_equal(zip_stat(za, name, 0, &st), 0);
    buf = malloc(st.comp_size + 1);
    zf = zip_fopen(za, name, ZIP_FL_COMPRESSED);
    assert_non_null(zf);
    assert_int_equal(zip_fread(zf, buf, st.comp_size), (zip_int64_t)st.comp_size);
    zip_fclose(zf);
    zip_discard(za);
    *len = st.comp_size;
    return buf;
}

static int comp_method(const char *zp, const char *name)
{
    int ze;
    zip_t *za = zip_open(zp, ZIP_RDONLY, &ze);
    zip_stat_t st;

    assert_non_null(za);
    assert_int_equal(zip_stat(za, name, 0, &st), 0);
    zip_discard(za);
    return st.comp_method;
}

/* Unchanged files are copied raw: stored stays stored (new data would be deflated), and
 * deflate data made at another level keeps its exact bytes. Changed files are compressed
 * anew. Raw copies still take the local mtime and mode. */
static void build_raw_copies(void **state)
{
    struct fx *f = *state;
    char *text = noise(50000, 9, 1);
    const struct zspec s[] = {
        {.name = "ext/"},
        {.name = "ext/same.txt", .data = text, .len = 20000, .mode = S_IFREG | 0644, .ut = ODD},
        {.name = "ext/changed.txt", .data = text, .len = 20000, .mode = S_IFREG | 0644},
        {.name = "ext/level1.txt", /* level 9: qextfs itself deflates at level 1 */
         .data = text,
         .len = 50000,
         .method = ZIP_CM_DEFLATE,
         .level = 9,
         .mode = S_IFREG | 0644},
    };
    char base[PATH_MAX], tree[PATH_MAX], out[PATH_MAX], fresh[PATH_MAX], p[PATH_MAX];
    char err[256] = "";
    struct zipx_index *bi, *oi;
    zip_uint64_t la, lb, lc;
    char *ra, *rb, *rc;

    make_zip(P(f, "base.zip", base), s, 4);
    bi = open_index(base);
    assert_int_equal(mkdir(P(f, "tree", tree), 0700), 0);
    assert_int_equal(zipx_extract_all(base, bi, tree), 0);
    put_file(P(f, "tree/changed.txt", p), text + 1, 20000, 0644, 0);
    put_file(P(f, "tree/new.txt", p), text, 20000, 0644, 0);
    assert_int_equal(chmod(P(f, "tree/same.txt", p), 0640), 0);
    set_mtime(p, ODD + 100);

    assert_int_equal(zipx_build(base, bi, zipx_prefix(bi), zipx_prefix_explicit(bi), tree,
                                P(f, "out.zip", out), NULL, NULL, err, sizeof(err)),
                     0);
    assert_int_equal(comp_method(out, "ext/same.txt"), ZIP_CM_STORE);
    assert_int_equal(comp_method(out, "ext/changed.txt"), ZIP_CM_DEFLATE);
    assert_int_equal(comp_method(out, "ext/new.txt"), ZIP_CM_DEFLATE);
    oi = open_index(out);
    assert_true(zipx_prefix_explicit(oi));
    assert_int_equal(zipx_lookup(oi, "same.txt")->mtime, ODD + 100);
    assert_int_equal(zipx_lookup(oi, "same.txt")->mode, 0640);
    assert_tree_matches(f, "tree", out, oi);

    ra = raw_bytes(base, "ext/level1.txt", &la);
    rb = raw_bytes(out, "ext/level1.txt", &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ra, rb, la);
    /* Without the base the same file deflates differently, so the test above means something. */
    assert_int_equal(zipx_build(NULL, NULL, "ext/", true, tree, P(f, "fresh.zip", fresh), NULL,
                                NULL, err, sizeof(err)),
                     0);
    rc = raw_bytes(fresh, "ext/level1.txt", &lc);
    assert_true(lc != la || memcmp(ra, rc, la) != 0);
    assert_int_equal(comp_method(fresh, "ext/same.txt"), ZIP_CM_DEFLATE);

    free(ra);
    free(rb);
    free(rc);
    zipx_index_free(bi);
    zipx_index_free(oi);
    free(text);
}

/* A second build from an unchanged tree, with the first as base, copies every file. */
static void build_twice_is_stable(void **state)
{
    struct fx *f = *state;
    char tree[PATH_MAX], one[PATH_MAX], two[PATH_MAX], err[256] = "";
    struct zipx_index *i1, *i2;

    make_tree(f, "tree");
    P(f, "tree", tree);
    assert_int_equal(
        zipx_build(NULL, NULL, "", false, tree, P(f, "1.zip", one), NULL, NULL, err, sizeof(err)),
        0);
    i1 = open_index(one);
    assert_int_equal(
        zipx_build(one, i1, "", false, tree, P(f, "2.zip", two), NULL, NULL, err, sizeof(err)), 0);
    i2 = open_index(two);
    assert_same_index(i1, i2);
    zipx_index_free(i1);
    zipx_index_free(i2);
}

struct skip_log {
    char seen[32][64];
    int n;
    const char *vanish; /* deleted when its name comes up */
    const struct fx *f;
};

static bool skip_temporaries(void *arg, const char *rel)
{
    struct skip_log *s = arg;
    const char *base = strrchr(rel, '/');
    char p[PATH_MAX];

    assert_true(s->n < 32);
    snprintf(s->seen[s->n++], sizeof(s->seen[0]), "%s", rel);
    if (s->vanish && strcmp(rel, s->vanish) == 0) {
        snprintf(p, sizeof(p), "%s/tree/%s", s->f->dir, rel);
        assert_int_equal(unlink(p), 0);
    }
    base = base ? base + 1 : rel;
    return fnmatch(".*.sw?", base, FNM_PERIOD) == 0 || strcmp(rel, "tmpdir") == 0;
}

static void build_skips(void **state)
{
    struct fx *f = *state;
    struct skip_log log = {.f = f};
    char tree[PATH_MAX], out[PATH_MAX], p[PATH_MAX], err[256] = "";
    struct zipx_index *idx;

    assert_int_equal(mkdir(P(f, "tree", tree), 0755), 0);
    put_file(P(f, "tree/a.js", p), "a", 1, 0644, 0);
    put_file(P(f, "tree/.a.js.swp", p), "swap", 4, 0644, 0);
    assert_int_equal(mkdir(P(f, "tree/tmpdir", p), 0755), 0);
    put_file(P(f, "tree/tmpdir/inner.js", p), "i", 1, 0644, 0);
    assert_int_equal(mkdir(P(f, "tree/keep", p), 0755), 0);
    put_file(P(f, "tree/keep/b.js", p), "b", 1, 0644, 0);
    put_file(P(f, "tree/keep/.b.js.swx", p), "swap", 4, 0644, 0);
    put_file(P(f, "tree/keep/vanishing.js", p), "v", 1, 0644, 0);
    log.vanish = "keep/vanishing.js"; /* deleted between listing and adding */

    assert_int_equal(zipx_build(NULL, NULL, "", false, tree, P(f, "o.zip", out), skip_temporaries,
                                &log, err, sizeof(err)),
                     0);
    idx = open_index(out);
    assert_int_equal(zipx_count(idx), 3);
    assert_non_null(zipx_lookup(idx, "a.js"));
    assert_non_null(zipx_lookup(idx, "keep"));
    assert_non_null(zipx_lookup(idx, "keep/b.js"));
    for (int i = 0; i < log.n; i++)
        assert_null(strstr(log.seen[i], "tmpdir/"));
    zipx_index_free(idx);
}

static void build_is_atomic(void **state)
{
    struct fx *f = *state;
    char tree[PATH_MAX], out[PATH_MAX], p[PATH_MAX], err[256] = "";
    struct zipx_index *idx;

    assert_int_equal(mkdir(P(f, "out", p), 0755), 0);
    make_tree(f, "tree");
    P(f, "tree", tree);
    assert_int_equal(zipx_build(NULL, NULL, "", false, tree, P(f, "out/x.zip", out), NULL, NULL,
                                err, sizeof(err)),
                     0);
    assert_int_equal(count_dir(P(f, "out", p)), 1);

    /* Errors leave neither a temporary nor a new archive, and an old one stays as it was. */
    err[0] = '\0';
    assert_int_equal(zipx_build(NULL, NULL, "", false, P(f, "no-tree", p), P(f, "out/y.zip", out),
                                NULL, NULL, err, sizeof(err)),
                     -ENOENT);
    assert_true(strlen(err) > 0);
    assert_int_equal(count_dir(P(f, "out", p)), 1);
    assert_int_equal(zipx_build(NULL, NULL, "", false, P(f, "no-tree", p), P(f, "out/x.zip", out),
                                NULL, NULL, err, sizeof(err)),
                     -ENOENT);
    idx = open_index(out);
    assert_int_equal(zipx_count(idx), 11);
    zipx_index_free(idx);
    assert_int_equal(zipx_build(NULL, NULL, "", false, tree, P(f, "no-dir/x.zip", out), NULL, NULL,
                                err, sizeof(err)),
                     -ENOENT);
    assert_int_equal(count_dir(P(f, "out", p)), 1);
}

static void build_empty_tree(void **state)
{
    struct fx *f = *state;
    char tree[PATH_MAX], out[PATH_MAX], err[256] = "";
    struct zipx_index *idx;

    assert_int_equal(mkdir(P(f, "tree", tree), 0755), 0);
    assert_int_equal(
        zipx_build(NULL, NULL, "", false, tree, P(f, "e.zip", out), NULL, NULL, err, sizeof(err)),
        0);
    idx = open_index(out);
    assert_int_equal(zipx_count(idx), 0);
    assert_int_equal(zipx_total_size(idx), 0);
    zipx_index_free(idx);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(index_plain),
        T(index_modes_and_times),
        T(prefix_explicit),
        T(prefix_implicit),
        T(no_prefix_cases),
        T(hostile_names_hidden),
        T(nul_in_name_hidden),
        T(special_entries_hidden),
        T(at_size_limit_kept),
        T(duplicates_keep_first),
        T(names_differing_in_case),
        T(unreadable_archives),
        T(too_many_entries),
        T(index_from_tail),
        T(extract_contents),
        T(extract_zip_bomb),
        T(extract_chunk_edges),
        T(extract_bad_compressed_data),
        T(extract_crc_mismatch),
        T(extract_wrong_archive),
        T(index_long_comment),
        T(stored_entries_located),
        T(stored_verify_from_segments),
        T(stored_entry_lying_header),
        T(extract_all_tree),
        T(extract_all_stays_inside),
        T(file_crc),
        T(build_round_trip),
        T(build_keeps_prefix),
        T(build_raw_copies),
        T(build_twice_is_stable),
        T(build_skips),
        T(build_is_atomic),
        T(build_empty_tree),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
