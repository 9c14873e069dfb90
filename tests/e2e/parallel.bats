#!/usr/bin/env bats
# Concurrency on a real mount: parallel readers of different files, with the block cache
# smaller than the data so eviction and refills race. Under the ASan build (suite e2e-asan)
# the log must hold no sanitizer report.
load ../lib/tenant
load ../lib/mount

teardown() {
    mount_stop
    tenant_stop
}

@test "8 parallel readers of different files: every read correct, no sanitizer report" {
    tenant_start --generate 16 --api-key "$TEST_KEY"
    mount_start -o cache_size=2M,block_size=64K
    ref=$BATS_TEST_TMPDIR/ref
    mkdir -p "$ref"
    for d in "$MNT"/*/; do
        n=$(basename "$d")
        tenant_unpack "$n" "$ref/$n"
    done
    mapfile -t files < <(cd "$ref" && find . -type f | sort)
    secs=${READERS_SECONDS:-10}
    end=$((SECONDS + secs))
    pids=()
    for r in $(seq 0 7); do
        (
            i=$r
            while [ $SECONDS -lt $end ]; do
                f=${files[$((i % ${#files[@]}))]}
                cmp -s "$MNT/$f" "$ref/$f" || { echo "mismatch: $f"; exit 1; }
                i=$((i + 8))
            done
        ) &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    mount_stop
    ! grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$QEXTFS_LOG"
}
