#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth.h"
#include "buf.h"
#include "caps.h"
#include "db.h"
#include "log.h"
#include "req.h"
#include "sha256.h"

void
auth_random(void *p, size_t n)
{
	unsigned char *c = p;
	ssize_t got;

	while (n > 0) {
		got = getrandom(c, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		c += got;
		n -= (size_t)got;
	}
}

void
auth_random_id(char *out, size_t n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r;
	size_t i = 0;

	while (i < n) {
		auth_random(&r, 1);
		if (r >= 252)		/* 252 = 7 * 36: reject to stay uniform */
			continue;
		out[i++] = alphabet[r % 36];
	}
	out[n] = '\0';
}

int
auth_ct_equal(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

char *
auth_hash_password(const char *password)
{
	struct crypt_data *cd = NULL;
	char *salt = NULL, *out = NULL, *h;

	if ((salt = crypt_gensalt_ra(NULL, 0, NULL, 0)) == NULL) {
		log_warn("crypt_gensalt_ra");
		goto out;
	}
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(password, salt, cd);
	if (h == NULL || h[0] == '*') {
		log_warn("crypt_r");
		goto out;
	}
	out = xstrdup(h);
out:
	free(salt);
	if (cd != NULL) {
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
	}
	return out;
}

int
auth_check_password(const char *password, const char *hash)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h;
	int rc = -1;

	h = crypt_r(password, hash, cd);
	if (h != NULL && h[0] != '*' && strlen(h) == strlen(hash) &&
	    auth_ct_equal(h, hash, strlen(hash)))
		rc = 0;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

void
auth_user_free(struct user *u)
{
	if (u == NULL)
		return;
	free(u->username);
	free(u);
}

static struct user *
auth_user_from_row(sqlite3_stmt *st)
{
	struct user *u = xcalloc(1, sizeof(*u));

	u->id = sqlite3_column_int64(st, 0);
	u->username = db_col_strdup(st, 1);
	u->is_admin = sqlite3_column_int(st, 2);
	u->created_at = sqlite3_column_int64(st, 3);
	if (u->username == NULL)
		u->username = xstrdup("");
	return u;
}

static enum auth_result
auth_user_query(struct db *db, sqlite3_stmt *st, struct user **out)
{
	enum auth_result res;

	if (st == NULL)
		return AUTH_ERROR;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*out = auth_user_from_row(st);
		res = AUTH_OK;
		break;
	case SQLITE_DONE:
		res = AUTH_NO_USER;
		break;
	default:
		log_warnx("%s", sqlite3_errmsg(db->conn));
		res = AUTH_ERROR;
	}
	sqlite3_finalize(st);
	return res;
}

enum auth_result
auth_user_load(struct db *db, int64_t id, struct user **out)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT id, username, is_admin, "
	    "created_at FROM users WHERE id = ?");

	if (st != NULL)
		db_bind_int(st, 1, id);
	return auth_user_query(db, st, out);
}

enum auth_result
auth_user_by_name(struct db *db, const char *name, struct user **out)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT id, username, is_admin, "
	    "created_at FROM users WHERE username = ?");

	if (st != NULL)
		db_bind_text(st, 1, name);
	return auth_user_query(db, st, out);
}

enum auth_result
auth_user_create(struct db *db, const char *username, const char *password,
    int is_admin, int64_t *id_out)
{
	sqlite3_stmt *st;
	char *hash;
	int rc;

	/* Hash outside any transaction: it is slow on purpose. */
	if ((hash = auth_hash_password(password)) == NULL)
		return AUTH_ERROR;
	st = db_prepare(db, "INSERT INTO users(username, password_hash, "
	    "is_admin, created_at) VALUES (?, ?, ?, ?)");
	if (st == NULL) {
		free(hash);
		return AUTH_ERROR;
	}
	db_bind_text(st, 1, username);
	db_bind_text(st, 2, hash);
	db_bind_int(st, 3, is_admin ? 1 : 0);
	db_bind_int(st, 4, db_now());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	free(hash);
	if (rc == SQLITE_DONE) {
		*id_out = db_last_id(db);
		return AUTH_OK;
	}
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return AUTH_EXISTS;
	log_warnx("insert user: %s", sqlite3_errmsg(db->conn));
	return AUTH_ERROR;
}

int
auth_user_set_password(struct db *db, int64_t id, const char *password)
{
	sqlite3_stmt *st;
	char *hash;

	if ((hash = auth_hash_password(password)) == NULL)
		return -1;
	if (db_begin(db) == -1)
		goto fail;
	st = db_prepare(db, "UPDATE users SET password_hash = ? WHERE id = ?");
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, hash);
	db_bind_int(st, 2, id);
	if (db_exec_stmt(db, st) == -1)
		goto fail;
	st = db_prepare(db, "DELETE FROM tokens WHERE user_id = ?");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, id);
	if (db_exec_stmt(db, st) == -1 || db_commit(db) == -1)
		goto fail;
	free(hash);
	return 0;
fail:
	db_rollback(db);
	free(hash);
	return -1;
}

int
auth_user_delete(struct db *db, int64_t id)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "DELETE FROM users WHERE id = ? AND "
	    "username <> 'admin'");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	if (db_exec_stmt(db, st) == -1)
		return -1;
	return db_changes(db) == 1 ? 0 : -1;
}

static void
auth_token_hash(const char *token, char out[65])
{
	sha256_hex(token, strlen(token), out);
}

int
auth_token_issue(struct db *db, int64_t user_id, int64_t ttl, char **token_out,
    int64_t *expires_out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[TOKEN_BYTES];
	char token[2 * TOKEN_BYTES + 1], hash[65];
	sqlite3_stmt *st;
	int64_t now = db_now();
	size_t i;

	auth_random(raw, sizeof(raw));
	for (i = 0; i < sizeof(raw); i++) {
		token[2 * i] = hex[raw[i] >> 4];
		token[2 * i + 1] = hex[raw[i] & 15];
	}
	token[2 * TOKEN_BYTES] = '\0';
	auth_token_hash(token, hash);
	st = db_prepare(db, "INSERT INTO tokens(hash, user_id, created_at, "
	    "expires_at) VALUES (?, ?, ?, ?)");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, hash);
	db_bind_int(st, 2, user_id);
	db_bind_int(st, 3, now);
	db_bind_int(st, 4, now + ttl);
	if (db_exec_stmt(db, st) == -1)
		return -1;
	*token_out = xstrdup(token);
	*expires_out = now + ttl;
	explicit_bzero(token, sizeof(token));
	return 0;
}

enum auth_result
auth_token_user(struct db *db, const char *token, struct user **out)
{
	sqlite3_stmt *st;
	char hash[65];
	enum auth_result res;
	size_t i, n = strlen(token);

	/* Our tokens are 64 hex chars: anything else cannot match. */
	if (n != 2 * TOKEN_BYTES)
		return AUTH_NO_USER;
	for (i = 0; i < n; i++)
		if (!((token[i] >= '0' && token[i] <= '9') ||
		    (token[i] >= 'a' && token[i] <= 'f')))
			return AUTH_NO_USER;
	auth_token_hash(token, hash);
	st = db_prepare_cached(db, "SELECT u.id, u.username, u.is_admin, "
	    "u.created_at, t.hash, t.expires_at FROM tokens t JOIN users u "
	    "ON u.id = t.user_id WHERE t.hash = ?");
	if (st == NULL)
		return AUTH_ERROR;
	/* hash outlives the binding: db_release() clears it below */
	sqlite3_bind_text(st, 1, hash, 64, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW: {
		const char *stored = (const char *)sqlite3_column_text(st, 4);

		if (stored == NULL || strlen(stored) != 64 ||
		    !auth_ct_equal(stored, hash, 64)) {
			res = AUTH_NO_USER;
			break;
		}
		if (sqlite3_column_int64(st, 5) <= db_now()) {
			res = AUTH_EXPIRED;
			break;
		}
		*out = auth_user_from_row(st);
		memcpy((*out)->token_hash, hash, sizeof(hash));
		res = AUTH_OK;
		break;
	}
	case SQLITE_DONE:
		res = AUTH_NO_USER;
		break;
	default:
		log_warnx("%s", sqlite3_errmsg(db->conn));
		res = AUTH_ERROR;
	}
	db_release(db, st);
	return res;
}

int
auth_token_revoke_hash(struct db *db, const char *hash)
{
	sqlite3_stmt *st = db_prepare(db, "DELETE FROM tokens WHERE hash = ?");

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, hash);
	return db_exec_stmt(db, st);
}

/* Failures for key within the window. -1 on error. */
static int
auth_fail_count(struct db *db, const char *key)
{
	sqlite3_stmt *st;
	int n = -1;

	st = db_prepare(db, "SELECT count(*) FROM login_failures WHERE "
	    "key = ? AND at > ?");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, key);
	db_bind_int(st, 2, db_now() - LOGIN_FAIL_WINDOW);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
auth_fail_record(struct db *db, const char *ukey, const char *akey)
{
	sqlite3_stmt *st;
	const char *keys[2] = { ukey, akey };
	int i;

	for (i = 0; i < 2; i++) {
		st = db_prepare(db, "INSERT INTO login_failures(key, at) "
		    "VALUES (?, ?)");
		if (st == NULL)
			return;
		db_bind_text(st, 1, keys[i]);
		db_bind_int(st, 2, db_now());
		(void)db_exec_stmt(db, st);
	}
	/* Keep the table small: forget what is outside every window. */
	st = db_prepare(db, "DELETE FROM login_failures WHERE at <= ?");
	if (st != NULL) {
		db_bind_int(st, 1, db_now() - LOGIN_FAIL_WINDOW);
		(void)db_exec_stmt(db, st);
	}
}

enum auth_result
auth_login(struct db *db, const char *username, const char *password,
    const char *addr, int64_t ttl, char **token_out, int64_t *expires_out,
    struct user **user_out)
{
	struct buf ukey = BUF_INIT, akey = BUF_INIT;
	sqlite3_stmt *st = NULL;
	struct user *u = NULL;
	char *hash = NULL;
	enum auth_result res = AUTH_ERROR;
	int nu, na;

	buf_printf(&ukey, "u:%s", username);
	buf_printf(&akey, "a:%s", addr);
	nu = auth_fail_count(db, ukey.data);
	na = auth_fail_count(db, akey.data);
	if (nu < 0 || na < 0)
		goto out;
	if (nu >= LOGIN_FAIL_MAX_USER || na >= LOGIN_FAIL_MAX_ADDR) {
		res = AUTH_LIMITED;
		goto out;
	}
	st = db_prepare(db, "SELECT id, username, is_admin, created_at, "
	    "password_hash FROM users WHERE username = ?");
	if (st == NULL)
		goto out;
	db_bind_text(st, 1, username);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		u = auth_user_from_row(st);
		hash = db_col_strdup(st, 4);
		break;
	case SQLITE_DONE:
		break;
	default:
		log_warnx("%s", sqlite3_errmsg(db->conn));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (u == NULL) {
		/* Spend the same time as a real check: no user oracle. */
		static char *dummy;

		if (dummy == NULL)
			dummy = auth_hash_password("slipway-dummy-password");
		if (dummy != NULL)
			(void)auth_check_password(password, dummy);
		auth_fail_record(db, ukey.data, akey.data);
		res = AUTH_NO_USER;
		goto out;
	}
	if (hash == NULL || auth_check_password(password, hash) == -1) {
		auth_fail_record(db, ukey.data, akey.data);
		res = AUTH_BAD_PASSWORD;
		goto out;
	}
	if (auth_token_issue(db, u->id, ttl, token_out, expires_out) == -1)
		goto out;
	st = db_prepare(db, "DELETE FROM login_failures WHERE key = ?");
	if (st != NULL) {
		db_bind_text(st, 1, ukey.data);
		(void)db_exec_stmt(db, st);
		st = NULL;
	}
	*user_out = u;
	u = NULL;
	res = AUTH_OK;
out:
	sqlite3_finalize(st);
	auth_user_free(u);
	free(hash);
	buf_release(&ukey);
	buf_release(&akey);
	return res;
}

int
auth_bootstrap_admin(struct db *db, const char *password, char **generated)
{
	struct user *u = NULL;
	char pw[25];
	int64_t id;

	*generated = NULL;
	switch (auth_user_by_name(db, "admin", &u)) {
	case AUTH_OK:
		auth_user_free(u);
		return 0;
	case AUTH_NO_USER:
		break;
	default:
		return -1;
	}
	if (password == NULL) {
		auth_random_id(pw, 24);
		password = pw;
	}
	switch (auth_user_create(db, "admin", password, 1, &id)) {
	case AUTH_OK:
		if (password == pw)
			*generated = xstrdup(pw);
		return 0;
	case AUTH_EXISTS:	/* another process won the race */
		return 0;
	default:
		return -1;
	}
}
