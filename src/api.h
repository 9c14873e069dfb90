/* api: the seven Qlik Cloud extension endpoints, and the JSON that comes back. Everything the
 * service says is parsed defensively: wrong types, missing fields and deep nesting are errors,
 * never crashes. Built on http.h. */
#ifndef QEXTFS_API_H
#define QEXTFS_API_H

#include "http.h"

#include <stdint.h>
#include <time.h>

/* One extension as the service describes it. Strings are malloc'd, NULL when absent. */
struct api_ext {
    char *id;
    char *qext_filename; /* unique key; the directory name */
    char *name;          /* display name */
    char *version;       /* the qext "version" field as the model reports it */
    char *qext_version;
    char *author;
    char *type;
    char *description;
    char *updated_at;    /* updatedAt, or updateAt as in the reference */
    char *version_token; /* first present of checksum, file.md5, updatedAt, updateAt */
    char *model_json;    /* the whole model, compact JSON */
    time_t mtime;        /* updated_at parsed (UTC), 0 when unknown */
};

struct api_list {
    struct api_ext *items;
    size_t n;
};

/* Parsers (no I/O; the fuzz targets and unit tests call them). Return 0 or -EPROTO with a
 * reason in err. An item without id or qextFilename is skipped in a list, not an error. */
int api_parse_ext(const char *json, size_t len, struct api_ext *out, char *err, size_t errsz);
int api_parse_list(const char *json, size_t len, struct api_list *out, char *err, size_t errsz);
void api_ext_free(struct api_ext *e);
void api_list_free(struct api_list *l);
int api_ext_copy(struct api_ext *dst, const struct api_ext *src);
/* Parses an ISO-8601 UTC time ("2024-05-01T10:20:30.123Z"); 0 when it cannot. */
time_t api_parse_time(const char *s);

/* The endpoints. All return 0 or -errno (see http_status_errno); on error, when msg is not
 * NULL, a one-line reason ("409 Conflict: ...") is written into msg[msgsz]. */
int api_list_extensions(struct http *h, struct api_list *out, char *msg, size_t msgsz);
int api_get_extension(struct http *h, const char *id, struct api_ext *out, char *msg, size_t msgsz);
/* GET /extensions/{id}/file into sink. */
int api_get_archive(struct http *h, const char *id, http_sink_fn sink, void *arg, char *msg,
                    size_t msgsz);
/* GET /extensions/{id}/file with a suffix Range of the last tail_len bytes. *partial tells
 * whether the server honoured it; *total the archive size when it did (from Content-Range). */
int api_get_archive_tail(struct http *h, const char *id, uint64_t tail_len, http_sink_fn sink,
                         void *arg, bool *partial, int64_t *total, char *msg, size_t msgsz);
/* GET /extensions/{id}/file, bytes [off, off+len) (Range). *partial false means the server
 * ignored the Range and the sink received the whole archive from offset 0. */
int api_get_archive_range(struct http *h, const char *id, uint64_t off, uint64_t len,
                          http_sink_fn sink, void *arg, bool *partial, char *msg, size_t msgsz);
/* GET /extensions/{id}/file/{filepath}, bytes [off, off+len) when len > 0 (Range; a server
 * that ignores it sends the whole file, which sink then receives from offset 0: check
 * *partial). filepath is the path relative to the .qext folder, not yet encoded. */
int api_get_file(struct http *h, const char *id, const char *filepath, uint64_t off, uint64_t len,
                 http_sink_fn sink, void *arg, bool *partial, char *msg, size_t msgsz);
/* POST /extensions (create) and PATCH /extensions/{id} (update) with the zip at zip_path.
 * data_json may be NULL ("{}" is sent). On success *out (if not NULL) is the new model. */
int api_create(struct http *h, const char *zip_path, const char *data_json, struct api_ext *out,
               char *msg, size_t msgsz);
int api_update(struct http *h, const char *id, const char *zip_path, const char *data_json,
               struct api_ext *out, char *msg, size_t msgsz);
int api_delete(struct http *h, const char *id, char *msg, size_t msgsz);

#endif
