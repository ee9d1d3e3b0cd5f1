/*
 * jobs: the queue between the request side (workers enqueue) and the agent
 * (claims and runs).  A job belongs to one app; the agent runs at most one
 * job per app at a time, oldest first.  The job id is also the container
 * API's build_id.
 *
 * Kinds:  deploy (build if needed, then run), start, stop, restart, delete.
 * States: pending -> running -> done | failed | cancelled.
 */
#ifndef SLIPWAY_JOBS_H
#define SLIPWAY_JOBS_H

#include <stdint.h>

struct db;

enum job_kind {
	JOB_DEPLOY,
	JOB_START,
	JOB_STOP,
	JOB_RESTART,
	JOB_DELETE,
	JOB__MAX
};

struct job {
	int64_t		id;
	int64_t		app_rowid;
	enum job_kind	kind;
	char		state[16];
	int64_t		created_at;
};

const char	*jobs_kind_name(enum job_kind);
int		 jobs_kind_parse(const char *, enum job_kind *);

/*
 * Queue a job for an app.  Call inside the caller's transaction (so the
 * app row and its job commit together) or outside one.  *id_out optional.
 */
int	 jobs_enqueue(struct db *, int64_t app_rowid, enum job_kind,
	    int64_t *id_out);
/* Nudge the agent (datagram on its socket); best effort, never blocks. */
void	 jobs_wake(const char *agent_socket);

/*
 * Agent: claim the oldest pending job of an app that has no running job
 * and no older pending one (an app's jobs run in order).  Flags narrow
 * the choice: JOBS_CLAIM_NO_DEPLOY (the build slots are full),
 * JOBS_CLAIM_HOST_ONLY (Docker is away: only apps of the types in
 * JOBS_HOST_TYPES_SQL, which the host runtime runs).
 * Returns 1 with *out filled, 0 if none, -1 on error.
 */
#define JOBS_CLAIM_NO_DEPLOY	0x1
#define JOBS_CLAIM_HOST_ONLY	0x2
#define JOBS_HOST_TYPES_SQL	"'gradio', 'plugin'"
int	 jobs_claim(struct db *, long claimer_pid, int flags, struct job *out);
/* Finish: state "done", "failed" or "cancelled"; error may be NULL. */
int	 jobs_finish(struct db *, int64_t job_id, const char *state,
	    const char *error);
/*
 * Agent start: jobs left "running" by a dead agent go back to "pending"
 * (they are all safe to run again).  Returns how many.
 */
int	 jobs_requeue_orphans(struct db *, long my_pid);
/* Put a running job back in the queue (an app waiting for GPU room). */
int	 jobs_requeue(struct db *, int64_t job_id);
/* Cancel pending jobs of an app (e.g. before delete). */
int	 jobs_cancel_pending(struct db *, int64_t app_rowid);

#endif
