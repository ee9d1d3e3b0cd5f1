#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "db.h"
#include "docker.h"
#include "gpu.h"
#include "handlers.h"
#include "log.h"
#include "req.h"
#include "valid.h"

/* Read a pid file strictly: digits and a newline, pid > 1. */
static long long
h_read_pid(const char *path)
{
	char line[32];
	FILE *fp;
	long long pid;
	size_t n;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, fp);
	fclose(fp);
	line[n] = '\0';
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	if (valid_int(line, 2, 1 << 22, &pid) == -1)
		return -1;
	return pid;
}

static struct json_object *
h_check_database(struct req *r, int *ok)
{
	struct json_object *o = json_object_new_object();
	int v = db_schema_version(r->db);

	*ok = v > 0;
	json_object_object_add(o, "ok", json_object_new_boolean(*ok));
	json_object_object_add(o, "schema", json_object_new_int(v));
	return o;
}

static struct json_object *
h_check_nginx(struct req *r, int *ok)
{
	struct json_object *o = json_object_new_object();
	long long pid = h_read_pid(r->conf->nginx_pid);

	*ok = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
	json_object_object_add(o, "ok", json_object_new_boolean(*ok));
	if (*ok)
		json_object_object_add(o, "pid", json_object_new_int64(pid));
	else
		json_object_object_add(o, "error",
		    json_object_new_string("nginx master is not running"));
	return o;
}

static struct json_object *
h_check_docker(struct req *r, int *ok)
{
	struct json_object *o = json_object_new_object();
	struct docker_version v;
	struct docker *d;

	*ok = 0;
	if ((d = docker_open(r->conf->docker_socket)) != NULL &&
	    docker_version(d, &v) == DOCKER_OK) {
		*ok = 1;
		json_object_object_add(o, "version",
		    json_object_new_string(v.engine));
		json_object_object_add(o, "api_version",
		    json_object_new_string(v.api));
	}
	docker_close(d);
	json_object_object_add(o, "ok", json_object_new_boolean(*ok));
	if (!*ok)
		json_object_object_add(o, "error",
		    json_object_new_string("Docker daemon does not answer"));
	return o;
}

static struct json_object *
h_check_agent(struct req *r, int *ok)
{
	struct json_object *o = json_object_new_object();
	struct buf path = BUF_INIT;
	long long pid;

	buf_printf(&path, "%s/agent.pid", r->conf->run_dir);
	pid = h_read_pid(path.data);
	*ok = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
	json_object_object_add(o, "ok", json_object_new_boolean(*ok));
	if (!*ok)
		json_object_object_add(o, "error",
		    json_object_new_string("agent is not running"));
	buf_release(&path);
	return o;
}

int
h_health(struct req *r)
{
	struct json_object *o = json_object_new_object();
	int okd, okn, okk, oka;

	json_object_object_add(o, "database", h_check_database(r, &okd));
	json_object_object_add(o, "nginx", h_check_nginx(r, &okn));
	json_object_object_add(o, "docker", h_check_docker(r, &okk));
	json_object_object_add(o, "agent", h_check_agent(r, &oka));
	json_object_object_add(o, "status", json_object_new_string(
	    okd && okn && okk && oka ? "ok" : "degraded"));
	return req_json(r, okd && okn && okk && oka ? 200 : 503, o);
}
int
h_gpus(struct req *r)
{
	struct json_object *o;
	struct gpu_list inv;

	/* The live inventory (SLIPWAY_NVIDIA_SMI, NVML, nvidia-smi); none: []. */
	if (gpu_inventory(NULL, &inv) == -1)
		return req_fail(r, HERR_UNAVAILABLE, "gpu_inventory",
		    "the GPU inventory cannot be read");
	if ((o = gpu_list_json(r->db, &inv)) == NULL)
		return req_fail(r, HERR_UNAVAILABLE, "database",
		    "database error");
	return req_json(r, 200, o);
}
