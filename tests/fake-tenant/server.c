/* server: MHD start and stop, the life of a request (parse, body, gates, dispatch, log) and
 * the gates every /api/ request passes in order: --hang, --latency-ms, --fail-every, bearer
 * auth, rate limits (server.h). */
#include "server.h"

#include "log.h"
#include "path.h"
#include "respond.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define API_BASE "/api/v1/extensions"

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps ms in slices so a stopping server is not held up. Returns false when stopping. */
static bool nap(struct ft_server *srv, unsigned ms)
{
    while (ms && !atomic_load(&srv->stopping)) {
        unsigned slice = ms < 20 ? ms : 20;
        struct timespec ts = {0, (long)slice * 1000000};

        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return !atomic_load(&srv->stopping);
}

static char *decode(const char *s, size_t len)
{
    return path_url_decode(s, len, NULL);
}

/* "/api/v1/extensions[/{id}[/file[/{filepath}]]]", path parameters decoded once. */
static void parse_api_path(struct ft_req *r)
{
    const char *p = r->path + strlen(API_BASE), *slash;

    if (strncmp(r->path, API_BASE, strlen(API_BASE)) != 0 || (*p && *p != '/'))
        return;
    if (*p == '\0' || strcmp(p, "/") == 0) {
        r->kind = RT_COLLECTION;
        return;
    }
    p++;
    slash = strchr(p, '/');
    r->id = decode(p, slash ? (size_t)(slash - p) : strlen(p));
    if (!r->id || !r->id[0]) {
        r->bad_path = r->id ? 404 : 400;
        return;
    }
    if (!slash || slash[1] == '\0') {
        r->kind = RT_ITEM;
    } else if (strcmp(slash, "/file") == 0) {
        r->kind = RT_FILE;
    } else if (strncmp(slash, "/file/", 6) == 0) {
        r->kind = RT_FILEPATH;
        r->filepath = decode(slash + 6, strlen(slash + 6));
        if (!r->filepath)
            r->bad_path = 400;
    }
}

static enum route_key route_key_of(const char *method, enum route_kind kind)
{
    bool get = strcmp(method, "GET") == 0;

    switch (kind) {
    case RT_COLLECTION:
        return get ? RK_LIST : strcmp(method, "POST") == 0 ? RK_CREATE : RK_NONE;
    case RT_ITEM:
        if (get)
            return RK_GET;
        return strcmp(method, "PATCH") == 0    ? RK_PATCH
               : strcmp(method, "DELETE") == 0 ? RK_DELETE
                                               : RK_NONE;
    case RT_FILE:
        return get ? RK_FILE : RK_NONE;
    case RT_FILEPATH:
        return get ? RK_FILEPATH : RK_NONE;
    default:
        return RK_NONE;
    }
}

/* The bearer token, or NULL. */
static const char *bearer(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

static bool authorized(struct ft_server *srv, struct MHD_Connection *c)
{
    const char *tok = bearer(c);

    if (srv->opt.n_keys == 0 && !srv->oauth.client_id)
        return true;
    if (oauth_token_valid(&srv->oauth, tok))
        return true;
    for (size_t i = 0; tok && i < srv->opt.n_keys; i++)
        if (strcmp(tok, srv->opt.keys[i]) == 0)
            return true;
    return false;
}

static enum upload_mode body_mode(const struct ft_req *r)
{
    if (r->special && strcmp(r->method, "POST") == 0 && strncmp(r->path, "/__fake/put/", 12) == 0)
        return UP_RAW;
    if (r->oauth)
        return UP_RAW;
    if (r->api && r->authorized && (r->rk == RK_CREATE || r->rk == RK_PATCH))
        return UP_MULTIPART;
    return UP_DISCARD;
}

static void req_free(struct ft_req *r)
{
    if (!r)
        return;
    upload_free(&r->up);
    free(r->path);
    free(r->id);
    free(r->filepath);
    free(r);
}

static struct ft_req *req_new(struct ft_server *srv, struct MHD_Connection *c, const char *url,
                              const char *method)
{
    struct ft_req *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->srv = srv;
    r->conn = c;
    r->start_ns = mono_ns();
    r->rk = RK_NONE;
    snprintf(r->method, sizeof(r->method), "%s", method);
    r->path = strdup(url);
    if (!r->path) {
        req_free(r);
        return NULL;
    }
    r->api = strncmp(url, "/api/", 5) == 0;
    r->special = strncmp(url, "/__fake/", 8) == 0;
    r->oauth = strcmp(url, "/oauth/token") == 0 && strcmp(method, "POST") == 0;
    if (r->oauth)
        stats_oauth(&srv->stats);
    if (r->api) {
        parse_api_path(r);
        r->rk = route_key_of(r->method, r->kind);
        r->authorized = authorized(srv, c);
        stats_request(&srv->stats, r->rk);
    }
    if (upload_begin(&r->up, c, body_mode(r)) != 0) {
        req_free(r);
        return NULL;
    }
    return r;
}

/* The gates in front of every /api/ route. Returns true when the request may proceed;
 * otherwise a response is queued (or, when stopping, none) and *ret says what MHD gets. */
static bool pass_gates(struct ft_req *r, enum MHD_Result *ret)
{
    struct ft_server *srv = r->srv;
    struct fault_cfg cfg = faults_get(&srv->faults);
    char secs[16];
    unsigned wait;

    while (cfg.hang && nap(srv, 20))
        cfg = faults_get(&srv->faults);
    if (!nap(srv, cfg.latency_ms)) {
        *ret = MHD_NO;
        return false;
    }
    if (faults_fail_now(&srv->faults)) {
        stats_fault(&srv->stats, SF_FAILED);
        *ret = respond_error(r, 503, "The service is temporarily unavailable", NULL, NULL, NULL);
        return false;
    }
    if (!r->authorized) {
        static const char *const h[] = {MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer", NULL};
        *ret = respond_error(r, 401, "Missing or invalid bearer token", NULL, NULL, h);
        return false;
    }
    wait = faults_rate_check(&srv->faults, bearer(r->conn) ? bearer(r->conn) : "",
                             strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0);
    if (wait) {
        const char *h[] = {MHD_HTTP_HEADER_RETRY_AFTER, secs, NULL};
        snprintf(secs, sizeof(secs), "%u", wait);
        *ret = respond_error(r, 429, "Rate limit exceeded", NULL, NULL, h);
        return false;
    }
    return true;
}

static enum MHD_Result dispatch(struct ft_req *r)
{
    enum MHD_Result ret;

    if (r->special)
        return special_dispatch(r);
    if (r->oauth)
        return oauth_token_request(r);
    if (!r->api)
        return respond_error(r, 404, "No such route", NULL, NULL, NULL);
    if (!pass_gates(r, &ret))
        return ret;
    return api_dispatch(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct ft_req *r = *con_cls;

    (void)version;
    if (!r) {
        r = req_new(cls, c, url, method);
        *con_cls = r;
        return r ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        r->bytes_in += *upload_data_size;
        upload_feed(&r->up, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->status)
        return MHD_YES;
    if (r->api)
        stats_bytes_in(&r->srv->stats, r->bytes_in);
    upload_end(&r->up);
    return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct ft_server *srv = cls;
    struct ft_req *r = *con_cls;

    (void)c;
    (void)toe;
    if (!r)
        return;
    stats_log(&srv->stats, r->method, r->path, r->status, r->bytes_in, r->bytes_out,
              (double)(mono_ns() - r->start_ns) / 1e6);
    req_free(r);
    *con_cls = NULL;
}

/* The path reaches the handler as sent: decoding is per parameter, exactly once. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = calloc(1, (size_t)n + 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

int server_start(struct ft_server *srv)
{
    struct sockaddr_in addr = {0};
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    char *cert = NULL, *key = NULL;

    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)srv->opt.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (srv->opt.tls_cert) {
        cert = read_pem(srv->opt.tls_cert);
        key = read_pem(srv->opt.tls_key ? srv->opt.tls_key : srv->opt.tls_cert);
        if (!cert || !key) {
            log_err("fake-tenant: cannot read the TLS certificate or key");
            free(cert);
            free(key);
            return -1;
        }
        flags |= MHD_USE_TLS;
    }
    /* MHD copies neither PEM: they stay allocated while the daemon runs (one per process). */
    srv->daemon =
        cert ? MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_HTTPS_MEM_CERT,
                                cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_SOCK_ADDR, &addr,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, srv,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
                                MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END)
             : MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &addr,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, srv,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
                                MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    srv->tls_pem[0] = cert;
    srv->tls_pem[1] = key;
    if (!srv->daemon) {
        log_err("fake-tenant: cannot listen on 127.0.0.1:%d", srv->opt.port);
        return -1;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || !info->port) {
        log_err("fake-tenant: cannot tell which port it listens on");
        return -1;
    }
    printf("LISTENING %u\n", (unsigned)info->port);
    fflush(stdout);
    return 0;
}

void server_stop(struct ft_server *srv)
{
    atomic_store(&srv->stopping, true);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
}
