/* Unit tests for path.c: splitting mount paths, the archive entry safety rule, URL percent
 * encoding and decoding, the temporary-name rule and the exclude glob list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- path_split ----------------------------------------------------------------------- */

static void split_root(void **state)
{
    char ext[PATH_NAME_MAX + 1] = "junk";
    const char *rest = NULL;

    (void)state;
    assert_int_equal(path_split("/", ext, sizeof(ext), &rest), 0);
    assert_string_equal(ext, "");
    assert_string_equal(rest, "");
    assert_int_equal(path_split("///", ext, sizeof(ext), &rest), 0);
    assert_string_equal(ext, "");
}

static void split_extension(void **state)
{
    char ext[PATH_NAME_MAX + 1];
    const char *rest = NULL;

    (void)state;
    assert_int_equal(path_split("/ext", ext, sizeof(ext), &rest), 1);
    assert_string_equal(ext, "ext");
    assert_string_equal(rest, "");
    assert_int_equal(path_split("/ext/", ext, sizeof(ext), &rest), 1);
    assert_string_equal(ext, "ext");
    assert_string_equal(rest, "");
    assert_int_equal(path_split("/my ext – ü", ext, sizeof(ext), &rest), 1);
    assert_string_equal(ext, "my ext – ü");
}

static void split_deeper(void **state)
{
    static const char path[] = "/ext/a/b";
    char ext[PATH_NAME_MAX + 1];
    const char *rest = NULL;

    (void)state;
    assert_int_equal(path_split(path, ext, sizeof(ext), &rest), 2);
    assert_string_equal(ext, "ext");
    assert_string_equal(rest, "a/b");
    assert_ptr_equal(rest, path + 5); /* points into path */
    assert_int_equal(path_split("//ext//a", ext, sizeof(ext), &rest), 2);
    assert_string_equal(ext, "ext");
    assert_string_equal(rest, "a");
}

static void split_name_too_long(void **state)
{
    char path[PATH_NAME_MAX + 8];
    char ext[PATH_NAME_MAX + 1];
    char small[4];
    const char *rest = NULL;

    (void)state;
    path[0] = '/';
    memset(path + 1, 'x', PATH_NAME_MAX);
    strcpy(path + 1 + PATH_NAME_MAX, "/a");
    assert_int_equal(path_split(path, ext, sizeof(ext), &rest), 2); /* 255 fits */
    assert_int_equal(strlen(ext), PATH_NAME_MAX);
    memset(path + 1, 'x', PATH_NAME_MAX + 1);
    path[PATH_NAME_MAX + 2] = '\0';
    assert_int_equal(path_split(path, ext, sizeof(ext), &rest), -ENAMETOOLONG);
    assert_int_equal(path_split("/abc", small, sizeof(small), &rest), 1);
    assert_int_equal(path_split("/abcd", small, sizeof(small), &rest), -ENAMETOOLONG);
}

/* --- path_entry_is_safe ----------------------------------------------------------------- */

static bool safe(const char *name)
{
    return path_entry_is_safe(name, strlen(name));
}

static void safe_names(void **state)
{
    char longest[PATH_NAME_MAX + 8];

    (void)state;
    assert_true(safe("a.js"));
    assert_true(safe("hello-ext/hello.qext"));
    assert_true(safe("lib/select2.min – original.js"));
    assert_true(safe("ñandú/日本語.css"));
    assert_true(safe("dir/"));
    assert_true(safe("a/b/"));
    assert_true(safe("..."));
    assert_true(safe("..a/.b/c.."));
    assert_true(safe(".gitignore"));
    memset(longest, 'x', PATH_NAME_MAX);
    strcpy(longest + PATH_NAME_MAX, "/a");
    assert_true(safe(longest));
    /* len bounds the name: what follows it does not count */
    assert_true(path_entry_is_safe("a/b/../c", 3));
}

static void unsafe_names(void **state)
{
    char big[PATH_NAME_MAX + 8];

    (void)state;
    assert_false(safe(""));
    assert_false(safe("/abs"));
    assert_false(safe("/"));
    assert_false(safe("../x"));
    assert_false(safe(".."));
    assert_false(safe("a/.."));
    assert_false(safe("a/../b"));
    assert_false(safe("a/./b"));
    assert_false(safe("."));
    assert_false(safe("./"));
    assert_false(safe("a//b"));
    assert_false(safe("a//"));
    assert_false(safe("a\\b"));
    assert_false(safe("..\\x"));
    assert_false(path_entry_is_safe("a\0b", 3));
    assert_false(path_entry_is_safe("a/\0", 3));
    memset(big, 'x', PATH_NAME_MAX + 1);
    big[PATH_NAME_MAX + 1] = '\0';
    assert_false(safe(big));
    strcpy(big + PATH_NAME_MAX + 1, "/");
    assert_false(safe(big));
    assert_false(path_entry_is_safe("", 0));
}

/* --- URL encoding --------------------------------------------------------------------- */

static void expect_encoded(const char *in, bool keep_slash, const char *want)
{
    char *got = path_url_encode(in, keep_slash);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void url_encode(void **state)
{
    (void)state;
    expect_encoded("", false, "");
    expect_encoded("a b.js", false, "a%20b.js");
    expect_encoded("a#b?c%d", false, "a%23b%3Fc%25d");
    expect_encoded("dir/a b.js", true, "dir/a%20b.js");
    expect_encoded("dir/a b.js", false, "dir%2Fa%20b.js");
    expect_encoded("ü", false, "%C3%BC");
    expect_encoded("–", true, "%E2%80%93");
    expect_encoded("-N5F29rjbeGdXmTbj3CnZGiSkojZHl20", false, "-N5F29rjbeGdXmTbj3CnZGiSkojZHl20");
    expect_encoded("AZaz09-._~", false, "AZaz09-._~");
    expect_encoded("+&=;:@!$'()*,", true, "%2B%26%3D%3B%3A%40%21%24%27%28%29%2A%2C");
}

static void expect_decoded(const char *in, const char *want, size_t wantlen)
{
    size_t len = 12345;
    char *got = path_url_decode(in, strlen(in), &len);

    assert_non_null(got);
    assert_int_equal(len, wantlen);
    assert_memory_equal(got, want, wantlen + 1); /* NUL-terminated too */
    free(got);
}

static void url_decode(void **state)
{
    (void)state;
    expect_decoded("", "", 0);
    expect_decoded("a%20b.js", "a b.js", 6);
    expect_decoded("%2F", "/", 1);
    expect_decoded("%2f%2F", "//", 2);
    expect_decoded("%C3%BC", "ü", 2);
    expect_decoded("100%25", "100%", 4);
    expect_decoded("a+b", "a+b", 3);   /* a path, not a form: '+' stays */
    expect_decoded("%2520", "%20", 3); /* decoded once */
}

static void url_decode_rejects(void **state)
{
    (void)state;
    assert_null(path_url_decode("%", 1, NULL));
    assert_null(path_url_decode("a%", 2, NULL));
    assert_null(path_url_decode("%4", 2, NULL));
    assert_null(path_url_decode("%zz", 3, NULL));
    assert_null(path_url_decode("%4g", 3, NULL));
    assert_null(path_url_decode("%00", 3, NULL));
    assert_null(path_url_decode("a\0b", 3, NULL));
    /* the escape is cut by len even though the string goes on */
    assert_null(path_url_decode("%41", 2, NULL));
}

static void url_decode_honours_len(void **state)
{
    size_t len = 0;
    char *got = path_url_decode("abc%41def", 6, &len);

    (void)state;
    assert_non_null(got);
    assert_string_equal(got, "abcA");
    assert_int_equal(len, 4);
    free(got);
    got = path_url_decode("abc", 3, NULL); /* outlen may be NULL */
    assert_non_null(got);
    assert_string_equal(got, "abc");
    free(got);
}

static void url_round_trip(void **state)
{
    static const char *const names[] = {
        "hello-ext/hello.qext", "lib/select2.min – original.js",
        "a b#c?d%e&f=g",        "-N5F29rjbeGdXmTbj3CnZGiSkojZHl20",
        "日本語/ü.css",         "~x.y_z",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        for (int keep = 0; keep < 2; keep++) {
            char *enc = path_url_encode(names[i], keep);
            size_t len = 0;
            char *dec;

            assert_non_null(enc);
            dec = path_url_decode(enc, strlen(enc), &len);
            assert_non_null(dec);
            assert_string_equal(dec, names[i]);
            assert_int_equal(len, strlen(names[i]));
            free(enc);
            free(dec);
        }
    }
}

/* --- temporaries and globs ------------------------------------------------------------ */

static void temporaries(void **state)
{
    static const char *const yes[] = {
        ".a.js.swp", ".a.swx", ".a.js.swo",  "4913",     "a.js~",      ".#a.js",      "#a.js#",
        ".DS_Store", "._a.js", "dir/.x.swp", "d/e/4913", "lib/b.css~", "x/.DS_Store",
    };
    static const char *const no[] = {
        "a.js",       "swap.js",  "4913.js",  "x4913",  "x.qext", "hello.qext",
        ".gitignore", "a.swp.js", "dir/a.js", "a~b.js", "#a.js",  "4913/a.js",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!path_is_temporary(yes[i], NULL))
            fail_msg("%s should be a temporary", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (path_is_temporary(no[i], NULL))
            fail_msg("%s should not be a temporary", no[i]);
}

static void temporaries_with_extra_globs(void **state)
{
    char **globs = path_globs_parse("*.tmp:build/*");

    (void)state;
    assert_non_null(globs);
    assert_true(path_is_temporary("a.tmp", globs));
    assert_true(path_is_temporary("sub/a.tmp", globs));    /* matches the last component */
    assert_true(path_is_temporary("build/out.js", globs)); /* matches the whole path */
    assert_true(path_is_temporary(".a.js.swp", globs));    /* the built-in rules still apply */
    assert_false(path_is_temporary("a.js", globs));
    assert_false(path_is_temporary("src/build/out.js", globs));
    assert_false(path_is_temporary("a.tmp.js", globs));
    path_globs_free(globs);
}

static void rsync_temporaries(void **state)
{
    (void)state;
    assert_true(path_is_rsync_temp(".alpha.js.Ab12Cd"));
    assert_true(path_is_rsync_temp(".alpha.js.Q7xK2p"));
    assert_true(path_is_rsync_temp(".a.b.c9d8e7"));        /* lower and digits */
    assert_true(path_is_rsync_temp(".x.AB12CD"));          /* upper and digits */
    assert_false(path_is_rsync_temp(".storybook.config")); /* a real dotfile */
    assert_false(path_is_rsync_temp(".eslintrc.backup"));
    assert_false(path_is_rsync_temp(".notes.README"));
    assert_false(path_is_rsync_temp(".build.202401"));
    assert_false(path_is_rsync_temp(".alpha.js.Ab1"));   /* too short */
    assert_false(path_is_rsync_temp("alpha.js.Ab12Cd")); /* no leading dot */
    assert_false(path_is_rsync_temp(".alpha.js.Ab-2Cd"));
    assert_false(path_is_rsync_temp(".Ab12Cd"));
}

static void expect_globs(const char *spec, const char *const *want, size_t n)
{
    char **globs = path_globs_parse(spec);
    size_t i;

    assert_non_null(globs);
    for (i = 0; i < n; i++) {
        assert_non_null(globs[i]);
        assert_string_equal(globs[i], want[i]);
    }
    assert_null(globs[i]);
    path_globs_free(globs);
}

static void globs_parse(void **state)
{
    static const char *const one[] = {"*.tmp"};
    static const char *const several[] = {"*.tmp", "build/*", "*.bak"};
    static const char *const trailing[] = {"*.tmp"};

    (void)state;
    expect_globs("", NULL, 0);
    expect_globs("*.tmp", one, 1);
    expect_globs("*.tmp:build/*:*.bak", several, 3);
    expect_globs("*.tmp:", trailing, 1);
    expect_globs("::*.tmp::", trailing, 1);
    path_globs_free(NULL);
}

/* An empty glob would match the empty last component of "dir/" (and an empty relpath):
 * "-o exclude=*.tmp:" must not make every directory a temporary. */
static void empty_glob_matches_nothing(void **state)
{
    char **globs = path_globs_parse("*.tmp:");

    (void)state;
    assert_non_null(globs);
    assert_false(path_is_temporary("dir/", globs));
    assert_false(path_is_temporary("", globs));
    path_globs_free(globs);
}

/* --- path_join ------------------------------------------------------------------------ */

static void join(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(path_join(out, sizeof(out), "a", "b"), 0);
    assert_string_equal(out, "a/b");
    assert_int_equal(path_join(out, sizeof(out), "a", ""), 0);
    assert_string_equal(out, "a");
    assert_int_equal(path_join(out, sizeof(out), "", "b"), 0); /* a relative walk's top */
    assert_string_equal(out, "b");
    assert_int_equal(path_join(out, sizeof(out), "abc", "def"), 0); /* 7 + NUL fits */
    assert_int_equal(path_join(out, sizeof(out), "abc", "defg"), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_root),
        cmocka_unit_test(split_extension),
        cmocka_unit_test(split_deeper),
        cmocka_unit_test(split_name_too_long),
        cmocka_unit_test(safe_names),
        cmocka_unit_test(unsafe_names),
        cmocka_unit_test(url_encode),
        cmocka_unit_test(url_decode),
        cmocka_unit_test(url_decode_rejects),
        cmocka_unit_test(url_decode_honours_len),
        cmocka_unit_test(url_round_trip),
        cmocka_unit_test(temporaries),
        cmocka_unit_test(temporaries_with_extra_globs),
        cmocka_unit_test(rsync_temporaries),
        cmocka_unit_test(globs_parse),
        cmocka_unit_test(empty_glob_matches_nothing),
        cmocka_unit_test(join),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
