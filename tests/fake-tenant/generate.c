/* generate: --generate N, N deterministic extensions shaped like real ones: a .qext, a
 * 5-60 KB script, a stylesheet, 2-4 small images and a lib/ folder. Extension i (from 1)
 * varies the layouts clients must handle: names with spaces (i % 5 == 2), one non-ASCII
 * name (i == 3), a top-level folder named after the extension (i % 3 == 0), explicit
 * directory entries (even i), a file without extension (i % 4 == 1) and a file name with
 * an en dash and spaces (i == 5). */
#include "populate.h"

#include "blob.h"
#include "log.h"
#include "zipbuild.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_TIME 1704067200 /* 2024-01-01T00:00:00Z */

static const char *const words[] = {"sales-funnel", "kpi-tile",       "heatmap",    "sankey",
                                    "org-chart",    "gantt",          "radar",      "bullet-chart",
                                    "word-cloud",   "timeline",       "map-layer",  "button-bar",
                                    "date-picker",  "variable-input", "navigation", "table-plus",
                                    "waterfall",    "treemap",        "sunburst",   "calendar"};
#define NWORDS (sizeof(words) / sizeof(words[0]))

struct gen {
    struct zipw *w;
    uint64_t rng;
    const char *prefix; /* "" or "<name>/" */
    time_t mtime;
};

static uint64_t next(struct gen *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned pick(struct gen *g, unsigned lo, unsigned hi)
{
    return lo + (unsigned)(next(g) % (hi - lo + 1));
}

static void ext_name(unsigned i, char *out, size_t sz)
{
    const char *w = words[(i - 1) % NWORDS];

    if (i == 3) {
        snprintf(out, sz, "café-chart-%03u", i);
    } else if (i % 5 == 2) {
        snprintf(out, sz, "%s %03u", w, i);
        for (char *p = out; *p; p++)
            if (*p == '-')
                *p = ' ';
    } else {
        snprintf(out, sz, "%s-%03u", w, i);
    }
}

static void display_name(unsigned i, char *out, size_t sz)
{
    const char *w = words[(i - 1) % NWORDS];
    size_t n = 0;
    bool up = true;

    for (const char *p = w; *p && n + 1 < sz; p++) {
        out[n++] = *p == '-' ? ' ' : up ? (char)toupper((unsigned char)*p) : *p;
        up = *p == '-';
    }
    out[n] = '\0';
    if (i % 4 == 0)
        strncat(out, " & Actions", sz - strlen(out) - 1);
}

static int add(struct gen *g, const char *rel, void *data, size_t len, bool store)
{
    char name[1024];

    snprintf(name, sizeof(name), "%s%s", g->prefix, rel);
    g->mtime += 61;
    return zipw_add_file(g->w, name, data, len, 0644, g->mtime, store);
}

static int add_dir(struct gen *g, const char *rel)
{
    char name[1024];

    snprintf(name, sizeof(name), "%s%s", g->prefix, rel);
    return zipw_add_dir(g->w, name, 0755, g->mtime);
}

static int add_text(struct gen *g, const char *rel, struct buf *b)
{
    size_t len = b->len;

    return add(g, rel, b->data, len, false);
}

static int add_qext(struct gen *g, unsigned i, const char *name)
{
    cJSON *q = cJSON_CreateObject(), *deps = cJSON_CreateObject();
    char disp[128], desc[256], file[512], ver[32], *text;

    display_name(i, disp, sizeof(disp));
    snprintf(desc, sizeof(desc), "%s visualization for Qlik Sense, generated sample %u", disp, i);
    snprintf(ver, sizeof(ver), "1.%u.%u", i % 5, i % 3);
    cJSON_AddStringToObject(q, "name", disp);
    cJSON_AddStringToObject(q, "description", desc);
    cJSON_AddStringToObject(q, "type", "visualization");
    cJSON_AddStringToObject(q, "version", ver);
    cJSON_AddStringToObject(q, "author", "Fake Tenant Labs");
    cJSON_AddStringToObject(q, "icon", "extension");
    cJSON_AddStringToObject(q, "preview", "preview.png");
    cJSON_AddStringToObject(q, "keywords", "qlik-sense, visualization, sample");
    cJSON_AddStringToObject(q, "license", "MIT");
    cJSON_AddStringToObject(q, "homepage", "https://example.com/extensions");
    cJSON_AddStringToObject(q, "repository", "https://github.com/example/extensions");
    cJSON_AddStringToObject(deps, "qlik-sense", ">=5.5.x");
    cJSON_AddItemToObject(q, "dependencies", deps);
    text = cJSON_Print(q);
    cJSON_Delete(q);
    if (!text)
        return -1;
    snprintf(file, sizeof(file), "%s.qext", name);
    return add(g, file, text, strlen(text), false);
}

static int appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int appendf(struct buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -1;
    return buf_append(b, line, (size_t)n);
}

static int add_js(struct gen *g, const char *name)
{
    struct buf b = {0};
    size_t target = pick(g, 5 * 1024, 60 * 1024);
    char file[512];
    unsigned k = 0;
    int rc = appendf(&b,
                     "/* %s: generated by fake-tenant */\ndefine([\"qlik\", \"jquery\", "
                     "\"./lib/helpers\"], function (qlik, $, helpers) {\n    'use strict';\n",
                     name);

    while (rc == 0 && b.len < target) {
        rc = appendf(&b,
                     "    function step%u(layout, value) {\n        return helpers.scale(value "
                     "* %u + %u, layout.qHyperCube.qSize.qcy);\n    }\n",
                     k, pick(g, 1, 999), pick(g, 0, 99999));
        k++;
    }
    if (rc == 0)
        rc = appendf(&b, "    return { paint: function ($element, layout) { $element.html("
                         "'<div>' + layout.title + '</div>'); return qlik.Promise.resolve(); } };"
                         "\n});\n");
    snprintf(file, sizeof(file), "%s.js", name);
    if (rc != 0) {
        buf_free(&b);
        return -1;
    }
    return add_text(g, file, &b);
}

static int add_css(struct gen *g, const char *name)
{
    struct buf b = {0};
    unsigned lines = pick(g, 20, 80);
    char file[512];
    int rc = 0;

    for (unsigned k = 0; rc == 0 && k < lines; k++)
        rc = appendf(&b, ".qv-object .cell-%u { color: #%06x; padding: %upx; }\n", k,
                     (unsigned)(next(g) & 0xffffff), pick(g, 0, 16));
    snprintf(file, sizeof(file), "%s.css", name);
    if (rc != 0) {
        buf_free(&b);
        return -1;
    }
    return add_text(g, file, &b);
}

/* A PNG signature and noise: binary, incompressible, stored like real tools store images. */
static int add_image(struct gen *g, const char *rel)
{
    size_t len = pick(g, 200, 4000);
    unsigned char *p = malloc(len);

    if (!p)
        return -1;
    memcpy(p, "\x89PNG\r\n\x1a\n", 8);
    for (size_t k = 8; k < len; k++)
        p[k] = (unsigned char)next(g);
    return add(g, rel, p, len, true);
}

static int add_small(struct gen *g, const char *rel, const char *text)
{
    char *copy = strdup(text);

    return copy ? add(g, rel, copy, strlen(copy), false) : -1;
}

static int add_files(struct gen *g, unsigned i, const char *name, bool dirs)
{
    static const char *const images[] = {"preview.png", "icon.png", "img/background.png",
                                         "img/sprite.png"};
    static const char *const libs[] = {"lib/helpers.js", "lib/d3-scale.min.js", "lib/LICENSE.txt"};
    unsigned ni = pick(g, 2, 4), nl = pick(g, 1, 3);
    int rc = 0;

    rc |= add_qext(g, i, name);
    rc |= add_js(g, name);
    rc |= add_css(g, name);
    if (dirs && ni > 2)
        rc |= add_dir(g, "img/");
    for (unsigned k = 0; k < ni; k++)
        rc |= add_image(g, images[k]);
    if (dirs)
        rc |= add_dir(g, "lib/");
    for (unsigned k = 0; k < nl; k++)
        rc |= add_small(g, libs[k], "/* library file of a generated extension */\n");
    if (i == 5)
        rc |= add_small(g, "lib/select2.min \xe2\x80\x93 original.js", "/* select2 */\n");
    if (i % 4 == 1)
        rc |= add_small(g, "README", "This extension was generated by fake-tenant.\n");
    return rc ? -1 : 0;
}

static int generate_one(struct store *s, unsigned i)
{
    char name[256], prefix[260], orig[300];
    struct gen g = {0};
    struct blob *zip;

    ext_name(i, name, sizeof(name));
    snprintf(prefix, sizeof(prefix), "%s/", name);
    g.prefix = i % 3 == 0 ? prefix : "";
    g.rng = 0x6e6e0000ull + i;
    g.mtime = BASE_TIME + (time_t)i * 86400;
    g.w = zipw_new();
    if (!g.w)
        return -1;
    if ((i % 2 == 0 && g.prefix[0] && add_dir(&g, "") != 0) ||
        add_files(&g, i, name, i % 2 == 0) != 0) {
        blob_unref(zipw_finish(g.w));
        return -1;
    }
    zip = zipw_finish(g.w);
    if (!zip)
        return -1;
    snprintf(orig, sizeof(orig), "%s.zip", name);
    return populate_add(s, zip, orig);
}

int generate_all(struct store *s, unsigned n)
{
    for (unsigned i = 1; i <= n; i++) {
        if (generate_one(s, i) != 0) {
            log_err("fake-tenant: cannot generate extension %u", i);
            return -1;
        }
    }
    return 0;
}
