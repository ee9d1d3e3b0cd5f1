/*
 * t_route: the real route table.  Path normalization (through
 * req_init_test), every route with and without a trailing slash, {param}
 * capture, HEAD as GET, 405 versus 404, the herr -> status table, and
 * route_dispatch on a temporary database (credentials, 401/403/404/405,
 * the JSON error shape).
 */
#include "config.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "caps.h"
#include "db.h"
#include "log.h"
#include "req.h"
#include "route.h"
#include "valid.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_route.XXXXXX";
static char dbpath[256];

/* The normalized path req_init_test makes of raw ("/" when rejected). */
static char *
norm(const char *raw)
{
	struct req r;
	char *p;

	req_init_test(&r, "GET", raw, NULL);
	p = xstrdup(r.path);
	req_release(&r);
	return p;
}

static void
test_normalize(void)
{
	static const struct {
		const char	*in;
		const char	*out;	/* NULL: rejected */
	} t[] = {
		{ "/",			"/" },
		{ "//",			"/" },
		{ "///",		"/" },
		{ "/health",		"/health" },
		{ "/health/",		"/health" },
		{ "/health//",		"/health" },
		{ "//health",		"/health" },
		{ "/a//b///c/",		"/a/b/c" },
		{ "/he%61lth",		"/health" },
		{ "/%68ealth/",		"/health" },
		{ "/apps/a%2Fb",	"/apps/a/b" },	/* %2F is a separator */
		{ "/a+b",		"/a+b" },	/* '+' is not a space in paths */
		{ "/a%20b",		"/a b" },
		{ "/.hidden",		"/.hidden" },
		{ "/a/...",		"/a/..." },
		{ "/a/b.",		"/a/b." },
		{ "/a/..b",		"/a/..b" },
		{ "/a/b..",		"/a/b.." },
		{ "/%252e%252e/x",	"/%2e%2e/x" },	/* decoded once only */
		{ "/caf\xc3\xa9",	"/caf\xc3\xa9" },

		{ "",			NULL },
		{ "health",		NULL },
		{ "./health",		NULL },
		{ "/.",			NULL },
		{ "/..",		NULL },
		{ "/./health",		NULL },
		{ "/../health",		NULL },
		{ "/health/.",		NULL },
		{ "/health/..",		NULL },
		{ "/health/./",		NULL },
		{ "/a/./b",		NULL },
		{ "/a/../b",		NULL },
		{ "/a//../b",		NULL },
		{ "/a/.//b",		NULL },
		{ "/%2e%2e/x",		NULL },
		{ "/%2E/x",		NULL },
		{ "/a/%2e%2E",		NULL },
		{ "/a/.%2e/b",		NULL },
		{ "/a%2F..%2Fb",	NULL },
		{ "/a%00b",		NULL },
		{ "/a%0ab",		NULL },
		{ "/a%0Db",		NULL },
		{ "/a%09b",		NULL },
		{ "/a%1bb",		NULL },
		{ "/a%7fb",		NULL },
		{ "/a\nb",		NULL },
		{ "/a\rb",		NULL },
		{ "/a\tb",		NULL },
		{ "/a\x7f" "b",		NULL },
		{ "/%",			NULL },
		{ "/%4",		NULL },
		{ "/%zz",		NULL },
	};
	size_t i;
	char *p, *s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p = norm(t[i].in);
		if (t[i].out != NULL)
			is_str(p, t[i].out, "normalize good [%zu] -> %s", i, t[i].out);
		else
			is_str(p, "/", "normalize rejects [%zu] (falls back to /)", i);
		free(p);
	}
	s = xmalloc(LIMIT_PATH + 2);
	memset(s, 'a', LIMIT_PATH + 1);
	s[0] = '/';
	s[LIMIT_PATH] = '\0';
	p = norm(s);
	ok(strlen(p) == LIMIT_PATH, "a path of LIMIT_PATH bytes is kept");
	free(p);
	s[LIMIT_PATH] = 'a';
	s[LIMIT_PATH + 1] = '\0';
	p = norm(s);
	is_str(p, "/", "a path of LIMIT_PATH + 1 bytes is rejected");
	free(p);
	free(s);
}

/* Pattern with each {param} replaced by arg. */
static char *
concrete(const char *pattern, const char *arg)
{
	struct buf b = BUF_INIT;
	const char *p = pattern, *c;

	while (*p != '\0') {
		if (*p == '{' && (c = strchr(p, '}')) != NULL) {
			buf_adds(&b, arg);
			p = c + 1;
		} else
			buf_addch(&b, *p++);
	}
	return buf_detach(&b, NULL);
}

static void
free_args(char **args, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(args[i]);
}

static void
test_every_route(void)
{
	static const char *const variants[] = { "", "/", "//" };
	const struct route *rt;
	char *args[REQ_MAX_ARGS], *path, *raw, *n;
	size_t i, v, nargs, k, want_args;
	int mm, good;

	ok(route_table_len >= 30, "route table has %zu routes", route_table_len);
	for (i = 0; i < route_table_len; i++) {
		path = concrete(route_table[i].pattern, "x42");
		want_args = 0;
		for (k = 0; route_table[i].pattern[k] != '\0'; k++)
			if (route_table[i].pattern[k] == '{')
				want_args++;
		good = 1;
		for (v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
			{
				struct buf rb = BUF_INIT;

				buf_adds(&rb, path);
				buf_adds(&rb, variants[v]);
				raw = buf_detach(&rb, NULL);
			}
			n = norm(raw);
			nargs = 99;
			rt = route_match(route_table, route_table_len,
			    route_table[i].method, n, args, &nargs, &mm);
			if (rt != &route_table[i] || nargs != want_args)
				good = 0;
			if (rt != NULL) {
				for (k = 0; k < nargs; k++)
					if (strcmp(args[k], "x42") != 0)
						good = 0;
				free_args(args, nargs);
			}
			free(raw);
			free(n);
		}
		ok(good, "%s %s matches itself, with and without trailing "
		    "slash(es), %zu arg(s)", route_table[i].method,
		    route_table[i].pattern, want_args);
		free(path);
	}
}

static void
test_match_table(void)
{
	static const struct {
		const char	*method;
		const char	*path;		/* already normalized */
		const char	*pattern;	/* NULL: no match */
		int		 mismatch;
		const char	*arg0;
	} t[] = {
		{ "GET",    "/health",		"/health", 0, NULL },
		{ "HEAD",   "/health",		"/health", 0, NULL },
		{ "HEAD",   "/status",		"/status", 0, NULL },
		{ "HEAD",   "/apps/abc",	"/apps/{id}", 0, "abc" },
		{ "GET",    "/users/me",	"/users/me", 0, NULL },
		{ "POST",   "/users/me/password", "/users/me/password", 0, NULL },
		{ "DELETE", "/users/7",		"/users/{id}", 0, "7" },
		/* "me" is an {id} to the table: h_users_delete must refuse it */
		{ "DELETE", "/users/me",	"/users/{id}", 0, "me" },
		{ "POST",   "/users/7/reset_password", "/users/{id}/reset_password", 0, "7" },
		{ "GET",    "/containers/docker", "/containers/docker", 0, NULL },
		{ "POST",   "/containers/docker", "/containers/docker", 0, NULL },
		{ "GET",    "/containers/docker/0123456789ab", "/containers/docker/{id}", 0, "0123456789ab" },
		{ "DELETE", "/containers/docker/abc", "/containers/docker/{id}", 0, "abc" },
		/* "docker" falls through to /containers/{id} for other methods */
		{ "DELETE", "/containers/docker", "/containers/{id}", 0, "docker" },
		{ "PATCH",  "/containers/docker", "/containers/{id}", 0, "docker" },
		{ "GET",    "/containers/5",	"/containers/{id}", 0, "5" },
		{ "PATCH",  "/containers/5",	"/containers/{id}", 0, "5" },
		{ "GET",    "/status/abc",	"/status/{id}", 0, "abc" },
		{ "GET",    "/builds/9",	"/builds/{id}", 0, "9" },
		{ "GET",    "/apps/a b",	"/apps/{id}", 0, "a b" },

		/* 405: the path exists under another method */
		{ "GET",    "/login",		NULL, 1, NULL },
		{ "PUT",    "/login",		NULL, 1, NULL },
		{ "POST",   "/health",		NULL, 1, NULL },
		{ "HEAD",   "/login",		NULL, 1, NULL },
		{ "DELETE", "/status",		NULL, 1, NULL },
		{ "PUT",    "/apps/abc",	NULL, 1, NULL },
		{ "POST",   "/apps/abc",	NULL, 1, NULL },
		{ "GET",    "/users/7",		NULL, 1, NULL },
		{ "PUT",    "/containers/5",	NULL, 1, NULL },
		{ "get",    "/health",		NULL, 1, NULL },	/* methods are exact */
		{ "PATCH",  "/users/me",	NULL, 1, NULL },
		{ "OPTIONS", "/upload",		NULL, 1, NULL },
		{ "",       "/health",		NULL, 1, NULL },

		/* 404 */
		{ "GET",    "/",		NULL, 0, NULL },
		{ "GET",    "/nope",		NULL, 0, NULL },
		{ "GET",    "/HEALTH",		NULL, 0, NULL },
		{ "GET",    "/healthz",		NULL, 0, NULL },
		{ "GET",    "/health/x",	NULL, 0, NULL },
		{ "GET",    "/apps",		NULL, 0, NULL },
		{ "GET",    "/apps/a/b",	NULL, 0, NULL },
		{ "GET",    "/containers/docker/a/b", NULL, 0, NULL },
		{ "POST",   "/users/7/reset_password/x", NULL, 0, NULL },
		{ "GET",    "/users/me/x",	NULL, 0, NULL },
		{ "GET",    "health",		NULL, 0, NULL },
		{ "GET",    "",			NULL, 0, NULL },
		{ "GET",    "/apps/",		NULL, 0, NULL },	/* empty {id} */
		{ "GET",    "/apps//x",		NULL, 0, NULL },	/* not normalized */
		{ "GET",    "/health/",		NULL, 0, NULL },	/* not normalized */
	};
	const struct route *rt;
	char *args[REQ_MAX_ARGS];
	size_t i, nargs;
	int mm, good;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		nargs = 0;
		mm = 7;
		rt = route_match(route_table, route_table_len, t[i].method,
		    t[i].path, args, &nargs, &mm);
		if (t[i].pattern != NULL) {
			/* mm is only meaningful when no route matched */
			good = rt != NULL && strcmp(rt->pattern, t[i].pattern) == 0 &&
			    (t[i].method[0] == 'H' ?
			    strcmp(rt->method, "GET") == 0 :
			    strcmp(rt->method, t[i].method) == 0) &&
			    (t[i].arg0 == NULL ? nargs == 0 :
			    nargs == 1 && strcmp(args[0], t[i].arg0) == 0);
			ok(good, "%s %s -> %s", t[i].method, t[i].path, t[i].pattern);
			if (rt != NULL)
				free_args(args, nargs);
		} else
			ok(rt == NULL && mm == t[i].mismatch, "%s \"%s\" -> %s",
			    t[i].method, t[i].path, t[i].mismatch ? "405" : "404");
	}
}

static void
test_status(void)
{
	static const struct {
		enum herr	 e;
		int		 status;
		const char	*reason;
	} t[] = {
		{ HERR_OK,		200, "OK" },
		{ HERR_BAD_REQUEST,	400, "Bad Request" },
		{ HERR_UNAUTHORIZED,	401, "Unauthorized" },
		{ HERR_FORBIDDEN,	403, "Forbidden" },
		{ HERR_NOT_FOUND,	404, "Not Found" },
		{ HERR_METHOD,		405, "Method Not Allowed" },
		{ HERR_CONFLICT,	409, "Conflict" },
		{ HERR_TOO_LARGE,	413, "Payload Too Large" },
		{ HERR_UNSUPPORTED,	415, "Unsupported Media Type" },
		{ HERR_RATE_LIMITED,	429, "Too Many Requests" },
		{ HERR_INTERNAL,	500, "Internal Server Error" },
		{ HERR_BAD_GATEWAY,	502, "Bad Gateway" },
		{ HERR_UNAVAILABLE,	503, "Service Unavailable" },
	};
	size_t i;

	is(sizeof(t) / sizeof(t[0]), HERR__MAX, "the table covers every herr");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		is(route_status(t[i].e), t[i].status, "route_status(%d) = %d",
		    (int)t[i].e, t[i].status);
		is_str(route_reason(t[i].status), t[i].reason, "route_reason(%d)",
		    t[i].status);
	}
	is(route_status(HERR__MAX), 500, "route_status(HERR__MAX) = 500");
	is(route_status((enum herr)-1), 500, "route_status(-1) = 500");
	is(route_status((enum herr)1000), 500, "route_status(1000) = 500");
	is_str(route_reason(201), "Created", "route_reason(201)");
	is_str(route_reason(202), "Accepted", "route_reason(202)");
	is_str(route_reason(204), "No Content", "route_reason(204)");
	is_str(route_reason(418), "Unknown", "route_reason(418)");
	is_str(route_reason(0), "Unknown", "route_reason(0)");
	is_str(route_reason(-1), "Unknown", "route_reason(-1)");
}

/* Status code from "Status: N Reason\r\n" at the start of out, or -1. */
static int
out_status(const struct buf *out)
{
	char num[4];
	long long s;

	if (strncmp(out->data, "Status: ", 8) != 0 || out->len < 11)
		return -1;
	memcpy(num, out->data + 8, 3);
	num[3] = '\0';
	return valid_int(num, 100, 599, &s) == 0 ? (int)s : -1;
}

/* The JSON body after the blank line (caller puts), or NULL. */
static struct json_object *
out_json(const struct buf *out)
{
	const char *b = strstr(out->data, "\r\n\r\n");

	return b ? json_tokener_parse(b + 4) : NULL;
}

/* Dispatch method+path with an Authorization value; returns the status. */
static int
dispatch(struct db *db, const char *method, const char *path,
    const char *authz, struct buf *out, char **code)
{
	struct req r;
	struct json_object *o, *c;
	int s;

	req_init_test(&r, method, path, NULL);
	r.db = db;
	if (authz != NULL)
		r.authorization = xstrdup(authz);
	route_dispatch(&r);
	s = out_status(&r.test_out);
	if (s != r.status)
		s = -2;
	buf_reset(out);
	buf_add(out, r.test_out.data, r.test_out.len);
	if (code != NULL) {
		*code = NULL;
		if ((o = out_json(out)) != NULL) {
			if (json_object_object_get_ex(o, "code", &c))
				*code = xstrdup(json_object_get_string(c));
			json_object_put(o);
		}
	}
	req_release(&r);
	return s;
}

static void
test_dispatch(void)
{
	struct db *db;
	struct buf out = BUF_INIT, h = BUF_INIT;
	char *tok_user = NULL, *tok_admin = NULL, *code = NULL;
	int64_t uid, aid, exp;
	struct json_object *o, *v;
	size_t i;

	if (mkdtemp(tmpdir) == NULL || str_fmt(dbpath, sizeof(dbpath),
	    "%s/t.db", tmpdir) == -1 || (db = db_open(dbpath)) == NULL) {
		ok(0, "temporary database");
		return;
	}
	ok(auth_user_create(db, "alice", "password1", 0, &uid) == AUTH_OK &&
	    auth_user_create(db, "boss", "password2", 1, &aid) == AUTH_OK,
	    "users for dispatch");
	ok(auth_token_issue(db, uid, 3600, &tok_user, &exp) == 0 &&
	    auth_token_issue(db, aid, 3600, &tok_admin, &exp) == 0, "tokens");

	is(dispatch(db, "GET", "/nope", NULL, &out, &code), 404, "unknown: 404");
	is_str(code, "not_found", "404 code");
	free(code);
	ok(strstr(out.data, "Content-Type: application/json; charset=utf-8\r\n")
	    != NULL, "errors are JSON");
	o = out_json(&out);
	ok(o != NULL && json_object_object_get_ex(o, "detail", &v) &&
	    json_object_is_type(v, json_type_string), "error has a detail string");
	json_object_put(o);

	is(dispatch(db, "PUT", "/login", NULL, &out, &code), 405, "wrong method: 405");
	is_str(code, "method_not_allowed", "405 code");
	free(code);
	is(dispatch(db, "GET", "/users/me", NULL, &out, &code), 401, "no token: 401");
	is_str(code, "not_authenticated", "401 code without a token");
	free(code);
	ok(strstr(out.data, "WWW-Authenticate: Bearer\r\n") != NULL,
	    "401 carries WWW-Authenticate");
	is(dispatch(db, "GET", "/users/me", "Bearer ", &out, NULL), 401,
	    "empty bearer: 401");
	is(dispatch(db, "GET", "/users/me", "   ", &out, NULL), 401,
	    "blank Authorization: 401");
	is(dispatch(db, "GET", "/users/me", "Bearer abc", &out, &code), 401,
	    "malformed token: 401");
	is_str(code, "invalid_token", "401 code for a bad token");
	free(code);
	{
		char bad[65];

		memcpy(bad, tok_user, 65);
		bad[0] = bad[0] == 'a' ? 'b' : 'a';
		buf_reset(&h);
		buf_printf(&h, "Bearer %s", bad);
		is(dispatch(db, "GET", "/users/me", h.data, &out, NULL), 401,
		    "unknown well-formed token: 401");
	}

	{
		static const char *const forms[] = {
			"Bearer ", "bearer ", "BEARER ", "Token ", "",
			"  Bearer   ", " ",
		};
		for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
			buf_reset(&h);
			buf_printf(&h, "%s%s", forms[i], tok_user);
			is(dispatch(db, "GET", "/users/me", h.data, &out, NULL),
			    200, "credential form \"%s<token>\" accepted", forms[i]);
		}
		buf_reset(&h);
		buf_printf(&h, "Basic %s", tok_user);
		is(dispatch(db, "GET", "/users/me", h.data, &out, NULL), 401,
		    "a Basic credential is not a token");
		buf_reset(&h);
		buf_printf(&h, "Bearer %s ", tok_user);
		is(dispatch(db, "GET", "/users/me", h.data, &out, NULL), 401,
		    "a trailing space makes another token");
	}
	buf_reset(&h);
	buf_printf(&h, "Bearer %s", tok_user);
	is(dispatch(db, "GET", "/users/me/", h.data, &out, NULL), 200,
	    "/users/me/ with trailing slash: 200");
	o = out_json(&out);
	ok(o != NULL && json_object_object_get_ex(o, "username", &v) &&
	    strcmp(json_object_get_string(v), "alice") == 0, "users/me is alice");
	json_object_put(o);
	is(dispatch(db, "HEAD", "/users/me", h.data, &out, NULL), 200,
	    "HEAD /users/me dispatches as GET");
	is(dispatch(db, "GET", "/users", h.data, &out, &code), 403,
	    "admin route with a user token: 403");
	is_str(code, "forbidden", "403 code");
	free(code);
	buf_reset(&h);
	buf_printf(&h, "Bearer %s", tok_admin);
	is(dispatch(db, "GET", "/users", h.data, &out, NULL), 200,
	    "admin route with an admin token: 200");
	o = out_json(&out);
	ok(o != NULL && json_object_is_type(o, json_type_array) &&
	    json_object_array_length(o) == 2, "GET /users lists both users");
	json_object_put(o);
	is(dispatch(db, "GET", "/users/../users", h.data, &out, &code), 404,
	    "a dot-segment path never reaches a handler");
	free(code);

	/* An error recorded before dispatch is answered as is. */
	{
		struct req r;

		req_init_test(&r, "GET", "/health", NULL);
		r.db = db;
		req_fail(&r, HERR_BAD_REQUEST, "bad_path", "malformed request path");
		route_dispatch(&r);
		is(r.status, 400, "a pre-dispatch error is answered: 400");
		ok(strstr(r.test_out.data, "\"code\":\"bad_path\"") != NULL,
		    "with its code");
		req_release(&r);
	}
	free(tok_user);
	free(tok_admin);
	buf_release(&out);
	buf_release(&h);
	db_close(db);
}

static void
cleanup(void)
{
	char p[300];

	(void)str_fmt(p, sizeof(p), "%s-wal", dbpath);
	(void)unlink(p);
	(void)str_fmt(p, sizeof(p), "%s-shm", dbpath);
	(void)unlink(p);
	(void)unlink(dbpath);
	(void)rmdir(tmpdir);
}

int
main(void)
{
	log_init("t_route", 0);
	test_normalize();
	test_every_route();
	test_match_table();
	test_status();
	test_dispatch();
	cleanup();
	return done_testing();
}
