/* Unit tests for http.c against a scripted in-process server: bodies and sinks, Range and
 * Content-Range, status to errno and messages, the 401 refresh, retries, 429 Retry-After,
 * pacing, timeouts, refused connections, multipart order, the token staying off other
 * hosts, a small pool under many threads, and the counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http.h"
#include "test_server.h"

#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEY "k3y-s3cr3t"

struct auth_log {
    int calls, refreshes;
    int fail; /* -errno to return */
    const char *value;
};

static int test_auth(void *arg, bool force_refresh, char *buf, size_t bufsz)
{
    struct auth_log *a = arg;

    __atomic_add_fetch(&a->calls, 1, __ATOMIC_SEQ_CST);
    if (force_refresh)
        __atomic_add_fetch(&a->refreshes, 1, __ATOMIC_SEQ_CST);
    if (a->fail)
        return a->fail;
    snprintf(buf, bufsz, "%s", a->value ? a->value : "Bearer " KEY);
    return 0;
}

struct fixture {
    struct ts_server *srv;
    struct http *h;
    struct auth_log auth;
    struct http_opts o;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->srv = ts_start("127.0.0.1");
    assert_non_null(f->srv);
    f->o = (struct http_opts){.base_url = f->srv->base,
                              .max_conns = 2,
                              .timeout_s = 2,
                              .max_retries = 3,
                              .retry_after_cap_s = 5};
    *state = f;
    return 0;
}

/* Creates the client lazily so a test can adjust f->o first. */
static struct http *client(struct fixture *f)
{
    if (!f->h)
        f->h = http_new(&f->o, test_auth, &f->auth);
    assert_non_null(f->h);
    return f->h;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    http_free(f->h);
    ts_stop(f->srv);
    free(f);
    return 0;
}

static int do_get(struct fixture *f, const char *path, struct http_resp *resp)
{
    struct http_req req;

    http_req_init(&req, "GET", path);
    return http_do(client(f), &req, resp);
}

/* --- bodies ------------------------------------------------------------------------------ */

static void collects_body(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;

    ts_push(f->srv, 200, "{\"data\":[]}", "ETag: \"v1\"", NULL);
    assert_int_equal(do_get(f, "/api/v1/extensions", &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 11);
    assert_string_equal(resp.body, "{\"data\":[]}");
    assert_false(resp.partial);
    assert_int_equal(resp.total_len, -1);
    assert_string_equal(resp.etag, "\"v1\"");
    http_resp_free(&resp);
    assert_string_equal(f->srv->recs[0].method, "GET");
    assert_string_equal(f->srv->recs[0].url, "/api/v1/extensions");
    assert_string_equal(f->srv->recs[0].auth, "Bearer " KEY);
    assert_string_equal(f->srv->recs[0].range, "");
}

static void empty_body_is_empty_string(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    struct http_req req;

    ts_push(f->srv, 204, NULL, NULL, NULL);
    http_req_init(&req, "DELETE", "/x");
    assert_int_equal(req.tier, HTTP_TIER2);
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    assert_int_equal(resp.status, 204);
    assert_non_null(resp.body);
    assert_int_equal(resp.body_len, 0);
    http_resp_free(&resp);
    assert_string_equal(f->srv->recs[0].method, "DELETE");
}

struct mem_sink {
    unsigned char *buf;
    size_t cap, len;
    uint64_t next_off;
    int calls;
    bool contiguous;
    int fail_after; /* calls; 0 = never */
};

static int mem_sink(void *arg, uint64_t off, const void *buf, size_t n)
{
    struct mem_sink *m = arg;

    if (m->fail_after && m->calls >= m->fail_after)
        return -ENOSPC;
    m->calls++;
    if (off != m->next_off)
        m->contiguous = false;
    if (off + n > m->cap)
        return -EFBIG;
    memcpy(m->buf + off, buf, n);
    m->next_off = off + n;
    if (off + n > m->len)
        m->len = off + n;
    return 0;
}

static void sink_gets_offsets(void **state)
{
    struct fixture *f = *state;
    const size_t n = 3 * 1024 * 1024 + 17;
    char *body = malloc(n);
    struct mem_sink m = {.buf = malloc(n), .cap = n, .contiguous = true};
    struct http_resp resp;
    struct http_req req;

    assert_non_null(body);
    assert_non_null(m.buf);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)(i * 7 + i / 251);
    ts_push_n(f->srv, 200, body, n, NULL, NULL);
    http_req_init(&req, "GET", "/zip");
    req.sink = mem_sink;
    req.sink_arg = &m;
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    assert_null(resp.body);
    assert_true(m.calls > 1);
    assert_true(m.contiguous);
    assert_int_equal(m.len, n);
    assert_memory_equal(m.buf, body, n);
    http_resp_free(&resp);
    free(body);
    free(m.buf);
}

static void sink_error_aborts(void **state)
{
    struct fixture *f = *state;
    const size_t n = 1024 * 1024;
    char *body = calloc(1, n);
    struct mem_sink m = {.buf = malloc(n), .cap = n, .contiguous = true, .fail_after = 1};
    struct http_resp resp;
    struct http_req req;

    ts_push_n(f->srv, 200, body, n, NULL, NULL);
    http_req_init(&req, "GET", "/zip");
    req.sink = mem_sink;
    req.sink_arg = &m;
    assert_int_equal(http_do(client(f), &req, &resp), -ENOSPC);
    assert_int_equal(ts_total(f->srv), 1); /* not retried */
    http_resp_free(&resp);
    free(body);
    free(m.buf);
}

static void retry_restarts_sink_without_error_bodies(void **state)
{
    struct fixture *f = *state;
    struct mem_sink m = {.buf = malloc(64), .cap = 64, .contiguous = true};
    struct http_resp resp;
    struct http_req req;

    ts_push(f->srv, 503, "{\"title\":\"busy\"}", NULL, NULL);
    ts_push(f->srv, 200, "payload", NULL, NULL);
    http_req_init(&req, "GET", "/zip");
    req.sink = mem_sink;
    req.sink_arg = &m;
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    assert_int_equal(m.len, 7);
    assert_memory_equal(m.buf, "payload", 7);
    assert_true(m.contiguous);
    http_resp_free(&resp);
    free(m.buf);
}

/* --- Range --------------------------------------------------------------------------------- */

static void range_headers_and_content_range(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    struct http_req req;

    ts_push(f->srv, 206, "0123456789", "Content-Range: bytes 10-19/1000", NULL);
    http_req_init(&req, "GET", "/r");
    req.range_start = 10;
    req.range_end = 19;
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    assert_true(resp.partial);
    assert_int_equal(resp.total_len, 1000);
    assert_string_equal(resp.body, "0123456789");
    http_resp_free(&resp);
    assert_string_equal(f->srv->recs[0].range, "bytes=10-19");

    req.range_start = 5;
    req.range_end = -1;
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    http_resp_free(&resp);
    assert_string_equal(f->srv->recs[1].range, "bytes=5-");

    req.range_start = -1;
    req.range_end = 100;
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    http_resp_free(&resp);
    assert_string_equal(f->srv->recs[2].range, "bytes=-100");
}

static void range_ignored_by_server(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    struct http_req req;

    ts_push(f->srv, 200, "whole", NULL, NULL);
    http_req_init(&req, "GET", "/r");
    req.range_start = -1;
    req.range_end = 2;
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    assert_false(resp.partial);
    assert_int_equal(resp.total_len, -1);
    assert_string_equal(resp.body, "whole");
    http_resp_free(&resp);
}

/* --- errors --------------------------------------------------------------------------------- */

static void status_errno_table(void **state)
{
    (void)state;
    assert_int_equal(http_status_errno(200), 0);
    assert_int_equal(http_status_errno(304), 0);
    assert_int_equal(http_status_errno(400), EINVAL);
    assert_int_equal(http_status_errno(401), EACCES);
    assert_int_equal(http_status_errno(403), EACCES);
    assert_int_equal(http_status_errno(404), ENOENT);
    assert_int_equal(http_status_errno(410), ENOENT);
    assert_int_equal(http_status_errno(409), EEXIST);
    assert_int_equal(http_status_errno(413), EFBIG);
    assert_int_equal(http_status_errno(415), EINVAL);
    assert_int_equal(http_status_errno(422), EINVAL);
    assert_int_equal(http_status_errno(429), EAGAIN);
    assert_int_equal(http_status_errno(418), EINVAL);
    assert_int_equal(http_status_errno(500), EIO);
    assert_int_equal(http_status_errno(503), EIO);
    /* What reaches a syscall: what nobody can act on is EIO, the rest passes. */
    assert_int_equal(http_syscall_errno(-EPROTO), -EIO);
    assert_int_equal(http_syscall_errno(-ETIMEDOUT), -EIO);
    assert_int_equal(http_syscall_errno(-EAGAIN), -EIO);
    assert_int_equal(http_syscall_errno(-EACCES), -EACCES);
    assert_int_equal(http_syscall_errno(-ENOENT), -ENOENT);
    assert_int_equal(http_syscall_errno(-EEXIST), -EEXIST);
    assert_int_equal(http_syscall_errno(0), 0);
}

static void expect_error(struct fixture *f, unsigned status, const char *body, int err,
                         const char *needle1, const char *needle2)
{
    struct http_resp resp;

    ts_reset_replies(f->srv);
    ts_push(f->srv, status, body, NULL, NULL);
    assert_int_equal(do_get(f, "/e", &resp), -err);
    assert_int_equal(resp.status, status);
    if (!strstr(resp.message, needle1) || (needle2 && !strstr(resp.message, needle2)))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", resp.message, needle1,
                 needle2 ? needle2 : "");
    assert_null(strstr(resp.message, KEY));
    assert_null(strchr(resp.message, '\n'));
    http_resp_free(&resp);
}

static void http_errors(void **state)
{
    struct fixture *f = *state;

    expect_error(f, 401, NULL, EACCES, "401 Unauthorized", "refused");
    expect_error(f, 401, "{\"title\":\"Unauthorized\",\"meta\":{\"message\":\"key expired\"}}",
                 EACCES, "401", "key expired");
    expect_error(f, 403, "{\"title\":\"Forbidden\",\"meta\":{\"message\":\"no access\"}}", EACCES,
                 "403 Forbidden: no access", NULL);
    expect_error(f, 404, "{\"title\":\"Not found\"}", ENOENT, "404 Not Found: Not found", NULL);
    expect_error(f, 410, NULL, ENOENT, "410 Gone", NULL);
    expect_error(f, 409, "{\"title\":\"Conflict\",\"meta\":{\"message\":\"hello exists\"}}", EEXIST,
                 "409 Conflict: hello exists", NULL);
    expect_error(f, 413, "too big, not JSON", EFBIG, "413", NULL);
    expect_error(f, 415, NULL, EINVAL, "415", NULL);
    expect_error(f, 422, "{\"title\":\"Unprocessable\",\"meta\":{\"message\":\"no qext\\nfile\"}}",
                 EINVAL, "422 Unprocessable Entity: no qext file", NULL);
    expect_error(f, 400, "{\"errors\":[{\"title\":\"Bad\",\"detail\":\"bad field\"}]}", EINVAL,
                 "400 Bad Request: bad field", NULL);
}

static void refresh_after_401(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    struct http_stats st;

    ts_push(f->srv, 401, NULL, NULL, NULL);
    ts_push(f->srv, 200, "ok", NULL, NULL);
    assert_int_equal(do_get(f, "/a", &resp), 0);
    assert_string_equal(resp.body, "ok");
    http_resp_free(&resp);
    assert_int_equal(f->auth.calls, 2);
    assert_int_equal(f->auth.refreshes, 1);
    http_get_stats(f->h, &st);
    assert_int_equal(st.requests, 2);
}

static void refresh_only_once(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;

    ts_push(f->srv, 401, NULL, NULL, NULL);
    assert_int_equal(do_get(f, "/a", &resp), -EACCES);
    http_resp_free(&resp);
    assert_int_equal(ts_total(f->srv), 2);
    assert_int_equal(f->auth.refreshes, 1);
}

static void auth_failures(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    struct http_req req;

    ts_push(f->srv, 200, "ok", NULL, NULL);
    f->auth.fail = -ENOKEY;
    assert_int_equal(do_get(f, "/a", &resp), -ENOKEY);
    assert_non_null(strstr(resp.message, "credentials"));
    http_resp_free(&resp);
    f->auth.fail = 0;
    f->auth.value = "Basic dXNlcjpwYXNz";
    assert_int_equal(do_get(f, "/a", &resp), -EINVAL);
    http_resp_free(&resp);
    assert_int_equal(ts_total(f->srv), 0);

    /* no_auth: no header, no callback. */
    f->auth.calls = 0;
    http_req_init(&req, "POST", "/oauth/token");
    req.no_auth = true;
    req.body = "{\"grant_type\":\"client_credentials\"}";
    req.body_type = "application/json";
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    http_resp_free(&resp);
    assert_int_equal(f->auth.calls, 0);
    assert_string_equal(f->srv->recs[0].method, "POST");
    assert_string_equal(f->srv->recs[0].auth, "");
    assert_string_equal(f->srv->recs[0].content_type, "application/json");
    assert_string_equal(f->srv->recs[0].body, req.body);
}

static void no_auth_callback(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    struct http_req req;

    f->h = http_new(&f->o, NULL, NULL);
    ts_push(f->srv, 401, NULL, NULL, NULL);
    http_req_init(&req, "GET", "/a");
    assert_int_equal(http_do(f->h, &req, &resp), -EACCES);
    http_resp_free(&resp);
    assert_int_equal(ts_total(f->srv), 1); /* nothing to refresh */
    assert_string_equal(f->srv->recs[0].auth, "");
}

/* --- retries --------------------------------------------------------------------------------- */

static void retries_5xx_then_success(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    struct http_stats st;

    ts_push(f->srv, 503, NULL, NULL, NULL);
    ts_push(f->srv, 502, NULL, NULL, NULL);
    ts_push(f->srv, 200, "fine", NULL, NULL);
    assert_int_equal(do_get(f, "/a", &resp), 0);
    assert_string_equal(resp.body, "fine");
    http_resp_free(&resp);
    http_get_stats(f->h, &st);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.status_429, 0);
}

static void gives_up_after_max_retries(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;

    ts_push(f->srv, 503, "{\"title\":\"Service Unavailable\"}", NULL, NULL);
    assert_int_equal(do_get(f, "/a", &resp), -EIO);
    assert_int_equal(resp.status, 503);
    assert_non_null(strstr(resp.message, "503"));
    assert_string_equal(resp.body, "{\"title\":\"Service Unavailable\"}");
    http_resp_free(&resp);
    assert_int_equal(ts_total(f->srv), f->o.max_retries + 1);
}

static void no_retry_on_4xx(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;

    ts_push(f->srv, 404, NULL, NULL, NULL);
    assert_int_equal(do_get(f, "/a", &resp), -ENOENT);
    http_resp_free(&resp);
    assert_int_equal(ts_total(f->srv), 1);
}

static void waits_for_retry_after(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    struct http_stats st;
    double t0 = now_s();

    f->o.max_retries = 0; /* 429 retries do not count */
    ts_push(f->srv, 429, NULL, "Retry-After: 1", NULL);
    ts_push(f->srv, 200, "after", NULL, NULL);
    assert_int_equal(do_get(f, "/a", &resp), 0);
    assert_true(now_s() - t0 >= 0.95);
    assert_string_equal(resp.body, "after");
    http_resp_free(&resp);
    http_get_stats(f->h, &st);
    assert_int_equal(st.status_429, 1);
    assert_int_equal(st.retries, 1);
}

static void gives_up_after_twenty_429s(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    struct http_stats st;

    ts_push(f->srv, 429, NULL, "Retry-After: 0", NULL);
    /* EIO, as DESIGN's error table has it reach a syscall; the message says why */
    assert_int_equal(do_get(f, "/a", &resp), -EIO);
    assert_int_equal(resp.status, 429);
    assert_non_null(strstr(resp.message, "429 Too Many Requests"));
    assert_non_null(strstr(resp.message, "still after 20 retries"));
    http_resp_free(&resp);
    assert_int_equal(ts_total(f->srv), 21);
    http_get_stats(f->h, &st);
    assert_int_equal(st.status_429, 21);
}

static void parse_retry_after(void **state)
{
    char date[64];
    time_t t = time(NULL) + 30;
    struct tm tm;
    long v;

    (void)state;
    assert_int_equal(http_parse_retry_after("5", 60), 5);
    assert_int_equal(http_parse_retry_after(" 7 ", 60), 7);
    assert_int_equal(http_parse_retry_after("0", 60), 0);
    assert_int_equal(http_parse_retry_after(NULL, 60), 1);
    assert_int_equal(http_parse_retry_after("", 60), 1);
    assert_int_equal(http_parse_retry_after("soon", 60), 1);
    assert_int_equal(http_parse_retry_after("5s", 60), 1);
    assert_int_equal(http_parse_retry_after("-3", 60), 1);
    assert_int_equal(http_parse_retry_after("1000000000", 60), 60);
    assert_int_equal(http_parse_retry_after("99999999999999999999999999", 60), 60);
    assert_int_equal(http_parse_retry_after("1000000000", 0), 60); /* default cap */
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    v = http_parse_retry_after(date, 60);
    assert_true(v >= 28 && v <= 30);
    assert_int_equal(http_parse_retry_after(date, 10), 10);
    assert_int_equal(http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 60), 0);
}

static void classifies_endpoints(void **state)
{
    (void)state;
    assert_int_equal(http_endpoint_of("GET", "/api/v1/extensions"), HTTP_EP_LIST);
    assert_int_equal(http_endpoint_of("GET", "/api/v1/extensions?limit=5"), HTTP_EP_LIST);
    assert_int_equal(http_endpoint_of("POST", "/api/v1/extensions"), HTTP_EP_CREATE);
    assert_int_equal(http_endpoint_of("GET", "/api/v1/extensions/abc"), HTTP_EP_GET);
    assert_int_equal(http_endpoint_of("PATCH", "/api/v1/extensions/abc"), HTTP_EP_UPDATE);
    assert_int_equal(http_endpoint_of("DELETE", "/api/v1/extensions/a%20b"), HTTP_EP_DELETE);
    assert_int_equal(http_endpoint_of("GET", "/api/v1/extensions/abc/file"), HTTP_EP_ARCHIVE);
    assert_int_equal(http_endpoint_of("GET", "/api/v1/extensions/abc/file/lib/x.js"), HTTP_EP_FILE);
    assert_int_equal(http_endpoint_of("POST", "/oauth/token"), HTTP_EP_TOKEN);
    assert_int_equal(http_endpoint_of("GET", "/api/v1/extensionsX"), HTTP_EP_OTHER);
    assert_int_equal(http_endpoint_of("GET", "/api/v1/extensions//file"), HTTP_EP_OTHER);
    assert_int_equal(http_endpoint_of("GET", "/api/v1/extensions/abc/filex"), HTTP_EP_OTHER);
    assert_int_equal(http_endpoint_of(NULL, "/x"), HTTP_EP_OTHER);
    assert_string_equal(http_endpoint_name(HTTP_EP_FILE), "GET /extensions/{id}/file/{path}");
    assert_string_equal(http_endpoint_name(HTTP_EP_COUNT), "other");
}

static void paces_per_tier(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    double t0 = now_s();

    /* 240/min counted over 1 s: 90% of the 4 the window allows go at once, then the
     * next three when the first leave the window. The other tier is not held up. */
    f->o.tier1_per_min = 240;
    f->o.pace_window_s = 1;
    ts_push(f->srv, 200, "ok", NULL, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(do_get(f, "/p", &resp), 0);
        http_resp_free(&resp);
    }
    assert_true(now_s() - t0 < 0.5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(do_get(f, "/p", &resp), 0);
        http_resp_free(&resp);
    }
    assert_true(now_s() - t0 >= 1.9);
    t0 = now_s();
    for (int i = 0; i < 8; i++) {
        struct http_req req;

        http_req_init(&req, "PATCH", "/p");
        assert_int_equal(http_do(f->h, &req, &resp), 0);
        http_resp_free(&resp);
    }
    assert_true(now_s() - t0 < 1.0);
}

/* --- transport failures --------------------------------------------------------------------- */

static int listen_socket(unsigned short *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A hung server costs one retry, not max_retries whole timeouts, and the caller gets EIO
 * with a message that says it timed out. */
static void hung_server_times_out(void **state)
{
    struct fixture *f = *state;
    unsigned short port;
    int fd = listen_socket(&port); /* the kernel completes the handshake; nobody answers */
    char base[64];
    struct http_resp resp;
    struct http_stats st;

    snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
    f->o.base_url = base;
    f->o.max_retries = 4;
    assert_int_equal(do_get(f, "/a", &resp), -EIO);
    assert_non_null(strstr(resp.message, "timed out after 2 s"));
    assert_int_equal(resp.status, 0);
    http_resp_free(&resp);
    http_get_stats(f->h, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.retries, 1);
    close(fd);
}

struct closer {
    int fd, accepted, want;
};

/* Accepts connections and closes them without a word. */
static void *closer_main(void *arg)
{
    struct closer *c = arg;
    char buf[4096];

    while (c->accepted < c->want) {
        int fd = accept(c->fd, NULL, NULL);

        if (fd < 0)
            break;
        c->accepted++;
        if (read(fd, buf, sizeof(buf)) < 0)
            break;
        close(fd);
    }
    return NULL;
}

static void dropped_connections_retried(void **state)
{
    struct fixture *f = *state;
    unsigned short port;
    struct closer c = {.fd = listen_socket(&port), .want = 3};
    char base[64];
    struct http_resp resp;
    pthread_t t;

    snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
    f->o.base_url = base;
    f->o.max_retries = 2;
    assert_int_equal(pthread_create(&t, NULL, closer_main, &c), 0);
    assert_int_equal(do_get(f, "/a", &resp), -EIO);
    assert_non_null(strstr(resp.message, "127.0.0.1"));
    http_resp_free(&resp);
    pthread_join(t, NULL);
    assert_int_equal(c.accepted, 3);
    close(c.fd);
}

static void refused_connection(void **state)
{
    struct fixture *f = *state;
    unsigned short port;
    int fd = listen_socket(&port);
    char base[64];
    struct http_resp resp;
    struct http_stats st;

    close(fd); /* nothing listens there now */
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
    f->o.base_url = base;
    f->o.max_retries = 2;
    assert_int_equal(do_get(f, "/a", &resp), -EIO);
    assert_non_null(strstr(resp.message, "cannot reach 127.0.0.1:"));
    assert_null(strstr(resp.message, KEY));
    http_resp_free(&resp);
    http_get_stats(f->h, &st);
    assert_int_equal(st.retries, 2);
}

/* --- uploads and redirects ----------------------------------------------------------------- */

static void multipart_order(void **state)
{
    struct fixture *f = *state;
    char zip[] = "/tmp/qextfs-test-XXXXXX";
    int fd = mkstemp(zip);
    static const char content[] = "PK\003\004 not really a zip";
    struct http_resp resp;
    struct http_req req;
    const char *b, *data, *file;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, sizeof(content) - 1), (ssize_t)sizeof(content) - 1);
    close(fd);
    ts_push(f->srv, 500, NULL, NULL, NULL); /* the body is rebuilt for the retry */
    ts_push(f->srv, 201, "{\"id\":\"n\"}", NULL, NULL);
    http_req_init(&req, "PATCH", "/api/v1/extensions/n");
    req.mp_data_json = "{\"name\":\"x\"}";
    req.mp_file_path = zip;
    req.mp_file_name = "hello.zip";
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    http_resp_free(&resp);
    assert_int_equal(ts_total(f->srv), 2);
    for (int i = 0; i < 2; i++) {
        struct ts_record *r = &f->srv->recs[i];

        assert_string_equal(r->method, "PATCH");
        assert_non_null(strstr(r->content_type, "multipart/form-data"));
        b = r->body;
        assert_non_null(b);
        data = strstr(b, "name=\"data\"");
        file = strstr(b, "name=\"file\"; filename=\"hello.zip\"");
        assert_non_null(data);
        assert_non_null(file);
        assert_true(data < file);
        assert_non_null(strstr(data, "Content-Type: application/json\r\n\r\n{\"name\":\"x\"}\r\n"));
        assert_non_null(strstr(file, "Content-Type: application/zip\r\n\r\n"));
        assert_memory_equal(strstr(file, "\r\n\r\n") + 4, content, sizeof(content) - 1);
    }
    unlink(zip);

    assert_int_equal(http_do(f->h, &req, &resp), -ENOENT); /* the zip is gone */
    assert_non_null(strstr(resp.message, zip));
    http_resp_free(&resp);
}

/* A file name that a quoted Content-Disposition parameter cannot carry unchanged (curl would
 * send %22 or %0D%0A instead) is refused before any request, with the reason. */
static void multipart_name_refused(void **state)
{
    static const char *const bad[] = {
        "a\"b.zip", "x.zip\r\nContent-Type: text/html", "a\nb.zip", "a\\b.zip", "a\tb.zip", NULL};
    struct fixture *f = *state;
    char zip[] = "/tmp/qextfs-test-XXXXXX", long_name[300];
    int fd = mkstemp(zip);
    struct http_resp resp;
    struct http_req req;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "PK", 2), 2);
    close(fd);
    http_req_init(&req, "POST", "/api/v1/extensions");
    req.mp_data_json = "{}";
    req.mp_file_path = zip;
    for (int i = 0; bad[i]; i++) {
        req.mp_file_name = bad[i];
        assert_int_equal(http_do(client(f), &req, &resp), -EINVAL);
        assert_non_null(strstr(resp.message, "cannot be sent in a multipart header"));
        assert_null(strchr(resp.message, '\n'));
        http_resp_free(&resp);
    }
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    req.mp_file_name = long_name;
    assert_int_equal(http_do(client(f), &req, &resp), -EINVAL);
    assert_non_null(strstr(resp.message, "longer than 255 bytes"));
    http_resp_free(&resp);
    assert_int_equal(ts_total(f->srv), 0);

    /* UTF-8, spaces, '%' and 255 bytes go as they are. */
    long_name[255] = '\0';
    ts_push(f->srv, 201, "{\"id\":\"n\"}", NULL, NULL);
    ts_push(f->srv, 201, "{\"id\":\"n\"}", NULL, NULL);
    req.mp_file_name = "select2.min \xe2\x80\x93 100% original.zip";
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    http_resp_free(&resp);
    req.mp_file_name = long_name;
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    http_resp_free(&resp);
    assert_int_equal(ts_total(f->srv), 2);
    assert_non_null(
        strstr(f->srv->recs[0].body, "filename=\"select2.min \xe2\x80\x93 100% original.zip\""));
    unlink(zip);
}

static void token_not_sent_to_other_host(void **state)
{
    struct fixture *f = *state;
    struct ts_server *other = ts_start("127.0.0.2");
    char loc[128];
    struct http_resp resp;

    if (!other)
        skip();
    snprintf(loc, sizeof(loc), "Location: %s/elsewhere", other->base);
    ts_push(f->srv, 302, NULL, loc, NULL);
    ts_push(other, 200, "moved", NULL, NULL);
    assert_int_equal(do_get(f, "/a", &resp), 0);
    assert_string_equal(resp.body, "moved");
    http_resp_free(&resp);
    assert_string_equal(f->srv->recs[0].auth, "Bearer " KEY);
    assert_int_equal(ts_total(other), 1);
    assert_string_equal(other->recs[0].url, "/elsewhere");
    assert_string_equal(other->recs[0].auth, "");
    ts_stop(other);
}

static void token_kept_on_same_host_redirect(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;

    ts_push(f->srv, 302, NULL, "Location: /b", NULL);
    ts_push(f->srv, 200, "here", NULL, NULL);
    assert_int_equal(do_get(f, "/a", &resp), 0);
    http_resp_free(&resp);
    assert_string_equal(f->srv->recs[1].url, "/b");
    assert_string_equal(f->srv->recs[1].auth, "Bearer " KEY);
}

/* --- concurrency and counters ----------------------------------------------------------------- */

struct worker {
    struct fixture *f;
    int ok;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < 50; i++) {
        struct http_resp resp;
        struct http_req req;

        http_req_init(&req, "GET", "/c");
        if (http_do(w->f->h, &req, &resp) == 0 && resp.body_len == 2)
            w->ok++;
        http_resp_free(&resp);
    }
    return NULL;
}

static void pool_under_threads(void **state)
{
    struct fixture *f = *state;
    struct worker w[8];
    pthread_t t[8];
    struct http_stats st;

    f->srv->hold_ms = 1;
    ts_push(f->srv, 200, "ok", NULL, NULL);
    client(f);
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){.f = f};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 50);
    }
    assert_int_equal(ts_total(f->srv), 400);
    assert_true(f->srv->max_active <= 2);
    http_get_stats(f->h, &st);
    assert_int_equal(st.requests, 400);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.bytes_in, 800);
}

static void counts_bytes(void **state)
{
    struct fixture *f = *state;
    struct http_resp resp;
    struct http_req req;
    struct http_stats st;

    ts_push(f->srv, 200, "0123456789", NULL, NULL);
    http_req_init(&req, "POST", "/b");
    req.body = "abcde";
    req.body_type = "text/plain";
    assert_int_equal(http_do(client(f), &req, &resp), 0);
    http_resp_free(&resp);
    http_get_stats(f->h, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.bytes_in, 10);
    assert_int_equal(st.bytes_out, 5);
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

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(collects_body),
        T(empty_body_is_empty_string),
        T(sink_gets_offsets),
        T(sink_error_aborts),
        T(retry_restarts_sink_without_error_bodies),
        T(range_headers_and_content_range),
        T(range_ignored_by_server),
        cmocka_unit_test(status_errno_table),
        T(http_errors),
        T(refresh_after_401),
        T(refresh_only_once),
        T(auth_failures),
        T(no_auth_callback),
        T(retries_5xx_then_success),
        T(gives_up_after_max_retries),
        T(no_retry_on_4xx),
        T(waits_for_retry_after),
        T(gives_up_after_twenty_429s),
        cmocka_unit_test(parse_retry_after),
        T(paces_per_tier),
        cmocka_unit_test(classifies_endpoints),
        T(hung_server_times_out),
        T(dropped_connections_retried),
        T(refused_connection),
        T(multipart_order),
        T(multipart_name_refused),
        T(token_not_sent_to_other_host),
        T(token_kept_on_same_host_redirect),
        T(pool_under_threads),
        T(counts_bytes),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
