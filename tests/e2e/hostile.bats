#!/usr/bin/env bats
# Hostile archives and lists on a real mount: the service (or whoever uploaded) is the
# attacker. Entries with "..", absolute names, symlinks, duplicates, lying sizes and absurd
# entry counts are hidden or refused with a log line; the rest stays readable, the mount
# survives, and nothing is written outside the mount or the staging area. A list response
# past 16 MB is refused (EIO and a log line) without holding it; one under it is listed.
load ../lib/tenant
load ../lib/mount

setup() {
    MNT= STATE= QEXTFS_LOG=
    SEED=$BATS_TEST_TMPDIR/seed
    mkdir -p "$SEED/evil" "$SEED/good"
    echo '{"name":"Evil"}' >"$SEED/evil/evil.qext"
    echo 'evil();' >"$SEED/evil/evil.js"
    echo '{"name":"Good"}' >"$SEED/good/good.qext"
    echo 'good();' >"$SEED/good/good.js"
}

teardown() {
    mount_stop
    tenant_stop
}

# make_zip OUT: a zip with safe entries plus the hostile ones named in $HOSTILE.
make_zip() {
    python3 - "$1" <<'PY'
import sys, zipfile, stat
out = sys.argv[1]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("evil.qext", '{"name":"Evil"}')
    z.writestr("evil.js", "evil();\n")
    z.writestr("lib/ok.js", "ok();\n")
    z.writestr("../qx-hostile-escape.js", "should never be written\n")
    z.writestr("lib/../../qx-hostile-escape2.js", "nor this\n")
    z.writestr("/abs.js", "nor this\n")
    info = zipfile.ZipInfo("link.js")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    z.writestr(info, "/etc/passwd")
    z.writestr("dup.js", "first\n")
    z.writestr("dup.js", "second\n")
PY
}

@test "hostile entries are hidden with a log line; the rest reads; nothing escapes" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    make_zip "$BATS_TEST_TMPDIR/evil.zip"
    tenant_put_unsafe evil "$BATS_TEST_TMPDIR/evil.zip"
    mount_start
    ls -laR "$MNT/evil"
    [ "$(cat "$MNT/evil/evil.js")" = 'evil();' ]
    [ "$(cat "$MNT/evil/lib/ok.js")" = 'ok();' ]
    [ "$(cat "$MNT/evil/dup.js")" = first ]
    [ ! -e "$MNT/evil/link.js" ]
    [ ! -e "$MNT/evil/abs.js" ]
    [ "$(find "$MNT/evil" -name "qx-hostile-*" | wc -l)" -eq 0 ]
    grep -q "hiding entry '../qx-hostile-escape.js'" "$QEXTFS_LOG"
    grep -q "hiding entry 'link.js'" "$QEXTFS_LOG"
    grep -q "hiding entry '/abs.js': absolute path" "$QEXTFS_LOG"
    # an edit stages the tree: still nothing outside the staging area, and the upload
    # carries no hostile name back
    echo 'edited();' >"$MNT/evil/evil.js"
    mount_stop
    [ "$(find /tmp /root /work "$STATE" -xdev -name "qx-hostile-escape*" 2>/dev/null | wc -l)" -eq 0 ]
    tenant_archive evil "$BATS_TEST_TMPDIR/after.zip"
    unzip -Z1 "$BATS_TEST_TMPDIR/after.zip" | sort >"$BATS_TEST_TMPDIR/names"
    cat "$BATS_TEST_TMPDIR/names"
    ! grep -E '\.\.|^/|link\.js' "$BATS_TEST_TMPDIR/names"
    unzip -p "$BATS_TEST_TMPDIR/after.zip" evil.js | grep -q edited
}

@test "a NUL in a name, a name over 255 bytes, a declared size over 100 MB: hidden with a log line" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    python3 - "$BATS_TEST_TMPDIR/odd.zip" <<'PY'
import sys, zipfile, struct
out = sys.argv[1]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("evil.qext", '{"name":"Evil"}')
    z.writestr("evil.js", "evil();\n")
    z.writestr("nQl.js", "nul\n")
    z.writestr("x" * 256 + ".js", "long\n")
    z.writestr("lib/" + "y" * 255, "longest allowed\n")
    z.writestr("big.bin", b"\0" * 4096)
data = bytearray(open(out, "rb").read())
# Python's zipfile cuts names at a NUL, so the NUL is patched in (local and central names).
assert data.count(b"nQl.js") == 2
data = data.replace(b"nQl.js", b"n\0l.js")
# big.bin declares 200 MB in the central directory only: the index never reads further.
i = data.find(b"PK\x01\x02")
while i >= 0:
    nlen = struct.unpack_from("<H", data, i + 28)[0]
    if bytes(data[i + 46:i + 46 + nlen]) == b"big.bin":
        struct.pack_into("<I", data, i + 24, 200 << 20)
    i = data.find(b"PK\x01\x02", i + 4)
open(out, "wb").write(data)
PY
    tenant_put_unsafe evil "$BATS_TEST_TMPDIR/odd.zip"
    mount_start
    ls -la "$MNT/evil" "$MNT/evil/lib"
    [ "$(ls "$MNT/evil" | tr '\n' ' ')" = "evil.js evil.qext lib " ]
    [ ! -e "$MNT/evil/n l.js" ]
    [ ! -e "$MNT/evil/n" ]
    [ ! -e "$MNT/evil/big.bin" ]
    [ "$(cat "$MNT/evil/lib/$(printf 'y%.0s' {1..255})")" = 'longest allowed' ]
    [ "$(cat "$MNT/evil/evil.js")" = 'evil();' ]
    grep -q "hiding entry 'n l.js': NUL byte in name" "$QEXTFS_LOG"
    grep -q "hiding entry 'xxxx.*': component over 255 bytes" "$QEXTFS_LOG"
    grep -q "hiding entry 'big.bin': declared size 209715200 over the limit" "$QEXTFS_LOG"
    [ "$(cat "$MNT/good/good.js")" = 'good();' ]
}

@test "a zip bomb whose declared size lies gives EIO for that file, the mount survives" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    python3 - "$BATS_TEST_TMPDIR/bomb.zip" <<'PY'
import sys, zipfile, struct
out = sys.argv[1]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("evil.qext", '{"name":"Evil"}')
    z.writestr("bomb.bin", b"\0" * (8 << 20))
data = bytearray(open(out, "rb").read())
# Declare 1000 bytes for bomb.bin in both the local and the central header.
name = b"bomb.bin"
for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
    i = data.find(sig)
    while i >= 0:
        nlen_at = 26 if sig == b"PK\x03\x04" else 28
        nlen = struct.unpack_from("<H", data, i + nlen_at)[0]
        hdr = 30 if sig == b"PK\x03\x04" else 46
        if bytes(data[i + hdr:i + hdr + nlen]) == name:
            struct.pack_into("<I", data, i + off, 1000)
        i = data.find(sig, i + 4)
open(out, "wb").write(data)
PY
    tenant_put_unsafe evil "$BATS_TEST_TMPDIR/bomb.zip"
    mount_start
    [ "$(stat -c %s "$MNT/evil/bomb.bin")" = 1000 ]
    run cat "$MNT/evil/bomb.bin"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Input/output error"* ]]
    [ "$(cat "$MNT/good/good.js")" = 'good();' ]
    ls "$MNT" >/dev/null
}

@test "a stored entry whose bytes do not match its CRC gives EIO before any byte is served" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    python3 - "$BATS_TEST_TMPDIR/bad.zip" <<'PY'
import sys, zipfile
out = sys.argv[1]
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
    z.writestr("evil.qext", '{"name":"Evil"}')
    z.writestr("img.png", b"A" * 200000)
    z.writestr("ok.png", b"B" * 1000)
    z.writestr("mid.png", b"C" * 2000000)
data = bytearray(open(out, "rb").read())
i = data.find(b"A" * 1000)
data[i + 5000] = ord("X")  # the bytes change, the recorded CRC stays
i = data.find(b"C" * 1000)
data[i + 1500000] = ord("X")  # past the first MiB, inside a whole 64 KiB segment: checked from the download's CRCs
open(out, "wb").write(data)
PY
    tenant_put_unsafe evil "$BATS_TEST_TMPDIR/bad.zip"
    mount_start
    [ "$(stat -c %s "$MNT/evil/img.png")" = 200000 ]
    run dd if="$MNT/evil/img.png" of=/dev/null bs=4k count=1
    [ "$status" -ne 0 ]
    [[ "$output" == *"Input/output error"* ]]
    grep -q "img.png.*CRC mismatch" "$QEXTFS_LOG"
    run dd if="$MNT/evil/mid.png" of=/dev/null bs=4k count=1
    [ "$status" -ne 0 ]
    [[ "$output" == *"Input/output error"* ]]
    grep -q "mid.png.*CRC mismatch" "$QEXTFS_LOG"
    [ "$(head -c 1000 "$MNT/evil/ok.png")" = "$(head -c 1000 /dev/zero | tr '\0' B)" ]
    [ "$(cat "$MNT/good/good.js")" = 'good();' ]
}

@test "an archive with 30,000 entries is refused whole; other extensions stay readable" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    python3 - "$BATS_TEST_TMPDIR/many.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    z.writestr("evil.qext", '{"name":"Evil"}')
    for i in range(30000):
        z.writestr("f%05d.js" % i, "")
PY
    tenant_put_unsafe evil "$BATS_TEST_TMPDIR/many.zip"
    mount_start
    run ls "$MNT/evil"
    [ "$status" -ne 0 ]
    grep -q "more than" "$QEXTFS_LOG"
    [ "$(cat "$MNT/good/good.js")" = 'good();' ]
}

# peak_rss_kb: the daemon's peak resident set (VmHWM) so far, in kB.
peak_rss_kb() {
    awk '/^VmHWM:/ {print $2}' "/proc/$QEXTFS_PID/status"
}

@test "a 50 MB list response: EIO and a log line, bounded memory, the last good list still served" {
    # --list-pad appends ~800-byte models (listed only, no archive) until the list is 50 MB.
    tenant_start --seed "$SEED" --api-key "$TEST_KEY" --list-pad $((50 << 20))
    mount_start -o list_ttl=1
    # never listed: the refusal reaches ls as EIO, the log says what happened
    run ls "$MNT"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Input/output error"* ]]
    grep -q "listing extensions failed: the response is larger than 16 MB" "$QEXTFS_LOG"
    mountpoint -q "$MNT"
    stat "$MNT" >/dev/null
    # the service behaves again: the listing is right at once
    tenant_fault list_pad=0
    [ "$(ls "$MNT" | tr '\n' ' ')" = "evil good " ]
    # and misbehaves again: a refresh is refused, the last good list stays the answer
    tenant_fault list_pad=$((50 << 20))
    sleep 1.2
    [ "$(ls "$MNT" | tr '\n' ' ')" = "evil good " ]
    [ "$(grep -c "listing extensions failed: the response is larger than 16 MB" "$QEXTFS_LOG")" -ge 2 ]
    # the mount stays usable: reads, and a save that is uploaded
    [ "$(cat "$MNT/good/good.js")" = 'good();' ]
    echo 'edited();' >"$MNT/good/good.js"
    [ "$(fsync_file "$MNT/good/good.js")" = OK ]
    hwm=$(peak_rss_kb)
    echo "peak RSS ${hwm} kB"
    tenant_fault list_pad=0
    mount_stop
    [ "$MOUNT_STATUS" -eq 0 ]
    tenant_unpack good "$BATS_TEST_TMPDIR/got"
    [ "$(cat "$BATS_TEST_TMPDIR/got/good.js")" = 'edited();' ]
    # 50 MB never sat in memory: at most the 16 MB that were read before refusing
    if [[ "$QEXTFS_BIN" != */asan/* ]]; then
        [ "$hwm" -lt 65536 ]
    fi
}

@test "a 15 MB list (~19,600 extensions, just under the 16 MB bound) is listed in full" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY" --list-pad $((15 << 20))
    want=$(api GET "" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
    [ "$want" -gt 19000 ]
    mount_start
    [ "$(ls "$MNT" | wc -l)" -eq "$want" ]
    [ -d "$MNT/padding-0019000" ]
    [ "$(cat "$MNT/good/good.js")" = 'good();' ]
    hwm=$(peak_rss_kb)
    echo "$want extensions, peak RSS ${hwm} kB"
    ! grep -q "listing extensions failed" "$QEXTFS_LOG"
    if [[ "$QEXTFS_BIN" != */asan/* ]]; then
        [ "$hwm" -lt 200000 ]
    fi
}
