/* zipbuild: writing archives in memory for --seed and --generate, with what real zip tools
 * record: Unix modes in the external attributes, DOS times, and the 0x5455 extended
 * timestamp so the exact UTC mtime survives. */
#ifndef FT_ZIPBUILD_H
#define FT_ZIPBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct zipw;
struct blob;

struct zipw *zipw_new(void);
/* Takes ownership of data (malloc'd) in every case. store: no compression. 0 or -1. */
int zipw_add_file(struct zipw *w, const char *name, void *data, size_t len, mode_t mode,
                  time_t mtime, bool store);
/* name ends with '/'. 0 or -1. */
int zipw_add_dir(struct zipw *w, const char *name, mode_t mode, time_t mtime);
/* The finished archive (generation unset), or NULL; w is freed either way. */
struct blob *zipw_finish(struct zipw *w);

#endif
