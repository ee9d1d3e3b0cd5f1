/*
 * config: the runtime configuration, read once from the environment at
 * start (fatal on a malformed value, never silently defaulted).
 *
 *   SLIPWAY_DATA_DIR        ./var            data directory (absolute after load)
 *   SLIPWAY_CONTROL_PORT    8000             control site (UI + API)
 *   SLIPWAY_APPS_PORT       8080             apps site
 *   SLIPWAY_BIND            127.0.0.1        address both sites listen on
 *   SLIPWAY_PUBLIC_HOST     127.0.0.1        host used in absolute URLs
 *   SLIPWAY_MAX_UPLOAD      2g               upload cap (nginx size syntax)
 *   SLIPWAY_TOKEN_TTL       259200           token lifetime, seconds
 *   SLIPWAY_OPEN_REGISTRATION 1             0 closes POST /register
 *   SLIPWAY_PORT_RANGE      7860-8860        host ports for apps
 *   SLIPWAY_START_TIMEOUT   60               seconds until an app must answer
 *   SLIPWAY_BUILD_TIMEOUT   1800             seconds a build may take
 *   SLIPWAY_DOCKER_SOCKET   /var/run/docker.sock
 *   SLIPWAY_NGINX           nginx            nginx binary
 *   SLIPWAY_NGINX_CONF      <data>/nginx/nginx.conf   full config for nginx -t
 *   SLIPWAY_NGINX_PID       <data>/run/nginx.pid      master pid file (reload)
 *   SLIPWAY_APPS_INCLUDE    <data>/nginx/apps.conf    generated include
 *   SLIPWAY_GRADIO_BASE_IMAGE python:3.10-slim
 *   SLIPWAY_TEMPLATES_DIR   (none)           extra built-in templates folder
 *   SLIPWAY_DEBUG           0                debug logging
 * The agent's:
 *   SLIPWAY_GRADIO_PACKAGE  gradio           what pip installs for gradio apps
 *   SLIPWAY_COMPOSE         docker-compose   the compose program
 *   SLIPWAY_APP_MEMORY      (none)           memory limit per app (a size)
 *   SLIPWAY_APP_PIDS        (none)           process limit per app, 1..1000000
 *   SLIPWAY_PASS_HF_TOKEN   0                1: pass HF_TOKEN and
 *                                            HUGGINGFACE_HUB_TOKEN to apps
 *   SLIPWAY_GPU_WAIT        0                1: apps wait in queued for GPUs
 *   SLIPWAY_GRADIO_RUNTIME  docker           docker or venv (host runtime)
 *   SLIPWAY_PYTHON          python3          the venv runtime's interpreter
 *   SLIPWAY_RUN_USER        (the agent's)    the venv runtime's user
 *
 * (Not config.h: that name is autoconf's.)
 */
#ifndef SLIPWAY_CONF_H
#define SLIPWAY_CONF_H

#include <stdint.h>

struct conf {
	char		*data_dir;	/* absolute */
	char		*db_path;	/* <data>/slipway.db */
	char		*run_dir;	/* <data>/run */
	char		*uploads_dir;	/* <data>/uploads */
	char		*templates_dir;	/* <data>/templates */
	char		*builtin_templates_dir; /* may be NULL */
	char		*plugins_dir;	/* <data>/plugins */
	char		*logs_dir;	/* <data>/logs */
	char		*nginx_dir;	/* <data>/nginx */
	char		*tmp_dir;	/* <data>/tmp: uploads in flight */
	char		*agent_socket;	/* <data>/run/agent.sock (wake-ups) */
	char		*bind;
	char		*public_host;
	int		 control_port;
	int		 apps_port;
	uint64_t	 max_upload;	/* bytes */
	char		*max_upload_str;/* as given, nginx syntax */
	int64_t		 token_ttl;
	int		 open_registration;
	int		 port_min, port_max;
	int		 start_timeout;
	int		 build_timeout;
	char		*docker_socket;
	char		*nginx_bin;
	char		*nginx_conf;
	char		*nginx_pid;
	char		*apps_include;
	char		*gradio_base_image;
	int		 debug;
	/* the agent's */
	char		*gradio_package;
	char		*compose_program;
	int64_t		 app_memory;	/* bytes, 0: no limit */
	int64_t		 app_pids;	/* 0: no limit */
	int		 pass_hf_token;
	int		 gpu_wait;
	int		 gradio_venv;	/* SLIPWAY_GRADIO_RUNTIME=venv */
	char		*python;	/* NULL: AGENT_VENV_PYTHON from PATH */
	char		*run_user;	/* NULL: the agent's user */
};

/* Read the environment; returns -1 with a message logged on a bad value. */
int	conf_load(struct conf *);
void	conf_free(struct conf *);

#endif
