/* upload: request bodies. An extension upload is multipart/form-data with an optional JSON
 * `data` part and an optional zip `file` part, in any order; MHD's post processor splits
 * the parts and this module accumulates the two we care about. Other bodies are either
 * kept raw (the /__fake/put route) or read and thrown away, so a rejected request still
 * leaves the connection usable for keep-alive. */
#ifndef FT_UPLOAD_H
#define FT_UPLOAD_H

#include "blob.h"

#include <microhttpd.h>
#include <stdbool.h>

#define UPLOAD_FILE_MAX (64u * 1024 * 1024)
#define UPLOAD_DATA_MAX (1024u * 1024)
#define UPLOAD_RAW_MAX (1024u * 1024 * 1024)

enum upload_mode { UP_DISCARD, UP_MULTIPART, UP_RAW };

struct upload {
    enum upload_mode mode;
    struct MHD_PostProcessor *pp;
    struct buf file, data, raw;
    char *filename;     /* the file part's filename, if any */
    bool not_multipart; /* multipart was wanted but the Content-Type is something else */
    bool have_file, have_data;
    bool too_big; /* a part or the raw body passed its limit */
    bool bad;     /* the multipart body did not parse */
};

/* Starts reading a body in mode. For UP_MULTIPART a wrong Content-Type sets
 * not_multipart and the body is discarded. Returns 0 or -ENOMEM. */
int upload_begin(struct upload *u, struct MHD_Connection *c, enum upload_mode mode);
void upload_feed(struct upload *u, const char *data, size_t len);
/* Called once the whole body is in. */
void upload_end(struct upload *u);
void upload_free(struct upload *u);

#endif
