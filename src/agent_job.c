/*
 * agent_job: one claimed job, run in a child process of the daemon
 * (`slipway-agent --job <id> <parent pid>`) with its own database
 * connection and Docker handle: deploy, start, restart, stop, delete; the
 * container's environment, GPU reservation, port, creation and readiness.
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "agent.h"
#include "agent_int.h"
#include "agent_venv.h"

#define AGENT_GPU_WAIT_DETAIL "waiting for %" PRId64 " MiB of GPU memory"
#include "archive.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "docker.h"
#include "gpu.h"
#include "jobs.h"
#include "log.h"
#include "ports.h"
#include "valid.h"

/* ------------------------------------------------------------------ */
/* A job, run in a child process                                       */

void
agent_job_fail(struct agent_job *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err.len > 0)	/* keep the first reason */
		return;
	va_start(ap, fmt);
	buf_vprintf(&c->err, fmt, ap);
	va_end(ap);
}

/* Docker's message (untrusted) for a failure, cleaned and capped. */
void
agent_job_fail_docker(struct agent_job *c, const char *what, enum docker_err e)
{
	struct buf m = BUF_INIT;
	const char *msg = docker_errmsg(c->docker);

	agent_detail_clean(&m, msg, strlen(msg), AGENT_DETAIL_MAX);
	if (m.len > 0)
		agent_job_fail(c, "%s: %s", what, m.data);
	else
		agent_job_fail(c, "%s: %s", what, docker_err_str(e));
	buf_release(&m);
}

/*
 * Has the app been stopped or deleted meanwhile (or our parent died)?
 * Looks at the database at most once a second.  Also the cancel hook of
 * long Docker calls.
 */
int
agent_job_cancelled(void *arg)
{
	struct agent_job *c = arg;
	int64_t now;

	if (c->cancelled)
		return 1;
	if (getppid() != c->parent) {
		c->cancelled = 1;
		agent_job_fail(c, "the agent stopped");
		return 1;
	}
	if (!c->watch_desired || (now = agent_now_ms()) < c->next_check)
		return 0;
	c->next_check = now + 1000;
	if (agent_app_refresh(c->db, &c->app) == -1 ||
	    strcmp(c->app.status, "deleting") == 0 ||
	    strcmp(c->app.desired, "running") != 0) {
		c->cancelled = 1;
		agent_job_fail(c, "cancelled: the app was %s meanwhile",
		    strcmp(c->app.desired, "deleted") == 0 ? "deleted" :
		    "stopped");
	}
	return c->cancelled;
}

void
agent_job_log(void *arg, const char *text, size_t len)
{
	struct agent_job *c = arg;

	if (c->logfd >= 0)
		(void)agent_write_all(c->logfd, text, len);
}

int
agent_job_set_status(struct agent_job *c, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int
agent_job_set_status(struct agent_job *c, const char *status, const char *fmt, ...)
{
	struct buf d = BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	buf_vprintf(&d, fmt, ap);
	va_end(ap);
	rc = agent_transition(c->conf, c->db, c->app.rowid, c->app.app_id,
	    status, NULL, 0, d.data);
	if (rc == 1) {
		free(c->app.status);
		c->app.status = xstrdup(status);
	}
	buf_release(&d);
	return rc;
}

/* The labels of everything made for the app. */
void
agent_job_labels(const struct agent_job *c, struct docker_kv labels[3])
{
	labels[0].key = "slipway.app";
	labels[0].value = c->app.app_id;
	labels[1].key = "slipway.kind";
	labels[1].value = agent_type_names[c->app.type];
	labels[2].key = "slipway.instance";
	labels[2].value = c->inst;
}

void
agent_job_path(const struct agent_job *c, struct buf *out, const char *suffix)
{
	buf_reset(out);
	buf_printf(out, "%s/%s%s", c->conf->uploads_dir, c->app.app_id, suffix);
}


/* ------------------------------------------------------------------ */
/* Running: environment, container, readiness                          */

void
agent_env_add(struct agent_env *e, const char *key, const char *value)
{
	char *k = xstrdup(key), *v = xstrdup(value);

	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 16;
		e->v = xrealloc(e->v, st_mult(e->cap, sizeof(*e->v)));
		e->owned = xrealloc(e->owned, st_mult(e->cap * 2,
		    sizeof(*e->owned)));
	}
	e->owned[e->n_owned++] = k;
	e->owned[e->n_owned++] = v;
	e->v[e->n].key = k;
	e->v[e->n].value = v;
	e->n++;
}

static const char *
agent_env_get(const struct agent_env *e, const char *key)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strcmp(e->v[i].key, key) == 0)
			return e->v[i].value;
	return NULL;
}

void
agent_env_release(struct agent_env *e)
{
	size_t i;

	for (i = 0; i < e->n_owned; i++)
		free(e->owned[i]);
	free(e->owned);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/*
 * PORT (the port inside the container), ROOT_PATH, GRADIO_*, PLUGIN_PARAMS,
 * the Hugging Face token where the operator allows it, then the app's own
 * envs (names and values validated; slipway's names win).
 */
int
agent_job_env(struct agent_job *c, int container_port, struct agent_env *e)
{
	char num[16], root[32];
	json_object *o = NULL;
	const char *v;
	size_t before;
	int rc = -1;

	if (str_fmt(num, sizeof(num), "%d", container_port) == -1 ||
	    str_fmt(root, sizeof(root), "/apps/%s", c->app.app_id) == -1)
		return -1;
	agent_env_add(e, "PORT", num);
	agent_env_add(e, "ROOT_PATH", root);
	agent_env_add(e, "GRADIO_ROOT_PATH", root);
	agent_env_add(e, "GRADIO_SERVER_NAME", "0.0.0.0");
	agent_env_add(e, "GRADIO_SERVER_PORT", num);
	if (c->app.params != NULL && c->app.params[0] != '\0' &&
	    valid_env_value(c->app.params) == 0)
		agent_env_add(e, "PLUGIN_PARAMS", c->app.params);
	else if (c->app.type == AGENT_APP_PLUGIN)
		agent_env_add(e, "PLUGIN_PARAMS", "{}");
	if (c->conf->pass_hf_token) {
		if ((v = getenv("HF_TOKEN")) != NULL && valid_env_value(v) == 0)
			agent_env_add(e, "HF_TOKEN", v);
		if ((v = getenv("HUGGINGFACE_HUB_TOKEN")) != NULL &&
		    valid_env_value(v) == 0)
			agent_env_add(e, "HUGGINGFACE_HUB_TOKEN", v);
	}
	before = e->n;
	if ((o = json_tokener_parse(c->app.envs)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		agent_job_fail(c, "the app's envs are not a JSON object");
		goto out;
	}
	json_object_object_foreach(o, key, val) {
		if (e->n - before >= LIMIT_ENVS) {
			agent_job_fail(c, "too many envs (at most %d)", LIMIT_ENVS);
			goto out;
		}
		if (json_object_is_type(val, json_type_object) ||
		    json_object_is_type(val, json_type_array)) {
			agent_job_fail(c, "env values must be strings");
			goto out;
		}
		v = json_object_is_type(val, json_type_null) ? "" :
		    json_object_get_string(val);
		if (valid_env_name(key) == -1 || v == NULL ||
		    valid_env_value(v) == -1) {
			agent_job_fail(c, "env names must match [A-Za-z_][A-Za-z0-9_]* "
			    "and values be text");
			goto out;
		}
		if (agent_env_get(e, key) != NULL) {
			agent_applog_fd(c->logfd, "env %s is set by slipway: the "
			    "app's value is ignored", key);
			continue;
		}
		agent_env_add(e, key, v);
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

/* Are the app's status and status_detail already these? */
static int
agent_job_detail_is(struct agent_job *c, const char *status,
    const char *detail)
{
	sqlite3_stmt *st;
	int same = 0;

	st = db_prepare(c->db, "SELECT 1 FROM apps WHERE id = ? AND status = ? "
	    "AND status_detail = ?");
	if (st == NULL)
		return 0;
	db_bind_int(st, 1, c->app.rowid);
	db_bind_text(st, 2, status);
	db_bind_text(st, 3, detail);
	same = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return same;
}

/* Is an older app (by row id) already waiting for GPU room? */
static int
agent_job_gpu_waiter_ahead(struct agent_job *c)
{
	sqlite3_stmt *st;
	int ahead = 0;

	st = db_prepare(c->db, "SELECT 1 FROM apps WHERE id < ? AND status = "
	    "'queued' AND vram_required > 0 AND status_detail LIKE "
	    "'waiting for % MiB of GPU memory' LIMIT 1");
	if (st == NULL)
		return 0;
	db_bind_int(st, 1, c->app.rowid);
	ahead = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return ahead;
}

int
agent_job_gpus(struct agent_job *c, struct agent_gpu_ids *out)
{
	struct gpu_list inv;
	char gpus[GPU_MAX * 4], err[256];
	int ids[GPU_MAX];
	size_t i, n = 0;
	int r;

	err[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (c->app.vram_required <= 0)
		return 0;
	if (gpu_inventory(NULL, &inv) == -1) {
		agent_job_fail(c, "cannot read the GPU inventory");
		return -1;
	}
	/* SLIPWAY_GPU_WAIT=1: apps waiting for room start in their order. */
	if (c->conf->gpu_wait && agent_job_gpu_waiter_ahead(c)) {
		c->wait_gpu = 1;
		agent_job_fail(c, AGENT_GPU_WAIT_DETAIL, c->app.vram_required);
		return -1;
	}
	r = gpu_reserve(c->db, &inv, c->app.rowid, c->app.vram_required, gpus,
	    sizeof(gpus), err, sizeof(err));
	if (r == GPU_RESERVE_NOROOM && c->conf->gpu_wait) {
		c->wait_gpu = 1;
		agent_job_fail(c, AGENT_GPU_WAIT_DETAIL, c->app.vram_required);
		return -1;
	}
	if (r != GPU_RESERVE_OK) {
		if (r == GPU_RESERVE_ERROR)
			agent_job_fail(c, "internal error (GPU reservation)");
		else if (err[0] == '\0')
			agent_job_fail(c, "no GPU with %" PRId64 " MiB free",
			    c->app.vram_required);
		else
			agent_job_fail(c, "%s", err);
		return -1;
	}
	if (gpu_device_ids(gpus, ids, GPU_MAX, &n) == -1) {
		agent_job_fail(c, "internal error (GPU ids)");
		return -1;
	}
	for (i = 0; i < n; i++) {
		(void)str_fmt(out->s[i], sizeof(out->s[i]), "%d", ids[i]);
		out->p[i] = out->s[i];
	}
	out->n = n;
	free(c->app.gpus);
	c->app.gpus = xstrdup(gpus);
	agent_applog_fd(c->logfd, "GPU(s) %s reserved (%" PRId64 " MiB)", gpus,
	    c->app.vram_required);
	return 0;
}

/* Remove the app's container by name, if any. */
void
agent_job_remove_container(struct agent_job *c, const char *id)
{
	enum docker_err e;

	e = docker_container_remove(c->docker, id, 1, 1);
	if (e != DOCKER_OK && e != DOCKER_ERR_NOT_FOUND)
		log_warnx("remove %s: %s", id, docker_errmsg(c->docker));
}

/*
 * Create and start the app's container from image_id (a fresh one: any
 * old container of that name goes), on a reserved host port; a port Docker
 * finds taken is given back and another tried.  *cid (caller frees) and
 * *port on success.
 */
static int
job_run_container(struct agent_job *c, const char *image_id, char **cid,
    int *port_out)
{
	struct docker_run_spec spec;
	struct docker_image img;
	struct docker_kv labels[3];
	struct agent_env env;
	struct agent_gpu_ids gpus;
	enum docker_err e;
	enum ports_result pr;
	char *id = NULL;
	int attempt, port = 0, cport, avoid = 0, rc = -1;

	memset(&img, 0, sizeof(img));
	memset(&env, 0, sizeof(env));
	if ((e = docker_image_inspect(c->docker, image_id, &img)) != DOCKER_OK) {
		agent_job_fail_docker(c, "image not found", e);
		goto out;
	}
	if (agent_job_gpus(c, &gpus) == -1)
		goto out;
	agent_job_labels(c, labels);
	for (attempt = 0; attempt < AGENT_PORT_ATTEMPTS; attempt++) {
		pr = ports_reserve(c->db, c->app.rowid, c->conf->port_min,
		    c->conf->port_max, avoid, &port);
		if (pr == PORTS_EXHAUSTED) {
			agent_job_fail(c, "no free port in %d-%d", c->conf->port_min,
			    c->conf->port_max);
			goto out;
		}
		if (pr != PORTS_OK) {
			agent_job_fail(c, "internal error (ports)");
			goto out;
		}
		cport = img.nexposed_tcp == 1 && img.exposed_port > 0 ?
		    img.exposed_port : port;
		agent_env_release(&env);
		if (agent_job_env(c, cport, &env) == -1)
			goto out;
		memset(&spec, 0, sizeof(spec));
		spec.name = c->cname;
		spec.image = img.id;
		spec.env = env.v;
		spec.nenv = env.n;
		spec.labels = labels;
		spec.nlabels = 3;
		spec.container_port = cport;
		spec.host_port = port;
		spec.memory = c->conf->app_memory;
		spec.pids_limit = c->conf->app_pids;
		spec.gpu_ids = gpus.p;
		spec.ngpu = gpus.n;
		agent_job_remove_container(c, c->cname);
		if ((e = docker_container_create(c->docker, &spec, &id)) !=
		    DOCKER_OK) {
			agent_job_fail_docker(c, "cannot create the container", e);
			goto out;
		}
		if (agent_app_set_text(c->db, c->app.rowid, "docker_id", id) == -1 ||
		    agent_app_set_int(c->db, c->app.rowid, "container_port",
		    cport) == -1) {
			agent_job_fail(c, "internal error (database)");
			goto out;
		}
		e = docker_container_start(c->docker, id);
		if (e == DOCKER_OK) {
			agent_applog_fd(c->logfd, "container %.12s started: port %d "
			    "on 127.0.0.1 -> %d in the container", id, port,
			    cport);
			*cid = id;
			*port_out = port;
			id = NULL;
			rc = 0;
			goto out;
		}
		agent_job_remove_container(c, id);
		free(id);
		id = NULL;
		if (e != DOCKER_ERR_PORT_IN_USE) {
			agent_job_fail_docker(c, "cannot start the container", e);
			goto out;
		}
		agent_applog_fd(c->logfd, "port %d is taken: trying another", port);
		avoid = port;
	}
	agent_job_fail(c, "no usable port after %d attempts", AGENT_PORT_ATTEMPTS);
out:
	free(id);
	agent_env_release(&env);
	docker_image_release(&img);
	return rc;
}

/*
 * One HTTP request to 127.0.0.1:port: 0 when anything that looks like an
 * HTTP response comes back (any status), -1 otherwise.  Short connect
 * timeout: a fresh container's first connection can stall.
 */
int
agent_http_probe(int port, int connect_ms, int read_ms)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n"
	    "User-Agent: slipway-agent\r\nConnection: close\r\n\r\n";
	struct sockaddr_in sin;
	struct pollfd pfd;
	socklen_t sl;
	char resp[16];
	size_t got = 0;
	ssize_t n;
	int fd, soerr = 0, rc = -1;
	int64_t deadline;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (errno != EINPROGRESS)
			goto out;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, connect_ms) != 1)
			goto out;
		sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1 ||
		    soerr != 0)
			goto out;
	}
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)(sizeof(req) - 1))
		goto out;
	deadline = agent_now_ms() + read_ms;
	while (got < 5) {
		int left = (int)(deadline - agent_now_ms());

		if (left <= 0)
			goto out;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) != 1)
			goto out;
		n = recv(fd, resp + got, sizeof(resp) - got, 0);
		if (n <= 0) {
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			goto out;
		}
		got += (size_t)n;
	}
	rc = memcmp(resp, "HTTP/", 5) == 0 ? 0 : -1;
out:
	close(fd);
	return rc;
}

struct tail_ctx {
	struct buf	out;
};

static void
tail_out(void *arg, int stream, const char *data, size_t len)
{
	struct tail_ctx *t = arg;

	(void)stream;
	if (t->out.len < 64 * 1024)
		buf_add(&t->out, data, len);
}

/* The last lines the container wrote, cleaned, into out. */
static void
job_container_tail(struct agent_job *c, const char *cid, struct buf *out)
{
	struct docker_logs_opts o;
	struct tail_ctx t;
	size_t start;

	buf_init(&t.out);
	memset(&o, 0, sizeof(o));
	o.tail = AGENT_LOG_TAIL_LINES;
	o.out = tail_out;
	o.arg = &t;
	if (docker_container_logs(c->docker, cid, &o) == DOCKER_OK &&
	    t.out.len > 0) {
		start = t.out.len > AGENT_DETAIL_MAX ? t.out.len -
		    AGENT_DETAIL_MAX : 0;
		while (start < t.out.len && start > 0 &&
		    t.out.data[start - 1] != '\n')
			start++;
		agent_detail_clean(out, t.out.data + start, t.out.len - start,
		    AGENT_DETAIL_MAX);
	}
	buf_release(&t.out);
}

void
agent_job_fail_tail(struct agent_job *c, const char *cid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void
agent_job_fail_tail(struct agent_job *c, const char *cid, const char *fmt, ...)
{
	struct buf tail = BUF_INIT, msg = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (cid != NULL)
		job_container_tail(c, cid, &tail);
	if (tail.len > 0)
		agent_job_fail(c, "%s; last output:\n%s", msg.data, tail.data);
	else
		agent_job_fail(c, "%s", msg.data);
	buf_release(&tail);
	buf_release(&msg);
}

/*
 * Wait until the app answers HTTP on its host port, at most
 * conf->start_timeout; cid (may be NULL for compose) is watched for an
 * early exit.
 */
int
agent_job_wait_ready(struct agent_job *c, const char *cid, int port)
{
	struct docker_cstate cs;
	int64_t start = agent_now_ms(), deadline, next_inspect = 0;
	int restarts = -1;

	/*
	 * The route now, while the app starts ('starting' with a port is
	 * rendered): nginx reloads in parallel with the container coming up,
	 * and the sync before 'running' finds nothing left to change.
	 */
	agent_routes_sync(c->conf, c->db);
	deadline = start + (int64_t)c->conf->start_timeout * 1000;
	for (;;) {
		if (agent_job_cancelled(c))
			return -1;
		if (agent_http_probe(port, AGENT_PROBE_CONNECT_MS,
		    AGENT_PROBE_READ_MS) == 0) {
			agent_applog_fd(c->logfd, "answering on port %d after "
			    "%" PRId64 " ms", port, agent_now_ms() - start);
			return 0;
		}
		if (cid != NULL && agent_now_ms() >= next_inspect) {
			next_inspect = agent_now_ms() + AGENT_PROBE_INSPECT_MS;
			memset(&cs, 0, sizeof(cs));
			if (docker_container_inspect(c->docker, cid, &cs) ==
			    DOCKER_OK) {
				if (restarts < 0)
					restarts = cs.restart_count;
				if ((!cs.running && !cs.restarting) ||
				    cs.restart_count > restarts) {
					agent_job_fail_tail(c, cid, "the container "
					    "exited with code %d%s before "
					    "answering", cs.exit_code,
					    cs.oom_killed ? " (out of memory)" :
					    "");
					docker_cstate_release(&cs);
					return -1;
				}
				docker_cstate_release(&cs);
			} else {
				agent_job_fail(c, "the container is gone");
				return -1;
			}
		}
		if (agent_now_ms() >= deadline) {
			agent_job_fail_tail(c, cid, "not answering HTTP on port %d "
			    "after %d s", port, c->conf->start_timeout);
			return -1;
		}
		agent_sleep_ms(AGENT_PROBE_RETRY_MS);
	}
}

const char *const agent_status_starting[] = { "starting", NULL };

/*
 * Ready: the route first (a starting app with a port is rendered), then
 * 'running', so a client that sees running can reach it.  nginx refusing
 * the route has made it 'error' already: left so.
 */
int
agent_job_running(struct agent_job *c, int port)
{
	struct buf d = BUF_INIT;
	int r;

	(void)agent_app_set_int(c->db, c->app.rowid, "last_heartbeat", db_now());
	agent_routes_sync(c->conf, c->db);
	buf_printf(&d, "serving at /apps/%s/ (port %d)", c->app.app_id, port);
	r = agent_transition(c->conf, c->db, c->app.rowid, c->app.app_id,
	    "running", agent_status_starting, 0, d.data);
	buf_release(&d);
	if (r != 1) {
		agent_job_fail(c, "the app changed meanwhile");
		return -1;
	}
	free(c->app.status);
	c->app.status = xstrdup("running");
	return 0;
}

/* After a failed start: do not leave a container restarting in a loop. */
static void
job_stop_quietly(struct agent_job *c, const char *cid)
{
	if (cid != NULL)
		(void)docker_container_stop(c->docker, cid, AGENT_STOP_TIMEOUT);
	(void)gpu_release(c->db, c->app.rowid);
}

/* ------------------------------------------------------------------ */
/* The jobs                                                            */

static int
job_deploy(struct agent_job *c)
{
	char *image = NULL, *cid = NULL;
	int port = 0, rc = -1;

	if (strcmp(c->app.desired, "running") != 0) {
		if (strcmp(c->app.desired, "stopped") == 0)
			(void)agent_job_set_status(c, "stopped", "stopped before it "
			    "was deployed");
		return 0;
	}
	if (c->app.type == AGENT_APP_COMPOSE)
		return agent_compose_up(c, 1, 0);
	if (agent_job_set_status(c, "building", "building the image") != 1) {
		agent_job_fail(c, "the app changed meanwhile");
		return -1;
	}
	if (agent_build_image(c, &image) == -1 || agent_job_cancelled(c))
		goto out;
	(void)agent_job_set_status(c, "starting", "starting the container");
	if (job_run_container(c, image, &cid, &port) == -1)
		goto out;
	if (agent_job_wait_ready(c, cid, port) == -1) {
		job_stop_quietly(c, cid);
		goto out;
	}
	if (agent_job_running(c, port) == -1)
		goto out;
	agent_build_prune_old(c, image);
	rc = 0;
out:
	free(image);
	free(cid);
	return rc;
}

/*
 * start / restart: reuse the container when it is still there and fits
 * (same image, same port, no GPU to choose again), else a new container
 * from the built image; the image is rebuilt only when it is gone.
 */
static int
job_start(struct agent_job *c, int restart)
{
	struct docker_cstate cs;
	enum docker_err e;
	char *image = NULL, *cid = NULL;
	const char *inst;
	int port = 0, held = 0, reuse = 0, rc = -1;

	memset(&cs, 0, sizeof(cs));
	if (strcmp(c->app.desired, "running") != 0) {
		agent_applog_fd(c->logfd, "not started: the app is to be %s",
		    c->app.desired);
		return 0;
	}
	if (c->app.type == AGENT_APP_COMPOSE)
		return agent_compose_up(c, 0, restart);
	if (agent_job_set_status(c, "starting", restart ? "restarting" :
	    "starting") != 1) {
		agent_job_fail(c, "the app changed meanwhile");
		return -1;
	}
	e = docker_container_inspect(c->docker, c->cname, &cs);
	if (e == DOCKER_OK) {
		inst = docker_labels_get(&cs.labels, "slipway.instance");
		reuse = inst != NULL && strcmp(inst, c->inst) == 0 &&
		    c->app.image != NULL && strcmp(cs.image_id,
		    c->app.image) == 0 && c->app.vram_required == 0 &&
		    cs.host_port > 0 && ports_get(c->db, c->app.rowid,
		    &held) == 1 && held == cs.host_port;
	} else if (e != DOCKER_ERR_NOT_FOUND) {
		agent_job_fail_docker(c, "Docker", e);
		goto out;
	}
	if (reuse) {
		if (restart && cs.running)
			e = docker_container_restart(c->docker, cs.id,
			    AGENT_STOP_TIMEOUT);
		else
			e = docker_container_start(c->docker, cs.id);
		if (e == DOCKER_OK) {
			cid = xstrdup(cs.id);
			port = cs.host_port;
			(void)agent_app_set_text(c->db, c->app.rowid, "docker_id", cid);
			agent_applog_fd(c->logfd, "container %.12s %s", cid,
			    restart && cs.running ? "restarted" : "started");
		} else if (e == DOCKER_ERR_PORT_IN_USE) {
			agent_applog_fd(c->logfd, "port %d is taken: a new "
			    "container on another port", cs.host_port);
			(void)ports_release(c->db, c->app.rowid);
			reuse = 0;
		} else {
			agent_job_fail_docker(c, "cannot start the container", e);
			goto out;
		}
	}
	if (!reuse) {
		if (c->app.image != NULL && agent_build_is_ours(c,
		    c->app.image) == 1)
			image = xstrdup(c->app.image);
		else {
			agent_applog_fd(c->logfd, "the image is gone: building it "
			    "again");
			(void)agent_job_set_status(c, "building", "the image is gone: "
			    "building it again");
			if (agent_build_image(c, &image) == -1 || agent_job_cancelled(c))
				goto out;
			(void)agent_job_set_status(c, "starting", "starting");
		}
		if (job_run_container(c, image, &cid, &port) == -1)
			goto out;
	}
	if (agent_job_wait_ready(c, cid, port) == -1) {
		job_stop_quietly(c, cid);
		goto out;
	}
	if (agent_job_running(c, port) == -1)
		goto out;
	rc = 0;
out:
	docker_cstate_release(&cs);
	free(image);
	free(cid);
	return rc;
}

const char *const agent_status_live[] = { "running", "starting", NULL };

/*
 * stop: the user's stop (desired 'stopped': stopping -> stopped), or the
 * clean-up after a container died behind our back (the status already says
 * error/finished and stays).  The port is kept for the next start.
 */
static int
job_stop(struct agent_job *c)
{
	enum docker_err e;
	int user = strcmp(c->app.desired, "stopped") == 0;

	if (user && strcmp(c->app.status, "stopped") != 0)
		(void)agent_job_set_status(c, "stopping", "stopping");
	if (c->app.type == AGENT_APP_COMPOSE) {
		if (agent_compose_down(c, 0) == -1)
			return -1;
	} else {
		e = docker_container_stop(c->docker, c->cname,
		    AGENT_STOP_TIMEOUT);
		if (e != DOCKER_OK && e != DOCKER_ERR_NOT_FOUND) {
			agent_job_fail_docker(c, "cannot stop the container", e);
			return -1;
		}
	}
	(void)gpu_release(c->db, c->app.rowid);
	if (user)
		(void)agent_job_set_status(c, "stopped", "stopped");
	else if (agent_transition(c->conf, c->db, c->app.rowid, c->app.app_id,
	    "error", agent_status_live, 0, "the container was stopped") == 1)
		agent_applog_fd(c->logfd, "stopped without a stop request");
	agent_routes_sync(c->conf, c->db);
	return 0;
}

/* Files of the app outside its upload directory. */
static void
job_remove_files(struct agent_job *c)
{
	static const char *const dirs[] = { "", ".build", ".deps" };
	struct buf p = BUF_INIT, pre = BUF_INIT;
	struct dirent *de;
	DIR *d;
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		agent_job_path(c, &p, dirs[i]);
		if (tree_remove(p.data) == -1)
			agent_job_fail(c, "cannot remove the app's files");
	}
	agent_job_path(c, &p, ".compose.yml");
	if (unlink(p.data) == -1 && errno != ENOENT)
		log_warn("unlink %s", p.data);
	buf_reset(&p);
	if (agent_applog_path(c->conf, c->app.app_id, &p) == 0 &&
	    unlink(p.data) == -1 && errno != ENOENT)
		log_warn("unlink %s", p.data);
	/* Log follower positions: <run>/logpos/<app_id>.<container> */
	buf_reset(&p);
	buf_printf(&p, "%s/logpos", c->conf->run_dir);
	buf_printf(&pre, "%s.", c->app.app_id);
	if ((d = opendir(p.data)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, pre.data, pre.len) == 0)
				(void)unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	buf_release(&p);
	buf_release(&pre);
}

/* Dependency layers of this instance that no image builds on any more. */
static void
job_prune_deps(struct agent_job *c)
{
	struct docker_image_list l;
	struct buf label = BUF_INIT;
	size_t i;

	memset(&l, 0, sizeof(l));
	buf_printf(&label, "slipway.instance=%s", c->inst);
	if (docker_image_list(c->docker, label.data, &l) == DOCKER_OK) {
		/*
		 * App images inherit the label from the layer they build on:
		 * those carry slipway.app too.  409 while an app image builds
		 * on the layer: kept.
		 */
		for (i = 0; i < l.n; i++)
			if (docker_labels_get(&l.v[i].labels, "slipway.deps") !=
			    NULL && docker_labels_get(&l.v[i].labels,
			    "slipway.app") == NULL)
				(void)docker_image_remove(c->docker, l.v[i].id, 0);
		docker_image_list_release(&l);
	}
	buf_release(&label);
}

/*
 * delete: container(s), images, volumes and networks labelled for the
 * app, its files, log, port, GPU reservation, route, and the row.
 */
static int
job_delete(struct agent_job *c)
{
	struct docker_image_list l;
	struct buf label = BUF_INIT;
	enum docker_err e;
	size_t i;
	int rc = -1;

	memset(&l, 0, sizeof(l));
	if (strcmp(c->app.status, "deleting") != 0) {
		agent_job_fail(c, "the app is not being deleted");
		goto out;
	}
	agent_routes_sync(c->conf, c->db);	/* 'deleting' has no route */
	if (c->app.type == AGENT_APP_COMPOSE)
		(void)agent_compose_down(c, 1);
	if ((e = docker_container_remove(c->docker, c->cname, 1, 1)) !=
	    DOCKER_OK && e != DOCKER_ERR_NOT_FOUND) {
		agent_job_fail_docker(c, "cannot remove the container", e);
		goto out;
	}
	agent_job_remove_labelled(c);
	buf_printf(&label, "slipway.app=%s", c->app.app_id);
	if ((e = docker_image_list(c->docker, label.data, &l)) != DOCKER_OK) {
		agent_job_fail_docker(c, "cannot list images", e);
		goto out;
	}
	for (i = 0; i < l.n; i++)
		if ((e = docker_image_remove(c->docker, l.v[i].id, 1)) !=
		    DOCKER_OK && e != DOCKER_ERR_NOT_FOUND)
			log_debug("image %s: %s", l.v[i].id,
			    docker_errmsg(c->docker));
	(void)docker_prune(c->docker, DOCKER_PRUNE_VOLUMES, label.data, NULL);
	(void)docker_prune(c->docker, DOCKER_PRUNE_NETWORKS, label.data, NULL);
	job_prune_deps(c);
	job_remove_files(c);
	if (c->err.len > 0)
		goto out;
	rc = agent_job_forget(c);
out:
	docker_image_list_release(&l);
	buf_release(&label);
	return rc;
}

/*
 * The last step of a delete, whatever ran the app: its port, GPUs and row
 * go (jobs cascade), then its route.  0 or -1 (the job fails).
 */
int
agent_job_forget(struct agent_job *c)
{
	sqlite3_stmt *st;

	if (ports_release(c->db, c->app.rowid) == -1 ||
	    gpu_release(c->db, c->app.rowid) == -1) {
		agent_job_fail(c, "internal error (database)");
		return -1;
	}
	st = db_prepare(c->db, "DELETE FROM apps WHERE id = ? AND status = "
	    "'deleting'");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, c->app.rowid);
	if (db_exec_stmt(c->db, st) == -1) {
		agent_job_fail(c, "internal error (database)");
		return -1;
	}
	log_info("app %s deleted", c->app.app_id);
	agent_routes_sync(c->conf, c->db);
	return 0;
}

/* Load the claimed job. 1 ok, 0 not ours to run, -1 error. */
static int
job_load(struct db *db, int64_t job_id, struct agent_job *c)
{
	sqlite3_stmt *st;
	const char *kind, *state;
	int rc = -1;

	st = db_prepare(db, "SELECT app_id, kind, state FROM jobs WHERE id = ?");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, job_id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		c->app.rowid = sqlite3_column_int64(st, 0);
		kind = (const char *)sqlite3_column_text(st, 1);
		state = (const char *)sqlite3_column_text(st, 2);
		if (kind == NULL || jobs_kind_parse(kind, &c->kind) == -1)
			c->kind = JOB__MAX;
		rc = state != NULL && strcmp(state, "running") == 0;
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
agent_job_main(const struct conf *conf, int64_t job_id, pid_t parent)
{
	struct agent_job c;
	int64_t rowid, t0 = agent_now_ms();
	int rc = -1, r;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	memset(&c, 0, sizeof(c));
	buf_init(&c.err);
	c.conf = conf;
	c.job_id = job_id;
	c.parent = parent;
	c.logfd = -1;
	if ((c.db = db_open(conf->db_path)) == NULL)
		goto done;
	if ((r = job_load(c.db, job_id, &c)) != 1) {
		if (r == 0)
			log_warnx("job %" PRId64 " is not running: skipped", job_id);
		goto done;
	}
	rowid = c.app.rowid;
	if ((r = agent_app_load(c.db, rowid, &c.app)) != 1) {
		(void)jobs_finish(c.db, job_id, "failed", r == 0 ?
		    "the app is gone" : "the app row is malformed");
		rc = 0;
		goto done;
	}
	if (agent_instance(c.db, c.inst) == -1 ||
	    (c.docker = docker_open(conf->docker_socket)) == NULL) {
		agent_job_fail(&c, "internal error (start)");
		goto finish;
	}
	(void)str_fmt(c.tag, sizeof(c.tag), "slipway/%s:latest", c.app.app_id);
	(void)str_fmt(c.cname, sizeof(c.cname), "slipway-%s", c.app.app_id);
	c.logfd = agent_applog_open(conf, c.app.app_id);
	c.watch_desired = c.kind == JOB_DEPLOY || c.kind == JOB_START ||
	    c.kind == JOB_RESTART;
	log_info("job %" PRId64 ": %s app %s", job_id, jobs_kind_name(c.kind),
	    c.app.app_id);
	/*
	 * SLIPWAY_GPU_WAIT=1: take the GPU room before any work, so an app
	 * that must wait goes back to the queue without building each time.
	 */
	if (c.conf->gpu_wait && c.app.vram_required > 0 &&
	    (c.kind == JOB_DEPLOY || c.kind == JOB_START ||
	    c.kind == JOB_RESTART)) {
		struct agent_gpu_ids early;

		if (agent_job_gpus(&c, &early) == -1) {
			rc = -1;
			goto finish;
		}
	}
	if (agent_venv_handles(c.conf, &c.app)) {	/* host runtime: agent_venv.c */
		rc = agent_venv_job(&c);
		goto finish;
	}
	switch (c.kind) {
	case JOB_DEPLOY:
		rc = job_deploy(&c);
		break;
	case JOB_START:
		rc = job_start(&c, 0);
		break;
	case JOB_RESTART:
		rc = job_start(&c, 1);
		break;
	case JOB_STOP:
		rc = job_stop(&c);
		break;
	case JOB_DELETE:
		rc = job_delete(&c);
		break;
	default:
		agent_job_fail(&c, "unknown job kind");
	}
finish:
	if (rc == 0) {
		(void)jobs_finish(c.db, job_id, "done", NULL);
		log_info("job %" PRId64 " done in %" PRId64 " ms", job_id,
		    agent_now_ms() - t0);
	} else {
		if (c.err.len == 0)
			agent_job_fail(&c, "failed");
		if (c.wait_gpu && !c.cancelled) {
			/* queued again; said once, not at every retry */
			if (!agent_job_detail_is(&c, "queued", c.err.data))
				(void)agent_job_set_status(&c, "queued", "%s",
				    c.err.data);
			/* the daemon requeues it once this process is reaped */
			rc = AGENT_EXIT_REQUEUE;
			goto done;
		}
		if (c.cancelled) {
			agent_applog_fd(c.logfd, "%s", c.err.data);
			(void)jobs_finish(c.db, job_id, "cancelled", c.err.data);
		} else {
			(void)agent_job_set_status(&c, "error", "%s", c.err.data);
			/* An app in error holds no GPU (as gpu_rederive). */
			(void)gpu_release(c.db, c.app.rowid);
			agent_routes_sync(conf, c.db);	/* a starting route goes */
			(void)jobs_finish(c.db, job_id, "failed", c.err.data);
		}
		log_warnx("job %" PRId64 " (%s app %s): %s", job_id,
		    jobs_kind_name(c.kind), c.app.app_id, c.err.data);
		rc = 0;
	}
done:
	if (c.logfd >= 0)
		close(c.logfd);
	agent_app_release(&c.app);
	buf_release(&c.err);
	docker_close(c.docker);
	db_close(c.db);
	if (rc == AGENT_EXIT_REQUEUE)
		return AGENT_EXIT_REQUEUE;
	return rc == 0 ? 0 : 1;
}
