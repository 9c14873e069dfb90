# figures.bash: the reliability figures an end-to-end test leaves for scripts/check.sh's
# summary line and the README: what it did, the faults the fake tenant injected meanwhile and
# the bytes the tenant's archives lost against a local mirror. Source after tenant.bash.
#   figures_compare WANT GOT    compares two trees file by file, byte by byte; prints
#                               "COMPARED LOST EXTRA": the bytes of WANT's files, those of
#                               them missing or different in GOT, and bytes found only in GOT
#   figures_uploads LOG         prints how many uploads the service accepted (qextfs's log)
#   figures_record NAME K=V...  appends one JSON line {"test": NAME, "faults": N, "failed": N,
#                               "dropped": N, "rate_limited": N, K: V...} to $QEXTFS_FIGURES
#                               (scripts/check.sh sets it; default build/test-logs/
#                               figures.jsonl) and prints it; the fault counts are the
#                               running tenant's
FIGURES_LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

figures_compare() {
    "$TENANT_PYTHON" - "$1" "$2" <<'PY'
import os, sys

want, got = sys.argv[1], sys.argv[2]

def files(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = p
    return out

w, g = files(want), files(got)
compared = lost = extra = 0
for rel, p in w.items():
    a = open(p, "rb").read()
    compared += len(a)
    if rel not in g:
        lost += len(a)
        continue
    b = open(g[rel], "rb").read()
    if a != b:
        lost += sum(x != y for x, y in zip(a, b)) + max(0, len(a) - len(b))
    extra += max(0, len(b) - len(a))
for rel, p in g.items():
    if rel not in w:
        extra += os.path.getsize(p)
print(compared, lost, extra)
PY
}

figures_uploads() {
    grep -c ': uploaded (' "$1" || true
}

figures_record() {
    local name=$1 out=${QEXTFS_FIGURES:-$FIGURES_LIB_ROOT/build/test-logs/figures.jsonl}
    shift
    mkdir -p "$(dirname "$out")"
    tenant_stats | "$TENANT_PYTHON" -c '
import json, sys, time
stats = json.load(sys.stdin).get("faults", {})
rec = {"test": sys.argv[1], "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
kinds = ("failed", "dropped", "rate_limited")
rec["faults"] = sum(int(stats.get(k, 0)) for k in kinds)
rec.update({k: int(stats.get(k, 0)) for k in kinds})
for kv in sys.argv[2:]:
    k, _, v = kv.partition("=")
    rec[k] = int(v) if v.lstrip("-").isdigit() else v
print(json.dumps(rec))
' "$name" "$@" | tee -a "$out"
}
