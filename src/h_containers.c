/*
 * h_containers: the Synapse SDK AgentClient container API (API.md,
 * "Container API"), on top of apps.
 *
 * Model.
 * - Every container is an app and every app is a container.  The container
 *   id is the apps row id; app_load() also takes the public app_id and a
 *   Docker id prefix (12..64 hex).  Containers made here are apps of type
 *   "plugin" named "<code>-<app_id>", with plugin_release, model, params,
 *   envs, labels and metadata stored on the row; apps from /upload or from
 *   templates are listed too (plugin_release and model null).
 * - "status" is the app status, except that queued (and the seed's
 *   uploaded) read "building": the SDK polls while a container is
 *   "building".  ?status=building (or queued) matches all three.
 * - "build_id" is a job id (jobs.h): the newest deploy job of the app, or
 *   the job a create/restart/PATCH just queued or joined.
 *
 * Create (POST /containers, POST /containers/docker).
 * - Input is a JSON object, or multipart/form-data with the archive in
 *   part "file" and every other field as a text part: params, envs and
 *   metadata as JSON text, labels repeated (a single labels part holding a
 *   JSON array of strings is read as that list), model as decimal text.
 *   JSON input may also carry params/envs/metadata as JSON text.
 * - The release: plugin_release "code@version"; or plugin_release "code"
 *   with version (the SDK's PluginRelease form); or plugin and version.
 *   With a file and none of these, config.yaml names it.  action and
 *   entrypoint are checked for shape and otherwise ignored: the plugin's
 *   config.yaml decides what runs.  model is an integer >= 0.  params must
 *   fit one environment value (it becomes PLUGIN_PARAMS).
 * - With a file: upload_unpack() into <uploads>/<new app_id> (sniffed,
 *   extracted safely); it must be a plugin whose config.yaml passes the
 *   yamlcfg checks and names the requested code and version (else 400).
 *   The tree is then published as the release <plugins>/<code>@<version>/:
 *   a hard-linked copy made under a temporary name is renamed into place
 *   under flock(<plugins>/.lock) held exclusively (an older copy is moved
 *   aside first and removed after the lock is dropped); readers copy a
 *   release with the lock held shared, so they never see it half replaced.
 *   Releases are shared by all users, but only the uploader (recorded in
 *   <plugins>/.owners/<release>) or an admin may replace one: 409.
 * - Without a file: the sources are a tree_copy() of <plugins>/<release>/,
 *   else of the template (templates.dir) named "code@version" or "code"
 *   whose config.yaml is that release (folders dropped into the templates
 *   directories are registered first), checked the same way; neither is
 *   404.  Neither a release nor a file is 400.
 * - (plugin_release, model) is unique among live apps (index
 *   apps_release_model).  A pair that exists, whether seen before the
 *   INSERT or reported by its constraint, is not created again: it is
 *   started (desired running and a restart job) and answered 200 with
 *   "restarted": true, the same id and endpoint.  If a deploy, start or
 *   restart of it is already pending or running (and no other job is
 *   queued after it), that job is joined instead and is the build_id: so
 *   concurrent creates of one pair make one container and one build, and
 *   every caller polls the same build.  A re-uploaded archive replaces the
 *   stored release (for later creates); a restarted container keeps its
 *   image.  A pair owned by another user is 409.
 * - Create never waits for the agent: 201 with "status": "building" and
 *   build_id.
 *
 * GET /builds/{id}: job pending -> pending; running -> building; cancelled
 * -> cancelled; failed -> failed (the job's error, else status_detail);
 * done -> failed when the app is in error, building while it is still
 * queued/building/starting, else completed with the container in result.
 * A build of a deleted container is cancelled.
 *
 * Lists: ?page (from 1), ?page_size (default PAGE_SIZE_DEFAULT; above
 * PAGE_SIZE_MAX reads as PAGE_SIZE_MAX), filters status, plugin_release,
 * model and label (repeatable, every one must be among the container's
 * labels: json_each over apps.labels, bound parameters).  The answer is
 * {"count","next","previous","results"}; next and previous are absolute
 * URLs from the request's validated Host (req->scheme_host) and path, with
 * the other query parameters kept.  A page past the last is 404, as in
 * Django REST framework.  Owners see their own containers, admins all.
 *
 * /containers/docker: Docker's own view (docker_container_list, a short
 * call from the worker) of the containers labelled slipway.app that carry
 * this installation's slipway.instance (meta agent_instance); never other
 * containers on the host.  A user sees those whose app is theirs, an admin
 * all of this instance's.  DELETE /containers/docker/{id} deletes the app
 * owning the container.  Docker not answering is 503.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apps.h"
#include "archive.h"
#include "auth.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "docker.h"
#include "form.h"
#include "handlers.h"
#include "jobs.h"
#include "log.h"
#include "ngxconf.h"
#include "req.h"
#include "templates.h"
#include "upload.h"
#include "valid.h"
#include "yamlcfg.h"


#define C_CODE_NAME_MAX		50	/* of the code in "<code>-<app_id>" */

/* A create request, validated. */
struct cspec {
	char	 release[128];	/* "code@version", or "" (file decides) */
	int64_t	 model;		/* -1: none */
	char	*params;	/* canonical JSON object text, or NULL */
	char	*envs;		/* canonical (app_envs_parse), or NULL */
	char	*metadata;	/* canonical JSON object text, or NULL */
	char	*labels;	/* canonical JSON array text, or NULL */
};

static void
cspec_release(struct cspec *s)
{
	free(s->params);
	free(s->envs);
	free(s->metadata);
	free(s->labels);
	s->params = s->envs = s->metadata = s->labels = NULL;
}

static const char *
c_json_text(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

static int
c_db_fail(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "database",
	    "database unavailable");
}

static int
c_apps_fail(struct req *r, enum apps_result res)
{
	if (res == APPS_NOT_FOUND)
		return req_fail(r, HERR_NOT_FOUND, "not_found",
		    "no such container");
	return c_db_fail(r);
}

/* ------------------------------------------------------------------ */
/* JSON shapes                                                         */

/* The public status: queued (and uploaded) read "building". */
static const char *
c_status_public(const char *s)
{
	if (strcmp(s, "queued") == 0 || strcmp(s, "uploaded") == 0)
		return "building";
	return s;
}

/* Parse stored JSON text of the wanted type, else fallback (consumed). */
static void
c_add_stored(struct json_object *o, const char *key, const char *text,
    enum json_type want, struct json_object *fallback)
{
	struct json_object *v = text != NULL && *text != '\0' ?
	    json_tokener_parse(text) : NULL;

	if (v != NULL && json_object_is_type(v, want)) {
		json_object_put(fallback);
		json_object_object_add(o, key, v);
		return;
	}
	json_object_put(v);
	json_object_object_add(o, key, fallback);
}

static struct json_object *
c_str_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_object_new_string(s) : NULL;
}

/* A container (caller owns the reference).  build_id <= 0: the app's. */
static struct json_object *
c_container_json(const struct app *a, const struct conf *conf,
    int64_t build_id)
{
	struct json_object *o = json_object_new_object();
	struct buf url = BUF_INIT;

	if (build_id <= 0)
		build_id = a->last_job_id;
	json_object_object_add(o, "id", json_object_new_int64(a->id));
	json_object_object_add(o, "app_id", json_object_new_string(a->app_id));
	json_object_object_add(o, "docker_id", c_str_or_null(a->docker_id));
	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "type", json_object_new_string(a->type));
	json_object_object_add(o, "plugin_release",
	    c_str_or_null(a->plugin_release));
	json_object_object_add(o, "model", a->model >= 0 ?
	    json_object_new_int64(a->model) : NULL);
	json_object_object_add(o, "status",
	    json_object_new_string(c_status_public(a->status)));
	json_object_object_add(o, "status_detail",
	    json_object_new_string(a->status_detail));
	json_object_object_add(o, "desired",
	    json_object_new_string(a->desired));
	json_object_object_add(o, "image", c_str_or_null(a->image));
	buf_printf(&url, "http://%s:%d/apps/%s/", conf->public_host,
	    conf->apps_port, a->app_id);
	json_object_object_add(o, "endpoint", json_object_new_string(url.data));
	buf_reset(&url);
	buf_printf(&url, "/apps/%s/", a->app_id);
	json_object_object_add(o, "url", json_object_new_string(url.data));
	json_object_object_add(o, "host_port", a->port > 0 ?
	    json_object_new_int(a->port) : NULL);
	c_add_stored(o, "params", a->params, json_type_object,
	    json_object_new_object());
	c_add_stored(o, "envs", a->envs, json_type_object,
	    json_object_new_object());
	c_add_stored(o, "labels", a->labels, json_type_array,
	    json_object_new_array());
	c_add_stored(o, "metadata", a->metadata, json_type_object,
	    json_object_new_object());
	json_object_object_add(o, "owner", json_object_new_string(a->owner));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(a->created_at));
	json_object_object_add(o, "updated_at",
	    json_object_new_int64(a->updated_at));
	json_object_object_add(o, "build_id", build_id > 0 ?
	    json_object_new_int64(build_id) : NULL);
	buf_release(&url);
	return o;
}

/* Answer one container, reloaded by row id. */
static int
c_answer_rowid(struct req *r, int status, int64_t rowid, int64_t build_id,
    int restarted)
{
	struct json_object *o;
	struct app *a = NULL;
	enum apps_result res;

	if ((res = app_load_rowid(r->db, rowid, r->user, &a)) != APPS_OK)
		return c_apps_fail(r, res);
	o = c_container_json(a, r->conf, build_id);
	if (restarted)
		json_object_object_add(o, "restarted",
		    json_object_new_boolean(1));
	app_free(a);
	return req_json(r, status, o);
}

/* ------------------------------------------------------------------ */
/* Create: input                                                       */

/* A string field: NULL when absent, null or ""; 400 when not a string. */
static int
c_get_str(struct req *r, struct json_object *in, const char *key,
    int allow_int, const char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(in, key, &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_string) ||
	    (allow_int && json_object_is_type(v, json_type_int))) {
		if (json_object_is_type(v, json_type_string) &&
		    strlen(json_object_get_string(v)) !=
		    (size_t)json_object_get_string_len(v))
			return req_fail(r, HERR_BAD_REQUEST, "invalid_field",
			    "%s must not contain NUL bytes", key);
		*out = json_object_get_string(v);
		if (**out == '\0')
			*out = NULL;
		return 0;
	}
	return req_fail(r, HERR_BAD_REQUEST, "invalid_field",
	    "%s must be a string", key);
}

/*
 * A JSON value of type want given as itself or as JSON text in a string;
 * absent, null or "" leave *out NULL.  Canonical text out, at most max.
 */
static int
c_get_json(struct req *r, struct json_object *in, const char *key,
    enum json_type want, size_t max, char **out)
{
	struct json_object *v, *parsed = NULL;
	struct json_tokener *tok = NULL;
	const char *s, *what = want == json_type_array ? "a JSON list" :
	    "a JSON object";
	int rc = -1, len;

	*out = NULL;
	if (!json_object_object_get_ex(in, key, &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		len = json_object_get_string_len(v);
		if (len == 0)
			return 0;
		tok = json_tokener_new_ex(CONTAINER_JSON_DEPTH);
		parsed = json_tokener_parse_ex(tok, s, len);
		if (parsed == NULL || json_tokener_get_error(tok) !=
		    json_tokener_success ||
		    json_tokener_get_parse_end(tok) != (size_t)len ||
		    valid_utf8(s, (size_t)len) == -1) {
			req_fail(r, HERR_BAD_REQUEST, "invalid_field",
			    "%s must be %s", key, what);
			goto out;
		}
		v = parsed;
	}
	if (!json_object_is_type(v, want)) {
		req_fail(r, HERR_BAD_REQUEST, "invalid_field", "%s must be %s",
		    key, what);
		goto out;
	}
	s = c_json_text(v);
	if (strlen(s) > max) {
		req_fail(r, HERR_BAD_REQUEST, "invalid_field",
		    "%s is too large (at most %zu bytes as JSON)", key, max);
		goto out;
	}
	*out = xstrdup(s);
	rc = 0;
out:
	json_object_put(parsed);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

/* labels: a list of strings (or one string: one label). */
static int
c_get_labels(struct req *r, struct json_object *in, char **out)
{
	struct json_object *v, *arr = NULL, *canon = NULL, *item;
	char *text = NULL;
	size_t i, n;
	int rc = -1;

	*out = NULL;
	if (!json_object_object_get_ex(in, "labels", &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_string) &&
	    json_object_get_string(v)[0] != '[') {
		canon = json_object_new_array();
		json_object_array_add(canon, json_object_get(v));
	} else {
		if (c_get_json(r, in, "labels", json_type_array,
		    LIMIT_JSON_BODY, &text) == -1)
			return -1;
		if (text == NULL)
			return 0;
		canon = json_tokener_parse(text);
	}
	if (canon == NULL || !json_object_is_type(canon, json_type_array))
		goto bad;
	n = json_object_array_length(canon);
	if (n > CONTAINER_LABELS_MAX) {
		req_fail(r, HERR_BAD_REQUEST, "invalid_labels",
		    "at most %d labels", CONTAINER_LABELS_MAX);
		goto out;
	}
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(canon, i);
		if (item == NULL ||
		    !json_object_is_type(item, json_type_string) ||
		    strlen(json_object_get_string(item)) !=
		    (size_t)json_object_get_string_len(item) ||
		    valid_label(json_object_get_string(item)) == -1)
			goto bad;
		json_object_array_add(arr, json_object_get(item));
	}
	*out = xstrdup(c_json_text(arr));
	rc = 0;
	goto out;
bad:
	req_fail(r, HERR_BAD_REQUEST, "invalid_labels", "labels must be a "
	    "list of strings of 1 to 128 printable characters");
out:
	json_object_put(arr);
	json_object_put(canon);
	free(text);
	return rc;
}

static int
c_get_model(struct req *r, struct json_object *in, int64_t *out)
{
	struct json_object *v;
	long long n;

	*out = -1;
	if (!json_object_object_get_ex(in, "model", &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		n = json_object_get_int64(v);
		if (errno == 0 && n >= 0 && n <= CONTAINER_MODEL_MAX) {
			*out = n;
			return 0;
		}
	} else if (json_object_is_type(v, json_type_string)) {
		if (json_object_get_string_len(v) == 0)
			return 0;
		if (valid_int(json_object_get_string(v), 0, CONTAINER_MODEL_MAX,
		    &n) == 0) {
			*out = n;
			return 0;
		}
	}
	return req_fail(r, HERR_BAD_REQUEST, "invalid_model",
	    "model must be an integer from 0 to %lld", CONTAINER_MODEL_MAX);
}

/* ^[A-Za-z0-9_.-]{1,64}$ (action) */
static int
c_valid_word(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n ? 0 : -1;
}

/* A relative path or dotted module of safe characters, no "..". */
static int
c_valid_entrypoint(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > PLUGIN_ENTRYPOINT_MAX || s[0] == '/' ||
	    strstr(s, "..") != NULL)
		return -1;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_./-") == n ? 0 : -1;
}

/* Every field of a create request (see the top of the file). */
static int
c_spec_parse(struct req *r, struct json_object *in, struct cspec *s)
{
	const char *pr, *plugin, *version, *action, *entry;

	if (c_get_str(r, in, "plugin_release", 0, &pr) == -1 ||
	    c_get_str(r, in, "plugin", 1, &plugin) == -1 ||
	    c_get_str(r, in, "version", 0, &version) == -1 ||
	    c_get_str(r, in, "action", 0, &action) == -1 ||
	    c_get_str(r, in, "entrypoint", 0, &entry) == -1)
		return -1;
	if (action != NULL && c_valid_word(action) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_action",
		    "action must match ^[A-Za-z0-9_.-]{1,64}$");
	if (entry != NULL && c_valid_entrypoint(entry) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_entrypoint",
		    "entrypoint must be a relative path or module name");
	s->release[0] = '\0';
	if (pr != NULL && strchr(pr, '@') != NULL) {
		if (valid_plugin_release(pr) == -1 ||
		    str_copy(s->release, sizeof(s->release), pr) == -1)
			goto badrel;
	} else if (pr != NULL || plugin != NULL) {
		/* "code" plus version: the SDK's PluginRelease form */
		if (pr == NULL)
			pr = plugin;
		if (version == NULL)
			return req_fail(r, HERR_BAD_REQUEST, "invalid_release",
			    "plugin_release must be \"code@version\" (or give "
			    "version)");
		if (str_fmt(s->release, sizeof(s->release), "%s@%s", pr,
		    version) == -1 || valid_plugin_release(s->release) == -1)
			goto badrel;
	}
	if (c_get_model(r, in, &s->model) == -1 ||
	    c_get_json(r, in, "params", json_type_object, CONTAINER_PARAMS_MAX,
	    &s->params) == -1 ||
	    c_get_json(r, in, "metadata", json_type_object,
	    CONTAINER_METADATA_MAX, &s->metadata) == -1 ||
	    c_get_labels(r, in, &s->labels) == -1)
		return -1;
	if (s->params != NULL && valid_env_value(s->params) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_field",
		    "params cannot be passed as PLUGIN_PARAMS");
	{
		char *envs = NULL;

		if (c_get_json(r, in, "envs", json_type_object,
		    LIMIT_JSON_BODY, &envs) == -1)
			return -1;
		if (envs != NULL && app_envs_parse(r, envs, &s->envs) == -1) {
			free(envs);
			return -1;
		}
		free(envs);
	}
	return 0;
badrel:
	s->release[0] = '\0';
	return req_fail(r, HERR_BAD_REQUEST, "invalid_release",
	    "plugin_release must be \"code@version\": code "
	    "^[a-z0-9][a-z0-9_-]{0,62}$, version "
	    "^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$");
}

/* Multipart text fields as the JSON object c_spec_parse reads. */
static struct json_object *
c_form_to_json(const struct form *f)
{
	static const char *const names[] = {
		"plugin_release", "plugin", "version", "action", "entrypoint",
		"model", "params", "envs", "metadata",
	};
	struct json_object *o = json_object_new_object(), *arr;
	const char *v;
	size_t i, n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((v = form_get(f, names[i])) != NULL && *v != '\0')
			json_object_object_add(o, names[i],
			    json_object_new_string(v));
	n = form_count(f, "labels");
	if (n == 1 && (v = form_get(f, "labels")) != NULL && v[0] == '[')
		json_object_object_add(o, "labels", json_object_new_string(v));
	else if (n > 0) {
		arr = json_object_new_array();
		for (i = 0; i < n; i++)
			if ((v = form_get_nth(f, "labels", i)) != NULL)
				json_object_array_add(arr,
				    json_object_new_string(v));
		json_object_object_add(o, "labels", arr);
	}
	return o;
}

/* Does the media type (before ';') equal want? */
static int
c_ctype_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, want, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* ------------------------------------------------------------------ */
/* Releases                                                            */

/* flock(<plugins>/.lock); the descriptor, or -1 (logged). */
static int
c_plugins_lock(const struct conf *conf, int op)
{
	struct buf path = BUF_INIT;
	int fd;

	if (mkdir(conf->plugins_dir, 0755) == -1 && errno != EEXIST)
		log_warn("mkdir %s", conf->plugins_dir);
	buf_printf(&path, "%s/.lock", conf->plugins_dir);
	fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		log_warn("open %s", path.data);
	else if (flock(fd, op) == -1) {
		log_warn("flock %s", path.data);
		close(fd);
		fd = -1;
	}
	buf_release(&path);
	return fd;
}

/*
 * Check that the plugin tree at dir is the release s->release (or, when
 * the request named none, take it from config.yaml).
 */
static int
c_tree_release(struct req *r, const char *dir, struct cspec *s)
{
	struct plugin_config pc;
	struct buf path = BUF_INIT;
	char err[512], rel[128];
	int rc = -1;

	buf_printf(&path, "%s/config.yaml", dir);
	if (plugin_config_load(path.data, &pc, err, sizeof(err)) == -1) {
		req_fail(r, HERR_BAD_REQUEST, "bad_plugin", "%s", err);
		goto out;
	}
	if (str_fmt(rel, sizeof(rel), "%s@%s", pc.code, pc.version) == -1 ||
	    valid_plugin_release(rel) == -1) {
		req_fail(r, HERR_BAD_REQUEST, "bad_plugin",
		    "config.yaml: code and version do not make a release name");
		goto out;
	}
	if (s->release[0] == '\0')
		(void)str_copy(s->release, sizeof(s->release), rel);
	else if (strcmp(s->release, rel) != 0) {
		req_fail(r, HERR_BAD_REQUEST, "release_mismatch",
		    "the plugin's config.yaml is %s, not %s", rel, s->release);
		goto out;
	}
	rc = 0;
out:
	buf_release(&path);
	return rc;
}

/*
 * Who uploaded a release: <plugins>/.owners/<release> holds the user id
 * (decimal).  1 and *uid set, 0 when there is no record, -1 on error.
 */
static int
c_release_owner(const struct conf *conf, const char *release, int64_t *uid)
{
	struct buf path = BUF_INIT;
	char text[32];
	long long v;
	ssize_t n;
	int fd, rc = -1;

	buf_printf(&path, "%s/.owners/%s", conf->plugins_dir, release);
	if ((fd = open(path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			rc = 0;
		else
			log_warn("open %s", path.data);
		goto out;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		goto bad;
	text[n] = '\0';
	if (text[n - 1] == '\n')
		text[n - 1] = '\0';
	if (valid_int(text, 1, INT64_MAX, &v) == -1)
		goto bad;
	*uid = v;
	rc = 1;
	goto out;
bad:
	log_warnx("%s: not a user id", path.data);
out:
	buf_release(&path);
	return rc;
}

/* Record uid as the uploader of release (temporary file, rename). */
static int
c_release_set_owner(const struct conf *conf, const char *release,
    int64_t uid)
{
	struct buf dir = BUF_INIT, tmp = BUF_INIT, fin = BUF_INIT;
	char text[32];
	int fd = -1, rc = -1, len;

	buf_printf(&dir, "%s/.owners", conf->plugins_dir);
	buf_printf(&tmp, "%s/.%s.tmp", dir.data, release);
	buf_printf(&fin, "%s/%s", dir.data, release);
	if (mkdir(dir.data, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir.data);
		goto out;
	}
	len = snprintf(text, sizeof(text), "%lld\n", (long long)uid);
	if (len < 0 || (size_t)len >= sizeof(text))
		goto out;
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1 || write(fd, text, (size_t)len) != len) {
		log_warn("write %s", tmp.data);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_warn("close %s", tmp.data);
		goto out;
	}
	fd = -1;
	if (rename(tmp.data, fin.data) == -1) {
		log_warn("rename %s", tmp.data);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1)
		(void)unlink(tmp.data);
	buf_release(&dir);
	buf_release(&tmp);
	buf_release(&fin);
	return rc;
}

/*
 * Store the checked tree dir as <plugins>/<release>, replacing one.  A
 * release is shared (anyone may create containers from it) but only its
 * uploader or an admin may replace it; one without an uploader record (put
 * there by the operator) only an admin.  Otherwise 409.
 */
static int
c_release_publish(struct req *r, const char *dir, const char *release)
{
	struct buf tmp = BUF_INIT, old = BUF_INIT, fin = BUF_INIT;
	char rnd[13];
	int64_t owner = 0;
	int lock = -1, moved = 0, rc = -1, known, exists;

	auth_random_id(rnd, 12);
	buf_printf(&tmp, "%s/.tmp-%s", r->conf->plugins_dir, rnd);
	buf_printf(&old, "%s/.old-%s", r->conf->plugins_dir, rnd);
	buf_printf(&fin, "%s/%s", r->conf->plugins_dir, release);
	if ((lock = c_plugins_lock(r->conf, LOCK_EX)) == -1 ||
	    (known = c_release_owner(r->conf, release, &owner)) == -1)
		goto fail;
	exists = access(fin.data, F_OK) == 0;
	if (exists && !r->user->is_admin && (!known || owner != r->user->id)) {
		req_fail(r, HERR_CONFLICT, "release_owned", "plugin release "
		    "%s was uploaded by another user: create containers "
		    "from it without a file, or upload another version",
		    release);
		goto out;
	}
	if (tree_copy(dir, tmp.data) == -1)
		goto fail;
	if (rename(fin.data, old.data) == 0)
		moved = 1;
	else if (errno != ENOENT) {
		log_warn("rename %s", fin.data);
		goto fail;
	}
	if (rename(tmp.data, fin.data) == -1) {
		log_warn("rename %s", tmp.data);
		if (moved && rename(old.data, fin.data) == 0)
			moved = 0;
		goto fail;
	}
	if (!known && c_release_set_owner(r->conf, release, r->user->id) == -1)
		log_warnx("release %s: uploader not recorded", release);
	rc = 0;
	log_info("plugin release %s stored by %s", release, r->user->username);
	goto out;
fail:
	req_fail(r, HERR_INTERNAL, "io", "could not store the plugin release");
	(void)tree_remove(tmp.data);
out:
	if (lock != -1)
		close(lock);
	if (moved)
		(void)tree_remove(old.data);
	buf_release(&tmp);
	buf_release(&old);
	buf_release(&fin);
	return rc;
}

/* Is path a directory (not a symlink to one)? */
static int
c_is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Is the plugin at dir (its config.yaml) the release rel? */
static int
c_dir_is_release(const char *dir, const char *rel)
{
	struct plugin_config pc;
	struct buf path = BUF_INIT;
	char err[256], have[128];
	int yes;

	buf_printf(&path, "%s/config.yaml", dir);
	yes = plugin_config_load(path.data, &pc, err, sizeof(err)) == 0 &&
	    str_fmt(have, sizeof(have), "%s@%s", pc.code, pc.version) == 0 &&
	    strcmp(have, rel) == 0;
	buf_release(&path);
	return yes;
}

/* The folder of the template named rel or code whose plugin is rel. */
static int
c_template_dir(struct req *r, const char *rel, const char *code,
    struct buf *out)
{
	sqlite3_stmt *st;
	const char *d;
	int found = 0, step;

	st = db_prepare(r->db, "SELECT dir FROM templates WHERE name IN "
	    "(?1, ?2) ORDER BY name = ?1 DESC");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, rel);
	db_bind_text(st, 2, code);
	while (!found && (step = sqlite3_step(st)) == SQLITE_ROW) {
		d = (const char *)sqlite3_column_text(st, 0);
		if (d == NULL || d[0] != '/')
			continue;
		buf_reset(out);
		buf_adds(out, d);
		found = c_is_dir(out->data) && c_dir_is_release(out->data, rel);
	}
	sqlite3_finalize(st);
	return found;
}

/*
 * Copy the stored sources of s->release to dst: the uploaded release, else
 * the template named "code@version" or "code" whose config.yaml is that
 * release (folders dropped into the templates directories are registered
 * first).  404 when there are none.
 */
static int
c_release_copy(struct req *r, const struct cspec *s, const char *dst)
{
	struct buf src = BUF_INIT;
	char code[64];
	const char *at = strchr(s->release, '@');
	int lock = -1, rc = -1, found = 0;

	buf_printf(&src, "%s/%s", r->conf->plugins_dir, s->release);
	if ((lock = c_plugins_lock(r->conf, LOCK_SH)) == -1) {
		req_fail(r, HERR_INTERNAL, "io", "cannot read plugin releases");
		goto out;
	}
	if (c_is_dir(src.data))
		found = 1;
	else {
		close(lock);
		lock = -1;
		if (at == NULL || str_fmt(code, sizeof(code), "%.*s",
		    (int)(at - s->release), s->release) == -1)
			goto unknown;
		(void)templates_register(r->db, r->conf);
		if ((found = c_template_dir(r, s->release, code, &src)) == -1) {
			c_db_fail(r);
			goto out;
		}
	}
	if (!found)
		goto unknown;
	if (tree_copy(src.data, dst) == -1) {
		req_fail(r, HERR_INTERNAL, "io",
		    "could not copy the plugin release");
		goto out;
	}
	rc = 0;
	goto out;
unknown:
	req_fail(r, HERR_NOT_FOUND, "unknown_release", "plugin release %s "
	    "is unknown: upload it once with the archive in file",
	    s->release);
out:
	if (lock != -1)
		close(lock);
	buf_release(&src);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Create: the (plugin_release, model) pair                            */

/* Row id of the live app holding the pair: 1 found, 0 none, -1 error. */
static int
c_pair_find(struct db *db, const struct cspec *s, int64_t *rowid)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT id FROM apps WHERE "
	    "plugin_release = ? AND ifnull(model, -1) = ? AND "
	    "status <> 'deleting' LIMIT 1");
	int rc;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, s->release);
	db_bind_int(st, 2, s->model);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*rowid = sqlite3_column_int64(st, 0);
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	default:
		log_warnx("%s", sqlite3_errmsg(db->conn));
		rc = -1;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * Make the app run: join its pending or running deploy/start/restart job
 * when that is the newest unfinished one, else set desired running and
 * queue a restart (one transaction).  *job_out: the job.
 */
static enum apps_result
c_ensure_running(struct db *db, int64_t rowid, int64_t *job_out)
{
	sqlite3_stmt *st;
	const char *kind;
	int64_t job = 0;
	int rc;

	if (db_begin(db) == -1)
		return APPS_ERROR;
	st = db_prepare(db, "SELECT id, kind FROM jobs WHERE app_id = ? AND "
	    "state IN ('pending', 'running') ORDER BY id DESC LIMIT 1");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, rowid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		kind = (const char *)sqlite3_column_text(st, 1);
		if (kind != NULL && (strcmp(kind, "deploy") == 0 ||
		    strcmp(kind, "start") == 0 || strcmp(kind, "restart") == 0))
			job = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	st = db_prepare(db, "UPDATE apps SET desired = 'running', updated_at = "
	    "? WHERE id = ? AND status <> 'deleting'");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, db_now());
	db_bind_int(st, 2, rowid);
	if (db_exec_stmt(db, st) == -1)
		goto fail;
	if (db_changes(db) != 1) {
		db_rollback(db);
		return APPS_NOT_FOUND;
	}
	if (job == 0 && (jobs_cancel_pending(db, rowid) == -1 ||
	    jobs_enqueue(db, rowid, JOB_RESTART, &job) == -1))
		goto fail;
	if (db_commit(db) == -1)
		goto fail;
	*job_out = job;
	return APPS_OK;
fail:
	db_rollback(db);
	return APPS_ERROR;
}

/*
 * The pair exists at rowid: start it and answer 200 "restarted".  1 when
 * the row went away meanwhile (the caller tries to create again).
 */
static int
c_restart_existing(struct req *r, int64_t rowid)
{
	struct app *a = NULL;
	enum apps_result res;
	int64_t job = 0;

	res = app_load_rowid(r->db, rowid, r->user, &a);
	if (res == APPS_NOT_FOUND) {
		res = app_load_rowid(r->db, rowid, NULL, &a);
		app_free(a);
		if (res == APPS_OK)
			return req_fail(r, HERR_CONFLICT, "release_in_use",
			    "another user's container runs this plugin "
			    "release and model");
		return res == APPS_NOT_FOUND ? 1 : c_db_fail(r);
	}
	if (res != APPS_OK)
		return c_db_fail(r);
	res = c_ensure_running(r->db, rowid, &job);
	if (res == APPS_NOT_FOUND) {
		app_free(a);
		return 1;
	}
	if (res != APPS_OK) {
		app_free(a);
		return c_db_fail(r);
	}
	jobs_wake(r->conf->agent_socket);
	log_info("container %lld (%s, %s) restarted by %s", (long long)rowid,
	    a->app_id, a->plugin_release ? a->plugin_release : "-",
	    r->user->username);
	app_free(a);
	return c_answer_rowid(r, 200, rowid, job, 1);
}

/* ------------------------------------------------------------------ */
/* Create                                                              */

static int
c_create(struct req *r)
{
	struct upload *u = NULL;
	struct upload_tree tree;
	struct json_object *in = NULL;
	struct cspec s;
	struct app_new an;
	struct buf dir = BUF_INIT, name = BUF_INIT, desc = BUF_INIT;
	char app_id[APP_ID_LEN + 1], code[64];
	const char *at;
	enum apps_result res;
	int64_t rowid = 0, job = 0;
	int have_file = 0, placed = 0, rc = -1, tries, found;

	memset(&s, 0, sizeof(s));
	s.model = -1;
	if (c_ctype_is(r->content_type, "multipart/form-data")) {
		if (upload_receive(r, r->conf->max_upload, &u) == -1)
			goto out;
		have_file = upload_has_file(u);
		in = c_form_to_json(&u->fields);
	} else if (c_ctype_is(r->content_type, "application/json")) {
		if (req_json_body(r, &in) == -1)
			goto out;
		if (!json_object_is_type(in, json_type_object)) {
			req_fail(r, HERR_BAD_REQUEST, "bad_json",
			    "expected a JSON object");
			goto out;
		}
	} else if (r->content_length == 0 && !r->has_body) {
		in = json_object_new_object();
	} else {
		req_fail(r, HERR_UNSUPPORTED, "unsupported_media_type",
		    "send JSON, or multipart/form-data with the archive in "
		    "file");
		goto out;
	}
	if (c_spec_parse(r, in, &s) == -1)
		goto out;
	if (!have_file && s.release[0] == '\0') {
		req_fail(r, HERR_BAD_REQUEST, "missing_release",
		    "plugin_release (\"code@version\") or a plugin archive in "
		    "file is required");
		goto out;
	}
	if (app_new_id(r->db, app_id) == -1) {
		c_db_fail(r);
		goto out;
	}
	buf_printf(&dir, "%s/%s", r->conf->uploads_dir, app_id);
	if (have_file) {
		if (upload_unpack(r, u, dir.data, &tree) == -1)
			goto out;
		placed = 1;
		if (strcmp(tree.type, "plugin") != 0) {
			req_fail(r, HERR_BAD_REQUEST, "not_a_plugin",
			    "the archive is not a plugin release (no "
			    "config.yaml at its top)");
			goto out;
		}
		if (c_tree_release(r, dir.data, &s) == -1 ||
		    c_release_publish(r, dir.data, s.release) == -1)
			goto out;
	}
	for (tries = 0; tries < CONTAINER_CREATE_TRIES; tries++) {
		if ((found = c_pair_find(r->db, &s, &rowid)) == -1) {
			c_db_fail(r);
			goto out;
		}
		if (found) {
			if (placed)
				(void)tree_remove(dir.data);
			placed = 0;
			if ((rc = c_restart_existing(r, rowid)) != 1)
				goto out;	/* answered, or failed */
			rc = -1;
			continue;	/* deleted meanwhile: create it */
		}
		if (!placed) {
			if (c_release_copy(r, &s, dir.data) == -1)
				goto out;
			placed = 1;
			if (upload_check_tree(r, dir.data, &tree) == -1)
				goto out;
			if (strcmp(tree.type, "plugin") != 0) {
				req_fail(r, HERR_BAD_REQUEST, "not_a_plugin",
				    "the stored sources of %s are not a plugin",
				    s.release);
				goto out;
			}
			if (c_tree_release(r, dir.data, &s) == -1)
				goto out;
		}
		at = strchr(s.release, '@');
		if (str_fmt(code, sizeof(code), "%.*s", (int)(at - s.release),
		    s.release) == -1)
			goto out;
		buf_reset(&name);
		buf_printf(&name, "%.*s-%s", C_CODE_NAME_MAX, code, app_id);
		while (name.len > 0 && (name.data[name.len - 1] == '-'))
			buf_truncate(&name, name.len - 1);
		buf_reset(&desc);
		buf_printf(&desc, "Synapse plugin %s", s.release);
		if (s.model >= 0)
			buf_printf(&desc, ", model %lld", (long long)s.model);
		memset(&an, 0, sizeof(an));
		an.app_id = app_id;
		an.name = name.data;
		an.description = desc.data;
		an.type = "plugin";
		an.entry = tree.entry;
		an.envs = s.envs;
		an.owner_id = r->user->id;
		an.plugin_release = s.release;
		an.model = s.model;
		an.params = s.params;
		an.labels = s.labels;
		an.metadata = s.metadata;
		res = app_create(r->db, &an, &rowid, &job);
		if (res == APPS_OK) {
			placed = 0;
			jobs_wake(r->conf->agent_socket);
			log_info("container %lld (%s, %s) created by %s",
			    (long long)rowid, app_id, s.release,
			    r->user->username);
			rc = c_answer_rowid(r, 201, rowid, job, 0);
			goto out;
		}
		if (res != APPS_CONFLICT) {
			c_db_fail(r);
			goto out;
		}
		/* The pair (normally) or the name: look again. */
		if ((found = c_pair_find(r->db, &s, &rowid)) == -1) {
			c_db_fail(r);
			goto out;
		}
		if (!found) {
			req_fail(r, HERR_CONFLICT, "name_taken",
			    "an app named %s already exists", name.data);
			goto out;
		}
	}
	req_fail(r, HERR_CONFLICT, "busy",
	    "the container changed while it was being created; try again");
out:
	if (placed)
		(void)tree_remove(dir.data);
	json_object_put(in);
	cspec_release(&s);
	upload_free(u);
	buf_release(&dir);
	buf_release(&name);
	buf_release(&desc);
	return rc;
}

int
h_containers_create(struct req *r)
{
	return c_create(r);
}

int
h_docker_create(struct req *r)
{
	return c_create(r);
}

/* ------------------------------------------------------------------ */
/* List                                                                */

/* Percent-encode s (all but unreserved characters) into b. */
static void
c_urlencode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			buf_addch(b, *p);
		else {
			buf_addch(b, '%');
			buf_addch(b, hex[*p >> 4]);
			buf_addch(b, hex[*p & 15]);
		}
	}
}

/*
 * "http://host:port" of this request.  req->scheme_host comes from
 * HTTP_HOST, which Debian's fastcgi_params sets to nginx's $host: the
 * client's port is gone.  A host without a port was reached on the
 * control site's port (nginx listens there), so that port is put back.
 */
static void
c_origin(const struct req *r, struct buf *b)
{
	const char *hostpart = r->scheme_host, *p, *close;

	if ((p = strstr(hostpart, "://")) != NULL)
		hostpart = p + 3;
	close = strrchr(hostpart, ']');
	p = strrchr(close != NULL ? close : hostpart, ':');
	buf_adds(b, r->scheme_host);
	if (p == NULL && r->conf != NULL && r->conf->control_port != 80)
		buf_printf(b, ":%d", r->conf->control_port);
}

/* Absolute URL of this list at another page (a new reference). */
static struct json_object *
c_page_url(const struct req *r, long long page)
{
	struct json_object *o;
	struct buf b = BUF_INIT;
	size_t i;

	c_origin(r, &b);
	buf_printf(&b, "%s%s?", r->path, strcmp(r->path, "/") == 0 ? "" : "/");
	for (i = 0; i < r->query_params.n; i++) {
		if (strcmp(r->query_params.fields[i].name, "page") == 0)
			continue;
		c_urlencode(&b, r->query_params.fields[i].name);
		buf_addch(&b, '=');
		c_urlencode(&b, r->query_params.fields[i].value);
		buf_addch(&b, '&');
	}
	buf_printf(&b, "page=%lld", page);
	o = json_object_new_string(b.data);
	buf_release(&b);
	return o;
}

/* The statuses a ?status= filter matches (up to three). */
static int
c_status_filter(const char *v, const char *out[3])
{
	static const char *const plain[] = {
		"starting", "running", "stopping", "stopped", "error",
		"finished",
	};
	size_t i;

	if (strcmp(v, "building") == 0 || strcmp(v, "queued") == 0) {
		out[0] = "building";
		out[1] = "queued";
		out[2] = "uploaded";
		return 0;
	}
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (strcmp(v, plain[i]) == 0) {
			out[0] = out[1] = out[2] = plain[i];
			return 0;
		}
	return -1;
}

/* Bind the WHERE parameters ?1..?7 and the labels from ?8. */
static void
c_list_bind(sqlite3_stmt *st, const struct req *r, const char *status[3],
    const char *release, int64_t model, const char **labels, size_t nlabels)
{
	size_t i;

	db_bind_int(st, 1, r->user->is_admin);
	db_bind_int(st, 2, r->user->id);
	db_bind_text(st, 3, status[0]);
	db_bind_text(st, 4, status[1]);
	db_bind_text(st, 5, status[2]);
	db_bind_text(st, 6, release);
	if (model >= 0)
		db_bind_int(st, 7, model);
	else
		sqlite3_bind_null(st, 7);
	for (i = 0; i < nlabels; i++)
		db_bind_text(st, 8 + (int)i, labels[i]);
}

int
h_containers_list(struct req *r)
{
	struct json_object *o = NULL, *arr;
	struct buf where = BUF_INIT, sql = BUF_INIT;
	const char *status[3] = { NULL, NULL, NULL };
	const char *labels[CONTAINER_LABEL_FILTERS];
	const char *v, *release = NULL;
	sqlite3_stmt *st = NULL;
	long long page = 1, size = PAGE_SIZE_DEFAULT, n;
	int64_t model = -1, count = 0, pages;
	size_t nlabels, i;
	struct app *a;
	int rc = -1, step;

	if ((v = req_query(r, "page")) != NULL && *v != '\0' &&
	    valid_int(v, 1, CONTAINER_PAGE_MAX, &page) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_page",
		    "page must be a number from 1");
	if ((v = req_query(r, "page_size")) != NULL && *v != '\0') {
		if (valid_int(v, 1, INT32_MAX, &size) == -1)
			return req_fail(r, HERR_BAD_REQUEST,
			    "invalid_page_size", "page_size must be a number "
			    "from 1 to %d", PAGE_SIZE_MAX);
		if (size > PAGE_SIZE_MAX)
			size = PAGE_SIZE_MAX;
	}
	if ((v = req_query(r, "status")) != NULL && *v != '\0' &&
	    c_status_filter(v, status) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_status",
		    "status must be one of building, starting, running, "
		    "stopping, stopped, error, finished");
	if ((v = req_query(r, "plugin_release")) != NULL && *v != '\0') {
		if (valid_plugin_release(v) == -1)
			return req_fail(r, HERR_BAD_REQUEST, "invalid_release",
			    "plugin_release must be \"code@version\"");
		release = v;
	}
	if ((v = req_query(r, "model")) != NULL && *v != '\0') {
		if (valid_int(v, 0, CONTAINER_MODEL_MAX, &n) == -1)
			return req_fail(r, HERR_BAD_REQUEST, "invalid_model",
			    "model must be an integer");
		model = n;
	}
	nlabels = form_count(&r->query_params, "label");
	if (nlabels > CONTAINER_LABEL_FILTERS)
		return req_fail(r, HERR_BAD_REQUEST, "invalid_label",
		    "at most %d label filters", CONTAINER_LABEL_FILTERS);
	for (i = 0; i < nlabels; i++) {
		labels[i] = form_get_nth(&r->query_params, "label", i);
		if (labels[i] == NULL || valid_label(labels[i]) == -1)
			return req_fail(r, HERR_BAD_REQUEST, "invalid_label",
			    "a label is 1 to 128 printable characters");
	}

	buf_adds(&where, "a.status <> 'deleting' AND (?1 OR a.owner_id = ?2) "
	    "AND (?3 IS NULL OR a.status IN (?3, ?4, ?5)) AND (?6 IS NULL OR "
	    "a.plugin_release = ?6) AND (?7 IS NULL OR a.model = ?7)");
	for (i = 0; i < nlabels; i++)
		buf_printf(&where, " AND EXISTS (SELECT 1 FROM json_each(CASE "
		    "WHEN json_valid(a.labels) THEN a.labels ELSE '[]' END) l "
		    "WHERE l.type = 'text' AND l.value = ?%zu)", 8 + i);

	buf_printf(&sql, "SELECT count(*)" APP_FROM "WHERE %s", where.data);
	if ((st = db_prepare(r->db, sql.data)) == NULL)
		goto dberr;
	c_list_bind(st, r, status, release, model, labels, nlabels);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto dberr;
	count = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	pages = count == 0 ? 1 : (count + size - 1) / size;
	if (page > pages) {
		req_fail(r, HERR_NOT_FOUND, "invalid_page", "Invalid page.");
		goto out;
	}

	buf_reset(&sql);
	buf_printf(&sql, "SELECT " APP_COLUMNS APP_FROM "WHERE %s ORDER BY "
	    "a.id LIMIT ?%zu OFFSET ?%zu", where.data, 8 + nlabels,
	    9 + nlabels);
	if ((st = db_prepare(r->db, sql.data)) == NULL)
		goto dberr;
	c_list_bind(st, r, status, release, model, labels, nlabels);
	db_bind_int(st, 8 + (int)nlabels, size);
	db_bind_int(st, 9 + (int)nlabels, (page - 1) * size);
	o = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(o, "count", json_object_new_int64(count));
	json_object_object_add(o, "next", page < pages ?
	    c_page_url(r, page + 1) : NULL);
	json_object_object_add(o, "previous", page > 1 ?
	    c_page_url(r, page - 1) : NULL);
	json_object_object_add(o, "results", arr);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		a = app_from_row(st);
		json_object_array_add(arr, c_container_json(a, r->conf, 0));
		app_free(a);
	}
	if (step != SQLITE_DONE)
		goto dberr;
	rc = req_json(r, 200, o);
	o = NULL;
	goto out;
dberr:
	c_db_fail(r);
out:
	sqlite3_finalize(st);
	json_object_put(o);
	buf_release(&where);
	buf_release(&sql);
	return rc;
}

/* ------------------------------------------------------------------ */
/* One container                                                       */

static int
c_arg_app(struct req *r, struct app **out)
{
	enum apps_result res = app_load(r->db, req_arg(r, 0), r->user, out);

	return res == APPS_OK ? 0 : c_apps_fail(r, res);
}

int
h_container_get(struct req *r)
{
	struct app *a = NULL;
	int rc;

	if (c_arg_app(r, &a) == -1)
		return -1;
	rc = req_json(r, 200, c_container_json(a, r->conf, 0));
	app_free(a);
	return rc;
}

int
h_container_patch(struct req *r)
{
	struct form f = FORM_INIT;
	struct app *a = NULL;
	enum apps_result res;
	const char *want;
	int64_t job = 0;
	int rc = -1;

	if (req_params(r, &f) == -1)
		goto out;
	want = form_get(&f, "status");
	if (want == NULL || (strcmp(want, "running") != 0 &&
	    strcmp(want, "stopped") != 0)) {
		req_fail(r, HERR_BAD_REQUEST, "invalid_status",
		    "status must be \"running\" or \"stopped\"");
		goto out;
	}
	if (c_arg_app(r, &a) == -1)
		goto out;
	res = app_request(r->db, a, want, strcmp(want, "running") == 0 ?
	    "start" : "stop", &job);
	if (res != APPS_OK) {
		c_apps_fail(r, res);
		goto out;
	}
	jobs_wake(r->conf->agent_socket);
	log_info("container %lld (%s) -> %s by %s", (long long)a->id,
	    a->app_id, want, r->user->username);
	rc = c_answer_rowid(r, 200, a->id, job, 0);
out:
	app_free(a);
	form_free(&f);
	return rc;
}

/* Delete the app (its container goes with it) and answer 204. */
static int
c_delete_app(struct req *r, struct app *a)
{
	enum apps_result res;

	if ((res = app_request_delete(r->db, a)) != APPS_OK)
		return c_apps_fail(r, res);
	jobs_wake(r->conf->agent_socket);
	log_info("container %lld (%s) deleted by %s", (long long)a->id,
	    a->app_id, r->user->username);
	/* Its route goes now, not when the agent gets to it. */
	(void)ngxconf_sync(r->conf, r->db, NULL);
	return req_no_content(r);
}

int
h_container_delete(struct req *r)
{
	struct app *a = NULL;
	int rc;

	if (c_arg_app(r, &a) == -1)
		return -1;
	rc = c_delete_app(r, a);
	app_free(a);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Builds                                                              */

int
h_build_get(struct req *r)
{
	struct json_object *o = NULL, *result = NULL;
	sqlite3_stmt *st;
	const char *kind, *state, *status;
	char *error = NULL, *detail = NULL, *app_status = NULL;
	const char *out_status;
	struct app *a = NULL;
	long long id;
	int64_t rowid, owner;
	int rc = -1, step;

	if (valid_int(req_arg(r, 0), 1, INT64_MAX, &id) == -1)
		return req_fail(r, HERR_NOT_FOUND, "not_found",
		    "no such build");
	st = db_prepare(r->db, "SELECT j.kind, j.state, j.error, a.id, "
	    "a.owner_id, a.status, a.status_detail FROM jobs j JOIN apps a "
	    "ON a.id = j.app_id WHERE j.id = ?");
	if (st == NULL)
		return c_db_fail(r);
	db_bind_int(st, 1, id);
	if ((step = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_finalize(st);
		if (step == SQLITE_DONE)
			return req_fail(r, HERR_NOT_FOUND, "not_found",
			    "no such build");
		return c_db_fail(r);
	}
	kind = (const char *)sqlite3_column_text(st, 0);
	state = (const char *)sqlite3_column_text(st, 1);
	rowid = sqlite3_column_int64(st, 3);
	owner = sqlite3_column_int64(st, 4);
	status = (const char *)sqlite3_column_text(st, 5);
	error = db_col_strdup(st, 2);
	detail = db_col_strdup(st, 6);
	app_status = xstrdup(status ? status : "");
	if (!r->user->is_admin && owner != r->user->id) {
		sqlite3_finalize(st);
		req_fail(r, HERR_NOT_FOUND, "not_found", "no such build");
		goto out;
	}
	if (state == NULL)
		state = "";
	if (kind == NULL)
		kind = "";
	if (strcmp(app_status, "deleting") == 0) {
		out_status = "cancelled";
		free(error);
		error = xstrdup("the container was deleted");
	} else if (strcmp(state, "pending") == 0)
		out_status = "pending";
	else if (strcmp(state, "running") == 0)
		out_status = "building";
	else if (strcmp(state, "cancelled") == 0)
		out_status = "cancelled";
	else if (strcmp(state, "failed") == 0)
		out_status = "failed";
	else if (strcmp(app_status, "error") == 0)
		out_status = "failed";
	else if (strcmp(app_status, "queued") == 0 ||
	    strcmp(app_status, "uploaded") == 0 ||
	    strcmp(app_status, "building") == 0 ||
	    strcmp(app_status, "starting") == 0)
		out_status = "building";
	else
		out_status = "completed";
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	sqlite3_finalize(st);	/* kind and state are gone from here on */
	json_object_object_add(o, "status", json_object_new_string(out_status));
	json_object_object_add(o, "container_id", json_object_new_int64(rowid));
	if (strcmp(out_status, "completed") == 0) {
		if (app_load_rowid(r->db, rowid, r->user, &a) == APPS_OK)
			result = c_container_json(a, r->conf, id);
	}
	json_object_object_add(o, "result", result);
	if (strcmp(out_status, "failed") == 0) {
		const char *e = error != NULL && *error != '\0' ? error :
		    detail != NULL && *detail != '\0' ? detail : "failed";

		json_object_object_add(o, "error", json_object_new_string(e));
	} else if (strcmp(out_status, "cancelled") == 0 && error != NULL &&
	    *error != '\0')
		json_object_object_add(o, "error",
		    json_object_new_string(error));
	else
		json_object_object_add(o, "error", NULL);
	rc = req_json(r, 200, o);
	o = NULL;
out:
	json_object_put(o);
	app_free(a);
	free(error);
	free(detail);
	free(app_status);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Docker's view                                                       */

/* This installation's instance label value; 0, or -1 when none yet. */
static int
c_instance(struct db *db, char out[17])
{
	int64_t v = 0;

	if (db_meta_get_int(db, "agent_instance", &v) == -1 || v == 0)
		return -1;
	return str_fmt(out, 17, "%016" PRIx64, (uint64_t)v);
}

static struct json_object *
c_docker_json(const struct docker_container *c, const struct app *a)
{
	struct json_object *o = json_object_new_object(), *ports, *labels;
	struct json_object *list, *bind;
	char key[32], num[16], when[32];
	struct tm tm;
	time_t t = (time_t)c->created;
	size_t i;

	json_object_object_add(o, "id", json_object_new_string(c->id));
	json_object_object_add(o, "short_id",
	    json_object_new_string_len(c->id, strlen(c->id) < 12 ?
	    (int)strlen(c->id) : 12));
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "image", json_object_new_string(c->image));
	json_object_object_add(o, "status", json_object_new_string(c->state));
	json_object_object_add(o, "status_text",
	    json_object_new_string(c->status));
	json_object_object_add(o, "running",
	    json_object_new_boolean(strcmp(c->state, "running") == 0));
	ports = json_object_new_object();
	for (i = 0; i < c->nports; i++) {
		if (str_fmt(key, sizeof(key), "%d/%s", c->ports[i].private_port,
		    c->ports[i].type[0] ? c->ports[i].type : "tcp") == -1)
			continue;
		if (!json_object_object_get_ex(ports, key, &list) ||
		    list == NULL) {
			list = c->ports[i].public_port > 0 ?
			    json_object_new_array() : NULL;
			json_object_object_add(ports, key, list);
		}
		if (c->ports[i].public_port <= 0 || list == NULL)
			continue;
		bind = json_object_new_object();
		(void)str_fmt(num, sizeof(num), "%d", c->ports[i].public_port);
		json_object_object_add(bind, "HostIp",
		    json_object_new_string(c->ports[i].ip));
		json_object_object_add(bind, "HostPort",
		    json_object_new_string(num));
		json_object_array_add(list, bind);
	}
	json_object_object_add(o, "ports", ports);
	labels = json_object_new_object();
	for (i = 0; i < c->labels.n; i++)
		json_object_object_add(labels, c->labels.v[i].key,
		    json_object_new_string(c->labels.v[i].value));
	json_object_object_add(o, "labels", labels);
	if (gmtime_r(&t, &tm) != NULL &&
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		json_object_object_add(o, "created",
		    json_object_new_string(when));
	else
		json_object_object_add(o, "created", NULL);
	json_object_object_add(o, "app_id", json_object_new_string(
	    docker_labels_get(&c->labels, "slipway.app") ?
	    docker_labels_get(&c->labels, "slipway.app") : ""));
	json_object_object_add(o, "container_id", a != NULL ?
	    json_object_new_int64(a->id) : NULL);
	return o;
}

/* The live app with this public app_id, visible to the user. */
static enum apps_result
c_app_by_app_id(struct req *r, const char *app_id, struct app **out)
{
	sqlite3_stmt *st;
	int64_t rowid = 0;

	if (valid_app_id(app_id) == -1)
		return APPS_NOT_FOUND;
	st = db_prepare(r->db, "SELECT id FROM apps WHERE app_id = ? AND "
	    "status <> 'deleting'");
	if (st == NULL)
		return APPS_ERROR;
	db_bind_text(st, 1, app_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		rowid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rowid == 0)
		return APPS_NOT_FOUND;
	return app_load_rowid(r->db, rowid, r->user, out);
}

/*
 * Docker containers of this installation visible to the user, as JSON
 * items appended to arr; key non-NULL keeps only the one whose id starts
 * with key (or whose name is key) and sets *app_rowid to its app's row.
 */
static int
c_docker_visible(struct req *r, const char *key, struct json_object *arr,
    int64_t *app_rowid)
{
	struct docker_container_list l = { NULL, 0 };
	struct docker *d = NULL;
	struct app *a;
	const char *lab, *inst;
	char mine[17];
	size_t i;
	int rc = -1;

	if (c_instance(r->db, mine) == -1)
		return 0;	/* the agent never ran: nothing of ours */
	if ((d = docker_open(r->conf->docker_socket)) == NULL ||
	    docker_container_list(d, "slipway.app", &l) != DOCKER_OK) {
		req_fail(r, HERR_UNAVAILABLE, "docker",
		    "the Docker daemon does not answer");
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		lab = docker_labels_get(&l.v[i].labels, "slipway.app");
		inst = docker_labels_get(&l.v[i].labels, "slipway.instance");
		if (lab == NULL || inst == NULL || strcmp(inst, mine) != 0)
			continue;
		if (key != NULL && strncmp(l.v[i].id, key, strlen(key)) != 0 &&
		    strcmp(l.v[i].name, key) != 0)
			continue;
		a = NULL;
		if (c_app_by_app_id(r, lab, &a) != APPS_OK) {
			a = NULL;
			if (!r->user->is_admin)
				continue;
		}
		json_object_array_add(arr, c_docker_json(&l.v[i], a));
		if (app_rowid != NULL && a != NULL)
			*app_rowid = a->id;
		app_free(a);
		if (key != NULL)
			break;
	}
	rc = 0;
out:
	docker_container_list_release(&l);
	docker_close(d);
	return rc;
}

/* A Docker id prefix or container name, as Docker spells them. */
static int
c_valid_docker_key(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= 128 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n ? 0 : -1;
}

int
h_docker_list(struct req *r)
{
	struct json_object *arr = json_object_new_array();

	if (c_docker_visible(r, NULL, arr, NULL) == -1) {
		json_object_put(arr);
		return -1;
	}
	return req_json(r, 200, arr);
}

int
h_docker_get(struct req *r)
{
	struct json_object *arr, *one;
	const char *key = req_arg(r, 0);

	if (c_valid_docker_key(key) == -1)
		return req_fail(r, HERR_NOT_FOUND, "not_found",
		    "no such container");
	arr = json_object_new_array();
	if (c_docker_visible(r, key, arr, NULL) == -1) {
		json_object_put(arr);
		return -1;
	}
	if (json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return req_fail(r, HERR_NOT_FOUND, "not_found",
		    "no such container");
	}
	one = json_object_get(json_object_array_get_idx(arr, 0));
	json_object_put(arr);
	return req_json(r, 200, one);
}

int
h_docker_delete(struct req *r)
{
	struct json_object *arr = NULL;
	struct app *a = NULL;
	sqlite3_stmt *st;
	const char *key = req_arg(r, 0);
	int64_t rowid = 0;
	size_t n;
	int rc = -1;

	if (c_valid_docker_key(key) == -1)
		return req_fail(r, HERR_NOT_FOUND, "not_found",
		    "no such container");
	/* The app's own container, by the id the agent recorded ... */
	n = strlen(key);
	if (n >= 12 && n <= 64 && strspn(key, "0123456789abcdef") == n) {
		st = db_prepare(r->db, "SELECT id FROM apps WHERE docker_id IS "
		    "NOT NULL AND substr(docker_id, 1, ?) = ? AND "
		    "status <> 'deleting' LIMIT 1");
		if (st == NULL)
			return c_db_fail(r);
		db_bind_int(st, 1, (int64_t)n);
		db_bind_text(st, 2, key);
		if (sqlite3_step(st) == SQLITE_ROW)
			rowid = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	/* ... else whatever Docker says carries the app's label. */
	if (rowid == 0) {
		arr = json_object_new_array();
		if (c_docker_visible(r, key, arr, &rowid) == -1)
			goto out;
	}
	if (rowid == 0) {
		req_fail(r, HERR_NOT_FOUND, "not_found", "no such container");
		goto out;
	}
	if (app_load_rowid(r->db, rowid, r->user, &a) != APPS_OK) {
		req_fail(r, HERR_NOT_FOUND, "not_found", "no such container");
		goto out;
	}
	rc = c_delete_app(r, a);
out:
	json_object_put(arr);
	app_free(a);
	return rc;
}
