#!/usr/bin/env bats
# The write endpoints, each test on a fresh tenant: POST, PATCH and DELETE with their
# validation (409, 413, 415, 422), soft delete (204, then 410) and what changes when.
load helpers

setup() {
    tenant_start --api-key k1
    W=$BATS_TEST_TMPDIR
    mkdir -p "$W/hello-ext"
    qext Hello >"$W/hello-ext/hello.qext"
    printf 'hello();\n' >"$W/hello-ext/hello.js"
    printf 'ignore me\n' >"$W/hello-ext/.gitignore"
    printf 'read me\n' >"$W/hello-ext/README"
    (cd "$W" && zip -qr hello.zip hello-ext)
}

teardown() {
    tenant_stop
}

post_zip() { # ZIP [curl args] -> status; body via body()
    local zip=$1
    shift
    api_code POST "" -F "file=@$zip;type=application/zip" "$@"
}

@test "POST creates: 201 with the model; /file is byte-identical to the upload" {
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    sum=$(md5sum <"$W/hello.zip" | cut -d' ' -f1)
    body | jassert 'len(d["id"]) == 32' 'd["qextFilename"] == "hello"' 'd["name"] == "Hello"' \
        "d['checksum'] == '$sum'" 'd["createdAt"] == d["updateAt"]' 'd["file"] == {}'
    id=$(body | jget 'd["id"]')
    tenant_curl -o "$W/back.zip" "$TENANT_URL/api/v1/extensions/$id/file"
    cmp "$W/hello.zip" "$W/back.zip"
    tenant_archive hello "$W/fake.zip"
    cmp "$W/hello.zip" "$W/fake.zip"
    # files without an extension are kept as they are
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/hello/file/README")" = "read me" ]
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/hello/file/.gitignore")" = "ignore me" ]
    [ "$(api GET "" | jget 'len(d["data"])')" = 1 ]
    [ "$(api GET /hello | jget 'd["id"]')" = "$id" ]
}

@test "POST takes the data part before or after the file; data sets client fields" {
    [ "$(api_code POST "" -F 'data={"name":"Navigation & Actions","tags":["a","b"],"qextFilename":"ignored"};type=application/json' -F "file=@$W/hello.zip")" = 201 ]
    body | jassert 'd["name"] == "Navigation & Actions"' 'd["tags"] == ["a", "b"]' \
        'd["qextFilename"] == "hello"' 'd["version"] == "1.0.0"'
    mkdir -p "$W/two" && qext Two >"$W/two/two.qext" && (cd "$W/two" && zip -q ../two.zip two.qext)
    [ "$(api_code POST "" -F "file=@$W/two.zip" -F 'data={"description":"file first"}')" = 201 ]
    body | jassert 'd["description"] == "file first"' 'd["qextFilename"] == "two"'
}

@test "POST of an existing qextFilename is 409 with its name as resourceName" {
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    [ "$(post_zip "$W/hello.zip")" = 409 ]
    body | jassert 'd["title"] == "Conflict"' '"already exists" in d["meta"]["message"]'
    body | error_shape 409 hello
    [ "$(api GET "" | jget 'len(d["data"])')" = 1 ]
}

@test "422: two .qext, no .qext, unsafe names, a .qext that is not a JSON object, not a zip" {
    "$TENANT_PYTHON" - "$W" <<'PY'
import sys, zipfile
q = '{"name":"Q","type":"visualization"}'
cases = {
    "two": {"a.qext": q, "b/b.qext": q},
    "none": {"main.js": "x"},
    "dotdot": {"ok.qext": q, "../evil.js": "x"},
    "abs": {"ok.qext": q, "/etc/evil.js": "x"},
    "backslash": {"ok.qext": q, "lib\\evil.js": "x"},
    "deep": {"a/b/deep.qext": q},
    "notjson": {"bad.qext": "{not json"},
    "array": {"arr.qext": '["a"]'},
}
for name, entries in cases.items():
    with zipfile.ZipFile(f"{sys.argv[1]}/{name}.zip", "w") as z:
        for entry, text in entries.items():
            z.writestr(zipfile.ZipInfo(entry), text)
PY
    printf 'not a zip at all' >"$W/text.zip"
    for z in two none dotdot abs backslash deep notjson array text; do
        [ "$(post_zip "$W/$z.zip")" = 422 ] || { echo "$z: $(body)"; false; }
        body | grep -q '^{"title":"Unprocessable Entity","status":422,.*"meta":{"message":"..'
    done
    post_zip "$W/two.zip" >/dev/null && body | grep -q 'more than one .qext'
    post_zip "$W/dotdot.zip" >/dev/null && body | grep -qF "'../evil.js' is not allowed"
    post_zip "$W/notjson.zip" >/dev/null && body | grep -q 'not a JSON object'
    body | error_shape 422 extensions
    # a data field of the wrong type, and neither file nor qextFilename
    [ "$(api_code POST "" -F 'data={"name":5}' -F "file=@$W/hello.zip")" = 422 ]
    body | jassert 'd["source"]["pointer"] == "/data/name"'
    body | error_shape 422 extensions
    [ "$(api_code POST "" -F 'data={"name":"x"}')" = 422 ]
    [ "$(api GET "" | jget 'len(d["data"])')" = 0 ]
}

@test "415: a body that is not multipart, or a data part that is not a JSON object" {
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    [ "$(api_code POST "" -H 'Content-Type: application/json' -d '{"name":"x"}')" = 415 ]
    body | jassert 'd["title"] == "Unsupported Media Type"'
    body | error_shape 415 extensions
    [ "$(api_code POST "" -d 'name=x')" = 415 ]
    [ "$(api_code POST "" -F 'data={broken' -F "file=@$W/hello.zip")" = 415 ]
    [ "$(api_code POST "" -F 'data=["an","array"]')" = 415 ]
    [ "$(api_code PATCH /hello -H 'Content-Type: application/json' -d '{"name":"x"}')" = 415 ]
    [ "$(api_code PATCH /hello -F 'data=42')" = 415 ]
    body | error_shape 415 hello
    [ "$(api_code POST "" -H 'Content-Type: multipart/form-data' --data-binary 'no boundary')" = 415 ]
}

@test "413: past the service limits (30 MB zip, 30 MB file, 500 files, 100 MB total, 64 MB part)" {
    "$TENANT_PYTHON" - "$W" <<'PY'
import os, sys, zipfile
w = sys.argv[1]
q = b'{"name":"Big","type":"visualization"}'
with zipfile.ZipFile(f"{w}/bigzip.zip", "w", zipfile.ZIP_STORED) as z:
    z.writestr("big.qext", q)
    z.writestr("noise.bin", os.urandom(31 * 1024 * 1024))
with zipfile.ZipFile(f"{w}/bigfile.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("big.qext", q)
    z.writestr("zeros.bin", bytes(31 * 1024 * 1024))
with zipfile.ZipFile(f"{w}/many.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("big.qext", q)
    for i in range(500):
        z.writestr(f"f/{i}.js", b"x")
with zipfile.ZipFile(f"{w}/total.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("big.qext", q)
    for i in range(4):
        z.writestr(f"z{i}.bin", bytes(26 * 1024 * 1024))
with open(f"{w}/huge.part", "wb") as f:
    f.truncate(65 * 1024 * 1024)
PY
    for z in bigzip bigfile many total; do
        [ "$(post_zip "$W/$z.zip")" = 413 ] || { echo "$z: $(body)"; false; }
        body | grep -q '^{"title":"Payload Too Large","status":413,'
    done
    [ "$(post_zip "$W/huge.part")" = 413 ]
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    [ "$(api_code PATCH /hello -F "file=@$W/bigfile.zip")" = 413 ]
}

@test "PATCH with data only: fields change, the archive and checksum do not" {
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    body >"$W/before.json"
    sleep 0.01
    [ "$(api_code PATCH /hello -F 'data={"name":"Renamed","tags":["t"],"description":"d"}')" = 200 ]
    body | JB=$W/before.json jassert 'd["name"] == "Renamed"' 'd["tags"] == ["t"]' \
        'd["description"] == "d"' 'd["checksum"] == b["checksum"]' \
        'd["createdAt"] == b["createdAt"]' 'd["updateAt"] > b["updateAt"]' 'd["id"] == b["id"]' 
    tenant_archive hello "$W/back.zip"
    cmp "$W/hello.zip" "$W/back.zip"
}

@test "PATCH with a file replaces the archive: new checksum, fields from the new .qext" {
    [ "$(post_zip "$W/hello.zip" -F 'data={"tags":["keep"]}')" = 201 ]
    old=$(body | jget 'd["checksum"]')
    echo '{"name":"Hello Two","type":"visualization","version":"2.0.0"}' >"$W/hello-ext/hello.qext"
    printf 'hello(2);\n' >"$W/hello-ext/hello.js"
    rm "$W/hello.zip" && (cd "$W" && zip -qr hello.zip hello-ext)
    [ "$(api_code PATCH /hello -F "file=@$W/hello.zip")" = 200 ]
    sum=$(md5sum <"$W/hello.zip" | cut -d' ' -f1)
    body | jassert "d['checksum'] == '$sum'" "d['checksum'] != '$old'" 'd["version"] == "2.0.0"' \
        'd["qextVersion"] == "2.0.0"' 'd["name"] == "Hello Two"' 'd["tags"] == ["keep"]'
    tenant_curl -o "$W/back.zip" "$TENANT_URL/api/v1/extensions/hello/file"
    cmp "$W/hello.zip" "$W/back.zip"
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/hello/file/hello.js")" = "hello(2);" ]
}

@test "updateAt strictly increases on every PATCH, even within one millisecond" {
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    pids=()
    for i in 1 2 3 4 5 6; do
        api PATCH /hello -F "data={\"description\":\"$i\"}" -o "$W/p$i.json" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    cat "$W"/p?.json | "$TENANT_PYTHON" -c '
import json, re, sys
stamps = [json.loads(l)["updateAt"] for l in sys.stdin.read().replace("}{", "}\n{").splitlines()]
assert len(stamps) == 6 and len(set(stamps)) == 6, stamps
assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", s) for s in stamps), stamps'
}

@test "PATCH with a bad archive is 422 and changes nothing" {
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    body >"$W/before.json"
    mkzip "$W/two.zip" "a.qext=$(qext A)" "b/b.qext=$(qext B)"
    mkzip "$W/unsafe.zip" "hello.qext=$(qext Hello)" "../evil.js=x"
    printf 'not a zip at all' >"$W/text.zip"
    for z in two unsafe text; do
        [ "$(api_code PATCH /hello -F "file=@$W/$z.zip")" = 422 ] || { echo "$z: $(body)"; false; }
        body | jassert 'd["source"]["pointer"] == "/file"'
    done
    body | error_shape 422 hello
    api GET /hello | JB=$W/before.json jassert 'd == b'
    tenant_archive hello "$W/now.zip"
    cmp "$W/hello.zip" "$W/now.zip"
}

@test "PATCH onto another live qextFilename is 409; onto a free one renames" {
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    mkzip "$W/other.zip" "other.qext=$(qext Other)"
    [ "$(post_zip "$W/other.zip")" = 201 ]
    [ "$(api_code PATCH /hello -F "file=@$W/other.zip")" = 409 ]
    body | jassert 'd["meta"]["resourceName"] == "other"'
    [ "$(api_code PATCH /hello -F 'data={"qextFilename":"other"}')" = 409 ]
    [ "$(api_code PATCH /hello -F 'data={"qextFilename":"fresh"}')" = 200 ]
    [ "$(api_code GET /fresh)" = 200 ]
    [ "$(api_code GET /hello)" = 404 ]
}

@test "DELETE is a soft delete: 204, then 410 by id and by name, and the name is free again" {
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    id=$(body | jget 'd["id"]')
    [ "$(api_code DELETE "/$id")" = 204 ]
    [ ! -s "$(_tenant_tmp)/api-body" ]
    for key in "$id" hello; do
        [ "$(api_code GET "/$key")" = 410 ]
        body | jassert 'd["title"] == "Gone"'
        body | error_shape 410 "$key"
        [ "$(api_code PATCH "/$key" -F 'data={"name":"x"}')" = 410 ]
        [ "$(api_code DELETE "/$key")" = 410 ]
        [ "$(api_code GET "/$key/file")" = 410 ]
        [ "$(api_code GET "/$key/file/hello.js")" = 410 ]
    done
    [ "$(api GET "" | jget 'len(d["data"])')" = 0 ]
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    id2=$(body | jget 'd["id"]')
    [ "$id2" != "$id" ]
    [ "$(api GET /hello | jget 'd["id"]')" = "$id2" ]
    [ "$(api_code GET "/$id")" = 410 ]
    [ "$(api GET "" | jget 'len(d["data"])')" = 1 ]
}

@test "POST with data alone creates an extension without an archive" {
    [ "$(api_code POST "" -F 'data={"qextFilename":"bare","name":"Bare"}')" = 201 ]
    body | jassert 'd["qextFilename"] == "bare"' 'd["name"] == "Bare"' '"checksum" not in d'
    [ "$(api_code GET /bare/file)" = 404 ]
    [ "$(api_code PATCH /bare -F "file=@$W/hello.zip")" = 200 ]
    body | jassert 'd["qextFilename"] == "hello"'
    [ "$(api_code GET /hello/file)" = 200 ]
}

@test "a zip with a top-level folder serves files relative to the .qext" {
    mkzip "$W/top.zip" "top/" "top/top.qext=$(qext Top)" "top/js/a.js=AAA" "b.js=outside"
    [ "$(post_zip "$W/top.zip")" = 201 ]
    [ "$(tenant_curl "$TENANT_URL/api/v1/extensions/top/file/js/a.js")" = AAA ]
    [ "$(api_code GET /top/file/top/js/a.js)" = 404 ]
}

@test "tenant_put replaces an archive behind the client's back; not counted" {
    [ "$(post_zip "$W/hello.zip")" = 201 ]
    body >"$W/before.json"
    tenant_reset_stats
    mkzip "$W/theirs.zip" "hello.qext=$(qext Theirs)" "hello.js=theirs();"
    tenant_put hello "$W/theirs.zip"
    [ "$(tenant_stats | jget 'd["requests"]')" = 0 ]
    tenant_archive hello "$W/now.zip"
    cmp "$W/theirs.zip" "$W/now.zip"
    sum=$(md5sum <"$W/theirs.zip" | cut -d' ' -f1)
    api GET /hello | JB=$W/before.json jassert "d['checksum'] == '$sum'" \
        'd["updateAt"] > b["updateAt"]' 'd["name"] == "Theirs"' 'd["id"] == b["id"]' 
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary 'junk' "$TENANT_URL/__fake/put/hello")" = 422 ]
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "@$W/theirs.zip" "$TENANT_URL/__fake/put/nope")" = 404 ]
}
