/*
 * t_db: the SQLite layer on temporary files: create + migrate, reopen,
 * four processes racing to create the same new file, transactions,
 * meta values, helper error paths, and the SQLITE_BUSY lesson (a SELECT
 * left un-reset pins a WAL snapshot; every helper must finalize).
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_db.XXXXXX";

static char *
tpath(const char *name)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s/%s", tmpdir, name);
	return buf_detach(&b, NULL);
}

/* No statement left open on the connection. */
static int
no_open_stmt(struct db *db)
{
	return sqlite3_next_stmt(db->conn, NULL) == NULL;
}

static int64_t
int_query(struct db *db, const char *sql)
{
	sqlite3_stmt *st = db_prepare(db, sql);
	int64_t v = -999;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *
text_query(struct db *db, const char *sql)
{
	sqlite3_stmt *st = db_prepare(db, sql);
	char *s = NULL;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		s = db_col_strdup(st, 0);
	sqlite3_finalize(st);
	return s;
}

static int version;	/* schema version after the first open */

static void
test_open(void)
{
	static const char *const tables[] = {
		"users", "tokens", "login_failures", "apps", "jobs", "ports",
		"templates", "gpu_reservations", "meta",
	};
	char *p = tpath("open.db"), *s, sql[128];
	struct db *db;
	size_t i;
	int64_t v;

	db = db_open(p);
	ok(db != NULL, "db_open creates a new file");
	if (db == NULL)
		goto out;
	version = db_schema_version(db);
	ok(version >= 1, "migrated: user_version %d", version);
	is(int_query(db, "PRAGMA user_version"), version, "PRAGMA agrees");
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		(void)str_fmt(sql, sizeof(sql), "SELECT count(*) FROM "
		    "sqlite_master WHERE type = 'table' AND name = '%s'", tables[i]);
		is(int_query(db, sql), 1, "table %s exists", tables[i]);
	}
	s = text_query(db, "PRAGMA journal_mode");
	is_str(s, "wal", "journal_mode is WAL");
	free(s);
	is(int_query(db, "PRAGMA foreign_keys"), 1, "foreign_keys is ON");
	ok(db->in_tx == 0, "not in a transaction after open");
	ok(no_open_stmt(db), "no statement left open after db_open");
	ok(db_meta_set_int(db, "marker", 4242) == 0, "write a marker");
	db_close(db);

	db = db_open(p);
	ok(db != NULL, "reopen");
	if (db == NULL)
		goto out;
	is(db_schema_version(db), version, "reopen: same schema version");
	ok(db_meta_get_int(db, "marker", &v) == 0 && v == 4242,
	    "reopen keeps data");
	ok(db_migrate(db) == 0 && db_schema_version(db) == version,
	    "db_migrate again is a no-op");
	db_close(db);

	db = db_open(p);
	(void)str_fmt(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
	ok(db != NULL && db_exec(db, sql) == 0, "pretend a newer schema");
	db_close(db);
	ok(db_open(p) == NULL, "a schema newer than the program is refused");
out:
	free(p);
}

static void
test_open_errors(void)
{
	char *p = tpath("garbage.db");
	int fd;

	ok(db_open("/nonexistent-dir-t_db/x.db") == NULL,
	    "db_open in a missing directory fails");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd != -1) {
		char junk[4096];

		memset(junk, 'J', sizeof(junk));
		(void)write(fd, junk, sizeof(junk));
		close(fd);
	}
	ok(db_open(p) == NULL, "db_open of a non-database file fails");
	free(p);
}

/* Four processes open and migrate one new file at the same moment. */
static void
test_concurrent_create(void)
{
	int round, k, fds[2], st, okcount, allgood = 1;
	pid_t pids[4];
	char name[32], *p, c;
	struct db *db;

	for (round = 0; round < 20; round++) {
		(void)str_fmt(name, sizeof(name), "race%d.db", round);
		p = tpath(name);
		if (pipe(fds) == -1) {
			allgood = 0;
			free(p);
			break;
		}
		fflush(stdout);
		for (k = 0; k < 4; k++) {
			if ((pids[k] = fork()) == 0) {
				close(fds[1]);
				(void)read(fds[0], &c, 1);	/* barrier */
				db = db_open(p);
				_exit(db != NULL && db_schema_version(db) ==
				    version ? 0 : 1);
			}
		}
		close(fds[0]);
		close(fds[1]);		/* release all four at once */
		okcount = 0;
		for (k = 0; k < 4; k++)
			if (pids[k] > 0 && waitpid(pids[k], &st, 0) == pids[k] &&
			    WIFEXITED(st) && WEXITSTATUS(st) == 0)
				okcount++;
		if (okcount != 4) {
			allgood = 0;
			printf("# round %d: %d of 4 opened\n", round, okcount);
		}
		db = db_open(p);
		if (db == NULL || db_schema_version(db) != version ||
		    int_query(db, "SELECT count(*) FROM sqlite_master WHERE "
		    "name = 'users'") != 1)
			allgood = 0;
		db_close(db);
		free(p);
	}
	ok(allgood, "20 rounds of 4 processes creating one file: all succeed, "
	    "schema migrated once");
}

static void
test_tx(struct db *db)
{
	int64_t v;

	ok(db_begin(db) == 0 && db->in_tx, "db_begin");
	ok(db_begin(db) == -1 && db->in_tx, "nested db_begin fails, tx kept");
	ok(db_meta_set_int(db, "tx", 1) == 0, "write inside");
	db_rollback(db);
	ok(!db->in_tx, "rollback ends the transaction");
	ok(db_meta_get_int(db, "tx", &v) == 0 && v == 0, "rollback undid the write");
	ok(db_begin(db) == 0 && db_meta_set_int(db, "tx", 2) == 0 &&
	    db_commit(db) == 0 && !db->in_tx, "begin, write, commit");
	ok(db_meta_get_int(db, "tx", &v) == 0 && v == 2, "commit kept the write");
	is(db_commit(db), -1, "db_commit outside a transaction fails");
	db_rollback(db);
	ok(!db->in_tx, "db_rollback outside a transaction is harmless");
	ok(db_begin(db) == 0, "a new transaction after all that");
	db_rollback(db);
	ok(no_open_stmt(db), "no statement left open by the tx helpers");
}

static void
test_meta(struct db *db)
{
	static const int64_t vals[] = { 0, 1, -1, 42, INT64_MAX, INT64_MIN };
	int64_t v;
	size_t i;

	v = 99;
	ok(db_meta_get_int(db, "missing", &v) == 0 && v == 0,
	    "missing meta key reads as 0");
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		v = 7;
		ok(db_meta_set_int(db, "k", vals[i]) == 0 &&
		    db_meta_get_int(db, "k", &v) == 0 && v == vals[i],
		    "meta round trip %lld", (long long)vals[i]);
	}
	is(int_query(db, "SELECT count(*) FROM meta WHERE key = 'k'"), 1,
	    "overwrites keep one row");
	ok(db_meta_set_int(db, "quote'key\";--", 5) == 0 &&
	    db_meta_get_int(db, "quote'key\";--", &v) == 0 && v == 5,
	    "keys are bound, not interpolated");
	ok(no_open_stmt(db), "meta helpers finalize");
}

static void
test_helpers(struct db *db)
{
	sqlite3_stmt *st;
	char *s;

	ok(db_exec(db, "THIS IS NOT SQL") == -1, "db_exec of bad SQL fails");
	ok(db_prepare(db, "SELECT nope FROM nothing") == NULL,
	    "db_prepare of bad SQL is NULL");
	ok(db_exec_stmt(db, NULL) == -1, "db_exec_stmt(NULL) fails");
	ok(no_open_stmt(db), "failed prepares leave nothing open");

	ok(db_exec(db, "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)") == 0,
	    "create a scratch table");
	st = db_prepare(db, "INSERT INTO t VALUES (?, ?)");
	ok(st != NULL && db_bind_text(st, 1, "a") == 0 &&
	    db_bind_text(st, 2, NULL) == 0 && db_exec_stmt(db, st) == 0,
	    "insert with a NULL bound");
	is(db_changes(db), 1, "db_changes after an insert");
	ok(db_last_id(db) > 0, "db_last_id");
	st = db_prepare(db, "INSERT INTO t VALUES (?, ?)");
	db_bind_text(st, 1, "a");
	db_bind_text(st, 2, "dup");
	ok(db_exec_stmt(db, st) == -1 && db_is_constraint(db),
	    "duplicate key: -1 and db_is_constraint");
	ok(no_open_stmt(db), "db_exec_stmt finalizes on failure too");
	ok(db_exec(db, "SELECT 1") == 0 && !db_is_constraint(db),
	    "db_is_constraint clears after a success");

	st = db_prepare(db, "SELECT v, k, 5 FROM t WHERE k = 'a'");
	ok(st != NULL && sqlite3_step(st) == SQLITE_ROW, "select");
	ok(db_col_strdup(st, 0) == NULL, "db_col_strdup of NULL is NULL");
	s = db_col_strdup(st, 1);
	is_str(s, "a", "db_col_strdup of text");
	free(s);
	s = db_col_strdup(st, 2);
	is_str(s, "5", "db_col_strdup of an integer is its text");
	free(s);
	sqlite3_finalize(st);
	ok(db_now() > 1600000000, "db_now is unix seconds");
}

/*
 * The SQLITE_BUSY lesson.  In WAL mode a statement that has returned a row
 * and is not reset keeps a read transaction (a snapshot) open on its
 * connection; once another connection commits, the first connection can
 * no longer write: BEGIN IMMEDIATE fails with SQLITE_BUSY(_SNAPSHOT) no
 * matter the busy timeout.  The helpers must therefore finalize.
 */
static void
test_busy(void)
{
	char *p = tpath("busy.db");
	struct db *a, *b;
	sqlite3_stmt *st;
	int64_t v;

	a = db_open(p);
	b = db_open(p);
	ok(a != NULL && b != NULL, "two connections on one file");
	if (a == NULL || b == NULL)
		goto out;
	sqlite3_busy_timeout(a->conn, 200);
	sqlite3_busy_timeout(b->conn, 200);
	ok(db_meta_set_int(a, "n", 1) == 0, "A writes");

	/* The hazard, shown with a raw statement. */
	st = db_prepare(a, "SELECT value FROM meta");
	ok(st != NULL && sqlite3_step(st) == SQLITE_ROW, "A steps a SELECT, "
	    "leaves it un-reset");
	ok(db_meta_set_int(b, "n", 2) == 0, "B can still write (WAL)");
	ok(db_begin(a) == -1, "A cannot begin a write on its stale snapshot");
	ok(!a->in_tx, "A is not left in a transaction");
	sqlite3_finalize(st);
	ok(db_begin(a) == 0 && db_meta_set_int(a, "n", 3) == 0 &&
	    db_commit(a) == 0, "after finalizing, A writes again");

	/* Every helper finalizes: after each, the other side can write. */
	ok(db_meta_get_int(a, "n", &v) == 0 && v == 3 && no_open_stmt(a),
	    "db_meta_get_int on A finalizes");
	ok(db_meta_set_int(b, "n", 4) == 0, "B writes after A's read");
	ok(db_begin(a) == 0 && db_meta_set_int(a, "n", 5) == 0 &&
	    db_commit(a) == 0, "A writes after B's write");
	ok(db_schema_version(a) == version && no_open_stmt(a),
	    "db_schema_version finalizes");
	ok(db_meta_set_int(b, "n", 6) == 0, "B writes after db_schema_version on A");
	ok(db_begin(b) == 0, "B holds the write lock");
	ok(db_begin(a) == -1, "A waits out its busy timeout, then fails cleanly");
	db_rollback(b);
	ok(db_begin(a) == 0, "after B's rollback A gets the lock");
	db_rollback(a);
out:
	db_close(a);
	db_close(b);
	free(p);
}

/* Remove the (flat) temporary directory. */
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

/* The statement cache: one prepared copy per literal, reset on release. */
static void
test_stmt_cache(struct db *db)
{
	static const char sql[] = "SELECT value FROM meta WHERE key = ?";
	sqlite3_stmt *a, *b, *c;

	ok(db_meta_set_int(db, "cache", 7) == 0, "cache: a row to read");
	a = db_prepare_cached(db, sql);
	ok(a != NULL, "cache: prepared");
	db_bind_text(a, 1, "cache");
	ok(sqlite3_step(a) == SQLITE_ROW && sqlite3_column_int(a, 0) == 7,
	    "cache: reads");
	b = db_prepare_cached(db, sql);
	ok(b != NULL && b != a, "cache: in use, so a one-off copy");
	db_release(db, b);
	db_release(db, a);
	ok(sqlite3_stmt_busy(a) == 0, "cache: release resets (no WAL snapshot kept)");
	c = db_prepare_cached(db, sql);
	ok(c == a, "cache: the same statement again");
	ok(sqlite3_bind_parameter_count(c) == 1 && sqlite3_step(c) == SQLITE_DONE,
	    "cache: bindings cleared on release");
	db_release(db, c);
	ok(db_meta_set_int(db, "cache", 8) == 0,
	    "cache: a write after release is not blocked");
}

int
main(void)
{
	struct db *db;
	char *p;

	log_init("t_db", 0);
	if (mkdtemp(tmpdir) == NULL) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_open();
	test_open_errors();
	test_concurrent_create();
	p = tpath("main.db");
	if ((db = db_open(p)) != NULL) {
		test_tx(db);
		test_meta(db);
		test_helpers(db);
		test_stmt_cache(db);
		db_close(db);
	} else
		ok(0, "open main.db");
	free(p);
	test_busy();
	cleanup();
	return done_testing();
}
