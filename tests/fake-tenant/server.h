/* server: the one context of the fake tenant and the life of one request. The context is
 * created in main, handed to MHD as the callbacks' cls, and reaches every handler through
 * the request; nothing else is shared between threads.
 *
 * Requests run in MHD's thread-per-connection mode: --latency-ms and --hang then sleep in
 * the handler without delaying any other connection, as a slow real server would. */
#ifndef FT_SERVER_H
#define FT_SERVER_H

#include "faults.h"
#include "oauth.h"
#include "stats.h"
#include "store.h"
#include "upload.h"
#include "xcache.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct ft_options {
    int port;
    const char *seed_dir, *state_dir, *log_path;
    unsigned generate;
    bool real_shape, ranges;
    const char **keys; /* accepted bearer keys; none: no auth */
    size_t n_keys;
    char *client;                   /* --client ID:SECRET for POST /oauth/token */
    const char *tls_cert, *tls_key; /* PEM files: serve https */
    unsigned token_life;            /* --token-life seconds, 0 = the default 6 h */
    struct fault_cfg faults;
};

struct ft_server {
    struct ft_options opt;
    struct store store;
    struct stats stats;
    struct faults faults;
    struct xcache xcache;
    struct oauth oauth;
    struct MHD_Daemon *daemon;
    char *tls_pem[2]; /* certificate and key, kept while the daemon runs */
    atomic_bool stopping;
    atomic_uint_fast64_t trace_seq;
};

enum route_kind { RT_NONE, RT_COLLECTION, RT_ITEM, RT_FILE, RT_FILEPATH };

struct ft_req {
    struct ft_server *srv;
    struct MHD_Connection *conn;
    char method[16];
    char *path;        /* as sent, still percent-encoded, no query */
    bool api, special; /* under /api/, under /__fake/ */
    bool oauth;        /* POST /oauth/token */
    bool authorized;
    enum route_kind kind; /* for /api/ paths */
    enum route_key rk;    /* stats key, RK_NONE when none applies */
    char *id, *filepath;  /* decoded path parameters */
    int bad_path;         /* HTTP status when the path did not parse, else 0 */
    struct upload up;
    uint64_t bytes_in, bytes_out;
    int status; /* 0 until a response is queued */
    int64_t start_ns;
};

/* Binds 127.0.0.1:opt.port and starts serving; prints "LISTENING <port>". 0 or -1. */
int server_start(struct ft_server *srv);
void server_stop(struct ft_server *srv);

/* The handlers behind the routes. Each queues exactly one response. */
enum MHD_Result api_dispatch(struct ft_req *r);
enum MHD_Result special_dispatch(struct ft_req *r);

#endif
