/*
 * ngx-driver: drives ngxconf from the e2e test and the benchmark (compiled
 * by tests/e2e/routes.sh against libslipway.a; not installed).  The
 * configuration comes from the environment as for every slipway program
 * (SLIPWAY_DATA_DIR, SLIPWAY_NGINX, SLIPWAY_APPS_PORT, ...).
 *
 *   ngx-driver init                      create the database and a user
 *   ngx-driver add ID NAME PORT ALLOW AUTH [STATUS]
 *   ngx-driver bulk N FIRST_PORT [FIRST_INDEX [ALLOW AUTH]]
 *                                        N running apps b<11 digits>;
 *                                        ALLOW "distinct": one /24 each
 *   ngx-driver set ID COLUMN VALUE       allow_ips|auth_header|status|port
 *   ngx-driver status ID                 prints "status|detail"
 *   ngx-driver sync                      one ngxconf_sync, prints a summary
 *   ngx-driver burst N                   N processes sync at once
 */
#include "config.h"

#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "ngxconf.h"
#include "valid.h"

static int
usage(void)
{
	fprintf(stderr, "usage: ngx-driver init | add ID NAME PORT ALLOW AUTH "
	    "[STATUS] | bulk N FIRST_PORT [FIRST_INDEX [ALLOW AUTH]] | set ID "
	    "COLUMN VALUE | status ID | sync | burst N\n");
	return 2;
}

static long long
number(const char *s, long long min, long long max)
{
	long long v;

	if (valid_int(s, min, max, &v) == -1) {
		fprintf(stderr, "ngx-driver: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static int
add_app(struct db *db, const char *id, const char *name, long long port,
    const char *allow, const char *auth, const char *status)
{
	sqlite3_stmt *st;
	int64_t now = db_now();

	st = db_prepare(db, "INSERT INTO apps (app_id, name, type, status, "
	    "owner_id, port, allow_ips, auth_header, created_at, updated_at) "
	    "VALUES (?, ?, 'docker', ?, 1, ?, ?, ?, ?, ?)");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, name);
	db_bind_text(st, 3, status);
	db_bind_int(st, 4, port);
	db_bind_text(st, 5, allow);
	db_bind_text(st, 6, auth);
	db_bind_int(st, 7, now);
	db_bind_int(st, 8, now);
	return db_exec_stmt(db, st);
}

static int
cmd_sync(const struct conf *c, struct db *db)
{
	struct ngxconf_sync_result sr;
	int rc;

	rc = ngxconf_sync(c, db, &sr);
	printf("rc=%d coalesced=%d reloaded=%d routes=%zu errors=%zu "
	    "ms=%.1f\n", rc, sr.coalesced, sr.reloaded, sr.nroutes,
	    sr.nerror, (double)sr.usec_total / 1000.0);
	return rc == 0 ? 0 : 1;
}

static int
cmd_burst(const struct conf *c, int n)
{
	struct ngxconf_sync_result sr;
	pid_t *kids = xcalloc((size_t)n, sizeof(*kids));
	int i, status, applied = 0, coalesced = 0, failed = 0, reloads = 0;
	int fds[2];
	char ch;

	if (pipe(fds) == -1)
		return 1;
	for (i = 0; i < n; i++) {
		if ((kids[i] = fork()) == 0) {
			struct db *db;

			close(fds[1]);
			/* start together */
			if (read(fds[0], &ch, 1) < 0)
				_exit(3);
			if ((db = db_open(c->db_path)) == NULL ||
			    ngxconf_sync(c, db, &sr) == -1)
				_exit(3);
			db_close(db);
			_exit(sr.coalesced ? 1 : sr.reloaded ? 2 : 0);
		}
	}
	close(fds[0]);
	close(fds[1]);		/* EOF releases every child at once */
	for (i = 0; i < n; i++) {
		if (waitpid(kids[i], &status, 0) != kids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) == 3) {
			failed++;
			continue;
		}
		switch (WEXITSTATUS(status)) {
		case 1:
			coalesced++;
			break;
		case 2:
			reloads++;
			/* FALLTHROUGH */
		default:
			applied++;
		}
	}
	free(kids);
	printf("syncs=%d applied=%d coalesced=%d reloads=%d failed=%d\n", n,
	    applied, coalesced, reloads, failed);
	return failed ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	struct conf c;
	struct db *db = NULL;
	sqlite3_stmt *st;
	struct buf id = BUF_INIT, sql = BUF_INIT, allow = BUF_INIT;
	long long i, n, port, first;
	int rc = 1;

	log_init("ngx-driver", getenv("NGX_DRIVER_DEBUG") != NULL);
	if (argc < 2)
		return usage();
	if (conf_load(&c) == -1)
		return 1;
	if (strcmp(argv[1], "burst") == 0) {
		if (argc != 3)
			return usage();
		rc = cmd_burst(&c, (int)number(argv[2], 1, 1000));
		goto out;
	}
	if ((db = db_open(c.db_path)) == NULL)
		goto out;
	if (strcmp(argv[1], "init") == 0) {
		rc = db_exec(db, "INSERT OR IGNORE INTO users (id, username, "
		    "password_hash, created_at) VALUES (1, 'e2e', 'x', 0)") ?
		    1 : 0;
	} else if (strcmp(argv[1], "add") == 0 && (argc == 7 || argc == 8)) {
		rc = add_app(db, argv[2], argv[3], number(argv[4], 0, 99999),
		    argv[5], argv[6], argc == 8 ? argv[7] : "running") ? 1 : 0;
	} else if (strcmp(argv[1], "bulk") == 0 && (argc == 4 || argc == 5 ||
	    argc == 7)) {
		n = number(argv[2], 1, 100000);
		port = number(argv[3], 1, 65535);
		first = argc >= 5 ? number(argv[4], 0, 10000000) : 0;
		if (db_begin(db) == -1)
			goto out;
		for (i = first; i < first + n; i++) {
			buf_reset(&id);
			buf_printf(&id, "b%011lld", i);
			buf_reset(&allow);
			if (argc == 7 && strcmp(argv[5], "distinct") == 0)
				buf_printf(&allow, "10.%lld.%lld.0/24, ::1",
				    (i / 256) % 256, i % 256);
			else if (argc == 7)
				buf_adds(&allow, argv[5]);
			if (add_app(db, id.data, id.data, port + i > 65535 ?
			    65535 : port + i, allow.data,
			    argc == 7 ? argv[6] : "", "running") == -1) {
				db_rollback(db);
				goto out;
			}
		}
		rc = db_commit(db) ? 1 : 0;
	} else if (strcmp(argv[1], "set") == 0 && argc == 5) {
		if (strcmp(argv[3], "allow_ips") && strcmp(argv[3],
		    "auth_header") && strcmp(argv[3], "status") &&
		    strcmp(argv[3], "port"))
			return usage();
		buf_printf(&sql, "UPDATE apps SET %s = ? WHERE app_id = ?",
		    argv[3]);
		if ((st = db_prepare(db, sql.data)) == NULL)
			goto out;
		if (strcmp(argv[3], "port") == 0)
			db_bind_int(st, 1, number(argv[4], 0, 99999));
		else
			db_bind_text(st, 1, argv[4]);
		db_bind_text(st, 2, argv[2]);
		rc = db_exec_stmt(db, st) ? 1 : 0;
	} else if (strcmp(argv[1], "status") == 0 && argc == 3) {
		if ((st = db_prepare(db, "SELECT status, status_detail FROM "
		    "apps WHERE app_id = ?")) == NULL)
			goto out;
		db_bind_text(st, 1, argv[2]);
		if (sqlite3_step(st) == SQLITE_ROW) {
			printf("%s|%s\n", sqlite3_column_text(st, 0),
			    sqlite3_column_text(st, 1));
			rc = 0;
		}
		sqlite3_finalize(st);
	} else if (strcmp(argv[1], "sync") == 0 && argc == 2) {
		rc = cmd_sync(&c, db);
	} else
		rc = usage();
out:
	db_close(db);
	conf_free(&c);
	buf_release(&id);
	buf_release(&sql);
	buf_release(&allow);
	return rc;
}
