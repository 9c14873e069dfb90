# mount.bash: helpers for end-to-end tests that mount build/qextfs for real against the
# fake tenant (tests/lib/tenant.bash). Source after tenant.bash.
#   mount_start [qextfs args...]   mounts at $MNT (foreground process in the background)
#   mount_stop                     fusermount3 -u and waits for the process to finish
#   mount_kill                     SIGKILL (crash) and lazy unmount
#   wait_for CMD...                retries a command for up to 20 s
#   fsync_file PATH                fsyncs a file, prints OK or the error text
MOUNT_LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QEXTFS_BIN=${QEXTFS_BIN:-$MOUNT_LIB_ROOT/build/qextfs}
TEST_KEY=${TEST_KEY:-test-key-0123456789}

_mount_tmp() {
    echo "${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-$(mktemp -d)}}"
}

mount_start() {
    local tmp
    tmp=$(_mount_tmp)
    MNT=${MNT:-$tmp/mnt}
    STATE=${STATE:-$tmp/state}
    QEXTFS_LOG=${QEXTFS_LOG:-$tmp/qextfs.log}
    mkdir -p "$MNT" "$STATE"
    QLIK_API_KEY=${QLIK_API_KEY-$TEST_KEY} "$QEXTFS_BIN" --tenant "$TENANT_URL" -f \
        -o state_dir="$STATE" -o upload_delay="${UPLOAD_DELAY:-0.3}" -o timeout="${TIMEOUT:-5}" \
        "$@" "$MNT" >>"$QEXTFS_LOG" 2>&1 3>&- &
    QEXTFS_PID=$!
    export MNT STATE QEXTFS_LOG QEXTFS_PID
    local i
    for i in $(seq 1 200); do
        if mountpoint -q "$MNT"; then
            return 0
        fi
        if ! kill -0 "$QEXTFS_PID" 2>/dev/null; then
            echo "qextfs exited early:" >&2
            cat "$QEXTFS_LOG" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "qextfs did not mount within 10 s" >&2
    cat "$QEXTFS_LOG" >&2
    return 1
}

# Unmounts and waits for the daemon: it uploads pending changes before it exits.
mount_stop() {
    [ -n "${QEXTFS_PID:-}" ] || return 0
    if mountpoint -q "$MNT"; then
        fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
    fi
    local i
    for i in $(seq 1 600); do
        kill -0 "$QEXTFS_PID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$QEXTFS_PID" 2>/dev/null; then
        echo "qextfs did not exit within 30 s of unmount" >&2
        kill -9 "$QEXTFS_PID" 2>/dev/null
    fi
    wait "$QEXTFS_PID" 2>/dev/null
    MOUNT_STATUS=$?
    QEXTFS_PID=
    # Under the sanitizer build every test also fails on any report in the daemon's log.
    if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$QEXTFS_LOG" 2>/dev/null; then
        echo "sanitizer report in $QEXTFS_LOG:" >&2
        grep -A20 -E "AddressSanitizer|LeakSanitizer|runtime error:" "$QEXTFS_LOG" | head -60 >&2
        return 1
    fi
    return 0
}

mount_kill() {
    [ -n "${QEXTFS_PID:-}" ] || return 0
    kill -9 "$QEXTFS_PID" 2>/dev/null
    wait "$QEXTFS_PID" 2>/dev/null || true
    fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
    QEXTFS_PID=
}

fsync_file() { # fsyncs and closes a file of the mount; prints OK or the first error's text
    python3 - "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
res = "OK"
try:
    os.fsync(fd)
except OSError as e:
    res = os.strerror(e.errno)
try:
    os.close(fd)  # close reports an upload that failed since (flush), like fsync does
except OSError as e:
    if res == "OK":
        res = os.strerror(e.errno)
print(res)
PY
}

wait_for() {
    local i
    for i in $(seq 1 200); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    "$@"
}

# Unpacks the tenant's current archive of NAME into DIR, stripping a single top folder,
# so it can be compared with diff -r.
tenant_unpack() {
    local name=$1 dir=$2 zip
    zip=$(_mount_tmp)/unpack-$$.zip
    tenant_archive "$name" "$zip"
    rm -rf "$dir"
    mkdir -p "$dir"
    unzip -qq -o "$zip" -d "$dir"
    rm -f "$zip"
    local top
    top=$(ls -A "$dir")
    if [ "$(echo "$top" | wc -l)" = 1 ] && [ -d "$dir/$top" ] && ! ls "$dir"/*.qext >/dev/null 2>&1; then
        if ls "$dir/$top"/*.qext >/dev/null 2>&1; then
            mv "$dir/$top" "$dir.strip" && rmdir "$dir" && mv "$dir.strip" "$dir"
        fi
    fi
}
