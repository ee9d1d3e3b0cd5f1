#!/bin/sh
# routes.sh: per-app routes through a real nginx (issue 3), TAP output.
#
# Starts, in a temporary directory: nginx from nginx/nginx.conf.in on free
# high ports, busybox httpd, a Python HTTP backend (headers echo, SSE,
# upload sink) and a Python WebSocket echo (python3-websockets under
# /usr/bin/python3).  The apps include is written by ngxconf_sync through
# tests/e2e/ngx-driver.c, compiled here against libslipway.a.  Kills only
# what it started (by pid) on exit.
set -u
SELF_DIR=$(cd "$(dirname "$0")" && pwd)
. "$SELF_DIR/lib-nginx.sh"

n=0
failed=0
ok() {	# ok COND-STATUS NAME
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
is() {	# is GOT WANT NAME
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got '$1', want '$2'"; fi
}
bail() {
	echo "Bail out! $*"
	exit 1
}

reason=$(ln_skip_reason)
if [ -z "$reason" ] && ! ln_have busybox; then reason="busybox not found"; fi
if [ -z "$reason" ] && ! "$PY" -c 'import websockets' 2>/dev/null; then
	reason="python3-websockets not importable by $PY"
fi
if [ -n "$reason" ]; then
	echo "1..0 # SKIP $reason"
	exit 0
fi

trap ln_cleanup EXIT
trap 'exit 1' INT TERM HUP
ln_setup || bail "setup failed"
[ -x "$T/ngx-driver" ] || { cat "$T/driver-build.log"; bail "driver did not build"; }
DRV=$T/ngx-driver
ok 0 "driver built against libslipway.a"

# ---------------------------------------------------------------- backends
P_HTTPD=$(ln_free_port)
P_PY=$(ln_free_port)
P_WS=$(ln_free_port)
mkdir -p "$T/www1"
echo "hello from app one" >"$T/www1/hello.txt"
ln_bg busybox httpd -f -p "127.0.0.1:$P_HTTPD" -h "$T/www1"

cat >"$T/backend.py" <<'EOF'
import hashlib, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def reply(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        if self.path == "/sse":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"data: first\n\n")
            self.wfile.flush()
            time.sleep(3)
            self.wfile.write(b"data: second\n\n")
            self.wfile.flush()
            self.close_connection = True
            return
        h = {k.lower(): v for k, v in self.headers.items()}
        self.reply(200, json.dumps({"path": self.path, "headers": h}))
    def do_POST(self):
        digest, total = hashlib.sha256(), 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                left = size
                while left:
                    chunk = self.rfile.read(min(left, 1 << 20))
                    digest.update(chunk); total += len(chunk); left -= len(chunk)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk); total += len(chunk); left -= len(chunk)
        self.reply(200, json.dumps({"bytes": total, "sha256": digest.hexdigest()}))

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
ln_bg "$PY" "$T/backend.py" "$P_PY"

cat >"$T/ws.py" <<'EOF'
import asyncio, sys, websockets

async def echo(ws, path=None):
    async for msg in ws:
        await ws.send(ws.path + "|" + msg)

async def main():
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1])):
        await asyncio.Future()

asyncio.run(main())
EOF
ln_bg "$PY" "$T/ws.py" "$P_WS"

cat >"$T/wsclient.py" <<'EOF'
import asyncio, sys, websockets

async def main(uri, auth):
    headers = {"Authorization": auth} if auth else {}
    try:
        async with websockets.connect(uri, extra_headers=headers,
                                      open_timeout=5) as ws:
            await ws.send("ping-123")
            print(await asyncio.wait_for(ws.recv(), 5))
    except websockets.exceptions.InvalidStatusCode as e:
        print("status", e.status_code)

asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""))
EOF

# Load: GETs on fresh connections until $2 exists; prints "ok=N fail=M".
cat >"$T/load.py" <<'EOF'
import http.client, os, sys, threading
port, stop, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
counts = {"ok": 0, "fail": 0}
lock = threading.Lock()
def run():
    while not os.path.exists(stop):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path, headers={"Connection": "close"})
            r = c.getresponse(); r.read(); c.close()
            good = r.status == 200
        except Exception:
            good = False
        with lock:
            counts["ok" if good else "fail"] += 1
ts = [threading.Thread(target=run) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
print("ok=%d fail=%d" % (counts["ok"], counts["fail"]))
EOF

for p in "$P_HTTPD" "$P_PY" "$P_WS"; do
	ln_wait_port "$p" || bail "backend on port $p did not start"
done

# ---------------------------------------------------------------- apps
A1=appone000001		# busybox, open
A2=apptwo000002		# python, allow 127.0.0.1 + ::1, Bearer
A3=appthree0003		# python, Basic
A4=appfour00004		# websocket, Bearer
TOKEN="Bearer s3cret-t0ken.ok"
BASIC="Basic dXNlcjpwYXNz"	# user:pass
WSTOKEN="Bearer ws-t0ken"

"$DRV" init || bail "driver init"
"$DRV" add $A1 one "$P_HTTPD" "" "" &&
"$DRV" add $A2 two "$P_PY" "127.0.0.1, ::1" "$TOKEN" &&
"$DRV" add $A3 basic-app "$P_PY" "" "$BASIC" &&
"$DRV" add $A4 four "$P_WS" "" "$WSTOKEN" &&
"$DRV" add stopped00005 five "$P_PY" "" "" stopped || bail "driver add"

out=$("$DRV" sync)
ok $? "first sync before nginx runs ($out)"
case $out in *"routes=4 errors=0"*) ok 0 "4 routes rendered";; *) ok 1 "4 routes rendered";; esac
ln_start_nginx || { cat "$D/logs/nginx-stderr.log"; bail "nginx did not start"; }
ok 0 "nginx started with the generated include"
grep -q stopped00005 "$D/nginx/apps.conf"
ok $((! $?)) "a stopped app has no route"

U=http://127.0.0.1:$APPS_PORT
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
# A reload is asynchronous (SIGHUP): poll up to 5 s for the wanted status.
wcode() {
	want=$1; shift
	i=0
	while :; do
		got=$(code "$@")
		[ "$got" = "$want" ] || [ $i -ge 100 ] && break
		sleep 0.05; i=$((i + 1))
	done
	printf '%s' "$got"
}

# ---------------------------------------------------------------- proxying
is "$(curl -s "$U/apps/$A1/hello.txt")" "hello from app one" "200 through the proxy, prefix stripped"
is "$(code "$U/apps/$A1/hello.txt")" 200 "status 200"
is "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$U/apps/$A1?x=1")" \
	"301 $U/apps/$A1/?x=1" "/apps/<id> redirects to the slash form (GET)"
is "$(code -I "$U/apps/$A1")" 301 "HEAD redirects too"
is "$(code -X POST -d x=1 "$U/apps/$A1")" 405 "POST /apps/<id> is not redirected (405)"
is "$(curl -s -D - -o /dev/null -X POST "$U/apps/$A1" | tr -d '\r' | grep -i '^allow:')" \
	"Allow: GET, HEAD" "405 says what is allowed"
is "$(code "$U/apps/nosuchapp000/")" 404 "unknown app: 404"
is "$(code "$U/apps/nosuchapp000")" 404 "unknown app, no-slash form: 404"
is "$(code "$U/_slipway/redirect/$A1")" 404 "the internal redirect location is not reachable"
is "$(curl -s "$U/apps/nosuchapp000/")" '{"detail":"no such app"}' "unknown app: JSON body"
is "$(code "$U/")" 404 "apps site root: 404"
is "$(code --path-as-is "$U/apps/$A1/../$A2/headers")" 401 \
	"dot segments resolve before routing: the other app's guard applies"

hdr=$(curl -s -H "Authorization: $TOKEN" "$U/apps/$A2/headers?q=1")
field() { printf '%s' "$hdr" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
is "$(field 'd["path"]')" "/headers?q=1" "backend sees the stripped path"
is "$(field 'd["headers"].get("x-forwarded-prefix")')" "/apps/$A2" "X-Forwarded-Prefix"
is "$(field 'd["headers"].get("x-forwarded-for")')" "127.0.0.1" "X-Forwarded-For"
is "$(field 'd["headers"].get("x-real-ip")')" "127.0.0.1" "X-Real-IP"
is "$(field 'd["headers"].get("x-forwarded-proto")')" "http" "X-Forwarded-Proto"
is "$(field 'd["headers"].get("host")')" "127.0.0.1:$APPS_PORT" "Host is the client's"

# ---------------------------------------------------------------- allow + auth
is "$(code "$U/apps/$A2/headers")" 401 "no Authorization: 401"
is "$(code -H 'Authorization: Bearer wrong' "$U/apps/$A2/headers")" 401 "wrong Authorization: 401"
is "$(code -H 'Authorization: bearer s3cret-t0ken.ok' "$U/apps/$A2/headers")" 401 "comparison is exact (case)"
is "$(code -H "Authorization: $TOKEN" "$U/apps/$A2/headers")" 200 "right Authorization: 200"
is "$(code --interface 127.0.0.2 "$U/apps/$A2/headers")" 403 "denied address without Authorization: 403"
is "$(code --interface 127.0.0.2 -H "Authorization: $TOKEN" "$U/apps/$A2/headers")" 403 \
	"denied address with the right Authorization: 403"
is "$(code --interface 127.0.0.2 "$U/apps/$A2")" 301 "no-slash form redirects whoever asks"
is "$(code -L --interface 127.0.0.2 "$U/apps/$A2")" 403 "and the slash form denies the address: 403"
is "$(code --interface 127.0.0.2 "$U/apps/$A1/hello.txt")" 200 "other apps stay open to it"

is "$(code "$U/apps/$A3/headers")" 401 "Basic app without credentials: 401"
chal=$(curl -s -D - -o /dev/null "$U/apps/$A3/headers" | tr -d '\r' | grep -i '^www-authenticate:')
is "$chal" 'WWW-Authenticate: Basic realm="basic-app", charset="UTF-8"' "401 carries the Basic challenge"
chal=$(curl -s -L -D - -o /dev/null "$U/apps/$A3" | tr -d '\r' | grep -i '^www-authenticate:')
is "$chal" 'WWW-Authenticate: Basic realm="basic-app", charset="UTF-8"' "challenge after following the no-slash redirect"
is "$(code -u user:wrong "$U/apps/$A3/headers")" 401 "wrong Basic password: 401"
is "$(code -u user:pass "$U/apps/$A3/headers")" 200 "right Basic credentials (curl -u): 200"
chal=$(curl -s -D - -o /dev/null -H "Authorization: $TOKEN" "$U/apps/$A2/headers" -H 'Authorization: x' | tr -d '\r' | grep -ci '^www-authenticate:')
is "$chal" 0 "no Basic challenge for a Bearer app"

# ---------------------------------------------------------------- websocket, SSE, upload
is "$("$PY" "$T/wsclient.py" "ws://127.0.0.1:$APPS_PORT/apps/$A4/ws" "$WSTOKEN")" "/ws|ping-123" \
	"WebSocket echo through the proxy (path stripped)"
is "$("$PY" "$T/wsclient.py" "ws://127.0.0.1:$APPS_PORT/apps/$A4/ws")" "status 401" \
	"WebSocket without Authorization: 401"

sse=$(curl -sN --max-time 1.5 -H "Authorization: $TOKEN" "$U/apps/$A2/sse")
case $sse in
*"data: first"*) case $sse in *second*) ok 1 "SSE unbuffered";; *) ok 0 "SSE: first event arrives before the stream ends";; esac;;
*) ok 1 "SSE: first event arrives before the stream ends"; echo "#   got '$sse'";;
esac

dd if=/dev/urandom of="$T/big" bs=1048576 count=50 2>/dev/null
want=$(sha256sum "$T/big" | cut -d' ' -f1)
up=$(curl -s -H "Authorization: $TOKEN" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$T/big" "$U/apps/$A2/upload")
is "$up" "{\"bytes\": 52428800, \"sha256\": \"$want\"}" "50 MB POST reaches the app intact"
up=$(curl -s -H "Authorization: $TOKEN" -H 'Transfer-Encoding: chunked' \
	--data-binary @"$T/big" "$U/apps/$A2/upload")
is "$up" "{\"bytes\": 52428800, \"sha256\": \"$want\"}" "50 MB chunked POST too"
rm -f "$T/big"

# ---------------------------------------------------------------- edits
"$DRV" set $A2 allow_ips "127.0.0.2" && "$DRV" sync >/dev/null
ok $? "edit allow_ips and sync"
is "$(wcode 200 --interface 127.0.0.2 -H "Authorization: $TOKEN" "$U/apps/$A2/headers")" 200 \
	"edited allow list admits 127.0.0.2 without restarting the app"
is "$(wcode 403 -H "Authorization: $TOKEN" "$U/apps/$A2/headers")" 403 "and now denies 127.0.0.1"
"$DRV" set $A2 allow_ips "127.0.0.1, ::1" && "$DRV" set $A2 auth_header "Bearer rotated" &&
	"$DRV" sync >/dev/null
is "$(wcode 401 -H "Authorization: $TOKEN" "$U/apps/$A2/headers")" 401 "rotated token: old one refused"
# old workers may still answer during the reload: wait for the new config
is "$(wcode 200 -H "Authorization: Bearer rotated" "$U/apps/$A2/headers")" 200 "rotated token: new one works"
"$DRV" set $A2 auth_header "$TOKEN" && "$DRV" sync >/dev/null
wcode 200 -H "Authorization: $TOKEN" "$U/apps/$A2/headers" >/dev/null

# hostile value in the database: never rendered, app marked error
"$DRV" add hostile00006 six "$P_PY" '10.0.0.1; allow all' "" &&
	out=$("$DRV" sync)
case $out in *"errors=1"*) ok 0 "hostile allow_ips left out ($out)";; *) ok 1 "hostile allow_ips left out ($out)";; esac
is "$("$DRV" status hostile00006 | cut -d'|' -f1)" error "hostile app marked error"
grep -q hostile00006 "$D/nginx/apps.conf"
ok $((! $?)) "hostile app not in the include"

# ---------------------------------------------------------------- failing nginx -t under load
# A wrapper around the real nginx rejects any candidate include that names
# app $FAULT (with nginx's "in FILE:LINE"), or everything when
# $T/fail-all exists.  Only "nginx -t" goes through it.
FAULT=faulty000007
cat >"$T/nginx-wrap" <<EOF
#!/bin/sh
"$NGINX" "\$@" || exit \$?
[ "\$1" = -t ] || exit 0
conf=\$4
inc=\$(sed -n 's|^[[:space:]]*include \\(.*apps\\.conf\\.[A-Za-z0-9]*\\);|\\1|p' "\$conf" | head -n 1)
if [ -f "$T/fail-all" ]; then
	echo "nginx: [emerg] injected failure in \$conf:1" >&2; exit 1
fi
line=\$(grep -n "$FAULT" "\$inc" | head -n 1 | cut -d: -f1)
if [ -n "\$line" ]; then
	echo "nginx: [emerg] injected fault for $FAULT in \$inc:\$line" >&2
	echo "nginx: configuration file \$conf test failed" >&2
	exit 1
fi
exit 0
EOF
chmod +x "$T/nginx-wrap"

cp "$D/nginx/apps.conf" "$T/apps.conf.before"
"$DRV" add $FAULT seven "$P_PY" "" "" &&
"$DRV" add newgood00008 eight "$P_HTTPD" "" "" || bail "driver add"
rm -f "$T/stop"
"$PY" "$T/load.py" "$APPS_PORT" "$T/stop" "/apps/$A1/hello.txt" >"$T/load.out" &
LOAD_PID=$!
LN_PIDS="$LN_PIDS $LOAD_PID"
sleep 0.5
out=$(SLIPWAY_NGINX=$T/nginx-wrap "$DRV" sync)
rc=$?
sleep 1
touch "$T/stop"
wait $LOAD_PID
load=$(cat "$T/load.out")
ok $rc "sync with a route nginx rejects succeeds for the rest ($out)"
case $out in *"errors=1"*"reloaded=1"*|*"reloaded=1"*"errors=1"*) ok 0 "one app in error, nginx reloaded";; *) ok 1 "one app in error, nginx reloaded";; esac
st=$("$DRV" status $FAULT)
case $st in
"error|route rejected: nginx -t: injected fault for $FAULT") ok 0 "rejected app marked error with nginx's message";;
*) ok 1 "rejected app marked error with nginx's message"; echo "#   got '$st'";;
esac
grep -q $FAULT "$D/nginx/apps.conf"
ok $((! $?)) "rejected route not in the include"
wcode 200 "$U/apps/newgood00008/hello.txt" >/dev/null
is "$(curl -s "$U/apps/newgood00008/hello.txt")" "hello from app one" "a good route from the same change serves"
is "$(code -H "Authorization: $TOKEN" "$U/apps/$A2/headers")" 200 "other apps keep serving"
case $load in
"ok="*" fail=0") ok 0 "zero failed requests on a busy app during the failed check and reload ($load)";;
*) ok 1 "zero failed requests on a busy app during the failed check and reload ($load)";;
esac
case $load in "ok=0 "*) ok 1 "load generator made requests";; *) ok 0 "load generator made requests";; esac
ls "$D/nginx" | grep -q '^apps\.conf\.[A-Za-z0-9]\{6\}$'
ok $((! $?)) "no temporary include left behind"
ls -a "$D/nginx" | grep -q slipway-nginx-test
ok $((! $?)) "no test config left behind"

cp "$D/nginx/apps.conf" "$T/apps.conf.good"
touch "$T/fail-all"
"$DRV" add newapp000009 nine "$P_HTTPD" "" ""
out=$(SLIPWAY_NGINX=$T/nginx-wrap "$DRV" sync 2>/dev/null)
ok $((! $?)) "sync fails when nginx -t fails without any app ($out)"
cmp -s "$T/apps.conf.good" "$D/nginx/apps.conf"
ok $? "last good include kept"
is "$(code "$U/apps/$A1/hello.txt")" 200 "apps keep serving"
is "$("$DRV" status newapp000009 | cut -d'|' -f1)" running "no app blamed for a site-level failure"
rm -f "$T/fail-all"
out=$("$DRV" sync)
is "$(wcode 200 "$U/apps/newapp000009/hello.txt")" 200 "next sync applies it ($out)"

# ---------------------------------------------------------------- bursts
"$DRV" add burst0000010 ten "$P_HTTPD" "" ""
out=$("$DRV" burst 12)
ok $? "12 concurrent syncs ($out)"
reloads=$(printf '%s' "$out" | sed -n 's/.*reloads=\([0-9]*\).*/\1/p')
applied=$(printf '%s' "$out" | sed -n 's/.*applied=\([0-9]*\).*/\1/p')
# One change: one reload.  Syncs that arrive after an apply has read the
# generation render again (identical text: no nginx -t, no reload).
[ "${reloads:-99}" -le 1 ] && [ "${applied:-99}" -lt 12 ]
ok $? "a burst of 12 syncs causes at most 1 reload"
is "$(wcode 200 "$U/apps/burst0000010/hello.txt")" 200 "burst change serves"

echo "1..$n"
[ $failed -eq 0 ]
