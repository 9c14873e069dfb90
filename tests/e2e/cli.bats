#!/usr/bin/env bats
# The command line of issue #3: --version, -s, the -o options with their defaults and
# refusals (exit 2 and a message), and standard FUSE options passed through.
load ../lib/tenant
load ../lib/mount

setup() {
    MNT= STATE= QEXTFS_LOG=
    BADMNT=$BATS_TEST_TMPDIR/bad
    mkdir -p "$BADMNT"
}

teardown() {
    mount_stop
    tenant_stop
}

# capacity: the mount's block cache size in bytes (qextfs status --json).
capacity() {
    "$QEXTFS_BIN" status "$MNT" --json | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["cache"]["capacity"]))'
}

# refused OPT: mounting with -o OPT exits 2 with a message, and mounts nothing.
refused() {
    run env QLIK_API_KEY=k "$QEXTFS_BIN" --tenant http://127.0.0.1:1 -f -o "$1" "$BADMNT"
    echo "$1: status $status: $output"
    [ "$status" -eq 2 ]
    [ -n "$output" ]
    ! mountpoint -q "$BADMNT"
}

@test "--version prints a version and exits 0" {
    run "$QEXTFS_BIN" --version
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^qextfs\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

@test "--help shows the defaults: list_ttl 10, cache_size 256M, block_size 128K, max_conns 8" {
    run "$QEXTFS_BIN" --help
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"list_ttl=SECONDS"*"(10)"* ]]
    [[ "$output" == *"cache_size=SIZE"*"(256M)"* ]]
    [[ "$output" == *"block_size=SIZE"*"(128K)"* ]]
    [[ "$output" == *"max_conns=N"*"(8)"* ]]
}

@test "the default cache_size is 256M" {
    tenant_start --generate 1 --api-key "$TEST_KEY"
    mount_start
    [ "$(capacity)" -eq $((256 << 20)) ]
}

@test "-s mounts single-threaded and reads correctly" {
    tenant_start --generate 3 --api-key "$TEST_KEY"
    mount_start -s
    mkdir -p "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/ref"
    cp -r "$MNT/." "$BATS_TEST_TMPDIR/out/"
    for d in "$BATS_TEST_TMPDIR"/out/*/; do
        n=$(basename "$d")
        tenant_unpack "$n" "$BATS_TEST_TMPDIR/ref/$n"
    done
    diff -r "$BATS_TEST_TMPDIR/ref" "$BATS_TEST_TMPDIR/out"
}

@test "max_conns=N is accepted; 0, 65 and a non-number are refused" {
    tenant_start --generate 2 --api-key "$TEST_KEY"
    mount_start -o max_conns=2
    n=$(ls "$MNT" | head -1)
    cat "$MNT/$n/$n.qext" >/dev/null
    refused max_conns=0
    refused max_conns=65
    refused max_conns=abc
}

@test "cache_size takes K, M and G suffixes; a bad one is refused" {
    tenant_start --generate 1 --api-key "$TEST_KEY"
    for spec in 2048K:$((2 << 20)) 64M:$((64 << 20)) 1G:$((1 << 30)); do
        mount_start -o cache_size="${spec%%:*}"
        [ "$(capacity)" -eq "${spec#*:}" ]
        mount_stop
        MNT= STATE= QEXTFS_LOG= QEXTFS_PID=
    done
    refused cache_size=12X
    refused cache_size=lots
    refused cache_size=512K # under the 1M minimum
}

@test "disk_cache defaults to 1G, takes a size, and refuses a bad one" {
    tenant_start --generate 1 --api-key "$TEST_KEY"
    mount_start
    "$QEXTFS_BIN" status "$MNT" --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["archives"]["limit"] == 1 << 30'
    mount_stop
    MNT= STATE= QEXTFS_LOG= QEXTFS_PID=
    mount_start -o disk_cache=300M
    "$QEXTFS_BIN" status "$MNT" --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["archives"]["limit"] == 300 << 20'
    refused disk_cache=12X
    refused disk_cache=0
    refused disk_cache=512K
}

@test "a standard FUSE option passes through: -o ro" {
    tenant_start --generate 1 --api-key "$TEST_KEY"
    mount_start -o ro
    awk -v m="$MNT" '$2 == m {print $4}' /proc/mounts | tr ',' '\n' | grep -qx ro
    n=$(ls "$MNT" | head -1)
    cat "$MNT/$n/$n.qext" >/dev/null
    run bash -c "echo x >'$MNT/$n/new.js'"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Read-only file system"* ]]
}
