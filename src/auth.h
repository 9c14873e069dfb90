/* auth: where credentials come from and how they become an Authorization header. An API
 * key (environment or key file), or OAuth machine-to-machine (client id and secret traded
 * at POST /oauth/token for a token that is renewed before it expires and once after a 401),
 * or a qlik-cli context from ~/.qlik/contexts.yml. Secrets stay in this module's memory,
 * are wiped when freed, and never reach a log line. */
#ifndef QEXTFS_AUTH_H
#define QEXTFS_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct http;
struct auth;

/* What a qlik-cli context holds (strings malloc'd, NULL when absent). */
struct auth_context {
    char *server;
    char *api_key;       /* from headers.Authorization "Bearer ..." */
    char *client_id;     /* oauth-client-id */
    char *client_secret; /* oauth-client-secret */
};

/* Reads context `name` (NULL: the current-context) from the contexts.yml in dir (NULL:
 * $QLIK_CLI_USER_HOME_DIR or ~/.qlik). Returns 0 or -errno with a reason in err. */
int auth_context_load(const char *dir, const char *name, struct auth_context *out, char *err,
                      size_t errsz);
void auth_context_free(struct auth_context *c);

struct auth *auth_new_key(const char *api_key);
struct auth *auth_new_oauth(const char *client_id, const char *client_secret);
void auth_free(struct auth *a);
/* The connection the OAuth token requests go through (set once the http pool exists). */
void auth_set_http(struct auth *a, struct http *h);

/* An http_auth_fn: writes "Bearer <token>" into buf, fetching or renewing a token first
 * when needed (always when force_refresh). */
int auth_header(void *arg, bool force_refresh, char *buf, size_t bufsz);

/* Reads a secret from a file, refusing one that others can read. Returns 0 or -errno with
 * a reason in err; *out is malloc'd. */
int auth_read_secret_file(const char *path, char **out, char *err, size_t errsz);

#endif
