/* http: owns the connection to the tenant. A pool of curl easy handles sharing one CURLSH
 * (DNS, TLS sessions, connections), per-tier pacing with a token bucket and a 429 hold,
 * bounded retries with backoff, and turning a failed response into -errno plus one line of
 * text. http_new requires curl_global_init() to have been called (main does it before any
 * thread starts; the unit tests do it themselves).
 * The credential passes through a stack buffer that is wiped at once; it never reaches a log
 * or a message. */
#include "http.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define RETRIES_429_MAX 20
#define PACE_WINDOW_S 300.0 /* the service counts its rate limits over five minutes */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define ERR_BODY_MAX (64 * 1024) /* enough for any error document; the rest is dropped */
/* A collected body (in practice the extension list) larger than this is refused with EIO:
 * it bounds what a broken or hostile service can make us hold (the body, then cJSON's tree
 * and the parsed list on top of it). A model as the live service sends it is ~1 KB, so this
 * is a list of ~16,000 extensions. Archives and files go to sinks and are not bounded here. */
#define BODY_MAX ((size_t)16 << 20)
#define AUTH_MAX 16384
#define BEARER "Bearer "
#define MIME_NAME_MAX 255 /* NAME_MAX: an upload's file name is a file's base name */

struct conn {
    CURL *curl;
    bool busy;
    char errbuf[CURL_ERROR_SIZE];
};

/* Client pacing of one rate-limit tier. The service counts each tier per user over a
 * window (five minutes), so requests go at once while the window has room: a sliding window
 * of the start times of the last `budget` requests. After a 429 (someone else is spending
 * the same budget) the tier also spreads requests evenly, with a token bucket, for a
 * window's time. */
struct tier_state {
    double rate; /* tokens per second, 0 = not paced */
    double burst;
    double tokens; /* may go negative: each request reserves its slot in the queue */
    struct timespec stamp;
    struct timespec not_before;   /* a 429 holds the whole tier until then */
    struct timespec strict_until; /* the token bucket applies until then */
    double window;                /* seconds */
    struct timespec *starts;      /* ring of reserved start times, budget long */
    size_t budget, head, used;
};

struct http {
    struct http_opts o;
    char *base_url, *cacert, *host;
    http_auth_fn auth;
    void *auth_arg;

    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    struct conn *conns;

    pthread_mutex_t pace_mu;
    pthread_cond_t pace_cv; /* CLOCK_MONOTONIC */
    struct tier_state tiers[2];

    pthread_mutex_t stats_mu;
    struct http_stats stats;
};

struct buf {
    char *p;
    size_t len, cap;
};

/* One attempt's view of the response, fed by the header and write callbacks. */
struct xfer {
    const struct http_req *req;
    long status; /* from the latest status line; routes the body */
    struct buf body;
    uint64_t sink_off;
    int sink_err;
    bool too_big;
    int64_t total_len;
    char etag[256];
    char retry_after[64];
};

/* The request-specific options of a handle. A zeroed one puts a handle back to neutral. */
struct reqopts {
    const char *url;
    const char *custom;
    curl_mime *mime;
    const char *postfields;
    curl_off_t postsize;
    struct curl_slist *headers;
    const char *range;
    const char *bearer;
    struct xfer *x;
};

/* What one attempt ended with. */
struct outcome {
    int local_err; /* -errno before or around the transfer (credential, setup, sink) */
    CURLcode cc;
    long status;
    char curl_err[CURL_ERROR_SIZE];
};

/* --- time ---------------------------------------------------------------------------- */

static struct timespec mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

static struct timespec ts_add(struct timespec t, double secs)
{
    long long ns = (long long)(secs * 1e9);

    t.tv_sec += ns / 1000000000LL;
    t.tv_nsec += ns % 1000000000LL;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static int ts_cmp(struct timespec a, struct timespec b)
{
    if (a.tv_sec != b.tv_sec)
        return a.tv_sec < b.tv_sec ? -1 : 1;
    if (a.tv_nsec != b.tv_nsec)
        return a.tv_nsec < b.tv_nsec ? -1 : 1;
    return 0;
}

static double ts_diff(struct timespec a, struct timespec b)
{
    return (double)(a.tv_sec - b.tv_sec) + (double)(a.tv_nsec - b.tv_nsec) / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec until = ts_add(mono_now(), (double)ms / 1000.0);

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
}

/* --- status and error text ------------------------------------------------------------ */

int http_syscall_errno(int rc)
{
    switch (rc) {
    case -EPROTO:
    case -ETIMEDOUT:
    case -EAGAIN:
        return -EIO;
    default:
        return rc;
    }
}

int http_status_errno(long status)
{
    if (status < 400)
        return 0;
    switch (status) {
    case 401:
    case 403:
        return EACCES;
    case 404:
    case 410:
        return ENOENT;
    case 409:
        return EEXIST;
    case 413:
        return EFBIG;
    case 429:
        return EAGAIN;
    default:
        return status < 500 ? EINVAL : EIO;
    }
}

static const char *reason_phrase(long status)
{
    static const struct {
        long status;
        const char *text;
    } reasons[] = {
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {412, "Precondition Failed"},
        {413, "Payload Too Large"},
        {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"},
        {422, "Unprocessable Entity"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };

    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return status < 500 ? "Client Error" : "Server Error";
}

/* Copies s into out as one printable line: the text ends up in logs and xattrs. */
static void copy_line(char *out, size_t outsz, const char *s)
{
    size_t n = 0;

    for (; *s && n + 1 < outsz; s++)
        out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
    out[n] = '\0';
}

static const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* The service's own words from an error document: meta.message or title as the reference
 * has it, or the errors[0] shape the live service uses. */
static void service_message(const char *body, size_t len, char *out, size_t outsz)
{
    cJSON *root = len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *first = NULL;
    const char *s = NULL;

    out[0] = '\0';
    if (!cJSON_IsObject(root))
        goto out;
    s = json_str(cJSON_GetObjectItemCaseSensitive(root, "meta"), "message");
    if (!s)
        s = json_str(root, "title");
    first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "errors"), 0);
    if (!s && cJSON_IsObject(first))
        s = json_str(first, "detail") ? json_str(first, "detail") : json_str(first, "title");
    if (!s)
        s = json_str(root, "message");
    if (s)
        copy_line(out, outsz, s);
out:
    cJSON_Delete(root);
}

static void status_message(const struct http_req *req, const struct xfer *x, long status, char *out,
                           size_t outsz)
{
    char svc[384];
    int n;

    service_message(x->body.p, x->body.len, svc, sizeof(svc));
    n = snprintf(out, outsz, "%ld %s", status, reason_phrase(status));
    if (n < 0 || (size_t)n >= outsz)
        return;
    if (status == 401 && !req->no_auth)
        snprintf(out + n, outsz - (size_t)n, ": the API key was refused%s%s%s", svc[0] ? " (" : "",
                 svc, svc[0] ? ")" : "");
    else if (svc[0])
        snprintf(out + n, outsz - (size_t)n, ": %s", svc);
}

/* --- Retry-After, Content-Range ---------------------------------------------------------- */

long http_parse_retry_after(const char *value, long cap)
{
    long long secs;
    char *end;

    if (cap <= 0)
        cap = 60;
    if (!value)
        return 1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        errno = 0;
        secs = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end)
            return 1;
        if (errno == ERANGE || secs > cap)
            return cap;
        return (long)secs;
    }
    time_t when = curl_getdate(value, NULL);

    if (when == -1)
        return 1;
    secs = (long long)(when - time(NULL));
    if (secs < 0)
        return 0;
    return secs > cap ? cap : (long)secs;
}

/* "bytes a-b/total" or "bytes * /total"; -1 when the total is unknown. */
static int64_t content_range_total(const char *v)
{
    const char *slash = strchr(v, '/');
    long long total;
    char *end;

    if (strncasecmp(v, "bytes", 5) != 0 || !slash || slash[1] < '0' || slash[1] > '9')
        return -1;
    errno = 0;
    total = strtoll(slash + 1, &end, 10);
    return errno || (*end && *end != ' ') ? -1 : total;
}

/* --- callbacks -------------------------------------------------------------------------- */

static int buf_append(struct buf *b, const void *p, size_t n, size_t max)
{
    if (n > max - b->len)
        return -EFBIG;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        char *np;

        while (cap < b->len + n + 1)
            cap *= 2;
        np = realloc(b->p, cap);
        if (!np)
            return -ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    int rc;

    if (x->status >= 400) {
        /* Only the start of an error document matters; drop the rest quietly. */
        size_t room = ERR_BODY_MAX - x->body.len;

        if (buf_append(&x->body, ptr, n < room ? n : room, ERR_BODY_MAX) != 0)
            return 0;
        return n;
    }
    if (x->status < 200 || x->status >= 300)
        return n; /* a redirect's or an interim response's body */
    if (x->req->sink) {
        rc = x->req->sink(x->req->sink_arg, x->sink_off, ptr, n);
        if (rc) {
            x->sink_err = rc < 0 ? rc : -EIO;
            return 0;
        }
        x->sink_off += n;
        return n;
    }
    rc = buf_append(&x->body, ptr, n, BODY_MAX);
    if (rc) {
        x->too_big = rc == -EFBIG;
        x->sink_err = rc;
        return 0;
    }
    return n;
}

/* Copies header value "Name: value" into out when the name matches. */
static bool header_value(const char *line, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    size_t len;

    if (strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return false;
    line += nl + 1;
    while (*line == ' ' || *line == '\t')
        line++;
    len = strcspn(line, "\r\n");
    if (len >= outsz)
        len = outsz - 1;
    memcpy(out, line, len);
    out[len] = '\0';
    while (len && (out[len - 1] == ' ' || out[len - 1] == '\t'))
        out[--len] = '\0';
    return true;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    char line[1024], range[128];

    memcpy(line, ptr, n < sizeof(line) ? n : sizeof(line) - 1);
    line[n < sizeof(line) ? n : sizeof(line) - 1] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or a 100): forget the previous one's headers. */
        const char *sp = strchr(line, ' ');

        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->body.len = 0;
        x->sink_off = 0;
        x->total_len = -1;
        x->etag[0] = '\0';
        x->retry_after[0] = '\0';
        return n;
    }
    if (header_value(line, "Content-Range", range, sizeof(range)))
        x->total_len = content_range_total(range);
    else if (!header_value(line, "ETag", x->etag, sizeof(x->etag)))
        header_value(line, "Retry-After", x->retry_after, sizeof(x->retry_after));
    return n;
}

static int share_lock_index(curl_lock_data data)
{
    return data >= 0 && data < CURL_LOCK_DATA_LAST ? (int)data : 0;
}

static void on_share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *arg)
{
    struct http *h = arg;

    (void)c;
    (void)access;
    pthread_mutex_lock(&h->share_mu[share_lock_index(data)]);
}

static void on_share_unlock(CURL *c, curl_lock_data data, void *arg)
{
    struct http *h = arg;

    (void)c;
    pthread_mutex_unlock(&h->share_mu[share_lock_index(data)]);
}

/* --- the pool --------------------------------------------------------------------------- */

#define SET(c, cc, opt, val)                                                                       \
    do {                                                                                           \
        if ((cc) == CURLE_OK)                                                                      \
            (cc) = curl_easy_setopt((c), (opt), (val));                                            \
    } while (0)

/* Receive and send buffer sizes of a handle (see conn_configure). */
#define HTTP_RECV_BUFFER (512L * 1024)
#define HTTP_SEND_BUFFER (512L * 1024)

/* The options every request on a handle shares. */
static CURLcode conn_configure(struct http *h, struct conn *cn)
{
    CURL *c = cn->curl;
    CURLcode cc = CURLE_OK;
    long t = h->o.timeout_s;

    SET(c, cc, CURLOPT_SHARE, h->share);
    SET(c, cc, CURLOPT_NOSIGNAL, 1L);
    SET(c, cc, CURLOPT_ERRORBUFFER, cn->errbuf);
    SET(c, cc, CURLOPT_TCP_KEEPALIVE, 1L);
    SET(c, cc, CURLOPT_CONNECTTIMEOUT, t);
    /* Less than a byte a second for timeout_s is a hung server; TIMEOUT is a backstop. */
    SET(c, cc, CURLOPT_LOW_SPEED_LIMIT, 1L);
    SET(c, cc, CURLOPT_LOW_SPEED_TIME, t);
    SET(c, cc, CURLOPT_TIMEOUT, 10 * t + 60);
    /* The bearer token is an auth option, not a header, so curl drops it when a redirect
     * leads to another host. */
    SET(c, cc, CURLOPT_FOLLOWLOCATION, 1L);
    SET(c, cc, CURLOPT_MAXREDIRS, 5L);
    SET(c, cc, CURLOPT_UNRESTRICTED_AUTH, 0L);
    SET(c, cc, CURLOPT_PROTOCOLS_STR, "http,https");
    SET(c, cc, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(c, cc, CURLOPT_SSL_VERIFYPEER, h->o.insecure ? 0L : 1L);
    SET(c, cc, CURLOPT_SSL_VERIFYHOST, h->o.insecure ? 0L : 2L);
    if (h->cacert)
        SET(c, cc, CURLOPT_CAINFO, h->cacert);
    SET(c, cc, CURLOPT_USERAGENT, "qextfs/" QEXTFS_VERSION);
    /* Zips do not compress; ask for the bytes as they are. */
    SET(c, cc, CURLOPT_ACCEPT_ENCODING, (char *)NULL);
    /* Archives are megabytes: curl's 16 KiB default costs a recv and a write per 16 KiB. */
    SET(c, cc, CURLOPT_BUFFERSIZE, HTTP_RECV_BUFFER);
    SET(c, cc, CURLOPT_UPLOAD_BUFFERSIZE, HTTP_SEND_BUFFER);
    SET(c, cc, CURLOPT_WRITEFUNCTION, on_body);
    SET(c, cc, CURLOPT_HEADERFUNCTION, on_header);
    return cc;
}

static struct conn *conn_create(struct http *h, struct conn *cn)
{
    cn->curl = curl_easy_init();
    if (!cn->curl)
        return NULL;
    if (conn_configure(h, cn) != CURLE_OK) {
        curl_easy_cleanup(cn->curl);
        cn->curl = NULL;
        return NULL;
    }
    return cn;
}

/* An idle handle, else a free slot for a new one, else NULL. Caller holds pool_mu. */
static struct conn *pool_pick(struct http *h)
{
    struct conn *empty = NULL;

    for (int i = 0; i < h->o.max_conns; i++) {
        if (h->conns[i].curl && !h->conns[i].busy)
            return &h->conns[i];
        if (!h->conns[i].curl && !empty)
            empty = &h->conns[i];
    }
    return empty;
}

/* Hands out a handle, creating one while fewer than max_conns exist, else waits for one. */
static struct conn *pool_get(struct http *h)
{
    struct conn *cn;

    pthread_mutex_lock(&h->pool_mu);
    while (!(cn = pool_pick(h)))
        pthread_cond_wait(&h->pool_cv, &h->pool_mu);
    if (!cn->curl && !conn_create(h, cn))
        cn = NULL;
    else
        cn->busy = true;
    pthread_mutex_unlock(&h->pool_mu);
    return cn;
}

static void pool_put(struct http *h, struct conn *cn)
{
    pthread_mutex_lock(&h->pool_mu);
    cn->busy = false;
    pthread_cond_signal(&h->pool_cv);
    pthread_mutex_unlock(&h->pool_mu);
}

/* --- pacing ----------------------------------------------------------------------------- */

static int tier_init(struct tier_state *t, int per_min, double window)
{
    t->rate = per_min > 0 ? per_min / 60.0 : 0;
    /* In strict mode, a burst of a tenth of a minute, then a steady stream. */
    t->burst = per_min >= 10 ? per_min / 10.0 : 1.0;
    t->tokens = t->burst;
    t->stamp = mono_now();
    t->window = window > 0 ? window : PACE_WINDOW_S;
    /* 90% of what the window allows leaves room for clock skew and other clients. */
    t->budget = per_min > 0 ? (size_t)(per_min * t->window / 60.0 * 0.9) : 0;
    if (per_min > 0 && t->budget < 1)
        t->budget = 1;
    t->starts = t->budget ? calloc(t->budget, sizeof(*t->starts)) : NULL;
    return t->budget && !t->starts ? -ENOMEM : 0;
}

/* The token bucket's slot for a request made now; called locked. */
static struct timespec bucket_slot(struct tier_state *t, struct timespec now)
{
    t->tokens += ts_diff(now, t->stamp) * t->rate;
    if (t->tokens > t->burst)
        t->tokens = t->burst;
    t->stamp = now;
    t->tokens -= 1.0;
    return t->tokens < 0 ? ts_add(now, -t->tokens / t->rate) : now;
}

/* The sliding window's slot: now while the window has room, else when the oldest of the
 * last `budget` starts leaves it. Reserves the slot; called locked. */
static struct timespec window_slot(struct tier_state *t, struct timespec now)
{
    struct timespec slot = now;

    if (t->used == t->budget) {
        struct timespec free_at = ts_add(t->starts[t->head], t->window);

        if (ts_cmp(free_at, slot) > 0)
            slot = free_at;
    } else {
        t->used++;
    }
    t->starts[t->head] = slot;
    t->head = (t->head + 1) % t->budget;
    return slot;
}

/* Waits for the tier's next slot and for any 429 hold on it. */
static void pace_wait(struct http *h, enum http_tier tier)
{
    struct tier_state *t = &h->tiers[tier == HTTP_TIER2];
    struct timespec now, slot, until;

    pthread_mutex_lock(&h->pace_mu);
    now = mono_now();
    slot = now;
    if (t->rate > 0) {
        slot = window_slot(t, now);
        if (ts_cmp(t->strict_until, now) > 0) {
            struct timespec b = bucket_slot(t, now);

            if (ts_cmp(b, slot) > 0)
                slot = b;
        }
    }
    for (;;) {
        /* not_before can move while we wait: re-read it after every wake-up. */
        until = ts_cmp(slot, t->not_before) >= 0 ? slot : t->not_before;
        if (ts_cmp(mono_now(), until) >= 0)
            break;
        pthread_cond_timedwait(&h->pace_cv, &h->pace_mu, &until);
    }
    pthread_mutex_unlock(&h->pace_mu);
}

static void pace_hold(struct http *h, enum http_tier tier, long secs)
{
    struct tier_state *t = &h->tiers[tier == HTTP_TIER2];
    struct timespec now = mono_now();
    struct timespec until = ts_add(now, (double)secs);

    pthread_mutex_lock(&h->pace_mu);
    if (ts_cmp(until, t->not_before) > 0)
        t->not_before = until;
    /* The window had less room than we thought: spread requests out for a while. */
    t->strict_until = ts_add(until, t->window);
    if (ts_cmp(t->stamp, until) < 0) {
        t->stamp = until;
        t->tokens = 0;
    }
    pthread_cond_broadcast(&h->pace_cv);
    pthread_mutex_unlock(&h->pace_mu);
}

/* --- life cycle ------------------------------------------------------------------------- */

static char *host_of(const char *url)
{
    const char *p = strstr(url, "://");
    size_t len;

    p = p ? p + 3 : url;
    len = strcspn(p, "/?#");
    /* Never repeat user:password@ from a URL in a message. */
    for (size_t i = len; i > 0; i--)
        if (p[i - 1] == '@') {
            p += i;
            len -= i;
            break;
        }
    return strndup(p, len);
}

static int sync_init(struct http *h)
{
    pthread_condattr_t ca;
    int rc = 0;

    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        rc |= pthread_mutex_init(&h->share_mu[i], NULL);
    rc |= pthread_mutex_init(&h->pool_mu, NULL);
    rc |= pthread_cond_init(&h->pool_cv, NULL);
    rc |= pthread_mutex_init(&h->pace_mu, NULL);
    rc |= pthread_mutex_init(&h->stats_mu, NULL);
    rc |= pthread_condattr_init(&ca);
    rc |= pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc |= pthread_cond_init(&h->pace_cv, &ca);
    pthread_condattr_destroy(&ca);
    return rc ? -ENOMEM : 0;
}

static int share_init(struct http *h)
{
    CURLSHcode sc = CURLSHE_OK;

    h->share = curl_share_init();
    if (!h->share)
        return -ENOMEM;
#define SHSET(opt, val)                                                                            \
    do {                                                                                           \
        if (sc == CURLSHE_OK)                                                                      \
            sc = curl_share_setopt(h->share, (opt), (val));                                        \
    } while (0)
    SHSET(CURLSHOPT_LOCKFUNC, on_share_lock);
    SHSET(CURLSHOPT_UNLOCKFUNC, on_share_unlock);
    SHSET(CURLSHOPT_USERDATA, h);
    SHSET(CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    SHSET(CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    SHSET(CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
#undef SHSET
    if (sc != CURLSHE_OK) {
        log_err("http: cannot set up the connection share: %s", curl_share_strerror(sc));
        return -EIO;
    }
    return 0;
}

struct http *http_new(const struct http_opts *opts, http_auth_fn auth, void *auth_arg)
{
    struct http *h;

    if (!opts || !opts->base_url)
        return NULL;
    h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    /* First, so that http_free may always destroy what it finds. */
    if (sync_init(h) != 0) {
        free(h);
        return NULL;
    }
    h->o = *opts;
    h->o.max_conns = opts->max_conns > 0 ? opts->max_conns : 4;
    h->o.timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 30;
    h->o.max_retries = opts->max_retries > 0 ? opts->max_retries : 0;
    h->o.retry_after_cap_s = opts->retry_after_cap_s > 0 ? opts->retry_after_cap_s : 60;
    h->auth = auth;
    h->auth_arg = auth_arg;
    h->base_url = strdup(opts->base_url);
    h->cacert = opts->cacert ? strdup(opts->cacert) : NULL;
    h->host = host_of(opts->base_url);
    h->o.base_url = h->base_url;
    h->o.cacert = h->cacert;
    h->conns = calloc((size_t)h->o.max_conns, sizeof(*h->conns));
    if (!h->base_url || (opts->cacert && !h->cacert) || !h->host || !h->conns)
        goto fail;
    if (tier_init(&h->tiers[0], opts->tier1_per_min, opts->pace_window_s) != 0 ||
        tier_init(&h->tiers[1], opts->tier2_per_min, opts->pace_window_s) != 0)
        goto fail;
    if (share_init(h) != 0)
        goto fail;
    return h;
fail:
    http_free(h);
    return NULL;
}

void http_free(struct http *h)
{
    if (!h)
        return;
    for (int i = 0; h->conns && i < h->o.max_conns; i++)
        curl_easy_cleanup(h->conns[i].curl);
    /* After the handles: the share's connections close here and still take its locks. */
    if (h->share && curl_share_cleanup(h->share) != CURLSHE_OK)
        log_warn("http: the connection share was still in use at exit");
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&h->share_mu[i]);
    pthread_mutex_destroy(&h->pool_mu);
    pthread_cond_destroy(&h->pool_cv);
    pthread_mutex_destroy(&h->pace_mu);
    pthread_cond_destroy(&h->pace_cv);
    pthread_mutex_destroy(&h->stats_mu);
    free(h->tiers[0].starts);
    free(h->tiers[1].starts);
    free(h->conns);
    free(h->base_url);
    free(h->cacert);
    free(h->host);
    free(h);
}

void http_get_stats(struct http *h, struct http_stats *out)
{
    pthread_mutex_lock(&h->stats_mu);
    *out = h->stats;
    pthread_mutex_unlock(&h->stats_mu);
}

static void stats_add(struct http *h, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&h->stats_mu);
    *field += n;
    pthread_mutex_unlock(&h->stats_mu);
}

void http_req_init(struct http_req *req, const char *method, const char *path)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->path = path;
    req->tier = method && strcmp(method, "GET") == 0 ? HTTP_TIER1 : HTTP_TIER2;
    req->range_start = -1;
    req->range_end = -1;
}

void http_resp_free(struct http_resp *resp)
{
    if (!resp)
        return;
    free(resp->body);
    free(resp->etag);
    resp->body = NULL;
    resp->etag = NULL;
    resp->body_len = 0;
}

/* --- one attempt ------------------------------------------------------------------------ */

static CURLcode apply_request(CURL *c, const struct reqopts *r)
{
    CURLcode cc = CURLE_OK;

    /* Clear the previous body first: each of these also picks a method, HTTPGET last. */
    SET(c, cc, CURLOPT_MIMEPOST, (curl_mime *)NULL);
    SET(c, cc, CURLOPT_POSTFIELDS, (char *)NULL);
    SET(c, cc, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    SET(c, cc, CURLOPT_HTTPGET, 1L);
    if (r->mime) {
        SET(c, cc, CURLOPT_MIMEPOST, r->mime);
    } else if (r->postfields) {
        SET(c, cc, CURLOPT_POSTFIELDSIZE_LARGE, r->postsize);
        SET(c, cc, CURLOPT_POSTFIELDS, r->postfields);
    }
    SET(c, cc, CURLOPT_URL, r->url);
    SET(c, cc, CURLOPT_CUSTOMREQUEST, r->custom);
    SET(c, cc, CURLOPT_HTTPHEADER, r->headers);
    SET(c, cc, CURLOPT_RANGE, r->range);
    SET(c, cc, CURLOPT_XOAUTH2_BEARER, r->bearer);
    SET(c, cc, CURLOPT_HTTPAUTH, r->bearer ? (long)CURLAUTH_BEARER : (long)CURLAUTH_BASIC);
    SET(c, cc, CURLOPT_WRITEDATA, r->x);
    SET(c, cc, CURLOPT_HEADERDATA, r->x);
    return cc;
}

static curl_mime *build_mime(CURL *c, const struct http_req *req)
{
    curl_mime *mime = curl_mime_init(c);
    curl_mimepart *part;
    CURLcode cc = CURLE_OK;

    if (!mime)
        return NULL;
    /* The service reads the model before the archive: data goes first. */
    if (req->mp_data_json) {
        part = curl_mime_addpart(mime);
        cc = part ? curl_mime_name(part, "data") : CURLE_OUT_OF_MEMORY;
        if (cc == CURLE_OK)
            cc = curl_mime_data(part, req->mp_data_json, CURL_ZERO_TERMINATED);
        if (cc == CURLE_OK)
            cc = curl_mime_type(part, "application/json");
    }
    if (cc == CURLE_OK && req->mp_file_path) {
        part = curl_mime_addpart(mime);
        cc = part ? curl_mime_name(part, "file") : CURLE_OUT_OF_MEMORY;
        if (cc == CURLE_OK)
            cc = curl_mime_filedata(part, req->mp_file_path);
        if (cc == CURLE_OK && req->mp_file_name)
            cc = curl_mime_filename(part, req->mp_file_name);
        if (cc == CURLE_OK)
            cc = curl_mime_type(part, "application/zip");
    }
    if (cc != CURLE_OK) {
        curl_mime_free(mime);
        return NULL;
    }
    return mime;
}

/* Writes the bearer token for this attempt into buf; buf is the caller's to wipe. */
static int get_token(struct http *h, const struct http_req *req, bool refresh, char *buf,
                     size_t bufsz, const char **token, struct http_resp *resp)
{
    int rc;

    *token = NULL;
    if (req->no_auth || !h->auth)
        return 0;
    rc = h->auth(h->auth_arg, refresh, buf, bufsz);
    if (rc) {
        snprintf(resp->message, sizeof(resp->message), "cannot get credentials: %s",
                 strerror(rc < 0 ? -rc : rc));
        return rc < 0 ? rc : -rc;
    }
    if (strncasecmp(buf, BEARER, strlen(BEARER)) != 0) {
        snprintf(resp->message, sizeof(resp->message), "the credential is not a Bearer token");
        return -EINVAL;
    }
    *token = buf + strlen(BEARER);
    return 0;
}

struct plan {
    char *url;
    char range[64];
    struct curl_slist *headers;
    const char *custom;
};

static void log_attempt(const struct http_req *req, CURL *c, const struct outcome *oc)
{
    curl_off_t down = 0, usecs = 0;

    if (!log_debug_enabled())
        return;
    if (curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down) != CURLE_OK ||
        curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &usecs) != CURLE_OK)
        down = usecs = 0;
    log_dbg("%s %s -> %ld%s%s, %lld bytes, %.3f s", req->method, req->path, oc->status,
            oc->cc ? " " : "", oc->cc ? curl_easy_strerror(oc->cc) : "", (long long)down,
            (double)usecs / 1e6);
}

enum http_endpoint http_endpoint_of(const char *method, const char *path)
{
    static const char ext[] = "/api/v1/extensions";
    size_t idlen;
    const char *rest;

    if (!method || !path)
        return HTTP_EP_OTHER;
    if (!strncmp(path, "/oauth/token", 12) && (!path[12] || path[12] == '?'))
        return HTTP_EP_TOKEN;
    if (strncmp(path, ext, sizeof(ext) - 1) != 0)
        return HTTP_EP_OTHER;
    rest = path + sizeof(ext) - 1;
    if (!*rest || *rest == '?')
        return !strcmp(method, "POST") ? HTTP_EP_CREATE : HTTP_EP_LIST;
    if (*rest != '/')
        return HTTP_EP_OTHER;
    idlen = strcspn(rest + 1, "/?");
    rest += 1 + idlen;
    if (idlen == 0)
        return HTTP_EP_OTHER;
    if (!*rest || *rest == '?')
        return !strcmp(method, "PATCH")    ? HTTP_EP_UPDATE
               : !strcmp(method, "DELETE") ? HTTP_EP_DELETE
                                           : HTTP_EP_GET;
    if (strncmp(rest, "/file", 5) != 0)
        return HTTP_EP_OTHER;
    if (rest[5] == '/')
        return HTTP_EP_FILE;
    return !rest[5] || rest[5] == '?' ? HTTP_EP_ARCHIVE : HTTP_EP_OTHER;
}

const char *http_endpoint_name(enum http_endpoint ep)
{
    static const char *const names[HTTP_EP_COUNT] = {
        [HTTP_EP_LIST] = "GET /extensions",
        [HTTP_EP_CREATE] = "POST /extensions",
        [HTTP_EP_GET] = "GET /extensions/{id}",
        [HTTP_EP_UPDATE] = "PATCH /extensions/{id}",
        [HTTP_EP_DELETE] = "DELETE /extensions/{id}",
        [HTTP_EP_ARCHIVE] = "GET /extensions/{id}/file",
        [HTTP_EP_FILE] = "GET /extensions/{id}/file/{path}",
        [HTTP_EP_TOKEN] = "POST /oauth/token",
        [HTTP_EP_OTHER] = "other",
    };

    return (unsigned)ep < HTTP_EP_COUNT ? names[ep] : "other";
}

static void count_transfer(struct http *h, const struct http_req *req, CURL *c)
{
    enum http_endpoint ep = http_endpoint_of(req->method, req->path);
    curl_off_t down = 0, up = 0;

    if (curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down) != CURLE_OK)
        down = 0;
    if (curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up) != CURLE_OK)
        up = 0;
    pthread_mutex_lock(&h->stats_mu);
    h->stats.requests++;
    h->stats.by_endpoint[ep]++;
    h->stats.bytes_in += (uint64_t)down;
    h->stats.bytes_out += (uint64_t)up;
    pthread_mutex_unlock(&h->stats_mu);
}

static void attempt(struct http *h, const struct http_req *req, const struct plan *p, bool refresh,
                    struct xfer *x, struct outcome *oc, struct http_resp *resp)
{
    struct reqopts r = {.url = p->url, .custom = p->custom, .headers = p->headers, .x = x};
    struct reqopts neutral = {0};
    char auth[AUTH_MAX];
    struct conn *cn;
    CURLcode cc;

    memset(oc, 0, sizeof(*oc));
    x->status = 0;
    x->body.len = 0;
    x->sink_off = 0;
    x->sink_err = 0;
    x->too_big = false;
    x->total_len = -1;
    x->etag[0] = x->retry_after[0] = '\0';
    cn = pool_get(h);
    if (!cn) {
        oc->local_err = -ENOMEM;
        snprintf(resp->message, sizeof(resp->message), "cannot set up a connection");
        return;
    }
    r.range = p->range[0] ? p->range : NULL;
    if (req->mp_data_json || req->mp_file_path) {
        r.mime = build_mime(cn->curl, req);
        if (!r.mime) {
            oc->local_err = -ENOMEM;
            snprintf(resp->message, sizeof(resp->message), "cannot build the upload");
            goto out;
        }
    } else if (req->body || strcmp(req->method, "POST") == 0) {
        r.postfields = req->body ? req->body : "";
        r.postsize = (curl_off_t)strlen(r.postfields);
    }
    oc->local_err = get_token(h, req, refresh, auth, sizeof(auth), &r.bearer, resp);
    if (oc->local_err == 0) {
        cc = apply_request(cn->curl, &r);
        explicit_bzero(auth, sizeof(auth)); /* curl holds its own copy now */
        if (cc != CURLE_OK) {
            oc->local_err = -EIO;
            snprintf(resp->message, sizeof(resp->message), "cannot set up the request: %s",
                     curl_easy_strerror(cc));
            goto out;
        }
    } else {
        explicit_bzero(auth, sizeof(auth));
        goto out;
    }
    cn->errbuf[0] = '\0';
    oc->cc = curl_easy_perform(cn->curl);
    if (curl_easy_getinfo(cn->curl, CURLINFO_RESPONSE_CODE, &oc->status) != CURLE_OK)
        oc->status = 0;
    snprintf(oc->curl_err, sizeof(oc->curl_err), "%s",
             cn->errbuf[0] ? cn->errbuf : curl_easy_strerror(oc->cc));
    count_transfer(h, req, cn->curl);
    log_attempt(req, cn->curl, oc);
out:
    /* Drops the token and every pointer into this request from the handle. */
    if (apply_request(cn->curl, &neutral) != CURLE_OK)
        log_warn("http: cannot reset a connection's request options");
    curl_mime_free(r.mime);
    pool_put(h, cn);
}

/* --- the retry loop --------------------------------------------------------------------- */

static bool transport_retryable(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
        return true;
    default:
        return false;
    }
}

static long backoff_ms(int retry, unsigned *seed)
{
    long ms = BACKOFF_FIRST_MS;

    for (int i = 0; i < retry && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    /* Half fixed, half random, so clients that failed together do not retry together. */
    return ms / 2 + (long)(rand_r(seed) % (unsigned)(ms / 2 + 1));
}

/* The file part's name travels as a quoted parameter of its Content-Disposition header.
 * libcurl rewrites '"', CR and LF there as %22, %0D, %0A (as browsers do), and a receiver
 * that follows RFC 7230 reads a backslash as an escape: the service would store another name
 * than the one given. Such a name is refused rather than sent altered; a header can never be
 * injected either way. Bytes of 0x80 and above (UTF-8) go as they are. A name longer than a
 * file name can be is a caller's bug, and receivers bound part headers. Returns why a name
 * cannot be sent, or NULL when it can. */
static const char *mime_filename_problem(const char *name)
{
    if (strlen(name) > MIME_NAME_MAX)
        return "the file name is longer than 255 bytes";
    for (const unsigned char *s = (const unsigned char *)name; *s; s++)
        if (*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
            return "a file name with quotes, backslashes or control characters cannot be sent "
                   "in a multipart header";
    return NULL;
}

static int plan_init(struct http *h, const struct http_req *req, struct plan *p,
                     struct http_resp *resp)
{
    const char *why;

    memset(p, 0, sizeof(*p));
    if (asprintf(&p->url, "%s%s", h->base_url, req->path) < 0) {
        p->url = NULL;
        return -ENOMEM;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        p->custom = req->method;
    if (req->range_start >= 0 && req->range_end >= 0)
        snprintf(p->range, sizeof(p->range), "%lld-%lld", (long long)req->range_start,
                 (long long)req->range_end);
    else if (req->range_start >= 0)
        snprintf(p->range, sizeof(p->range), "%lld-", (long long)req->range_start);
    else if (req->range_end > 0)
        snprintf(p->range, sizeof(p->range), "-%lld", (long long)req->range_end);
    if (req->body && req->body_type) {
        char ct[256];
        struct curl_slist *l;

        snprintf(ct, sizeof(ct), "Content-Type: %s", req->body_type);
        l = curl_slist_append(NULL, ct);
        if (!l)
            return -ENOMEM;
        p->headers = l;
    }
    why = req->mp_file_path && req->mp_file_name ? mime_filename_problem(req->mp_file_name) : NULL;
    if (why) {
        char shown[128];

        copy_line(shown, sizeof(shown), req->mp_file_name);
        snprintf(resp->message, sizeof(resp->message), "cannot upload as '%s': %s", shown, why);
        return -EINVAL;
    }
    if (req->mp_file_path && access(req->mp_file_path, R_OK) != 0) {
        int e = errno;

        snprintf(resp->message, sizeof(resp->message), "cannot read %s: %s", req->mp_file_path,
                 strerror(e));
        return -e;
    }
    return 0;
}

static void plan_free(struct plan *p)
{
    free(p->url);
    curl_slist_free_all(p->headers);
}

/* Turns the last attempt into the caller's result. */
static int finish(struct http *h, const struct http_req *req, struct xfer *x,
                  const struct outcome *oc, struct http_resp *resp)
{
    int rc = 0;

    resp->status = oc->status;
    resp->partial = oc->status == 206; /* also for a sink that stopped the transfer */
    if (oc->local_err)
        return oc->local_err;
    if (oc->cc == CURLE_WRITE_ERROR && x->sink_err) {
        if (x->too_big)
            snprintf(resp->message, sizeof(resp->message),
                     "the response is larger than %zu MB, more than qextfs accepts",
                     BODY_MAX >> 20);
        else
            snprintf(resp->message, sizeof(resp->message), "the response could not be stored: %s",
                     strerror(-x->sink_err));
        /* EIO, not EFBIG: the service misbehaved; no file of ours is too big. */
        return x->too_big ? -EIO : x->sink_err;
    }
    /* Timeouts and 429s that never stopped reach the caller as EIO (DESIGN "Errors"): the
     * syscall cannot act on ETIMEDOUT or EAGAIN, and the message says what happened. */
    if (oc->cc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(resp->message, sizeof(resp->message), "timed out after %ld s waiting for %s",
                 h->o.timeout_s, h->host);
        return -EIO;
    }
    if (oc->cc != CURLE_OK) {
        /* A status means the service answered and the transfer broke off later. */
        snprintf(resp->message, sizeof(resp->message), "%s %s: %s",
                 oc->status ? "transfer failed from" : "cannot reach", h->host, oc->curl_err);
        return -EIO;
    }
    if (oc->status >= 400) {
        status_message(req, x, oc->status, resp->message, sizeof(resp->message));
        rc = -http_status_errno(oc->status);
    }
    if (oc->status == 429) {
        size_t n = strlen(resp->message);

        snprintf(resp->message + n, sizeof(resp->message) - n, " (still after %d retries)",
                 RETRIES_429_MAX);
        rc = -EIO;
    }
    resp->total_len = x->total_len;
    if (x->etag[0] && !(resp->etag = strdup(x->etag)))
        return -ENOMEM;
    if (!req->sink) {
        if (!x->body.p && buf_append(&x->body, "", 0, BODY_MAX) != 0)
            return -ENOMEM;
        resp->body = x->body.p;
        resp->body_len = x->body.len;
        x->body.p = NULL;
    }
    return rc;
}

enum next { NEXT_DONE, NEXT_RETRY, NEXT_REFRESH };

/* What one http_do has gone through so far. */
struct tries {
    int fails;    /* 5xx, resets and timeouts retried so far */
    int timeouts; /* of which timeouts */
    int n429;
    bool refreshed; /* the token was refreshed after a 401 */
    unsigned seed;  /* for the backoff jitter */
};

/* A server that let a request time out once is likely hung: each further try costs a whole
 * timeout, so a timed-out request is retried at most once. */
#define TIMEOUT_RETRIES_MAX 1

static enum next classify(struct http *h, const struct http_req *req, const struct xfer *x,
                          const struct outcome *oc, struct tries *t)
{
    if (oc->local_err)
        return NEXT_DONE;
    if (oc->cc == CURLE_OK && oc->status == 401 && !t->refreshed && h->auth && !req->no_auth) {
        t->refreshed = true;
        return NEXT_REFRESH;
    }
    if (oc->cc == CURLE_OK && oc->status == 429) {
        stats_add(h, &h->stats.status_429, 1);
        if (++t->n429 > RETRIES_429_MAX)
            return NEXT_DONE;
        long secs = http_parse_retry_after(x->retry_after[0] ? x->retry_after : NULL,
                                           h->o.retry_after_cap_s);

        if (t->n429 == 1)
            log_info("%s %s: the service asks to wait %ld s (429)", req->method, req->path, secs);
        else
            log_dbg("%s %s: 429 again, waiting %ld s", req->method, req->path, secs);
        pace_hold(h, req->tier, secs);
        return NEXT_RETRY;
    }
    bool retry = oc->cc == CURLE_OK ? oc->status >= 500 : transport_retryable(oc->cc);

    if (oc->cc == CURLE_OPERATION_TIMEDOUT && t->timeouts++ >= TIMEOUT_RETRIES_MAX)
        return NEXT_DONE;
    if (oc->cc == CURLE_WRITE_ERROR || !retry || t->fails >= h->o.max_retries)
        return NEXT_DONE;
    sleep_ms(backoff_ms(t->fails++, &t->seed));
    return NEXT_RETRY;
}

int http_do(struct http *h, const struct http_req *req, struct http_resp *resp)
{
    struct xfer x = {.req = req, .total_len = -1};
    struct outcome oc = {0};
    struct plan p = {0};
    struct timespec t0 = mono_now();
    struct tries t = {.seed = (unsigned)t0.tv_nsec ^ (unsigned)(uintptr_t)&x};
    bool refresh = false;
    enum next nx;
    int rc;

    memset(resp, 0, sizeof(*resp));
    resp->total_len = -1;
    if (!h || !req->method || !req->path)
        return -EINVAL;
    rc = plan_init(h, req, &p, resp);
    if (rc)
        goto out;
    for (;;) {
        pace_wait(h, req->tier);
        attempt(h, req, &p, refresh, &x, &oc, resp);
        nx = classify(h, req, &x, &oc, &t);
        if (nx == NEXT_DONE)
            break;
        refresh = nx == NEXT_REFRESH;
        stats_add(h, &h->stats.retries, 1);
    }
    rc = finish(h, req, &x, &oc, resp);
out:
    plan_free(&p);
    free(x.body.p);
    if (rc && !resp->message[0])
        snprintf(resp->message, sizeof(resp->message), "%s", strerror(-rc));
    return rc;
}
