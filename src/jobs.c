#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "jobs.h"
#include "log.h"

/* Names as stored in jobs.kind, indexed by enum job_kind. */
static const char *const jobs_kind_names[JOB__MAX] = {
	"deploy",	/* JOB_DEPLOY */
	"start",	/* JOB_START */
	"stop",		/* JOB_STOP */
	"restart",	/* JOB_RESTART */
	"delete",	/* JOB_DELETE */
};

const char *
jobs_kind_name(enum job_kind k)
{
	return (k >= 0 && k < JOB__MAX) ? jobs_kind_names[k] : "?";
}

int
jobs_kind_parse(const char *s, enum job_kind *out)
{
	int i;

	for (i = 0; i < JOB__MAX; i++)
		if (strcmp(s, jobs_kind_names[i]) == 0) {
			*out = (enum job_kind)i;
			return 0;
		}
	return -1;
}

int
jobs_enqueue(struct db *db, int64_t app_rowid, enum job_kind kind,
    int64_t *id_out)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "INSERT INTO jobs(app_id, kind, state, created_at) "
	    "VALUES (?, ?, 'pending', ?)");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, app_rowid);
	db_bind_text(st, 2, jobs_kind_name(kind));
	db_bind_int(st, 3, db_now());
	if (db_exec_stmt(db, st) == -1)
		return -1;
	if (id_out != NULL)
		*id_out = db_last_id(db);
	return 0;
}

void
jobs_wake(const char *agent_socket)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, sizeof(sun.sun_path), agent_socket) == -1)
		return;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return;
	/* ECONNREFUSED/ENOENT: no agent now; it polls the queue at start. */
	(void)sendto(fd, "j", 1, MSG_DONTWAIT, (struct sockaddr *)&sun,
	    sizeof(sun));
	close(fd);
}

int
jobs_claim(struct db *db, long pid, int flags, struct job *out)
{
	sqlite3_stmt *st;
	const char *kind, *state;
	int rc = -1;

	if (db_begin(db) == -1)
		return -1;
	st = db_prepare(db, "UPDATE jobs SET state = 'running', claimed_by = ?, "
	    "started_at = ? WHERE id = (SELECT j.id FROM jobs j WHERE "
	    "j.state = 'pending' AND NOT EXISTS (SELECT 1 FROM jobs r WHERE "
	    "r.app_id = j.app_id AND r.state = 'running') AND NOT EXISTS "
	    "(SELECT 1 FROM jobs o WHERE o.app_id = j.app_id AND o.state = "
	    "'pending' AND o.id < j.id) AND (? = 0 OR j.kind <> 'deploy') "
	    "AND (? = 0 OR EXISTS (SELECT 1 FROM apps h WHERE h.id = j.app_id "
	    "AND h.type IN (" JOBS_HOST_TYPES_SQL "))) "
	    "ORDER BY j.id LIMIT 1) RETURNING id, app_id, kind, state, "
	    "created_at");
	if (st == NULL)
		goto out;
	db_bind_int(st, 1, pid);
	db_bind_int(st, 2, db_now());
	db_bind_int(st, 3, (flags & JOBS_CLAIM_NO_DEPLOY) ? 1 : 0);
	db_bind_int(st, 4, (flags & JOBS_CLAIM_HOST_ONLY) ? 1 : 0);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(st, 0);
		out->app_rowid = sqlite3_column_int64(st, 1);
		kind = (const char *)sqlite3_column_text(st, 2);
		state = (const char *)sqlite3_column_text(st, 3);
		out->created_at = sqlite3_column_int64(st, 4);
		if (kind == NULL || jobs_kind_parse(kind, &out->kind) == -1) {
			log_warnx("job %lld has unknown kind",
			    (long long)out->id);
			out->kind = JOB__MAX;
		}
		(void)str_copy(out->state, sizeof(out->state),
		    state ? state : "");
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	default:
		log_warnx("claim: %s", sqlite3_errmsg(db->conn));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (db_commit(db) == -1)
		rc = -1;
	return rc;
out:
	sqlite3_finalize(st);
	db_rollback(db);
	return -1;
}

int
jobs_finish(struct db *db, int64_t job_id, const char *state,
    const char *error)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "UPDATE jobs SET state = ?, error = ?, "
	    "finished_at = ? WHERE id = ?");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, state);
	db_bind_text(st, 2, error);
	db_bind_int(st, 3, db_now());
	db_bind_int(st, 4, job_id);
	return db_exec_stmt(db, st);
}

int
jobs_requeue_orphans(struct db *db, long my_pid)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "UPDATE jobs SET state = 'pending', claimed_by = "
	    "NULL, started_at = NULL WHERE state = 'running' AND "
	    "(claimed_by IS NULL OR claimed_by <> ?)");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, my_pid);
	if (db_exec_stmt(db, st) == -1)
		return -1;
	return db_changes(db);
}

int
jobs_requeue(struct db *db, int64_t job_id)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "UPDATE jobs SET state = 'pending', claimed_by = "
	    "NULL, started_at = NULL WHERE id = ? AND state = 'running'");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, job_id);
	return db_exec_stmt(db, st);
}

int
jobs_cancel_pending(struct db *db, int64_t app_rowid)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "UPDATE jobs SET state = 'cancelled', finished_at "
	    "= ? WHERE app_id = ? AND state = 'pending'");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, db_now());
	db_bind_int(st, 2, app_rowid);
	return db_exec_stmt(db, st);
}
