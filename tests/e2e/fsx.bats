#!/usr/bin/env bats
# fsx on a real mount: build/tools/fsx (tests/tools/fsx.c) runs thousands of seeded random
# writes, reads, truncates, renames, unlinks, creates, stats, fsyncs and reopens against an
# extension directory and a local mirror, with pauses for uploads in between; every result
# must match the mirror, and after unmount the tenant's archive must hold exactly the mirror
# plus the .qext. On failure the output holds the seed, what differed and the op log. Each
# round's figures (operations, faults injected, uploads, bytes compared and lost) go to the
# test logs (figures.bash).
load ../lib/tenant
load ../lib/mount
load ../lib/figures

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
FSX=${FSX_BIN:-$ROOT/build/tools/fsx}

setup() {
    MNT= STATE= QEXTFS_LOG=
    SEED=$BATS_TEST_TMPDIR/seed
    MIRROR=$BATS_TEST_TMPDIR/mirror
    mkdir -p "$SEED/fsxext" "$MIRROR"
    echo '{"name":"fsx"}' >"$SEED/fsxext/fsxext.qext"
}

teardown() {
    mount_stop
    tenant_stop
}

# fsx_round PRNG-SEED [fake-tenant args...]: mount, run fsx, unmount, compare the archive.
fsx_round() {
    local seed=$1 ops=${FSX_OPS:-3000}
    shift
    tenant_start --seed "$SEED" --api-key "$TEST_KEY" "$@"
    mount_start
    run "$FSX" -n "$ops" -S "$seed" -P -y "$MNT/fsxext" "$MIRROR"
    echo "$output"
    local fsx_status=$status fsx_output=$output
    mount_stop
    local want=$BATS_TEST_TMPDIR/want got=$BATS_TEST_TMPDIR/got compared lost extra
    cp -r "$MIRROR" "$want"
    cp "$SEED/fsxext/fsxext.qext" "$want/"
    tenant_unpack fsxext "$got"
    # The figures first, so a failing round leaves them too; fsx's own line has what it did.
    read -r compared lost extra < <(figures_compare "$want" "$got")
    local f=${fsx_output##*fsx: figures }
    [[ "$fsx_output" == *"fsx: figures "* ]] || f="ops=0"
    # shellcheck disable=SC2086 # f is "ops=N bytes_written=N bytes_compared=N"
    figures_record fsx seed="$seed" ${f//bytes_compared=/bytes_read_checked=} \
        uploads="$(figures_uploads "$QEXTFS_LOG")" bytes_compared="$compared" \
        bytes_lost="$lost" bytes_extra="$extra" status="$fsx_status"
    [ "$fsx_status" -eq 0 ]
    [[ "$fsx_output" == *"fsx: $ops ops, seed $seed, ok"* ]]
    diff -r "$want" "$got"
    [ "$lost" -eq 0 ] && [ "$extra" -eq 0 ]
}

@test "fsx: 3000 random ops with uploads in between match a local mirror (seed 42)" {
    fsx_round 42
}

@test "fsx: 3000 random ops match a local mirror despite --fail-every 7 --drop-every 11 (seed 4242)" {
    fsx_round 4242 --fail-every 7 --drop-every 11
}
