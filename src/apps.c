#include "config.h"

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "auth.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "jobs.h"
#include "log.h"
#include "netaddr.h"
#include "form.h"
#include "req.h"
#include "valid.h"

/* Column text, borrowed from the statement; "" for NULL. */
static const char *
app_col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL ? (const char *)s : "";
}

/* Column text, borrowed; NULL stays NULL. */
static const char *
app_col_null(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	return app_col(st, i);
}

void
app_view_row(sqlite3_stmt *st, struct app *a)
{
	int i = 0;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, i++);
	a->app_id = (char *)app_col(st, i++);
	a->name = (char *)app_col(st, i++);
	a->description = (char *)app_col(st, i++);
	a->type = (char *)app_col(st, i++);
	a->status = (char *)app_col(st, i++);
	a->status_detail = (char *)app_col(st, i++);
	a->desired = (char *)app_col(st, i++);
	a->owner_id = sqlite3_column_int64(st, i++);
	a->owner = (char *)app_col(st, i++);
	a->port = sqlite3_column_int(st, i++);
	a->container_port = sqlite3_column_int(st, i++);
	a->docker_id = (char *)app_col(st, i++);
	a->image = (char *)app_col(st, i++);
	a->entry = (char *)app_col(st, i++);
	a->allow_ips = (char *)app_col(st, i++);
	a->auth_header = (char *)app_col(st, i++);
	a->vram_required = sqlite3_column_int64(st, i++);
	a->gpus = (char *)app_col(st, i++);
	a->envs = (char *)app_col(st, i++);
	a->plugin_release = (char *)app_col_null(st, i++);
	a->model = sqlite3_column_type(st, i) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, i);
	i++;
	a->params = (char *)app_col_null(st, i++);
	a->labels = (char *)app_col(st, i++);
	a->metadata = (char *)app_col(st, i++);
	a->template_id = sqlite3_column_int64(st, i++);
	a->last_heartbeat = sqlite3_column_int64(st, i++);
	a->created_at = sqlite3_column_int64(st, i++);
	a->updated_at = sqlite3_column_int64(st, i++);
	a->last_job_id = sqlite3_column_int64(st, i++);
	a->last_job_state = (char *)app_col(st, i++);
}

/* A copy of s, or NULL for NULL. */
static char *
app_strdup_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct app *
app_from_row(sqlite3_stmt *st)
{
	struct app *a = xcalloc(1, sizeof(*a));

	app_view_row(st, a);
	a->app_id = xstrdup(a->app_id);
	a->name = xstrdup(a->name);
	a->description = xstrdup(a->description);
	a->type = xstrdup(a->type);
	a->status = xstrdup(a->status);
	a->status_detail = xstrdup(a->status_detail);
	a->desired = xstrdup(a->desired);
	a->owner = xstrdup(a->owner);
	a->docker_id = xstrdup(a->docker_id);
	a->image = xstrdup(a->image);
	a->entry = xstrdup(a->entry);
	a->allow_ips = xstrdup(a->allow_ips);
	a->auth_header = xstrdup(a->auth_header);
	a->gpus = xstrdup(a->gpus);
	a->envs = xstrdup(a->envs);
	a->plugin_release = app_strdup_null(a->plugin_release);
	a->params = app_strdup_null(a->params);
	a->labels = xstrdup(a->labels);
	a->metadata = xstrdup(a->metadata);
	a->last_job_state = xstrdup(a->last_job_state);
	return a;
}

void
app_free(struct app *a)
{
	if (a == NULL)
		return;
	free(a->app_id); free(a->name); free(a->description); free(a->type);
	free(a->status); free(a->status_detail); free(a->desired);
	free(a->owner); free(a->docker_id); free(a->image); free(a->entry);
	free(a->allow_ips); free(a->auth_header); free(a->gpus); free(a->envs);
	free(a->plugin_release); free(a->params); free(a->labels);
	free(a->metadata); free(a->last_job_state);
	free(a);
}

static enum apps_result
app_query_one(struct db *db, sqlite3_stmt *st, const struct user *viewer,
    struct app **out)
{
	enum apps_result res;
	struct app *a;

	if (st == NULL)
		return APPS_ERROR;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		a = app_from_row(st);
		if (viewer != NULL && !viewer->is_admin &&
		    a->owner_id != viewer->id) {
			app_free(a);
			res = APPS_NOT_FOUND;	/* never reveal others' apps */
			break;
		}
		*out = a;
		res = APPS_OK;
		break;
	case SQLITE_DONE:
		res = APPS_NOT_FOUND;
		break;
	default:
		log_warnx("%s", sqlite3_errmsg(db->conn));
		res = APPS_ERROR;
	}
	sqlite3_finalize(st);
	return res;
}

enum apps_result
app_load_rowid(struct db *db, int64_t id, const struct user *viewer,
    struct app **out)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT " APP_COLUMNS APP_FROM
	    "WHERE a.id = ? AND a.status <> 'deleting'");

	if (st != NULL)
		db_bind_int(st, 1, id);
	return app_query_one(db, st, viewer, out);
}

enum apps_result
app_load(struct db *db, const char *key, const struct user *viewer,
    struct app **out)
{
	sqlite3_stmt *st;
	long long id;
	size_t n, i;

	if (key == NULL)
		return APPS_NOT_FOUND;
	if (valid_app_id(key) == 0) {
		st = db_prepare(db, "SELECT " APP_COLUMNS APP_FROM
		    "WHERE a.app_id = ? AND a.status <> 'deleting'");
		if (st != NULL)
			db_bind_text(st, 1, key);
		if (app_query_one(db, st, viewer, out) == APPS_OK)
			return APPS_OK;
	}
	if (valid_int(key, 1, INT64_MAX, &id) == 0) {
		enum apps_result res = app_load_rowid(db, id, viewer, out);

		/* all-digit Docker id prefixes exist too: fall through */
		if (res != APPS_NOT_FOUND || strlen(key) < 12)
			return res;
	}
	/* A Docker container id or its prefix (12..64 lowercase hex). */
	n = strlen(key);
	if (n < 12 || n > 64)
		return APPS_NOT_FOUND;
	for (i = 0; i < n; i++)
		if (!((key[i] >= '0' && key[i] <= '9') ||
		    (key[i] >= 'a' && key[i] <= 'f')))
			return APPS_NOT_FOUND;
	st = db_prepare(db, "SELECT " APP_COLUMNS APP_FROM
	    "WHERE a.docker_id IS NOT NULL AND substr(a.docker_id, 1, ?) = ? "
	    "AND a.status <> 'deleting'");
	if (st != NULL) {
		db_bind_int(st, 1, (int64_t)n);
		db_bind_text(st, 2, key);
	}
	return app_query_one(db, st, viewer, out);
}

int
app_new_id(struct db *db, char out[13])
{
	sqlite3_stmt *st;
	int tries, taken;

	for (tries = 0; tries < 8; tries++) {
		auth_random_id(out, APP_ID_LEN);
		if ((st = db_prepare(db, "SELECT 1 FROM apps WHERE app_id = ?"))
		    == NULL)
			return -1;
		db_bind_text(st, 1, out);
		taken = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (!taken)
			return 0;
	}
	return -1;
}

enum apps_result
app_create(struct db *db, const struct app_new *n, int64_t *rowid_out,
    int64_t *job_out)
{
	sqlite3_stmt *st;
	int64_t now = db_now(), rowid;
	int rc;

	if (db_begin(db) == -1)
		return APPS_ERROR;
	st = db_prepare(db, "INSERT INTO apps(app_id, name, description, type, "
	    "status, status_detail, desired, owner_id, entry, allow_ips, "
	    "auth_header, vram_required, envs, plugin_release, model, params, "
	    "labels, metadata, template_id, created_at, updated_at) VALUES "
	    "(?, ?, ?, ?, 'queued', 'waiting for the agent', 'running', ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, n->app_id);
	db_bind_text(st, 2, n->name);
	db_bind_text(st, 3, n->description ? n->description : "");
	db_bind_text(st, 4, n->type);
	db_bind_int(st, 5, n->owner_id);
	db_bind_text(st, 6, n->entry);
	db_bind_text(st, 7, n->allow_ips ? n->allow_ips : "");
	db_bind_text(st, 8, n->auth_header ? n->auth_header : "");
	db_bind_int(st, 9, n->vram_required);
	db_bind_text(st, 10, n->envs ? n->envs : "{}");
	db_bind_text(st, 11, n->plugin_release);
	if (n->model >= 0)
		db_bind_int(st, 12, n->model);
	else
		sqlite3_bind_null(st, 12);
	db_bind_text(st, 13, n->params);
	db_bind_text(st, 14, n->labels ? n->labels : "[]");
	db_bind_text(st, 15, n->metadata ? n->metadata : "{}");
	if (n->template_id > 0)
		db_bind_int(st, 16, n->template_id);
	else
		sqlite3_bind_null(st, 16);
	db_bind_int(st, 17, now);
	db_bind_int(st, 18, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		if ((rc & 0xff) == SQLITE_CONSTRAINT) {
			db_rollback(db);
			return APPS_CONFLICT;
		}
		log_warnx("insert app: %s", sqlite3_errmsg(db->conn));
		goto fail;
	}
	rowid = db_last_id(db);
	if (jobs_enqueue(db, rowid, JOB_DEPLOY, job_out) == -1 ||
	    db_commit(db) == -1)
		goto fail;
	*rowid_out = rowid;
	return APPS_OK;
fail:
	db_rollback(db);
	return APPS_ERROR;
}

/*
 * The app JSON is written as text straight into a buffer: /status is the
 * hottest request, and a json-c tree per app (a hash table, an object per
 * field, a string copy each) then its serialization cost more than the
 * query.  The output is byte for byte what json-c writes with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE (t_apps checks
 * it against json-c): keys in this order, no spaces, strings escaped as
 * json_escape_str() does.
 */

/* s[0..n) escaped as json-c does, without the quotes. */
static void
app_json_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;
	size_t i;
	char *o;

	/* Room for the worst case (\u00XX per byte), then write in place. */
	buf_grow(b, st_mult(n, 6));
	o = b->data + b->len;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"':	*o++ = '"'; break;
		case '\\':	*o++ = '\\'; break;
		case '\b':	*o++ = 'b'; break;
		case '\f':	*o++ = 'f'; break;
		case '\n':	*o++ = 'n'; break;
		case '\r':	*o++ = 'r'; break;
		case '\t':	*o++ = 't'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0xf];
		}
	}
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';	/* the buf invariant */
}

/* ,"key": in one piece: every member but the first ("id"). */
#define APP_JSON_KEY(b, key) \
	buf_add((b), ",\"" key "\":", sizeof(",\"" key "\":") - 1)

static void
app_json_quoted(struct buf *b, const char *s, size_t n)
{
	buf_addch(b, '"');
	app_json_escape(b, s, n);
	buf_addch(b, '"');
}

/* A decimal integer, as json-c prints int and int64 values. */
static void
app_json_num(struct buf *b, int64_t v)
{
	char d[24], *p = d + sizeof(d);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	buf_add(b, p, (size_t)(d + sizeof(d) - p));
}

/*
 * A JSON value parsed from stored text (envs): re-serialized by json-c so
 * it reads exactly as before; "{}" when empty or not JSON.
 */
static void
app_json_stored(struct buf *b, const char *text)
{
	struct json_object *v;

	if (text == NULL || *text == '\0' || strcmp(text, "{}") == 0 ||
	    (v = json_tokener_parse(text)) == NULL) {
		buf_add(b, "{}", 2);
		return;
	}
	buf_adds(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(v);
}

void
app_json_write(struct buf *b, const struct app *a, const struct conf *conf)
{
	const char *p, *comma;
	long long gi;
	char one[16];
	size_t n;
	int first;

	buf_add(b, "{\"id\":", 6);
	app_json_quoted(b, a->app_id, strlen(a->app_id));
	APP_JSON_KEY(b, "row_id");
	app_json_num(b, a->id);
	APP_JSON_KEY(b, "name");
	app_json_quoted(b, a->name, strlen(a->name));
	APP_JSON_KEY(b, "description");
	app_json_quoted(b, a->description, strlen(a->description));
	APP_JSON_KEY(b, "type");
	app_json_quoted(b, a->type, strlen(a->type));
	APP_JSON_KEY(b, "status");
	app_json_quoted(b, a->status, strlen(a->status));
	APP_JSON_KEY(b, "status_detail");
	app_json_quoted(b, a->status_detail, strlen(a->status_detail));
	APP_JSON_KEY(b, "url");
	buf_add(b, "\"/apps/", 7);
	app_json_escape(b, a->app_id, strlen(a->app_id));
	buf_add(b, "/\"", 2);
	APP_JSON_KEY(b, "endpoint");
	buf_add(b, "\"http://", 8);
	app_json_escape(b, conf->public_host, strlen(conf->public_host));
	buf_addch(b, ':');
	app_json_num(b, conf->apps_port);
	buf_add(b, "/apps/", 6);
	app_json_escape(b, a->app_id, strlen(a->app_id));
	buf_add(b, "/\"", 2);
	APP_JSON_KEY(b, "port");
	if (a->port > 0)
		app_json_num(b, a->port);
	else
		buf_add(b, "null", 4);
	APP_JSON_KEY(b, "gpus");
	buf_addch(b, '[');
	first = 1;
	for (p = a->gpus; p != NULL && *p != '\0'; p = comma ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n >= sizeof(one))
			continue;
		memcpy(one, p, n);
		one[n] = '\0';
		if (valid_int(one, 0, 1024, &gi) == -1)
			continue;
		if (!first)
			buf_addch(b, ',');
		app_json_num(b, gi);
		first = 0;
	}
	buf_addch(b, ']');
	APP_JSON_KEY(b, "vram_required");
	app_json_num(b, a->vram_required);
	APP_JSON_KEY(b, "allow_ips");
	buf_addch(b, '[');
	first = 1;
	for (p = a->allow_ips; p != NULL && *p != '\0';
	    p = comma ? comma + 1 : NULL) {
		p += strspn(p, " ");	/* stored joined by ", " */
		comma = strchr(p, ',');
		if (!first)
			buf_addch(b, ',');
		app_json_quoted(b, p, comma ? (size_t)(comma - p) : strlen(p));
		first = 0;
	}
	buf_addch(b, ']');
	APP_JSON_KEY(b, "has_auth_header");
	if (a->auth_header[0] != '\0')
		buf_add(b, "true", 4);
	else
		buf_add(b, "false", 5);
	APP_JSON_KEY(b, "envs");
	app_json_stored(b, a->envs);
	APP_JSON_KEY(b, "owner");
	app_json_quoted(b, a->owner, strlen(a->owner));
	APP_JSON_KEY(b, "created_at");
	app_json_num(b, a->created_at);
	APP_JSON_KEY(b, "updated_at");
	app_json_num(b, a->updated_at);
	buf_addch(b, '}');
}

enum apps_result
app_request(struct db *db, const struct app *a, const char *desired,
    const char *job_kind, int64_t *job_out)
{
	sqlite3_stmt *st;
	enum job_kind kind;

	if (jobs_kind_parse(job_kind, &kind) == -1)
		return APPS_ERROR;
	if (db_begin(db) == -1)
		return APPS_ERROR;
	st = db_prepare(db, "UPDATE apps SET desired = ?, updated_at = ? "
	    "WHERE id = ? AND status <> 'deleting'");
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, desired);
	db_bind_int(st, 2, db_now());
	db_bind_int(st, 3, a->id);
	if (db_exec_stmt(db, st) == -1)
		goto fail;
	if (db_changes(db) != 1) {
		db_rollback(db);
		return APPS_NOT_FOUND;
	}
	if (jobs_cancel_pending(db, a->id) == -1 ||
	    jobs_enqueue(db, a->id, kind, job_out) == -1 || db_commit(db) == -1)
		goto fail;
	return APPS_OK;
fail:
	db_rollback(db);
	return APPS_ERROR;
}

enum apps_result
app_request_delete(struct db *db, const struct app *a)
{
	sqlite3_stmt *st;

	if (db_begin(db) == -1)
		return APPS_ERROR;
	st = db_prepare(db, "UPDATE apps SET status = 'deleting', desired = "
	    "'deleted', status_detail = 'deleting', updated_at = ? WHERE id = ? "
	    "AND status <> 'deleting'");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, db_now());
	db_bind_int(st, 2, a->id);
	if (db_exec_stmt(db, st) == -1)
		goto fail;
	if (db_changes(db) != 1) {
		db_rollback(db);
		return APPS_NOT_FOUND;
	}
	if (jobs_cancel_pending(db, a->id) == -1 ||
	    jobs_enqueue(db, a->id, JOB_DELETE, NULL) == -1 ||
	    db_commit(db) == -1)
		goto fail;
	return APPS_OK;
fail:
	db_rollback(db);
	return APPS_ERROR;
}

int
app_envs_parse(struct req *r, const char *text, char **out)
{
	struct json_object *o = NULL, *canon = NULL;
	struct json_tokener *tok;
	int rc = -1, n = 0;

	tok = json_tokener_new_ex(4);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != strlen(text) ||
	    !json_object_is_type(o, json_type_object)) {
		req_fail(r, HERR_BAD_REQUEST, "invalid_envs",
		    "envs must be a JSON object of strings");
		goto out;
	}
	canon = json_object_new_object();
	json_object_object_foreach(o, key, val) {
		if (++n > LIMIT_ENVS) {
			req_fail(r, HERR_BAD_REQUEST, "invalid_envs",
			    "at most %d environment variables", LIMIT_ENVS);
			goto out;
		}
		if (valid_env_name(key) == -1) {
			req_fail(r, HERR_BAD_REQUEST, "invalid_envs",
			    "environment variable names must match "
			    "^[A-Za-z_][A-Za-z0-9_]*$");
			goto out;
		}
		if (val == NULL || !(json_object_is_type(val, json_type_string)
		    || json_object_is_type(val, json_type_int) ||
		    json_object_is_type(val, json_type_double) ||
		    json_object_is_type(val, json_type_boolean))) {
			req_fail(r, HERR_BAD_REQUEST, "invalid_envs",
			    "environment variable %s must be a string", key);
			goto out;
		}
		if (valid_env_value(json_object_get_string(val)) == -1 ||
		    strlen(json_object_get_string(val)) !=
		    (size_t)(json_object_is_type(val, json_type_string) ?
		    json_object_get_string_len(val) :
		    (int)strlen(json_object_get_string(val)))) {
			req_fail(r, HERR_BAD_REQUEST, "invalid_envs",
			    "environment variable %s has an invalid value", key);
			goto out;
		}
		json_object_object_add(canon, key,
		    json_object_new_string(json_object_get_string(val)));
	}
	*out = xstrdup(json_object_to_json_string_ext(canon,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	rc = 0;
out:
	json_object_put(o);
	json_object_put(canon);
	json_tokener_free(tok);
	return rc;
}

int
app_opts_parse(struct req *r, const struct form *f, struct app_opts *o)
{
	struct buf canon = BUF_INIT;
	const char *v;
	char err[256];
	long long n;

	memset(o, 0, sizeof(*o));
	o->vram_required = -1;
	if ((v = form_get(f, "name")) != NULL) {
		if (valid_app_name(v) == -1)
			return req_fail(r, HERR_BAD_REQUEST, "invalid_name",
			    "name must match ^[a-z0-9][a-z0-9_-]{0,62}$");
		o->name = v;
	}
	if ((v = form_get(f, "description")) != NULL) {
		if (valid_description(v) == -1)
			return req_fail(r, HERR_BAD_REQUEST,
			    "invalid_description", "description must be UTF-8 "
			    "text of at most %d bytes", LIMIT_DESCRIPTION);
		o->description = v;
	}
	if ((v = form_get(f, "allow_ips")) != NULL) {
		if (netaddr_canonical_allow_list(v, &canon, err,
		    sizeof(err)) == -1) {
			buf_release(&canon);
			return req_fail(r, HERR_BAD_REQUEST, "invalid_allow_ips",
			    "allow_ips: %s", err);
		}
		o->allow_ips = buf_detach(&canon, NULL);
	}
	if ((v = form_get(f, "auth_header")) != NULL) {
		if (*v != '\0' && netaddr_valid_auth_header(v) == -1)
			return req_fail(r, HERR_BAD_REQUEST,
			    "invalid_auth_header", "auth_header must be "
			    "printable ASCII without quotes, backslashes, ';', "
			    "'{', '}', '$' or '#', at most %d bytes",
			    LIMIT_AUTH_HEADER);
		o->auth_header = v;
	}
	if ((v = form_get(f, "vram_required")) != NULL && *v != '\0') {
		if (valid_int(v, 0, LIMIT_VRAM_MIB, &n) == -1)
			return req_fail(r, HERR_BAD_REQUEST, "invalid_vram",
			    "vram_required must be MiB from 0 to %d",
			    LIMIT_VRAM_MIB);
		o->vram_required = n;
	}
	if ((v = form_get(f, "envs")) != NULL && *v != '\0' &&
	    app_envs_parse(r, v, &o->envs) == -1)
		return -1;
	return 0;
}

void
app_opts_release(struct app_opts *o)
{
	free(o->allow_ips);
	free(o->envs);
	o->allow_ips = o->envs = NULL;
}
