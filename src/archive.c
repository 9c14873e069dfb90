/* archive (zipx_): owns everything about extension zip archives (see archive.h). The index of
 * an archive's central directory with hostile entries hidden, streaming one entry out with
 * bounds checks, extracting a whole archive to disk, and rebuilding an archive from a local
 * tree plus a base archive. Built on libzip 1.7; no network, no FUSE, no process-wide state.
 *
 * Times: an entry's mtime comes from its extended timestamp extra field (0x5455, exact
 * seconds) when the central directory holds one. Otherwise the DOS date and time fields are
 * read as UTC, so the result does not depend on the time zone of the machine that mounts;
 * zipx_build writes the DOS fields in UTC too (and always adds 0x5455), so round trips agree. */
#include "archive.h"

#include "crc.h"
#include "log.h"
#include "path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#define EXTRA_UT 0x5455 /* Info-ZIP extended timestamp */
#define UT_MTIME 0x01   /* its flag: the modification time follows */
#define UT_LEN 5        /* flags byte + little-endian int32 mtime */
#define IO_CHUNK (64 * 1024)
#define DEFAULT_FILE_MODE 0644
#define DEFAULT_DIR_MODE 0755
/* Entries plus synthesized directories. Bounds the memory a hostile archive of many deep,
 * distinct names can make the index take. */
#define MAX_INDEX_ENTRIES (2 * ZIPX_MAX_ENTRIES)
/* Bytes of names an index may hold. Implicit directories store their full paths, so deep
 * names in a small archive would otherwise cost memory quadratic in the depth. */
#define MAX_INDEX_NAME_BYTES (8u << 20)
#define LOG_NAME_MAX 400
#define DEFLATE_LEVEL 1

struct zipx_index {
    char *prefix; /* "X/" or "" */
    bool prefix_explicit;
    struct zipx_entry *v; /* sorted by name; every name is malloc'd and owned here */
    size_t n;
    uint64_t total;
};

/* A growing array of entries while an index is being built. */
struct entry_list {
    struct zipx_entry *v;
    size_t n, cap;
};

/* --- small helpers ------------------------------------------------------------------ */

static int set_err(char *err, size_t errsz, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t errsz, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err && errsz) {
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Names come from untrusted archives: control bytes and backslashes are escaped so a log
 * line stays one unambiguous line and cannot drive a terminal; long names are cut. */
static const char *log_name(const char *name, char *out, size_t outsz)
{
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (o + 8 >= outsz) {
            snprintf(out + o, outsz - o, "...");
            return out;
        }
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    out[o] = '\0';
    return out;
}

static void log_hidden(const char *name, const char *why)
{
    char esc[LOG_NAME_MAX];

    log_warn("archive: hiding entry '%s': %s", log_name(name, esc, sizeof(esc)), why);
}

/* "a/b" (or just b when a is empty), malloc'd. */
static char *join(const char *a, const char *b)
{
    char *s;

    if (asprintf(&s, "%s%s%s", a, *a ? "/" : "", b) < 0)
        return NULL;
    return s;
}

/* Errno for a libzip error: the system error when there is one, else EINVAL (not a zip,
 * inconsistent, unsupported). */
static int zip_errno(const zip_error_t *ze)
{
    int sys = zip_error_code_system(ze);

    switch (zip_error_code_zip(ze)) {
    case ZIP_ER_NOENT:
        return -ENOENT;
    case ZIP_ER_MEMORY:
        return -ENOMEM;
    case ZIP_ER_OPEN:
    case ZIP_ER_READ:
    case ZIP_ER_WRITE:
    case ZIP_ER_CLOSE:
    case ZIP_ER_TMPOPEN:
    case ZIP_ER_RENAME:
        return zip_error_system_type(ze) == ZIP_ET_SYS && sys > 0 ? -sys : -EIO;
    default:
        return -EINVAL;
    }
}

/* Opens the archive at path (flags: ZIP_RDONLY or ZIP_TRUNCATE). */
static int open_archive(const char *path, int flags, zip_t **out, char *err, size_t errsz)
{
    zip_error_t ze;
    zip_source_t *src;
    int rc = 0;

    zip_error_init(&ze);
    *out = NULL;
    src = zip_source_file_create(path, 0, -1, &ze);
    if (src) {
        *out = zip_open_from_source(src, flags, &ze);
        if (!*out)
            zip_source_free(src);
    }
    if (!*out)
        rc = set_err(err, errsz, zip_errno(&ze), "%s: %s", path, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return rc;
}

/* --- CRC-32 of local files (crc_update is the folded CRC of crc.c) ------------------- */

static int crc_fd(int fd, uint32_t *crc, uint64_t *size)
{
    char *buf = malloc(IO_CHUNK);
    ssize_t n;
    int rc;

    if (!buf)
        return -ENOMEM;
    *crc = 0;
    *size = 0;
    while ((n = read(fd, buf, IO_CHUNK)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        *crc = crc_update(*crc, buf, (size_t)n);
        *size += (uint64_t)n;
    }
    rc = n < 0 ? -errno : 0;
    free(buf);
    return rc;
}

static int file_crc(const char *path, int oflags, uint32_t *crc, uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | oflags);
    int rc;

    if (fd < 0)
        return -errno;
    rc = crc_fd(fd, crc, size);
    close(fd);
    return rc;
}

int zipx_file_crc(const char *path, uint32_t *crc, uint64_t *size)
{
    return file_crc(path, 0, crc, size);
}

/* --- reading one central-directory entry ---------------------------------------------- */

/* The st_mode stored in Unix external attributes, 0 when the entry has none. */
static mode_t unix_mode(zip_t *za, zip_uint64_t i)
{
    zip_uint8_t opsys;
    zip_uint32_t attr;

    if (zip_file_get_external_attributes(za, i, 0, &opsys, &attr) != 0 || opsys != ZIP_OPSYS_UNIX)
        return 0;
    return (mode_t)(attr >> 16);
}

/* Only the central directory is read (ZIP_FL_CENTRAL): an index built from an archive's tail
 * has no local headers, and must equal the index of the whole archive. */
static time_t entry_mtime(zip_t *za, zip_uint64_t i, const zip_stat_t *st)
{
    zip_uint16_t len = 0;
    const zip_uint8_t *ut =
        zip_file_extra_field_get_by_id(za, i, EXTRA_UT, 0, &len, ZIP_FL_CENTRAL);
    struct tm tm;

    if (ut && len >= UT_LEN && (ut[0] & UT_MTIME))
        return (int32_t)((uint32_t)ut[1] | (uint32_t)ut[2] << 8 | (uint32_t)ut[3] << 16 |
                         (uint32_t)ut[4] << 24);
    if (!(st->valid & ZIP_STAT_MTIME))
        return 0;
    /* libzip turned the DOS fields into a time with mktime(); undo that to get the fields
     * back, and read them as UTC. */
    if (!localtime_r(&st->mtime, &tm))
        return 0;
    return timegm(&tm);
}

/* Only for the log line: path_entry_is_safe has already said no. */
static const char *unsafe_reason(const char *name, size_t len)
{
    const char *c = name, *end = name + len;

    if (len == 0)
        return "empty name";
    if (name[0] == '/')
        return "absolute path";
    if (memchr(name, '\\', len))
        return "backslash in name";
    if (end[-1] == '/')
        end--; /* a directory's trailing slash */
    while (c < end) {
        const char *slash = memchr(c, '/', (size_t)(end - c));
        size_t clen = slash ? (size_t)(slash - c) : (size_t)(end - c);

        if (clen == 0)
            return "empty component";
        if (clen == 1 && c[0] == '.')
            return "'.' component";
        if (clen == 2 && c[0] == '.' && c[1] == '.')
            return "'..' component";
        if (clen > PATH_NAME_MAX)
            return "component over 255 bytes";
        c += clen + 1;
    }
    return "unsafe name";
}

/* Why entry st is left out of the index, or NULL when it is shown. */
static const char *hidden(const zip_stat_t *st, mode_t umode, char *buf, size_t bufsz)
{
    const zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_CRC |
                              ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
    size_t len = strlen(st->name);
    bool dir = len > 0 && st->name[len - 1] == '/';

    if (!path_entry_is_safe(st->name, len))
        return unsafe_reason(st->name, len);
    if (len >= PATH_MAX)
        return "name longer than PATH_MAX";
    if ((st->valid & ZIP_STAT_ENCRYPTION_METHOD) && st->encryption_method != ZIP_EM_NONE)
        return "encrypted";
    if ((st->valid & need) != need)
        return "incomplete header";
    if (S_ISLNK(umode))
        return "symbolic link";
    if ((umode & S_IFMT) && !S_ISREG(umode) && !S_ISDIR(umode))
        return "not a regular file or directory";
    if (!dir && !zip_compression_method_supported(st->comp_method, 0)) {
        snprintf(buf, bufsz, "unsupported compression method %u", (unsigned)st->comp_method);
        return buf;
    }
    if (!dir && st->size > ZIPX_MAX_ENTRY_SIZE) {
        snprintf(buf, bufsz, "declared size %llu over the limit", (unsigned long long)st->size);
        return buf;
    }
    return NULL;
}

static int list_push(struct entry_list *l, const struct zipx_entry *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct zipx_entry *v = realloc(l->v, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *e;
    return 0;
}

static void list_free(struct entry_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((char *)l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Appends entry i of za to l, or logs why it is hidden; nul: its raw name holds a NUL. */
static int read_entry(zip_t *za, zip_uint64_t i, bool nul, struct entry_list *l)
{
    struct zipx_entry e = {.zindex = (int64_t)i};
    char buf[80];
    const char *why;
    zip_stat_t st;
    size_t len;
    char *name;
    mode_t umode;

    zip_stat_init(&st);
    if (zip_stat_index(za, i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME)) {
        log_warn("archive: hiding entry #%llu: %s", (unsigned long long)i, zip_strerror(za));
        return 0;
    }
    umode = unix_mode(za, i);
    why = nul ? "NUL byte in name" : hidden(&st, umode, buf, sizeof(buf));
    if (why) {
        log_hidden(st.name, why);
        return 0;
    }
    len = strlen(st.name);
    e.is_dir = st.name[len - 1] == '/';
    name = strndup(st.name, e.is_dir ? len - 1 : len);
    if (!name)
        return -ENOMEM;
    e.name = name;
    e.size = e.is_dir ? 0 : st.size;
    e.comp_size = st.comp_size;
    e.crc = st.crc;
    e.mtime = entry_mtime(za, i, &st);
    e.mode = umode & 0777;
    if (!e.mode)
        e.mode = e.is_dir ? DEFAULT_DIR_MODE : DEFAULT_FILE_MODE;
    if (list_push(l, &e) != 0) {
        free(name);
        return -ENOMEM;
    }
    return 0;
}

/* --- shaping the index ---------------------------------------------------------------- */

/* The single top-level folder: every entry is below "X/" or is the directory "X" itself,
 * and at least one is below. Returns its length (0 when there is none). */
static size_t top_folder(const struct entry_list *l, bool *explicit)
{
    size_t flen = l->n ? strcspn(l->v[0].name, "/") : 0;
    bool below = false, own = false;

    for (size_t i = 0; i < l->n; i++) {
        const char *name = l->v[i].name;

        if (strncmp(name, l->v[0].name, flen) != 0 || (name[flen] && name[flen] != '/'))
            return 0;
        if (name[flen] == '/')
            below = true;
        else if (!l->v[i].is_dir)
            return 0; /* a file at the root */
        else
            own = true;
    }
    *explicit = below && own;
    return below ? flen : 0;
}

/* Strips the top-level folder (if any) from every name and drops its own entry. */
static int strip_prefix(struct entry_list *l, char **prefix, bool *explicit)
{
    bool own = false;
    size_t flen = top_folder(l, &own);
    size_t k = 0;

    *explicit = own;
    *prefix = malloc(flen + 2);
    if (!*prefix)
        return -ENOMEM;
    if (!flen) {
        **prefix = '\0';
        return 0;
    }
    memcpy(*prefix, l->v[0].name, flen);
    strcpy(*prefix + flen, "/");
    for (size_t i = 0; i < l->n; i++) {
        char *name = (char *)l->v[i].name;

        if (!name[flen]) {
            free(name); /* the folder's own entry */
            continue;
        }
        memmove(name, name + flen + 1, strlen(name + flen + 1) + 1);
        l->v[k++] = l->v[i];
    }
    l->n = k;
    return 0;
}

/* Equal names in the order they win: explicit directory, implicit directory, file; then the
 * first in the archive. */
static int entry_rank(const struct zipx_entry *e)
{
    return e->implicit ? 1 : e->is_dir ? 0 : 2;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const struct zipx_entry *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);

    if (c)
        return c;
    if (entry_rank(a) != entry_rank(b))
        return entry_rank(a) - entry_rank(b);
    return a->zindex < b->zindex ? -1 : a->zindex > b->zindex;
}

static size_t common_prefix(const char *a, const char *b)
{
    size_t n = 0;

    while (a[n] && a[n] == b[n])
        n++;
    return n;
}

/* Adds an implicit directory for every ancestor of every entry (duplicates of existing
 * directories are dropped later). l must be sorted: names sharing an ancestor "a/b/" are then
 * contiguous, so an ancestor is new only where a name parts from the previous one, and the
 * work stays proportional to the names' length. */
static int add_implicit_dirs(struct entry_list *l)
{
    size_t real = l->n;
    size_t bytes = 0;
    const char *prev = "";

    for (size_t i = 0; i < real; i++)
        bytes += strlen(l->v[i].name) + 1;

    for (size_t i = 0; i < real; i++) {
        const char *name = l->v[i].name;
        const char *s = strchr(name + common_prefix(prev, name), '/');

        for (; s; s = strchr(s + 1, '/')) {
            struct zipx_entry d = {
                .is_dir = true,
                .implicit = true,
                .zindex = -1,
                .mode = DEFAULT_DIR_MODE,
                .mtime = l->v[i].mtime,
            };

            bytes += (size_t)(s - name) + 1;
            if (l->n >= MAX_INDEX_ENTRIES || bytes > MAX_INDEX_NAME_BYTES)
                return -EFBIG;
            d.name = strndup(name, (size_t)(s - name));
            if (!d.name || list_push(l, &d) != 0) {
                free((char *)d.name);
                return -ENOMEM;
            }
        }
        prev = name;
    }
    return 0;
}

/* l sorted by entry_cmp: keeps the first of equal names, logging real entries it drops. */
static void drop_duplicates(struct entry_list *l)
{
    size_t k = 0;

    for (size_t i = 0; i < l->n; i++) {
        struct zipx_entry *e = &l->v[i];
        const struct zipx_entry *kept = k ? &l->v[k - 1] : NULL;

        if (kept && strcmp(kept->name, e->name) == 0) {
            if (e->zindex >= 0)
                log_hidden(e->name, kept->is_dir && !e->is_dir ? "a directory has the same name"
                                                               : "duplicate name");
            free((char *)e->name);
            continue;
        }
        l->v[k++] = *e;
    }
    l->n = k;
}

struct raw_src;
static int nul_names(const struct raw_src *s, bool **out, size_t *nout);

/* Every shown entry of za (whose bytes raw reads) into l: the top-level folder stripped,
 * directories completed, sorted, duplicates dropped. */
static int read_entries(zip_t *za, const struct raw_src *raw, struct entry_list *l,
                        struct zipx_index *idx, char *err, size_t errsz)
{
    zip_int64_t n = zip_get_num_entries(za, 0);
    bool *nul = NULL;
    size_t nnul = 0;
    int rc = 0;

    if (n < 0)
        return set_err(err, errsz, -EINVAL, "%s", zip_strerror(za));
    if (n > ZIPX_MAX_ENTRIES)
        return set_err(err, errsz, -EFBIG, "the archive holds %lld entries, more than %d",
                       (long long)n, ZIPX_MAX_ENTRIES);
    rc = nul_names(raw, &nul, &nnul);
    if (rc == 0 && nnul != (size_t)n)
        rc = -EINVAL;
    if (rc) {
        free(nul);
        return rc == -ENOMEM
                   ? rc
                   : set_err(err, errsz, rc, "the central directory's names cannot be checked");
    }
    for (zip_int64_t i = 0; rc == 0 && i < n; i++)
        rc = read_entry(za, (zip_uint64_t)i, nul[i], l);
    free(nul);
    if (rc == 0)
        rc = strip_prefix(l, &idx->prefix, &idx->prefix_explicit);
    if (rc)
        return rc;
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), entry_cmp);
    rc = add_implicit_dirs(l);
    if (rc == -EFBIG)
        return set_err(err, errsz, rc,
                       "the archive's names need more than %d entries or %u bytes with "
                       "their directories",
                       MAX_INDEX_ENTRIES, MAX_INDEX_NAME_BYTES);
    if (rc)
        return rc;
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), entry_cmp);
    drop_duplicates(l);
    return 0;
}

static int index_build(zip_t *za, const struct raw_src *raw, struct zipx_index **out, char *err,
                       size_t errsz)
{
    struct entry_list l = {0};
    struct zipx_index *idx = calloc(1, sizeof(*idx));
    int rc = idx ? read_entries(za, raw, &l, idx, err, errsz) : -ENOMEM;

    if (rc) {
        if (rc == -ENOMEM)
            set_err(err, errsz, rc, "out of memory reading the central directory");
        list_free(&l);
        zipx_index_free(idx);
        return rc;
    }
    for (size_t i = 0; i < l.n; i++)
        idx->total += l.v[i].is_dir ? 0 : l.v[i].size;
    idx->v = l.v;
    idx->n = l.n;
    *out = idx;
    return 0;
}

/* --- opening an index --------------------------------------------------------------- */

static void log_entry_error(const struct zipx_entry *e, const char *what);

/* --- where entries' bytes are ------------------------------------------------------- */
/* A stored (uncompressed) entry's bytes sit as they are in the archive, so a whole archive on
 * local disk can serve them with pread: no extraction, no copy in the block cache. A deflated
 * entry's bytes are inflated straight from the archive file, without libzip opening the
 * archive again for every file (libzip parses the whole central directory, dates and all,
 * on each open). libzip 1.7 does not tell where an entry's data starts, so the central
 * directory is read here once more for the local header offsets (libzip numbers entries in
 * central directory order), and each local header for its name and extra lengths, exactly as
 * libzip finds the data when it extracts. Zip64 archives and anything odd simply keep the
 * libzip path. */

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        done += (size_t)r;
    }
    return true;
}

/* Archive bytes for the raw readers below: a local file, or the tail of an archive in memory
 * (bytes before the tail cannot be read). */
struct raw_src {
    int fd;                    /* -1 for a tail in memory */
    const unsigned char *tail; /* the last tail_len bytes of an archive of size bytes */
    size_t tail_len;
    uint64_t size;
};

static bool raw_read(const struct raw_src *s, void *buf, size_t len, uint64_t off)
{
    uint64_t start = s->size - s->tail_len;

    if (off > s->size || len > s->size - off)
        return false;
    if (s->fd >= 0)
        return pread_full(s->fd, buf, len, off);
    if (off < start)
        return false;
    memcpy(buf, s->tail + (off - start), len);
    return true;
}

/* The Zip64 end record's central directory fields, found through the locator that sits just
 * before the classic end record at eocd. */
static bool find_cd64(const struct raw_src *s, uint64_t eocd, uint64_t *cd_off, uint64_t *cd_size,
                      size_t *count)
{
    unsigned char loc[20], rec[56];
    uint64_t at, n;

    if (eocd < sizeof(loc) || !raw_read(s, loc, sizeof(loc), eocd - sizeof(loc)) ||
        le32(loc) != 0x07064b50)
        return false;
    at = (uint64_t)le32(loc + 8) | (uint64_t)le32(loc + 12) << 32;
    if (!raw_read(s, rec, sizeof(rec), at) || le32(rec) != 0x06064b50)
        return false;
    n = (uint64_t)le32(rec + 32) | (uint64_t)le32(rec + 36) << 32;
    *cd_size = (uint64_t)le32(rec + 40) | (uint64_t)le32(rec + 44) << 32;
    *cd_off = (uint64_t)le32(rec + 48) | (uint64_t)le32(rec + 52) << 32;
    *count = (size_t)n;
    return n <= ZIPX_MAX_ENTRIES && *cd_off <= at && *cd_size <= at - *cd_off;
}

/* The central directory's offset, size and record count from the end record (or the Zip64
 * one it points to, when zip64 is set); false for a damaged end. */
/* Scans the last want bytes of s (fewer when s is shorter) for the end record, from the end
 * back, as libzip does. 1: found (ok says whether its fields hold), 0: no end record there,
 * -1: the bytes could not be read. */
static int scan_end(const struct raw_src *s, size_t want, bool zip64, uint64_t *cd_off,
                    uint64_t *cd_size, size_t *count, bool *ok)
{
    size_t len = s->size < want ? (size_t)s->size : want;
    unsigned char *buf;
    uint64_t base;
    int found = 0;

    if (s->fd < 0 && len > s->tail_len)
        len = s->tail_len;
    base = s->size - len;
    buf = len >= 22 ? malloc(len) : NULL;
    if (!buf || !raw_read(s, buf, len, base)) {
        free(buf);
        return -1;
    }
    for (size_t p = len - 22 + 1; p-- > 0;) {
        /* a comment may be followed by junk, as libzip accepts */
        if (le32(buf + p) != 0x06054b50 || p + 22 + le16(buf + p + 20) > len)
            continue;
        *count = le16(buf + p + 10);
        *cd_size = le32(buf + p + 12);
        *cd_off = le32(buf + p + 16);
        if (*count == 0xffff || *cd_size == 0xffffffffu || *cd_off == 0xffffffffu)
            *ok = zip64 && find_cd64(s, base + p, cd_off, cd_size, count);
        else
            *ok = *cd_off + *cd_size <= base + p;
        found = 1;
        break;
    }
    free(buf);
    return found;
}

static bool find_cd(const struct raw_src *s, bool zip64, uint64_t *cd_off, uint64_t *cd_size,
                    size_t *count)
{
    bool ok = false;
    /* Most archives have no comment: their end record is the last 22 bytes, so the last
     * KiB is looked at first. A record found there is the one the whole window would give
     * (the scan runs from the end, and a comment's bounds check does not depend on the
     * window), so only a miss reads the whole 64 KiB a comment may take. */
    int r = scan_end(s, 65557, zip64, cd_off, cd_size, count, &ok);

    if (r == 0 && s->size > 1024)
        r = scan_end(s, 65557, zip64, cd_off, cd_size, count, &ok);
    return r == 1 && ok;
}

/* The whole central directory of s, malloc'd, with its record count. */
static unsigned char *read_cd(const struct raw_src *s, bool zip64, uint64_t *cd_off,
                              uint64_t *cd_size, size_t *count)
{
    unsigned char *cd;

    if (!find_cd(s, zip64, cd_off, cd_size, count) || *cd_size > SIZE_MAX - 1)
        return NULL;
    cd = malloc(*cd_size ? (size_t)*cd_size : 1);
    if (cd && !raw_read(s, cd, (size_t)*cd_size, *cd_off)) {
        free(cd);
        return NULL;
    }
    return cd;
}

enum data_kind { DATA_NONE, DATA_STORED, DATA_DEFLATED };

/* Sets data_off (stored) or deflate_off (deflated) of entry e, whose local header is at lho,
 * when its bytes lie inside the file before the central directory. */
static void locate_data(int fd, struct zipx_entry *e, enum data_kind kind, uint64_t lho,
                        uint64_t cd_off)
{
    unsigned char h[30];
    uint64_t off;

    if (!pread_full(fd, h, sizeof(h), lho) || le32(h) != 0x04034b50)
        return;
    off = lho + sizeof(h) + le16(h + 26) + le16(h + 28);
    if (kind == DATA_STORED && e->comp_size == e->size && off + e->size <= cd_off)
        e->data_off = off;
    else if (kind == DATA_DEFLATED && off + e->comp_size <= cd_off)
        e->deflate_off = off;
}

static void locate_entries(const struct raw_src *s, struct zipx_index *idx)
{
    uint64_t cd_off, cd_size, *lho = NULL;
    unsigned char *cd = NULL, *kind = NULL;
    size_t count, n = 0;

    /* zip64 archives keep the extraction path (their sizes live in extra fields) */
    cd = read_cd(s, false, &cd_off, &cd_size, &count);
    lho = cd ? calloc(count ? count : 1, sizeof(*lho)) : NULL;
    kind = cd ? calloc(count ? count : 1, sizeof(*kind)) : NULL;
    if (!cd || !lho || !kind)
        goto out;
    for (size_t p = 0; n < count && p + 46 <= cd_size && le32(cd + p) == 0x02014b50; n++) {
        const unsigned char *r = cd + p;
        uint16_t method = le16(r + 10);

        /* not encrypted, not zip64: plain 32-bit fields */
        if (!(le16(r + 8) & 1) && le32(r + 20) != 0xffffffffu && le32(r + 24) != 0xffffffffu &&
            le32(r + 42) != 0xffffffffu)
            kind[n] = method == ZIP_CM_STORE && le32(r + 20) == le32(r + 24) ? DATA_STORED
                      : method == ZIP_CM_DEFLATE                             ? DATA_DEFLATED
                                                                             : DATA_NONE;
        lho[n] = le32(r + 42);
        p += 46 + (size_t)le16(r + 28) + le16(r + 30) + le16(r + 32);
    }
    for (size_t i = 0; i < idx->n; i++) {
        struct zipx_entry *e = &idx->v[i];

        if (!e->is_dir && e->zindex >= 0 && (uint64_t)e->zindex < n && kind[e->zindex])
            locate_data(s->fd, e, kind[e->zindex], lho[e->zindex], cd_off);
    }
out:
    free(cd);
    free(lho);
    free(kind);
}

/* --- names with NUL bytes ----------------------------------------------------------- */
/* libzip 1.7 turns a NUL inside a central-directory name into a space before anyone sees it,
 * so "a\0b.js" would show as "a b.js": a name that is not the archive's. DESIGN hides such
 * entries, so the raw names are read here and each record (in central directory order, as
 * libzip numbers entries) gets a flag. */

/* One flag per central-directory record of s: its name holds a NUL. *out stays NULL when the
 * raw directory cannot be read; then the caller refuses the archive rather than show names
 * it could not check. */
static int nul_names(const struct raw_src *s, bool **out, size_t *nout)
{
    uint64_t cd_off, cd_size;
    size_t count, n = 0;
    unsigned char *cd = read_cd(s, true, &cd_off, &cd_size, &count);
    bool *nul = cd ? calloc(count ? count : 1, sizeof(*nul)) : NULL;

    *out = NULL;
    *nout = 0;
    if (!nul) {
        free(cd);
        return cd ? -ENOMEM : -EINVAL;
    }
    for (size_t p = 0; n < count && p + 46 <= cd_size && le32(cd + p) == 0x02014b50; n++) {
        size_t nlen = le16(cd + p + 28);

        nul[n] = p + 46 + nlen <= cd_size && memchr(cd + p + 46, '\0', nlen) != NULL;
        p += 46 + nlen + le16(cd + p + 30) + le16(cd + p + 32);
    }
    free(cd);
    *out = nul;
    *nout = n;
    return 0;
}

/* --- segment CRCs taken during a download --------------------------------------------- */

#define SEG_LEN (64 * 1024)
/* The first MiB is left out: an entry there costs at most that much to read back, and most
 * archives are smaller, so their downloads pay for no CRC they would not need. */
#define SEG_SKIP (1024 * 1024)

struct zipx_segcrc {
    uint32_t *seg; /* CRC of each full segment of [0, len); 0 for those below SEG_SKIP */
    size_t n, cap;
    uint64_t len; /* bytes seen in order since the last start at offset 0 */
    uint32_t cur; /* CRC of the partial segment at the end */
    bool valid;
};

struct zipx_segcrc *zipx_segcrc_new(void)
{
    return calloc(1, sizeof(struct zipx_segcrc));
}

void zipx_segcrc_free(struct zipx_segcrc *s)
{
    if (s)
        free(s->seg);
    free(s);
}

static bool segcrc_push(struct zipx_segcrc *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint32_t *p = realloc(s->seg, cap * sizeof(*p));

        if (!p)
            return false;
        s->seg = p;
        s->cap = cap;
    }
    s->seg[s->n++] = s->cur;
    s->cur = 0;
    return true;
}

void zipx_segcrc_feed(struct zipx_segcrc *s, uint64_t off, const void *buf, size_t n)
{
    const char *p = buf;

    if (off == 0) {
        s->n = 0;
        s->len = 0;
        s->cur = 0;
        s->valid = true;
    }
    if (!s->valid || off != s->len) {
        s->valid = false;
        return;
    }
    while (n > 0) {
        size_t room = SEG_LEN - (size_t)(s->len % SEG_LEN);
        size_t k = n < room ? n : room;

        if (s->len >= SEG_SKIP)
            s->cur = crc_update(s->cur, p, k);
        s->len += k;
        p += k;
        n -= k;
        if (s->len % SEG_LEN == 0 && !segcrc_push(s)) {
            s->valid = false;
            return;
        }
    }
}

/* Continues crc over len bytes of fd at off. */
static int crc_range(int fd, uint64_t off, uint64_t len, uint32_t *crc)
{
    char *buf = malloc(IO_CHUNK);
    int rc = 0;

    if (!buf)
        return -ENOMEM;
    for (uint64_t done = 0; done < len;) {
        size_t k = len - done < IO_CHUNK ? (size_t)(len - done) : IO_CHUNK;

        if (!pread_full(fd, buf, k, off + done)) {
            rc = -EIO;
            break;
        }
        *crc = crc_update(*crc, buf, k);
        done += k;
    }
    free(buf);
    return rc;
}

/* The CRC of [a, b) from the full segments inside it, with the partial segments at either
 * end read from fd. */
static int crc_from_segments(int fd, const struct zipx_segcrc *s, uint64_t a, uint64_t b,
                             uint32_t *crc)
{
    uint64_t first = (a + SEG_LEN - 1) / SEG_LEN; /* first full segment inside */
    uint64_t last = b / SEG_LEN;                  /* one past the last */
    uLong op = crc32_combine_gen64(SEG_LEN);
    int rc;

    if (first < SEG_SKIP / SEG_LEN)
        first = SEG_SKIP / SEG_LEN;
    if (first >= last) /* no full segment inside: reading is as cheap */
        return crc_range(fd, a, b - a, crc);
    rc = crc_range(fd, a, first * SEG_LEN - a, crc);
    for (uint64_t i = first; rc == 0 && i < last; i++)
        *crc = (uint32_t)crc32_combine_op(*crc, s->seg[i], op);
    if (rc == 0)
        rc = crc_range(fd, last * SEG_LEN, b - last * SEG_LEN, crc);
    return rc;
}

int zipx_stored_verify(int fd, const struct zipx_entry *e, const struct zipx_segcrc *segs)
{
    uint64_t covered = segs && segs->valid ? segs->len : 0; /* seen in order, so on disk */
    uint32_t crc = 0;
    int rc;

    if (e->data_off <= covered && e->size <= covered - e->data_off)
        rc = crc_from_segments(fd, segs, e->data_off, e->data_off + e->size, &crc);
    else
        rc = crc_range(fd, e->data_off, e->size, &crc);
    if (rc == 0 && crc != e->crc) {
        log_entry_error(e, "CRC mismatch");
        rc = -EIO;
    }
    return rc;
}

long zipx_stored_read(int fd, const struct zipx_entry *e, void *buf, size_t len, uint64_t off)
{
    if (off >= e->size)
        return 0;
    if (len > e->size - off)
        len = (size_t)(e->size - off);
    return pread_full(fd, buf, len, e->data_off + off) ? (long)len : -EIO;
}

size_t zipx_entry_pos(const struct zipx_index *idx, const struct zipx_entry *e)
{
    return (size_t)(e - idx->v);
}

int zipx_index_open(const char *path, struct zipx_index **out, char *err, size_t errsz)
{
    struct raw_src raw = {.fd = -1};
    struct stat st;
    zip_t *za;
    int rc;

    *out = NULL;
    rc = open_archive(path, ZIP_RDONLY, &za, err, errsz);
    if (rc)
        return rc;
    raw.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (raw.fd < 0 || fstat(raw.fd, &st) != 0) {
        rc = set_err(err, errsz, -errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    raw.size = (uint64_t)st.st_size;
    rc = index_build(za, &raw, out, err, errsz);
    if (rc == 0)
        locate_entries(&raw, *out);
out:
    if (raw.fd >= 0)
        close(raw.fd);
    zip_discard(za);
    return rc;
}

/* A read-only libzip source over an archive of which only the tail is at hand. Bytes before
 * the tail read as zeros and are noted: libzip reads the last 64 KiB and a few bytes to find
 * the end of central directory record, which may reach before a shorter tail; zeros can never
 * pass for a zip signature, so a central directory that starts before the tail fails to parse
 * instead of being misread. */
struct tail_src {
    const unsigned char *tail;
    uint64_t start; /* offset of tail[0] in the archive */
    uint64_t total;
    uint64_t pos;
    bool read_head; /* a read touched bytes before the tail */
    zip_error_t error;
};

static zip_int64_t tail_read(struct tail_src *t, unsigned char *buf, zip_uint64_t len)
{
    zip_uint64_t n = t->pos < t->total ? t->total - t->pos : 0;
    zip_uint64_t head = 0;

    if (n > len)
        n = len;
    if (n > ZIP_INT64_MAX)
        n = ZIP_INT64_MAX;
    if (n && t->pos < t->start) {
        head = t->start - t->pos < n ? t->start - t->pos : n;
        memset(buf, 0, head);
        t->read_head = true;
    }
    if (n > head)
        memcpy(buf + head, t->tail + (t->pos + head - t->start), n - head);
    t->pos += n;
    return (zip_int64_t)n;
}

static zip_int64_t tail_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    struct tail_src *t = ud;
    zip_stat_t *st;
    zip_int64_t off;

    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        t->pos = 0;
        return 0;
    case ZIP_SOURCE_READ:
        return tail_read(t, data, len);
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE:
        return 0;
    case ZIP_SOURCE_STAT:
        st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &t->error);
        if (!st)
            return -1;
        zip_stat_init(st);
        st->valid = ZIP_STAT_SIZE;
        st->size = t->total;
        return sizeof(*st);
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&t->error, data, len);
    case ZIP_SOURCE_SEEK:
        off = zip_source_seek_compute_offset(t->pos, t->total, data, len, &t->error);
        if (off < 0)
            return -1;
        t->pos = (uint64_t)off;
        return 0;
    case ZIP_SOURCE_TELL:
        return (zip_int64_t)t->pos;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(
            ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR,
            ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL, ZIP_SOURCE_SUPPORTS, -1);
    default:
        zip_error_set(&t->error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

static int tail_open(struct tail_src *t, zip_t **za, char *err, size_t errsz)
{
    zip_source_t *src;
    zip_error_t ze;
    int rc = 0;

    zip_error_init(&ze);
    src = zip_source_function_create(tail_cb, t, &ze);
    *za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
    if (!*za) {
        zip_source_free(src);
        /* It may only look broken because of the zeros: the whole archive will tell. */
        if (t->read_head)
            rc = set_err(err, errsz, -ERANGE, "the tail does not hold the central directory");
        else
            rc = set_err(err, errsz, zip_errno(&ze), "%s", zip_error_strerror(&ze));
    }
    zip_error_fini(&ze);
    return rc;
}

int zipx_index_from_tail(const void *tail, size_t tail_len, uint64_t total_len,
                         struct zipx_index **out, char *err, size_t errsz)
{
    struct tail_src t = {.tail = tail, .start = total_len - tail_len, .total = total_len};
    zip_t *za;
    int rc;

    *out = NULL;
    if (tail_len > total_len)
        return set_err(err, errsz, -EINVAL, "tail of %zu bytes is longer than the archive",
                       tail_len);
    /* As zipx_index_open refuses an empty file: an empty body is no archive. */
    if (total_len == 0)
        return set_err(err, errsz, -EINVAL, "Not a zip archive");
    zip_error_init(&t.error);
    rc = tail_open(&t, &za, err, errsz);
    if (rc == 0) {
        struct raw_src raw = {.fd = -1, .tail = tail, .tail_len = tail_len, .size = total_len};

        t.read_head = false;
        rc = index_build(za, &raw, out, err, errsz);
        zip_discard(za);
    }
    if (rc == 0 && t.read_head) {
        /* Defensive: indexing wanted more than the central directory. */
        zipx_index_free(*out);
        *out = NULL;
        rc = set_err(err, errsz, -ERANGE, "indexing needs bytes before the tail");
    }
    zip_error_fini(&t.error);
    return rc;
}

void zipx_index_free(struct zipx_index *idx)
{
    if (!idx)
        return;
    for (size_t i = 0; i < idx->n; i++)
        free((char *)idx->v[i].name);
    free(idx->v);
    free(idx->prefix);
    free(idx);
}

/* --- queries ---------------------------------------------------------------------------- */

const char *zipx_prefix(const struct zipx_index *idx)
{
    return idx->prefix;
}

bool zipx_prefix_explicit(const struct zipx_index *idx)
{
    return idx->prefix_explicit;
}

size_t zipx_count(const struct zipx_index *idx)
{
    return idx->n;
}

const struct zipx_entry *zipx_entry_at(const struct zipx_index *idx, size_t i)
{
    return i < idx->n ? &idx->v[i] : NULL;
}

const struct zipx_entry *zipx_lookup(const struct zipx_index *idx, const char *name)
{
    size_t lo = 0, hi = idx->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(idx->v[mid].name, name);

        if (c == 0)
            return &idx->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Compares name with the string dir + "/" over that string's length: 0 when name lies
 * below dir. */
static int cmp_below(const char *name, const char *dir, size_t dlen)
{
    int c = strncmp(name, dir, dlen);

    if (c)
        return c;
    return (unsigned char)name[dlen] - (unsigned char)'/';
}

int zipx_foreach_child(const struct zipx_index *idx, const char *dir,
                       int (*fn)(void *arg, const struct zipx_entry *e), void *arg)
{
    size_t dlen = strlen(dir);
    size_t lo = 0, hi = idx->n;
    size_t skip = dlen ? dlen + 1 : 0;

    while (dlen && lo < hi) { /* the first name at or below "dir/" */
        size_t mid = lo + (hi - lo) / 2;

        if (cmp_below(idx->v[mid].name, dir, dlen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < idx->n; i++) {
        const struct zipx_entry *e = &idx->v[i];
        int rc;

        if (dlen && cmp_below(e->name, dir, dlen) != 0)
            break;
        if (strchr(e->name + skip, '/'))
            continue; /* deeper down */
        rc = fn(arg, e);
        if (rc)
            return rc;
    }
    return 0;
}

uint64_t zipx_total_size(const struct zipx_index *idx)
{
    return idx->total;
}

/* --- extracting ----------------------------------------------------------------------- */

static void log_entry_error(const struct zipx_entry *e, const char *what)
{
    char esc[LOG_NAME_MAX];

    log_warn("archive: entry '%s': %s", log_name(e->name, esc, sizeof(esc)), what);
}

/* The bounds both extraction paths keep on an entry's bytes: each read asks for at most one
 * byte more than the declared size leaves, so a lying size costs no more than that. */
static size_t bounded_want(const struct zipx_entry *e, uint64_t total)
{
    uint64_t room = e->size - total;

    return room < IO_CHUNK ? (size_t)room + 1 : IO_CHUNK;
}

/* Passes got more bytes to sink, refusing any past the declared size. */
static int bounded_emit(const struct zipx_entry *e, uint64_t *total, const void *buf, size_t got,
                        int (*sink)(void *arg, const void *buf, size_t n), void *arg)
{
    if (got > e->size - *total) {
        log_entry_error(e, "more data than its declared size");
        return -EIO;
    }
    *total += got;
    return got ? sink(arg, buf, got) : 0;
}

static int bounded_end(const struct zipx_entry *e, uint64_t total)
{
    if (total != e->size) {
        log_entry_error(e, "less data than its declared size");
        return -EIO;
    }
    /* libzip 1.7 hands out an empty entry without its CRC check; the CRC of no bytes is 0,
     * so any other is damage (found by the fuzzer's comparison with the direct path). */
    if (total == 0 && e->crc != 0) {
        log_entry_error(e, "CRC mismatch");
        return -EIO;
    }
    return 0;
}

/* Streams entry e of za to sink through libzip, within the bounds above. */
static int extract_entry(zip_t *za, const struct zipx_entry *e,
                         int (*sink)(void *arg, const void *buf, size_t n), void *arg)
{
    zip_file_t *zf = NULL;
    uint64_t total = 0;
    zip_stat_t st;
    char *buf = NULL;
    int rc = -EIO;

    if (e->is_dir || e->zindex < 0)
        return -EISDIR;
    zip_stat_init(&st);
    if (zip_stat_index(za, (zip_uint64_t)e->zindex, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) ||
        !(st.valid & ZIP_STAT_CRC) || st.size != e->size || st.crc != e->crc) {
        log_entry_error(e, "the archive does not match its index");
        return -EIO;
    }
    buf = malloc(IO_CHUNK);
    if (!buf)
        return -ENOMEM;
    zf = zip_fopen_index(za, (zip_uint64_t)e->zindex, 0);
    if (!zf) {
        log_entry_error(e, zip_strerror(za));
        goto out;
    }
    for (;;) {
        zip_int64_t got = zip_fread(zf, buf, bounded_want(e, total));

        rc = -EIO;
        if (got < 0) {
            log_entry_error(e, zip_file_strerror(zf)); /* CRC error, corrupt data */
            goto out;
        }
        if (got == 0)
            break;
        rc = bounded_emit(e, &total, buf, (size_t)got, sink, arg);
        if (rc)
            goto out;
    }
    rc = bounded_end(e, total);
out:
    if (zf && zip_fclose(zf) != 0 && rc == 0)
        rc = -EIO;
    free(buf);
    return rc;
}

/* Feeds the compressed bytes of e into zs until it ends, sending what comes out to sink. The
 * same checks as extract_entry: never more than one byte past the declared size, then the
 * size exactly and the CRC. Like libzip 1.7, a stream whose input runs out before its end
 * mark is judged by those checks alone (the fuzzer compares the two on every input). */
static int inflate_stream(int fd, z_stream *zs, const struct zipx_entry *e, unsigned char *in,
                          unsigned char *out, int (*sink)(void *arg, const void *buf, size_t n),
                          void *arg)
{
    uint64_t pos = 0, total = 0;
    uint32_t crc = 0;
    int zr = Z_OK, rc;

    while (zr != Z_STREAM_END) {
        size_t want = bounded_want(e, total), got;

        /* With all input given, zlib may still hold output (the last bits sit in its bit
         * buffer while a match waits for room): it gets called on, without input, until it
         * ends or can make no progress. */
        if (zs->avail_in == 0 && pos < e->comp_size) {
            size_t k = e->comp_size - pos < IO_CHUNK ? (size_t)(e->comp_size - pos) : IO_CHUNK;

            if (!pread_full(fd, in, k, e->deflate_off + pos)) {
                log_entry_error(e, "cannot read its compressed data");
                return -EIO;
            }
            pos += k;
            zs->next_in = in;
            zs->avail_in = (uInt)k;
        }
        zs->next_out = out;
        zs->avail_out = (uInt)want;
        zr = inflate(zs, Z_NO_FLUSH);
        if (zr == Z_BUF_ERROR && zs->avail_in == 0)
            break; /* input used up without an end mark: as libzip, size and CRC decide */
        if (zr != Z_OK && zr != Z_STREAM_END) {
            log_entry_error(e, "corrupt compressed data");
            return -EIO;
        }
        got = want - zs->avail_out;
        rc = bounded_emit(e, &total, out, got, sink, arg);
        if (rc)
            return rc;
        crc = crc_update(crc, out, got);
    }
    rc = bounded_end(e, total);
    if (rc)
        return rc;
    if (crc != e->crc) {
        log_entry_error(e, "CRC mismatch");
        return -EIO;
    }
    return 0;
}

static int inflate_entry(const char *zip_path, const struct zipx_entry *e,
                         int (*sink)(void *arg, const void *buf, size_t n), void *arg)
{
    unsigned char *in = malloc(IO_CHUNK), *out = malloc(IO_CHUNK);
    z_stream zs = {0};
    int fd = -1, rc = -ENOMEM;

    if (!in || !out || inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        goto out_buf;
    fd = open(zip_path, O_RDONLY | O_CLOEXEC);
    rc = fd < 0 ? -errno : inflate_stream(fd, &zs, e, in, out, sink, arg);
    if (fd >= 0)
        close(fd);
    inflateEnd(&zs);
out_buf:
    free(in);
    free(out);
    return rc;
}

int zipx_extract(const char *zip_path, const struct zipx_entry *e,
                 int (*sink)(void *arg, const void *buf, size_t n), void *arg)
{
    char err[256];
    zip_t *za;
    int rc;

    if (e->deflate_off && !e->is_dir)
        return inflate_entry(zip_path, e, sink, arg);
    rc = open_archive(zip_path, ZIP_RDONLY, &za, err, sizeof(err));
    if (rc) {
        log_warn("archive: %s", err);
        return rc == -EINVAL ? -EIO : rc;
    }
    rc = extract_entry(za, e, sink, arg);
    zip_discard(za);
    return rc;
}

/* Opens the directory holding name, below root, refusing symlinks on the way; *base is the
 * last component. Returns the descriptor or -errno. The names are safe already: this is the
 * second line of defence. */
static int open_parent(int root, const char *name, const char **base)
{
    char comp[PATH_NAME_MAX + 1];
    const char *p = name, *slash;
    int fd = fcntl(root, F_DUPFD_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    while ((slash = strchr(p, '/'))) {
        size_t len = (size_t)(slash - p);
        int next = -EINVAL;

        if (len > 0 && len <= PATH_NAME_MAX) {
            memcpy(comp, p, len);
            comp[len] = '\0';
            next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (next < 0)
                next = -errno;
        }
        close(fd);
        if (next < 0)
            return next;
        fd = next;
        p = slash + 1;
    }
    *base = p;
    return fd;
}

static int write_all(void *arg, const void *buf, size_t n)
{
    int fd = *(int *)arg;
    const char *p = buf;

    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int extract_file(zip_t *za, int root, const struct zipx_entry *e)
{
    struct timespec ts[2] = {{.tv_sec = e->mtime}, {.tv_sec = e->mtime}};
    const char *base;
    int pfd = open_parent(root, e->name, &base);
    int fd, rc;

    if (pfd < 0)
        return pfd;
    fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        close(pfd);
        return rc;
    }
    rc = extract_entry(za, e, write_all, &fd);
    if (rc == 0 && (fchmod(fd, e->mode & 0777) != 0 || futimens(fd, ts) != 0))
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc)
        unlinkat(pfd, base, 0);
    close(pfd);
    return rc;
}

/* Directories start owner-writable; their own mode and mtime come after their contents. */
static int extract_dir(int root, const struct zipx_entry *e)
{
    struct stat st;
    const char *base;
    int pfd = open_parent(root, e->name, &base);
    int rc = 0;

    if (pfd < 0)
        return pfd;
    if (mkdirat(pfd, base, 0700) != 0) {
        rc = -errno;
        if (rc == -EEXIST && fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode))
            rc = 0;
    }
    close(pfd);
    return rc;
}

static int finish_dir(int root, const struct zipx_entry *e)
{
    struct timespec ts[2] = {{.tv_sec = e->mtime}, {.tv_sec = e->mtime}};
    const char *base;
    int pfd = open_parent(root, e->name, &base);
    int fd, rc = 0;

    if (pfd < 0)
        return pfd;
    fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fchmod(fd, e->mode & 0777) != 0 || futimens(fd, ts) != 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    close(pfd);
    return rc;
}

int zipx_extract_all(const char *zip_path, const struct zipx_index *idx, const char *dest_dir)
{
    char err[256];
    zip_t *za = NULL;
    int root, rc;

    root = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return -errno;
    rc = open_archive(zip_path, ZIP_RDONLY, &za, err, sizeof(err));
    if (rc) {
        log_warn("archive: %s", err);
        rc = rc == -EINVAL ? -EIO : rc;
        goto out;
    }
    /* Sorted names put every directory before its contents. */
    for (size_t i = 0; rc == 0 && i < idx->n; i++)
        rc = idx->v[i].is_dir ? extract_dir(root, &idx->v[i]) : extract_file(za, root, &idx->v[i]);
    /* Backwards: a directory's descendants are finished before it. */
    for (size_t i = idx->n; rc == 0 && i-- > 0;)
        if (idx->v[i].is_dir)
            rc = finish_dir(root, &idx->v[i]);
out:
    if (za)
        zip_discard(za);
    close(root);
    return rc;
}

/* --- building ------------------------------------------------------------------------- */

struct build {
    zip_t *za;   /* the archive being written */
    zip_t *base; /* the base archive, for raw copies; NULL without one */
    const struct zipx_index *base_idx;
    const char *prefix;
    const char *tree;
    zipx_skip_fn skip;
    void *skip_arg;
    size_t count; /* entries added */
    char *err;
    size_t errsz;
};

static int zip_fail(struct build *b, const char *name)
{
    return set_err(b->err, b->errsz, zip_errno(zip_get_error(b->za)), "%s: %s", name,
                   zip_strerror(b->za));
}

/* The DOS date and time fields of t, in UTC (see the top of the file), clamped to the years
 * DOS can hold. */
static void dos_time(time_t t, zip_uint16_t *dtime, zip_uint16_t *ddate)
{
    struct tm tm;

    *dtime = 0;
    *ddate = (1 << 5) | 1; /* 1980-01-01, DOS's first day */
    if (!gmtime_r(&t, &tm) || tm.tm_year < 80)
        return;
    if (tm.tm_year >= 80 + 128) {
        *dtime = (23 << 11) | (59 << 5) | (58 / 2);
        *ddate = (127 << 9) | (12 << 5) | 31;
        return;
    }
    *dtime = (zip_uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
    *ddate = (zip_uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

/* Sets the mode, the DOS time and the extended timestamp (exact seconds) of entry i. */
static int set_meta(struct build *b, zip_uint64_t i, const char *name, mode_t mode, time_t mtime)
{
    int32_t t32 = mtime < INT32_MIN ? INT32_MIN : mtime > INT32_MAX ? INT32_MAX : (int32_t)mtime;
    uint32_t u = (uint32_t)t32;
    const zip_uint8_t ut[UT_LEN] = {UT_MTIME, u & 0xff, (u >> 8) & 0xff, (u >> 16) & 0xff, u >> 24};
    zip_uint16_t dtime, ddate;

    dos_time(mtime, &dtime, &ddate);
    if (zip_file_set_external_attributes(b->za, i, 0, ZIP_OPSYS_UNIX, (zip_uint32_t)mode << 16) ||
        zip_file_set_dostime(b->za, i, dtime, ddate, 0) ||
        zip_file_extra_field_set(b->za, i, EXTRA_UT, ZIP_EXTRA_FIELD_NEW, ut, UT_LEN,
                                 ZIP_FL_LOCAL | ZIP_FL_CENTRAL))
        return zip_fail(b, name);
    b->count++;
    return 0;
}

static int add_dir(struct build *b, const char *name, const struct stat *st)
{
    zip_int64_t i = zip_dir_add(b->za, name, ZIP_FL_ENC_GUESS);

    if (i < 0)
        return zip_fail(b, name);
    return set_meta(b, (zip_uint64_t)i, name, S_IFDIR | (st->st_mode & 0777), st->st_mtime);
}

/* Already-compressed formats gain nothing from deflate. */
static bool stored_type(const char *name)
{
    static const char *const exts[] = {"png", "jpg", "jpeg", "gif", "woff", "woff2", "zip", NULL};
    const char *dot = strrchr(name, '.');

    for (size_t i = 0; dot && exts[i]; i++)
        if (strcasecmp(dot + 1, exts[i]) == 0)
            return true;
    return false;
}

/* Sets *be to the base entry that file rel can be copied from raw (and *method to its
 * compression), or to NULL when there is none or the file differs from it (size, then CRC).
 * Returns 0 or -errno (-ENOENT when the file vanished). */
static int raw_source(struct build *b, const char *rel, const char *path, const struct stat *st,
                      const struct zipx_entry **be, zip_uint16_t *method)
{
    const struct zipx_entry *e = b->base ? zipx_lookup(b->base_idx, rel) : NULL;
    zip_stat_t zs;
    uint32_t crc;
    uint64_t size;
    int rc;

    *be = NULL;
    if (!e || e->is_dir || e->zindex < 0 || e->size != (uint64_t)st->st_size)
        return 0;
    rc = file_crc(path, O_NOFOLLOW, &crc, &size);
    if (rc)
        return rc;
    zip_stat_init(&zs);
    if (crc != e->crc || size != e->size ||
        zip_stat_index(b->base, (zip_uint64_t)e->zindex, 0, &zs) != 0 ||
        !(zs.valid & ZIP_STAT_COMP_METHOD) || zs.size != e->size || zs.crc != e->crc)
        return 0;
    *be = e;
    *method = zs.comp_method;
    return 0;
}

/* The file's data: raw from the base archive when unchanged, else the local file. */
static int file_source(struct build *b, const char *rel, const char *path, const struct stat *st,
                       zip_source_t **src, zip_int32_t *method)
{
    const struct zipx_entry *be;
    zip_uint16_t base_method = 0;
    int fd, rc = raw_source(b, rel, path, st, &be, &base_method);

    if (rc)
        return rc;
    if (be) {
        *src = zip_source_zip(b->za, b->base, (zip_uint64_t)be->zindex, ZIP_FL_COMPRESSED, 0, -1);
        /* libzip keeps the data as it is when the method is left at its default, except for
         * stored data, which it would deflate unless told to store it. */
        *method = base_method == ZIP_CM_STORE ? ZIP_CM_STORE : ZIP_CM_DEFAULT;
        return 0;
    }
    /* libzip opens the file only in zip_close: check now whether it is still there. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    *src = zip_source_file(b->za, path, 0, -1);
    *method = stored_type(rel) ? ZIP_CM_STORE : ZIP_CM_DEFLATE;
    return 0;
}

static int add_file(struct build *b, const char *name, const char *rel, const char *path,
                    const struct stat *st)
{
    zip_source_t *src = NULL;
    zip_int32_t method;
    zip_int64_t i;
    int rc = file_source(b, rel, path, st, &src, &method);

    if (rc == -ENOENT)
        return 0; /* deleted while we walked */
    if (rc)
        return set_err(b->err, b->errsz, rc, "%s: %s", path, strerror(-rc));
    if (!src)
        return zip_fail(b, name);
    i = zip_file_add(b->za, name, src, ZIP_FL_ENC_GUESS);
    if (i < 0) {
        zip_source_free(src);
        return zip_fail(b, name);
    }
    /* Level 1: a new or changed file is compressed once per upload, and on a typical text
     * asset level 6 saves a few percent for four times the CPU (W8: the whole upload of a
     * data set is mostly deflate). */
    if (method != ZIP_CM_DEFAULT &&
        zip_set_file_compression(b->za, (zip_uint64_t)i, method,
                                 method == ZIP_CM_DEFLATE ? DEFLATE_LEVEL : 0))
        return zip_fail(b, name);
    return set_meta(b, (zip_uint64_t)i, name, S_IFREG | (st->st_mode & 0777), st->st_mtime);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The names in directory path, sorted so archives come out the same every time. A
 * directory that vanished reads as empty. */
static int list_dir(const char *path, char ***out, size_t *count)
{
    DIR *dp = opendir(path);
    struct dirent *d;
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    *out = NULL;
    *count = 0;
    if (!dp)
        return errno == ENOENT ? 0 : -errno;
    while (rc == 0 && (errno = 0, d = readdir(dp))) {
        if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
            continue;
        if (n == cap) {
            char **nv = realloc(v, (cap = cap ? cap * 2 : 32) * sizeof(*v));

            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[n] = strdup(d->d_name)))
            rc = -ENOMEM;
        else
            n++;
    }
    if (rc == 0 && errno)
        rc = -errno;
    closedir(dp);
    if (rc) {
        names_free(v, n);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), name_cmp);
    *out = v;
    *count = n;
    return 0;
}

static int walk(struct build *b, const char *rel);

/* One name found in the tree: skipped, or added (and walked into for a directory). */
static int add_node(struct build *b, const char *rel)
{
    char *path = NULL, *name = NULL;
    char esc[LOG_NAME_MAX];
    struct stat st;
    int rc = -ENOMEM;

    if (b->skip && b->skip(b->skip_arg, rel))
        return 0;
    path = join(b->tree, rel);
    if (!path || asprintf(&name, "%s%s", b->prefix, rel) < 0) {
        name = NULL;
        goto out;
    }
    rc = 0;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            rc = set_err(b->err, b->errsz, -errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        goto out; /* symlinks and special files never go into an archive */
    if (!path_entry_is_safe(name, strlen(name))) {
        log_warn("archive: leaving out '%s': not a safe entry name",
                 log_name(rel, esc, sizeof(esc)));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = add_dir(b, name, &st);
        if (rc == 0)
            rc = walk(b, rel);
    } else {
        rc = add_file(b, name, rel, path, &st);
    }
out:
    if (rc == -ENOMEM)
        set_err(b->err, b->errsz, rc, "out of memory building the archive");
    free(path);
    free(name);
    return rc;
}

static int walk(struct build *b, const char *rel)
{
    char *path = join(b->tree, rel);
    char **names = NULL;
    size_t n = 0;
    int rc;

    if (!path)
        return set_err(b->err, b->errsz, -ENOMEM, "out of memory building the archive");
    rc = list_dir(path, &names, &n);
    if (rc)
        set_err(b->err, b->errsz, rc, "%s: %s", path, strerror(-rc));
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *sub = join(rel, names[i]);

        rc = sub ? add_node(b, sub) : set_err(b->err, b->errsz, -ENOMEM, "out of memory");
        free(sub);
    }
    names_free(names, n);
    free(path);
    return rc;
}

/* libzip deletes an archive left without entries; an empty zip is just its end record. */
static int write_empty_zip(const char *path)
{
    static const unsigned char eocd[22] = {'P', 'K', 5, 6};
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -errno;
    rc = write_all(&fd, eocd, sizeof(eocd));
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* Writes the archive into the temporary file tmp. */
static int build_into(struct build *b, const char *tmp, bool prefix_explicit)
{
    struct stat st;
    int rc;

    if (stat(b->tree, &st) != 0)
        return set_err(b->err, b->errsz, -errno, "%s: %s", b->tree, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return set_err(b->err, b->errsz, -ENOTDIR, "%s: not a directory", b->tree);
    rc = open_archive(tmp, ZIP_TRUNCATE, &b->za, b->err, b->errsz);
    if (rc == 0 && *b->prefix && prefix_explicit)
        rc = add_dir(b, b->prefix, &st); /* the tree's root stands for the folder */
    if (rc == 0)
        rc = walk(b, "");
    if (rc == 0 && b->count == 0) {
        zip_discard(b->za);
        b->za = NULL;
        rc = write_empty_zip(tmp);
        if (rc)
            set_err(b->err, b->errsz, rc, "%s: %s", tmp, strerror(-rc));
    } else if (rc == 0) {
        if (zip_close(b->za) != 0)
            return zip_fail(b, tmp); /* b->za stays open: the caller discards it */
        b->za = NULL;
    }
    return rc;
}

int zipx_build(const char *base_zip, const struct zipx_index *base_idx, const char *prefix,
               bool prefix_explicit, const char *tree_dir, const char *out_zip, zipx_skip_fn skip,
               void *skip_arg, char *err, size_t errsz)
{
    struct build b = {
        .base_idx = base_idx,
        .prefix = prefix ? prefix : "",
        .tree = tree_dir,
        .skip = skip,
        .skip_arg = skip_arg,
        .err = err,
        .errsz = errsz,
    };
    char *tmp = NULL;
    int fd, rc;

    if (asprintf(&tmp, "%s.XXXXXX", out_zip) < 0)
        return set_err(err, errsz, -ENOMEM, "out of memory");
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = set_err(err, errsz, -errno, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    close(fd);
    if (base_zip && base_idx && open_archive(base_zip, ZIP_RDONLY, &b.base, NULL, 0) != 0)
        log_warn("archive: cannot read the base archive %s: every file is compressed anew",
                 base_zip);
    rc = build_into(&b, tmp, prefix_explicit);
    if (rc == 0 && rename(tmp, out_zip) != 0)
        rc = set_err(err, errsz, -errno, "%s: %s", out_zip, strerror(errno));
    if (b.za)
        zip_discard(b.za);
    if (b.base) /* only now: raw copies read from it until zip_close */
        zip_discard(b.base);
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}
