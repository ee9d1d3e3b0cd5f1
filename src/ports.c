#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "ports.h"

#define PORTS_CURSOR_KEY	"ports_cursor"

int
ports_bind_check(int port)
{
	struct sockaddr_in sin;
	int fd, one = 1, rc = -1, saved;

	if (port < 1 || port > 65535) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		rc = 0;
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* The app's port row: 1 found, 0 none, -1 error. */
static int
ports_lookup(struct db *db, int64_t app_rowid, int *port_out)
{
	sqlite3_stmt *st;
	int rc = -1;

	if ((st = db_prepare(db, "SELECT port FROM ports WHERE app_id = ?")) ==
	    NULL)
		return -1;
	db_bind_int(st, 1, app_rowid);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*port_out = sqlite3_column_int(st, 0);
		rc = 1;
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

int
ports_get(struct db *db, int64_t app_rowid, int *port_out)
{
	int port, rc;

	if ((rc = ports_lookup(db, app_rowid, &port)) == 1)
		*port_out = port;
	return rc;
}

static int
ports_set_app_port(struct db *db, int64_t app_rowid, int port)
{
	sqlite3_stmt *st;

	if ((st = db_prepare(db, "UPDATE apps SET port = ?, updated_at = ? "
	    "WHERE id = ?")) == NULL)
		return -1;
	if (port > 0)
		db_bind_int(st, 1, port);
	else
		sqlite3_bind_null(st, 1);
	db_bind_int(st, 2, db_now());
	db_bind_int(st, 3, app_rowid);
	return db_exec_stmt(db, st);
}

static int
ports_delete_row(struct db *db, int64_t app_rowid)
{
	sqlite3_stmt *st;

	if ((st = db_prepare(db, "DELETE FROM ports WHERE app_id = ?")) == NULL)
		return -1;
	db_bind_int(st, 1, app_rowid);
	return db_exec_stmt(db, st);
}

/*
 * The ports of the range held by any app, as a bitmap indexed by
 * port - port_min (caller frees).
 */
static unsigned char *
ports_held(struct db *db, int port_min, int port_max)
{
	sqlite3_stmt *st;
	unsigned char *held;
	int rc, p;

	held = xcalloc((size_t)(port_max - port_min + 1), 1);
	if ((st = db_prepare(db, "SELECT port FROM ports WHERE port BETWEEN "
	    "? AND ?")) == NULL) {
		free(held);
		return NULL;
	}
	db_bind_int(st, 1, port_min);
	db_bind_int(st, 2, port_max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		p = sqlite3_column_int(st, 0);
		if (p >= port_min && p <= port_max)
			held[p - port_min] = 1;
	}
	if (rc != SQLITE_DONE) {
		log_warnx("%s", sqlite3_errmsg(db->conn));
		free(held);
		held = NULL;
	}
	sqlite3_finalize(st);
	return held;
}

enum ports_result
ports_reserve(struct db *db, int64_t app_rowid, int port_min, int port_max,
    int avoid, int *port_out)
{
	unsigned char *held = NULL;
	sqlite3_stmt *st;
	int64_t cursor = 0;
	int have, cur = 0, span, i, p, chosen = 0;
	enum ports_result res = PORTS_ERROR;

	if (port_min < 1 || port_max > 65535 || port_min > port_max ||
	    app_rowid <= 0) {
		log_warnx("bad port range %d-%d or app %lld", port_min,
		    port_max, (long long)app_rowid);
		return PORTS_ERROR;
	}
	if (db_begin(db) == -1)
		return PORTS_ERROR;
	if ((have = ports_lookup(db, app_rowid, &cur)) == -1)
		goto out;
	if (have == 1 && cur >= port_min && cur <= port_max && cur != avoid &&
	    ports_bind_check(cur) == 0) {
		chosen = cur;
		goto set;
	}
	if (have == 1) {
		log_info("app %lld gives back port %d (%s)", (long long)app_rowid,
		    cur, cur == avoid ? "refused" : "busy or out of range");
		if (ports_delete_row(db, app_rowid) == -1)
			goto out;
	}
	if ((held = ports_held(db, port_min, port_max)) == NULL)
		goto out;
	if (db_meta_get_int(db, PORTS_CURSOR_KEY, &cursor) == -1)
		goto out;
	span = port_max - port_min + 1;
	for (i = 1; i <= span; i++) {
		/* Start just after the last port handed out, wrap around. */
		if (cursor >= port_min && cursor <= port_max)
			p = port_min + (int)((cursor - port_min + i) % span);
		else
			p = port_min + (i - 1);
		if (held[p - port_min] || p == avoid)
			continue;
		if (ports_bind_check(p) == -1) {
			log_debug("port %d is busy on 127.0.0.1: skipped", p);
			continue;
		}
		chosen = p;
		break;
	}
	if (chosen == 0) {
		res = PORTS_EXHAUSTED;
		goto out;
	}
	st = db_prepare(db, "INSERT INTO ports(port, app_id) VALUES (?, ?)");
	if (st == NULL)
		goto out;
	db_bind_int(st, 1, chosen);
	db_bind_int(st, 2, app_rowid);
	if (db_exec_stmt(db, st) == -1) {
		log_warnx("port %d for app %lld: %s", chosen,
		    (long long)app_rowid, sqlite3_errmsg(db->conn));
		goto out;
	}
	if (db_meta_set_int(db, PORTS_CURSOR_KEY, chosen) == -1)
		goto out;
set:
	if (ports_set_app_port(db, app_rowid, chosen) == -1)
		goto out;
	if (db_commit(db) == -1)
		goto out;
	*port_out = chosen;
	res = PORTS_OK;
out:
	if (res != PORTS_OK)
		db_rollback(db);
	free(held);
	return res;
}

int
ports_release(struct db *db, int64_t app_rowid)
{
	if (db_begin(db) == -1)
		return -1;
	if (ports_delete_row(db, app_rowid) == -1 ||
	    ports_set_app_port(db, app_rowid, 0) == -1) {
		db_rollback(db);
		return -1;
	}
	return db_commit(db);
}
