#!/usr/bin/env bash
# Runs every test suite of qextfs and ends with the line "N passed, N failed".
#   unit        cmocka programs in build/tests (TAP output)
#   unit-asan   the same built with -fsanitize=address,undefined (build/asan/tests)
#   valgrind    the unit programs under valgrind --leak-check=full --error-exitcode=99
#   tsan        the concurrent unit programs (block cache, scheduler, http) under TSan
#   fake-tenant bats suites under tests/fake-tenant/ against build/fake-tenant
#   e2e         bats suites under tests/e2e/ mounting build/qextfs for real
#   e2e-asan    the e2e suites again against the ASan+UBSan build (build/asan/qextfs), with
#               30 s of parallel readers; any sanitizer report in the daemon's log fails
# Before the suites it installs missing dependencies and builds what the selected suites need
# (make tests, asan, tsan, fuzz-replay-build), one test per step: a failed build is counted
# as a failure and its suites are not run. Then `make -q` of those targets must find nothing
# to do (a second make check rebuilds nothing), one more test.
# Select suites with CHECK_SUITES="unit e2e"; pass bats filters with BATS_FILTER=regex.
# The soak and fsx tests leave their reliability figures in build/test-logs/figures-<suite>.jsonl
# (tests/lib/figures.bash); a line before the last sums them up:
#   check: reliability: soak 1234 ops, 56 faults injected, 78 uploads, 258016 bytes compared,
#   0 bytes lost; fsx ...
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
SUITES=${CHECK_SUITES:-"unit unit-asan valgrind tsan fuzz fake-tenant e2e e2e-asan"}
LOGDIR=$ROOT/build/test-logs
mkdir -p "$LOGDIR"
passed=0
failed=0
skipped=0

# Counts TAP lines in a log; a program that died without a plan line counts one failure.
count_tap() {
    local log=$1 rc=$2 ok nok
    local skip
    skip=$(grep -cE '^ok .*# (skip|SKIP)' "$log")
    ok=$(( $(grep -cE '^ok ' "$log") - skip ))
    nok=$(grep -cE '^not ok ' "$log")
    skipped=$((skipped + skip))
    if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
        nok=1
        echo "not ok - $(basename "$log") exited with status $rc" >>"$log"
    fi
    passed=$((passed + ok))
    failed=$((failed + nok))
    grep -E '^not ok ' "$log" | sed "s|^|    $(basename "$log" .log): |"
}

run_unit() { # dir label [wrapper...]
    local dir=$1 label=$2
    shift 2
    for t in "$dir"/test_*; do
        [ -x "$t" ] || continue
        local log
        log="$LOGDIR/$label-$(basename "$t").log"
        CMOCKA_MESSAGE_OUTPUT=TAP "$@" "$t" >"$log" 2>&1
        count_tap "$log" $?
    done
}

run_bats() { # label dir [env...]
    local label=$1 dir=$2
    shift 2
    local files=("$dir"/*.bats)
    [ -e "${files[0]}" ] || return 0
    rm -f "$LOGDIR/figures-$label.jsonl" # figures of this run only
    for f in "${files[@]}"; do
        local log
        log="$LOGDIR/$label-$(basename "$f" .bats).log"
        env QEXTFS_FIGURES="$LOGDIR/figures-$label.jsonl" "$@" \
            bats --tap ${BATS_FILTER:+--filter "$BATS_FILTER"} "$f" >"$log" 2>&1
        count_tap "$log" $?
    done
}

# Prints the reliability summary of one suite's figures file (see the top), per test the sums
# over its records (fsx leaves one per round); nothing when none were left. Suites other than
# e2e are named: "check: reliability (e2e-asan): ...".
reliability_line() { # label figures-file
    [ -s "$2" ] || return 0
    python3 - "$1" "$2" <<'PY'
import json, sys

label, path = sys.argv[1], sys.argv[2]
tests = {}
for line in open(path):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    t = tests.setdefault(r.get("test", "?"), {"runs": 0})
    t["runs"] += 1
    for k in ("ops", "faults", "uploads", "bytes_compared", "bytes_lost"):
        t[k] = t.get(k, 0) + int(r.get(k, 0))
parts = []
order = ["soak", "fsx"]
for name, t in sorted(tests.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 9):
    runs = " in %d runs" % t["runs"] if t["runs"] > 1 else ""
    parts.append("%s %d ops%s, %d faults injected, %d uploads, %d bytes compared, %d bytes lost"
                 % (name, t["ops"], runs, t["faults"], t["uploads"], t["bytes_compared"],
                    t["bytes_lost"]))
suffix = "" if label == "e2e" else " (%s)" % label
print("check: reliability%s: %s" % (suffix, "; ".join(parts)))
PY
}

MAKE=${MAKE:-make}

# The make target each suite needs built.
build_of() {
    case $1 in
    unit | valgrind | fake-tenant | e2e) echo tests ;;
    unit-asan | e2e-asan) echo asan ;;
    tsan) echo tsan ;;
    fuzz) echo fuzz-replay-build ;;
    esac
}

declare -A build_failed=()
build_step() { # name command...
    local name=$1 log=$LOGDIR/build-$1.log
    shift
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "check: build $name: ok"
    else
        failed=$((failed + 1))
        build_failed[$name]=1
        echo "check: build $name: FAILED ($log):"
        tail -n 15 "$log" | sed 's/^/    /'
    fi
}

# Everything just built must now be up to date: a second make check compiles nothing.
check_uptodate() { # targets...
    if "$MAKE" --no-print-directory -q "$@" >"$LOGDIR/uptodate.log" 2>&1; then
        passed=$((passed + 1))
        echo "check: uptodate: a second build rebuilds nothing"
    else
        failed=$((failed + 1))
        echo "check: uptodate: FAILED, a second build would run (make -n $*):"
        "$MAKE" --no-print-directory -n "$@" 2>&1 | grep -vE '^(make|mkdir)' | head -10 |
            sed 's/^/    /'
    fi
}

targets=()
for s in $SUITES; do
    t=$(build_of "$s")
    [ -n "$t" ] && [[ " ${targets[*]} " != *" $t "* ]] && targets+=("$t")
done
if [ ${#targets[@]} -gt 0 ]; then
    build_step deps scripts/install-deps.sh --if-missing
    for t in "${targets[@]}"; do
        build_step "$t" "$MAKE" --no-print-directory "$t"
    done
    [ ${#build_failed[@]} -eq 0 ] && check_uptodate "${targets[@]}"
fi

for s in $SUITES; do
    before_p=$passed before_f=$failed
    t=$(build_of "$s")
    if [ -n "$t" ] && [ -n "${build_failed[$t]:-}" ]; then
        echo "check: $s: not run, its build ($t) failed"
        continue
    fi
    case $s in
    unit) run_unit build/tests unit ;;
    unit-asan)
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            run_unit build/asan/tests asan ;;
    valgrind)
        run_unit build/tests valgrind valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --error-exitcode=99 ;;
    tsan) TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_unit build/tsan/tests tsan ;;
    fuzz) # the checked-in seed corpora through the fuzz targets under ASan+UBSan (tests/fuzz/)
        for c in tests/fuzz/corpus/*/; do
            c=${c%/}
            ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                "build/asan/fuzz-replay-${c##*/}" "$c" >"$LOGDIR/fuzz-${c##*/}.log" 2>&1
            count_tap "$LOGDIR/fuzz-${c##*/}.log" $?
        done ;;
    fake-tenant) run_bats fake-tenant tests/fake-tenant ;;
    e2e) run_bats e2e tests/e2e ;;
    e2e-asan)
        run_bats e2e-asan tests/e2e QEXTFS_BIN="$ROOT/build/asan/qextfs" READERS_SECONDS=30 \
            ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ;;
    *) echo "check: unknown suite $s" >&2; failed=$((failed + 1)) ;;
    esac
    echo "check: $s: $((passed - before_p)) passed, $((failed - before_f)) failed"
done

for s in $SUITES; do
    case $s in e2e | e2e-asan) reliability_line "$s" "$LOGDIR/figures-$s.jsonl" ;; esac
done
echo "logs: $LOGDIR"
# The last line is exactly "N passed, N failed" (CI and README rely on it).
[ "$skipped" -gt 0 ] && echo "check: $skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
