/* cli: owns the subcommands (see cli.h). Output is for people; `status --json` is for
 * scripts. */
#include "cli.h"

#include "api.h"
#include "http.h"
#include "staging.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

bool cli_is_subcommand(int argc, char *argv[])
{
    return argc >= 2 &&
           (!strcmp(argv[1], "status") || !strcmp(argv[1], "umount") || !strcmp(argv[1], "trash"));
}

/* Reads a root attribute of a mount into a malloc'd string. The status document can grow
 * between the size query and the read, so ERANGE means: ask again. */
static char *root_attr(const char *mnt, const char *name)
{
    for (int tries = 0; tries < 5; tries++) {
        ssize_t n = getxattr(mnt, name, NULL, 0);
        char *v;

        if (n < 0)
            return NULL;
        v = malloc((size_t)n + 4096);
        if (!v)
            return NULL;
        n = getxattr(mnt, name, v, (size_t)n + 4095);
        if (n >= 0) {
            v[n] = '\0';
            return v;
        }
        free(v);
        if (errno != ERANGE)
            return NULL;
    }
    return NULL;
}

static double num(cJSON *o, const char *path1, const char *path2)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path1);

    if (path2)
        v = cJSON_GetObjectItemCaseSensitive(v, path2);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : "";
}

static void print_status(cJSON *j)
{
    cJSON *pending = cJSON_GetObjectItemCaseSensitive(j, "pending");
    cJSON *errors = cJSON_GetObjectItemCaseSensitive(j, "errors");
    cJSON *it;

    printf("tenant:      %s\n", str(j, "tenant"));
    printf("extensions:  %.0f\n", num(j, "extensions", NULL));
    printf("staging:     %s\n", str(j, "state_dir"));
    printf("pending:     %d upload(s)\n", cJSON_GetArraySize(pending));
    for (it = pending ? pending->child : NULL; it; it = it->next) {
        printf("  %-32s %6.0fs old, %.0f failed attempt(s)%s%s%s\n", str(it, "name"),
               num(it, "age_s", NULL), num(it, "attempts", NULL),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "uploading")) ? ", uploading" : "",
               *str(it, "error") ? ", last error: " : "", str(it, "error"));
    }
    if (cJSON_GetArraySize(errors) > 0) {
        printf("errors:\n");
        for (it = errors->child; it; it = it->next)
            printf("  %-32s %s\n", str(it, "name"), str(it, "error"));
    }
    printf("cache:       %.1f of %.1f MiB, hit rate %.0f%%\n", num(j, "cache", "bytes") / 1048576.0,
           num(j, "cache", "capacity") / 1048576.0, num(j, "cache", "hit_rate") * 100.0);
    printf("archives:    %.1f of %.1f MiB on disk, %.0f let go\n",
           num(j, "archives", "bytes") / 1048576.0, num(j, "archives", "limit") / 1048576.0,
           num(j, "archives", "let_go"));
    printf("requests:    %.0f (429s: %.0f, retries: %.0f), %.1f MiB in, %.1f MiB out\n",
           num(j, "requests", "total"), num(j, "requests", "status_429"),
           num(j, "requests", "retries"), num(j, "requests", "bytes_in") / 1048576.0,
           num(j, "requests", "bytes_out") / 1048576.0);
    cJSON *req = cJSON_GetObjectItemCaseSensitive(j, "requests");
    cJSON *by = req ? cJSON_GetObjectItemCaseSensitive(req, "by_endpoint") : NULL;

    for (it = by ? by->child : NULL; it; it = it->next)
        if (cJSON_IsNumber(it))
            printf("  %-34s %.0f\n", it->string, it->valuedouble);
    printf("uploads:     %.0f done, %.0f failed, %.0f merged, %.0f conflict(s)\n",
           num(j, "uploads", "ok"), num(j, "uploads", "failed"), num(j, "uploads", "merges"),
           num(j, "uploads", "conflicts"));
}

static int cmd_status(int argc, char *argv[])
{
    bool json = argc > 3 && !strcmp(argv[3], "--json");
    char *text;
    cJSON *j;

    if (argc < 3) {
        fprintf(stderr, "usage: qextfs status MOUNTPOINT [--json]\n");
        return 2;
    }
    text = root_attr(argv[2], "user.qextfs.status");
    if (!text) {
        fprintf(stderr, "qextfs: %s is not a qextfs mount (%s)\n", argv[2], strerror(errno));
        return 1;
    }
    if (json) {
        puts(text);
        free(text);
        return 0;
    }
    j = cJSON_Parse(text);
    free(text);
    if (!j) {
        fprintf(stderr, "qextfs: unreadable status from %s\n", argv[2]);
        return 1;
    }
    print_status(j);
    cJSON_Delete(j);
    return 0;
}

static int run_fusermount(const char *mnt)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp("fusermount3", "fusermount3", "-u", mnt, (char *)NULL);
        execlp("umount", "umount", mnt, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Prints new lines of the daemon's unmount log; returns the new offset. */
static long follow(const char *log, long off, int *failures)
{
    char line[1024];
    FILE *f = fopen(log, "r");

    if (!f)
        return off;
    if (fseek(f, off, SEEK_SET) == 0) {
        while (fgets(line, sizeof(line), f)) {
            if (!strchr(line, '\n'))
                break; /* a line still being written */
            if (!strncmp(line, "failed", 6))
                (*failures)++;
            printf("  %s", line);
            fflush(stdout);
            off = ftell(f);
        }
    }
    fclose(f);
    return off;
}

static int cmd_umount(int argc, char *argv[])
{
    char *pid_s, *state, log[PATH_MAX];
    struct timespec nap = {0, 100 * 1000 * 1000};
    int failures = 0;
    long off = 0;
    pid_t pid;

    if (argc < 3) {
        fprintf(stderr, "usage: qextfs umount MOUNTPOINT\n");
        return 2;
    }
    pid_s = root_attr(argv[2], "user.qextfs.pid");
    state = root_attr(argv[2], "user.qextfs.state_dir");
    if (!pid_s || !state) {
        fprintf(stderr, "qextfs: %s is not a qextfs mount\n", argv[2]);
        free(pid_s);
        free(state);
        return 1;
    }
    pid = (pid_t)atoi(pid_s);
    snprintf(log, sizeof(log), "%s/unmount.log", state);
    unlink(log);
    free(pid_s);
    free(state);
    if (run_fusermount(argv[2]) != 0) {
        fprintf(stderr, "qextfs: could not unmount %s (busy?)\n", argv[2]);
        return 1;
    }
    printf("unmounted %s; waiting for pending uploads\n", argv[2]);
    while (kill(pid, 0) == 0) {
        off = follow(log, off, &failures);
        nanosleep(&nap, NULL);
    }
    follow(log, off, &failures);
    if (failures) {
        printf("%d extension(s) kept their changes in the staging area; they will be uploaded "
               "at the next mount\n",
               failures);
        return 1;
    }
    printf("done\n");
    return 0;
}

/* Options shared by the trash commands: --tenant URL, --state-dir DIR. */
struct trash_opts {
    const char *tenant;
    const char *state_dir;
    const char *name;
};

static int parse_trash_opts(int argc, char *argv[], int first, struct trash_opts *o)
{
    o->tenant = getenv("QLIK_TENANT");
    for (int i = first; i < argc; i++) {
        if (!strcmp(argv[i], "--tenant") && i + 1 < argc)
            o->tenant = argv[++i];
        else if (!strncmp(argv[i], "--tenant=", 9))
            o->tenant = argv[i] + 9;
        else if (!strcmp(argv[i], "--state-dir") && i + 1 < argc)
            o->state_dir = argv[++i];
        else if (argv[i][0] != '-' && !o->name)
            o->name = argv[i];
        else
            return -1;
    }
    return o->tenant || o->state_dir ? 0 : -1;
}

static int cmd_trash_ls(const char *dir)
{
    char path[PATH_MAX];
    struct dirent *d;
    DIR *dp;
    int n = 0;

    snprintf(path, sizeof(path), "%s/trash", dir);
    dp = opendir(path);
    if (!dp) {
        printf("the trash is empty\n");
        return 0;
    }
    while ((d = readdir(dp))) {
        struct stat st;
        char full[PATH_MAX + 256];

        if (d->d_name[0] == '.')
            continue;
        snprintf(full, sizeof(full), "%s/%s", path, d->d_name);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
            printf("%-60s %10lld bytes\n", d->d_name, (long long)st.st_size);
            n++;
        }
    }
    closedir(dp);
    if (n == 0)
        printf("the trash is empty\n");
    return 0;
}

static int auth_env(void *arg, bool force, char *buf, size_t bufsz)
{
    (void)arg;
    (void)force;
    const char *key = getenv("QLIK_API_KEY");

    if (!key || !*key)
        return -EACCES;
    return (size_t)snprintf(buf, bufsz, "Bearer %s", key) < bufsz ? 0 : -ENAMETOOLONG;
}

/* Finds the newest trash entry for NAME (or the exact file name). */
static int find_trash(const char *dir, const char *name, char *out, size_t outsz)
{
    char path[PATH_MAX];
    size_t n = strlen(name);
    struct dirent *d;
    char best[256] = "";
    DIR *dp;

    snprintf(path, sizeof(path), "%s/trash", dir);
    dp = opendir(path);
    if (!dp)
        return -ENOENT;
    while ((d = readdir(dp))) {
        bool exact = !strcmp(d->d_name, name);
        bool match = !strncmp(d->d_name, name, n) && d->d_name[n] == '-' &&
                     strlen(d->d_name) > n + 5 &&
                     !strcmp(d->d_name + strlen(d->d_name) - 4, ".zip");

        if (exact || (match && strcmp(d->d_name, best) > 0))
            snprintf(best, sizeof(best), "%s", d->d_name);
        if (exact)
            break;
    }
    closedir(dp);
    if (!best[0])
        return -ENOENT;
    return snprintf(out, outsz, "%s/%s", path, best) < (int)outsz ? 0 : -ENAMETOOLONG;
}

static int cmd_trash_restore(const struct trash_opts *o, const char *dir)
{
    struct http_opts ho = {.base_url = o->tenant,
                           .max_conns = 1,
                           .timeout_s = 30,
                           .max_retries = 3,
                           .retry_after_cap_s = 120};
    char zip[PATH_MAX], msg[512] = "";
    struct api_ext m = {0};
    struct http *h;
    int rc;

    if (!o->name || !o->tenant) {
        fprintf(stderr, "usage: qextfs trash restore NAME --tenant URL\n");
        return 2;
    }
    if (find_trash(dir, o->name, zip, sizeof(zip)) != 0) {
        fprintf(stderr, "qextfs: nothing named %s in %s/trash\n", o->name, dir);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    h = http_new(&ho, auth_env, NULL);
    rc = h ? api_create(h, zip, NULL, &m, msg, sizeof(msg)) : -ENOMEM;
    if (rc == 0) {
        printf("restored %s as %s (id %s)\n", zip, m.qext_filename ? m.qext_filename : "?",
               m.id ? m.id : "?");
        unlink(zip);
    } else if (rc == -EEXIST) {
        fprintf(stderr, "qextfs: not restored: an extension with that name exists (%s)\n", msg);
    } else {
        fprintf(stderr, "qextfs: not restored: %s\n", msg[0] ? msg : strerror(-rc));
    }
    api_ext_free(&m);
    http_free(h);
    curl_global_cleanup();
    return rc ? 1 : 0;
}

static int cmd_trash(int argc, char *argv[])
{
    struct trash_opts o = {0};
    const char *sub = argc > 2 ? argv[2] : "";
    char *dir;
    int rc;

    if ((strcmp(sub, "ls") && strcmp(sub, "restore")) || parse_trash_opts(argc, argv, 3, &o)) {
        fprintf(stderr, "usage: qextfs trash ls [--tenant URL | --state-dir DIR]\n"
                        "       qextfs trash restore NAME --tenant URL [--state-dir DIR]\n");
        return 2;
    }
    dir = stage_default_dir(o.tenant ? o.tenant : "", o.state_dir);
    if (!dir)
        return 1;
    rc = !strcmp(sub, "ls") ? cmd_trash_ls(dir) : cmd_trash_restore(&o, dir);
    free(dir);
    return rc;
}

int cli_run(int argc, char *argv[])
{
    if (!strcmp(argv[1], "status"))
        return cmd_status(argc, argv);
    if (!strcmp(argv[1], "umount"))
        return cmd_umount(argc, argv);
    return cmd_trash(argc, argv);
}
