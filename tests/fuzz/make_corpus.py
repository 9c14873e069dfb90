#!/usr/bin/env python3
"""make_corpus: owns the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

Run once from anywhere; it rewrites the seeds it knows (by file name) and leaves other files,
such as crash reproducers saved from `make fuzz`, alone. The output is checked in; replaying
it is part of `make check` (scripts/check.sh, suite fuzz). Deterministic: no clock, no
randomness without a fixed seed. Valid archives come from the zipfile module; hostile ones
from raw_zip below, which writes whatever the caller says, lies included.
"""
import io
import json
import os
import random
import struct
import zipfile
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
DOS_TIME, DOS_DATE = 0x6000, 0x58A1  # 2024-05-01 12:00:00
UNIX = 3


def out(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- archives ------------------------------------------------------------------------------


def zinfo(name, mode=None, date=(2024, 5, 1, 12, 0, 0), method=zipfile.ZIP_DEFLATED, extra=b""):
    zi = zipfile.ZipInfo(name, date)
    zi.compress_type = method
    if mode is not None:
        zi.create_system = UNIX
        zi.external_attr = mode << 16
    zi.extra = extra
    return zi


def good_zip(entries, comment=b"", force_zip64=False):
    """entries: (ZipInfo or name, bytes) pairs, written with zipfile."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for zi, data in entries:
            if isinstance(zi, str):
                zi = zinfo(zi, 0o40755 if zi.endswith("/") else 0o100644)
            if force_zip64:
                with z.open(zi, "w", force_zip64=True) as f:
                    f.write(data)
            else:
                z.writestr(zi, data)
        z.comment = comment
    return buf.getvalue()


def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def raw_zip(entries, eocd=None, local=True, comment=b""):
    """A zip written field by field. Each entry is a dict: name (bytes), data (the bytes as
    stored), and optionally method, crc, csize, usize (declared), flags, attr (Unix mode),
    extra, cextra (central extra), lname (local name), offset (override). eocd overrides
    fields of the end record: n, size, offset."""
    body = b""
    cd = b""
    for e in entries:
        name = e["name"]
        data = e.get("data", b"")
        method = e.get("method", 0)
        crc = e.get("crc", zlib.crc32(e.get("plain", data)) & 0xFFFFFFFF)
        csize = e.get("csize", len(data))
        usize = e.get("usize", len(e.get("plain", data)))
        flags = e.get("flags", 0)
        extra = e.get("extra", b"")
        cextra = e.get("cextra", extra)
        lname = e.get("lname", name)
        offset = e.get("offset", len(body))
        if local:
            body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, DOS_TIME, DOS_DATE,
                                crc, csize, usize, len(lname), len(extra)) + lname + extra + data
        attr = e.get("attr", 0o100644) << 16
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (UNIX << 8) | 20, 20, flags, method,
                          DOS_TIME, DOS_DATE, crc, csize, usize, len(name), len(cextra), 0, 0, 0,
                          attr, offset) + name + cextra
    eocd = eocd or {}
    n = eocd.get("n", len(entries))
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, eocd.get("size", len(cd)),
                      eocd.get("offset", len(body)), len(comment)) + comment
    return body + cd + end


def stored(name, data=b"x", **kw):
    e = {"name": name.encode() if isinstance(name, str) else name, "data": data}
    e.update(kw)
    return e


def ut_extra(mtime, flags=1):
    return struct.pack("<HHBi", 0x5455, 5, flags, mtime)


def archives():
    t = "archive"
    qext = b'{"name":"My Ext","type":"visualization","version":"1.0.0"}'
    js = b"define([], function () { return {}; });\n"
    out(t, "valid-prefixed.zip", good_zip([
        ("myext/", b""), ("myext/myext.qext", qext), ("myext/myext.js", js),
        ("myext/lib/", b""), ("myext/lib/a.js", js * 20)]))
    out(t, "valid-prefix-implicit.zip", good_zip([
        ("myext/myext.qext", qext), ("myext/myext.js", js), ("myext/lib/a.js", js)]))
    out(t, "valid-flat-stored.zip", good_zip([
        (zinfo("ext.qext", 0o100644, method=zipfile.ZIP_STORED), qext),
        (zinfo("ext.js", 0o100644, method=zipfile.ZIP_STORED), js)]))
    out(t, "valid-dos-attrs.zip", good_zip([(zinfo("a.txt"), b"dos"), (zinfo("d/"), b"")]))
    out(t, "valid-implicit-dirs.zip", good_zip([("a/b/c/d.txt", b"d"), ("a/e.txt", b"e"),
                                                ("f.txt", b"f")]))
    out(t, "valid-zip64.zip", good_zip([("x/a.txt", b"zip64 " * 10), ("x/b.txt", b"b")],
                                       force_zip64=True))
    out(t, "valid-modes.zip", good_zip([
        (zinfo("m/exec.sh", 0o100755), b"#!/bin/sh\n"), (zinfo("m/private", 0o100600), b"p"),
        (zinfo("m/none", 0o100000), b"0"), (zinfo("m/setuid", 0o104755), b"s"),
        (zinfo("m/closed/", 0o40000), b""), (zinfo("m/closed/inner.txt", 0o100644), b"i"),
        (zinfo("m/fifo", 0o10644), b""), (zinfo("m/dev", 0o20644), b"")]))
    out(t, "valid-ut-times.zip", good_zip([
        (zinfo("u/now.txt", 0o100644, extra=ut_extra(1714564800)), b"n"),
        (zinfo("u/neg.txt", 0o100644, extra=ut_extra(-86400)), b"n"),
        (zinfo("u/max.txt", 0o100644, extra=ut_extra(0x7FFFFFFF)), b"m"),
        (zinfo("u/atime-only.txt", 0o100644, extra=ut_extra(5, flags=2)), b"a"),
        (zinfo("u/short.txt", 0o100644, extra=struct.pack("<HHB", 0x5455, 1, 1)), b"s"),
        (zinfo("u/old.txt", 0o100644, date=(1980, 1, 1, 0, 0, 0)), b"o")]))
    out(t, "valid-empty.zip", good_zip([]))
    out(t, "valid-comment.zip", good_zip([("c.txt", b"c")], comment=b"PK\x05\x06 a comment"))
    out(t, "valid-dir-only.zip", good_zip([("X/", b"")]))
    out(t, "valid-utf8-names.zip", good_zip([
        ("ext/\u00e9t\u00e9.js", b"u"), ("ext/\u65e5\u672c.txt", b"j"), ("ext/A b+c%20.js", b"s")]))
    out(t, "valid-1000-entries.zip", good_zip(
        [(zinfo("many/f%04d.js" % i, 0o100644, method=zipfile.ZIP_STORED), b"%d" % i)
         for i in range(1000)]))
    out(t, "valid-deep.zip", good_zip([("a/" * 120 + "x.txt", b"deep")]))
    out(t, "valid-long-component.zip", good_zip([("p/" + "n" * 255, b"255"),
                                                 ("p/" + "m" * 256, b"256")]))
    zeros = bytes(6 << 20)  # past the harness's 4 MiB extraction budget
    out(t, "bomb-honest-6mib.zip", good_zip([("big/zeros.bin", zeros), ("big/after.txt", b"a")]))
    out(t, "bomb-honest-3mib.zip", good_zip([("z/zeros.bin", bytes(3 << 20))]))

    # Names the index must hide.
    out(t, "unsafe-dotdot.zip", raw_zip([stored("../x"), stored("a/../../x"),
                                          stored("ext/../../etc/passwd"), stored(".."),
                                          stored("ok.txt")]))
    out(t, "unsafe-absolute.zip", raw_zip([stored("/abs"), stored("/etc/passwd"),
                                            stored("//double"), stored("ok/a.txt")]))
    out(t, "unsafe-components.zip", raw_zip([
        stored("./a"), stored("a/./b"), stored("a//b"), stored(""), stored("/"),
        stored("a\\b"), stored("C:\\x"), stored("a/.."), stored("a/."), stored("a//"),
        stored(b"nul\x00hidden"), stored("nl\nname"), stored("esc\x1b[31mred"),
        stored("del\x7f"), stored("q" * 256), stored("r/" + "s" * 300 + "/t"),
        stored("long/" + "a/" * 2100 + "z"), stored("fine/name.txt")]))
    link = {"attr": 0o120777}
    out(t, "symlink.zip", raw_zip([
        stored("ext/link", b"../../../etc/passwd", **link),
        stored("ext/dirlink", b"/tmp", **link), stored("ext/dirlink/evil.txt", b"e"),
        stored("ext/a.txt", b"a")]))
    out(t, "symlink-zipfile.zip", good_zip([(zinfo("l/s", 0o120777), b"/etc"),
                                            (zinfo("l/s/x", 0o100644), b"x")]))
    out(t, "duplicates.zip", raw_zip([
        stored("a.txt", b"first"), stored("a.txt", b"second"), stored("d/", b"", attr=0o40755),
        stored("d", b"file named like a dir"), stored("f", b"file"), stored("f/g", b"below"),
        stored("e/"), stored("e/", attr=0o40700), stored("e/x", b"x")]))
    out(t, "prefix-odd.zip", raw_zip([stored("X/", attr=0o40755), stored("X", b"f"),
                                       stored("X/a", b"a"), stored("X/../X/b", b"b")]))
    out(t, "prefix-file-at-root.zip", raw_zip([stored("X/a", b"a"), stored("b", b"b")]))

    # Sizes, checksums and methods that lie.
    big = bytes(1 << 20)
    out(t, "bomb-declared-small.zip", raw_zip([
        {"name": b"b/bomb.bin", "data": deflate(big), "plain": big, "method": 8, "usize": 10}]))
    out(t, "bomb-declared-huge.zip", raw_zip([
        {"name": b"b/huge.bin", "data": deflate(big), "plain": big, "method": 8,
         "usize": 200 << 20}, stored("b/ok", b"ok")]))
    out(t, "bomb-declared-4g.zip", raw_zip([
        {"name": b"b/max.bin", "data": deflate(b"a"), "plain": b"a", "method": 8,
         "usize": 0xFFFFFFFE}]))
    out(t, "lying-larger.zip", raw_zip([stored("l/short.txt", b"0123456789", usize=1000),
                                         stored("l/csize.txt", b"0123456789", csize=5000)]))
    ten = b"x" * 10
    out(t, "lying-larger-deflate.zip", raw_zip([
        {"name": b"l/short.bin", "data": deflate(ten), "plain": ten, "method": 8, "usize": 1000}]))
    out(t, "bad-crc.zip", raw_zip([stored("c/a.txt", b"hello", crc=0x12345678),
                                    {"name": b"c/b.txt", "data": deflate(b"hello" * 100),
                                     "plain": b"hello" * 100, "method": 8, "crc": 1}]))
    out(t, "bad-deflate.zip", raw_zip([{"name": b"c/bad.bin", "data": b"\xff\xfe\xfd" * 10,
                                         "plain": b"x" * 30, "method": 8}]))
    out(t, "encrypted.zip", raw_zip([stored("e/secret.txt", b"\x00" * 12 + b"s", flags=1),
                                      stored("e/plain.txt", b"p")]))
    out(t, "methods-unsupported.zip", raw_zip([
        stored("m/implode", b"i", method=6), stored("m/lzma", b"l", method=14),
        stored("m/bzip2", b"b", method=12), stored("m/zstd", b"z", method=93),
        stored("m/xz", b"x", method=95), stored("m/ppmd", b"p", method=98),
        stored("m/dir/", method=77), stored("m/ok", b"o")]))
    out(t, "method-aes-no-extra.zip", raw_zip([stored("m/aes", b"a", method=99)]))
    aes = struct.pack("<HHH2sBH", 0x9901, 7, 2, b"AE", 3, 8)
    out(t, "method-aes.zip", raw_zip([stored("m/aes", bytes(30), method=99, flags=1, extra=aes),
                                       stored("m/ok", b"o")]))
    out(t, "data-descriptor.zip", raw_zip([stored("dd/a.txt", b"desc", flags=8)]))
    out(t, "local-mismatch.zip", raw_zip([stored("lm/a.txt", b"aaaa", lname=b"lm/OTHER.txt"),
                                           stored("lm/b.txt", b"b", offset=5000)]))
    out(t, "overlapping.zip", raw_zip([stored("o/one", b"same", offset=0),
                                        stored("o/two", b"same", offset=0)], local=True))
    out(t, "extra-ut-overlong.zip", raw_zip([
        stored("x/a", b"a", extra=struct.pack("<HH", 0x5455, 40) + b"\x01"), stored("x/ok")]))
    out(t, "extra-zip64-bogus.zip", raw_zip([
        stored("x/b", b"b", extra=struct.pack("<HH", 0x0001, 8) + b"\xff" * 8), stored("x/ok")]))
    out(t, "extra-zip64-sizes.zip", raw_zip([
        stored("x/z", b"zz", usize=0xFFFFFFFF, csize=0xFFFFFFFF,
               extra=struct.pack("<HHQQ", 0x0001, 16, 2, 2)), stored("x/ok")]))
    out(t, "extra-truncated-header.zip", raw_zip([stored("x/c", b"c", extra=b"\x01"),
                                                  stored("x/ok")]))
    out(t, "extra-central-only.zip", raw_zip([
        stored("x/t", b"t", extra=b"", cextra=ut_extra(1714564800)),
        stored("x/u", b"u", extra=ut_extra(1), cextra=ut_extra(2))]))
    cd_only = raw_zip([stored("%c/" % chr(ord("a") + i) + "a/" * 2040 + "z") for i in range(20)],
                      local=False)
    out(t, "too-many-dirs.zip", cd_only)

    # Broken structure.
    valid = good_zip([("t/a.txt", b"a" * 100), ("t/b.txt", b"b" * 100), ("t/c.txt", b"c")])
    cd_at = valid.rfind(b"PK\x01\x02")
    out(t, "truncated-cd.zip", valid[:cd_at + 30])
    out(t, "truncated-75.zip", valid[:len(valid) * 3 // 4])
    out(t, "truncated-eocd.zip", valid[:-5])
    out(t, "eocd-offset-past-end.zip", raw_zip([stored("a", b"a")], eocd={"offset": 1 << 30}))
    out(t, "eocd-size-past-end.zip", raw_zip([stored("a", b"a")], eocd={"size": 1 << 20}))
    out(t, "eocd-count-65535.zip", raw_zip([stored("a", b"a")], eocd={"n": 65535}))
    out(t, "eocd-count-0.zip", raw_zip([stored("a", b"a")], eocd={"n": 0}))
    out(t, "eocd-only.zip", b"PK\x05\x06" + bytes(18))
    out(t, "two-eocd.zip", raw_zip([stored("first", b"1")]) + raw_zip([stored("second", b"2")]))
    out(t, "empty", b"")
    out(t, "pk-only", b"PK")
    rnd = random.Random(20240501)
    out(t, "garbage.bin", bytes(rnd.getrandbits(8) for _ in range(4096)))
    out(t, "garbage-pk-signatures.bin",
        b"".join(rnd.choice([b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06",
                             b"PK\x06\x07", bytes(rnd.getrandbits(8) for _ in range(7))])
                 for _ in range(300)))
    out(t, "not-a-zip.txt", b"this is a text file, not an archive\n")


# --- JSON ----------------------------------------------------------------------------------

REFERENCE_ITEM = {
    "id": "-N5F29rjbeGdXmTbj3CnZ", "file": {}, "icon": "", "name": "Hello & Co", "tags": ["x"],
    "type": "visualization", "author": "Ann", "bundle": {"id": "b", "name": "B"},
    "userId": "u1", "bundled": False, "license": "MIT", "preview": "", "version": "1.2.0",
    "checksum": "abc123", "homepage": "", "keywords": "", "loadpath": "", "supplier": "",
    "tenantId": "t1", "updateAt": "2024-05-01T10:20:30.123Z",
    "createdAt": "2024-05-01T10:20:30.123Z", "supernova": False, "deprecated": "",
    "repository": "", "description": "says hi", "qextVersion": "1.2.0",
    "dependencies": {"qlik-sense": ">=2.1.x"}, "qextFilename": "hello",
}
REAL_ITEM = {
    "id": "id2", "qextFilename": "nav", "name": "Navigation",
    "updatedAt": "2024-05-01T10:20:30Z", "createdAt": "2024-04-01T00:00:00Z",
    "file": {"contentType": "application/zip", "contentLength": 1234,
             "md5": "d41d8cd98f00b204e9800998ecf8427e", "fileId": "f",
             "originalname": "nav.zip"},
    "tenantId": "t", "userId": "u", "tags": [], "bundled": False,
}


def jsons():
    t = "json"
    j = lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False)
    out(t, "list-reference.json", j({"data": [REFERENCE_ITEM]}))
    out(t, "list-real.json", j({"data": [REAL_ITEM, dict(REAL_ITEM, id="id3",
                                                          qextFilename="nav2")],
                                "links": {"self": {"href": "https://t/api/v1/extensions"}}}))
    out(t, "list-pretty.json", json.dumps({"data": [REFERENCE_ITEM, REAL_ITEM]}, indent=2))
    out(t, "list-empty.json", '{"data":[]}')
    out(t, "model-reference.json", j(REFERENCE_ITEM))
    out(t, "model-real.json", j(REAL_ITEM))
    out(t, "model-minimal.json", '{"id":"a"}')
    nest = lambda d: "[" * d + "]" * d
    out(t, "nesting-60.json", '{"data":[{"id":"n","qextFilename":"n","deep":%s}]}' % nest(57))
    out(t, "nesting-63.json", '{"id":"n","deep":%s}' % nest(62))
    out(t, "nesting-64.json", '{"id":"n","deep":%s}' % nest(63))
    out(t, "nesting-65.json", '{"id":"n","deep":%s}' % nest(64))
    out(t, "nesting-10000.json", "[" * 10000 + "]" * 10000)
    out(t, "nesting-objects.json", '{"a":' * 70 + "1" + "}" * 70)
    out(t, "nesting-in-strings.json",
        '{"id":"s","qextFilename":"s","name":"%s","description":"\\"[{"}' % ("[{" * 100))
    out(t, "nesting-unbalanced.json", "]" * 100 + "[" * 100)
    out(t, "wrong-types.json", j({"data": [
        {"id": 5, "qextFilename": "a"}, {"id": "b", "qextFilename": {}},
        {"id": "c", "qextFilename": "c", "name": 5, "version": [], "author": None,
         "checksum": True, "updatedAt": 12, "file": "md5", "description": {"x": 1}},
        {"id": "d", "qextFilename": "d", "file": {"md5": 7}, "updateAt": ["2024"]},
        {"id": "", "qextFilename": ""}, [1, 2], "str", None, 3.5]}))
    out(t, "wrong-data-object.json", '{"data":{"id":"a","qextFilename":"a"}}')
    out(t, "wrong-data-string.json", '{"data":"[]"}')
    out(t, "wrong-root-array.json", '[{"id":"a","qextFilename":"a"}]')
    out(t, "wrong-root-scalars.json", "null")
    out(t, "wrong-root-number.json", "42")
    out(t, "truncated-list.json", j({"data": [REFERENCE_ITEM, REAL_ITEM]})[:300])
    out(t, "truncated-string.json", '{"id":"abc')
    out(t, "truncated-escape.json", '{"id":"a\\u12')
    out(t, "huge-numbers.json", '{"id":"h","qextFilename":"h","contentLength":1e999999,'
        '"n":-1e400,"big":123456789012345678901234567890,"tiny":1e-999999,"z":-0,'
        '"f":0.000000000000000000000000000001,"e":1E+308}')
    out(t, "unicode-escapes.json",
        '{"id":"\\u00e9\\u65e5\\ud83d\\ude00","qextFilename":"\\u0041\\u002f",'
        '"name":"nul\\u0000after","author":"\\ud800 lone","type":"\\udc00\\ud800",'
        '"description":"\\b\\f\\n\\r\\t\\/\\\\\\""}')
    out(t, "unicode-bad-escape.json", '{"id":"\\uZZZZ","qextFilename":"\\x41"}')
    out(t, "unicode-raw-invalid.json", b'{"id":"\xff\xfe\xc3\x28","qextFilename":"\xed\xa0\x80"}')
    out(t, "bom.json", b"\xef\xbb\xbf" + j({"id": "bom"}).encode())
    out(t, "trailing-garbage.json", '{"id":"a"} x')
    out(t, "trailing-second-value.json", '{"id":"a"}{"id":"b"}')
    out(t, "trailing-nul.json", b'{"id":"a"}\x00garbage')
    out(t, "whitespace-only.json", " \t\r\n ")
    out(t, "duplicate-keys.json", '{"id":"a","id":"b","qextFilename":"x","qextFilename":5}')
    out(t, "times.json", j({"data": [
        {"id": str(i), "qextFilename": "t%d" % i, "updatedAt": s} for i, s in enumerate([
            "2024-05-01T10:20:30Z", "2024-05-01T10:20:30.123456789Z", "2024-05-01 10:20:30",
            "2024-05-01T10:20:30+02:00", "2024-05-01T10:20:30-0130", "2024-02-30T00:00:00Z",
            "1969-12-31T23:59:59Z", "9999-12-31T23:59:60Z", "0000-01-01T00:00:00Z",
            "2024-13-01T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T10:20:30.Z",
            "2024-05-01T10:20:30+24:00", "2024-05-01T10:20:30Zjunk", "2024-05-01", "",
            "not a time", "2024-05-01T10:20:30,5z", "2024/05/01T10:20:30Z",
            "2024-05-01X10:20:30Z", "2024-05-01T10-20-30Z", "2024-05-01T10:20:30+1",
            "2024-05-01T10:20:30+01:xx", "2024-05-01T10:20:30+0160", "2024-05-01T1a:20:30Z",
            "2024-05-01T10:20:30.x"])]}))
    out(t, "checksum-order.json", j({"data": [
        {"id": "a", "qextFilename": "a", "checksum": "", "file": {"md5": ""}, "updateAt": ""},
        {"id": "b", "qextFilename": "b", "file": {"md5": "m"}, "updatedAt": "u"},
        {"id": "c", "qextFilename": "c", "updateAt": "2024-05-01T10:20:30Z"}]}))
    out(t, "many-items.json", j({"data": [
        {"id": "id-%d" % i, "qextFilename": "ext%d" % i, "checksum": "c%d" % i}
        for i in range(300)]}))
    out(t, "empty", b"")


# --- paths ---------------------------------------------------------------------------------


def paths():
    t = "path"
    seeds = {
        "plain.txt": b"/ext/a/b.js",
        "root.txt": b"/",
        "slashes.txt": b"///ext///a//b/",
        "percent-valid.txt": b"a%20b%2Fc%41%7e",
        "percent-lower.txt": b"%e6%97%a5%e6%9c%ac",
        "percent-bare.txt": b"%",
        "percent-short.txt": b"ab%4",
        "percent-bad-hex.txt": b"%zz%g0%0g",
        "percent-nul.txt": b"before%00after",
        "percent-at-end.txt": b"abc%41",
        "percent-double.txt": b"%2541%25%25",
        "raw-nul.txt": b"ext\x00second/part:*.tmp",
        "raw-nuls.txt": b"\x00\x00\x00",
        "dotdot.txt": b"../../etc/passwd\x00a/b",
        "dots.txt": b"a/./b/../c/.\x00.",
        "backslash.txt": b"a\\b\\..\\c",
        "long-component.txt": b"/" + b"x" * 300 + b"/y",
        "long-255.txt": b"n" * 255 + b"/" + b"m" * 255,
        "long-path.txt": b"/ext/" + b"abc/" * 1100,
        "unicode.txt": "/\u00e9t\u00e9/\u65e5\u672c/\U0001f600.js".encode(),
        "invalid-utf8.txt": b"/\xff\xfe/\xc3\x28/\xed\xa0\x80",
        "control.txt": b"/a\n\r\t\x1b[0m\x7f",
        "vim-swap.txt": b"dir/.file.js.swp\x00*.bak:#*#",
        "vim-4913.txt": b"dir/4913",
        "backup.txt": b"dir/file.js~\x00:::",
        "emacs.txt": b"dir/.#file.js\x00#file.js#",
        "macos.txt": b"dir/.DS_Store\x00._resource",
        "globs.txt": b"build/out.js\x00build/*:*.map::*.tmp:",
        "globs-stars.txt": b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\x00*a*a*a*a*a*c",
        "globs-brackets.txt": b"a[b]c\x00[!a-z]*:[:alpha:]:[\\]]",
        "empty": b"",
        "join-empty-first.txt": b"\x00.j",
        "join-empty-second.txt": b"a/b\x00",
        "unreserved.txt": b"ABCxyz019-._~",
        "all-bytes.bin": bytes(range(1, 256)),
    }
    for name, data in seeds.items():
        out(t, name, data)


# --- headers -------------------------------------------------------------------------------


def headers():
    t = "headers"
    seeds = {
        "zero.txt": "0", "small.txt": "7", "spaces.txt": "  \t120 \t", "cap.txt": "60",
        "over-cap.txt": "61", "hour.txt": "3600", "long-max.txt": "9223372036854775807",
        "e20.txt": "100000000000000000000", "negative.txt": "-5", "plus.txt": "+5",
        "fraction.txt": "1.5", "trailing.txt": "3 apples", "hex.txt": "0x10",
        "leading-zeros.txt": "000000000000000000000000000000000000001",
        "date-imf.txt": "Wed, 21 Oct 2015 07:28:00 GMT",
        "date-future.txt": "Fri, 31 Dec 9999 23:59:59 GMT",
        "date-rfc850.txt": "Sunday, 06-Nov-94 08:49:37 GMT",
        "date-asctime.txt": "Sun Nov  6 08:49:37 1994",
        "date-2038.txt": "Tue, 19 Jan 2038 03:14:08 GMT",
        "date-far.txt": "Thu, 01 Jan 292277026596 00:00:00 GMT",
        "date-tz.txt": "Wed, 21 Oct 2099 07:28:00 +1400",
        "date-broken.txt": "Wed, 32 Foo 2015 25:61:61 XYZ",
        "garbage.txt": "garbage", "empty": "", "whitespace.txt": " \t ",
        "status-404.bin": struct.pack("<q", 404), "status-429.bin": struct.pack("<q", 429),
        "status-neg.bin": struct.pack("<q", -1), "status-max.bin": struct.pack("<q", 2**63 - 1),
        "status-text.txt": "503 Service Unavailable",
    }
    for name, data in seeds.items():
        out(t, name, data)


# --- multipart -----------------------------------------------------------------------------


def multipart():
    """Inputs of fuzz_multipart: DATA_JSON NUL FILE_NAME NUL ZIP_BYTES."""
    t = "multipart"
    model = json.dumps({"name": "Sales Funnel", "qextFilename": "sales-funnel", "tags": ["a"],
                        "description": "caf\u00e9 \u2013 \"quoted\" \\ back\r\nslash"},
                       ensure_ascii=False).encode()
    small = good_zip([("sales-funnel/sales-funnel.qext", b'{"name":"Sales Funnel"}'),
                      ("sales-funnel/sales-funnel.js", b"define([], function () {});\r\n")])
    rnd = random.Random(7)
    noise = bytes(rnd.randrange(256) for _ in range(80 * 1024))  # past MHD's 64 KiB buffer

    def mp(data, name, zip_bytes):
        return data + b"\0" + name + b"\0" + zip_bytes

    seeds = {
        # sent, and read back unchanged
        "upload.bin": mp(b"{}", b"upload.zip", small),
        "model.bin": mp(model, b"sales-funnel-20240501T120000.zip", small),
        "trash-name.bin": mp(b"{}", b"my ext-2024-05-01T12:00:00Z.zip", small),
        "utf8-name.bin": mp(b"{}", "select2.min \u2013 original.zip".encode(), small),
        "high-bytes-name.bin": mp(b"{}", bytes(range(0x80, 0x100)), b"PK"),
        "percent-name.bin": mp(b"{}", b"a%22b%0D%0A%00.zip", b"PK"),
        "params-in-name.bin": mp(b"{}", b"x.zip; name=data; filename=y.zip", b"PK"),
        "header-text-in-name.bin": mp(b"{}", b"x.zip Content-Type: text/html", b"PK"),
        "name-255.bin": mp(b"{}", b"n" * 251 + b".zip", b"PK"),
        "boundary-like-data.bin": mp(b'{"a":"\r\n--\r\n------------------------x\r\n\r\n--"}',
                                     b"b.zip", b"\r\n--\r\n--\r\n\r\n"),
        "crlf-zip.bin": mp(b"{}", b"c.zip", b"\r\n" * 1000 + b"--" * 1000 + b"\0" * 1000),
        "big-zip.bin": mp(b"{}", b"big.zip", noise),
        "big-data.bin": mp(b'{"description":"' + b"d" * (70 * 1024) + b'"}', b"d.zip", b"PK"),
        "not-json-data.bin": mp(b"not json at all {", b"n.zip", b"PK"),
        "empty-zip.bin": mp(b"{}", b"e.zip", b""),
        "empty-name.bin": mp(b"{}", b"", b"PK"),
        "empty-data.bin": mp(b"", b"e.zip", b"PK"),
        "all-empty.bin": b"\0\0",
        "data-only.bin": b'{"name":"no separators"}',
        "data-and-name.bin": b"{}\0only-a-name.zip",
        "empty": b"",
        # refused before anything is sent
        "quote-name.bin": mp(b"{}", b'a"b.zip', b"PK"),
        "quote-escape-name.bin": mp(b"{}", b'x.zip"; name="data', b"PK"),
        "crlf-header-injection.bin": mp(b"{}", b"x.zip\r\nContent-Type: text/html\r\n\r\nevil",
                                        b"PK"),
        "crlf-part-injection.bin": mp(b"{}", b"x.zip\"\r\n\r\n\r\n--x\r\nContent-Disposition: "
                                      b'form-data; name="data"\r\n\r\n{}', b"PK"),
        "lf-name.bin": mp(b"{}", b"a\nb.zip", b"PK"),
        "cr-name.bin": mp(b"{}", b"a\rb.zip", b"PK"),
        "tab-name.bin": mp(b"{}", b"a\tb.zip", b"PK"),
        "del-name.bin": mp(b"{}", b"a\x7fb.zip", b"PK"),
        "backslash-name.bin": mp(b"{}", b"a\\b.zip", b"PK"),
        "trailing-backslash-name.bin": mp(b"{}", b"x.zip\\", b"PK"),
        "name-256.bin": mp(b"{}", b"n" * 252 + b".zip", b"PK"),
        "name-70k.bin": mp(b"{}", b"n" * (70 * 1024), b"PK"),
    }
    for name, data in seeds.items():
        out(t, name, data)


if __name__ == "__main__":
    archives()
    jsons()
    paths()
    headers()
    multipart()
