# tenant.bash: bats helpers around the bundled fake Qlik Cloud tenant (build/fake-tenant).
# Sourced by the fake-tenant suites and the end-to-end suites alike; keep the interface.
#   tenant_start [args...]      starts it on a free port: TENANT_URL, TENANT_PID, TENANT_LOG
#   tenant_stop                 stops it and waits
#   tenant_stats                prints GET /__fake/stats
#   tenant_count ROUTE_KEY      prints by_route[ROUTE_KEY], e.g. "GET /extensions/{id}/file"
#   tenant_reset_stats          zeroes the counters
#   tenant_archive NAME OUT     saves the live archive of qextFilename NAME to OUT
#   tenant_fault key=val...     changes fault settings at run time (fail_every, drop_every,
#                               latency_ms, hang, rate_limit, tier1, tier2, rate_window)
#   tenant_put NAME ZIP         replaces NAME's archive behind every client's back
#   tenant_put_unsafe NAME ZIP  the same, letting hostile entry names through
#   tenant_curl ARGS...         curl -sS with the bearer key ($QLIK_API_KEY, else the first
#                               --api-key given to tenant_start)
#   api METHOD PATH [ARGS...]   tenant_curl -X METHOD on $TENANT_URL/api/v1/extensions$PATH,
#                               printing the body
#   api_code METHOD PATH [ARGS...]  the same, printing only the status code; the body goes
#                               to $API_BODY (default: a file in the test's temp dir)
#   urlencode STRING            percent-encodes one path segment
#   tenant_names                the live qextFilenames, sorted, one a line
TENANT_LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROOT=${ROOT:-$TENANT_LIB_ROOT}
# The system interpreter starts in a fraction of the time a pyenv shim takes.
if [ -z "${TENANT_PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then TENANT_PYTHON=/usr/bin/python3; else TENANT_PYTHON=python3; fi
fi

_tenant_tmp() {
    local d=${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-}}
    if [ -z "$d" ]; then
        d=${_TENANT_MKTEMP:-$(mktemp -d)}
        _TENANT_MKTEMP=$d
    fi
    echo "$d"
}

tenant_start() {
    local dir out port a prev=
    dir=$(_tenant_tmp)
    out=$(mktemp "$dir/tenant-out.XXXXXX")
    TENANT_LOG=$(mktemp "$dir/tenant-log.XXXXXX")
    TENANT_KEY=
    for a in "$@"; do
        if [ -z "$TENANT_KEY" ]; then
            case $prev/$a in
            --api-key/*) TENANT_KEY=$a ;;
            */--api-key=*) TENANT_KEY=${a#--api-key=} ;;
            esac
        fi
        prev=$a
    done
    # fd 3 closed: bats waits for every holder of it before it finishes a test.
    "${FAKE_TENANT_BIN:-$ROOT/build/fake-tenant}" --port 0 "$@" >"$out" 2>"$TENANT_LOG" 3>&- &
    TENANT_PID=$!
    export TENANT_PID TENANT_LOG TENANT_KEY
    local i
    for i in $(seq 1 400); do
        port=$(awk '/^LISTENING / {print $2; exit}' "$out")
        [ -n "$port" ] && break
        if ! kill -0 "$TENANT_PID" 2>/dev/null; then
            echo "fake-tenant exited early:" >&2
            cat "$TENANT_LOG" >&2
            TENANT_PID=
            return 1
        fi
        sleep 0.025
    done
    if [ -z "$port" ]; then
        echo "fake-tenant did not listen within 10 s" >&2
        cat "$TENANT_LOG" >&2
        tenant_stop
        return 1
    fi
    TENANT_PORT=$port
    TENANT_URL=http://127.0.0.1:$port
    export TENANT_URL TENANT_PORT
}

tenant_stop() {
    [ -n "${TENANT_PID:-}" ] || return 0
    kill "$TENANT_PID" 2>/dev/null
    local i
    for i in $(seq 1 200); do
        kill -0 "$TENANT_PID" 2>/dev/null || break
        sleep 0.025
    done
    if kill -0 "$TENANT_PID" 2>/dev/null; then
        echo "fake-tenant did not stop within 5 s; killing it" >&2
        kill -9 "$TENANT_PID" 2>/dev/null
    fi
    wait "$TENANT_PID" 2>/dev/null || true
    TENANT_PID=
    # Under a sanitizer build (FAKE_TENANT_BIN) any report fails the caller.
    if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$TENANT_LOG" 2>/dev/null; then
        echo "sanitizer report in $TENANT_LOG:" >&2
        grep -A20 -E "AddressSanitizer|LeakSanitizer|runtime error:" "$TENANT_LOG" | head -60 >&2
        return 1
    fi
}

tenant_stats() {
    curl -sS --fail "$TENANT_URL/__fake/stats"
}

tenant_count() {
    tenant_stats | "$TENANT_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["by_route"][sys.argv[1]])' "$1"
}

tenant_names() {
    tenant_curl --fail "$TENANT_URL/api/v1/extensions" | "$TENANT_PYTHON" -c \
        'import json,sys; print("\n".join(sorted(e["qextFilename"] for e in json.load(sys.stdin)["data"])))'
}

tenant_reset_stats() {
    curl -sS --fail -o /dev/null -X POST "$TENANT_URL/__fake/reset"
}

urlencode() {
    local LC_ALL=C s=$1 out= c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        [A-Za-z0-9.~_-]) out+=$c ;;
        *)
            printf -v c '%%%02X' "'$c"
            out+=$c
            ;;
        esac
    done
    echo "$out"
}

tenant_archive() {
    curl -sS --fail -o "$2" "$TENANT_URL/__fake/archive/$(urlencode "$1")"
}

tenant_fault() {
    local IFS='&'
    curl -sS --fail -o /dev/null -X POST "$TENANT_URL/__fake/fault?$*"
}

tenant_put() {
    curl -sS --fail -o /dev/null -X POST -H 'Content-Type: application/zip' \
        --data-binary "@$2" "$TENANT_URL/__fake/put/$(urlencode "$1")"
}

# Like tenant_put, without the name rule: plants archives with hostile entries.
tenant_put_unsafe() {
    curl -sS --fail -o /dev/null -X POST -H 'Content-Type: application/zip' \
        --data-binary "@$2" "$TENANT_URL/__fake/put/$(urlencode "$1")?unsafe=1"
}

tenant_curl() {
    curl -sS -H "Authorization: Bearer ${QLIK_API_KEY:-${TENANT_KEY:-}}" "$@"
}

api() {
    local method=$1 path=$2
    shift 2
    tenant_curl -X "$method" "$@" "$TENANT_URL/api/v1/extensions$path"
}

api_code() {
    local method=$1 path=$2
    shift 2
    local body=${API_BODY:-$(_tenant_tmp)/api-body}
    tenant_curl -X "$method" -o "$body" -w '%{http_code}' "$@" \
        "$TENANT_URL/api/v1/extensions$path"
}
