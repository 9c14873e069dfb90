/* Unit tests for the upload scheduler's decision (wb_upload_due), the local-only rule for
 * temporaries (stage_is_local_only) and change tracking in the staging area. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http.h"
#include "staging.h"
#include "tenant.h"
#include "writeback.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct ext staged_dirty(void)
{
    struct ext e;

    memset(&e, 0, sizeof(e));
    e.staged = true;
    e.change_seq = 3;
    e.clean_seq = 2;
    e.last_change = 100.0;
    return e;
}

static void due_after_quiet_period(void **state)
{
    struct ext e = staged_dirty();
    double next = INFINITY;

    (void)state;
    assert_false(wb_upload_due(&e, 101.0, 2.0, false, &next));
    assert_true(next == 102.0);
    assert_true(wb_upload_due(&e, 102.0, 2.0, false, NULL));
}

static void not_due_when_clean_or_busy(void **state)
{
    struct ext e = staged_dirty();

    (void)state;
    e.clean_seq = e.change_seq;
    assert_false(wb_upload_due(&e, 1000.0, 2.0, false, NULL));
    e = staged_dirty();
    e.uploading = true;
    assert_false(wb_upload_due(&e, 1000.0, 2.0, false, NULL));
    e = staged_dirty();
    e.deleting = true;
    assert_false(wb_upload_due(&e, 1000.0, 2.0, true, NULL));
    e = staged_dirty();
    e.staged = false;
    assert_false(wb_upload_due(&e, 1000.0, 2.0, false, NULL));
}

static void open_writer_blocks_until_unmount(void **state)
{
    struct ext e = staged_dirty();

    (void)state;
    e.open_writers = 1;
    assert_false(wb_upload_due(&e, 1000.0, 2.0, false, NULL));
    assert_true(wb_upload_due(&e, 1000.0, 2.0, true, NULL));
}

/* The scheduler still plans a scan at an open extension's due time (so the last close
 * needs no wake-up), but never one in the past, which would make it spin. */
static void open_writer_still_plans_the_scan(void **state)
{
    struct ext e = staged_dirty();
    double next = INFINITY;

    (void)state;
    e.open_writers = 1;
    assert_false(wb_upload_due(&e, 101.0, 2.0, false, &next));
    assert_true(next == 102.0);
    next = INFINITY;
    assert_false(wb_upload_due(&e, 103.0, 2.0, false, &next));
    assert_true(next == INFINITY);
}

static void rejection_waits_for_a_change(void **state)
{
    struct ext e = staged_dirty();

    (void)state;
    e.upload_err = 22;
    e.upload_err_final = true;
    assert_false(wb_upload_due(&e, 1000.0, 2.0, false, NULL));
    assert_true(wb_upload_due(&e, 1000.0, 2.0, true, NULL));
}

static void backoff_delays_retry(void **state)
{
    struct ext e = staged_dirty();
    double next = INFINITY;

    (void)state;
    e.next_attempt = 150.0;
    assert_false(wb_upload_due(&e, 120.0, 2.0, false, &next));
    assert_true(next == 150.0);
    assert_true(wb_upload_due(&e, 150.0, 2.0, false, NULL));
    e.next_attempt = INFINITY; /* no .qext: wait for a change */
    assert_false(wb_upload_due(&e, 1e9, 2.0, false, NULL));
}

static void temporaries_stay_local(void **state)
{
    struct qfs q;
    char *globs[] = {"*.tmp", "build/*", NULL};

    (void)state;
    memset(&q, 0, sizeof(q));
    assert_true(stage_is_local_only(&q, ".alpha.js.swp"));
    assert_true(stage_is_local_only(&q, "lib/.util.js.swx"));
    assert_true(stage_is_local_only(&q, "4913"));
    assert_true(stage_is_local_only(&q, "alpha.js~"));
    assert_true(stage_is_local_only(&q, ".#alpha.js"));
    assert_true(stage_is_local_only(&q, ".DS_Store"));
    assert_true(stage_is_local_only(&q, ".alpha.js.Ab12Cd")); /* rsync */
    assert_false(stage_is_local_only(&q, "alpha.js"));
    assert_false(stage_is_local_only(&q, "alpha.qext"));
    assert_false(stage_is_local_only(&q, ".eslintrc"));
    assert_false(stage_is_local_only(&q, ".alpha.js.Ab1"));     /* too short for rsync */
    assert_false(stage_is_local_only(&q, ".storybook.config")); /* a real dotfile */
    assert_false(stage_is_local_only(&q, "x.tmp"));
    q.exclude_globs = globs;
    assert_true(stage_is_local_only(&q, "x.tmp"));
    assert_true(stage_is_local_only(&q, "build/out.js"));
}

struct fixture {
    struct qfs q;
    char dir[64];
};

static int setup_stage(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/qextfs-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct http_opts ho = {.base_url = "http://127.0.0.1:1", .max_conns = 1, .timeout_s = 2};

    f->q.state_dir = f->dir;
    /* Nothing listens on port 1: every request fails at once, as with the service down. */
    f->q.http = http_new(&ho, NULL, NULL);
    assert_non_null(f->q.http);
    f->q.tenant = tenant_new(&f->q);
    assert_int_equal(stage_init(&f->q), 0);
    *state = f;
    return 0;
}

static int teardown_stage(void **state)
{
    struct fixture *f = *state;

    tenant_free(f->q.tenant);
    http_free(f->q.http);
    stage_fini(&f->q);
    stage_rmtree(f->dir);
    free(f);
    return 0;
}

static void changes_mark_dirty_and_persist(void **state)
{
    struct fixture *f = *state;
    struct ext *e;
    char meta[4096], buf[512];
    int err = 0;
    FILE *fp;

    e = tenant_ext_create(f->q.tenant, "gamma", &err);
    assert_non_null(e);
    assert_int_equal(stage_create_new(&f->q, e), 0);
    assert_false(ext_dirty(e));
    stage_changed(&f->q, e, ".gamma.js.swp");
    assert_false(ext_dirty(e));
    e->upload_err = 22; /* a rejection reported before this change */
    e->upload_err_final = true;
    stage_changed(&f->q, e, "gamma.js");
    assert_true(ext_dirty(e));
    assert_int_equal(e->change_seq, 1);
    assert_int_equal(e->upload_err, 0);
    assert_false(e->upload_err_final);

    stage_file(&f->q, "gamma", "meta.json", meta, sizeof(meta));
    fp = fopen(meta, "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    assert_non_null(strstr(buf, "\"dirty\":true"));
    assert_non_null(strstr(buf, "\"is_new\":true"));
    tenant_ext_put(f->q.tenant, e);
}

static void qext_detection(void **state)
{
    struct fixture *f = *state;
    struct ext *e;
    char p[4096];
    FILE *fp;
    int err = 0;

    e = tenant_ext_create(f->q.tenant, "delta", &err);
    assert_non_null(e);
    assert_int_equal(stage_create_new(&f->q, e), 0);
    assert_false(stage_has_qext(&f->q, "delta"));
    stage_path(&f->q, "delta", "delta.qext", p, sizeof(p));
    fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("{}", fp);
    fclose(fp);
    assert_true(stage_has_qext(&f->q, "delta"));
    tenant_ext_put(f->q.tenant, e);
}

static void recovery_finds_dirty_trees(void **state)
{
    struct fixture *f = *state;
    struct ext *e;
    int err = 0;

    e = tenant_ext_create(f->q.tenant, "eps", &err);
    assert_non_null(e);
    assert_int_equal(stage_create_new(&f->q, e), 0);
    stage_changed(&f->q, e, "eps.js");
    tenant_ext_put(f->q.tenant, e);

    /* A fresh tenant (a new mount) finds it. The list fetch fails without a server and
     * recovery still registers the staged extension. */
    tenant_free(f->q.tenant);
    f->q.tenant = tenant_new(&f->q);
    f->q.o.list_ttl = 1000;
    assert_true(stage_recover(&f->q) >= 1);
    e = tenant_ext_get(f->q.tenant, "eps", &err);
    assert_non_null(e);
    assert_true(e->staged);
    assert_true(ext_dirty(e));
    tenant_ext_put(f->q.tenant, e);
}

/* An upload marking the extension clean and a change marking it dirty again race on
 * meta.json: whatever the interleaving, the file ends up saying what the fields say. Each
 * round the uploader marks the extension clean, lets the writer go, and saves; the writer's
 * change is then the first one since, so it saves too, concurrently. */
struct race {
    struct fixture *f;
    struct ext *e;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool go;
};

static void *race_uploader(void *arg)
{
    struct race *r = arg;

    tenant_lock(r->f->q.tenant);
    r->e->clean_seq = r->e->change_seq;
    tenant_unlock(r->f->q.tenant);
    pthread_mutex_lock(&r->mu);
    r->go = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->mu);
    stage_save_meta(&r->f->q, r->e);
    return NULL;
}

static void *race_writer(void *arg)
{
    struct race *r = arg;

    pthread_mutex_lock(&r->mu);
    while (!r->go)
        pthread_cond_wait(&r->cond, &r->mu);
    pthread_mutex_unlock(&r->mu);
    stage_changed(&r->f->q, r->e, "zeta.js");
    return NULL;
}

static bool meta_says_dirty(struct fixture *f, const char *name)
{
    char meta[4096], buf[512] = "";
    FILE *fp;

    stage_file(&f->q, name, "meta.json", meta, sizeof(meta));
    fp = fopen(meta, "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    return strstr(buf, "\"dirty\":true") != NULL;
}

static void meta_follows_the_latest_state(void **state)
{
    struct fixture *f = *state;
    struct race r = {.f = f};
    pthread_t a, b;
    int err = 0;

    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cond, NULL);
    r.e = tenant_ext_create(f->q.tenant, "zeta", &err);
    assert_non_null(r.e);
    assert_int_equal(stage_create_new(&f->q, r.e), 0);
    for (int round = 0; round < 100; round++) {
        r.go = false;
        assert_int_equal(pthread_create(&a, NULL, race_uploader, &r), 0);
        assert_int_equal(pthread_create(&b, NULL, race_writer, &r), 0);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        assert_true(ext_dirty(r.e));
        assert_true(meta_says_dirty(f, "zeta"));
    }
    tenant_ext_put(f->q.tenant, r.e);
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.mu);
}

/* A second mount on the same staging area is refused while the first holds it, and gets it
 * once the first lets go; a crashed mount's archive cache is swept by the next start. */
static void one_mount_per_staging_area(void **state)
{
    struct fixture *f = *state;
    struct qfs other = {.state_dir = f->dir};
    char cache[128], file[160];
    struct stat st;
    FILE *fp;

    assert_int_equal(stage_init(&other), -EBUSY);
    assert_int_equal(other.state_lock, -1);
    snprintf(cache, sizeof(cache), "%s/cache-abc123", f->dir);
    assert_int_equal(mkdir(cache, 0700), 0);
    snprintf(file, sizeof(file), "%s/archive.zip", cache);
    fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    stage_fini(&f->q);
    assert_int_equal(stage_init(&other), 0);
    assert_int_not_equal(stat(cache, &st), 0);
    assert_int_equal(stage_init(&f->q), -EBUSY);
    stage_fini(&other);
    assert_int_equal(stage_init(&f->q), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(due_after_quiet_period),
        cmocka_unit_test(not_due_when_clean_or_busy),
        cmocka_unit_test(open_writer_blocks_until_unmount),
        cmocka_unit_test(open_writer_still_plans_the_scan),
        cmocka_unit_test(rejection_waits_for_a_change),
        cmocka_unit_test(backoff_delays_retry),
        cmocka_unit_test(temporaries_stay_local),
        cmocka_unit_test_setup_teardown(changes_mark_dirty_and_persist, setup_stage,
                                        teardown_stage),
        cmocka_unit_test_setup_teardown(qext_detection, setup_stage, teardown_stage),
        cmocka_unit_test_setup_teardown(recovery_finds_dirty_trees, setup_stage, teardown_stage),
        cmocka_unit_test_setup_teardown(meta_follows_the_latest_state, setup_stage, teardown_stage),
        cmocka_unit_test_setup_teardown(one_mount_per_staging_area, setup_stage, teardown_stage),
    };

    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
