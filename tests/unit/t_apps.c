/*
 * t_apps: the request side's apps model on a temporary database:
 * app_create (+ its deploy job, atomically), name and (release, model)
 * uniqueness, app_load by app id / row id / Docker id prefix with
 * ownership, 'deleting' rows invisible, the app JSON (app_json_write,
 * byte for byte against json-c, and GET /status), app_envs_parse and
 * app_opts_parse tables, app_request and app_request_delete.
 */
#include "config.h"

#include <dirent.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps.h"
#include "auth.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "form.h"
#include "handlers.h"
#include "log.h"
#include "req.h"
#include "valid.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_apps.XXXXXX";
static struct user alice_u, bob_u, root_u;

static char *
tpath(const char *name)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s/%s", tmpdir, name);
	return buf_detach(&b, NULL);
}

static int
no_open_stmt(struct db *db)
{
	return sqlite3_next_stmt(db->conn, NULL) == NULL;
}

/* Cached statements stay prepared, but none may be left mid-step. */
static int
no_busy_stmt(struct db *db)
{
	sqlite3_stmt *st = NULL;

	while ((st = sqlite3_next_stmt(db->conn, st)) != NULL)
		if (sqlite3_stmt_busy(st))
			return 0;
	return 1;
}

static int64_t
count(struct db *db, const char *sql, int64_t arg)
{
	sqlite3_stmt *st = db_prepare(db, sql);
	int64_t v = -999;

	if (st != NULL && sqlite3_bind_parameter_count(st) > 0)
		db_bind_int(st, 1, arg);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
set_text(struct db *db, const char *col, const char *val, int64_t rowid)
{
	struct buf sql = BUF_INIT;
	sqlite3_stmt *st;
	int rc;

	buf_printf(&sql, "UPDATE apps SET %s = ? WHERE id = ?", col);
	st = db_prepare(db, sql.data);
	buf_release(&sql);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, val);
	db_bind_int(st, 2, rowid);
	rc = db_exec_stmt(db, st);
	return rc;
}

/* A minimal new app owned by owner. */
static struct app_new
new_app(const char *app_id, const char *name, int64_t owner)
{
	struct app_new n;

	memset(&n, 0, sizeof(n));
	n.app_id = app_id;
	n.name = name;
	n.type = "gradio";
	n.entry = "app.py";
	n.owner_id = owner;
	n.model = -1;
	return n;
}

static void
test_create(struct db *db)
{
	struct app_new n;
	int64_t rowid = -7, job = -7, r2, j2;

	n = new_app("aaaaaaaaaaa1", "first", alice_u.id);
	n.description = "the first app";
	n.allow_ips = "10.0.0.0/8, 192.0.2.1";
	n.auth_header = "Bearer s3cret";
	n.vram_required = 2048;
	n.envs = "{\"A\":\"1\"}";
	is(app_create(db, &n, &rowid, &job), APPS_OK, "app_create");
	ok(rowid > 0 && job > 0, "row id and job id written");
	ok(!db->in_tx && no_open_stmt(db), "committed, nothing left open");
	is(count(db, "SELECT count(*) FROM jobs WHERE app_id = ? AND kind = "
	    "'deploy' AND state = 'pending'", rowid), 1, "one pending deploy job");
	is(count(db, "SELECT id FROM jobs WHERE app_id = ?", rowid), job,
	    "job_out is that job");
	is(count(db, "SELECT count(*) FROM apps WHERE id = ? AND status = "
	    "'queued' AND desired = 'running' AND model IS NULL AND "
	    "template_id IS NULL AND plugin_release IS NULL", rowid), 1,
	    "queued, desired running, model/template/release NULL");

	/* Name uniqueness. */
	n = new_app("aaaaaaaaaaa2", "first", bob_u.id);
	r2 = j2 = -7;
	is(app_create(db, &n, &r2, &j2), APPS_CONFLICT, "same name: APPS_CONFLICT");
	ok(r2 == -7 && j2 == -7, "outputs untouched on conflict");
	ok(!db->in_tx && no_open_stmt(db), "conflict rolls back, nothing open");
	is(count(db, "SELECT count(*) FROM jobs", 0), 1, "no job for the conflict");
	n = new_app("aaaaaaaaaaa1", "other", bob_u.id);
	is(app_create(db, &n, &r2, &j2), APPS_CONFLICT, "same app_id: APPS_CONFLICT");

	/* The app and its job commit together: make the job insert fail. */
	ok(db_exec(db, "CREATE TEMP TRIGGER no_jobs BEFORE INSERT ON jobs "
	    "BEGIN SELECT RAISE(ABORT, 'no jobs today'); END") == 0,
	    "a trigger that refuses jobs");
	n = new_app("aaaaaaaaaaa3", "jobless", alice_u.id);
	is(app_create(db, &n, &r2, &j2), APPS_ERROR, "job insert fails: APPS_ERROR");
	is(count(db, "SELECT count(*) FROM apps WHERE name = 'jobless'", 0), 0,
	    "and the app row was rolled back");
	ok(!db->in_tx && no_open_stmt(db), "no transaction left open");
	ok(db_exec(db, "DROP TRIGGER no_jobs") == 0, "drop the trigger");
}

static void
test_release_model(struct db *db)
{
	static const struct {
		const char	*release;
		int64_t		 model;
		enum apps_result want;
		const char	*what;
	} t[] = {
		{ "plug@1.0", 3, APPS_OK, "p@1.0 model 3" },
		{ "plug@1.0", 3, APPS_CONFLICT, "p@1.0 model 3 again" },
		{ "plug@1.0", 4, APPS_OK, "p@1.0 model 4" },
		{ "plug@2.0", 3, APPS_OK, "p@2.0 model 3" },
		{ "plug@1.0", -1, APPS_OK, "p@1.0 no model" },
		{ "plug@1.0", -1, APPS_CONFLICT, "p@1.0 no model again (NULL is one value)" },
		{ NULL, -1, APPS_OK, "no release" },
		{ NULL, -1, APPS_OK, "no release again (not constrained)" },
		{ NULL, 3, APPS_OK, "no release, model 3" },
		{ NULL, 3, APPS_OK, "no release, model 3 again" },
	};
	struct app_new n;
	char id[13], name[16];
	int64_t rowid, job;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		(void)str_fmt(id, sizeof(id), "rm%010zu", i);
		(void)str_fmt(name, sizeof(name), "rm-%zu", i);
		n = new_app(id, name, alice_u.id);
		n.plugin_release = t[i].release;
		n.model = t[i].model;
		is(app_create(db, &n, &rowid, &job), t[i].want,
		    "(release, model): %s -> %s", t[i].what,
		    t[i].want == APPS_OK ? "ok" : "conflict");
	}
	ok(no_open_stmt(db) && !db->in_tx, "nothing left open");
}

static int64_t
mk(struct db *db, const char *app_id, const char *name, int64_t owner)
{
	struct app_new n = new_app(app_id, name, owner);
	int64_t rowid = -1, job;

	if (app_create(db, &n, &rowid, &job) != APPS_OK)
		return -1;
	return rowid;
}

static void
test_load(struct db *db)
{
	static const char docker[] =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct app *a = NULL;
	int64_t rid, rid2;
	char key[32];
	size_t i;

	rid = mk(db, "load00000001", "loadme", alice_u.id);
	ok(rid > 0, "an app for alice");
	ok(set_text(db, "docker_id", docker, rid) == 0, "give it a docker id");

	is(app_load(db, "load00000001", NULL, &a), APPS_OK, "load by app_id");
	ok(a != NULL && a->id == rid && strcmp(a->name, "loadme") == 0 &&
	    strcmp(a->owner, "alice") == 0 && a->owner_id == alice_u.id &&
	    a->model == -1 && a->template_id == 0 && a->port == 0 &&
	    a->plugin_release == NULL && a->last_job_id > 0 &&
	    strcmp(a->last_job_state, "pending") == 0 &&
	    strcmp(a->docker_id, docker) == 0, "fields from the row");
	app_free(a);
	a = NULL;
	(void)str_fmt(key, sizeof(key), "%lld", (long long)rid);
	is(app_load(db, key, NULL, &a), APPS_OK, "load by row id \"%s\"", key);
	ok(a != NULL && a->id == rid, "same app");
	app_free(a);
	a = NULL;
	is(app_load_rowid(db, rid, NULL, &a), APPS_OK, "app_load_rowid");
	app_free(a);
	a = NULL;

	{
		static const struct {
			size_t		 len;
			enum apps_result want;
		} p[] = {
			{ 12, APPS_OK }, { 13, APPS_OK }, { 20, APPS_OK },
			{ 64, APPS_OK }, { 11, APPS_NOT_FOUND }, { 1, APPS_NOT_FOUND },
		};
		char pre[80];

		for (i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
			memcpy(pre, docker, p[i].len);
			pre[p[i].len] = '\0';
			a = NULL;
			is(app_load(db, pre, NULL, &a), p[i].want,
			    "docker id prefix of %zu -> %s", p[i].len,
			    p[i].want == APPS_OK ? "found" : "not found");
			ok(p[i].want != APPS_OK || (a != NULL && a->id == rid),
			    "prefix %zu: the right app", p[i].len);
			app_free(a);
		}
	}
	{
		static const char *const bad[] = {
			"0123456789ABCDEF",		/* uppercase */
			"0123456789abcdeg",		/* not hex */
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
			"123456789abc",			/* hex, wrong start */
			"",
			"0", "-1", "00", "+1", "1e3",
			"999999999",
			"load0000000",			/* 11 chars */
			"LOAD00000001",
			"load00000001 ",
			"load00000001' OR '1'='1",
			"%",
		};
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			a = NULL;
			ok(app_load(db, bad[i], NULL, &a) == APPS_NOT_FOUND &&
			    a == NULL, "app_load bad key [%zu] -> not found", i);
		}
		ok(app_load(db, NULL, NULL, &a) == APPS_NOT_FOUND, "NULL key");
		ok(app_load_rowid(db, 987654, NULL, &a) == APPS_NOT_FOUND,
		    "unknown row id");
	}

	/* An app_id wins over another app's Docker id prefix. */
	rid2 = mk(db, "0123456789ab", "hexid", alice_u.id);
	is(app_load(db, "0123456789ab", NULL, &a), APPS_OK, "12-hex key that "
	    "is both an app id and a docker prefix");
	ok(a != NULL && a->id == rid2, "resolves to the app id first");
	app_free(a);
	a = NULL;

	/* Ownership. */
	is(app_load(db, "load00000001", &alice_u, &a), APPS_OK, "owner sees it");
	app_free(a);
	a = NULL;
	is(app_load(db, "load00000001", &root_u, &a), APPS_OK, "admin sees it");
	app_free(a);
	a = NULL;
	is(app_load(db, "load00000001", &bob_u, &a), APPS_NOT_FOUND,
	    "another user: APPS_NOT_FOUND by app_id");
	is(app_load(db, key, &bob_u, &a), APPS_NOT_FOUND, "... by row id");
	is(app_load(db, "0123456789abcdef0", &bob_u, &a), APPS_NOT_FOUND,
	    "... by docker prefix");
	is(app_load_rowid(db, rid, &bob_u, &a), APPS_NOT_FOUND, "... by app_load_rowid");
	ok(a == NULL, "out never written for others' apps");
	ok(no_open_stmt(db), "loads leave nothing open");

	/* Deleting rows are invisible. */
	is(app_load(db, "load00000001", NULL, &a), APPS_OK, "load before delete");
	is(app_request_delete(db, a), APPS_OK, "app_request_delete");
	is(count(db, "SELECT count(*) FROM apps WHERE id = ? AND status = "
	    "'deleting' AND desired = 'deleted'", rid), 1, "row marked deleting");
	is(count(db, "SELECT count(*) FROM jobs WHERE app_id = ? AND kind = "
	    "'deploy' AND state = 'cancelled'", rid), 1, "pending deploy cancelled");
	is(count(db, "SELECT count(*) FROM jobs WHERE app_id = ? AND kind = "
	    "'delete' AND state = 'pending'", rid), 1, "delete job queued");
	is(app_request_delete(db, a), APPS_NOT_FOUND, "a second delete: not found");
	ok(!db->in_tx, "no transaction left open");
	app_free(a);
	a = NULL;
	ok(app_load(db, "load00000001", NULL, &a) == APPS_NOT_FOUND &&
	    app_load(db, key, NULL, &a) == APPS_NOT_FOUND &&
	    app_load(db, docker, NULL, &a) == APPS_NOT_FOUND &&
	    app_load_rowid(db, rid, NULL, &a) == APPS_NOT_FOUND,
	    "a deleting app is invisible by every key");
	ok(mk(db, "load00000002", "loadme", bob_u.id) > 0,
	    "its name is free again");
}

static void
test_request(struct db *db)
{
	struct app *a = NULL;
	int64_t rid, job = -1, job2 = -1;

	rid = mk(db, "reqs00000001", "requests", alice_u.id);
	ok(rid > 0 && app_load_rowid(db, rid, NULL, &a) == APPS_OK, "an app");
	if (a == NULL)
		return;
	is(app_request(db, a, "stopped", "stop", &job), APPS_OK, "request stop");
	ok(job > 0 && !db->in_tx && no_open_stmt(db), "job id, committed");
	is(count(db, "SELECT count(*) FROM apps WHERE id = ? AND desired = "
	    "'stopped'", rid), 1, "desired is stopped");
	is(count(db, "SELECT count(*) FROM jobs WHERE app_id = ? AND kind = "
	    "'deploy' AND state = 'cancelled'", rid), 1, "the pending deploy was cancelled");
	is(app_request(db, a, "running", "restart", &job2), APPS_OK, "request restart");
	is(count(db, "SELECT state = 'cancelled' FROM jobs WHERE id = ?", job), 1,
	    "the pending stop was cancelled by the restart");
	is(count(db, "SELECT count(*) FROM jobs WHERE app_id = ? AND state = "
	    "'pending'", rid), 1, "exactly one pending job");
	job = -5;
	is(app_request(db, a, "running", "bogus", &job), APPS_ERROR,
	    "unknown job kind: APPS_ERROR");
	ok(job == -5 && !db->in_tx, "nothing written, no transaction left");
	is(app_request_delete(db, a), APPS_OK, "delete");
	is(app_request(db, a, "running", "start", &job), APPS_NOT_FOUND,
	    "request on a deleting app: not found");
	ok(job == -5 && !db->in_tx && no_open_stmt(db), "nothing queued");
	app_free(a);
	a = calloc(1, sizeof(*a));
	a->id = 999999;
	is(app_request(db, a, "running", "start", NULL), APPS_NOT_FOUND,
	    "request on a missing row: not found");
	is(app_request_delete(db, a), APPS_NOT_FOUND, "delete of a missing row");
	free(a);
}

/* The app's JSON text, parsed by json-c (NULL if it is not JSON). */
static struct json_object *
app_json(const struct app *a, const struct conf *conf)
{
	struct buf b = BUF_INIT;
	struct json_object *o;

	app_json_write(&b, a, conf);
	o = json_tokener_parse(b.data);
	buf_release(&b);
	return o;
}

static void
test_json(struct db *db)
{
	struct conf conf;
	struct app *a = NULL;
	struct json_object *o, *v, *e;
	int64_t rid;
	char *s;

	memset(&conf, 0, sizeof(conf));
	conf.public_host = (char *)"apps.example";
	conf.apps_port = 8080;
	rid = mk(db, "json00000001", "jsonapp", alice_u.id);
	ok(rid > 0 && set_text(db, "allow_ips", "10.0.0.0/8, 192.0.2.1, ::1", rid) == 0 &&
	    set_text(db, "gpus", "0,2", rid) == 0 &&
	    set_text(db, "auth_header", "Bearer x", rid) == 0 &&
	    set_text(db, "envs", "{\"A\":\"1\",\"B\":\"two\"}", rid) == 0 &&
	    set_text(db, "description", "d\xc3\xa9sc", rid) == 0 &&
	    db_exec(db, "UPDATE apps SET port = 7861, vram_required = 1024 "
	    "WHERE app_id = 'json00000001'") == 0, "an app with every field");
	ok(app_load_rowid(db, rid, NULL, &a) == APPS_OK, "load it");
	if (a == NULL)
		return;
	o = app_json(a, &conf);
	s = xstrdup(json_object_to_json_string(o));
	printf("# %s\n", s);
	ok(json_object_object_get_ex(o, "id", &v) &&
	    strcmp(json_object_get_string(v), "json00000001") == 0, "id is the app id");
	ok(json_object_object_get_ex(o, "row_id", &v) &&
	    json_object_get_int64(v) == rid, "row_id");
	ok(json_object_object_get_ex(o, "name", &v) &&
	    strcmp(json_object_get_string(v), "jsonapp") == 0, "name");
	ok(json_object_object_get_ex(o, "description", &v) &&
	    strcmp(json_object_get_string(v), "d\xc3\xa9sc") == 0, "description");
	ok(json_object_object_get_ex(o, "type", &v) &&
	    strcmp(json_object_get_string(v), "gradio") == 0, "type");
	ok(json_object_object_get_ex(o, "status", &v) &&
	    strcmp(json_object_get_string(v), "queued") == 0, "status");
	ok(json_object_object_get_ex(o, "status_detail", &v) &&
	    json_object_is_type(v, json_type_string), "status_detail");
	ok(json_object_object_get_ex(o, "url", &v) &&
	    strcmp(json_object_get_string(v), "/apps/json00000001/") == 0, "url");
	ok(json_object_object_get_ex(o, "endpoint", &v) &&
	    strcmp(json_object_get_string(v),
	    "http://apps.example:8080/apps/json00000001/") == 0, "endpoint");
	ok(json_object_object_get_ex(o, "port", &v) &&
	    json_object_get_int(v) == 7861, "port");
	ok(json_object_object_get_ex(o, "gpus", &v) &&
	    json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) == 2 &&
	    json_object_get_int(json_object_array_get_idx(v, 0)) == 0 &&
	    json_object_get_int(json_object_array_get_idx(v, 1)) == 2,
	    "gpus \"0,2\" -> [0,2]");
	ok(json_object_object_get_ex(o, "vram_required", &v) &&
	    json_object_get_int64(v) == 1024, "vram_required");
	ok(json_object_object_get_ex(o, "allow_ips", &v) &&
	    json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) == 3, "allow_ips is an array of 3");
	ok(json_object_object_get_ex(o, "allow_ips", &v) &&
	    (e = json_object_array_get_idx(v, 0)) != NULL &&
	    strcmp(json_object_get_string(e), "10.0.0.0/8") == 0,
	    "allow_ips[0] = 10.0.0.0/8");
	/* BUG (apps.c app JSON): the canonical list is ", "-joined. */
	ok(json_object_object_get_ex(o, "allow_ips", &v) &&
	    (e = json_object_array_get_idx(v, 1)) != NULL &&
	    strcmp(json_object_get_string(e), "192.0.2.1") == 0,
	    "allow_ips[1] = 192.0.2.1 (no leading space)");
	ok(json_object_object_get_ex(o, "allow_ips", &v) &&
	    (e = json_object_array_get_idx(v, 2)) != NULL &&
	    strcmp(json_object_get_string(e), "::1") == 0,
	    "allow_ips[2] = ::1 (no leading space)");
	ok(json_object_object_get_ex(o, "has_auth_header", &v) &&
	    json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v),
	    "has_auth_header true");
	ok(strstr(s, "Bearer x") == NULL, "the auth header itself is never shown");
	ok(json_object_object_get_ex(o, "envs", &v) &&
	    json_object_is_type(v, json_type_object) &&
	    json_object_object_get_ex(v, "B", &e) &&
	    strcmp(json_object_get_string(e), "two") == 0, "envs parsed into an object");
	ok(json_object_object_get_ex(o, "owner", &v) &&
	    strcmp(json_object_get_string(v), "alice") == 0, "owner");
	ok(json_object_object_get_ex(o, "created_at", &v) &&
	    json_object_get_int64(v) > 0 &&
	    json_object_object_get_ex(o, "updated_at", &v), "created_at, updated_at");
	json_object_put(o);
	free(s);
	app_free(a);
	a = NULL;

	/* Empty and odd stored values. */
	ok(set_text(db, "allow_ips", "", rid) == 0 && set_text(db, "gpus", "", rid)
	    == 0 && set_text(db, "auth_header", "", rid) == 0 &&
	    set_text(db, "envs", "not json", rid) == 0 &&
	    db_exec(db, "UPDATE apps SET port = NULL WHERE id = 0 OR "
	    "app_id = 'json00000001'") == 0, "empty values");
	ok(app_load_rowid(db, rid, NULL, &a) == APPS_OK, "load again");
	o = app_json(a, &conf);
	ok(json_object_object_get_ex(o, "allow_ips", &v) &&
	    json_object_array_length(v) == 0, "allow_ips [] when empty");
	ok(json_object_object_get_ex(o, "gpus", &v) &&
	    json_object_array_length(v) == 0, "gpus [] when empty");
	ok(json_object_object_get_ex(o, "has_auth_header", &v) &&
	    !json_object_get_boolean(v), "has_auth_header false");
	ok(json_object_object_get_ex(o, "envs", &v) &&
	    json_object_is_type(v, json_type_object) &&
	    json_object_object_length(v) == 0, "unparsable envs -> {}");
	ok(json_object_object_get_ex(o, "port", &v) && v == NULL, "port null");
	json_object_put(o);
	app_free(a);
	a = NULL;
	ok(set_text(db, "gpus", "1,x,99999,3,", rid) == 0 &&
	    app_load_rowid(db, rid, NULL, &a) == APPS_OK, "junk in gpus");
	o = app_json(a, &conf);
	ok(json_object_object_get_ex(o, "gpus", &v) &&
	    json_object_array_length(v) == 2, "only valid GPU indices shown");
	json_object_put(o);
	app_free(a);
}

/*
 * The app JSON as json-c builds and prints it: the implementation
 * app_json_write() replaced, kept here as the oracle it must match byte
 * for byte.
 */
static char *
ref_app_json(const struct app *a, const struct conf *conf)
{
	struct json_object *o = json_object_new_object(), *arr, *v;
	struct buf url = BUF_INIT;
	const char *p, *comma;
	long long gi;
	char one[16], *s;

	json_object_object_add(o, "id", json_object_new_string(a->app_id));
	json_object_object_add(o, "row_id", json_object_new_int64(a->id));
	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "description",
	    json_object_new_string(a->description));
	json_object_object_add(o, "type", json_object_new_string(a->type));
	json_object_object_add(o, "status", json_object_new_string(a->status));
	json_object_object_add(o, "status_detail",
	    json_object_new_string(a->status_detail));
	buf_printf(&url, "/apps/%s/", a->app_id);
	json_object_object_add(o, "url", json_object_new_string(url.data));
	buf_reset(&url);
	buf_printf(&url, "http://%s:%d/apps/%s/", conf->public_host,
	    conf->apps_port, a->app_id);
	json_object_object_add(o, "endpoint", json_object_new_string(url.data));
	json_object_object_add(o, "port", a->port > 0 ?
	    json_object_new_int(a->port) : NULL);
	arr = json_object_new_array();
	for (p = a->gpus; p != NULL && *p != '\0'; p = comma ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		if ((size_t)(comma ? comma - p : (long)strlen(p)) < sizeof(one)) {
			memcpy(one, p, comma ? (size_t)(comma - p) : strlen(p));
			one[comma ? (size_t)(comma - p) : strlen(p)] = '\0';
			if (valid_int(one, 0, 1024, &gi) == 0)
				json_object_array_add(arr,
				    json_object_new_int((int)gi));
		}
	}
	json_object_object_add(o, "gpus", arr);
	json_object_object_add(o, "vram_required",
	    json_object_new_int64(a->vram_required));
	arr = json_object_new_array();
	for (p = a->allow_ips; p != NULL && *p != '\0';
	    p = comma ? comma + 1 : NULL) {
		p += strspn(p, " ");
		comma = strchr(p, ',');
		json_object_array_add(arr, json_object_new_string_len(p,
		    comma ? (int)(comma - p) : (int)strlen(p)));
	}
	json_object_object_add(o, "allow_ips", arr);
	json_object_object_add(o, "has_auth_header",
	    json_object_new_boolean(a->auth_header[0] != '\0'));
	v = a->envs && *a->envs ? json_tokener_parse(a->envs) : NULL;
	json_object_object_add(o, "envs", v != NULL ? v :
	    json_object_new_object());
	json_object_object_add(o, "owner", json_object_new_string(a->owner));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(a->created_at));
	json_object_object_add(o, "updated_at",
	    json_object_new_int64(a->updated_at));
	s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	buf_release(&url);
	return s;
}

/* app_json_write(a) == the json-c oracle, and json-c reads it back. */
static int
json_matches(const struct app *a, const struct conf *conf, const char *name)
{
	struct buf b = BUF_INIT;
	struct json_object *o;
	char *want = ref_app_json(a, conf);
	int good;

	buf_adds(&b, "prefix");	/* appends, never overwrites */
	app_json_write(&b, a, conf);
	good = strncmp(b.data, "prefix", 6) == 0 &&
	    strcmp(b.data + 6, want) == 0;
	if (!ok(good, "app JSON as json-c writes it: %s", name))
		printf("#   got  %s\n#   want %s\n", b.data + 6, want);
	o = app_json(a, conf);
	ok(o != NULL && strcmp(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), want) == 0,
	    "json-c parses it back to the same text: %s", name);
	json_object_put(o);
	free(want);
	buf_release(&b);
	return good;
}

static void
test_json_exact(void)
{
	static const struct {
		const char	*name;
		const char	*text;		/* every string field */
		const char	*gpus;
		const char	*allow_ips;
		const char	*envs;
		const char	*auth_header;
		int		 port;
		int64_t		 num;		/* row id, vram, times */
	} t[] = {
		{ "plain", "abc", "", "", "{}", "", 0, 1 },
		{ "quotes and backslashes", "a\"b\\c\"\\\\", "0", "::1", "", "x", 7861, 0 },
		{ "slashes stay", "/a/b//c/", "0,2", "10.0.0.0/8, 192.0.2.1, ::1",
		    "{\"PATH\":\"/usr/bin:/bin\"}", "", 1, 42 },
		{ "control characters", "\x01\x02\b\t\n\x0b\f\r\x0e\x1f\x7f end",
		    "1,x,99999,3,", "a,", "{\"A\":\"\\u0001\\n\"}", "y", -5, -1 },
		{ "UTF-8 and high bytes", "d\xc3\xa9sc \xe2\x82\xac \xff\xfe\x80",
		    "01,-1,1024,1025, 2,", ", ", "[1,\"a\"]", "", 65535,
		    INT64_MAX },
		{ "odd lists", "", ",", "a,,b", "not json", "", 0, INT64_MIN },
		{ "spaces in lists", " x ", " ,1 , 2", "  a,b  ,  c", " {\"B\":\"2\",\"A\":\"1\"} ",
		    "", 0, 1795317578 },
		{ "stored null and scalars", "</script>", "0123456789012345",
		    "\"x\", y\\", "null", "", 0, 0 },
		{ "stored number", "x", "7", "1.2.3.4", "5", "", 0, 3 },
	};
	struct conf conf;
	struct app a;
	char all[256];
	size_t i;
	int good = 1;

	memset(&conf, 0, sizeof(conf));
	conf.public_host = (char *)"apps.example";
	conf.apps_port = 8080;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&a, 0, sizeof(a));
		a.app_id = a.name = a.description = a.type = a.status =
		    a.status_detail = a.owner = (char *)t[i].text;
		a.gpus = (char *)t[i].gpus;
		a.allow_ips = (char *)t[i].allow_ips;
		a.envs = (char *)t[i].envs;
		a.auth_header = (char *)t[i].auth_header;
		a.port = t[i].port;
		a.id = a.vram_required = a.created_at = t[i].num;
		a.updated_at = t[i].num == INT64_MIN ? INT64_MAX : -t[i].num;
		json_matches(&a, &conf, t[i].name);
	}
	/* Every byte value 1..255 in a string, and in the host. */
	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	memset(&a, 0, sizeof(a));
	a.app_id = a.name = a.description = a.type = a.status =
	    a.status_detail = a.owner = a.gpus = a.allow_ips = a.envs = all;
	a.auth_header = (char *)"";
	conf.public_host = all;
	conf.apps_port = 0;
	json_matches(&a, &conf, "every byte 1..255");
	/* Each byte alone, at the start, middle and end of a string. */
	for (i = 1; i < 256 && good; i++) {
		char s[8] = { (char)i, 'a', (char)i, 'b', (char)i, '\0' };

		a.app_id = a.name = a.description = a.type = a.status =
		    a.status_detail = a.owner = s;
		a.gpus = a.allow_ips = a.envs = (char *)"";
		conf.public_host = s;
		good = strlen(s) == 5;
		{
			struct buf b = BUF_INIT;
			char *want = ref_app_json(&a, &conf);

			app_json_write(&b, &a, &conf);
			good = good && strcmp(b.data, want) == 0;
			if (!good)
				printf("# byte 0x%02zx: got %s want %s\n", i,
				    b.data, want);
			free(want);
			buf_release(&b);
		}
	}
	ok(good, "each byte 0x01..0xff escaped as json-c does");
}

/* GET /status through the handler: the list, as json-c would print it. */
static void
test_status_list(struct db *db)
{
	struct conf conf;
	struct req r;
	struct buf want = BUF_INIT;
	struct app *a;
	sqlite3_stmt *st;
	const char *body;
	char *one;
	int n = 0;

	memset(&conf, 0, sizeof(conf));
	conf.public_host = (char *)"apps.example";
	conf.apps_port = 8080;
	/* The oracle: every live app of alice's, loaded and printed by json-c. */
	buf_addch(&want, '[');
	st = db_prepare(db, "SELECT " APP_COLUMNS APP_FROM "WHERE a.status <> "
	    "'deleting' AND a.owner_id = ? ORDER BY a.id");
	db_bind_int(st, 1, alice_u.id);
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		a = app_from_row(st);
		one = ref_app_json(a, &conf);
		if (n++ > 0)
			buf_addch(&want, ',');
		buf_adds(&want, one);
		free(one);
		app_free(a);
	}
	sqlite3_finalize(st);
	buf_addch(&want, ']');
	ok(n >= 2, "alice has %d live apps to list", n);

	req_init_test(&r, "GET", "/status", NULL);
	r.db = db;
	r.conf = &conf;
	r.user = xcalloc(1, sizeof(*r.user));
	r.user->id = alice_u.id;
	r.user->username = xstrdup("alice");
	is(h_status_list(&r), 0, "h_status_list answers");
	is(r.status, 200, "200");
	body = strstr(r.test_out.data, "\r\n\r\n");
	ok(body != NULL && strcmp(body + 4, want.data) == 0,
	    "the list is byte for byte what json-c printed");
	if (body != NULL && strcmp(body + 4, want.data) != 0)
		printf("#   got  %s\n#   want %s\n", body + 4, want.data);
	ok(strstr(r.test_out.data, "Content-Type: application/json; "
	    "charset=utf-8\r\n") != NULL, "JSON content type");
	ok(no_busy_stmt(db), "no statement left stepping (cached ones reset)");
	req_release(&r);

	/* ?status= filters; an unknown status gives []. */
	req_init_test(&r, "GET", "/status", "status=no-such-status");
	r.db = db;
	r.conf = &conf;
	r.user = xcalloc(1, sizeof(*r.user));
	r.user->id = alice_u.id;
	r.user->username = xstrdup("alice");
	is(h_status_list(&r), 0, "filtered list answers");
	body = strstr(r.test_out.data, "\r\n\r\n");
	is_str(body != NULL ? body + 4 : NULL, "[]", "no match: []");
	req_release(&r);
	buf_release(&want);
}

static void
test_envs(void)
{
	static const struct {
		const char	*in;
		const char	*out;	/* NULL: rejected */
	} t[] = {
		{ "{}", "{}" },
		{ "{\"A\":\"1\"}", "{\"A\":\"1\"}" },
		{ "{\"A\":1}", "{\"A\":\"1\"}" },
		{ "{\"A\":-2.5}", "{\"A\":\"-2.5\"}" },
		{ "{\"A\":true}", "{\"A\":\"true\"}" },
		{ "{\"_X\":\"\"}", "{\"_X\":\"\"}" },
		{ "{\"PATH\":\"/usr/bin:/bin\"}", "{\"PATH\":\"/usr/bin:/bin\"}" },
		{ " {\"A\":\"x\"}\n", "{\"A\":\"x\"}" },
		{ "{\"A\":\"it's; $(rm -rf /)\"}", "{\"A\":\"it's; $(rm -rf /)\"}" },
		{ "{\"A\":\"\\u00e9\"}", "{\"A\":\"\xc3\xa9\"}" },

		{ "", NULL },
		{ "[]", NULL },
		{ "[{\"A\":\"1\"}]", NULL },
		{ "\"A=1\"", NULL },
		{ "1", NULL },
		{ "null", NULL },
		{ "{", NULL },
		{ "A=1", NULL },
		{ "{\"1A\":\"x\"}", NULL },
		{ "{\"A-B\":\"x\"}", NULL },
		{ "{\"A B\":\"x\"}", NULL },
		{ "{\"\":\"x\"}", NULL },
		{ "{\"A=B\":\"x\"}", NULL },
		{ "{\"\\u00c9\":\"x\"}", NULL },
		{ "{\"A\":null}", NULL },
		{ "{\"A\":{}}", NULL },
		{ "{\"A\":[\"x\"]}", NULL },
		{ "{\"A\":\"x\\u0000y\"}", NULL },
		{ "{\"A\":\"\\u0000\"}", NULL },
		{ "{\"A\":{\"B\":{\"C\":{\"D\":{}}}}}", NULL },
		/* BUG (apps.c app_envs_parse): data after the object is ignored */
		{ "{\"A\":\"b\"} junk", NULL },
		{ "{\"A\":\"b\"}{\"C\":\"d\"}", NULL },
	};
	struct req r;
	struct buf b = BUF_INIT;
	char *out;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		req_init_test(&r, "POST", "/upload", NULL);
		out = NULL;
		rc = app_envs_parse(&r, t[i].in, &out);
		if (t[i].out != NULL)
			ok(rc == 0 && out != NULL && strcmp(out, t[i].out) == 0 &&
			    r.err == HERR_OK, "envs good [%zu] -> %s", i, t[i].out);
		else
			ok(rc == -1 && out == NULL && r.err == HERR_BAD_REQUEST &&
			    strcmp(r.err_code, "invalid_envs") == 0,
			    "envs bad [%zu] -> 400 invalid_envs", i);
		if (rc == 0 && t[i].out == NULL)
			printf("#   accepted as %s\n", out);
		free(out);
		req_release(&r);
	}

	/* Caps: LIMIT_ENVS entries, LIMIT_ENV_NAME, LIMIT_ENV_VALUE. */
	buf_adds(&b, "{");
	for (i = 0; i < LIMIT_ENVS; i++)
		buf_printf(&b, "%s\"V%zu\":\"x\"", i ? "," : "", i);
	buf_adds(&b, "}");
	req_init_test(&r, "POST", "/upload", NULL);
	out = NULL;
	ok(app_envs_parse(&r, b.data, &out) == 0, "%d variables", LIMIT_ENVS);
	free(out);
	req_release(&r);
	b.data[b.len - 1] = ',';
	buf_adds(&b, "\"ONEMORE\":\"x\"}");
	req_init_test(&r, "POST", "/upload", NULL);
	out = NULL;
	ok(app_envs_parse(&r, b.data, &out) == -1 && out == NULL,
	    "%d variables: 400", LIMIT_ENVS + 1);
	req_release(&r);

	buf_reset(&b);
	buf_adds(&b, "{\"A\":\"");
	for (i = 0; i < LIMIT_ENV_VALUE; i++)
		buf_addch(&b, 'v');
	buf_adds(&b, "\"}");
	req_init_test(&r, "POST", "/upload", NULL);
	out = NULL;
	ok(app_envs_parse(&r, b.data, &out) == 0, "a value of %d bytes",
	    LIMIT_ENV_VALUE);
	free(out);
	req_release(&r);
	buf_truncate(&b, b.len - 2);
	buf_adds(&b, "v\"}");
	req_init_test(&r, "POST", "/upload", NULL);
	out = NULL;
	ok(app_envs_parse(&r, b.data, &out) == -1, "a value of %d bytes: 400",
	    LIMIT_ENV_VALUE + 1);
	req_release(&r);

	buf_reset(&b);
	buf_adds(&b, "{\"");
	for (i = 0; i < LIMIT_ENV_NAME + 1; i++)
		buf_addch(&b, 'N');
	buf_adds(&b, "\":\"x\"}");
	req_init_test(&r, "POST", "/upload", NULL);
	out = NULL;
	ok(app_envs_parse(&r, b.data, &out) == -1, "a name of %d bytes: 400",
	    LIMIT_ENV_NAME + 1);
	req_release(&r);
	buf_release(&b);
}

static void
test_opts(void)
{
	static const struct {
		const char	*query;		/* urlencoded fields */
		enum herr	 err;
		const char	*code;
	} t[] = {
		{ "", HERR_OK, NULL },
		{ "name=my-app&description=hi&vram_required=0", HERR_OK, NULL },
		{ "allow_ips=10.0.0.1,+192.0.2.0%2F24", HERR_OK, NULL },
		{ "auth_header=Bearer+tok", HERR_OK, NULL },
		{ "auth_header=", HERR_OK, NULL },
		{ "vram_required=", HERR_OK, NULL },
		{ "envs=", HERR_OK, NULL },
		{ "envs=%7B%22A%22%3A%221%22%7D", HERR_OK, NULL },
		{ "name=My-App", HERR_BAD_REQUEST, "invalid_name" },
		{ "name=", HERR_BAD_REQUEST, "invalid_name" },
		{ "name=a%2Fb", HERR_BAD_REQUEST, "invalid_name" },
		{ "description=%1B%5B31m", HERR_BAD_REQUEST, "invalid_description" },
		{ "description=%FF", HERR_BAD_REQUEST, "invalid_description" },
		{ "allow_ips=example.com", HERR_BAD_REQUEST, "invalid_allow_ips" },
		{ "allow_ips=10.0.0.1%3B+deny+all", HERR_BAD_REQUEST, "invalid_allow_ips" },
		{ "auth_header=a%22b", HERR_BAD_REQUEST, "invalid_auth_header" },
		{ "auth_header=x%3B+return+200", HERR_BAD_REQUEST, "invalid_auth_header" },
		{ "vram_required=-1", HERR_BAD_REQUEST, "invalid_vram" },
		{ "vram_required=1048577", HERR_BAD_REQUEST, "invalid_vram" },
		{ "vram_required=1.5", HERR_BAD_REQUEST, "invalid_vram" },
		{ "envs=%5B%5D", HERR_BAD_REQUEST, "invalid_envs" },
	};
	struct req r;
	struct form f = FORM_INIT;
	struct app_opts o;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		req_init_test(&r, "POST", "/edit_app", NULL);
		(void)form_parse_urlencoded(&f, t[i].query, strlen(t[i].query));
		rc = app_opts_parse(&r, &f, &o);
		ok(rc == (t[i].err == HERR_OK ? 0 : -1) && r.err == t[i].err &&
		    (t[i].code == NULL || (r.err_code != NULL &&
		    strcmp(r.err_code, t[i].code) == 0)),
		    "app_opts_parse [%zu] %s", i, t[i].code ? t[i].code : "ok");
		app_opts_release(&o);
		form_free(&f);
		req_release(&r);
	}
	req_init_test(&r, "POST", "/edit_app", NULL);
	{
		static const char q[] = "allow_ips=192.0.2.1,10.1.2.3%2F8&vram_required=512";

		(void)form_parse_urlencoded(&f, q, strlen(q));
	}
	ok(app_opts_parse(&r, &f, &o) == 0 && o.allow_ips != NULL &&
	    strcmp(o.allow_ips, "192.0.2.1, 10.0.0.0/8") == 0 &&
	    o.vram_required == 512 && o.name == NULL && o.envs == NULL,
	    "canonical allow_ips, vram, absent fields stay NULL");
	app_opts_release(&o);
	form_free(&f);
	req_release(&r);
}

static void
test_new_id(struct db *db)
{
	char id[13], prev[13] = "";
	int good = 1, i;

	for (i = 0; i < 50; i++) {
		if (app_new_id(db, id) == -1 || valid_app_id(id) == -1 ||
		    strcmp(id, prev) == 0)
			good = 0;
		memcpy(prev, id, sizeof(prev));
	}
	ok(good, "app_new_id gives valid, changing ids");
	ok(no_open_stmt(db), "app_new_id leaves nothing open");
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

	log_init("t_apps", 0);
	if (mkdtemp(tmpdir) == NULL) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	p = tpath("apps.db");
	if ((db = db_open(p)) == NULL) {
		ok(0, "open apps.db");
		free(p);
		return done_testing();
	}
	free(p);
	ok(auth_user_create(db, "alice", "password1", 0, &alice_u.id) == AUTH_OK &&
	    auth_user_create(db, "bob", "password2", 0, &bob_u.id) == AUTH_OK &&
	    auth_user_create(db, "root", "password3", 1, &root_u.id) == AUTH_OK,
	    "alice, bob and root (admin)");
	alice_u.username = (char *)"alice";
	bob_u.username = (char *)"bob";
	root_u.username = (char *)"root";
	root_u.is_admin = 1;
	test_create(db);
	test_release_model(db);
	test_load(db);
	test_request(db);
	test_json(db);
	test_new_id(db);
	test_status_list(db);	/* last: leaves its cached statement */
	db_close(db);
	test_json_exact();
	test_envs();
	test_opts();
	cleanup();
	return done_testing();
}
