#!/usr/bin/env bash
# bench.sh — qextfs benchmark (`make bench`; not part of `make check`).
#
# What it measures. Nine workloads on the synthetic data set of ../shared/bench/gen_dataset.sh
# (120 extensions, ~77 MB, plus big-ext with a 64 MiB big.bin), served by the bundled fake
# tenant (build/fake-tenant) on 127.0.0.1:
#   W1  ls -lR of the whole mount, cold          W6  find -type f, warm
#   W2  cp -r of the whole tree, cold            W7  vim-style save in the largest (~1-2 MB)
#   W3  cat of the 64 MiB big.bin, cold              extension: open O_TRUNC, write 50 KB, fsync,
#   W4  the same, warm                               close; the cell is the fsync latency
#   W5  2,000 random 4 KiB-aligned 4 KiB preads  W8  cp -r of the 120 extensions into an EMPTY
#       of big.bin (fixed seed), cold and warm       tenant, then unmount and wait for the uploads
#                                                W9  a second rsync -a of an unchanged extension
# W1 and W5 are also run against a fake tenant started with --ranges (rows marked "ranges");
# those rows borrow the other columns from the plain rows.
#
# Columns, measured in the same run, interleaved run by run:
#   qextfs     build/qextfs on a fresh mount (new state_dir) for every cold cell; warm cells
#              repeat the workload right after on the same mount.
#   curl       the raw HTTP bound against the same fake tenant, ONE curl process with keep-alive:
#              W1/W2 every archive (GET /{id}/file, one invocation, many URLs), and for W2 also
#              every file from the per-file endpoint (the row "W2, against curl fetching every
#              file", which the W2 target uses); W3/W4 the
#              per-file endpoint; W5 2,000 ranged GETs (on the --ranges tenant); W7 one PATCH of
#              the same extension's zip; W8 POST of the 120 prebuilt zips.
#   local      the data set directory itself on local disk (W7: a copy on local disk).
#   httpdirfs, rclone (with --peers): nginx serving the data set tree with autoindex on
#              127.0.0.1, mounted with `httpdirfs -f` and `rclone mount :http: --vfs-cache-mode
#              full --read-only`.
# Cold = `echo 3 > /proc/sys/vm/drop_caches` right before the workload (and, for mounts, a
# fresh mount). Output copies go to /dev/shm so the destination disk is not measured.
#
# How to read the table. Each time cell is the median over BENCH_RUNS runs (default 3) with
# min-max in brackets. "MB/s" is the qextfs throughput where the bytes are well defined. "req"
# is the number of HTTP requests the fake tenant (or, for peers, nginx) served during the cell
# (median). "RSS" is qextfs's peak RSS (VmHWM read just before unmount). "q/x" is qextfs's
# median time divided by column x's: below 1.0 qextfs is faster. A cell whose answer was wrong
# (copy differs, digest differs, archive wrong on the tenant, error, hang) shows FAIL, and the
# reason with a log excerpt is listed under "Failures". The "Targets" section says for each
# target of the performance issue whether it holds in this run.
#
# Usage: scripts/bench.sh [--peers] [--quick] [--only W2,W3]
#   --peers   also measure httpdirfs and rclone (installs httpdirfs rclone nginx if missing)
#   --quick   one run per cell, skip W8
#   --only    a comma-separated subset of W1..W9
# Environment: BENCH_RUNS (3), BENCH_PEER_RUNS (runs that also measure the peers; BENCH_RUNS),
# BENCH_TIMEOUT (per command, 600 s), BENCH_QEXTFS_OPTS (extra -o).
# Output: the table on stdout, bench/results/<date>.md and bench/results/latest.md; logs of the
# last run in bench/tmp/logs/.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QEXTFS=${QEXTFS_BIN:-$ROOT/build/qextfs}
FAKE=${FAKE_TENANT_BIN:-$ROOT/build/fake-tenant}
GEN=${BENCH_GEN:-$ROOT/../shared/bench/gen_dataset.sh}
BTMP=$ROOT/bench/tmp
DATASET=$BTMP/dataset
ZIPS=$BTMP/zips
LOGDIR=$BTMP/logs
RESULTS=$ROOT/bench/results
RUNS=${BENCH_RUNS:-3}
PEER_RUNS=${BENCH_PEER_RUNS:-$RUNS}
CELL_TIMEOUT=${BENCH_TIMEOUT:-600}
QOPTS=${BENCH_QEXTFS_OPTS:-}
KEY=bench-key-0123456789abcdef
PREAD_N=2000
PREAD_SEED=4242
W7_BYTES=51200

PEERS=0
QUICK=0
ONLY=""
while [ $# -gt 0 ]; do
    case $1 in
    --peers) PEERS=1 ;;
    --quick) QUICK=1 ;;
    --only)
        [ $# -ge 2 ] || { echo "--only needs a list, e.g. --only W2,W3" >&2; exit 2; }
        ONLY=$2
        shift
        ;;
    --only=*) ONLY=${1#--only=} ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "$QUICK" = 1 ] && RUNS=1
case $RUNS in '' | *[!0-9]* | 0) echo "BENCH_RUNS must be a positive integer" >&2; exit 2 ;; esac

want() { # want W3: is workload W3 selected?
    local w=$1
    if [ -n "$ONLY" ]; then
        [[ ",${ONLY^^}," == *",$w,"* ]]
        return
    fi
    if [ "$QUICK" = 1 ] && [ "$w" = W8 ]; then
        return 1
    fi
    return 0
}

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- temporary state and cleanup ------------------------------------------------------------
mkdir -p "$BTMP" "$RESULTS"
rm -rf "$LOGDIR"
mkdir -p "$LOGDIR"
WORK=$(mktemp -d "$BTMP/run.XXXXXX")
OUT=$(mktemp -d /dev/shm/qextfs-bench.XXXXXX)
RES=$WORK/results.tsv
FAILS=$WORK/failures.md
NOTES=$WORK/notes.md
: >"$RES"
: >"$FAILS"
: >"$NOTES"
QMNT=$WORK/mnt
PMNT=$WORK/pmnt
mkdir -p "$QMNT" "$PMNT"
declare -A FPID=() FPORT=()
QPID=""
PPID_=""
NGX_PID=""
QN=0

cleanup() {
    local rc=$?
    set +e
    if [ -n "$QPID" ]; then
        fusermount3 -u "$QMNT" 2>/dev/null || fusermount3 -uz "$QMNT" 2>/dev/null
        local i
        for i in $(seq 1 300); do alive "$QPID" || break; sleep 0.1; done
        kill -9 "$QPID" 2>/dev/null
    fi
    if [ -n "$PPID_" ]; then
        fusermount3 -u "$PMNT" 2>/dev/null || fusermount3 -uz "$PMNT" 2>/dev/null
        kill "$PPID_" 2>/dev/null
        sleep 0.5
        kill -9 "$PPID_" 2>/dev/null
    fi
    mountpoint -q "$QMNT" 2>/dev/null && fusermount3 -uz "$QMNT" 2>/dev/null
    mountpoint -q "$PMNT" 2>/dev/null && fusermount3 -uz "$PMNT" 2>/dev/null
    local n
    for n in "${!FPID[@]}"; do kill "${FPID[$n]}" 2>/dev/null; done
    [ -n "$NGX_PID" ] && kill "$NGX_PID" 2>/dev/null
    for n in "${!FPID[@]}"; do wait "${FPID[$n]}" 2>/dev/null; done
    [ -n "$NGX_PID" ] && wait "$NGX_PID" 2>/dev/null
    rm -rf "$OUT"
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the python helper (parsing, checks, pread, vim-style save, curl configs, report) --------
BH=$WORK/bh.py
cat >"$BH" <<'PY'
import hashlib, http.client, json, os, random, statistics, sys, time, zipfile

def die(msg):
    print(msg)
    sys.exit(1)

def hreq(port, method, path, key=None):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
    h = {"Authorization": "Bearer " + key} if key else {}
    c.request(method, path, headers=h)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body

def walk(root):
    """{relpath: size} of the files under root, and the set of directories."""
    files, dirs = {}, set()
    for d, dn, fn in os.walk(root):
        rel = os.path.relpath(d, root)
        if rel != ".":
            dirs.add(rel)
        for f in fn:
            p = os.path.join(d, f)
            files[os.path.normpath(os.path.join(rel, f))] = os.path.getsize(p)
    return files, dirs

def cmd_stats(port):
    st, body = hreq(port, "GET", "/__fake/stats")
    if st != 200:
        die("stats: HTTP %d" % st)
    j = json.loads(body)
    br = j.get("by_route", {})
    parts = ["%s=%s" % (k, v) for k, v in sorted(br.items()) if v]
    if j.get("status_429"):
        parts.append("429s=%s" % j["status_429"])
    print("%d\t%s" % (j.get("requests", 0), ",".join(parts) or "-"))

def cmd_reset(port):
    st, _ = hreq(port, "POST", "/__fake/reset")
    if st not in (200, 204):
        die("reset: HTTP %d" % st)

def ext_list(port, key):
    st, body = hreq(port, "GET", "/api/v1/extensions", key)
    if st != 200:
        die("list: HTTP %d" % st)
    j = json.loads(body)
    return j["data"] if isinstance(j, dict) else j

def cmd_ids(port, key):
    for e in ext_list(port, key):
        print("%s\t%s" % (e["id"], e.get("qextFilename") or e.get("name")))

def cmd_freeport():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()

def cmd_lslr(out, top, dataset):
    """Checks the output of `ls -lRN --time-style=+%s TOP` against the data set: every
    directory listed with the same entries, files with the same sizes."""
    want_files, want_dirs = walk(dataset)
    got = {}
    cur = None
    with open(out, "rb") as f:
        lines = f.read().decode("utf-8", "surrogateescape").split("\n")
    for ln in lines:
        if not ln or ln.startswith("total "):
            continue
        if ln.endswith(":") and (ln[:-1] == top or ln[:-1].startswith(top + "/")):
            cur = os.path.relpath(ln[:-1], top)
            continue
        parts = ln.split(None, 6)
        if len(parts) < 7 or cur is None:
            die("lslr: cannot parse line %r" % ln)
        name = parts[6]
        rel = os.path.normpath(os.path.join(cur, name))
        got[rel] = (parts[0][0], int(parts[4]))
    for rel, size in want_files.items():
        g = got.get(rel)
        if g is None:
            die("lslr: %s missing" % rel)
        if g[0] != "-" or g[1] != size:
            die("lslr: %s is %s size %d, expected a file of %d" % (rel, g[0], g[1], size))
    for rel in want_dirs:
        if rel not in got or got[rel][0] != "d":
            die("lslr: directory %s missing" % rel)
    extra = set(got) - set(want_files) - want_dirs
    if extra:
        die("lslr: unexpected entries: %s" % sorted(extra)[:5])
    print("ok")

def cmd_filelist(out, top, dataset):
    want, _ = walk(dataset)
    with open(out, "rb") as f:
        got = [l for l in f.read().decode("utf-8", "surrogateescape").split("\n") if l]
    rel = sorted(os.path.relpath(p, top) for p in got)
    if len(rel) != len(set(rel)):
        die("find: duplicate paths")
    if set(rel) != set(want):
        missing = sorted(set(want) - set(rel))[:3]
        extra = sorted(set(rel) - set(want))[:3]
        die("find: %d paths, expected %d; missing %s extra %s" % (len(rel), len(want), missing, extra))
    print("ok")

def offsets(size, n, seed):
    r = random.Random(int(seed))
    blocks = size // 4096
    return [r.randrange(blocks) * 4096 for _ in range(n)]

def cmd_pread(path, n, seed):
    size = os.path.getsize(path)
    offs = offsets(size, int(n), seed)
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    t0 = time.perf_counter()
    bufs = [os.pread(fd, 4096, o) for o in offs]
    t1 = time.perf_counter()
    os.close(fd)
    for b in bufs:
        h.update(b)
    print("%.6f\t%s" % (t1 - t0, h.hexdigest()))

def cmd_pread_curlcfg(url, key, size, n, seed, cfg):
    with open(cfg, "w") as f:
        offs = offsets(int(size), int(n), seed)
        for i, o in enumerate(offs):
            if i:
                f.write("next\n")
            f.write('url = "%s"\nheader = "Authorization: Bearer %s"\nrange = "%d-%d"\nfail\n'
                    % (url, key, o, o + 4095))

def w7_content(run, nbytes):
    head = ("// qextfs bench W7 save, run %s\n" % run).encode()
    line = b"  var layout = this.layout; render(element, layout.qHyperCube.qDataPages);\n"
    body = head + line * (int(nbytes) // len(line) + 1)
    return body[: int(nbytes)]

def cmd_vimsave(path, run, nbytes):
    data = w7_content(run, nbytes)
    t0 = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
    os.write(fd, data)
    t1 = time.perf_counter()
    os.fsync(fd)
    t2 = time.perf_counter()
    os.close(fd)
    t3 = time.perf_counter()
    print("%.6f\t%.6f\t%s" % (t2 - t1, t3 - t0, hashlib.sha256(data).hexdigest()))

def cmd_w7content(out, run, nbytes):
    with open(out, "wb") as f:
        f.write(w7_content(run, nbytes))

def zip_tree(zpath):
    """{relpath: bytes} of an archive, a single top-level folder stripped."""
    with zipfile.ZipFile(zpath) as z:
        data = {}
        for i in z.infolist():
            if i.filename.endswith("/"):
                continue
            n = i.filename
            if not i.flag_bits & 0x800:  # no UTF-8 flag: zipfile read the bytes as cp437
                try:
                    n = n.encode("cp437").decode("utf-8")
                except UnicodeError:
                    pass
            data[n] = z.read(i)
        names = list(data)
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        t = next(iter(tops))
        data = {n[len(t) + 1:]: v for n, v in data.items()}
    return data

def zip_vs_dir(zpath, d, override=None):
    try:
        got = zip_tree(zpath)
    except Exception as e:
        return "%s: not a readable zip (%s)" % (os.path.basename(zpath), e)
    want, _ = walk(d)
    if set(got) != set(want):
        return "%s: entries differ: missing %s extra %s" % (
            os.path.basename(d), sorted(set(want) - set(got))[:3], sorted(set(got) - set(want))[:3])
    for rel in want:
        src = (override or {}).get(rel, os.path.join(d, rel))
        with open(src, "rb") as f:
            if f.read() != got[rel]:
                return "%s: %s differs" % (os.path.basename(d), rel)
    return None

def cmd_zipcmp(zpath, d, *ov):
    override = dict(o.split("=", 1) for o in ov)
    err = zip_vs_dir(zpath, d, override)
    if err:
        die(err)
    print("ok")

def cmd_zipsdir_check(zdir, mapfile, dataset):
    """The curl W1/W2 downloads: NNN.zip per line of mapfile (NNN<TAB>name)."""
    n = 0
    for ln in open(mapfile, encoding="utf-8"):
        i, name = ln.rstrip("\n").split("\t")
        err = zip_vs_dir(os.path.join(zdir, i + ".zip"), os.path.join(dataset, name))
        if err:
            die(err)
        n += 1
    print("ok %d" % n)

def cmd_archives_curlcfg(port, idsfile, outdir, cfg, mapfile):
    with open(cfg, "w") as f, open(mapfile, "w", encoding="utf-8") as m:
        for i, ln in enumerate(open(idsfile, encoding="utf-8")):
            eid, name = ln.rstrip("\n").split("\t")
            f.write('url = "http://127.0.0.1:%s/api/v1/extensions/%s/file"\n' % (port, eid))
            f.write('output = "%s/%03d.zip"\n' % (outdir, i))
            m.write("%03d\t%s\n" % (i, name))

def cmd_files_curlcfg(port, idsfile, dataset, outdir, cfg):
    """W2's per-file bound: every file of every extension from the per-file endpoint."""
    from urllib.parse import quote
    with open(cfg, "w") as f:
        for ln in open(idsfile, encoding="utf-8"):
            eid, name = ln.rstrip("\n").split("\t")
            top = os.path.join(dataset, name)
            for dp, _, fns in os.walk(top):
                for fn in fns:
                    rel = os.path.relpath(os.path.join(dp, fn), top)
                    f.write('url = "http://127.0.0.1:%s/api/v1/extensions/%s/file/%s"\n'
                            % (port, eid, quote(rel, safe="/")))
                    f.write('output = "%s"\n' % os.path.join(outdir, name, rel).replace('"', '\\"'))

def cmd_post_curlcfg(port, key, zipmap, zipdir, cfg):
    with open(cfg, "w") as f:
        for i, ln in enumerate(open(zipmap, encoding="utf-8")):
            nnn, name = ln.rstrip("\n").split("\t")
            if i:
                f.write("next\n")
            f.write('url = "http://127.0.0.1:%s/api/v1/extensions"\n' % port)
            f.write('header = "Authorization: Bearer %s"\n' % key)
            f.write('form = "file=@\\"%s/%s.zip\\";type=application/zip"\n' % (zipdir, nnn))
            f.write('output = "/dev/null"\nwrite-out = "%{http_code}\\n"\n')

def cmd_tenant_check(port, key, dataset, namesfile, tmpzip):
    names = [l.rstrip("\n") for l in open(namesfile, encoding="utf-8") if l.strip()]
    exts = ext_list(port, key)
    got = {e.get("qextFilename"): e["id"] for e in exts}
    if len(exts) != len(names) or set(got) != set(names):
        die("tenant holds %d extensions, expected %d; missing %s" % (
            len(exts), len(names), sorted(set(names) - set(got))[:3]))
    for name in names:
        st, body = hreq(port, "GET", "/api/v1/extensions/%s/file" % got[name], key)
        if st != 200:
            die("GET %s/file: HTTP %d" % (name, st))
        with open(tmpzip, "wb") as f:
            f.write(body)
        err = zip_vs_dir(tmpzip, os.path.join(dataset, name))
        if err:
            die("tenant archive " + err)
    os.unlink(tmpzip)
    print("ok %d" % len(names))

def cmd_pick(dataset):
    """W7: the largest extension (closest to 2 MB); W9: the one whose name holds spaces."""
    sizes = {}
    for name in sorted(os.listdir(dataset)):
        if name == "big-ext":
            continue
        f, _ = walk(os.path.join(dataset, name))
        sizes[name] = sum(f.values())
    w7 = min(sizes, key=lambda n: abs(sizes[n] - 2 * 1024 * 1024))
    w9 = next((n for n in sizes if " " in n and n != w7), sorted(sizes)[0])
    print("%s\t%d\t%s" % (w7, sizes[w7], w9))

# ----- report --------------------------------------------------------------------------------
ROWS = [  # id, label, bytes for MB/s, borrow other columns from
    ("W1c", "W1 ls -lR, cold", None, None),
    ("W1r", "W1 ls -lR, cold, --ranges tenant", None, "W1c"),
    ("W2c", "W2 cp -r whole tree, cold", "TOTAL", None),
    ("W2f", "W2, against curl fetching every file", "TOTAL", "W2c"),
    ("W3c", "W3 cat 64 MiB, cold", 64 << 20, None),
    ("W4w", "W4 cat 64 MiB, warm", 64 << 20, None),
    ("W5c", "W5 2000 x 4 KiB pread, cold", 2000 * 4096, None),
    ("W5w", "W5 2000 x 4 KiB pread, warm", 2000 * 4096, None),
    ("W5cr", "W5 pread, cold, --ranges tenant", 2000 * 4096, "W5c"),
    ("W5wr", "W5 pread, warm, --ranges tenant", 2000 * 4096, "W5w"),
    ("W6w", "W6 find -type f, warm", None, None),
    ("W7", "W7 vim save: fsync latency", None, None),
    ("W8", "W8 cp -r 120 ext to empty tenant + unmount", "W8BYTES", None),
    ("W8n", "W8, qextfs -o tier2=0 (no write pacing)", "W8BYTES", "W8"),
    ("W9", "W9 2nd rsync -a, unchanged ext", None, None),
]
COLS = ["qextfs", "curl", "local", "httpdirfs", "rclone"]

def fmt_t(s):
    if s >= 10:
        return "%.1f s" % s
    if s >= 1:
        return "%.2f s" % s
    if s >= 0.01:
        return "%.0f ms" % (s * 1000)
    return "%.1f ms" % (s * 1000)

def fmt_range(lo, hi):
    def f(s):
        return fmt_t(s).split()[0] if (s >= 1) == (hi >= 1) else fmt_t(s)
    return "%s–%s" % (f(lo), fmt_t(hi))

class Cell:
    def __init__(self, rows):
        self.rows = rows
        self.fail = [r for r in rows if r["status"] != "ok"]
        ok = [r for r in rows if r["status"] == "ok"]
        self.times = [r["secs"] for r in ok]
        self.reqs = [r["req"] for r in rows if r["req"] >= 0]
        self.rss = [r["rss"] for r in rows if r["rss"] > 0]
        self.notes = [r["note"] for r in rows if r["note"] not in ("", "-")]

    @property
    def failed(self):
        return bool(self.fail) or not self.times

    @property
    def med(self):
        return None if self.failed else statistics.median(self.times)

    def text(self):
        if self.failed:
            return "FAIL"
        m = self.med
        if len(self.times) == 1:
            return fmt_t(m)
        return "%s (%s)" % (fmt_t(m), fmt_range(min(self.times), max(self.times)))

    def req(self):
        return "%g" % statistics.median(self.reqs) if self.reqs else "–"

def size_bytes(text):
    """'256M' -> bytes, as qextfs's -o cache_size reads it (K/M/G suffixes)."""
    t = text.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    return int(float(t[:-1] if t[-1:] in "KMG" else t) * mult)

def opt_value(opts, key):
    """The value of key=... in a comma-separated -o list, or None."""
    for kv in opts.split(","):
        if kv.startswith(key + "="):
            return kv[len(key) + 1:]
    return None

def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b

def fr(x):
    return "–" if x is None else ("%.2fx" % x)

def cmd_report(tsv, meta, outmd, failures, notes, peers):
    peers = peers == "1"
    data = {}
    for ln in open(tsv, encoding="utf-8"):
        p = ln.rstrip("\n").split("\t")
        if len(p) < 8:
            continue
        cell, col, run, status, secs, req, rss, note = p[:8]
        data.setdefault((cell, col), []).append(dict(
            run=int(run), status=status, secs=float(secs) if secs not in ("", "-") else 0.0,
            req=float(req) if req not in ("", "-") else -1, rss=int(rss or 0), note=note))
    m = dict(l.rstrip("\n").split("=", 1) for l in open(meta, encoding="utf-8") if "=" in l)
    total = int(m.get("TOTAL_BYTES", "0"))
    w8bytes = int(m.get("W8_BYTES", "0"))

    def get(cell, col, borrow=None):
        if (cell, col) in data:
            return Cell(data[(cell, col)])
        if borrow and (borrow, col) in data:
            return Cell(data[(borrow, col)])
        return None

    cols = ["curl", "local"] + (["httpdirfs", "rclone"] if peers else [])
    hdr = ["workload", "qextfs", "MB/s", "req", "RSS MiB"]
    for c in cols:
        hdr += [c] + (["req"] if c != "local" else []) + ["q/" + c]
    lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    cells = {}
    for rid, label, nbytes, borrow in ROWS:
        q = get(rid, "qextfs", borrow)
        if q is None:
            continue
        cells[rid] = {"qextfs": q}
        nb = total if nbytes == "TOTAL" else w8bytes if nbytes == "W8BYTES" else nbytes
        mbs = "–" if (q.failed or not nb) else "%.0f" % (nb / q.med / 1e6)
        rss = "%.0f" % (max(q.rss) / 1024) if q.rss else "–"
        row = [label, q.text(), mbs, q.req(), rss]
        for c in cols:
            x = get(rid, c, borrow)
            cells[rid][c] = x
            if x is None:
                row += ["n/a"] + (["–"] if c != "local" else []) + ["–"]
                continue
            row += [x.text()] + ([x.req()] if c != "local" else [])
            row += [fr(ratio(q.med, x.med)) if not q.failed else "–"]
        lines.append("| " + " | ".join(row) + " |")

    # Targets.
    tg = []
    def target(name, cond, value, ok):
        if value is None:
            tg.append("- %s: %s — NOT MEASURED" % (name, cond))
        else:
            tg.append("- %s: %s: %s %s" % (name, cond, value, "HOLDS" if ok else "DOES NOT HOLD"))

    def rat(rid, col, inverse=False):
        c = cells.get(rid)
        if not c or c.get(col) is None or c["qextfs"].failed or c[col].failed:
            return None
        r = ratio(c["qextfs"].med, c[col].med)
        return (1 / r) if (inverse and r) else r

    def tline(rid, col, limit, name, cond, le=True, inverse=False):
        if rid not in cells:
            tg.append("- %s: %s — not run" % (name, cond))
            return
        if cells[rid]["qextfs"].failed:
            tg.append("- %s: %s — qextfs cell FAILED" % (name, cond))
            return
        r = rat(rid, col, inverse)
        target(name, cond, None if r is None else "%.2fx" % r,
               r is not None and (r <= limit if le else r >= limit))

    tline("W2f", "curl", 1.0, "W2 cold", "qextfs <= 1.0x curl-every-file")
    tline("W2c", "curl", 1.0, "W2 cold (informational)", "qextfs <= 1.0x curl-every-archive")
    tline("W2c", "rclone", 0.25, "W2 cold", "qextfs <= 0.25x rclone")
    if "W2c" in cells and not cells["W2c"]["qextfs"].failed and cells["W2c"]["qextfs"].reqs:
        r = statistics.median(cells["W2c"]["qextfs"].reqs)
        n = int(m.get("N_EXT", "121"))
        target("W2 cold", "~1 request per extension (<= 1.1)", "%g requests / %d extensions = %.2f" % (r, n, r / n), r / n <= 1.1)
    tline("W1c", "curl", 1.0, "W1 cold", "qextfs <= 1.0x curl fetching every archive")
    tline("W1r", "rclone", 1.0, "W1 cold, --ranges tenant", "qextfs <= 1.0x rclone")
    tline("W3c", "curl", 0.8, "W3 cold", "qextfs throughput >= 0.8x curl single stream", le=False, inverse=True)
    tline("W4w", "local", 2.0, "W4 warm", "qextfs <= 2x local disk")
    tline("W5w", "local", 2.0, "W5 warm", "qextfs <= 2x local disk")
    tline("W5wr", "local", 2.0, "W5 warm, --ranges tenant", "qextfs <= 2x local disk")
    tline("W5c", "rclone", 1.0, "W5 cold", "qextfs <= 1.0x rclone")
    tline("W5cr", "rclone", 1.0, "W5 cold, --ranges tenant", "qextfs <= 1.0x rclone")
    tline("W6w", "local", 3.0, "W6 warm", "qextfs <= 3x local disk")
    tline("W7", "curl", 1.5, "W7 fsync", "qextfs <= 1.5x one curl PATCH")
    tline("W8", "curl", 1.5, "W8", "qextfs <= 1.5x curl POSTing the 120 zips")
    tline("W8n", "curl", 1.5, "W8 with -o tier2=0 (informational)", "qextfs <= 1.5x curl POSTing the 120 zips")
    # Memory: every qextfs cell's peak RSS against cache_size + 32 MB (cache_size as the
    # bench mounted it), and run-to-run growth of a cell's peak (each run is a fresh mount,
    # so growth here means the same work took more memory, not a leak within one process).
    peaks = [(max(c["qextfs"].rss), rid) for rid, c in cells.items() if c.get("qextfs") and c["qextfs"].rss]
    if peaks:
        limit = size_bytes(opt_value(m.get("QOPTS", ""), "cache_size") or "256M") + (32 << 20)
        top, where = max(peaks)
        target("Memory", "qextfs peak RSS <= cache_size + 32 MB in every cell",
               "at most %.0f MiB (%s) against %.0f MiB" % (top / 1024, where, limit / 1048576),
               top * 1024 <= limit)
        rises = [(c["qextfs"].rss[-1] - c["qextfs"].rss[0], rid) for rid, c in cells.items()
                 if c.get("qextfs") and len(c["qextfs"].rss) > 1]
        if rises:
            rise, where = max(rises)
            first = cells[where]["qextfs"].rss[0]
            target("Memory", "no growth across runs (a cell's last peak <= its first + 10% + 2 MiB)",
                   "largest rise %+.1f MiB (%s)" % (rise / 1024, where), rise <= first * 0.1 + 2048)
    if "W9" in cells:
        q = cells["W9"]["qextfs"]
        import re
        nups = max((int(mm.group(1)) for mm in (re.match(r"uploads=(\d+)", n) for n in q.notes) if mm), default=0)
        target("W9", "a second rsync -a of an unchanged extension uploads nothing",
               "%d uploads, %s requests" % (nups, q.req()), nups == 0 and not q.failed)

    body = []
    body.append("# qextfs benchmark — %s\n" % m.get("DATE", ""))
    body.append(m.get("HEADER", "").replace("\\n", "\n") + "\n")
    body.append("\n".join(lines) + "\n")
    body.append("## Targets\n")
    body.append("\n".join(tg) + "\n")
    rq = []
    for rid, label, _, borrow in ROWS:
        if rid in cells:
            for c in ["qextfs", "curl"]:
                x = cells[rid].get(c)
                if x is not None and x.notes and (rid, c) in data:
                    rq.append("- %s, %s: %s" % (rid, c, x.notes[-1]))
    if rq:
        body.append("## Requests and notes (last run)\n")
        body.append("\n".join(rq) + "\n")
    n = open(notes, encoding="utf-8").read().strip()
    if n:
        body.append("## Notes\n")
        body.append(n + "\n")
    f = open(failures, encoding="utf-8").read().strip()
    body.append("## Failures\n")
    body.append((f if f else "None: every cell's answer was checked and correct.") + "\n")
    text = "\n".join(body)
    with open(outmd, "w", encoding="utf-8") as o:
        o.write(text)
    print(text)

CMDS = {k[4:].replace("_", "-"): v for k, v in globals().items() if k.startswith("cmd_")}
if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in CMDS:
        die("usage: bh.py {%s} ..." % ",".join(sorted(CMDS)))
    CMDS[sys.argv[1]](*sys.argv[2:])
PY
bh() { python3 "$BH" "$@"; }

# --- small helpers --------------------------------------------------------------------------
# rec CELL COLUMN RUN STATUS SECONDS REQUESTS RSS_KB NOTE
rec() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RES"; }

# fail CELL COLUMN RUN REASON [LOGFILE]: a wrong answer; keeps the reason and a log excerpt.
fail() {
    local cell=$1 col=$2 run=$3 why=$4 logf=${5:-}
    log "FAIL $cell $col run $run: $why"
    {
        printf -- '- **%s %s, run %s**: %s\n' "$cell" "$col" "$run" "$why"
        if [ -n "$logf" ] && [ -s "$logf" ]; then
            printf '  log %s (errors/warnings, then the last lines):\n\n' "${logf#"$ROOT"/}"
            printf '  ```\n'
            { grep -inE 'error|warn|fail|abort|EIO|sanitizer' "$logf" | head -15 || true; echo '...'; tail -n 15 "$logf"; } |
                cut -c1-300 | sed 's/^/  /'
            printf '  ```\n'
        fi
    } >>"$FAILS"
}

note() { printf -- '- %s\n' "$*" >>"$NOTES"; }

drop_caches() {
    sync
    if ! echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
        if [ -z "${DROP_WARNED:-}" ]; then
            note "drop_caches is not writable here: cold cells are only cold on the qextfs side (fresh mount)"
            DROP_WARNED=1
        fi
    fi
}

# timed CMD...: runs CMD under a timeout (stdout/stderr as redirected by the caller); sets T.
T=0
timed() {
    local t0 t1 rc=0
    t0=$EPOCHREALTIME
    timeout -k 5 "$CELL_TIMEOUT" "$@" || rc=$?
    t1=$EPOCHREALTIME
    T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    return "$rc"
}

# --- fake tenants ---------------------------------------------------------------------------
# fake_start NAME ARGS...: starts build/fake-tenant, sets FPORT[NAME] and FPID[NAME].
fake_start() {
    local name=$1 out port="" i pid
    shift
    out=$WORK/fake-$name.out
    "$FAKE" --port 0 --api-key "$KEY" "$@" >"$out" 2>>"$LOGDIR/fake-$name.log" &
    pid=$!
    FPID[$name]=$pid
    for i in $(seq 1 1200); do
        port=$(sed -n 's/^LISTENING \([0-9]*\).*/\1/p' "$out" | head -1)
        [ -n "$port" ] && break
        alive "$pid" || { cat "$LOGDIR/fake-$name.log" >&2; die "fake tenant $name exited"; }
        sleep 0.1
    done
    [ -n "$port" ] || die "fake tenant $name did not listen within 120 s"
    FPORT[$name]=$port
}

fake_stop() {
    local name=$1 pid=${FPID[$1]:-}
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "FPID[$name]" "FPORT[$name]"
}

fstats() { bh stats "${FPORT[$1]}"; }    # prints "total<TAB>by-route"
freset() { bh reset "${FPORT[$1]}" >/dev/null; }
TURL() { echo "http://127.0.0.1:${FPORT[$1]}/api/v1/extensions"; }

# --- qextfs mounts --------------------------------------------------------------------------
# q_mount TENANT TAG: a fresh mount (new state_dir) of tenant TENANT at $QMNT; log per TAG.
QLOG=""
q_mount() {
    local tenant=$1 tag=$2 i state
    QN=$((QN + 1))
    state=$WORK/state.$QN
    QLOG=$LOGDIR/qextfs.$tag.log
    mkdir -p "$state"
    local o="state_dir=$state"
    [ -n "$QOPTS" ] && o="$o,$QOPTS"
    [ -n "${QEXTRA:-}" ] && o="$o,$QEXTRA"
    QLIK_API_KEY=$KEY "$QEXTFS" --tenant "http://127.0.0.1:${FPORT[$tenant]}" -f -o "$o" "$QMNT" \
        >>"$QLOG" 2>&1 &
    QPID=$!
    for i in $(seq 1 400); do
        mountpoint -q "$QMNT" && return 0
        if ! alive "$QPID"; then
            wait "$QPID" 2>/dev/null || true
            QPID=""
            return 1
        fi
        sleep 0.05
    done
    return 1
}

# q_umount: unmounts and waits (bounded) for the process to upload and exit. Sets QRSS (kB,
# the last VmHWM seen) and returns non-zero when it hung or exited with an error.
# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
    local s
    s=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true)
    [ -n "$s" ] && [ "$s" != Z ]
}

QRSS=0
q_umount() {
    local i hwm rc=0 limit=${1:-$CELL_TIMEOUT}
    [ -n "$QPID" ] || return 1
    QRSS=$(awk '/^VmHWM/ { print $2 }' "/proc/$QPID/status" 2>/dev/null || echo 0)
    fusermount3 -u "$QMNT" 2>>"$QLOG" || { sleep 0.5; fusermount3 -u "$QMNT" 2>>"$QLOG" || true; }
    for i in $(seq 1 $((limit * 20))); do
        alive "$QPID" || break
        hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$QPID/status" 2>/dev/null || true)
        [ -n "$hwm" ] && QRSS=$hwm
        sleep 0.05
    done
    if alive "$QPID"; then
        echo "bench: qextfs did not exit within ${limit}s of unmount" >>"$QLOG"
        kill -9 "$QPID" 2>/dev/null || true
        fusermount3 -uz "$QMNT" 2>/dev/null || true
        rc=124
    fi
    local st=0
    wait "$QPID" 2>/dev/null || st=$?
    QPID=""
    [ "$rc" = 0 ] && [ "$st" != 0 ] && rc=$st
    mountpoint -q "$QMNT" && { fusermount3 -uz "$QMNT" 2>/dev/null || true; }
    return "$rc"
}

# --- peers: nginx + httpdirfs / rclone ------------------------------------------------------
NGX_URL=""
NGX_LOG=""
peers_setup() {
    local miss=()
    command -v httpdirfs >/dev/null || miss+=(httpdirfs)
    command -v rclone >/dev/null || miss+=(rclone)
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || miss+=(nginx)
    if [ ${#miss[@]} -gt 0 ]; then
        log "installing ${miss[*]}"
        if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${miss[@]}" >"$LOGDIR/apt.log" 2>&1 ||
            { apt-get update -qq >>"$LOGDIR/apt.log" 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${miss[@]}" >>"$LOGDIR/apt.log" 2>&1; }; }; then
            note "peers skipped: could not install ${miss[*]} (see bench/tmp/logs/apt.log)"
            PEERS=0
            return 0
        fi
    fi
    local port ngx=/usr/sbin/nginx d=$WORK/nginx
    command -v nginx >/dev/null && ngx=$(command -v nginx)
    port=$(bh freeport)
    mkdir -p "$d/tmp"
    NGX_LOG=$LOGDIR/nginx-access.log
    : >"$NGX_LOG"
    cat >"$d/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $LOGDIR/nginx-error.log;
events { worker_connections 512; }
http {
    access_log $NGX_LOG;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    keepalive_timeout 120s;
    server {
        listen 127.0.0.1:$port;
        root $DATASET;
        location / { autoindex on; autoindex_exact_size on; }
    }
}
EOF
    "$ngx" -p "$d" -c "$d/nginx.conf" >>"$LOGDIR/nginx-error.log" 2>&1 &
    NGX_PID=$!
    local i
    for i in $(seq 1 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.1
    done
    curl -sf -o /dev/null "http://127.0.0.1:$port/" || { note "peers skipped: nginx did not start"; PEERS=0; return 0; }
    NGX_URL="http://127.0.0.1:$port"
    printf '[rclone]\n' >"$WORK/rclone.conf"
    note "httpdirfs runs with --no-range-check: its 1.2.5 range check rejects nginx's valid 206 answers and exits on the first read"
}

ngx_count() { wc -l <"$NGX_LOG"; }

# p_mount httpdirfs|rclone TAG
p_mount() {
    local kind=$1 tag=$2 i
    PN=$((${PN:-0} + 1))
    local plog=$LOGDIR/$kind.$tag.log
    case $kind in
    # --no-range-check: 1.2.5's check misreads nginx's 206 answers and exits on the first read.
    httpdirfs) httpdirfs -f --no-range-check "$NGX_URL/" "$PMNT" >>"$plog" 2>&1 & ;;
    rclone)
        rclone mount :http: "$PMNT" --http-url "$NGX_URL/" --vfs-cache-mode full --read-only \
            --cache-dir "$WORK/rclone-cache.$PN" --config "$WORK/rclone.conf" >>"$plog" 2>&1 &
        ;;
    esac
    PPID_=$!
    for i in $(seq 1 400); do
        mountpoint -q "$PMNT" && return 0
        alive "$PPID_" || { PPID_=""; return 1; }
        sleep 0.05
    done
    return 1
}

p_umount() {
    [ -n "$PPID_" ] || return 0
    fusermount3 -u "$PMNT" 2>/dev/null || fusermount3 -uz "$PMNT" 2>/dev/null || true
    local i
    for i in $(seq 1 200); do alive "$PPID_" || break; sleep 0.05; done
    kill "$PPID_" 2>/dev/null || true
    wait "$PPID_" 2>/dev/null || true
    PPID_=""
    rm -rf "$WORK"/rclone-cache.*
}

# peer_kinds: the peers measured in the current run ($r of the calling loop); with
# BENCH_PEER_RUNS=N only the first N runs measure them (httpdirfs needs minutes per cell).
peer_kinds() {
    [ "$PEERS" = 1 ] && [ "${r:-1}" -le "$PEER_RUNS" ] && echo httpdirfs rclone || true
}

# --- preparation ----------------------------------------------------------------------------
prepare() {
    [ -x "$QEXTFS" ] || die "$QEXTFS missing: run make build/qextfs"
    [ -x "$FAKE" ] || die "$FAKE missing: run make build/fake-tenant"
    [ -e /dev/fuse ] || die "/dev/fuse missing"
    local need
    for need in curl zip unzip rsync python3 fusermount3 timeout; do
        command -v "$need" >/dev/null || die "$need is needed"
    done
    if [ -f "$DATASET/big-ext/big.bin" ] && [ -f "$BTMP/dataset.info" ] &&
        [ "$(find "$DATASET" -mindepth 1 -maxdepth 1 -type d | wc -l)" = 121 ] &&
        [ "$(stat -c %s "$DATASET/big-ext/big.bin")" = 67108864 ]; then
        log "reusing the data set in bench/tmp/dataset"
    else
        log "generating the data set into bench/tmp/dataset"
        "$GEN" "$DATASET" >"$BTMP/dataset.info.new"
        mv "$BTMP/dataset.info.new" "$BTMP/dataset.info"
        rm -rf "$ZIPS"
    fi
    DIGEST=$(sed -n 's/^digest: //p' "$BTMP/dataset.info")
    mapfile -t EXTS < <(find "$DATASET" -mindepth 1 -maxdepth 1 -type d ! -name big-ext -printf '%f\n' | sort)
    N_SMALL=${#EXTS[@]}
    TOTAL_BYTES=$(find "$DATASET" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
    W8_BYTES=$(cd "$DATASET" && find "${EXTS[@]}" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
    BIG_SHA=$(sha256sum "$DATASET/big-ext/big.bin" | cut -d' ' -f1)
    PREAD_SHA=$(bh pread "$DATASET/big-ext/big.bin" "$PREAD_N" "$PREAD_SEED" | cut -f2)
    local pick
    pick=$(bh pick "$DATASET")
    W7_EXT=$(cut -f1 <<<"$pick")
    W7_SIZE=$(cut -f2 <<<"$pick")
    W9_EXT=$(cut -f3 <<<"$pick")
    printf '%s\n' "${EXTS[@]}" >"$WORK/names120"
    # Prebuilt zips of the 120 extensions (top folder = the extension's name, like hello-ext.zip).
    if [ ! -f "$ZIPS/.done" ] || [ "$(cat "$ZIPS/.done")" != "$DIGEST" ]; then
        log "zipping the 120 extensions into bench/tmp/zips"
        rm -rf "$ZIPS"
        mkdir -p "$ZIPS"
        local i=0 e
        for e in "${EXTS[@]}"; do
            (cd "$DATASET" && zip -qrX "$ZIPS/$(printf %03d "$i").zip" "$e")
            printf '%03d\t%s\n' "$i" "$e" >>"$ZIPS/map.tsv"
            i=$((i + 1))
        done
        echo "$DIGEST" >"$ZIPS/.done"
    fi
    W7_ZIP=$ZIPS/$(awk -F'\t' -v n="$W7_EXT" '$2 == n { print $1 }' "$ZIPS/map.tsv").zip
}

start_tenants() {
    log "starting fake tenants (seeding takes a few seconds)"
    if want W1 || want W2 || want W3 || want W4 || want W5 || want W6; then
        fake_start main --seed "$DATASET"
        bh ids "${FPORT[main]}" "$KEY" >"$WORK/ids.main"
        [ "$(wc -l <"$WORK/ids.main")" = 121 ] || die "the seeded fake tenant lists $(wc -l <"$WORK/ids.main") extensions, expected 121"
        BIG_ID=$(awk -F'\t' '$2 == "big-ext" { print $1 }' "$WORK/ids.main")
    fi
    if want W1 || want W5; then
        fake_start ranges --seed "$DATASET" --ranges
        bh ids "${FPORT[ranges]}" "$KEY" >"$WORK/ids.ranges"
        BIG_ID_R=$(awk -F'\t' '$2 == "big-ext" { print $1 }' "$WORK/ids.ranges")
    fi
    if want W7 || want W9; then
        fake_start write --seed "$DATASET"
        bh ids "${FPORT[write]}" "$KEY" >"$WORK/ids.write"
    fi
    mkdir -p "$WORK/empty-seed"
    # Prime the fake tenants' own caches (an entry is decompressed once, then kept), so a cold
    # cell is cold on the client side and no column pays the fake's first extraction.
    local t id
    for t in main ranges; do
        [ -n "${FPORT[$t]:-}" ] || continue
        id=$(awk -F'\t' '$2 == "big-ext" { print $1 }' "$WORK/ids.$t")
        curl -s --fail -H "Authorization: Bearer $KEY" -o /dev/null "$(TURL "$t")/$id/file/big.bin" ||
            die "priming $t: GET big.bin failed"
    done
}

# --- workloads ------------------------------------------------------------------------------
# Each qextfs cell: reset the tenant's counters, fresh mount, drop caches, timed workload,
# counters, check, unmount (peak RSS). Columns are interleaved within each run.

# curl every archive of tenant T into $OUT/arch (one process, keep-alive); sets T, CREQ.
curl_archives() {
    local t=$1 cell=$2 r=$3
    rm -rf "$OUT/arch"
    mkdir -p "$OUT/arch"
    bh archives-curlcfg "${FPORT[$t]}" "$WORK/ids.$t" "$OUT/arch" "$WORK/arch.cfg" "$WORK/arch.map"
    freset "$t"
    local rc=0
    timed curl -s --fail -H "Authorization: Bearer $KEY" --config "$WORK/arch.cfg" || rc=$?
    local st why
    st=$(fstats "$t")
    if [ "$rc" != 0 ]; then
        fail "$cell" curl "$r" "curl exited $rc"
        rec "$cell" curl "$r" FAIL - "${st%%$'\t'*}" 0 "${st#*$'\t'}"
    elif why=$(bh zipsdir-check "$OUT/arch" "$WORK/arch.map" "$DATASET"); then
        rec "$cell" curl "$r" ok "$T" "${st%%$'\t'*}" 0 "${st#*$'\t'}"
    else
        fail "$cell" curl "$r" "$why"
        rec "$cell" curl "$r" FAIL - "${st%%$'\t'*}" 0 "$why"
    fi
    rm -rf "$OUT/arch"
}

# curl every file of every extension of tenant T from the per-file endpoint (one process,
# keep-alive), checked against the data set.
curl_files() {
    local t=$1 cell=$2 r=$3 rc=0 st why
    rm -rf "$OUT/files"
    mkdir -p "$OUT/files"
    bh files-curlcfg "${FPORT[$t]}" "$WORK/ids.$t" "$DATASET" "$OUT/files" "$WORK/files.cfg"
    freset "$t"
    drop_caches
    timed curl -s --fail --create-dirs -H "Authorization: Bearer $KEY" --config "$WORK/files.cfg" || rc=$?
    st=$(fstats "$t")
    why=$(diff -rq "$DATASET" "$OUT/files" 2>&1 | head -5 || true)
    if [ "$rc" = 0 ] && [ -z "$why" ]; then
        rec "$cell" curl "$r" ok "$T" "${st%%$'\t'*}" 0 "${st#*$'\t'}"
    else
        fail "$cell" curl "$r" "curl exited $rc; $why"
        rec "$cell" curl "$r" FAIL - "${st%%$'\t'*}" 0 "$why"
    fi
    rm -rf "$OUT/files"
}

# q_cell CELL RUN CHECK_CMD... : records the qextfs cell from T/rc (in QRC) and the tenant stats.
# Used after a timed workload: QRC = its exit status, QT = its tenant.
q_record() {
    local cell=$1 r=$2 rc=$3 st=$4 rss=$5 why=${6:-} extra=${7:-}
    if [ "$rc" != 0 ]; then
        fail "$cell" qextfs "$r" "${why:-exit status $rc}" "$QLOG"
        rec "$cell" qextfs "$r" FAIL - "${st%%$'\t'*}" "$rss" "$extra${st#*$'\t'}"
    else
        rec "$cell" qextfs "$r" ok "$T" "${st%%$'\t'*}" "$rss" "$extra${st#*$'\t'}"
    fi
}

# A workload that failed during the cell (mount failure etc.).
q_mount_or_fail() {
    local t=$1 tag=$2 cell=$3 r=$4
    if ! q_mount "$t" "$tag"; then
        fail "$cell" qextfs "$r" "mount failed" "$QLOG"
        rec "$cell" qextfs "$r" FAIL - - 0 "mount failed"
        [ -n "$QPID" ] && { q_umount 10 || true; }
        return 1
    fi
}

p_mount_or_fail() {
    local kind=$1 tag=$2 cell=$3 r=$4
    if ! p_mount "$kind" "$tag"; then
        fail "$cell" "$kind" "$r" "mount failed" "$LOGDIR/$kind.$tag.log"
        rec "$cell" "$kind" "$r" FAIL - - 0 "mount failed"
        p_umount
        return 1
    fi
}

w1() {
    local r t rc st why n0 k
    for r in $(seq 1 "$RUNS"); do
        for t in main ranges; do
            local cell=W1c
            [ "$t" = ranges ] && cell=W1r
            freset "$t"
            q_mount_or_fail "$t" "$cell.$r" "$cell" "$r" || continue
            drop_caches
            rc=0
            timed ls -lRN --time-style=+%s "$QMNT" >"$OUT/ls.txt" 2>"$OUT/ls.err" || rc=$?
            st=$(fstats "$t")
            why=""
            if [ "$rc" != 0 ]; then
                why="ls exited $rc: $(head -c 300 "$OUT/ls.err")"
            elif ! why=$(bh lslr "$OUT/ls.txt" "$QMNT" "$DATASET"); then
                rc=1
            fi
            q_umount || { [ "$rc" = 0 ] && rc=1 && why="unmount: qextfs hung or exited with an error"; }
            q_record "$cell" "$r" "$rc" "$st" "$QRSS" "$why"
        done
        curl_archives main W1c "$r"
        drop_caches
        rc=0
        timed ls -lRN --time-style=+%s "$DATASET" >"$OUT/ls.txt" || rc=$?
        if [ "$rc" = 0 ] && why=$(bh lslr "$OUT/ls.txt" "$DATASET" "$DATASET"); then
            rec W1c local "$r" ok "$T" - 0 ""
        else
            fail W1c local "$r" "rc=$rc $why"
            rec W1c local "$r" FAIL - - 0 ""
        fi
        for k in $(peer_kinds); do
            p_mount_or_fail "$k" "W1c.$r" W1c "$r" || continue
            drop_caches
            n0=$(ngx_count)
            rc=0
            timed ls -lRN --time-style=+%s "$PMNT" >"$OUT/ls.txt" 2>"$OUT/ls.err" || rc=$?
            n0=$(($(ngx_count) - n0))
            if [ "$rc" = 0 ] && why=$(bh lslr "$OUT/ls.txt" "$PMNT" "$DATASET"); then
                rec W1c "$k" "$r" ok "$T" "$n0" 0 ""
            else
                fail W1c "$k" "$r" "rc=$rc $why $(head -c 200 "$OUT/ls.err")"
                rec W1c "$k" "$r" FAIL - "$n0" 0 ""
            fi
            p_umount
        done
    done
}

w2() {
    local r rc st why n0 k
    for r in $(seq 1 "$RUNS"); do
        freset main
        if q_mount_or_fail main "W2c.$r" W2c "$r"; then
            drop_caches
            rm -rf "$OUT/cp"
            rc=0
            timed cp -r "$QMNT" "$OUT/cp" 2>"$OUT/cp.err" || rc=$?
            st=$(fstats main)
            why=""
            if [ "$rc" != 0 ]; then
                why="cp exited $rc: $(head -c 300 "$OUT/cp.err")"
            else
                why=$(diff -rq "$DATASET" "$OUT/cp" 2>&1 | head -5 || true)
                [ -z "$why" ] || rc=1
            fi
            q_umount || { [ "$rc" = 0 ] && rc=1 && why="unmount: qextfs hung or exited with an error"; }
            q_record W2c "$r" "$rc" "$st" "$QRSS" "$why"
            rm -rf "$OUT/cp"
        fi
        curl_archives main W2c "$r"
        curl_files main W2f "$r"
        drop_caches
        rc=0
        timed cp -r "$DATASET" "$OUT/cp" || rc=$?
        why=$(diff -rq "$DATASET" "$OUT/cp" 2>&1 | head -5 || true)
        if [ "$rc" = 0 ] && [ -z "$why" ]; then rec W2c local "$r" ok "$T" - 0 ""; else
            fail W2c local "$r" "rc=$rc $why"; rec W2c local "$r" FAIL - - 0 ""; fi
        rm -rf "$OUT/cp"
        for k in $(peer_kinds); do
            p_mount_or_fail "$k" "W2c.$r" W2c "$r" || continue
            drop_caches
            n0=$(ngx_count)
            rc=0
            timed cp -r "$PMNT" "$OUT/cp" 2>"$OUT/cp.err" || rc=$?
            n0=$(($(ngx_count) - n0))
            why=$(diff -rq "$DATASET" "$OUT/cp" 2>&1 | head -5 || true)
            if [ "$rc" = 0 ] && [ -z "$why" ]; then rec W2c "$k" "$r" ok "$T" "$n0" 0 ""; else
                fail W2c "$k" "$r" "rc=$rc $why $(head -c 200 "$OUT/cp.err")"
                rec W2c "$k" "$r" FAIL - "$n0" 0 ""
            fi
            rm -rf "$OUT/cp"
            p_umount
        done
    done
}

# cat_check CELL COL RUN FILE [TENANT]: timed cat FILE > $OUT/big, digest checked. Sets CRC, CWHY.
cat_once() {
    local f=$1
    rm -f "$OUT/big"
    CRC=0
    timed cat "$f" >"$OUT/big" 2>"$OUT/cat.err" || CRC=$?
    CWHY=""
    if [ "$CRC" != 0 ]; then
        CWHY="cat exited $CRC: $(head -c 300 "$OUT/cat.err")"
    elif [ "$(sha256sum <"$OUT/big" | cut -d' ' -f1)" != "$BIG_SHA" ]; then
        CRC=1
        CWHY="big.bin digest differs ($(stat -c %s "$OUT/big") bytes read)"
    fi
    rm -f "$OUT/big"
}

w34() {
    local r rc st st2 n0 k t34 rss
    local do3=0 do4=0
    want W3 && do3=1
    want W4 && do4=1
    for r in $(seq 1 "$RUNS"); do
        freset main
        if q_mount_or_fail main "W3c.$r" W3c "$r"; then
            drop_caches
            cat_once "$QMNT/big-ext/big.bin"
            local rc3=$CRC why3=$CWHY t3=$T
            st=$(fstats main)
            freset main
            cat_once "$QMNT/big-ext/big.bin"
            local rc4=$CRC why4=$CWHY t4=$T
            st2=$(fstats main)
            rss=0
            if ! q_umount; then
                [ "$rc3" = 0 ] && rc3=1 && why3="unmount: qextfs hung or exited with an error"
                [ "$rc4" = 0 ] && rc4=1 && why4="unmount: qextfs hung or exited with an error"
            fi
            T=$t3; [ "$do3" = 1 ] && q_record W3c "$r" "$rc3" "$st" "$QRSS" "$why3"
            T=$t4; [ "$do4" = 1 ] && q_record W4w "$r" "$rc4" "$st2" "$QRSS" "$why4"
        fi
        local url
        url="$(TURL main)/$BIG_ID/file/big.bin"
        for t34 in W3c W4w; do
            [ "$t34" = W3c ] && [ "$do3" = 0 ] && continue
            [ "$t34" = W4w ] && [ "$do4" = 0 ] && continue
            freset main
            rm -f "$OUT/big"
            rc=0
            timed curl -s --fail -H "Authorization: Bearer $KEY" -o "$OUT/big" "$url" || rc=$?
            st=$(fstats main)
            if [ "$rc" = 0 ] && [ "$(sha256sum <"$OUT/big" | cut -d' ' -f1)" = "$BIG_SHA" ]; then
                rec "$t34" curl "$r" ok "$T" "${st%%$'\t'*}" 0 "${st#*$'\t'}"
            else
                fail "$t34" curl "$r" "curl rc=$rc or digest differs"
                rec "$t34" curl "$r" FAIL - "${st%%$'\t'*}" 0 ""
            fi
            rm -f "$OUT/big"
        done
        drop_caches
        cat_once "$DATASET/big-ext/big.bin"
        if [ "$do3" = 1 ]; then
            if [ "$CRC" = 0 ]; then rec W3c local "$r" ok "$T" - 0 ""; else fail W3c local "$r" "$CWHY"; rec W3c local "$r" FAIL - - 0 ""; fi
        fi
        cat_once "$DATASET/big-ext/big.bin"
        if [ "$do4" = 1 ]; then
            if [ "$CRC" = 0 ]; then rec W4w local "$r" ok "$T" - 0 ""; else fail W4w local "$r" "$CWHY"; rec W4w local "$r" FAIL - - 0 ""; fi
        fi
        for k in $(peer_kinds); do
            p_mount_or_fail "$k" "W3c.$r" W3c "$r" || continue
            drop_caches
            for t34 in W3c W4w; do
                n0=$(ngx_count)
                cat_once "$PMNT/big-ext/big.bin"
                n0=$(($(ngx_count) - n0))
                [ "$t34" = W3c ] && [ "$do3" = 0 ] && continue
                [ "$t34" = W4w ] && [ "$do4" = 0 ] && continue
                if [ "$CRC" = 0 ]; then rec "$t34" "$k" "$r" ok "$T" "$n0" 0 ""; else
                    fail "$t34" "$k" "$r" "$CWHY"; rec "$t34" "$k" "$r" FAIL - "$n0" 0 ""; fi
            done
            p_umount
        done
    done
}

# pread_once FILE: 2,000 random 4 KiB preads (timed inside the helper); sets T, CRC, CWHY.
pread_once() {
    local out
    CRC=0
    CWHY=""
    out=$(timeout -k 5 "$CELL_TIMEOUT" python3 "$BH" pread "$1" "$PREAD_N" "$PREAD_SEED" 2>"$OUT/pread.err") || CRC=$?
    if [ "$CRC" != 0 ]; then
        T=0
        CWHY="pread helper exited $CRC: $(tail -c 300 "$OUT/pread.err")"
        return
    fi
    T=$(cut -f1 <<<"$out")
    if [ "$(cut -f2 <<<"$out")" != "$PREAD_SHA" ]; then
        CRC=1
        CWHY="pread digest differs from the local file's"
    fi
}

w5() {
    local r t rc st st2 n0 k cc cw url
    for r in $(seq 1 "$RUNS"); do
        for t in main ranges; do
            cc=W5c; cw=W5w
            [ "$t" = ranges ] && cc=W5cr && cw=W5wr
            freset "$t"
            q_mount_or_fail "$t" "$cc.$r" "$cc" "$r" || continue
            drop_caches
            pread_once "$QMNT/big-ext/big.bin"
            local rcc=$CRC whyc=$CWHY tc=$T
            st=$(fstats "$t")
            freset "$t"
            pread_once "$QMNT/big-ext/big.bin"
            local rcw=$CRC whyw=$CWHY tw=$T
            st2=$(fstats "$t")
            if ! q_umount; then
                [ "$rcc" = 0 ] && rcc=1 && whyc="unmount: qextfs hung or exited with an error"
                [ "$rcw" = 0 ] && rcw=1 && whyw="unmount: qextfs hung or exited with an error"
            fi
            T=$tc; q_record "$cc" "$r" "$rcc" "$st" "$QRSS" "$whyc"
            T=$tw; q_record "$cw" "$r" "$rcw" "$st2" "$QRSS" "$whyw"
        done
        # curl: 2,000 ranged GETs of the per-file endpoint in one process (the --ranges tenant).
        url="$(TURL ranges)/$BIG_ID_R/file/big.bin"
        bh pread-curlcfg "$url" "$KEY" 67108864 "$PREAD_N" "$PREAD_SEED" "$WORK/pread.cfg"
        for cc in W5c W5w; do
            freset ranges
            rc=0
            timed curl -s --config "$WORK/pread.cfg" >"$OUT/pread.bin" || rc=$?
            st=$(fstats ranges)
            if [ "$rc" = 0 ] && [ "$(sha256sum <"$OUT/pread.bin" | cut -d' ' -f1)" = "$PREAD_SHA" ]; then
                rec "$cc" curl "$r" ok "$T" "${st%%$'\t'*}" 0 "${st#*$'\t'}"
            else
                fail "$cc" curl "$r" "curl rc=$rc or ranged bytes differ ($(stat -c %s "$OUT/pread.bin") bytes)"
                rec "$cc" curl "$r" FAIL - "${st%%$'\t'*}" 0 ""
            fi
            rm -f "$OUT/pread.bin"
        done
        drop_caches
        for cc in W5c W5w; do
            pread_once "$DATASET/big-ext/big.bin"
            if [ "$CRC" = 0 ]; then rec "$cc" local "$r" ok "$T" - 0 ""; else fail "$cc" local "$r" "$CWHY"; rec "$cc" local "$r" FAIL - - 0 ""; fi
        done
        for k in $(peer_kinds); do
            p_mount_or_fail "$k" "W5c.$r" W5c "$r" || continue
            drop_caches
            for cc in W5c W5w; do
                n0=$(ngx_count)
                pread_once "$PMNT/big-ext/big.bin"
                n0=$(($(ngx_count) - n0))
                if [ "$CRC" = 0 ]; then rec "$cc" "$k" "$r" ok "$T" "$n0" 0 ""; else
                    fail "$cc" "$k" "$r" "$CWHY"; rec "$cc" "$k" "$r" FAIL - "$n0" 0 ""; fi
            done
            p_umount
        done
    done
}

w6() {
    local r rc st why n0 k
    for r in $(seq 1 "$RUNS"); do
        freset main
        if q_mount_or_fail main "W6w.$r" W6w "$r"; then
            find "$QMNT" -type f >/dev/null 2>&1 || true
            freset main
            rc=0
            timed find "$QMNT" -type f >"$OUT/find.txt" 2>"$OUT/find.err" || rc=$?
            st=$(fstats main)
            why=""
            if [ "$rc" != 0 ]; then why="find exited $rc: $(head -c 300 "$OUT/find.err")"
            elif ! why=$(bh filelist "$OUT/find.txt" "$QMNT" "$DATASET"); then rc=1; fi
            q_umount || { [ "$rc" = 0 ] && rc=1 && why="unmount: qextfs hung or exited with an error"; }
            q_record W6w "$r" "$rc" "$st" "$QRSS" "$why"
        fi
        find "$DATASET" -type f >/dev/null
        rc=0
        timed find "$DATASET" -type f >"$OUT/find.txt" || rc=$?
        if [ "$rc" = 0 ] && why=$(bh filelist "$OUT/find.txt" "$DATASET" "$DATASET"); then
            rec W6w local "$r" ok "$T" - 0 ""
        else fail W6w local "$r" "rc=$rc $why"; rec W6w local "$r" FAIL - - 0 ""; fi
        for k in $(peer_kinds); do
            p_mount_or_fail "$k" "W6w.$r" W6w "$r" || continue
            find "$PMNT" -type f >/dev/null 2>&1 || true
            n0=$(ngx_count)
            rc=0
            timed find "$PMNT" -type f >"$OUT/find.txt" 2>/dev/null || rc=$?
            n0=$(($(ngx_count) - n0))
            if [ "$rc" = 0 ] && why=$(bh filelist "$OUT/find.txt" "$PMNT" "$DATASET"); then
                rec W6w "$k" "$r" ok "$T" "$n0" 0 ""
            else fail W6w "$k" "$r" "rc=$rc $why"; rec W6w "$k" "$r" FAIL - "$n0" 0 ""; fi
            p_umount
        done
    done
}

# The tenant's current archive of extension NAME on tenant T into FILE.
tenant_zip() {
    local t=$1 name=$2 f=$3 id
    id=$(awk -F'\t' -v n="$name" '$2 == n { print $1 }' "$WORK/ids.$t")
    curl -s --fail -H "Authorization: Bearer $KEY" -o "$f" "$(TURL "$t")/$id/file"
}

w7() {
    local r rc st why out rel=$W7_EXT.js id
    id=$(awk -F'\t' -v n="$W7_EXT" '$2 == n { print $1 }' "$WORK/ids.write")
    for r in $(seq 1 "$RUNS"); do
        freset write
        if q_mount_or_fail write "W7.$r" W7 "$r"; then
            drop_caches
            cat "$QMNT/$W7_EXT/$rel" >/dev/null 2>&1 || true # vim reads the file first
            freset write
            rc=0
            out=$(timeout -k 5 "$CELL_TIMEOUT" python3 "$BH" vimsave "$QMNT/$W7_EXT/$rel" "$r" "$W7_BYTES" 2>"$OUT/w7.err") || rc=$?
            st=$(fstats write)
            why=""
            T=0
            if [ "$rc" != 0 ]; then
                why="vim-style save failed ($rc): $(tail -c 300 "$OUT/w7.err")"
            else
                T=$(cut -f1 <<<"$out")
            fi
            q_umount || { [ "$rc" = 0 ] && rc=1 && why="unmount: qextfs hung or exited with an error"; }
            if [ "$rc" = 0 ]; then
                bh w7content "$OUT/w7.js" "$r" "$W7_BYTES"
                if ! tenant_zip write "$W7_EXT" "$OUT/w7.zip" || ! why=$(bh zipcmp "$OUT/w7.zip" "$DATASET/$W7_EXT" "$rel=$OUT/w7.js"); then
                    rc=1
                    why="tenant archive after the save: $why"
                fi
            fi
            q_record W7 "$r" "$rc" "$st" "$QRSS" "$why" "whole save $(cut -f2 <<<"$out") s; "
        fi
        # curl: one PATCH of the same extension's zip (puts the original back).
        freset write
        rc=0
        timed curl -s --fail -X PATCH -H "Authorization: Bearer $KEY" -F "file=@$W7_ZIP;type=application/zip" \
            -o /dev/null "$(TURL write)/$id" || rc=$?
        st=$(fstats write)
        why=""
        if [ "$rc" != 0 ]; then why="curl PATCH exited $rc"
        elif ! tenant_zip write "$W7_EXT" "$OUT/w7.zip" || ! why=$(bh zipcmp "$OUT/w7.zip" "$DATASET/$W7_EXT"); then rc=1; fi
        if [ "$rc" = 0 ]; then rec W7 curl "$r" ok "$T" "${st%%$'\t'*}" 0 "${st#*$'\t'}"; else
            fail W7 curl "$r" "$why"; rec W7 curl "$r" FAIL - "${st%%$'\t'*}" 0 ""; fi
        # local: the same save on a copy on local disk.
        rm -rf "$WORK/w7local"
        cp -a "$DATASET/$W7_EXT" "$WORK/w7local"
        sync
        rc=0
        out=$(python3 "$BH" vimsave "$WORK/w7local/$rel" "$r" "$W7_BYTES") || rc=$?
        bh w7content "$OUT/w7.js" "$r" "$W7_BYTES"
        if [ "$rc" = 0 ] && cmp -s "$OUT/w7.js" "$WORK/w7local/$rel"; then
            rec W7 local "$r" ok "$(cut -f1 <<<"$out")" - 0 ""
        else fail W7 local "$r" "local save failed"; rec W7 local "$r" FAIL - - 0 ""; fi
        rm -rf "$WORK/w7local" "$OUT/w7.js" "$OUT/w7.zip"
    done
}

w8() {
    local r rc st why t0 t1 k
    for r in $(seq 1 "$RUNS"); do
        # qextfs: cp -r into an empty tenant, then unmount and wait for every upload; W8 with
        # the defaults, W8n with -o tier2=0 (no client-side pacing of writes, default 100/min).
        local cell
        for cell in W8 W8n; do
        QEXTRA=""
        [ "$cell" = W8n ] && QEXTRA="tier2=0"
        fake_start empty --seed "$WORK/empty-seed"
        if q_mount_or_fail empty "$cell.$r" "$cell" "$r"; then
            drop_caches
            freset empty
            rc=0
            why=""
            t0=$EPOCHREALTIME
            (cd "$DATASET" && timeout -k 5 "$CELL_TIMEOUT" cp -r "${EXTS[@]}" "$QMNT/") 2>"$OUT/cp.err" || rc=$?
            [ "$rc" = 0 ] || why="cp exited $rc: $(head -c 300 "$OUT/cp.err")"
            local tcp=$EPOCHREALTIME
            if ! q_umount; then
                [ "$rc" = 0 ] && rc=1 && why="unmount: qextfs hung (no exit within ${CELL_TIMEOUT}s) or exited with an error"
            fi
            t1=$EPOCHREALTIME
            T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
            st=$(fstats empty)
            if [ "$rc" = 0 ] && ! why=$(bh tenant-check "${FPORT[empty]}" "$KEY" "$DATASET" "$WORK/names120" "$OUT/t.zip"); then
                rc=1
            fi
            q_record "$cell" "$r" "$rc" "$st" "$QRSS" "$why" "$(awk -v a="$t0" -v b="$tcp" -v c="$t1" \
                'BEGIN { printf "cp %.2f s + unmount until uploaded %.2f s; ", b - a, c - b }')"
        fi
        QEXTRA=""
        fake_stop empty
        done
        # curl: POST the 120 prebuilt zips from one process.
        fake_start empty --seed "$WORK/empty-seed"
        bh post-curlcfg "${FPORT[empty]}" "$KEY" "$ZIPS/map.tsv" "$ZIPS" "$WORK/post.cfg"
        drop_caches
        freset empty
        rc=0
        timed curl -s --config "$WORK/post.cfg" >"$OUT/post.codes" || rc=$?
        st=$(fstats empty)
        why=""
        if [ "$rc" != 0 ]; then why="curl exited $rc"
        elif [ "$(grep -c '^20[01]$' "$OUT/post.codes")" != "$N_SMALL" ]; then
            rc=1; why="POST statuses: $(sort "$OUT/post.codes" | uniq -c | tr '\n' ' ')"
        elif ! why=$(bh tenant-check "${FPORT[empty]}" "$KEY" "$DATASET" "$WORK/names120" "$OUT/t.zip"); then rc=1; fi
        if [ "$rc" = 0 ]; then rec W8 curl "$r" ok "$T" "${st%%$'\t'*}" 0 "${st#*$'\t'}"; else
            fail W8 curl "$r" "$why"; rec W8 curl "$r" FAIL - "${st%%$'\t'*}" 0 ""; fi
        fake_stop empty
        # local: cp -r onto local disk and sync.
        rm -rf "$WORK/w8local"
        mkdir -p "$WORK/w8local"
        drop_caches
        rc=0
        t0=$EPOCHREALTIME
        (cd "$DATASET" && cp -r "${EXTS[@]}" "$WORK/w8local/" && sync) || rc=$?
        t1=$EPOCHREALTIME
        T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
        why=""
        for k in "${EXTS[@]}"; do
            diff -rq "$DATASET/$k" "$WORK/w8local/$k" >/dev/null 2>&1 || { why="$k differs"; break; }
        done
        if [ "$rc" = 0 ] && [ -z "$why" ]; then rec W8 local "$r" ok "$T" - 0 ""; else
            fail W8 local "$r" "rc=$rc $why"; rec W8 local "$r" FAIL - - 0 ""; fi
        rm -rf "$WORK/w8local"
    done
}

w9() {
    local r rc st why ups
    for r in $(seq 1 "$RUNS"); do
        # First rsync on one mount (uploads whatever differs), then the measured second one on a
        # fresh mount; requests counted until that mount has unmounted (so uploads count).
        if q_mount_or_fail write "W9.$r.first" W9 "$r"; then
            rsync -a "$DATASET/$W9_EXT/" "$QMNT/$W9_EXT/" 2>>"$QLOG" || true
            q_umount || true
        else
            continue
        fi
        freset write
        q_mount_or_fail write "W9.$r" W9 "$r" || continue
        drop_caches
        rc=0
        timed rsync -a "$DATASET/$W9_EXT/" "$QMNT/$W9_EXT/" 2>"$OUT/rsync.err" || rc=$?
        why=""
        if [ "$rc" != 0 ]; then why="rsync exited $rc: $(head -c 300 "$OUT/rsync.err")"
        elif ! why=$(diff -rq "$DATASET/$W9_EXT" "$QMNT/$W9_EXT" 2>&1 | head -3) || [ -n "$why" ]; then rc=1; fi
        local tt=$T
        q_umount || { [ "$rc" = 0 ] && rc=1 && why="unmount: qextfs hung or exited with an error"; }
        T=$tt
        st=$(fstats write)
        ups=$({ grep -oE '(POST|PATCH) [^=]*=[0-9]+' <<<"$st" || true; } | awk -F= '{ s += $2 } END { print s + 0 }')
        q_record W9 "$r" "$rc" "$st" "$QRSS" "$why" "uploads=$ups; "
        # local: the same on a local copy.
        rm -rf "$WORK/w9local"
        mkdir -p "$WORK/w9local"
        rsync -a "$DATASET/$W9_EXT/" "$WORK/w9local/"
        drop_caches
        rc=0
        timed rsync -a "$DATASET/$W9_EXT/" "$WORK/w9local/" || rc=$?
        if [ "$rc" = 0 ] && diff -rq "$DATASET/$W9_EXT" "$WORK/w9local" >/dev/null; then rec W9 local "$r" ok "$T" - 0 ""; else
            fail W9 local "$r" "rc=$rc"; rec W9 local "$r" FAIL - - 0 ""; fi
        rm -rf "$WORK/w9local"
    done
}

# --- main -----------------------------------------------------------------------------------
prepare
[ "$PEERS" = 1 ] && peers_setup
start_tenants

STARTED=$(date +%s)
want W1 && { log "W1 ls -lR cold"; w1; }
want W2 && { log "W2 cp -r cold"; w2; }
{ want W3 || want W4; } && { log "W3/W4 cat 64 MiB cold/warm"; w34; }
want W5 && { log "W5 2000 random preads cold/warm"; w5; }
want W6 && { log "W6 find warm"; w6; }
want W7 && { log "W7 vim-style save, fsync"; w7; }
want W8 && { log "W8 cp -r into an empty tenant + unmount"; w8; }
want W9 && { log "W9 second rsync -a"; w9; }

# --- report ---------------------------------------------------------------------------------
DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=""
[ -n "$(git -C "$ROOT" status --porcelain -- src 2>/dev/null)" ] && DIRTY=" (src/ has uncommitted changes)"
peers_txt="not measured (run with --peers)"
if [ "$PEERS" = 1 ]; then
    peers_txt="httpdirfs $(httpdirfs --version 2>&1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1 || true), rclone $(rclone version 2>/dev/null | head -1 | awk '{ print $2 }' || true) over nginx $({ /usr/sbin/nginx -v 2>&1 || true; } | grep -oE '[0-9.]+$' || true)"
fi
{
    echo "DATE=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "TOTAL_BYTES=$TOTAL_BYTES"
    echo "W8_BYTES=$W8_BYTES"
    echo "N_EXT=121"
    echo "QOPTS=$QOPTS"
    printf 'HEADER=%s\n' "qextfs $COMMIT$DIRTY · $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r) · runs per cell: $RUNS$([ "$PEERS" = 1 ] && [ "$PEER_RUNS" -lt "$RUNS" ] && echo " (peers: $PEER_RUNS)")$([ "$QUICK" = 1 ] && echo ' (--quick: W8 skipped)')${ONLY:+ · only $ONLY} · $(($(date +%s) - STARTED)) s\\n\\nData set: 121 extensions, $(find "$DATASET" -type f | wc -l) files, $TOTAL_BYTES bytes (digest ${DIGEST:0:16}…). W7 edits $W7_EXT/$W7_EXT.js (extension of $W7_SIZE bytes); W9 syncs \"$W9_EXT\"; W8 copies the 120 extensions without big-ext ($W8_BYTES bytes; big-ext's 64 MiB zip is over the service's 30 MB upload limit). Peers: $peers_txt. $(curl --version | head -1 | cut -d' ' -f1-2).\\n\\nCells: median (min–max) of the runs; req = HTTP requests served during the cell; RSS = qextfs peak (VmHWM); q/x = qextfs time ÷ x's time (below 1.0: qextfs faster). FAIL = a wrong answer, see Failures."
} >"$WORK/meta"

bh report "$RES" "$WORK/meta" "$RESULTS/$DATE.md" "$FAILS" "$NOTES" "$PEERS"
cp "$RESULTS/$DATE.md" "$RESULTS/latest.md"
cp "$RES" "$LOGDIR/results.tsv"
log "written bench/results/$DATE.md and bench/results/latest.md"
