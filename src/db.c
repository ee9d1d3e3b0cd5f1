#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "caps.h"
#include "log.h"

/*
 * Numbered migrations.  Append only: never edit a released step.
 * Step N brings the schema from version N-1 to N (PRAGMA user_version).
 */
static const char *const db_migrations[] = {
	/* 1: users, tokens, apps, jobs, ports, templates, GPUs */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  username TEXT NOT NULL UNIQUE,"
	"  password_hash TEXT NOT NULL,"
	"  is_admin INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE tokens ("
	"  hash TEXT PRIMARY KEY,"		/* hex SHA-256 of the token */
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL);"
	"CREATE INDEX tokens_user ON tokens(user_id);"
	"CREATE TABLE login_failures ("
	"  key TEXT NOT NULL,"			/* 'u:<name>' or 'a:<addr>' */
	"  at INTEGER NOT NULL);"
	"CREATE INDEX login_failures_key ON login_failures(key, at);"
	"CREATE TABLE apps ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT," /* the container API id: never reused */
	"  app_id TEXT NOT NULL UNIQUE,"	/* 12 random [a-z0-9] */
	"  name TEXT NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  type TEXT NOT NULL,"			/* gradio docker compose image plugin */
	"  status TEXT NOT NULL,"		/* uploaded queued building starting running stopping stopped error finished deleting */
	"  status_detail TEXT NOT NULL DEFAULT '',"
	"  desired TEXT NOT NULL DEFAULT 'running'," /* running | stopped | deleted */
	"  owner_id INTEGER NOT NULL REFERENCES users(id),"
	"  port INTEGER,"			/* host port on 127.0.0.1 */
	"  container_port INTEGER,"		/* port inside the container */
	"  docker_id TEXT,"
	"  image TEXT,"
	"  entry TEXT,"				/* gradio/plugin entry */
	"  allow_ips TEXT NOT NULL DEFAULT '',"	/* canonical, comma separated */
	"  auth_header TEXT NOT NULL DEFAULT '',"
	"  vram_required INTEGER NOT NULL DEFAULT 0,"
	"  gpus TEXT NOT NULL DEFAULT '',"	/* comma separated indices */
	"  envs TEXT NOT NULL DEFAULT '{}',"	/* JSON object */
	"  plugin_release TEXT,"
	"  model INTEGER,"
	"  params TEXT,"			/* JSON object */
	"  labels TEXT NOT NULL DEFAULT '[]',"	/* JSON array of strings */
	"  metadata TEXT NOT NULL DEFAULT '{}',"/* JSON object */
	"  template_id INTEGER,"
	"  last_heartbeat INTEGER,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX apps_live_name ON apps(name) WHERE status <> 'deleting';"
	"CREATE UNIQUE INDEX apps_release_model ON apps(plugin_release, ifnull(model, -1))"
	"  WHERE plugin_release IS NOT NULL AND status <> 'deleting';"
	"CREATE INDEX apps_owner ON apps(owner_id);"
	"CREATE INDEX apps_status ON apps(status);"
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT," /* also the build_id: never reused */
	"  app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL,"			/* deploy start stop restart delete */
	"  state TEXT NOT NULL DEFAULT 'pending'," /* pending running done failed cancelled */
	"  error TEXT,"
	"  claimed_by INTEGER,"			/* agent pid */
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  finished_at INTEGER);"
	"CREATE INDEX jobs_pending ON jobs(state, id);"
	"CREATE INDEX jobs_app ON jobs(app_id);"
	"CREATE TABLE ports ("
	"  port INTEGER PRIMARY KEY,"
	"  app_id INTEGER NOT NULL UNIQUE REFERENCES apps(id) ON DELETE CASCADE);"
	"CREATE TABLE templates ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  type TEXT NOT NULL,"
	"  vram_required INTEGER NOT NULL DEFAULT 0,"
	"  owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,"
	"  builtin INTEGER NOT NULL DEFAULT 0,"
	"  dir TEXT NOT NULL UNIQUE,"		/* absolute path of its sources */
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE gpu_reservations ("
	"  gpu_index INTEGER NOT NULL,"
	"  app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
	"  mib INTEGER NOT NULL,"
	"  PRIMARY KEY (gpu_index, app_id));"
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL);",
	/* 2: host runtime (agent_venv.c): the app's process and its start time */
	"ALTER TABLE apps ADD COLUMN host_pid INTEGER;"	/* session leader */
	"ALTER TABLE apps ADD COLUMN host_pid_start INTEGER;", /* /proc stat field 22 */
};

#define DB_NMIGRATIONS ((int)(sizeof(db_migrations) / sizeof(db_migrations[0])))

int64_t
db_now(void)
{
	return (int64_t)time(NULL);
}

int
db_exec(struct db *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db->conn, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("%s", err ? err : sqlite3_errmsg(db->conn));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

sqlite3_stmt *
db_prepare(struct db *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("prepare: %s", sqlite3_errmsg(db->conn));
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

sqlite3_stmt *
db_prepare_cached(struct db *db, const char *sql)
{
	struct db_cached *c;
	size_t i;

	for (i = 0; i < db->ncache; i++) {
		c = &db->cache[i];
		if (c->sql != sql)
			continue;
		if (c->busy)	/* in use further up: a one-off copy */
			return db_prepare(db, sql);
		c->busy = 1;
		return c->st;
	}
	if (db->ncache == DB_STMT_CACHE)
		return db_prepare(db, sql);
	c = &db->cache[db->ncache];
	if (sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &c->st, NULL) != SQLITE_OK) {
		log_warnx("prepare: %s", sqlite3_errmsg(db->conn));
		sqlite3_finalize(c->st);
		c->st = NULL;
		return NULL;
	}
	c->sql = sql;
	c->busy = 1;
	db->ncache++;
	return c->st;
}

void
db_release(struct db *db, sqlite3_stmt *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < db->ncache; i++)
		if (db->cache[i].st == st) {
			(void)sqlite3_reset(st);
			(void)sqlite3_clear_bindings(st);
			db->cache[i].busy = 0;
			return;
		}
	sqlite3_finalize(st);
}

int
db_exec_stmt(struct db *db, sqlite3_stmt *st)
{
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		if (rc != SQLITE_CONSTRAINT)
			log_warnx("step: %s", sqlite3_errmsg(db->conn));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int
db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(st, idx) == SQLITE_OK ? 0 : -1;
	return sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT) ==
	    SQLITE_OK ? 0 : -1;
}

int
db_bind_int(sqlite3_stmt *st, int idx, int64_t v)
{
	return sqlite3_bind_int64(st, idx, v) == SQLITE_OK ? 0 : -1;
}

char *
db_col_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *s;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	s = sqlite3_column_text(st, col);
	return xstrdup(s ? (const char *)s : "");
}

int64_t
db_last_id(struct db *db)
{
	return sqlite3_last_insert_rowid(db->conn);
}

int
db_changes(struct db *db)
{
	return sqlite3_changes(db->conn);
}

int
db_is_constraint(struct db *db)
{
	return (sqlite3_errcode(db->conn) & 0xff) == SQLITE_CONSTRAINT;
}

int
db_begin(struct db *db)
{
	if (db->in_tx) {
		log_warnx("nested transaction");
		return -1;
	}
	if (db_exec(db, "BEGIN IMMEDIATE") == -1)
		return -1;
	db->in_tx = 1;
	return 0;
}

int
db_commit(struct db *db)
{
	if (!db->in_tx)
		return -1;
	if (db_exec(db, "COMMIT") == -1) {
		db_rollback(db);
		return -1;
	}
	db->in_tx = 0;
	return 0;
}

void
db_rollback(struct db *db)
{
	if (!db->in_tx)
		return;
	(void)sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
	db->in_tx = 0;
}

int
db_schema_version(struct db *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if ((st = db_prepare(db, "PRAGMA user_version")) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int
db_migrate(struct db *db)
{
	char pragma[64];
	int v, i;

	/* BEGIN IMMEDIATE serializes racing processes; re-read inside. */
	if (db_begin(db) == -1)
		return -1;
	if ((v = db_schema_version(db)) < 0)
		goto fail;
	if (v > DB_NMIGRATIONS) {
		log_warnx("database schema %d is newer than this program (%d)",
		    v, DB_NMIGRATIONS);
		goto fail;
	}
	for (i = v; i < DB_NMIGRATIONS; i++) {
		if (db_exec(db, db_migrations[i]) == -1) {
			log_warnx("migration %d failed", i + 1);
			goto fail;
		}
		if (str_fmt(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		    i + 1) == -1 || db_exec(db, pragma) == -1)
			goto fail;
		log_info("database migrated to schema %d", i + 1);
	}
	return db_commit(db);
fail:
	db_rollback(db);
	return -1;
}

struct db *
db_open(const char *path)
{
	struct db *db = xcalloc(1, sizeof(*db));
	int tries, rc = SQLITE_OK;

	db->path = xstrdup(path);
	if (sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("open %s: %s", path, db->conn ?
		    sqlite3_errmsg(db->conn) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->conn, DB_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db->conn, 1);
	/*
	 * Switching a new file to WAL takes an exclusive lock and does not
	 * wait on the busy handler: when several processes create the
	 * database at once, retry briefly.
	 */
	for (tries = 0; tries < 200; tries++) {
		rc = sqlite3_exec(db->conn, "PRAGMA journal_mode=WAL", NULL,
		    NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			break;
		usleep(10000);
	}
	if (rc != SQLITE_OK) {
		log_warnx("journal_mode=WAL: %s", sqlite3_errmsg(db->conn));
		goto fail;
	}
	if (
	    db_exec(db, "PRAGMA synchronous=NORMAL") == -1 ||
	    db_exec(db, "PRAGMA foreign_keys=ON") == -1)
		goto fail;
	if (db_migrate(db) == -1)
		goto fail;
	return db;
fail:
	db_close(db);
	return NULL;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	while (db->ncache > 0)
		sqlite3_finalize(db->cache[--db->ncache].st);
	if (db->conn != NULL)
		sqlite3_close_v2(db->conn);
	free(db->path);
	free(db);
}

int
db_meta_get_int(struct db *db, const char *key, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = -1;

	if ((st = db_prepare(db, "SELECT value FROM meta WHERE key = ?")) == NULL)
		return -1;
	db_bind_text(st, 1, key);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
		break;
	case SQLITE_DONE:
		*out = 0;
		rc = 0;
		break;
	default:
		log_warnx("%s", sqlite3_errmsg(db->conn));
	}
	sqlite3_finalize(st);
	return rc;
}

int
db_meta_set_int(struct db *db, const char *key, int64_t val)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "INSERT INTO meta(key, value) VALUES (?, ?) "
	    "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, key);
	db_bind_int(st, 2, val);
	return db_exec_stmt(db, st);
}
