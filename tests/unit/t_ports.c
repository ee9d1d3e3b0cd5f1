/*
 * t_ports: the host port pool on a temporary database: allocation order,
 * keeping a port across calls, exhaustion, release and reuse, the bind
 * check skipping a port a test socket holds (and handing it out once the
 * socket is gone), avoid, and forked processes allocating at the same time
 * never sharing a port.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "ports.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_ports.XXXXXX";
static char dbpath[256];

static int64_t
add_app(struct db *db, int n)
{
	sqlite3_stmt *st;
	char app_id[16], name[32];

	if (str_fmt(app_id, sizeof(app_id), "app%09d", n) == -1 ||
	    str_fmt(name, sizeof(name), "app-%d", n) == -1)
		fatalx("app name");
	st = db_prepare(db, "INSERT INTO apps(app_id, name, type, status, "
	    "owner_id, created_at, updated_at) VALUES (?, ?, 'docker', "
	    "'queued', 1, 0, 0)");
	if (st == NULL)
		fatalx("prepare");
	db_bind_text(st, 1, app_id);
	db_bind_text(st, 2, name);
	if (db_exec_stmt(db, st) == -1)
		fatalx("insert app");
	return db_last_id(db);
}

static int
app_port_column(struct db *db, int64_t app)
{
	sqlite3_stmt *st;
	int port = -1;

	st = db_prepare(db, "SELECT ifnull(port, 0) FROM apps WHERE id = ?");
	db_bind_int(st, 1, app);
	if (sqlite3_step(st) == SQLITE_ROW)
		port = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return port;
}

static int
count_rows(struct db *db)
{
	sqlite3_stmt *st;
	int n = -1;

	st = db_prepare(db, "SELECT count(*) FROM ports");
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* A listening socket on 127.0.0.1:<free port>; returns fd, port in *port. */
static int
hold_port(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		fatal("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 1) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		fatal("bind");
	*port = ntohs(sin.sin_port);
	return fd;
}

/*
 * A range of n ports that all pass the bind check right now (ephemeral
 * ports come and go, so look for a quiet stretch in a high range).
 */
static int
quiet_range(int n)
{
	int base, p, okay;

	/* Below the kernel's ephemeral range (32768-60999 by default), where
	 * client connections of earlier tests may linger in TIME_WAIT. */
	for (base = 21000; base < 32000; base += 97) {
		okay = 1;
		for (p = base; p < base + n && okay; p++)
			okay = ports_bind_check(p) == 0;
		if (okay)
			return base;
	}
	printf("# no quiet range of %d ports in 21000-32000\n", n);
	fatalx("no quiet port range");
}

static void
test_bind_check(void)
{
	int fd, port;

	fd = hold_port(&port);
	ok(ports_bind_check(port) == -1 && errno == EADDRINUSE,
	    "bind check: a listening port is busy (EADDRINUSE)");
	close(fd);
	ok(ports_bind_check(port) == 0, "bind check: free once closed");
	ok(ports_bind_check(0) == -1 && ports_bind_check(65536) == -1 &&
	    ports_bind_check(-5) == -1, "bind check: out of range refused");
}

static void
test_table(struct db *db)
{
	int64_t a[6];
	int base, p[6], q, i, fd;

	base = quiet_range(4);
	for (i = 0; i < 6; i++)
		a[i] = add_app(db, 100 + i);

	/* A fresh pool hands out the range in order. */
	for (i = 0; i < 4; i++)
		is(ports_reserve(db, a[i], base, base + 3, 0, &p[i]), PORTS_OK,
		    "reserve app %d", i);
	ok(p[0] == base && p[1] == base + 1 && p[2] == base + 2 &&
	    p[3] == base + 3, "reserve: the range in order (%d %d %d %d)",
	    p[0], p[1], p[2], p[3]);
	is(app_port_column(db, a[1]), p[1], "reserve: apps.port mirrors it");
	is(count_rows(db), 4, "reserve: four rows");

	q = -1;
	is(ports_reserve(db, a[4], base, base + 3, 0, &q), PORTS_EXHAUSTED,
	    "exhausted: no port left");
	is(q, -1, "exhausted: out parameter untouched");
	is(app_port_column(db, a[4]), 0, "exhausted: apps.port still NULL");

	/* An app that holds a port keeps it. */
	is(ports_reserve(db, a[2], base, base + 3, 0, &q), PORTS_OK,
	    "again: ok");
	is(q, p[2], "again: the same port");
	is(count_rows(db), 4, "again: no new row");
	ok(ports_get(db, a[2], &q) == 1 && q == p[2], "get: the port");
	ok(ports_get(db, a[4], &q) == 0, "get: none for an app without");

	/* Release, then reuse by another app. */
	is(ports_release(db, a[1]), 0, "release: ok");
	is(app_port_column(db, a[1]), 0, "release: apps.port cleared");
	is(ports_release(db, a[1]), 0, "release: twice is fine");
	is(ports_reserve(db, a[4], base, base + 3, 0, &q), PORTS_OK,
	    "reuse: a released port is handed out again");
	is(q, p[1], "reuse: the released one");

	/* Bind check: a port a test socket listens on is skipped. */
	is(ports_release(db, a[0]), 0, "release first port");
	{
		/* Hold base (a[0]'s old port) with a listening socket. */
		struct sockaddr_in sin;
		int one = 1;

		fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)base);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    listen(fd, 1) == 0, "test socket listens on port %d", base);
	}
	q = -1;
	is(ports_reserve(db, a[5], base, base + 3, 0, &q), PORTS_EXHAUSTED,
	    "bind check: the only free port is busy -> exhausted");
	is(count_rows(db), 3, "bind check: the busy port was not recorded");
	close(fd);
	is(ports_reserve(db, a[5], base, base + 3, 0, &q), PORTS_OK,
	    "bind check: the port is handed out once the socket is gone");
	is(q, base, "bind check: it is that port");

	/* An app whose own port became busy moves to another one. */
	is(ports_release(db, a[3]), 0, "release base+3");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)(base + 2));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    listen(fd, 1) == 0, "test socket takes app 2's port");
	}
	is(ports_reserve(db, a[2], base, base + 3, 0, &q), PORTS_OK,
	    "moved: ok");
	is(q, base + 3, "moved: to the free port");
	ok(ports_get(db, a[2], &q) == 1 && q == base + 3 &&
	    app_port_column(db, a[2]) == base + 3, "moved: row and column");
	close(fd);

	/* avoid: a port Docker refused is not handed out again at once. */
	is(ports_reserve(db, a[2], base, base + 3, base + 3, &q), PORTS_OK,
	    "avoid: ok");
	is(q, base + 2, "avoid: moved to the other free port");
	is(count_rows(db), 3, "avoid: still one row per app (a2, a4, a5)");

	/* Deleting an app gives its port back (cascade). */
	{
		sqlite3_stmt *st = db_prepare(db, "DELETE FROM apps WHERE id = ?");
		db_bind_int(st, 1, a[2]);
		ok(db_exec_stmt(db, st) == 0 && count_rows(db) == 2,
		    "delete app: its port row is gone");
	}

	/* Bad arguments. */
	is(ports_reserve(db, a[0], 0, 10, 0, &q), PORTS_ERROR, "bad: min 0");
	is(ports_reserve(db, a[0], 2000, 1999, 0, &q), PORTS_ERROR,
	    "bad: min > max");
	is(ports_reserve(db, a[0], 2000, 70000, 0, &q), PORTS_ERROR,
	    "bad: max > 65535");
	ok(ports_reserve(db, 999999, base, base + 3, 0, &q) != PORTS_OK,
	    "bad: unknown app refused (foreign key)");
	ok(!db->in_tx, "no transaction left open");
}

/*
 * NPROC processes each reserve ports for their own apps at the same time;
 * every app must get a distinct port and the pool must run out exactly.
 */
#define NPROC		6
#define PER_PROC	5

static void
test_concurrent(void)
{
	struct db *db;
	int64_t apps[NPROC][PER_PROC];
	pid_t pids[NPROC];
	int base, i, j, status, allok = 1, n, distinct;
	int range = NPROC * PER_PROC - 2;	/* two apps must go without */
	sqlite3_stmt *st;

	if ((db = db_open(dbpath)) == NULL)
		fatalx("db_open");
	db_exec(db, "DELETE FROM ports; DELETE FROM meta;");
	for (i = 0; i < NPROC; i++)
		for (j = 0; j < PER_PROC; j++)
			apps[i][j] = add_app(db, 1000 + i * PER_PROC + j);
	base = quiet_range(range);
	/* No SQLite connection may cross a fork. */
	db_close(db);

	for (i = 0; i < NPROC; i++) {
		if ((pids[i] = fork()) == -1)
			fatal("fork");
		if (pids[i] == 0) {
			struct db *cdb = db_open(dbpath);
			int k, port, bad = 0;
			enum ports_result r;

			if (cdb == NULL)
				_exit(2);
			for (k = 0; k < PER_PROC; k++) {
				r = ports_reserve(cdb, apps[i][k], base,
				    base + range - 1, 0, &port);
				if (r == PORTS_ERROR)
					bad = 1;
			}
			db_close(cdb);
			_exit(bad ? 1 : 0);
		}
	}
	for (i = 0; i < NPROC; i++) {
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			allok = 0;
	}
	ok(allok, "concurrent: %d processes reserved without errors", NPROC);
	if ((db = db_open(dbpath)) == NULL)
		fatalx("db_open");
	n = count_rows(db);
	is(n, range, "concurrent: the whole range handed out, no more");
	st = db_prepare(db, "SELECT count(DISTINCT port), count(DISTINCT "
	    "app_id) FROM ports");
	distinct = -1;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_int(st, 1) == range)
		distinct = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	is(distinct, range, "concurrent: every port distinct, one per app");
	st = db_prepare(db, "SELECT count(*) FROM apps a JOIN ports p ON "
	    "p.app_id = a.id WHERE a.port = p.port");
	n = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	is(n, range, "concurrent: apps.port agrees with the table");
	st = db_prepare(db, "SELECT count(*) FROM ports WHERE port < ? OR "
	    "port > ?");
	db_bind_int(st, 1, base);
	db_bind_int(st, 2, base + range - 1);
	n = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	is(n, 0, "concurrent: all inside the range");
	db_close(db);
}

int
main(void)
{
	struct db *db;

	log_init("t_ports", 0);
	if (mkdtemp(tmpdir) == NULL)
		fatal("mkdtemp");
	if (str_fmt(dbpath, sizeof(dbpath), "%s/t.db", tmpdir) == -1 ||
	    (db = db_open(dbpath)) == NULL)
		fatalx("db_open");
	if (db_exec(db, "INSERT INTO users(id, username, password_hash, "
	    "created_at) VALUES (1, 'alice', 'x', 0)") == -1)
		fatalx("user");

	test_bind_check();
	test_table(db);
	db_close(db);
	test_concurrent();

	{
		char path[300];

		(void)str_fmt(path, sizeof(path), "%s/t.db-wal", tmpdir);
		unlink(path);
		(void)str_fmt(path, sizeof(path), "%s/t.db-shm", tmpdir);
		unlink(path);
		unlink(dbpath);
		rmdir(tmpdir);
	}
	return done_testing();
}
