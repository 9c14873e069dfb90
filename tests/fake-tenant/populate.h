/* populate: the extensions a fresh fake tenant starts with, from --seed DIR (one per
 * subfolder, the zip mirroring it) and --generate N (deterministic realistic ones). */
#ifndef FT_POPULATE_H
#define FT_POPULATE_H

struct store;
struct blob;

/* Checks zip (without the upload size limits) and creates its extension. Drops the
 * caller's reference to zip. 0 or -1 with the reason logged. */
int populate_add(struct store *s, struct blob *zip, const char *originalname);
int seed_load(struct store *s, const char *dir);
int generate_all(struct store *s, unsigned n);

#endif
