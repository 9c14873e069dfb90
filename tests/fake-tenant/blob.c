/* blob: reference-counted byte buffers and the growable buffer that fills them (blob.h). */
#include "blob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct blob *blob_wrap(void *data, size_t len)
{
    struct blob *b = calloc(1, sizeof(*b));

    if (!b) {
        free(data);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->data = data;
    b->len = len;
    return b;
}

struct blob *blob_copy(const void *data, size_t len)
{
    void *p = malloc(len ? len : 1);

    if (!p)
        return NULL;
    if (len)
        memcpy(p, data, len);
    return blob_wrap(p, len);
}

struct blob *blob_ref(struct blob *b)
{
    if (b)
        atomic_fetch_add(&b->refs, 1);
    return b;
}

void blob_unref(struct blob *b)
{
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    free(b->data);
    free(b);
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    size_t need = b->len + len;

    if (b->limit && need > b->limit)
        return -E2BIG;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        unsigned char *p;

        while (cap < need)
            cap *= 2;
        if (b->limit && cap > b->limit)
            cap = b->limit;
        p = realloc(b->data, cap);
        if (!p)
            return -ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len = need;
    return 0;
}

struct blob *buf_to_blob(struct buf *b)
{
    struct blob *out = blob_wrap(b->data, b->len);

    b->data = NULL;
    b->len = b->cap = 0;
    return out;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
