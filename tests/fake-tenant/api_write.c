/* api_write: POST, PATCH and DELETE of extensions, and the upload checks they share, in
 * the order the service applies them: media type, size, `data` JSON, archive rules. */
#include "api.h"

#include "blob.h"
#include "respond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void checked_upload_free(struct checked_upload *cu)
{
    cJSON_Delete(cu->data);
    blob_unref(cu->zip);
    zinfo_free(&cu->zi);
    memset(cu, 0, sizeof(*cu));
}

static bool check_data(struct ft_req *r, struct checked_upload *out, enum MHD_Result *ret)
{
    const char *field = NULL;
    char why[512], ptr[64];

    out->data = cJSON_ParseWithLength((const char *)r->up.data.data, r->up.data.len);
    if (!cJSON_IsObject(out->data)) {
        *ret =
            respond_error(r, 415, "The data part is not a valid JSON object", NULL, "/data", NULL);
        return false;
    }
    if (model_check_data(out->data, why, sizeof(why), &field) != 0) {
        snprintf(ptr, sizeof(ptr), "/data/%s", field);
        *ret = respond_error(r, 422, why, NULL, ptr, NULL);
        return false;
    }
    return true;
}

static bool check_file(struct ft_req *r, struct checked_upload *out, enum MHD_Result *ret)
{
    char why[512];
    int rc = zcheck_archive(r->up.file.data, r->up.file.len, ZC_LIMITS, &out->zi, why, sizeof(why));

    if (rc != 0) {
        *ret = respond_error(r, rc, why, out->zi.qext_name, "/file", NULL);
        return false;
    }
    out->zip = buf_to_blob(&r->up.file);
    if (!out->zip) {
        *ret = respond_error(r, 500, "Out of memory", NULL, NULL, NULL);
        return false;
    }
    store_stamp(&r->srv->store, out->zip);
    return true;
}

bool upload_check(struct ft_req *r, struct checked_upload *out, enum MHD_Result *ret)
{
    const struct upload *u = &r->up;

    memset(out, 0, sizeof(*out));
    if (u->not_multipart) {
        *ret =
            respond_error(r, 415, "The request body must be multipart/form-data", NULL, NULL, NULL);
        return false;
    }
    if (u->bad) {
        *ret = respond_error(r, 415, "The multipart/form-data body is malformed", NULL, NULL, NULL);
        return false;
    }
    if (u->too_big) {
        *ret = respond_error(r, 413, "The upload is larger than the service accepts", NULL, NULL,
                             NULL);
        return false;
    }
    if (u->have_data && !check_data(r, out, ret))
        return false;
    if (u->have_file && !check_file(r, out, ret))
        return false;
    return true;
}

/* The name a 409 is about: the archive's, else the one in `data`. */
static const char *target_name(const struct checked_upload *cu)
{
    if (cu->zip)
        return cu->zi.qext_name;
    return cu->data ? model_name(cu->data) : NULL;
}

static enum MHD_Result answer(struct ft_req *r, int rc, int ok, char *json, const char *why,
                              const struct checked_upload *cu)
{
    if (rc == ok)
        return respond_json(r, ok, json);
    free(json);
    if (rc == 404 || rc == 410)
        return api_lookup_error(r, rc);
    return respond_error(r, rc, why[0] ? why : "The extension could not be stored",
                         rc == 409 ? target_name(cu) : NULL, NULL, NULL);
}

enum MHD_Result api_create(struct ft_req *r)
{
    struct checked_upload cu;
    struct ext_change c = {0};
    enum MHD_Result ret;
    char why[512] = "", *json = NULL;
    int rc;

    if (!upload_check(r, &cu, &ret))
        goto out;
    if (!cu.zip && !target_name(&cu)) {
        ret = respond_error(r, 422,
                            "Provide an extension archive as 'file' or a qextFilename "
                            "in 'data'",
                            NULL, "/file", NULL);
        goto out;
    }
    c.archive = cu.zip;
    c.zi = &cu.zi;
    c.originalname = r->up.filename;
    c.data = cu.data;
    rc = store_create(&r->srv->store, &c, r->srv->opt.real_shape, &json, why, sizeof(why));
    ret = answer(r, rc, 201, json, why, &cu);
out:
    checked_upload_free(&cu);
    return ret;
}

enum MHD_Result api_patch(struct ft_req *r)
{
    struct checked_upload cu = {0};
    struct ext_change c = {0};
    enum MHD_Result ret;
    char why[512] = "", *json = NULL;
    int rc = store_find(&r->srv->store, r->id);

    if (rc != 200)
        return api_lookup_error(r, rc);
    if (!upload_check(r, &cu, &ret))
        goto out;
    c.archive = cu.zip;
    c.zi = &cu.zi;
    c.originalname = r->up.filename;
    c.data = cu.data;
    rc = store_update(&r->srv->store, r->id, &c, r->srv->opt.real_shape, &json, why, sizeof(why));
    ret = answer(r, rc, 200, json, why, &cu);
out:
    checked_upload_free(&cu);
    return ret;
}

enum MHD_Result api_delete(struct ft_req *r)
{
    int rc = store_delete(&r->srv->store, r->id);

    if (rc == 204)
        return respond_empty(r, 204);
    return api_lookup_error(r, rc);
}
