/* stats: request counters and the --log file (stats.h). */
#include "stats.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The route keys tests grep for; exactly these spellings. */
static const char *const route_names[RK_COUNT] = {
    "GET /extensions",
    "POST /extensions",
    "GET /extensions/{id}",
    "PATCH /extensions/{id}",
    "DELETE /extensions/{id}",
    "GET /extensions/{id}/file",
    "GET /extensions/{id}/file/{path}",
};

int stats_init(struct stats *st, const char *log_path)
{
    memset(st, 0, sizeof(*st));
    if (pthread_mutex_init(&st->lock, NULL) != 0)
        return -1;
    if (log_path) {
        st->log = fopen(log_path, "ae");
        if (!st->log)
            return -1;
    }
    return 0;
}

void stats_destroy(struct stats *st)
{
    if (st->log)
        fclose(st->log);
    pthread_mutex_destroy(&st->lock);
}

void stats_request(struct stats *st, enum route_key rk)
{
    pthread_mutex_lock(&st->lock);
    st->requests++;
    if (rk > RK_NONE && rk < RK_COUNT)
        st->by_route[rk]++;
    pthread_mutex_unlock(&st->lock);
}

void stats_response(struct stats *st, int status, uint64_t bytes_out)
{
    int i;

    pthread_mutex_lock(&st->lock);
    st->bytes_out += bytes_out;
    if (status == 429)
        st->status_429++;
    for (i = 0; i < st->n_status && st->by_status[i].status != status; i++)
        ;
    if (i == st->n_status && i < STATS_MAX_CODES)
        st->by_status[st->n_status++].status = status;
    if (i < st->n_status)
        st->by_status[i].n++;
    pthread_mutex_unlock(&st->lock);
}

void stats_oauth(struct stats *st)
{
    pthread_mutex_lock(&st->lock);
    st->oauth_tokens++;
    pthread_mutex_unlock(&st->lock);
}

void stats_fault(struct stats *st, enum stats_fault kind)
{
    pthread_mutex_lock(&st->lock);
    st->faults[kind]++;
    pthread_mutex_unlock(&st->lock);
}

void stats_bytes_in(struct stats *st, uint64_t n)
{
    pthread_mutex_lock(&st->lock);
    st->bytes_in += n;
    pthread_mutex_unlock(&st->lock);
}

void stats_reset(struct stats *st)
{
    pthread_mutex_lock(&st->lock);
    st->requests = st->status_429 = st->bytes_in = st->bytes_out = st->oauth_tokens = 0;
    memset(st->by_route, 0, sizeof(st->by_route));
    memset(st->faults, 0, sizeof(st->faults));
    st->n_status = 0;
    pthread_mutex_unlock(&st->lock);
}

static cJSON *stats_doc(const struct stats *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *routes, *codes, *faults;
    char code[16];

    cJSON_AddNumberToObject(o, "requests", (double)st->requests);
    cJSON_AddNumberToObject(o, "oauth_tokens", (double)st->oauth_tokens);
    routes = cJSON_AddObjectToObject(o, "by_route");
    codes = cJSON_AddObjectToObject(o, "by_status");
    if (!routes || !codes) {
        cJSON_Delete(o);
        return NULL;
    }
    for (int i = 0; i < RK_COUNT; i++)
        cJSON_AddNumberToObject(routes, route_names[i], (double)st->by_route[i]);
    for (int i = 0; i < st->n_status; i++) {
        snprintf(code, sizeof(code), "%d", st->by_status[i].status);
        cJSON_AddNumberToObject(codes, code, (double)st->by_status[i].n);
    }
    cJSON_AddNumberToObject(o, "status_429", (double)st->status_429);
    cJSON_AddNumberToObject(o, "bytes_in", (double)st->bytes_in);
    cJSON_AddNumberToObject(o, "bytes_out", (double)st->bytes_out);
    /* What was injected on purpose, for the tests' reliability figures. */
    faults = cJSON_AddObjectToObject(o, "faults");
    if (!faults) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddNumberToObject(faults, "failed", (double)st->faults[SF_FAILED]);
    cJSON_AddNumberToObject(faults, "dropped", (double)st->faults[SF_DROPPED]);
    cJSON_AddNumberToObject(faults, "lost", (double)st->faults[SF_LOST]);
    cJSON_AddNumberToObject(faults, "rate_limited", (double)st->status_429);
    return o;
}

char *stats_json(struct stats *st)
{
    cJSON *o;
    char *out = NULL;

    pthread_mutex_lock(&st->lock);
    o = stats_doc(st);
    pthread_mutex_unlock(&st->lock);
    if (o)
        out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}

void stats_log(struct stats *st, const char *method, const char *path, int status,
               uint64_t bytes_in, uint64_t bytes_out, double ms)
{
    struct timespec ts;
    struct tm tm;
    char when[128];
    cJSON *o;
    char *line;

    if (!st->log)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "time", when);
    cJSON_AddStringToObject(o, "method", method);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddNumberToObject(o, "bytes_in", (double)bytes_in);
    cJSON_AddNumberToObject(o, "bytes_out", (double)bytes_out);
    cJSON_AddNumberToObject(o, "ms", (double)(int64_t)(ms * 1000) / 1000.0);
    line = o ? cJSON_PrintUnformatted(o) : NULL;
    if (line) {
        /* One locked write per line keeps lines whole across connection threads. */
        pthread_mutex_lock(&st->lock);
        fprintf(st->log, "%s\n", line);
        fflush(st->log);
        pthread_mutex_unlock(&st->lock);
    }
    cJSON_free(line);
    cJSON_Delete(o);
}
