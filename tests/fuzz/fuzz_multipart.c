/* fuzz_multipart: owns the fuzzing of the upload body qextfs sends: http.c's multipart builder
 * (build_mime, reached through http_do with the request api.c's upload() fills in). An input
 * is DATA_JSON '\0' FILE_NAME '\0' ZIP_BYTES; a missing field is empty. The request goes over
 * loopback to an in-process libmicrohttpd server that reads it with the fake tenant's own
 * multipart reader (tests/fake-tenant/upload.c) and also keeps the raw body for the strict
 * reader below. Either http_do refuses the file name up front (-EINVAL, a message saying so,
 * nothing sent), and only when the name is longer than a file name or holds a byte that a
 * quoted header parameter cannot carry as is; or the service gets exactly one "data" part
 * (application/json) holding the JSON, then one "file" part (application/zip) with the same
 * filename and bytes, and no other part, header or parameter: no name can inject a header. */
#include "fuzz.h"

#include "http.h"
#include "upload.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define UPLOAD_PATH "/api/v1/extensions/fuzz"

/* What the server saw of the last request, filled by its thread and read after http_do. */
struct seen {
    bool got;
    char method[16];
    char *ctype;    /* the request's Content-Type */
    struct buf raw; /* the body as received */
    struct upload up;
};

static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static struct seen seen;
static struct MHD_Daemon *daemon_;
static struct http *client;
static char work[256], zip_path[300];
static int zip_fd = -1;

/* One request in the server: the body is fed to both readers as it arrives. */
struct srv_req {
    struct upload up;
    struct buf raw;
    char method[16];
    char *ctype;
};

static void srv_req_free(struct srv_req *r)
{
    upload_free(&r->up);
    buf_free(&r->raw);
    free(r->ctype);
    free(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    struct srv_req *r = *con_cls;
    struct MHD_Response *resp;
    const char *ct;
    enum MHD_Result ret;

    (void)cls;
    (void)url;
    (void)version;
    if (!r) {
        r = calloc(1, sizeof(*r));
        FUZZ_CHECK(r != NULL);
        snprintf(r->method, sizeof(r->method), "%s", method);
        ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        r->ctype = strdup(ct ? ct : "");
        FUZZ_CHECK(r->ctype != NULL && upload_begin(&r->up, c, UP_MULTIPART) == 0);
        *con_cls = r;
        return MHD_YES;
    }
    if (*size) {
        upload_feed(&r->up, data, *size);
        FUZZ_CHECK(buf_append(&r->raw, data, *size) == 0);
        *size = 0;
        return MHD_YES;
    }
    upload_end(&r->up);
    /* Hand the request over whole; the fuzzer thread frees the previous one. */
    pthread_mutex_lock(&seen_mu);
    FUZZ_CHECK(!seen.got); /* one request per input: a retry would mean a failed attempt */
    seen.got = true;
    memcpy(seen.method, r->method, sizeof(seen.method));
    seen.ctype = r->ctype;
    seen.raw = r->raw;
    seen.up = r->up;
    pthread_mutex_unlock(&seen_mu);
    free(r);
    *con_cls = NULL;
    resp = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
    FUZZ_CHECK(resp != NULL);
    ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A request that ended before its last call (the client went away) is freed here. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    if (*con_cls)
        srv_req_free(*con_cls);
    *con_cls = NULL;
}

static void seen_clear(void)
{
    pthread_mutex_lock(&seen_mu);
    free(seen.ctype);
    buf_free(&seen.raw);
    upload_free(&seen.up);
    memset(&seen, 0, sizeof(seen));
    pthread_mutex_unlock(&seen_mu);
}

static void cleanup(void)
{
    if (client)
        http_free(client);
    if (daemon_)
        MHD_stop_daemon(daemon_);
    client = NULL;
    daemon_ = NULL;
    seen_clear();
    if (zip_fd >= 0)
        close(zip_fd);
    unlink(zip_path);
    rmdir(work);
    curl_global_cleanup();
}

static void start(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    const union MHD_DaemonInfo *info;
    struct http_opts o = {0};
    const char *tmp = getenv("TMPDIR");
    char base[64];

    FUZZ_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    snprintf(work, sizeof(work), "%s/qextfs-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(work) != NULL);
    snprintf(zip_path, sizeof(zip_path), "%s/upload.zip", work);
    zip_fd = open(zip_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(zip_fd >= 0);
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
                               on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    FUZZ_CHECK(daemon_ != NULL);
    info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    FUZZ_CHECK(info != NULL && info->port != 0);
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)info->port);
    o.base_url = base;
    o.max_conns = 1;
    o.timeout_s = 20;
    client = http_new(&o, NULL, NULL);
    FUZZ_CHECK(client != NULL);
    atexit(cleanup);
}

/* The names http.c refuses: longer than a file name, or with a byte a quoted header parameter
 * cannot carry as is. Stated again here, independently, so that refusing a name that could
 * be sent is caught as well as sending one altered. */
static bool name_sendable(const char *name)
{
    if (strlen(name) > 255)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            return false;
    return true;
}

static bool buf_is(const struct buf *b, const void *p, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

/* --- a strict reader of the raw body (RFC 7578), independent of libmicrohttpd ---------- */

struct cursor {
    const char *p, *end;
};

static bool eat(struct cursor *c, const char *s, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* The start of the first occurrence of needle in [c->p, c->end), or NULL. */
static const char *find(const struct cursor *c, const char *needle, size_t n)
{
    return memmem(c->p, (size_t)(c->end - c->p), needle, n);
}

/* The boundary from "multipart/form-data; boundary=B" into out. */
static void boundary_of(const char *ctype, char *out, size_t outsz)
{
    static const char want[] = "multipart/form-data;";
    const char *b;
    size_t n;

    FUZZ_CHECK(strncasecmp(ctype, want, sizeof(want) - 1) == 0);
    b = strstr(ctype, "boundary=");
    FUZZ_CHECK(b != NULL);
    b += strlen("boundary=");
    n = strcspn(b, "; \t");
    FUZZ_CHECK(n > 0 && n < outsz);
    memcpy(out, b, n);
    out[n] = '\0';
}

/* Checks one Content-Disposition value: form-data; name="NAME"[; filename="FILENAME"], each
 * parameter once, nothing else. Quoted values are taken raw: a sendable name needs no escape. */
static void check_disposition(const char *v, size_t len, const char *name, const char *filename)
{
    struct cursor c = {v, v + len};
    bool got_name = false, got_filename = false;

    FUZZ_CHECK(eat(&c, "form-data", 9));
    while (c.p < c.end) {
        const char *eq, *q;
        size_t klen;

        FUZZ_CHECK(eat(&c, ";", 1));
        while (c.p < c.end && *c.p == ' ')
            c.p++;
        eq = memchr(c.p, '=', (size_t)(c.end - c.p));
        FUZZ_CHECK(eq != NULL && eq + 1 < c.end && eq[1] == '"');
        klen = (size_t)(eq - c.p);
        q = memchr(eq + 2, '"', (size_t)(c.end - eq - 2));
        FUZZ_CHECK(q != NULL);
        if (klen == 4 && memcmp(c.p, "name", 4) == 0) {
            FUZZ_CHECK(!got_name && (size_t)(q - eq - 2) == strlen(name));
            FUZZ_CHECK(memcmp(eq + 2, name, strlen(name)) == 0);
            got_name = true;
        } else {
            FUZZ_CHECK(klen == 8 && memcmp(c.p, "filename", 8) == 0);
            FUZZ_CHECK(filename && !got_filename && (size_t)(q - eq - 2) == strlen(filename));
            FUZZ_CHECK(memcmp(eq + 2, filename, strlen(filename)) == 0);
            got_filename = true;
        }
        c.p = q + 1;
    }
    FUZZ_CHECK(got_name && got_filename == (filename != NULL));
}

/* Reads one part's header block up to the blank line: exactly a Content-Disposition and a
 * Content-Type header, with the values wanted. */
static void check_part_headers(struct cursor *c, const char *name, const char *filename,
                               const char *type)
{
    const char *blank = find(c, "\r\n\r\n", 4);
    bool got_cd = false, got_ct = false;

    FUZZ_CHECK(blank != NULL);
    while (c->p < blank + 2) {
        const char *eol = find(c, "\r\n", 2), *colon, *v;

        FUZZ_CHECK(eol != NULL && eol <= blank);
        colon = memchr(c->p, ':', (size_t)(eol - c->p));
        FUZZ_CHECK(colon != NULL);
        for (v = colon + 1; v < eol && *v == ' '; v++)
            ;
        if ((size_t)(colon - c->p) == 19 && strncasecmp(c->p, "Content-Disposition", 19) == 0) {
            FUZZ_CHECK(!got_cd);
            check_disposition(v, (size_t)(eol - v), name, filename);
            got_cd = true;
        } else {
            FUZZ_CHECK((size_t)(colon - c->p) == 12 && strncasecmp(c->p, "Content-Type", 12) == 0);
            FUZZ_CHECK(!got_ct && (size_t)(eol - v) == strlen(type));
            FUZZ_CHECK(memcmp(v, type, strlen(type)) == 0);
            got_ct = true;
        }
        c->p = eol + 2;
    }
    FUZZ_CHECK(got_cd && got_ct);
    c->p = blank + 4;
}

/* The raw body must be: --B CRLF data-headers CRLF CRLF json CRLF --B CRLF file-headers CRLF
 * CRLF zip CRLF --B-- CRLF, and nothing after it. */
static void check_raw(const char *json, const char *filename, const uint8_t *zip, size_t zip_len)
{
    struct cursor c;
    char boundary[128], delim[136];
    size_t dlen;

    FUZZ_CHECK(seen.raw.data != NULL);
    c.p = (const char *)seen.raw.data;
    c.end = c.p + seen.raw.len;
    boundary_of(seen.ctype, boundary, sizeof(boundary));
    dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    FUZZ_CHECK(eat(&c, delim + 2, dlen - 2) && eat(&c, "\r\n", 2));
    check_part_headers(&c, "data", NULL, "application/json");
    FUZZ_CHECK(eat(&c, json, strlen(json)) && eat(&c, delim, dlen) && eat(&c, "\r\n", 2));
    check_part_headers(&c, "file", filename, "application/zip");
    FUZZ_CHECK(eat(&c, (const char *)zip, zip_len) && eat(&c, delim, dlen));
    FUZZ_CHECK(eat(&c, "--\r\n", 4) && c.p == c.end);
}

/* Splits the input at its first two NULs. */
static void split(const uint8_t *data, size_t size, char **json, char **name, const uint8_t **zip,
                  size_t *zip_len)
{
    const uint8_t *nul1 = memchr(data, 0, size), *nul2;
    size_t rest;

    *json = fuzz_strndup(data, nul1 ? (size_t)(nul1 - data) : size);
    *name = fuzz_strndup((const uint8_t *)"", 0);
    *zip = data + size;
    *zip_len = 0;
    if (!nul1)
        return;
    rest = size - (size_t)(nul1 + 1 - data);
    nul2 = memchr(nul1 + 1, 0, rest);
    free(*name);
    *name = fuzz_strndup(nul1 + 1, nul2 ? (size_t)(nul2 - nul1 - 1) : rest);
    if (nul2) {
        *zip = nul2 + 1;
        *zip_len = (size_t)(data + size - *zip);
    }
}

static void write_zip(const uint8_t *zip, size_t len)
{
    size_t off = 0;

    FUZZ_CHECK(ftruncate(zip_fd, 0) == 0);
    while (off < len) {
        ssize_t n = pwrite(zip_fd, zip + off, len - off, (off_t)off);

        FUZZ_CHECK(n > 0);
        off += (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_resp resp;
    struct http_req req;
    const uint8_t *zip;
    size_t zip_len;
    char *json, *name;
    int rc;

    if (!client)
        start();
    split(data, size, &json, &name, &zip, &zip_len);
    write_zip(zip, zip_len);
    seen_clear();

    /* As api.c's upload() does it, with the file name given instead of the zip's base name. */
    http_req_init(&req, "PATCH", UPLOAD_PATH);
    req.mp_data_json = json;
    req.mp_file_path = zip_path;
    req.mp_file_name = name;
    rc = http_do(client, &req, &resp);

    pthread_mutex_lock(&seen_mu);
    if (!name_sendable(name)) {
        FUZZ_CHECK(rc == -EINVAL && !seen.got);
        FUZZ_CHECK(strncmp(resp.message, "cannot upload as '", 18) == 0);
        FUZZ_CHECK(strstr(resp.message, "file name") != NULL);
    } else {
        FUZZ_CHECK(rc == 0 && resp.status == 200 && seen.got);
        FUZZ_CHECK(strcmp(seen.method, "PATCH") == 0);
        /* What the fake tenant reads out of it. */
        FUZZ_CHECK(!seen.up.not_multipart && !seen.up.bad && !seen.up.too_big);
        FUZZ_CHECK(seen.up.have_data && buf_is(&seen.up.data, json, strlen(json)));
        FUZZ_CHECK(seen.up.have_file && buf_is(&seen.up.file, zip, zip_len));
        FUZZ_CHECK(seen.up.filename && strcmp(seen.up.filename, name) == 0);
        /* The exact shape on the wire. */
        check_raw(json, name, zip, zip_len);
    }
    pthread_mutex_unlock(&seen_mu);
    http_resp_free(&resp);
    free(json);
    free(name);
    return 0;
}
