/* main: options, start-up (state, seed, generated extensions), and waiting for SIGINT or
 * SIGTERM. The fake Qlik Cloud tenant every qextfs test, demo and benchmark talks to. */
#include "log.h"
#include "populate.h"
#include "server.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XCACHE_BYTES (256u * 1024 * 1024)

static void usage(FILE *f)
{
    fprintf(
        f, "usage: fake-tenant [options]\n"
           "  --port N          listen on 127.0.0.1:N (0: any free port); prints LISTENING <port>\n"
           "  --api-key KEY     accept this bearer key (repeatable; none: no auth)\n"
           "  --seed DIR        one extension per subfolder of DIR\n"
           "  --generate N      N generated extensions\n"
           "  --state DIR       persist extensions in DIR and resume from it\n"
           "  --real-shape      answer in the live service's shape (updatedAt, file{...})\n"
           "  --ranges          honour Range on the file endpoints\n"
           "  --latency-ms N    delay every /api/ answer\n"
           "  --fail-every N    every Nth /api/ request gets 503\n"
           "  --drop-every N    every Nth /api/ body is cut halfway\n"
           "  --rate-limit      enforce tier 1/2 limits (--tier1 N, --tier2 N per minute)\n"
           "  --rate-window S   seconds the limits are counted over (default 300, the service's)\n"
           "  --hang            never answer /api/ requests\n"
           "  --list-pad BYTES  pad the list with ~1 KB listed-only models to BYTES or more\n"
           "  --bad-list MODE   serve a malformed list: truncated, notjson, nodata, deep\n"
           "  --client ID:SECRET  accept OAuth client credentials at POST /oauth/token\n"
           "  --tls-cert PEM --tls-key PEM  serve https with this certificate\n"
           "  --token-life S    seconds an OAuth token lives (default 21600)\n"
           "  --log FILE        one JSON line per request\n");
}

static bool parse_num(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (!*s || *end || v > 1000000000ul)
        return false;
    *out = (unsigned)v;
    return true;
}

enum {
    O_PORT = 256,
    O_KEY,
    O_SEED,
    O_GEN,
    O_STATE,
    O_REAL,
    O_RANGES,
    O_LAT,
    O_FAIL,
    O_DROP,
    O_RATE,
    O_T1,
    O_T2,
    O_RATE_WINDOW,
    O_HANG,
    O_LIST_PAD,
    O_BAD_LIST,
    O_LOG,
    O_CLIENT,
    O_TLS_CERT,
    O_TLS_KEY,
    O_TOKEN_LIFE,
    O_HELP
};

static int add_key(struct ft_options *o, const char *key)
{
    const char **v = realloc(o->keys, (o->n_keys + 1) * sizeof(*v));

    if (!v)
        return -1;
    o->keys = v;
    o->keys[o->n_keys++] = key;
    return 0;
}

static bool set_number(struct ft_options *o, int opt, const char *arg)
{
    unsigned n;

    if (!parse_num(arg, &n))
        return false;
    switch (opt) {
    case O_PORT:
        o->port = (int)n;
        return n <= 65535;
    case O_GEN:
        o->generate = n;
        return true;
    case O_LAT:
        o->faults.latency_ms = n;
        return true;
    case O_FAIL:
        o->faults.fail_every = n;
        return true;
    case O_DROP:
        o->faults.drop_every = n;
        return true;
    case O_T1:
        o->faults.tier1 = n;
        return true;
    case O_T2:
        o->faults.tier2 = n;
        return true;
    case O_RATE_WINDOW:
        o->faults.rate_window = n;
        return n > 0;
    case O_LIST_PAD:
        o->faults.list_pad = n;
        return true;
    default:
        return false;
    }
}

/* 0 ok, 1 help printed, -1 bad usage. */
static int parse_options(int argc, char **argv, struct ft_options *o)
{
    static const struct option longs[] = {
        {"port", 1, 0, O_PORT},         {"api-key", 1, 0, O_KEY},
        {"seed", 1, 0, O_SEED},         {"generate", 1, 0, O_GEN},
        {"state", 1, 0, O_STATE},       {"real-shape", 0, 0, O_REAL},
        {"ranges", 0, 0, O_RANGES},     {"latency-ms", 1, 0, O_LAT},
        {"fail-every", 1, 0, O_FAIL},   {"drop-every", 1, 0, O_DROP},
        {"rate-limit", 0, 0, O_RATE},   {"tier1", 1, 0, O_T1},
        {"tier2", 1, 0, O_T2},          {"rate-window", 1, 0, O_RATE_WINDOW},
        {"hang", 0, 0, O_HANG},         {"log", 1, 0, O_LOG},
        {"client", 1, 0, O_CLIENT},     {"tls-cert", 1, 0, O_TLS_CERT},
        {"tls-key", 1, 0, O_TLS_KEY},   {"token-life", 1, 0, O_TOKEN_LIFE},
        {"list-pad", 1, 0, O_LIST_PAD}, {"bad-list", 1, 0, O_BAD_LIST},
        {"help", 0, 0, O_HELP},         {0, 0, 0, 0}};
    int c;

    o->faults.tier1 = 1000;
    o->faults.tier2 = 100;
    o->faults.rate_window = 300;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case O_KEY:
            if (add_key(o, optarg) != 0)
                return -1;
            break;
        case O_SEED:
            o->seed_dir = optarg;
            break;
        case O_STATE:
            o->state_dir = optarg;
            break;
        case O_LOG:
            o->log_path = optarg;
            break;
        case O_CLIENT:
            o->client = optarg;
            break;
        case O_TLS_CERT:
            o->tls_cert = optarg;
            break;
        case O_TLS_KEY:
            o->tls_key = optarg;
            break;
        case O_TOKEN_LIFE:
            o->token_life = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_REAL:
            o->real_shape = true;
            break;
        case O_RANGES:
            o->ranges = true;
            break;
        case O_RATE:
            o->faults.rate_limit = true;
            break;
        case O_HANG:
            o->faults.hang = true;
            break;
        case O_BAD_LIST:
            if (!bad_list_parse(optarg, &o->faults.bad_list)) {
                fprintf(stderr, "fake-tenant: bad --bad-list mode '%s'\n", optarg);
                return -1;
            }
            break;
        case O_HELP:
            usage(stdout);
            return 1;
        case '?':
            usage(stderr);
            return -1;
        default:
            if (!set_number(o, c, optarg)) {
                fprintf(stderr, "fake-tenant: bad number '%s'\n", optarg);
                return -1;
            }
        }
    }
    if (optind != argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* A fresh store gets the seed and generated extensions; a resumed one keeps what it had. */
static int populate(struct ft_server *srv)
{
    int loaded = store_init(&srv->store, srv->opt.state_dir);

    if (loaded < 0)
        return -1;
    if (loaded == 1) {
        log_info("fake-tenant: resumed %zu extensions from %s", srv->store.n, srv->opt.state_dir);
        return 0;
    }
    if (srv->opt.seed_dir && seed_load(&srv->store, srv->opt.seed_dir) != 0)
        return -1;
    if (srv->opt.generate && generate_all(&srv->store, srv->opt.generate) != 0)
        return -1;
    return 0;
}

static int init(struct ft_server *srv)
{
    oauth_init(&srv->oauth);
    if (srv->opt.token_life)
        srv->oauth.token_life = srv->opt.token_life;
    if (srv->opt.client && !oauth_set_client(&srv->oauth, srv->opt.client)) {
        log_err("fake-tenant: --client wants ID:SECRET");
        return -1;
    }
    if (stats_init(&srv->stats, srv->opt.log_path) != 0) {
        log_err("fake-tenant: cannot open the log %s", srv->opt.log_path);
        return -1;
    }
    if (faults_init(&srv->faults, &srv->opt.faults) != 0 ||
        xcache_init(&srv->xcache, XCACHE_BYTES) != 0)
        return -1;
    return populate(srv);
}

static void fini(struct ft_server *srv)
{
    server_stop(srv);
    store_destroy(&srv->store);
    xcache_destroy(&srv->xcache);
    faults_destroy(&srv->faults);
    stats_destroy(&srv->stats);
    oauth_free(&srv->oauth);
    free(srv->tls_pem[0]);
    free(srv->tls_pem[1]);
    free((void *)srv->opt.keys);
}

int main(int argc, char **argv)
{
    struct ft_server *srv = calloc(1, sizeof(*srv));
    sigset_t set;
    int sig, rc = 1;

    if (!srv)
        return 1;
    log_init("fake-tenant", false, getenv("FAKE_TENANT_DEBUG") != NULL);
    rc = parse_options(argc, argv, &srv->opt);
    if (rc != 0) {
        free((void *)srv->opt.keys);
        free(srv);
        return rc > 0 ? 0 : 2;
    }
    rc = 1;
    /* Blocked before any thread starts, so only sigwait below sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (init(srv) == 0 && server_start(srv) == 0) {
        sigwait(&set, &sig);
        rc = 0;
    }
    fini(srv);
    free(srv);
    return rc;
}
