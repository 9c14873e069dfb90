/* respond: response construction, error objects, ranges and cut bodies (respond.h). */
#include "respond.h"

#include "blob.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A body that --drop-every cuts: the headers promise len bytes, half of them are sent. */
struct cut {
    struct blob *b;
    size_t off, len, cut;
};

static ssize_t cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct cut *c = cls;
    size_t n;

    if (pos >= c->cut)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    n = c->cut - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, c->b->data + c->off + pos, n);
    return (ssize_t)n;
}

static void cut_free(void *cls)
{
    struct cut *c = cls;

    blob_unref(c->b);
    free(c);
}

static void blob_release(void *cls)
{
    blob_unref(cls);
}

static struct MHD_Response *cut_response(struct blob *b, size_t off, size_t len)
{
    struct cut *c = malloc(sizeof(*c));
    struct MHD_Response *resp;

    if (!c)
        return NULL;
    c->b = blob_ref(b);
    c->off = off;
    c->len = len;
    c->cut = len / 2;
    resp = MHD_create_response_from_callback(len, 64 * 1024, cut_reader, c, cut_free);
    if (!resp)
        cut_free(c);
    return resp;
}

static struct MHD_Response *blob_response(struct blob *b, size_t off, size_t len)
{
    struct MHD_Response *resp;

    blob_ref(b);
    resp = MHD_create_response_from_buffer_with_free_callback_cls(len, len ? b->data + off : NULL,
                                                                  blob_release, b);
    if (!resp)
        blob_unref(b);
    return resp;
}

/* A successful write whose answer /__fake/fault?lose_writes= says to lose. */
static bool lose_answer(const struct ft_req *r, int status)
{
    bool write = strcmp(r->method, "POST") == 0 || strcmp(r->method, "PATCH") == 0 ||
                 strcmp(r->method, "DELETE") == 0;

    return r->api && write && status >= 200 && status < 300 && faults_lose_now(&r->srv->faults);
}

static enum MHD_Result queue(struct ft_req *r, int status, struct MHD_Response *resp,
                             const char *ctype, const char *const *hdrs, uint64_t sent)
{
    enum MHD_Result ret;

    if (!resp)
        return MHD_NO;
    if (lose_answer(r, status)) {
        /* The work is done and counted; returning MHD_NO closes the connection unanswered. */
        MHD_destroy_response(resp);
        stats_fault(&r->srv->stats, SF_LOST);
        return MHD_NO;
    }
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for (int i = 0; hdrs && hdrs[i] && hdrs[i + 1]; i += 2)
        MHD_add_response_header(resp, hdrs[i], hdrs[i + 1]);
    ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) {
        r->status = status;
        r->bytes_out = sent;
        if (r->api)
            stats_response(&r->srv->stats, status, sent);
    }
    return ret;
}

enum MHD_Result respond_body(struct ft_req *r, int status, const char *ctype, struct blob *b,
                             size_t off, size_t len, const char *const *hdrs)
{
    bool drop = r->api && len > 0 && faults_drop_now(&r->srv->faults);

    if (drop) {
        stats_fault(&r->srv->stats, SF_DROPPED);
        return queue(r, status, cut_response(b, off, len), ctype, hdrs, len / 2);
    }
    return queue(r, status, blob_response(b, off, len), ctype, hdrs, len);
}

enum MHD_Result respond_json(struct ft_req *r, int status, char *text)
{
    struct blob *b = text ? blob_wrap(text, strlen(text)) : NULL;
    enum MHD_Result ret;

    if (!b)
        return MHD_NO;
    ret = respond_body(r, status, "application/json", b, 0, b->len, NULL);
    blob_unref(b);
    return ret;
}

enum MHD_Result respond_empty(struct ft_req *r, int status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

    return queue(r, status, resp, NULL, NULL, 0);
}

static const char *title_of(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

/* Trace ids look random, as the service's do, but repeat from run to run. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

enum MHD_Result respond_error(struct ft_req *r, int status, const char *message,
                              const char *resource, const char *pointer, const char *const *hdrs)
{
    cJSON *o = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    struct blob *b = NULL;
    char trace[33], *text;
    enum MHD_Result ret = MHD_NO;
    uint64_t seq = atomic_fetch_add(&r->srv->trace_seq, 1) + 1;

    snprintf(trace, sizeof(trace), "%016" PRIx64 "%016" PRIx64, mix(seq), mix(~seq));
    cJSON_AddStringToObject(o, "title", title_of(status));
    cJSON_AddNumberToObject(o, "status", status);
    if (pointer) {
        cJSON *src = cJSON_AddObjectToObject(o, "source");
        cJSON_AddStringToObject(src, "pointer", pointer);
    }
    cJSON_AddStringToObject(meta, "message", message);
    /* Every error carries the reference's full shape, so a client that reads
     * meta.resourceName never meets an error without one: the extension the path names,
     * else the collection (or the token endpoint). */
    if (!resource)
        resource = r->id ? r->id : r->oauth ? "oauth/token" : "extensions";
    cJSON_AddStringToObject(meta, "resourceName", resource);
    if (!cJSON_AddItemToObject(o, "meta", meta))
        cJSON_Delete(meta);
    cJSON_AddStringToObject(o, "traceId", trace);
    text = cJSON_PrintUnformatted(o);
    if (text)
        b = blob_wrap(text, strlen(text));
    if (b)
        ret = respond_body(r, status, "application/json", b, 0, b->len, hdrs);
    blob_unref(b);
    cJSON_Delete(o);
    return ret;
}

/* 1: one satisfiable range in [*a, *b]; 0: no usable Range, send it all; -1: unsatisfiable.
 * Several ranges are answered with the whole body, as RFC 9110 allows. */
static int parse_range(const char *h, size_t len, size_t *a, size_t *b)
{
    unsigned long long x, y;
    int n = 0;

    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    h += 6;
    if (sscanf(h, "-%llu%n", &y, &n) == 1 && h[n] == '\0') {
        if (y == 0 || len == 0)
            return -1;
        *a = y >= len ? 0 : len - (size_t)y;
        *b = len - 1;
        return 1;
    }
    if (sscanf(h, "%llu-%n", &x, &n) == 1 && h[n] == '\0') {
        y = len ? len - 1 : 0;
    } else if (!(sscanf(h, "%llu-%llu%n", &x, &y, &n) == 2 && h[n] == '\0' && y >= x)) {
        return 0;
    }
    if (x >= len)
        return -1;
    *a = (size_t)x;
    *b = y >= len ? len - 1 : (size_t)y;
    return 1;
}

enum MHD_Result respond_download(struct ft_req *r, const char *ctype, struct blob *b,
                                 const char *const *hdrs)
{
    const char *range;
    char cr[96];
    const char *h[12];
    size_t a = 0, z = 0, n = 0;
    int kind;

    for (int i = 0; hdrs && hdrs[i] && n < 8; i++)
        h[n++] = hdrs[i];
    if (!r->srv->opt.ranges) {
        h[n] = NULL;
        return respond_body(r, 200, ctype, b, 0, b->len, h);
    }
    h[n++] = MHD_HTTP_HEADER_ACCEPT_RANGES;
    h[n++] = "bytes";
    range = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    kind = parse_range(range, b->len, &a, &z);
    h[n++] = MHD_HTTP_HEADER_CONTENT_RANGE;
    h[n++] = cr;
    h[n] = NULL;
    if (kind < 0) {
        snprintf(cr, sizeof(cr), "bytes */%zu", b->len);
        return respond_error(r, 416, "The requested range is not satisfiable", NULL, NULL, h);
    }
    if (kind == 0) {
        h[n - 2] = NULL; /* no Content-Range on a full answer */
        return respond_body(r, 200, ctype, b, 0, b->len, h);
    }
    snprintf(cr, sizeof(cr), "bytes %zu-%zu/%zu", a, z, b->len);
    return respond_body(r, 206, ctype, b, a, z - a + 1, h);
}
