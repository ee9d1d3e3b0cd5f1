#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apps.h"
#include "archive.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "handlers.h"
#include "jobs.h"
#include "log.h"
#include "ngxconf.h"
#include "req.h"
#include "upload.h"
#include "valid.h"

/* Map a model result to the request error. */
static int
h_apps_fail(struct req *r, enum apps_result res)
{
	switch (res) {
	case APPS_NOT_FOUND:
		return req_fail(r, HERR_NOT_FOUND, "not_found", "no such app");
	case APPS_CONFLICT:
		return req_fail(r, HERR_CONFLICT, "name_taken",
		    "an app with that name already exists");
	default:
		return req_fail(r, HERR_UNAVAILABLE, "database",
		    "database unavailable");
	}
}

/* The app named by the first path argument, visible to this user. */
static int
h_app_arg(struct req *r, struct app **out)
{
	enum apps_result res = app_load(r->db, req_arg(r, 0), r->user, out);

	return res == APPS_OK ? 0 : h_apps_fail(r, res);
}

static int
h_name_taken(struct db *db, const char *name, int64_t except_rowid)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT 1 FROM apps WHERE name = ? "
	    "AND status <> 'deleting' AND id <> ?");
	int taken;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, name);
	db_bind_int(st, 2, except_rowid);
	taken = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return taken;
}

/* Common tail of upload and deploy: answer 202 with the new app. */
int
h_app_accepted(struct req *r, const char *app_id, const char *name,
    const char *type, int64_t rowid, int64_t job_id)
{
	struct json_object *o = json_object_new_object();
	struct buf url = BUF_INIT;

	jobs_wake(r->conf->agent_socket);
	buf_printf(&url, "/apps/%s/", app_id);
	json_object_object_add(o, "app_id", json_object_new_string(app_id));
	json_object_object_add(o, "id", json_object_new_int64(rowid));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "status", json_object_new_string("queued"));
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "url", json_object_new_string(url.data));
	json_object_object_add(o, "build_id", json_object_new_int64(job_id));
	buf_release(&url);
	return req_json(r, 202, o);
}

int
h_upload(struct req *r)
{
	struct upload *u = NULL;
	struct upload_tree tree;
	struct app_opts opts;
	struct app_new an;
	struct buf dir = BUF_INIT;
	char app_id[APP_ID_LEN + 1];
	int64_t rowid, job;
	enum apps_result res;
	int rc = -1, placed = 0;

	memset(&opts, 0, sizeof(opts));
	if (upload_receive(r, r->conf->max_upload, &u) == -1)
		goto out;
	if (app_opts_parse(r, &u->fields, &opts) == -1)
		goto out;
	if (opts.name == NULL) {
		req_fail(r, HERR_BAD_REQUEST, "missing_field",
		    "name is required");
		goto out;
	}
	switch (h_name_taken(r->db, opts.name, 0)) {
	case 0:
		break;
	case 1:
		req_fail(r, HERR_CONFLICT, "name_taken",
		    "an app with that name already exists");
		goto out;
	default:
		req_fail(r, HERR_UNAVAILABLE, "database", "database unavailable");
		goto out;
	}
	if (app_new_id(r->db, app_id) == -1) {
		req_fail(r, HERR_UNAVAILABLE, "database", "database unavailable");
		goto out;
	}
	buf_printf(&dir, "%s/%s", r->conf->uploads_dir, app_id);
	if (upload_unpack(r, u, dir.data, &tree) == -1)
		goto out;
	placed = 1;
	memset(&an, 0, sizeof(an));
	an.app_id = app_id;
	an.name = opts.name;
	an.description = opts.description;
	an.type = tree.type;
	an.entry = tree.entry;
	an.allow_ips = opts.allow_ips;
	an.auth_header = opts.auth_header;
	an.vram_required = opts.vram_required > 0 ? opts.vram_required : 0;
	an.envs = opts.envs;
	an.owner_id = r->user->id;
	an.model = -1;
	if ((res = app_create(r->db, &an, &rowid, &job)) != APPS_OK) {
		h_apps_fail(r, res);
		goto out;
	}
	placed = 0;
	log_info("app %s (%s, %s) uploaded by %s", app_id, opts.name,
	    tree.type, r->user->username);
	rc = h_app_accepted(r, app_id, opts.name, tree.type, rowid, job);
out:
	if (placed)
		(void)tree_remove(dir.data);
	app_opts_release(&opts);
	upload_free(u);
	buf_release(&dir);
	return rc;
}

/* Answer with one app's JSON. */
static int
h_app_answer(struct req *r, const struct app *a)
{
	struct buf out = BUF_INIT;
	int rc;

	app_json_write(&out, a, r->conf);
	rc = req_json_text(r, 200, out.data, out.len);
	buf_release(&out);
	return rc;
}

int
h_status_list(struct req *r)
{
	struct buf out = BUF_INIT;
	sqlite3_stmt *st;
	const char *want = req_query(r, "status");
	struct app a;
	int rc, n = 0;

	/* The list does not show the deploy job: no job subqueries. */
	st = db_prepare_cached(r->db, "SELECT " APP_COLUMNS_NO_JOB APP_FROM
	    "WHERE a.status <> 'deleting' AND (? OR a.owner_id = ?) AND "
	    "(? IS NULL OR a.status = ?) ORDER BY a.id");
	if (st == NULL)
		return req_fail(r, HERR_UNAVAILABLE, "database", "database error");
	db_bind_int(st, 1, r->user->is_admin);
	db_bind_int(st, 2, r->user->id);
	db_bind_text(st, 3, want);
	db_bind_text(st, 4, want);
	buf_grow(&out, 4096);
	buf_addch(&out, '[');
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ > 0)
			buf_addch(&out, ',');
		app_view_row(st, &a);	/* valid until the next step */
		app_json_write(&out, &a, r->conf);
	}
	db_release(r->db, st);
	if (rc != SQLITE_DONE) {
		buf_release(&out);
		return req_fail(r, HERR_UNAVAILABLE, "database", "database error");
	}
	buf_addch(&out, ']');
	rc = req_json_text(r, 200, out.data, out.len);
	buf_release(&out);
	return rc;
}

int
h_app_get(struct req *r)
{
	struct app *a = NULL;
	int rc;

	if (h_app_arg(r, &a) == -1)
		return -1;
	rc = h_app_answer(r, a);
	app_free(a);
	return rc;
}

static int
h_app_job(struct req *r, const char *desired, const char *kind,
    const char *detail, int with_url)
{
	struct json_object *o;
	struct app *a = NULL;
	struct buf url = BUF_INIT;
	enum apps_result res;
	int rc = -1;

	if (h_app_arg(r, &a) == -1)
		return -1;
	if ((res = app_request(r->db, a, desired, kind, NULL)) != APPS_OK) {
		h_apps_fail(r, res);
		goto out;
	}
	jobs_wake(r->conf->agent_socket);
	o = json_object_new_object();
	json_object_object_add(o, "detail", json_object_new_string(detail));
	if (with_url) {
		buf_printf(&url, "/apps/%s/", a->app_id);
		json_object_object_add(o, "url",
		    json_object_new_string(url.data));
	}
	rc = req_json(r, 202, o);
out:
	buf_release(&url);
	app_free(a);
	return rc;
}

int
h_stop(struct req *r)
{
	return h_app_job(r, "stopped", "stop", "stopping", 0);
}

int
h_start(struct req *r)
{
	return h_app_job(r, "running", "start", "starting", 1);
}

int
h_restart(struct req *r)
{
	return h_app_job(r, "running", "restart", "restarting", 1);
}

int
h_app_delete(struct req *r)
{
	struct app *a = NULL;
	enum apps_result res;
	int rc = -1;

	if (h_app_arg(r, &a) == -1)
		return -1;
	if ((res = app_request_delete(r->db, a)) != APPS_OK) {
		h_apps_fail(r, res);
		goto out;
	}
	jobs_wake(r->conf->agent_socket);
	log_info("app %s deleted by %s", a->app_id, r->user->username);
	/* Its route goes now, not when the agent gets to it. */
	(void)ngxconf_sync(r->conf, r->db, NULL);
	rc = req_no_content(r);
out:
	app_free(a);
	return rc;
}

int
h_edit_app(struct req *r)
{
	struct form f = FORM_INIT;
	struct app_opts o;
	struct app *a = NULL;
	sqlite3_stmt *st;
	enum apps_result res;
	int rc = -1, routes_changed;

	memset(&o, 0, sizeof(o));
	if (req_params(r, &f) == -1)
		goto out;
	if ((res = app_load(r->db, form_get(&f, "app_id"), r->user, &a)) !=
	    APPS_OK) {
		h_apps_fail(r, res);
		goto out;
	}
	if (app_opts_parse(r, &f, &o) == -1)
		goto out;
	if (o.vram_required >= 0 || o.envs != NULL) {
		req_fail(r, HERR_BAD_REQUEST, "not_editable",
		    "vram_required and envs cannot be edited; redeploy");
		goto out;
	}
	routes_changed = (o.allow_ips && strcmp(o.allow_ips, a->allow_ips)) ||
	    (o.auth_header && strcmp(o.auth_header, a->auth_header)) ||
	    (o.name && strcmp(o.name, a->name));
	if (db_begin(r->db) == -1)
		goto dberr;
	st = db_prepare(r->db, "UPDATE apps SET name = coalesce(?, name), "
	    "description = coalesce(?, description), allow_ips = coalesce(?, "
	    "allow_ips), auth_header = coalesce(?, auth_header), updated_at = ? "
	    "WHERE id = ? AND status <> 'deleting'");
	if (st == NULL)
		goto dberr;
	db_bind_text(st, 1, o.name);
	db_bind_text(st, 2, o.description);
	db_bind_text(st, 3, o.allow_ips);
	db_bind_text(st, 4, o.auth_header);
	db_bind_int(st, 5, db_now());
	db_bind_int(st, 6, a->id);
	if (db_exec_stmt(r->db, st) == -1) {
		if (db_is_constraint(r->db)) {
			db_rollback(r->db);
			req_fail(r, HERR_CONFLICT, "name_taken",
			    "an app with that name already exists");
			goto out;
		}
		goto dberr;
	}
	if (db_commit(r->db) == -1)
		goto dberr;
	/* Restrictions take effect now, without restarting the app. */
	if (routes_changed && (strcmp(a->status, "running") == 0 ||
	    strcmp(a->status, "starting") == 0) &&
	    ngxconf_sync(r->conf, r->db, NULL) == -1) {
		req_fail(r, HERR_BAD_GATEWAY, "nginx",
		    "saved, but nginx could not be reloaded");
		goto out;
	}
	/* Answer with the app as it is now. */
	app_free(a);
	a = NULL;
	if ((res = app_load(r->db, form_get(&f, "app_id"), r->user, &a)) !=
	    APPS_OK) {
		h_apps_fail(r, res);
		goto out;
	}
	rc = h_app_answer(r, a);
	goto out;
dberr:
	db_rollback(r->db);
	req_fail(r, HERR_UNAVAILABLE, "database", "database unavailable");
out:
	app_opts_release(&o);
	app_free(a);
	form_free(&f);
	return rc;
}

int
h_update_status(struct req *r)
{
	static const char *const states[] = {
		"uploaded", "queued", "building", "starting", "running",
		"stopping", "stopped", "error", "finished",
	};
	struct form f = FORM_INIT;
	struct app *a = NULL;
	sqlite3_stmt *st;
	const char *status;
	size_t i;
	int rc = -1, known = 0;

	if (req_params(r, &f) == -1)
		goto out;
	if (app_load(r->db, form_get(&f, "app_id"), NULL, &a) != APPS_OK) {
		req_fail(r, HERR_NOT_FOUND, "not_found", "no such app");
		goto out;
	}
	status = form_get(&f, "status");
	for (i = 0; status != NULL && i < sizeof(states) / sizeof(states[0]);
	    i++)
		known |= strcmp(states[i], status) == 0;
	if (!known) {
		req_fail(r, HERR_BAD_REQUEST, "invalid_status",
		    "status must be one of the app states");
		goto out;
	}
	st = db_prepare(r->db, "UPDATE apps SET status = ?, status_detail = "
	    "'set by ' || ?, updated_at = ? WHERE id = ?");
	if (st == NULL)
		goto out;
	db_bind_text(st, 1, status);
	db_bind_text(st, 2, r->user->username);
	db_bind_int(st, 3, db_now());
	db_bind_int(st, 4, a->id);
	if (db_exec_stmt(r->db, st) == -1) {
		req_fail(r, HERR_UNAVAILABLE, "database", "database error");
		goto out;
	}
	app_free(a);
	a = NULL;
	if (app_load(r->db, form_get(&f, "app_id"), NULL, &a) != APPS_OK) {
		req_fail(r, HERR_NOT_FOUND, "not_found", "no such app");
		goto out;
	}
	rc = h_app_answer(r, a);
out:
	app_free(a);
	form_free(&f);
	return rc;
}

/* Offset where the last n lines of fd (size bytes) start. */
static off_t
h_log_tail_offset(int fd, off_t size, long long n)
{
	char block[8192];
	off_t pos = size;
	ssize_t got, i;
	long long seen = 0;

	if (size == 0 || n <= 0)
		return size;
	/* a final newline ends the last line; it does not start one */
	while (pos > 0) {
		off_t start = pos > (off_t)sizeof(block) ?
		    pos - (off_t)sizeof(block) : 0;

		got = pread(fd, block, (size_t)(pos - start), start);
		if (got <= 0)
			return 0;
		for (i = got - 1; i >= 0; i--) {
			if (block[i] != '\n' || start + i == size - 1)
				continue;
			if (++seen == n)
				return start + i + 1;
		}
		pos = start;
	}
	return 0;
}

static int
h_log_copy(struct req *r, int fd, off_t *pos)
{
	char chunk[16384];
	ssize_t n;

	while ((n = pread(fd, chunk, sizeof(chunk), *pos)) > 0) {
		if (req_write(r, chunk, (size_t)n) == -1)
			return -1;
		*pos += n;
	}
	return n < 0 ? -1 : 0;
}

/* Is the app still doing something that may write its log? */
static int
h_log_live(struct req *r, int64_t rowid)
{
	sqlite3_stmt *st = db_prepare(r->db, "SELECT status FROM apps "
	    "WHERE id = ?");
	const char *s;
	int live = 0;

	if (st == NULL)
		return 0;
	db_bind_int(st, 1, rowid);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (s = (const char *)sqlite3_column_text(st, 0)) != NULL)
		live = strcmp(s, "queued") == 0 || strcmp(s, "building") == 0 ||
		    strcmp(s, "starting") == 0 || strcmp(s, "running") == 0 ||
		    strcmp(s, "stopping") == 0;
	sqlite3_finalize(st);
	return live;
}

int
h_logs(struct req *r)
{
	struct app *a = NULL;
	struct buf path = BUF_INIT;
	const char *v;
	long long tail = -1, follow = 0;
	struct stat sb;
	off_t pos = 0;
	time_t started = time(NULL);
	int fd = -1, rc = -1, idle = 0;

	if ((v = req_query(r, "tail")) != NULL &&
	    valid_int(v, 0, LOG_TAIL_MAX, &tail) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_tail",
		    "tail must be a number of lines from 0 to %d", LOG_TAIL_MAX);
	if ((v = req_query(r, "follow")) != NULL &&
	    strcmp(v, "1") && strcmp(v, "true") && strcmp(v, "0") &&
	    strcmp(v, "false"))
		return req_fail(r, HERR_BAD_REQUEST, "invalid_follow",
		    "follow must be 1 or 0");
	follow = v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
	if (h_app_arg(r, &a) == -1)
		return -1;
	buf_printf(&path, "%s/%s.log", r->conf->logs_dir, a->app_id);
	fd = open(path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 && errno != ENOENT) {
		log_warn("%s", path.data);
		req_fail(r, HERR_INTERNAL, "io", "cannot read the log");
		goto out;
	}
	if (fd != -1 && fstat(fd, &sb) == 0 && tail >= 0)
		pos = h_log_tail_offset(fd, sb.st_size, tail);
	if (req_stream_begin(r, 200, "text/plain; charset=utf-8") == -1)
		goto done;
	if (fd != -1 && h_log_copy(r, fd, &pos) == -1)
		goto done;
	while (follow && time(NULL) - started < LOG_FOLLOW_MAX) {
		if (req_flush(r) == -1)
			break;	/* the client left */
		usleep(250000);
		if (fd == -1) {
			fd = open(path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd == -1)
				continue;
		}
		if (fstat(fd, &sb) == 0 && sb.st_size > pos) {
			idle = 0;
			if (h_log_copy(r, fd, &pos) == -1)
				break;
			continue;
		}
		/* stop once the app is settled and nothing more came */
		if (!h_log_live(r, a->id) && ++idle >= 4)
			break;
	}
done:
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	buf_release(&path);
	app_free(a);
	return rc;
}
