/* http: the connection to the tenant. A pool of curl easy handles (one thread at a time each)
 * sharing DNS and TLS sessions, per-tier pacing, 429 Retry-After, bounded retries with
 * backoff for 5xx/timeouts/resets, and the mapping from HTTP status to errno.
 * Credentials come from a callback so the key never sits in a request struct or a log. */
#ifndef QEXTFS_HTTP_H
#define QEXTFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct http;

struct http_opts {
    const char *base_url;   /* "https://tenant.region.qlikcloud.com", no trailing slash */
    int max_conns;          /* pool size: at most this many requests in flight */
    long timeout_s;         /* a request with no progress for this long fails (EIO) */
    bool insecure;          /* skip TLS verification (-o insecure) */
    const char *cacert;     /* extra CA bundle file, or NULL */
    int max_retries;        /* for 5xx, resets, timeouts; 429 retries do not count */
    int tier1_per_min;      /* client-side pacing of GETs; 0 = none */
    int tier2_per_min;      /* client-side pacing of POST/PATCH/DELETE; 0 = none */
    double pace_window_s;   /* the service's counting window (0: five minutes) */
    long retry_after_cap_s; /* a Retry-After above this is capped to it */
};

/* Writes the value of the Authorization header ("Bearer ...") into buf. force_refresh is true
 * after a 401, so a token source can fetch a new token once. Returns 0 or -errno. */
typedef int (*http_auth_fn)(void *arg, bool force_refresh, char *buf, size_t bufsz);

enum http_tier { HTTP_TIER1, HTTP_TIER2 };

/* Receives response body bytes at offset off (from the start of the body). A retry restarts
 * at off 0, so a sink must accept rewrites. Returns 0, or -errno to abort the request (no
 * retry; the caller gets that -errno, and resp->partial still says whether it was a 206).
 * -ECANCELED is the convention for a sink that has all it wants. */
typedef int (*http_sink_fn)(void *arg, uint64_t off, const void *buf, size_t n);

struct http_req {
    const char *method; /* "GET", "POST", "PATCH", "DELETE" */
    const char *path;   /* appended to base_url, already percent-encoded */
    enum http_tier tier;
    /* multipart/form-data body: a "data" part (JSON) then a "file" part; both optional. */
    const char *mp_data_json;
    const char *mp_file_path; /* the file part's content */
    const char *mp_file_name; /* its filename= in the part header */
    /* a plain body (used for JSON POSTs such as /oauth/token) */
    const char *body;
    const char *body_type;
    bool no_auth;        /* do not send Authorization (token endpoint) */
    int64_t range_start; /* send "Range: bytes=start-end" when range_start >= 0 */
    int64_t range_end;   /* inclusive; -1 = to the end; with range_start < 0 and */
                         /* range_end > 0: the last range_end bytes (suffix range) */
    http_sink_fn sink;   /* NULL: the body is collected into resp->body */
    void *sink_arg;
};

struct http_resp {
    long status; /* final status, 0 when no response arrived */
    char *body;  /* NUL-terminated when collected (sink == NULL), else NULL */
    size_t body_len;
    bool partial;      /* 206: the server honoured Range */
    int64_t total_len; /* from Content-Range "/total", else -1 */
    char *etag;        /* ETag header if any */
    char message[512]; /* the service's error message (meta.message or title) or ours */
};

struct http *http_new(const struct http_opts *opts, http_auth_fn auth, void *auth_arg);
void http_free(struct http *h);

/* Performs req with pacing and retries (a timed-out request at most once more). Returns 0 when
 * a response with status < 400 arrived, otherwise -errno with resp->status and resp->message
 * saying what happened: http_status_errno for HTTP errors, except -EIO for 429s that went on
 * past the retries and for every transport failure (timeouts, resets, refused connections),
 * as DESIGN's error table has them reach a syscall. The
 * response must be released with http_resp_free in every case. */
int http_do(struct http *h, const struct http_req *req, struct http_resp *resp);
void http_resp_free(struct http_resp *resp);
void http_req_init(struct http_req *req, const char *method, const char *path);

/* 401/403 EACCES, 404/410 ENOENT, 409 EEXIST, 413 EFBIG, 415/422 EINVAL, 429 EAGAIN,
 * other 4xx EINVAL, 5xx EIO. Returns a positive errno, 0 below 400. */
int http_status_errno(long status);

/* What a failed service call (-errno from http_do or api.c) returns to a syscall, as DESIGN's
 * error table says: a malformed answer (-EPROTO), a timeout and endless 429s become -EIO,
 * since no caller of read(2), ls or fsync can act on them; the log line written where it
 * happened says what was wrong. Errnos that mean something (EACCES, ENOENT, ...) pass. */
int http_syscall_errno(int rc);

/* Parses a Retry-After value (delta seconds or HTTP date) into seconds, capped at cap;
 * garbage gives 1. */
long http_parse_retry_after(const char *value, long cap);

/* Counters for status output: requests sent, 429s seen, retries, bytes received. */
/* The service's endpoints, for per-endpoint request counts (qextfs status). */
enum http_endpoint {
    HTTP_EP_LIST,    /* GET /extensions */
    HTTP_EP_CREATE,  /* POST /extensions */
    HTTP_EP_GET,     /* GET /extensions/{id} */
    HTTP_EP_UPDATE,  /* PATCH /extensions/{id} */
    HTTP_EP_DELETE,  /* DELETE /extensions/{id} */
    HTTP_EP_ARCHIVE, /* GET /extensions/{id}/file */
    HTTP_EP_FILE,    /* GET /extensions/{id}/file/{path} */
    HTTP_EP_TOKEN,   /* POST /oauth/token */
    HTTP_EP_OTHER,
    HTTP_EP_COUNT
};

/* Which endpoint a request for method and path (as in struct http_req) goes to. */
enum http_endpoint http_endpoint_of(const char *method, const char *path);
/* "GET /extensions/{id}/file" and so on. */
const char *http_endpoint_name(enum http_endpoint ep);

struct http_stats {
    uint64_t requests, status_429, retries, bytes_in, bytes_out;
    uint64_t by_endpoint[HTTP_EP_COUNT]; /* attempts, retries included */
};
void http_get_stats(struct http *h, struct http_stats *out);

#endif
