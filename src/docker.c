/*
 * docker: the Docker Engine API over its unix socket.  See docker.h.
 *
 * One transfer is one struct call: the request (method, path, body or an
 * upload read callback), where a 2xx reply goes (a capped buffer or a
 * streaming sink), and what came back.  call_finish() turns curl's result
 * and the HTTP status into an enum docker_err, the same way for the
 * blocking calls and for the event stream driven by a multi handle.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "buf.h"
#include "caps.h"
#include "docker.h"
#include "log.h"
#include "valid.h"

#define DOCKER_URL_BASE	"http://localhost"

struct docker {
	CURL		*curl;
	char		*socket_path;
	char		 prefix[16];	/* "/v1.41"; "" until negotiated */
	struct buf	 errmsg;
	char		 curlerr[CURL_ERROR_SIZE];
};

struct docker_events {
	CURLM		*multi;
	CURL		*curl;
	char		*socket_path;
	char		*label_key;
	char		*url;
	struct buf	 pending;	/* partial event line */
	struct buf	 errmsg;
	char		 curlerr[CURL_ERROR_SIZE];
	docker_event_fn	*fn;
	void		*arg;
	int64_t		 last;
	int		 done;
	enum docker_err	 err;
	const char	*bad;
	struct call	*call;
};

typedef int	 sink_fn(void *arg, const char *data, size_t len);

/* One transfer. */
struct call {
	/* request */
	const char	*method;	/* "GET", "POST", "DELETE" */
	const char	*url;
	const char	*body;		/* POST body, or NULL */
	size_t		 bodylen;
	const char	*content_type;
	docker_read_fn	*read;		/* upload, instead of body */
	void		*read_arg;
	int64_t		 read_len;	/* -1: chunked */
	long		 timeout_s;	/* 0: none */
	docker_cancel_fn *cancel;
	void		*cancel_arg;
	/* where a 2xx body goes: sink, or reply (capped at reply_max) */
	sink_fn		*sink;
	void		*sink_arg;
	struct buf	*reply;
	size_t		 reply_max;
	/* state */
	CURL		*curl;
	struct curl_slist *headers;
	struct buf	*errmsg;
	const char	*curlerr;
	long		 status;
	int		 have_status;
	struct buf	 errbody;	/* non-2xx body */
	int		 too_big;
	int		 sink_failed;
	int		 read_failed;
	const char	*bad;		/* sink's protocol error text */
};

/* Stable texts, indexed by enum docker_err. */
static const char *const docker_err_names[DOCKER_ERR__MAX] = {
	"ok",				/* DOCKER_OK */
	"docker unreachable",		/* DOCKER_ERR_TRANSPORT */
	"docker timed out",		/* DOCKER_ERR_TIMEOUT */
	"aborted",			/* DOCKER_ERR_ABORTED */
	"bad reply from docker",	/* DOCKER_ERR_PROTOCOL */
	"docker API too old",		/* DOCKER_ERR_VERSION */
	"invalid request",		/* DOCKER_ERR_INVALID */
	"not found",			/* DOCKER_ERR_NOT_FOUND */
	"conflict",			/* DOCKER_ERR_CONFLICT */
	"port already in use",		/* DOCKER_ERR_PORT_IN_USE */
	"docker error",			/* DOCKER_ERR_SERVER */
	"failed",			/* DOCKER_ERR_STREAM */
};

/* Filter kinds for docker_prune, indexed by enum docker_prune. */
static const char *const docker_prune_paths[DOCKER_PRUNE__MAX] = {
	"/containers/prune",		/* DOCKER_PRUNE_CONTAINERS */
	"/images/prune",		/* DOCKER_PRUNE_IMAGES */
	"/volumes/prune",		/* DOCKER_PRUNE_VOLUMES */
	"/networks/prune",		/* DOCKER_PRUNE_NETWORKS */
};

const char *
docker_err_str(enum docker_err e)
{
	if ((unsigned)e >= DOCKER_ERR__MAX)
		return "unknown";
	return docker_err_names[e];
}

/*
 * Checks on what goes into a path or a body.  Names in paths are never
 * escaped: they must already be plain.
 */

/* Container id or name: [A-Za-z0-9][A-Za-z0-9_.-]* */
static int
name_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 255 || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL)
			return 0;
	return 1;
}

/* Image reference or id: [A-Za-z0-9][A-Za-z0-9._:/@-]*, no "..", no "//". */
static int
ref_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > DOCKER_FIELD_MAX ||
	    !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._:/@-", s[i]) == NULL)
			return 0;
	return strstr(s, "..") == NULL && strstr(s, "//") == NULL;
}

/* Tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static int
tag_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 128 ||
	    (!isalnum((unsigned char)s[0]) && s[0] != '_'))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL)
			return 0;
	return 1;
}

/* Label key, value or filter: printable text, no control bytes. */
static int
text_ok(const char *s, size_t min, size_t max)
{
	size_t n;
	const unsigned char *p;

	if (s == NULL || (n = strlen(s)) < min || n > max)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* Label filter: "key" or "key=value", key non-empty. */
static int
label_filter_ok(const char *s)
{
	return text_ok(s, 1, DOCKER_TEXT_MAX) && s[0] != '=';
}

/*
 * json-c helpers for untrusted replies.  A JSON null counts as absent.
 */

static json_object *
json_parse_exact(const char *s, size_t len)
{
	json_tokener *tok = NULL;
	json_object *o = NULL;
	size_t end;

	if (len > INT32_MAX || memchr(s, '\0', len) != NULL)
		return NULL;
	if ((tok = json_tokener_new()) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (!isspace((unsigned char)s[end])) {
			json_object_put(o);
			o = NULL;
			break;
		}
out:
	json_tokener_free(tok);
	return o;
}

static json_object *
jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* A string value: no NUL inside, at most max bytes. */
static int
jstr_val(json_object *v, size_t max, const char **out)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (s == NULL || strlen(s) != n || n > max)
		return -1;
	*out = s;
	return 0;
}

/* *out: the string, or def if absent; -1 on a wrong type or size. */
static int
jstr(json_object *o, const char *key, size_t max, const char *def,
    const char **out)
{
	json_object *v = jget(o, key);

	*out = def;
	if (v == NULL)
		return 0;
	return jstr_val(v, max, out);
}

static int
jstr_dup(json_object *o, const char *key, size_t max, char **out)
{
	const char *s;

	if (jstr(o, key, max, "", &s) == -1)
		return -1;
	*out = xstrdup(s);
	return 0;
}

static int
jint(json_object *o, const char *key, int64_t min, int64_t max, int64_t def,
    int64_t *out)
{
	json_object *v = jget(o, key);
	int64_t n;

	*out = def;
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	errno = 0;
	n = json_object_get_int64(v);
	if (errno != 0 || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static int
jbool(json_object *o, const char *key, int *out)
{
	json_object *v = jget(o, key);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -1;
	*out = json_object_get_boolean(v) ? 1 : 0;
	return 0;
}

/* *out: the value of that type, or NULL if absent. */
static int
jtyped(json_object *o, const char *key, json_type type, json_object **out)
{
	json_object *v = jget(o, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, type))
		return -1;
	*out = v;
	return 0;
}

/* Plain JSON text of o, caller frees. */
static char *
json_text(json_object *o)
{
	return xstrdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Port "8080/tcp" -> 8080, proto "tcp"; -1 if malformed. */
static int
port_key(const char *key, int *port, char *proto, size_t protosz)
{
	char num[8];
	const char *slash = strchr(key, '/');
	long long v;
	size_t n;

	n = slash ? (size_t)(slash - key) : strlen(key);
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, key, n);
	num[n] = '\0';
	if (valid_int(num, 1, 65535, &v) == -1)
		return -1;
	if (str_copy(proto, protosz, slash ? slash + 1 : "tcp") == -1)
		return -1;
	*port = (int)v;
	return 0;
}

/*
 * Owned results.
 */

const char *
docker_labels_get(const struct docker_labels *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, key) == 0)
			return l->v[i].value;
	return NULL;
}

static void
labels_release(struct docker_labels *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/*
 * A labels object (or absent).  Labels come from user images: entries over
 * the caps are skipped, wrong types fail.
 */
static int
labels_parse(json_object *o, struct docker_labels *out)
{
	const char *val;
	size_t skipped = 0, want;

	out->v = NULL;
	out->n = 0;
	if (o == NULL)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return -1;
	want = (size_t)json_object_object_length(o);
	if (want > DOCKER_LABELS_MAX)
		want = DOCKER_LABELS_MAX;
	json_object_object_foreach(o, key, v) {
		if (v == NULL || !json_object_is_type(v, json_type_string)) {
			labels_release(out);
			return -1;
		}
		if (out->n >= DOCKER_LABELS_MAX || strlen(key) > DOCKER_TEXT_MAX ||
		    jstr_val(v, DOCKER_TEXT_MAX, &val) == -1) {
			skipped++;
			continue;
		}
		if (out->v == NULL)
			out->v = xcalloc(want, sizeof(*out->v));
		out->v[out->n].key = xstrdup(key);
		out->v[out->n].value = xstrdup(val);
		out->n++;
	}
	if (skipped)
		log_debug("%zu oversized labels skipped", skipped);
	return 0;
}

void
docker_refs_release(struct docker_refs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

static int
refs_add(struct docker_refs *r, const char *s)
{
	if (r->n >= DOCKER_REFS_MAX)
		return -1;
	r->v = xrealloc(r->v, st_mult(r->n + 1, sizeof(*r->v)));
	r->v[r->n++] = xstrdup(s);
	return 0;
}

void
docker_image_release(struct docker_image *img)
{
	free(img->id);
	docker_refs_release(&img->tags);
	labels_release(&img->labels);
	memset(img, 0, sizeof(*img));
}

void
docker_image_list_release(struct docker_image_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		docker_image_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
docker_cstate_release(struct docker_cstate *cs)
{
	free(cs->id);
	free(cs->name);
	free(cs->image);
	free(cs->image_id);
	free(cs->status);
	free(cs->health);
	free(cs->error);
	free(cs->started_at);
	free(cs->finished_at);
	labels_release(&cs->labels);
	memset(cs, 0, sizeof(*cs));
}

static void
container_release(struct docker_container *c)
{
	free(c->id);
	free(c->name);
	free(c->image);
	free(c->state);
	free(c->status);
	free(c->ports);
	labels_release(&c->labels);
	memset(c, 0, sizeof(*c));
}

void
docker_container_list_release(struct docker_container_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		container_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/*
 * Reply parsers.
 */

static int
api_parse(const char *s, int *major, int *minor)
{
	char num[8];
	const char *dot;
	long long v;
	size_t n;

	if (s == NULL || (dot = strchr(s, '.')) == NULL)
		return -1;
	n = (size_t)(dot - s);
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	if (valid_int(num, 0, 999, &v) == -1)
		return -1;
	*major = (int)v;
	if (valid_int(dot + 1, 0, 999, &v) == -1)
		return -1;
	*minor = (int)v;
	return 0;
}

enum docker_err
docker_parse_version(const char *data, size_t len, struct docker_version *out)
{
	struct docker_version v;
	json_object *o = NULL;
	const char *api, *minapi, *engine;
	int major, minor, min_major, min_minor, use;
	enum docker_err err = DOCKER_ERR_PROTOCOL;

	memset(&v, 0, sizeof(v));
	if ((o = json_parse_exact(data, len)) == NULL ||
	    !json_object_is_type(o, json_type_object))
		goto out;
	if (jstr(o, "ApiVersion", 16, NULL, &api) == -1 || api == NULL ||
	    jstr(o, "MinAPIVersion", 16, "1.12", &minapi) == -1 ||
	    jstr(o, "Version", sizeof(v.engine) - 1, "", &engine) == -1)
		goto out;
	if (api_parse(api, &major, &minor) == -1 ||
	    api_parse(minapi, &min_major, &min_minor) == -1)
		goto out;
	if (str_copy(v.server_api, sizeof(v.server_api), api) == -1 ||
	    str_copy(v.engine, sizeof(v.engine), engine) == -1)
		goto out;
	err = DOCKER_ERR_VERSION;
	if (major < 1 || (major == 1 && minor < DOCKER_API_MINOR_MIN))
		goto out;
	use = (major > 1 || minor > DOCKER_API_MINOR_MAX) ?
	    DOCKER_API_MINOR_MAX : minor;
	if (min_major > 1 || (min_major == 1 && min_minor > use))
		goto out;
	if (str_fmt(v.api, sizeof(v.api), "1.%d", use) == -1)
		goto out;
	*out = v;
	err = DOCKER_OK;
out:
	json_object_put(o);
	return err;
}

/* First tcp binding of a Ports/PortBindings object (or absent). */
static int
bindings_parse(json_object *ports, int *cport, int *hport)
{
	char proto[8];
	const char *hp;
	long long v;
	size_t i, n;
	int p;

	if (ports == NULL)
		return 0;
	if (!json_object_is_type(ports, json_type_object))
		return -1;
	json_object_object_foreach(ports, key, arr) {
		if (port_key(key, &p, proto, sizeof(proto)) == -1)
			return -1;
		if (arr == NULL)
			continue;
		if (!json_object_is_type(arr, json_type_array))
			return -1;
		if (strcmp(proto, "tcp") != 0 || *hport != 0)
			continue;
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++) {
			if (jstr(json_object_array_get_idx(arr, i), "HostPort",
			    16, NULL, &hp) == -1)
				return -1;
			if (hp == NULL || hp[0] == '\0')
				continue;
			if (valid_int(hp, 1, 65535, &v) == -1)
				return -1;
			*cport = p;
			*hport = (int)v;
			break;
		}
	}
	return 0;
}

static int
cstate_from_json(json_object *o, struct docker_cstate *cs)
{
	json_object *state, *config, *health, *net, *hostcfg, *ports, *labels;
	const char *name;
	int64_t n;

	if (!json_object_is_type(o, json_type_object))
		return -1;
	if (jstr_dup(o, "Id", DOCKER_FIELD_MAX, &cs->id) == -1 ||
	    cs->id[0] == '\0' || !ref_ok(cs->id))
		return -1;
	if (jstr(o, "Name", DOCKER_FIELD_MAX, "", &name) == -1)
		return -1;
	cs->name = xstrdup(name[0] == '/' ? name + 1 : name);
	if (jstr_dup(o, "Image", DOCKER_FIELD_MAX, &cs->image_id) == -1)
		return -1;
	if (jtyped(o, "State", json_type_object, &state) == -1 || state == NULL)
		return -1;
	if (jstr_dup(state, "Status", DOCKER_FIELD_MAX, &cs->status) == -1 ||
	    jbool(state, "Running", &cs->running) == -1 ||
	    jbool(state, "Restarting", &cs->restarting) == -1 ||
	    jbool(state, "OOMKilled", &cs->oom_killed) == -1 ||
	    jstr_dup(state, "Error", DOCKER_TEXT_MAX, &cs->error) == -1 ||
	    jstr_dup(state, "StartedAt", 64, &cs->started_at) == -1 ||
	    jstr_dup(state, "FinishedAt", 64, &cs->finished_at) == -1)
		return -1;
	if (jint(state, "ExitCode", INT32_MIN, INT32_MAX, 0, &n) == -1)
		return -1;
	cs->exit_code = (int)n;
	if (jint(state, "Pid", 0, INT32_MAX, 0, &n) == -1)
		return -1;
	cs->pid = (int)n;
	if (jtyped(state, "Health", json_type_object, &health) == -1 ||
	    jstr_dup(health, "Status", 32, &cs->health) == -1)
		return -1;
	if (jint(o, "RestartCount", 0, INT32_MAX, 0, &n) == -1)
		return -1;
	cs->restart_count = (int)n;
	if (jtyped(o, "Config", json_type_object, &config) == -1 ||
	    jstr_dup(config, "Image", DOCKER_FIELD_MAX, &cs->image) == -1 ||
	    jbool(config, "Tty", &cs->tty) == -1 ||
	    jtyped(config, "Labels", json_type_object, &labels) == -1 ||
	    labels_parse(labels, &cs->labels) == -1)
		return -1;
	/* Live bindings while running, else the configured ones. */
	if (jtyped(o, "NetworkSettings", json_type_object, &net) == -1 ||
	    jtyped(net, "Ports", json_type_object, &ports) == -1 ||
	    bindings_parse(ports, &cs->container_port, &cs->host_port) == -1)
		return -1;
	if (jtyped(o, "HostConfig", json_type_object, &hostcfg) == -1 ||
	    jtyped(hostcfg, "PortBindings", json_type_object, &ports) == -1 ||
	    bindings_parse(ports, &cs->container_port, &cs->host_port) == -1)
		return -1;
	return 0;
}

enum docker_err
docker_parse_cstate(const char *data, size_t len, struct docker_cstate *out)
{
	struct docker_cstate cs;
	json_object *o;

	memset(&cs, 0, sizeof(cs));
	if ((o = json_parse_exact(data, len)) == NULL ||
	    cstate_from_json(o, &cs) == -1) {
		json_object_put(o);
		docker_cstate_release(&cs);
		return DOCKER_ERR_PROTOCOL;
	}
	json_object_put(o);
	*out = cs;
	return DOCKER_OK;
}

static int
container_ports_parse(json_object *arr, struct docker_container *c)
{
	json_object *e;
	struct docker_port *p;
	const char *ip, *type;
	int64_t n;
	size_t i, len;

	if (arr == NULL)
		return 0;
	len = json_object_array_length(arr);
	if (len > 0)
		c->ports = xcalloc(len < DOCKER_PORTS_MAX ? len : DOCKER_PORTS_MAX,
		    sizeof(*c->ports));
	for (i = 0; i < len && c->nports < DOCKER_PORTS_MAX; i++) {
		e = json_object_array_get_idx(arr, i);
		if (e == NULL || !json_object_is_type(e, json_type_object))
			return -1;
		p = &c->ports[c->nports];
		if (jint(e, "PrivatePort", 0, 65535, 0, &n) == -1)
			return -1;
		p->private_port = (int)n;
		if (jint(e, "PublicPort", 0, 65535, 0, &n) == -1)
			return -1;
		p->public_port = (int)n;
		if (jstr(e, "IP", sizeof(p->ip) - 1, "", &ip) == -1 ||
		    jstr(e, "Type", sizeof(p->type) - 1, "tcp", &type) == -1)
			return -1;
		if (str_copy(p->ip, sizeof(p->ip), ip) == -1 ||
		    str_copy(p->type, sizeof(p->type), type) == -1)
			return -1;
		c->nports++;
	}
	return 0;
}

static int
container_from_json(json_object *o, struct docker_container *c)
{
	json_object *names, *ports, *labels, *first;
	const char *name = "";

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return -1;
	if (jstr_dup(o, "Id", DOCKER_FIELD_MAX, &c->id) == -1 ||
	    c->id[0] == '\0' || !ref_ok(c->id))
		return -1;
	if (jtyped(o, "Names", json_type_array, &names) == -1)
		return -1;
	if (names != NULL && json_object_array_length(names) > 0) {
		first = json_object_array_get_idx(names, 0);
		if (first == NULL || jstr_val(first, DOCKER_FIELD_MAX, &name) == -1)
			return -1;
	}
	c->name = xstrdup(name[0] == '/' ? name + 1 : name);
	if (jstr_dup(o, "Image", DOCKER_FIELD_MAX, &c->image) == -1 ||
	    jstr_dup(o, "State", DOCKER_FIELD_MAX, &c->state) == -1 ||
	    jstr_dup(o, "Status", DOCKER_FIELD_MAX, &c->status) == -1 ||
	    jint(o, "Created", 0, INT64_MAX, 0, &c->created) == -1)
		return -1;
	if (jtyped(o, "Ports", json_type_array, &ports) == -1 ||
	    container_ports_parse(ports, c) == -1)
		return -1;
	if (jtyped(o, "Labels", json_type_object, &labels) == -1 ||
	    labels_parse(labels, &c->labels) == -1)
		return -1;
	return 0;
}

enum docker_err
docker_parse_container_list(const char *data, size_t len,
    struct docker_container_list *out)
{
	struct docker_container_list l = { NULL, 0 };
	json_object *o;
	size_t i, n;
	enum docker_err err = DOCKER_ERR_PROTOCOL;

	if ((o = json_parse_exact(data, len)) == NULL ||
	    !json_object_is_type(o, json_type_array))
		goto out;
	n = json_object_array_length(o);
	if (n > 0)
		l.v = xcalloc(n, sizeof(*l.v));
	for (i = 0; i < n; i++) {
		l.n++;
		if (container_from_json(json_object_array_get_idx(o, i),
		    &l.v[i]) == -1)
			goto out;
	}
	*out = l;
	l.v = NULL;
	l.n = 0;
	err = DOCKER_OK;
out:
	docker_container_list_release(&l);
	json_object_put(o);
	return err;
}

/* An image from inspect (Config.Labels) or from a list (Labels). */
static int
image_from_json(json_object *o, struct docker_image *img)
{
	json_object *tags, *config, *exposed, *labels, *t;
	const char *s;
	char proto[8];
	size_t i, n;
	int port;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return -1;
	if (jstr_dup(o, "Id", DOCKER_FIELD_MAX, &img->id) == -1 ||
	    img->id[0] == '\0' || !ref_ok(img->id))
		return -1;
	if (jtyped(o, "RepoTags", json_type_array, &tags) == -1)
		return -1;
	n = tags ? json_object_array_length(tags) : 0;
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(tags, i);
		if (t == NULL || jstr_val(t, DOCKER_TEXT_MAX, &s) == -1)
			return -1;
		if (strlen(s) <= DOCKER_FIELD_MAX && img->tags.n < DOCKER_REFS_MAX)
			refs_add(&img->tags, s);
	}
	if (jint(o, "Size", 0, INT64_MAX, 0, &img->size) == -1)
		return -1;
	if (jtyped(o, "Config", json_type_object, &config) == -1)
		return -1;
	if (config != NULL) {
		if (jtyped(config, "ExposedPorts", json_type_object, &exposed) == -1 ||
		    jtyped(config, "Labels", json_type_object, &labels) == -1)
			return -1;
		if (exposed != NULL) {
			json_object_object_foreach(exposed, key, v) {
				(void)v;
				if (port_key(key, &port, proto, sizeof(proto)) == -1)
					return -1;
				if (strcmp(proto, "tcp") != 0)
					continue;
				img->nexposed_tcp++;
				img->exposed_port = port;
			}
			if (img->nexposed_tcp != 1)
				img->exposed_port = 0;
		}
	} else if (jtyped(o, "Labels", json_type_object, &labels) == -1)
		return -1;
	return labels_parse(labels, &img->labels);
}

enum docker_err
docker_parse_image(const char *data, size_t len, struct docker_image *out)
{
	struct docker_image img;
	json_object *o;

	memset(&img, 0, sizeof(img));
	if ((o = json_parse_exact(data, len)) == NULL ||
	    image_from_json(o, &img) == -1) {
		json_object_put(o);
		docker_image_release(&img);
		return DOCKER_ERR_PROTOCOL;
	}
	json_object_put(o);
	*out = img;
	return DOCKER_OK;
}

static enum docker_err
parse_image_list(const char *data, size_t len, struct docker_image_list *out)
{
	struct docker_image_list l = { NULL, 0 };
	json_object *o;
	size_t i, n;
	enum docker_err err = DOCKER_ERR_PROTOCOL;

	if ((o = json_parse_exact(data, len)) == NULL ||
	    !json_object_is_type(o, json_type_array))
		goto out;
	n = json_object_array_length(o);
	if (n > 0)
		l.v = xcalloc(n, sizeof(*l.v));
	for (i = 0; i < n; i++) {
		l.n++;
		if (image_from_json(json_object_array_get_idx(o, i), &l.v[i]) == -1)
			goto out;
	}
	*out = l;
	l.v = NULL;
	l.n = 0;
	err = DOCKER_OK;
out:
	docker_image_list_release(&l);
	json_object_put(o);
	return err;
}

int
docker_event_parse(json_object *o, const char *label_key, struct docker_event *ev)
{
	json_object *actor, *attrs;
	const char *type, *action, *id, *name, *label, *code;
	int64_t t;
	long long v;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return -1;
	if (jstr(o, "Type", DOCKER_FIELD_MAX, "", &type) == -1 ||
	    jstr(o, "Action", DOCKER_FIELD_MAX, NULL, &action) == -1 ||
	    action == NULL || action[0] == '\0' ||
	    jint(o, "time", 0, INT64_MAX, 0, &t) == -1 ||
	    jtyped(o, "Actor", json_type_object, &actor) == -1 || actor == NULL ||
	    jstr(actor, "ID", DOCKER_FIELD_MAX, NULL, &id) == -1 ||
	    id == NULL || !ref_ok(id) ||
	    jtyped(actor, "Attributes", json_type_object, &attrs) == -1 ||
	    jstr(attrs, "name", DOCKER_FIELD_MAX, "", &name) == -1 ||
	    jstr(attrs, "exitCode", 16, NULL, &code) == -1)
		return -1;
	label = "";
	if (label_key != NULL &&
	    jstr(attrs, label_key, DOCKER_TEXT_MAX, "", &label) == -1)
		return -1;
	ev->exit_code = -1;
	if (code != NULL) {
		if (valid_int(code, 0, 255, &v) == -1)
			return -1;
		ev->exit_code = (int)v;
	}
	ev->type = type;
	ev->action = action;
	ev->id = id;
	ev->name = name;
	ev->label = label;
	ev->time = t;
	return 0;
}

/*
 * Newline-delimited messages, split anywhere: fn sees each whole line
 * (without the newline).
 */
typedef int	 line_fn(void *arg, const char *line, size_t len);

static int
lines_feed(struct buf *pending, const char *data, size_t len, line_fn *fn,
    void *arg, const char **bad)
{
	const char *nl;
	size_t n;
	int r;

	while (len > 0) {
		nl = memchr(data, '\n', len);
		n = nl ? (size_t)(nl - data) : len;
		if (pending->len + n > DOCKER_LINE_MAX) {
			*bad = "stream message too long";
			return -1;
		}
		if (nl == NULL) {
			buf_add(pending, data, n);
			return 0;
		}
		if (pending->len == 0)
			r = fn(arg, data, n);
		else {
			buf_add(pending, data, n);
			r = fn(arg, pending->data, pending->len);
			buf_reset(pending);
		}
		if (r == -1)
			return -1;
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

/* A line that is only whitespace (blank, "\r") carries nothing. */
static int
line_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * Build and load progress.
 */

void
docker_progress_init(struct docker_progress *p, docker_log_fn *log, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->log = log;
	p->arg = arg;
	buf_init(&p->line);
}

void
docker_progress_release(struct docker_progress *p)
{
	free(p->image_id);
	free(p->error);
	docker_refs_release(&p->refs);
	docker_refs_release(&p->layers);
	buf_release(&p->line);
	p->image_id = NULL;
	p->error = NULL;
}

static void
progress_log(struct docker_progress *p, const char *text, int newline)
{
	size_t n = strlen(text);

	if (p->log == NULL || n == 0)
		return;
	p->log(p->arg, text, n);
	if (newline && text[n - 1] != '\n')
		p->log(p->arg, "\n", 1);
}

/* "Loaded image: x", "Loaded image ID: sha256:..", "Successfully built x" */
static int
progress_stream_text(struct docker_progress *p, const char *text)
{
	static const char *const loaded[] = {
		"Loaded image ID: ", "Loaded image: "
	};
	const char *built = "Successfully built ", *layer = " ---> ";
	char *ref = NULL;
	size_t i, n;
	int rc = 0;

	/*
	 * " ---> 358de8fc2333": an image this build made, unless the line
	 * before was " ---> Using cache" (that one belongs to another build).
	 */
	if (strncmp(text, layer, strlen(layer)) == 0) {
		text += strlen(layer);
		if (strncmp(text, "Using cache", 11) == 0) {
			p->cached = 1;
			return 0;
		}
		n = strspn(text, "0123456789abcdef");
		if (n >= 12 && n <= 64 && line_blank(text + n, strlen(text + n))) {
			if (!p->cached && p->layers.n < DOCKER_REFS_MAX)
				refs_add(&p->layers, (ref = xstrndup(text, n)));
			p->cached = 0;
		}
		free(ref);
		return 0;
	}

	for (i = 0; i < sizeof(loaded) / sizeof(loaded[0]); i++) {
		if (strncmp(text, loaded[i], strlen(loaded[i])) != 0)
			continue;
		ref = xstrdup(text + strlen(loaded[i]));
		n = strlen(ref);
		while (n > 0 && isspace((unsigned char)ref[n - 1]))
			ref[--n] = '\0';
		if (!ref_ok(ref)) {
			p->bad = "malformed loaded image reference";
			rc = -1;
		} else if (refs_add(&p->refs, ref) == -1) {
			p->bad = "too many loaded images";
			rc = -1;
		}
		free(ref);
		return rc;
	}
	if (strncmp(text, built, strlen(built)) == 0 && p->image_id == NULL) {
		ref = xstrdup(text + strlen(built));
		n = strlen(ref);
		while (n > 0 && isspace((unsigned char)ref[n - 1]))
			ref[--n] = '\0';
		if (ref_ok(ref))
			p->image_id = ref;
		else
			free(ref);
	}
	return 0;
}

static int
progress_line(void *arg, const char *line, size_t len)
{
	struct docker_progress *p = arg;
	json_object *o = NULL, *aux, *detail;
	const char *text, *id, *status;
	struct buf b = BUF_INIT;
	int rc = -1;

	if (line_blank(line, len))
		return 0;
	if ((o = json_parse_exact(line, len)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		p->bad = "stream message is not a JSON object";
		goto out;
	}
	p->bad = "stream message has wrong types";
	if (jstr(o, "error", DOCKER_LINE_MAX, NULL, &text) == -1)
		goto out;
	if (text == NULL) {
		if (jtyped(o, "errorDetail", json_type_object, &detail) == -1 ||
		    jstr(detail, "message", DOCKER_LINE_MAX, NULL, &text) == -1)
			goto out;
	}
	if (text != NULL) {
		if (p->error == NULL)
			p->error = xstrdup(text[0] ? text : "unknown error");
		progress_log(p, text, 1);
	}
	if (jstr(o, "stream", DOCKER_LINE_MAX, NULL, &text) == -1)
		goto out;
	if (text != NULL) {
		progress_log(p, text, 0);
		if (progress_stream_text(p, text) == -1)
			goto out_keepbad;
	}
	if (jstr(o, "status", DOCKER_LINE_MAX, NULL, &status) == -1 ||
	    jstr(o, "id", DOCKER_FIELD_MAX, NULL, &id) == -1)
		goto out;
	/* Progress bars repeat for every chunk: the plain lines suffice. */
	detail = jget(o, "progressDetail");
	if (status != NULL && jget(detail, "current") == NULL &&
	    jget(detail, "total") == NULL) {
		if (id != NULL)
			buf_printf(&b, "%s: ", id);
		buf_adds(&b, status);
		progress_log(p, b.data, 1);
	}
	if (jtyped(o, "aux", json_type_object, &aux) == -1 ||
	    jstr(aux, "ID", DOCKER_FIELD_MAX, NULL, &id) == -1)
		goto out;
	if (id != NULL) {
		if (!ref_ok(id))
			goto out;
		free(p->image_id);
		p->image_id = xstrdup(id);
	}
	p->bad = NULL;
	rc = 0;
	goto out;
out_keepbad:
	rc = -1;
out:
	buf_release(&b);
	json_object_put(o);
	return rc;
}

int
docker_progress_feed(struct docker_progress *p, const char *data, size_t len)
{
	if (p->bad != NULL)
		return -1;
	return lines_feed(&p->line, data, len, progress_line, p, &p->bad);
}

int
docker_progress_finish(struct docker_progress *p)
{
	int rc;

	if (p->bad != NULL)
		return -1;
	if (p->line.len == 0)
		return 0;
	rc = progress_line(p, p->line.data, p->line.len);
	buf_reset(&p->line);
	return rc;
}

static int
progress_sink(void *arg, const char *data, size_t len)
{
	return docker_progress_feed(arg, data, len);
}

/*
 * Log frames.
 */

void
docker_demux_init(struct docker_demux *m, int raw, docker_output_fn *out,
    void *arg)
{
	memset(m, 0, sizeof(*m));
	m->raw = raw;
	m->out = out;
	m->arg = arg;
}

int
docker_demux_feed(struct docker_demux *m, const char *data, size_t len)
{
	size_t n;

	if (m->raw) {
		if (len > 0)
			m->out(m->arg, 1, data, len);
		return 0;
	}
	while (len > 0) {
		if (m->remain == 0) {
			n = sizeof(m->hdr) - m->hlen;
			if (n > len)
				n = len;
			memcpy(m->hdr + m->hlen, data, n);
			m->hlen += n;
			data += n;
			len -= n;
			if (m->hlen < sizeof(m->hdr))
				return 0;
			m->hlen = 0;
			if (m->hdr[0] > 2 || m->hdr[1] || m->hdr[2] || m->hdr[3])
				return -1;
			m->stream = m->hdr[0];
			m->remain = (uint32_t)m->hdr[4] << 24 |
			    (uint32_t)m->hdr[5] << 16 |
			    (uint32_t)m->hdr[6] << 8 | (uint32_t)m->hdr[7];
			continue;
		}
		n = len < m->remain ? len : m->remain;
		m->out(m->arg, m->stream, data, n);
		m->remain -= (uint32_t)n;
		data += n;
		len -= n;
	}
	return 0;
}

int
docker_demux_finish(const struct docker_demux *m)
{
	return (m->hlen != 0 || m->remain != 0) ? -1 : 0;
}

static int
demux_sink(void *arg, const char *data, size_t len)
{
	return docker_demux_feed(arg, data, len);
}

/*
 * Transfers.
 */

ssize_t
docker_read_fd(void *arg, char *buf, size_t len)
{
	int fd = *(int *)arg;
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		log_warn("read");
	return n;
}

static size_t
call_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct call *c = arg;
	size_t n = size * nmemb;

	if (!c->have_status) {
		if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE,
		    &c->status) != CURLE_OK)
			c->status = 0;
		c->have_status = 1;
	}
	if (c->status < 200 || c->status > 299) {
		if (c->errbody.len + n > DOCKER_ERROR_MAX) {
			c->too_big = 1;
			return 0;
		}
		buf_add(&c->errbody, ptr, n);
		return n;
	}
	if (c->sink != NULL) {
		if (c->sink(c->sink_arg, ptr, n) == -1) {
			c->sink_failed = 1;
			return 0;
		}
		return n;
	}
	if (c->reply == NULL)
		return n;
	if (c->reply->len + n > c->reply_max) {
		c->too_big = 1;
		return 0;
	}
	buf_add(c->reply, ptr, n);
	return n;
}

static size_t
call_read(char *ptr, size_t size, size_t nitems, void *arg)
{
	struct call *c = arg;
	ssize_t n;

	n = c->read(c->read_arg, ptr, size * nitems);
	if (n < 0 || (size_t)n > size * nitems) {
		c->read_failed = 1;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)n;
}

static int
call_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct call *c = arg;

	return c->cancel(c->cancel_arg) ? 1 : 0;
}

/* Set up curl for c; -1 if an option is refused. */
static int
call_setup(struct call *c, CURL *curl, const char *socket_path,
    char *curlerr, struct buf *errmsg)
{
	CURLcode rc = CURLE_OK;

	c->curl = curl;
	c->curlerr = curlerr;
	c->errmsg = errmsg;
	c->status = 0;
	c->have_status = 0;
	buf_init(&c->errbody);
	curlerr[0] = '\0';
	buf_reset(errmsg);

	curl_easy_reset(curl);
	rc |= curl_easy_setopt(curl, CURLOPT_URL, c->url);
	rc |= curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
#if LIBCURL_VERSION_NUM >= 0x075500
	rc |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
#endif
	rc |= curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curlerr);
	rc |= curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)DOCKER_CONNECT_TIMEOUT_MS);
	rc |= curl_easy_setopt(curl, CURLOPT_TIMEOUT, c->timeout_s);
	rc |= curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, call_write);
	rc |= curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
	c->headers = curl_slist_append(c->headers, "Expect:");
	if (c->content_type != NULL) {
		char h[128];

		if (str_fmt(h, sizeof(h), "Content-Type: %s",
		    c->content_type) == -1)
			return -1;
		c->headers = curl_slist_append(c->headers, h);
	}
	if (strcmp(c->method, "POST") == 0) {
		rc |= curl_easy_setopt(curl, CURLOPT_POST, 1L);
		if (c->read != NULL) {
			rc |= curl_easy_setopt(curl, CURLOPT_READFUNCTION, call_read);
			rc |= curl_easy_setopt(curl, CURLOPT_READDATA, c);
			rc |= curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)c->read_len);
			if (c->read_len < 0)
				c->headers = curl_slist_append(c->headers,
				    "Transfer-Encoding: chunked");
		} else {
			rc |= curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)c->bodylen);
			rc |= curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
			    c->body ? c->body : "");
		}
	} else if (strcmp(c->method, "GET") != 0)
		rc |= curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, c->method);
	if (c->headers == NULL)
		return -1;
	rc |= curl_easy_setopt(curl, CURLOPT_HTTPHEADER, c->headers);
	if (c->cancel != NULL) {
		rc |= curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		rc |= curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, call_progress);
		rc |= curl_easy_setopt(curl, CURLOPT_XFERINFODATA, c);
	}
	return rc == CURLE_OK ? 0 : -1;
}

static void
call_release(struct call *c)
{
	curl_slist_free_all(c->headers);
	c->headers = NULL;
	buf_release(&c->errbody);
}

/* Docker's {"message": ...}, else the body itself, else the status. */
static void
call_error_text(struct call *c)
{
	json_object *o;
	const char *msg = NULL;

	buf_reset(c->errmsg);
	if ((o = json_parse_exact(c->errbody.data, c->errbody.len)) != NULL &&
	    jstr(o, "message", DOCKER_ERROR_MAX, NULL, &msg) == 0 && msg != NULL)
		buf_adds(c->errmsg, msg);
	else if (!line_blank(c->errbody.data, c->errbody.len))
		buf_add(c->errmsg, c->errbody.data, c->errbody.len);
	else
		buf_printf(c->errmsg, "HTTP %ld", c->status);
	json_object_put(o);
}

/* curl's result and the status, as one error. */
static enum docker_err
call_finish(struct call *c, CURLcode rc)
{
	long status = 0;

	if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) ==
	    CURLE_OK)
		c->status = status;
	/* An HTTP error with its message beats a broken upload. */
	if (c->status >= 300 && c->status != 304 && !c->too_big &&
	    (rc == CURLE_OK || c->errbody.len > 0)) {
		call_error_text(c);
		switch (c->status) {
		case 400:
			return DOCKER_ERR_INVALID;
		case 404:
			return DOCKER_ERR_NOT_FOUND;
		case 409:
			return DOCKER_ERR_CONFLICT;
		}
		if (strstr(c->errmsg->data, "port is already allocated") ||
		    strstr(c->errmsg->data, "address already in use"))
			return DOCKER_ERR_PORT_IN_USE;
		return DOCKER_ERR_SERVER;
	}
	if (c->too_big) {
		buf_printf(c->errmsg, "reply larger than its cap");
		return DOCKER_ERR_PROTOCOL;
	}
	if (c->sink_failed) {
		buf_adds(c->errmsg, c->bad ? c->bad : "malformed stream");
		return DOCKER_ERR_PROTOCOL;
	}
	if (c->read_failed) {
		buf_adds(c->errmsg, "reading the upload failed");
		return DOCKER_ERR_TRANSPORT;
	}
	if (rc != CURLE_OK) {
		buf_adds(c->errmsg, c->curlerr[0] ? c->curlerr :
		    curl_easy_strerror(rc));
		if (rc == CURLE_ABORTED_BY_CALLBACK)
			return DOCKER_ERR_ABORTED;
		if (rc == CURLE_OPERATION_TIMEDOUT)
			return DOCKER_ERR_TIMEOUT;
		return DOCKER_ERR_TRANSPORT;
	}
	if (c->status < 200 || c->status > 304) {
		buf_printf(c->errmsg, "unexpected HTTP status %ld", c->status);
		return DOCKER_ERR_PROTOCOL;
	}
	return DOCKER_OK;
}

/*
 * The calls.
 */

struct docker *
docker_open(const char *socket_path)
{
	struct docker *d;

	if (socket_path == NULL || socket_path[0] == '\0' ||
	    strlen(socket_path) >= 108) {
		log_warnx("bad socket path");
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	if ((d->curl = curl_easy_init()) == NULL) {
		log_warnx("curl_easy_init failed");
		free(d);
		return NULL;
	}
	d->socket_path = xstrdup(socket_path);
	buf_init(&d->errmsg);
	return d;
}

void
docker_close(struct docker *d)
{
	if (d == NULL)
		return;
	curl_easy_cleanup(d->curl);
	free(d->socket_path);
	buf_release(&d->errmsg);
	free(d);
}

const char *
docker_errmsg(const struct docker *d)
{
	return d->errmsg.data;
}

/* Run c against path (already versioned or not) on d's handle. */
static enum docker_err
docker_run(struct docker *d, struct call *c, const char *path)
{
	struct buf url = BUF_INIT;
	enum docker_err err;
	CURLcode rc;

	buf_printf(&url, "%s%s", DOCKER_URL_BASE, path);
	c->url = url.data;
	if (call_setup(c, d->curl, d->socket_path, d->curlerr, &d->errmsg) == -1) {
		buf_adds(&d->errmsg, "curl refused an option");
		err = DOCKER_ERR_TRANSPORT;
		goto out;
	}
	rc = curl_easy_perform(d->curl);
	err = call_finish(c, rc);
	if (err != DOCKER_OK && err != DOCKER_ERR_NOT_FOUND &&
	    err != DOCKER_ERR_CONFLICT)
		log_debug("%s %s: %s: %s", c->method, path, docker_err_str(err),
		    d->errmsg.data);
out:
	call_release(c);
	c->url = NULL;
	buf_release(&url);
	return err;
}

enum docker_err
docker_version(struct docker *d, struct docker_version *out)
{
	struct call c;
	struct buf reply = BUF_INIT;
	struct docker_version v;
	enum docker_err err;

	memset(&c, 0, sizeof(c));
	c.method = "GET";
	c.timeout_s = DOCKER_CALL_TIMEOUT;
	c.reply = &reply;
	c.reply_max = DOCKER_REPLY_MAX;
	if ((err = docker_run(d, &c, "/version")) != DOCKER_OK)
		goto out;
	if ((err = docker_parse_version(reply.data, reply.len, &v)) != DOCKER_OK) {
		if (err == DOCKER_ERR_VERSION)
			buf_printf(&d->errmsg, "server API outside 1.%d..1.%d",
			    DOCKER_API_MINOR_MIN, DOCKER_API_MINOR_MAX);
		else
			buf_adds(&d->errmsg, "malformed /version reply");
		log_warnx("%s", d->errmsg.data);
		goto out;
	}
	if (str_fmt(d->prefix, sizeof(d->prefix), "/v%s", v.api) == -1) {
		err = DOCKER_ERR_PROTOCOL;
		goto out;
	}
	if (out != NULL)
		*out = v;
out:
	buf_release(&reply);
	return err;
}

static enum docker_err
docker_negotiate(struct docker *d)
{
	if (d->prefix[0] != '\0')
		return DOCKER_OK;
	return docker_version(d, NULL);
}

/* True if the negotiated API is at least 1.minor. */
static int
docker_api_at_least(const struct docker *d, int minor)
{
	int major, have;

	if (api_parse(d->prefix + 2, &major, &have) == -1)
		return 0;
	return major > 1 || have >= minor;
}

/* A versioned call: path gets /v1.NN in front. */
static enum docker_err
docker_call(struct docker *d, struct call *c, const char *path)
{
	struct buf full = BUF_INIT;
	enum docker_err err;

	if ((err = docker_negotiate(d)) != DOCKER_OK)
		return err;
	buf_printf(&full, "%s%s", d->prefix, path);
	err = docker_run(d, c, full.data);
	buf_release(&full);
	return err;
}

/* A short call whose reply (if reply != NULL) is kept, capped. */
static enum docker_err
docker_simple(struct docker *d, const char *method, const char *path,
    const char *body, long timeout_s, struct buf *reply)
{
	struct call c;

	memset(&c, 0, sizeof(c));
	c.method = method;
	c.body = body;
	c.bodylen = body ? strlen(body) : 0;
	c.content_type = body ? "application/json" : NULL;
	c.timeout_s = timeout_s;
	c.reply = reply;
	c.reply_max = DOCKER_REPLY_MAX;
	return docker_call(d, &c, path);
}

static enum docker_err
docker_invalid(struct docker *d, const char *what)
{
	buf_reset(&d->errmsg);
	buf_printf(&d->errmsg, "invalid %s", what);
	return DOCKER_ERR_INVALID;
}

/* Append "?key=value" or "&key=value", value escaped. */
static void
query_add(struct docker *d, struct buf *path, const char *key,
    const char *value)
{
	char *esc;

	esc = curl_easy_escape(d->curl, value, 0);
	if (esc == NULL)
		fatalx("curl_easy_escape: out of memory");
	buf_printf(path, "%c%s=%s", strchr(path->data, '?') ? '&' : '?',
	    key, esc);
	curl_free(esc);
}

/* {"label":[label]} plus an optional extra filter. */
static char *
filters_json(const char *label, const char *key2, const char *value2)
{
	json_object *o, *a;
	char *s;

	o = json_object_new_object();
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(label));
	json_object_object_add(o, "label", a);
	if (key2 != NULL) {
		a = json_object_new_array();
		json_object_array_add(a, json_object_new_string(value2));
		json_object_object_add(o, key2, a);
	}
	s = json_text(o);
	json_object_put(o);
	return s;
}

enum docker_err
docker_ping(struct docker *d)
{
	struct call c;
	struct buf reply = BUF_INIT;
	enum docker_err err;

	memset(&c, 0, sizeof(c));
	c.method = "GET";
	c.timeout_s = DOCKER_CALL_TIMEOUT;
	c.reply = &reply;
	c.reply_max = 1024;
	err = docker_run(d, &c, "/_ping");
	if (err == DOCKER_OK && strcmp(reply.data, "OK") != 0) {
		buf_adds(&d->errmsg, "unexpected /_ping reply");
		err = DOCKER_ERR_PROTOCOL;
	}
	buf_release(&reply);
	return err;
}

/* A stream that did not parse: say why. */
static void
progress_failed(struct docker *d, const struct docker_progress *p,
    enum docker_err err)
{
	if (err != DOCKER_ERR_PROTOCOL || p->bad == NULL)
		return;
	buf_reset(&d->errmsg);
	buf_adds(&d->errmsg, p->bad);
	log_warnx("%s", p->bad);
}

/*
 * After a failed build: remove the untagged images its steps made, newest
 * first (their parents go with them).  Tagged ones are left alone.
 */
static void
build_remove_layers(struct docker *d, const struct docker_refs *layers)
{
	struct docker_image img;
	char *saved = xstrdup(d->errmsg.data);
	size_t i;

	for (i = layers->n; i > 0; i--) {
		memset(&img, 0, sizeof(img));
		if (docker_image_inspect(d, layers->v[i - 1], &img) != DOCKER_OK)
			continue;
		if (img.tags.n == 0 &&
		    docker_image_remove(d, layers->v[i - 1], 0) == DOCKER_OK)
			log_debug("removed intermediate image %s", layers->v[i - 1]);
		docker_image_release(&img);
	}
	buf_reset(&d->errmsg);
	buf_adds(&d->errmsg, saved);
	free(saved);
}

enum docker_err
docker_build(struct docker *d, const struct docker_build_opts *o,
    char **image_id)
{
	struct docker_progress p;
	struct buf path = BUF_INIT;
	json_object *labels = NULL;
	char *labels_text = NULL;
	struct call c;
	size_t i;
	enum docker_err err;

	docker_progress_init(&p, o->log, o->arg);
	if (!ref_ok(o->tag) || o->read == NULL ||
	    (o->dockerfile != NULL && !text_ok(o->dockerfile, 1, 4096))) {
		err = docker_invalid(d, "build options");
		goto out;
	}
	labels = json_object_new_object();
	for (i = 0; i < o->nlabels; i++) {
		if (!text_ok(o->labels[i].key, 1, DOCKER_TEXT_MAX) ||
		    !text_ok(o->labels[i].value, 0, DOCKER_TEXT_MAX)) {
			err = docker_invalid(d, "build label");
			goto out;
		}
		json_object_object_add(labels, o->labels[i].key,
		    json_object_new_string(o->labels[i].value));
	}
	labels_text = json_text(labels);
	buf_adds(&path, "/build");
	query_add(d, &path, "t", o->tag);
	query_add(d, &path, "labels", labels_text);
	query_add(d, &path, "rm", "1");
	query_add(d, &path, "forcerm", "1");
	if (o->dockerfile != NULL)
		query_add(d, &path, "dockerfile", o->dockerfile);

	memset(&c, 0, sizeof(c));
	c.method = "POST";
	c.content_type = "application/x-tar";
	c.read = o->read;
	c.read_arg = o->read_arg;
	c.read_len = o->context_len < 0 ? -1 : o->context_len;
	c.timeout_s = o->timeout_s;
	c.cancel = o->cancel;
	c.cancel_arg = o->arg;
	c.sink = progress_sink;
	c.sink_arg = &p;
	err = docker_call(d, &c, path.data);
	progress_failed(d, &p, err);
	if (err != DOCKER_OK)
		goto out;
	if (docker_progress_finish(&p) == -1) {
		buf_adds(&d->errmsg, p.bad);
		err = DOCKER_ERR_PROTOCOL;
		goto out;
	}
	if (p.error != NULL) {
		buf_adds(&d->errmsg, p.error);
		err = DOCKER_ERR_STREAM;
		goto out;
	}
	if (p.image_id == NULL) {
		buf_adds(&d->errmsg, "build ended without an image id");
		err = DOCKER_ERR_PROTOCOL;
		goto out;
	}
	*image_id = p.image_id;
	p.image_id = NULL;
out:
	if (err != DOCKER_OK && p.layers.n > 0)
		build_remove_layers(d, &p.layers);
	docker_progress_release(&p);
	json_object_put(labels);
	free(labels_text);
	buf_release(&path);
	return err;
}

enum docker_err
docker_image_load(struct docker *d, const char *tar_path, docker_log_fn *log,
    docker_cancel_fn *cancel, void *arg, struct docker_refs *loaded)
{
	struct docker_progress p;
	struct call c;
	struct stat st;
	int fd = -1;
	enum docker_err err;

	docker_progress_init(&p, log, arg);
	buf_reset(&d->errmsg);
	if ((fd = open(tar_path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		buf_printf(&d->errmsg, "%s: %s", tar_path, strerror(errno));
		log_warnx("%s", d->errmsg.data);
		err = DOCKER_ERR_INVALID;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		buf_printf(&d->errmsg, "%s: not a regular file", tar_path);
		log_warnx("%s", d->errmsg.data);
		err = DOCKER_ERR_INVALID;
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.method = "POST";
	c.content_type = "application/x-tar";
	c.read = docker_read_fd;
	c.read_arg = &fd;
	c.read_len = st.st_size;
	c.cancel = cancel;
	c.cancel_arg = arg;
	c.sink = progress_sink;
	c.sink_arg = &p;
	err = docker_call(d, &c, "/images/load?quiet=1");
	progress_failed(d, &p, err);
	if (err != DOCKER_OK)
		goto out;
	if (docker_progress_finish(&p) == -1) {
		buf_adds(&d->errmsg, p.bad);
		err = DOCKER_ERR_PROTOCOL;
		goto out;
	}
	if (p.error != NULL || p.refs.n == 0) {
		buf_adds(&d->errmsg, p.error ? p.error : "the archive held no image");
		err = DOCKER_ERR_STREAM;
		goto out;
	}
	*loaded = p.refs;
	p.refs.v = NULL;
	p.refs.n = 0;
out:
	if (fd != -1)
		close(fd);
	docker_progress_release(&p);
	return err;
}

enum docker_err
docker_image_inspect(struct docker *d, const char *name,
    struct docker_image *out)
{
	struct buf path = BUF_INIT, reply = BUF_INIT;
	enum docker_err err;

	if (!ref_ok(name))
		return docker_invalid(d, "image name");
	buf_printf(&path, "/images/%s/json", name);
	err = docker_simple(d, "GET", path.data, NULL, DOCKER_CALL_TIMEOUT,
	    &reply);
	if (err == DOCKER_OK &&
	    (err = docker_parse_image(reply.data, reply.len, out)) != DOCKER_OK)
		buf_adds(&d->errmsg, "malformed image inspect reply");
	buf_release(&path);
	buf_release(&reply);
	return err;
}

enum docker_err
docker_image_list(struct docker *d, const char *label,
    struct docker_image_list *out)
{
	struct buf path = BUF_INIT, reply = BUF_INIT;
	char *filters = NULL;
	enum docker_err err;

	if (!label_filter_ok(label))
		return docker_invalid(d, "label filter");
	filters = filters_json(label, NULL, NULL);
	buf_adds(&path, "/images/json");
	query_add(d, &path, "filters", filters);
	err = docker_simple(d, "GET", path.data, NULL, DOCKER_CALL_TIMEOUT,
	    &reply);
	if (err == DOCKER_OK &&
	    (err = parse_image_list(reply.data, reply.len, out)) != DOCKER_OK)
		buf_adds(&d->errmsg, "malformed image list reply");
	free(filters);
	buf_release(&path);
	buf_release(&reply);
	return err;
}

enum docker_err
docker_image_tag(struct docker *d, const char *name, const char *repo,
    const char *tag)
{
	struct buf path = BUF_INIT;
	enum docker_err err;

	if (!ref_ok(name) || !ref_ok(repo) || strchr(repo, '@') != NULL ||
	    !tag_ok(tag))
		return docker_invalid(d, "image tag");
	buf_printf(&path, "/images/%s/tag", name);
	query_add(d, &path, "repo", repo);
	query_add(d, &path, "tag", tag);
	err = docker_simple(d, "POST", path.data, NULL, DOCKER_CALL_TIMEOUT,
	    NULL);
	buf_release(&path);
	return err;
}

enum docker_err
docker_image_remove(struct docker *d, const char *name, int force)
{
	struct buf path = BUF_INIT;
	enum docker_err err;

	if (!ref_ok(name))
		return docker_invalid(d, "image name");
	buf_printf(&path, "/images/%s?force=%d&noprune=0", name, force ? 1 : 0);
	err = docker_simple(d, "DELETE", path.data, NULL, DOCKER_SLOW_TIMEOUT,
	    NULL);
	buf_release(&path);
	return err;
}

/* Env names as in valid_env_name, without depending on its limits. */
static int
env_name_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || isdigit((unsigned char)s[0]))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return i <= 1024;
}

/* GPU device id: index or UUID ("GPU-..."). */
static int
gpu_id_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return i <= 128;
}

json_object *
docker_run_spec_json(const struct docker_run_spec *s)
{
	json_object *root = NULL, *host, *a, *o, *b, *dr, *caps;
	struct buf kv = BUF_INIT;
	char port[16];
	size_t i;

	if (s == NULL || !ref_ok(s->image) ||
	    s->container_port < 0 || s->container_port > 65535 ||
	    s->host_port < 0 || s->host_port > 65535 ||
	    (s->container_port == 0) != (s->host_port == 0) ||
	    s->memory < 0 || s->pids_limit < 0 || s->nano_cpus < 0 ||
	    (s->name != NULL && !name_ok(s->name)))
		goto fail;
	root = json_object_new_object();
	json_object_object_add(root, "Image", json_object_new_string(s->image));

	a = json_object_new_array();
	json_object_object_add(root, "Env", a);
	for (i = 0; i < s->nenv; i++) {
		if (!env_name_ok(s->env[i].key) || s->env[i].value == NULL)
			goto fail;
		buf_reset(&kv);
		buf_printf(&kv, "%s=%s", s->env[i].key, s->env[i].value);
		json_object_array_add(a, json_object_new_string_len(kv.data,
		    (int)kv.len));
	}

	o = json_object_new_object();
	json_object_object_add(root, "Labels", o);
	for (i = 0; i < s->nlabels; i++) {
		if (!text_ok(s->labels[i].key, 1, DOCKER_TEXT_MAX) ||
		    !text_ok(s->labels[i].value, 0, DOCKER_TEXT_MAX))
			goto fail;
		json_object_object_add(o, s->labels[i].key,
		    json_object_new_string(s->labels[i].value));
	}

	if (s->container_port != 0) {
		if (str_fmt(port, sizeof(port), "%d/tcp", s->container_port) == -1)
			goto fail;
		o = json_object_new_object();
		json_object_object_add(o, port, json_object_new_object());
		json_object_object_add(root, "ExposedPorts", o);
	}

	host = json_object_new_object();
	json_object_object_add(root, "HostConfig", host);
	if (s->container_port != 0) {
		o = json_object_new_object();
		a = json_object_new_array();
		b = json_object_new_object();
		json_object_object_add(b, "HostIp",
		    json_object_new_string("127.0.0.1"));
		buf_reset(&kv);
		buf_printf(&kv, "%d", s->host_port);
		json_object_object_add(b, "HostPort",
		    json_object_new_string(kv.data));
		json_object_array_add(a, b);
		json_object_object_add(o, port, a);
		json_object_object_add(host, "PortBindings", o);
	}
	json_object_object_add(host, "Init", json_object_new_boolean(1));
	o = json_object_new_object();
	json_object_object_add(o, "Name", json_object_new_string("unless-stopped"));
	json_object_object_add(host, "RestartPolicy", o);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("no-new-privileges"));
	json_object_object_add(host, "SecurityOpt", a);
	json_object_object_add(host, "Privileged", json_object_new_boolean(0));
	if (s->memory > 0)
		json_object_object_add(host, "Memory",
		    json_object_new_int64(s->memory));
	if (s->pids_limit > 0)
		json_object_object_add(host, "PidsLimit",
		    json_object_new_int64(s->pids_limit));
	if (s->nano_cpus > 0)
		json_object_object_add(host, "NanoCpus",
		    json_object_new_int64(s->nano_cpus));
	if (s->ngpu > 0) {
		dr = json_object_new_object();
		json_object_object_add(dr, "Driver", json_object_new_string("nvidia"));
		a = json_object_new_array();
		json_object_object_add(dr, "DeviceIDs", a);
		for (i = 0; i < s->ngpu; i++) {
			if (!gpu_id_ok(s->gpu_ids[i])) {
				json_object_put(dr);
				goto fail;
			}
			json_object_array_add(a, json_object_new_string(s->gpu_ids[i]));
		}
		caps = json_object_new_array();
		a = json_object_new_array();
		json_object_array_add(a, json_object_new_string("gpu"));
		json_object_array_add(caps, a);
		json_object_object_add(dr, "Capabilities", caps);
		a = json_object_new_array();
		json_object_array_add(a, dr);
		json_object_object_add(host, "DeviceRequests", a);
	}
	buf_release(&kv);
	return root;
fail:
	buf_release(&kv);
	json_object_put(root);
	return NULL;
}

enum docker_err
docker_container_create(struct docker *d, const struct docker_run_spec *s,
    char **id)
{
	struct buf path = BUF_INIT, reply = BUF_INIT;
	json_object *body = NULL, *o = NULL;
	const char *cid;
	char *text = NULL;
	enum docker_err err;

	if ((body = docker_run_spec_json(s)) == NULL) {
		err = docker_invalid(d, "container spec");
		goto out;
	}
	text = json_text(body);
	buf_adds(&path, "/containers/create");
	if (s->name != NULL)
		query_add(d, &path, "name", s->name);
	if ((err = docker_simple(d, "POST", path.data, text, DOCKER_CALL_TIMEOUT,
	    &reply)) != DOCKER_OK)
		goto out;
	if ((o = json_parse_exact(reply.data, reply.len)) == NULL ||
	    jstr(o, "Id", DOCKER_FIELD_MAX, NULL, &cid) == -1 || cid == NULL ||
	    !ref_ok(cid)) {
		buf_adds(&d->errmsg, "malformed create reply");
		err = DOCKER_ERR_PROTOCOL;
		goto out;
	}
	*id = xstrdup(cid);
out:
	json_object_put(body);
	json_object_put(o);
	free(text);
	buf_release(&path);
	buf_release(&reply);
	return err;
}

/* POST /containers/{id}/<verb>[?t=N] */
static enum docker_err
container_post(struct docker *d, const char *id, const char *verb,
    int timeout_s)
{
	struct buf path = BUF_INIT;
	enum docker_err err;

	if (!name_ok(id))
		return docker_invalid(d, "container id");
	if (timeout_s < 0 || timeout_s > 3600)
		return docker_invalid(d, "stop timeout");
	buf_printf(&path, "/containers/%s/%s", id, verb);
	if (strcmp(verb, "start") != 0)
		buf_printf(&path, "?t=%d", timeout_s);
	err = docker_simple(d, "POST", path.data, NULL,
	    DOCKER_CALL_TIMEOUT + timeout_s, NULL);
	buf_release(&path);
	return err;
}

enum docker_err
docker_container_start(struct docker *d, const char *id)
{
	return container_post(d, id, "start", 0);
}

enum docker_err
docker_container_stop(struct docker *d, const char *id, int timeout_s)
{
	return container_post(d, id, "stop", timeout_s);
}

enum docker_err
docker_container_restart(struct docker *d, const char *id, int timeout_s)
{
	return container_post(d, id, "restart", timeout_s);
}

enum docker_err
docker_container_remove(struct docker *d, const char *id, int force,
    int volumes)
{
	struct buf path = BUF_INIT;
	enum docker_err err;

	if (!name_ok(id))
		return docker_invalid(d, "container id");
	buf_printf(&path, "/containers/%s?force=%d&v=%d", id, force ? 1 : 0,
	    volumes ? 1 : 0);
	err = docker_simple(d, "DELETE", path.data, NULL, DOCKER_CALL_TIMEOUT,
	    NULL);
	buf_release(&path);
	return err;
}

enum docker_err
docker_container_inspect(struct docker *d, const char *id,
    struct docker_cstate *out)
{
	struct buf path = BUF_INIT, reply = BUF_INIT;
	enum docker_err err;

	if (!name_ok(id))
		return docker_invalid(d, "container id");
	buf_printf(&path, "/containers/%s/json", id);
	err = docker_simple(d, "GET", path.data, NULL, DOCKER_CALL_TIMEOUT,
	    &reply);
	if (err == DOCKER_OK &&
	    (err = docker_parse_cstate(reply.data, reply.len, out)) != DOCKER_OK)
		buf_adds(&d->errmsg, "malformed container inspect reply");
	buf_release(&path);
	buf_release(&reply);
	return err;
}

enum docker_err
docker_container_list(struct docker *d, const char *label,
    struct docker_container_list *out)
{
	struct buf path = BUF_INIT, reply = BUF_INIT;
	char *filters = NULL;
	enum docker_err err;

	if (!label_filter_ok(label))
		return docker_invalid(d, "label filter");
	filters = filters_json(label, NULL, NULL);
	buf_adds(&path, "/containers/json?all=1");
	query_add(d, &path, "filters", filters);
	err = docker_simple(d, "GET", path.data, NULL, DOCKER_CALL_TIMEOUT,
	    &reply);
	if (err == DOCKER_OK && (err = docker_parse_container_list(reply.data,
	    reply.len, out)) != DOCKER_OK)
		buf_adds(&d->errmsg, "malformed container list reply");
	free(filters);
	buf_release(&path);
	buf_release(&reply);
	return err;
}

enum docker_err
docker_container_logs(struct docker *d, const char *id,
    const struct docker_logs_opts *o)
{
	struct docker_cstate cs;
	struct docker_demux m;
	struct buf path = BUF_INIT;
	struct call c;
	enum docker_err err;

	memset(&cs, 0, sizeof(cs));
	if (o->out == NULL || o->tail < -1)
		return docker_invalid(d, "log options");
	/* Before 1.42 the reply does not say whether it is framed. */
	if ((err = docker_container_inspect(d, id, &cs)) != DOCKER_OK)
		goto out;
	docker_demux_init(&m, cs.tty, o->out, o->arg);
	buf_printf(&path, "/containers/%s/logs?stdout=1&stderr=1&follow=%d"
	    "&timestamps=%d", id, o->follow ? 1 : 0, o->timestamps ? 1 : 0);
	if (o->tail >= 0)
		buf_printf(&path, "&tail=%ld", o->tail);
	else
		buf_adds(&path, "&tail=all");
	memset(&c, 0, sizeof(c));
	c.method = "GET";
	c.timeout_s = o->follow ? 0 : DOCKER_SLOW_TIMEOUT;
	c.cancel = o->cancel;
	c.cancel_arg = o->arg;
	c.sink = demux_sink;
	c.sink_arg = &m;
	c.bad = "malformed log frame header";
	if ((err = docker_call(d, &c, path.data)) != DOCKER_OK)
		goto out;
	if (docker_demux_finish(&m) == -1) {
		buf_adds(&d->errmsg, "log stream ended inside a frame");
		err = DOCKER_ERR_PROTOCOL;
	}
out:
	docker_cstate_release(&cs);
	buf_release(&path);
	return err;
}

enum docker_err
docker_prune(struct docker *d, enum docker_prune kind, const char *label,
    uint64_t *reclaimed)
{
	struct buf path = BUF_INIT, reply = BUF_INIT;
	json_object *o = NULL;
	char *filters = NULL;
	int64_t n;
	enum docker_err err;

	if ((unsigned)kind >= DOCKER_PRUNE__MAX)
		return docker_invalid(d, "prune kind");
	if (!label_filter_ok(label))
		return docker_invalid(d, "label filter");
	if ((err = docker_negotiate(d)) != DOCKER_OK)
		return err;
	if (kind == DOCKER_PRUNE_IMAGES)
		filters = filters_json(label, "dangling", "false");
	else if (kind == DOCKER_PRUNE_VOLUMES && docker_api_at_least(d, 42))
		filters = filters_json(label, "all", "true");
	else
		filters = filters_json(label, NULL, NULL);
	buf_adds(&path, docker_prune_paths[kind]);
	query_add(d, &path, "filters", filters);
	if ((err = docker_simple(d, "POST", path.data, NULL, DOCKER_SLOW_TIMEOUT,
	    &reply)) != DOCKER_OK)
		goto out;
	if ((o = json_parse_exact(reply.data, reply.len)) == NULL ||
	    !json_object_is_type(o, json_type_object) ||
	    jint(o, "SpaceReclaimed", 0, INT64_MAX, 0, &n) == -1) {
		buf_adds(&d->errmsg, "malformed prune reply");
		err = DOCKER_ERR_PROTOCOL;
		goto out;
	}
	if (reclaimed != NULL)
		*reclaimed = (uint64_t)n;
out:
	json_object_put(o);
	free(filters);
	buf_release(&path);
	buf_release(&reply);
	return err;
}

/*
 * Events.
 */

static int
events_line(void *arg, const char *line, size_t len)
{
	struct docker_events *ev = arg;
	struct docker_event e;
	json_object *o;

	if (line_blank(line, len))
		return 0;
	if ((o = json_parse_exact(line, len)) == NULL) {
		ev->bad = "event is not JSON";
		return -1;
	}
	if (docker_event_parse(o, ev->label_key, &e) == -1)
		log_warnx("malformed event skipped");
	else {
		if (e.time > ev->last)
			ev->last = e.time;
		ev->fn(ev->arg, &e);
	}
	json_object_put(o);
	return 0;
}

static int
events_sink(void *arg, const char *data, size_t len)
{
	struct docker_events *ev = arg;

	if (lines_feed(&ev->pending, data, len, events_line, ev, &ev->bad) == -1) {
		ev->call->bad = ev->bad;
		return -1;
	}
	return 0;
}

struct docker_events *
docker_events_open(struct docker *d, const char *label, int64_t since,
    docker_event_fn *fn, void *arg)
{
	struct docker_events *ev = NULL;
	struct buf url = BUF_INIT;
	char *filters = NULL;
	char num[32];
	json_object *o, *a;
	size_t n;

	if (!label_filter_ok(label) || fn == NULL || since < 0) {
		docker_invalid(d, "event filter");
		return NULL;
	}
	if (docker_negotiate(d) != DOCKER_OK)
		return NULL;
	o = json_object_new_object();
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("container"));
	json_object_object_add(o, "type", a);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(label));
	json_object_object_add(o, "label", a);
	filters = json_text(o);
	json_object_put(o);

	ev = xcalloc(1, sizeof(*ev));
	ev->fn = fn;
	ev->arg = arg;
	ev->last = since;
	buf_init(&ev->pending);
	buf_init(&ev->errmsg);
	ev->socket_path = xstrdup(d->socket_path);
	n = strcspn(label, "=");
	ev->label_key = xstrndup(label, n);
	ev->call = xcalloc(1, sizeof(*ev->call));

	buf_printf(&url, "%s%s/events", DOCKER_URL_BASE, d->prefix);
	query_add(d, &url, "filters", filters);
	if (since > 0) {
		if (str_fmt(num, sizeof(num), "%" PRId64, since) == -1)
			goto fail;
		query_add(d, &url, "since", num);
	}
	ev->url = buf_detach(&url, NULL);

	if ((ev->multi = curl_multi_init()) == NULL ||
	    (ev->curl = curl_easy_init()) == NULL)
		goto fail;
	ev->call->method = "GET";
	ev->call->url = ev->url;
	ev->call->timeout_s = 0;
	ev->call->sink = events_sink;
	ev->call->sink_arg = ev;
	if (call_setup(ev->call, ev->curl, ev->socket_path, ev->curlerr,
	    &ev->errmsg) == -1)
		goto fail;
	if (curl_multi_add_handle(ev->multi, ev->curl) != CURLM_OK)
		goto fail;
	free(filters);
	/* Start connecting now; docker_events_wait() drives the rest. */
	if (docker_events_wait(ev, NULL, 0, 0) != DOCKER_OK)
		log_warnx("event stream: %s", ev->errmsg.data);
	return ev;
fail:
	log_warnx("cannot set up the event stream");
	free(filters);
	buf_release(&url);
	docker_events_close(ev);
	return NULL;
}

enum docker_err
docker_events_wait(struct docker_events *ev, struct pollfd *extra,
    unsigned int nextra, int timeout_ms)
{
	struct curl_waitfd *w = NULL;
	struct CURLMsg *msg;
	unsigned int i;
	int running, q;
	CURLMcode mc;

	if (ev->done)
		return ev->err;
	if (nextra > 0) {
		w = xcalloc(nextra, sizeof(*w));
		for (i = 0; i < nextra; i++) {
			w[i].fd = extra[i].fd;
			w[i].events = (short)(((extra[i].events & POLLIN) ?
			    CURL_WAIT_POLLIN : 0) |
			    ((extra[i].events & POLLPRI) ? CURL_WAIT_POLLPRI : 0) |
			    ((extra[i].events & POLLOUT) ? CURL_WAIT_POLLOUT : 0));
		}
	}
	if (timeout_ms != 0 || nextra > 0) {
		mc = curl_multi_poll(ev->multi, w, nextra, timeout_ms < 0 ?
		    INT_MAX : timeout_ms, NULL);
		if (mc != CURLM_OK) {
			buf_reset(&ev->errmsg);
			buf_adds(&ev->errmsg, curl_multi_strerror(mc));
			ev->done = 1;
			ev->err = DOCKER_ERR_TRANSPORT;
			goto out;
		}
		for (i = 0; i < nextra; i++)
			extra[i].revents = (short)(
			    ((w[i].revents & CURL_WAIT_POLLIN) ? POLLIN : 0) |
			    ((w[i].revents & CURL_WAIT_POLLPRI) ? POLLPRI : 0) |
			    ((w[i].revents & CURL_WAIT_POLLOUT) ? POLLOUT : 0));
	}
	mc = curl_multi_perform(ev->multi, &running);
	if (mc != CURLM_OK) {
		buf_reset(&ev->errmsg);
		buf_adds(&ev->errmsg, curl_multi_strerror(mc));
		ev->done = 1;
		ev->err = DOCKER_ERR_TRANSPORT;
		goto out;
	}
	while ((msg = curl_multi_info_read(ev->multi, &q)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		ev->done = 1;
		ev->err = call_finish(ev->call, msg->data.result);
		if (ev->err == DOCKER_OK) {
			buf_adds(&ev->errmsg, "event stream ended");
			ev->err = DOCKER_ERR_TRANSPORT;
		}
	}
out:
	free(w);
	return ev->done ? ev->err : DOCKER_OK;
}

void
docker_events_wakeup(struct docker_events *ev)
{
	curl_multi_wakeup(ev->multi);
}

int64_t
docker_events_last(const struct docker_events *ev)
{
	return ev->last;
}

const char *
docker_events_errmsg(const struct docker_events *ev)
{
	return ev->errmsg.data;
}

void
docker_events_close(struct docker_events *ev)
{
	if (ev == NULL)
		return;
	if (ev->multi != NULL && ev->curl != NULL)
		curl_multi_remove_handle(ev->multi, ev->curl);
	if (ev->curl != NULL)
		curl_easy_cleanup(ev->curl);
	if (ev->multi != NULL)
		curl_multi_cleanup(ev->multi);
	if (ev->call != NULL) {
		call_release(ev->call);
		free(ev->call);
	}
	free(ev->socket_path);
	free(ev->label_key);
	free(ev->url);
	buf_release(&ev->pending);
	buf_release(&ev->errmsg);
	free(ev);
}
