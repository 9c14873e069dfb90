#!/usr/bin/env bats
# Write path on a real mount: editors and tools change files, the tenant's archive ends up
# holding exactly what the user saved, and no failure loses a byte.
load ../lib/tenant
load ../lib/mount

setup() {
    MNT= STATE= QEXTFS_LOG=
    SEED=$BATS_TEST_TMPDIR/seed
    mkdir -p "$SEED/alpha/lib" "$SEED/beta"
    echo '{"name":"Alpha","type":"visualization","version":"1.0.0"}' >"$SEED/alpha/alpha.qext"
    printf 'line one\nline two\nline three\n' >"$SEED/alpha/alpha.js"
    echo 'body { color: red; }' >"$SEED/alpha/alpha.css"
    echo 'export const x = 1;' >"$SEED/alpha/lib/util.js"
    echo '{"name":"Beta","type":"visualization","version":"2.0.0"}' >"$SEED/beta/beta.qext"
    echo 'beta();' >"$SEED/beta/beta.js"
}

teardown() {
    mount_stop
    tenant_stop
}

start() {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY" "$@"
    mount_start
}

# The tenant's archive of NAME unpacked (top folder stripped) into $BATS_TEST_TMPDIR/t/NAME.
unpacked() {
    tenant_unpack "$1" "$BATS_TEST_TMPDIR/t/$1"
    echo "$BATS_TEST_TMPDIR/t/$1"
}


@test "echo >> appends and the archive has it after unmount" {
    start
    echo 'line four' >>"$MNT/alpha/alpha.js"
    [ "$(tail -1 "$MNT/alpha/alpha.js")" = "line four" ]
    mount_stop
    d=$(unpacked alpha)
    [ "$(cat "$d/alpha.js")" = "$(printf 'line one\nline two\nline three\nline four')" ]
    [ "$(cat "$d/lib/util.js")" = 'export const x = 1;' ]
}

@test "sed -i edits in place" {
    start
    sed -i 's/two/TWO/' "$MNT/alpha/alpha.js"
    grep -q TWO "$MNT/alpha/alpha.js"
    mount_stop
    d=$(unpacked alpha)
    grep -q 'line TWO' "$d/alpha.js"
    [ "$(ls -A "$d" | sort | tr '\n' ' ')" = "alpha.css alpha.js alpha.qext lib " ]
}

@test "truncate -s shrinks and grows" {
    start
    truncate -s 4 "$MNT/alpha/alpha.js"
    [ "$(cat "$MNT/alpha/alpha.js")" = "line" ]
    truncate -s 10 "$MNT/alpha/alpha.css"
    [ "$(stat -c %s "$MNT/alpha/alpha.css")" = 10 ]
    mount_stop
    d=$(unpacked alpha)
    [ "$(cat "$d/alpha.js")" = "line" ]
    [ "$(stat -c %s "$d/alpha.css")" = 10 ]
}

@test "mv over an existing file, cp of a file in, touch" {
    start
    echo 'replacement' >"$MNT/alpha/new.js"
    mv "$MNT/alpha/new.js" "$MNT/alpha/alpha.js"
    cp "$SEED/beta/beta.js" "$MNT/alpha/copied.js"
    touch -d '2020-01-02 03:04:05 UTC' "$MNT/alpha/alpha.css"
    mount_stop
    d=$(unpacked alpha)
    [ "$(cat "$d/alpha.js")" = replacement ]
    [ ! -e "$d/new.js" ]
    cmp "$d/copied.js" "$SEED/beta/beta.js"
    [ "$(stat -c %Y "$d/alpha.css")" = "$(date -d '2020-01-02 03:04:05 UTC' +%s)" ]
}

@test "vim saves with exactly one PATCH and no swap, backup or 4913 in the archive" {
    start
    cat "$MNT/alpha/alpha.js" >/dev/null
    tenant_reset_stats
    # vim with its default settings (defaults.vim; swap file, writebackup), not a user's
    # vimrc: HOME points at an empty folder
    mkdir -p "$BATS_TEST_TMPDIR/home"
    HOME=$BATS_TEST_TMPDIR/home TERM=xterm script -qec "vim -i NONE -c 'normal Gohello from vim' -c 'wq' '$MNT/alpha/alpha.js'" /dev/null </dev/null >/dev/null
    grep -q 'hello from vim' "$MNT/alpha/alpha.js"
    sleep 1.5
    mount_stop
    patches=$(tenant_count "PATCH /extensions/{id}")
    echo "patches=$patches"
    [ "$patches" -eq 1 ]
    tenant_archive alpha "$BATS_TEST_TMPDIR/a.zip"
    unzip -Z1 "$BATS_TEST_TMPDIR/a.zip" >"$BATS_TEST_TMPDIR/names"
    cat "$BATS_TEST_TMPDIR/names"
    ! grep -E '\.sw.$|~$|(^|/)4913$' "$BATS_TEST_TMPDIR/names"
    d=$(unpacked alpha)
    grep -q 'hello from vim' "$d/alpha.js"
}

@test "nano saves through a terminal" {
    command -v tmux >/dev/null || skip "tmux missing"
    start
    tmux new-session -d -s nano$$ -x 120 -y 30 "nano '$MNT/beta/beta.js'"
    sleep 0.5
    tmux send-keys -t nano$$ "// edited in nano" Enter
    tmux send-keys -t nano$$ C-o
    sleep 0.3
    tmux send-keys -t nano$$ Enter
    sleep 0.3
    tmux send-keys -t nano$$ C-x
    wait_for bash -c "! tmux has-session -t nano$$"
    grep -q 'edited in nano' "$MNT/beta/beta.js"
    mount_stop
    d=$(unpacked beta)
    grep -q 'edited in nano' "$d/beta.js"
    grep -q 'beta();' "$d/beta.js"
}

@test "a second rsync -a of the same tree transfers nothing; cp -a keeps mtimes" {
    start
    src=$BATS_TEST_TMPDIR/src
    mkdir -p "$src/sub"
    for i in 1 2 3 4 5; do echo "file $i" >"$src/f$i.js"; done
    echo nested >"$src/sub/n.js"
    touch -d '2019-05-06 07:08:09 UTC' "$src"/*.js "$src/sub/n.js"
    rsync -a "$src/" "$MNT/alpha/"
    sleep 1.5
    run rsync -a --stats "$src/" "$MNT/alpha/"
    echo "$output"
    [[ "$output" == *"Number of regular files transferred: 0"* ]]
    cp -a "$src/f1.js" "$MNT/beta/kept.js"
    [ "$(stat -c %Y "$MNT/beta/kept.js")" = "$(stat -c %Y "$src/f1.js")" ]
    mount_stop
    # and after a remount the mtimes still match, from the archive itself
    MNT= STATE= mount_start
    run rsync -a --stats "$src/" "$MNT/alpha/"
    [[ "$output" == *"Number of regular files transferred: 0"* ]]
}

@test "cp -r of a new extension makes exactly one POST" {
    start
    new=$BATS_TEST_TMPDIR/gamma
    mkdir -p "$new/lib"
    echo '{"name":"Gamma","type":"visualization","version":"0.1.0"}' >"$new/gamma.qext"
    echo 'gamma();' >"$new/gamma.js"
    echo 'lib' >"$new/lib/l.js"
    tenant_reset_stats
    cp -r "$new" "$MNT/"
    mount_stop
    [ "$(tenant_count "POST /extensions")" -eq 1 ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 0 ]
    d=$(unpacked gamma)
    diff -r "$new" "$d"
}

@test "a real dotfile that looks like an rsync temporary (.storybook.config) is uploaded" {
    start
    echo 'module.exports = {};' >"$MNT/alpha/.storybook.config"
    echo 'temp' >"$MNT/alpha/.alpha.js.Ab12Cd"
    mount_stop
    tenant_archive alpha "$BATS_TEST_TMPDIR/a.zip"
    unzip -Z1 "$BATS_TEST_TMPDIR/a.zip" | tee "$BATS_TEST_TMPDIR/names"
    grep -q '\.storybook\.config$' "$BATS_TEST_TMPDIR/names"
    ! grep -q 'Ab12Cd' "$BATS_TEST_TMPDIR/names"
    d=$(unpacked alpha)
    [ "$(cat "$d/.storybook.config")" = 'module.exports = {};' ]
}

@test "mkdir of an existing extension name is EEXIST" {
    start
    run mkdir "$MNT/alpha"
    [ "$status" -ne 0 ]
    [[ "$output" == *"File exists"* ]]
}

@test "rm -r of an extension sends one DELETE, no PATCH, then 410; the trash keeps it" {
    start
    tenant_reset_stats
    rm -r "$MNT/beta"
    [ ! -e "$MNT/beta" ]
    sleep 1
    mount_stop
    [ "$(tenant_count "DELETE /extensions/{id}")" -eq 1 ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 0 ]
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TEST_KEY" "$TENANT_URL/api/v1/extensions/beta")
    [ "$code" = 410 ]
    ls "$STATE/trash/" | grep -q '^beta-.*\.zip$'
    unzip -l "$STATE"/trash/beta-*.zip | grep -q beta.js
}

@test "fsync uploads at once and returns the result" {
    start
    echo 'synced' >>"$MNT/alpha/alpha.css"
    tenant_reset_stats
    [ "$(fsync_file "$MNT/alpha/alpha.css")" = OK ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 1 ]
    tenant_archive alpha "$BATS_TEST_TMPDIR/a.zip"
    unzip -p "$BATS_TEST_TMPDIR/a.zip" '*alpha.css' | grep -q synced
}

@test "fsync uploads the closed changes but not a file still open for writing, renamed or not" {
    start
    ls "$MNT/alpha" >/dev/null
    exec 8>"$MNT/alpha/alpha.css"
    echo 'half of the' >&8
    echo 'closed change' >"$MNT/alpha/lib/util.js"
    echo 'synced' >>"$MNT/alpha/alpha.js"
    tenant_reset_stats
    [ "$(fsync_file "$MNT/alpha/alpha.js")" = OK ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 1 ]
    d=$(unpacked alpha)
    [ "$(tail -1 "$d/alpha.js")" = synced ]
    [ "$(cat "$d/lib/util.js")" = 'closed change' ]
    [ "$(cat "$d/alpha.css")" = 'body { color: red; }' ]
    # opened under an rsync-style temporary name, renamed to a real one while still open
    exec 9>"$MNT/alpha/.new.js.Ab12Cd"
    echo 'partial' >&9
    mv "$MNT/alpha/.new.js.Ab12Cd" "$MNT/alpha/new.js"
    echo 'synced again' >>"$MNT/alpha/alpha.js"
    [ "$(fsync_file "$MNT/alpha/alpha.js")" = OK ]
    d=$(unpacked alpha)
    [ "$(tail -1 "$d/alpha.js")" = 'synced again' ]
    [ ! -e "$d/new.js" ]
    [ "$(cat "$d/alpha.css")" = 'body { color: red; }' ]
    echo 'rest' >&8
    echo 'done' >&9
    exec 8>&- 9>&-
    mount_stop
    d=$(unpacked alpha)
    [ "$(cat "$d/alpha.css")" = "$(printf 'half of the\nrest')" ]
    [ "$(cat "$d/new.js")" = "$(printf 'partial\ndone')" ]
}

@test "a broken .qext is rejected (422): bytes stay, fsync gets EIO, getfattr shows why" {
    start
    echo 'this is { not json' >"$MNT/alpha/alpha.qext"
    [ "$(fsync_file "$MNT/alpha/alpha.qext")" = "Input/output error" ]
    grep -q 'not json' "$MNT/alpha/alpha.qext"
    run getfattr --only-values -n user.qextfs.error "$MNT/alpha"
    echo "$output"
    [[ "$output" == *422* ]]
    grep -q "422" "$QEXTFS_LOG"
    # the user fixes it with a plain save: its close succeeds, and the upload follows
    run python3 -c "
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b'{\"name\":\"Alpha fixed\"}\n')
os.close(fd)" "$MNT/alpha/alpha.qext"
    echo "$output"
    [ "$status" -eq 0 ]
    run getfattr --only-values -n user.qextfs.error "$MNT/alpha"
    [ "$status" -ne 0 ]
    wait_for bash -c "curl -s '$TENANT_URL/__fake/archive/alpha' -o '$BATS_TEST_TMPDIR/f.zip' && unzip -p '$BATS_TEST_TMPDIR/f.zip' '*alpha.qext' | grep -q 'Alpha fixed'"
    [ "$(fsync_file "$MNT/alpha/alpha.qext")" = OK ]
}

@test "uploads land despite --fail-every 3 and --drop-every 4" {
    start --fail-every 3 --drop-every 4
    for i in 1 2 3; do
        echo "round $i" >>"$MNT/alpha/alpha.js"
        [ "$(fsync_file "$MNT/alpha/alpha.js")" = OK ]
    done
    echo 'beta change' >"$MNT/beta/beta.js"
    mount_stop
    d=$(unpacked alpha)
    grep -q 'round 3' "$d/alpha.js"
    d=$(unpacked beta)
    [ "$(cat "$d/beta.js")" = 'beta change' ]
}

@test "with a low --rate-limit every upload lands and every 429 is handled" {
    # counted over one minute, so 8 saves overrun the budget and meet 429s
    start --rate-limit --tier2 6 --rate-window 60
    for i in $(seq 1 8); do
        echo "save $i" >"$MNT/alpha/alpha.js"
        r=$(fsync_file "$MNT/alpha/alpha.js")
        echo "save $i: $r"
        [ "$r" = OK ] || { tail -5 "$QEXTFS_LOG"; tenant_stats; false; }
    done
    [ "$(tenant_count "PATCH /extensions/{id}")" -ge 8 ]
    mount_stop
    d=$(unpacked alpha)
    [ "$(cat "$d/alpha.js")" = "save 8" ]
}

@test "a conflicting change on the tenant is not overwritten; a disjoint one is merged" {
    UPLOAD_DELAY=30 start
    # disjoint: the tenant changes lib/util.js while we change alpha.css
    echo 'local css' >"$MNT/alpha/alpha.css"
    cp -r "$SEED/alpha" "$BATS_TEST_TMPDIR/theirs"
    echo 'their util' >"$BATS_TEST_TMPDIR/theirs/lib/util.js"
    (cd "$BATS_TEST_TMPDIR/theirs" && zip -qr ../theirs.zip .)
    tenant_put alpha "$BATS_TEST_TMPDIR/theirs.zip"
    [ "$(fsync_file "$MNT/alpha/alpha.css")" = OK ]
    d=$(unpacked alpha)
    [ "$(cat "$d/alpha.css")" = 'local css' ]
    [ "$(cat "$d/lib/util.js")" = 'their util' ]
    # overlapping: both change alpha.js
    echo 'my alpha' >"$MNT/alpha/alpha.js"
    rm -rf "$BATS_TEST_TMPDIR/theirs" "$BATS_TEST_TMPDIR/theirs.zip"
    tenant_unpack alpha "$BATS_TEST_TMPDIR/theirs"
    echo 'their alpha' >"$BATS_TEST_TMPDIR/theirs/alpha.js"
    (cd "$BATS_TEST_TMPDIR/theirs" && zip -qr ../theirs.zip .)
    tenant_put alpha "$BATS_TEST_TMPDIR/theirs.zip"
    [ "$(fsync_file "$MNT/alpha/alpha.js")" = "Input/output error" ]
    d=$(unpacked alpha)
    [ "$(cat "$d/alpha.js")" = 'their alpha' ]
    [ "$(cat "$MNT/alpha/alpha.js")" = 'my alpha' ]
    getfattr --only-values -n user.qextfs.error "$MNT/alpha" | grep -q conflict
    # the service's version is kept where the log says; ours stays in the mount
    grep "alpha: upload failed.*conflict: 'alpha.js' changed both here and on the service.*Your version stays in the mount.*saved in $STATE/conflicts/alpha/conflict-" "$QEXTFS_LOG"
    [ "$(find "$STATE/conflicts" -name alpha.js | wc -l)" -eq 1 ]
    find "$STATE/conflicts" -name alpha.js | xargs grep -q 'their alpha'
    # the conflict is resolved: the next save uploads once, no new conflict copy
    tenant_reset_stats
    echo 'my alpha, saved again' >"$MNT/alpha/alpha.js"
    [ "$(fsync_file "$MNT/alpha/alpha.js")" = OK ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 1 ]
    [ "$(find "$STATE/conflicts" -name alpha.js | wc -l)" -eq 1 ]
    ! getfattr --only-values -n user.qextfs.error "$MNT/alpha"
    d=$(unpacked alpha)
    [ "$(cat "$d/alpha.js")" = 'my alpha, saved again' ]
    [ "$(cat "$d/lib/util.js")" = 'their util' ]
    [ "$(cat "$d/alpha.css")" = 'local css' ]
}

@test "kill -9 with staged changes: the next mount uploads them" {
    UPLOAD_DELAY=60 start
    echo 'survives a crash' >"$MNT/alpha/alpha.js"
    sync
    mount_kill
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 0 ]
    QEXTFS_LOG=$BATS_TEST_TMPDIR/second.log MNT= UPLOAD_DELAY=0.3 mount_start
    zip=$BATS_TEST_TMPDIR/after-crash.zip
    wait_for bash -c "curl -s -o '$zip' '$TENANT_URL/__fake/archive/alpha' && unzip -p '$zip' '*alpha.js' | grep -q 'survives a crash'"
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 1 ]
}

@test "a second mount on the same staging area is refused; a crashed mount's cache is swept" {
    start
    cat "$MNT/alpha/alpha.js" >/dev/null
    second=$BATS_TEST_TMPDIR/second
    mkdir -p "$second"
    # Not -f: the refusal must reach the terminal of a daemonizing mount too.
    run env QLIK_API_KEY="$TEST_KEY" "$QEXTFS_BIN" --tenant "$TENANT_URL" -o state_dir="$STATE" "$second"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"staging area $STATE is in use by another qextfs mount (pid $QEXTFS_PID)"* ]]
    ! mountpoint -q "$second"
    echo 'the first mount carries on' >"$MNT/alpha/alpha.js"
    [ "$(fsync_file "$MNT/alpha/alpha.js")" = OK ]
    cache=$(echo "$STATE"/cache-*)
    [ -d "$cache" ]
    mount_kill
    [ -d "$cache" ]
    QEXTFS_LOG=$BATS_TEST_TMPDIR/second.log MNT= mount_start
    [ ! -e "$cache" ]
    [ "$(find "$STATE" -maxdepth 1 -name 'cache-*' | wc -l)" -eq 1 ]
    grep -q "removed $cache, left by a mount that did not finish" "$QEXTFS_LOG"
    [ "$(cat "$MNT/alpha/alpha.js")" = 'the first mount carries on' ]
}

@test "unmount waits for pending uploads" {
    UPLOAD_DELAY=60 start
    echo 'pending at unmount' >"$MNT/beta/beta.js"
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 0 ]
    mount_stop
    d=$(unpacked beta)
    [ "$(cat "$d/beta.js")" = 'pending at unmount' ]
}

@test "rename between extensions is EXDEV and mv falls back to copy" {
    start
    run python3 -c "import os; os.rename('$MNT/alpha/alpha.css', '$MNT/beta/moved.css')"
    [[ "$output" == *"Invalid cross-device link"* ]]
    mv "$MNT/alpha/alpha.css" "$MNT/beta/moved.css"
    [ -f "$MNT/beta/moved.css" ]
    [ ! -e "$MNT/alpha/alpha.css" ]
}

@test "mkdir/rmdir of subfolders, chmod, chown to the same ids, unlink while open" {
    start
    mkdir "$MNT/alpha/newdir"
    echo x >"$MNT/alpha/newdir/x.js"
    mkdir "$MNT/alpha/emptydir"
    rmdir "$MNT/alpha/emptydir"
    chmod 600 "$MNT/alpha/alpha.css"
    [ "$(stat -c %a "$MNT/alpha/alpha.css")" = 600 ]
    chown "$(id -u):$(id -g)" "$MNT/alpha/alpha.js"
    run chown 12345 "$MNT/alpha/alpha.js"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Operation not permitted"* ]]
    # fchown of a file unlinked while open: the same rule, by handle
    run python3 - "$MNT/alpha/gone.js" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
os.unlink(sys.argv[1])
os.fchown(fd, os.getuid(), os.getgid())
print("same ids: ok")
try:
    os.fchown(fd, 12345, -1)
    print("other ids: allowed")
except OSError as e:
    print("other ids: " + os.strerror(e.errno))
os.close(fd)
PY
    echo "$output"
    [ "$output" = "$(printf 'same ids: ok\nother ids: Operation not permitted')" ]
    exec 7<"$MNT/alpha/lib/util.js"
    rm "$MNT/alpha/lib/util.js"
    [ "$(cat <&7)" = 'export const x = 1;' ]
    exec 7<&-
    df "$MNT" >/dev/null
    mount_stop
    d=$(unpacked alpha)
    [ -f "$d/newdir/x.js" ]
    [ ! -e "$d/emptydir" ]
    [ ! -e "$d/lib/util.js" ]
    [ "$(stat -c %a "$d/alpha.css")" = 600 ]
}

@test "O_EXCL create of an existing file fails with EEXIST" {
    start
    run python3 -c "import os; os.open('$MNT/alpha/alpha.js', os.O_CREAT|os.O_EXCL|os.O_WRONLY)"
    [[ "$output" == *"File exists"* ]]
}

@test "renameat2 with flags other than 0 is EINVAL" {
    start
    # NOREPLACE onto a new name (onto an existing one the kernel says EEXIST itself), and
    # EXCHANGE of two existing files: both reach qextfs, which refuses them.
    run python3 - "$MNT/alpha/alpha.js" "$MNT/alpha/new-name.js" "$MNT/alpha/alpha.css" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_NOREPLACE, RENAME_EXCHANGE = -100, 1, 2
for target, flags in ((sys.argv[2], RENAME_NOREPLACE), (sys.argv[3], RENAME_EXCHANGE)):
    r = libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, target.encode(), flags)
    print(os.strerror(ctypes.get_errno()) if r else "renamed")
PY
    echo "$output"
    [ "$output" = "$(printf 'Invalid argument\nInvalid argument')" ]
    [ "$(cat "$MNT/alpha/alpha.js")" = "$(printf 'line one\nline two\nline three')" ]
}

@test "a new folder whose .qext has another name appears under that name after upload" {
    start
    mkdir "$MNT/draft"
    echo '{"name":"Delta"}' >"$MNT/draft/delta.qext"
    echo 'delta();' >"$MNT/draft/delta.js"
    wait_for bash -c "ls '$MNT' | grep -qx delta"
    [ ! -e "$MNT/draft" ]
    [ "$(cat "$MNT/delta/delta.js")" = 'delta();' ]
    grep -q "it now appears as delta" "$QEXTFS_LOG"
    [ "$(tenant_count "POST /extensions")" -eq 1 ]
}

@test "fdatasync uploads at once like fsync" {
    start
    echo 'datasynced' >>"$MNT/alpha/alpha.css"
    tenant_reset_stats
    run python3 -c "
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.fdatasync(fd)
os.close(fd)
print('OK')" "$MNT/alpha/alpha.css"
    [ "$output" = OK ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 1 ]
    tenant_archive alpha "$BATS_TEST_TMPDIR/a.zip"
    unzip -p "$BATS_TEST_TMPDIR/a.zip" '*alpha.css' | grep -q datasynced
}

@test "statfs reports the staging filesystem's real numbers" {
    start
    read -r blocks bsize free <<<"$(stat -f -c '%b %S %a' "$MNT")"
    read -r sblocks sbsize sfree <<<"$(stat -f -c '%b %S %a' "$STATE")"
    echo "mount: $blocks x $bsize, $free free; staging: $sblocks x $sbsize, $sfree free"
    [ "$blocks" -gt 0 ] && [ "$free" -gt 0 ]
    [ "$blocks" = "$sblocks" ] && [ "$bsize" = "$sbsize" ]
    df "$MNT" | tail -1 | awk '{ exit !($2 > 0) }'
}

@test "50 files copied in a row give one PATCH, after the quiet period, without fsync or unmount" {
    start
    src=$BATS_TEST_TMPDIR/many
    mkdir -p "$src"
    for i in $(seq 1 50); do echo "f$i" >"$src/f$i.js"; done
    ls "$MNT/alpha" >/dev/null
    tenant_reset_stats
    cp "$src"/*.js "$MNT/alpha/"
    wait_for bash -c "[ \$(curl -s '$TENANT_URL/__fake/stats' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"by_route\"][\"PATCH /extensions/{id}\"])') -ge 1 ]"
    tenant_archive alpha "$BATS_TEST_TMPDIR/a.zip"
    [ "$(unzip -Z1 "$BATS_TEST_TMPDIR/a.zip" | grep -c 'f[0-9]*\.js$')" -eq 50 ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 1 ]
    mount_stop
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 1 ]
}

@test "an archive over the service's limit (413): EIO from fsync, getfattr shows why" {
    start
    head -c 31M /dev/zero >"$MNT/alpha/big.bin"
    [ "$(fsync_file "$MNT/alpha/big.bin")" = "Input/output error" ]
    run getfattr --only-values -n user.qextfs.error "$MNT/alpha"
    echo "$output"
    [[ "$output" == *413* ]]
    [ "$(stat -c %s "$MNT/alpha/big.bin")" -eq $((31 * 1024 * 1024)) ]
    # removing it is the user's answer: the rest goes up
    rm "$MNT/alpha/big.bin"
    echo 'small again' >"$MNT/alpha/alpha.css"
    [ "$(fsync_file "$MNT/alpha/alpha.css")" = OK ]
    d=$(unpacked alpha)
    [ "$(cat "$d/alpha.css")" = 'small again' ]
    [ ! -e "$d/big.bin" ]
}

@test "exhausted retries (the tenant failing every request): EIO and the xattr, then the next change uploads" {
    start
    ls "$MNT/alpha" >/dev/null
    tenant_fault fail_every=1
    echo 'while down' >"$MNT/alpha/alpha.css"
    [ "$(fsync_file "$MNT/alpha/alpha.css")" = "Input/output error" ]
    run getfattr --only-values -n user.qextfs.error "$MNT/alpha"
    echo "$output"
    [ "$status" -eq 0 ] && [ -n "$output" ]
    tenant_fault fail_every=0
    echo 'back up' >>"$MNT/alpha/alpha.css"
    [ "$(fsync_file "$MNT/alpha/alpha.css")" = OK ]
    d=$(unpacked alpha)
    [ "$(cat "$d/alpha.css")" = "$(printf 'while down\nback up')" ]
}

@test "a staged tree without a .qext is never PATCHed" {
    start
    rm "$MNT/alpha/alpha.qext"
    echo 'no qext' >>"$MNT/alpha/alpha.js"
    tenant_reset_stats
    [ "$(fsync_file "$MNT/alpha/alpha.js")" = OK ]
    sleep 1 # several quiet periods: nothing may go up
    mount_stop
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 0 ]
    d=$(unpacked alpha)
    [ -f "$d/alpha.qext" ]
}

@test "rm -r in any unlink order (find -delete, .qext first, .qext last): one DELETE each, no PATCH" {
    for n in gamma delta eps; do
        mkdir -p "$SEED/$n/sub"
        echo "{\"name\":\"$n\"}" >"$SEED/$n/$n.qext"
        echo "$n();" >"$SEED/$n/$n.js"
        echo 'nested' >"$SEED/$n/sub/s.js"
    done
    UPLOAD_DELAY=5 start
    ls "$MNT/gamma" "$MNT/delta" "$MNT/eps" >/dev/null
    tenant_reset_stats
    find "$MNT/gamma" -delete
    rm "$MNT/delta/delta.qext" && rm -r "$MNT/delta"
    rm "$MNT/eps/eps.js" "$MNT/eps/sub/s.js" && rmdir "$MNT/eps/sub" && rm "$MNT/eps/eps.qext" && rmdir "$MNT/eps"
    [ ! -e "$MNT/gamma" ] && [ ! -e "$MNT/delta" ] && [ ! -e "$MNT/eps" ]
    mount_stop
    [ "$(tenant_count "DELETE /extensions/{id}")" -eq 3 ]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 0 ]
    for n in gamma delta eps; do
        [ "$(api_code GET "/$n")" = 410 ]
    done
}

@test "an archive with a top-level folder keeps it after an edit" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mkdir -p "$BATS_TEST_TMPDIR/top/alpha-1.0/lib"
    cp "$SEED/alpha/alpha.qext" "$SEED/alpha/alpha.js" "$BATS_TEST_TMPDIR/top/alpha-1.0/"
    cp "$SEED/alpha/lib/util.js" "$BATS_TEST_TMPDIR/top/alpha-1.0/lib/"
    (cd "$BATS_TEST_TMPDIR/top" && zip -qr ../top.zip alpha-1.0)
    tenant_put alpha "$BATS_TEST_TMPDIR/top.zip"
    mount_start
    [ "$(cat "$MNT/alpha/lib/util.js")" = 'export const x = 1;' ]
    echo 'edited' >>"$MNT/alpha/alpha.js"
    mount_stop
    tenant_archive alpha "$BATS_TEST_TMPDIR/a.zip"
    unzip -Z1 "$BATS_TEST_TMPDIR/a.zip" | tee "$BATS_TEST_TMPDIR/names"
    ! grep -v '^alpha-1\.0/' "$BATS_TEST_TMPDIR/names"
    grep -qx 'alpha-1\.0/alpha\.js' "$BATS_TEST_TMPDIR/names"
    grep -qx 'alpha-1\.0/lib/util\.js' "$BATS_TEST_TMPDIR/names"
    unzip -p "$BATS_TEST_TMPDIR/a.zip" alpha-1.0/alpha.js | grep -q edited
}

@test "-o exclude=GLOB:GLOB keeps matching files local" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mount_start -o 'exclude=*.log:build/*'
    mkdir "$MNT/alpha/build"
    echo 'debug' >"$MNT/alpha/debug.log"
    echo 'out' >"$MNT/alpha/build/out.js"
    echo 'kept' >"$MNT/alpha/kept.js"
    mount_stop
    tenant_archive alpha "$BATS_TEST_TMPDIR/a.zip"
    unzip -Z1 "$BATS_TEST_TMPDIR/a.zip" | tee "$BATS_TEST_TMPDIR/names"
    grep -q 'kept\.js$' "$BATS_TEST_TMPDIR/names"
    ! grep -q 'debug\.log$' "$BATS_TEST_TMPDIR/names"
    ! grep -q 'out\.js$' "$BATS_TEST_TMPDIR/names"
    # still there locally
    [ "$(cat "$STATE/ext/alpha/tree/debug.log")" = debug ]
}

@test "a directory of 2,000 files lists whole over many reads, with true sizes; rm -r empties it" {
    start
    mkdir "$MNT/alpha/many"
    for i in $(seq 1 2000); do printf "%$((i % 50 + 1))s" '' >"$MNT/alpha/many/f$i"; done
    [ "$(ls "$MNT/alpha/many" | wc -l)" = 2000 ]
    [ -z "$(ls -a "$MNT/alpha/many" | sort | uniq -d)" ]
    for i in $(seq 1 2000); do echo "f$i $((i % 50 + 1))"; done | sort >"$BATS_TEST_TMPDIR/want"
    find "$MNT/alpha/many" -type f -printf '%f %s\n' | sort >"$BATS_TEST_TMPDIR/got"
    diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
    rm -r "$MNT/alpha/many"
    [ ! -e "$MNT/alpha/many" ]
    [ "$(cat "$MNT/alpha/alpha.js")" = "$(printf 'line one\nline two\nline three')" ]
}
