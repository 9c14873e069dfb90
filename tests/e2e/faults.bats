#!/usr/bin/env bats
# Faults on a real mount: a hanging tenant, a full staging disk, the tenant dying in the
# middle of an upload, qextfs killed in a burst of saves, and who may see the mount. Each
# ends by checking what the tenant holds.
load ../lib/tenant
load ../lib/mount

setup() {
    MNT= STATE= QEXTFS_LOG=
    SEED=$BATS_TEST_TMPDIR/seed
    mkdir -p "$SEED/alpha" "$SEED/beta"
    echo '{"name":"Alpha"}' >"$SEED/alpha/alpha.qext"
    echo 'alpha one' >"$SEED/alpha/alpha.js"
    echo '{"name":"Beta"}' >"$SEED/beta/beta.qext"
    echo 'beta one' >"$SEED/beta/beta.js"
}

teardown() {
    mount_stop
    tenant_stop
    if [ -n "${TMPFS:-}" ]; then umount "$TMPFS" 2>/dev/null || umount -l "$TMPFS"; fi
}


@test "a hanging tenant: requests fail within timeout, the mount stays usable, unmount works" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    TIMEOUT=2 mount_start -o list_ttl=1
    cat "$MNT/alpha/alpha.js" >/dev/null
    tenant_fault hang=1
    start=$SECONDS
    run timeout 60 cat "$MNT/beta/beta.js"
    echo "$output ($((SECONDS - start)) s)"
    [ "$status" -ne 0 ]
    [ $((SECONDS - start)) -lt 45 ]
    # what was cached still reads, and the tenant coming back heals the rest
    [ "$(cat "$MNT/alpha/alpha.js")" = 'alpha one' ]
    tenant_fault hang=0
    wait_for cat "$MNT/beta/beta.js"
    [ "$(cat "$MNT/beta/beta.js")" = 'beta one' ]
}

@test "unmount works while the tenant hangs, and the change survives for the next mount" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY" --state "$BATS_TEST_TMPDIR/tstate"
    TIMEOUT=2 UPLOAD_DELAY=60 mount_start
    echo 'written while it hangs' >"$MNT/alpha/alpha.js"
    tenant_fault hang=1
    timeout 120 bash -c "fusermount3 -u '$MNT'; while kill -0 $QEXTFS_PID 2>/dev/null; do sleep 0.2; done"
    QEXTFS_PID=
    grep -q "will be uploaded at the next mount" "$QEXTFS_LOG"
    tenant_fault hang=0
    QEXTFS_LOG=$BATS_TEST_TMPDIR/second.log MNT= mount_start
    mount_stop
    tenant_unpack alpha "$BATS_TEST_TMPDIR/a"
    [ "$(cat "$BATS_TEST_TMPDIR/a/alpha.js")" = 'written while it hangs' ]
}

@test "a full staging disk gives ENOSPC and keeps what was staged" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    TMPFS=$BATS_TEST_TMPDIR/small
    mkdir -p "$TMPFS"
    mount -t tmpfs -o size=1m tmpfs "$TMPFS"
    STATE=$TMPFS/state UPLOAD_DELAY=60 mount_start
    echo 'small change' >"$MNT/alpha/alpha.js"
    run dd if=/dev/zero of="$MNT/alpha/big.bin" bs=64k count=64
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"No space left on device"* ]]
    [ "$(cat "$MNT/alpha/alpha.js")" = 'small change' ]
    rm -f "$MNT/alpha/big.bin"
    mount_stop
    tenant_unpack alpha "$BATS_TEST_TMPDIR/a"
    [ "$(cat "$BATS_TEST_TMPDIR/a/alpha.js")" = 'small change' ]
}

@test "the tenant killed in the middle of a PATCH and restarted: the upload completes once" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY" --state "$BATS_TEST_TMPDIR/tstate"
    port=${TENANT_URL##*:}
    mount_start
    ls "$MNT/alpha" >/dev/null
    tenant_fault latency_ms=3000
    echo 'through a tenant crash' >"$MNT/alpha/alpha.js"
    sleep 1.5 # the upload is now waiting for the tenant's answer
    kill -9 "$TENANT_PID"
    wait "$TENANT_PID" 2>/dev/null || true
    TENANT_PID=
    tenant_start --api-key "$TEST_KEY" --state "$BATS_TEST_TMPDIR/tstate" --port "$port"
    mount_stop
    tenant_unpack alpha "$BATS_TEST_TMPDIR/a"
    [ "$(cat "$BATS_TEST_TMPDIR/a/alpha.js")" = 'through a tenant crash' ]
    n=$(tenant_curl "$TENANT_URL/api/v1/extensions" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
    [ "$n" -eq 2 ]
}

@test "qextfs killed in a burst of saves: every completed save reaches the tenant, nothing torn" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    UPLOAD_DELAY=0.2 mount_start
    ls "$MNT/alpha" >/dev/null
    # rsync-style saves: write ".alpha.js.XXXXXX", then rename it over the file. A kill leaves
    # that temporary behind most of the time; its name marks it local-only, so it must never
    # reach the tenant (a file with an ordinary name left by a crash is the user's, as on a
    # local disk, and is uploaded).
    tmp="$MNT/alpha/.alpha.js.Q7xK2p"
    (
        for i in $(seq 1 400); do
            head -c 20000 /dev/zero | tr '\0' "$(printf '\\%03o' $((65 + i % 26)))" >"$tmp" || exit 0
            echo " save $i" >>"$tmp" || exit 0
            mv "$tmp" "$MNT/alpha/alpha.js" || exit 0
            echo "$i" >"$BATS_TEST_TMPDIR/last-save"
        done
    ) &
    saver=$!
    sleep 2
    mount_kill
    wait "$saver" || true
    last=$(cat "$BATS_TEST_TMPDIR/last-save")
    echo "last completed save: $last"
    QEXTFS_LOG=$BATS_TEST_TMPDIR/second.log MNT= mount_start
    mount_stop
    tenant_unpack alpha "$BATS_TEST_TMPDIR/a"
    got=$(cat "$BATS_TEST_TMPDIR/a/alpha.js")
    # the content is one whole save: 20000 identical letters then " save N", N >= last
    [ "$(printf '%s' "$got" | head -c 20000 | tr -d "${got:0:1}" | wc -c)" -eq 0 ]
    n=${got##* save }
    echo "tenant holds save $n"
    [ "$n" -ge "$last" ]
    [ ! -e "$BATS_TEST_TMPDIR/a/.alpha.js.Q7xK2p" ]
    [ "$(ls -A "$BATS_TEST_TMPDIR/a" | sort | tr '\n' ' ')" = "alpha.js alpha.qext " ]
}

@test "the mount is private to its user and files carry the user's ids" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mount_start
    [ "$(stat -c %u:%g "$MNT/alpha/alpha.js")" = "$(id -u):$(id -g)" ]
    run su nobody -s /bin/sh -c "ls '$MNT'"
    [ "$status" -ne 0 ]
    grep -q "default_permissions" /proc/mounts || grep "$MNT" /proc/mounts
}

# The live extensions named NAME in the tenant's list.
live_count() {
    tenant_curl "$TENANT_URL/api/v1/extensions" |
        python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["data"] if e.get("qextFilename") == sys.argv[1]))' "$1"
}

@test "a create whose answer is cut: the retried POST's 409 adopts it, one extension, edits PATCH it" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mount_start -o list_ttl=1000
    ls "$MNT" >/dev/null
    new=$BATS_TEST_TMPDIR/gamma
    mkdir -p "$new/lib"
    echo '{"name":"Gamma"}' >"$new/gamma.qext"
    echo 'gamma();' >"$new/gamma.js"
    echo 'lib' >"$new/lib/l.js"
    tenant_reset_stats
    # Every second body is cut: our own list read takes the first, so the POST's 201 is the
    # second and is lost after the service stored the extension.
    tenant_fault drop_every=2
    tenant_curl -o /dev/null "$TENANT_URL/api/v1/extensions"
    cp -r "$new" "$MNT/"
    wait_for bash -c "[ \$(curl -s '$TENANT_URL/__fake/stats' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"by_route\"].get(\"GET /extensions/{id}/file\", 0))') -ge 1 ]"
    echo "$(tenant_stats)"
    [ "$(tenant_count "POST /extensions")" -eq 2 ]
    tenant_fault drop_every=0
    echo 'gamma edited' >"$MNT/gamma/gamma.js"
    [ "$(fsync_file "$MNT/gamma/gamma.js")" = OK ]
    mount_stop
    cat "$QEXTFS_LOG"
    grep -q "created by an earlier attempt whose answer was lost" "$QEXTFS_LOG"
    [ "$(tenant_count "POST /extensions")" -eq 2 ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 1 ]
    [ "$(live_count gamma)" -eq 1 ]
    tenant_unpack gamma "$BATS_TEST_TMPDIR/g"
    [ "$(cat "$BATS_TEST_TMPDIR/g/gamma.js")" = 'gamma edited' ]
    [ "$(cat "$BATS_TEST_TMPDIR/g/lib/l.js")" = 'lib' ]
}

@test "killed between a create and recording it: the next mount adopts the extension, no 409 loop" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mount_start
    new=$BATS_TEST_TMPDIR/gamma
    mkdir -p "$new"
    echo '{"name":"Gamma"}' >"$new/gamma.qext"
    echo 'gamma();' >"$new/gamma.js"
    cp -r "$new" "$MNT/"
    [ "$(fsync_file "$MNT/gamma/gamma.js")" = OK ]
    mount_kill
    # what a kill -9 right after the POST leaves: the extension still marked new and dirty
    echo '{"name":"gamma","is_new":true,"dirty":true}' >"$STATE/ext/gamma/meta.json"
    tenant_reset_stats
    QEXTFS_LOG=$BATS_TEST_TMPDIR/second.log MNT= mount_start
    wait_for grep -q "created by an earlier attempt whose answer was lost" "$QEXTFS_LOG"
    echo 'after remount' >"$MNT/gamma/gamma.js"
    [ "$(fsync_file "$MNT/gamma/gamma.js")" = OK ]
    mount_stop
    [ "$(tenant_count "POST /extensions")" -eq 1 ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 1 ]
    [ "$(live_count gamma)" -eq 1 ]
    tenant_unpack gamma "$BATS_TEST_TMPDIR/g"
    [ "$(cat "$BATS_TEST_TMPDIR/g/gamma.js")" = 'after remount' ]
}

@test "a new folder whose name is taken by a different extension: 409 stays a clash (EIO, xattr)" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mount_start
    mkdir "$MNT/other"
    echo '{"name":"Not alpha"}' >"$MNT/other/alpha.qext"
    [ "$(fsync_file "$MNT/other/alpha.qext")" = "Input/output error" ]
    run getfattr --only-values -n user.qextfs.error "$MNT/other"
    echo "$output"
    [[ "$output" == *409* ]]
    [ "$(live_count alpha)" -eq 1 ]
    tenant_unpack alpha "$BATS_TEST_TMPDIR/a"
    [ "$(cat "$BATS_TEST_TMPDIR/a/alpha.js")" = 'alpha one' ]
}

@test "answers lost after the service acted: a retried PATCH stores the same bytes, a retried DELETE's 410 is done" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mount_start
    ls "$MNT/alpha" "$MNT/beta" >/dev/null
    tenant_reset_stats
    # The service stores the edit, then the connection closes before its 200 arrives.
    tenant_fault lose_writes=1
    echo 'alpha two' >"$MNT/alpha/alpha.js"
    [ "$(fsync_file "$MNT/alpha/alpha.js")" = OK ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 2 ]
    run getfattr --only-values -n user.qextfs.error "$MNT/alpha"
    [ "$status" -ne 0 ]
    # The service deletes, then its 204 is lost: the retry is answered 410 (already gone),
    # which is the goal of rm -r, so rm succeeds and the trash keeps the archive.
    tenant_fault lose_writes=1
    rm -r "$MNT/beta"
    [ ! -e "$MNT/beta" ]
    [ "$(tenant_count "DELETE /extensions/{id}")" -eq 2 ]
    tenant_stats | python3 -c 'import json,sys; assert json.load(sys.stdin)["faults"]["lost"] == 2'
    mount_stop
    grep -q "beta: already deleted on the service (410" "$QEXTFS_LOG"
    ! grep -q "delete failed\|upload failed" "$QEXTFS_LOG"
    ls "$STATE"/trash/beta-*.zip
    [ "$(api_code GET /beta)" = 410 ]
    tenant_unpack alpha "$BATS_TEST_TMPDIR/a"
    [ "$(cat "$BATS_TEST_TMPDIR/a/alpha.js")" = 'alpha two' ]
    [ "$(live_count alpha)" -eq 1 ]
}

@test "rm -r under cut answers and 503s: one goal, the extension is gone (410), no error" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY" --drop-every 2 --fail-every 3
    mount_start
    ls "$MNT/beta" >/dev/null
    rm -r "$MNT/beta"
    [ ! -e "$MNT/beta" ]
    mount_stop
    [ "$(api_code GET /beta)" = 410 ]
    ! grep -q "delete failed" "$QEXTFS_LOG"
}
