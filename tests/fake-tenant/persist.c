/* persist: the --state directory (persist.h). No fsync: the point is surviving a restart of
 * the fake, not a power cut, and rename already gives all-or-nothing files. */
#include "persist.h"

#include "blob.h"
#include "log.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[4096];
    int fd, rc = -1;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)gettid()) >= (int)sizeof(tmp))
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, len) == 0)
        rc = 0;
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

static int read_file(const char *path, void **out, size_t *outlen)
{
    struct buf b = {0};
    char chunk[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || buf_append(&b, chunk, (size_t)n) != 0) {
            close(fd);
            buf_free(&b);
            return -EIO;
        }
    }
    close(fd);
    if (buf_append(&b, "", 1) != 0) { /* NUL for text; not counted */
        buf_free(&b);
        return -ENOMEM;
    }
    *out = b.data;
    *outlen = b.len - 1;
    return 0;
}

static void archive_path(char *out, size_t outsz, const char *dir, uint64_t gen)
{
    snprintf(out, outsz, "%s/archives/%llu.zip", dir, (unsigned long long)gen);
}

int persist_write_archive(const char *dir, const struct blob *b)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/archives", dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -1;
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -1;
    archive_path(path, sizeof(path), dir, b->gen);
    return write_atomic(path, b->data, b->len);
}

void persist_remove_archive(const char *dir, uint64_t gen)
{
    char path[4096];

    archive_path(path, sizeof(path), dir, gen);
    if (unlink(path) != 0 && errno != ENOENT)
        log_warn("fake-tenant: could not remove %s", path);
}

static cJSON *ext_to_json(const struct ext *e)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", e->id);
    cJSON_AddBoolToObject(o, "deleted", e->deleted);
    cJSON_AddNumberToObject(o, "createdMs", (double)e->created_ms);
    cJSON_AddNumberToObject(o, "updatedMs", (double)e->updated_ms);
    cJSON_AddStringToObject(o, "checksum", e->checksum);
    if (e->archive) {
        cJSON_AddNumberToObject(o, "gen", (double)e->archive->gen);
        cJSON_AddStringToObject(o, "prefix", e->prefix);
        cJSON_AddStringToObject(o, "originalname", e->originalname);
    }
    cJSON_AddItemToObject(o, "attrs", cJSON_Duplicate(e->attrs, true));
    return o;
}

int persist_save(const struct store *s, const char *dir)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "extensions");
    char path[4096], *text = NULL;
    int rc = -1;

    if (!list)
        goto out;
    cJSON_AddNumberToObject(root, "idCounter", (double)s->id_counter);
    cJSON_AddNumberToObject(root, "clockMs", (double)s->clock_ms);
    cJSON_AddNumberToObject(root, "nextGen", (double)atomic_load(&s->next_gen));
    for (size_t i = 0; i < s->n; i++) {
        cJSON *o = ext_to_json(s->v[i]);

        if (!o || !cJSON_AddItemToArray(list, o)) {
            cJSON_Delete(o);
            goto out;
        }
    }
    text = cJSON_Print(root);
    if (!text || (mkdir(dir, 0755) != 0 && errno != EEXIST))
        goto out;
    snprintf(path, sizeof(path), "%s/state.json", dir);
    rc = write_atomic(path, text, strlen(text));
out:
    free(text);
    cJSON_Delete(root);
    return rc;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int load_archive(struct ext *e, const cJSON *o, const char *dir)
{
    char path[4096];
    void *data;
    size_t len;
    uint64_t gen = (uint64_t)jnum(o, "gen");

    if (!gen)
        return 0;
    archive_path(path, sizeof(path), dir, gen);
    if (read_file(path, &data, &len) != 0) {
        log_err("fake-tenant: cannot read %s", path);
        return -1;
    }
    e->archive = blob_wrap(data, len);
    if (!e->archive)
        return -1;
    e->archive->gen = gen;
    e->prefix = strdup(jstr(o, "prefix") ? jstr(o, "prefix") : "");
    e->originalname = strdup(jstr(o, "originalname") ? jstr(o, "originalname") : "");
    return e->prefix && e->originalname ? 0 : -1;
}

static struct ext *ext_from_json(const cJSON *o, const char *dir)
{
    struct ext *e = calloc(1, sizeof(*e));
    const char *id = jstr(o, "id"), *sum = jstr(o, "checksum");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(o, "attrs");

    if (!e || !id || strlen(id) != 32 || !cJSON_IsObject(attrs))
        goto fail;
    memcpy(e->id, id, 33);
    if (sum && strlen(sum) == 32)
        memcpy(e->checksum, sum, 33);
    e->deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "deleted"));
    e->created_ms = (int64_t)jnum(o, "createdMs");
    e->updated_ms = (int64_t)jnum(o, "updatedMs");
    e->attrs = cJSON_Duplicate(attrs, true);
    if (!e->attrs || load_archive(e, o, dir) != 0)
        goto fail;
    return e;
fail:
    if (e) {
        cJSON_Delete(e->attrs);
        blob_unref(e->archive);
        free(e->prefix);
        free(e->originalname);
        free(e);
    }
    return NULL;
}

static int load_list(struct store *s, const cJSON *list, const char *dir)
{
    const cJSON *o;
    size_t n = (size_t)cJSON_GetArraySize(list);

    s->v = calloc(n ? n : 1, sizeof(*s->v));
    if (!s->v)
        return -1;
    s->cap = n ? n : 1;
    cJSON_ArrayForEach(o, list)
    {
        struct ext *e = ext_from_json(o, dir);

        if (!e)
            return -1;
        s->v[s->n++] = e;
        if (e->archive && e->archive->gen >= atomic_load(&s->next_gen))
            atomic_store(&s->next_gen, e->archive->gen + 1);
    }
    return 0;
}

int persist_load(struct store *s, const char *dir)
{
    char path[4096];
    void *text = NULL;
    size_t len;
    cJSON *root = NULL;
    int rc = -1;

    snprintf(path, sizeof(path), "%s/state.json", dir);
    rc = read_file(path, &text, &len);
    if (rc == -ENOENT)
        return 0;
    rc = -1;
    if (!text)
        goto out;
    root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root) ||
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "extensions"))) {
        log_err("fake-tenant: %s is not a state file", path);
        goto out;
    }
    s->id_counter = (uint64_t)jnum(root, "idCounter");
    s->clock_ms = (int64_t)jnum(root, "clockMs");
    if ((uint64_t)jnum(root, "nextGen") > atomic_load(&s->next_gen))
        atomic_store(&s->next_gen, (uint64_t)jnum(root, "nextGen"));
    if (load_list(s, cJSON_GetObjectItemCaseSensitive(root, "extensions"), dir) != 0) {
        log_err("fake-tenant: cannot load the extensions in %s", path);
        goto out;
    }
    rc = 1;
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}
