/* test_server.h: a scripted in-process HTTP server (libmicrohttpd) for the http and api unit
 * tests. Replies are served in the order they were pushed and the last one repeats; every
 * request is recorded (method, raw URL, the headers that matter, the body). Header-only so
 * each test binary stays one file; everything is static. */
#ifndef QEXTFS_TEST_SERVER_H
#define QEXTFS_TEST_SERVER_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TS_MAX_REPLIES 16
#define TS_MAX_RECORDS 64
#define TS_MAX_HEADERS 3

struct ts_reply {
    unsigned status;
    char *body;
    size_t body_len;
    char headers[TS_MAX_HEADERS][2][256];
    unsigned delay_ms;
};

struct ts_record {
    char method[16];
    char url[1024];
    char auth[512];
    char range[128];
    char content_type[256];
    char *body;
    size_t body_len;
};

struct ts_server {
    struct MHD_Daemon *d;
    unsigned short port;
    char base[64];
    pthread_mutex_t mu;
    struct ts_reply replies[TS_MAX_REPLIES];
    int n_replies, next;
    struct ts_record recs[TS_MAX_RECORDS];
    int total; /* requests answered, recorded or not */
    int active, max_active;
    unsigned hold_ms; /* every request takes this long (concurrency tests) */
};

/* Per-request upload accumulator. */
struct ts_upload {
    char *p;
    size_t len;
};

static size_t ts_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void ts_copy_header(struct MHD_Connection *c, const char *name, char *out, size_t outsz)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

    snprintf(out, outsz, "%s", v ? v : "");
}

/* Records the request and picks its reply. Returns a copy of the reply (body shared). */
static struct ts_reply ts_take(struct ts_server *s, struct MHD_Connection *c, const char *url,
                               const char *method, struct ts_upload *up)
{
    struct ts_reply r;

    pthread_mutex_lock(&s->mu);
    if (s->total < TS_MAX_RECORDS) {
        struct ts_record *rec = &s->recs[s->total];

        snprintf(rec->method, sizeof(rec->method), "%s", method);
        snprintf(rec->url, sizeof(rec->url), "%s", url);
        ts_copy_header(c, "Authorization", rec->auth, sizeof(rec->auth));
        ts_copy_header(c, "Range", rec->range, sizeof(rec->range));
        ts_copy_header(c, "Content-Type", rec->content_type, sizeof(rec->content_type));
        rec->body = up->p;
        rec->body_len = up->len;
        up->p = NULL;
    }
    s->total++;
    r = s->replies[s->next];
    if (s->next + 1 < s->n_replies)
        s->next++;
    if (++s->active > s->max_active)
        s->max_active = s->active;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static enum MHD_Result ts_handler(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct ts_server *s = cls;
    struct ts_upload *up = *con_cls;
    struct MHD_Response *resp;
    struct ts_reply r;
    enum MHD_Result ret;

    (void)version;
    if (!up) {
        *con_cls = up = calloc(1, sizeof(*up));
        return up ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        char *np = realloc(up->p, up->len + *upload_data_size + 1);

        if (!np)
            return MHD_NO;
        memcpy(np + up->len, upload_data, *upload_data_size);
        up->p = np;
        up->len += *upload_data_size;
        up->p[up->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    r = ts_take(s, c, url, method, up);
    if (r.delay_ms || s->hold_ms)
        usleep((r.delay_ms + s->hold_ms) * 1000);
    resp = MHD_create_response_from_buffer(r.body_len, r.body, MHD_RESPMEM_MUST_COPY);
    for (int i = 0; i < TS_MAX_HEADERS && resp; i++)
        if (r.headers[i][0][0])
            MHD_add_response_header(resp, r.headers[i][0], r.headers[i][1]);
    ret = resp ? MHD_queue_response(c, r.status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static void ts_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct ts_upload *up = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (up) {
        free(up->p);
        free(up);
        *con_cls = NULL;
    }
}

/* Starts a server on addr ("127.0.0.1", "127.0.0.2") and an ephemeral port. */
static struct ts_server *ts_start(const char *addr)
{
    struct ts_server *s = calloc(1, sizeof(*s));
    struct sockaddr_in sa = {.sin_family = AF_INET};
    const union MHD_DaemonInfo *info;

    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    inet_pton(AF_INET, addr, &sa.sin_addr);
    s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                            NULL, NULL, ts_handler, s, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, ts_completed, NULL,
                            MHD_OPTION_UNESCAPE_CALLBACK, ts_no_unescape, NULL, MHD_OPTION_END);
    if (!s->d) {
        free(s);
        return NULL;
    }
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    snprintf(s->base, sizeof(s->base), "http://%s:%u", addr, s->port);
    return s;
}

/* Queues a reply. hdr1/hdr2 are "Name: value" or NULL. */
static void ts_push_n(struct ts_server *s, unsigned status, const char *body, size_t len,
                      const char *hdr1, const char *hdr2)
{
    struct ts_reply *r = &s->replies[s->n_replies++];
    const char *hdrs[] = {hdr1, hdr2};

    r->status = status;
    r->body = malloc(len + 1);
    memcpy(r->body, body, len);
    r->body_len = len;
    for (int i = 0; i < 2; i++) {
        const char *colon = hdrs[i] ? strchr(hdrs[i], ':') : NULL;

        if (!colon)
            continue;
        snprintf(r->headers[i][0], sizeof(r->headers[i][0]), "%.*s", (int)(colon - hdrs[i]),
                 hdrs[i]);
        snprintf(r->headers[i][1], sizeof(r->headers[i][1]), "%s", colon + 1 + (colon[1] == ' '));
    }
}

static void ts_push(struct ts_server *s, unsigned status, const char *body, const char *hdr1,
                    const char *hdr2)
{
    ts_push_n(s, status, body ? body : "", body ? strlen(body) : 0, hdr1, hdr2);
}

/* Forgets the queued replies (not the records). */
static void ts_reset_replies(struct ts_server *s)
{
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_replies; i++)
        free(s->replies[i].body);
    memset(s->replies, 0, sizeof(s->replies));
    s->n_replies = s->next = 0;
    pthread_mutex_unlock(&s->mu);
}

static int ts_total(struct ts_server *s)
{
    int n;

    pthread_mutex_lock(&s->mu);
    n = s->total;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void ts_stop(struct ts_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    for (int i = 0; i < s->n_replies; i++)
        free(s->replies[i].body);
    for (int i = 0; i < s->total && i < TS_MAX_RECORDS; i++)
        free(s->recs[i].body);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

#endif
