#!/bin/bash
# e2e: tar and tar.gz uploads are extracted while they arrive (issue 4:
# written once, not stored and read back).  From the user's side: the
# tree lands unwrapped whatever the order of the form fields; a docker
# save tar stays a whole image.tar (the same bytes when its first entry
# says so, an equivalent tar when only its top level does); a tar refused
# or cut short midway, or over the size limit, answers 4xx and leaves
# nothing; a worker killed mid-stream leaves only a staging directory,
# removed at the next start.  No Docker needed.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/stress-lib.sh"
trap e2e_finish EXIT
DB() { sqlite3 -cmd '.timeout 10000' "$T/var/slipway.db" "$@"; }

export SLIPWAY_NO_DOCKER=1 SLIPWAY_DOCKER_SOCKET=/nonexistent/slipway-test-docker.sock
export SLIPWAY_MAX_UPLOAD=64m
stack_start || exit 1
DATA=$T/var
TOK=$(login admin "$ADMIN_PASSWORD")
AUTH=(-H "Authorization: Bearer $TOK")
staging() { find "$DATA/uploads" -maxdepth 1 -name '*.staging' | wc -l; }
left() {	# left <what>: nothing in var/tmp, no staging directory
	is "$(tmp_list)" "" "$1: var/tmp empty"
	is "$(staging)" 0 "$1: no staging directory"
}

mkdir -p "$T/src/proj/www"
printf 'FROM scratch\nCOPY www /www\n' >"$T/src/proj/Dockerfile"
echo hello >"$T/src/proj/www/index.html"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$T/src/proj/www/blob.bin"
ln -s index.html "$T/src/proj/www/home.html"
tar -czf "$T/wrapped.tar.gz" -C "$T/src" proj
tar -cf "$T/flat.tar" -C "$T/src/proj" .

# ------------------------------------------------------------ trees
st=$(api POST /upload "${AUTH[@]}" -F "file=@$T/wrapped.tar.gz" -F name=wrapped)
is "$st" 202 "a wrapped tar.gz: 202 (file part first)"
ID=$(jget 'd["app_id"]'); is "$(jget 'd["type"]')" docker "  a docker app"
ok $([ -f "$DATA/uploads/$ID/Dockerfile" ]; echo $?) "  unwrapped: Dockerfile at the top"
cmp -s "$T/src/proj/www/blob.bin" "$DATA/uploads/$ID/www/blob.bin"
ok $? "  the 3 MiB file arrived whole"
is "$(readlink "$DATA/uploads/$ID/www/home.html")" index.html "  the symlink kept"
left "wrapped"

st=$(api POST /upload "${AUTH[@]}" -F name=flat -F description=first -F "file=@$T/flat.tar")
is "$st" 202 "a flat tar with the fields before the file: 202"
ID=$(jget 'd["app_id"]')
is "$(DB "SELECT description FROM apps WHERE app_id = '$ID'")" first "  its fields stored"
ok $([ -f "$DATA/uploads/$ID/www/index.html" ]; echo $?) "  its tree in place"
left "flat"

# ------------------------------------------------------------ docker save images
/usr/bin/python3 - "$T" <<'PY'
import hashlib, io, json, os, sys, tarfile
t = sys.argv[1]
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w") as lt:
    d = b"#!/bin/sh\necho hi\n"
    ti = tarfile.TarInfo("hello.sh"); ti.size = len(d); ti.mode = 0o755
    lt.addfile(ti, io.BytesIO(d))
layer = layer.getvalue()
lid = hashlib.sha256(layer).hexdigest()
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + lid]}}).encode()
cid = hashlib.sha256(cfg).hexdigest()
manifest = json.dumps([{"Config": cid + ".json", "RepoTags": ["x:latest"],
                        "Layers": [lid + "/layer.tar"]}]).encode()
def add(tf, name, data=None):
    ti = tarfile.TarInfo(name)
    if data is None:
        ti.type = tarfile.DIRTYPE; ti.mode = 0o755
        tf.addfile(ti)
    else:
        ti.size = len(data); ti.mode = 0o644
        tf.addfile(ti, io.BytesIO(data))
def save(path, first=None):
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tf:
        if first:
            add(tf, first, b"made by hand\n")
        add(tf, lid + "/")
        add(tf, lid + "/VERSION", b"1.0")
        add(tf, lid + "/json", b"{}")
        add(tf, lid + "/layer.tar", layer)
        add(tf, cid + ".json", cfg)
        add(tf, "manifest.json", manifest)
        add(tf, "repositories", b'{"x":{"latest":"%s"}}' % lid.encode())
save(os.path.join(t, "save.tar"))
save(os.path.join(t, "save-readme.tar"), "README")
PY
ok $? "docker save tars made"
st=$(api POST /upload "${AUTH[@]}" -F "file=@$T/save.tar" -F name=saved)
is "$st" 202 "a docker save tar: 202"
ID=$(jget 'd["app_id"]'); is "$(jget 'd["type"]')" image "  an image app"
cmp -s "$T/save.tar" "$DATA/uploads/$ID/image.tar"
ok $? "  image.tar is the uploaded file, byte for byte"
left "docker save"

st=$(api POST /upload "${AUTH[@]}" -F "file=@$T/save-readme.tar" -F name=saved-late)
is "$st" 202 "a docker save tar whose first entry is a README: 202"
ID=$(jget 'd["app_id"]'); is "$(jget 'd["type"]')" image "  still an image app"
names() { tar -tf "$1" 2>/dev/null | sed 's,^\./,,; s,/$,,' | grep -v '^\.\?$' | sort | tr '\n' ' '; }
is "$(names "$DATA/uploads/$ID/image.tar")" "$(names "$T/save-readme.tar")" "  image.tar holds the same entries"
mkdir -p "$T/x1" "$T/x2"
tar -xf "$T/save-readme.tar" -C "$T/x1" 2>/dev/null && tar -xf "$DATA/uploads/$ID/image.tar" -C "$T/x2" 2>/dev/null
diff -r "$T/x1" "$T/x2" >/dev/null
ok $? "  ... with the same content"
is "$(ls -A "$DATA/uploads/$ID")" image.tar "  and nothing else"
left "late docker save"

# ------------------------------------------------------------ refused midway
napps0=$(DB "SELECT count(*) FROM apps"); up0=$(uploads_list)
refused() {	# refused <file> <status> <code regex> <what>
	local st
	st=$(api POST /upload "${AUTH[@]}" -F "file=@$1" -F "name=refused")
	is "$st" "$2" "$4: $2"
	like "$(body)" "\"code\":\"($3)\"" "  $4: JSON error code ($(body | head -c 160))"
	is "$(DB "SELECT count(*) FROM apps")" "$napps0" "  $4: no row"
	is "$(uploads_list)" "$up0" "  $4: nothing new under var/uploads"
	is "$(tmp_list)" "" "  $4: var/tmp empty"
}
cp -a "$T/src/proj" "$T/late"
ln -s /etc "$T/late/zz-etc"
tar -cf "$T/late.tar" -C "$T/late" Dockerfile www zz-etc
refused "$T/late.tar" 400 unsafe "a symlink to /etc after 3 MiB of good entries"
head -c $(( $(stat -c %s "$T/wrapped.tar.gz") * 2 / 3 )) "$T/wrapped.tar.gz" >"$T/cut.tar.gz"
refused "$T/cut.tar.gz" 400 bad_archive "a tar.gz cut short"
mkdir -p "$T/huge"; cp "$T/src/proj/Dockerfile" "$T/huge/"
head -c $((80 * 1024 * 1024)) /dev/urandom >"$T/huge/big.bin"
tar -cf "$T/huge.tar" -C "$T/huge" Dockerfile big.bin
refused "$T/huge.tar" 413 too_large "an 80 MiB tar over the 64 MiB limit (nginx refuses it)"
# Chunked, the size is not known up front: the worker stops it midway.
st=$(api POST /upload "${AUTH[@]}" -H 'Transfer-Encoding: chunked' -F "file=@$T/huge.tar" -F "name=refused")
is "$st" 413 "the same tar sent chunked: 413"
like "$(body)" '"code":"too_large"' "  chunked: JSON error ($(body | head -c 120))"
is "$(DB "SELECT count(*) FROM apps")" "$napps0" "  chunked: no row"
is "$(uploads_list)" "$up0" "  chunked: nothing new under var/uploads"
is "$(tmp_list)" "" "  chunked: var/tmp empty"
tar -cf "$T/dup.tar" -C "$T/src/proj" Dockerfile www
tar -rf "$T/dup.tar" -C "$T/src/proj" Dockerfile
refused "$T/dup.tar" 400 unsafe "the same name twice, the second after 3 MiB"

# ------------------------------------------------------------ kill -9 mid-stream
M=$(fcgi_master)
head -c $((40 * 1024 * 1024)) /dev/urandom >"$T/huge/big.bin"
tar -cf "$T/slow.tar" -C "$T/huge" Dockerfile big.bin
curl -s -o /dev/null -w '%{http_code}' --limit-rate 4M -m 60 "${AUTH[@]}" \
    -F "file=@$T/slow.tar" -F name=killed "$API/upload" >"$T/killed.code" &
CURL=$!
W=
for _ in $(seq 1 100); do
	for p in $(pgrep -P "$M"); do
		ls -l "/proc/$p/fd" 2>/dev/null | grep -q -- "\.staging/big.bin" && W=$p
	done
	[ -n "$W" ] && break
	sleep 0.05
done
like "$W" '^[0-9]+$' "a worker is extracting the upload as it arrives"
[ -n "$W" ] && kill -9 "$W"
wait "$CURL"
like "$(cat "$T/killed.code")" '^(000|502|503|504)$' "the client sees the upload fail"
is "$(DB "SELECT count(*) FROM apps WHERE name = 'killed'")" 0 "no row"
is "$(staging)" 1 "its staging directory is left until the next start"
stack_restart
ok $? "stack restarted on the same data"
is "$(staging)" 0 "the staging directory is removed at start"
is "$(tmp_list)" "" "var/tmp is empty"
is "$(uploads_list)" "$up0" "var/uploads as before the refused uploads"
