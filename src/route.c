#include "config.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "buf.h"
#include "handlers.h"
#include "log.h"
#include "req.h"
#include "route.h"

/* The API.  Order matters only where two patterns could match one path. */
const struct route route_table[] = {
	{ "GET",    "/health",			h_health,		ROUTE_PUBLIC },
	{ "POST",   "/register",		h_register,		ROUTE_PUBLIC },
	{ "POST",   "/login",			h_login,		ROUTE_PUBLIC },
	{ "POST",   "/logout",			h_logout,		ROUTE_USER },
	{ "GET",    "/users/me",		h_users_me,		ROUTE_USER },
	{ "POST",   "/users/me/password",	h_users_me_password,	ROUTE_USER },
	{ "GET",    "/users",			h_users_list,		ROUTE_ADMIN },
	{ "DELETE", "/users/{id}",		h_users_delete,		ROUTE_ADMIN },
	{ "POST",   "/users/{id}/reset_password", h_users_reset_password, ROUTE_ADMIN },

	{ "POST",   "/upload",			h_upload,		ROUTE_USER },
	{ "GET",    "/status",			h_status_list,		ROUTE_USER },
	{ "GET",    "/status/{id}",		h_app_get,		ROUTE_USER },
	{ "GET",    "/apps/{id}",		h_app_get,		ROUTE_USER },
	{ "DELETE", "/apps/{id}",		h_app_delete,		ROUTE_USER },
	{ "GET",    "/logs/{id}",		h_logs,			ROUTE_USER },
	{ "POST",   "/stop/{id}",		h_stop,			ROUTE_USER },
	{ "POST",   "/start/{id}",		h_start,		ROUTE_USER },
	{ "POST",   "/restart/{id}",		h_restart,		ROUTE_USER },
	{ "POST",   "/edit_app",		h_edit_app,		ROUTE_USER },
	{ "POST",   "/update_status",		h_update_status,	ROUTE_ADMIN },

	{ "POST",   "/templates",		h_templates_create,	ROUTE_USER },
	{ "GET",    "/templates",		h_templates_list,	ROUTE_USER },
	{ "DELETE", "/templates/{id}",		h_template_delete,	ROUTE_USER },
	{ "POST",   "/deploy_template/{id}",	h_template_deploy,	ROUTE_USER },
	{ "POST",   "/save_template/{id}",	h_template_save,	ROUTE_USER },
	{ "POST",   "/edit_template",		h_template_edit,	ROUTE_USER },

	{ "GET",    "/gpus",			h_gpus,			ROUTE_USER },

	{ "GET",    "/containers/docker",	h_docker_list,		ROUTE_USER },
	{ "POST",   "/containers/docker",	h_docker_create,	ROUTE_USER },
	{ "GET",    "/containers/docker/{id}",	h_docker_get,		ROUTE_USER },
	{ "DELETE", "/containers/docker/{id}",	h_docker_delete,	ROUTE_USER },
	{ "GET",    "/containers",		h_containers_list,	ROUTE_USER },
	{ "POST",   "/containers",		h_containers_create,	ROUTE_USER },
	{ "GET",    "/containers/{id}",		h_container_get,	ROUTE_USER },
	{ "PATCH",  "/containers/{id}",		h_container_patch,	ROUTE_USER },
	{ "DELETE", "/containers/{id}",		h_container_delete,	ROUTE_USER },
	{ "GET",    "/builds/{id}",		h_build_get,		ROUTE_USER },
};
const size_t route_table_len = sizeof(route_table) / sizeof(route_table[0]);

/* HTTP status for each error kind, indexed by enum herr. */
static const int route_herr_status[HERR__MAX] = {
	200,	/* HERR_OK */
	400,	/* HERR_BAD_REQUEST */
	401,	/* HERR_UNAUTHORIZED */
	403,	/* HERR_FORBIDDEN */
	404,	/* HERR_NOT_FOUND */
	405,	/* HERR_METHOD */
	409,	/* HERR_CONFLICT */
	413,	/* HERR_TOO_LARGE */
	415,	/* HERR_UNSUPPORTED */
	429,	/* HERR_RATE_LIMITED */
	500,	/* HERR_INTERNAL */
	502,	/* HERR_BAD_GATEWAY */
	503,	/* HERR_UNAVAILABLE */
};

int
route_status(enum herr e)
{
	return (e >= 0 && e < HERR__MAX) ? route_herr_status[e] : 500;
}

const char *
route_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Match one pattern against a normalized path; collect {param} values. */
static int
route_pattern_match(const char *pat, const char *path, char **args,
    size_t *nargs)
{
	const char *p = pat, *s = path, *pe, *se;
	size_t n = 0, i;

	for (;;) {
		if (*p == '\0' && *s == '\0')
			break;
		if (*p != '/' || *s != '/')
			goto nomatch;
		p++;
		s++;
		pe = strchr(p, '/');
		se = strchr(s, '/');
		if (pe == NULL)
			pe = p + strlen(p);
		if (se == NULL)
			se = s + strlen(s);
		if (*p == '{') {
			if (se == s || n >= REQ_MAX_ARGS)
				goto nomatch;
			args[n++] = xstrndup(s, (size_t)(se - s));
		} else if ((size_t)(pe - p) != (size_t)(se - s) ||
		    memcmp(p, s, (size_t)(pe - p)) != 0)
			goto nomatch;
		p = pe;
		s = se;
	}
	*nargs = n;
	return 1;
nomatch:
	for (i = 0; i < n; i++)
		free(args[i]);
	return 0;
}

const struct route *
route_match(const struct route *table, size_t n, const char *method,
    const char *path, char **args, size_t *nargs, int *method_mismatch)
{
	size_t i, k, na;
	int want_head = strcmp(method, "HEAD") == 0;

	*method_mismatch = 0;
	for (i = 0; i < n; i++) {
		if (!route_pattern_match(table[i].pattern, path, args, &na))
			continue;
		if (strcmp(table[i].method, method) == 0 ||
		    (want_head && strcmp(table[i].method, "GET") == 0)) {
			*nargs = na;
			return &table[i];
		}
		*method_mismatch = 1;
		for (k = 0; k < na; k++)
			free(args[k]);
	}
	return NULL;
}

/* Token from "Bearer <t>", "Token <t>" or a bare "<t>" (Synapse SDK). */
static const char *
route_credential(const char *authz)
{
	if (authz == NULL)
		return NULL;
	while (*authz == ' ')
		authz++;
	if (strncasecmp(authz, "Bearer ", 7) == 0)
		authz += 7;
	else if (strncasecmp(authz, "Token ", 6) == 0)
		authz += 6;
	while (*authz == ' ')
		authz++;
	return *authz ? authz : NULL;
}

static void
route_answer_error(struct req *r)
{
	struct json_object *o = json_object_new_object();
	const char *extra = NULL;
	int status = route_status(r->err);

	if (r->err == HERR_OK || r->err_detail == NULL) {
		status = 500;
		json_object_object_add(o, "detail",
		    json_object_new_string("internal error"));
		json_object_object_add(o, "code",
		    json_object_new_string("internal"));
	} else {
		json_object_object_add(o, "detail",
		    json_object_new_string(r->err_detail));
		json_object_object_add(o, "code",
		    json_object_new_string(r->err_code));
	}
	if (status == 401)
		extra = "WWW-Authenticate: Bearer\r\n";
	if (status >= 500)
		log_warnx("%s %s -> %d %s", r->method, r->path, status,
		    r->err_detail ? r->err_detail : "(no detail)");
	{
		const char *s = json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

		(void)req_respond(r, status, "application/json; charset=utf-8",
		    extra, s, strlen(s));
	}
	json_object_put(o);
}

void
route_dispatch(struct req *r)
{
	const struct route *rt = NULL;
	const char *cred;
	int mismatch, rc;

	if (r->err != HERR_OK)
		goto fail;
	rt = route_match(route_table, route_table_len, r->method, r->path,
	    r->args, &r->nargs, &mismatch);
	if (rt == NULL) {
		if (mismatch)
			req_fail(r, HERR_METHOD, "method_not_allowed",
			    "method %s not allowed here", r->method);
		else
			req_fail(r, HERR_NOT_FOUND, "not_found", "not found");
		goto fail;
	}
	if (rt->auth != ROUTE_PUBLIC) {
		cred = route_credential(r->authorization);
		if (cred == NULL) {
			req_fail(r, HERR_UNAUTHORIZED, "not_authenticated",
			    "missing credentials");
			goto fail;
		}
		switch (auth_token_user(r->db, cred, &r->user)) {
		case AUTH_OK:
			break;
		case AUTH_ERROR:
			req_fail(r, HERR_UNAVAILABLE, "database",
			    "database unavailable");
			goto fail;
		default:
			req_fail(r, HERR_UNAUTHORIZED, "invalid_token",
			    "invalid or expired token");
			goto fail;
		}
		if (rt->auth == ROUTE_ADMIN && !r->user->is_admin) {
			req_fail(r, HERR_FORBIDDEN, "forbidden",
			    "administrators only");
			goto fail;
		}
	}
	rc = rt->handler(r);
	if (rc == 0 && r->responded)
		goto done;
	if (rc == 0)
		req_fail(r, HERR_INTERNAL, "internal", "no response");
fail:
	if (!r->responded)
		route_answer_error(r);
done:
	log_debug("%s %s %d", r->method, r->path, r->status);
}
