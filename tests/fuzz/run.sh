#!/usr/bin/env bash
# run.sh: owns running the libFuzzer targets for `make fuzz`:
#   tests/fuzz/run.sh BUILD_FUZZ_DIR SECONDS TARGET...
# Each target runs SECONDS on a copy of tests/fuzz/corpus/<target>/ in DIR/corpus-<target>/
# (new finds accumulate there), with its log in DIR/fuzz-<target>.log and any crash, leak or
# timeout input in DIR/artifacts-<target>/. Prints a summary per target and how to keep what
# was found; exits non-zero when a target failed. FUZZ_MAX_LEN (default 32768) bounds input
# sizes; FUZZ_FLAGS adds libFuzzer options (e.g. FUZZ_FLAGS=-seed=1).
set -uo pipefail
dir=$1 secs=$2
shift 2
seeds_root=$(cd "$(dirname "$0")" && pwd)/corpus
failed=()

for t in "$@"; do
    bin=$dir/fuzz_$t corpus=$dir/corpus-$t art=$dir/artifacts-$t log=$dir/fuzz-$t.log
    mkdir -p "$corpus" "$art"
    cp -p "$seeds_root/$t"/* "$corpus"/ 2>/dev/null
    echo "fuzz: $t: ${secs}s on $(find "$corpus" -type f | wc -l) inputs (log: $log)"
    # A smaller ASan quarantine keeps the 512 MB limit for the target's own memory. Inputs
    # stay under FUZZ_MAX_LEN: the few larger seeds (1000 entries, deep names) cost up to a
    # second a run; the fuzzer sees their first FUZZ_MAX_LEN bytes, the replay all of them.
    ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64} UBSAN_OPTIONS=print_stacktrace=1 \
        "$bin" -max_total_time="$secs" -rss_limit_mb=512 -max_len="${FUZZ_MAX_LEN:-32768}" \
        -timeout=25 -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$art/" \
        ${FUZZ_FLAGS:-} "$corpus" >"$log" 2>&1
    rc=$?
    new=$(comm -23 <(ls "$corpus" | sort) <(ls "$seeds_root/$t" | sort) | wc -l)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -1)
    echo "fuzz: $t: ${done_line:-no stats} ($new inputs beyond the seeds in $corpus)"
    if [ "$rc" -ne 0 ]; then
        failed+=("$t")
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*check failed|artifact_prefix)' "$log" |
            head -8 | sed 's/^/    /'
        echo "    keep it as a regression seed: cp $art/<file> tests/fuzz/corpus/$t/"
    fi
done

echo "fuzz: to add new finds to the checked-in seeds (only those adding coverage):"
echo "    $dir/fuzz_<target> -merge=1 tests/fuzz/corpus/<target> $dir/corpus-<target>"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (see $dir/fuzz-<target>.log)"
    exit 1
fi
echo "fuzz: no crashes"
