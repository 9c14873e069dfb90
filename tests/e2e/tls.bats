#!/usr/bin/env bats
# TLS: an https tenant with a self-signed certificate is refused unless -o cacert= names its
# CA or -o insecure turns verification off.
load ../lib/tenant
load ../lib/mount

setup_file() {
    export CERTDIR=$BATS_FILE_TMPDIR/certs
    mkdir -p "$CERTDIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$CERTDIR/key.pem" -out "$CERTDIR/cert.pem" 2>/dev/null
}

setup() {
    MNT= STATE= QEXTFS_LOG=
    SEED=$BATS_TEST_TMPDIR/seed
    mkdir -p "$SEED/alpha"
    echo '{"name":"Alpha"}' >"$SEED/alpha/alpha.qext"
    echo 'alpha();' >"$SEED/alpha/alpha.js"
    tenant_start --seed "$SEED" --api-key "$TEST_KEY" \
        --tls-cert "$CERTDIR/cert.pem" --tls-key "$CERTDIR/key.pem"
    TENANT_URL=https://${TENANT_URL#http://}
}

teardown() {
    mount_stop
    tenant_stop
}

@test "a self-signed https tenant is refused by default, with a reason" {
    mount_start
    run ls "$MNT"
    [ "$status" -ne 0 ] || [ -z "$output" ]
    run cat "$MNT/alpha/alpha.js"
    [ "$status" -ne 0 ]
    grep -qiE "certificate|SSL" "$QEXTFS_LOG"
}

@test "-o cacert= trusts the tenant's CA" {
    mount_start -o cacert="$CERTDIR/cert.pem"
    [ "$(cat "$MNT/alpha/alpha.js")" = 'alpha();' ]
}

@test "-o insecure skips verification" {
    mount_start -o insecure
    [ "$(cat "$MNT/alpha/alpha.js")" = 'alpha();' ]
}
