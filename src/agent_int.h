/*
 * agent_int: what the agent's files share (not for other modules; the
 * public interface is agent.h).
 *
 *   agent.c          app rows, the app log, state transitions, helpers
 *   agent_build.c    images: docker build, gradio/plugin Dockerfiles with a
 *                    dependency layer, docker save loads
 *   agent_compose.c  compose projects (check, normalise, up, down)
 *   agent_job.c      one job in a child process: run, readiness, the jobs
 *   agent_follow.c   container output into the app log
 *   agent_daemon.c   the daemon: children, events, deaths, reconciliation
 */
#ifndef SLIPWAY_AGENT_INT_H
#define SLIPWAY_AGENT_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "buf.h"
#include "caps.h"
#include "docker.h"
#include "jobs.h"

struct conf;
struct db;

/* ---- agent.c: helpers ---- */

int64_t	agent_now_ms(void);			/* CLOCK_MONOTONIC */
void	agent_sleep_ms(int);
int	agent_write_all(int fd, const void *, size_t);
/* A whole new file (whatever was at path unlinked first).  0 or -1. */
int	agent_write_file(const char *path, const char *data, size_t len,
	    mode_t mode);
/* A small regular file (not a symlink) appended to out.  0, or -1 (errno). */
int	agent_read_file(const char *path, size_t max, struct buf *out);
int	agent_mkdir(const char *path, mode_t mode);	/* EEXIST is fine */
/* Untrusted text for status_detail: control bytes but \n \t as '?', at
 * most max bytes (cut on a UTF-8 boundary). */
void	agent_detail_clean(struct buf *out, const char *s, size_t len,
	    size_t max);

/* ---- agent.c: app rows ---- */

enum agent_app_type {
	AGENT_APP_DOCKER,	/* a Dockerfile, built as is */
	AGENT_APP_GRADIO,	/* generated Dockerfile: python <entry> */
	AGENT_APP_COMPOSE,	/* docker-compose project */
	AGENT_APP_IMAGE,	/* a docker save tarball */
	AGENT_APP_PLUGIN,	/* Synapse plugin: gradio launcher */
	AGENT_APP__MAX
};
/* apps.type values, indexed by enum agent_app_type. */
extern const char *const agent_type_names[AGENT_APP__MAX];

/* The columns of apps the agent works with; release with agent_app_release. */
struct agent_app {
	int64_t			 rowid;
	char			 app_id[APP_ID_LEN + 1];
	enum agent_app_type	 type;
	char			*name;
	char			*status;
	char			*desired;
	char			*docker_id;	/* may be NULL */
	char			*image;		/* image id, may be NULL */
	char			*entry;		/* may be NULL */
	char			*gpus;
	char			*envs;		/* JSON object text */
	char			*params;	/* JSON object text, may be NULL */
	int			 port;		/* 0: none */
	int			 container_port;
	int64_t			 vram_required;
};

#define AGENT_APP_COLUMNS	"id, app_id, type, name, status, desired, " \
	"docker_id, image, entry, gpus, envs, params, ifnull(port, 0), " \
	"ifnull(container_port, 0), vram_required"

void	agent_app_release(struct agent_app *);
/* From a statement selecting AGENT_APP_COLUMNS.  0, or -1 (logged). */
int	agent_app_fill(sqlite3_stmt *, struct agent_app *);
/* 1 loaded, 0 no such row, -1 error. */
int	agent_app_load(struct db *, int64_t rowid, struct agent_app *);
int	agent_app_load_by_id(struct db *, const char *app_id,
	    struct agent_app *);
/* Re-read status and desired.  0, or -1 (also when the row is gone). */
int	agent_app_refresh(struct db *, struct agent_app *);
int	agent_app_set_text(struct db *, int64_t rowid, const char *col,
	    const char *val);
/* val INT64_MIN: NULL. */
int	agent_app_set_int(struct db *, int64_t rowid, const char *col,
	    int64_t val);
/* A pending or running job other than except: 1, 0, -1 on error. */
int	agent_app_has_job(struct db *, int64_t rowid, int64_t except);

/* Status lists for agent_transition's from. */
extern const char *const agent_status_live[];		/* running, starting */
extern const char *const agent_status_starting[];	/* starting */
extern const char *const agent_status_transient[];	/* queued .. stopping */

/* ---- agent.c: the app log, instance, routes ---- */

int	agent_applog_path(const struct conf *, const char *app_id,
	    struct buf *out);
int	agent_applog_open(const struct conf *, const char *app_id);
/* "<UTC time> [slipway] <msg>" on fd (ignored when fd < 0). */
void	agent_applog_fd(int fd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* This data directory's instance label (16 hex digits, made once). */
int	agent_instance(struct db *, char out[17]);
/* ngxconf_sync, failures logged. */
void	agent_routes_sync(const struct conf *, struct db *);

/* ---- agent_job.c: the job context ---- */

struct agent_job {
	const struct conf	*conf;
	struct db		*db;
	struct docker		*docker;
	struct agent_app	 app;
	int64_t			 job_id;
	enum job_kind		 kind;
	pid_t			 parent;
	int			 logfd;
	char			 inst[17];
	char			 tag[48];	/* slipway/<app_id>:latest */
	char			 cname[32];	/* slipway-<app_id> */
	struct buf		 err;		/* why it failed (status_detail) */
	int64_t			 next_check;	/* ms: next look at desired */
	int			 cancelled;	/* desired changed: give up */
	int			 watch_desired;	/* deploy/start/restart */
	int64_t			 build_deadline;/* ms */
	int			 wait_gpu;	/* SLIPWAY_GPU_WAIT: queue again */
};

/*
 * A job process exits with this when its job must go back to the queue
 * (an app waiting for GPU room): the daemon requeues it after reaping the
 * process, so it is never claimed twice at once.
 */
#define AGENT_EXIT_REQUEUE	75

/* The first reason a job fails (client-fit text). */
void	agent_job_fail(struct agent_job *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* "what: <Docker's message, cleaned>". */
void	agent_job_fail_docker(struct agent_job *, const char *what,
	    enum docker_err);
/* The same with the container's last output appended (cid may be NULL). */
void	agent_job_fail_tail(struct agent_job *, const char *cid,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Cancel hook (docker_cancel_fn): desired changed, or the daemon died. */
int	agent_job_cancelled(void *job);
/* docker_log_fn: text into the app log. */
void	agent_job_log(void *job, const char *text, size_t len);
/* agent_transition for the job's app; 1 changed, 0 not, -1 error. */
int	agent_job_set_status(struct agent_job *, const char *status,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* slipway.app, slipway.kind, slipway.instance. */
void	agent_job_labels(const struct agent_job *, struct docker_kv out[3]);
/* <uploads_dir>/<app_id><suffix> into out (reset first). */
void	agent_job_path(const struct agent_job *, struct buf *out,
	    const char *suffix);

/* The container environment. */
struct agent_env {
	struct docker_kv	*v;
	size_t			 n, cap;
	char			**owned;
	size_t			 n_owned;
};
void	agent_env_add(struct agent_env *, const char *key, const char *value);
void	agent_env_release(struct agent_env *);
/* PORT, ROOT_PATH, GRADIO_*, PLUGIN_PARAMS, HF token, the app's envs. */
int	agent_job_env(struct agent_job *, int container_port,
	    struct agent_env *);

/* GPU reservation: device ids for Docker. */
struct agent_gpu_ids {
	char		 s[GPU_MAX][8];
	const char	*p[GPU_MAX];
	size_t		 n;
};
int	agent_job_gpus(struct agent_job *, struct agent_gpu_ids *);
/* Wait for HTTP on the host port (cid, may be NULL, watched for exits). */
int	agent_job_wait_ready(struct agent_job *, const char *cid, int port);
/* Route, then 'running'. */
int	agent_job_running(struct agent_job *, int port);
void	agent_job_remove_container(struct agent_job *, const char *id);
/* Every container labelled slipway.app=<app_id>. */
void	agent_job_remove_labelled(struct agent_job *);

/* ---- agent_build.c ---- */

/* Build (or load) the app's image; apps.image set.  *image_id: free(). */
int	agent_build_image(struct agent_job *, char **image_id);
/* Is ref an image of this app and instance?  1, 0 (or absent), -1. */
int	agent_build_is_ours(struct agent_job *, const char *ref);
/* Remove the app's other images (after a deploy). */
void	agent_build_prune_old(struct agent_job *, const char *keep);

/* ---- agent_compose.c ---- */

/* Deploy (build), start, or restart (recreate) the compose project. */
int	agent_compose_up(struct agent_job *, int build, int recreate);
/* down; purge: -v --rmi local and every labelled container. */
int	agent_compose_down(struct agent_job *, int purge);

/*
 * One HTTP request to 127.0.0.1:port: 0 when anything that looks like an
 * HTTP response comes back (any status), -1 otherwise (agent_job.c).
 */
int	agent_http_probe(int port, int connect_ms, int read_ms);
/* The last step of a delete: port, GPUs, row, route (agent_job.c). */
int	agent_job_forget(struct agent_job *);

#endif
