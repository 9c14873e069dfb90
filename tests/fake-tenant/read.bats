#!/usr/bin/env bats
# The read endpoints against one shared tenant: seeded extensions with awkward names and
# layouts plus generated ones. GET list, GET one (by id and by qextFilename), GET /file,
# GET /file/{filepath}, errors, auth, and what --seed and --generate put in the archives.
load helpers

setup_file() {
    SEED=$BATS_FILE_TMPDIR/seed
    mkdir -p "$SEED/plain/lib" "$SEED/folder/wrapped-ext/sub" "$SEED/odd/naïve"
    cat >"$SEED/plain/plain.qext" <<'Q'
{"name": "Plain & Simple", "type": "visualization", "version": "2.1.0",
 "author": "Ann Author", "description": "A plain one", "icon": "bar-chart",
 "preview": "p.png", "keywords": ["a", "b"], "license": "MIT",
 "homepage": "https://example.com", "repository": "https://example.com/r",
 "dependencies": {"qlik-sense": ">=5.5.x"}}
Q
    printf 'plain();\n' >"$SEED/plain/plain.js"
    printf 'export const u = 1;\n' >"$SEED/plain/lib/util.js"
    printf '#!/bin/sh\necho hi\n' >"$SEED/plain/lib/tool.sh"
    chmod 755 "$SEED/plain/lib/tool.sh"
    printf 'no extension\n' >"$SEED/plain/README"
    touch -d '2021-03-04 05:06:07 UTC' "$SEED/plain/lib/util.js"
    qext Wrapped >"$SEED/folder/wrapped-ext/wrapped.qext"
    printf 'main();\n' >"$SEED/folder/wrapped-ext/main.js"
    printf 'deep();\n' >"$SEED/folder/wrapped-ext/sub/deep.js"
    echo '{"type":"visualization"}' >"$SEED/odd/odd names.qext"
    printf 'space\n' >"$SEED/odd/my file.js"
    printf 'hash\n' >"$SEED/odd/hash#1.js"
    printf 'percent\n' >"$SEED/odd/100%.js"
    printf 'literal escape\n' >"$SEED/odd/100%25.js"
    printf 'question\n' >"$SEED/odd/q?.js"
    printf 'dash\n' >"$SEED/odd/select2.min – original.js"
    printf 'accents\n' >"$SEED/odd/naïve/café.js"
    tenant_start --seed "$SEED" --generate 5 --api-key k1 --api-key k2
    export SEED
}

teardown_file() {
    tenant_stop
}

names() {
    tenant_curl "$TENANT_URL/api/v1/extensions" | jget '"\n".join(sorted(e["qextFilename"] for e in d["data"]))'
}

id_of() {
    tenant_curl "$TENANT_URL/api/v1/extensions" |
        jget "[e['id'] for e in d['data'] if e['qextFilename'] == '$1'][0]"
}

@test "GET /extensions lists every extension with an id and a qextFilename" {
    run names
    [ "$status" -eq 0 ]
    expected=$(printf '%s\n' "café-chart-003" "kpi tile 002" "odd names" "org-chart-005" \
        plain "sales-funnel-001" "sankey-004" wrapped | sort)
    [ "$output" = "$expected" ]
    tenant_curl "$TENANT_URL/api/v1/extensions" >"$BATS_TEST_TMPDIR/l.json"
    [ "$(jget 'len(d["data"])' <"$BATS_TEST_TMPDIR/l.json")" = 8 ]
    [ "$(jget 'all(__import__("re").fullmatch(r"[A-Za-z0-9_-]{32}", e["id"]) for e in d["data"])' <"$BATS_TEST_TMPDIR/l.json")" = true ]
    [ "$(jget 'len(set(e["id"] for e in d["data"]))' <"$BATS_TEST_TMPDIR/l.json")" = 8 ]
    [ "$(jget 'any(e["id"].startswith("-") for e in d["data"])' <"$BATS_TEST_TMPDIR/l.json")" = true ]
}

@test "--seed and --generate are deterministic: a second tenant has the same ids and archive bytes" {
    first=$(tenant_curl "$TENANT_URL/api/v1/extensions" | jget '[e["id"] for e in d["data"]]')
    mapfile -t all < <(names)
    [ "${#all[@]}" = 8 ]
    for n in "${all[@]}"; do tenant_archive "$n" "$BATS_TEST_TMPDIR/1-$n.zip"; done
    tenant_start --seed "$SEED" --generate 5 --api-key k1
    second=$(tenant_curl "$TENANT_URL/api/v1/extensions" | jget '[e["id"] for e in d["data"]]')
    for n in "${all[@]}"; do
        tenant_archive "$n" "$BATS_TEST_TMPDIR/2-$n.zip"
        cmp "$BATS_TEST_TMPDIR/1-$n.zip" "$BATS_TEST_TMPDIR/2-$n.zip"
    done
    tenant_stop
    [ "$first" = "$second" ]
}

@test "GET /{id} and GET /{qextFilename} return the same model" {
    names=(plain "odd names" "café-chart-003")
    mapfile -t ids < <(tenant_curl "$TENANT_URL/api/v1/extensions" |
        jget '"\n".join(e["id"] for n in sys.argv[2:] for e in d["data"] if e["qextFilename"] == n)' "${names[@]}")
    [ "${#ids[@]}" = 3 ]
    for i in 0 1 2; do
        n=${names[$i]} id=${ids[$i]}
        tenant_curl -o "$BATS_TEST_TMPDIR/a" "$TENANT_URL/api/v1/extensions/$id" \
            -o "$BATS_TEST_TMPDIR/b" "$TENANT_URL/api/v1/extensions/$(urlencode "$n")"
        cmp "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
        grep -qF "\"qextFilename\":\"$n\"" "$BATS_TEST_TMPDIR/a"
        grep -qF "{\"id\":\"$id\"," "$BATS_TEST_TMPDIR/a"
    done
}

@test "the model follows the reference: fields from the .qext and the service's own" {
    tenant_curl -o "$BATS_TEST_TMPDIR/p.zip" "$TENANT_URL/api/v1/extensions/plain/file"
    sum=$(md5sum <"$BATS_TEST_TMPDIR/p.zip" | cut -d' ' -f1)
    ts='re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", d[k])'
    tenant_curl "$TENANT_URL/api/v1/extensions/plain" | jassert \
        'd["name"] == "Plain & Simple"' 'd["type"] == "visualization"' \
        'd["version"] == "2.1.0"' 'd["qextVersion"] == "2.1.0"' 'd["author"] == "Ann Author"' \
        'd["description"] == "A plain one"' 'd["icon"] == "bar-chart"' 'd["preview"] == "p.png"' \
        'd["keywords"] == "a, b"' 'd["license"] == "MIT"' 'd["homepage"] == "https://example.com"' \
        'd["repository"] == "https://example.com/r"' \
        'd["dependencies"] == {"qlik-sense": ">=5.5.x"}' 'd["supernova"] is False' \
        'd["bundled"] is False' 'd["loadpath"] == "plain"' 'd["qextFilename"] == "plain"' \
        'd["file"] == {}' 'd["tags"] == []' 'len(d["tenantId"]) == 32 and len(d["userId"]) == 32' \
        '"updatedAt" not in d' "d['checksum'] == '$sum'" \
        "all($ts for k in ('createdAt', 'updateAt'))"
}

@test "name defaults to the .qext base name" {
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/odd%20names" | jget 'd["name"]')" = "odd names" ]
}

@test "GET /file is the stored archive, application/zip, by id and by name" {
    id=$(id_of wrapped)
    tenant_curl -D "$BATS_TEST_TMPDIR/h" -o "$BATS_TEST_TMPDIR/a.zip" "$TENANT_URL/api/v1/extensions/$id/file"
    tenant_curl -o "$BATS_TEST_TMPDIR/b.zip" "$TENANT_URL/api/v1/extensions/wrapped/file"
    tenant_archive wrapped "$BATS_TEST_TMPDIR/c.zip"
    cmp "$BATS_TEST_TMPDIR/a.zip" "$BATS_TEST_TMPDIR/b.zip"
    cmp "$BATS_TEST_TMPDIR/a.zip" "$BATS_TEST_TMPDIR/c.zip"
    [ "$(hdr content-type "$BATS_TEST_TMPDIR/h")" = application/zip ]
    [ "$(hdr content-length "$BATS_TEST_TMPDIR/h")" = "$(stat -c %s "$BATS_TEST_TMPDIR/a.zip")" ]
    unzip -Z1 "$BATS_TEST_TMPDIR/a.zip" | grep -qx 'wrapped-ext/wrapped.qext'
}

@test "GET /file/{filepath} is relative to the folder holding the .qext" {
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/plain/file/plain.js")" = "plain();" ]
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/plain/file/lib/util.js")" = "export const u = 1;" ]
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/plain/file/README")" = "no extension" ]
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/wrapped/file/main.js")" = "main();" ]
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/wrapped/file/sub/deep.js")" = "deep();" ]
    [ "$(api_code GET /wrapped/file/wrapped-ext/main.js)" = 404 ]
    [ "$(api_code GET "/$(urlencode café-chart-003)/file/$(urlencode café-chart-003).qext")" = 200 ]
    [ "$(body | jget 'd["type"]')" = visualization ]
    tenant_curl -D "$BATS_TEST_TMPDIR/h" -o /dev/null "$TENANT_URL/api/v1/extensions/plain/file/plain.js"
    [ "$(hdr content-type "$BATS_TEST_TMPDIR/h")" = application/javascript ]
}

@test "file paths with space, #, %, ?, non-ASCII and en dash are percent-decoded once" {
    for f in "my file.js" "hash#1.js" "100%.js" "100%25.js" "q?.js" "select2.min – original.js"; do
        tenant_curl -o "$BATS_TEST_TMPDIR/got" "$TENANT_URL/api/v1/extensions/odd%20names/file/$(urlencode "$f")"
        cmp "$BATS_TEST_TMPDIR/got" "$SEED/odd/$f"
    done
    tenant_curl -o "$BATS_TEST_TMPDIR/got" "$TENANT_URL/api/v1/extensions/odd%20names/file/na%C3%AFve/caf%C3%A9.js"
    cmp "$BATS_TEST_TMPDIR/got" "$SEED/odd/naïve/café.js"
    # an encoded slash is decoded too: one decoding of the whole file path
    tenant_curl -o "$BATS_TEST_TMPDIR/got" "$TENANT_URL/api/v1/extensions/odd%20names/file/na%C3%AFve%2Fcaf%C3%A9.js"
    cmp "$BATS_TEST_TMPDIR/got" "$SEED/odd/naïve/café.js"
    # "100%2525.js" decodes once to the literal name "100%25.js", not to "100%.js"
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/odd%20names/file/100%2525.js")" = "literal escape" ]
}

@test "unknown extension or file: 404 with the reference's error object" {
    [ "$(api_code GET /no-such-ext)" = 404 ]
    [ "$(body | jget 'd["title"]')" = "Not Found" ]
    [ "$(body | jget 'd["status"]')" = 404 ]
    [ "$(body | jget 'd["meta"]["resourceName"]')" = no-such-ext ]
    [ "$(body | jget 'len(d["meta"]["message"]) > 0 and len(d["traceId"]) == 32')" = true ]
    [ "$(api_code GET /no-such-ext/file)" = 404 ]
    [ "$(api_code GET /no-such-ext/file/a.js)" = 404 ]
    [ "$(api_code GET /plain/file/nope.js)" = 404 ]
    [ "$(api_code GET /plain/file/lib)" = 404 ]
    [ "$(api_code GET /plain/file/lib/)" = 404 ]
    [ "$(api_code GET /plain/file/../plain/plain.js)" = 404 ]
    [ "$(api_code PATCH /no-such-ext -F 'data={}')" = 404 ]
    [ "$(api_code DELETE /no-such-ext)" = 404 ]
    tenant_curl -D "$BATS_TEST_TMPDIR/h" -o /dev/null "$TENANT_URL/api/v1/extensions/nope"
    [ "$(hdr content-type "$BATS_TEST_TMPDIR/h")" = application/json ]
}

@test "malformed escapes are 400, other methods 405 with Allow, other paths 404" {
    [ "$(api_code GET /plain/file/bad%zz.js)" = 400 ]
    [ "$(api_code PUT "")" = 405 ]
    tenant_curl -D "$BATS_TEST_TMPDIR/h" -o /dev/null -X PUT "$TENANT_URL/api/v1/extensions/plain"
    [ "$(hdr allow "$BATS_TEST_TMPDIR/h")" = "GET, PATCH, DELETE" ]
    [ "$(api_code POST /plain/file)" = 405 ]
    [ "$(tenant_curl -o /dev/null -w '%{http_code}' "$TENANT_URL/api/v1/other")" = 404 ]
}

@test "HEAD of /file sends the length without the body" {
    tenant_curl -I "$TENANT_URL/api/v1/extensions/plain/file" >"$BATS_TEST_TMPDIR/h"
    tenant_archive plain "$BATS_TEST_TMPDIR/p.zip"
    grep -q '^HTTP/1.1 200' "$BATS_TEST_TMPDIR/h"
    [ "$(hdr content-length "$BATS_TEST_TMPDIR/h")" = "$(stat -c %s "$BATS_TEST_TMPDIR/p.zip")" ]
}

@test "bearer auth: each configured key works; none or a wrong one gets 401" {
    [ "$(QLIK_API_KEY=k1 api_code GET "")" = 200 ]
    [ "$(QLIK_API_KEY=k2 api_code GET /plain)" = 200 ]
    [ "$(QLIK_API_KEY=wrong api_code GET "")" = 401 ]
    [ "$(body | jget 'd["title"]')" = Unauthorized ]
    body | error_shape 401 extensions
    # every route and method: the archive and file reads, and writes that must change nothing
    curl -sS -o "$BATS_TEST_TMPDIR/b" "$TENANT_URL/api/v1/extensions/plain/file"
    error_shape 401 plain <"$BATS_TEST_TMPDIR/b"
    [ "$(QLIK_API_KEY=wrong api_code GET /plain/file/lib/util.js)" = 401 ]
    body | error_shape 401 plain
    [ "$(QLIK_API_KEY=wrong api_code PATCH /plain -F 'data={"name":"hijacked"}')" = 401 ]
    body | error_shape 401 plain
    [ "$(QLIK_API_KEY=wrong api_code DELETE /plain)" = 401 ]
    body | error_shape 401 plain
    [ "$(api GET /plain | jget 'd["name"]')" = "Plain & Simple" ]
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Basic azE6' "$TENANT_URL/api/v1/extensions")" = 401 ]
    [ "$(QLIK_API_KEY=k1x api_code POST "" -F "data={}")" = 401 ]
    # the test routes need no key
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$TENANT_URL/__fake/stats")" = 200 ]
    ! grep -q k1 "$TENANT_LOG"
}

@test "keep-alive: two requests reuse one connection" {
    tenant_curl -v -o /dev/null -o /dev/null "$TENANT_URL/api/v1/extensions" \
        "$TENANT_URL/api/v1/extensions/plain/file" 2>"$BATS_TEST_TMPDIR/v"
    grep -qi 're-using existing connection' "$BATS_TEST_TMPDIR/v"
}

@test "--seed mirrors each subfolder: layout, modes, mtimes, explicit directories" {
    tenant_archive plain "$BATS_TEST_TMPDIR/p.zip"
    run unzip -Z1 "$BATS_TEST_TMPDIR/p.zip"
    [ "$output" = "$(printf '%s\n' README lib/ lib/tool.sh lib/util.js plain.js plain.qext)" ]
    mkdir "$BATS_TEST_TMPDIR/x"
    unzip -qq "$BATS_TEST_TMPDIR/p.zip" -d "$BATS_TEST_TMPDIR/x"
    [ "$(stat -c %Y "$BATS_TEST_TMPDIR/x/lib/util.js")" = "$(stat -c %Y "$SEED/plain/lib/util.js")" ]
    [ "$(stat -c %a "$BATS_TEST_TMPDIR/x/lib/tool.sh")" = 755 ]
    [ "$(stat -c %a "$BATS_TEST_TMPDIR/x/plain.js")" = "$(stat -c %a "$SEED/plain/plain.js")" ]
    zipinfo -v "$BATS_TEST_TMPDIR/p.zip" | grep -q 'ID 0x5455 (universal time)'
    tenant_archive wrapped "$BATS_TEST_TMPDIR/w.zip"
    run unzip -Z1 "$BATS_TEST_TMPDIR/w.zip"
    [ "${lines[0]}" = wrapped-ext/ ]
    [ "$(printf '%s\n' "${lines[@]}" | grep -vc '^wrapped-ext/')" = 0 ]
}

@test "--generate: realistic archives with every layout clients must handle" {
    args=()
    for n in "sales-funnel-001" "kpi tile 002" "café-chart-003" "sankey-004" "org-chart-005"; do
        args+=(-o "$BATS_TEST_TMPDIR/$n.zip" "$TENANT_URL/__fake/archive/$(urlencode "$n")")
    done
    curl -sS --fail "${args[@]}"
    "$TENANT_PYTHON" - "$BATS_TEST_TMPDIR" <<'PY'
import json, sys, zipfile
for i, n in enumerate(["sales-funnel-001", "kpi tile 002", "café-chart-003", "sankey-004",
                       "org-chart-005"], start=1):
    z = zipfile.ZipFile(f"{sys.argv[1]}/{n}.zip")
    names = z.namelist()
    top = n + "/" if i % 3 == 0 else ""
    assert all(x.startswith(top) for x in names), (n, names)
    files = [x[len(top):] for x in names if not x.endswith("/")]
    assert {n + ".qext", n + ".js", n + ".css"} <= set(files), (n, files)
    assert 2 <= sum(f.endswith(".png") for f in files) <= 4, (n, files)
    assert 1 <= sum(f.startswith("lib/") for f in files) <= 4, (n, files)
    assert 5120 <= z.getinfo(top + n + ".js").file_size <= 62000, n
    assert json.loads(z.read(top + n + ".qext"))["type"] == "visualization", n
    assert any(x.endswith("/") for x in names) == (i % 2 == 0), (n, names)
    assert ("README" in files) == (i % 4 == 1), (n, files)
    for info in z.infolist():
        assert info.external_attr >> 16 in (0o100644, 0o40755), (n, info)
        assert b"UT" in info.extra, (n, info.filename)
    if i == 5:
        assert "lib/select2.min \u2013 original.js" in files, files
PY
    n="café-chart-003"
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/$(urlencode "$n")/file/$(urlencode "$n").js" | wc -c)" = \
        "$(unzip -p "$BATS_TEST_TMPDIR/$n.zip" "$n/$n.js" | wc -c)" ]
}
