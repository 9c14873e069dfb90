/* api: the seven /api/v1/extensions endpoints, split between api.c (routing and reads) and
 * api_write.c (create, update, delete). */
#ifndef FT_API_H
#define FT_API_H

#include "server.h"

enum MHD_Result api_create(struct ft_req *r);
enum MHD_Result api_patch(struct ft_req *r);
enum MHD_Result api_delete(struct ft_req *r);
/* The 404/410 answer for r->id. */
enum MHD_Result api_lookup_error(struct ft_req *r, int status);

/* An upload after the service's checks, in its order: media type, size, `data` JSON,
 * archive rules. */
struct checked_upload {
    cJSON *data;      /* parsed `data` part or NULL */
    struct blob *zip; /* the `file` part, stamped with a generation, or NULL */
    struct zinfo zi;  /* its check result */
};
/* Validates r's upload; on failure queues the error response, sets *ret, returns false. */
bool upload_check(struct ft_req *r, struct checked_upload *out, enum MHD_Result *ret);
void checked_upload_free(struct checked_upload *cu);

#endif
