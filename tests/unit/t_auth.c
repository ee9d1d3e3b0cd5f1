/*
 * t_auth: users, passwords, tokens and login limits on a temporary
 * database.  After every helper no statement may be left open (a SELECT
 * left un-reset pins a WAL snapshot); malformed tokens must be refused
 * without any SQL (counted with an authorizer).
 */
#include "config.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "caps.h"
#include "db.h"
#include "log.h"
#include "req.h"
#include "sha256.h"
#include "valid.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_auth.XXXXXX";

static char *
tpath(const char *name)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s/%s", tmpdir, name);
	return buf_detach(&b, NULL);
}

/* No statement left stepped (db_prepare_cached keeps some prepared). */
static int
no_open_stmt(struct db *db)
{
	sqlite3_stmt *st = NULL;

	while ((st = sqlite3_next_stmt(db->conn, st)) != NULL)
		if (sqlite3_stmt_busy(st))
			return 0;
	return 1;
}

static int64_t
int_query(struct db *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st = db_prepare(db, sql);
	int64_t v = -999;

	if (st != NULL && arg != NULL)
		db_bind_text(st, 1, arg);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
exec_int(struct db *db, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st = db_prepare(db, sql);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, a);
	if (sqlite3_bind_parameter_count(st) > 1)
		db_bind_int(st, 2, b);
	return db_exec_stmt(db, st);
}

static int
is_lower_hex(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void
test_passwords(void)
{
	char *h1, *h2, *h3, *h4, *long_pw;

	h1 = auth_hash_password("correct horse");
	h2 = auth_hash_password("correct horse");
	ok(h1 != NULL && h1[0] == '$', "hash is a crypt string (%.4s...)",
	    h1 ? h1 : "");
	ok(h1 != NULL && h2 != NULL && strcmp(h1, h2) != 0,
	    "two hashes of one password differ (salted)");
	ok(strstr(h1, "correct") == NULL, "the hash does not contain the password");
	is(auth_check_password("correct horse", h1), 0, "right password");
	is(auth_check_password("correct horse", h2), 0, "right password, other salt");
	is(auth_check_password("correct hors", h1), -1, "a prefix is wrong");
	is(auth_check_password("correct horse ", h1), -1, "an extension is wrong");
	is(auth_check_password("Correct horse", h1), -1, "case matters");
	is(auth_check_password("", h1), -1, "empty password is wrong");
	is(auth_check_password("correct horse", ""), -1, "empty hash never matches");
	is(auth_check_password("correct horse", "*"), -1, "'*' hash never matches");
	is(auth_check_password("correct horse", "*0"), -1, "'*0' hash never matches");
	is(auth_check_password("", ""), -1, "empty vs empty does not match");
	is(auth_check_password("x", "$y$garbage"), -1, "malformed hash never matches");
	h3 = auth_hash_password("");
	ok(h3 != NULL && auth_check_password("", h3) == 0 &&
	    auth_check_password("a", h3) == -1,
	    "an empty password hashes and checks (validators refuse it earlier)");
	long_pw = xmalloc(LIMIT_PASSWORD_MAX + 1);
	memset(long_pw, 'p', LIMIT_PASSWORD_MAX);
	long_pw[LIMIT_PASSWORD_MAX] = '\0';
	h4 = auth_hash_password(long_pw);
	ok(h4 != NULL && auth_check_password(long_pw, h4) == 0,
	    "a %d-byte password hashes and checks", LIMIT_PASSWORD_MAX);
	long_pw[LIMIT_PASSWORD_MAX - 1] = 'q';
	ok(auth_check_password(long_pw, h4) == -1,
	    "the last of %d bytes matters", LIMIT_PASSWORD_MAX);
	free(long_pw);
	free(h1);
	free(h2);
	free(h3);
	free(h4);
}

static void
test_users(struct db *db)
{
	struct user *u = NULL;
	int64_t id, id2, id3;

	is(auth_user_create(db, "alice", "password1", 0, &id), AUTH_OK,
	    "create alice");
	ok(id > 0 && no_open_stmt(db), "alice has an id; nothing left open");
	id2 = -5;
	is(auth_user_create(db, "alice", "other-password", 1, &id2), AUTH_EXISTS,
	    "duplicate username: AUTH_EXISTS");
	ok(id2 == -5, "id not written on failure");
	ok(no_open_stmt(db), "nothing left open after the conflict");
	is(auth_user_create(db, "bob", "password2", 1, &id3), AUTH_OK, "create bob (admin)");
	ok(id3 != id, "distinct ids");

	is(auth_user_load(db, id, &u), AUTH_OK, "load alice by id");
	ok(u != NULL && strcmp(u->username, "alice") == 0 && !u->is_admin &&
	    u->id == id && u->created_at > db_now() - 60, "alice's fields");
	auth_user_free(u);
	u = NULL;
	is(auth_user_by_name(db, "bob", &u), AUTH_OK, "load bob by name");
	ok(u != NULL && u->is_admin == 1 && u->id == id3, "bob is an admin");
	auth_user_free(u);
	u = NULL;
	is(auth_user_load(db, 999999, &u), AUTH_NO_USER, "unknown id");
	ok(u == NULL, "out not written");
	is(auth_user_by_name(db, "carol", &u), AUTH_NO_USER, "unknown name");
	is(auth_user_by_name(db, "ALICE", &u), AUTH_NO_USER, "names are exact");
	is(auth_user_by_name(db, "alice' OR '1'='1", &u), AUTH_NO_USER,
	    "names are bound, not interpolated");
	ok(no_open_stmt(db), "loads leave nothing open");
	auth_user_free(NULL);
	ok(1, "auth_user_free(NULL) is harmless");
}

/* An authorizer that counts every table read or write. */
static int sql_touches;

static int
count_auth(void *arg, int op, const char *a, const char *b, const char *c,
    const char *d)
{
	(void)arg; (void)op; (void)a; (void)b; (void)c; (void)d;
	sql_touches++;
	return SQLITE_OK;
}

static void
test_tokens(struct db *db)
{
	struct user *u = NULL, *alice = NULL;
	char *tok = NULL, *tok2 = NULL, hash[65], bad[80];
	int64_t exp, now, id;
	size_t i;

	ok(auth_user_by_name(db, "alice", &alice) == AUTH_OK, "alice");
	id = alice->id;
	now = db_now();
	ok(auth_token_issue(db, id, 3600, &tok, &exp) == 0, "issue a token");
	ok(tok != NULL && is_lower_hex(tok, 2 * TOKEN_BYTES),
	    "token is %d lowercase hex characters", 2 * TOKEN_BYTES);
	ok(exp >= now + 3600 && exp <= db_now() + 3600, "expires_at = now + ttl");
	ok(auth_token_issue(db, id, 3600, &tok2, &exp) == 0 &&
	    strcmp(tok, tok2) != 0, "a second token differs");
	sha256_hex(tok, strlen(tok), hash);
	is(int_query(db, "SELECT count(*) FROM tokens WHERE hash = ?", tok), 0,
	    "the token itself is not stored");
	is(int_query(db, "SELECT count(*) FROM tokens WHERE hash = ?", hash), 1,
	    "its SHA-256 is");
	ok(no_open_stmt(db), "issue leaves nothing open");

	is(auth_token_user(db, tok, &u), AUTH_OK, "token resolves");
	ok(u != NULL && u->id == id && strcmp(u->username, "alice") == 0 &&
	    strcmp(u->token_hash, hash) == 0, "to alice, with the token hash");
	auth_user_free(u);
	u = NULL;
	ok(no_open_stmt(db), "lookup leaves nothing open");

	/* Malformed tokens: refused without any SQL. */
	{
		static const char *const t[] = {
			"", "abc", "Bearer", "0",
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
			"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
			"0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef",
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde ",
			" 123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd'%",
			"' OR '1'='1' -- 0123456789abcdef0123456789abcdef0123456789abcde",
		};
		int good = 1;

		sqlite3_set_authorizer(db->conn, count_auth, NULL);
		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			sql_touches = 0;
			if (auth_token_user(db, t[i], &u) != AUTH_NO_USER ||
			    sql_touches != 0) {
				good = 0;
				printf("# token [%zu]: touches %d\n", i, sql_touches);
			}
		}
		ok(good, "%zu malformed tokens: AUTH_NO_USER with no SQL at all",
		    sizeof(t) / sizeof(t[0]));
		/* The authorizer really counts: a well-formed one does SQL. */
		memcpy(bad, tok, 65);
		bad[63] = bad[63] == '0' ? '1' : '0';
		sql_touches = 0;
		ok(auth_token_user(db, bad, &u) == AUTH_NO_USER && sql_touches > 0,
		    "an unknown well-formed token is looked up (and not found)");
		sqlite3_set_authorizer(db->conn, NULL, NULL);
	}

	/* Expiry. */
	ok(exec_int(db, "UPDATE tokens SET expires_at = ? WHERE user_id = ?",
	    db_now() - 1, id) == 0, "expire alice's tokens by SQL");
	is(auth_token_user(db, tok, &u), AUTH_EXPIRED, "expired token: AUTH_EXPIRED");
	ok(u == NULL, "no user for an expired token");
	ok(exec_int(db, "UPDATE tokens SET expires_at = ? WHERE user_id = ?",
	    db_now(), id) == 0 && auth_token_user(db, tok, &u) == AUTH_EXPIRED,
	    "expires_at == now is expired");
	ok(exec_int(db, "UPDATE tokens SET expires_at = ? WHERE user_id = ?",
	    db_now() + 100, id) == 0 && auth_token_user(db, tok, &u) == AUTH_OK,
	    "a future expires_at is valid again");
	auth_user_free(u);
	u = NULL;
	free(tok2);
	tok2 = NULL;
	ok(auth_token_issue(db, id, 0, &tok2, &exp) == 0 &&
	    auth_token_user(db, tok2, &u) == AUTH_EXPIRED, "ttl 0 is expired at once");
	free(tok2);

	/* Revocation. */
	ok(auth_token_revoke_hash(db, hash) == 0, "revoke by hash");
	is(auth_token_user(db, tok, &u), AUTH_NO_USER, "revoked token: AUTH_NO_USER");
	ok(auth_token_revoke_hash(db, hash) == 0, "revoking twice is fine");
	ok(no_open_stmt(db), "nothing left open");
	free(tok);
	auth_user_free(alice);
}

static void
test_password_change_and_delete(struct db *db)
{
	struct user *u = NULL;
	char *t1 = NULL, *t2 = NULL, *t3 = NULL;
	int64_t exp, id, other, admin;

	ok(auth_user_create(db, "dave", "first-pass", 0, &id) == AUTH_OK &&
	    auth_user_create(db, "erin", "erin-pass", 0, &other) == AUTH_OK,
	    "dave and erin");
	ok(auth_token_issue(db, id, 3600, &t1, &exp) == 0 &&
	    auth_token_issue(db, id, 3600, &t2, &exp) == 0 &&
	    auth_token_issue(db, other, 3600, &t3, &exp) == 0, "tokens");
	ok(auth_user_set_password(db, id, "second-pass") == 0, "set_password");
	ok(!db->in_tx && no_open_stmt(db), "set_password closes its transaction");
	is(auth_token_user(db, t1, &u), AUTH_NO_USER, "dave's first token revoked");
	is(auth_token_user(db, t2, &u), AUTH_NO_USER, "dave's second token revoked");
	is(auth_token_user(db, t3, &u), AUTH_OK, "erin's token untouched");
	auth_user_free(u);
	u = NULL;
	free(t1);
	free(t2);
	t1 = t2 = NULL;
	is(auth_login(db, "dave", "first-pass", "198.51.100.1", 3600, &t1, &exp,
	    &u), AUTH_BAD_PASSWORD, "old password refused");
	is(auth_login(db, "dave", "second-pass", "198.51.100.1", 3600, &t1, &exp,
	    &u), AUTH_OK, "new password accepted");
	auth_user_free(u);
	u = NULL;

	/* Delete: tokens go by cascade (foreign_keys=ON). */
	ok(auth_token_issue(db, id, 3600, &t2, &exp) == 0, "another token for dave");
	ok(auth_user_delete(db, id) == 0, "delete dave");
	is(int_query(db, "SELECT count(*) FROM tokens t WHERE NOT EXISTS "
	    "(SELECT 1 FROM users u WHERE u.id = t.user_id)", NULL), 0,
	    "no orphan tokens");
	is(auth_token_user(db, t1, &u), AUTH_NO_USER, "dave's login token is gone");
	is(auth_token_user(db, t2, &u), AUTH_NO_USER, "and the other");
	is(auth_user_load(db, id, &u), AUTH_NO_USER, "dave is gone");
	is(auth_user_delete(db, id), -1, "deleting again fails");
	is(auth_user_delete(db, 987654), -1, "deleting an unknown id fails");
	is(auth_token_user(db, t3, &u), AUTH_OK, "erin still fine");
	auth_user_free(u);
	u = NULL;

	/* The built-in admin. */
	ok(auth_user_create(db, "admin", "admin-pass", 1, &admin) == AUTH_OK,
	    "the admin user");
	is(auth_user_delete(db, admin), -1, "the built-in admin cannot be deleted");
	is(auth_user_load(db, admin, &u), AUTH_OK, "admin still there");
	auth_user_free(u);
	u = NULL;

	/* A user who owns an app: the delete is refused as a whole. */
	ok(exec_int(db, "INSERT INTO apps(app_id, name, type, status, owner_id, "
	    "created_at, updated_at) VALUES ('erinapp00001', 'erin-app', "
	    "'gradio', 'running', ?, ?, 0)", other, db_now()) == 0,
	    "erin owns an app");
	is(auth_user_delete(db, other), -1,
	    "deleting a user who owns apps fails (apps.owner_id has no cascade)");
	is(auth_token_user(db, t3, &u), AUTH_OK, "and changes nothing");
	auth_user_free(u);
	ok(no_open_stmt(db) && !db->in_tx, "nothing left open");
	free(t1);
	free(t2);
	free(t3);
}

static enum auth_result
login(struct db *db, const char *user, const char *pw, const char *addr)
{
	struct user *u = NULL;
	char *tok = NULL;
	int64_t exp = 0;
	enum auth_result r;

	r = auth_login(db, user, pw, addr, 3600, &tok, &exp, &u);
	if (r == AUTH_OK && (tok == NULL || u == NULL || exp <= db_now() ||
	    strcmp(u->username, user) != 0))
		r = AUTH__MAX;	/* inconsistent outputs */
	if (r != AUTH_OK && (tok != NULL || u != NULL))
		r = AUTH__MAX;	/* outputs written on failure */
	free(tok);
	auth_user_free(u);
	return r;
}

static void
test_login(struct db *db)
{
	struct buf name = BUF_INIT;
	int64_t id;
	int i, good;

	ok(auth_user_create(db, "frank", "frank-pass", 0, &id) == AUTH_OK &&
	    auth_user_create(db, "gina", "gina-pass1", 0, &id) == AUTH_OK,
	    "frank and gina");
	is(login(db, "frank", "frank-pass", "10.0.0.1"), AUTH_OK, "login ok");
	ok(no_open_stmt(db), "login leaves nothing open");
	is(login(db, "frank", "wrong-pass", "10.0.0.1"), AUTH_BAD_PASSWORD,
	    "wrong password");
	is(login(db, "nobody", "whatever1", "10.0.0.1"), AUTH_NO_USER,
	    "unknown user");
	is(login(db, "frank", "", "10.0.0.1"), AUTH_BAD_PASSWORD, "empty password");
	is(login(db, "frank", "frank-pass", "10.0.0.1"), AUTH_OK,
	    "two failures, then a success");

	/* A success clears the username's failures. */
	for (i = 0; i < LOGIN_FAIL_MAX_USER - 1; i++)
		(void)login(db, "frank", "wrong-pass", "10.0.0.2");
	is(login(db, "frank", "frank-pass", "10.0.0.2"), AUTH_OK,
	    "just under the limit: still ok");
	for (i = 0; i < LOGIN_FAIL_MAX_USER - 1; i++)
		(void)login(db, "frank", "wrong-pass", "10.0.0.3");
	is(login(db, "frank", "frank-pass", "10.0.0.3"), AUTH_OK,
	    "the earlier success reset the count");

	/* Per username: LOGIN_FAIL_MAX_USER failures lock it, from anywhere. */
	for (i = 0; i < LOGIN_FAIL_MAX_USER; i++)
		(void)login(db, "frank", "wrong-pass", i % 2 ? "10.0.1.1" : "10.0.1.2");
	is(login(db, "frank", "frank-pass", "10.0.1.3"), AUTH_LIMITED,
	    "after %d failures the right password is AUTH_LIMITED", LOGIN_FAIL_MAX_USER);
	is(login(db, "frank", "wrong-pass", "10.0.1.3"), AUTH_LIMITED,
	    "and a wrong one too");
	is(login(db, "gina", "gina-pass1", "10.0.1.3"), AUTH_OK,
	    "other users are not locked");
	ok(db_exec(db, "UPDATE login_failures SET at = at - 301") == 0,
	    "age the failures past LOGIN_FAIL_WINDOW");
	is(login(db, "frank", "frank-pass", "10.0.1.3"), AUTH_OK,
	    "after the window frank gets in");

	/* Per address: LOGIN_FAIL_MAX_ADDR failures over many names. */
	good = 1;
	for (i = 0; i < LOGIN_FAIL_MAX_ADDR; i++) {
		buf_reset(&name);
		buf_printf(&name, "ghost%d", i);
		if (login(db, name.data, "wrong-pass", "203.0.113.9") != AUTH_NO_USER)
			good = 0;
	}
	ok(good, "%d failures for unknown users from one address",
	    LOGIN_FAIL_MAX_ADDR);
	is(login(db, "gina", "gina-pass1", "203.0.113.9"), AUTH_LIMITED,
	    "then that address is AUTH_LIMITED, even for a good login");
	is(login(db, "gina", "gina-pass1", "203.0.113.10"), AUTH_OK,
	    "another address is not");
	is(login(db, "gina'--", "x", "203.0.113.11"), AUTH_NO_USER,
	    "quotes in a username are only data");
	ok(no_open_stmt(db) && !db->in_tx, "nothing left open");
	buf_release(&name);
}

static void
test_random(void)
{
	char id[65];
	int seen[256] = { 0 }, good = 1, distinct = 0;
	size_t i, n, k;
	static const size_t lens[] = { 0, 1, 12, 24, 64 };
	unsigned char a[32], b[32];

	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		memset(id, 'X', sizeof(id));
		auth_random_id(id, lens[k]);
		if (strlen(id) != lens[k])
			good = 0;
	}
	ok(good, "auth_random_id writes n chars and a NUL (n = 0, 1, 12, 24, 64)");
	good = 1;
	for (n = 0; n < 2000; n++) {
		auth_random_id(id, 12);
		if (valid_app_id(id) == -1)
			good = 0;
		for (i = 0; i < 12; i++)
			seen[(unsigned char)id[i]]++;
	}
	ok(good, "2000 ids of 12 pass valid_app_id");
	for (i = 0; i < 256; i++)
		if (seen[i] > 0)
			distinct++;
	is(distinct, 36, "all 36 characters of [a-z0-9] appear, nothing else");
	good = 1;
	for (i = 0; i < 256; i++)
		if (seen[i] > 0 && (seen[i] < 400 || seen[i] > 1000))
			good = 0;	/* expected 24000/36 = 667 each */
	ok(good, "roughly uniform (each within 400..1000 of 24000)");

	auth_random(a, sizeof(a));
	auth_random(b, sizeof(b));
	ok(memcmp(a, b, sizeof(a)) != 0, "two 32-byte random draws differ");

	ok(auth_ct_equal("abcdef", "abcdef", 6), "ct_equal: equal");
	ok(!auth_ct_equal("abcdef", "Abcdef", 6), "ct_equal: first byte differs");
	ok(!auth_ct_equal("abcdef", "abcdeF", 6), "ct_equal: last byte differs");
	ok(auth_ct_equal("abcdef", "abcXYZ", 3), "ct_equal: only n bytes compared");
	ok(auth_ct_equal("a", "b", 0), "ct_equal: n = 0 is equal");
	ok(!auth_ct_equal("a\0b", "a\0c", 3), "ct_equal: past a NUL byte");
}

static void
test_bootstrap(void)
{
	char *p1 = tpath("boot1.db"), *p2 = tpath("boot2.db");
	struct db *db;
	char *gen = NULL, *gen2 = (char *)"x";
	struct user *u = NULL;

	if ((db = db_open(p1)) == NULL) {
		ok(0, "boot db");
		goto out;
	}
	ok(auth_bootstrap_admin(db, NULL, &gen) == 0, "bootstrap without a password");
	ok(gen != NULL && strlen(gen) == 24 && strspn(gen,
	    "abcdefghijklmnopqrstuvwxyz0123456789") == 24,
	    "a generated 24-character password");
	ok(auth_user_by_name(db, "admin", &u) == AUTH_OK && u->is_admin,
	    "admin exists and is an admin");
	auth_user_free(u);
	u = NULL;
	is(login(db, "admin", gen ? gen : "", "127.0.0.1"), AUTH_OK,
	    "the generated password logs in");
	ok(auth_bootstrap_admin(db, NULL, &gen2) == 0 && gen2 == NULL,
	    "second bootstrap: no new password");
	ok(auth_bootstrap_admin(db, "explicit-pass", &gen2) == 0 && gen2 == NULL,
	    "bootstrap with a password when admin exists: unchanged");
	is(login(db, "admin", gen ? gen : "", "127.0.0.1"), AUTH_OK,
	    "the first password still works");
	is(login(db, "admin", "explicit-pass", "127.0.0.1"), AUTH_BAD_PASSWORD,
	    "the later one does not");
	is(int_query(db, "SELECT count(*) FROM users WHERE username = 'admin'",
	    NULL), 1, "one admin");
	ok(no_open_stmt(db), "nothing left open");
	db_close(db);
	free(gen);

	if ((db = db_open(p2)) == NULL) {
		ok(0, "boot db 2");
		goto out;
	}
	gen = (char *)"x";
	ok(auth_bootstrap_admin(db, "from-env-pass", &gen) == 0 && gen == NULL,
	    "bootstrap with ADMIN_PASSWORD: nothing generated");
	is(login(db, "admin", "from-env-pass", "127.0.0.1"), AUTH_OK,
	    "that password logs in");
	db_close(db);
out:
	free(p1);
	free(p2);
}

static void
cleanup(void)
{
	struct dirent *de;
	DIR *d;
	char *p;

	if ((d = opendir(tmpdir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = tpath(de->d_name);
		(void)unlink(p);
		free(p);
	}
	closedir(d);
	(void)rmdir(tmpdir);
}

int
main(void)
{
	struct db *db;
	char *p;

	log_init("t_auth", 0);
	if (mkdtemp(tmpdir) == NULL) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_passwords();
	test_random();
	p = tpath("auth.db");
	if ((db = db_open(p)) != NULL) {
		test_users(db);
		test_tokens(db);
		test_password_change_and_delete(db);
		test_login(db);
		db_close(db);
	} else
		ok(0, "open auth.db");
	free(p);
	test_bootstrap();
	cleanup();
	return done_testing();
}
