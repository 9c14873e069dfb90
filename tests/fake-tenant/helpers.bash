# helpers.bash: shared by the fake-tenant suites. Loads tests/lib/tenant.bash.
#   jget EXPR [ARGS] < JSON   prints a Python expression over the parsed document d (ARGS
#                             are sys.argv[2:])
#   jassert EXPR... < JSON    fails, naming it, on the first expression over d that is false;
#                             with JB=FILE, b is that file's JSON (a "before" document)
#   mkzip OUT NAME=TEXT...    writes a zip with entries named exactly as given (unsafe
#                             names included); NAME ending in / is a directory entry;
#                             NAME=@FILE takes the content from FILE
#   qext NAME                 a minimal valid .qext body whose display name is NAME
#   body                      the last api_code response body
#   hdr NAME FILE             the value of header NAME in a curl -D dump
#   error_shape STATUS RESOURCE < JSON  fails unless JSON is the reference's whole error
#                             object: title, status, meta{message, resourceName}, traceId
load ../lib/tenant

jget() {
    "$TENANT_PYTHON" -c 'import json,sys; d=json.load(sys.stdin); v=eval(sys.argv[1]); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$@"
}

jassert() {
    "$TENANT_PYTHON" -c '
import json, os, re, sys
d = json.load(sys.stdin)
b = json.load(open(os.environ["JB"])) if os.environ.get("JB") else None
for e in sys.argv[1:]:
    if not eval(e):
        sys.exit("jassert failed: " + e + "\n  in " + json.dumps(d)[:2000])
' "$@"
}

mkzip() {
    "$TENANT_PYTHON" - "$@" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for spec in sys.argv[2:]:
        name, _, text = spec.partition("=")
        info = zipfile.ZipInfo(name, (2024, 5, 6, 7, 8, 10))
        info.compress_type = zipfile.ZIP_DEFLATED
        data = open(text[1:], "rb").read() if text.startswith("@") else text.encode()
        z.writestr(info, b"" if name.endswith("/") else data)
PY
}

qext() {
    printf '{"name":"%s","type":"visualization","version":"1.0.0"}' "$1"
}

body() {
    cat "${API_BODY:-$BATS_TEST_TMPDIR/api-body}"
}

hdr() {
    tr -d '\r' <"$2" | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1) == n {print $2}'
}

error_shape() {
    ERR_STATUS=$1 ERR_RESOURCE=$2 jassert 'set(d) >= {"title", "status", "meta", "traceId"}' \
        'isinstance(d["title"], str) and len(d["title"]) > 0' \
        'd["status"] == int(os.environ["ERR_STATUS"])' \
        'isinstance(d["meta"]["message"], str) and len(d["meta"]["message"]) > 0' \
        'd["meta"]["resourceName"] == os.environ["ERR_RESOURCE"]' \
        're.fullmatch("[0-9a-f]{32}", d["traceId"])'
}
