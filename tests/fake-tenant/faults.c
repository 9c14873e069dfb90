/* faults: fault settings, their counters, and a sliding rate window per key and tier
 * (faults.h). The service counts over five minutes, so the budget of a window is the
 * per-minute limit times its minutes: a burst of five minutes' worth goes through at once.
 * The window keeps the admission times of the last `budget` requests: the next one is
 * admitted once the oldest of them has left the window. */
#include "faults.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rl_window {
    char *who;
    bool tier2;
    int64_t *times; /* ring of admission times, capacity budget */
    unsigned head, count, budget;
};

int faults_init(struct faults *f, const struct fault_cfg *cfg)
{
    memset(f, 0, sizeof(*f));
    f->cfg = *cfg;
    return pthread_mutex_init(&f->lock, NULL) == 0 ? 0 : -1;
}

static void drop_windows(struct faults *f)
{
    for (size_t i = 0; i < f->n_windows; i++) {
        free(f->windows[i].who);
        free(f->windows[i].times);
    }
    free(f->windows);
    f->windows = NULL;
    f->n_windows = 0;
}

void faults_destroy(struct faults *f)
{
    drop_windows(f);
    pthread_mutex_destroy(&f->lock);
}

struct fault_cfg faults_get(struct faults *f)
{
    struct fault_cfg c;

    pthread_mutex_lock(&f->lock);
    c = f->cfg;
    pthread_mutex_unlock(&f->lock);
    return c;
}

void faults_set(struct faults *f, const struct fault_cfg *cfg)
{
    pthread_mutex_lock(&f->lock);
    f->cfg = *cfg;
    f->api_seen = f->bodies_seen = 0;
    drop_windows(f);
    pthread_mutex_unlock(&f->lock);
}

bool faults_fail_now(struct faults *f)
{
    bool fail;

    pthread_mutex_lock(&f->lock);
    f->api_seen++;
    fail = f->cfg.fail_every && f->api_seen % f->cfg.fail_every == 0;
    pthread_mutex_unlock(&f->lock);
    return fail;
}

bool faults_drop_now(struct faults *f)
{
    bool drop = false;

    pthread_mutex_lock(&f->lock);
    if (f->cfg.drop_every) {
        f->bodies_seen++;
        drop = f->bodies_seen % f->cfg.drop_every == 0;
    }
    pthread_mutex_unlock(&f->lock);
    return drop;
}

bool faults_lose_now(struct faults *f)
{
    bool lose;

    pthread_mutex_lock(&f->lock);
    lose = f->cfg.lose_writes > 0;
    if (lose)
        f->cfg.lose_writes--;
    pthread_mutex_unlock(&f->lock);
    return lose;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct rl_window *window_for(struct faults *f, const char *who, bool tier2, unsigned budget)
{
    struct rl_window *v, *w;

    for (size_t i = 0; i < f->n_windows; i++)
        if (f->windows[i].tier2 == tier2 && strcmp(f->windows[i].who, who) == 0)
            return &f->windows[i];
    v = realloc(f->windows, (f->n_windows + 1) * sizeof(*v));
    if (!v)
        return NULL;
    f->windows = v;
    w = &v[f->n_windows];
    memset(w, 0, sizeof(*w));
    w->who = strdup(who);
    w->times = calloc(budget, sizeof(*w->times));
    if (!w->who || !w->times) {
        free(w->who);
        free(w->times);
        return NULL;
    }
    w->tier2 = tier2;
    w->budget = budget;
    f->n_windows++;
    return w;
}

/* 0 and records now when admitted, else the whole seconds to wait (at least 1). */
static unsigned admit(struct rl_window *w, int64_t now, int64_t window_ms)
{
    int64_t oldest;

    if (w->count < w->budget) {
        w->times[(w->head + w->count++) % w->budget] = now;
        return 0;
    }
    oldest = w->times[w->head];
    if (now - oldest >= window_ms) {
        w->times[w->head] = now;
        w->head = (w->head + 1) % w->budget;
        return 0;
    }
    return (unsigned)((oldest + window_ms - now + 999) / 1000);
}

unsigned faults_rate_check(struct faults *f, const char *who, bool tier2)
{
    struct rl_window *w;
    unsigned wait = 0, limit, window_s;
    uint64_t budget;

    pthread_mutex_lock(&f->lock);
    limit = tier2 ? f->cfg.tier2 : f->cfg.tier1;
    window_s = f->cfg.rate_window ? f->cfg.rate_window : 1;
    if (!f->cfg.rate_limit)
        goto out;
    if (limit == 0) {
        wait = window_s; /* a zero budget: nothing is ever admitted */
        goto out;
    }
    /* A window shorter than a minute still admits one request. */
    budget = (uint64_t)limit * window_s / 60;
    if (budget == 0)
        budget = 1;
    if (budget > 10000000) /* the ring is calloc'd: keep a huge limit from asking for GBs */
        budget = 10000000;
    w = window_for(f, who, tier2, (unsigned)budget);
    if (w)
        wait = admit(w, mono_ms(), (int64_t)window_s * 1000);
out:
    pthread_mutex_unlock(&f->lock);
    return wait;
}

static const char *const bad_list_names[] = {"off", "truncated", "notjson", "nodata", "deep"};

bool bad_list_parse(const char *name, enum bad_list *out)
{
    for (size_t i = 0; name && i < sizeof(bad_list_names) / sizeof(bad_list_names[0]); i++)
        if (strcmp(name, bad_list_names[i]) == 0) {
            *out = (enum bad_list)i;
            return true;
        }
    return false;
}

const char *bad_list_name(enum bad_list mode)
{
    return (size_t)mode < sizeof(bad_list_names) / sizeof(bad_list_names[0]) ? bad_list_names[mode]
                                                                             : "off";
}
