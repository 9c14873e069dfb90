/* upload: body accumulation for multipart, raw and discarded bodies (upload.h). */
#include "upload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PP_BUFFER 65536

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    struct upload *u = cls;
    struct buf *dst = NULL;

    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    (void)off;
    if (strcmp(key, "file") == 0) {
        dst = &u->file;
        u->have_file = true;
        if (filename && !u->filename)
            u->filename = strdup(filename);
    } else if (strcmp(key, "data") == 0) {
        dst = &u->data;
        u->have_data = true;
    }
    if (dst && size && buf_append(dst, data, size) != 0)
        u->too_big = true; /* keep reading: the answer waits for the whole body */
    return MHD_YES;
}

static bool is_multipart(struct MHD_Connection *c)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    static const char want[] = "multipart/form-data";

    return ct && strncasecmp(ct, want, sizeof(want) - 1) == 0;
}

int upload_begin(struct upload *u, struct MHD_Connection *c, enum upload_mode mode)
{
    memset(u, 0, sizeof(*u));
    u->file.limit = UPLOAD_FILE_MAX;
    u->data.limit = UPLOAD_DATA_MAX;
    u->raw.limit = UPLOAD_RAW_MAX;
    u->mode = mode;
    if (mode != UP_MULTIPART)
        return 0;
    if (!is_multipart(c)) {
        u->not_multipart = true;
        u->mode = UP_DISCARD;
        return 0;
    }
    u->pp = MHD_create_post_processor(c, PP_BUFFER, on_part, u);
    if (!u->pp) { /* no boundary, or a malformed header */
        u->not_multipart = true;
        u->mode = UP_DISCARD;
    }
    return 0;
}

void upload_feed(struct upload *u, const char *data, size_t len)
{
    switch (u->mode) {
    case UP_MULTIPART:
        if (!u->bad && MHD_post_process(u->pp, data, len) != MHD_YES)
            u->bad = true;
        break;
    case UP_RAW:
        if (!u->too_big && buf_append(&u->raw, data, len) != 0)
            u->too_big = true;
        break;
    case UP_DISCARD:
        break;
    }
}

void upload_end(struct upload *u)
{
    if (u->pp && MHD_destroy_post_processor(u->pp) != MHD_YES)
        u->bad = true;
    u->pp = NULL;
}

void upload_free(struct upload *u)
{
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    buf_free(&u->file);
    buf_free(&u->data);
    buf_free(&u->raw);
    free(u->filename);
    memset(u, 0, sizeof(*u));
}
