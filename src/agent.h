/*
 * agent: slipway-agent, the one process per Docker host that turns queued
 * jobs into images, containers and routes, and keeps the apps table true to
 * what Docker runs.
 *
 * Processes.  The daemon (agent_run) never builds or waits on an app
 * itself: it claims jobs and runs each in a child process (the agent's own
 * binary, re-executed as `slipway-agent --job <id> <parent pid>`, with its
 * own database connection and Docker handle), at most AGENT_MAX_JOBS at
 * once of which at most AGENT_MAX_BUILDS deploys, so a long build never
 * holds up a stop or delete of another app.  Per app one job at a time, in
 * queue order.  Container output is copied into the app log by follower
 * children (`--follow <app_id> <container id>`).  The daemon reaps only
 * the children it started, by pid.
 *
 * Wake-ups.  A datagram on conf->agent_socket (jobs_wake), the Docker event
 * stream (label slipway.app: die, oom, health_status) and timers: the queue
 * is polled at least every AGENT_POLL_MS anyway, heartbeats and log
 * followers every AGENT_TICK_MS.  When the event stream ends (dockerd
 * restarted) the daemon reconnects with backoff and reconciles again.
 *
 * States.  Every change of apps.status goes through one function
 * (agent_transition), which also writes the reason to status_detail and
 * appends it to the app log <logs_dir>/<app_id>.log as
 * "<UTC time> [slipway] <status>: <reason>".  A row in 'deleting' is never
 * changed back.
 *
 * Liveness.  A container of a running app that dies (or goes unhealthy)
 * without a job of ours behind it is judged AGENT_DEATH_DELAY_MS later
 * (so a daemon shutting down is not mistaken for deaths): the app goes to
 * 'error' ('finished' on exit code 0), its GPU is released and a stop job
 * stops the container against its restart policy and takes the route
 * away.  The safety poll catches deaths whose event was missed.  While
 * Docker does not answer, no job is claimed.
 *
 * Labels.  Everything the agent creates carries slipway.app=<app_id>,
 * slipway.kind=<type> and slipway.instance=<this data directory's random
 * id> (meta 'agent_instance'); reconciliation and cleanup only ever touch
 * objects with this instance's label (so several slipway installations,
 * or test stacks, can share one Docker daemon).  Images:
 * slipway/<app_id>:latest; containers: slipway-<app_id>; gradio
 * dependency layers: slipway/deps:<sha256> (label slipway.deps); compose
 * projects: slipway-<app_id>.
 *
 * Recovery (agent_reconcile, at start and after Docker came back): jobs
 * left running by a dead agent are queued again; running containers of
 * running apps are adopted; running apps without a live container are
 * restarted (a restart job: rebuilt when the image is gone); apps left
 * building/starting/stopping/deleting without a job get their job again;
 * containers of this instance without an app row are removed; GPU
 * reservations re-derived; routes rendered once.
 *
 * Environment read by the agent besides struct conf (all optional):
 *   SLIPWAY_GRADIO_PACKAGE  gradio   added to requirements; empty: never
 *   SLIPWAY_APP_MEMORY      (none)   memory limit per container (512m)
 *   SLIPWAY_APP_PIDS        (none)   pids limit per container
 *   SLIPWAY_PASS_HF_TOKEN   0        1: pass HF_TOKEN/HUGGINGFACE_HUB_TOKEN
 *   SLIPWAY_COMPOSE         docker-compose   compose program (PATH search);
 *                                    "docker" runs the plugin (docker compose)
 */
#ifndef SLIPWAY_AGENT_H
#define SLIPWAY_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct conf;
struct db;

/*
 * The daemon: bind the wake-up socket, recover, then loop until SIGTERM or
 * SIGINT (which set *quit; the caller installs the handlers).  Returns 0
 * after a clean shutdown (children stopped and reaped), -1 if it could not
 * start.
 */
int	agent_run(const struct conf *, volatile int *quit);

/*
 * Child entry points (the daemon starts them; main_agent.c dispatches on
 * argv).  They return the process exit status.
 */
int	agent_job_main(const struct conf *, int64_t job_id, pid_t parent);
int	agent_follow_main(const struct conf *, const char *app_id,
	    const char *container_id, pid_t parent);

/*
 * The one place apps.status changes.  from: NULL-terminated statuses the
 * row must be in (NULL: any but 'deleting'); idle_only: only when the app
 * has no pending or running job.  Returns 1 when changed, 0 when the row
 * was not in a state that allows it (or is gone), -1 on error.
 */
int	agent_transition(const struct conf *, struct db *, int64_t app_rowid,
	    const char *app_id, const char *status, const char *const *from,
	    int idle_only, const char *detail);

/*
 * Append "<UTC time> [slipway] <msg>" (control bytes escaped) to the app
 * log, creating it; best effort.
 */
void	agent_applog(const struct conf *, const char *app_id, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));

/*
 * Exposed for tests.
 *
 * requirements_lists(text, pkg): 1 if a requirements.txt text names the
 * distribution pkg (case-insensitive, '-' '_' '.' equal) on a line of its
 * own (with or without a version or extras), else 0.
 */
int	agent_requirements_lists(const char *text, const char *pkg);
/*
 * Docker log timestamp ("2024-05-01T10:00:00.123456789Z ", RFC 3339 with
 * 0 to 9 fraction digits) to nanoseconds since the epoch; -1 if malformed.
 * *rest points after the single space that follows it.
 */
int64_t	agent_log_timestamp(const char *line, size_t len, size_t *rest);

#endif
