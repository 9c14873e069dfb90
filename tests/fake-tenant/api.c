/* api: routing of /api/v1/extensions and the read endpoints: the list, one model, the
 * archive and one file from inside it (server.h). */
#include "api.h"

#include "blob.h"
#include "respond.h"
#include "server.h"
#include "zipcheck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum MHD_Result api_lookup_error(struct ft_req *r, int status)
{
    char msg[512];

    if (status == 404)
        snprintf(msg, sizeof(msg), "Could not find the extension with %s", r->id);
    else if (status == 410)
        snprintf(msg, sizeof(msg), "Extension with %s has been deleted", r->id);
    else
        snprintf(msg, sizeof(msg), "The request could not be completed");
    return respond_error(r, status, msg, r->id, NULL, NULL);
}

static const char *mime_of(const char *name)
{
    static const char *const map[] = {"js",    "application/javascript",
                                      "mjs",   "application/javascript",
                                      "css",   "text/css",
                                      "json",  "application/json",
                                      "qext",  "application/json",
                                      "map",   "application/json",
                                      "html",  "text/html",
                                      "htm",   "text/html",
                                      "txt",   "text/plain",
                                      "md",    "text/markdown",
                                      "png",   "image/png",
                                      "jpg",   "image/jpeg",
                                      "jpeg",  "image/jpeg",
                                      "gif",   "image/gif",
                                      "svg",   "image/svg+xml",
                                      "woff",  "font/woff",
                                      "woff2", "font/woff2",
                                      "ttf",   "font/ttf",
                                      NULL};
    const char *dot = strrchr(name, '.');

    if (!dot || strchr(dot, '/'))
        return "application/octet-stream";
    for (int i = 0; map[i]; i += 2)
        if (strcasecmp(dot + 1, map[i]) == 0)
            return map[i + 1];
    return "application/octet-stream";
}

/* One padding model: every field fixed-width, so all have the same length. About as big as a
 * live model (~1 KB), so a padded list is what a tenant with that many extensions returns. */
static int pad_item(char *out, size_t outsz, size_t i, bool real)
{
    static const char desc[] = "Padding that --list-pad adds to the list; it has no archive. "
                               "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
                               "eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut "
                               "enim ad minim veniam, quis nostrud exercitation ullamco laboris "
                               "nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in "
                               "reprehenderit in voluptate velit esse cillum dolore eu fugiat "
                               "nulla pariatur. Excepteur sint occaecat cupidatat non proident, "
                               "sunt in culpa qui officia deserunt mollit anim id est laborum.";
    char checksum[64] = "";

    if (!real)
        snprintf(checksum, sizeof(checksum), ",\"checksum\":\"%032zx\"", i);
    return snprintf(out, outsz,
                    "{\"id\":\"pad-%028zu\",\"qextFilename\":\"padding-%07zu\",\"name\":"
                    "\"Padding %07zu\",\"type\":\"visualization\",\"version\":\"1.0.0\","
                    "\"qextVersion\":\"1.0.0\",\"author\":\"Fake Tenant\",\"tags\":[],"
                    "\"description\":\"%s\",\"%s\":\"2024-05-01T12:00:00.000Z\"%s}",
                    i, i, i, desc, real ? "updatedAt" : "updateAt", checksum);
}

/* --list-pad: the list text json ({"data":[...]}, malloc'd) with padding models appended
 * until it is at least pad bytes. They are listed only: GET by id or name is 404. Frees json;
 * NULL on ENOMEM. */
static char *pad_list(char *json, size_t pad, bool real)
{
    size_t len = strlen(json), item_len, n, at;
    char probe[2048];
    bool empty;
    char *out;

    if (len >= pad || len < 3 || strcmp(json + len - 2, "]}") != 0)
        return json;
    item_len = (size_t)pad_item(probe, sizeof(probe), 0, real) + 1; /* with its comma */
    n = (pad - len + item_len - 1) / item_len;
    empty = json[len - 3] == '[';
    out = malloc(len + n * item_len + 1);
    if (!out) {
        free(json);
        return NULL;
    }
    at = len - 2;
    memcpy(out, json, at);
    free(json);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 || !empty)
            out[at++] = ',';
        at += (size_t)pad_item(out + at, item_len + 1, i + 1, real);
    }
    memcpy(out + at, "]}", 3);
    return out;
}

#define DEEP_LEVELS 100000

/* Replaces the list with the malformed body --bad-list asks for; takes json. */
static char *bad_list_body(enum bad_list mode, char *json)
{
    static const char html[] = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
                               "<body><h1>Bad Gateway</h1></body></html>\n";
    static const char nodata[] = "{\"links\":{\"self\":{\"href\":\"/api/v1/extensions\"}}}";
    char *out;

    switch (mode) {
    case BL_TRUNCATED:
        json[strlen(json) / 2] = '\0';
        return json;
    case BL_NOTJSON:
        free(json);
        return strdup(html);
    case BL_NODATA:
        free(json);
        return strdup(nodata);
    case BL_DEEP:
        free(json);
        out = malloc(sizeof("{\"data\":") + 2 * DEEP_LEVELS + 1);
        if (!out)
            return NULL;
        memcpy(out, "{\"data\":", 8);
        memset(out + 8, '[', DEEP_LEVELS);
        memset(out + 8 + DEEP_LEVELS, ']', DEEP_LEVELS);
        memcpy(out + 8 + 2 * DEEP_LEVELS, "}", 2);
        return out;
    default:
        return json;
    }
}

static enum MHD_Result api_list(struct ft_req *r)
{
    struct fault_cfg fc = faults_get(&r->srv->faults);
    char *json = NULL;
    int rc = store_list(&r->srv->store, r->srv->opt.real_shape, &json);

    if (rc != 200)
        return respond_error(r, 500, "Could not list the extensions", NULL, NULL, NULL);
    if (fc.list_pad && !(json = pad_list(json, fc.list_pad, r->srv->opt.real_shape)))
        return respond_error(r, 500, "Could not list the extensions", NULL, NULL, NULL);
    if (fc.bad_list != BL_OFF && !(json = bad_list_body(fc.bad_list, json)))
        return respond_error(r, 500, "Could not list the extensions", NULL, NULL, NULL);
    return respond_json(r, 200, json);
}

static enum MHD_Result api_get(struct ft_req *r)
{
    char *json = NULL;
    int rc = store_get(&r->srv->store, r->id, r->srv->opt.real_shape, &json);

    if (rc != 200)
        return api_lookup_error(r, rc);
    return respond_json(r, 200, json);
}

static enum MHD_Result api_file(struct ft_req *r)
{
    struct archive_ref ref;
    int rc = store_archive(&r->srv->store, r->id, &ref);
    enum MHD_Result ret;

    if (rc != 200)
        return api_lookup_error(r, rc);
    ret = respond_download(r, "application/zip", ref.archive, NULL);
    archive_ref_free(&ref);
    return ret;
}

/* One entry, from the cache or decompressed once; NULL with *err set otherwise. */
static struct blob *entry_blob(struct ft_server *srv, const struct archive_ref *ref,
                               const char *name, int *err)
{
    struct blob *b = xcache_get(&srv->xcache, ref->archive->gen, name);
    void *data;
    size_t len;

    if (b)
        return b;
    *err = zcheck_extract(ref->archive->data, ref->archive->len, name, &data, &len);
    if (*err)
        return NULL;
    b = blob_wrap(data, len);
    if (!b) {
        *err = -ENOMEM;
        return NULL;
    }
    xcache_put(&srv->xcache, ref->archive->gen, name, b);
    return b;
}

static enum MHD_Result api_filepath(struct ft_req *r)
{
    struct fault_cfg fc = faults_get(&r->srv->faults);
    struct archive_ref ref;
    struct blob *b = NULL;
    char *name = NULL, msg[1024];
    int rc = store_archive(&r->srv->store, r->id, &ref), err = -ENOMEM;
    enum MHD_Result ret;

    if (rc != 200)
        return api_lookup_error(r, rc);
    if (asprintf(&name, "%s%s", ref.prefix, r->filepath) >= 0)
        b = entry_blob(r->srv, &ref, name, &err);
    if (b) {
        size_t short_by = fc.whole_files == 2 ? (b->len < 1000 ? b->len : 1000) : 0;

        ret = fc.whole_files
                  ? respond_body(r, 200, mime_of(r->filepath), b, 0, b->len - short_by, NULL)
                  : respond_download(r, mime_of(r->filepath), b, NULL);
    } else if (err == -ENOENT) {
        snprintf(msg, sizeof(msg), "File %s does not exist in the extension", r->filepath);
        ret = respond_error(r, 404, msg, r->id, NULL, NULL);
    } else {
        ret = respond_error(r, 500, "Could not read the file from the archive", r->id, NULL, NULL);
    }
    blob_unref(b);
    free(name);
    archive_ref_free(&ref);
    return ret;
}

static enum MHD_Result not_allowed(struct ft_req *r, const char *allow)
{
    const char *const h[] = {MHD_HTTP_HEADER_ALLOW, allow, NULL};

    return respond_error(r, 405, "Method not allowed", NULL, NULL, h);
}

enum MHD_Result api_dispatch(struct ft_req *r)
{
    const char *m = r->method;
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;

    if (r->bad_path)
        return respond_error(r, r->bad_path,
                             r->bad_path == 400 ? "Malformed percent-encoding in the path"
                                                : "No such route",
                             NULL, NULL, NULL);
    switch (r->kind) {
    case RT_COLLECTION:
        if (get)
            return api_list(r);
        return strcmp(m, "POST") == 0 ? api_create(r) : not_allowed(r, "GET, POST");
    case RT_ITEM:
        if (get)
            return api_get(r);
        if (strcmp(m, "PATCH") == 0)
            return api_patch(r);
        return strcmp(m, "DELETE") == 0 ? api_delete(r) : not_allowed(r, "GET, PATCH, DELETE");
    case RT_FILE:
        return get ? api_file(r) : not_allowed(r, "GET");
    case RT_FILEPATH:
        return get ? api_filepath(r) : not_allowed(r, "GET");
    default:
        return respond_error(r, 404, "No such route", NULL, NULL, NULL);
    }
}
