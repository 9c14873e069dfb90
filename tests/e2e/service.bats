#!/usr/bin/env bats
# The service misbehaving as a whole, and the bundled demo: a tenant that answers the
# extension list with something that is not a list (--bad-list) must give a clear error and
# a log line that says what was wrong, never a crash, and the mount must recover once the
# tenant does. `make demo` must work as the README says, checked by its --check mode.
load ../lib/tenant
load ../lib/mount

setup() {
    MNT= STATE= QEXTFS_LOG=
}

teardown() {
    mount_stop
    tenant_stop
}

# bad_list MODE WHY: ls fails while the list is malformed, the log names WHY, and once the
# tenant is fixed the same daemon lists everything and unmounts cleanly.
bad_list() {
    local mode=$1 why=$2
    tenant_start --generate 3 --api-key "$TEST_KEY" --bad-list "$mode"
    mount_start
    run ls "$MNT"
    [ "$status" -ne 0 ]
    # DESIGN's error table: what no caller can act on reaches the syscall as EIO; the log
    # line says what was wrong.
    [[ "$output" == *"Input/output error"* ]]
    grep -q "listing extensions.*$why" "$QEXTFS_LOG"
    kill -0 "$QEXTFS_PID"
    # a malformed body is not a transient failure: no retry storm
    n=$(tenant_count "GET /extensions")
    [ "$n" -ge 1 ]
    [ "$n" -le 3 ]
    tenant_fault bad_list=off
    tenant_names >"$BATS_TEST_TMPDIR/want"
    [ "$(wc -l <"$BATS_TEST_TMPDIR/want")" = 3 ]
    ls -1 "$MNT" | sort | diff "$BATS_TEST_TMPDIR/want" -
    [ "$(tenant_count "GET /extensions")" -ge $((n + 1)) ]
    mount_stop
    [ "$MOUNT_STATUS" -eq 0 ]
}

@test "a truncated extension list: ls fails clearly, the log says invalid JSON, then recovers" {
    bad_list truncated "invalid JSON"
}

@test "an HTML page instead of the list: ls fails clearly, the log says invalid JSON, then recovers" {
    bad_list notjson "invalid JSON near byte 0"
}

@test "a list without data: ls fails clearly, the log says there is no data array, then recovers" {
    bad_list nodata "no data array"
}

@test "a list nested 100000 deep: ls fails clearly, the log says nested too deeply, then recovers" {
    bad_list deep "nested too deeply"
}

@test "make demo DEMO_ARGS=--check: mounts the bundled tenant, ls, cp -r and rsync -a equal the archives" {
    mnt=$BATS_TEST_TMPDIR/demo-mnt
    run env DEMO_MNT="$mnt" make --no-print-directory -C "$MOUNT_LIB_ROOT" demo DEMO_ARGS=--check
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"demo: ls: 12 extensions"* ]]
    [[ "$output" == *"demo: cp -r: every file equals the tenant's archives"* ]]
    [[ "$output" == *"demo: rsync -a: every file equals the tenant's archives"* ]]
    [[ "$output" == *"demo: check ok"* ]]
    ! mountpoint -q "$mnt"
    # both copies cost one archive request per extension, and nothing failed
    stats=$(echo "$output" | sed -n 's/^demo: tenant requests: //p')
    echo "$stats" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["by_route"]["GET /extensions/{id}/file"] == 12, d
assert set(d["by_status"]) == {"200"}, d
'
}
