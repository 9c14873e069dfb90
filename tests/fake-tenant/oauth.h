/* oauth: the fake tenant's machine-to-machine sign-in. POST /oauth/token trades the
 * configured client id and secret (--client ID:SECRET) for an access token that lives
 * --token-life seconds; such tokens are accepted as bearer keys until they expire. */
#ifndef FT_OAUTH_H
#define FT_OAUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct ft_req;

struct oauth {
    pthread_mutex_t lock;
    const char *client_id, *client_secret; /* NULL: no OAuth client configured */
    unsigned token_life;
    struct oauth_token {
        char value[48];
        time_t expires;
    } * tokens;
    size_t n, cap;
    uint64_t issued, seq;
};

void oauth_init(struct oauth *o);
void oauth_free(struct oauth *o);
/* "ID:SECRET" from --client; false when malformed. The string must outlive o. */
bool oauth_set_client(struct oauth *o, char *spec);
/* True when tok is a token issued here and not yet expired. */
bool oauth_token_valid(struct oauth *o, const char *tok);
/* Handles POST /oauth/token (body in r->up.raw). */
int oauth_token_request(struct ft_req *r);

#endif
