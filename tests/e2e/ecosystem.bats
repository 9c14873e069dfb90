#!/usr/bin/env bats
# Fitting the ecosystem: mount(8)/fstab, qextfs umount/status/trash, sign-in paths, the
# man page, and secrets kept out of logs and argv.
load ../lib/tenant
load ../lib/mount

setup() {
    MNT= STATE= QEXTFS_LOG=
    SEED=$BATS_TEST_TMPDIR/seed
    mkdir -p "$SEED/alpha" "$SEED/beta"
    echo '{"name":"Alpha","type":"visualization"}' >"$SEED/alpha/alpha.qext"
    echo 'alpha();' >"$SEED/alpha/alpha.js"
    echo '{"name":"Beta","type":"visualization"}' >"$SEED/beta/beta.qext"
    echo 'beta();' >"$SEED/beta/beta.js"
}

teardown() {
    if [ -n "${INSTALLED_HERE:-}" ]; then
        make -s -C "$MOUNT_LIB_ROOT" uninstall PREFIX=/usr/local >/dev/null
    fi
    if [ -n "${DAEMON_MNT:-}" ] && mountpoint -q "$DAEMON_MNT"; then
        "$QEXTFS_BIN" umount "$DAEMON_MNT" >/dev/null 2>&1 || fusermount3 -u -z "$DAEMON_MNT"
    fi
    mount_stop
    tenant_stop
}

@test "make install honours PREFIX and DESTDIR" {
    dest=$BATS_TEST_TMPDIR/dest
    make -s -C "$MOUNT_LIB_ROOT" install PREFIX=/opt/q DESTDIR="$dest" >/dev/null
    [ -x "$dest/opt/q/bin/qextfs" ]
    [ -L "$dest/opt/q/sbin/mount.qextfs" ]
    [ -f "$dest/opt/q/share/man/man1/qextfs.1" ]
}

@test "mount -t fuse.qextfs mounts like an fstab line would" {
    # mount(8) runs its helper with a standard PATH, so qextfs must be installed there.
    if [ -e /usr/local/bin/qextfs ] && ! cmp -s /usr/local/bin/qextfs "$QEXTFS_BIN"; then
        skip "another qextfs is installed in /usr/local/bin"
    fi
    INSTALLED_HERE=1
    make -s -C "$MOUNT_LIB_ROOT" install PREFIX=/usr/local QEXTFS_INSTALL_BIN="$QEXTFS_BIN" >/dev/null
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    keyfile=$BATS_TEST_TMPDIR/key
    (umask 077 && echo "$TEST_KEY" >"$keyfile")
    DAEMON_MNT=$BATS_TEST_TMPDIR/fstab-mnt
    mkdir -p "$DAEMON_MNT"
    env -u QLIK_API_KEY mount -t fuse.qextfs qextfs "$DAEMON_MNT" \
        -o "tenant=$TENANT_URL,api_key_file=$keyfile,state_dir=$BATS_TEST_TMPDIR/st"
    wait_for mountpoint -q "$DAEMON_MNT"
    [ "$(ls "$DAEMON_MNT" | sort | tr '\n' ' ')" = "alpha beta " ]
    grep -q "$DAEMON_MNT fuse.qextfs" /proc/mounts
    /usr/local/bin/qextfs umount "$DAEMON_MNT"
    ! mountpoint -q "$DAEMON_MNT"
}

@test "qextfs umount waits for a pending upload and prints progress" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY" --latency-ms 300
    DAEMON_MNT=$BATS_TEST_TMPDIR/d-mnt
    mkdir -p "$DAEMON_MNT"
    QLIK_API_KEY=$TEST_KEY "$QEXTFS_BIN" --tenant "$TENANT_URL" \
        -o state_dir="$BATS_TEST_TMPDIR/st",upload_delay=60 "$DAEMON_MNT" 3>&-
    echo 'changed before umount' >"$DAEMON_MNT/beta/beta.js"
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 0 ]
    run "$QEXTFS_BIN" umount "$DAEMON_MNT"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"uploading beta"* ]]
    [[ "$output" == *"uploaded beta"* ]]
    [ "$(tenant_count "PATCH /extensions/{id}")" -eq 1 ]
    tenant_unpack beta "$BATS_TEST_TMPDIR/b"
    [ "$(cat "$BATS_TEST_TMPDIR/b/beta.js")" = 'changed before umount' ]
}

@test "qextfs status shows pending uploads, errors, cache and requests" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    UPLOAD_DELAY=60 mount_start
    cat "$MNT/alpha/alpha.js" >/dev/null
    echo 'pending' >"$MNT/alpha/alpha.js"
    run "$QEXTFS_BIN" status "$MNT"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"tenant:      $TENANT_URL"* ]]
    [[ "$output" == *"extensions:  2"* ]]
    [[ "$output" == *"pending:     1 upload(s)"* ]]
    [[ "$output" == *"alpha"* ]]
    [[ "$output" == *"hit rate"* ]]
    "$QEXTFS_BIN" status "$MNT" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["pending"][0]["name"]=="alpha"'
    # requests per endpoint agree with what the tenant counted
    [[ "$output" == *"GET /extensions/{id}/file "* ]]
    "$QEXTFS_BIN" status "$MNT" --json >"$BATS_TEST_TMPDIR/st.json"
    tenant_stats >"$BATS_TEST_TMPDIR/tenant.json"
    python3 - "$BATS_TEST_TMPDIR/st.json" "$BATS_TEST_TMPDIR/tenant.json" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))["requests"]["by_endpoint"]
theirs = json.load(open(sys.argv[2]))["by_route"]
assert ours["GET /extensions/{id}/file"] == theirs["GET /extensions/{id}/file"], (ours, theirs)
assert ours["GET /extensions"] == theirs["GET /extensions"], (ours, theirs)
assert sum(ours.values()) == json.load(open(sys.argv[1]))["requests"]["total"]
PY
    # no extra files appear in the tree
    [ "$(ls -A "$MNT" | sort | tr '\n' ' ')" = "alpha beta " ]
}

@test "trash ls lists what rm -r saved and trash restore puts it back" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mount_start
    rm -r "$MNT/beta"
    mount_stop
    run "$QEXTFS_BIN" trash ls --state-dir "$STATE"
    echo "$output"
    [[ "$output" == *beta-*.zip* ]]
    QLIK_API_KEY=$TEST_KEY run "$QEXTFS_BIN" trash restore beta --tenant "$TENANT_URL" --state-dir "$STATE"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(tenant_count "POST /extensions")" -eq 1 ]
    # restoring again is refused: nothing left in the trash, and the name is taken anyway
    QLIK_API_KEY=$TEST_KEY run "$QEXTFS_BIN" trash restore alpha --tenant "$TENANT_URL" --state-dir "$STATE"
    [ "$status" -ne 0 ]
}

@test "trash restore refuses a name that is taken" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mkdir -p "$BATS_TEST_TMPDIR/st/trash"
    (cd "$SEED/alpha" && zip -q "$BATS_TEST_TMPDIR/st/trash/alpha-20260101T000000Z.zip" alpha.qext alpha.js)
    QLIK_API_KEY=$TEST_KEY run "$QEXTFS_BIN" trash restore alpha --tenant "$TENANT_URL" --state-dir "$BATS_TEST_TMPDIR/st"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"exists"* ]]
}

@test "a qlik-cli context gives the server and the key" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mkdir -p "$BATS_TEST_TMPDIR/qlik"
    cat >"$BATS_TEST_TMPDIR/qlik/contexts.yml" <<YML
current-context: other
contexts:
  other:
    server: http://127.0.0.1:1
    headers:
      Authorization: Bearer nope
  local:
    server: $TENANT_URL
    headers:
      Authorization: Bearer $TEST_KEY
    server-type: cloud
YML
    MNT=$BATS_TEST_TMPDIR/ctx-mnt
    mkdir -p "$MNT"
    QLIK_CLI_USER_HOME_DIR=$BATS_TEST_TMPDIR/qlik env -u QLIK_API_KEY "$QEXTFS_BIN" -f \
        -o context=local,state_dir="$BATS_TEST_TMPDIR/st" "$MNT" >"$BATS_TEST_TMPDIR/ctx.log" 2>&1 3>&- &
    QEXTFS_PID=$! QEXTFS_LOG=$BATS_TEST_TMPDIR/ctx.log
    wait_for mountpoint -q "$MNT"
    [ "$(ls "$MNT" | sort | tr '\n' ' ')" = "alpha beta " ]
}

@test "the current context is used when no tenant and no key are given" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    mkdir -p "$BATS_TEST_TMPDIR/qlik"
    printf 'current-context: local\ncontexts:\n  local:\n    server: %s\n    headers:\n      Authorization: Bearer %s\n' \
        "$TENANT_URL" "$TEST_KEY" >"$BATS_TEST_TMPDIR/qlik/contexts.yml"
    MNT=$BATS_TEST_TMPDIR/cur-mnt
    mkdir -p "$MNT"
    QLIK_CLI_USER_HOME_DIR=$BATS_TEST_TMPDIR/qlik env -u QLIK_API_KEY -u QLIK_TENANT "$QEXTFS_BIN" -f \
        -o state_dir="$BATS_TEST_TMPDIR/st" "$MNT" >"$BATS_TEST_TMPDIR/cur.log" 2>&1 3>&- &
    QEXTFS_PID=$! QEXTFS_LOG=$BATS_TEST_TMPDIR/cur.log
    wait_for mountpoint -q "$MNT"
    [ "$(ls "$MNT" | wc -l)" -eq 2 ]
}

@test "the command line wins over the environment" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    keyfile=$BATS_TEST_TMPDIR/key
    (umask 077 && echo "$TEST_KEY" >"$keyfile")
    QLIK_API_KEY=wrong-key QLIK_TENANT=http://127.0.0.1:1 mount_start -o api_key_file="$keyfile"
    [ "$(ls "$MNT" | wc -l)" -eq 2 ]
}

@test "a key file others can read is refused; a missing key or tenant exits 2 naming it" {
    keyfile=$BATS_TEST_TMPDIR/key
    echo secret >"$keyfile"
    chmod 644 "$keyfile"
    run "$QEXTFS_BIN" --tenant http://127.0.0.1:1 -o api_key_file="$keyfile" "$BATS_TEST_TMPDIR"
    [ "$status" -eq 2 ]
    [[ "$output" == *"readable by others"* ]]
    HOME=$BATS_TEST_TMPDIR run env -u QLIK_API_KEY -u QLIK_TENANT "$QEXTFS_BIN" "$BATS_TEST_TMPDIR"
    [ "$status" -eq 2 ]
    [[ "$output" == *"no tenant"* ]]
    HOME=$BATS_TEST_TMPDIR run env -u QLIK_API_KEY "$QEXTFS_BIN" --tenant http://x "$BATS_TEST_TMPDIR"
    [ "$status" -eq 2 ]
    [[ "$output" == *"no API key"* ]]
}

@test "the API key never appears in argv, the debug log or error messages" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY" --fail-every 4
    mount_start -d
    ls -lR "$MNT" >/dev/null
    cat "$MNT"/*/*.js >/dev/null
    echo 'x' >>"$MNT/alpha/alpha.js"
    "$QEXTFS_BIN" status "$MNT" >"$BATS_TEST_TMPDIR/status.txt"
    ! grep -q "$TEST_KEY" "/proc/$QEXTFS_PID/cmdline"
    mount_stop
    ! grep -q "$TEST_KEY" "$QEXTFS_LOG"
    ! grep -q "$TEST_KEY" "$BATS_TEST_TMPDIR/status.txt"
    grep -q "GET /api/v1/extensions" "$QEXTFS_LOG"
}

@test "the man page renders and documents every option --help shows" {
    MANWIDTH=80 man -l "$MOUNT_LIB_ROOT/docs/qextfs.1" >"$BATS_TEST_TMPDIR/man.txt" 2>"$BATS_TEST_TMPDIR/man.err"
    [ ! -s "$BATS_TEST_TMPDIR/man.err" ]
    grep -q "qextfs - mount the visualization extensions" "$BATS_TEST_TMPDIR/man.txt"
    "$QEXTFS_BIN" --help >"$BATS_TEST_TMPDIR/help.txt"
    for opt in $(grep -oE '\-o [a-z_0-9]+' "$BATS_TEST_TMPDIR/help.txt" | awk '{print $2}' | sort -u); do
        grep -q -- "$opt" "$BATS_TEST_TMPDIR/man.txt" || { echo "man page lacks $opt"; false; }
    done
    for cmd in status umount "trash ls" "trash restore"; do
        grep -q "$cmd" "$BATS_TEST_TMPDIR/man.txt"
    done
}

oauth_tokens() {
    tenant_stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["oauth_tokens"])'
}

@test "OAuth client credentials: mounts, renews the token before it expires" {
    tenant_start --seed "$SEED" --client cid:s3cret --token-life 3
    secret=$BATS_TEST_TMPDIR/secret
    (umask 077 && echo s3cret >"$secret")
    QLIK_API_KEY= mount_start -o client_id=cid,client_secret_file="$secret",list_ttl=1
    [ "$(ls "$MNT" | sort | tr '\n' ' ')" = "alpha beta " ]
    sleep 4
    [ "$(ls "$MNT" | sort | tr '\n' ' ')" = "alpha beta " ]
    cat "$MNT/alpha/alpha.js" >/dev/null
    echo 'with a token' >"$MNT/alpha/alpha.js"
    mount_stop
    [ "$(oauth_tokens)" -ge 2 ]
    tenant_unpack alpha "$BATS_TEST_TMPDIR/a"
    [ "$(cat "$BATS_TEST_TMPDIR/a/alpha.js")" = 'with a token' ]
    ! grep -q s3cret "$QEXTFS_LOG"
}

@test "OAuth: a token the service no longer knows is renewed once after a 401" {
    tenant_start --seed "$SEED" --client cid:s3cret --state "$BATS_TEST_TMPDIR/ts"
    port=${TENANT_URL##*:}
    secret=$BATS_TEST_TMPDIR/secret
    (umask 077 && echo s3cret >"$secret")
    QLIK_API_KEY= mount_start -o client_id=cid,client_secret_file="$secret",list_ttl=1
    ls "$MNT" >/dev/null
    tenant_stop # a restart forgets every token
    tenant_start --client cid:s3cret --state "$BATS_TEST_TMPDIR/ts" --port "$port"
    sleep 1.2
    [ "$(ls "$MNT/beta" | sort | tr '\n' ' ')" = "beta.js beta.qext " ]
    [ "$(oauth_tokens)" -eq 1 ]
}

@test "a crashing qextfs leaves no core dump that could hold the key" {
    [[ "$QEXTFS_BIN" != */asan/* ]] || skip "sanitizer builds keep core dumps on for LeakSanitizer"
    [ "$(cat /proc/sys/kernel/core_pattern)" = core ] || skip "core_pattern is not a plain file name"
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    work=$BATS_TEST_TMPDIR/cores
    mkdir -p "$work/mnt"
    cd "$work"
    # CI containers often pin the hard core limit at 0; then nothing can dump
    ulimit -c unlimited 2>/dev/null || skip "core dumps are disabled here (hard ulimit -c)"
    # control: an ordinary process must dump core here, or the check means nothing
    sleep 60 &
    kill -SEGV $!
    wait $! 2>/dev/null || true
    ls "$work" | grep -q '^core' || skip "this machine writes no core dump even for a control process"
    rm -f "$work"/core*
    QLIK_API_KEY=$TEST_KEY "$QEXTFS_BIN" --tenant "$TENANT_URL" -f -o state_dir="$work/st" "$work/mnt" 2>/dev/null 3>&- &
    pid=$!
    wait_for mountpoint -q "$work/mnt"
    ls "$work/mnt" >/dev/null
    kill -SEGV "$pid"
    wait "$pid" 2>/dev/null || true
    fusermount3 -u -z "$work/mnt" 2>/dev/null || true
    ! ls "$work" | grep -q '^core'
}

# Mounts without -o state_dir, so the default staging place is used; the environment is
# given as VAR=value words before the command.
mount_default_state() {
    MNT=$BATS_TEST_TMPDIR/mnt QEXTFS_LOG=$BATS_TEST_TMPDIR/qextfs.log
    mkdir -p "$MNT"
    env "$@" QLIK_API_KEY="$TEST_KEY" "$QEXTFS_BIN" --tenant "$TENANT_URL" -f \
        -o upload_delay=0.3 "$MNT" >>"$QEXTFS_LOG" 2>&1 3>&- &
    QEXTFS_PID=$!
    wait_for mountpoint -q "$MNT"
}

@test "the staging area defaults to XDG_STATE_HOME, else ~/.local/state/qextfs, per tenant" {
    tenant_start --seed "$SEED" --api-key "$TEST_KEY"
    key=127.0.0.1_$TENANT_PORT
    xdg=$BATS_TEST_TMPDIR/xdg
    mount_default_state XDG_STATE_HOME="$xdg"
    echo 'staged under xdg' >"$MNT/alpha/alpha.js"
    [ "$(cat "$xdg/qextfs/$key/ext/alpha/tree/alpha.js")" = 'staged under xdg' ]
    [ -d "$xdg/qextfs/$key/trash" ]
    mount_stop
    home=$BATS_TEST_TMPDIR/home
    mkdir -p "$home"
    mount_default_state -u XDG_STATE_HOME HOME="$home"
    echo 'staged under home' >"$MNT/beta/beta.js"
    [ "$(cat "$home/.local/state/qextfs/$key/ext/beta/tree/beta.js")" = 'staged under home' ]
    [ ! -e "$xdg/qextfs/$key/ext/beta" ]
    mount_stop
    tenant_unpack beta "$BATS_TEST_TMPDIR/b"
    [ "$(cat "$BATS_TEST_TMPDIR/b/beta.js")" = 'staged under home' ]
}
