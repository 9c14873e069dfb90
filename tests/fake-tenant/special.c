/* special: the /__fake/ routes tests use to look behind the service: counters, the stored
 * archive, fault switches, and changing an archive behind a client's back. No auth, no
 * faults, not counted. */
#include "blob.h"
#include "path.h"
#include "respond.h"
#include "server.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *fault_json(const struct fault_cfg *c)
{
    cJSON *o = cJSON_CreateObject();
    char *s;

    cJSON_AddNumberToObject(o, "fail_every", c->fail_every);
    cJSON_AddNumberToObject(o, "drop_every", c->drop_every);
    cJSON_AddNumberToObject(o, "latency_ms", c->latency_ms);
    cJSON_AddBoolToObject(o, "hang", c->hang);
    cJSON_AddBoolToObject(o, "rate_limit", c->rate_limit);
    cJSON_AddNumberToObject(o, "tier1", c->tier1);
    cJSON_AddNumberToObject(o, "tier2", c->tier2);
    cJSON_AddNumberToObject(o, "rate_window", c->rate_window);
    cJSON_AddNumberToObject(o, "list_pad", c->list_pad);
    cJSON_AddNumberToObject(o, "whole_files", c->whole_files);
    cJSON_AddStringToObject(o, "bad_list", bad_list_name(c->bad_list));
    cJSON_AddNumberToObject(o, "lose_writes", c->lose_writes);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

struct fault_parse {
    struct fault_cfg cfg;
    const char *bad; /* first key or value that did not parse */
};

static bool parse_uint(const char *v, unsigned *out)
{
    char *end;
    unsigned long n;

    if (!v || !*v)
        return false;
    errno = 0;
    n = strtoul(v, &end, 10);
    if (errno || *end || n > 86400000ul)
        return false;
    *out = (unsigned)n;
    return true;
}

static enum MHD_Result fault_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct fault_parse *fp = cls;
    struct fault_cfg *c = &fp->cfg;
    unsigned n;
    bool ok = parse_uint(value, &n);

    (void)kind;
    if (strcmp(key, "bad_list") == 0) {
        if (!bad_list_parse(value, &c->bad_list))
            fp->bad = key;
    } else if (ok && strcmp(key, "fail_every") == 0)
        c->fail_every = n;
    else if (ok && strcmp(key, "drop_every") == 0)
        c->drop_every = n;
    else if (ok && strcmp(key, "latency_ms") == 0)
        c->latency_ms = n;
    else if (ok && strcmp(key, "tier1") == 0)
        c->tier1 = n;
    else if (ok && strcmp(key, "tier2") == 0)
        c->tier2 = n;
    else if (ok && n > 0 && strcmp(key, "rate_window") == 0)
        c->rate_window = n;
    else if (ok && strcmp(key, "list_pad") == 0)
        c->list_pad = n;
    else if (ok && n <= 1 && strcmp(key, "hang") == 0)
        c->hang = n;
    else if (ok && n <= 1 && strcmp(key, "rate_limit") == 0)
        c->rate_limit = n;
    else if (ok && n <= 2 && strcmp(key, "whole_files") == 0)
        c->whole_files = n;
    else if (ok && strcmp(key, "lose_writes") == 0)
        c->lose_writes = n;
    else
        fp->bad = key;
    return fp->bad ? MHD_NO : MHD_YES;
}

static enum MHD_Result fake_fault(struct ft_req *r)
{
    struct fault_parse fp = {faults_get(&r->srv->faults), NULL};
    char msg[256];

    if (strcmp(r->method, "POST") == 0) {
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, fault_arg, &fp);
        if (fp.bad) {
            snprintf(msg, sizeof(msg), "Bad fault setting '%s'", fp.bad);
            return respond_error(r, 400, msg, NULL, NULL, NULL);
        }
        faults_set(&r->srv->faults, &fp.cfg);
    }
    return respond_json(r, 200, fault_json(&fp.cfg));
}

static enum MHD_Result fake_archive(struct ft_req *r, const char *enc)
{
    struct archive_ref ref;
    char *name = path_url_decode(enc, strlen(enc), NULL);
    int rc = name ? store_archive(&r->srv->store, name, &ref) : 400;
    enum MHD_Result ret;

    free(name);
    if (rc != 200)
        return respond_error(r, rc, "No live extension of that name", NULL, NULL, NULL);
    ret = respond_body(r, 200, "application/zip", ref.archive, 0, ref.archive->len, NULL);
    archive_ref_free(&ref);
    return ret;
}

/* Another user replacing the archive on the tenant: same checks as an upload, without the
 * size limits, so tests can plant archives bigger than the service would take; with
 * ?unsafe=1 also without the name rule, to plant hostile entries. */
static enum MHD_Result fake_put(struct ft_req *r, const char *enc)
{
    char *name = path_url_decode(enc, strlen(enc), NULL), *json = NULL, why[512] = "";
    struct ext_change c = {0};
    struct zinfo zi;
    struct blob *zip = NULL;
    enum MHD_Result ret;
    int rc = 400;

    if (!name || r->up.too_big) {
        ret = respond_error(r, name ? 413 : 400, name ? "Body too large" : "Bad name", NULL, NULL,
                            NULL);
        goto out;
    }
    const char *unsafe = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "unsafe");

    rc =
        zcheck_archive(r->up.raw.data, r->up.raw.len,
                       unsafe && !strcmp(unsafe, "1") ? ZC_UNSAFE_NAMES : 0, &zi, why, sizeof(why));
    if (rc != 0) {
        ret = respond_error(r, rc, why, name, NULL, NULL);
        goto out;
    }
    zip = buf_to_blob(&r->up.raw);
    if (zip)
        store_stamp(&r->srv->store, zip);
    c.archive = zip;
    c.zi = &zi;
    rc = zip ? store_update(&r->srv->store, name, &c, r->srv->opt.real_shape, &json, why,
                            sizeof(why))
             : 500;
    ret = rc == 200 ? respond_json(r, 200, json)
                    : respond_error(r, rc, why[0] ? why : "Cannot replace", name, NULL, NULL);
    if (rc != 200)
        free(json);
    zinfo_free(&zi);
out:
    blob_unref(zip);
    free(name);
    return ret;
}

enum MHD_Result special_dispatch(struct ft_req *r)
{
    const char *p = r->path + strlen("/__fake");
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;

    if (get && strcmp(p, "/stats") == 0)
        return respond_json(r, 200, stats_json(&r->srv->stats));
    if (post && strcmp(p, "/reset") == 0) {
        stats_reset(&r->srv->stats);
        return respond_empty(r, 204);
    }
    if ((get || post) && strcmp(p, "/fault") == 0)
        return fake_fault(r);
    if (get && strncmp(p, "/archive/", 9) == 0)
        return fake_archive(r, p + 9);
    if (post && strncmp(p, "/put/", 5) == 0)
        return fake_put(r, p + 5);
    return respond_error(r, 404, "No such route", NULL, NULL, NULL);
}
