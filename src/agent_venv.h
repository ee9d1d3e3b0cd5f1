/*
 * agent_venv: the host runtime for gradio and plugin apps, for hosts
 * without Docker (opt-in: SLIPWAY_GRADIO_RUNTIME=venv; "docker" or unset
 * keeps them on Docker).  Part of the agent (see agent.h, agent_int.h).
 *
 * An app runs as a Python venv per app, <data>/venvs/<app_id>, made with
 * SLIPWAY_PYTHON (default python3, searched in the agent's PATH):
 *   python -m venv [--without-pip] <venv>   (pip only when there is
 *                                             something to install)
 *   <venv>/bin/python -m pip install -r requirements.txt [gradio]
 * output live in the app log; the venv is reused while the interpreter
 * and the requirements stay the same (<venv>/.slipway-venv holds their
 * hash).  The app is then <venv>/bin/python <entry> (gradio: the entry
 * file; plugin: <venv>/slipway_launcher.py, plugin_launcher_py with the
 * working directory as the import root), started with fork+exec (posix_spawn
 * cannot drop privileges or set limits) and an argv, no shell:
 *   - cwd the app's sources, stdin /dev/null, stdout/stderr the app log;
 *   - its own session and process group (setsid);
 *   - as SLIPWAY_RUN_USER (setgroups/setgid/setuid; no_new_privs) when
 *     set: that user also creates the venv and runs pip, so an install
 *     never runs code as the agent's user; the venv is owned by it, the
 *     sources only need to be readable by it;
 *   - rlimits: RLIMIT_NOFILE AGENT_VENV_NOFILE, RLIMIT_AS
 *     SLIPWAY_APP_MEMORY and RLIMIT_NPROC SLIPWAY_APP_PIDS when set
 *     (NPROC counts every process of the run user);
 *   - a minimal environment, never the agent's: PATH (<venv>/bin first),
 *     HOME (<venv>/home), LANG, PYTHONUNBUFFERED, VIRTUAL_ENV,
 *     CUDA_VISIBLE_DEVICES (the reserved GPUs, "" when none) with
 *     CUDA_DEVICE_ORDER, then agent_job_env: PORT, ROOT_PATH,
 *     GRADIO_ROOT_PATH, GRADIO_SERVER_PORT, PLUGIN_PARAMS, the HF token
 *     only with SLIPWAY_PASS_HF_TOKEN=1, the app's envs; and
 *     GRADIO_SERVER_NAME=127.0.0.1: on the host the app must listen on
 *     loopback only (nginx is the way in).  pip also gets PIP_*_INDEX_URL,
 *     PIP_TRUSTED_HOST, PIP_FIND_LINKS and the proxy variables the agent
 *     has, if any.
 * Readiness is an HTTP answer on the app's host port, as for containers;
 * an exit before that fails the start with the tail of its output.
 *
 * Processes.  The app is forked by the job process, which exits once the
 * app answers: the app is then re-parented to init (or a subreaper) and
 * outlives the job and the daemon, so apps keep serving while the agent is
 * down or restarting.  The daemon never waits for it (it reaps only its
 * own children, by pid).  The app's pid and its start time (/proc/<pid>/
 * stat field 22) are in apps.host_pid, apps.host_pid_start: a process is
 * the app's only if both match and it is not a zombie, so a reused pid is
 * never signalled.  Stopping signals the whole session (every process
 * whose session id is the app's pid, which covers its process group and
 * children that made groups of their own): SIGTERM, AGENT_STOP_TIMEOUT
 * seconds, then SIGKILL.  (A child that calls setsid itself escapes; only
 * cgroups would catch it.)  Install steps run in sessions of their own
 * too, die with the job (PR_SET_PDEATHSIG) and are killed as a session on
 * a timeout or a cancel.
 *
 * Liveness and recovery (the daemon, with or without Docker): every
 * AGENT_TICK_MS a running app whose process is gone goes to 'error' and a
 * stop job cleans up after it (leftover processes, GPU, route); a live
 * process of an app that is not live is killed.  At start, running apps
 * whose process still lives are adopted, the others restarted; apps left
 * building/starting/stopping/deleting get their job again.  While Docker
 * does not answer, the daemon still claims the jobs of gradio and plugin
 * apps.  Delete removes the venv with the sources and the log.
 */
#ifndef SLIPWAY_AGENT_VENV_H
#define SLIPWAY_AGENT_VENV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct agent_app;
struct agent_job;
struct conf;
struct db;

/* apps.type values the host runtime takes over (SQL list). */
#include "jobs.h"
#define AGENT_VENV_TYPES_SQL	JOBS_HOST_TYPES_SQL

/* SLIPWAY_GRADIO_RUNTIME is "venv". */
int	agent_venv_enabled(const struct conf *);
/* Does the host runtime run this app?  1 or 0. */
int	agent_venv_handles(const struct conf *, const struct agent_app *);

/* The job (deploy, start, restart, stop, delete) of such an app: 0, or -1
 * with the reason in the job (agent_job_fail). */
int	agent_venv_job(struct agent_job *);

/* Daemon: at start (checks the setting; recovery), and every tick. */
void	agent_venv_start(const struct conf *, struct db *);
void	agent_venv_tick(const struct conf *, struct db *);

/*
 * Exposed for tests.  /proc/<pid>/stat text (len bytes): state, process
 * group, session and start time (field 22, clock ticks after boot).
 * 0, or -1 when malformed.
 */
struct agent_venv_stat {
	char	 state;
	pid_t	 pgrp;
	pid_t	 session;
	int64_t	 start;
};
int	agent_venv_parse_stat(const char *text, size_t len,
	    struct agent_venv_stat *out);

#endif
