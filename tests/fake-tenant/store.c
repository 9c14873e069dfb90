/* store: records, lookups, ids, timestamps and commits (store.h). Work that does not need
 * the records (checksums, archive files) is done before the lock is taken. */
#include "store.h"

#include "blob.h"
#include "log.h"
#include "md5.h"
#include "persist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ID_SEED 0x51ce5eedf00dull

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Ids look like the service's: 32 URL-safe base64 characters. Every 7th starts with '-' so
 * clients meet that case early. Deterministic in n so test runs are reproducible. */
static void make_id(uint64_t stream, uint64_t n, char out[33])
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t x = ID_SEED ^ (stream << 48) ^ n;

    for (int i = 0; i < 32; i++)
        out[i] = alpha[splitmix(&x) >> 58];
    if (n % 7 == 1)
        out[0] = '-';
    out[32] = '\0';
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Strictly increasing, so every change gets a new updateAt even within one millisecond. */
static int64_t tick(struct store *s)
{
    int64_t t = now_ms();

    if (t <= s->clock_ms)
        t = s->clock_ms + 1;
    s->clock_ms = t;
    return t;
}

static void ext_free(struct ext *e)
{
    if (!e)
        return;
    cJSON_Delete(e->attrs);
    blob_unref(e->archive);
    free(e->prefix);
    free(e->originalname);
    free(e);
}

static struct ext *ext_clone(const struct ext *o)
{
    struct ext *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    *e = *o;
    e->attrs = cJSON_Duplicate(o->attrs, true);
    e->prefix = o->prefix ? strdup(o->prefix) : NULL;
    e->originalname = o->originalname ? strdup(o->originalname) : NULL;
    e->archive = blob_ref(o->archive);
    if (!e->attrs || (o->prefix && !e->prefix) || (o->originalname && !e->originalname)) {
        ext_free(e);
        return NULL;
    }
    return e;
}

int store_init(struct store *s, const char *state_dir)
{
    memset(s, 0, sizeof(*s));
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        return -1;
    atomic_init(&s->next_gen, 1);
    make_id(1, 0, s->tenant_id);
    make_id(2, 0, s->user_id);
    s->state_dir = state_dir;
    return state_dir ? persist_load(s, state_dir) : 0;
}

void store_destroy(struct store *s)
{
    for (size_t i = 0; i < s->n; i++)
        ext_free(s->v[i]);
    free(s->v);
    pthread_mutex_destroy(&s->lock);
}

void store_stamp(struct store *s, struct blob *b)
{
    b->gen = atomic_fetch_add(&s->next_gen, 1);
}

/* Id first, then the live extension of that name; a deleted match is 410. */
static int lookup(struct store *s, const char *key, size_t *idx)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->v[i]->deleted && strcmp(s->v[i]->id, key) == 0)
            return *idx = i, 200;
    for (size_t i = 0; i < s->n; i++) {
        const char *name = model_name(s->v[i]->attrs);

        if (!s->v[i]->deleted && name && strcmp(name, key) == 0)
            return *idx = i, 200;
    }
    for (size_t i = 0; i < s->n; i++) {
        const char *name = model_name(s->v[i]->attrs);

        if (strcmp(s->v[i]->id, key) == 0 || (name && strcmp(name, key) == 0))
            return 410;
    }
    return 404;
}

static bool name_taken(struct store *s, const char *name, const struct ext *except)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct ext *e = s->v[i];
        const char *n;

        if (e == except || e->deleted)
            continue;
        n = model_name(e->attrs);
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

static bool id_taken(struct store *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i]->id, id) == 0)
            return true;
    return false;
}

static char *render(struct store *s, const struct ext *e, bool real)
{
    cJSON *o = model_render(e, s->tenant_id, s->user_id, real);
    char *out = o ? cJSON_PrintUnformatted(o) : NULL;

    cJSON_Delete(o);
    return out;
}

static int commit(struct store *s)
{
    if (!s->state_dir || persist_save(s, s->state_dir) == 0)
        return 0;
    log_err("fake-tenant: could not write the state in %s", s->state_dir);
    return -1;
}

int store_list(struct store *s, bool real, char **json)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    int rc = 500;

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; data && i < s->n; i++) {
        cJSON *m;

        if (s->v[i]->deleted)
            continue;
        m = model_render(s->v[i], s->tenant_id, s->user_id, real);
        if (!m || !cJSON_AddItemToArray(data, m)) {
            cJSON_Delete(m);
            goto out;
        }
    }
    *json = data ? cJSON_PrintUnformatted(root) : NULL;
    rc = *json ? 200 : 500;
out:
    pthread_mutex_unlock(&s->lock);
    cJSON_Delete(root);
    return rc;
}

int store_get(struct store *s, const char *key, bool real, char **json)
{
    size_t i;
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = lookup(s, key, &i);
    if (rc == 200) {
        *json = render(s, s->v[i], real);
        rc = *json ? 200 : 500;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_find(struct store *s, const char *key)
{
    size_t i;
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = lookup(s, key, &i);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* The slow part of taking an archive: its checksum and its file in the state directory.
 * Done without the lock. */
static int archive_prework(struct store *s, const struct ext_change *c, char checksum[33])
{
    checksum[0] = '\0';
    if (!c->archive)
        return 0;
    md5_hex(c->archive->data, c->archive->len, checksum);
    if (s->state_dir && persist_write_archive(s->state_dir, c->archive) != 0)
        return -EIO;
    return 0;
}

static void archive_undo(struct store *s, const struct ext_change *c)
{
    if (c->archive && s->state_dir)
        persist_remove_archive(s->state_dir, c->archive->gen);
}

static int set_archive(struct ext *e, const struct ext_change *c, const char checksum[33])
{
    const char *orig = c->originalname;
    char name[512];

    blob_unref(e->archive);
    e->archive = blob_ref(c->archive);
    free(e->prefix);
    free(e->originalname);
    if (!orig) {
        snprintf(name, sizeof(name), "%s.zip", c->zi->qext_name);
        orig = name;
    }
    e->prefix = strdup(c->zi->prefix);
    e->originalname = strdup(orig);
    memcpy(e->checksum, checksum, 33);
    return e->prefix && e->originalname ? 0 : -ENOMEM;
}

static struct ext *prepare_new(const struct ext_change *c, const char checksum[33])
{
    struct ext *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    if (c->archive) {
        e->attrs = model_from_qext(c->zi);
        if (!e->attrs || set_archive(e, c, checksum) != 0 ||
            (c->data && model_apply_data(e->attrs, c->data, false) != 0))
            goto fail;
    } else {
        e->attrs = model_from_data(c->data);
        if (!e->attrs)
            goto fail;
    }
    return e;
fail:
    ext_free(e);
    return NULL;
}

static int append(struct store *s, struct ext *e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        struct ext **v = realloc(s->v, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = e;
    return 0;
}

int store_create(struct store *s, const struct ext_change *c, bool real, char **json, char *why,
                 size_t whysz)
{
    char checksum[33];
    struct ext *e = NULL;
    const char *name = NULL;
    int rc = 500;

    if (archive_prework(s, c, checksum) == 0)
        e = prepare_new(c, checksum);
    if (e)
        name = model_name(e->attrs);
    if (!e || !name) {
        snprintf(why, whysz, "Could not store the extension");
        archive_undo(s, c);
        ext_free(e);
        return 500;
    }
    pthread_mutex_lock(&s->lock);
    if (name_taken(s, name, NULL)) {
        snprintf(why, whysz, "An extension with qextFilename '%s' already exists", name);
        rc = 409;
        goto out;
    }
    do
        make_id(0, ++s->id_counter, e->id);
    while (id_taken(s, e->id));
    e->created_ms = e->updated_ms = tick(s);
    if (append(s, e) != 0)
        goto out;
    if (commit(s) != 0) {
        s->n--;
        goto out;
    }
    *json = render(s, e, real);
    e = NULL;
    rc = *json ? 201 : 500;
out:
    pthread_mutex_unlock(&s->lock);
    if (e)
        archive_undo(s, c);
    ext_free(e);
    return rc;
}

/* The record as it will be after the change; NULL on ENOMEM. */
static struct ext *changed(const struct ext *old, const struct ext_change *c, const cJSON *fresh,
                           const char checksum[33])
{
    struct ext *e = ext_clone(old);

    if (!e)
        return NULL;
    if (c->archive && (set_archive(e, c, checksum) != 0 || model_merge_qext(e->attrs, fresh) != 0))
        goto fail;
    if (c->data && model_apply_data(e->attrs, c->data, !c->archive) != 0)
        goto fail;
    return e;
fail:
    ext_free(e);
    return NULL;
}

int store_update(struct store *s, const char *key, const struct ext_change *c, bool real,
                 char **json, char *why, size_t whysz)
{
    cJSON *fresh = c->archive ? model_from_qext(c->zi) : NULL;
    struct ext *old = NULL, *e = NULL;
    uint64_t old_gen = 0;
    char checksum[33];
    bool done = false;
    size_t i;
    int rc = 500;

    if ((c->archive && !fresh) || archive_prework(s, c, checksum) != 0)
        goto out_unlocked;
    pthread_mutex_lock(&s->lock);
    rc = lookup(s, key, &i);
    if (rc != 200)
        goto out;
    old = s->v[i];
    rc = 500;
    e = changed(old, c, fresh, checksum);
    if (!e)
        goto out;
    if (name_taken(s, model_name(e->attrs), old)) {
        snprintf(why, whysz, "An extension with qextFilename '%s' already exists",
                 model_name(e->attrs));
        rc = 409;
        goto out;
    }
    e->updated_ms = tick(s);
    s->v[i] = e;
    if (commit(s) != 0) {
        s->v[i] = old;
        goto out;
    }
    done = true;
    *json = render(s, e, real);
    rc = *json ? 200 : 500;
    old_gen = c->archive && old->archive ? old->archive->gen : 0;
    ext_free(old);
    e = NULL;
out:
    pthread_mutex_unlock(&s->lock);
out_unlocked:
    if (!done)
        archive_undo(s, c);
    if (old_gen && s->state_dir)
        persist_remove_archive(s->state_dir, old_gen);
    ext_free(e);
    cJSON_Delete(fresh);
    return rc;
}

int store_delete(struct store *s, const char *key)
{
    size_t i;
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = lookup(s, key, &i);
    if (rc == 200) {
        s->v[i]->deleted = true;
        s->v[i]->updated_ms = tick(s);
        rc = 204;
        if (commit(s) != 0) {
            s->v[i]->deleted = false;
            rc = 500;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_archive(struct store *s, const char *key, struct archive_ref *out)
{
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->lock);
    rc = lookup(s, key, &i);
    if (rc == 200 && !s->v[i]->archive)
        rc = 404;
    if (rc == 200) {
        out->archive = blob_ref(s->v[i]->archive);
        out->prefix = strdup(s->v[i]->prefix);
        out->name = strdup(model_name(s->v[i]->attrs));
        if (!out->prefix || !out->name)
            rc = 500;
    }
    pthread_mutex_unlock(&s->lock);
    if (rc != 200)
        archive_ref_free(out);
    return rc;
}

void archive_ref_free(struct archive_ref *r)
{
    blob_unref(r->archive);
    free(r->prefix);
    free(r->name);
    memset(r, 0, sizeof(*r));
}
