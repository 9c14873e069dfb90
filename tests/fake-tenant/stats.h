/* stats: what tests and benchmarks read back from GET /__fake/stats (request counts per
 * route and status, bytes), and the optional --log file with one JSON line per request.
 * Only /api/ requests are counted; the /__fake/ routes are invisible here. */
#ifndef FT_STATS_H
#define FT_STATS_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

enum route_key {
    RK_NONE = -1,
    RK_LIST,
    RK_CREATE,
    RK_GET,
    RK_PATCH,
    RK_DELETE,
    RK_FILE,
    RK_FILEPATH,
    RK_COUNT
};

#define STATS_MAX_CODES 48

/* The faults the fake tenant injected on purpose (a test's reliability figures); 429s from
 * the rate limits are status_429. */
enum stats_fault { SF_FAILED, SF_DROPPED, SF_LOST, SF_COUNT };

struct stats {
    pthread_mutex_t lock;
    uint64_t requests, status_429, bytes_in, bytes_out;
    uint64_t oauth_tokens; /* POST /oauth/token requests (outside /api/, not in requests) */
    uint64_t by_route[RK_COUNT];
    uint64_t faults[SF_COUNT]; /* --fail-every 503s, --drop-every cut bodies */
    struct {
        int status;
        uint64_t n;
    } by_status[STATS_MAX_CODES];
    int n_status;
    FILE *log;
};

/* log_path may be NULL. Returns 0 or -1 (cannot open the log). */
int stats_init(struct stats *st, const char *log_path);
void stats_destroy(struct stats *st);
void stats_request(struct stats *st, enum route_key rk);
void stats_response(struct stats *st, int status, uint64_t bytes_out);
void stats_bytes_in(struct stats *st, uint64_t n);
void stats_oauth(struct stats *st);
void stats_fault(struct stats *st, enum stats_fault kind);
void stats_reset(struct stats *st);
/* The stats document, malloc'd; NULL on ENOMEM. */
char *stats_json(struct stats *st);
/* One --log line; status 0 means the connection ended before a response. */
void stats_log(struct stats *st, const char *method, const char *path, int status,
               uint64_t bytes_in, uint64_t bytes_out, double ms);

#endif
