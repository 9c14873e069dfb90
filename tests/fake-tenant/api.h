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

#endif
