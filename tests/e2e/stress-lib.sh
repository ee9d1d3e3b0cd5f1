# tests/e2e/stress-lib.sh: helpers shared by the fault, zero-downtime and
# hostile-input tests and by the benchmarks (sourced after lib.sh and
# agent-lib.sh).
#
#   busybox_path             a static busybox (the apps are FROM scratch)
#   mk_app DIR SCRIPT [RUN]  a Dockerfile app in DIR: busybox, www/index.html
#                            ("app DIR"), CMD sh -c SCRIPT, an optional RUN
#                            step (argv JSON) before it
#   zip_dir DIR OUT          DIR's files in a zip (deflated)
#   upload TOKEN FILE NAME [curl args]  POST /upload; status echoed, body in $T/body
#   stack_restart            stop the stack and start it again on the same data
#   fcgi_get PATH            one GET straight to the workers' socket (no nginx)
#   fcgi_master              pid of the slipway-fcgi master
#   transitional             apps in a transitional state (count)
#   uploads_list / tmp_list  what var/uploads and var/tmp hold (sorted names)
#   settled URL REGEX [curl args]  0 once the status matches 3 times in a row

busybox_path() {
	local b
	b=$(command -v busybox)
	case $(file -b "$b" 2>/dev/null) in
	*static*) ;;
	*) [ -x /bin/busybox ] && b=/bin/busybox ;;
	esac
	echo "$b"
}

mk_app() {	# DIR SCRIPT [RUN_JSON]
	rm -rf "$1"
	mkdir -p "$1/www"
	cp "$(busybox_path)" "$1/busybox"
	echo "app $(basename "$1")" >"$1/www/index.html"
	[ -n "${3:-}" ] && head -c 16 /dev/urandom | od -An -tx1 >"$1/nonce"
	{
		echo "FROM scratch"
		echo "COPY busybox /bin/busybox"
		# a RUN step is never a cached layer from an earlier run
		[ -n "${3:-}" ] && echo "COPY nonce /.nonce" && echo "RUN $3"
		echo "COPY www /www"
		printf 'CMD ["/bin/busybox", "sh", "-c", "%s"]\n' "$2"
	} >"$1/Dockerfile"
}

zip_dir() {	# DIR OUT
	/usr/bin/python3 - "$1" "$2" <<'PYEOF'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(src):
        for f in sorted(files):
            p = os.path.join(root, f)
            info = zipfile.ZipInfo.from_file(p, os.path.relpath(p, src))
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(p, "rb") as fh:
                z.writestr(info, fh.read())
PYEOF
}

upload() {	# TOKEN FILE NAME [curl args]
	local tok=$1 file=$2 name=$3
	shift 3
	curl -s -o "$T/body" -w '%{http_code}' -m 120 -X POST \
	    -H "Authorization: Bearer $tok" -F "file=@$file" -F "name=$name" \
	    "$@" "$API/upload"
}

stack_restart() {
	stack_stop
	bash "$SRC/tools/up.sh" >>"$T/up.log" 2>&1 &
	STACK_PID=$!
	local i
	for i in $(seq 1 300); do
		if curl -s -o /dev/null -m 1 "$API/health"; then
			return 0
		fi
		kill -0 "$STACK_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "stack did not come back"
	return 1
}

fcgi_get() {	# PATH
	/usr/bin/python3 "$SRC/tests/e2e/fcgi_get.py" "$T/var/run/fcgi.sock" "$1"
}

fcgi_master() {
	sed -n 's/.*FastCGI workers started (master pid \([0-9]*\).*/\1/p' "$T/up.log" | tail -n 1
}

transitional() {
	DB "SELECT count(*) FROM apps WHERE status IN
	    ('uploaded', 'queued', 'building', 'starting', 'stopping', 'deleting')"
}

uploads_list() {
	ls -A "$T/var/uploads" 2>/dev/null | sort | tr '\n' ' '
}
tmp_list() {
	ls -A "$T/var/tmp" 2>/dev/null | sort | tr '\n' ' '
}

# nginx applies a reload worker by worker: an old worker may answer with
# the old routes for a few milliseconds more, so a route change counts once
# the answer matches 3 times in a row (5 s at most).
settled() {	# URL REGEX [curl args]
	local url=$1 want=$2 n=0 c
	shift 2
	for _ in $(seq 1 100); do
		c=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$@" "$url")
		if printf '%s' "$c" | grep -Eqx -- "$want"; then
			n=$((n + 1)); [ "$n" -ge 3 ] && return 0
		else
			n=0; sleep 0.05
		fi
	done
	return 1
}
