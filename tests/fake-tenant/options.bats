#!/usr/bin/env bats
# Command-line options and the /__fake/ routes: --real-shape, --ranges, --fail-every,
# --drop-every, --rate-limit (--tier1, --tier2, --rate-window), --latency-ms, --hang,
# --list-pad, --bad-list, --state, --log, --port, and the stats (with the faults injected), reset and
# fault routes.
load helpers

teardown() {
    tenant_stop
}

url() { # NAME [FILEPATH]
    echo "$TENANT_URL/api/v1/extensions/$(urlencode "$1")${2:+/file/$2}"
}

@test "--real-shape: updatedAt, no checksum, file{contentType, contentLength, md5, fileId, originalname}" {
    tenant_start --generate 2 --real-shape --api-key k1
    tenant_archive sales-funnel-001 "$BATS_TEST_TMPDIR/a.zip"
    sum=$(md5sum <"$BATS_TEST_TMPDIR/a.zip" | cut -d' ' -f1)
    size=$(stat -c %s "$BATS_TEST_TMPDIR/a.zip")
    tenant_curl "$(url sales-funnel-001)" | jassert '"updatedAt" in d' '"updateAt" not in d' \
        '"checksum" not in d' 'd["file"]["contentType"] == "application/zip"' \
        "d['file']['contentLength'] == $size" "d['file']['md5'] == '$sum'" \
        'len(d["file"]["fileId"]) > 0' 'd["file"]["originalname"] == "sales-funnel-001.zip"'
    tenant_curl "$TENANT_URL/api/v1/extensions" | jassert 'all("updatedAt" in e for e in d["data"])'
    mkzip "$BATS_TEST_TMPDIR/mine.zip" "mine.qext=$(qext Mine)"
    api POST "" -F "file=@$BATS_TEST_TMPDIR/mine.zip;filename=upload-name.zip" |
        jassert 'd["file"]["originalname"] == "upload-name.zip"' '"updatedAt" in d'
}

@test "--ranges: 206 with Content-Range on /file and /file/{filepath}; 416 past the end" {
    tenant_start --generate 1 --ranges --api-key k1
    tenant_archive sales-funnel-001 "$BATS_TEST_TMPDIR/a.zip"
    size=$(stat -c %s "$BATS_TEST_TMPDIR/a.zip")
    h=$BATS_TEST_TMPDIR/h
    tenant_curl -D "$h" -o "$BATS_TEST_TMPDIR/r" -H 'Range: bytes=0-99' "$(url sales-funnel-001)/file"
    grep -q '^HTTP/1.1 206' "$h"
    [ "$(hdr content-range "$h")" = "bytes 0-99/$size" ]
    [ "$(hdr accept-ranges "$h")" = bytes ]
    cmp "$BATS_TEST_TMPDIR/r" <(head -c 100 "$BATS_TEST_TMPDIR/a.zip")
    tenant_curl -D "$h" -o "$BATS_TEST_TMPDIR/r" -H 'Range: bytes=100-' "$(url sales-funnel-001)/file"
    [ "$(hdr content-range "$h")" = "bytes 100-$((size - 1))/$size" ]
    cmp "$BATS_TEST_TMPDIR/r" <(tail -c +101 "$BATS_TEST_TMPDIR/a.zip")
    tenant_curl -D "$h" -o "$BATS_TEST_TMPDIR/r" -H 'Range: bytes=-22' "$(url sales-funnel-001)/file"
    [ "$(hdr content-range "$h")" = "bytes $((size - 22))-$((size - 1))/$size" ]
    cmp "$BATS_TEST_TMPDIR/r" <(tail -c 22 "$BATS_TEST_TMPDIR/a.zip")
    tenant_curl -D "$h" -o "$BATS_TEST_TMPDIR/r" -H "Range: bytes=$size-" "$(url sales-funnel-001)/file"
    grep -q '^HTTP/1.1 416' "$h"
    [ "$(hdr content-range "$h")" = "bytes */$size" ]
    tenant_curl -D "$h" -o "$BATS_TEST_TMPDIR/r" -H 'Range: bytes=0-1,5-6' "$(url sales-funnel-001)/file"
    grep -q '^HTTP/1.1 200' "$h"
    cmp "$BATS_TEST_TMPDIR/r" "$BATS_TEST_TMPDIR/a.zip"
    unzip -p "$BATS_TEST_TMPDIR/a.zip" sales-funnel-001.js >"$BATS_TEST_TMPDIR/js"
    tenant_curl -D "$h" -o "$BATS_TEST_TMPDIR/r" -H 'Range: bytes=1000-1999' "$(url sales-funnel-001 sales-funnel-001.js)"
    grep -q '^HTTP/1.1 206' "$h"
    [ "$(hdr content-range "$h")" = "bytes 1000-1999/$(stat -c %s "$BATS_TEST_TMPDIR/js")" ]
    cmp "$BATS_TEST_TMPDIR/r" <(tail -c +1001 "$BATS_TEST_TMPDIR/js" | head -c 1000)
    [ "$(tenant_stats | jget 'd["by_status"]["206"]')" = 4 ]
}

@test "without --ranges a Range header is ignored: 200 and the whole body" {
    tenant_start --generate 1 --api-key k1
    tenant_archive sales-funnel-001 "$BATS_TEST_TMPDIR/a.zip"
    h=$BATS_TEST_TMPDIR/h
    tenant_curl -D "$h" -o "$BATS_TEST_TMPDIR/r" -H 'Range: bytes=0-99' "$(url sales-funnel-001)/file"
    grep -q '^HTTP/1.1 200' "$h"
    [ -z "$(hdr content-range "$h")" ]
    [ -z "$(hdr accept-ranges "$h")" ]
    cmp "$BATS_TEST_TMPDIR/r" "$BATS_TEST_TMPDIR/a.zip"
}

@test "--fail-every 3: every third /api/ request is a 503 with the error object" {
    tenant_start --generate 1 --api-key k1 --fail-every 3
    codes=
    for i in 1 2 3 4 5 6; do codes+="$(api_code GET /sales-funnel-001) "; done
    [ "$codes" = "200 200 503 200 200 503 " ]
    body | jassert 'd["title"] == "Service Unavailable"' 'd["status"] == 503'
    tenant_stats | jassert 'd["faults"] == {"failed": 2, "dropped": 0, "lost": 0, "rate_limited": 0}'
    # the test routes are never failed
    for i in 1 2 3; do curl -sS --fail -o /dev/null "$TENANT_URL/__fake/stats"; done
    tenant_fault fail_every=0
    [ "$(api_code GET "")" = 200 ]
}

@test "--drop-every 2: every second body is cut halfway (curl exit 18)" {
    tenant_start --generate 1 --api-key k1 --drop-every 2
    run tenant_curl -o "$BATS_TEST_TMPDIR/a" "$(url sales-funnel-001)/file"
    [ "$status" -eq 0 ]
    run tenant_curl -o "$BATS_TEST_TMPDIR/b" "$(url sales-funnel-001)/file"
    [ "$status" -eq 18 ]
    [ "$(stat -c %s "$BATS_TEST_TMPDIR/b")" -lt "$(stat -c %s "$BATS_TEST_TMPDIR/a")" ]
    [ "$(stat -c %s "$BATS_TEST_TMPDIR/b")" -gt 0 ]
    run tenant_curl -o /dev/null "$TENANT_URL/api/v1/extensions"
    [ "$status" -eq 0 ]
    run tenant_curl -o /dev/null "$(url sales-funnel-001 sales-funnel-001.js)"
    [ "$status" -eq 18 ]
    tenant_stats | jassert 'd["faults"] == {"failed": 0, "dropped": 2, "lost": 0, "rate_limited": 0}'
    # the connection survives for the next client
    tenant_fault drop_every=0
    tenant_curl -o "$BATS_TEST_TMPDIR/c" "$(url sales-funnel-001)/file"
    cmp "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/c"
}

@test "lose_writes=2: the next two successful writes are carried out and their answers lost (curl exit 52)" {
    tenant_start --generate 1 --api-key k1
    tenant_fault lose_writes=2
    # reads are answered and do not use one up
    [ "$(api_code GET /sales-funnel-001)" = 200 ]
    run tenant_curl -o /dev/null -X PATCH -F 'data={"description":"sent once"}' "$(url sales-funnel-001)"
    [ "$status" -eq 52 ]
    [ "$(api_code GET /sales-funnel-001)" = 200 ]
    body | jassert 'd["description"] == "sent once"'
    run tenant_curl -o /dev/null -X DELETE "$(url sales-funnel-001)"
    [ "$status" -eq 52 ]
    [ "$(api_code GET /sales-funnel-001)" = 410 ]
    # a write that fails is answered and does not use one up
    tenant_fault lose_writes=1
    [ "$(api_code DELETE /sales-funnel-001)" = 410 ]
    curl -sS "$TENANT_URL/__fake/fault" | jassert 'd["lose_writes"] == 1'
    tenant_stats | jassert 'd["faults"]["lost"] == 2' 'd["by_route"]["DELETE /extensions/{id}"] == 2' \
        'd["by_route"]["PATCH /extensions/{id}"] == 1'
}

@test "--rate-limit --rate-window 60 --tier2 3: the 4th write in a minute gets 429 with Retry-After" {
    tenant_start --generate 1 --api-key k1 --api-key k2 --rate-limit --rate-window 60 --tier2 3
    for i in 1 2 3; do
        [ "$(api_code PATCH /sales-funnel-001 -F "data={\"description\":\"$i\"}")" = 200 ]
    done
    h=$BATS_TEST_TMPDIR/h
    tenant_curl -D "$h" -o "$BATS_TEST_TMPDIR/b" -X PATCH -F 'data={"description":"4"}' "$(url sales-funnel-001)"
    grep -q '^HTTP/1.1 429' "$h"
    ra=$(hdr retry-after "$h")
    [ "$ra" -ge 1 ]
    [ "$ra" -le 60 ]
    jassert 'd["title"] == "Too Many Requests"' <"$BATS_TEST_TMPDIR/b"
    error_shape 429 sales-funnel-001 <"$BATS_TEST_TMPDIR/b"
    # reads are tier 1, other keys have their own budget
    [ "$(api_code GET /sales-funnel-001)" = 200 ]
    [ "$(QLIK_API_KEY=k2 api_code DELETE /sales-funnel-001)" = 204 ]
    tenant_stats | jassert 'd["status_429"] == 1' 'd["by_status"]["429"] == 1' \
        'd["faults"] == {"failed": 0, "dropped": 0, "lost": 0, "rate_limited": 1}'
}

# codes N METHOD PATH [curl args]: N requests on one connection, their status codes counted
codes() {
    local n=$1 method=$2 path=$3
    shift 3
    tenant_curl -o /dev/null -w '%{http_code}\n' -X "$method" "$@" \
        "$TENANT_URL/api/v1/extensions$path?n=[1-$n]" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'
}

@test "--rate-limit defaults are the service's: 100 writes and 1000 reads a minute over 5 minutes" {
    tenant_start --generate 1 --api-key k1 --rate-limit
    curl -sS "$TENANT_URL/__fake/fault" | jassert 'd["tier1"] == 1000' 'd["tier2"] == 100' \
        'd["rate_window"] == 300'
    # a burst of five minutes' budget goes through at once; the next waits for the window
    [ "$(codes 501 PATCH /sales-funnel-001 -F 'data={"description":"x"}')" = "200:500 429:1 " ]
    h=$BATS_TEST_TMPDIR/h
    tenant_curl -D "$h" -o /dev/null -X DELETE "$(url sales-funnel-001)"
    grep -q '^HTTP/1.1 429' "$h"
    ra=$(hdr retry-after "$h")
    [ "$ra" -gt 60 ]
    [ "$ra" -le 300 ]
    [ "$(codes 5001 GET /sales-funnel-001)" = "200:5000 429:1 " ]
    tenant_stats | jassert 'd["by_route"]["PATCH /extensions/{id}"] == 501' \
        'd["by_route"]["GET /extensions/{id}"] == 5001' 'd["faults"]["rate_limited"] == 3'
    # counted over one minute the same limits are 100 and 1000
    tenant_fault rate_window=60
    [ "$(codes 101 PATCH /sales-funnel-001 -F 'data={"description":"y"}')" = "200:100 429:1 " ]
    [ "$(codes 1001 GET "")" = "200:1000 429:1 " ]
}

@test "--rate-limit --tier1 2: the 3rd read gets 429; rate_limit=0 at run time lifts it" {
    tenant_start --generate 1 --rate-limit --tier1 2 --rate-window 60
    [ "$(api_code GET "")" = 200 ]
    [ "$(api_code GET /sales-funnel-001/file)" = 200 ]
    [ "$(api_code GET /sales-funnel-001)" = 429 ]
    tenant_fault rate_limit=0
    [ "$(api_code GET /sales-funnel-001)" = 200 ]
    tenant_fault rate_limit=1 tier1=1000 tier2=1
    [ "$(api_code DELETE /sales-funnel-001)" = 204 ]
    [ "$(api_code DELETE /sales-funnel-001)" = 429 ]
    run "$ROOT/build/fake-tenant" --rate-window 0
    [ "$status" -eq 2 ]
}

@test "--latency-ms delays /api/ answers only; latency_ms changes at run time" {
    tenant_start --generate 1 --latency-ms 400
    t=$(curl -sS -o /dev/null -w '%{time_total}' "$TENANT_URL/api/v1/extensions")
    awk -v t="$t" 'BEGIN { exit !(t >= 0.4) }'
    t=$(curl -sS -o /dev/null -w '%{time_total}' "$TENANT_URL/__fake/stats")
    awk -v t="$t" 'BEGIN { exit !(t < 0.4) }'
    tenant_fault latency_ms=0
    t=$(curl -sS -o /dev/null -w '%{time_total}' "$TENANT_URL/api/v1/extensions")
    awk -v t="$t" 'BEGIN { exit !(t < 0.4) }'
}

@test "--hang: /api/ requests time out, /__fake/ still answers, hang=0 releases them" {
    tenant_start --generate 1 --hang
    run curl -sS -m 1 -o /dev/null "$TENANT_URL/api/v1/extensions"
    [ "$status" -eq 28 ]
    curl -sS --fail -o /dev/null "$TENANT_URL/__fake/stats"
    curl -sS -m 5 -o "$BATS_TEST_TMPDIR/late" "$TENANT_URL/api/v1/extensions" &
    late=$!
    sleep 0.3
    tenant_fault hang=0
    wait "$late"
    jassert 'len(d["data"]) == 1' <"$BATS_TEST_TMPDIR/late"
    # a tenant with a hung request still stops promptly
    tenant_fault hang=1
    curl -sS -m 20 -o /dev/null "$TENANT_URL/api/v1/extensions" &
    sleep 0.2
    SECONDS=0
    tenant_stop
    [ "$SECONDS" -le 2 ]
}

@test "--list-pad: listed-only padding models past the size asked; list_pad changes at run time" {
    tenant_start --generate 2 --api-key k1 --list-pad 100000
    api GET "" >"$BATS_TEST_TMPDIR/l"
    [ "$(stat -c %s "$BATS_TEST_TMPDIR/l")" -ge 100000 ]
    [ "$(stat -c %s "$BATS_TEST_TMPDIR/l")" -lt 101000 ]
    jassert 'len(d["data"]) > 100' 'd["data"][0]["qextFilename"] == "sales-funnel-001"' \
        'd["data"][2]["qextFilename"] == "padding-0000001"' \
        'len(set(e["id"] for e in d["data"])) == len(d["data"])' \
        'all(e["checksum"] and e["updateAt"] for e in d["data"][2:])' <"$BATS_TEST_TMPDIR/l"
    # padding is listed only
    [ "$(api_code GET /padding-0000001)" = 404 ]
    [ "$(api_code GET /padding-0000001/file)" = 404 ]
    curl -sS --fail -X POST "$TENANT_URL/__fake/fault?list_pad=0" | jassert 'd["list_pad"] == 0'
    api GET "" | jassert 'len(d["data"]) == 2'
    tenant_fault list_pad=52428800
    [ "$(api GET "" | wc -c)" -ge 52428800 ]
}

@test "--list-pad with --real-shape pads with real-shape models; an empty list is padded too" {
    tenant_start --real-shape --list-pad 5000
    api GET "" | jassert 'len(d["data"]) >= 5' 'all("updatedAt" in e and "checksum" not in e for e in d["data"])'
}

@test "--bad-list MODE: the list is malformed as asked, other routes are not; bad_list at run time" {
    tenant_start --generate 2 --api-key k1 --bad-list truncated
    api GET "" >"$BATS_TEST_TMPDIR/l"
    run "$TENANT_PYTHON" -c 'import json,sys; json.load(open(sys.argv[1]))' "$BATS_TEST_TMPDIR/l"
    [ "$status" -ne 0 ]
    head -c 9 "$BATS_TEST_TMPDIR/l" | grep -qF '{"data":['
    # the models and archives are still served
    [ "$(api_code GET /sales-funnel-001)" = 200 ]
    [ "$(api_code GET /sales-funnel-001/file)" = 200 ]
    tenant_fault bad_list=notjson
    [ "$(api_code GET "")" = 200 ]
    body | grep -q '^<!DOCTYPE html>'
    tenant_fault bad_list=nodata
    api GET "" | jassert 'isinstance(d, dict)' '"data" not in d'
    tenant_fault bad_list=deep
    api GET "" >"$BATS_TEST_TMPDIR/l"
    "$TENANT_PYTHON" - "$BATS_TEST_TMPDIR/l" <<'PY'
import sys
s = open(sys.argv[1]).read()
assert s.startswith('{"data":' + '[' * 100000) and s.endswith(']' * 100000 + '}'), s[:40]
PY
    curl -sS "$TENANT_URL/__fake/fault" | jassert 'd["bad_list"] == "deep"'
    tenant_fault bad_list=off
    api GET "" | jassert 'len(d["data"]) == 2'
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$TENANT_URL/__fake/fault?bad_list=weird")" = 400 ]
    tenant_stats | jassert 'd["by_route"]["GET /extensions"] == 5'
    run "$ROOT/build/fake-tenant" --bad-list weird
    [ "$status" -eq 2 ]
}

@test "--state: extensions, deletions, archives and the id counter survive a restart" {
    st=$BATS_TEST_TMPDIR/state
    tenant_start --generate 3 --api-key k1 --state "$st"
    mkzip "$BATS_TEST_TMPDIR/new.zip" "new.qext=$(qext New)" "new.js=fresh"
    [ "$(api_code POST "" -F "file=@$BATS_TEST_TMPDIR/new.zip")" = 201 ]
    [ "$(api_code PATCH /sales-funnel-001 -F 'data={"name":"Patched"}')" = 200 ]
    gone=$(api GET "/$(urlencode 'kpi tile 002')" | jget 'd["id"]')
    [ "$(api_code DELETE "/$gone")" = 204 ]
    api GET "" >"$BATS_TEST_TMPDIR/before.json"
    tenant_archive new "$BATS_TEST_TMPDIR/before.zip"
    tenant_stop
    ! ls "$st" | grep -q tmp
    tenant_start --api-key k1 --state "$st" --generate 9
    api GET "" >"$BATS_TEST_TMPDIR/after.json"
    cmp "$BATS_TEST_TMPDIR/before.json" "$BATS_TEST_TMPDIR/after.json"
    [ "$(api_code GET "/$gone")" = 410 ]
    tenant_archive new "$BATS_TEST_TMPDIR/after.zip"
    cmp "$BATS_TEST_TMPDIR/before.zip" "$BATS_TEST_TMPDIR/after.zip"
    [ "$(tenant_curl "$(url new new.js)")" = fresh ]
    mkzip "$BATS_TEST_TMPDIR/more.zip" "more.qext=$(qext More)"
    [ "$(api_code POST "" -F "file=@$BATS_TEST_TMPDIR/more.zip")" = 201 ]
    id=$(body | jget 'd["id"]')
    ! grep -qF "\"$id\"" "$BATS_TEST_TMPDIR/after.json"
    [ "$(jget 'len(d["data"])' <"$BATS_TEST_TMPDIR/after.json")" = 3 ]
}

@test "--log writes one JSON line per request" {
    tenant_start --generate 1 --api-key k1 --log "$BATS_TEST_TMPDIR/req.log"
    api_code GET "" >/dev/null
    api_code GET /sales-funnel-001/file >/dev/null
    api_code GET /nope >/dev/null
    api_code PATCH /sales-funnel-001 -F 'data={"name":"x"}' >/dev/null
    tenant_stop
    "$TENANT_PYTHON" - "$BATS_TEST_TMPDIR/req.log" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
api = [l for l in lines if l["path"].startswith("/api/")]
assert [(l["method"], l["status"]) for l in api] == [
    ("GET", 200), ("GET", 200), ("GET", 404), ("PATCH", 200)], api
for l in lines:
    assert set(l) >= {"time", "method", "path", "status", "bytes_in", "bytes_out", "ms"}, l
assert api[1]["path"] == "/api/v1/extensions/sales-funnel-001/file"
assert api[1]["bytes_out"] > 1000 and api[3]["bytes_in"] > 0, api
PY
    ! grep -q k1 "$BATS_TEST_TMPDIR/req.log"
}

@test "stats: requests by route and status, bytes; reset; test routes not counted" {
    tenant_start --generate 1 --api-key k1
    tenant_reset_stats
    api_code GET "" >/dev/null
    api_code GET /sales-funnel-001 >/dev/null
    api_code GET /sales-funnel-001/file >/dev/null
    api_code GET /sales-funnel-001/file/sales-funnel-001.js >/dev/null
    api_code GET /sales-funnel-001/file/nope.js >/dev/null
    api_code PATCH /sales-funnel-001 -F 'data={"name":"x"}' >/dev/null
    api_code POST "" -F 'data={"qextFilename":"x"}' >/dev/null
    api_code DELETE /x >/dev/null
    QLIK_API_KEY=bad api_code GET "" >/dev/null
    tenant_archive sales-funnel-001 "$BATS_TEST_TMPDIR/a.zip"
    tenant_stats | jassert 'd["requests"] == 9' 'd["by_route"] == {"GET /extensions": 2,
        "POST /extensions": 1, "GET /extensions/{id}": 1, "PATCH /extensions/{id}": 1,
        "DELETE /extensions/{id}": 1, "GET /extensions/{id}/file": 1,
        "GET /extensions/{id}/file/{path}": 2}' \
        'd["by_status"] == {"200": 5, "404": 1, "201": 1, "204": 1, "401": 1}' \
        'd["status_429"] == 0' 'd["bytes_in"] > 0' 'd["bytes_out"] > 1000'
    [ "$(tenant_count "GET /extensions/{id}/file/{path}")" = 2 ]
    tenant_reset_stats
    tenant_stats | jassert 'd["requests"] == 0' 'd["bytes_out"] == 0' 'd["by_status"] == {}' \
        'all(v == 0 for v in d["by_route"].values())' 'all(v == 0 for v in d["faults"].values())'
}

@test "no --api-key: no auth; --port binds the given port on 127.0.0.1 only" {
    port=$("$TENANT_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    tenant_start --generate 1 --port "$port"
    [ "$TENANT_PORT" = "$port" ]
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$TENANT_URL/api/v1/extensions")" = 200 ]
    ss -ltn | grep -q "127.0.0.1:$port "
}

@test "bad options exit with status 2; --help exits 0" {
    run "$ROOT/build/fake-tenant" --no-such-option
    [ "$status" -eq 2 ]
    run "$ROOT/build/fake-tenant" --port abc
    [ "$status" -eq 2 ]
    run "$ROOT/build/fake-tenant" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *--real-shape* ]]
}

@test "concurrent downloads while the archive is replaced: every body is one whole version" {
    tenant_start --generate 1 --api-key k1
    tenant_archive sales-funnel-001 "$BATS_TEST_TMPDIR/v1.zip"
    head -c 300000 /dev/urandom >"$BATS_TEST_TMPDIR/big.bin"
    mkzip "$BATS_TEST_TMPDIR/v2.zip" "sales-funnel-001.qext=$(qext V2)" "big.bin=@$BATS_TEST_TMPDIR/big.bin"
    pids=()
    for i in $(seq 1 8); do
        tenant_curl -o "$BATS_TEST_TMPDIR/d$i.zip" "$(url sales-funnel-001)/file" &
        pids+=($!)
        [ "$i" = 4 ] && tenant_put sales-funnel-001 "$BATS_TEST_TMPDIR/v2.zip"
    done
    for p in "${pids[@]}"; do wait "$p"; done
    for i in $(seq 1 8); do
        cmp -s "$BATS_TEST_TMPDIR/d$i.zip" "$BATS_TEST_TMPDIR/v1.zip" ||
            cmp "$BATS_TEST_TMPDIR/d$i.zip" "$BATS_TEST_TMPDIR/v2.zip"
    done
}

@test "--seed takes archives past the upload limits; big ones are served whole and per file" {
    seed=$BATS_TEST_TMPDIR/seed
    mkdir -p "$seed/big"
    echo '{"name":"big"}' >"$seed/big/big.qext"
    head -c 32000000 /dev/urandom >"$seed/big/data.bin"
    tenant_start --seed "$seed" --ranges
    curl -sS --fail -o "$BATS_TEST_TMPDIR/a.zip" "$TENANT_URL/api/v1/extensions/big/file"
    [ "$(stat -c %s "$BATS_TEST_TMPDIR/a.zip")" -gt 31457280 ]
    unzip -p "$BATS_TEST_TMPDIR/a.zip" data.bin | cmp - "$seed/big/data.bin"
    curl -sS --fail -o "$BATS_TEST_TMPDIR/d.bin" "$TENANT_URL/api/v1/extensions/big/file/data.bin"
    cmp "$BATS_TEST_TMPDIR/d.bin" "$seed/big/data.bin"
    curl -sS --fail -o "$BATS_TEST_TMPDIR/r.bin" -H 'Range: bytes=30000000-30999999' \
        "$TENANT_URL/api/v1/extensions/big/file/data.bin"
    cmp "$BATS_TEST_TMPDIR/r.bin" <(tail -c +30000001 "$seed/big/data.bin" | head -c 1000000)
    # the same archive through the API is too large
    [ "$(api_code POST "" -F "file=@$BATS_TEST_TMPDIR/a.zip")" = 413 ]
}

@test "--client: POST /oauth/token trades client credentials for a bearer token that expires" {
    tenant_start --generate 2 --client cid:s3cret --token-life 2
    body='{"client_id":"cid","client_secret":"s3cret","grant_type":"client_credentials"}'
    tok=$(curl -sS -X POST -H 'Content-Type: application/json' -d "$body" "$TENANT_URL/oauth/token" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["expires_in"]==2; print(d["access_token"])')
    [ -n "$tok" ]
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$TENANT_URL/api/v1/extensions")
    [ "$code" = 200 ]
    code=$(curl -s -o /dev/null -w '%{http_code}' "$TENANT_URL/api/v1/extensions")
    [ "$code" = 401 ]
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"client_id":"cid","client_secret":"no","grant_type":"client_credentials"}' "$TENANT_URL/oauth/token")
    [ "$code" = 401 ]
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"client_id":"cid","client_secret":"s3cret","grant_type":"password"}' "$TENANT_URL/oauth/token")
    [ "$code" = 400 ]
    sleep 2.2
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$TENANT_URL/api/v1/extensions")
    [ "$code" = 401 ]
    [ "$(tenant_stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["oauth_tokens"])')" -eq 3 ]
}
