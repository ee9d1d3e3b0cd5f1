/*
 * ports: host ports for apps, from the operator's range (SLIPWAY_PORT_RANGE),
 * published by Docker on 127.0.0.1 only.
 *
 * The table ports(port PRIMARY KEY, app_id UNIQUE) is the pool: a row is a
 * port held by an app (at most one per app), and apps.port mirrors it.
 * Allocation runs inside BEGIN IMMEDIATE, so processes racing for ports
 * (several agent job processes) are serialised by SQLite, and the UNIQUE
 * constraints would refuse a double allocation even without it.
 *
 * A candidate port must also pass a bind check: bind(2) on 127.0.0.1:<port>
 * (SO_REUSEADDR, as servers and docker-proxy use it) must succeed, so ports
 * some other program on the host listens on are skipped; a skipped port is
 * not recorded and stays in the pool for later.  The search starts after
 * the port handed out last (meta 'ports_cursor') and wraps around, so a
 * port just given back is not reused at once.
 *
 * An app keeps its port across stop and restart (the route and any client
 * bookmarks stay valid); ports_release gives it back (delete, or a start
 * that found it taken by someone else).  Deleting the apps row releases it
 * too (ON DELETE CASCADE).
 */
#ifndef SLIPWAY_PORTS_H
#define SLIPWAY_PORTS_H

#include <stdint.h>

struct db;

enum ports_result {
	PORTS_ERROR = -1,	/* database error or bad argument (logged) */
	PORTS_OK = 0,
	PORTS_EXHAUSTED = 1,	/* every port in the range held or busy */
};

/*
 * Give the app a port: the one it holds if that still passes the bind
 * check (and is not avoid), else the next free one that passes it
 * (the old one is given back in the same transaction).  avoid: a port not
 * to hand out this time (0: none), e.g. one Docker just refused.  Sets
 * apps.port.  *port_out written on PORTS_OK only.  Call outside a
 * transaction.
 */
enum ports_result ports_reserve(struct db *, int64_t app_rowid, int port_min,
	    int port_max, int avoid, int *port_out);

/* The app's port: 1 and *port_out set, 0 when it holds none, -1 on error. */
int	ports_get(struct db *, int64_t app_rowid, int *port_out);

/* Give the app's port back and clear apps.port.  0 (also when it held
 * none) or -1. */
int	ports_release(struct db *, int64_t app_rowid);

/*
 * 0 when a TCP socket can bind 127.0.0.1:port right now (then closed),
 * -1 when it cannot (in use, or any other error; errno kept).
 */
int	ports_bind_check(int port);

#endif
