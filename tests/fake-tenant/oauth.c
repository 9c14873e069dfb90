/* oauth: issues and checks the fake tenant's OAuth tokens (see oauth.h). Tokens are random
 * enough for a test server and never persisted: a restart signs everyone out, as a real
 * token service restart would not, which the tests do not depend on. */
#include "oauth.h"

#include "respond.h"
#include "server.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oauth_init(struct oauth *o)
{
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->lock, NULL);
    o->token_life = 6 * 3600;
}

void oauth_free(struct oauth *o)
{
    free(o->tokens);
    pthread_mutex_destroy(&o->lock);
}

bool oauth_set_client(struct oauth *o, char *spec)
{
    char *colon = strchr(spec, ':');

    if (!colon || colon == spec || !colon[1])
        return false;
    *colon = '\0';
    o->client_id = spec;
    o->client_secret = colon + 1;
    return true;
}

bool oauth_token_valid(struct oauth *o, const char *tok)
{
    time_t now = time(NULL);
    bool ok = false;

    if (!tok)
        return false;
    pthread_mutex_lock(&o->lock);
    for (size_t i = 0; i < o->n && !ok; i++)
        ok = strcmp(o->tokens[i].value, tok) == 0 && o->tokens[i].expires > now;
    pthread_mutex_unlock(&o->lock);
    return ok;
}

static int issue(struct oauth *o, char *out, size_t outsz)
{
    pthread_mutex_lock(&o->lock);
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        struct oauth_token *t = realloc(o->tokens, cap * sizeof(*t));

        if (!t) {
            pthread_mutex_unlock(&o->lock);
            return -1;
        }
        o->tokens = t;
        o->cap = cap;
    }
    snprintf(o->tokens[o->n].value, sizeof(o->tokens[o->n].value), "fake-token-%llu-%08lx",
             (unsigned long long)++o->seq, (unsigned long)random());
    o->tokens[o->n].expires = time(NULL) + o->token_life;
    snprintf(out, outsz, "%s", o->tokens[o->n].value);
    o->n++;
    o->issued++;
    pthread_mutex_unlock(&o->lock);
    return 0;
}

static const char *field(cJSON *j, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int oauth_token_request(struct ft_req *r)
{
    struct oauth *o = &r->srv->oauth;
    cJSON *j = cJSON_ParseWithLength((const char *)r->up.raw.data, r->up.raw.len);
    const char *id = field(j, "client_id"), *secret = field(j, "client_secret");
    const char *grant = field(j, "grant_type");
    char tok[48], *body = NULL;
    int ret;

    if (!j || !grant || strcmp(grant, "client_credentials") != 0) {
        ret = respond_error(r, 400, "grant_type must be client_credentials", NULL, NULL, NULL);
        goto out;
    }
    if (!o->client_id || !id || !secret || strcmp(id, o->client_id) != 0 ||
        strcmp(secret, o->client_secret) != 0) {
        ret = respond_error(r, 401, "invalid client credentials", NULL, NULL, NULL);
        goto out;
    }
    if (issue(o, tok, sizeof(tok)) != 0 ||
        asprintf(&body, "{\"access_token\":\"%s\",\"token_type\":\"bearer\",\"expires_in\":%u}",
                 tok, o->token_life) < 0) {
        ret = respond_error(r, 500, "cannot issue a token", NULL, NULL, NULL);
        goto out;
    }
    ret = respond_json(r, 200, body);
out:
    cJSON_Delete(j);
    return ret;
}
