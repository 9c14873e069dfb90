/* archive (zipx_): everything about extension zip archives. Reading the central directory
 * into an index that hides hostile entries, streaming one entry out with bounds checks,
 * extracting a whole tree to disk, and rebuilding an archive from a base archive plus a
 * local tree (unchanged entries copied raw, modes and exact mtimes kept). Built on libzip
 * 1.7. No network, no FUSE. */
#ifndef QEXTFS_ARCHIVE_H
#define QEXTFS_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Entries larger than this (declared uncompressed size) are never shown. */
#define ZIPX_MAX_ENTRY_SIZE (100ull * 1024 * 1024)
/* Archives with more central-directory entries than this are refused whole. */
#define ZIPX_MAX_ENTRIES 20000

struct zipx_entry {
    const char *name; /* relative to the stripped top-level folder, no trailing '/' */
    uint64_t size;    /* uncompressed */
    uint64_t comp_size;
    time_t mtime;  /* from the 0x5455 extra field when present, else DOS time (UTC) */
    mode_t mode;   /* permission bits from Unix external attributes, else 0644/0755 */
    bool is_dir;   /* explicit directory entry, or implied by a deeper name */
    bool implicit; /* directory with no entry of its own in the archive */
    uint32_t crc;
    int64_t zindex;       /* index in the zip, -1 for implicit directories */
    uint64_t data_off;    /* a stored entry of an index read from a whole archive: where its
                             bytes start in that file; 0 otherwise */
    uint64_t deflate_off; /* the same for a deflated entry: where its compressed bytes
                             start; 0 otherwise (zipx_extract then goes through libzip) */
};

struct zipx_index;

/* Reads the central directory of the zip at path. Hidden with a log line (QLOG_WARN): unsafe
 * names (path_entry_is_safe), names holding a NUL byte (checked in the raw central directory:
 * libzip shows a NUL as a space), symlinks, encrypted entries, entries over ZIPX_MAX_ENTRY_SIZE,
 * unsupported compression, duplicates (first kept). Returns 0 or -errno (-EINVAL for a zip
 * libzip cannot read, -EFBIG over ZIPX_MAX_ENTRIES) with a reason in err. */
int zipx_index_open(const char *path, struct zipx_index **out, char *err, size_t errsz);

/* The same from the last tail_len bytes of an archive of total_len bytes (a suffix Range
 * response): only the central directory is needed. -ERANGE when the tail does not hold the
 * whole central directory (the caller then fetches the whole archive). */
int zipx_index_from_tail(const void *tail, size_t tail_len, uint64_t total_len,
                         struct zipx_index **out, char *err, size_t errsz);
void zipx_index_free(struct zipx_index *idx);

/* The single top-level folder that was stripped, with its trailing '/' ("" when none), and
 * whether the archive held an explicit entry for it. */
const char *zipx_prefix(const struct zipx_index *idx);
bool zipx_prefix_explicit(const struct zipx_index *idx);

/* Entries sorted by name (bytewise), directories included. */
size_t zipx_count(const struct zipx_index *idx);
const struct zipx_entry *zipx_entry_at(const struct zipx_index *idx, size_t i);
/* Exact lookup of a relative name ("lib/a.js"); NULL when absent. */
const struct zipx_entry *zipx_lookup(const struct zipx_index *idx, const char *name);
/* Calls fn for each direct child of dir ("" for the root, else "lib"); stops when fn returns
 * non-zero and returns that value. */
int zipx_foreach_child(const struct zipx_index *idx, const char *dir,
                       int (*fn)(void *arg, const struct zipx_entry *e), void *arg);
/* Sum of entry sizes and number of files, for statfs and limits. */
uint64_t zipx_total_size(const struct zipx_index *idx);

/* Streams the uncompressed bytes of e (a file entry of idx, which was built from zip_path)
 * to sink in order. Fails with -EIO when the data is corrupt or longer or shorter than the
 * declared size (zip bombs stop at the declared size), or the CRC does not match. */
int zipx_extract(const char *zip_path, const struct zipx_entry *e,
                 int (*sink)(void *arg, const void *buf, size_t n), void *arg);

/* CRC-32s of an archive's bytes, one per 64 KiB segment past its first MiB, taken while the
 * archive downloads and its bytes are in the CPU's cache anyway. With them a stored entry's
 * CRC is checked from the table (plus what lies in the first MiB and in partial segments,
 * read back) instead of reading the whole entry again before its first byte is served. */
struct zipx_segcrc;
struct zipx_segcrc *zipx_segcrc_new(void);
void zipx_segcrc_free(struct zipx_segcrc *s);
/* Notes n bytes written at archive offset off. Bytes written at offset 0 start the table
 * over (a retried download); any other write that does not continue the last one makes the
 * table describe nothing until then, so it never vouches for bytes it did not see. */
void zipx_segcrc_feed(struct zipx_segcrc *s, uint64_t off, const void *buf, size_t n);

/* Checks the CRC of stored entry e (data_off != 0) of the archive open at fd, from segs
 * (may be NULL) where it covers the entry, else by reading its bytes in place. 0 or -EIO
 * (logged) on a mismatch or short file. */
int zipx_stored_verify(int fd, const struct zipx_entry *e, const struct zipx_segcrc *segs);
/* Reads len bytes at off of stored entry e from the archive open at fd (clipped to the
 * entry); the count or -EIO. */
long zipx_stored_read(int fd, const struct zipx_entry *e, void *buf, size_t len, uint64_t off);
/* e's position in idx (0..zipx_count-1), for per-entry state kept by callers. */
size_t zipx_entry_pos(const struct zipx_index *idx, const struct zipx_entry *e);

/* Writes every file and directory of idx under dest_dir (which exists), with modes and
 * mtimes. Never writes outside dest_dir. Returns 0 or -errno. */
int zipx_extract_all(const char *zip_path, const struct zipx_index *idx, const char *dest_dir);

/* Decides which local files never go into an archive (temporaries); NULL keeps all. */
typedef bool (*zipx_skip_fn)(void *arg, const char *relpath);

/* Builds out_zip from the tree under tree_dir. Every regular file and directory under it
 * becomes an entry named prefix + relative path (prefix as zipx_prefix of the base, or ""),
 * with its mode in the Unix external attributes and its mtime in both the DOS field and an
 * extended timestamp extra field (0x5455) so seconds are exact. When base_zip/base_idx are
 * given, a file whose size and CRC equal its base entry is copied raw (not recompressed)
 * and an explicit top-level folder entry is kept. Files for which skip returns true, and
 * symlinks, are left out. Returns 0 or -errno with a reason in err. */
int zipx_build(const char *base_zip, const struct zipx_index *base_idx, const char *prefix,
               bool prefix_explicit, const char *tree_dir, const char *out_zip, zipx_skip_fn skip,
               void *skip_arg, char *err, size_t errsz);

/* CRC-32 of a local file's content; 0 on success. */
int zipx_file_crc(const char *path, uint32_t *crc, uint64_t *size);

#endif
