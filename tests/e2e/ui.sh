#!/bin/bash
# e2e: the web UI in a real browser (Debian chromium + chromedriver, driven
# over the WebDriver HTTP protocol by ui_test.py with urllib only) against
# the real stack: register, login, upload a busybox Dockerfile app with the
# progress bar reaching 100%, running, open, logs, stop, restart, edit,
# save as template, deploy it, delete both, XSS payloads rendered as text,
# admin pages, phone width, keyboard, logout.  Screenshots go to $T/shots;
# on a run with no failures and SLIPWAY_UPDATE_SCREENSHOTS=1 they are copied
# to docs/screenshots/ for the
# README (when the source tree is writable).
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
trap e2e_finish EXIT

CHROMIUM=${SLIPWAY_CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER=${SLIPWAY_CHROMEDRIVER:-/usr/bin/chromedriver}
if [ ! -x "$CHROMIUM" ] || [ ! -x "$CHROMEDRIVER" ]; then
	echo "1..0 # SKIP chromium or chromedriver not installed"
	trap - EXIT
	exit 0
fi

stack_start || exit 1

SHOTS=$T/shots
mkdir -p "$SHOTS"
/usr/bin/python3 "$SRC/tests/e2e/ui_test.py" --base "$API/" --apps-base "$APPS" \
    --admin-password "$ADMIN_PASSWORD" --shots "$SHOTS" \
    --chromium "$CHROMIUM" --chromedriver "$CHROMEDRIVER" >"$T/ui.out" 2>"$T/ui.err"
rc=$?
while IFS= read -r line; do
	case $line in
	PASS$'\t'*) ok 0 "${line#PASS?}" ;;
	FAIL$'\t'*) ok 1 "${line#FAIL?}" ;;
	'#'*) echo "$line" ;;
	*) diag "$line" ;;
	esac
done <"$T/ui.out"
if [ -s "$T/ui.err" ]; then
	diag "ui_test.py stderr:"
	tail -n 20 "$T/ui.err" | sed 's/^/#   /'
fi
ok $(( rc == 0 || (rc == 1 && T_FAILED > 0) ? 0 : 1 )) "ui_test.py exits cleanly (rc $rc)"

n=$(find "$SHOTS" -name '*.png' | wc -l)
like "$n" '^[1-9][0-9]*$' "screenshots saved ($n)"
# The source tree is only written when asked (SLIPWAY_UPDATE_SCREENSHOTS=1).
if [ "$T_FAILED" -eq 0 ] && [ "$n" -gt 0 ] && [ "${SLIPWAY_UPDATE_SCREENSHOTS:-0}" = 1 ]; then
	dest=$SRC/docs/screenshots
	if mkdir -p "$dest" 2>/dev/null && [ -w "$dest" ]; then
		rm -f "$dest"/*.png
		cp "$SHOTS"/*.png "$dest"/ && diag "screenshots copied to $dest"
	fi
else
	diag "screenshots of this run: $SHOTS"
fi
