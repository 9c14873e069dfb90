#!/usr/bin/env bash
# make demo: starts the bundled fake tenant with generated extensions and mounts it at
# ./mnt in the foreground. Ctrl-C unmounts (uploading pending edits) and stops the tenant.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MNT=$ROOT/mnt
WORK=$(mktemp -d /tmp/qextfs-demo.XXXXXX)
KEY=demo-key-$RANDOM$RANDOM

mountpoint -q "$MNT" 2>/dev/null && fusermount3 -u "$MNT"
mkdir -p "$MNT"

build/fake-tenant --port 0 --generate 12 --api-key "$KEY" --state "$WORK/tenant" \
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

cat <<MSG
demo: fake tenant at $URL with 12 generated extensions
demo: mounting it at $MNT (Ctrl-C to stop). In another terminal, try:
    ls mnt/                      cp -r mnt/. /tmp/copy        rsync -a mnt/ /tmp/copy2
    getfattr -d mnt/*/ | head    vim mnt/<ext>/<ext>.js       cp -r myext mnt/
MSG
QLIK_API_KEY=$KEY build/qextfs --tenant "$URL" -f -o state_dir="$WORK/state" "$MNT" &
QEXTFS_PID=$!
wait "$QEXTFS_PID"
