/* auth: owns credentials and tokens (see auth.h). The token lock is held across the token
 * request on purpose: a burst of requests at expiry must cause one token request, not one
 * each, and nothing else waits on this lock. */
#include "auth.h"

#include "http.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

/* Renew a tenth of a token's life before it expires, at most a minute before. */
#define RENEW_MARGIN_MAX_S 60

struct auth {
    pthread_mutex_t lock;
    char *api_key;
    char *client_id;
    char *client_secret;
    char *token;
    time_t renew_at; /* when a new token is fetched before this one expires */
    struct http *http;
};

static void wipe_free(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

static struct auth *auth_alloc(void)
{
    struct auth *a = calloc(1, sizeof(*a));

    if (a)
        pthread_mutex_init(&a->lock, NULL);
    return a;
}

struct auth *auth_new_key(const char *api_key)
{
    struct auth *a = auth_alloc();

    if (!a)
        return NULL;
    a->api_key = strdup(api_key);
    if (!a->api_key) {
        auth_free(a);
        return NULL;
    }
    return a;
}

struct auth *auth_new_oauth(const char *client_id, const char *client_secret)
{
    struct auth *a = auth_alloc();

    if (!a)
        return NULL;
    a->client_id = strdup(client_id);
    a->client_secret = strdup(client_secret);
    if (!a->client_id || !a->client_secret) {
        auth_free(a);
        return NULL;
    }
    return a;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    wipe_free(a->api_key);
    wipe_free(a->client_id);
    wipe_free(a->client_secret);
    wipe_free(a->token);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

void auth_set_http(struct auth *a, struct http *h)
{
    a->http = h;
}

static char *token_request_body(const struct auth *a)
{
    cJSON *j = cJSON_CreateObject();
    char *body;

    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "client_id", a->client_id);
    cJSON_AddStringToObject(j, "client_secret", a->client_secret);
    cJSON_AddStringToObject(j, "grant_type", "client_credentials");
    body = cJSON_PrintUnformatted(j);
    /* The tree holds the secret too: wipe its strings before freeing. */
    cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "client_secret");
    if (s && s->valuestring)
        explicit_bzero(s->valuestring, strlen(s->valuestring));
    cJSON_Delete(j);
    return body;
}

/* POST /oauth/token. Called with the lock held. */
static int fetch_token(struct auth *a)
{
    struct http_req req;
    struct http_resp resp = {0};
    cJSON *j = NULL, *tok, *exp;
    char *body = token_request_body(a);
    int rc;

    if (!body)
        return -ENOMEM;
    if (!a->http) {
        wipe_free(body);
        return -ENOTCONN;
    }
    http_req_init(&req, "POST", "/oauth/token");
    req.tier = HTTP_TIER2;
    req.body = body;
    req.body_type = "application/json";
    req.no_auth = true;
    rc = http_do(a->http, &req, &resp);
    wipe_free(body);
    if (rc) {
        log_err("OAuth token request failed: %s", resp.message);
        goto out;
    }
    j = resp.body ? cJSON_ParseWithLength(resp.body, resp.body_len) : NULL;
    tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    if (!cJSON_IsString(tok) || !tok->valuestring[0]) {
        log_err("OAuth token response has no access_token");
        rc = -EPROTO;
        goto out;
    }
    wipe_free(a->token);
    a->token = strdup(tok->valuestring);
    explicit_bzero(tok->valuestring, strlen(tok->valuestring));
    time_t life = cJSON_IsNumber(exp) && exp->valuedouble > 0 ? (time_t)exp->valuedouble : 3600;
    time_t margin = life / 10 < RENEW_MARGIN_MAX_S ? life / 10 : RENEW_MARGIN_MAX_S;

    a->renew_at = time(NULL) + life - margin;
    rc = a->token ? 0 : -ENOMEM;
    log_dbg("OAuth token obtained, valid for %ld s", (long)life);
out:
    if (resp.body)
        explicit_bzero(resp.body, resp.body_len);
    cJSON_Delete(j);
    http_resp_free(&resp);
    return rc;
}

int auth_header(void *arg, bool force_refresh, char *buf, size_t bufsz)
{
    struct auth *a = arg;
    int rc = 0;

    pthread_mutex_lock(&a->lock);
    if (a->api_key) {
        rc = (size_t)snprintf(buf, bufsz, "Bearer %s", a->api_key) < bufsz ? 0 : -ENAMETOOLONG;
        goto out;
    }
    if (force_refresh || !a->token || time(NULL) >= a->renew_at)
        rc = fetch_token(a);
    if (rc == 0)
        rc = (size_t)snprintf(buf, bufsz, "Bearer %s", a->token) < bufsz ? 0 : -ENAMETOOLONG;
out:
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int auth_read_secret_file(const char *path, char **out, char *err, size_t errsz)
{
    char buf[8192];
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
        return -errno;
    }
    if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
        snprintf(err, errsz, "%s is readable by others (mode %03o); run: chmod 600 %s", path,
                 (unsigned)(st.st_mode & 0777), path);
        close(fd);
        return -EPERM;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    if (n <= 0) {
        snprintf(err, errsz, "%s is empty", path);
        return -EINVAL;
    }
    buf[n] = '\0';
    *out = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return *out ? 0 : -ENOMEM;
}

/* --- qlik-cli contexts.yml ------------------------------------------------------------ */

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);

        if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static char *scalar_dup(yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return NULL;
    return strdup((char *)n->data.scalar.value);
}

static void fill_context(yaml_document_t *doc, yaml_node_t *ctx, struct auth_context *out)
{
    yaml_node_t *headers = map_get(doc, ctx, "headers");
    char *authz = scalar_dup(map_get(doc, headers, "Authorization"));

    out->server = scalar_dup(map_get(doc, ctx, "server"));
    out->client_id = scalar_dup(map_get(doc, ctx, "oauth-client-id"));
    out->client_secret = scalar_dup(map_get(doc, ctx, "oauth-client-secret"));
    if (authz && !strncasecmp(authz, "Bearer ", 7))
        out->api_key = strdup(authz + 7);
    wipe_free(authz);
}

static FILE *open_contexts(const char *dir, char *path, size_t pathsz)
{
    const char *d = dir ? dir : getenv("QLIK_CLI_USER_HOME_DIR");
    const char *home = getenv("HOME");

    if (d && *d)
        snprintf(path, pathsz, "%s/contexts.yml", d);
    else
        snprintf(path, pathsz, "%s/.qlik/contexts.yml", home ? home : "");
    return fopen(path, "rb");
}

int auth_context_load(const char *dir, const char *name, struct auth_context *out, char *err,
                      size_t errsz)
{
    char path[PATH_MAX];
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root, *ctx;
    char *current = NULL;
    int rc = -ENOENT;
    FILE *f;

    memset(out, 0, sizeof(*out));
    f = open_contexts(dir, path, sizeof(path));
    if (!f) {
        snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
        return -errno;
    }
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return -ENOMEM;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errsz, "%s is not valid YAML: %s", path,
                 parser.problem ? parser.problem : "parse error");
        rc = -EINVAL;
        goto out_parser;
    }
    root = yaml_document_get_root_node(&doc);
    if (!name)
        name = current = scalar_dup(map_get(&doc, root, "current-context"));
    ctx = name ? map_get(&doc, map_get(&doc, root, "contexts"), name) : NULL;
    if (!ctx) {
        snprintf(err, errsz, "%s has no context %s", path, name ? name : "(no current-context)");
        goto out_doc;
    }
    fill_context(&doc, ctx, out);
    rc = 0;
    if (!out->server) {
        snprintf(err, errsz, "context %s in %s has no server", name, path);
        auth_context_free(out);
        rc = -EINVAL;
    }
out_doc:
    yaml_document_delete(&doc);
out_parser:
    yaml_parser_delete(&parser);
    fclose(f);
    free(current);
    return rc;
}

void auth_context_free(struct auth_context *c)
{
    free(c->server);
    wipe_free(c->api_key);
    wipe_free(c->client_id);
    wipe_free(c->client_secret);
    memset(c, 0, sizeof(*c));
}
