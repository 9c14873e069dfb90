/* respond: every response the fake sends goes through here, so the error shape, the
 * --ranges and --drop-every behaviour and the byte and status counters are the same for
 * every route. Bodies are blob slices and are never copied. */
#ifndef FT_RESPOND_H
#define FT_RESPOND_H

#include "server.h"

/* hdrs: NULL, or a NULL-terminated list of name, value pairs. */
enum MHD_Result respond_body(struct ft_req *r, int status, const char *ctype, struct blob *b,
                             size_t off, size_t len, const char *const *hdrs);
/* Takes ownership of text (malloc'd JSON). */
enum MHD_Result respond_json(struct ft_req *r, int status, char *text);
enum MHD_Result respond_empty(struct ft_req *r, int status);
/* The reference's error object; resource and pointer may be NULL. */
enum MHD_Result respond_error(struct ft_req *r, int status, const char *message,
                              const char *resource, const char *pointer, const char *const *hdrs);
/* A file download: honours a single Range when the server runs with --ranges. */
enum MHD_Result respond_download(struct ft_req *r, const char *ctype, struct blob *b,
                                 const char *const *hdrs);

#endif
