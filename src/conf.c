#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "caps.h"
#include "log.h"
#include "valid.h"

static const char *
conf_env(const char *name, const char *def)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : def;
}

static int
conf_int(const char *name, long long def, long long min, long long max,
    long long *out)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		*out = def;
		return 0;
	}
	if (valid_int(v, min, max, out) == -1) {
		log_warnx("%s: '%s' is not a number in %lld..%lld", name, v,
		    min, max);
		return -1;
	}
	return 0;
}

static char *
conf_path(const char *dir, const char *leaf)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s/%s", dir, leaf);
	return buf_detach(&b, NULL);
}

/* The agent's settings (read by every program: one place, one check). */
static int
conf_load_agent(struct conf *c)
{
	const char *v;
	long long n;
	uint64_t sz;

	v = getenv("SLIPWAY_GRADIO_PACKAGE");	/* set but empty: none */
	c->gradio_package = xstrdup(v != NULL ? v : AGENT_GRADIO_PACKAGE);
	c->compose_program = xstrdup(conf_env("SLIPWAY_COMPOSE",
	    AGENT_COMPOSE_PROGRAM));
	v = conf_env("SLIPWAY_APP_MEMORY", "");
	if (*v != '\0' && (valid_size(v, &sz) == -1 || sz > INT64_MAX)) {
		log_warnx("SLIPWAY_APP_MEMORY: '%s' is not a size like 2g", v);
		return -1;
	}
	c->app_memory = *v != '\0' ? (int64_t)sz : 0;
	if (conf_int("SLIPWAY_APP_PIDS", 0, 1, 1000000, &n) == -1)
		return -1;
	c->app_pids = n;
	if (conf_int("SLIPWAY_PASS_HF_TOKEN", 0, 0, 1, &n) == -1)
		return -1;
	c->pass_hf_token = (int)n;
	if (conf_int("SLIPWAY_GPU_WAIT", 0, 0, 1, &n) == -1)
		return -1;
	c->gpu_wait = (int)n;
	v = conf_env("SLIPWAY_GRADIO_RUNTIME", "docker");
	if (strcmp(v, "docker") != 0 && strcmp(v, "venv") != 0) {
		log_warnx("SLIPWAY_GRADIO_RUNTIME: '%s' is neither docker nor "
		    "venv", v);
		return -1;
	}
	c->gradio_venv = strcmp(v, "venv") == 0;
	v = getenv("SLIPWAY_PYTHON");
	c->python = (v && *v) ? xstrdup(v) : NULL;
	v = getenv("SLIPWAY_RUN_USER");
	c->run_user = (v && *v) ? xstrdup(v) : NULL;
	return 0;
}

int
conf_load(struct conf *c)
{
	const char *dd, *v;
	char cwd[PATH_MAX];
	long long n, lo, hi;

	memset(c, 0, sizeof(*c));
	dd = conf_env("SLIPWAY_DATA_DIR", "./var");
	if (dd[0] == '/')
		c->data_dir = xstrdup(dd);
	else {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			log_warn("getcwd");
			return -1;
		}
		c->data_dir = conf_path(cwd, dd[0] == '.' && dd[1] == '/' ?
		    dd + 2 : dd);
	}
	while (strlen(c->data_dir) > 1 &&
	    c->data_dir[strlen(c->data_dir) - 1] == '/')
		c->data_dir[strlen(c->data_dir) - 1] = '\0';
	c->db_path = conf_path(c->data_dir, "slipway.db");
	c->run_dir = conf_path(c->data_dir, "run");
	c->uploads_dir = conf_path(c->data_dir, "uploads");
	c->templates_dir = conf_path(c->data_dir, "templates");
	c->plugins_dir = conf_path(c->data_dir, "plugins");
	c->logs_dir = conf_path(c->data_dir, "logs");
	c->nginx_dir = conf_path(c->data_dir, "nginx");
	c->tmp_dir = conf_path(c->data_dir, "tmp");
	c->agent_socket = conf_path(c->run_dir, "agent.sock");
	v = getenv("SLIPWAY_TEMPLATES_DIR");
	c->builtin_templates_dir = (v && *v) ? xstrdup(v) : NULL;

	c->bind = xstrdup(conf_env("SLIPWAY_BIND", "127.0.0.1"));
	c->public_host = xstrdup(conf_env("SLIPWAY_PUBLIC_HOST", "127.0.0.1"));
	if (conf_int("SLIPWAY_CONTROL_PORT", 8000, 1, 65535, &n) == -1)
		return -1;
	c->control_port = (int)n;
	if (conf_int("SLIPWAY_APPS_PORT", 8080, 1, 65535, &n) == -1)
		return -1;
	c->apps_port = (int)n;
	v = conf_env("SLIPWAY_MAX_UPLOAD", DEFAULT_MAX_UPLOAD);
	if (valid_size(v, &c->max_upload) == -1) {
		log_warnx("SLIPWAY_MAX_UPLOAD: '%s' is not a size like 512m", v);
		return -1;
	}
	c->max_upload_str = xstrdup(v);
	if (conf_int("SLIPWAY_TOKEN_TTL", DEFAULT_TOKEN_TTL, 60,
	    366LL * 24 * 3600, &n) == -1)
		return -1;
	c->token_ttl = n;
	if (conf_int("SLIPWAY_OPEN_REGISTRATION", 1, 0, 1, &n) == -1)
		return -1;
	c->open_registration = (int)n;
	v = conf_env("SLIPWAY_PORT_RANGE", DEFAULT_PORT_RANGE);
	if (valid_port_range(v, &lo, &hi) == -1) {
		log_warnx("SLIPWAY_PORT_RANGE: '%s' is not like 7860-8860", v);
		return -1;
	}
	c->port_min = (int)lo;
	c->port_max = (int)hi;
	if (conf_int("SLIPWAY_START_TIMEOUT", DEFAULT_START_TIMEOUT, 1, 86400,
	    &n) == -1)
		return -1;
	c->start_timeout = (int)n;
	if (conf_int("SLIPWAY_BUILD_TIMEOUT", DEFAULT_BUILD_TIMEOUT, 1, 86400,
	    &n) == -1)
		return -1;
	c->build_timeout = (int)n;
	c->docker_socket = xstrdup(conf_env("SLIPWAY_DOCKER_SOCKET",
	    "/var/run/docker.sock"));
	c->nginx_bin = xstrdup(conf_env("SLIPWAY_NGINX", "nginx"));
	v = getenv("SLIPWAY_NGINX_CONF");
	c->nginx_conf = (v && *v) ? xstrdup(v) :
	    conf_path(c->nginx_dir, "nginx.conf");
	v = getenv("SLIPWAY_NGINX_PID");
	c->nginx_pid = (v && *v) ? xstrdup(v) :
	    conf_path(c->run_dir, "nginx.pid");
	v = getenv("SLIPWAY_APPS_INCLUDE");
	c->apps_include = (v && *v) ? xstrdup(v) :
	    conf_path(c->nginx_dir, "apps.conf");
	c->gradio_base_image = xstrdup(conf_env("SLIPWAY_GRADIO_BASE_IMAGE",
	    "python:3.10-slim"));
	if (conf_int("SLIPWAY_DEBUG", 0, 0, 1, &n) == -1)
		return -1;
	c->debug = (int)n;
	return conf_load_agent(c);
}

void
conf_free(struct conf *c)
{
	char **strs[] = {
		&c->data_dir, &c->db_path, &c->run_dir, &c->uploads_dir,
		&c->templates_dir, &c->builtin_templates_dir, &c->plugins_dir,
		&c->logs_dir, &c->nginx_dir, &c->tmp_dir, &c->agent_socket,
		&c->bind, &c->public_host, &c->max_upload_str,
		&c->docker_socket, &c->nginx_bin, &c->nginx_conf,
		&c->nginx_pid, &c->apps_include, &c->gradio_base_image,
		&c->gradio_package, &c->compose_program, &c->python,
		&c->run_user,
	};
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}
