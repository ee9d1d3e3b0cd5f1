/*
 * agent_daemon: the daemon loop (agent_run): the wake-up socket, job and
 * follower children (spawned from /proc/self/exe, reaped by pid only), the
 * Docker event stream with reconnection, deaths judged a moment after the
 * event, heartbeats and the safety poll, and reconciliation.
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
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <time.h>

#include <sqlite3.h>

#include "agent.h"
#include "agent_int.h"
#include "agent_venv.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "docker.h"
#include "gpu.h"
#include "jobs.h"
#include "log.h"
#include "valid.h"

extern char **environ;

/* ------------------------------------------------------------------ */
/* The daemon                                                          */

enum child_kind {
	CHILD_JOB,	/* --job: one claimed job */
	CHILD_FOLLOW,	/* --follow: copies a container's output */
	CHILD__MAX
};

struct child {
	pid_t		 pid;
	enum child_kind	 kind;
	int64_t		 job_id;
	int64_t		 app_rowid;
	int		 deploy;
	int64_t		 deadline;	/* ms; 0: none */
	int		 killed;
	char		 cid[72];	/* CHILD_FOLLOW */
	char		 app_id[APP_ID_LEN + 1];
};

/* A container that died: looked at AGENT_DEATH_DELAY_MS later. */
struct death {
	char		 app_id[APP_ID_LEN + 1];
	char		 cid[72];
	int		 exit_code;	/* -1: unknown */
	int		 oom;
	int		 unhealthy;
	int64_t		 due;		/* ms */
	int64_t		 time;		/* unix seconds of the event */
};

/* A follower that ended recently: not started again before until. */
struct quiet {
	char		 cid[72];
	int64_t		 until;
};

struct agent {
	const struct conf	*conf;
	struct db		*db;
	struct docker		*docker;
	struct docker_events	*ev;
	char			 inst[17];
	int			 wake_fd;
	struct child		*kids;
	size_t			 nkids, capkids;
	struct death		*deaths;
	size_t			 ndeaths, capdeaths;
	struct quiet		*quiet;
	size_t			 nquiet, capquiet;
	int64_t			 next_tick;
	int64_t			 next_heartbeat;
	int64_t			 next_connect;
	int			 backoff_ms;
	int			 lost;		/* Docker went away since */
	char			 ppid_arg[24];
};

static int agent_sigchld_fd = -1;	/* write end of the self-pipe */

static void
agent_on_sigchld(int sig)
{
	int saved = errno;

	(void)sig;
	if (agent_sigchld_fd != -1)
		(void)!write(agent_sigchld_fd, "c", 1);
	errno = saved;
}

static int
agent_bind_wake(const struct conf *conf)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, sizeof(sun.sun_path),
	    conf->agent_socket) == -1) {
		log_warnx("agent socket path too long: %s", conf->agent_socket);
		return -1;
	}
	(void)agent_mkdir(conf->run_dir, 0755);
	if (unlink(conf->agent_socket) == -1 && errno != ENOENT) {
		log_warn("unlink %s", conf->agent_socket);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("socket");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(conf->agent_socket, 0600) == -1) {
		log_warn("bind %s", conf->agent_socket);
		close(fd);
		return -1;
	}
	return fd;
}

/* Start ourselves again with argv (a job or a follower). */
static pid_t
agent_spawn(char *const argv[])
{
	posix_spawnattr_t attr;
	sigset_t none, defs;
	pid_t pid = -1;
	int err;

	if (posix_spawnattr_init(&attr) != 0)
		return -1;
	sigemptyset(&none);
	sigemptyset(&defs);
	sigaddset(&defs, SIGCHLD);
	sigaddset(&defs, SIGTERM);
	sigaddset(&defs, SIGINT);
	sigaddset(&defs, SIGPIPE);
	sigaddset(&defs, SIGHUP);
	if (posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0 ||
	    posix_spawnattr_setpgroup(&attr, 0) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &defs) != 0) {
		posix_spawnattr_destroy(&attr);
		return -1;
	}
	if ((err = posix_spawn(&pid, "/proc/self/exe", NULL, &attr, argv,
	    environ)) != 0) {
		errno = err;
		log_warn("spawn %s", argv[1]);
		pid = -1;
	}
	posix_spawnattr_destroy(&attr);
	return pid;
}

static struct child *
agent_add_child(struct agent *a)
{
	if (a->nkids == a->capkids) {
		a->capkids = a->capkids ? a->capkids * 2 : 16;
		a->kids = xrealloc(a->kids, st_mult(a->capkids,
		    sizeof(*a->kids)));
	}
	memset(&a->kids[a->nkids], 0, sizeof(a->kids[0]));
	return &a->kids[a->nkids++];
}

static size_t
agent_count(const struct agent *a, enum child_kind kind, int deploy_only)
{
	size_t i, n = 0;

	for (i = 0; i < a->nkids; i++)
		if (a->kids[i].kind == kind &&
		    (!deploy_only || a->kids[i].deploy))
			n++;
	return n;
}

static void
agent_claim_jobs(struct agent *a)
{
	struct child *k;
	struct job job;
	char idbuf[24];
	char *argv[6];
	pid_t pid;
	int r;

	/* Without Docker, the host runtime's jobs still run (agent_venv.c). */
	while ((a->ev != NULL || agent_venv_enabled(a->conf)) &&
	    agent_count(a, CHILD_JOB, 0) < AGENT_MAX_JOBS) {
		r = jobs_claim(a->db, (long)getpid(),
		    (agent_count(a, CHILD_JOB, 1) < AGENT_MAX_BUILDS ? 0 :
		    JOBS_CLAIM_NO_DEPLOY) |
		    (a->ev == NULL ? JOBS_CLAIM_HOST_ONLY : 0), &job);
		if (r != 1)
			break;
		(void)str_fmt(idbuf, sizeof(idbuf), "%" PRId64, job.id);
		argv[0] = (char *)"slipway-agent";
		argv[1] = (char *)"--job";
		argv[2] = idbuf;
		argv[3] = a->ppid_arg;
		argv[4] = NULL;
		if ((pid = agent_spawn(argv)) == -1) {
			(void)jobs_finish(a->db, job.id, "failed",
			    "cannot start a job process");
			continue;
		}
		k = agent_add_child(a);
		k->pid = pid;
		k->kind = CHILD_JOB;
		k->job_id = job.id;
		k->app_rowid = job.app_rowid;
		k->deploy = job.kind == JOB_DEPLOY;
		k->deadline = agent_now_ms() + 1000LL * (AGENT_JOB_GRACE +
		    (job.kind == JOB_DEPLOY || job.kind == JOB_START ||
		    job.kind == JOB_RESTART ? a->conf->build_timeout +
		    a->conf->start_timeout : 0));
		log_debug("job %" PRId64 " (%s) in process %ld", job.id,
		    jobs_kind_name(job.kind), (long)pid);
	}
}

const char *const agent_status_transient[] = { "queued", "building",
    "starting", "stopping", NULL };

/* A job process ended: if it did not finish its job, fail it. */
static void
agent_job_ended(struct agent *a, const struct child *k, int status)
{
	struct agent_app app;
	struct buf why = BUF_INIT;
	sqlite3_stmt *st;
	int running = 0;

	st = db_prepare(a->db, "SELECT state = 'running' FROM jobs WHERE id = ?");
	if (st == NULL)
		return;
	db_bind_int(st, 1, k->job_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		running = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (!running)
		return;
	if (!k->killed && WIFEXITED(status) &&
	    WEXITSTATUS(status) == AGENT_EXIT_REQUEUE) {
		(void)jobs_requeue(a->db, k->job_id);
		return;
	}
	if (k->killed)
		buf_printf(&why, "the job took too long and was stopped");
	else if (WIFSIGNALED(status))
		buf_printf(&why, "the job process died (signal %d)",
		    WTERMSIG(status));
	else
		buf_printf(&why, "the job process failed (exit %d)",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	log_warnx("job %" PRId64 ": %s", k->job_id, why.data);
	(void)jobs_finish(a->db, k->job_id, "failed", why.data);
	if (agent_app_load(a->db, k->app_rowid, &app) == 1) {
		(void)agent_transition(a->conf, a->db, app.rowid, app.app_id,
		    "error", agent_status_transient, 0, why.data);
		agent_app_release(&app);
	}
	buf_release(&why);
}

static void
agent_reap(struct agent *a)
{
	struct child k;
	size_t i = 0;
	int status;
	pid_t r;

	while (i < a->nkids) {
		r = waitpid(a->kids[i].pid, &status, WNOHANG);
		if (r == 0 || (r == -1 && errno == EINTR)) {
			i++;
			continue;
		}
		k = a->kids[i];
		a->kids[i] = a->kids[--a->nkids];
		if (r == -1) {
			log_warn("waitpid %ld", (long)k.pid);
			continue;
		}
		if (k.kind == CHILD_JOB) {
			agent_job_ended(a, &k, status);
			a->next_tick = 0;	/* follow a new container soon */
		}
		else if (k.kind == CHILD_FOLLOW) {
			if (a->nquiet == a->capquiet) {
				a->capquiet = a->capquiet ? a->capquiet * 2 : 16;
				a->quiet = xrealloc(a->quiet, st_mult(a->capquiet,
				    sizeof(*a->quiet)));
			}
			memcpy(a->quiet[a->nquiet].cid, k.cid, sizeof(k.cid));
			a->quiet[a->nquiet++].until = agent_now_ms() +
			    AGENT_FOLLOW_RESPAWN_MS;
		}
	}
}

/* Jobs that outlive their limit are killed (their process group). */
static void
agent_watchdog(struct agent *a)
{
	int64_t now = agent_now_ms();
	size_t i;

	for (i = 0; i < a->nkids; i++) {
		if (a->kids[i].kind != CHILD_JOB || a->kids[i].deadline == 0 ||
		    now < a->kids[i].deadline || a->kids[i].killed)
			continue;
		log_warnx("job %" PRId64 " exceeded its time: killing process "
		    "group %ld", a->kids[i].job_id, (long)a->kids[i].pid);
		(void)kill(-a->kids[i].pid, SIGKILL);
		a->kids[i].killed = 1;
	}
}

/* ---- Docker events and deaths ---- */

static struct death *
agent_death_for(struct agent *a, const char *app_id, const char *cid)
{
	size_t i;

	for (i = 0; i < a->ndeaths; i++)
		if (strcmp(a->deaths[i].cid, cid) == 0)
			return &a->deaths[i];
	if (a->ndeaths == a->capdeaths) {
		a->capdeaths = a->capdeaths ? a->capdeaths * 2 : 16;
		a->deaths = xrealloc(a->deaths, st_mult(a->capdeaths,
		    sizeof(*a->deaths)));
	}
	memset(&a->deaths[a->ndeaths], 0, sizeof(a->deaths[0]));
	if (str_copy(a->deaths[a->ndeaths].app_id, APP_ID_LEN + 1,
	    app_id) == -1 || str_copy(a->deaths[a->ndeaths].cid, 72,
	    cid) == -1)
		return NULL;
	a->deaths[a->ndeaths].exit_code = -1;
	a->deaths[a->ndeaths].time = (int64_t)time(NULL);
	return &a->deaths[a->ndeaths++];
}

static void
agent_on_event(void *arg, const struct docker_event *e)
{
	struct agent *a = arg;
	struct death *d;
	int die, oom, unhealthy;

	die = strcmp(e->action, "die") == 0;
	oom = strcmp(e->action, "oom") == 0;
	unhealthy = strcmp(e->action, "health_status: unhealthy") == 0;
	log_debug("event %s %.12s app %s", e->action, e->id, e->label);
	if ((!die && !oom && !unhealthy) || valid_app_id(e->label) == -1 ||
	    e->id == NULL || e->id[0] == '\0')
		return;
	if ((d = agent_death_for(a, e->label, e->id)) == NULL)
		return;
	if (die)
		d->exit_code = e->exit_code;
	d->oom |= oom;
	d->unhealthy |= unhealthy;
	if (e->time > 0)
		d->time = e->time;
	d->due = agent_now_ms() + AGENT_DEATH_DELAY_MS;
}

/*
 * Did a job of the app run since t (or is one queued)?  Then the event
 * was the agent's own doing (stop, restart, redeploy).
 */
static int
agent_job_since(struct db *db, int64_t rowid, int64_t t)
{
	sqlite3_stmt *st;
	int rc = 1;

	st = db_prepare(db, "SELECT count(*) FROM jobs WHERE app_id = ? AND "
	    "(state IN ('pending', 'running') OR finished_at >= ?)");
	if (st == NULL)
		return 1;
	db_bind_int(st, 1, rowid);
	db_bind_int(st, 2, t - 1);
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	return rc;
}

/*
 * A container of a live app died (or went unhealthy, or vanished) and no
 * job of ours did it: the app goes to error (finished on exit 0), its GPU
 * is released and a stop job stops the container (against the restart
 * policy) and takes the route away.
 */
static void
agent_handle_death(struct agent *a, const struct death *d)
{
	struct agent_app app;
	struct docker_cstate cs;
	struct buf detail = BUF_INIT;
	enum docker_err e;
	int exit_code = d->exit_code, oom = d->oom, gone = 0, r;

	memset(&cs, 0, sizeof(cs));
	if (agent_app_load_by_id(a->db, d->app_id, &app) != 1)
		return;
	if ((strcmp(app.status, "running") != 0 &&
	    strcmp(app.status, "starting") != 0) ||
	    strcmp(app.desired, "running") != 0 || app.docker_id == NULL ||
	    strcmp(app.docker_id, d->cid) != 0 ||
	    agent_job_since(a->db, app.rowid, d->time))
		goto out;
	e = docker_container_inspect(a->docker, d->cid, &cs);
	if (e == DOCKER_ERR_NOT_FOUND)
		gone = 1;
	else if (e != DOCKER_OK)
		goto out;	/* Docker away: reconciliation decides later */
	else {
		if (cs.running && !d->unhealthy && d->exit_code < 0)
			goto out;	/* a false alarm of the safety poll */
		if (exit_code < 0 && !cs.running)
			exit_code = cs.exit_code;
		oom |= cs.oom_killed;
	}
	if (gone)
		buf_adds(&detail, "the container was removed");
	else if (d->unhealthy)
		buf_adds(&detail, "the container is unhealthy");
	else if (oom)
		buf_printf(&detail, "the container was killed: out of memory "
		    "(exit code %d)", exit_code);
	else
		buf_printf(&detail, "the container exited with code %d",
		    exit_code);
	r = agent_transition(a->conf, a->db, app.rowid, app.app_id,
	    exit_code == 0 && !oom && !d->unhealthy && !gone ? "finished" :
	    "error", agent_status_live, 1, detail.data);
	if (r == 1) {
		(void)gpu_release(a->db, app.rowid);
		(void)jobs_enqueue(a->db, app.rowid, JOB_STOP, NULL);
	}
out:
	docker_cstate_release(&cs);
	agent_app_release(&app);
	buf_release(&detail);
}

static void
agent_process_deaths(struct agent *a)
{
	struct death d;
	int64_t now = agent_now_ms();
	size_t i = 0;

	while (i < a->ndeaths) {
		if (a->deaths[i].due > now) {
			i++;
			continue;
		}
		d = a->deaths[i];
		a->deaths[i] = a->deaths[--a->ndeaths];
		if (a->ev != NULL)
			agent_handle_death(a, &d);
	}
}

/* ---- Reconciliation: Docker is the truth ---- */

static int
agent_sources_exist(const struct conf *conf, const struct agent_app *app)
{
	struct buf p = BUF_INIT;
	struct stat st;
	int rc;

	buf_printf(&p, "%s/%s", conf->uploads_dir, app->app_id);
	rc = lstat(p.data, &st) == 0 && S_ISDIR(st.st_mode);
	buf_release(&p);
	return rc;
}

static void
agent_enqueue(struct agent *a, const struct agent_app *app, enum job_kind k,
    const char *why)
{
	if (jobs_enqueue(a->db, app->rowid, k, NULL) == 0) {
		agent_applog(a->conf, app->app_id, "%s: %s queued", why,
		    jobs_kind_name(k));
		log_info("app %s: %s: %s queued", app->app_id, why,
		    jobs_kind_name(k));
	}
}

/* The app's main container in a list: by name, or (compose) by port. */
static const struct docker_container *
agent_find_container(const struct docker_container_list *l,
    const struct agent_app *app)
{
	char name[32];
	size_t i, j;

	(void)str_fmt(name, sizeof(name), "slipway-%s", app->app_id);
	for (i = 0; i < l->n; i++) {
		const char *lab = docker_labels_get(&l->v[i].labels,
		    "slipway.app");

		if (lab == NULL || strcmp(lab, app->app_id) != 0)
			continue;
		if (app->type != AGENT_APP_COMPOSE) {
			if (strcmp(l->v[i].name, name) == 0)
				return &l->v[i];
			continue;
		}
		for (j = 0; j < l->v[i].nports; j++)
			if (app->port > 0 && l->v[i].ports[j].public_port ==
			    app->port)
				return &l->v[i];
	}
	return NULL;
}

static int
agent_load_apps(struct db *db, const char *where, struct agent_app **out,
    size_t *n)
{
	struct buf sql = BUF_INIT;
	struct agent_app *v = NULL, row;
	size_t cap = 0, cnt = 0;
	sqlite3_stmt *st;
	int rc;

	buf_printf(&sql, "SELECT " AGENT_APP_COLUMNS " FROM apps %s ORDER BY id",
	    where);
	st = db_prepare(db, sql.data);
	buf_release(&sql);
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (agent_app_fill(st, &row) == -1)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, st_mult(cap, sizeof(*v)));
		}
		v[cnt++] = row;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		while (cnt > 0)
			agent_app_release(&v[--cnt]);
		free(v);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static void
agent_free_apps(struct agent_app *v, size_t n)
{
	while (n > 0)
		agent_app_release(&v[--n]);
	free(v);
}

static int
agent_reconcile(struct agent *a)
{
	struct docker_container_list l;
	const struct docker_container *c;
	struct agent_app *apps = NULL;
	struct buf label = BUF_INIT;
	const char *lab;
	size_t i, j, n = 0;
	int found, has_job, r, rc = -1;

	memset(&l, 0, sizeof(l));
	log_info("reconciling the apps table with Docker");
	if ((r = jobs_requeue_orphans(a->db, (long)getpid())) > 0)
		log_info("%d interrupted job(s) queued again", r);
	buf_printf(&label, "slipway.instance=%s", a->inst);
	if (docker_container_list(a->docker, label.data, &l) != DOCKER_OK) {
		log_warnx("cannot list containers: %s", docker_errmsg(a->docker));
		goto out;
	}
	if (agent_load_apps(a->db, "", &apps, &n) == -1)
		goto out;

	/* Containers of this instance that belong to no (live) app. */
	for (i = 0; i < l.n; i++) {
		lab = docker_labels_get(&l.v[i].labels, "slipway.app");
		found = 0;
		for (j = 0; lab != NULL && j < n && !found; j++)
			if (strcmp(apps[j].app_id, lab) == 0)
				found = 1;
		if (found)
			continue;
		log_info("removing container %.12s (%s): no such app",
		    l.v[i].id, l.v[i].name);
		if (docker_container_remove(a->docker, l.v[i].id, 1, 1) !=
		    DOCKER_OK)
			log_warnx("remove %.12s: %s", l.v[i].id,
			    docker_errmsg(a->docker));
	}

	for (j = 0; j < n; j++) {
		struct agent_app *app = &apps[j];

		if (agent_venv_handles(a->conf, app))
			continue;	/* host processes: agent_venv_start */
		if ((has_job = agent_app_has_job(a->db, app->rowid, 0)) != 0)
			continue;
		c = agent_find_container(&l, app);
		if (strcmp(app->status, "deleting") == 0) {
			agent_enqueue(a, app, JOB_DELETE, "deleting");
		} else if (strcmp(app->status, "queued") == 0 ||
		    strcmp(app->status, "building") == 0) {
			if (agent_sources_exist(a->conf, app))
				agent_enqueue(a, app, JOB_DEPLOY,
				    "deploy interrupted");
			else
				(void)agent_transition(a->conf, a->db,
				    app->rowid, app->app_id, "error", NULL, 1,
				    "the deploy was interrupted and the sources "
				    "are gone");
		} else if (strcmp(app->status, "starting") == 0) {
			agent_enqueue(a, app, strcmp(app->desired, "running") ==
			    0 ? JOB_START : JOB_STOP, "start interrupted");
		} else if (strcmp(app->status, "stopping") == 0) {
			agent_enqueue(a, app, JOB_STOP, "stop interrupted");
		} else if (strcmp(app->status, "running") == 0) {
			if (strcmp(app->desired, "running") != 0)
				agent_enqueue(a, app, JOB_STOP, "not wanted");
			else if (c != NULL && strcmp(c->state, "running") == 0) {
				(void)agent_app_set_text(a->db, app->rowid,
				    "docker_id", c->id);
				(void)agent_app_set_int(a->db, app->rowid,
				    "last_heartbeat", db_now());
				log_info("app %s: container %.12s adopted",
				    app->app_id, c->id);
			} else
				agent_enqueue(a, app, JOB_RESTART, c == NULL ?
				    "its container is gone" :
				    "its container is not running");
		} else if (c != NULL && strcmp(c->state, "running") == 0) {
			/* stopped, error, finished: nothing may run. */
			log_info("app %s is %s: stopping its container %.12s",
			    app->app_id, app->status, c->id);
			(void)docker_container_stop(a->docker, c->id,
			    AGENT_STOP_TIMEOUT);
		}
	}
	if (gpu_rederive(a->db) == -1)
		log_warnx("GPU reservations not re-derived");
	agent_routes_sync(a->conf, a->db);
	rc = 0;
out:
	agent_free_apps(apps, n);
	docker_container_list_release(&l);
	buf_release(&label);
	return rc;
}

/* ---- Periodic work: heartbeats, the safety poll, followers ---- */

static int
agent_quiet(struct agent *a, const char *cid)
{
	int64_t now = agent_now_ms();
	size_t i = 0;
	int q = 0;

	while (i < a->nquiet) {
		if (a->quiet[i].until <= now) {
			a->quiet[i] = a->quiet[--a->nquiet];
			continue;
		}
		if (strcmp(a->quiet[i].cid, cid) == 0)
			q = 1;
		i++;
	}
	return q;
}

static int
agent_following(const struct agent *a, const char *cid)
{
	size_t i;

	for (i = 0; i < a->nkids; i++)
		if (a->kids[i].kind == CHILD_FOLLOW &&
		    strcmp(a->kids[i].cid, cid) == 0)
			return 1;
	return 0;
}

static void
agent_start_follower(struct agent *a, const char *app_id, const char *cid)
{
	struct child *k;
	char *argv[6];
	pid_t pid;

	if (strlen(cid) >= sizeof(k->cid) || agent_following(a, cid) ||
	    agent_quiet(a, cid))
		return;
	argv[0] = (char *)"slipway-agent";
	argv[1] = (char *)"--follow";
	argv[2] = (char *)app_id;
	argv[3] = (char *)cid;
	argv[4] = a->ppid_arg;
	argv[5] = NULL;
	if ((pid = agent_spawn(argv)) == -1)
		return;
	k = agent_add_child(a);
	k->pid = pid;
	k->kind = CHILD_FOLLOW;
	(void)str_copy(k->cid, sizeof(k->cid), cid);
	(void)str_copy(k->app_id, sizeof(k->app_id), app_id);
}

static void
agent_tick(struct agent *a)
{
	struct docker_container_list l;
	const struct docker_container *c;
	struct agent_app *apps = NULL;
	struct buf label = BUF_INIT;
	struct death *d;
	const char *lab;
	size_t i, j, n = 0;
	int beat = agent_now_ms() >= a->next_heartbeat;

	memset(&l, 0, sizeof(l));
	buf_printf(&label, "slipway.instance=%s", a->inst);
	if (docker_container_list(a->docker, label.data, &l) != DOCKER_OK)
		goto out;
	if (agent_load_apps(a->db, "WHERE status IN ('starting', 'running')",
	    &apps, &n) == -1)
		goto out;
	for (j = 0; j < n; j++) {
		if (agent_venv_handles(a->conf, &apps[j]))
			continue;	/* host processes: agent_venv_tick */
		c = agent_find_container(&l, &apps[j]);
		if (c != NULL && strcmp(c->state, "running") == 0) {
			if (beat && strcmp(apps[j].status, "running") == 0)
				(void)agent_app_set_int(a->db, apps[j].rowid,
				    "last_heartbeat", db_now());
		} else if (strcmp(apps[j].status, "running") == 0 &&
		    apps[j].docker_id != NULL &&
		    agent_app_has_job(a->db, apps[j].rowid, 0) == 0) {
			/* Missed or never sent an event: look again soon. */
			d = agent_death_for(a, apps[j].app_id, apps[j].docker_id);
			if (d != NULL && d->due == 0) {
				d->time = (int64_t)time(NULL) - 1;
				d->due = agent_now_ms();
			}
		}
		/* Output of every running container of the app. */
		for (i = 0; i < l.n; i++) {
			lab = docker_labels_get(&l.v[i].labels, "slipway.app");
			if (lab != NULL && strcmp(lab, apps[j].app_id) == 0 &&
			    strcmp(l.v[i].state, "running") == 0)
				agent_start_follower(a, apps[j].app_id,
				    l.v[i].id);
		}
	}
	if (beat)
		a->next_heartbeat = agent_now_ms() + AGENT_HEARTBEAT_MS;
out:
	agent_free_apps(apps, n);
	docker_container_list_release(&l);
	buf_release(&label);
}

/* ---- Docker connection ---- */

static void
agent_connect(struct agent *a)
{
	if (docker_ping(a->docker) != DOCKER_OK ||
	    (a->ev = docker_events_open(a->docker, "slipway.app", 0,
	    agent_on_event, a)) == NULL) {
		if (!a->lost)
			log_warnx("Docker does not answer at %s: %s; retrying",
			    a->conf->docker_socket, docker_errmsg(a->docker));
		a->lost = 1;
		a->next_connect = agent_now_ms() + a->backoff_ms;
		a->backoff_ms = a->backoff_ms * 2 > AGENT_BACKOFF_MAX_MS ?
		    AGENT_BACKOFF_MAX_MS : a->backoff_ms * 2;
		return;
	}
	log_info("following Docker events");
	a->backoff_ms = AGENT_BACKOFF_MIN_MS;
	a->lost = 0;
	if (agent_reconcile(a) == -1)
		log_warnx("reconciliation incomplete");
	a->next_tick = 0;
}

static void
agent_disconnect(struct agent *a, const char *why)
{
	log_warnx("Docker event stream ended (%s): reconnecting", why);
	docker_events_close(a->ev);
	a->ev = NULL;
	a->ndeaths = 0;		/* reconciliation decides after reconnecting */
	a->lost = 1;
	a->next_connect = agent_now_ms() + AGENT_BACKOFF_MIN_MS;
	a->backoff_ms = AGENT_BACKOFF_MIN_MS;
}

static void
agent_drain(int fd)
{
	char b[256];

	for (;;) {
		if (recv(fd, b, sizeof(b), MSG_DONTWAIT) >= 0)
			continue;
		if (errno != EINTR)
			break;
	}
}

static void
agent_drain_pipe(int fd)
{
	char b[256];

	while (read(fd, b, sizeof(b)) > 0)
		;
}

static int
agent_timeout(const struct agent *a)
{
	int64_t now = agent_now_ms(), t = now + AGENT_POLL_MS;
	size_t i;

	/* the tick runs only while Docker is connected (agent_run) */
	if (a->ev != NULL && a->next_tick < t)
		t = a->next_tick;
	if (a->ev == NULL && a->next_connect < t)
		t = a->next_connect;
	for (i = 0; i < a->ndeaths; i++)
		if (a->deaths[i].due < t)
			t = a->deaths[i].due;
	return t <= now ? 0 : (int)(t - now);
}

/* Stop every child (SIGTERM, then SIGKILL) and reap them. */
static void
agent_stop_children(struct agent *a)
{
	int64_t until = agent_now_ms() + AGENT_SHUTDOWN_MS;
	size_t i;

	for (i = 0; i < a->nkids; i++)
		(void)kill(-a->kids[i].pid, SIGTERM);
	while (a->nkids > 0 && agent_now_ms() < until) {
		agent_reap(a);
		if (a->nkids > 0)
			agent_sleep_ms(50);
	}
	for (i = 0; i < a->nkids; i++) {
		(void)kill(-a->kids[i].pid, SIGKILL);
		while (waitpid(a->kids[i].pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	a->nkids = 0;
}

int
agent_run(const struct conf *conf, volatile int *quit)
{
	struct agent a;
	struct sigaction sa;
	struct pollfd pfd[2];
	enum docker_err e;
	int64_t next_venv_tick = 0;
	int sp[2] = { -1, -1 }, r, rc = -1;

	memset(&a, 0, sizeof(a));
	a.conf = conf;
	a.wake_fd = -1;
	a.backoff_ms = AGENT_BACKOFF_MIN_MS;
	(void)str_fmt(a.ppid_arg, sizeof(a.ppid_arg), "%ld", (long)getpid());
	if ((a.db = db_open(conf->db_path)) == NULL ||
	    agent_instance(a.db, a.inst) == -1 ||
	    (a.docker = docker_open(conf->docker_socket)) == NULL)
		goto out;
	(void)agent_mkdir(conf->logs_dir, 0755);
	(void)agent_mkdir(conf->uploads_dir, 0755);
	if ((a.wake_fd = agent_bind_wake(conf)) == -1)
		goto out;
	if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe");
		goto out;
	}
	agent_sigchld_fd = sp[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = agent_on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("agent %ld: instance %s, data %s", (long)getpid(), a.inst,
	    conf->data_dir);

	agent_venv_start(conf, a.db);	/* host apps: recovery, Docker or not */
	agent_connect(&a);
	while (!*quit) {
		pfd[0].fd = a.wake_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sp[0];
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (a.ev != NULL) {
			e = docker_events_wait(a.ev, pfd, 2, agent_timeout(&a));
			if (e != DOCKER_OK)
				agent_disconnect(&a, docker_events_errmsg(a.ev));
		} else {
			r = poll(pfd, 2, agent_timeout(&a));
			if (r == -1 && errno != EINTR)
				log_warn("poll");
		}
		if (*quit)
			break;
		agent_drain(a.wake_fd);
		agent_drain_pipe(sp[0]);
		agent_reap(&a);
		if (a.ev == NULL && agent_now_ms() >= a.next_connect)
			agent_connect(&a);
		agent_claim_jobs(&a);
		agent_process_deaths(&a);
		if (a.ev != NULL && agent_now_ms() >= a.next_tick) {
			agent_tick(&a);
			a.next_tick = agent_now_ms() + AGENT_TICK_MS;
		}
		if (agent_now_ms() >= next_venv_tick) {
			agent_venv_tick(conf, a.db);
			next_venv_tick = agent_now_ms() + AGENT_TICK_MS;
		}
		agent_watchdog(&a);
	}
	log_info("agent stopping");
	rc = 0;
out:
	agent_stop_children(&a);
	signal(SIGCHLD, SIG_DFL);
	agent_sigchld_fd = -1;
	if (sp[0] != -1)
		close(sp[0]);
	if (sp[1] != -1)
		close(sp[1]);
	if (a.wake_fd != -1) {
		close(a.wake_fd);
		(void)unlink(conf->agent_socket);
	}
	docker_events_close(a.ev);
	docker_close(a.docker);
	db_close(a.db);
	free(a.kids);
	free(a.deaths);
	free(a.quiet);
	return rc;
}
