/* model: derivation, client updates and rendering of the extension model (model.h). */
#include "model.h"

#include "blob.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum ftype { F_STR, F_BOOL, F_OBJ, F_STRS, F_IGNORED };

struct field {
    const char *name;
    enum ftype type;
};

/* What a client may set through `data`; read-only fields are accepted and ignored. */
static const struct field settable[] = {
    {"icon", F_STR},
    {"name", F_STR},
    {"tags", F_STRS},
    {"type", F_STR},
    {"author", F_STR},
    {"bundle", F_OBJ},
    {"bundled", F_BOOL},
    {"license", F_STR},
    {"preview", F_STR},
    {"version", F_STR},
    {"homepage", F_STR},
    {"keywords", F_STR},
    {"loadpath", F_STR},
    {"supplier", F_STR},
    {"supernova", F_BOOL},
    {"deprecated", F_STR},
    {"repository", F_STR},
    {"description", F_STR},
    {"qextVersion", F_STR},
    {"dependencies", F_OBJ},
    {"qextFilename", F_STR},
    {"file", F_IGNORED},
    {"checksum", F_IGNORED},
    {"id", F_IGNORED},
    {"userId", F_IGNORED},
    {"tenantId", F_IGNORED},
    {"updateAt", F_IGNORED},
    {"createdAt", F_IGNORED},
    {"migrationState", F_IGNORED},
};

static const char *const derived[] = {
    "name",   "type",    "version",   "qextVersion",  "author",   "description",
    "icon",   "preview", "keywords",  "license",      "homepage", "repository",
    "bundle", "bundled", "supernova", "dependencies", "loadpath", NULL};

/* The reference's field order; the real service's differs only in spelling. */
static const char *const order[] = {
    "id",          "file",        "icon",         "name",         "tags",           "type",
    "author",      "bundle",      "userId",       "bundled",      "license",        "preview",
    "version",     "checksum",    "homepage",     "keywords",     "loadpath",       "supplier",
    "tenantId",    "updateAt",    "createdAt",    "supernova",    "deprecated",     "repository",
    "description", "qextVersion", "dependencies", "qextFilename", "migrationState", NULL};

static const char *qext_str(const cJSON *qext, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(qext, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void add_str(cJSON *o, const char *key, const char *val)
{
    if (val)
        cJSON_AddStringToObject(o, key, val);
}

/* Some .qext files list keywords as an array; the model has one string. */
static void add_keywords(cJSON *attrs, const cJSON *qext)
{
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(qext, "keywords");
    const cJSON *item;
    char joined[1024] = "";

    if (cJSON_IsString(kw)) {
        cJSON_AddStringToObject(attrs, "keywords", kw->valuestring);
        return;
    }
    if (!cJSON_IsArray(kw))
        return;
    cJSON_ArrayForEach(item, kw)
    {
        if (!cJSON_IsString(item))
            continue;
        if (joined[0])
            strncat(joined, ", ", sizeof(joined) - strlen(joined) - 1);
        strncat(joined, item->valuestring, sizeof(joined) - strlen(joined) - 1);
    }
    cJSON_AddStringToObject(attrs, "keywords", joined);
}

static void add_copy(cJSON *attrs, const char *key, const cJSON *v, cJSON *fallback)
{
    cJSON *copy = v ? cJSON_Duplicate(v, true) : NULL;

    if (copy) {
        cJSON_Delete(fallback);
        cJSON_AddItemToObject(attrs, key, copy);
    } else if (fallback) {
        cJSON_AddItemToObject(attrs, key, fallback);
    }
}

cJSON *model_from_qext(const struct zinfo *zi)
{
    const cJSON *q = zi->qext;
    const cJSON *deps = cJSON_GetObjectItemCaseSensitive(q, "dependencies");
    const cJSON *bundle = cJSON_GetObjectItemCaseSensitive(q, "bundle");
    const cJSON *sn = cJSON_GetObjectItemCaseSensitive(q, "supernova");
    const char *name = qext_str(q, "name");
    cJSON *a = cJSON_CreateObject();

    if (!a)
        return NULL;
    add_str(a, "name", name ? name : zi->qext_name);
    add_str(a, "type", qext_str(q, "type"));
    add_str(a, "version", qext_str(q, "version"));
    add_str(a, "qextVersion", qext_str(q, "version"));
    add_str(a, "author", qext_str(q, "author"));
    add_str(a, "description", qext_str(q, "description"));
    add_str(a, "icon", qext_str(q, "icon"));
    add_str(a, "preview", qext_str(q, "preview"));
    add_keywords(a, q);
    add_str(a, "license", qext_str(q, "license"));
    add_str(a, "homepage", qext_str(q, "homepage"));
    add_str(a, "repository", qext_str(q, "repository"));
    add_copy(a, "dependencies", cJSON_IsObject(deps) ? deps : NULL, cJSON_CreateObject());
    add_copy(a, "bundle", cJSON_IsObject(bundle) ? bundle : NULL, NULL);
    cJSON_AddBoolToObject(a, "bundled", cJSON_IsObject(bundle));
    cJSON_AddBoolToObject(a, "supernova", cJSON_IsTrue(sn));
    add_str(a, "loadpath", qext_str(q, "loadpath") ? qext_str(q, "loadpath") : zi->qext_name);
    cJSON_AddItemToObject(a, "tags", cJSON_CreateArray());
    add_str(a, "qextFilename", zi->qext_name);
    return a;
}

cJSON *model_from_data(const cJSON *data)
{
    cJSON *a = cJSON_CreateObject();
    const char *name;

    if (!a || model_apply_data(a, data, true) != 0 || !(name = model_name(a)))
        goto fail;
    if (!cJSON_GetObjectItemCaseSensitive(a, "name"))
        cJSON_AddStringToObject(a, "name", name);
    if (!cJSON_GetObjectItemCaseSensitive(a, "loadpath"))
        cJSON_AddStringToObject(a, "loadpath", name);
    if (!cJSON_GetObjectItemCaseSensitive(a, "dependencies"))
        cJSON_AddItemToObject(a, "dependencies", cJSON_CreateObject());
    if (!cJSON_GetObjectItemCaseSensitive(a, "tags"))
        cJSON_AddItemToObject(a, "tags", cJSON_CreateArray());
    if (!cJSON_GetObjectItemCaseSensitive(a, "bundled"))
        cJSON_AddBoolToObject(a, "bundled", false);
    if (!cJSON_GetObjectItemCaseSensitive(a, "supernova"))
        cJSON_AddBoolToObject(a, "supernova", false);
    return a;
fail:
    cJSON_Delete(a);
    return NULL;
}

static bool type_ok(const cJSON *v, enum ftype t)
{
    const cJSON *item;

    if (cJSON_IsNull(v) || t == F_IGNORED)
        return true;
    switch (t) {
    case F_STR:
        return cJSON_IsString(v);
    case F_BOOL:
        return cJSON_IsBool(v);
    case F_OBJ:
        return cJSON_IsObject(v);
    case F_STRS:
        if (!cJSON_IsArray(v))
            return false;
        cJSON_ArrayForEach(item, v)
        {
            if (!cJSON_IsString(item))
                return false;
        }
        return true;
    default:
        return true;
    }
}

static const struct field *find_field(const char *name)
{
    for (size_t i = 0; i < sizeof(settable) / sizeof(settable[0]); i++)
        if (strcmp(settable[i].name, name) == 0)
            return &settable[i];
    return NULL;
}

/* A qextFilename becomes a folder name on every client: it must be one path component. */
static int check_rename(const cJSON *data, char *why, size_t whysz, const char **field)
{
    const cJSON *qf = cJSON_GetObjectItemCaseSensitive(data, "qextFilename");

    if (cJSON_IsString(qf) &&
        (!qf->valuestring[0] || strchr(qf->valuestring, '/') || strcmp(qf->valuestring, ".") == 0 ||
         strcmp(qf->valuestring, "..") == 0)) {
        snprintf(why, whysz, "'qextFilename' must be a non-empty name without '/'");
        *field = "qextFilename";
        return 422;
    }
    return 0;
}

int model_check_data(const cJSON *data, char *why, size_t whysz, const char **field)
{
    const cJSON *v;

    cJSON_ArrayForEach(v, data)
    {
        const struct field *f = v->string ? find_field(v->string) : NULL;

        if (f && !type_ok(v, f->type)) {
            static const char *const tname[] = {"a string", "a boolean", "an object",
                                                "an array of strings", ""};
            snprintf(why, whysz, "'%s' must be %s", f->name, tname[f->type]);
            *field = f->name;
            return 422;
        }
    }
    return check_rename(data, why, whysz, field);
}

int model_apply_data(cJSON *attrs, const cJSON *data, bool rename)
{
    const cJSON *v;

    cJSON_ArrayForEach(v, data)
    {
        const struct field *f = v->string ? find_field(v->string) : NULL;
        cJSON *copy;

        if (!f || f->type == F_IGNORED)
            continue;
        if (strcmp(f->name, "qextFilename") == 0 && (!rename || cJSON_IsNull(v)))
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(attrs, f->name);
        if (cJSON_IsNull(v))
            continue;
        copy = cJSON_Duplicate(v, true);
        if (!copy || !cJSON_AddItemToObject(attrs, f->name, copy)) {
            cJSON_Delete(copy);
            return -ENOMEM;
        }
    }
    return 0;
}

int model_merge_qext(cJSON *attrs, const cJSON *fresh)
{
    const cJSON *v;

    for (int i = 0; derived[i]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(attrs, derived[i]);
    cJSON_ArrayForEach(v, fresh)
    {
        cJSON *copy;

        /* Tags are the client's, not the .qext's: keep them across new archives. */
        if (strcmp(v->string, "tags") == 0 && cJSON_GetObjectItemCaseSensitive(attrs, "tags"))
            continue;
        copy = cJSON_Duplicate(v, true);
        cJSON_DeleteItemFromObjectCaseSensitive(attrs, v->string);
        if (!copy || !cJSON_AddItemToObject(attrs, v->string, copy)) {
            cJSON_Delete(copy);
            return -ENOMEM;
        }
    }
    return 0;
}

const char *model_name(const cJSON *attrs)
{
    return qext_str(attrs, "qextFilename");
}

void model_time(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    char tmp[128]; /* room for any int fields, so the compiler sees no truncation */
    struct tm tm;

    gmtime_r(&secs, &tm);
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    snprintf(out, 32, "%.31s", tmp);
}

/* The live service's `file` object; fileId is stable per archive version. */
static cJSON *real_file(const struct ext *e)
{
    cJSON *f = cJSON_CreateObject();
    char fid[25];
    uint64_t x;

    if (!f || !e->archive)
        return f;
    x = e->archive->gen * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    snprintf(fid, sizeof(fid), "%08x%016llx", (unsigned)(e->archive->gen & 0xffffffff),
             (unsigned long long)x);
    cJSON_AddStringToObject(f, "contentType", "application/zip");
    cJSON_AddNumberToObject(f, "contentLength", (double)e->archive->len);
    cJSON_AddStringToObject(f, "md5", e->checksum);
    cJSON_AddStringToObject(f, "fileId", fid);
    cJSON_AddStringToObject(f, "originalname", e->originalname ? e->originalname : "");
    return f;
}

/* Fields the store keeps outside attrs. Returns false when key is an attrs field. */
static bool add_synthetic(cJSON *o, const char *key, const struct ext *e, const char *tenant_id,
                          const char *user_id, bool real)
{
    char ts[32];

    if (strcmp(key, "id") == 0) {
        cJSON_AddStringToObject(o, "id", e->id);
    } else if (strcmp(key, "file") == 0) {
        cJSON_AddItemToObject(o, "file", real ? real_file(e) : cJSON_CreateObject());
    } else if (strcmp(key, "userId") == 0) {
        cJSON_AddStringToObject(o, "userId", user_id);
    } else if (strcmp(key, "tenantId") == 0) {
        cJSON_AddStringToObject(o, "tenantId", tenant_id);
    } else if (strcmp(key, "checksum") == 0) {
        if (!real && e->checksum[0])
            cJSON_AddStringToObject(o, "checksum", e->checksum);
    } else if (strcmp(key, "updateAt") == 0) {
        model_time(e->updated_ms, ts);
        cJSON_AddStringToObject(o, real ? "updatedAt" : "updateAt", ts);
    } else if (strcmp(key, "createdAt") == 0) {
        model_time(e->created_ms, ts);
        cJSON_AddStringToObject(o, "createdAt", ts);
    } else {
        return false;
    }
    return true;
}

cJSON *model_render(const struct ext *e, const char *tenant_id, const char *user_id,
                    bool real_shape)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    for (int i = 0; order[i]; i++) {
        const cJSON *v;

        if (add_synthetic(o, order[i], e, tenant_id, user_id, real_shape))
            continue;
        v = cJSON_GetObjectItemCaseSensitive(e->attrs, order[i]);
        if (v)
            cJSON_AddItemToObject(o, order[i], cJSON_Duplicate(v, true));
    }
    return o;
}
