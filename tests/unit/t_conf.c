#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "tap.h"

/*
 * conf_load(): every setting from the environment, good values taken,
 * malformed ones refused (never silently defaulted).
 */

static const char *const vars[] = {
	"SLIPWAY_DATA_DIR", "SLIPWAY_CONTROL_PORT", "SLIPWAY_APPS_PORT",
	"SLIPWAY_MAX_UPLOAD", "SLIPWAY_TOKEN_TTL", "SLIPWAY_OPEN_REGISTRATION",
	"SLIPWAY_PORT_RANGE", "SLIPWAY_START_TIMEOUT", "SLIPWAY_BUILD_TIMEOUT",
	"SLIPWAY_DEBUG", "SLIPWAY_GRADIO_PACKAGE", "SLIPWAY_COMPOSE",
	"SLIPWAY_APP_MEMORY", "SLIPWAY_APP_PIDS", "SLIPWAY_PASS_HF_TOKEN",
	"SLIPWAY_GPU_WAIT", "SLIPWAY_GRADIO_RUNTIME", "SLIPWAY_PYTHON",
	"SLIPWAY_RUN_USER",
};

static void
clear(void)
{
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	setenv("SLIPWAY_DATA_DIR", "/tmp/t_conf-data", 1);
}

/* What a loaded field reads as text, for the table. */
static void
field(const struct conf *c, const char *var, char *out, size_t n)
{
	if (strcmp(var, "SLIPWAY_CONTROL_PORT") == 0)
		snprintf(out, n, "%d", c->control_port);
	else if (strcmp(var, "SLIPWAY_MAX_UPLOAD") == 0)
		snprintf(out, n, "%llu", (unsigned long long)c->max_upload);
	else if (strcmp(var, "SLIPWAY_PORT_RANGE") == 0)
		snprintf(out, n, "%d-%d", c->port_min, c->port_max);
	else if (strcmp(var, "SLIPWAY_START_TIMEOUT") == 0)
		snprintf(out, n, "%d", c->start_timeout);
	else if (strcmp(var, "SLIPWAY_GRADIO_PACKAGE") == 0)
		snprintf(out, n, "[%s]", c->gradio_package);
	else if (strcmp(var, "SLIPWAY_COMPOSE") == 0)
		snprintf(out, n, "%s", c->compose_program);
	else if (strcmp(var, "SLIPWAY_APP_MEMORY") == 0)
		snprintf(out, n, "%lld", (long long)c->app_memory);
	else if (strcmp(var, "SLIPWAY_APP_PIDS") == 0)
		snprintf(out, n, "%lld", (long long)c->app_pids);
	else if (strcmp(var, "SLIPWAY_PASS_HF_TOKEN") == 0)
		snprintf(out, n, "%d", c->pass_hf_token);
	else if (strcmp(var, "SLIPWAY_GPU_WAIT") == 0)
		snprintf(out, n, "%d", c->gpu_wait);
	else if (strcmp(var, "SLIPWAY_GRADIO_RUNTIME") == 0)
		snprintf(out, n, "%s", c->gradio_venv ? "venv" : "docker");
	else if (strcmp(var, "SLIPWAY_PYTHON") == 0)
		snprintf(out, n, "%s", c->python ? c->python : "(default)");
	else if (strcmp(var, "SLIPWAY_RUN_USER") == 0)
		snprintf(out, n, "%s", c->run_user ? c->run_user : "(agent's)");
	else if (strcmp(var, "SLIPWAY_DATA_DIR") == 0)
		snprintf(out, n, "%s|%s", c->data_dir, c->uploads_dir);
	else
		snprintf(out, n, "?");
}

int
main(void)
{
	static const struct {
		const char	*var;
		const char	*value;	/* NULL: unset */
		const char	*want;	/* NULL: refused */
	} t[] = {
		{ "SLIPWAY_CONTROL_PORT", NULL, "8000" },
		{ "SLIPWAY_CONTROL_PORT", "9000", "9000" },
		{ "SLIPWAY_CONTROL_PORT", "0", NULL },
		{ "SLIPWAY_CONTROL_PORT", "65536", NULL },
		{ "SLIPWAY_CONTROL_PORT", "80x", NULL },
		{ "SLIPWAY_MAX_UPLOAD", NULL, "2147483648" },
		{ "SLIPWAY_MAX_UPLOAD", "512m", "536870912" },
		{ "SLIPWAY_MAX_UPLOAD", "1k", "1024" },
		{ "SLIPWAY_MAX_UPLOAD", "2 g", NULL },
		{ "SLIPWAY_MAX_UPLOAD", "-1", NULL },
		{ "SLIPWAY_PORT_RANGE", NULL, "7860-8860" },
		{ "SLIPWAY_PORT_RANGE", "20000-20099", "20000-20099" },
		{ "SLIPWAY_PORT_RANGE", "9000-8000", NULL },
		{ "SLIPWAY_PORT_RANGE", "8000", NULL },
		{ "SLIPWAY_START_TIMEOUT", "0", NULL },
		{ "SLIPWAY_START_TIMEOUT", "30", "30" },
		{ "SLIPWAY_DATA_DIR", "/srv/slipway/", "/srv/slipway|/srv/slipway/uploads" },
		/* the agent's */
		{ "SLIPWAY_GRADIO_PACKAGE", NULL, "[gradio]" },
		{ "SLIPWAY_GRADIO_PACKAGE", "", "[]" },
		{ "SLIPWAY_GRADIO_PACKAGE", "gradio==4.44.1", "[gradio==4.44.1]" },
		{ "SLIPWAY_COMPOSE", NULL, "docker-compose" },
		{ "SLIPWAY_COMPOSE", "docker", "docker" },
		{ "SLIPWAY_APP_MEMORY", NULL, "0" },
		{ "SLIPWAY_APP_MEMORY", "", "0" },
		{ "SLIPWAY_APP_MEMORY", "512m", "536870912" },
		{ "SLIPWAY_APP_MEMORY", "2g", "2147483648" },
		{ "SLIPWAY_APP_MEMORY", "lots", NULL },
		{ "SLIPWAY_APP_MEMORY", "12q", NULL },
		{ "SLIPWAY_APP_PIDS", NULL, "0" },
		{ "SLIPWAY_APP_PIDS", "4000", "4000" },
		{ "SLIPWAY_APP_PIDS", "0", NULL },
		{ "SLIPWAY_APP_PIDS", "1000001", NULL },
		{ "SLIPWAY_APP_PIDS", "many", NULL },
		{ "SLIPWAY_PASS_HF_TOKEN", NULL, "0" },
		{ "SLIPWAY_PASS_HF_TOKEN", "1", "1" },
		{ "SLIPWAY_PASS_HF_TOKEN", "yes", NULL },
		{ "SLIPWAY_GPU_WAIT", "1", "1" },
		{ "SLIPWAY_GPU_WAIT", "0", "0" },
		{ "SLIPWAY_GPU_WAIT", "2", NULL },
		{ "SLIPWAY_GRADIO_RUNTIME", NULL, "docker" },
		{ "SLIPWAY_GRADIO_RUNTIME", "venv", "venv" },
		{ "SLIPWAY_GRADIO_RUNTIME", "VENV", NULL },
		{ "SLIPWAY_GRADIO_RUNTIME", "podman", NULL },
		{ "SLIPWAY_PYTHON", NULL, "(default)" },
		{ "SLIPWAY_PYTHON", "/usr/bin/python3", "/usr/bin/python3" },
		{ "SLIPWAY_RUN_USER", "", "(agent's)" },
		{ "SLIPWAY_RUN_USER", "nobody", "nobody" },
	};
	struct conf c;
	char got[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		clear();
		if (t[i].value != NULL)
			setenv(t[i].var, t[i].value, 1);
		memset(&c, 0, sizeof(c));
		rc = conf_load(&c);
		if (t[i].want == NULL)
			is(rc, -1, "%s=%s refused", t[i].var, t[i].value);
		else {
			is(rc, 0, "%s=%s loads", t[i].var,
			    t[i].value ? t[i].value : "(unset)");
			field(&c, t[i].var, got, sizeof(got));
			is_str(got, t[i].want, "%s=%s reads %s", t[i].var,
			    t[i].value ? t[i].value : "(unset)", t[i].want);
		}
		conf_free(&c);
	}
	clear();
	return done_testing();
}
