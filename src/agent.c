/*
 * agent: app rows, the app log, the one place app states change, and the
 * helpers the agent's files share (see agent.h for the agent as a whole,
 * agent_int.h for how its files divide the work).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <stdarg.h>
#include <time.h>

#include <sqlite3.h>

#include "agent.h"
#include "agent_int.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "ngxconf.h"
#include "valid.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

int64_t
agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
agent_sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
agent_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write a whole new file (O_EXCL after unlinking whatever was there). */
int
agent_write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd, rc = -1;

	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("unlink %s", path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd == -1) {
		log_warn("create %s", path);
		return -1;
	}
	if (agent_write_all(fd, data, len) == -1)
		log_warn("write %s", path);
	else
		rc = 0;
	if (close(fd) == -1 && rc == 0) {
		log_warn("close %s", path);
		rc = -1;
	}
	if (rc == -1)
		unlink(path);
	return rc;
}

/* Read a small regular file (not a symlink) into out.  0, or -1 (errno). */
int
agent_read_file(const char *path, size_t max, struct buf *out)
{
	char chunk[8192];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (out->len + (size_t)n > max) {
			close(fd);
			errno = EFBIG;
			return -1;
		}
		buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

int
agent_mkdir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", path);
		return -1;
	}
	return 0;
}

/* Printable copy of untrusted text for status_detail: control bytes but
 * newline and tab become '?', cut at max bytes (on a UTF-8 boundary). */
void
agent_detail_clean(struct buf *out, const char *s, size_t len, size_t max)
{
	size_t i;
	unsigned char c;

	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '\0')
			break;
		buf_addch(out, (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ?
		    '?' : c);
	}
}

/* ------------------------------------------------------------------ */
/* App rows                                                            */

const char *const agent_type_names[AGENT_APP__MAX] = {
	"docker",	/* AGENT_APP_DOCKER: a Dockerfile, built as is */
	"gradio",	/* AGENT_APP_GRADIO: generated Dockerfile, python <entry> */
	"compose",	/* AGENT_APP_COMPOSE: docker-compose project */
	"image",	/* AGENT_APP_IMAGE: a docker save tarball */
	"plugin",	/* AGENT_APP_PLUGIN: Synapse plugin, gradio launcher */
};

void
agent_app_release(struct agent_app *a)
{
	free(a->name);
	free(a->status);
	free(a->desired);
	free(a->docker_id);
	free(a->image);
	free(a->entry);
	free(a->gpus);
	free(a->envs);
	free(a->params);
	memset(a, 0, sizeof(*a));
}

/* Fill from a statement selecting AGENT_APP_COLUMNS.  0, or -1 if the row
 * does not make sense (logged). */
int
agent_app_fill(sqlite3_stmt *st, struct agent_app *a)
{
	const char *id, *type;
	int i;

	memset(a, 0, sizeof(*a));
	a->rowid = sqlite3_column_int64(st, 0);
	id = (const char *)sqlite3_column_text(st, 1);
	type = (const char *)sqlite3_column_text(st, 2);
	if (id == NULL || valid_app_id(id) == -1 ||
	    str_copy(a->app_id, sizeof(a->app_id), id) == -1) {
		log_warnx("app row %lld has a malformed app_id",
		    (long long)a->rowid);
		return -1;
	}
	a->type = AGENT_APP__MAX;
	for (i = 0; i < AGENT_APP__MAX && type != NULL; i++)
		if (strcmp(type, agent_type_names[i]) == 0)
			a->type = (enum agent_app_type)i;
	if (a->type == AGENT_APP__MAX) {
		log_warnx("app %s has unknown type", a->app_id);
		return -1;
	}
	a->name = db_col_strdup(st, 3);
	a->status = db_col_strdup(st, 4);
	a->desired = db_col_strdup(st, 5);
	a->docker_id = db_col_strdup(st, 6);
	a->image = db_col_strdup(st, 7);
	a->entry = db_col_strdup(st, 8);
	a->gpus = db_col_strdup(st, 9);
	a->envs = db_col_strdup(st, 10);
	a->params = db_col_strdup(st, 11);
	a->port = sqlite3_column_int(st, 12);
	a->container_port = sqlite3_column_int(st, 13);
	a->vram_required = sqlite3_column_int64(st, 14);
	if (a->name == NULL || a->status == NULL || a->desired == NULL) {
		agent_app_release(a);
		return -1;
	}
	if (a->gpus == NULL)
		a->gpus = xstrdup("");
	if (a->envs == NULL)
		a->envs = xstrdup("{}");
	return 0;
}

/* 1 loaded, 0 no such row, -1 error. */
int
agent_app_load(struct db *db, int64_t rowid, struct agent_app *out)
{
	sqlite3_stmt *st;
	int rc = -1;

	st = db_prepare(db, "SELECT " AGENT_APP_COLUMNS " FROM apps WHERE id = ?");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, rowid);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		rc = agent_app_fill(st, out) == 0 ? 1 : -1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	default:
		log_warnx("%s", sqlite3_errmsg(db->conn));
	}
	sqlite3_finalize(st);
	return rc;
}

/* Same, by app_id. */
int
agent_app_load_by_id(struct db *db, const char *app_id, struct agent_app *out)
{
	sqlite3_stmt *st;
	int rc = -1;

	st = db_prepare(db, "SELECT " AGENT_APP_COLUMNS " FROM apps WHERE "
	    "app_id = ?");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, app_id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		rc = agent_app_fill(st, out) == 0 ? 1 : -1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	default:
		log_warnx("%s", sqlite3_errmsg(db->conn));
	}
	sqlite3_finalize(st);
	return rc;
}

/* Re-read status and desired of a loaded row. 0 or -1 (gone: -1). */
int
agent_app_refresh(struct db *db, struct agent_app *a)
{
	sqlite3_stmt *st;
	int rc = -1;

	st = db_prepare(db, "SELECT status, desired FROM apps WHERE id = ?");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, a->rowid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		free(a->status);
		free(a->desired);
		a->status = db_col_strdup(st, 0);
		a->desired = db_col_strdup(st, 1);
		if (a->status != NULL && a->desired != NULL)
			rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* UPDATE apps SET <col> = text WHERE id. */
int
agent_app_set_text(struct db *db, int64_t rowid, const char *col, const char *val)
{
	sqlite3_stmt *st;
	struct buf sql = BUF_INIT;
	int rc;

	buf_printf(&sql, "UPDATE apps SET %s = ?, updated_at = ? WHERE id = ?",
	    col);
	st = db_prepare(db, sql.data);
	buf_release(&sql);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, val);
	db_bind_int(st, 2, db_now());
	db_bind_int(st, 3, rowid);
	rc = db_exec_stmt(db, st);
	return rc;
}

int
agent_app_set_int(struct db *db, int64_t rowid, const char *col, int64_t val)
{
	sqlite3_stmt *st;
	struct buf sql = BUF_INIT;

	buf_printf(&sql, "UPDATE apps SET %s = ? WHERE id = ?", col);
	st = db_prepare(db, sql.data);
	buf_release(&sql);
	if (st == NULL)
		return -1;
	if (val == INT64_MIN)
		sqlite3_bind_null(st, 1);
	else
		db_bind_int(st, 1, val);
	db_bind_int(st, 2, rowid);
	return db_exec_stmt(db, st);
}

/* Does the app have a pending or running job (other than except)? */
int
agent_app_has_job(struct db *db, int64_t rowid, int64_t except)
{
	sqlite3_stmt *st;
	int rc = -1;

	st = db_prepare(db, "SELECT count(*) FROM jobs WHERE app_id = ? AND "
	    "state IN ('pending', 'running') AND id <> ?");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, rowid);
	db_bind_int(st, 2, except);
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The app log and states                                              */

int
agent_applog_path(const struct conf *conf, const char *app_id, struct buf *out)
{
	if (valid_app_id(app_id) == -1)
		return -1;
	buf_printf(out, "%s/%s.log", conf->logs_dir, app_id);
	return 0;
}

/* Open the app log for appending (created 0640).  -1 on failure. */
int
agent_applog_open(const struct conf *conf, const char *app_id)
{
	struct buf path = BUF_INIT;
	int fd = -1;

	if (agent_applog_path(conf, app_id, &path) == 0) {
		(void)agent_mkdir(conf->logs_dir, 0755);
		fd = open(path.data, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW, 0640);
		if (fd == -1)
			log_warn("open %s", path.data);
	}
	buf_release(&path);
	return fd;
}

static void
agent_applog_vfd(int fd, const char *fmt, va_list ap)
{
	struct buf msg = BUF_INIT, line = BUF_INIT;
	const unsigned char *p;
	char tbuf[32];
	struct tm tm;
	time_t now = time(NULL);

	buf_vprintf(&msg, fmt, ap);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		tbuf[0] = '\0';
	buf_printf(&line, "%s [slipway] ", tbuf);
	for (p = (const unsigned char *)msg.data; *p != '\0'; p++) {
		if (*p == '\n')
			buf_adds(&line, " | ");
		else if (*p < 0x20 || *p == 0x7f)
			buf_addch(&line, '?');
		else
			buf_addch(&line, *p);
	}
	buf_addch(&line, '\n');
	(void)agent_write_all(fd, line.data, line.len);
	buf_release(&msg);
	buf_release(&line);
}

void
agent_applog_fd(int fd, const char *fmt, ...)
{
	va_list ap;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	agent_applog_vfd(fd, fmt, ap);
	va_end(ap);
}

void
agent_applog(const struct conf *conf, const char *app_id, const char *fmt, ...)
{
	va_list ap;
	int fd;

	if ((fd = agent_applog_open(conf, app_id)) == -1)
		return;
	va_start(ap, fmt);
	agent_applog_vfd(fd, fmt, ap);
	va_end(ap);
	close(fd);
}

int
agent_transition(const struct conf *conf, struct db *db, int64_t rowid,
    const char *app_id, const char *status, const char *const *from,
    int idle_only, const char *detail)
{
	struct buf sql = BUF_INIT;
	sqlite3_stmt *st;
	size_t i, nfrom = 0;

	if (from != NULL)
		while (from[nfrom] != NULL)
			nfrom++;
	buf_adds(&sql, "UPDATE apps SET status = ?, status_detail = ?, "
	    "updated_at = ? WHERE id = ? AND status <> 'deleting'");
	if (nfrom > 0) {
		buf_adds(&sql, " AND status IN (");
		for (i = 0; i < nfrom; i++)
			buf_adds(&sql, i ? ", ?" : "?");
		buf_adds(&sql, ")");
	}
	if (idle_only)
		buf_adds(&sql, " AND NOT EXISTS (SELECT 1 FROM jobs WHERE "
		    "jobs.app_id = apps.id AND jobs.state IN ('pending', "
		    "'running'))");
	st = db_prepare(db, sql.data);
	buf_release(&sql);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, status);
	db_bind_text(st, 2, detail ? detail : "");
	db_bind_int(st, 3, db_now());
	db_bind_int(st, 4, rowid);
	for (i = 0; i < nfrom; i++)
		db_bind_text(st, (int)(5 + i), from[i]);
	if (db_exec_stmt(db, st) == -1)
		return -1;
	if (db_changes(db) == 0)
		return 0;
	if (detail != NULL && detail[0] != '\0')
		agent_applog(conf, app_id, "%s: %s", status, detail);
	else
		agent_applog(conf, app_id, "%s", status);
	log_info("app %s: %s%s%s", app_id, status, detail && *detail ? ": " : "",
	    detail ? detail : "");
	return 1;
}

/* ------------------------------------------------------------------ */
/* Instance id: labels everything this data directory's agent creates   */

#define AGENT_INSTANCE_KEY	"agent_instance"

int
agent_instance(struct db *db, char out[17])
{
	int64_t v = 0;
	uint64_t r;

	if (db_meta_get_int(db, AGENT_INSTANCE_KEY, &v) == -1)
		return -1;
	if (v == 0) {
		if (db_begin(db) == -1)
			return -1;
		if (db_meta_get_int(db, AGENT_INSTANCE_KEY, &v) == -1)
			goto fail;
		if (v == 0) {
			do {
				if (getrandom(&r, sizeof(r), 0) != sizeof(r))
					goto fail;
				v = (int64_t)(r >> 1);
			} while (v == 0);
			if (db_meta_set_int(db, AGENT_INSTANCE_KEY, v) == -1)
				goto fail;
		}
		if (db_commit(db) == -1)
			return -1;
	}
	return str_fmt(out, 17, "%016" PRIx64, (uint64_t)v);
fail:
	db_rollback(db);
	return -1;
}

/* Route the apps table to nginx; failures are logged, not fatal. */
void
agent_routes_sync(const struct conf *conf, struct db *db)
{
	struct ngxconf_sync_result sr;

	memset(&sr, 0, sizeof(sr));
	if (ngxconf_sync(conf, db, &sr) == -1)
		log_warnx("routes not applied (nginx): see above");
	else if (sr.nerror > 0)
		log_warnx("%zu app route(s) refused by nginx", sr.nerror);
}
