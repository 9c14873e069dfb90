/* main: command line, credentials and start-up. Parses options with fuse_opt_parse, reads
 * the API key from the environment or a key file (never argv), builds the mount context
 * (struct qfs) and runs the mount as fuse_main does (run_fuse says why not fuse_main). */
/* libfuse 3.12's loop API (fuse_loop_mt with a config) for run_fuse; the rest of the
 * build uses the 3.1 API, whose operations table is the same. */
#undef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#include "auth.h"
#include "blockcache.h"
#include "cli.h"
#include "fs_ops.h"
#include "http.h"
#include "log.h"
#include "path.h"
#include "staging.h"
#include "tenant.h"
#include "writeback.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { KEY_HELP, KEY_VERSION, KEY_FOREGROUND, KEY_DEBUG, KEY_SINGLE, KEY_TENANT };

struct cli {
    struct qfs_opts o;
    char *cache_size, *block_size, *read_ahead, *disk_cache;
    char *mountpoint_seen;
};

// clang-format off
#define OPT(t, f) {t, offsetof(struct cli, f), 1}
// clang-format on
static const struct fuse_opt cli_opts[] = {
    OPT("tenant=%s", o.tenant_url),
    OPT("api_key_file=%s", o.api_key_file),
    OPT("client_id=%s", o.client_id),
    OPT("client_secret_file=%s", o.client_secret_file),
    OPT("context=%s", o.context),
    OPT("list_ttl=%lf", o.list_ttl),
    OPT("cache_size=%s", cache_size),
    OPT("block_size=%s", block_size),
    OPT("read_ahead=%s", read_ahead),
    OPT("disk_cache=%s", disk_cache),
    OPT("max_conns=%d", o.max_conns),
    OPT("timeout=%ld", o.timeout),
    OPT("insecure", o.insecure),
    OPT("cacert=%s", o.cacert),
    OPT("upload_delay=%lf", o.upload_delay),
    OPT("exclude=%s", o.exclude),
    OPT("state_dir=%s", o.state_dir),
    OPT("tier1=%d", o.tier1_per_min),
    OPT("tier2=%d", o.tier2_per_min),
    FUSE_OPT_KEY("--tenant ", KEY_TENANT),
    FUSE_OPT_KEY("--tenant=", KEY_TENANT),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_KEY("-f", KEY_FOREGROUND),
    FUSE_OPT_KEY("-d", KEY_DEBUG),
    FUSE_OPT_KEY("debug", KEY_DEBUG),
    FUSE_OPT_KEY("-s", KEY_SINGLE),
    FUSE_OPT_END,
};

static void usage(const char *prog)
{
    printf("usage: %s --tenant URL [-f] [-d] [-s] [-o opt[,opt...]] MOUNTPOINT\n"
           "       %s status MOUNTPOINT [--json]\n"
           "       %s umount MOUNTPOINT\n"
           "       %s trash ls [--tenant URL | --state-dir DIR]\n"
           "       %s trash restore NAME --tenant URL\n"
           "\n"
           "Mounts the visualization extensions of a Qlik Cloud tenant as a folder.\n"
           "The API key comes from $QLIK_API_KEY or -o api_key_file=PATH.\n"
           "\n"
           "options:\n"
           "    --tenant URL, -o tenant=URL   the tenant (https://tenant.region.qlikcloud.com)\n"
           "    -o api_key_file=PATH          file holding the API key (mode 0600)\n"
           "    -o client_id=ID,client_secret_file=PATH   OAuth machine-to-machine sign-in\n"
           "    -o context=NAME               a qlik-cli context from ~/.qlik/contexts.yml\n"
           "    -o list_ttl=SECONDS           trust the extension list this long (10)\n"
           "    -o cache_size=SIZE            block cache size, K/M/G suffixes (256M)\n"
           "    -o block_size=SIZE            block cache block size (128K)\n"
           "    -o read_ahead=SIZE            kernel read-ahead of the mount, as root (1M)\n"
           "    -o disk_cache=SIZE            fetched archives kept on disk (1G)\n"
           "    -o max_conns=N                parallel connections to the tenant (8)\n"
           "    -o timeout=SECONDS            a request with no progress fails after (30)\n"
           "    -o upload_delay=SECONDS       quiet time before changes are uploaded (2)\n"
           "    -o exclude=GLOB[:GLOB...]     more names that never leave this machine\n"
           "    -o state_dir=DIR              staging area (~/.local/state/qextfs/<tenant>)\n"
           "    -o tier1=N, -o tier2=N        client pacing: GETs / writes per minute (0, 100)\n"
           "    -o cacert=FILE                extra CA certificates for https\n"
           "    -o insecure                   do not verify the tenant's TLS certificate\n"
           "    -f                            stay in the foreground\n"
           "    -d                            debug log (implies -f; never prints the key)\n"
           "    -s                            single-threaded\n"
           "    -h, --help                    this text\n"
           "    -V, --version                 the version\n"
           "\n"
           "Standard FUSE mount options (allow_other, ...) are passed through.\n",
           prog, prog, prog, prog, prog);
}

static int cli_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    struct cli *c = data;

    (void)outargs;
    switch (key) {
    case KEY_HELP:
        c->o.show_help = true;
        return 0;
    case KEY_VERSION:
        c->o.show_version = true;
        return 0;
    case KEY_FOREGROUND:
        c->o.foreground = true;
        return 1;
    case KEY_DEBUG:
        c->o.debug = true;
        c->o.foreground = true;
        return 1;
    case KEY_SINGLE:
        c->o.single_thread = true;
        return 1;
    case KEY_TENANT:
        arg += strncmp(arg, "--tenant=", 9) == 0 ? 9 : 8;
        while (*arg == ' ')
            arg++;
        free(c->o.tenant_url);
        c->o.tenant_url = strdup(arg);
        return 0;
    case FUSE_OPT_KEY_NONOPT:
        /* mount.fuse3 passes "SOURCE MOUNTPOINT": a first non-option that is a URL or the
         * word qextfs is the source, not the mount point. */
        if (!c->mountpoint_seen) {
            if (strncmp(arg, "http://", 7) == 0 || strncmp(arg, "https://", 8) == 0) {
                if (!c->o.tenant_url)
                    c->o.tenant_url = strdup(arg);
                return 0;
            }
            if (strcmp(arg, "qextfs") == 0)
                return 0;
            c->mountpoint_seen = strdup(arg);
        }
        return 1;
    default:
        return 1;
    }
}

/* "256M" -> bytes; 0 on garbage. */
static size_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || v < 0)
        return 0;
    switch (*end) {
    // clang-format off
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1024 * 1024; end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
    default: break;
        // clang-format on
    }
    if (*end == 'i' || *end == 'B')
        end++;
    return *end ? 0 : (size_t)v;
}

static int make_dirs(struct qfs *q)
{
    q->state_dir = stage_default_dir(q->o.tenant_url, q->o.state_dir);
    if (!q->state_dir || stage_init(q) != 0)
        return -1;
    /* The archive cache lives beside the staging area (same filesystem, so a fetched
     * archive becomes a staged base by hard link) and goes away at unmount. */
    char tmpl[PATH_MAX];

    snprintf(tmpl, sizeof(tmpl), "%s/cache-XXXXXX", q->state_dir);
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "qextfs: cannot create a cache directory in %s: %s\n", q->state_dir,
                strerror(errno));
        return -1;
    }
    q->cache_dir = strdup(tmpl);
    return q->cache_dir ? 0 : -1;
}

static void cli_defaults(struct cli *c)
{
    c->o.list_ttl = 10;
    c->o.max_conns = 8;
    c->o.timeout = 30;
    c->o.upload_delay = 2;
    c->o.tier2_per_min = 100;
}

/* Credentials from the command line, or NULL with *rc = 0 when it names none. */
static struct auth *auth_from_cli(const struct qfs_opts *o, int *rc)
{
    char err[512], *secret = NULL;
    struct auth *a = NULL;

    *rc = 0;
    if (o->api_key_file) {
        *rc = auth_read_secret_file(o->api_key_file, &secret, err, sizeof(err));
        if (*rc == 0)
            a = auth_new_key(secret);
    } else if (o->client_id) {
        if (!o->client_secret_file) {
            fprintf(stderr, "qextfs: -o client_id needs -o client_secret_file=PATH\n");
            *rc = -EINVAL;
            return NULL;
        }
        *rc = auth_read_secret_file(o->client_secret_file, &secret, err, sizeof(err));
        if (*rc == 0)
            a = auth_new_oauth(o->client_id, secret);
    } else {
        return NULL;
    }
    if (*rc)
        fprintf(stderr, "qextfs: %s\n", err);
    else if (!a)
        *rc = -ENOMEM;
    if (secret) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
    return a;
}

/* Fills what the command line and environment left open from a qlik-cli context. */
static int apply_context(struct qfs *q, bool need_auth)
{
    struct auth_context c;
    char err[512];
    int rc = auth_context_load(NULL, q->o.context, &c, err, sizeof(err));

    if (rc) {
        if (q->o.context) /* asked for by name: say why it failed */
            fprintf(stderr, "qextfs: %s\n", err);
        return rc;
    }
    if (!q->o.tenant_url)
        q->o.tenant_url = strdup(c.server);
    if (need_auth && c.api_key)
        q->auth = auth_new_key(c.api_key);
    else if (need_auth && c.client_id && c.client_secret)
        q->auth = auth_new_oauth(c.client_id, c.client_secret);
    auth_context_free(&c);
    return 0;
}

/* Checks the options and finds the credentials: the command line first, then the
 * environment (QLIK_TENANT, QLIK_API_KEY), then a qlik-cli context. Returns 0, or an exit
 * status. */
static int configure(struct cli *c, struct qfs *q)
{
    const char *env_key = getenv("QLIK_API_KEY");
    const char *env_tenant = getenv("QLIK_TENANT");
    int rc;

    q->o = c->o;
    q->o.cache_size = c->cache_size ? parse_size(c->cache_size) : 256u << 20;
    q->o.block_size = c->block_size ? parse_size(c->block_size) : 128u << 10;
    q->o.read_ahead = c->read_ahead ? parse_size(c->read_ahead) : 1u << 20;
    q->o.disk_cache = c->disk_cache ? parse_size(c->disk_cache) : (size_t)1 << 30;
    if (!q->o.tenant_url && env_tenant && *env_tenant)
        q->o.tenant_url = strdup(env_tenant);
    q->auth = auth_from_cli(&q->o, &rc);
    if (rc)
        return 2;
    if (!q->auth && env_key && *env_key)
        q->auth = auth_new_key(env_key);
    if (q->o.context || !q->o.tenant_url || !q->auth) {
        if (apply_context(q, !q->auth) != 0 && q->o.context)
            return 2;
    }
    if (!q->o.tenant_url) {
        fprintf(stderr, "qextfs: no tenant: give --tenant URL or -o tenant=URL\n");
        return 2;
    }
    if (!q->auth) {
        fprintf(stderr, "qextfs: no API key: set QLIK_API_KEY, or give -o api_key_file=PATH, "
                        "-o client_id=...,client_secret_file=PATH or -o context=NAME\n");
        return 2;
    }
    size_t n = strlen(q->o.tenant_url);

    while (n > 0 && q->o.tenant_url[n - 1] == '/')
        q->o.tenant_url[--n] = '\0';
    if (strncmp(q->o.tenant_url, "https://", 8) != 0 &&
        strncmp(q->o.tenant_url, "http://", 7) != 0) {
        fprintf(stderr, "qextfs: the tenant must be an http:// or https:// URL\n");
        return 2;
    }
    if (!c->mountpoint_seen) {
        fprintf(stderr, "qextfs: no mount point given\n");
        return 2;
    }
    /* Absolute, as /proc/self/mountinfo shows it, and still right after daemonizing. */
    q->mountpoint = realpath(c->mountpoint_seen, NULL);
    if (q->o.cache_size < (1u << 20) || q->o.block_size < 4096 || q->o.block_size > (16u << 20)) {
        fprintf(stderr, "qextfs: cache_size must be >= 1M and block_size 4K..16M\n");
        return 2;
    }
    if (q->o.disk_cache < (1u << 20)) {
        fprintf(stderr, "qextfs: disk_cache must be a size of 1M or more\n");
        return 2;
    }
    if (q->o.max_conns < 1 || q->o.max_conns > 64 || q->o.timeout < 1) {
        fprintf(stderr, "qextfs: max_conns must be 1..64 and timeout >= 1\n");
        return 2;
    }
    return 0;
}

static int build_context(struct qfs *q)
{
    struct http_opts ho = {
        .base_url = q->o.tenant_url,
        .max_conns = q->o.max_conns,
        .timeout_s = q->o.timeout,
        .insecure = q->o.insecure,
        .cacert = q->o.cacert,
        .max_retries = 4,
        .tier1_per_min = q->o.tier1_per_min,
        .tier2_per_min = q->o.tier2_per_min,
        .retry_after_cap_s = 120,
    };

    q->uid = getuid();
    q->gid = getgid();
    q->started = time(NULL);
    if (q->o.exclude && !(q->exclude_globs = path_globs_parse(q->o.exclude)))
        return -ENOMEM;
    if (make_dirs(q) != 0)
        return -EIO;
    q->http = http_new(&ho, auth_header, q->auth);
    if (q->http)
        auth_set_http(q->auth, q->http);
    q->bc = bcache_new(q->o.cache_size, q->o.block_size);
    q->tenant = tenant_new(q);
    q->wb = wb_new(q, q->o.max_conns < 4 ? q->o.max_conns : 4);
    return q->http && q->bc && q->tenant && q->wb ? 0 : -ENOMEM;
}

static int loop(struct fuse *f, const struct fuse_cmdline_opts *opts)
{
    struct fuse_loop_config *cfg;
    int rc;

    if (opts->singlethread)
        return fuse_loop(f);
    cfg = fuse_loop_cfg_create();
    if (!cfg)
        return -ENOMEM;
    fuse_loop_cfg_set_clone_fd(cfg, (unsigned)opts->clone_fd);
    fuse_loop_cfg_set_idle_threads(cfg, opts->max_idle_threads);
    fuse_loop_cfg_set_max_threads(cfg, opts->max_threads);
    rc = fuse_loop_mt(f, cfg);
    fuse_loop_cfg_destroy(cfg);
    return rc;
}

/* fuse_main's steps (and exit codes), with one step more: the kernel-cache worker looks
 * paths up in libfuse's node table, which fuse_destroy frees before it calls our destroy
 * operation, so the worker stops in between. After fuse_unmount, not before: a SIGTERM ends
 * the loop with the mount still there, and a notification waiting for a page that no thread
 * will read any more returns only once the connection is gone. */
static int run_fuse(struct fuse_args *args, struct qfs *q)
{
    struct fuse_cmdline_opts opts = {0};
    struct fuse *f;
    int rc = 1;

    if (fuse_parse_cmdline(args, &opts) != 0)
        return 1;
    f = opts.mountpoint ? fuse_new(args, &fs_ops, sizeof(fs_ops), q) : NULL;
    if (!f)
        goto out;
    rc = 4;
    if (fuse_mount(f, opts.mountpoint) != 0)
        goto out_destroy;
    rc = 5;
    if (fuse_daemonize(opts.foreground) != 0)
        goto out_unmount;
    rc = 6;
    if (fuse_set_signal_handlers(fuse_get_session(f)) != 0)
        goto out_unmount;
    rc = loop(f, &opts) != 0 ? 7 : 0;
    fuse_remove_signal_handlers(fuse_get_session(f));
out_unmount:
    fuse_unmount(f);
    tenant_kcache_stop(q->tenant);
out_destroy:
    fuse_destroy(f);
out:
    free(opts.mountpoint);
    return rc;
}

static void free_context(struct qfs *q)
{
    wb_free(q->wb);
    tenant_free(q->tenant);
    bcache_free(q->bc);
    http_free(q->http);
    if (q->cache_dir) {
        stage_rmtree(q->cache_dir);
        free(q->cache_dir);
    }
    stage_fini(q);
    free(q->state_dir);
    path_globs_free(q->exclude_globs);
}

int main(int argc, char *argv[])
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct cli c = {0};
    struct qfs q = {.state_lock = -1};
    int rc;

    if (cli_is_subcommand(argc, argv))
        return cli_run(argc, argv);
    cli_defaults(&c);
    if (fuse_opt_parse(&args, &c, cli_opts, cli_proc) != 0) {
        q.o = c.o; /* what was parsed before the bad option is freed below */
        rc = 2;
        goto out;
    }
    if (c.o.show_help || c.o.show_version) {
        if (c.o.show_help)
            usage(argv[0]);
        else
            printf("qextfs %s (libfuse %d, %s)\n", QEXTFS_VERSION, fuse_version(), curl_version());
        q.o = c.o; /* so the shared cleanup below frees the option strings */
        rc = 0;
        goto out;
    }
    rc = configure(&c, &q);
    if (rc)
        goto out;
#ifndef __SANITIZE_ADDRESS__
    /* The process now holds credentials: no core dump may carry them (as ssh-agent does).
     * Sanitizer builds keep dumping on, since LeakSanitizer must be able to trace itself. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
    log_init("qextfs", !q.o.foreground, q.o.debug);
    /* Cache blocks (128 KiB) sit right at glibc's default mmap threshold: every block
     * would be a fresh mmap, page-faulted in and unmapped on eviction. From the heap they
     * are recycled instead. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    /* But glibc gives each busy thread an arena of its own, and an arena keeps what was
     * freed in it: blocks filled by one thread and evicted by another piled up arena by
     * arena, and a 16M cache took 60 MB (read.bats, the memory bound test). Two arenas
     * recycle the blocks and keep RSS near cache_size. */
    mallopt(M_ARENA_MAX, 2);
    /* Setting the mmap threshold also fixes the trim threshold at 128 KiB: each 1 MiB read
     * buffer libfuse frees, and each curl buffer, gave its pages back to the kernel and the
     * next one faulted them in again (13% of qextfs's CPU in a cold cp -r). A few MiB kept
     * at the top of each arena are reused instead. */
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
    /* Zip times are local times: libzip turns each entry's into a time_t with mktime, and
     * with TZ unset glibc stats /etc/localtime on every call (1,600 stats in a cold ls -lR).
     * Naming the same zone file once keeps the meaning and loads it once; a TZ the user set
     * is kept. */
    if (!getenv("TZ"))
        setenv("TZ", ":/etc/localtime", 0);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "qextfs: cannot initialize libcurl\n");
        rc = 1;
        goto out;
    }
    if (build_context(&q) != 0) {
        fprintf(stderr, "qextfs: cannot set up the mount\n");
        rc = 1;
        goto out_curl;
    }
    /* libfuse 3.14 warns ("invalid max threads") when max_idle_threads is left unset. */
    fuse_opt_add_arg(&args,
                     "-odefault_permissions,fsname=qextfs,subtype=qextfs,max_idle_threads=16");
    rc = run_fuse(&args, &q);
out_curl:
    free_context(&q);
    curl_global_cleanup();
out:
    auth_free(q.auth);
    fuse_opt_free_args(&args);
    free(c.cache_size);
    free(c.block_size);
    free(c.read_ahead);
    free(c.disk_cache);
    free(q.mountpoint);
    free(c.mountpoint_seen);
    free(q.o.tenant_url);
    free(q.o.api_key_file);
    free(q.o.client_id);
    free(q.o.client_secret_file);
    free(q.o.context);
    free(q.o.cacert);
    free(q.o.exclude);
    free(q.o.state_dir);
    return rc;
}
