#!/bin/bash
# e2e: templates (issue 7) through real nginx, workers, agent and Docker:
# upload a template (validated and unpacked exactly like an upload), list,
# deploy it twice at once (two apps, both running and served at
# $APPS/apps/<id>/), save a running app as a template (sources only) and
# deploy that, edit, delete; folders dropped into the templates directory
# are listed exactly once across concurrent reads; built-in templates are
# read-only; names unique; bad archives rejected with nothing left behind;
# a non-owner cannot edit or delete.  TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
trap e2e_finish EXIT

HAVE_DOCKER=0
docker_ensure && HAVE_DOCKER=1
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || BUSYBOX=$(command -v busybox)
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || {
	echo "1..0 # SKIP no static busybox (busybox-static)"
	exit 0
}

# Base images made here without a registry, removed again if we made them.
MADE_IMAGES=
if [ "$HAVE_DOCKER" = 1 ]; then
	PYBASE=slipway-test/python:3.11
	docker image inspect "$PYBASE" >/dev/null 2>&1 || MADE_IMAGES="$MADE_IMAGES $PYBASE"
	sh "$SLIPWAY_SRCDIR/tests/data/apps/make-python-base.sh" "$PYBASE" >/dev/null 2>&1 || PYBASE=
	docker image inspect slipway/busybox:latest >/dev/null 2>&1 ||
	    MADE_IMAGES="$MADE_IMAGES slipway/busybox:latest"
	sh "$SLIPWAY_SRCDIR/tools/make-busybox-image.sh" >/dev/null 2>&1
	[ -n "$PYBASE" ] && export SLIPWAY_GRADIO_BASE_IMAGE=$PYBASE
fi
export SLIPWAY_GRADIO_PACKAGE= SLIPWAY_START_TIMEOUT=30
stack_start || exit 1
DATA=$T/var
FIX=$SLIPWAY_SRCDIR/tests/data/templates
if [ "$HAVE_DOCKER" = 1 ]; then
	agent_setup || exit 1
	templates_finish() {	# base images we made go after the apps built on them
		local img
		stack_stop
		agent_docker_cleanup
		for img in $MADE_IMAGES; do docker rmi "$img" >/dev/null 2>&1; done
		agent_finish
	}
	trap templates_finish EXIT
fi

j() {	# j <file> <python expr on d>
	/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}
tpl_field() {	# tpl_field NAME FIELD : from GET /templates (admin)
	api GET /templates -H "Authorization: $ATOK" >/dev/null
	jget "[t['$2'] for t in d if t['name'] == '$1'][0]"
}
listed() {	# listed <python condition on t> : how many templates match
	api GET /templates -H "Authorization: $AL" >/dev/null
	jget "len([t for t in d if $1])"
}
store_count() {	# folders under <templates_dir>/.store, staging included
	find "$DATA/templates/.store" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}
zipdir() {	# zipdir SRC_DIR OUT.zip
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(src):
        for f in files:
            p = os.path.join(root, f)
            z.write(p, os.path.relpath(p, src))
EOF
}

# ---------------------------------------------------------------- users
api POST /register -d 'username=alice&password=alice-pass-1' >/dev/null
api POST /register -d 'username=bob&password=bob-pass-123' >/dev/null
ATOK=$(login admin "$ADMIN_PASSWORD")
AL=$(login alice alice-pass-1)
BO=$(login bob bob-pass-123)
ok $([ -n "$ATOK" ] && [ -n "$AL" ] && [ -n "$BO" ]; echo $?) "admin, alice and bob logged in"

# ---------------------------------------------------------------- built-ins
is "$(api GET /templates)" 401 "GET /templates needs a token"
is "$(api GET /templates -H "Authorization: $BO")" 200 "GET /templates"
is "$(jget "sorted(t['name'] for t in d if t['builtin'])")" "['gradio-hello', 'python-http', 'static-site']" \
    "the built-in templates are registered"
is "$(jget "[(t['type'], t['owner']) for t in d if t['name'] == 'static-site'][0]")" "('docker', None)" \
    "static-site: docker, no owner"
is "$(jget "[t['type'] for t in d if t['name'] == 'python-http'][0]")" gradio "python-http is a Python app"
like "$(jget "[t['description'] for t in d if t['name'] == 'gradio-hello'][0]")" 'Gradio' \
    "description from template.json"
like "$(jget "sorted(d[0].keys())")" "'builtin'.*'created_at'.*'description'.*'id'.*'name'.*'owner'.*'type'.*'vram_required'" \
    "list entries carry id, name, description, type, vram_required, created_at, builtin, owner"
SS_ID=$(jget "[t['id'] for t in d if t['name'] == 'static-site'][0]")
is "$(api POST /edit_template -H "Authorization: $ATOK" -d "template_id=$SS_ID&description=x")" 403 \
    "a built-in template cannot be edited, even by an admin"
like "$(body)" '"code":"read_only"' "... code read_only"
is "$(api DELETE /templates/$SS_ID -H "Authorization: $ATOK")" 403 "a built-in template cannot be deleted"
ok $([ -f "$SLIPWAY_SRCDIR/templates/static-site/Dockerfile" ]; echo $?) "... and its files stay"

# ---------------------------------------------------------------- upload
S=$T/site; rm -rf "$S"; cp -a "$FIX/busybox-site" "$S"; cp "$BUSYBOX" "$S/busybox"
zipdir "$S" "$T/site.zip"
st=$(api POST /templates -H "Authorization: $AL" -F name=bb-site -F description='busybox site' \
    -F vram_required=0 -F file=@"$T/site.zip")
is "$st" 201 "POST /templates (zip) is 201"
TID=$(jget 'd["template_id"]')
like "$TID" '^[0-9]+$' "answer carries template_id"
is "$(jget '(d["name"], d["type"], d["description"], d["vram_required"], d["owner"], d["builtin"])')" \
    "('bb-site', 'docker', 'busybox site', 0, 'alice', False)" "answer: name, type, description, vram, owner"
TDIR=$(/usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT dir FROM templates WHERE id=?', ($TID,)).fetchone()[0])" "$DATA/slipway.db")
ok $([ -f "$TDIR/Dockerfile" ] && [ -f "$TDIR/www/index.html" ]; echo $?) "unpacked under the templates directory"
case $TDIR in "$DATA/templates/"*) ok 0 "stored in the data directory";; *) ok 1 "stored in the data directory ($TDIR)";; esac
is "$(api GET /templates -H "Authorization: $BO")" 200 "list as another user"
is "$(jget "[(t['id'], t['owner']) for t in d if t['name'] == 'bb-site']")" "[($TID, 'alice')]" \
    "bob sees alice's template once"

# names
is "$(api POST /templates -H "Authorization: $BO" -F name=bb-site -F file=@"$T/site.zip")" 409 \
    "the same name again is 409"
is "$(api POST /templates -H "Authorization: $AL" -F 'name=Bad Name' -F file=@"$T/site.zip")" 400 \
    "a bad name is 400"
is "$(api POST /templates -H "Authorization: $AL" -F file=@"$T/site.zip")" 400 "no name is 400"
is "$(api POST /templates -H "Authorization: $AL" -F name=nofile)" 400 "no file is 400"
is "$(api POST /templates -H "Authorization: $AL" -F name=vram -F vram_required=-1 -F file=@"$T/site.zip")" 400 \
    "negative vram_required is 400"

# bad archives: as for uploads, and nothing left behind
before=$(store_count)
/usr/bin/python3 - "$T/slip.zip" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("Dockerfile", "FROM scratch\n")
    z.writestr("../../../../tmp/slipway-zip-slip-evil", "owned\n")
EOF
is "$(api POST /templates -H "Authorization: $AL" -F name=slip -F file=@"$T/slip.zip")" 400 \
    "a zip-slip archive is 400"
like "$(body)" '"code":"unsafe"' "... code unsafe, as for an upload"
st_up=$(api POST /upload -H "Authorization: $AL" -F name=slip -F file=@"$T/slip.zip")
is "$st_up" 400 "the same archive to /upload is 400 too"
ok $([ ! -e /tmp/slipway-zip-slip-evil ]; echo $?) "nothing written outside"
printf 'just text\n' >"$T/notes.txt"
is "$(api POST /templates -H "Authorization: $AL" -F name=text -F file=@"$T/notes.txt")" 400 \
    "an unsupported file is 400"
zipdir "$FIX/noapp" "$T/noapp.zip"
is "$(api POST /templates -H "Authorization: $AL" -F name=noapp -F file=@"$T/noapp.zip")" 400 \
    "an archive without an app is 400"
like "$(body)" '"code":"no_app"' "... code no_app"
is "$(store_count)" "$before" "nothing left under the templates directory"
is "$(listed "t['name'] in ('slip', 'text', 'noapp')")" 0 "no rows for rejected templates"
# a plugin release name is a template name too
mkdir -p "$T/py1"; printf 'print("hi")\n' >"$T/py1/main.py"
st=$(api POST /templates -H "Authorization: $AL" -F 'name=echo@1.0.0' -F file=@"$T/py1/main.py")
is "$st" 201 "a .py file as template named code@version"
REL_ID=$(jget 'd["id"]')
is "$(jget 'd["type"]')" gradio "... of type gradio"

# ---------------------------------------------------------------- permissions
is "$(api POST /edit_template -H "Authorization: $BO" -d "template_id=$TID&description=mine")" 403 \
    "a non-owner cannot edit"
is "$(api DELETE /templates/$TID -H "Authorization: $BO")" 403 "a non-owner cannot delete"
is "$(api POST /edit_template -H "Authorization: $AL" -d "template_id=$TID&description=edited&vram_required=256")" 200 \
    "the owner edits"
is "$(jget '(d["id"], d["description"], d["vram_required"], d["name"])')" "($TID, 'edited', 256, 'bb-site')" \
    "edit answers the template as it is now"
is "$(api POST /edit_template -H "Authorization: $ATOK" -H 'Content-Type: application/json' \
    -d "{\"template_id\": $TID, \"vram_required\": 0}")" 200 "an admin edits (JSON)"
is "$(jget 'd["vram_required"]')" 0 "... vram_required changed"
is "$(api POST /edit_template -H "Authorization: $AL" -d "template_id=$TID&name=echo@1.0.0")" 409 \
    "renaming onto a taken name is 409"
is "$(api POST /edit_template -H "Authorization: $AL" -d "template_id=$TID&name=UPPER")" 400 "a bad new name is 400"
is "$(api POST /edit_template -H "Authorization: $AL" -d "template_id=999999&description=x")" 404 "unknown template is 404"
is "$(api POST /edit_template -H "Authorization: $AL" -d "description=x")" 400 "template_id missing is 400"

# ---------------------------------------------------------------- dropped folders
cp -a "$FIX/dropped" "$DATA/templates/dropped"
cp "$BUSYBOX" "$DATA/templates/dropped/busybox"
cp -a "$FIX/bad-meta" "$DATA/templates/bad-meta"
cp -a "$FIX/noapp" "$DATA/templates/noapp"
pids=
for i in 1 2 3 4 5 6 7 8; do
	curl -s -o "$T/list$i" -H "Authorization: $BO" "$API/templates" &
	pids="$pids $!"
done
wait $pids	# (a bare wait would wait for the stack too)
n_ok=0
for i in 1 2 3 4 5 6 7 8; do
	[ "$(j "$T/list$i" "len([t for t in d if t['name'] == 'dropped-site'])")" = 1 ] && n_ok=$((n_ok + 1))
done
is "$n_ok" 8 "8 concurrent reads each list the dropped folder exactly once"
for i in 1 2 3; do api GET /templates -H "Authorization: $AL" >/dev/null; done
is "$(jget "len([t for t in d if t['name'] == 'dropped-site'])")" 1 "still once after more reads"
is "$(sqlite3 "$DATA/slipway.db" "SELECT count(*) FROM templates WHERE dir LIKE '%/dropped'")" 1 "one row for it"
is "$(jget "[(t['type'], t['description'], t['vram_required'], t['owner'], t['builtin']) for t in d if t['name'] == 'dropped-site'][0]")" \
    "('docker', 'a folder dropped into the templates directory', 512, None, False)" \
    "type detected, metadata from template.json"
is "$(jget "[(t['type'], t['description'], t['vram_required']) for t in d if t['name'] == 'bad-meta'][0]")" \
    "('gradio', '', 0)" "bad template.json values ignored: folder name, defaults"
like "$(cat "$DATA/logs/slipway.log")" 'bad-meta/template.json: name must match' "... with a log line"
is "$(jget "len([t for t in d if t['name'] == 'noapp'])")" 0 "a folder without an app is not listed"
DROP_ID=$(jget "[t['id'] for t in d if t['name'] == 'dropped-site'][0]")
is "$(api POST /edit_template -H "Authorization: $AL" -d "template_id=$DROP_ID&description=x")" 403 \
    "a dropped folder has no owner: users cannot edit it"
is "$(api POST /edit_template -H "Authorization: $ATOK" -d "template_id=$DROP_ID&description=operator's")" 200 \
    "an admin can"
BADMETA_ID=$(tpl_field bad-meta id)
rm -rf "$DATA/templates/bad-meta"
api GET /templates -H "Authorization: $AL" >/dev/null
is "$(jget "len([t for t in d if t['id'] == $BADMETA_ID])")" 0 "a folder removed by hand is forgotten"

if [ "$HAVE_DOCKER" != 1 ]; then
	diag "no Docker: deploy assertions skipped"
	exit 0
fi

# ---------------------------------------------------------------- deploy x2 at once
pids=
for i in 1 2; do
	curl -s -o "$T/dep$i" -w '%{http_code}' -X POST -H "Authorization: $AL" \
	    "$API/deploy_template/$TID" >"$T/dep$i.code" &
	pids="$pids $!"
done
wait $pids
is "$(cat "$T/dep1.code") $(cat "$T/dep2.code")" "202 202" "two concurrent deploys both 202"
D1=$(j "$T/dep1" 'd["app_id"]'); D2=$(j "$T/dep2" 'd["app_id"]')
ok $([ -n "$D1" ] && [ -n "$D2" ] && [ "$D1" != "$D2" ]; echo $?) "two apps ($D1, $D2)"
is "$(j "$T/dep1" 'd["url"]')" "/apps/$D1/" "answer carries the url"
N1=$(j "$T/dep1" 'd["name"]'); N2=$(j "$T/dep2" 'd["name"]')
like "$N1 $N2" '^bb-site-[a-z0-9]{6} bb-site-[a-z0-9]{6}$' "default names: template name + suffix"
ok $([ "$N1" != "$N2" ]; echo $?) "... different"
is "$(app_col "$D1" template_id) $(app_col "$D2" template_id)" "$TID $TID" "template_id recorded"
is "$(stat -c %i "$DATA/uploads/$D1/busybox")" "$(stat -c %i "$TDIR/busybox")" \
    "the copy is hard-linked, not a deep copy"
s1=$(app_wait "$D1" 'running|error' 90); s2=$(app_wait "$D2" 'running|error' 90)
is "$s1 $s2" "running running" "both reach running"
[ "$s1" = running ] || diag "D1: $(app_col "$D1" status_detail)"
is "$(wait_200 "$APPS/apps/$D1/" 10)" 200 "first answers through the apps site"
is "$(wait_200 "$APPS/apps/$D2/" 10)" 200 "second answers through the apps site"
is "$(curl -s -m 3 "$APPS/apps/$D2/")" "<h1>slipway template site</h1>" "... with the template's page"

# options
is "$(api POST /deploy_template/$TID -H "Authorization: $AL" -d 'name=mysite&allow_ips=127.0.0.1&vram_required=0&envs={"A":"1"}')" 202 \
    "deploy with a name and options"
MY=$(jget 'd["app_id"]')
is "$(jget 'd["name"]')" mysite "... that name"
is "$(api POST /deploy_template/$TID -H "Authorization: $BO" -d 'name=mysite')" 409 "a taken app name is 409"
is "$(api POST /deploy_template/$TID -H "Authorization: $BO" -d 'name=Bad!')" 400 "a bad app name is 400"
is "$(api POST /deploy_template/999999 -H "Authorization: $BO")" 404 "unknown template is 404"
is "$(api POST /deploy_template/bb-site -H "Authorization: $BO")" 202 "deploy by template name; anyone may deploy"
BD=$(jget 'd["app_id"]')
api GET /apps/$BD -H "Authorization: $BO" >/dev/null
is "$(jget 'd["owner"]')" bob "the app belongs to the deployer"
is "$(app_col "$MY" allow_ips)" 127.0.0.1 "allow_ips applied"

# ---------------------------------------------------------------- save as template
mkdir -p "$DATA/uploads/$D1/.venv/lib" "$DATA/uploads/$D1/venv"
echo junk >"$DATA/uploads/$D1/.venv/lib/site.py"
echo junk >"$DATA/uploads/$D1/venv/x"
is "$(api POST /save_template/$D1 -H "Authorization: $BO")" 404 "bob cannot save alice's app"
is "$(api POST /save_template/$D1 -H "Authorization: $AL" -d 'name=saved-site&description=from a running app')" 201 \
    "save a running app as a template"
SID=$(jget 'd["template_id"]')
is "$(jget '(d["name"], d["type"], d["description"], d["owner"])')" \
    "('saved-site', 'docker', 'from a running app', 'alice')" "... its fields"
SDIR=$(sqlite3 "$DATA/slipway.db" "SELECT dir FROM templates WHERE id = $SID")
ok $([ -f "$SDIR/Dockerfile" ] && [ -f "$SDIR/www/index.html" ] && [ -f "$SDIR/busybox" ]; echo $?) "sources copied"
ok $([ ! -e "$SDIR/.venv" ] && [ ! -e "$SDIR/venv" ]; echo $?) "virtual environments left out"
ok $(! ls "$SDIR" | grep -q '\.log$'; echo $?) "no logs"
is "$(api POST /save_template/$D1 -H "Authorization: $AL" -d 'name=saved-site')" 409 "a taken template name is 409"
is "$(api POST /save_template/$D2 -H "Authorization: $AL")" 201 "default name: the app's name"
is "$(jget 'd["name"]')" "$N2" "... is $N2"
is "$(api POST /deploy_template/$SID -H "Authorization: $AL")" 202 "deploy the saved template"
SV=$(jget 'd["app_id"]')
is "$(app_wait "$SV" 'running|error' 90)" running "... it runs"
is "$(wait_200 "$APPS/apps/$SV/" 10)" 200 "... and answers"

# built-ins deploy
is "$(api POST /deploy_template/static-site -H "Authorization: $AL")" 202 "deploy the built-in static-site"
SS=$(jget 'd["app_id"]')
is "$(app_wait "$SS" 'running|error' 90)" running "... it runs"
[ "$(app_col "$SS" status)" = running ] || diag "static-site: $(app_col "$SS" status_detail)"
is "$(wait_200 "$APPS/apps/$SS/about.html" 10)" 200 "... and serves its pages"
if [ -n "${PYBASE:-}" ]; then
	is "$(api POST /deploy_template/python-http -H "Authorization: $AL")" 202 "deploy the built-in python-http"
	PH=$(jget 'd["app_id"]')
	is "$(app_wait "$PH" 'running|error' 120)" running "... it runs"
	[ "$(app_col "$PH" status)" = running ] || diag "python-http: $(app_col "$PH" status_detail)"
	wait_200 "$APPS/apps/$PH/api/info" 10 >/dev/null
	is "$(curl -s -m 3 "$APPS/apps/$PH/api/info" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["root_path"])' 2>/dev/null)" \
	    "/apps/$PH" "... and knows its ROOT_PATH"
else
	diag "no Python base image: python-http not deployed"
fi

# ---------------------------------------------------------------- delete
is "$(api DELETE /templates/$SID -H "Authorization: $BO")" 403 "bob cannot delete alice's saved template"
is "$(api DELETE /templates/$SID -H "Authorization: $AL")" 204 "the owner deletes it"
ok $([ ! -e "$SDIR" ]; echo $?) "its files are removed"
is "$(app_col "$SV" status)" running "an app deployed from it keeps running"
is "$(listed "t['id'] == $SID")" 0 "no longer listed"
is "$(api POST /deploy_template/$SID -H "Authorization: $AL")" 404 "deploying it is 404"
is "$(api DELETE /templates/$SID -H "Authorization: $AL")" 404 "deleting it again is 404"
is "$(api DELETE /templates/$DROP_ID -H "Authorization: $ATOK")" 204 "an admin deletes a dropped folder"
ok $([ ! -e "$DATA/templates/dropped" ]; echo $?) "... its folder is gone"
is "$(listed "t['name'] == 'dropped-site'")" 0 "... and it does not come back"
is "$(api DELETE /templates/$REL_ID -H "Authorization: $ATOK")" 204 "an admin deletes alice's template"
ok $(! ls -A "$DATA/templates" | grep -q '^\.deleting'; echo $?) "no trash left behind"
