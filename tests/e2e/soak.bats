#!/usr/bin/env bats
# Soak: 4 writers and 4 readers on 6 extensions for SOAK_SECONDS (15 in make check, 60 in
# make stress) while the tenant fails every 7th request, drops every 11th mid-body, adds
# 20 ms to each and rate-limits writes. Afterwards every extension's archive must equal a
# local mirror that received the same operations, no process may see an error other than
# EIO from fsync, and the daemon's RSS must stay bounded. The run's figures (operations,
# faults injected, uploads, bytes compared and lost) go to the test logs (figures.bash).
load ../lib/tenant
load ../lib/mount
load ../lib/figures

teardown() {
    mount_stop
    tenant_stop
}

@test "soak: writers and readers under faults end with archives equal to the mirror" {
    seed=$BATS_TEST_TMPDIR/seed
    mirror=$BATS_TEST_TMPDIR/mirror
    for i in 1 2 3 4 5 6; do
        mkdir -p "$seed/soak$i/lib"
        echo "{\"name\":\"soak $i\"}" >"$seed/soak$i/soak$i.qext"
        for f in a b c; do head -c $((3000 * i)) /dev/urandom | base64 >"$seed/soak$i/lib/$f.js"; done
    done
    cp -r "$seed" "$mirror"
    tenant_start --seed "$seed" --api-key "$TEST_KEY" --fail-every 7 --drop-every 11 \
        --latency-ms 20 --rate-limit --tier2 120 --rate-window 60
    UPLOAD_DELAY=0.5 mount_start -o cache_size=4M
    secs=${SOAK_SECONDS:-15}
    end=$((SECONDS + secs))
    errs=$BATS_TEST_TMPDIR/errors
    counts=$BATS_TEST_TMPDIR/op-counts # one line per worker: the operations it made
    : >"$errs"
    : >"$counts"
    pids=()
    for w in 1 2 3 4; do
        (
            n=0
            while [ $SECONDS -lt $end ]; do
                n=$((n + 1))
                e=soak$(( (n + w) % 6 + 1 ))
                f="w$w-$((n % 5)).js"
                printf 'writer %s op %s %s\n' "$w" "$n" "$RANDOM" >"$mirror/$e/$f.new"
                if ! cp "$mirror/$e/$f.new" "$MNT/$e/$f" 2>>"$errs"; then
                    echo "writer $w: cp failed" >>"$errs"
                fi
                mv "$mirror/$e/$f.new" "$mirror/$e/$f"
                if [ $((n % 7)) -eq 0 ]; then
                    r=$(fsync_file "$MNT/$e/$f")
                    case $r in OK | "Input/output error") ;; *) echo "writer $w: fsync: $r" >>"$errs" ;; esac
                fi
            done
            echo $((n + n / 7)) >>"$counts" # writes, and every 7th an fsync
        ) &
        pids+=($!)
    done
    for r in 1 2 3 4; do
        (
            n=0
            while [ $SECONDS -lt $end ]; do
                n=$((n + 1))
                e=soak$(( (n + r) % 6 + 1 ))
                for f in a b c; do
                    cmp -s "$MNT/$e/lib/$f.js" "$seed/$e/lib/$f.js" || echo "reader $r: $e/lib/$f.js differs" >>"$errs"
                done
            done
            echo $((n * 3)) >>"$counts" # whole-file reads compared with the seed
        ) &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$QEXTFS_PID/status")
    echo "peak RSS ${hwm} kB"
    tenant_fault fail_every=0 drop_every=0 latency_ms=0
    mount_stop
    for i in 1 2 3 4 5 6; do
        tenant_unpack "soak$i" "$BATS_TEST_TMPDIR/got/soak$i"
    done
    # The figures first, so a failing run leaves them too.
    read -r compared lost extra < <(figures_compare "$mirror" "$BATS_TEST_TMPDIR/got")
    figures_record soak seconds="$secs" ops="$(awk '{s += $1} END {print s + 0}' "$counts")" \
        uploads="$(figures_uploads "$QEXTFS_LOG")" bytes_compared="$compared" \
        bytes_lost="$lost" bytes_extra="$extra" errors="$(wc -l <"$errs")" peak_rss_kb="$hwm"
    cat "$errs"
    [ ! -s "$errs" ]
    for i in 1 2 3 4 5 6; do
        diff -r "$mirror/soak$i" "$BATS_TEST_TMPDIR/got/soak$i"
    done
    [ "$lost" -eq 0 ]
    [ "$extra" -eq 0 ]
    if [[ "$QEXTFS_BIN" != */asan/* ]]; then
        [ "$hwm" -lt 200000 ]
    fi
}
