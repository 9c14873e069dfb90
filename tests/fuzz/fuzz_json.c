/* fuzz_json: owns the fuzzing of api.c's readers of what the service returns: the extension
 * list and a single model (api_parse_list, api_parse_ext), the copy of a parsed model, and
 * the ISO-8601 times in it (api_parse_time). Each input is tried as both shapes. A failure
 * must be -EPROTO with a reason and leave nothing allocated; a success must hold the fields
 * api.h promises, and its model_json must read back as the same extension. */
#include "fuzz.h"

#include "api.h"

#include <errno.h>
#include <string.h>

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_ext(const struct api_ext *e)
{
    struct api_ext copy, again;
    char err[256] = "";

    FUZZ_CHECK(e->id && e->id[0] && e->model_json);
    FUZZ_CHECK(e->mtime == api_parse_time(e->updated_at));
    FUZZ_CHECK(!e->version_token || e->version_token[0]);
    FUZZ_CHECK(api_ext_copy(&copy, e) == 0);
    FUZZ_CHECK(same_str(copy.id, e->id) && same_str(copy.qext_filename, e->qext_filename));
    FUZZ_CHECK(same_str(copy.version_token, e->version_token) && copy.mtime == e->mtime);
    FUZZ_CHECK(same_str(copy.model_json, e->model_json));
    api_ext_free(&copy);
    FUZZ_CHECK(copy.id == NULL && copy.model_json == NULL);
    /* The compact model reads back as the same extension. */
    FUZZ_CHECK(api_parse_ext(e->model_json, strlen(e->model_json), &again, err, sizeof(err)) == 0);
    FUZZ_CHECK(same_str(again.id, e->id) && same_str(again.qext_filename, e->qext_filename));
    FUZZ_CHECK(same_str(again.updated_at, e->updated_at));
    FUZZ_CHECK(same_str(again.version_token, e->version_token));
    FUZZ_CHECK(same_str(again.model_json, e->model_json));
    api_ext_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    struct api_list list;
    struct api_ext ext;
    char err[256] = "";
    char *s;
    int rc;

    rc = api_parse_list(json, size, &list, err, sizeof(err));
    if (rc == 0) {
        FUZZ_CHECK(list.items != NULL);
        for (size_t i = 0; i < list.n; i++) {
            FUZZ_CHECK(list.items[i].qext_filename && list.items[i].qext_filename[0]);
            check_ext(&list.items[i]);
        }
    } else {
        FUZZ_CHECK(rc == -EPROTO && err[0]);
        FUZZ_CHECK(list.items == NULL && list.n == 0);
    }
    api_list_free(&list);
    FUZZ_CHECK(list.items == NULL && list.n == 0);

    err[0] = '\0';
    rc = api_parse_ext(json, size, &ext, err, sizeof(err));
    if (rc == 0)
        check_ext(&ext);
    else
        FUZZ_CHECK(rc == -EPROTO && err[0] && ext.id == NULL && ext.model_json == NULL);
    api_ext_free(&ext);

    s = fuzz_strndup(data, size);
    (void)api_parse_time(s);
    free(s);
    (void)api_parse_time(NULL);
    return 0;
}
