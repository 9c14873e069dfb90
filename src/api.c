/* api: owns the extension endpoints' paths, methods and expected statuses, and the reading of
 * the models the service returns. Nothing in a response is trusted: a field of the wrong type
 * counts as absent, deep nesting is refused before cJSON recurses into it, and an item the
 * filesystem cannot name is skipped rather than failing the whole list. */
#include "api.h"
#include "log.h"
#include "path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_BASE "/api/v1/extensions"
#define JSON_DEPTH_MAX 64

static void set_msg(char *msg, size_t msgsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msgsz, const char *fmt, ...)
{
    va_list ap;

    if (!msg || !msgsz)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, msgsz, fmt, ap);
    va_end(ap);
}

/* --- time ------------------------------------------------------------------------------ */

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/* "Z", "+hh:mm", "-hhmm" or nothing (taken as UTC); seconds east of UTC into *off. */
static bool parse_zone(const char *p, long *off)
{
    int hh, mm;
    int sign;

    *off = 0;
    if (*p == '\0')
        return true;
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if (*p != '+' && *p != '-')
        return false;
    sign = *p++ == '-' ? -1 : 1;
    if (!digits(&p, 2, &hh))
        return false;
    if (*p == ':')
        p++;
    if (!digits(&p, 2, &mm) || *p || hh > 23 || mm > 59)
        return false;
    *off = sign * (hh * 3600L + mm * 60L);
    return true;
}

time_t api_parse_time(const char *s)
{
    struct tm tm = {0};
    const char *p = s;
    int y, mo, d, h, mi, sec;
    long off;
    time_t t;

    if (!s)
        return 0;
    if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
        !digits(&p, 2, &d))
        return 0;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return 0;
    p++;
    if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) || !expect(&p, ':') ||
        !digits(&p, 2, &sec))
        return 0;
    if (*p == '.' || *p == ',') {
        if (p[1] < '0' || p[1] > '9')
            return 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    }
    if (!parse_zone(p, &off) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return 0;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    return t == (time_t)-1 ? 0 : t - off;
}

/* --- JSON -------------------------------------------------------------------------------- */

/* Refuses nesting deeper than JSON_DEPTH_MAX before cJSON recurses once per level. Brackets
 * inside strings do not count. */
static bool depth_ok(const char *json, size_t len)
{
    bool in_str = false, esc = false;
    int depth = 0;

    for (size_t i = 0; i < len; i++) {
        char c = json[i];

        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > JSON_DEPTH_MAX)
                return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

static int parse_json(const char *json, size_t len, cJSON **root, char *err, size_t errsz)
{
    const char *end = NULL;

    *root = NULL;
    if (!json || len == 0) {
        set_msg(err, errsz, "empty response");
        return -EPROTO;
    }
    if (!depth_ok(json, len)) {
        set_msg(err, errsz, "JSON nested too deeply");
        return -EPROTO;
    }
    *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!*root) {
        size_t at = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;

        set_msg(err, errsz, "invalid JSON near byte %zu", at);
        return -EPROTO;
    }
    /* cJSON stops after the first value; anything but whitespace after it is garbage. */
    while (end < json + len && strchr(" \t\r\n", *end) && *end)
        end++;
    if (end < json + len) {
        set_msg(err, errsz, "trailing data after JSON at byte %zu", (size_t)(end - json));
        cJSON_Delete(*root);
        *root = NULL;
        return -EPROTO;
    }
    return 0;
}

/* A string field, or NULL when it is absent, empty or not a string. */
static const char *field(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) && v->valuestring && v->valuestring[0] ? v->valuestring : NULL;
}

static int dup_field(char **dst, const char *s)
{
    *dst = NULL;
    if (!s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : -ENOMEM;
}

/* Fills out from one model object. Fields of the wrong type are left NULL. */
static int ext_from_json(const cJSON *o, struct api_ext *out)
{
    const char *updated = field(o, "updatedAt") ? field(o, "updatedAt") : field(o, "updateAt");
    const char *md5 = field(cJSON_GetObjectItemCaseSensitive(o, "file"), "md5");
    const char *token = field(o, "checksum");
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!token)
        token = md5 ? md5 : updated;
    rc |= dup_field(&out->id, field(o, "id"));
    rc |= dup_field(&out->qext_filename, field(o, "qextFilename"));
    rc |= dup_field(&out->name, field(o, "name"));
    rc |= dup_field(&out->version, field(o, "version"));
    rc |= dup_field(&out->qext_version, field(o, "qextVersion"));
    rc |= dup_field(&out->author, field(o, "author"));
    rc |= dup_field(&out->type, field(o, "type"));
    rc |= dup_field(&out->description, field(o, "description"));
    rc |= dup_field(&out->updated_at, updated);
    rc |= dup_field(&out->version_token, token);
    out->model_json = cJSON_PrintUnformatted(o);
    out->mtime = api_parse_time(updated);
    if (rc || !out->model_json) {
        api_ext_free(out);
        return -ENOMEM;
    }
    return 0;
}

int api_parse_ext(const char *json, size_t len, struct api_ext *out, char *err, size_t errsz)
{
    cJSON *root;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_json(json, len, &root, err, errsz);
    if (rc)
        return rc;
    if (!cJSON_IsObject(root)) {
        set_msg(err, errsz, "extension model is not an object");
        rc = -EPROTO;
        goto out;
    }
    if (!field(root, "id")) {
        set_msg(err, errsz, "extension model has no id");
        rc = -EPROTO;
        goto out;
    }
    rc = ext_from_json(root, out);
    if (rc)
        set_msg(err, errsz, "out of memory");
out:
    cJSON_Delete(root);
    return rc;
}

int api_parse_list(const char *json, size_t len, struct api_list *out, char *err, size_t errsz)
{
    const cJSON *data, *item;
    cJSON *root;
    size_t skipped = 0;
    int rc, n;

    memset(out, 0, sizeof(*out));
    rc = parse_json(json, len, &root, err, errsz);
    if (rc)
        return rc;
    data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(data)) {
        set_msg(err, errsz, "list response has no data array");
        rc = -EPROTO;
        goto out;
    }
    n = cJSON_GetArraySize(data);
    out->items = calloc(n > 0 ? (size_t)n : 1, sizeof(*out->items));
    rc = out->items ? 0 : -ENOMEM;
    for (item = data->child; item && rc == 0; item = item->next) {
        if (!cJSON_IsObject(item) || !field(item, "id") || !field(item, "qextFilename")) {
            skipped++;
            continue;
        }
        rc = ext_from_json(item, &out->items[out->n]);
        if (rc == 0)
            out->n++;
    }
    if (rc) {
        set_msg(err, errsz, "out of memory");
        api_list_free(out);
    }
    if (skipped)
        log_warn("extension list: %zu item(s) without id or qextFilename skipped", skipped);
out:
    cJSON_Delete(root);
    return rc;
}

void api_ext_free(struct api_ext *e)
{
    if (!e)
        return;
    free(e->id);
    free(e->qext_filename);
    free(e->name);
    free(e->version);
    free(e->qext_version);
    free(e->author);
    free(e->type);
    free(e->description);
    free(e->updated_at);
    free(e->version_token);
    free(e->model_json);
    memset(e, 0, sizeof(*e));
}

void api_list_free(struct api_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        api_ext_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int api_ext_copy(struct api_ext *dst, const struct api_ext *src)
{
    int rc = 0;

    memset(dst, 0, sizeof(*dst));
    rc |= dup_field(&dst->id, src->id);
    rc |= dup_field(&dst->qext_filename, src->qext_filename);
    rc |= dup_field(&dst->name, src->name);
    rc |= dup_field(&dst->version, src->version);
    rc |= dup_field(&dst->qext_version, src->qext_version);
    rc |= dup_field(&dst->author, src->author);
    rc |= dup_field(&dst->type, src->type);
    rc |= dup_field(&dst->description, src->description);
    rc |= dup_field(&dst->updated_at, src->updated_at);
    rc |= dup_field(&dst->version_token, src->version_token);
    rc |= dup_field(&dst->model_json, src->model_json);
    dst->mtime = src->mtime;
    if (rc) {
        api_ext_free(dst);
        return -ENOMEM;
    }
    return 0;
}

/* --- endpoints --------------------------------------------------------------------------- */

/* API_BASE "/<id>" suffix ["/<filepath>"], each part percent-encoded. NULL on ENOMEM. */
static char *ext_path(const char *id, const char *suffix, const char *filepath)
{
    char *eid = path_url_encode(id, false);
    char *efile = filepath ? path_url_encode(filepath, true) : NULL;
    char *out = NULL;

    if (eid && (!filepath || efile) &&
        asprintf(&out, API_BASE "/%s%s%s%s", eid, suffix, filepath ? "/" : "",
                 filepath ? efile : "") < 0)
        out = NULL;
    free(eid);
    free(efile);
    return out;
}

/* Runs req; on failure copies http's one-line reason into msg. */
static int run(struct http *h, const struct http_req *req, struct http_resp *resp, char *msg,
               size_t msgsz)
{
    int rc = http_do(h, req, resp);

    if (rc)
        set_msg(msg, msgsz, "%s", resp->message[0] ? resp->message : strerror(-rc));
    return rc;
}

/* The service answered below 400 but not with what this endpoint promises. */
static int expect_status(const struct http_resp *resp, long a, long b, const char *what, char *msg,
                         size_t msgsz)
{
    if (resp->status == a || resp->status == b)
        return 0;
    set_msg(msg, msgsz, "%s: unexpected status %ld", what, resp->status);
    return -EPROTO;
}

static int model_from(const struct http_resp *resp, const char *what, struct api_ext *out,
                      char *msg, size_t msgsz)
{
    char err[256] = "";
    int rc;

    if (!out)
        return 0;
    rc = api_parse_ext(resp->body, resp->body_len, out, err, sizeof(err));
    if (rc)
        set_msg(msg, msgsz, "%s: cannot read the service's reply: %s", what, err);
    return rc;
}

int api_list_extensions(struct http *h, struct api_list *out, char *msg, size_t msgsz)
{
    struct http_resp resp;
    struct http_req req;
    char err[256] = "";
    int rc;

    memset(out, 0, sizeof(*out));
    http_req_init(&req, "GET", API_BASE);
    rc = run(h, &req, &resp, msg, msgsz);
    if (rc == 0)
        rc = expect_status(&resp, 200, 200, "listing extensions", msg, msgsz);
    if (rc == 0) {
        rc = api_parse_list(resp.body, resp.body_len, out, err, sizeof(err));
        if (rc)
            set_msg(msg, msgsz, "listing extensions: %s", err);
    }
    http_resp_free(&resp);
    return rc;
}

int api_get_extension(struct http *h, const char *id, struct api_ext *out, char *msg, size_t msgsz)
{
    struct http_resp resp;
    struct http_req req;
    char *path = ext_path(id, "", NULL);
    int rc;

    memset(out, 0, sizeof(*out));
    if (!path) {
        set_msg(msg, msgsz, "out of memory");
        return -ENOMEM;
    }
    http_req_init(&req, "GET", path);
    rc = run(h, &req, &resp, msg, msgsz);
    if (rc == 0)
        rc = expect_status(&resp, 200, 200, "reading the extension", msg, msgsz);
    if (rc == 0)
        rc = model_from(&resp, "reading the extension", out, msg, msgsz);
    http_resp_free(&resp);
    free(path);
    return rc;
}

/* A ranged (or whole) GET of a file endpoint into sink. */
static int get_bytes(struct http *h, char *path, int64_t start, int64_t end, http_sink_fn sink,
                     void *arg, bool *partial, int64_t *total, char *msg, size_t msgsz)
{
    struct http_resp resp;
    struct http_req req;
    int rc;

    if (!path) {
        set_msg(msg, msgsz, "out of memory");
        return -ENOMEM;
    }
    http_req_init(&req, "GET", path);
    req.range_start = start;
    req.range_end = end;
    req.sink = sink;
    req.sink_arg = arg;
    rc = run(h, &req, &resp, msg, msgsz);
    if (rc == 0)
        rc = expect_status(&resp, 200, 206, "downloading", msg, msgsz);
    if (partial)
        *partial = (rc == 0 || rc == -ECANCELED) && resp.partial;
    if (total)
        *total = rc == 0 && resp.partial ? resp.total_len : -1;
    http_resp_free(&resp);
    free(path);
    return rc;
}

int api_get_archive(struct http *h, const char *id, http_sink_fn sink, void *arg, char *msg,
                    size_t msgsz)
{
    return get_bytes(h, ext_path(id, "/file", NULL), -1, -1, sink, arg, NULL, NULL, msg, msgsz);
}

int api_get_archive_tail(struct http *h, const char *id, uint64_t tail_len, http_sink_fn sink,
                         void *arg, bool *partial, int64_t *total, char *msg, size_t msgsz)
{
    *partial = false;
    *total = -1;
    if (tail_len == 0 || tail_len > INT64_MAX)
        return api_get_archive(h, id, sink, arg, msg, msgsz);
    return get_bytes(h, ext_path(id, "/file", NULL), -1, (int64_t)tail_len, sink, arg, partial,
                     total, msg, msgsz);
}

int api_get_archive_range(struct http *h, const char *id, uint64_t off, uint64_t len,
                          http_sink_fn sink, void *arg, bool *partial, char *msg, size_t msgsz)
{
    /* An empty range needs no request; "start-(start-1)" would be invalid. */
    *partial = true;
    if (len == 0)
        return 0;
    if (off > INT64_MAX || len > INT64_MAX - off) {
        set_msg(msg, msgsz, "range out of bounds");
        return -EINVAL;
    }
    return get_bytes(h, ext_path(id, "/file", NULL), (int64_t)off, (int64_t)(off + len - 1), sink,
                     arg, partial, NULL, msg, msgsz);
}

int api_get_file(struct http *h, const char *id, const char *filepath, uint64_t off, uint64_t len,
                 http_sink_fn sink, void *arg, bool *partial, char *msg, size_t msgsz)
{
    int64_t start = -1, end = -1;

    *partial = false;
    if (len > 0) {
        if (off > INT64_MAX || len > INT64_MAX - off) {
            set_msg(msg, msgsz, "range out of bounds");
            return -EINVAL;
        }
        start = (int64_t)off;
        end = (int64_t)(off + len - 1);
    }
    return get_bytes(h, ext_path(id, "/file", filepath), start, end, sink, arg, partial, NULL, msg,
                     msgsz);
}

static int upload(struct http *h, const char *method, char *path, const char *zip_path,
                  const char *data_json, long ok1, long ok2, struct api_ext *out, char *msg,
                  size_t msgsz)
{
    const char *what =
        strcmp(method, "POST") == 0 ? "creating the extension" : "updating the extension";
    struct http_resp resp;
    struct http_req req;
    int rc;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!path) {
        set_msg(msg, msgsz, "out of memory");
        return -ENOMEM;
    }
    http_req_init(&req, method, path);
    req.mp_data_json = data_json ? data_json : "{}";
    req.mp_file_path = zip_path;
    /* The service reads the part, not its name; a fixed name keeps extension names with
     * quotes or control characters (trash restore names the zip after one) uploadable. */
    req.mp_file_name = "extension.zip";
    rc = run(h, &req, &resp, msg, msgsz);
    if (rc == 0)
        rc = expect_status(&resp, ok1, ok2, what, msg, msgsz);
    if (rc == 0)
        rc = model_from(&resp, what, out, msg, msgsz);
    http_resp_free(&resp);
    free(path);
    return rc;
}

int api_create(struct http *h, const char *zip_path, const char *data_json, struct api_ext *out,
               char *msg, size_t msgsz)
{
    return upload(h, "POST", strdup(API_BASE), zip_path, data_json, 201, 200, out, msg, msgsz);
}

int api_update(struct http *h, const char *id, const char *zip_path, const char *data_json,
               struct api_ext *out, char *msg, size_t msgsz)
{
    return upload(h, "PATCH", ext_path(id, "", NULL), zip_path, data_json, 200, 201, out, msg,
                  msgsz);
}

int api_delete(struct http *h, const char *id, char *msg, size_t msgsz)
{
    struct http_resp resp;
    struct http_req req;
    char *path = ext_path(id, "", NULL);
    int rc;

    if (!path) {
        set_msg(msg, msgsz, "out of memory");
        return -ENOMEM;
    }
    http_req_init(&req, "DELETE", path);
    rc = run(h, &req, &resp, msg, msgsz);
    if (rc == 0)
        rc = expect_status(&resp, 204, 200, "deleting the extension", msg, msgsz);
    http_resp_free(&resp);
    free(path);
    return rc;
}
