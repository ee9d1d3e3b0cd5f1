/*
 * compose: docker-compose project checks and the normalised file.
 * The rules are listed in compose.h; each check below names its rule in
 * the message.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "compose.h"
#include "log.h"
#include "valid.h"
#include "yamlcfg.h"

#define WHERE_MAX	256

struct cctx {
	const char		*label;
	char			*err;
	size_t			 errlen;
	const char		*proj;		/* realpath of the project */
	const struct yamlcfg_node *root;
	const struct yamlcfg_node *services;
	const struct yamlcfg_node *volumes;	/* top level, may be NULL */
	const struct yamlcfg_node *networks;
	const struct yamlcfg_node *secrets;
	const struct yamlcfg_node *configs;
	const char		*svc;		/* service being checked */
	char			 where[WHERE_MAX];
	char			 publisher[COMPOSE_MAX_NAME + 1];
	int			 container_port;
	int			 published;	/* entries publishing ${PORT} */
};

typedef int (*check_fn)(struct cctx *, const struct yamlcfg_node *);

static void __attribute__((format(printf, 3, 4)))
cerr(struct cctx *c, const char *where, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages are cut to the caller's buffer on purpose. */
	if (c->err != NULL && c->errlen > 0)
		(void)snprintf(c->err, c->errlen, "%s: %s: %s", c->label,
		    where, msg);
}

/* A location for messages; cut to WHERE_MAX on purpose. */
static void __attribute__((format(printf, 2, 3)))
where_fmt(char *dst, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(dst, WHERE_MAX, fmt, ap);
	va_end(ap);
}

/* "<base>[i]" or "<base>.<key>" into dst (a WHERE_MAX array). */
static void
where_index(char *dst, const char *base, size_t i)
{
	char b[WHERE_MAX];

	(void)str_copy(b, sizeof(b), base);	/* dst may be base */
	where_fmt(dst, "%s[%zu]", b, i);
}

static void
where_key(char *dst, const char *base, const char *key)
{
	char b[WHERE_MAX], q[80];

	yamlcfg_quote(q, sizeof(q), key);
	(void)str_copy(b, sizeof(b), base);
	where_fmt(dst, "%s.%s", b, q);
}

static int
is_ext_key(const char *key)
{
	return strncmp(key, "x-", 2) == 0;
}

static int
valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > COMPOSE_MAX_NAME)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int alnum = (ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || (ch != '_' && ch != '.' &&
		    ch != '-')))
			return 0;
	}
	return 1;
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * Shapes
 */

static int
want_scalar(struct cctx *c, const char *where, const struct yamlcfg_node *n)
{
	if (n->type != YAMLCFG_SCALAR || yamlcfg_is_null(n)) {
		cerr(c, where, "must be a string, not %s",
		    yamlcfg_type_name(n));
		return -1;
	}
	return 0;
}

/* A checked scalar: no variable substitution, no control bytes. */
static int
want_fixed(struct cctx *c, const char *where, const struct yamlcfg_node *n)
{
	if (want_scalar(c, where, n) == -1)
		return -1;
	if (strchr(n->text, '$') != NULL) {
		cerr(c, where, "variable substitution ($) is not allowed here");
		return -1;
	}
	if (has_control(n->text)) {
		cerr(c, where, "control characters are not allowed");
		return -1;
	}
	return 0;
}

static int
want_list(struct cctx *c, const char *where, const struct yamlcfg_node *n)
{
	if (n->type != YAMLCFG_SEQUENCE) {
		cerr(c, where, "must be a list, not %s", yamlcfg_type_name(n));
		return -1;
	}
	return 0;
}

static int
want_map(struct cctx *c, const char *where, const struct yamlcfg_node *n)
{
	if (n->type != YAMLCFG_MAPPING) {
		cerr(c, where, "must be a mapping, not %s",
		    yamlcfg_type_name(n));
		return -1;
	}
	return 0;
}

static int
chk_scalar(struct cctx *c, const struct yamlcfg_node *n)
{
	return want_scalar(c, c->where, n);
}

static int
chk_scalar_or_list(struct cctx *c, const struct yamlcfg_node *n)
{
	char w[WHERE_MAX];
	size_t i;

	if (n->type == YAMLCFG_SCALAR)
		return want_scalar(c, c->where, n);
	if (want_list(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		where_index(w, c->where, i);
		if (want_scalar(c, w, n->kids[i]) == -1)
			return -1;
	}
	return 0;
}

/* list of strings, or mapping of string/number/bool/null values */
static int
chk_list_or_dict(struct cctx *c, const struct yamlcfg_node *n)
{
	char w[WHERE_MAX];
	size_t i;

	if (n->type == YAMLCFG_SEQUENCE)
		return chk_scalar_or_list(c, n);
	if (want_map(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		if (n->kids[i]->type != YAMLCFG_SCALAR) {
			where_key(w, c->where, n->kids[i]->key);
			cerr(c, w, "must be a string, not %s",
			    yamlcfg_type_name(n->kids[i]));
			return -1;
		}
	}
	return 0;
}

/*
 * Keys of a mapping against a list of allowed ones.  A key in `rejected'
 * gets "<key> is not allowed"; anything else unknown "unknown key".
 */
static int
check_keys(struct cctx *c, const char *where, const struct yamlcfg_node *map,
    const char *const *allowed, const char *const *rejected)
{
	char w[WHERE_MAX], q[80];
	size_t i, k;

	for (i = 0; i < map->n; i++) {
		const char *key = map->kids[i]->key;
		int ok = is_ext_key(key);

		for (k = 0; !ok && allowed[k] != NULL; k++)
			ok = strcmp(key, allowed[k]) == 0;
		if (ok)
			continue;
		where_key(w, where, key);
		for (k = 0; rejected != NULL && rejected[k] != NULL; k++) {
			if (strcmp(key, rejected[k]) == 0) {
				cerr(c, w, "%s is not allowed", key);
				return -1;
			}
		}
		yamlcfg_quote(q, sizeof(q), key);
		cerr(c, where, "unknown key '%s' (only known safe keys are "
		    "allowed)", q);
		return -1;
	}
	return 0;
}

static int
is_service(const struct cctx *c, const char *name)
{
	return yamlcfg_get(c->services, name) != NULL;
}

static int
is_declared(const struct yamlcfg_node *section, const char *name)
{
	const struct yamlcfg_node *n = yamlcfg_get(section, name);

	return n != NULL;
}

/*
 * Paths inside the project
 */

/*
 * Lexically normalise rel (relative): "." and empty components dropped,
 * ".." pops; -1 if it climbs out.  norm gets "a/b" ("" for the project).
 */
static int
lexical_norm(const char *rel, struct buf *norm)
{
	const char *p = rel, *slash;
	size_t n, depth = 0, cut;

	buf_reset(norm);
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (depth == 0)
				return -1;
			depth--;
			cut = norm->len;
			while (cut > 0 && norm->data[cut - 1] != '/')
				cut--;
			buf_truncate(norm, cut > 0 ? cut - 1 : 0);
		} else {
			if (norm->len > 0)
				buf_addch(norm, '/');
			buf_add(norm, p, n);
			depth++;
		}
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return 0;
}

static int
under(const char *path, const char *root)
{
	size_t n = strlen(root);

	return strncmp(path, root, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

/*
 * rel names something inside the project: not absolute, no "~", no "$",
 * no ".." out, and the symbolic links on the part of the path that exists
 * stay inside.  what names the thing in messages.  norm gets the
 * normalised relative path.
 */
static int
project_path(struct cctx *c, const char *where, const char *what,
    const char *rel, struct buf *norm)
{
	struct buf cur = BUF_INIT;
	struct stat st;
	const char *p, *slash;
	char *real = NULL;
	size_t n;
	int rc = -1;

	if (*rel == '\0') {
		cerr(c, where, "%s must not be empty", what);
		goto out;
	}
	if (strchr(rel, '$') != NULL) {
		cerr(c, where, "variable substitution ($) is not allowed in "
		    "the %s", what);
		goto out;
	}
	if (has_control(rel) || strchr(rel, '\\') != NULL) {
		cerr(c, where, "the %s contains control characters or "
		    "backslashes", what);
		goto out;
	}
	if (rel[0] == '/' || rel[0] == '~') {
		cerr(c, where, "the %s must be a relative path inside the "
		    "project directory (host paths outside it are not "
		    "allowed)", what);
		goto out;
	}
	if (lexical_norm(rel, norm) == -1) {
		cerr(c, where, "the %s is outside the project directory "
		    "(..)", what);
		goto out;
	}
	/* Walk what exists, resolving symbolic links as the kernel will. */
	buf_adds(&cur, c->proj);
	for (p = norm->data; *p != '\0'; p = slash + 1) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		buf_addch(&cur, '/');
		buf_add(&cur, p, n);
		if (lstat(cur.data, &st) == -1) {
			if (errno == ENOENT || errno == ENOTDIR)
				break;	/* the rest does not exist yet */
			log_warn("lstat %s", cur.data);
			cerr(c, where, "the %s cannot be checked", what);
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			if ((real = realpath(cur.data, NULL)) == NULL ||
			    !under(real, c->proj)) {
				cerr(c, where, "the %s is outside the project "
				    "directory (symbolic link)", what);
				goto out;
			}
			buf_reset(&cur);
			buf_adds(&cur, real);
			free(real);
			real = NULL;
		}
		if (slash == NULL)
			break;
	}
	rc = 0;
out:
	free(real);
	buf_release(&cur);
	return rc;
}

/* A file compose reads (env_file, secret/config file): when it exists it
 * is a regular file (a FIFO would hang compose). */
static int
project_file(struct cctx *c, const char *where, const char *what,
    const char *rel)
{
	struct buf norm = BUF_INIT, abs = BUF_INIT;
	struct stat st;
	int rc = -1;

	if (project_path(c, where, what, rel, &norm) == -1)
		goto out;
	buf_printf(&abs, "%s/%s", c->proj, norm.data);
	if (stat(abs.data, &st) == 0 && !S_ISREG(st.st_mode)) {
		cerr(c, where, "the %s is not a regular file", what);
		goto out;
	}
	rc = 0;
out:
	buf_release(&norm);
	buf_release(&abs);
	return rc;
}

/*
 * Labels
 */

static int
label_key_ok(struct cctx *c, const char *where, const char *key)
{
	if (strncmp(key, "slipway.", 8) == 0 ||
	    strncmp(key, "com.docker.", 11) == 0) {
		cerr(c, where, "labels: keys starting with slipway. or "
		    "com.docker. are reserved");
		return -1;
	}
	return 0;
}

static int
chk_labels(struct cctx *c, const struct yamlcfg_node *n)
{
	char w[WHERE_MAX], key[YAML_MAX_KEY + 1];
	const char *eq;
	size_t i, kl;

	if (chk_list_or_dict(c, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		if (n->type == YAMLCFG_MAPPING) {
			where_key(w, c->where, n->kids[i]->key);
			if (label_key_ok(c, w, n->kids[i]->key) == -1)
				return -1;
			continue;
		}
		where_index(w, c->where, i);
		eq = strchr(n->kids[i]->text, '=');
		kl = eq ? (size_t)(eq - n->kids[i]->text) : n->kids[i]->len;
		if (kl > YAML_MAX_KEY) {
			cerr(c, w, "label key too long");
			return -1;
		}
		memcpy(key, n->kids[i]->text, kl);
		key[kl] = '\0';
		if (strchr(key, '$') != NULL) {
			cerr(c, w, "variable substitution ($) is not allowed "
			    "in label keys");
			return -1;
		}
		if (label_key_ok(c, w, key) == -1)
			return -1;
	}
	return 0;
}

/*
 * Service keys
 */

static int
chk_privileged(struct cctx *c, const struct yamlcfg_node *n)
{
	int v;

	if (yamlcfg_bool(n, &v) == -1 || v != 0) {
		cerr(c, c->where, "privileged containers are not allowed");
		return -1;
	}
	return 0;
}

/* value is "service:<another service of this project>" */
static int
is_service_ref(struct cctx *c, const char *value)
{
	return strncmp(value, "service:", 8) == 0 &&
	    strcmp(value + 8, c->svc) != 0 && is_service(c, value + 8);
}

static int
chk_network_mode(struct cctx *c, const struct yamlcfg_node *n)
{
	if (want_fixed(c, c->where, n) == -1)
		return -1;
	if (strcmp(n->text, "bridge") == 0 || strcmp(n->text, "none") == 0 ||
	    is_service_ref(c, n->text))
		return 0;
	if (strcmp(n->text, "host") == 0)
		cerr(c, c->where, "network_mode: host is not allowed");
	else
		cerr(c, c->where, "network_mode: only bridge, none or "
		    "service:<another service of this project> are allowed");
	return -1;
}

static int
chk_pid(struct cctx *c, const struct yamlcfg_node *n)
{
	if (want_fixed(c, c->where, n) == -1)
		return -1;
	if (is_service_ref(c, n->text))
		return 0;
	cerr(c, c->where, "pid: %s; only service:<another service of this "
	    "project> is allowed", strcmp(n->text, "host") == 0 ?
	    "host is not allowed" : "this mode is not allowed");
	return -1;
}

static int
chk_ipc(struct cctx *c, const struct yamlcfg_node *n)
{
	if (want_fixed(c, c->where, n) == -1)
		return -1;
	if (strcmp(n->text, "private") == 0 ||
	    strcmp(n->text, "shareable") == 0 ||
	    strcmp(n->text, "none") == 0 || is_service_ref(c, n->text))
		return 0;
	cerr(c, c->where, "ipc: %s; only private, shareable, none or "
	    "service:<another service of this project> are allowed",
	    strcmp(n->text, "host") == 0 ? "host is not allowed" :
	    "this mode is not allowed");
	return -1;
}

static int
chk_security_opt(struct cctx *c, const struct yamlcfg_node *n)
{
	char w[WHERE_MAX];
	const char *t;
	size_t i;

	if (want_list(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		where_index(w, c->where, i);
		if (want_fixed(c, w, n->kids[i]) == -1)
			return -1;
		t = n->kids[i]->text;
		if (strstr(t, "unconfined") != NULL) {
			cerr(c, w, "security_opt: unconfined profiles are not "
			    "allowed");
			return -1;
		}
		if (strcmp(t, "no-new-privileges") != 0 &&
		    strcmp(t, "no-new-privileges:true") != 0 &&
		    strcmp(t, "no-new-privileges=true") != 0) {
			cerr(c, w, "security_opt: only no-new-privileges is "
			    "allowed");
			return -1;
		}
	}
	return 0;
}

static int
chk_env_file(struct cctx *c, const struct yamlcfg_node *n)
{
	char w[WHERE_MAX];
	size_t i;

	if (n->type == YAMLCFG_SCALAR)
		return want_scalar(c, c->where, n) == -1 ||
		    project_file(c, c->where, "env_file", n->text) == -1 ?
		    -1 : 0;
	if (want_list(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		where_index(w, c->where, i);
		if (want_scalar(c, w, n->kids[i]) == -1 ||
		    project_file(c, w, "env_file", n->kids[i]->text) == -1)
			return -1;
	}
	return 0;
}

static int
chk_build(struct cctx *c, const struct yamlcfg_node *n)
{
	static const char *const allowed[] = { "context", "dockerfile",
	    "args", "labels", "target", "cache_from", "shm_size",
	    "extra_hosts", NULL };
	static const char *const rejected[] = { "network", "isolation",
	    NULL };
	struct buf norm = BUF_INIT, df = BUF_INIT;
	const struct yamlcfg_node *ctx, *k;
	char w[WHERE_MAX], saved[WHERE_MAX];
	int rc = -1;

	memcpy(saved, c->where, sizeof(saved));
	if (n->type == YAMLCFG_SCALAR) {
		ctx = n;
		memcpy(w, c->where, sizeof(w));
	} else {
		if (want_map(c, c->where, n) == -1 ||
		    check_keys(c, c->where, n, allowed, rejected) == -1)
			goto out;
		where_key(w, saved, "context");
		if ((ctx = yamlcfg_get(n, "context")) == NULL) {
			cerr(c, w, "missing (the build context directory)");
			goto out;
		}
	}
	if (want_scalar(c, w, ctx) == -1)
		goto out;
	if (strstr(ctx->text, "://") != NULL ||
	    strncmp(ctx->text, "git@", 4) == 0 ||
	    strncmp(ctx->text, "github.com/", 11) == 0) {
		cerr(c, w, "the build context must be a directory inside the "
		    "project, not a URL");
		goto out;
	}
	if (project_path(c, w, "build context", ctx->text, &norm) == -1)
		goto out;
	if (n->type == YAMLCFG_SCALAR) {
		rc = 0;
		goto out;
	}
	if ((k = yamlcfg_get(n, "dockerfile")) != NULL) {
		where_key(w, saved, "dockerfile");
		if (want_fixed(c, w, k) == -1)
			goto out;
		if (k->text[0] == '/' || k->text[0] == '~') {
			cerr(c, w, "the dockerfile must be a relative path "
			    "inside the build context");
			goto out;
		}
		buf_adds(&df, norm.len ? norm.data : ".");
		buf_addch(&df, '/');
		buf_adds(&df, k->text);
		if (project_path(c, w, "dockerfile", df.data, &norm) == -1)
			goto out;
		/* inside the context too */
		buf_reset(&df);
		if (lexical_norm(ctx->text, &df) == -1 ||
		    (df.len > 0 && strncmp(norm.data, df.data, df.len) != 0) ||
		    (df.len > 0 && norm.data[df.len] != '/')) {
			cerr(c, w, "the dockerfile must be inside the build "
			    "context");
			goto out;
		}
	}
	if ((k = yamlcfg_get(n, "labels")) != NULL) {
		where_key(c->where, saved, "labels");
		if (chk_labels(c, k) == -1)
			goto out;
	}
	if ((k = yamlcfg_get(n, "args")) != NULL) {
		where_key(c->where, saved, "args");
		if (chk_list_or_dict(c, k) == -1)
			goto out;
	}
	if ((k = yamlcfg_get(n, "extra_hosts")) != NULL) {
		where_key(c->where, saved, "extra_hosts");
		if (chk_list_or_dict(c, k) == -1)
			goto out;
	}
	if ((k = yamlcfg_get(n, "cache_from")) != NULL) {
		where_key(c->where, saved, "cache_from");
		if (chk_scalar_or_list(c, k) == -1)
			goto out;
	}
	if ((k = yamlcfg_get(n, "target")) != NULL &&
	    want_scalar(c, saved, k) == -1)
		goto out;
	rc = 0;
out:
	memcpy(c->where, saved, sizeof(saved));
	buf_release(&norm);
	buf_release(&df);
	return rc;
}

/*
 * Volumes
 */

static int
volume_mode_ok(const char *mode)
{
	static const char *const ok[] = { "ro", "rw", "z", "Z", "nocopy",
	    "cached", "delegated", "consistent", NULL };
	const char *p = mode, *comma;
	size_t n, i;

	if (*mode == '\0')
		return 0;
	for (;;) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		for (i = 0; ok[i] != NULL; i++)
			if (strlen(ok[i]) == n && memcmp(ok[i], p, n) == 0)
				break;
		if (ok[i] == NULL)
			return 0;
		if (comma == NULL)
			return 1;
		p = comma + 1;
	}
}

static int
check_named_volume(struct cctx *c, const char *where, const char *name)
{
	char q[80];

	if (!valid_name(name) || !is_declared(c->volumes, name)) {
		yamlcfg_quote(q, sizeof(q), name);
		cerr(c, where, "named volume '%s' is not declared in the "
		    "top-level volumes (bind mounts must start with ./)", q);
		return -1;
	}
	return 0;
}

static int
check_bind_source(struct cctx *c, const char *where, const char *src)
{
	struct buf norm = BUF_INIT;
	int rc;

	if (src[0] != '.') {
		cerr(c, where, "bind mount source must be a relative path "
		    "(./...) inside the project directory; host paths outside "
		    "it are not allowed");
		return -1;
	}
	rc = project_path(c, where, "bind mount source", src, &norm);
	buf_release(&norm);
	return rc;
}

static int
check_volume_string(struct cctx *c, const char *where, const char *s)
{
	char *copy = NULL, *parts[3], *p;
	size_t np = 0;
	int rc = -1;

	if (strstr(s, "docker.sock") != NULL) {
		cerr(c, where, "volumes: the Docker socket may not be mounted");
		goto out;
	}
	if (strchr(s, '$') != NULL) {
		cerr(c, where, "volumes: variable substitution ($) is not "
		    "allowed");
		goto out;
	}
	copy = xstrdup(s);
	for (p = copy; np < 3; np++) {
		parts[np] = p;
		if ((p = strchr(p, ':')) == NULL) {
			np++;
			break;
		}
		*p++ = '\0';
	}
	if (p != NULL) {
		cerr(c, where, "volumes: must be [source:]target[:mode]");
		goto out;
	}
	if (parts[np > 1 ? 1 : 0][0] != '/') {
		cerr(c, where, "volumes: the container path must be absolute");
		goto out;
	}
	if (np == 3 && !volume_mode_ok(parts[2])) {
		cerr(c, where, "volumes: mode must be made of ro, rw, z, Z, "
		    "nocopy, cached, delegated, consistent");
		goto out;
	}
	if (np == 1) {
		rc = 0;		/* anonymous volume */
		goto out;
	}
	if (parts[0][0] == '/' || parts[0][0] == '~' || parts[0][0] == '.') {
		if (check_bind_source(c, where, parts[0]) == -1)
			goto out;
	} else if (check_named_volume(c, where, parts[0]) == -1)
		goto out;
	rc = 0;
out:
	free(copy);
	return rc;
}

static int
check_volume_long(struct cctx *c, const char *where,
    const struct yamlcfg_node *v)
{
	static const char *const allowed[] = { "type", "source", "target",
	    "read_only", "consistency", "volume", "tmpfs", NULL };
	static const char *const nocopy[] = { "nocopy", NULL };
	static const char *const size[] = { "size", NULL };
	const struct yamlcfg_node *type, *src, *target, *k;
	char w[WHERE_MAX];
	size_t i;

	if (yamlcfg_get(v, "bind") != NULL) {
		where_key(w, where, "bind");
		cerr(c, w, "volumes: bind propagation options are not allowed");
		return -1;
	}
	if (check_keys(c, where, v, allowed, NULL) == -1)
		return -1;
	for (i = 0; i < v->n; i++) {
		if (v->kids[i]->type == YAMLCFG_SCALAR) {
			where_key(w, where, v->kids[i]->key);
			if (strstr(v->kids[i]->text, "docker.sock") != NULL) {
				cerr(c, w, "volumes: the Docker socket may not "
				    "be mounted");
				return -1;
			}
			if (!is_ext_key(v->kids[i]->key) &&
			    want_fixed(c, w, v->kids[i]) == -1)
				return -1;
		}
	}
	where_key(w, where, "type");
	if ((type = yamlcfg_get(v, "type")) == NULL) {
		cerr(c, w, "missing");
		return -1;
	}
	if (want_fixed(c, w, type) == -1)
		return -1;
	where_key(w, where, "target");
	if ((target = yamlcfg_get(v, "target")) == NULL) {
		cerr(c, w, "missing");
		return -1;
	}
	if (want_fixed(c, w, target) == -1)
		return -1;
	if (target->text[0] != '/') {
		cerr(c, w, "volumes: the container path must be absolute");
		return -1;
	}
	src = yamlcfg_get(v, "source");
	where_key(w, where, "source");
	if (src != NULL && want_fixed(c, w, src) == -1)
		return -1;
	if ((k = yamlcfg_get(v, "volume")) != NULL) {
		where_key(w, where, "volume");
		if (want_map(c, w, k) == -1 ||
		    check_keys(c, w, k, nocopy, NULL) == -1)
			return -1;
	}
	if ((k = yamlcfg_get(v, "tmpfs")) != NULL) {
		where_key(w, where, "tmpfs");
		if (want_map(c, w, k) == -1 ||
		    check_keys(c, w, k, size, NULL) == -1)
			return -1;
	}
	where_key(w, where, "source");
	if (strcmp(type->text, "bind") == 0) {
		if (src == NULL) {
			cerr(c, w, "missing");
			return -1;
		}
		return check_bind_source(c, w, src->text);
	}
	if (strcmp(type->text, "volume") == 0)
		return src == NULL ? 0 : check_named_volume(c, w, src->text);
	if (strcmp(type->text, "tmpfs") == 0) {
		if (src != NULL) {
			cerr(c, w, "a tmpfs mount has no source");
			return -1;
		}
		return 0;
	}
	where_key(w, where, "type");
	cerr(c, w, "volumes: only volume, bind and tmpfs mounts are allowed");
	return -1;
}

static int
chk_volumes(struct cctx *c, const struct yamlcfg_node *n)
{
	char w[WHERE_MAX];
	size_t i;

	if (want_list(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		where_index(w, c->where, i);
		if (n->kids[i]->type == YAMLCFG_MAPPING) {
			if (check_volume_long(c, w, n->kids[i]) == -1)
				return -1;
		} else {
			if (want_scalar(c, w, n->kids[i]) == -1 ||
			    check_volume_string(c, w, n->kids[i]->text) == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * Ports
 */

static int
is_port_var(const char *s)
{
	return strcmp(s, "${PORT}") == 0 || strcmp(s, "$PORT") == 0;
}

/* container port: a number, or ${PORT} (0) */
static int
port_target(const char *s, int *port)
{
	long long v;

	if (is_port_var(s)) {
		*port = 0;
		return 0;
	}
	if (valid_int(s, 1, 65535, &v) == -1)
		return -1;
	*port = (int)v;
	return 0;
}

static int
record_publish(struct cctx *c, const char *where, int port)
{
	if (c->published > 0) {
		if (strcmp(c->publisher, c->svc) == 0)
			cerr(c, where, "ports: only one port entry may publish "
			    "${PORT}");
		else
			cerr(c, where, "ports: exactly one service may publish "
			    "${PORT} (services %s and %s both do)",
			    c->publisher, c->svc);
		return -1;
	}
	c->published++;
	if (str_copy(c->publisher, sizeof(c->publisher), c->svc) == -1)
		return -1;	/* names are <= COMPOSE_MAX_NAME */
	c->container_port = port;
	return 0;
}

static const char ports_rule[] = "ports: only \"${PORT}:<container port>\" "
    "may be published (slipway maps it to 127.0.0.1); use expose for other "
    "ports";

static int
check_port_string(struct cctx *c, const char *where, const char *s)
{
	char spec[64], *colon, *slash;
	int port;

	if (str_copy(spec, sizeof(spec), s) == -1) {
		cerr(c, where, "%s", ports_rule);
		return -1;
	}
	if ((slash = strchr(spec, '/')) != NULL) {
		if (strcmp(slash, "/tcp") != 0) {
			cerr(c, where, "ports: only tcp may be published");
			return -1;
		}
		*slash = '\0';
	}
	if ((colon = strchr(spec, ':')) == NULL) {
		cerr(c, where, "ports: a bare container port would be "
		    "published on every host address; write "
		    "\"${PORT}:<container port>\"");
		return -1;
	}
	*colon = '\0';
	if (strchr(colon + 1, ':') != NULL) {
		cerr(c, where, "ports: a host address is not allowed "
		    "(slipway publishes on 127.0.0.1); write "
		    "\"${PORT}:<container port>\"");
		return -1;
	}
	if (!is_port_var(spec)) {
		cerr(c, where, "%s", ports_rule);
		return -1;
	}
	if (port_target(colon + 1, &port) == -1) {
		cerr(c, where, "ports: the container port must be a number "
		    "(1-65535) or ${PORT}");
		return -1;
	}
	return record_publish(c, where, port);
}

static int
check_port_long(struct cctx *c, const char *where,
    const struct yamlcfg_node *p)
{
	static const char *const allowed[] = { "target", "published",
	    "protocol", "mode", NULL };
	const struct yamlcfg_node *k;
	char w[WHERE_MAX];
	int port;

	if (check_keys(c, where, p, allowed, NULL) == -1)
		return -1;
	where_key(w, where, "published");
	if ((k = yamlcfg_get(p, "published")) == NULL ||
	    k->type != YAMLCFG_SCALAR || !is_port_var(k->text)) {
		cerr(c, w, "%s", ports_rule);
		return -1;
	}
	where_key(w, where, "target");
	if ((k = yamlcfg_get(p, "target")) == NULL ||
	    k->type != YAMLCFG_SCALAR || port_target(k->text, &port) == -1) {
		cerr(c, w, "ports: the container port must be a number "
		    "(1-65535) or ${PORT}");
		return -1;
	}
	if ((k = yamlcfg_get(p, "protocol")) != NULL &&
	    (k->type != YAMLCFG_SCALAR || strcmp(k->text, "tcp") != 0)) {
		where_key(w, where, "protocol");
		cerr(c, w, "ports: only tcp may be published");
		return -1;
	}
	if ((k = yamlcfg_get(p, "mode")) != NULL) {
		where_key(w, where, "mode");
		if (want_fixed(c, w, k) == -1)
			return -1;
	}
	return record_publish(c, where, port);
}

static int
chk_ports(struct cctx *c, const struct yamlcfg_node *n)
{
	char w[WHERE_MAX];
	size_t i;

	if (want_list(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		where_index(w, c->where, i);
		if (n->kids[i]->type == YAMLCFG_MAPPING) {
			if (check_port_long(c, w, n->kids[i]) == -1)
				return -1;
		} else if (want_scalar(c, w, n->kids[i]) == -1 ||
		    check_port_string(c, w, n->kids[i]->text) == -1)
			return -1;
	}
	return 0;
}

/*
 * References to other services, networks, secrets
 */

static int
chk_depends_on(struct cctx *c, const struct yamlcfg_node *n)
{
	static const char *const allowed[] = { "condition", NULL };
	const struct yamlcfg_node *k;
	char w[WHERE_MAX];
	const char *name;
	size_t i;

	if (n->type != YAMLCFG_SEQUENCE && want_map(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		if (n->type == YAMLCFG_SEQUENCE) {
			where_index(w, c->where, i);
			if (want_scalar(c, w, n->kids[i]) == -1)
				return -1;
			name = n->kids[i]->text;
		} else {
			name = n->kids[i]->key;
			where_key(w, c->where, name);
			if (!yamlcfg_is_null(n->kids[i])) {
				if (want_map(c, w, n->kids[i]) == -1 ||
				    check_keys(c, w, n->kids[i], allowed,
				    NULL) == -1)
					return -1;
				k = yamlcfg_get(n->kids[i], "condition");
				if (k != NULL && (want_scalar(c, w, k) == -1))
					return -1;
			}
		}
		if (strcmp(name, c->svc) == 0 || !is_service(c, name)) {
			cerr(c, w, "depends_on: not another service of this "
			    "project");
			return -1;
		}
	}
	return 0;
}

static int
chk_links(struct cctx *c, const struct yamlcfg_node *n)
{
	char w[WHERE_MAX], name[COMPOSE_MAX_NAME + 1];
	const char *t, *colon;
	size_t i, len;

	if (want_list(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		where_index(w, c->where, i);
		if (want_fixed(c, w, n->kids[i]) == -1)
			return -1;
		t = n->kids[i]->text;
		colon = strchr(t, ':');
		len = colon ? (size_t)(colon - t) : strlen(t);
		if (len >= sizeof(name))
			len = 0;
		memcpy(name, t, len);
		name[len] = '\0';
		if (len == 0 || strcmp(name, c->svc) == 0 ||
		    !is_service(c, name)) {
			cerr(c, w, "links: only services of this project "
			    "(external links are not allowed)");
			return -1;
		}
	}
	return 0;
}

static int
chk_service_networks(struct cctx *c, const struct yamlcfg_node *n)
{
	static const char *const allowed[] = { "aliases", "priority", NULL };
	static const char *const rejected[] = { "ipv4_address",
	    "ipv6_address", "link_local_ips", NULL };
	const struct yamlcfg_node *k;
	char w[WHERE_MAX], saved[WHERE_MAX], q[80];
	const char *name;
	size_t i;
	int rc;

	if (n->type != YAMLCFG_SEQUENCE && want_map(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		if (n->type == YAMLCFG_SEQUENCE) {
			where_index(w, c->where, i);
			if (want_fixed(c, w, n->kids[i]) == -1)
				return -1;
			name = n->kids[i]->text;
		} else {
			name = n->kids[i]->key;
			where_key(w, c->where, name);
			if (!yamlcfg_is_null(n->kids[i])) {
				if (want_map(c, w, n->kids[i]) == -1 ||
				    check_keys(c, w, n->kids[i], allowed,
				    rejected) == -1)
					return -1;
				if ((k = yamlcfg_get(n->kids[i], "aliases")) !=
				    NULL) {
					memcpy(saved, c->where, sizeof(saved));
					where_key(c->where, w, "aliases");
					rc = chk_scalar_or_list(c, k);
					memcpy(c->where, saved, sizeof(saved));
					if (rc == -1)
						return -1;
				}
			}
		}
		if (strcmp(name, "default") != 0 &&
		    !is_declared(c->networks, name)) {
			yamlcfg_quote(q, sizeof(q), name);
			cerr(c, w, "network '%s' is not declared in the "
			    "top-level networks", q);
			return -1;
		}
	}
	return 0;
}

static int
chk_refs(struct cctx *c, const struct yamlcfg_node *n,
    const struct yamlcfg_node *section, const char *what)
{
	static const char *const allowed[] = { "source", "target", "uid",
	    "gid", "mode", NULL };
	const struct yamlcfg_node *src;
	char w[WHERE_MAX], q[80];
	size_t i, k;

	if (want_list(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		where_index(w, c->where, i);
		if (n->kids[i]->type == YAMLCFG_MAPPING) {
			if (check_keys(c, w, n->kids[i], allowed, NULL) == -1)
				return -1;
			for (k = 0; k < n->kids[i]->n; k++)
				if (want_fixed(c, w, n->kids[i]->kids[k]) == -1)
					return -1;
			src = yamlcfg_get(n->kids[i], "source");
		} else
			src = n->kids[i];
		if (src == NULL) {
			cerr(c, w, "source missing");
			return -1;
		}
		if (want_fixed(c, w, src) == -1)
			return -1;
		if (!is_declared(section, src->text)) {
			yamlcfg_quote(q, sizeof(q), src->text);
			cerr(c, w, "%s '%s' is not declared at the top level",
			    what, q);
			return -1;
		}
	}
	return 0;
}

static int
chk_secrets(struct cctx *c, const struct yamlcfg_node *n)
{
	return chk_refs(c, n, c->secrets, "secret");
}

static int
chk_configs(struct cctx *c, const struct yamlcfg_node *n)
{
	return chk_refs(c, n, c->configs, "config");
}

/*
 * Nested settings
 */

/* mapping whose keys are all in allowed, values scalars */
static int
check_scalar_map(struct cctx *c, const char *where,
    const struct yamlcfg_node *n, const char *const *allowed,
    const char *const *rejected)
{
	char w[WHERE_MAX];
	size_t i;

	if (want_map(c, where, n) == -1 ||
	    check_keys(c, where, n, allowed, rejected) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		if (is_ext_key(n->kids[i]->key))
			continue;
		where_key(w, where, n->kids[i]->key);
		if (want_scalar(c, w, n->kids[i]) == -1)
			return -1;
	}
	return 0;
}

static int
chk_deploy(struct cctx *c, const struct yamlcfg_node *n)
{
	static const char *const top[] = { "resources", "restart_policy",
	    "labels", NULL };
	static const char *const top_rejected[] = { "replicas", "mode",
	    "placement", "update_config", "rollback_config", "endpoint_mode",
	    NULL };
	static const char *const res[] = { "limits", "reservations", NULL };
	static const char *const limits[] = { "cpus", "memory", NULL };
	static const char *const resv_rejected[] = { "devices",
	    "generic_resources", NULL };
	static const char *const restart[] = { "condition", "delay",
	    "max_attempts", "window", NULL };
	const struct yamlcfg_node *r, *k;
	char saved[WHERE_MAX], w[WHERE_MAX], w2[WHERE_MAX];

	memcpy(saved, c->where, sizeof(saved));
	if (want_map(c, saved, n) == -1 ||
	    check_keys(c, saved, n, top, top_rejected) == -1)
		return -1;
	if ((r = yamlcfg_get(n, "resources")) != NULL) {
		where_key(w, saved, "resources");
		if (want_map(c, w, r) == -1 ||
		    check_keys(c, w, r, res, NULL) == -1)
			return -1;
		if ((k = yamlcfg_get(r, "limits")) != NULL) {
			where_key(w2, w, "limits");
			if (check_scalar_map(c, w2, k, limits, NULL) == -1)
				return -1;
		}
		if ((k = yamlcfg_get(r, "reservations")) != NULL) {
			where_key(w2, w, "reservations");
			if (yamlcfg_get(k, "devices") != NULL) {
				where_key(w2, w2, "devices");
				cerr(c, w2, "device reservations are not allowed "
				    "(GPUs are assigned by slipway)");
				return -1;
			}
			if (check_scalar_map(c, w2, k, limits,
			    resv_rejected) == -1)
				return -1;
		}
	}
	if ((k = yamlcfg_get(n, "restart_policy")) != NULL) {
		where_key(w, saved, "restart_policy");
		if (check_scalar_map(c, w, k, restart, NULL) == -1)
			return -1;
	}
	if ((k = yamlcfg_get(n, "labels")) != NULL) {
		where_key(c->where, saved, "labels");
		if (chk_labels(c, k) == -1)
			return -1;
		memcpy(c->where, saved, sizeof(saved));
	}
	return 0;
}

static int
chk_healthcheck(struct cctx *c, const struct yamlcfg_node *n)
{
	static const char *const allowed[] = { "test", "interval", "timeout",
	    "retries", "start_period", "disable", NULL };
	char saved[WHERE_MAX];
	const struct yamlcfg_node *t;
	size_t i;
	int rc;

	if (want_map(c, c->where, n) == -1 ||
	    check_keys(c, c->where, n, allowed, NULL) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		t = n->kids[i];
		if (is_ext_key(t->key))
			continue;
		memcpy(saved, c->where, sizeof(saved));
		where_key(c->where, saved, t->key);
		rc = strcmp(t->key, "test") == 0 ? chk_scalar_or_list(c, t) :
		    want_scalar(c, c->where, t);
		memcpy(c->where, saved, sizeof(saved));
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
chk_ulimits(struct cctx *c, const struct yamlcfg_node *n)
{
	static const char *const allowed[] = { "soft", "hard", NULL };
	char w[WHERE_MAX];
	size_t i;

	if (want_map(c, c->where, n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		where_key(w, c->where, n->kids[i]->key);
		if (n->kids[i]->type == YAMLCFG_MAPPING) {
			if (check_scalar_map(c, w, n->kids[i], allowed,
			    NULL) == -1)
				return -1;
		} else if (want_scalar(c, w, n->kids[i]) == -1)
			return -1;
	}
	return 0;
}

static int
chk_image(struct cctx *c, const struct yamlcfg_node *n)
{
	if (want_scalar(c, c->where, n) == -1)
		return -1;
	if (has_control(n->text) || n->len > 255) {
		cerr(c, c->where, "not an image name");
		return -1;
	}
	return 0;
}

/*
 * The service key table: every key compose 1.29 knows is here, allowed
 * with a check or rejected with a reason.  Keys not in it are unknown.
 */
static const struct service_key {
	const char	*key;
	check_fn	 check;		/* NULL: rejected with `why' */
	const char	*why;
} service_keys[] = {
	{ "blkio_config",	NULL, "blkio_config is not allowed" },
	{ "build",		chk_build, NULL },
	{ "cap_add",		NULL, "cap_add is not allowed (no extra "
				    "capabilities)" },
	{ "cap_drop",		chk_scalar_or_list, NULL },
	{ "cgroup_parent",	NULL, "cgroup_parent is not allowed" },
	{ "command",		chk_scalar_or_list, NULL },
	{ "configs",		chk_configs, NULL },
	{ "container_name",	NULL, "container_name is not allowed "
				    "(container names would clash between "
				    "apps)" },
	{ "cpu_count",		chk_scalar, NULL },
	{ "cpu_percent",	chk_scalar, NULL },
	{ "cpu_period",		chk_scalar, NULL },
	{ "cpu_quota",		chk_scalar, NULL },
	{ "cpu_rt_period",	NULL, "cpu_rt_period is not allowed" },
	{ "cpu_rt_runtime",	NULL, "cpu_rt_runtime is not allowed" },
	{ "cpu_shares",		chk_scalar, NULL },
	{ "cpus",		chk_scalar, NULL },
	{ "cpuset",		chk_scalar, NULL },
	{ "credential_spec",	NULL, "credential_spec is not allowed" },
	{ "depends_on",		chk_depends_on, NULL },
	{ "deploy",		chk_deploy, NULL },
	{ "device_cgroup_rules", NULL, "device_cgroup_rules are not "
				    "allowed" },
	{ "devices",		NULL, "devices are not allowed (no host "
				    "devices in apps)" },
	{ "dns",		chk_scalar_or_list, NULL },
	{ "dns_opt",		chk_scalar_or_list, NULL },
	{ "dns_search",		chk_scalar_or_list, NULL },
	{ "domainname",		chk_scalar, NULL },
	{ "entrypoint",		chk_scalar_or_list, NULL },
	{ "env_file",		chk_env_file, NULL },
	{ "environment",	chk_list_or_dict, NULL },
	{ "expose",		chk_scalar_or_list, NULL },
	{ "extends",		NULL, "extends is not allowed" },
	{ "external_links",	NULL, "external_links are not allowed" },
	{ "extra_hosts",	chk_list_or_dict, NULL },
	{ "group_add",		chk_scalar_or_list, NULL },
	{ "healthcheck",	chk_healthcheck, NULL },
	{ "hostname",		chk_scalar, NULL },
	{ "image",		chk_image, NULL },
	{ "init",		chk_scalar, NULL },
	{ "ipc",		chk_ipc, NULL },
	{ "isolation",		NULL, "isolation is not allowed" },
	{ "labels",		chk_labels, NULL },
	{ "links",		chk_links, NULL },
	{ "logging",		NULL, "logging is not allowed (slipway "
				    "collects the logs)" },
	{ "mac_address",	NULL, "mac_address is not allowed" },
	{ "mem_limit",		chk_scalar, NULL },
	{ "mem_reservation",	chk_scalar, NULL },
	{ "mem_swappiness",	chk_scalar, NULL },
	{ "memswap_limit",	chk_scalar, NULL },
	{ "network_mode",	chk_network_mode, NULL },
	{ "networks",		chk_service_networks, NULL },
	{ "oom_kill_disable",	NULL, "oom_kill_disable is not allowed" },
	{ "oom_score_adj",	NULL, "oom_score_adj is not allowed" },
	{ "pid",		chk_pid, NULL },
	{ "pids_limit",		chk_scalar, NULL },
	{ "platform",		chk_scalar, NULL },
	{ "ports",		chk_ports, NULL },
	{ "privileged",		chk_privileged, NULL },
	{ "profiles",		chk_scalar_or_list, NULL },
	{ "pull_policy",	chk_scalar, NULL },
	{ "read_only",		chk_scalar, NULL },
	{ "restart",		chk_scalar, NULL },
	{ "runtime",		NULL, "runtime is not allowed (GPUs are "
				    "assigned by slipway)" },
	{ "scale",		NULL, "scale is not allowed" },
	{ "secrets",		chk_secrets, NULL },
	{ "security_opt",	chk_security_opt, NULL },
	{ "shm_size",		chk_scalar, NULL },
	{ "stdin_open",		chk_scalar, NULL },
	{ "stop_grace_period",	chk_scalar, NULL },
	{ "stop_signal",	chk_scalar, NULL },
	{ "storage_opt",	NULL, "storage_opt is not allowed" },
	{ "sysctls",		NULL, "sysctls are not allowed" },
	{ "tmpfs",		chk_scalar_or_list, NULL },
	{ "tty",		chk_scalar, NULL },
	{ "ulimits",		chk_ulimits, NULL },
	{ "user",		chk_scalar, NULL },
	{ "userns_mode",	NULL, "userns_mode is not allowed (host user "
				    "namespace)" },
	{ "uts",		NULL, "uts is not allowed (host UTS "
				    "namespace)" },
	{ "volumes",		chk_volumes, NULL },
	{ "volumes_from",	NULL, "volumes_from is not allowed" },
	{ "working_dir",	chk_scalar, NULL },
};

static const struct service_key *
service_key_find(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(service_keys) / sizeof(service_keys[0]); i++)
		if (strcmp(service_keys[i].key, key) == 0)
			return &service_keys[i];
	return NULL;
}

/*
 * Image names built by this project get renamed (compose.h); they must be
 * plain repository[:tag] names.  repo and tag are split out (tag "latest"
 * when absent).
 */
static int
image_ref_split(const char *s, char *repo, size_t repolen, char *tag,
    size_t taglen)
{
	const char *colon = strrchr(s, ':'), *slash = strrchr(s, '/');
	const char *p;
	size_t rn, i;

	if (strchr(s, '@') != NULL)
		return -1;	/* digests */

	if (colon != NULL && slash != NULL && colon < slash)
		return -1;	/* registry:port/... */
	rn = colon ? (size_t)(colon - s) : strlen(s);
	if (rn == 0 || rn >= repolen)
		return -1;
	for (i = 0; i < rn; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (alnum)
			continue;
		if (ch != '.' && ch != '_' && ch != '-' && ch != '/')
			return -1;
		/* separators only between alphanumerics */
		if (i == 0 || i + 1 == rn)
			return -1;
		if (ch == '/' && (s[i - 1] == '.' || s[i - 1] == '_' ||
		    s[i - 1] == '-' || s[i - 1] == '/' || s[i + 1] == '.' ||
		    s[i + 1] == '_' || s[i + 1] == '-'))
			return -1;
	}
	memcpy(repo, s, rn);
	repo[rn] = '\0';
	if (colon == NULL)
		return str_copy(tag, taglen, "latest");
	p = colon + 1;
	if (*p == '\0' || strlen(p) > 128 || !((*p >= 'a' && *p <= 'z') ||
	    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
		return -1;
	for (i = 1; p[i] != '\0'; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '_' ||
		    p[i] == '.' || p[i] == '-'))
			return -1;
	return str_copy(tag, taglen, p);
}

static int
check_service(struct cctx *c, const char *name, const struct yamlcfg_node *s)
{
	const struct service_key *sk;
	const struct yamlcfg_node *image, *build;
	char base[WHERE_MAX], repo[256], tag[160];
	size_t i;

	c->svc = name;
	where_key(base, "services", name);
	if (want_map(c, base, s) == -1)
		return -1;
	for (i = 0; i < s->n; i++) {
		const char *key = s->kids[i]->key;

		if (is_ext_key(key))
			continue;
		where_key(c->where, base, key);
		if ((sk = service_key_find(key)) == NULL) {
			char q[80];

			yamlcfg_quote(q, sizeof(q), key);
			cerr(c, base, "unknown key '%s' (only known safe keys "
			    "are allowed)", q);
			return -1;
		}
		if (sk->check == NULL) {
			cerr(c, c->where, "%s", sk->why);
			return -1;
		}
		if (sk->check(c, s->kids[i]) == -1)
			return -1;
	}
	image = yamlcfg_get(s, "image");
	build = yamlcfg_get(s, "build");
	if (image == NULL && build == NULL) {
		cerr(c, base, "needs image or build");
		return -1;
	}
	if (image != NULL && build != NULL &&
	    image_ref_split(image->text, repo, sizeof(repo), tag,
	    sizeof(tag)) == -1) {
		where_key(c->where, base, "image");
		cerr(c, c->where, "the name of a built image must be "
		    "name[:tag] in lowercase, without a registry");
		return -1;
	}
	return 0;
}

/*
 * Top level
 */

static int
check_top_volumes(struct cctx *c, const struct yamlcfg_node *n)
{
	static const char *const allowed[] = { "driver", "labels", NULL };
	static const char *const rejected[] = { "driver_opts", "external",
	    "name", NULL };
	const struct yamlcfg_node *v, *k;
	char w[WHERE_MAX], q[80];
	size_t i;

	if (yamlcfg_is_null(n))
		return 0;
	if (want_map(c, "volumes", n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		v = n->kids[i];
		where_key(w, "volumes", v->key);
		if (!valid_name(v->key)) {
			yamlcfg_quote(q, sizeof(q), v->key);
			cerr(c, "volumes", "'%s' is not a valid volume name",
			    q);
			return -1;
		}
		if (yamlcfg_is_null(v))
			continue;
		if (want_map(c, w, v) == -1)
			return -1;
		if (yamlcfg_get(v, "driver_opts") != NULL) {
			where_key(c->where, w, "driver_opts");
			cerr(c, c->where, "volume driver_opts are not allowed "
			    "(they can bind host paths or devices)");
			return -1;
		}
		if (check_keys(c, w, v, allowed, rejected) == -1)
			return -1;
		if ((k = yamlcfg_get(v, "driver")) != NULL) {
			where_key(c->where, w, "driver");
			if (want_fixed(c, c->where, k) == -1)
				return -1;
			if (strcmp(k->text, "local") != 0) {
				cerr(c, c->where, "only the local volume "
				    "driver is allowed");
				return -1;
			}
		}
		if ((k = yamlcfg_get(v, "labels")) != NULL) {
			where_key(c->where, w, "labels");
			if (chk_labels(c, k) == -1)
				return -1;
		}
	}
	return 0;
}

static int
check_top_networks(struct cctx *c, const struct yamlcfg_node *n)
{
	static const char *const allowed[] = { "driver", "labels", "internal",
	    "attachable", NULL };
	static const char *const rejected[] = { "driver_opts", "external",
	    "name", "ipam", "enable_ipv6", NULL };
	const struct yamlcfg_node *v, *k;
	char w[WHERE_MAX], q[80];
	size_t i;

	if (yamlcfg_is_null(n))
		return 0;
	if (want_map(c, "networks", n) == -1)
		return -1;
	for (i = 0; i < n->n; i++) {
		v = n->kids[i];
		where_key(w, "networks", v->key);
		if (!valid_name(v->key)) {
			yamlcfg_quote(q, sizeof(q), v->key);
			cerr(c, "networks", "'%s' is not a valid network name",
			    q);
			return -1;
		}
		if (yamlcfg_is_null(v))
			continue;
		if (want_map(c, w, v) == -1 ||
		    check_keys(c, w, v, allowed, rejected) == -1)
			return -1;
		if ((k = yamlcfg_get(v, "driver")) != NULL) {
			where_key(c->where, w, "driver");
			if (want_fixed(c, c->where, k) == -1)
				return -1;
			if (strcmp(k->text, "bridge") != 0) {
				cerr(c, c->where, "only the bridge network "
				    "driver is allowed");
				return -1;
			}
		}
		if ((k = yamlcfg_get(v, "internal")) != NULL &&
		    want_scalar(c, w, k) == -1)
			return -1;
		if ((k = yamlcfg_get(v, "attachable")) != NULL &&
		    want_scalar(c, w, k) == -1)
			return -1;
		if ((k = yamlcfg_get(v, "labels")) != NULL) {
			where_key(c->where, w, "labels");
			if (chk_labels(c, k) == -1)
				return -1;
		}
	}
	return 0;
}

/* top-level secrets or configs: name -> {file: ./path} */
static int
check_top_files(struct cctx *c, const char *section,
    const struct yamlcfg_node *n)
{
	static const char *const allowed[] = { "file", NULL };
	static const char *const rejected[] = { "external", "name",
	    "environment", "template_driver", "driver", NULL };
	const struct yamlcfg_node *v, *f;
	char w[WHERE_MAX], w2[WHERE_MAX], q[80];
	size_t i;
	int rc = -1;

	if (yamlcfg_is_null(n))
		return 0;
	if (want_map(c, section, n) == -1)
		goto out;
	for (i = 0; i < n->n; i++) {
		v = n->kids[i];
		where_key(w, section, v->key);
		if (!valid_name(v->key)) {
			yamlcfg_quote(q, sizeof(q), v->key);
			cerr(c, section, "'%s' is not a valid name", q);
			goto out;
		}
		if (want_map(c, w, v) == -1 ||
		    check_keys(c, w, v, allowed, rejected) == -1)
			goto out;
		where_key(w2, w, "file");
		if ((f = yamlcfg_get(v, "file")) == NULL) {
			cerr(c, w2, "missing");
			goto out;
		}
		if (want_scalar(c, w2, f) == -1 ||
		    project_file(c, w2, "file", f->text) == -1)
			goto out;
	}
	rc = 0;
out:
	return rc;
}

static int
check_dotenv(struct cctx *c)
{
	struct buf path = BUF_INIT;
	struct stat st;
	int rc = -1;

	buf_printf(&path, "%s/.env", c->proj);
	if (lstat(path.data, &st) == -1) {
		if (errno == ENOENT) {
			rc = 0;
			goto out;
		}
		log_warn("lstat %s", path.data);
		cerr(c, ".env", "cannot be checked");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		cerr(c, ".env", "must be a regular file (not a symbolic link)");
		goto out;
	}
	rc = 0;
out:
	buf_release(&path);
	return rc;
}

static int
check_document(struct cctx *c, struct compose_info *ci)
{
	static const char *const top[] = { "version", "services", "volumes",
	    "networks", "secrets", "configs", NULL };
	const struct yamlcfg_node *root = c->root, *v;
	char q[80];
	size_t i;

	if (root->type != YAMLCFG_MAPPING) {
		cerr(c, "top level", "must be a mapping, not %s",
		    yamlcfg_type_name(root));
		return -1;
	}
	if (check_keys(c, "top level", root, top, NULL) == -1)
		return -1;
	if ((v = yamlcfg_get(root, "version")) != NULL &&
	    want_scalar(c, "version", v) == -1)
		return -1;
	c->services = yamlcfg_get(root, "services");
	if (c->services == NULL || yamlcfg_is_null(c->services)) {
		cerr(c, "services", "missing (at least one service is "
		    "needed)");
		return -1;
	}
	if (want_map(c, "services", c->services) == -1)
		return -1;
	if (c->services->n < 1 || c->services->n > COMPOSE_MAX_SERVICES) {
		cerr(c, "services", "1 to %d services are allowed, not %zu",
		    COMPOSE_MAX_SERVICES, c->services->n);
		return -1;
	}
	for (i = 0; i < c->services->n; i++) {
		if (!valid_name(c->services->kids[i]->key)) {
			yamlcfg_quote(q, sizeof(q), c->services->kids[i]->key);
			cerr(c, "services", "'%s' is not a valid service name "
			    "(letters, digits, '_', '.', '-'; at most %d)", q,
			    COMPOSE_MAX_NAME);
			return -1;
		}
	}
	c->volumes = yamlcfg_get(root, "volumes");
	c->networks = yamlcfg_get(root, "networks");
	c->secrets = yamlcfg_get(root, "secrets");
	c->configs = yamlcfg_get(root, "configs");
	if ((c->volumes && check_top_volumes(c, c->volumes) == -1) ||
	    (c->networks && check_top_networks(c, c->networks) == -1) ||
	    (c->secrets && check_top_files(c, "secrets", c->secrets) == -1) ||
	    (c->configs && check_top_files(c, "configs", c->configs) == -1))
		return -1;
	for (i = 0; i < c->services->n; i++) {
		if (check_service(c, c->services->kids[i]->key,
		    c->services->kids[i]) == -1)
			return -1;
		/* valid_name() bounds the name */
		(void)str_copy(ci->services[i], sizeof(ci->services[i]),
		    c->services->kids[i]->key);
	}
	ci->n_services = c->services->n;
	if (c->published == 0) {
		cerr(c, "ports", "no service publishes ${PORT}: exactly one "
		    "service needs ports: [\"${PORT}:<container port>\"]");
		return -1;
	}
	return 0;
}

int
compose_check_mem(const char *data, size_t len, const char *label,
    const char *project_dir, struct compose_info *out, char *err,
    size_t errlen)
{
	struct compose_info ci;
	struct cctx c;
	char *proj = NULL;
	int rc = -1;

	memset(&ci, 0, sizeof(ci));
	memset(&c, 0, sizeof(c));
	c.label = label;
	c.err = err;
	c.errlen = errlen;
	if (len > COMPOSE_MAX_BYTES) {
		if (err != NULL && errlen > 0)
			(void)snprintf(err, errlen, "%s: file is larger than "
			    "%d KiB", label, COMPOSE_MAX_BYTES / 1024);
		goto out;
	}
	if ((proj = realpath(project_dir, NULL)) == NULL) {
		log_warn("realpath %s", project_dir);
		cerr(&c, "project", "the project directory cannot be read");
		goto out;
	}
	if (strchr(proj, ':') != NULL || strchr(proj, '$') != NULL ||
	    has_control(proj) || strcmp(proj, "/") == 0) {
		log_warnx("project directory %s: unsuitable path", proj);
		cerr(&c, "project", "the project directory cannot be used");
		goto out;
	}
	c.proj = proj;
	if (yamlcfg_parse(data, len, label, &ci.doc, err, errlen) == -1)
		goto out;
	c.root = ci.doc;
	if (check_dotenv(&c) == -1 || check_document(&c, &ci) == -1)
		goto out;
	/* publisher is a validated service name */
	(void)str_copy(ci.publisher, sizeof(ci.publisher), c.publisher);
	ci.container_port = c.container_port;
	ci.project_dir = proj;
	proj = NULL;
	*out = ci;
	memset(&ci, 0, sizeof(ci));
	rc = 0;
out:
	yamlcfg_free(ci.doc);
	free(proj);
	return rc;
}

int
compose_check(const char *path, const char *project_dir,
    struct compose_info *out, char *err, size_t errlen)
{
	const char *label = strrchr(path, '/');
	char name[80];
	char *data = NULL;
	size_t len;
	int rc = -1;

	yamlcfg_quote(name, sizeof(name), label ? label + 1 : path);
	if (yamlcfg_read_file(path, name, COMPOSE_MAX_BYTES, &data, &len, err,
	    errlen) == -1)
		goto out;
	rc = compose_check_mem(data, len, name, project_dir, out, err, errlen);
out:
	free(data);
	return rc;
}

void
compose_info_free(struct compose_info *ci)
{
	if (ci == NULL)
		return;
	yamlcfg_free(ci->doc);
	free(ci->project_dir);
	memset(ci, 0, sizeof(*ci));
}

const char *
compose_find(const char *dir)
{
	static const char *const names[] = { "docker-compose.yml",
	    "docker-compose.yaml", "compose.yml", "compose.yaml", NULL };
	struct buf path = BUF_INIT;
	struct stat st;
	const char *found = NULL;
	size_t i;

	for (i = 0; names[i] != NULL && found == NULL; i++) {
		buf_reset(&path);
		buf_printf(&path, "%s/%s", dir, names[i]);
		if (lstat(path.data, &st) == 0)
			found = names[i];
	}
	buf_release(&path);
	return found;
}

/*
 * The normalised file
 */

static struct yamlcfg_node *
mget(struct yamlcfg_node *map, const char *key)
{
	return (struct yamlcfg_node *)(uintptr_t)yamlcfg_get(map, key);
}

/* The mapping under key, created (or replacing a null) when needed. */
static struct yamlcfg_node *
mchild_map(struct yamlcfg_node *map, const char *key)
{
	struct yamlcfg_node *n = mget(map, key);

	if (n != NULL && n->type == YAMLCFG_MAPPING)
		return n;
	/* key may belong to the node replaced: map_set copies it first */
	n = yamlcfg_new_mapping();
	yamlcfg_map_set(map, key, n);
	return n;
}

static void
drop_ext_keys(struct yamlcfg_node *map)
{
	size_t i = 0;

	while (i < map->n) {
		if (is_ext_key(map->kids[i]->key))
			yamlcfg_map_del(map, map->kids[i]->key);
		else
			i++;
	}
}

/* list-or-dict under key made a mapping ("k=v" -> k: "v", "k" -> k: null) */
static struct yamlcfg_node *
dict_of(struct yamlcfg_node *owner, const char *key)
{
	struct yamlcfg_node *n = mget(owner, key), *m;
	char *k, *eq;
	size_t i;

	if (n != NULL && n->type == YAMLCFG_MAPPING)
		return n;
	m = yamlcfg_new_mapping();
	for (i = 0; n != NULL && n->type == YAMLCFG_SEQUENCE && i < n->n; i++) {
		k = xstrdup(n->kids[i]->text);
		if ((eq = strchr(k, '=')) != NULL) {
			*eq = '\0';
			yamlcfg_map_set(m, k, yamlcfg_new_string(eq + 1));
		} else
			yamlcfg_map_set(m, k, yamlcfg_new_plain("null"));
		free(k);
	}
	yamlcfg_map_set(owner, key, m);
	return m;
}

static void
add_app_label(struct yamlcfg_node *owner, const char *app_id)
{
	yamlcfg_map_set(dict_of(owner, "labels"), "slipway.app",
	    yamlcfg_new_string(app_id));
}

/* absolute path of a checked relative path, as a string node */
static struct yamlcfg_node *
abs_node(const struct compose_info *ci, const char *rel)
{
	struct buf norm = BUF_INIT, abs = BUF_INIT;
	struct yamlcfg_node *n;

	if (lexical_norm(rel, &norm) == -1)
		fatalx("checked path climbs out: %s", rel);
	buf_adds(&abs, ci->project_dir);
	if (norm.len > 0) {
		buf_addch(&abs, '/');
		buf_adds(&abs, norm.data);
	}
	n = yamlcfg_new_string(abs.data);
	buf_release(&norm);
	buf_release(&abs);
	return n;
}

static void
rewrite_volumes(const struct compose_info *ci, struct yamlcfg_node *svc)
{
	struct yamlcfg_node *vols = mget(svc, "volumes"), *v, *abs;
	struct buf s = BUF_INIT;
	const char *colon;
	char *src;
	size_t i;

	for (i = 0; vols != NULL && i < vols->n; i++) {
		v = vols->kids[i];
		if (v->type == YAMLCFG_MAPPING) {
			const struct yamlcfg_node *t = yamlcfg_get(v, "type");
			const struct yamlcfg_node *so = yamlcfg_get(v, "source");

			if (strcmp(t->text, "bind") == 0)
				yamlcfg_map_set(v, "source",
				    abs_node(ci, so->text));
			continue;
		}
		if (v->text[0] != '.' || (colon = strchr(v->text, ':')) == NULL)
			continue;
		src = xstrndup(v->text, (size_t)(colon - v->text));
		abs = abs_node(ci, src);
		buf_reset(&s);
		buf_adds(&s, abs->text);
		buf_adds(&s, colon);
		yamlcfg_free(abs);
		free(src);
		yamlcfg_free(vols->kids[i]);
		vols->kids[i] = yamlcfg_new_string(s.data);
	}
	buf_release(&s);
}

static void
rewrite_env_file(const struct compose_info *ci, struct yamlcfg_node *svc)
{
	struct yamlcfg_node *ef = mget(svc, "env_file"), *list;
	size_t i;

	if (ef == NULL)
		return;
	list = yamlcfg_new_sequence();
	if (ef->type == YAMLCFG_SCALAR)
		yamlcfg_seq_add(list, abs_node(ci, ef->text));
	else
		for (i = 0; i < ef->n; i++)
			yamlcfg_seq_add(list, abs_node(ci, ef->kids[i]->text));
	yamlcfg_map_set(svc, "env_file", list);
}

static void
rewrite_build(const struct compose_info *ci, struct yamlcfg_node *svc,
    const char *app_id)
{
	struct yamlcfg_node *b = mget(svc, "build"), *m;

	if (b == NULL)
		return;
	if (b->type == YAMLCFG_SCALAR) {
		m = yamlcfg_new_mapping();
		yamlcfg_map_set(m, "context", abs_node(ci, b->text));
		yamlcfg_map_set(svc, "build", m);
		b = mget(svc, "build");
	} else
		yamlcfg_map_set(b, "context",
		    abs_node(ci, yamlcfg_get(b, "context")->text));
	add_app_label(b, app_id);
}

/* rename images this project builds: slipway-<id>/<repo>:<tag> */
static void
rewrite_images(struct yamlcfg_node *services, const char *app_id)
{
	struct yamlcfg_node *svc, *img;
	const struct yamlcfg_node *other;
	char repo[256], tag[160], orepo[256], otag[160];
	struct buf name = BUF_INIT;
	size_t i, j;

	for (i = 0; i < services->n; i++) {
		svc = services->kids[i];
		if (yamlcfg_get(svc, "build") == NULL ||
		    (other = yamlcfg_get(svc, "image")) == NULL)
			continue;
		if (image_ref_split(other->text, repo, sizeof(repo), tag,
		    sizeof(tag)) == -1)
			continue;	/* refused by the check */
		buf_reset(&name);
		buf_printf(&name, "slipway-%s/%s:%s", app_id, repo, tag);
		for (j = 0; j < services->n; j++) {
			img = mget(services->kids[j], "image");
			if (img == NULL || image_ref_split(img->text, orepo,
			    sizeof(orepo), otag, sizeof(otag)) == -1 ||
			    strcmp(orepo, repo) != 0 || strcmp(otag, tag) != 0)
				continue;
			yamlcfg_map_set(services->kids[j], "image",
			    yamlcfg_new_string(name.data));
		}
	}
	buf_release(&name);
}

static void
add_gpus(struct yamlcfg_node *svc, const char *const *gpu_ids, size_t n_gpu)
{
	struct yamlcfg_node *resv, *dev, *ids, *caps, *devices;
	size_t i;

	resv = mchild_map(mchild_map(mchild_map(svc, "deploy"), "resources"),
	    "reservations");
	dev = yamlcfg_new_mapping();
	yamlcfg_map_set(dev, "driver", yamlcfg_new_string("nvidia"));
	ids = yamlcfg_new_sequence();
	for (i = 0; i < n_gpu; i++)
		yamlcfg_seq_add(ids, yamlcfg_new_string(gpu_ids[i]));
	yamlcfg_map_set(dev, "device_ids", ids);
	caps = yamlcfg_new_sequence();
	yamlcfg_seq_add(caps, yamlcfg_new_string("gpu"));
	yamlcfg_map_set(dev, "capabilities", caps);
	devices = yamlcfg_new_sequence();
	yamlcfg_seq_add(devices, dev);
	yamlcfg_map_set(resv, "devices", devices);
}

static int
valid_gpu_id(const char *s)
{
	size_t n = strlen(s), i;

	if (n >= 1 && n <= 3 && strspn(s, "0123456789") == n)
		return 1;
	if (n < 5 || n > 68 || strncmp(s, "GPU-", 4) != 0)
		return 0;
	for (i = 4; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F') || s[i] == '-'))
			return 0;
	return 1;
}

/* value with $ doubled, so compose does not substitute in it */
static struct yamlcfg_node *
literal_node(const char *s)
{
	struct buf b = BUF_INIT;
	struct yamlcfg_node *n;

	for (; *s != '\0'; s++) {
		if (*s == '$')
			buf_addch(&b, '$');
		buf_addch(&b, *s);
	}
	n = yamlcfg_new_string(b.data);
	buf_release(&b);
	return n;
}

static int
uses_default_network(const struct yamlcfg_node *services)
{
	const struct yamlcfg_node *svc, *nets;
	size_t i, j;

	for (i = 0; i < services->n; i++) {
		svc = services->kids[i];
		if (yamlcfg_get(svc, "network_mode") != NULL)
			continue;
		nets = yamlcfg_get(svc, "networks");
		if (nets == NULL)
			return 1;
		for (j = 0; j < nets->n; j++)
			if (strcmp(nets->type == YAMLCFG_SEQUENCE ?
			    nets->kids[j]->text : nets->kids[j]->key,
			    "default") == 0)
				return 1;
	}
	return 0;
}

int
compose_write_normalized(const struct compose_info *ci, const char *app_id,
    int host_port, const char *const *gpu_ids, size_t n_gpu,
    const char *const *env, size_t n_env, struct buf *out)
{
	struct yamlcfg_node *doc = NULL, *services, *svc, *ports, *sec, *item;
	struct buf port = BUF_INIT;
	static const char *const sections[] = { "volumes", "networks",
	    "secrets", "configs" };
	char name[LIMIT_ENV_NAME + 1], err[256];
	const char *eq;
	size_t i, j;
	int rc = -1;

	if (ci == NULL || ci->doc == NULL || valid_app_id(app_id) == -1 ||
	    host_port < 1 || host_port > 65535) {
		log_warnx("invalid arguments");
		goto out;
	}
	for (i = 0; i < n_gpu; i++) {
		if (!valid_gpu_id(gpu_ids[i])) {
			log_warnx("invalid GPU id");
			goto out;
		}
	}
	for (i = 0; i < n_env; i++) {
		if ((eq = strchr(env[i], '=')) == NULL ||
		    (size_t)(eq - env[i]) >= sizeof(name) ||
		    valid_env_value(eq + 1) == -1) {
			log_warnx("invalid environment entry");
			goto out;
		}
		memcpy(name, env[i], (size_t)(eq - env[i]));
		name[eq - env[i]] = '\0';
		if (valid_env_name(name) == -1) {
			log_warnx("invalid environment name");
			goto out;
		}
	}

	doc = yamlcfg_clone(ci->doc);
	yamlcfg_map_del(doc, "version");
	drop_ext_keys(doc);
	services = mget(doc, "services");
	rewrite_images(services, app_id);
	for (i = 0; i < services->n; i++) {
		svc = services->kids[i];
		drop_ext_keys(svc);
		if (strcmp(svc->key, ci->publisher) != 0)
			yamlcfg_map_del(svc, "ports");
		else {
			buf_reset(&port);
			buf_printf(&port, "127.0.0.1:%d:%d", host_port,
			    ci->container_port ? ci->container_port :
			    host_port);
			ports = yamlcfg_new_sequence();
			yamlcfg_seq_add(ports, yamlcfg_new_string(port.data));
			yamlcfg_map_set(svc, "ports", ports);
			for (j = 0; j < n_env; j++) {
				eq = strchr(env[j], '=');
				memcpy(name, env[j], (size_t)(eq - env[j]));
				name[eq - env[j]] = '\0';
				yamlcfg_map_set(dict_of(svc, "environment"),
				    name, literal_node(eq + 1));
			}
		}
		add_app_label(svc, app_id);
		rewrite_build(ci, svc, app_id);
		rewrite_volumes(ci, svc);
		rewrite_env_file(ci, svc);
		if (n_gpu > 0)
			add_gpus(svc, gpu_ids, n_gpu);
	}
	/* a section that is null ("volumes:") goes; networks may come back */
	for (j = 0; j < sizeof(sections) / sizeof(sections[0]); j++)
		if ((sec = mget(doc, sections[j])) != NULL &&
		    sec->type != YAMLCFG_MAPPING)
			yamlcfg_map_del(doc, sections[j]);
	if (uses_default_network(services))
		(void)mchild_map(mchild_map(doc, "networks"), "default");
	for (j = 0; j < 2; j++) {
		if ((sec = mget(doc, sections[j])) == NULL)
			continue;
		for (i = 0; i < sec->n; i++)
			add_app_label(mchild_map(sec, sec->kids[i]->key),
			    app_id);
	}
	for (j = 2; j < 4; j++) {
		if ((sec = mget(doc, sections[j])) == NULL)
			continue;
		for (i = 0; i < sec->n; i++) {
			item = sec->kids[i];
			yamlcfg_map_set(item, "file",
			    abs_node(ci, yamlcfg_get(item, "file")->text));
		}
	}

	buf_printf(out, "# Generated by slipway for app %s from the checked "
	    "compose file; do not edit.\n", app_id);
	if (yamlcfg_emit(doc, out, err, sizeof(err)) == -1)
		goto out;
	rc = 0;
out:
	yamlcfg_free(doc);
	buf_release(&port);
	return rc;
}
