/* seed: --seed DIR. Every subfolder of DIR, in byte order of names, becomes one extension
 * whose zip mirrors the subfolder exactly: its files at the zip root, or, when it holds a
 * single folder, that folder as the zip's top-level folder. Directories get explicit
 * entries, as `zip -r` makes; modes and mtimes are kept. */
#include "populate.h"

#include "blob.h"
#include "log.h"
#include "store.h"
#include "zipbuild.h"
#include "zipcheck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int populate_add(struct store *s, struct blob *zip, const char *originalname)
{
    struct ext_change c = {0};
    struct zinfo zi;
    char why[512] = "", *json = NULL;
    int rc;

    rc = zcheck_archive(zip->data, zip->len, 0, &zi, why, sizeof(why));
    if (rc != 0) {
        log_err("fake-tenant: %s: %s", originalname, why);
        blob_unref(zip);
        return -1;
    }
    store_stamp(s, zip);
    c.archive = zip;
    c.zi = &zi;
    c.originalname = originalname;
    rc = store_create(s, &c, false, &json, why, sizeof(why));
    if (rc != 201)
        log_err("fake-tenant: %s: %s", originalname, why);
    free(json);
    zinfo_free(&zi);
    blob_unref(zip);
    return rc == 201 ? 0 : -1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *d)
{
    return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

static int read_all(const char *path, void **out, size_t *outlen)
{
    struct buf b = {0};
    char chunk[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || buf_append(&b, chunk, (size_t)n) != 0) {
            close(fd);
            buf_free(&b);
            return -1;
        }
    }
    close(fd);
    *out = b.data;
    *outlen = b.len;
    return 0;
}

static int add_tree(struct zipw *w, const char *dir, const char *rel);

static int add_one(struct zipw *w, const char *path, const char *name)
{
    struct stat st;
    char ename[4096];
    void *data = NULL;
    size_t len = 0;

    if (lstat(path, &st) != 0)
        return -1;
    if (S_ISDIR(st.st_mode)) {
        if (snprintf(ename, sizeof(ename), "%s/", name) >= (int)sizeof(ename) ||
            zipw_add_dir(w, ename, st.st_mode, st.st_mtime) != 0)
            return -1;
        return add_tree(w, path, name);
    }
    if (!S_ISREG(st.st_mode)) {
        log_warn("fake-tenant: seed: skipping %s (not a regular file)", path);
        return 0;
    }
    if (read_all(path, &data, &len) != 0) {
        log_err("fake-tenant: seed: cannot read %s", path);
        return -1;
    }
    return zipw_add_file(w, name, data, len, st.st_mode, st.st_mtime, false);
}

/* Adds dir's entries as rel/<name> (or <name> at the root when rel is ""). */
static int add_tree(struct zipw *w, const char *dir, const char *rel)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, skip_dots, by_name), rc = 0;

    if (n < 0) {
        log_err("fake-tenant: seed: cannot list %s", dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096], name[4096];

        if (snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name) >= (int)sizeof(path) ||
            snprintf(name, sizeof(name), "%s%s%s", rel, rel[0] ? "/" : "", list[i]->d_name) >=
                (int)sizeof(name))
            rc = -1;
        if (rc == 0)
            rc = add_one(w, path, name);
        free(list[i]);
    }
    free(list);
    return rc;
}

static int seed_one(struct store *s, const char *dir, const char *sub)
{
    char path[4096], orig[512];
    struct zipw *w = zipw_new();
    struct blob *zip;

    if (!w)
        return -1;
    if (snprintf(path, sizeof(path), "%s/%s", dir, sub) >= (int)sizeof(path) ||
        snprintf(orig, sizeof(orig), "%s.zip", sub) >= (int)sizeof(orig) ||
        add_tree(w, path, "") != 0) {
        zip = zipw_finish(w);
        blob_unref(zip);
        return -1;
    }
    zip = zipw_finish(w);
    if (!zip) {
        log_err("fake-tenant: seed: cannot zip %s", path);
        return -1;
    }
    return populate_add(s, zip, orig);
}

int seed_load(struct store *s, const char *dir)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, skip_dots, by_name), rc = 0;

    if (n < 0) {
        log_err("fake-tenant: cannot list the seed folder %s", dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        if (snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name) >= (int)sizeof(path))
            rc = -1;
        if (rc == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            rc = seed_one(s, dir, list[i]->d_name);
        free(list[i]);
    }
    free(list);
    return rc;
}
