#!/usr/bin/env bats
# Read path on a real mount: listing, browsing, copying out, caches, freshness, errors.
load ../lib/tenant
load ../lib/mount

setup() {
    MNT= STATE= QEXTFS_LOG=
}

teardown() {
    mount_stop
    tenant_stop
}

names_on_tenant() {
    curl -sS -H "Authorization: Bearer $TEST_KEY" "$TENANT_URL/api/v1/extensions" |
        python3 -c 'import json,sys; print("\n".join(sorted(e["qextFilename"] for e in json.load(sys.stdin)["data"])))'
}

# Copies the whole mount out and compares every extension with its unpacked archive.
copy_and_compare() {
    local out=$BATS_TEST_TMPDIR/out ref=$BATS_TEST_TMPDIR/ref
    mkdir -p "$out" "$ref"
    cp -r "$MNT/." "$out/"
    for d in "$out"/*/; do
        local n
        n=$(basename "$d")
        tenant_unpack "$n" "$ref/$n"
    done
    diff -r "$ref" "$out"
}

@test "ls of the mount lists the tenant's qextFilenames" {
    tenant_start --generate 9 --api-key "$TEST_KEY"
    mount_start
    diff <(names_on_tenant) <(ls -1 "$MNT" | sort)
}

@test "cp -r copies every extension byte for byte (reference shape)" {
    tenant_start --generate 9 --api-key "$TEST_KEY"
    mount_start
    copy_and_compare
}

@test "cp -r copies every extension byte for byte (--real-shape)" {
    tenant_start --generate 6 --real-shape --api-key "$TEST_KEY"
    mount_start
    copy_and_compare
}

@test "cp -r copies every extension byte for byte (--ranges)" {
    tenant_start --generate 6 --ranges --api-key "$TEST_KEY"
    mount_start
    copy_and_compare
}

@test "rsync -a out of the mount matches the archives" {
    tenant_start --generate 5 --api-key "$TEST_KEY"
    mount_start
    rsync -a "$MNT/" "$BATS_TEST_TMPDIR/rs/"
    for d in "$BATS_TEST_TMPDIR"/rs/*/; do
        n=$(basename "$d")
        tenant_unpack "$n" "$BATS_TEST_TMPDIR/ref/$n"
    done
    diff -r "$BATS_TEST_TMPDIR/ref" "$BATS_TEST_TMPDIR/rs"
}

@test "a zip with a top-level folder shows its contents, folder stripped" {
    tenant_start --generate 6 --api-key "$TEST_KEY"
    mount_start
    # Every extension directory holds its .qext directly, whatever the zip layout.
    for d in "$MNT"/*/; do
        n=$(basename "$d")
        [ -f "$d/$n.qext" ]
    done
}

@test "cp -r of N extensions costs about one archive request each" {
    tenant_start --generate 12 --api-key "$TEST_KEY"
    mount_start
    tenant_reset_stats
    cp -r "$MNT/." "$BATS_TEST_TMPDIR/out/"
    archives=$(tenant_count "GET /extensions/{id}/file")
    files=$(tenant_count "GET /extensions/{id}/file/{path}")
    lists=$(tenant_count "GET /extensions")
    echo "archives=$archives files=$files lists=$lists"
    [ "$archives" -le 12 ]
    [ "$files" -eq 0 ]
    [ "$lists" -le 2 ]
}

@test "a walk through the extensions fetches the next archives ahead; one ls does not" {
    tenant_start --generate 12 --api-key "$TEST_KEY" --latency-ms 50
    mount_start
    mapfile -t names < <(ls "$MNT")
    tenant_reset_stats
    ls "$MNT/${names[0]}" >/dev/null
    sleep 1
    [ "$(tenant_count "GET /extensions/{id}/file")" -eq 1 ]
    # a second visit further down the list is a walk: the next ones come ahead of it
    ls "$MNT/${names[1]}" >/dev/null
    wait_for test "$(tenant_count "GET /extensions/{id}/file")" -ge 6
    # the walk finds them ready and nothing is fetched twice
    ls -lR "$MNT" >/dev/null
    [ "$(tenant_count "GET /extensions/{id}/file")" -eq 12 ]
    copy_and_compare
}

@test "the mount's kernel read-ahead is 1 MiB, or what -o read_ahead says" {
    tenant_start --generate 1 --api-key "$TEST_KEY"
    mount_start
    [ "$(cat "/sys/class/bdi/$(mountpoint -d "$MNT")/read_ahead_kb")" = 1024 ]
    mount_stop
    mount_start -o read_ahead=4M
    [ "$(cat "/sys/class/bdi/$(mountpoint -d "$MNT")/read_ahead_kb")" = 4096 ]
}

@test "ls -lR twice within list_ttl makes no second round of requests" {
    tenant_start --generate 6 --api-key "$TEST_KEY"
    mount_start -o list_ttl=60
    ls -lR "$MNT" >/dev/null
    tenant_reset_stats
    ls -lR "$MNT" >/dev/null
    total=$(tenant_stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
    [ "$total" -eq 0 ]
}

# compressible BYTES OUT: text that deflates (about 3:1), so the fake stores it deflated and
# reads of it go through the block cache; stored entries would be read from the local
# archive in place.
compressible() {
    python3 - "$1" "$2" <<'PY'
import random, sys
n, out = int(sys.argv[1]), sys.argv[2]
r = random.Random(n)
words = ["%x" % r.getrandbits(20) for _ in range(4096)]
buf, size = [], 0
while size < n:
    line = " ".join(r.choice(words) for _ in range(12)) + "\n"
    buf.append(line)
    size += len(line)
open(out, "w").write("".join(buf)[:n])
PY
}

# mount_stat GROUP FIELD: one of the mount's counters (qextfs status --json).
mount_stat() {
    "$QEXTFS_BIN" status "$MNT" --json | python3 -c 'import json,sys; print(int(json.load(sys.stdin)[sys.argv[1]][sys.argv[2]]))' "$1" "$2"
}

# cache_stat FIELD: the mount's block cache counter.
cache_stat() {
    mount_stat cache "$1"
}

# file_requests_are N: the tenant served exactly N per-file reads since the last reset.
file_requests_are() {
    [ "$(tenant_count "GET /extensions/{id}/file/{path}")" -eq "$1" ]
}

# direct_reads FILE OFFSET...: reads 128 KiB at each offset through one O_DIRECT handle, so
# each read reaches qextfs as one request in that order, with no kernel read-ahead.
direct_reads() {
    python3 - "$@" <<'PY'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 131072)
for off in sys.argv[2:]:
    os.preadv(fd, [buf], int(off))
os.close(fd)
PY
}

@test "reading a 2 MB file twice downloads it once" {
    seed=$BATS_TEST_TMPDIR/seed
    mkdir -p "$seed/big"
    echo '{"name":"big","type":"visualization","version":"1.0.0"}' >"$seed/big/big.qext"
    compressible 2097152 "$seed/big/data.txt"
    tenant_start --seed "$seed" --api-key "$TEST_KEY"
    mount_start
    tenant_reset_stats
    cmp "$MNT/big/data.txt" "$seed/big/data.txt"
    cmp "$MNT/big/data.txt" "$seed/big/data.txt"
    # without the kernel's pages the third read is the block cache's
    misses=$(cache_stat misses)
    echo 3 >/proc/sys/vm/drop_caches
    cmp "$MNT/big/data.txt" "$seed/big/data.txt"
    a=$(tenant_count "GET /extensions/{id}/file")
    f=$(tenant_count "GET /extensions/{id}/file/{path}")
    echo "archives=$a files=$f misses=$misses hits=$(cache_stat hits) bytes=$(cache_stat bytes)"
    [ $((a + f)) -eq 1 ]
    [ "$(cache_stat bytes)" -ge 2097152 ]
    [ "$(cache_stat misses)" -eq "$misses" ]
    [ "$(cache_stat hits)" -ge 16 ]
}

# seed_big BYTES: $seed holds one extension "big" with a random data.bin of BYTES.
seed_big() {
    seed=$BATS_TEST_TMPDIR/seed
    mkdir -p "$seed/big"
    echo '{"name":"big","type":"visualization","version":"1.0.0"}' >"$seed/big/big.qext"
    head -c "$1" /dev/urandom >"$seed/big/data.bin"
}

@test "reading through the per-file endpoint with --ranges downloads a big file once" {
    seed_big 6000000
    tenant_start --seed "$seed" --ranges --api-key "$TEST_KEY"
    mount_start
    ls -l "$MNT/big" >/dev/null
    tenant_reset_stats
    cmp "$MNT/big/data.bin" "$seed/big/data.bin"
    cmp "$MNT/big/data.bin" "$seed/big/data.bin"
    a=$(tenant_count "GET /extensions/{id}/file")
    f=$(tenant_count "GET /extensions/{id}/file/{path}")
    echo "archives=$a files=$f"
    [ "$a" -eq 0 ]
    [ "$f" -ge 1 ] && [ "$f" -le 8 ]
}

@test "a per-file endpoint that ignores Range: a big file reads right, in a few requests, in bounded memory" {
    seed_big 40000000
    # the archive endpoint honours Range (so reads go per file), the per-file one does not
    tenant_start --seed "$seed" --ranges --api-key "$TEST_KEY"
    tenant_fault whole_files=1
    mount_start -o cache_size=16M
    ls -l "$MNT/big" >/dev/null
    tenant_reset_stats
    cmp "$MNT/big/data.bin" "$seed/big/data.bin"
    a=$(tenant_count "GET /extensions/{id}/file")
    f=$(tenant_count "GET /extensions/{id}/file/{path}")
    echo "archives=$a files=$f"
    # Each answer is the whole file: it fills half the cache from where the reader is, then
    # is cut off. 40 MB take about 40/8 requests, twice that when the kernel's parallel
    # reads and the fetch-ahead each start one (before: 176 requests, 215 MB peak RSS).
    hwm=$(awk '/VmHWM/ {print $2}' /proc/$QEXTFS_PID/status)
    echo "peak RSS ${hwm} kB"
    [ "$a" -eq 0 ]
    [ "$f" -ge 2 ] && [ "$f" -le 16 ]
    if [[ "$QEXTFS_BIN" != */asan/* ]]; then
        [ "$hwm" -lt $(((16 + 32) * 1024)) ]
    fi
}

@test "a per-file answer shorter than the archive lists is EIO, never short or wrong bytes" {
    seed_big 20000000
    echo 'small file, whole' >"$seed/big/small.txt"
    tenant_start --seed "$seed" --ranges --api-key "$TEST_KEY"
    tenant_fault whole_files=2 # the whole file, 1000 bytes short
    mount_start -o cache_size=16M
    got=$BATS_TEST_TMPDIR/got
    for f in data.bin small.txt; do
        run bash -c "cat '$MNT/big/$f' >'$got'"
        echo "$f: $status: $output"
        [ "$status" -ne 0 ]
        [[ "$output" == *"Input/output error"* ]]
        # whatever arrived before the error is the file's own start
        n=$(stat -c %s "$got")
        [ "$n" -lt "$(stat -c %s "$seed/big/$f")" ]
        cmp -n "$n" "$got" "$seed/big/$f"
        grep -q "reading $f: the service sent fewer bytes than the archive lists" "$QEXTFS_LOG"
    done
}

@test "a sequential reader gets the next chunk fetched ahead; random reads fetch nothing extra" {
    seed_big 6000000
    head -c 6000000 /dev/urandom >"$seed/big/other.bin"
    # --ranges and an archive over 2 MB: the file is read from /file/{path}, 1 MiB at a time
    tenant_start --seed "$seed" --ranges --api-key "$TEST_KEY"
    mount_start
    ls -l "$MNT/big" >/dev/null
    tenant_reset_stats
    # two reads in a row at the start: only the first 1 MiB chunk is asked for, and the
    # second read going on from the first has the next chunk fetched in the background
    direct_reads "$MNT/big/data.bin" 0 131072
    wait_for file_requests_are 2
    [ "$(mount_stat ahead chunks)" -eq 1 ]
    # the reader finds it there: the rest of chunk 1 costs no request, and going on into it
    # queues chunk 2
    direct_reads "$MNT/big/data.bin" 1048576 1179648
    wait_for file_requests_are 3
    [ "$(mount_stat ahead chunks_queued)" -eq 2 ]
    # random reads through one handle (backwards, then a jump) queue nothing: one request
    # for each of chunks 5, 3 and 4
    direct_reads "$MNT/big/data.bin" 5242880 3145728 4718592
    [ "$(mount_stat ahead chunks_queued)" -eq 2 ]
    file_requests_are 6
    cmp "$MNT/big/data.bin" "$seed/big/data.bin"
    file_requests_are 6
    # a plain copy with the kernel's own read-ahead racing the workers: every byte right,
    # chunks queued ahead, and still each chunk fetched once
    tenant_reset_stats
    queued=$(mount_stat ahead chunks_queued)
    cmp "$MNT/big/other.bin" "$seed/big/other.bin"
    echo "queued=$(($(mount_stat ahead chunks_queued) - queued)) ahead=$(mount_stat ahead chunks)"
    [ "$(mount_stat ahead chunks_queued)" -gt "$queued" ]
    file_requests_are 6
}

@test "the per-file endpoint reads names with #, %, ?, spaces and non-ASCII byte for byte" {
    seed=$BATS_TEST_TMPDIR/seed
    mkdir -p "$seed/odd/sub dir"
    echo '{"name":"odd"}' >"$seed/odd/odd.qext"
    # an archive over 2 MB on a --ranges tenant: only its tail is fetched, files come from
    # /file/{path}
    head -c 2500000 /dev/urandom >"$seed/odd/pad.bin"
    names=("a#b.bin" "100%.bin" "what?.bin" "sub dir/with space.bin" "ünïcødé-日本.bin" "%2F.bin")
    for n in "${names[@]}"; do head -c 300000 /dev/urandom >"$seed/odd/$n"; done
    tenant_start --seed "$seed" --ranges --api-key "$TEST_KEY"
    mount_start
    ls -lR "$MNT/odd" >/dev/null
    tenant_reset_stats
    for n in "${names[@]}"; do cmp "$MNT/odd/$n" "$seed/odd/$n"; done
    a=$(tenant_count "GET /extensions/{id}/file")
    f=$(tenant_count "GET /extensions/{id}/file/{path}")
    echo "archives=$a files=$f"
    [ "$a" -eq 0 ]
    [ "$f" -eq ${#names[@]} ]
}

@test "stat and ls -l show sizes and mtimes from the archive" {
    seed=$BATS_TEST_TMPDIR/seed
    mkdir -p "$seed/sized/lib"
    echo '{"name":"sized"}' >"$seed/sized/sized.qext"
    printf 'hello world' >"$seed/sized/lib/a.js"
    touch -d '2021-03-04 05:06:07 UTC' "$seed/sized/lib/a.js"
    tenant_start --seed "$seed" --api-key "$TEST_KEY"
    mount_start
    [ "$(stat -c %s "$MNT/sized/lib/a.js")" = 11 ]
    [ "$(stat -c %Y "$MNT/sized/lib/a.js")" = "$(stat -c %Y "$seed/sized/lib/a.js")" ]
    [ -d "$MNT/sized/lib" ]
}

@test "extended attributes describe each extension" {
    tenant_start --generate 3 --api-key "$TEST_KEY"
    mount_start
    n=$(ls "$MNT" | head -1)
    getfattr -d "$MNT/$n" >"$BATS_TEST_TMPDIR/x"
    cat "$BATS_TEST_TMPDIR/x"
    for a in id name version qextVersion author type description updatedAt model; do
        grep -q "^user.qlik.$a=" "$BATS_TEST_TMPDIR/x"
    done
    [ "$(grep -c '^user.qlik.' "$BATS_TEST_TMPDIR/x")" -eq 9 ]
    getfattr --only-values -n user.qlik.model "$MNT/$n" | python3 -c 'import json,sys; json.load(sys.stdin)'
    [ "$(getfattr --only-values -n user.qlik.type "$MNT/$n")" = visualization ]
}

@test "a new version on the tenant shows after list_ttl" {
    seed=$BATS_TEST_TMPDIR/seed
    mkdir -p "$seed/fresh"
    echo '{"name":"fresh"}' >"$seed/fresh/fresh.qext"
    echo 'version one' >"$seed/fresh/main.js"
    tenant_start --seed "$seed" --api-key "$TEST_KEY"
    mount_start -o list_ttl=1
    [ "$(cat "$MNT/fresh/main.js")" = "version one" ]
    echo 'version two, longer' >"$seed/fresh/main.js"
    (cd "$seed/fresh" && zip -qr "$BATS_TEST_TMPDIR/new.zip" .)
    tenant_put fresh "$BATS_TEST_TMPDIR/new.zip"
    wait_for bash -c "[ \"\$(cat '$MNT/fresh/main.js')\" = 'version two, longer' ]"
}

# same_size_zip OUT BYTE: an extension "same" whose data.bin is 3 MiB of one seeded random
# stream (BYTE picks it), with a fixed DOS mtime and no extended timestamp: two such archives
# differ only in their bytes, never in size or mtime.
same_size_zip() {
    python3 - "$1" "$2" <<'PY'
import random, sys, zipfile
out, seed = sys.argv[1], int(sys.argv[2])
data = random.Random(seed).randbytes(3 << 20)
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
    z.writestr(zipfile.ZipInfo("same.qext", (2020, 1, 2, 3, 4, 6)), '{"name":"same"}')
    z.writestr(zipfile.ZipInfo("data.bin", (2020, 1, 2, 3, 4, 6)), data)
open(out + ".data", "wb").write(data)
PY
}

@test "a new version of the same size and mtime shows its new bytes; the kernel keeps pages while unchanged" {
    seed=$BATS_TEST_TMPDIR/seed
    mkdir -p "$seed/same"
    echo '{"name":"same"}' >"$seed/same/same.qext"
    same_size_zip "$BATS_TEST_TMPDIR/v1.zip" 1
    same_size_zip "$BATS_TEST_TMPDIR/v2.zip" 2
    # --ranges and an archive over 2 MB: reads go to the per-file endpoint, and a 1 MB block
    # cache cannot hold the file, so only the kernel's pages can spare a second download
    tenant_start --seed "$seed" --ranges --api-key "$TEST_KEY"
    api PATCH /same -F "file=@$BATS_TEST_TMPDIR/v1.zip;type=application/zip" >/dev/null
    mount_start -o list_ttl=1,cache_size=1M
    cmp "$MNT/same/data.bin" "$BATS_TEST_TMPDIR/v1.zip.data"
    before=$(stat -c '%s %Y' "$MNT/same/data.bin")
    pages_kept "$MNT/same/data.bin" "$BATS_TEST_TMPDIR/v1.zip.data"
    [ "$(tenant_count "GET /extensions/{id}/file")" -eq 0 ]
    # behind the mount's back: same size, same mtime, other bytes
    api PATCH /same -F "file=@$BATS_TEST_TMPDIR/v2.zip;type=application/zip" >/dev/null
    wait_for cmp "$MNT/same/data.bin" "$BATS_TEST_TMPDIR/v2.zip.data"
    [ "$(stat -c '%s %Y' "$MNT/same/data.bin")" = "$before" ]
    # and the new version's pages are kept in turn
    sleep 1.2
    pages_kept "$MNT/same/data.bin" "$BATS_TEST_TMPDIR/v2.zip.data"
}

# pages_kept FILE WANT: reading FILE again right after reading it needs no request, i.e. the
# open kept the kernel's pages. A few tries: this VM's proactive reclaim (DAMON pageout of
# cold pages) can take a page or two between the reads, and each such hole costs a request
# here; an open that drops the pages costs requests every time.
pages_kept() {
    local try
    for try in 1 2 3; do
        cmp "$1" "$2"
        tenant_reset_stats
        cmp "$1" "$2"
        [ "$(tenant_count "GET /extensions/{id}/file/{path}")" -eq 0 ] && return 0
        echo "try $try: the second read needed requests" >&2
    done
    return 1
}

@test "an extension deleted behind the mount's back disappears" {
    tenant_start --generate 3 --api-key "$TEST_KEY"
    mount_start -o list_ttl=1
    n=$(ls "$MNT" | head -1)
    ls "$MNT/$n" >/dev/null
    tenant_curl -X DELETE "$TENANT_URL/api/v1/extensions/$n"
    wait_for bash -c "! ls '$MNT' | grep -qx '$n'"
    run ls "$MNT/$n"
    [ "$status" -ne 0 ]
}

@test "a wrong key gives EACCES and says so in the log" {
    tenant_start --generate 2 --api-key "$TEST_KEY"
    QLIK_API_KEY=wrong-key mount_start
    run ls "$MNT"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Permission denied"* ]]
    grep -q "401 Unauthorized: the API key was refused" "$QEXTFS_LOG"
    ! grep -q "wrong-key" "$QEXTFS_LOG"
}

@test "a missing file is ENOENT" {
    tenant_start --generate 2 --api-key "$TEST_KEY"
    mount_start
    n=$(ls "$MNT" | head -1)
    run cat "$MNT/$n/no-such-file.js"
    [ "$status" -ne 0 ]
    [[ "$output" == *"No such file"* ]]
}

@test "reads stay correct with --fail-every 3 and with 200 ms latency" {
    tenant_start --generate 4 --api-key "$TEST_KEY" --fail-every 3
    mount_start
    copy_and_compare
    mount_stop
    tenant_fault fail_every=0 latency_ms=200
    rm -rf "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/ref"
    MNT= STATE= mount_start
    copy_and_compare
}

@test "with the tenant down, cached files still read and others fail with EIO" {
    tenant_start --generate 3 --api-key "$TEST_KEY"
    mount_start -o list_ttl=1
    a=$(ls "$MNT" | sed -n 1p)
    b=$(ls "$MNT" | sed -n 2p)
    cat "$MNT/$a/$a.js" >"$BATS_TEST_TMPDIR/a.js"
    tenant_stop
    sleep 1.2
    cmp "$MNT/$a/$a.js" "$BATS_TEST_TMPDIR/a.js"
    run timeout 60 cat "$MNT/$b/$b.js"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Input/output error"* ]]
    # never read before: listing its folder needs the archive, and fails the same way
    run timeout 60 ls "$MNT/$b"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Input/output error"* ]]
    grep -q "cannot reach" "$QEXTFS_LOG"
    # the old list still answers
    ls "$MNT" | grep -qx "$b"
}

@test "a hung tenant: uncached reads fail with EIO, each request is tried twice, cached files read" {
    tenant_start --generate 3 --api-key "$TEST_KEY"
    mount_start -o list_ttl=1,timeout=2
    a=$(ls "$MNT" | sed -n 1p)
    b=$(ls "$MNT" | sed -n 2p)
    cat "$MNT/$a/$a.js" >"$BATS_TEST_TMPDIR/a.js"
    tenant_fault hang=1
    sleep 1.2
    tenant_reset_stats
    run timeout 120 cat "$MNT/$b/$b.js"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Input/output error"* ]]
    grep "timed out after 2 s" "$QEXTFS_LOG"
    l=$(tenant_count "GET /extensions")
    z=$(tenant_count "GET /extensions/{id}/file")
    f=$(tenant_count "GET /extensions/{id}/file/{path}")
    echo "lists=$l archives=$z files=$f"
    # one try and one retry per request, not max_retries whole timeouts
    [ "$z" -eq 2 ] && [ "$f" -eq 0 ]
    [ "$l" -ge 2 ] && [ "$l" -le 4 ] && [ $((l % 2)) -eq 0 ]
    cmp "$MNT/$a/$a.js" "$BATS_TEST_TMPDIR/a.js"
    tenant_fault hang=0
}

@test "getattr on the root and on extension dirs makes no request while the list is fresh" {
    tenant_start --generate 4 --api-key "$TEST_KEY"
    mount_start -o list_ttl=60
    ls "$MNT" >/dev/null
    tenant_reset_stats
    for d in "$MNT"/*; do stat "$d" >/dev/null; done
    stat "$MNT" >/dev/null
    total=$(tenant_stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
    [ "$total" -eq 0 ]
}

@test "security and ACL xattrs are not supported (ls stops asking) and make no request; user ones still read" {
    tenant_start --generate 2 --api-key "$TEST_KEY"
    mount_start
    n=$(ls "$MNT" | head -1)
    ls -l "$MNT/$n" >/dev/null
    tenant_reset_stats
    # ENOTSUP, not "No such attribute": ls and cp take it as "this device has none" and stop
    # asking for every other file, where ENODATA would cost a round trip per name and file.
    run getfattr -n security.selinux "$MNT/$n/$n.qext"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Operation not supported"* ]]
    run getfattr -n system.posix_acl_access "$MNT/$n"
    [[ "$output" == *"Operation not supported"* ]]
    run getfattr -n trusted.x "$MNT/$n"
    [[ "$output" == *"Operation not supported"* ]]
    total=$(tenant_stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
    [ "$total" -eq 0 ]
    [ "$(getfattr --only-values -n user.qlik.type "$MNT/$n")" = visualization ]
    run getfattr -n user.nothing "$MNT/$n"
    [[ "$output" == *"No such attribute"* ]]
}

@test "fetched archives stay within -o disk_cache; one let go is fetched again when needed" {
    seed=$BATS_TEST_TMPDIR/seed
    for i in 1 2 3 4 5 6; do
        mkdir -p "$seed/arc$i"
        echo "{\"name\":\"arc$i\"}" >"$seed/arc$i/arc$i.qext"
        head -c 3000000 /dev/urandom >"$seed/arc$i/data.bin"
    done
    tenant_start --seed "$seed" --api-key "$TEST_KEY"
    # a 1M block cache cannot hold a file: every read needs the archive
    mount_start -o disk_cache=8M,cache_size=1M
    for i in 1 2 3 4 5 6; do
        cmp "$MNT/arc$i/data.bin" "$seed/arc$i/data.bin"
        [ "$(mount_stat archives bytes)" -le $((8 << 20)) ]
    done
    [ "$(mount_stat archives limit)" -eq $((8 << 20)) ]
    [ "$(mount_stat archives let_go)" -ge 4 ]
    # what is on disk: the kept archives, and none of those let go
    on_disk=$(du -sb "$STATE"/cache-* | awk '{s += $1} END {print s}')
    echo "on disk: $on_disk"
    [ "$on_disk" -le $((8 << 20)) ]
    # and in blocks: what a download allocated ahead of its writes was given back
    allocated=$(du -s --block-size=1 "$STATE"/cache-* | awk '{s += $1} END {print s}')
    echo "allocated: $allocated"
    [ "$allocated" -le $(((8 << 20) + (64 << 10))) ]
    tenant_reset_stats
    cmp "$MNT/arc1/data.bin" "$seed/arc1/data.bin"
    [ "$(tenant_count "GET /extensions/{id}/file")" -eq 1 ]
    "$QEXTFS_BIN" status "$MNT" | grep -E '^archives: +[0-9.]+ of 8.0 MiB on disk, [0-9]+ let go'
}

@test "the block cache bounds memory: reading 3x cache_size keeps RSS under cache_size + 32 MB" {
    # ASan's quarantine holds freed memory on purpose: RSS says nothing about the cache there.
    [[ "$QEXTFS_BIN" != */asan/* ]] || skip "RSS is not meaningful under AddressSanitizer"
    seed=$BATS_TEST_TMPDIR/seed
    # compressible: deflated entries are read through the block cache (stored ones would be
    # read in place from the local archive and never fill it)
    for i in 1 2 3; do
        mkdir -p "$seed/blob$i"
        echo "{\"name\":\"blob$i\"}" >"$seed/blob$i/blob$i.qext"
        compressible 16000000 "$seed/blob$i/data.txt"
    done
    tenant_start --seed "$seed" --api-key "$TEST_KEY"
    mount_start -o cache_size=16M
    for i in 1 2 3; do cmp "$MNT/blob$i/data.txt" "$seed/blob$i/data.txt"; done
    # the cache filled up to its bound and went on evicting
    [ "$(cache_stat capacity)" -eq $((16 << 20)) ]
    [ "$(cache_stat bytes)" -ge $((8 << 20)) ]
    [ "$(cache_stat bytes)" -le $((16 << 20)) ]
    # every block of the 48 MB was looked up there (read requests are at most 128 KiB)
    [ $(($(cache_stat hits) + $(cache_stat misses))) -ge $((48000000 / (128 << 10))) ]
    hwm=$(awk '/VmHWM/ {print $2}' /proc/$QEXTFS_PID/status)
    echo "peak RSS ${hwm} kB"
    [ "$hwm" -lt $(( (16 + 32) * 1024 )) ]
}
