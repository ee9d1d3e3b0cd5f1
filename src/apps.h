/*
 * apps: the request side's view of the apps table: load (with ownership),
 * list, create, edit, and the JSON shapes of /status and /apps/{id}.
 * State transitions after creation belong to the agent (agent.c); the
 * request side only sets `desired` and queues jobs.
 */
#ifndef SLIPWAY_APPS_H
#define SLIPWAY_APPS_H

#include <stdint.h>

struct db;
struct json_object;
struct user;

struct app {
	int64_t	 id;		/* row id: the container API id */
	char	*app_id;
	char	*name;
	char	*description;
	char	*type;
	char	*status;
	char	*status_detail;
	char	*desired;
	int64_t	 owner_id;
	char	*owner;		/* username */
	int	 port;		/* 0 = none */
	int	 container_port;
	char	*docker_id;
	char	*image;
	char	*entry;
	char	*allow_ips;
	char	*auth_header;
	int64_t	 vram_required;
	char	*gpus;
	char	*envs;
	char	*plugin_release;
	int64_t	 model;		/* -1 = none */
	char	*params;
	char	*labels;
	char	*metadata;
	int64_t	 template_id;	/* 0 = none */
	int64_t	 last_heartbeat;
	int64_t	 created_at;
	int64_t	 updated_at;
	int64_t	 last_job_id;	/* newest deploy job (build id), 0 = none */
	char	*last_job_state;
};

enum apps_result {
	APPS_OK,
	APPS_NOT_FOUND,		/* also: not visible to this user */
	APPS_CONFLICT,		/* name or (release, model) taken */
	APPS_ERROR,
	APPS__MAX
};

/* The columns app_from_row() expects, for SELECT lists elsewhere. */
#define APP_COLUMNS_APP "a.id, a.app_id, a.name, a.description, a.type, " \
	"a.status, a.status_detail, a.desired, a.owner_id, u.username, a.port, " \
	"a.container_port, a.docker_id, a.image, a.entry, a.allow_ips, " \
	"a.auth_header, a.vram_required, a.gpus, a.envs, a.plugin_release, " \
	"a.model, a.params, a.labels, a.metadata, a.template_id, " \
	"a.last_heartbeat, a.created_at, a.updated_at, "
#define APP_COLUMNS APP_COLUMNS_APP \
	"(SELECT max(j.id) FROM jobs j WHERE j.app_id = a.id AND " \
	"j.kind = 'deploy'), (SELECT j.state FROM jobs j WHERE j.app_id = " \
	"a.id AND j.kind = 'deploy' ORDER BY j.id DESC LIMIT 1)"
/* The same without the deploy job (last_job_id 0, last_job_state ""). */
#define APP_COLUMNS_NO_JOB APP_COLUMNS_APP "0, NULL"
#define APP_FROM " FROM apps a JOIN users u ON u.id = a.owner_id "

struct sqlite3_stmt;
/* A copy of the current row (APP_COLUMNS); caller frees with app_free(). */
struct app	*app_from_row(struct sqlite3_stmt *);
/*
 * The current row without copies: every string points into the statement
 * and is valid only until it steps, resets or is finalized.  Never
 * app_free() a view.
 */
void		 app_view_row(struct sqlite3_stmt *, struct app *);
void		 app_free(struct app *);

/*
 * Load by public app_id, by row id, or by a Docker id prefix (>= 12 hex).
 * viewer NULL = no ownership check; a non-admin sees only their own apps.
 * Rows in 'deleting' are never returned.
 */
enum apps_result app_load(struct db *, const char *key,
	    const struct user *viewer, struct app **out);
enum apps_result app_load_rowid(struct db *, int64_t id,
	    const struct user *viewer, struct app **out);

/* Insert a new app (fields from a; status 'queued') and its deploy job. */
struct app_new {
	const char	*app_id;	/* caller generates */
	const char	*name;
	const char	*description;
	const char	*type;
	const char	*entry;
	const char	*allow_ips;	/* canonical */
	const char	*auth_header;
	int64_t		 vram_required;
	const char	*envs;		/* JSON object text */
	int64_t		 owner_id;
	const char	*plugin_release;/* NULL = none */
	int64_t		 model;		/* -1 = none */
	const char	*params;	/* JSON or NULL */
	const char	*labels;	/* JSON array text */
	const char	*metadata;	/* JSON object text */
	int64_t		 template_id;	/* 0 = none */
};
enum apps_result app_create(struct db *, const struct app_new *,
	    int64_t *rowid_out, int64_t *job_out);

/*
 * JSON for /status and /apps/{id}, appended to out as text (exactly what
 * json-c writes with JSON_C_TO_STRING_PLAIN | NOSLASHESCAPE): url is the
 * path on the apps site, endpoint the absolute URL.
 */
struct buf;
struct conf;
void	 app_json_write(struct buf *out, const struct app *,
	    const struct conf *);

/* Set desired state and queue a job (one transaction). */
enum apps_result app_request(struct db *, const struct app *,
	    const char *desired, const char *job_kind, int64_t *job_out);
/* Mark deleting, cancel pending jobs, queue delete (one transaction). */
enum apps_result app_request_delete(struct db *, const struct app *);

/* A fresh random app id that is not taken (12 chars). */
int	app_new_id(struct db *, char out[13]);

#endif

/* Options a user sets on an app (upload, deploy, container create, edit). */
struct req;
struct form;
struct app_opts {
	const char	*name;		/* NULL: not given */
	const char	*description;
	char		*allow_ips;	/* canonical; NULL: not given */
	const char	*auth_header;
	int64_t		 vram_required;	/* -1: not given */
	char		*envs;		/* canonical JSON object; NULL: not given */
};
/* Validate the fields present in f (400 with a clear message). */
int	app_opts_parse(struct req *, const struct form *, struct app_opts *);
void	app_opts_release(struct app_opts *);
/* Validate a JSON object of environment variables; canonical text out. */
int	app_envs_parse(struct req *, const char *json, char **out);
