#!/bin/bash
# e2e: the apps API as users meet it: upload validation (each bad field is
# a 400 JSON error that leaves nothing behind), ownership (bob cannot see,
# stop, restart, read logs of, edit or delete alice's app: 404; the admin
# can), edit_app, and a busybox app served through the apps site.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
trap e2e_finish EXIT

BUSYBOX=/bin/busybox
stack_start || exit 1
DATA=$T/var

curl -s -o /dev/null -X POST -d 'username=alice&password=alice-pass-1' "$API/register"
curl -s -o /dev/null -X POST -d 'username=bob&password=bob-pass-123' "$API/register"
AT=$(login alice alice-pass-1)
BT=$(login bob bob-pass-123)
XT=$(login admin "$ADMIN_PASSWORD")
A=(-H "Authorization: Bearer $AT")
B=(-H "Authorization: Bearer $BT")
X=(-H "Authorization: Bearer $XT")

# A busybox httpd app: Dockerfile FROM scratch, index page, wrapped in a folder.
mkdir -p "$T/app/site/www"
cp "$BUSYBOX" "$T/app/site/busybox"
echo "hello from alice" >"$T/app/site/www/index.html"
cat >"$T/app/site/Dockerfile" <<'DF'
FROM scratch
COPY busybox /bin/busybox
COPY www /www
CMD ["/bin/busybox", "sh", "-c", "exec /bin/busybox httpd -f -p $PORT -h /www"]
DF
(cd "$T/app" && /usr/bin/python3 -c '
import os, zipfile
with zipfile.ZipFile("../app.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk("site"):
        for f in files:
            p = os.path.join(root, f)
            z.write(p)
')

uploads_before=$(ls "$DATA/uploads" | wc -l)
bad() {	# bad <expected status> <code regex> <name> [curl args...]
	local want=$1 code=$2 name=$3; shift 3
	local st
	st=$(api POST /upload "${A[@]}" "$@")
	is "$st" "$want" "$name: $want"
	like "$(body)" "\"code\":\"($code)\"" "$name: JSON error code"
}
bad 400 missing_field "no name" -F "file=@$T/app.zip"
bad 400 invalid_name "bad name" -F "file=@$T/app.zip" -F 'name=Bad Name'
bad 400 invalid_name "SQL in name" -F "file=@$T/app.zip" --form-string "name=x'; DROP TABLE apps;--"
bad 400 invalid_allow_ips "hostname in allow_ips" -F "file=@$T/app.zip" -F name=a1 -F allow_ips=example.com
bad 400 invalid_allow_ips "nginx injection in allow_ips" -F "file=@$T/app.zip" -F name=a1 --form-string 'allow_ips=1.2.3.4; allow all'
bad 400 invalid_auth_header "quote in auth_header" -F "file=@$T/app.zip" -F name=a1 --form-string 'auth_header=Bearer "x'
bad 400 invalid_auth_header "brace in auth_header" -F "file=@$T/app.zip" -F name=a1 --form-string 'auth_header=x } location / {'
bad 400 invalid_envs "envs not an object" -F "file=@$T/app.zip" -F name=a1 -F 'envs=[1]'
bad 400 invalid_envs "bad env name" -F "file=@$T/app.zip" -F name=a1 -F 'envs={"A B":"x"}'
bad 400 invalid_vram "negative vram" -F "file=@$T/app.zip" -F name=a1 -F vram_required=-5
bad 400 missing_file "no file" -F name=a1
printf 'not an archive' >"$T/junk.bin"
bad 400 unsupported_file "unknown file type" -F "file=@$T/junk.bin" -F name=a1
: >"$T/empty.zip"
bad 400 'empty_file|bad_archive' "empty file" -F "file=@$T/empty.zip" -F name=a1
is "$(api POST /upload "${A[@]}" -H 'Content-Type: application/json' -d '{}')" 415 "upload must be multipart"

# Hostile compose projects: each refused with 400 naming the rule.
compose_case() {	# compose_case <name> <rule regex> <services yaml>
	local dir=$T/compose-$1
	mkdir -p "$dir"
	printf 'services:\n  web:\n    image: busybox\n%s\n' "$2" >"$dir/docker-compose.yml"
	(cd "$dir" && /usr/bin/python3 -c 'import zipfile; z = zipfile.ZipFile("../c.zip", "w"); z.write("docker-compose.yml"); z.close()')
	st=$(api POST /upload "${A[@]}" -F "file=@$T/c.zip" -F "name=compose-$1")
	is "$st" 400 "hostile compose ($1): 400"
	like "$(body)" '"code":"bad_compose"' "hostile compose ($1): names compose"
	like "$(body)" "$3" "hostile compose ($1): the message names the rule"
}
compose_case privileged '    privileged: true' 'privileged'
compose_case hostnet '    network_mode: host' 'network_mode'
compose_case hostpid '    pid: host' 'pid'
compose_case hostipc '    ipc: host' 'ipc'
compose_case devices '    devices: ["/dev/sda:/dev/sda"]' 'devices'
compose_case capadd '    cap_add: [SYS_ADMIN]' 'cap_add'
compose_case bindetc '    volumes: ["/etc:/host-etc"]' 'volumes'
compose_case dockersock '    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]' 'volumes|docker'
compose_case outside '    volumes: ["../../:/up"]' 'volumes'
compose_case name '    container_name: fixed' 'container_name'
compose_case port '    ports: ["8080:80"]' 'ports|PORT'
compose_case allifaces '    ports: ["0.0.0.0:${PORT}:80"]' 'ports|PORT'

is "$(ls "$DATA/uploads" | wc -l)" "$uploads_before" "rejected uploads leave nothing under uploads/"
is "$(ls "$DATA/tmp" | wc -l)" 0 "rejected uploads leave nothing under tmp/"
is "$(sqlite3 "$DATA/slipway.db" 'SELECT count(*) FROM apps')" 0 "rejected uploads leave no rows"

# A good upload, served through the apps site.
st=$(api POST /upload "${A[@]}" -F "file=@$T/app.zip" -F name=alice-site -F description='my site' -F 'envs={"GREETING":"hi"}')
is "$st" 202 "alice uploads a Dockerfile app"
ID=$(jget 'd["app_id"]')
like "$ID" '^[a-z0-9]{12}$' "app id is 12 lowercase characters"
is "$(jget 'd["status"]')" queued "answer says queued"
is "$(jget 'd["url"]')" "/apps/$ID/" "answer carries the URL"
is "$(api POST /upload "${A[@]}" -F "file=@$T/app.zip" -F name=alice-site)" 409 "duplicate name is 409"
for _ in $(seq 1 300); do
	s=$(api GET "/apps/$ID" "${A[@]}" >/dev/null; jget 'd["status"]')
	case $s in running|error) break;; esac
	sleep 0.1
done
is "$s" running "the app reaches running"
for _ in $(seq 1 50); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$APPS/apps/$ID/")" = 200 ] && break; sleep 0.1; done
is "$(curl -s "$APPS/apps/$ID/")" "hello from alice" "served through nginx at /apps/<id>/"
is "$(curl -s -o /dev/null -w '%{http_code}' "$APPS/apps/$ID")" 301 "no trailing slash redirects (GET)"
is "$(api GET "/apps/$ID" "${A[@]}"; jget 'd["envs"]["GREETING"]')" "200hi" "envs stored"

# Ownership: bob sees nothing of alice's app.
is "$(api GET /status "${B[@]}"; jget 'len(d)')" 2000 "bob's /status is empty"
for req in "GET /apps/$ID" "GET /status/$ID" "GET /logs/$ID" "POST /stop/$ID" "POST /restart/$ID" "POST /start/$ID" "DELETE /apps/$ID"; do
	is "$(api ${req% *} "${req#* }" "${B[@]}")" 404 "bob: $req is 404"
done
is "$(api POST /edit_app "${B[@]}" -H 'Content-Type: application/json' -d "{\"app_id\":\"$ID\",\"description\":\"pwned\"}")" 404 "bob cannot edit it"
is "$(api GET "/apps/$ID" "${X[@]}")" 200 "the admin sees it"
is "$(api GET /status "${X[@]}"; jget 'len(d)')" 2001 "the admin's /status lists it"
is "$(api GET "/logs/$ID?tail=5" "${A[@]}")" 200 "alice reads its log"

# Edit: restrictions take effect without a restart.
st=$(api POST /edit_app "${A[@]}" -H 'Content-Type: application/json' -d "{\"app_id\":\"$ID\",\"auth_header\":\"Bearer s3cret\",\"description\":\"edited\"}")
is "$st" 200 "alice edits the auth header"
is "$(jget 'd["has_auth_header"]')" True "has_auth_header is true"
sleep 0.3
is "$(curl -s -o /dev/null -w '%{http_code}' "$APPS/apps/$ID/")" 401 "without the value: 401"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' "$APPS/apps/$ID/")" 200 "with it: 200"
st=$(api POST /edit_app "${A[@]}" -d "app_id=$ID&allow_ips=10.9.9.9&auth_header=")
is "$st" 200 "alice restricts it to another address"
sleep 0.3
is "$(curl -s -o /dev/null -w '%{http_code}' "$APPS/apps/$ID/")" 403 "from 127.0.0.1: 403"
is "$(api POST /edit_app "${A[@]}" -d "app_id=$ID&allow_ips=127.0.0.0/8")" 200 "back to loopback"
sleep 0.3
is "$(curl -s -o /dev/null -w '%{http_code}' "$APPS/apps/$ID/")" 200 "served again"
is "$(api POST /edit_app "${A[@]}" -d "app_id=$ID&allow_ips=1.2.3.4%0a")" 400 "newline in allow_ips refused"

# Delete: gone from the API at once, and its files after the agent ran.
is "$(api DELETE "/apps/$ID" "${A[@]}")" 204 "alice deletes it"
is "$(api GET "/apps/$ID" "${A[@]}")" 404 "gone from the API"
for _ in $(seq 1 100); do [ ! -e "$DATA/uploads/$ID" ] && break; sleep 0.1; done
ok $([ ! -e "$DATA/uploads/$ID" ]; echo $?) "its files are removed"
for _ in $(seq 1 100); do [ "$(sqlite3 "$DATA/slipway.db" 'SELECT count(*) FROM apps')" = 0 ] && break; sleep 0.1; done
is "$(sqlite3 "$DATA/slipway.db" 'SELECT count(*) FROM apps')" 0 "its row is removed"
