/* faults: the misbehaviour a test can ask for (failures, dropped bodies, latency, hanging)
 * and the service's rate limits. Settings change at run time through /__fake/fault, so
 * they live behind a mutex and are read per request. */
#ifndef FT_FAULTS_H
#define FT_FAULTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* What a broken gateway or service version might send instead of the extension list. */
enum bad_list {
    BL_OFF,
    BL_TRUNCATED, /* the list cut halfway, the connection closed cleanly */
    BL_NOTJSON,   /* an HTML error page with status 200 */
    BL_NODATA,    /* valid JSON without the `data` array */
    BL_DEEP,      /* `data` nested far deeper than any JSON parser allows */
};

struct fault_cfg {
    unsigned fail_every;  /* every Nth /api/ request answers 503; 0 off */
    unsigned drop_every;  /* every Nth /api/ response with a body is cut halfway; 0 off */
    unsigned latency_ms;  /* delay before each /api/ answer */
    unsigned tier1;       /* GET requests per minute per key */
    unsigned tier2;       /* POST/PATCH/DELETE requests per minute per key */
    unsigned rate_window; /* seconds the limits are counted over; the budget is tierN per
                             minute times its minutes */
    bool hang;            /* never answer /api/ requests */
    bool rate_limit;
    unsigned list_pad;    /* the list grows to at least this many bytes of padding models */
    unsigned whole_files; /* 1: the per-file endpoint ignores Range (200, the whole file),
                             even under --ranges: a gateway that drops Range on some routes;
                             2: and each file comes 1000 bytes short of its archive entry */
    enum bad_list bad_list;
    unsigned lose_writes; /* the next N successful POST/PATCH/DELETE /api/ requests are
                             carried out, then the connection closes without an answer: a
                             reply lost on the way back (a client sees an empty reply) */
};

struct rl_window;

struct faults {
    pthread_mutex_t lock;
    struct fault_cfg cfg;
    uint64_t api_seen, bodies_seen;
    struct rl_window *windows; /* one per (key, tier) seen */
    size_t n_windows;
};

int faults_init(struct faults *f, const struct fault_cfg *cfg);
void faults_destroy(struct faults *f);
struct fault_cfg faults_get(struct faults *f);
/* Replaces the settings and restarts the counters and rate windows. */
void faults_set(struct faults *f, const struct fault_cfg *cfg);
/* Counts one /api/ request; true when it is the one to fail. */
bool faults_fail_now(struct faults *f);
/* Counts one response body; true when it is the one to cut. */
bool faults_drop_now(struct faults *f);
/* True (and one fewer left) when a write's answer is to be lost. */
bool faults_lose_now(struct faults *f);
/* Admits one request of who in the tier, or returns the seconds until it would be
 * admitted (the Retry-After): until the oldest request of a full window leaves it. 0 when
 * admitted or when limits are off. */
unsigned faults_rate_check(struct faults *f, const char *who, bool tier2);
/* The names --bad-list and /__fake/fault?bad_list= take: off, truncated, notjson, nodata,
 * deep. */
bool bad_list_parse(const char *name, enum bad_list *out);
const char *bad_list_name(enum bad_list mode);

#endif
