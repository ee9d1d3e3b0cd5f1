#!/bin/bash
# e2e: users and tokens through real nginx + spawn-fcgi workers.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
trap e2e_finish EXIT

stack_start || exit 1

# /health answers without a token and names its parts
st=$(api GET /health)
like "$st" '^(200|503)$' "health answers"
like "$(body)" '"database":\{"ok":true' "health reports the database"

# register (multipart as curl -F, as in the README) and login (urlencoded)
st=$(api POST /register -F username=alice -F password=alice-pass-1)
is "$st" 201 "register alice with a multipart form"
like "$(body)" '"detail":"user created","id":[0-9]+' "register answer shape"
st=$(api POST /register -F username=alice -F password=other-pass-1)
is "$st" 409 "duplicate username is a conflict"
st=$(api POST /register -H 'Content-Type: application/json' -d '{"username":"bob","password":"bob-pass-12"}')
is "$st" 201 "register bob with JSON"

st=$(api POST /login -d 'username=alice&password=alice-pass-1')
is "$st" 200 "login with the OAuth2 password form"
TOK=$(jget 'd["access_token"]')
is "$(jget 'd["token_type"]')" bearer "token_type is bearer"
like "$(jget 'd["expires_at"]')" '^[0-9]+$' "expires_at is a timestamp"

st=$(api GET /users/me -H "Authorization: Bearer $TOK")
is "$st" 200 "token works with Bearer"
is "$(jget 'd["username"]')" alice "users/me is alice"
st=$(api GET /users/me/ -H "Authorization: $TOK" -H "SYNAPSE-User: Token x" -H "SYNAPSE-Tenant: Token y")
is "$st" 200 "bare token (Synapse SDK) works, trailing slash too"

# wrong password, unknown user, malformed bodies
is "$(api POST /login -d 'username=alice&password=wrong-pass-1')" 401 "wrong password is 401"
like "$(body)" '"code":"bad_credentials"' "error is JSON with a code"
is "$(api POST /login -d 'username=nobody&password=whatever-1')" 401 "unknown user is 401"
is "$(api POST /login -H 'Content-Type: application/json' -d '{bad')" 400 "malformed JSON is 400"
like "$(body)" '"detail":' "malformed JSON answers a JSON error"
is "$(api POST /login -H 'Content-Type: text/plain' -d 'x')" 415 "unsupported content type is 415"
is "$(api POST /register -d 'username=a&password=short')" 400 "short password/bad username is 400"
is "$(api POST /register -d 'username=Evil%27%3B--&password=longenough1')" 400 "SQL metacharacters in username rejected"
is "$(api POST /login -d "username=x%27%20OR%201%3D1--&password=%27%20OR%20%271%27%3D%271")" 401 "SQL injection in login is just a wrong login"
head -c 3000000 /dev/zero | tr '\0' a >"$T/big"
is "$(api POST /login -H 'Content-Type: application/json' --data-binary @"$T/big")" 413 "oversized body is 413"

# no token, bad token, non-admin on admin routes
is "$(api GET /users/me)" 401 "no token is 401"
is "$(api GET /users/me -H 'Authorization: Bearer 0000')" 401 "bad token is 401"
is "$(api GET /users -H "Authorization: $TOK")" 403 "non-admin on /users is 403"
is "$(api PUT /users/me -H "Authorization: $TOK")" 405 "wrong method is 405"
is "$(api GET /nonexistent)" 404 "unknown path is 404"

# admin
ATOK=$(login admin "$ADMIN_PASSWORD")
is "$(api GET /users -H "Authorization: $ATOK")" 200 "admin lists users"
like "$(body)" '"username":"alice"' "user list holds alice"
BOB_ID=$(jget '[u["id"] for u in d if u["username"]=="bob"][0]')
BTOK=$(login bob bob-pass-12)
is "$(api GET /users/me -H "Authorization: $BTOK")" 200 "bob logged in"
is "$(api POST /users/$BOB_ID/reset_password -H "Authorization: $ATOK" -d new_password=bob-new-pass)" 204 "admin resets bob's password"
is "$(api GET /users/me -H "Authorization: $BTOK")" 401 "reset revokes bob's tokens"
BTOK=$(login bob bob-new-pass)
is "$(api POST /users/me/password -H "Authorization: $BTOK" -d old_password=wrong-pass-x -d new_password=bob-newer-1)" 403 "password change needs the old password"
is "$(api POST /users/me/password -H "Authorization: $BTOK" -d old_password=bob-new-pass -d new_password=bob-newer-1)" 204 "bob changes his password"
is "$(api GET /users/me -H "Authorization: $BTOK")" 401 "password change revokes tokens"
BTOK=$(login bob bob-newer-1)
is "$(api DELETE /users/$BOB_ID -H "Authorization: $ATOK")" 204 "admin deletes bob"
is "$(api GET /users/me -H "Authorization: $BTOK")" 401 "deleting a user revokes their tokens"
ADMIN_ID=$(api GET /users/me -H "Authorization: $ATOK" >/dev/null; jget 'd["id"]')
is "$(api DELETE /users/$ADMIN_ID -H "Authorization: $ATOK")" 403 "the built-in admin cannot be deleted"

# logout revokes
is "$(api POST /logout -H "Authorization: $TOK")" 204 "logout"
is "$(api GET /users/me -H "Authorization: $TOK")" 401 "token stops working after logout"

# expired token: shorten its expiry in the database
TOK=$(login alice alice-pass-1)
sqlite3 "$T/var/slipway.db" "UPDATE tokens SET expires_at = strftime('%s','now') - 1"
is "$(api GET /users/me -H "Authorization: $TOK")" 401 "expired token is refused"

# rate limit: 5 failures for one username -> 429, even with the right password
for i in 1 2 3 4 5; do api POST /login -d 'username=alice&password=bad-pass-00' >/dev/null; done
is "$(api POST /login -d 'username=alice&password=bad-pass-00')" 429 "failed logins are rate limited"
is "$(api POST /login -d 'username=alice&password=alice-pass-1')" 429 "rate limit holds for the right password too"

# 50 concurrent registrations + logins from separate processes
pids=
for i in $(seq 1 50); do
	( s=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d "username=user$i&password=password-$i" "$API/register")
	  l=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d "username=user$i&password=password-$i" "$API/login")
	  echo "$s $l" >"$T/conc.$i" ) &
	pids="$pids $!"
done
wait $pids	# not a bare wait: that would wait for the stack too
bad=$(cat "$T"/conc.* | grep -vc '^201 200$')
is "$bad" 0 "50 concurrent register+login all succeed"
n=$(sqlite3 "$T/var/slipway.db" "SELECT count(*) FROM users WHERE username LIKE 'user%'")
is "$n" 50 "50 users stored"
busy=$(grep -c -i 'busy\|locked' "$T/var/logs/slipway.log")
is "$busy" 0 "no SQLITE_BUSY surfaced in the log"

# closed registration
stack_stop
export SLIPWAY_OPEN_REGISTRATION=0
bash "$SRC/tools/up.sh" >"$T/up2.log" 2>&1 &
STACK_PID=$!
for i in $(seq 1 100); do curl -s -o /dev/null -m 1 "$API/health" && break; sleep 0.1; done
is "$(api POST /register -d 'username=carol&password=carol-pass-1')" 403 "registration closed answers 403"
is "$(api POST /login -d 'username=user7&password=password-7')" 200 "data survives a restart"
unset SLIPWAY_OPEN_REGISTRATION
