/* status: builds the mount's self-description (see status.h) from the tenant, writeback,
 * block cache and http counters. Read-only: it never changes any state. */
#include "status.h"

#include "blockcache.h"
#include "http.h"
#include "tenant.h"
#include "writeback.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const root_xattrs[] = {
    "user.qextfs.status",
    "user.qextfs.pid",
    "user.qextfs.state_dir",
    NULL,
};

struct ext_walk {
    struct qfs *q;
    cJSON *pending;
    cJSON *errors;
    unsigned count;
};

static int walk_ext(void *arg, struct ext *e)
{
    struct ext_walk *w = arg;
    double now = qfs_now();
    cJSON *o = NULL;

    tenant_lock(w->q->tenant);
    w->count++;
    if (e->staged && ext_dirty(e)) {
        o = cJSON_CreateObject();
        if (o) {
            cJSON_AddStringToObject(o, "name", e->name);
            cJSON_AddNumberToObject(o, "age_s", now - e->dirty_since);
            cJSON_AddNumberToObject(o, "attempts", e->attempts);
            cJSON_AddBoolToObject(o, "uploading", e->uploading);
            cJSON_AddBoolToObject(o, "new", e->is_new);
            if (e->upload_err)
                cJSON_AddStringToObject(o, "error", e->upload_msg);
            cJSON_AddItemToArray(w->pending, o);
        }
    }
    if (e->upload_err) {
        o = cJSON_CreateObject();
        if (o) {
            cJSON_AddStringToObject(o, "name", e->name);
            cJSON_AddStringToObject(o, "error", e->upload_msg);
            cJSON_AddItemToArray(w->errors, o);
        }
    }
    tenant_unlock(w->q->tenant);
    return 0;
}

static void add_counters(struct qfs *q, cJSON *j)
{
    struct bcache_stats bs;
    struct http_stats hs;
    struct tenant_stats ts;
    struct wb_stats ws;
    cJSON *c;

    bcache_get_stats(q->bc, &bs);
    c = cJSON_AddObjectToObject(j, "cache");
    cJSON_AddNumberToObject(c, "bytes", (double)bs.bytes);
    cJSON_AddNumberToObject(c, "capacity", (double)bs.capacity);
    cJSON_AddNumberToObject(c, "hits", (double)bs.hits);
    cJSON_AddNumberToObject(c, "misses", (double)bs.misses);
    cJSON_AddNumberToObject(
        c, "hit_rate", bs.hits + bs.misses ? (double)bs.hits / (double)(bs.hits + bs.misses) : 0.0);
    http_get_stats(q->http, &hs);
    c = cJSON_AddObjectToObject(j, "requests");
    cJSON_AddNumberToObject(c, "total", (double)hs.requests);
    cJSON_AddNumberToObject(c, "status_429", (double)hs.status_429);
    cJSON_AddNumberToObject(c, "retries", (double)hs.retries);
    cJSON_AddNumberToObject(c, "bytes_in", (double)hs.bytes_in);
    cJSON_AddNumberToObject(c, "bytes_out", (double)hs.bytes_out);
    cJSON *by = cJSON_AddObjectToObject(c, "by_endpoint");

    for (int i = 0; by && i < HTTP_EP_COUNT; i++)
        if (hs.by_endpoint[i])
            cJSON_AddNumberToObject(by, http_endpoint_name((enum http_endpoint)i),
                                    (double)hs.by_endpoint[i]);
    tenant_get_stats(q->tenant, &ts);
    c = cJSON_AddObjectToObject(j, "ahead");
    cJSON_AddNumberToObject(c, "archives", (double)ts.archives_ahead);
    cJSON_AddNumberToObject(c, "chunks_queued", (double)ts.chunks_queued);
    cJSON_AddNumberToObject(c, "chunks", (double)ts.chunks_ahead);
    c = cJSON_AddObjectToObject(j, "archives");
    cJSON_AddNumberToObject(c, "bytes", (double)ts.archive_bytes);
    cJSON_AddNumberToObject(c, "limit", (double)q->o.disk_cache);
    cJSON_AddNumberToObject(c, "let_go", (double)ts.archives_evicted);
    wb_get_stats(q->wb, &ws);
    c = cJSON_AddObjectToObject(j, "uploads");
    cJSON_AddNumberToObject(c, "ok", (double)ws.uploads_ok);
    cJSON_AddNumberToObject(c, "failed", (double)ws.uploads_failed);
    cJSON_AddNumberToObject(c, "conflicts", (double)ws.conflicts);
    cJSON_AddNumberToObject(c, "merges", (double)ws.merges);
    cJSON_AddNumberToObject(c, "running", ws.uploading);
}

char *status_json(struct qfs *q)
{
    struct ext_walk w = {.q = q};
    cJSON *j = cJSON_CreateObject();
    char *out = NULL;

    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "tenant", q->o.tenant_url ? q->o.tenant_url : "");
    cJSON_AddNumberToObject(j, "pid", getpid());
    cJSON_AddStringToObject(j, "state_dir", q->state_dir ? q->state_dir : "");
    w.pending = cJSON_AddArrayToObject(j, "pending");
    w.errors = cJSON_AddArrayToObject(j, "errors");
    if (w.pending && w.errors)
        tenant_foreach(q->tenant, walk_ext, &w);
    cJSON_AddNumberToObject(j, "extensions", w.count);
    add_counters(q, j);
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return out;
}

static int copy_value(const char *v, char *buf, size_t size)
{
    size_t n = strlen(v);

    if (size == 0)
        return (int)n;
    if (n > size)
        return -ERANGE;
    memcpy(buf, v, n);
    return (int)n;
}

int status_getxattr(struct qfs *q, const char *name, char *buf, size_t size)
{
    char small[64];
    char *v;
    int rc;

    if (!strcmp(name, "user.qextfs.pid")) {
        snprintf(small, sizeof(small), "%d", (int)getpid());
        return copy_value(small, buf, size);
    }
    if (!strcmp(name, "user.qextfs.state_dir"))
        return copy_value(q->state_dir, buf, size);
    if (strcmp(name, "user.qextfs.status") != 0)
        return -ENODATA;
    v = status_json(q);
    if (!v)
        return -ENOMEM;
    rc = copy_value(v, buf, size);
    cJSON_free(v);
    return rc;
}

int status_listxattr(struct qfs *q, char *buf, size_t size)
{
    size_t total = 0;

    (void)q;
    for (size_t i = 0; root_xattrs[i]; i++) {
        size_t n = strlen(root_xattrs[i]) + 1;

        if (size > 0) {
            if (total + n > size)
                return -ERANGE;
            memcpy(buf + total, root_xattrs[i], n);
        }
        total += n;
    }
    return (int)total;
}
