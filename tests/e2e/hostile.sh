#!/bin/bash
# e2e: hostile input through the real stack (issues 4 and 11).
#  1. A table of hostile archives (tests/e2e/hostile_archives.py) uploaded
#     to POST /upload: each answers 4xx JSON and leaves nothing behind (no
#     row, nothing new under var/, nothing at the paths it aims at, /etc
#     untouched).
#  2. SQL metacharacters and 10 KB strings in every text field of /upload,
#     /edit_app and /containers (and the list filters, and /login): 4xx, or
#     stored verbatim; the schema stays whole.
#  3. nginx config injection through auth_header and allow_ips (quotes,
#     newline, `;`, `{`): 400 and the generated include unchanged.
# Docker is used when present (the app the include is checked with runs).
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/stress-lib.sh"
trap e2e_finish EXIT

export SLIPWAY_START_TIMEOUT=20 SLIPWAY_WORKERS=4
stack_start || exit 1
agent_setup || exit 1
DATA=$T/var
TAG=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
HOSTILE_ABS=/tmp/slipway-hostile-$TAG
hostile_finish() {
	rm -rf "$HOSTILE_ABS"
	agent_finish
}
trap hostile_finish EXIT
HAVE_DOCKER=0
docker_ensure && HAVE_DOCKER=1

TOK=$(login admin "$ADMIN_PASSWORD")
AUTH="Authorization: Bearer $TOK"
# What var/ holds, apart from logs, sockets, nginx state and the database.
snap() {
	find "$DATA" \( -path "$DATA/logs" -o -path "$DATA/run" -o -path "$DATA/nginx" \
	    -o -name 'slipway.db*' \) -prune -o -print | sort
}
schema() {
	DB "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master ORDER BY name)"
}
json_err() {	# the body is {"detail": "...", "code": "..."}
	jget '"%s|%s" % (d["code"], d["detail"]) if isinstance(d.get("detail"), str) and d.get("code") else ""'
}
SCHEMA0=$(schema)
PASSWD0=$(sha256sum /etc/passwd)

# ------------------------------------------------------------ hostile archives
mkdir -p "$T/h"
/usr/bin/python3 "$SRC/tests/e2e/hostile_archives.py" "$T/h" "$TAG" >"$T/h/list"
ok $? "hostile archives made ($(wc -l <"$T/h/list"))"
snap0=$(snap); napps0=$(DB "SELECT count(*) FROM apps")
n=0
while read -r file what; do
	n=$((n + 1))
	t0=$(date +%s%N)
	st=$(upload "$TOK" "$T/h/$file" "hostile-$n")
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	like "$st" '^4[0-9][0-9]$' "$file ($what): $st in $ms ms"
	e=$(json_err)
	like "$e" '.' "  JSON error: $(printf '%s' "$e" | head -c 160)"
	[ -z "$e" ] && diag "body: $(body | head -c 300)"
	is "$(DB "SELECT count(*) FROM apps")" "$napps0" "  no row"
	s=$(snap)
	is "$s" "$snap0" "  nothing left under var/"
	[ "$s" != "$snap0" ] && diag "new: $(diff <(echo "$snap0") <(echo "$s") | grep '^>' | head -5 | tr '\n' ' ')"
done <"$T/h/list"
ok $([ ! -e "$HOSTILE_ABS" ]; echo $?) "nothing written at the absolute paths ($HOSTILE_ABS)"
found=$(find "$T" "$SRC" "$BLD" /tmp -maxdepth 4 -name 'slipway-hostile-*' -not -path "$T/h/*" 2>/dev/null | grep -v "^$HOSTILE_ABS\$")
is "$found" "" "no escaped file anywhere near"
ok $([ ! -e "/etc/slipway-hostile-$TAG" ]; echo $?) "nothing written through a symlink into /etc"
is "$(sha256sum /etc/passwd)" "$PASSWD0" "/etc/passwd untouched"
is "$(schema)" "$SCHEMA0" "schema intact"

# ------------------------------------------------------------ hostile form fields
mk_app "$T/app" 'exec /bin/busybox httpd -f -p $PORT -h /www'
zip_dir "$T/app" "$T/app.zip"
L10K=$(head -c 10240 /dev/zero | tr '\0' a)
Q10K=$(head -c 10240 /dev/zero | tr '\0' "'")
SQLI="x'); DROP TABLE apps; --"
SQLI2='" OR 1=1; DELETE FROM users; --'
NL=$'\n'
# upload_field NAME VALUE: an otherwise good upload with one hostile field
upload_field() {
	curl -s -o "$T/body" -w '%{http_code}' -m 60 -X POST -H "$AUTH" \
	    -F "file=@$T/app.zip" --form-string "name=${3:-fieldtest}" \
	    --form-string "$1=$2" "$API/upload"
}
napps0=$(DB "SELECT count(*) FROM apps")
reject_upload() {	# FIELD VALUE LABEL
	local st
	st=$(upload_field "$1" "$2")
	like "$st" '^4[0-9][0-9]$' "/upload $1 = $3: $st $(json_err | head -c 100)"
}
for v in "$SQLI" "$SQLI2" "$L10K" "../x" "x${NL}y"; do
	st=$(curl -s -o "$T/body" -w '%{http_code}' -m 60 -X POST -H "$AUTH" \
	    -F "file=@$T/app.zip" --form-string "name=$v" "$API/upload")
	is "$st" 400 "/upload name = $(printf '%s' "$v" | head -c 24 | tr '\n' '~'): 400 $(json_err | head -c 80)"
done
reject_upload description "$L10K" "10 KB"
reject_upload description "$Q10K" "10 KB of quotes"
reject_upload allow_ips "$SQLI" "SQL"
reject_upload allow_ips "$L10K" "10 KB"
reject_upload auth_header "$SQLI" "SQL"
reject_upload auth_header "$L10K" "10 KB"
reject_upload vram_required "1; DROP TABLE apps" "SQL"
reject_upload vram_required "$(head -c 10240 /dev/zero | tr '\0' 9)" "10 KB of digits"
reject_upload envs "$SQLI" "SQL (not JSON)"
reject_upload envs "{\"A\": \"$L10K\"}" "a 10 KB value"
reject_upload envs "{\"$SQLI\": \"x\"}" "an SQL name"
is "$(DB "SELECT count(*) FROM apps")" "$napps0" "no row from the refused uploads"
# Accepted: SQL metacharacters where free text is allowed are stored verbatim.
DESC="$SQLI $SQLI2 \\ % _ ; -- /* */"
st=$(curl -s -o "$T/body" -w '%{http_code}' -m 60 -X POST -H "$AUTH" \
    -F "file=@$T/app.zip" --form-string name=sql-text --form-string "description=$DESC" \
    --form-string "envs={\"SQL\": \"$SQLI\"}" "$API/upload")
is "$st" 202 "/upload with SQL metacharacters in description and envs: accepted"
X=$(jget 'd["app_id"]')
is "$(api GET "/apps/$X" -H "$AUTH")" 200 "GET /apps/<id>"
is "$(jget 'd["description"]')" "$DESC" "description stored verbatim"
is "$(app_col "$X" "json_extract(envs, '\$.SQL')")" "$SQLI" "env value stored verbatim"
is "$(schema)" "$SCHEMA0" "schema intact"
is "$(DB "SELECT count(*) FROM users WHERE username = 'admin'")" 1 "users intact"

# /edit_app
edit() {	# FIELD VALUE [APP_ID]
	curl -s -o "$T/body" -w '%{http_code}' -m 30 -X POST -H "$AUTH" \
	    --data-urlencode "app_id=${3:-$X}" --data-urlencode "$1=$2" "$API/edit_app"
}
like "$(edit description x "' OR '1'='1")" '^(400|404)$' "/edit_app app_id = SQL: $(json_err | head -c 60)"
like "$(edit description x "$L10K")" '^(400|404)$' "/edit_app app_id = 10 KB"
row0=$(DB "SELECT name, description, allow_ips, auth_header FROM apps WHERE app_id = '$X'")
for f in name description allow_ips auth_header; do
	[ "$f" = description ] || is "$(edit "$f" "$SQLI")" 400 "/edit_app $f = SQL: $(json_err | head -c 80)"
	is "$(edit "$f" "$L10K")" 400 "/edit_app $f = 10 KB"
done
is "$(edit description "$Q10K")" 400 "/edit_app description = 10 KB of quotes"
is "$(DB "SELECT name, description, allow_ips, auth_header FROM apps WHERE app_id = '$X'")" "$row0" "the row is unchanged"
is "$(edit description "$SQLI2")" 200 "/edit_app description with SQL metacharacters: accepted"
is "$(app_col "$X" description)" "$SQLI2" "and stored verbatim"

# /login
st=$(curl -s -o "$T/body" -w '%{http_code}' -X POST --data-urlencode "username=admin' --" \
    --data-urlencode "password=' OR '1'='1" "$API/login")
like "$st" '^(400|401)$' "/login with SQL in username and password: $st"
st=$(curl -s -o "$T/body" -w '%{http_code}' -X POST --data-urlencode "username=$L10K" \
    --data-urlencode "password=$L10K" "$API/login")
like "$st" '^(400|401|413)$' "/login with 10 KB fields: $st"

# /containers: JSON bodies, one hostile field each
cjson() {	# FIELD VALUE_JSON -> status
	local b
	b=$(/usr/bin/python3 -c 'import json, sys
d = {"plugin_release": "echo@1.0.0"}
d[sys.argv[1]] = json.loads(sys.argv[2])
print(json.dumps(d))' "$1" "$2")
	curl -s -o "$T/body" -w '%{http_code}' -m 30 -X POST -H "$AUTH" \
	    -H 'Content-Type: application/json' --data-binary "$b" "$API/containers"
}
js() { /usr/bin/python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
napps0=$(DB "SELECT count(*) FROM apps")
for f in plugin_release plugin version action entrypoint model; do
	for v in "$SQLI" "$L10K"; do
		st=$(cjson "$f" "$(js "$v")")
		like "$st" '^4[0-9][0-9]$' "/containers $f = $(printf '%s' "$v" | head -c 12)...: $st $(json_err | head -c 70)"
	done
done
for f in params envs metadata; do
	st=$(cjson "$f" "{\"k\": $(js "$L10K$L10K")}")
	like "$st" '^4[0-9][0-9]$' "/containers $f with a 20 KB value: $st $(json_err | head -c 70)"
	st=$(cjson "$f" "$(js "$SQLI")")
	like "$st" '^4[0-9][0-9]$' "/containers $f = SQL text (not an object): $st"
done
st=$(cjson labels "[$(js "$SQLI")]")
like "$st" '^4[0-9][0-9]$' "/containers labels = [SQL]: $st $(json_err | head -c 70)"
st=$(cjson labels "[$(js "$L10K")]")
like "$st" '^4[0-9][0-9]$' "/containers labels = [10 KB]: $st"
# valid shapes with SQL inside: no such release -> 404, nothing stored
st=$(cjson metadata "{$(js "$SQLI"): $(js "$SQLI2")}")
like "$st" '^(404|400)$' "/containers metadata with SQL keys and values, unknown release: $st"
is "$(DB "SELECT count(*) FROM apps")" "$napps0" "no row from /containers"
for q in "status=$SQLI" "plugin_release=$SQLI" "model=$SQLI" "page=$SQLI" "page_size=$L10K" "label=$L10K"; do
	st=$(curl -s -o "$T/body" -w '%{http_code}' -G -H "$AUTH" --data-urlencode "$q" "$API/containers")
	like "$st" '^4[0-9][0-9]$' "GET /containers?${q%%=*}=hostile: $st"
done
# a label may hold any text: bound as a parameter, it matches nothing
st=$(curl -s -o "$T/body" -w '%{http_code}' -G -H "$AUTH" --data-urlencode "label=$SQLI" "$API/containers")
like "$st" '^(200|400)$' "GET /containers?label=SQL: $st"
[ "$st" = 200 ] && is "$(jget 'd["count"]')" 0 "  matches nothing"
st=$(curl -s -o "$T/body" -w '%{http_code}' -G -H "$AUTH" --data-urlencode "status=$SQLI" "$API/status")
like "$st" '^(200|400)$' "GET /status?status=SQL: $st"
[ "$st" = 200 ] && is "$(jget 'len(d)')" 0 "  matches nothing"
is "$(schema)" "$SCHEMA0" "schema intact"

# ------------------------------------------------------------ nginx include injection
if [ "$HAVE_DOCKER" = 1 ]; then
	is "$(app_wait "$X" 'running|error' 60)" running "app X running (its route is in the include)"
	is "$(wait_200 "$APPS/apps/$X/" 5)" 200 "X served"
else
	diag "no Docker: the include holds no route"
fi
INC=$DATA/nginx/apps.conf
sleep 0.5
inc0=$(sha256sum <"$INC")
row0=$(DB "SELECT allow_ips, auth_header FROM apps WHERE app_id = '$X'")
for v in 'Bearer x"; return 200; #' "Bearer x'" 'Bearer x;' 'Bearer {' 'Bearer }' \
    "Bearer x${NL}allow all;" 'Bearer $host' 'Bearer x\' "Bearer x$(printf '\r')"; do
	label=$(printf '%s' "$v" | tr '\n\r' '~~')
	is "$(edit auth_header "$v")" 400 "auth_header '$label' -> 400"
	st=$(upload_field auth_header "$v" inject)
	is "$st" 400 "  also at /upload"
done
for v in '127.0.0.1; allow all' '127.0.0.1 {' '127.0.0.1}' '"127.0.0.1"' "127.0.0.1${NL}allow all;" \
    '127.0.0.1#' '0.0.0.0/0;' '127.0.0.1, $remote_addr' '::1/129' '300.1.1.1' '127.0.0.1/33'; do
	label=$(printf '%s' "$v" | tr '\n' '~')
	is "$(edit allow_ips "$v")" 400 "allow_ips '$label' -> 400"
	st=$(upload_field allow_ips "$v" inject)
	is "$st" 400 "  also at /upload"
done
sleep 0.5
is "$(sha256sum <"$INC")" "$inc0" "the nginx include is unchanged"
is "$(DB "SELECT allow_ips, auth_header FROM apps WHERE app_id = '$X'")" "$row0" "the app's restrictions are unchanged"
ok $(! grep -q 'Bearer x\|allow all;\|return 200;\|127\.0\.0\.1[;#}{"]\|0\.0\.0\.0/0' "$INC"; echo $?) "no injected text in the include"
is "$(edit auth_header 'Bearer good-value')" 200 "a valid auth_header is taken"
if [ "$HAVE_DOCKER" = 1 ]; then
	settled "$APPS/apps/$X/" 401
	ok $? "and applied"
	is "$(http_code -H 'Authorization: Bearer good-value' "$APPS/apps/$X/")" 200 "the right value passes"
fi
is "$(DB "SELECT count(*) FROM apps WHERE name = 'inject'")" 0 "no row from the injection uploads"
is "$(DB 'PRAGMA integrity_check')" ok "integrity_check ok"
