/* persist: the --state directory. state.json holds every record (models, deleted flags,
 * counters); archives/<generation>.zip holds each archive. Every file is written to a
 * temporary name and renamed, so a crash leaves the previous state or the new one. */
#ifndef FT_PERSIST_H
#define FT_PERSIST_H

#include <stdint.h>

struct store;
struct blob;

/* Fills an empty store from dir. Returns 1 loaded, 0 nothing there, -1 error. */
int persist_load(struct store *s, const char *dir);
/* Rewrites state.json from the store; the caller holds the store lock. 0 or -1. */
int persist_save(const struct store *s, const char *dir);
/* Writes an archive under its generation; called without the store lock. 0 or -1. */
int persist_write_archive(const char *dir, const struct blob *b);
void persist_remove_archive(const char *dir, uint64_t gen);

#endif
