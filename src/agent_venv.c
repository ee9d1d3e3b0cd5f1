/*
 * agent_venv: gradio and plugin apps as host processes in a venv
 * (SLIPWAY_GRADIO_RUNTIME=venv); see agent_venv.h for the whole design.
 * Job side: the venv, the install, the process (fork+exec), readiness,
 * stop and delete.  Daemon side: recovery at start and the liveness tick.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <sqlite3.h>

#include "agent.h"
#include "agent_int.h"
#include "agent_venv.h"
#include "archive.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "gpu.h"
#include "jobs.h"
#include "log.h"
#include "ports.h"
#include "sha256.h"
#include "valid.h"
#include "yamlcfg.h"

#define VENV_LAUNCHER		"slipway_launcher.py"	/* in the venv */
#define VENV_STAMP		".slipway-venv"		/* python + requirements hash */
#define VENV_HOME		"home"			/* HOME of the app */
/* The launcher's import root is its own folder; here it is the cwd. */
#define VENV_LAUNCHER_ROOT	\
	"ROOT = os.path.dirname(os.path.abspath(__file__))\n"
#define VENV_LAUNCHER_CWD	"ROOT = os.getcwd()\n"

/* Variables an install (pip) may take from the agent's environment. */
static const char *const venv_pip_pass[] = {
	"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST",
	"PIP_FIND_LINKS", "http_proxy", "https_proxy", "no_proxy",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", NULL
};

/* ------------------------------------------------------------------ */
/* Settings                                                            */

int
agent_venv_enabled(const struct conf *conf)
{
	return conf->gradio_venv;
}

int
agent_venv_handles(const struct conf *conf, const struct agent_app *app)
{
	return agent_venv_enabled(conf) && (app->type == AGENT_APP_GRADIO ||
	    app->type == AGENT_APP_PLUGIN);
}

/* ------------------------------------------------------------------ */
/* Processes: /proc, identity, signalling the session                  */

int
agent_venv_parse_stat(const char *text, size_t len, struct agent_venv_stat *out)
{
	const char *p, *end = text + len;
	long long v[20];
	char *e;
	int i;

	/* "pid (comm) state ppid pgrp session ..." where comm may hold
	 * anything: the state follows the last ')'. */
	for (p = end; p > text && p[-1] != ')'; p--)
		;
	if (p == text || end - p < 3 || p[0] != ' ')
		return -1;
	p++;
	if (!isalpha((unsigned char)p[0]) || p[1] != ' ')
		return -1;
	out->state = p[0];
	p += 2;
	/* Fields 4 (ppid) to 22 (starttime). */
	for (i = 0; i < 19; i++) {
		if (p >= end || !(isdigit((unsigned char)*p) || *p == '-'))
			return -1;
		errno = 0;
		v[i] = strtoll(p, &e, 10);
		if (errno != 0 || e == p || e > end || (e < end && *e != ' ' &&
		    *e != '\n'))
			return -1;
		p = e + (e < end ? 1 : 0);
	}
	if (v[1] < 0 || v[1] > INT_MAX || v[2] < 0 || v[2] > INT_MAX ||
	    v[18] < 0)
		return -1;
	out->pgrp = (pid_t)v[1];
	out->session = (pid_t)v[2];
	out->start = v[18];
	return 0;
}

/* Read /proc/<pid>/stat.  0, or -1 (no such process, or unreadable). */
static int
venv_stat(pid_t pid, struct agent_venv_stat *out)
{
	char path[64], text[AGENT_VENV_STAT_MAX];
	ssize_t n;
	int fd;

	if (pid <= 0 || str_fmt(path, sizeof(path), "/proc/%ld/stat",
	    (long)pid) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((n = read(fd, text, sizeof(text))) == -1 && errno == EINTR)
		;
	close(fd);
	if (n <= 0)
		return -1;
	return agent_venv_parse_stat(text, (size_t)n, out);
}

enum venv_pstate {
	VENV_P_NONE,	/* nothing recorded */
	VENV_P_ALIVE,	/* the app's leader runs (pid, start time match) */
	VENV_P_EXITED,	/* leader gone (or a zombie): members may remain */
	VENV_P_REUSED,	/* the pid is someone else's now: touch nothing */
	VENV_P__MAX
};

static enum venv_pstate
venv_check(pid_t pid, int64_t start)
{
	struct agent_venv_stat ps;

	if (pid <= 1)
		return VENV_P_NONE;
	/*
	 * A pid stays allocated while any process uses it as its session
	 * or group id: with no process of that pid, every process whose
	 * session is pid is one the app left behind.
	 */
	if (venv_stat(pid, &ps) == -1)
		return VENV_P_EXITED;
	if (ps.start != start || ps.session != pid)
		return VENV_P_REUSED;
	if (ps.state == 'Z' || ps.state == 'X' || ps.state == 'x')
		return VENV_P_EXITED;
	return VENV_P_ALIVE;
}

/*
 * sig to every live process of session sid (sig 0: count them).  Returns
 * how many there were.
 */
static int
venv_signal_session(pid_t sid, int sig)
{
	struct agent_venv_stat ps;
	struct dirent *de;
	long long n;
	DIR *d;
	int count = 0;

	if (sid <= 1 || (d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    valid_int(de->d_name, 2, INT_MAX, &n) == -1)
			continue;
		if (venv_stat((pid_t)n, &ps) == -1 || ps.session != sid ||
		    ps.state == 'Z' || ps.state == 'X' || ps.state == 'x')
			continue;
		if (sig == 0 || kill((pid_t)n, sig) == 0)
			count++;
	}
	closedir(d);
	return count;
}

/*
 * Stop the app's processes: SIGTERM to its group and session, up to
 * grace_ms for them to go, then SIGKILL.  child: pid is our own child
 * (reaped here).  0 when nothing is left, -1 if something survived.
 */
static int
venv_kill(pid_t pid, int64_t start, int grace_ms, int child)
{
	int64_t t0 = agent_now_ms(), until;
	int sig, left = 0;

	for (sig = SIGTERM; ; sig = SIGKILL) {
		switch (venv_check(pid, start)) {
		case VENV_P_NONE:
		case VENV_P_REUSED:
			return 0;
		case VENV_P_ALIVE:
			(void)kill(-pid, sig);
			break;
		default:
			break;
		}
		(void)venv_signal_session(pid, sig);
		until = agent_now_ms() + (sig == SIGTERM ? grace_ms :
		    AGENT_VENV_KILL_WAIT_MS);
		for (;;) {
			if (child)
				(void)waitpid(pid, NULL, WNOHANG);
			left = venv_check(pid, start) == VENV_P_ALIVE ||
			    venv_signal_session(pid, 0) > 0;
			if (!left || agent_now_ms() >= until)
				break;
			agent_sleep_ms(AGENT_VENV_POLL_MS);
		}
		if (!left || sig == SIGKILL)
			break;
	}
	if (child)
		(void)waitpid(pid, NULL, WNOHANG);
	log_info("session %ld: %s after %" PRId64 " ms", (long)pid, left ?
	    "processes survive SIGKILL" : sig == SIGKILL ? "gone (SIGKILL)" :
	    "gone (SIGTERM)", agent_now_ms() - t0);
	return left ? -1 : 0;
}

/* apps.host_pid, host_pid_start: 0 and *pid 0 when none recorded. */
static int
venv_pid_get(struct db *db, int64_t rowid, pid_t *pid, int64_t *start)
{
	sqlite3_stmt *st;
	int64_t p;
	int rc = -1;

	st = db_prepare(db, "SELECT ifnull(host_pid, 0), "
	    "ifnull(host_pid_start, 0) FROM apps WHERE id = ?");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, rowid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		p = sqlite3_column_int64(st, 0);
		*pid = p > 1 && p <= INT_MAX ? (pid_t)p : 0;
		*start = sqlite3_column_int64(st, 1);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Record the app's process (pid 0: none). */
static int
venv_pid_set(struct db *db, int64_t rowid, pid_t pid, int64_t start)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "UPDATE apps SET host_pid = ?, host_pid_start = ? "
	    "WHERE id = ?");
	if (st == NULL)
		return -1;
	if (pid > 0) {
		db_bind_int(st, 1, pid);
		db_bind_int(st, 2, start);
	} else {
		sqlite3_bind_null(st, 1);
		sqlite3_bind_null(st, 2);
	}
	db_bind_int(st, 3, rowid);
	return db_exec_stmt(db, st);
}

/* ------------------------------------------------------------------ */
/* Starting programs: fork + exec, no shell                            */

struct venv_user {
	int	 set;
	uid_t	 uid;
	gid_t	 gid;
	gid_t	 groups[AGENT_VENV_GROUPS_MAX];
	int	 ngroups;
};

struct venv_cmd {
	const char		*path;		/* absolute program */
	char *const		*argv;
	char *const		*envp;
	const char		*cwd;
	int			 outfd;		/* stdout and stderr */
	const struct venv_user	*user;
	int			 app;		/* the app: outlives the job */
	int64_t			 memory;	/* RLIMIT_AS; 0: none */
	int64_t			 nproc;		/* RLIMIT_NPROC; 0: none */
};

/* What failed between fork and exec (sent up a pipe). */
enum venv_step {
	VENV_STEP_SESSION,
	VENV_STEP_STDIO,
	VENV_STEP_LIMITS,
	VENV_STEP_CWD,
	VENV_STEP_USER,
	VENV_STEP_EXEC,
	VENV_STEP__MAX
};
static const char *const venv_step_names[VENV_STEP__MAX] = {
	"setsid",		/* VENV_STEP_SESSION */
	"stdin/stdout",		/* VENV_STEP_STDIO */
	"setrlimit",		/* VENV_STEP_LIMITS */
	"chdir",		/* VENV_STEP_CWD */
	"switching user",	/* VENV_STEP_USER */
	"exec",			/* VENV_STEP_EXEC */
};

struct venv_report {
	int	step;
	int	err;
};

/* SLIPWAY_RUN_USER: 0 (u->set 0 when unset), or -1 (job failed). */
static int
venv_user_load(struct agent_job *c, struct venv_user *u)
{
	const char *name = c->conf->run_user;
	struct passwd pw, *res = NULL;
	char *pwbuf = NULL;
	long sz;
	int n, e, rc = -1;

	memset(u, 0, sizeof(*u));
	if (name == NULL)
		return 0;
	if ((sz = sysconf(_SC_GETPW_R_SIZE_MAX)) < 1024)
		sz = 16384;
	pwbuf = xmalloc((size_t)sz);
	if ((e = getpwnam_r(name, &pw, pwbuf, (size_t)sz, &res)) != 0 ||
	    res == NULL) {
		agent_job_fail(c, "SLIPWAY_RUN_USER: no user %s", name);
		goto out;
	}
	if (pw.pw_uid == 0 || pw.pw_gid == 0) {
		agent_job_fail(c, "SLIPWAY_RUN_USER must not be root");
		goto out;
	}
	n = AGENT_VENV_GROUPS_MAX;
	if (getgrouplist(name, pw.pw_gid, u->groups, &n) == -1) {
		agent_job_fail(c, "SLIPWAY_RUN_USER %s is in more than %d "
		    "groups", name, AGENT_VENV_GROUPS_MAX);
		goto out;
	}
	u->ngroups = n;
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	u->set = 1;
	rc = 0;
out:
	free(pwbuf);
	return rc;
}

/* Close every descriptor from lo up (close_range when there is one). */
static void
venv_close_from(int lo, int hi)
{
	int fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0) == 0)
		return;
#endif
	for (fd = lo; fd <= hi && fd < 65536; fd++)
		(void)close(fd);
}

/* The child between fork and exec: system calls only. */
static void __attribute__((noreturn))
venv_child(const struct venv_cmd *cmd, int nullfd, int outfd, int errfd,
    pid_t parent)
{
	struct venv_report r;
	struct sigaction sa;
	struct rlimit rl;
	sigset_t none;
	int sig;

	r.step = VENV_STEP_SESSION;
	if (setsid() == -1)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* Install steps die with the job; the app does not. */
	if (!cmd->app && (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    getppid() != parent))
		_exit(127);
	r.step = VENV_STEP_STDIO;
	if (dup2(nullfd, 0) == -1 || dup2(outfd, 1) == -1 ||
	    dup2(outfd, 2) == -1)
		goto fail;
	venv_close_from(3, errfd - 1);
	venv_close_from(errfd + 1, INT_MAX);
	r.step = VENV_STEP_LIMITS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		goto fail;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > AGENT_VENV_NOFILE)
		rl.rlim_max = AGENT_VENV_NOFILE;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		goto fail;
	if (cmd->memory > 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)cmd->memory;
		if (setrlimit(RLIMIT_AS, &rl) == -1)
			goto fail;
	}
	if (cmd->nproc > 0 && cmd->user->set) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)cmd->nproc;
		if (setrlimit(RLIMIT_NPROC, &rl) == -1)
			goto fail;
	}
	r.step = VENV_STEP_CWD;
	if (chdir(cmd->cwd) == -1)
		goto fail;
	r.step = VENV_STEP_USER;
	if (cmd->user->set) {
		if (setgroups((size_t)cmd->user->ngroups,
		    cmd->user->groups) == -1 || setgid(cmd->user->gid) == -1 ||
		    setuid(cmd->user->uid) == -1)
			goto fail;
		if (getuid() != cmd->user->uid || geteuid() != cmd->user->uid ||
		    getgid() != cmd->user->gid || setuid(0) != -1) {
			errno = EPERM;
			goto fail;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		goto fail;
	r.step = VENV_STEP_EXEC;
	execve(cmd->path, cmd->argv, cmd->envp);
fail:
	r.err = errno;
	(void)!write(errfd, &r, sizeof(r));
	_exit(127);
}

/*
 * Start cmd in a session of its own.  The pid, or -1 (job failed: what
 * names the program in the message).
 */
static pid_t
venv_spawn(struct agent_job *c, const struct venv_cmd *cmd, const char *what)
{
	struct venv_report r;
	int pfd[2] = { -1, -1 }, errfd = -1, nullfd = -1, outfd = -1, tmp = -1;
	pid_t pid = -1, me = getpid();
	ssize_t n;

	/* Every descriptor the child uses is above 2 (dup2 onto 0-2). */
	if ((tmp = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1 ||
	    (nullfd = fcntl(tmp, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    (outfd = fcntl(cmd->outfd, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    pipe2(pfd, O_CLOEXEC) == -1 ||
	    (errfd = fcntl(pfd[1], F_DUPFD_CLOEXEC, 3)) == -1) {
		log_warn("%s: descriptors", what);
		agent_job_fail(c, "internal error (descriptors)");
		goto out;
	}
	close(pfd[1]);
	pfd[1] = -1;
	if ((pid = fork()) == -1) {
		log_warn("fork");
		agent_job_fail(c, "internal error (fork)");
		goto out;
	}
	if (pid == 0)
		venv_child(cmd, nullfd, outfd, errfd, me);
	close(errfd);
	errfd = -1;
	while ((n = read(pfd[0], &r, sizeof(r))) == -1 && errno == EINTR)
		;
	if (n == 0)
		goto out;	/* exec'd: the pipe closed on exec */
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	pid = -1;
	if (n == (ssize_t)sizeof(r) && r.step >= 0 && r.step < VENV_STEP__MAX)
		agent_job_fail(c, "cannot start %s: %s: %s", what,
		    venv_step_names[r.step], strerror(r.err));
	else
		agent_job_fail(c, "cannot start %s", what);
out:
	if (tmp != -1)
		close(tmp);
	if (nullfd != -1)
		close(nullfd);
	if (outfd != -1)
		close(outfd);
	if (pfd[0] != -1)
		close(pfd[0]);
	if (pfd[1] != -1)
		close(pfd[1]);
	if (errfd != -1)
		close(errfd);
	return pid;
}

/*
 * Run an install step to its end: 0 when it exits 0.  On a cancel or
 * past deadline (ms) its session is killed.  Leftovers of a finished step
 * (daemons it started in its session) are killed too.  While it runs it
 * is the app's recorded process: if the job dies (PR_SET_PDEATHSIG kills
 * only the step itself), the next job or the tick ends its session.
 */
static int
venv_run_step(struct agent_job *c, const struct venv_cmd *cmd, const char *what,
    int64_t deadline)
{
	struct agent_venv_stat ps;
	pid_t pid, r;
	int status = 0;

	if ((pid = venv_spawn(c, cmd, what)) == -1)
		return -1;
	if (venv_stat(pid, &ps) == 0)
		(void)venv_pid_set(c->db, c->app.rowid, pid, ps.start);
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r == -1 && errno != EINTR) {
			log_warn("waitpid %ld", (long)pid);
			agent_job_fail(c, "internal error (waitpid)");
			(void)kill(-pid, SIGKILL);
			return -1;
		}
		if (agent_job_cancelled(c) || agent_now_ms() >= deadline) {
			(void)kill(-pid, SIGKILL);
			(void)venv_signal_session(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
				;
			(void)venv_pid_set(c->db, c->app.rowid, 0, 0);
			agent_job_fail(c, "%s took longer than %d s", what,
			    c->conf->build_timeout);
			return -1;
		}
		agent_sleep_ms(AGENT_VENV_POLL_MS);
	}
	(void)venv_signal_session(pid, SIGKILL);
	(void)venv_pid_set(c->db, c->app.rowid, 0, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		agent_job_fail(c, "%s failed (signal %d)", what,
		    WTERMSIG(status));
	else
		agent_job_fail(c, "%s failed (exit code %d)", what,
		    WEXITSTATUS(status));
	return -1;
}

/* ------------------------------------------------------------------ */
/* Environments                                                        */

/* "KEY=value" strings of e, NULL-terminated; GRADIO_SERVER_NAME forced to
 * loopback.  Free with venv_envp_free. */
static char **
venv_envp(const struct agent_env *e)
{
	char **v = xcalloc(e->n + 1, sizeof(*v));
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < e->n; i++) {
		buf_reset(&b);
		buf_printf(&b, "%s=%s", e->v[i].key,
		    strcmp(e->v[i].key, "GRADIO_SERVER_NAME") == 0 ?
		    "127.0.0.1" : e->v[i].value);
		v[i] = xstrdup(b.data);
	}
	buf_release(&b);
	return v;
}

static void
venv_envp_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* ------------------------------------------------------------------ */
/* The venv                                                            */

struct venv_ctx {
	struct buf		 src;		/* uploads/<app_id> */
	struct buf		 dir;		/* <data>/venvs/<app_id> */
	struct buf		 home;		/* <dir>/home */
	struct buf		 python;	/* <dir>/bin/python */
	struct buf		 entry;		/* argv[1] of the app */
	struct venv_user	 user;
};

static void
venv_ctx_init(struct agent_job *c, struct venv_ctx *v)
{
	memset(v, 0, sizeof(*v));
	buf_init(&v->src);
	buf_init(&v->dir);
	buf_init(&v->home);
	buf_init(&v->python);
	buf_init(&v->entry);
	agent_job_path(c, &v->src, "");
	buf_printf(&v->dir, "%s/venvs/%s", c->conf->data_dir, c->app.app_id);
	buf_printf(&v->home, "%s/" VENV_HOME, v->dir.data);
	buf_printf(&v->python, "%s/bin/python", v->dir.data);
}

static void
venv_ctx_release(struct venv_ctx *v)
{
	buf_release(&v->src);
	buf_release(&v->dir);
	buf_release(&v->home);
	buf_release(&v->python);
	buf_release(&v->entry);
}

/* PATH, HOME, LANG, PYTHONUNBUFFERED, VIRTUAL_ENV: every step has them. */
static void
venv_env_base(const struct venv_ctx *v, struct agent_env *e)
{
	struct buf path = BUF_INIT;

	buf_printf(&path, "%s/bin:%s", v->dir.data, AGENT_VENV_PATH);
	agent_env_add(e, "PATH", path.data);
	agent_env_add(e, "HOME", v->home.data);
	agent_env_add(e, "LANG", AGENT_VENV_LANG);
	agent_env_add(e, "PYTHONUNBUFFERED", "1");
	agent_env_add(e, "VIRTUAL_ENV", v->dir.data);
	buf_release(&path);
}

/* SLIPWAY_PYTHON as an absolute path (searched in the agent's PATH). */
static int
venv_find_python(struct agent_job *c, struct buf *out)
{
	const char *want = c->conf->python, *path, *p, *e;
	struct buf cand = BUF_INIT;
	struct stat st;
	size_t n;
	int rc = -1;

	if (want == NULL)
		want = AGENT_VENV_PYTHON;
	if (strchr(want, '/') != NULL) {
		if (want[0] == '/' && stat(want, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(want, X_OK) == 0) {
			buf_adds(out, want);
			return 0;
		}
		agent_job_fail(c, "SLIPWAY_PYTHON %s is not an absolute path to "
		    "a program", want);
		return -1;
	}
	if ((path = getenv("PATH")) == NULL || path[0] == '\0')
		path = AGENT_VENV_PATH;
	for (p = path; rc == -1 && *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		if (n == 0 || p[0] != '/')
			continue;
		buf_reset(&cand);
		buf_add(&cand, p, n);
		buf_printf(&cand, "/%s", want);
		if (stat(cand.data, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand.data, X_OK) == 0) {
			buf_add(out, cand.data, cand.len);
			rc = 0;
		}
	}
	if (rc == -1)
		agent_job_fail(c, "SLIPWAY_PYTHON %s not found in PATH", want);
	buf_release(&cand);
	return rc;
}

/* A relative .py path of safe components (gradio entry). */
static int
venv_entry_ok(const char *s)
{
	const char *p = s;
	size_t n, i;

	n = strlen(s);
	if (n < 4 || n > 255 || s[0] == '/' || strcmp(s + n - 3, ".py") != 0)
		return 0;
	while (*p != '\0') {
		n = strcspn(p, "/");
		if (n == 0 || p[0] == '.' || p[0] == '-')
			return 0;
		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '_' &&
			    p[i] != '.' && p[i] != '-')
				return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

/* Anything to install in a requirements text? */
static int
venv_requirements_nonempty(const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p != '\n' && *p != '#' && *p != '\0')
			return 1;
		if ((p = strchr(p, '\n')) == NULL)
			break;
		p++;
	}
	return 0;
}

/* mkdir (fresh) owned by the run user when there is one. */
static int
venv_mkdir_owned(const char *path, mode_t mode, const struct venv_user *u)
{
	if (mkdir(path, mode) == -1) {
		log_warn("mkdir %s", path);
		return -1;
	}
	if (u->set && chown(path, u->uid, u->gid) == -1) {
		log_warn("chown %s", path);
		return -1;
	}
	return 0;
}

/*
 * The run user reaches <data>/venvs/<id> and <data>/uploads/<id> (whose
 * files unpack world-readable) through directories the agent made 0750:
 * they get search permission for others (o+x, never read: the random
 * app ids cannot be listed).
 */
static int
venv_searchable(struct agent_job *c, const char *dir)
{
	struct stat st;

	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warn("stat %s", dir);
		agent_job_fail(c, "internal error (data directory)");
		return -1;
	}
	if ((st.st_mode & S_IXOTH) != 0)
		return 0;
	if (chmod(dir, (st.st_mode & 07777) | S_IXOTH) == -1) {
		log_warn("chmod %s", dir);
		agent_job_fail(c, "internal error (data directory)");
		return -1;
	}
	log_info("%s made searchable (o+x) for SLIPWAY_RUN_USER", dir);
	agent_applog_fd(c->logfd, "%s made searchable (o+x) for "
	    "SLIPWAY_RUN_USER", dir);
	return 0;
}

/*
 * The entry (and for plugins the launcher text), checked like the Docker
 * build does.
 */
static int
venv_entry(struct agent_job *c, struct venv_ctx *v, struct buf *launcher)
{
	struct plugin_config cfg;
	struct app_detect det;
	struct buf path = BUF_INIT;
	const char *entry;
	char err[512], *at;
	struct stat st;
	int rc = -1;

	if (c->app.type == AGENT_APP_PLUGIN) {
		buf_printf(&path, "%s/config.yaml", v->src.data);
		if (plugin_config_load(path.data, &cfg, err, sizeof(err)) == -1 ||
		    plugin_config_check_tree(&cfg, v->src.data, err,
		    sizeof(err)) == -1) {
			agent_job_fail(c, "%s", err);
			goto out;
		}
		if (plugin_launcher_py(&cfg, launcher) == -1 ||
		    (at = strstr(launcher->data, VENV_LAUNCHER_ROOT)) == NULL) {
			agent_job_fail(c, "config.yaml: cannot make the launcher");
			goto out;
		}
		/* The launcher lives in the venv: its import root is the cwd. */
		buf_reset(&path);
		buf_add(&path, launcher->data, (size_t)(at - launcher->data));
		buf_adds(&path, VENV_LAUNCHER_CWD);
		buf_adds(&path, at + strlen(VENV_LAUNCHER_ROOT));
		buf_reset(launcher);
		buf_add(launcher, path.data, path.len);
		buf_printf(&v->entry, "%s/" VENV_LAUNCHER, v->dir.data);
		agent_applog_fd(c->logfd, "plugin %s@%s, entrypoint %s", cfg.code,
		    cfg.version, cfg.entrypoint);
		rc = 0;
		goto out;
	}
	entry = c->app.entry;
	if (entry == NULL || entry[0] == '\0') {
		if (archive_detect_app(v->src.data, &det) == -1 ||
		    det.kind != ARCHIVE_APP_GRADIO) {
			agent_job_fail(c, "no Python entry file found");
			goto out;
		}
		entry = det.entry;
	}
	if (!venv_entry_ok(entry)) {
		agent_job_fail(c, "the entry file name is not allowed");
		goto out;
	}
	buf_printf(&path, "%s/%s", v->src.data, entry);
	if (lstat(path.data, &st) == -1 || !S_ISREG(st.st_mode)) {
		agent_job_fail(c, "the entry file %s is missing", entry);
		goto out;
	}
	buf_adds(&v->entry, entry);
	rc = 0;
out:
	buf_release(&path);
	return rc;
}

/*
 * The app's venv, made (or kept, when python and the requirements are
 * unchanged), and its entry.  Sets 'building' when it builds.
 */
static int
venv_prepare(struct agent_job *c, struct venv_ctx *v)
{
	struct buf host = BUF_INIT, reqs = BUF_INIT, path = BUF_INIT;
	struct buf stamp = BUF_INIT, launcher = BUF_INIT, key = BUF_INIT;
	struct agent_env env;
	struct venv_cmd cmd;
	char hex[2 * SHA256_LEN + 1], **envp = NULL;
	const char *pkg = c->conf->gradio_package, *argv[12];
	int64_t deadline;
	struct stat st;
	size_t i, na;
	int add = 0, has_file = 0, install, rc = -1;

	memset(&env, 0, sizeof(env));
	memset(&cmd, 0, sizeof(cmd));
	deadline = agent_now_ms() + (int64_t)c->conf->build_timeout * 1000;
	if (venv_user_load(c, &v->user) == -1 || venv_find_python(c, &host) == -1 ||
	    venv_entry(c, v, &launcher) == -1)
		goto out;
	buf_printf(&path, "%s/venvs", c->conf->data_dir);
	if (agent_mkdir(path.data, 0755) == -1) {
		agent_job_fail(c, "internal error (venv directory)");
		goto out;
	}
	if (v->user.set && (venv_searchable(c, c->conf->data_dir) == -1 ||
	    venv_searchable(c, c->conf->uploads_dir) == -1 ||
	    venv_searchable(c, path.data) == -1))
		goto out;
	buf_reset(&path);

	/* Requirements, plus the gradio package unless listed or disabled. */
	buf_printf(&path, "%s/requirements.txt", v->src.data);
	if (lstat(path.data, &st) == 0 && S_ISREG(st.st_mode)) {
		if (agent_read_file(path.data, AGENT_REQUIREMENTS_MAX, &reqs) == -1) {
			agent_job_fail(c, "requirements.txt cannot be read (at most "
			    "%d bytes)", AGENT_REQUIREMENTS_MAX);
			goto out;
		}
		if (memchr(reqs.data, '\0', reqs.len) != NULL) {
			agent_job_fail(c, "requirements.txt is not text");
			goto out;
		}
		has_file = venv_requirements_nonempty(reqs.data);
	}
	if (pkg[0] != '\0' && !agent_requirements_lists(reqs.data, pkg)) {
		if (pkg[0] == '-' || strpbrk(pkg, " \t\r\n") != NULL) {
			agent_job_fail(c, "SLIPWAY_GRADIO_PACKAGE is not a "
			    "requirement");
			goto out;
		}
		add = 1;
	}
	install = has_file || add;

	/* Reuse the venv while python and the requirements are the same. */
	buf_printf(&key, "slipway-venv-v1\n%s\n%ld\n%s\n", host.data,
	    v->user.set ? (long)v->user.uid : -1L, add ? pkg : "");
	buf_add(&key, reqs.data, reqs.len);
	sha256_hex(key.data, key.len, hex);
	buf_reset(&path);
	buf_printf(&path, "%s/" VENV_STAMP, v->dir.data);
	if (agent_read_file(path.data, 256, &stamp) == 0 &&
	    strcmp(stamp.data, hex) == 0 && lstat(v->python.data, &st) == 0) {
		agent_applog_fd(c->logfd, "requirements unchanged: reusing the "
		    "venv %.12s", hex);
		goto entry;
	}

	if (strcmp(c->app.status, "building") != 0)
		(void)agent_job_set_status(c, "building", "making the venv");
	if (tree_remove(v->dir.data) == -1 ||
	    venv_mkdir_owned(v->dir.data, 0755, &v->user) == -1 ||
	    venv_mkdir_owned(v->home.data, 0700, &v->user) == -1) {
		agent_job_fail(c, "internal error (venv directory)");
		goto out;
	}
	venv_env_base(v, &env);
	envp = venv_envp(&env);
	na = 0;
	argv[na++] = host.data;
	argv[na++] = "-m";
	argv[na++] = "venv";
	if (!install)
		argv[na++] = "--without-pip";
	argv[na++] = v->dir.data;
	argv[na] = NULL;
	cmd.path = host.data;
	cmd.argv = (char *const *)argv;
	cmd.envp = envp;
	cmd.cwd = v->dir.data;
	cmd.outfd = c->logfd;
	cmd.user = &v->user;
	agent_applog_fd(c->logfd, "making the venv: %s -m venv%s%s", host.data,
	    install ? "" : " --without-pip", v->user.set ? " (as "
	    "SLIPWAY_RUN_USER)" : "");
	if (venv_run_step(c, &cmd, install ? "python -m venv (with pip, to "
	    "install requirements)" : "python -m venv", deadline) == -1)
		goto out;
	if (install) {
		for (i = 0; venv_pip_pass[i] != NULL; i++) {
			const char *val = getenv(venv_pip_pass[i]);

			if (val != NULL && valid_env_value(val) == 0)
				agent_env_add(&env, venv_pip_pass[i], val);
		}
		agent_env_add(&env, "PIP_DISABLE_PIP_VERSION_CHECK", "1");
		agent_env_add(&env, "PIP_NO_INPUT", "1");
		venv_envp_free(envp);
		envp = venv_envp(&env);
		na = 0;
		argv[na++] = v->python.data;
		argv[na++] = "-m";
		argv[na++] = "pip";
		argv[na++] = "install";
		if (has_file) {
			argv[na++] = "-r";
			argv[na++] = "requirements.txt";
		}
		if (add)
			argv[na++] = pkg;
		argv[na] = NULL;
		cmd.path = v->python.data;
		cmd.envp = envp;
		cmd.cwd = v->src.data;
		agent_applog_fd(c->logfd, "installing requirements: pip install%s%s%s",
		    has_file ? " -r requirements.txt" : "", add ? " " : "",
		    add ? pkg : "");
		if (venv_run_step(c, &cmd, "pip install", deadline) == -1)
			goto out;
	}
	buf_reset(&path);
	buf_printf(&path, "%s/" VENV_STAMP, v->dir.data);
	if (agent_write_file(path.data, hex, strlen(hex), 0644) == -1) {
		agent_job_fail(c, "internal error (venv stamp)");
		goto out;
	}
	agent_applog_fd(c->logfd, "venv %s ready", v->dir.data);
entry:
	if (c->app.type == AGENT_APP_PLUGIN) {
		if (agent_write_file(v->entry.data, launcher.data, launcher.len,
		    0644) == -1) {
			agent_job_fail(c, "internal error (launcher)");
			goto out;
		}
	}
	rc = 0;
out:
	venv_envp_free(envp);
	agent_env_release(&env);
	buf_release(&host);
	buf_release(&reqs);
	buf_release(&path);
	buf_release(&stamp);
	buf_release(&launcher);
	buf_release(&key);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The app: start, readiness                                           */


/* The job fails with what the app wrote to the log since offset from. */
static void
venv_fail_tail(struct agent_job *c, off_t from, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
venv_fail_tail(struct agent_job *c, off_t from, const char *fmt, ...)
{
	struct buf msg = BUF_INIT, tail = BUF_INIT, path = BUF_INIT;
	char data[AGENT_DETAIL_MAX];
	off_t end;
	ssize_t n = 0;
	size_t start = 0;
	va_list ap;
	int fd = -1;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	/* The job's log descriptor is write-only: the log opened again. */
	if (from >= 0 && agent_applog_path(c->conf, c->app.app_id, &path) == 0 &&
	    (fd = open(path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) != -1 &&
	    (end = lseek(fd, 0, SEEK_END)) > from) {
		if (end - from > (off_t)sizeof(data))
			from = end - (off_t)sizeof(data);
		n = pread(fd, data, (size_t)(end - from), from);
	}
	if (fd != -1)
		close(fd);
	if (n > 0) {
		/* Whole lines only, unless the text is one long line. */
		if ((size_t)n == sizeof(data))
			while (start < (size_t)n && data[start++] != '\n')
				;
		if (start >= (size_t)n)
			start = 0;
		agent_detail_clean(&tail, data + start, (size_t)n - start,
		    AGENT_DETAIL_MAX);
	}
	if (tail.len > 0)
		agent_job_fail(c, "%s; last output:\n%s", msg.data, tail.data);
	else
		agent_job_fail(c, "%s", msg.data);
	buf_release(&msg);
	buf_release(&tail);
	buf_release(&path);
}

/*
 * Reserve GPU and port, start the app, record its process, wait until it
 * answers HTTP, then 'running'.  On failure its processes are gone.
 */
static int
venv_launch(struct agent_job *c, struct venv_ctx *v)
{
	struct agent_gpu_ids gpus;
	struct agent_env env;
	struct venv_cmd cmd;
	enum ports_result pr;
	char cuda[GPU_MAX * 4], **envp = NULL;
	const char *argv[3];
	int64_t t0, deadline, start = 0;
	struct agent_venv_stat ps;
	pid_t pid = -1;
	off_t logpos = -1;
	int port = 0, status, rc = -1;

	memset(&env, 0, sizeof(env));
	memset(&cmd, 0, sizeof(cmd));
	if (agent_job_gpus(c, &gpus) == -1)
		goto out;
	cuda[0] = '\0';
	if (c->app.vram_required > 0 && gpu_cuda_visible_devices(c->app.gpus,
	    cuda, sizeof(cuda)) == -1) {
		agent_job_fail(c, "internal error (GPU ids)");
		goto out;
	}
	pr = ports_reserve(c->db, c->app.rowid, c->conf->port_min,
	    c->conf->port_max, 0, &port);
	if (pr == PORTS_EXHAUSTED) {
		agent_job_fail(c, "no free port in %d-%d", c->conf->port_min,
		    c->conf->port_max);
		goto out;
	}
	if (pr != PORTS_OK || agent_app_set_int(c->db, c->app.rowid,
	    "container_port", port) == -1) {
		agent_job_fail(c, "internal error (ports)");
		goto out;
	}
	/* Ours first: the app's envs cannot replace them (noted in the log). */
	venv_env_base(v, &env);
	agent_env_add(&env, "CUDA_VISIBLE_DEVICES", cuda);
	agent_env_add(&env, "CUDA_DEVICE_ORDER", GPU_CUDA_DEVICE_ORDER);
	if (agent_job_env(c, port, &env) == -1)
		goto out;
	envp = venv_envp(&env);
	argv[0] = v->python.data;
	argv[1] = v->entry.data;
	argv[2] = NULL;
	cmd.path = v->python.data;
	cmd.argv = (char *const *)argv;
	cmd.envp = envp;
	cmd.cwd = v->src.data;
	cmd.outfd = c->logfd;
	cmd.user = &v->user;
	cmd.app = 1;
	cmd.memory = c->conf->app_memory;
	cmd.nproc = c->conf->app_pids;
	if (c->logfd < 0) {
		agent_job_fail(c, "the app log cannot be opened");
		goto out;
	}
	agent_applog_fd(c->logfd, "starting python %s on 127.0.0.1:%d",
	    v->entry.data, port);
	logpos = lseek(c->logfd, 0, SEEK_END);	/* the app's output from here */
	if ((pid = venv_spawn(c, &cmd, "the app")) == -1)
		goto out;
	if (venv_stat(pid, &ps) == 0)
		start = ps.start;
	if (start == 0 || venv_pid_set(c->db, c->app.rowid, pid, start) == -1) {
		agent_job_fail(c, "internal error (recording the process)");
		goto fail;
	}
	log_info("app %s: process %ld started", c->app.app_id, (long)pid);

	/* The route now: nginx reloads while the app comes up. */
	agent_routes_sync(c->conf, c->db);
	t0 = agent_now_ms();
	deadline = t0 + (int64_t)c->conf->start_timeout * 1000;
	for (;;) {
		if (agent_job_cancelled(c))
			goto fail;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (WIFSIGNALED(status))
				venv_fail_tail(c, logpos, "the app was killed by "
				    "signal %d before answering", WTERMSIG(status));
			else
				venv_fail_tail(c, logpos, "the app exited with code "
				    "%d before answering", WEXITSTATUS(status));
			goto fail;
		}
		if (agent_http_probe(port, AGENT_PROBE_CONNECT_MS, AGENT_PROBE_READ_MS) == 0)
			break;
		if (agent_now_ms() >= deadline) {
			venv_fail_tail(c, logpos, "not answering HTTP on port %d "
			    "after %d s", port, c->conf->start_timeout);
			goto fail;
		}
		agent_sleep_ms(AGENT_PROBE_RETRY_MS);
	}
	agent_applog_fd(c->logfd, "process %ld answering on port %d after %"
	    PRId64 " ms", (long)pid, port, agent_now_ms() - t0);
	if (agent_job_running(c, port) == -1)
		goto out;	/* changed meanwhile: the tick or a stop cleans up */
	rc = 0;
	goto out;
fail:
	if (venv_kill(pid, start, AGENT_STOP_TIMEOUT * 1000, 1) == -1)
		log_warnx("app %s: processes of session %ld survived SIGKILL",
		    c->app.app_id, (long)pid);
	(void)waitpid(pid, NULL, WNOHANG);
	(void)venv_pid_set(c->db, c->app.rowid, 0, 0);
	(void)gpu_release(c->db, c->app.rowid);
out:
	venv_envp_free(envp);
	agent_env_release(&env);
	return rc;
}

/* Stop the recorded process (if any) and forget it. */
static int
venv_stop_recorded(struct agent_job *c)
{
	pid_t pid = 0;
	int64_t start = 0;

	if (venv_pid_get(c->db, c->app.rowid, &pid, &start) == -1) {
		agent_job_fail(c, "internal error (database)");
		return -1;
	}
	if (pid == 0)
		return 0;
	if (venv_kill(pid, start, AGENT_STOP_TIMEOUT * 1000, 0) == -1) {
		agent_job_fail(c, "the app's processes did not stop");
		return -1;
	}
	agent_applog_fd(c->logfd, "process %ld and its session stopped",
	    (long)pid);
	if (venv_pid_set(c->db, c->app.rowid, 0, 0) == -1) {
		agent_job_fail(c, "internal error (database)");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The jobs                                                            */

/* deploy, start, restart. */
static int
venv_up(struct agent_job *c, int deploy, int restart)
{
	struct venv_ctx v;
	int rc = -1;

	if (strcmp(c->app.desired, "running") != 0) {
		if (deploy && strcmp(c->app.desired, "stopped") == 0)
			(void)agent_job_set_status(c, "stopped", "stopped before it "
			    "was deployed");
		else if (!deploy)
			agent_applog_fd(c->logfd, "not started: the app is to be %s",
			    c->app.desired);
		return 0;
	}
	if (agent_job_set_status(c, deploy ? "building" : "starting", deploy ?
	    "making the venv" : restart ? "restarting" : "starting") != 1) {
		agent_job_fail(c, "the app changed meanwhile");
		return -1;
	}
	venv_ctx_init(c, &v);
	if (venv_stop_recorded(c) == -1 || venv_prepare(c, &v) == -1 ||
	    agent_job_cancelled(c))
		goto out;
	if (strcmp(c->app.status, "starting") != 0)
		(void)agent_job_set_status(c, "starting", "starting the app");
	rc = venv_launch(c, &v);
out:
	venv_ctx_release(&v);
	return rc;
}

/* The user's stop, or the clean-up after the process died (status kept). */
static int
venv_stop(struct agent_job *c)
{
	int user = strcmp(c->app.desired, "stopped") == 0;

	if (user && strcmp(c->app.status, "stopped") != 0)
		(void)agent_job_set_status(c, "stopping", "stopping");
	if (venv_stop_recorded(c) == -1)
		return -1;
	(void)gpu_release(c->db, c->app.rowid);
	if (user)
		(void)agent_job_set_status(c, "stopped", "stopped");
	else if (agent_transition(c->conf, c->db, c->app.rowid, c->app.app_id,
	    "error", agent_status_live, 0, "the app was stopped") == 1)
		agent_applog_fd(c->logfd, "stopped without a stop request");
	agent_routes_sync(c->conf, c->db);
	return 0;
}

/* The process, the venv, the sources, the log, port, GPU, route, row. */
static int
venv_delete(struct agent_job *c)
{
	static const char *const dirs[] = { "", ".build", ".deps" };
	struct venv_ctx v;
	struct buf p = BUF_INIT;
	size_t i;
	int rc = -1;

	venv_ctx_init(c, &v);
	if (strcmp(c->app.status, "deleting") != 0) {
		agent_job_fail(c, "the app is not being deleted");
		goto out;
	}
	agent_routes_sync(c->conf, c->db);	/* 'deleting' has no route */
	if (venv_stop_recorded(c) == -1)
		goto out;
	if (tree_remove(v.dir.data) == -1)
		agent_job_fail(c, "cannot remove the venv");
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		agent_job_path(c, &p, dirs[i]);
		if (tree_remove(p.data) == -1)
			agent_job_fail(c, "cannot remove the app's files");
	}
	buf_reset(&p);
	if (agent_applog_path(c->conf, c->app.app_id, &p) == 0 &&
	    unlink(p.data) == -1 && errno != ENOENT)
		log_warn("unlink %s", p.data);
	if (c->err.len > 0)
		goto out;
	rc = agent_job_forget(c);
out:
	venv_ctx_release(&v);
	buf_release(&p);
	return rc;
}

int
agent_venv_job(struct agent_job *c)
{
	switch (c->kind) {
	case JOB_DEPLOY:
		return venv_up(c, 1, 0);
	case JOB_START:
		return venv_up(c, 0, 0);
	case JOB_RESTART:
		return venv_up(c, 0, 1);
	case JOB_STOP:
		return venv_stop(c);
	case JOB_DELETE:
		return venv_delete(c);
	default:
		agent_job_fail(c, "unknown job kind");
		return -1;
	}
}

/* ------------------------------------------------------------------ */
/* The daemon: recovery and liveness                                   */

struct venv_row {
	struct agent_app	 app;
	pid_t			 pid;
	int64_t			 start;
	int64_t			 heartbeat;
};

/* The host runtime's apps (where: extra SQL condition). */
static int
venv_rows(struct db *db, const char *where, struct venv_row **out, size_t *n)
{
	struct buf sql = BUF_INIT;
	struct venv_row *v = NULL;
	sqlite3_stmt *st;
	size_t cap = 0, cnt = 0;
	int64_t p;
	int r;

	buf_printf(&sql, "SELECT " AGENT_APP_COLUMNS ", ifnull(host_pid, 0), "
	    "ifnull(host_pid_start, 0), ifnull(last_heartbeat, 0) FROM apps "
	    "WHERE type IN (" AGENT_VENV_TYPES_SQL ") %s ORDER BY id", where);
	st = db_prepare(db, sql.data);
	buf_release(&sql);
	if (st == NULL)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, st_mult(cap, sizeof(*v)));
		}
		if (agent_app_fill(st, &v[cnt].app) == -1)
			continue;
		p = sqlite3_column_int64(st, 15);
		v[cnt].pid = p > 1 && p <= INT_MAX ? (pid_t)p : 0;
		v[cnt].start = sqlite3_column_int64(st, 16);
		v[cnt].heartbeat = sqlite3_column_int64(st, 17);
		cnt++;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		while (cnt > 0)
			agent_app_release(&v[--cnt].app);
		free(v);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static void
venv_rows_free(struct venv_row *v, size_t n)
{
	while (n > 0)
		agent_app_release(&v[--n].app);
	free(v);
}

static void
venv_enqueue(const struct conf *conf, struct db *db, const struct agent_app *app,
    enum job_kind k, const char *why)
{
	if (jobs_enqueue(db, app->rowid, k, NULL) == 0) {
		agent_applog(conf, app->app_id, "%s: %s queued", why,
		    jobs_kind_name(k));
		log_info("app %s: %s: %s queued", app->app_id, why,
		    jobs_kind_name(k));
	}
}

/* Processes of an app that must not run: killed without waiting. */
static void
venv_kill_stray(const struct conf *conf, struct db *db,
    const struct venv_row *r)
{
	enum venv_pstate s = venv_check(r->pid, r->start);

	if (s == VENV_P_ALIVE)
		(void)kill(-r->pid, SIGKILL);
	if (s == VENV_P_ALIVE || s == VENV_P_EXITED) {
		if (venv_signal_session(r->pid, SIGKILL) > 0 || s == VENV_P_ALIVE)
			agent_applog(conf, r->app.app_id, "the app is %s: its "
			    "process %ld was killed", r->app.status, (long)r->pid);
	}
	(void)venv_pid_set(db, r->app.rowid, 0, 0);
}

void
agent_venv_start(const struct conf *conf, struct db *db)
{
	struct venv_row *rows = NULL;
	struct agent_app *app;
	const char *py = conf->python, *user = conf->run_user;
	size_t i, n = 0;
	int r;

	if (!agent_venv_enabled(conf))
		return;
	log_info("gradio and plugin apps run in venvs on this host (python %s, "
	    "user %s)", py != NULL ? py : AGENT_VENV_PYTHON,
	    user != NULL ? user : "of the agent");
	if ((r = jobs_requeue_orphans(db, (long)getpid())) > 0)
		log_info("%d interrupted job(s) queued again", r);
	if (venv_rows(db, "", &rows, &n) == -1) {
		log_warnx("host apps not recovered");
		return;
	}
	for (i = 0; i < n; i++) {
		app = &rows[i].app;
		if (agent_app_has_job(db, app->rowid, 0) != 0)
			continue;
		if (strcmp(app->status, "deleting") == 0)
			venv_enqueue(conf, db, app, JOB_DELETE, "deleting");
		else if (strcmp(app->status, "queued") == 0 ||
		    strcmp(app->status, "building") == 0)
			venv_enqueue(conf, db, app, JOB_DEPLOY, "deploy interrupted");
		else if (strcmp(app->status, "starting") == 0)
			venv_enqueue(conf, db, app, strcmp(app->desired,
			    "running") == 0 ? JOB_START : JOB_STOP,
			    "start interrupted");
		else if (strcmp(app->status, "stopping") == 0)
			venv_enqueue(conf, db, app, JOB_STOP, "stop interrupted");
		else if (strcmp(app->status, "running") == 0) {
			if (strcmp(app->desired, "running") != 0)
				venv_enqueue(conf, db, app, JOB_STOP, "not wanted");
			else if (venv_check(rows[i].pid, rows[i].start) ==
			    VENV_P_ALIVE) {
				(void)agent_app_set_int(db, app->rowid,
				    "last_heartbeat", db_now());
				agent_applog(conf, app->app_id, "process %ld "
				    "adopted", (long)rows[i].pid);
				log_info("app %s: process %ld adopted", app->app_id,
				    (long)rows[i].pid);
			} else
				venv_enqueue(conf, db, app, JOB_RESTART,
				    "its process is gone");
		} else if (rows[i].pid != 0)
			venv_kill_stray(conf, db, &rows[i]);
	}
	venv_rows_free(rows, n);
	if (gpu_rederive(db) == -1)
		log_warnx("GPU reservations not re-derived");
	agent_routes_sync(conf, db);
}

void
agent_venv_tick(const struct conf *conf, struct db *db)
{
	struct venv_row *rows = NULL;
	struct agent_app *app;
	size_t i, n = 0;
	int64_t now = db_now();
	int r;

	if (!agent_venv_enabled(conf) || venv_rows(db, "AND (host_pid IS NOT NULL "
	    "OR status = 'running')", &rows, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		app = &rows[i].app;
		if (agent_app_has_job(db, app->rowid, 0) != 0)
			continue;
		if (strcmp(app->status, "running") == 0) {
			if (venv_check(rows[i].pid, rows[i].start) ==
			    VENV_P_ALIVE) {
				if (now - rows[i].heartbeat >=
				    AGENT_HEARTBEAT_MS / 1000)
					(void)agent_app_set_int(db, app->rowid,
					    "last_heartbeat", now);
				continue;
			}
			r = agent_transition(conf, db, app->rowid, app->app_id,
			    "error", agent_status_live, 1, rows[i].pid != 0 ?
			    "the app's process exited" : "the app has no process");
			if (r == 1) {
				(void)gpu_release(db, app->rowid);
				(void)jobs_enqueue(db, app->rowid, JOB_STOP, NULL);
			}
		} else if (strcmp(app->status, "starting") != 0 &&
		    strcmp(app->status, "stopping") != 0 && rows[i].pid != 0)
			venv_kill_stray(conf, db, &rows[i]);
	}
	venv_rows_free(rows, n);
}
