#include "config.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "form.h"
#include "handlers.h"
#include "log.h"
#include "req.h"
#include "valid.h"

static struct json_object *
h_user_json(const struct user *u)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(u->id));
	json_object_object_add(o, "username",
	    json_object_new_string(u->username));
	json_object_object_add(o, "is_admin",
	    json_object_new_boolean(u->is_admin));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(u->created_at));
	return o;
}

/* username and password fields, validated. */
static int
h_credentials(struct req *r, struct form *f, const char **user,
    const char **pass, int strict_username)
{
	if (req_params(r, f) == -1)
		return -1;
	*user = form_get(f, "username");
	*pass = form_get(f, "password");
	if (*user == NULL || *pass == NULL)
		return req_fail(r, HERR_BAD_REQUEST, "missing_field",
		    "username and password are required");
	if (strict_username && valid_username(*user) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_username",
		    "username must match ^[a-z][a-z0-9_.-]{1,31}$");
	if (!strict_username && strlen(*user) > 64)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_username",
		    "username too long");
	if (valid_password(*pass, strlen(*pass)) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_password",
		    "password must be 8 to 256 bytes");
	return 0;
}

int
h_register(struct req *r)
{
	struct form f = FORM_INIT;
	struct json_object *o;
	const char *user, *pass;
	int64_t id;
	int rc = -1;

	if (!r->conf->open_registration) {
		req_fail(r, HERR_FORBIDDEN, "registration_closed",
		    "registration is closed");
		goto out;
	}
	if (h_credentials(r, &f, &user, &pass, 1) == -1)
		goto out;
	switch (auth_user_create(r->db, user, pass, 0, &id)) {
	case AUTH_OK:
		break;
	case AUTH_EXISTS:
		req_fail(r, HERR_CONFLICT, "username_taken",
		    "username already taken");
		goto out;
	default:
		req_fail(r, HERR_UNAVAILABLE, "database", "could not create user");
		goto out;
	}
	log_info("user %s registered (id %lld)", user, (long long)id);
	o = json_object_new_object();
	json_object_object_add(o, "detail", json_object_new_string("user created"));
	json_object_object_add(o, "id", json_object_new_int64(id));
	rc = req_json(r, 201, o);
out:
	form_free(&f);
	return rc;
}

int
h_login(struct req *r)
{
	struct form f = FORM_INIT;
	struct json_object *o;
	struct user *u = NULL;
	const char *user, *pass;
	char *token = NULL;
	int64_t expires;
	int rc = -1;

	if (h_credentials(r, &f, &user, &pass, 0) == -1) {
		if (r->err == HERR_BAD_REQUEST &&
		    strcmp(r->err_code, "invalid_password") == 0) {
			/* a wrong-length password is just a wrong password */
			free(r->err_code);
			free(r->err_detail);
			r->err_code = r->err_detail = NULL;
			r->err = HERR_OK;
			req_fail(r, HERR_UNAUTHORIZED, "bad_credentials",
			    "incorrect username or password");
		}
		goto out;
	}
	switch (auth_login(r->db, user, pass, r->remote_addr,
	    r->conf->token_ttl, &token, &expires, &u)) {
	case AUTH_OK:
		break;
	case AUTH_LIMITED:
		req_fail(r, HERR_RATE_LIMITED, "rate_limited",
		    "too many failed logins; try again later");
		goto out;
	case AUTH_ERROR:
		req_fail(r, HERR_UNAVAILABLE, "database", "login unavailable");
		goto out;
	default:
		req_fail(r, HERR_UNAUTHORIZED, "bad_credentials",
		    "incorrect username or password");
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "access_token", json_object_new_string(token));
	json_object_object_add(o, "token_type", json_object_new_string("bearer"));
	json_object_object_add(o, "expires_at", json_object_new_int64(expires));
	json_object_object_add(o, "username", json_object_new_string(u->username));
	json_object_object_add(o, "is_admin", json_object_new_boolean(u->is_admin));
	rc = req_json(r, 200, o);
out:
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	auth_user_free(u);
	form_free(&f);
	return rc;
}

int
h_logout(struct req *r)
{
	if (auth_token_revoke_hash(r->db, r->user->token_hash) == -1)
		return req_fail(r, HERR_UNAVAILABLE, "database",
		    "could not revoke the token");
	return req_no_content(r);
}

int
h_users_me(struct req *r)
{
	return req_json(r, 200, h_user_json(r->user));
}

int
h_users_list(struct req *r)
{
	struct json_object *arr;
	sqlite3_stmt *st;
	struct user u;
	int rc;

	st = db_prepare(r->db, "SELECT id, username, is_admin, created_at "
	    "FROM users ORDER BY id");
	if (st == NULL)
		return req_fail(r, HERR_UNAVAILABLE, "database", "database error");
	arr = json_object_new_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		u.id = sqlite3_column_int64(st, 0);
		u.username = (char *)sqlite3_column_text(st, 1);
		u.is_admin = sqlite3_column_int(st, 2);
		u.created_at = sqlite3_column_int64(st, 3);
		if (u.username == NULL)
			u.username = (char *)"";
		json_object_array_add(arr, h_user_json(&u));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_object_put(arr);
		return req_fail(r, HERR_UNAVAILABLE, "database", "database error");
	}
	return req_json(r, 200, arr);
}

static int
h_user_arg(struct req *r, struct user **out)
{
	long long id;

	if (valid_int(req_arg(r, 0), 1, INT64_MAX, &id) == -1)
		return req_fail(r, HERR_NOT_FOUND, "not_found", "no such user");
	switch (auth_user_load(r->db, id, out)) {
	case AUTH_OK:
		return 0;
	case AUTH_NO_USER:
		return req_fail(r, HERR_NOT_FOUND, "not_found", "no such user");
	default:
		return req_fail(r, HERR_UNAVAILABLE, "database", "database error");
	}
}

int
h_users_delete(struct req *r)
{
	struct user *u = NULL;
	int rc = -1;

	if (h_user_arg(r, &u) == -1)
		goto out;
	if (strcmp(u->username, "admin") == 0) {
		req_fail(r, HERR_FORBIDDEN, "builtin_admin",
		    "the built-in admin cannot be deleted");
		goto out;
	}
	if (auth_user_delete(r->db, u->id) == -1) {
		req_fail(r, HERR_CONFLICT, "user_in_use",
		    "could not delete the user (delete their apps first)");
		goto out;
	}
	log_info("user %s deleted by %s", u->username, r->user->username);
	rc = req_no_content(r);
out:
	auth_user_free(u);
	return rc;
}

static int
h_new_password(struct req *r, struct form *f, const char **pw)
{
	if (req_params(r, f) == -1)
		return -1;
	*pw = form_get(f, "new_password");
	if (*pw == NULL)
		return req_fail(r, HERR_BAD_REQUEST, "missing_field",
		    "new_password is required");
	if (valid_password(*pw, strlen(*pw)) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_password",
		    "password must be 8 to 256 bytes");
	return 0;
}

int
h_users_reset_password(struct req *r)
{
	struct form f = FORM_INIT;
	struct user *u = NULL;
	const char *pw;
	int rc = -1;

	if (h_user_arg(r, &u) == -1 || h_new_password(r, &f, &pw) == -1)
		goto out;
	if (auth_user_set_password(r->db, u->id, pw) == -1) {
		req_fail(r, HERR_UNAVAILABLE, "database", "could not set password");
		goto out;
	}
	rc = req_no_content(r);
out:
	auth_user_free(u);
	form_free(&f);
	return rc;
}

int
h_users_me_password(struct req *r)
{
	struct form f = FORM_INIT;
	struct user *u = NULL;
	const char *old, *pw;
	char *token = NULL;
	int64_t exp;
	int rc = -1;

	if (h_new_password(r, &f, &pw) == -1)
		goto out;
	if ((old = form_get(&f, "old_password")) == NULL) {
		req_fail(r, HERR_BAD_REQUEST, "missing_field",
		    "old_password is required");
		goto out;
	}
	switch (auth_login(r->db, r->user->username, old, r->remote_addr, 60,
	    &token, &exp, &u)) {
	case AUTH_OK:
		break;
	case AUTH_LIMITED:
		req_fail(r, HERR_RATE_LIMITED, "rate_limited",
		    "too many failed attempts; try again later");
		goto out;
	case AUTH_ERROR:
		req_fail(r, HERR_UNAVAILABLE, "database", "database error");
		goto out;
	default:
		req_fail(r, HERR_FORBIDDEN, "bad_credentials",
		    "old password is wrong");
		goto out;
	}
	if (auth_user_set_password(r->db, r->user->id, pw) == -1) {
		req_fail(r, HERR_UNAVAILABLE, "database", "could not set password");
		goto out;
	}
	rc = req_no_content(r);
out:
	free(token);
	auth_user_free(u);
	form_free(&f);
	return rc;
}
