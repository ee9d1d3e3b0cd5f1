/*
 * db: the SQLite connection, numbered migrations, transactions.
 *
 * All SQL lives in db.c and in the model modules (auth.c, apps.c, jobs.c,
 * ports.c, gpu.c), always with bound parameters.  Every statement is reset
 * or finalized before the function that stepped it returns (a SELECT left
 * un-reset pins a WAL snapshot and makes later writes fail with BUSY).
 *
 * Writes go through db_begin() (BEGIN IMMEDIATE) ... db_commit()/db_rollback().
 */
#ifndef SLIPWAY_DB_H
#define SLIPWAY_DB_H

#include <sqlite3.h>
#include <stdint.h>

#define DB_STMT_CACHE	8	/* hot statements kept prepared per connection */

struct db_cached {
	const char	*sql;	/* the literal's address is the key */
	sqlite3_stmt	*st;
	int		 busy;
};

struct db {
	sqlite3		*conn;
	char		*path;
	int		 in_tx;
	struct db_cached cache[DB_STMT_CACHE];
	size_t		 ncache;
};

/* Open (creating if needed) and migrate.  Caller frees with db_close(). */
struct db	*db_open(const char *path);
void		 db_close(struct db *);

/* Apply all pending migrations; safe when several processes race. */
int		 db_migrate(struct db *);
int		 db_schema_version(struct db *);

int		 db_begin(struct db *);		/* BEGIN IMMEDIATE */
int		 db_commit(struct db *);
void		 db_rollback(struct db *);

/* Prepare; logs and returns NULL on error. */
sqlite3_stmt	*db_prepare(struct db *, const char *sql);
/*
 * A hot query kept prepared on this connection (preparing a wide SELECT
 * costs tens of microseconds): sql must be a string literal.  Give it back
 * with db_release() (reset, bindings cleared), never sqlite3_finalize().
 */
sqlite3_stmt	*db_prepare_cached(struct db *, const char *sql);
void		 db_release(struct db *, sqlite3_stmt *);
/* Run a statement with no result rows; finalizes it.  0 or -1. */
int		 db_exec_stmt(struct db *, sqlite3_stmt *);
/* Run literal SQL without parameters (schema, pragmas). */
int		 db_exec(struct db *, const char *sql);

/* Bind helpers; text NULL binds NULL. Return 0 or -1. */
int		 db_bind_text(sqlite3_stmt *, int idx, const char *);
int		 db_bind_int(sqlite3_stmt *, int idx, int64_t);

/* Column text as a fresh string (NULL column -> NULL); caller frees. */
char		*db_col_strdup(sqlite3_stmt *, int col);

int64_t		 db_now(void);	/* unix seconds */
int64_t		 db_last_id(struct db *);
int		 db_changes(struct db *);

/* Was the last error a UNIQUE/constraint violation? */
int		 db_is_constraint(struct db *);

/* Meta key/value (e.g. route generation). */
int		 db_meta_get_int(struct db *, const char *key, int64_t *out);
int		 db_meta_set_int(struct db *, const char *key, int64_t val);

#endif
