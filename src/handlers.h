/*
 * handlers: the request handlers named in the route table (route.c).
 * Each answers the request and returns 0, or records an error with
 * req_fail() and returns -1 (the router answers it).
 */
#ifndef SLIPWAY_HANDLERS_H
#define SLIPWAY_HANDLERS_H

#include <stdint.h>

struct req;

/* h_auth.c: users and tokens */
int	h_register(struct req *);
int	h_login(struct req *);
int	h_logout(struct req *);
int	h_users_me(struct req *);
int	h_users_list(struct req *);
int	h_users_delete(struct req *);
int	h_users_reset_password(struct req *);
int	h_users_me_password(struct req *);

/* h_misc.c: health, GPUs */
int	h_health(struct req *);
int	h_gpus(struct req *);

/* h_apps.c: apps (seed-compatible) */
int	h_upload(struct req *);
int	h_status_list(struct req *);
int	h_app_get(struct req *);
int	h_logs(struct req *);
int	h_stop(struct req *);
int	h_restart(struct req *);
int	h_start(struct req *);
int	h_edit_app(struct req *);
int	h_app_delete(struct req *);
int	h_update_status(struct req *);
/* 202 with a newly queued app (upload, template deploy). */
int	h_app_accepted(struct req *, const char *app_id, const char *name,
	    const char *type, int64_t rowid, int64_t job_id);

/* h_templates.c */
int	h_templates_create(struct req *);
int	h_templates_list(struct req *);
int	h_template_deploy(struct req *);
int	h_template_save(struct req *);
int	h_template_edit(struct req *);
int	h_template_delete(struct req *);

/* h_containers.c: Synapse AgentClient container API */
int	h_containers_list(struct req *);
int	h_containers_create(struct req *);
int	h_container_get(struct req *);
int	h_container_patch(struct req *);
int	h_container_delete(struct req *);
int	h_build_get(struct req *);
int	h_docker_list(struct req *);
int	h_docker_create(struct req *);
int	h_docker_get(struct req *);
int	h_docker_delete(struct req *);

#endif
