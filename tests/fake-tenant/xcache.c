/* xcache: the extracted-file cache (xcache.h). A linked list is enough: the cache holds a
 * few hundred entries at most and a lookup is a tiny part of serving one. */
#include "xcache.h"

#include "blob.h"

#include <stdlib.h>
#include <string.h>

struct xentry {
    struct xentry *prev, *next;
    uint64_t gen;
    char *name;
    struct blob *b;
};

int xcache_init(struct xcache *c, size_t limit)
{
    memset(c, 0, sizeof(*c));
    c->limit = limit;
    return pthread_mutex_init(&c->lock, NULL) == 0 ? 0 : -1;
}

static void unlink_entry(struct xcache *c, struct xentry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(struct xcache *c, struct xentry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static void drop(struct xcache *c, struct xentry *e)
{
    unlink_entry(c, e);
    c->bytes -= e->b->len;
    blob_unref(e->b);
    free(e->name);
    free(e);
}

void xcache_destroy(struct xcache *c)
{
    while (c->head)
        drop(c, c->head);
    pthread_mutex_destroy(&c->lock);
}

static struct xentry *find(struct xcache *c, uint64_t gen, const char *name)
{
    for (struct xentry *e = c->head; e; e = e->next)
        if (e->gen == gen && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

struct blob *xcache_get(struct xcache *c, uint64_t gen, const char *name)
{
    struct blob *b = NULL;
    struct xentry *e;

    pthread_mutex_lock(&c->lock);
    e = find(c, gen, name);
    if (e) {
        unlink_entry(c, e);
        push_front(c, e);
        b = blob_ref(e->b);
    }
    pthread_mutex_unlock(&c->lock);
    return b;
}

void xcache_put(struct xcache *c, uint64_t gen, const char *name, struct blob *b)
{
    struct xentry *e;

    if (b->len > c->limit / 4)
        return;
    e = calloc(1, sizeof(*e));
    if (!e || !(e->name = strdup(name))) {
        free(e);
        return;
    }
    e->gen = gen;
    e->b = blob_ref(b);
    pthread_mutex_lock(&c->lock);
    if (find(c, gen, name)) { /* another thread extracted it first */
        pthread_mutex_unlock(&c->lock);
        blob_unref(e->b);
        free(e->name);
        free(e);
        return;
    }
    push_front(c, e);
    c->bytes += b->len;
    while (c->bytes > c->limit && c->tail != e)
        drop(c, c->tail);
    pthread_mutex_unlock(&c->lock);
}
