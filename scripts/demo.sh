#!/usr/bin/env bash
# make demo: starts the bundled fake tenant with generated extensions and mounts it at
# ./mnt in the foreground. Ctrl-C unmounts (uploading pending edits) and stops the tenant.
#
# scripts/demo.sh --check (make demo DEMO_ARGS=--check) runs the same demo without a
# terminal: mounts in the background, lists, copies everything out with cp -r and rsync -a,
# compares both copies with the tenant's archives, unmounts and exits 0 only if all of it
# held. It ends with the tenant's request counts ("demo: tenant requests: {...}").
# DEMO_MNT picks another mount point.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CHECK=
case ${1:-} in
--check) CHECK=1 ;;
"") ;;
*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
MNT=${DEMO_MNT:-$ROOT/mnt}
N=12
WORK=$(mktemp -d /tmp/qextfs-demo.XXXXXX)
KEY=demo-key-$RANDOM$RANDOM

mountpoint -q "$MNT" 2>/dev/null && fusermount3 -u "$MNT"
mkdir -p "$MNT"

build/fake-tenant --port 0 --generate "$N" --api-key "$KEY" --state "$WORK/tenant" \
    >"$WORK/tenant.out" 2>"$WORK/tenant.log" &
TENANT_PID=$!
cleanup() {
    trap - INT TERM EXIT
    if mountpoint -q "$MNT"; then
        echo
        echo "demo: unmounting (pending uploads finish first)"
        fusermount3 -u "$MNT" || true
    fi
    [ -n "${QEXTFS_PID:-}" ] && wait "$QEXTFS_PID" 2>/dev/null || true
    kill "$TENANT_PID" 2>/dev/null || true
    wait "$TENANT_PID" 2>/dev/null || true
    rm -rf "$WORK"
    echo "demo: stopped"
}
trap cleanup INT TERM EXIT

for _ in $(seq 1 100); do
    grep -q LISTENING "$WORK/tenant.out" 2>/dev/null && break
    sleep 0.05
done
PORT=$(awk '/LISTENING/ {print $2}' "$WORK/tenant.out")
[ -n "$PORT" ] || { echo "demo: the fake tenant did not start:"; cat "$WORK/tenant.log"; exit 1; }
URL=http://127.0.0.1:$PORT

if [ -z "$CHECK" ]; then
    cat <<MSG
demo: fake tenant at $URL with $N generated extensions
demo: mounting it at $MNT (Ctrl-C to stop). In another terminal, try:
    ls mnt/                      cp -r mnt/. /tmp/copy        rsync -a mnt/ /tmp/copy2
    getfattr -d mnt/*/ | head    vim mnt/<ext>/<ext>.js       cp -r myext mnt/
MSG
    QLIK_API_KEY=$KEY build/qextfs --tenant "$URL" -f -o state_dir="$WORK/state" "$MNT" &
    QEXTFS_PID=$!
    wait "$QEXTFS_PID"
    exit
fi

# --check: the demo's steps, each one verified.
fail() {
    echo "demo: check FAILED: $*"
    [ -s "$WORK/qextfs.log" ] && sed 's/^/    qextfs: /' "$WORK/qextfs.log" | tail -n 20
    exit 1
}
echo "demo: fake tenant at $URL with $N generated extensions; mounting it at $MNT"
QLIK_API_KEY=$KEY build/qextfs --tenant "$URL" -f -o state_dir="$WORK/state" "$MNT" \
    >"$WORK/qextfs.log" 2>&1 &
QEXTFS_PID=$!
for _ in $(seq 1 200); do
    mountpoint -q "$MNT" && break
    kill -0 "$QEXTFS_PID" 2>/dev/null || fail "qextfs exited before mounting"
    sleep 0.05
done
mountpoint -q "$MNT" || fail "qextfs did not mount within 10 s"

curl -sS --fail -H "Authorization: Bearer $KEY" "$URL/api/v1/extensions" >"$WORK/list.json" ||
    fail "the tenant did not list its extensions"
python3 - "$WORK/list.json" >"$WORK/want" <<'PY'
import json, sys
print("\n".join(sorted(e["qextFilename"] for e in json.load(open(sys.argv[1]))["data"])))
PY
ls -1 "$MNT" | sort >"$WORK/got"
diff "$WORK/want" "$WORK/got" || fail "ls of the mount is not the tenant's list"
[ "$(wc -l <"$WORK/got")" -eq "$N" ] || fail "ls shows $(wc -l <"$WORK/got") extensions, not $N"
echo "demo: ls: $N extensions"

# The reference: every archive unpacked, the top folder of those that have one stripped.
while read -r name; do
    enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$name")
    curl -sS --fail -o "$WORK/a.zip" "$URL/__fake/archive/$enc" || fail "no archive for $name"
    python3 - "$WORK/a.zip" "$WORK/ref/$name" <<'PY' || fail "cannot unpack $name"
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
qext = [n for n in names if n.endswith(".qext")][0]
top = qext[: qext.rfind("/") + 1]
for n in names:
    if n.endswith("/") or not n.startswith(top):
        continue
    out = os.path.join(sys.argv[2], n[len(top):])
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as f:
        f.write(z.read(n))
PY
done <"$WORK/want"

cp -r "$MNT/." "$WORK/cp/" || fail "cp -r out of the mount"
diff -r "$WORK/ref" "$WORK/cp" || fail "cp -r copy differs from the archives"
echo "demo: cp -r: every file equals the tenant's archives"
rsync -a "$MNT/" "$WORK/rsync/" || fail "rsync -a out of the mount"
diff -r "$WORK/ref" "$WORK/rsync" || fail "rsync -a copy differs from the archives"
echo "demo: rsync -a: every file equals the tenant's archives"

fusermount3 -u "$MNT" || fail "unmount"
rc=0
wait "$QEXTFS_PID" || rc=$?
QEXTFS_PID=
[ "$rc" -eq 0 ] || fail "qextfs exited with status $rc after unmount"
echo "demo: unmounted"
echo "demo: tenant requests: $(curl -sS --fail "$URL/__fake/stats")"
echo "demo: check ok"
