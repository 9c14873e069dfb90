/* Unit tests for api.c. The parsers: the extension model and list as the reference and the
 * live service shape them, wrong types everywhere, nesting limits, broken input, a large
 * list, time parsing, copying a model. The endpoints, against the scripted server: paths and
 * their encoding, methods, expected statuses, Range use, and the messages on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api.h"
#include "test_server.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARSE_LIST(json, l, err) api_parse_list((json), strlen(json), (l), (err), sizeof(err))
#define PARSE_EXT(json, e, err) api_parse_ext((json), strlen(json), (e), (err), sizeof(err))

static const char reference_item[] =
    "{\"id\":\"-N5F29rjbeGdXmTbj3CnZ\",\"qextFilename\":\"hello\",\"name\":\"Hello & Co\","
    "\"version\":\"1.2.0\",\"qextVersion\":\"1.2.0\",\"author\":\"Ann\",\"type\":"
    "\"visualization\",\"description\":\"says hi\",\"checksum\":\"abc123\","
    "\"updateAt\":\"2024-05-01T10:20:30.123Z\",\"tags\":[\"x\"],\"bundled\":false}";

static const char real_item[] =
    "{\"id\":\"id2\",\"qextFilename\":\"nav\",\"name\":\"Navigation\",\"updatedAt\":"
    "\"2024-05-01T10:20:30Z\",\"file\":{\"contentType\":\"application/zip\","
    "\"contentLength\":1234,\"md5\":\"d41d8cd98f00b204e9800998ecf8427e\",\"fileId\":\"f\","
    "\"originalname\":\"nav.zip\"}}";

static void reference_shape(void **state)
{
    struct api_ext e;
    char err[128] = "";

    (void)state;
    assert_int_equal(PARSE_EXT(reference_item, &e, err), 0);
    assert_string_equal(e.id, "-N5F29rjbeGdXmTbj3CnZ");
    assert_string_equal(e.qext_filename, "hello");
    assert_string_equal(e.name, "Hello & Co");
    assert_string_equal(e.version, "1.2.0");
    assert_string_equal(e.qext_version, "1.2.0");
    assert_string_equal(e.author, "Ann");
    assert_string_equal(e.type, "visualization");
    assert_string_equal(e.description, "says hi");
    assert_string_equal(e.updated_at, "2024-05-01T10:20:30.123Z");
    assert_string_equal(e.version_token, "abc123");
    assert_int_equal(e.mtime, 1714558830);
    assert_non_null(strstr(e.model_json, "\"tags\":[\"x\"]"));
    assert_null(strchr(e.model_json, '\n'));
    api_ext_free(&e);
    assert_null(e.id);
}

static void real_shape_uses_md5(void **state)
{
    struct api_ext e;
    char err[128] = "";

    (void)state;
    assert_int_equal(PARSE_EXT(real_item, &e, err), 0);
    assert_string_equal(e.updated_at, "2024-05-01T10:20:30Z");
    assert_string_equal(e.version_token, "d41d8cd98f00b204e9800998ecf8427e");
    assert_int_equal(e.mtime, 1714558830);
    assert_null(e.author);
    api_ext_free(&e);
}

static void token_falls_back_to_updated_at(void **state)
{
    struct api_ext e;
    char err[128] = "";

    (void)state;
    assert_int_equal(PARSE_EXT("{\"id\":\"a\",\"qextFilename\":\"a\",\"checksum\":\"\","
                               "\"file\":{\"md5\":7},\"updateAt\":\"2020-01-01T00:00:00Z\"}",
                               &e, err),
                     0);
    assert_string_equal(e.version_token, "2020-01-01T00:00:00Z");
    api_ext_free(&e);
    assert_int_equal(PARSE_EXT("{\"id\":\"a\"}", &e, err), 0);
    assert_null(e.version_token);
    assert_null(e.qext_filename);
    assert_int_equal(e.mtime, 0);
    api_ext_free(&e);
}

static void wrong_types_are_absent(void **state)
{
    static const char *fields[] = {"qextFilename", "name",    "version",     "qextVersion",
                                   "author",       "type",    "description", "checksum",
                                   "updatedAt",    "updateAt"};
    static const char *values[] = {"1", "true", "null", "[\"s\"]", "{\"a\":\"s\"}", "1.5e300"};
    char json[256], err[128];
    struct api_ext e;

    (void)state;
    for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
            snprintf(json, sizeof(json), "{\"id\":\"x\",\"file\":\"nope\",\"%s\":%s}", fields[f],
                     values[v]);
            assert_int_equal(PARSE_EXT(json, &e, err), 0);
            assert_string_equal(e.id, "x");
            assert_null(e.qext_filename);
            assert_null(e.name);
            assert_null(e.version);
            assert_null(e.updated_at);
            assert_null(e.version_token);
            assert_int_equal(e.mtime, 0);
            api_ext_free(&e);
        }
    }
    /* An id of the wrong type is no id. */
    assert_int_equal(PARSE_EXT("{\"id\":12}", &e, err), -EPROTO);
    assert_int_equal(PARSE_EXT("[1,2]", &e, err), -EPROTO);
    assert_int_equal(PARSE_EXT("\"str\"", &e, err), -EPROTO);
}

static void list_good(void **state)
{
    struct api_list l;
    char json[2048], err[128] = "";

    (void)state;
    snprintf(json, sizeof(json), "{\"data\":[%s,%s]}", reference_item, real_item);
    assert_int_equal(PARSE_LIST(json, &l, err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].qext_filename, "hello");
    assert_string_equal(l.items[0].version_token, "abc123");
    assert_string_equal(l.items[1].qext_filename, "nav");
    assert_string_equal(l.items[1].version_token, "d41d8cd98f00b204e9800998ecf8427e");
    api_list_free(&l);
    assert_null(l.items);
    assert_int_equal(l.n, 0);
}

static void list_skips_bad_items(void **state)
{
    struct api_list l;
    char err[128] = "";

    (void)state;
    assert_int_equal(PARSE_LIST("{\"data\":[\"str\",1,null,[],{\"id\":\"a\"},"
                                "{\"qextFilename\":\"b\"},{\"id\":3,\"qextFilename\":\"c\"},"
                                "{\"id\":\"d\",\"qextFilename\":{}},"
                                "{\"id\":\"e\",\"qextFilename\":\"e\",\"name\":5}]}",
                                &l, err),
                     0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].id, "e");
    assert_null(l.items[0].name);
    api_list_free(&l);

    assert_int_equal(PARSE_LIST("{\"data\":[]}", &l, err), 0);
    assert_int_equal(l.n, 0);
    api_list_free(&l);
}

static void list_without_data(void **state)
{
    static const char *bad[] = {"{}",
                                "{\"data\":{}}",
                                "{\"data\":\"x\"}",
                                "{\"data\":null}",
                                "[{\"data\":[]}]",
                                "{\"Data\":[]}",
                                "42",
                                "null"};
    struct api_list l;
    char err[128];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(PARSE_LIST(bad[i], &l, err), -EPROTO);
        assert_string_equal(err, "list response has no data array");
        assert_null(l.items);
        assert_int_equal(l.n, 0);
    }
}

static char *nested(int depth, const char *leaf)
{
    size_t n = strlen(leaf) + (size_t)depth * 8 + 16;
    char *s = malloc(n), *p = s;

    assert_non_null(s);
    p += sprintf(p, "{\"data\":");
    for (int i = 1; i < depth - 1; i++)
        *p++ = '[';
    p += sprintf(p, "%s", leaf);
    for (int i = 1; i < depth - 1; i++)
        *p++ = ']';
    sprintf(p, "}");
    return s;
}

static void nesting_limit(void **state)
{
    struct api_list l;
    struct api_ext e;
    char err[128] = "";
    char *deep = nested(65, "[]"), *ok = nested(50, "[]");
    char *in_string = nested(3, "[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"]");

    (void)state;
    assert_int_equal(PARSE_LIST(deep, &l, err), -EPROTO);
    assert_string_equal(err, "JSON nested too deeply");
    assert_int_equal(PARSE_EXT(deep, &e, err), -EPROTO);
    /* 50 levels parse: the items are arrays, so they are skipped, not an error. */
    assert_int_equal(PARSE_LIST(ok, &l, err), 0);
    assert_int_equal(l.n, 0);
    api_list_free(&l);
    /* Brackets inside strings do not count. */
    assert_int_equal(PARSE_LIST(in_string, &l, err), 0);
    api_list_free(&l);
    free(deep);
    free(ok);
    free(in_string);
}

static void broken_input(void **state)
{
    struct api_list l;
    struct api_ext e;
    char json[2048], err[128] = "";

    (void)state;
    snprintf(json, sizeof(json), "{\"data\":[%s,%s]}", reference_item, real_item);
    for (size_t cut = 0; cut < strlen(json); cut++) {
        assert_int_equal(api_parse_list(json, cut, &l, err, sizeof(err)), -EPROTO);
        assert_null(l.items);
    }
    assert_int_equal(api_parse_list("", 0, &l, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "empty response");
    assert_int_equal(api_parse_list(NULL, 0, &l, err, sizeof(err)), -EPROTO);
    assert_int_equal(api_parse_ext("", 0, &e, err, sizeof(err)), -EPROTO);
    assert_int_equal(PARSE_EXT("{\"id\":\"a\"", &e, err), -EPROTO);
    assert_non_null(strstr(err, "invalid JSON"));
    assert_int_equal(PARSE_EXT("{\"id\":\"a\"} trailing", &e, err), -EPROTO);
    /* No NUL within len: the parser must stop at len. */
    assert_int_equal(api_parse_ext("{\"id\":\"a\"}XXXX", 10, &e, err, sizeof(err)), 0);
    assert_string_equal(e.id, "a");
    api_ext_free(&e);
    /* A NULL err buffer is allowed. */
    assert_int_equal(api_parse_list("{", 1, &l, NULL, 0), -EPROTO);
}

static void huge_list(void **state)
{
    const int n = 10000;
    size_t cap = (size_t)n * 200 + 64, len;
    char *json = malloc(cap), *p = json;
    struct api_list l;
    char err[128] = "";

    (void)state;
    assert_non_null(json);
    p += sprintf(p, "{\"data\":[");
    for (int i = 0; i < n; i++)
        p += sprintf(p,
                     "%s{\"id\":\"id-%d\",\"qextFilename\":\"ext%d\",\"checksum\":\"c%d\","
                     "\"updatedAt\":\"2024-01-01T00:00:%02dZ\"}",
                     i ? "," : "", i, i, i, i % 60);
    p += sprintf(p, "]}");
    len = (size_t)(p - json);
    assert_int_equal(api_parse_list(json, len, &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, n);
    assert_string_equal(l.items[9999].qext_filename, "ext9999");
    assert_string_equal(l.items[9999].version_token, "c9999");
    assert_int_equal(l.items[61].mtime, 1704067200 + 1);
    api_list_free(&l);
    free(json);
}

static void time_parsing(void **state)
{
    (void)state;
    assert_int_equal(api_parse_time("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(api_parse_time("2024-05-01T10:20:30Z"), 1714558830);
    assert_int_equal(api_parse_time("2024-05-01T10:20:30.123Z"), 1714558830);
    assert_int_equal(api_parse_time("2024-05-01T10:20:30.123456789Z"), 1714558830);
    assert_int_equal(api_parse_time("2024-05-01T12:20:30+02:00"), 1714558830);
    assert_int_equal(api_parse_time("2024-05-01T05:20:30.5-0500"), 1714558830);
    assert_int_equal(api_parse_time("2024-05-01T10:20:30"), 1714558830);
    assert_int_equal(api_parse_time("2024-05-01 10:20:30z"), 1714558830);
    assert_int_equal(api_parse_time(NULL), 0);
    assert_int_equal(api_parse_time(""), 0);
    assert_int_equal(api_parse_time("yesterday"), 0);
    assert_int_equal(api_parse_time("2024-05-01"), 0);
    assert_int_equal(api_parse_time("2024-13-01T10:20:30Z"), 0);
    assert_int_equal(api_parse_time("2024-05-01T25:20:30Z"), 0);
    assert_int_equal(api_parse_time("2024-05-01T10:20:30.Z"), 0);
    assert_int_equal(api_parse_time("2024-05-01T10:20:30Zjunk"), 0);
    assert_int_equal(api_parse_time("2024-05-01T10:20:30+2"), 0);
    assert_int_equal(api_parse_time("2024-5-01T10:20:30Z"), 0);
}

static void copy_and_free(void **state)
{
    struct api_ext e, c;
    char err[128] = "";

    (void)state;
    assert_int_equal(PARSE_EXT(reference_item, &e, err), 0);
    assert_int_equal(api_ext_copy(&c, &e), 0);
    api_ext_free(&e);
    assert_string_equal(c.id, "-N5F29rjbeGdXmTbj3CnZ");
    assert_string_equal(c.qext_filename, "hello");
    assert_string_equal(c.version_token, "abc123");
    assert_string_equal(c.description, "says hi");
    assert_int_equal(c.mtime, 1714558830);
    assert_non_null(c.model_json);
    api_ext_free(&c);
    api_ext_free(&c); /* idempotent */
    api_ext_free(NULL);

    memset(&e, 0, sizeof(e));
    assert_int_equal(api_ext_copy(&c, &e), 0);
    assert_null(c.id);
    api_ext_free(&c);
}

/* --- endpoints ------------------------------------------------------------------------- */

struct env {
    struct ts_server *srv;
    struct http *h;
};

static int auth_key(void *arg, bool force_refresh, char *buf, size_t bufsz)
{
    (void)arg;
    (void)force_refresh;
    snprintf(buf, bufsz, "Bearer key");
    return 0;
}

static int env_setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct http_opts o = {.max_conns = 2, .timeout_s = 5, .max_retries = 1};

    assert_non_null(e);
    e->srv = ts_start("127.0.0.1");
    assert_non_null(e->srv);
    o.base_url = e->srv->base;
    e->h = http_new(&o, auth_key, NULL);
    assert_non_null(e->h);
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    struct env *e = *state;

    http_free(e->h);
    ts_stop(e->srv);
    free(e);
    return 0;
}

struct collect {
    char buf[256];
    size_t len;
};

static int collect_sink(void *arg, uint64_t off, const void *buf, size_t n)
{
    struct collect *c = arg;

    if (off + n > sizeof(c->buf))
        return -EFBIG;
    memcpy(c->buf + off, buf, n);
    if (off + n > c->len)
        c->len = off + n;
    return 0;
}

static void list_endpoint(void **state)
{
    struct env *e = *state;
    struct api_list l;
    char json[2048], msg[256] = "";

    snprintf(json, sizeof(json), "{\"data\":[%s,%s]}", reference_item, real_item);
    ts_push(e->srv, 200, json, NULL, NULL);
    assert_int_equal(api_list_extensions(e->h, &l, msg, sizeof(msg)), 0);
    assert_int_equal(l.n, 2);
    api_list_free(&l);
    assert_string_equal(e->srv->recs[0].method, "GET");
    assert_string_equal(e->srv->recs[0].url, "/api/v1/extensions");
    assert_string_equal(e->srv->recs[0].auth, "Bearer key");

    ts_reset_replies(e->srv);
    ts_push(e->srv, 200, "{\"data\":{}}", NULL, NULL);
    assert_int_equal(api_list_extensions(e->h, &l, msg, sizeof(msg)), -EPROTO);
    assert_non_null(strstr(msg, "no data array"));

    ts_reset_replies(e->srv);
    ts_push(e->srv, 401, NULL, NULL, NULL);
    assert_int_equal(api_list_extensions(e->h, &l, msg, sizeof(msg)), -EACCES);
    assert_non_null(strstr(msg, "401 Unauthorized: the API key was refused"));
}

static void get_extension_encodes_id(void **state)
{
    struct env *e = *state;
    struct api_ext x;
    char msg[256] = "";

    ts_push(e->srv, 200, reference_item, NULL, NULL);
    assert_int_equal(api_get_extension(e->h, "-a b/c?", &x, msg, sizeof(msg)), 0);
    assert_string_equal(x.qext_filename, "hello");
    api_ext_free(&x);
    assert_string_equal(e->srv->recs[0].url, "/api/v1/extensions/-a%20b%2Fc%3F");

    ts_reset_replies(e->srv);
    ts_push(e->srv, 410, "{\"title\":\"Gone\"}", NULL, NULL);
    assert_int_equal(api_get_extension(e->h, "x", &x, msg, sizeof(msg)), -ENOENT);
    assert_string_equal(msg, "410 Gone: Gone");
    assert_null(x.id);

    ts_reset_replies(e->srv);
    ts_push(e->srv, 200, "<html>", NULL, NULL);
    assert_int_equal(api_get_extension(e->h, "x", &x, msg, sizeof(msg)), -EPROTO);
    assert_non_null(strstr(msg, "invalid JSON"));
}

static void file_endpoints(void **state)
{
    struct env *e = *state;
    struct collect c = {0};
    bool partial = false;
    int64_t total = 0;
    char msg[256] = "";

    ts_push(e->srv, 206, "TAIL", "Content-Range: bytes 96-99/100", NULL);
    assert_int_equal(
        api_get_archive_tail(e->h, "id1", 4, collect_sink, &c, &partial, &total, msg, sizeof(msg)),
        0);
    assert_true(partial);
    assert_int_equal(total, 100);
    assert_memory_equal(c.buf, "TAIL", 4);
    assert_string_equal(e->srv->recs[0].url, "/api/v1/extensions/id1/file");
    assert_string_equal(e->srv->recs[0].range, "bytes=-4");

    assert_int_equal(
        api_get_archive_range(e->h, "id1", 10, 20, collect_sink, &c, &partial, msg, sizeof(msg)),
        0);
    assert_string_equal(e->srv->recs[1].range, "bytes=10-29");

    assert_int_equal(api_get_file(e->h, "id1", "dir/x y+ü.js", 0, 8, collect_sink, &c, &partial,
                                  msg, sizeof(msg)),
                     0);
    assert_string_equal(e->srv->recs[2].url, "/api/v1/extensions/id1/file/dir/x%20y%2B%C3%BC.js");
    assert_string_equal(e->srv->recs[2].range, "bytes=0-7");

    /* A server that ignores Range: partial is false, the sink got the body from 0. */
    ts_reset_replies(e->srv);
    ts_push(e->srv, 200, "WHOLE", NULL, NULL);
    memset(&c, 0, sizeof(c));
    assert_int_equal(
        api_get_archive_tail(e->h, "id1", 4, collect_sink, &c, &partial, &total, msg, sizeof(msg)),
        0);
    assert_false(partial);
    assert_int_equal(total, -1);
    assert_memory_equal(c.buf, "WHOLE", 5);

    assert_int_equal(
        api_get_file(e->h, "id1", "a.js", 0, 0, collect_sink, &c, &partial, msg, sizeof(msg)), 0);
    assert_string_equal(e->srv->recs[4].range, "");
    assert_int_equal(api_get_archive(e->h, "id1", collect_sink, &c, msg, sizeof(msg)), 0);
    assert_string_equal(e->srv->recs[5].range, "");

    /* An empty range needs no request. */
    assert_int_equal(
        api_get_archive_range(e->h, "id1", 50, 0, collect_sink, &c, &partial, msg, sizeof(msg)), 0);
    assert_int_equal(ts_total(e->srv), 6);

    ts_reset_replies(e->srv);
    ts_push(e->srv, 404, NULL, NULL, NULL);
    assert_int_equal(
        api_get_file(e->h, "id1", "nope.js", 0, 0, collect_sink, &c, &partial, msg, sizeof(msg)),
        -ENOENT);
    assert_string_equal(msg, "404 Not Found");
}

static char *temp_zip(void)
{
    char *path = strdup("/tmp/qextfs-api-XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "PK zip", 6), 6);
    close(fd);
    return path;
}

static void create_update_delete(void **state)
{
    struct env *e = *state;
    char *zip = temp_zip();
    char msg[256] = "";
    struct api_ext x;

    ts_push(e->srv, 201, reference_item, NULL, NULL);
    assert_int_equal(api_create(e->h, zip, NULL, &x, msg, sizeof(msg)), 0);
    assert_string_equal(x.id, "-N5F29rjbeGdXmTbj3CnZ");
    api_ext_free(&x);
    assert_string_equal(e->srv->recs[0].method, "POST");
    assert_string_equal(e->srv->recs[0].url, "/api/v1/extensions");
    assert_non_null(strstr(e->srv->recs[0].body, "name=\"data\""));
    assert_non_null(strstr(e->srv->recs[0].body, "\r\n\r\n{}\r\n"));
    /* a fixed part name: the local zip's name may hold anything an extension name can */
    assert_non_null(strstr(e->srv->recs[0].body, "name=\"file\"; filename=\"extension.zip\""));

    ts_reset_replies(e->srv);
    ts_push(e->srv, 200, real_item, NULL, NULL);
    assert_int_equal(api_update(e->h, "-id", zip, "{\"name\":\"n\"}", &x, msg, sizeof(msg)), 0);
    assert_string_equal(x.version_token, "d41d8cd98f00b204e9800998ecf8427e");
    api_ext_free(&x);
    assert_string_equal(e->srv->recs[1].method, "PATCH");
    assert_string_equal(e->srv->recs[1].url, "/api/v1/extensions/-id");
    assert_non_null(strstr(e->srv->recs[1].body, "{\"name\":\"n\"}"));
    /* out may be NULL. */
    assert_int_equal(api_update(e->h, "-id", zip, NULL, NULL, msg, sizeof(msg)), 0);

    ts_reset_replies(e->srv);
    ts_push(e->srv, 409, "{\"title\":\"Conflict\",\"meta\":{\"message\":\"hello exists\"}}", NULL,
            NULL);
    assert_int_equal(api_create(e->h, zip, NULL, &x, msg, sizeof(msg)), -EEXIST);
    assert_string_equal(msg, "409 Conflict: hello exists");
    assert_null(x.id);

    ts_reset_replies(e->srv);
    ts_push(e->srv, 204, NULL, NULL, NULL);
    assert_int_equal(api_delete(e->h, "-id", msg, sizeof(msg)), 0);
    assert_string_equal(e->srv->recs[4].method, "DELETE");
    assert_string_equal(e->srv->recs[4].url, "/api/v1/extensions/-id");

    ts_reset_replies(e->srv);
    ts_push(e->srv, 202, NULL, NULL, NULL);
    assert_int_equal(api_delete(e->h, "-id", msg, sizeof(msg)), -EPROTO);
    assert_non_null(strstr(msg, "unexpected status 202"));

    unlink(zip);
    assert_int_equal(api_create(e->h, zip, NULL, NULL, msg, sizeof(msg)), -ENOENT);
    assert_non_null(strstr(msg, "cannot read"));
    free(zip);
}

static int group_setup(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

#define E(fn) cmocka_unit_test_setup_teardown(fn, env_setup, env_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reference_shape),
        cmocka_unit_test(real_shape_uses_md5),
        cmocka_unit_test(token_falls_back_to_updated_at),
        cmocka_unit_test(wrong_types_are_absent),
        cmocka_unit_test(list_good),
        cmocka_unit_test(list_skips_bad_items),
        cmocka_unit_test(list_without_data),
        cmocka_unit_test(nesting_limit),
        cmocka_unit_test(broken_input),
        cmocka_unit_test(huge_list),
        cmocka_unit_test(time_parsing),
        cmocka_unit_test(copy_and_free),
        E(list_endpoint),
        E(get_extension_encodes_id),
        E(file_endpoints),
        E(create_update_delete),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
