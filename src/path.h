/* path: pure string logic about names. Mount paths to (extension, entry), the safety rule for
 * archive entry names, percent-encoding for request URLs, and which names are editor or tool
 * temporaries that never leave the machine. No I/O, no allocation except where stated. */
#ifndef QEXTFS_PATH_H
#define QEXTFS_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define PATH_NAME_MAX 255

/* Splits a mount path "/ext/a/b.js" into ext ("ext", copied into ext[extsz]) and *rest
 * ("a/b.js", pointing into path; "" for "/ext"). Returns 0 for "/", 1 for "/ext", 2 deeper,
 * -ENAMETOOLONG when the extension name does not fit. */
int path_split(const char *path, char *ext, size_t extsz, const char **rest);

/* True when an archive entry name may be shown and written back: not empty, not absolute,
 * no "." or ".." component, no empty component (a single trailing '/' marks a directory and
 * is allowed), no NUL within len, no backslash, every component <= PATH_NAME_MAX bytes. */
bool path_entry_is_safe(const char *name, size_t len);

/* Percent-encodes s for a URL path: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX; '/'
 * stays literal when keep_slash. Returns a malloc'd string or NULL on ENOMEM. */
char *path_url_encode(const char *s, bool keep_slash);

/* Decodes %XX once. Returns a malloc'd NUL-terminated string (its length in *outlen when
 * outlen is not NULL), or NULL when an escape is malformed or the result holds a NUL. */
char *path_url_decode(const char *s, size_t len, size_t *outlen);

/* True when the last component of relpath is an editor or tool temporary (vim swap files and
 * its 4913 probe, *~ backups, emacs lock and autosave files, .DS_Store, ._*) or matches one
 * of the extra fnmatch(3) globs (NULL-terminated list, may be NULL). */
bool path_is_temporary(const char *relpath, char *const *extra_globs);

/* True when base (a last component) looks like an rsync temporary ".name.XXXXXX", which
 * rsync renames over name when done (a crash can leave one behind). mkstemp's six suffix
 * characters are random over [A-Za-z0-9], so a suffix of one class only (".config",
 * ".README", ".202401") is taken for a real dotfile: such a file uploads. About 1 in 90
 * rsync temporaries has such a suffix; rsync renames it within moments of its close. */
bool path_is_rsync_temp(const char *base);

/* Writes "a/b" into out (just a when b is empty, just b when a is). Returns 0, or
 * -ENAMETOOLONG when it does not fit. */
int path_join(char *out, size_t outsz, const char *a, const char *b);

/* Splits "a:b:c" into a NULL-terminated malloc'd array of malloc'd strings; NULL on ENOMEM.
 * Free with path_globs_free. */
char **path_globs_parse(const char *spec);
void path_globs_free(char **globs);

#endif
