/*
 * agent_build: the app's image.  docker: its own Dockerfile; gradio and
 * plugin: a generated Dockerfile on SLIPWAY_GRADIO_BASE_IMAGE, FROM a
 * dependency layer slipway/deps:<sha256> when there are requirements (so an
 * unchanged redeploy installs nothing); image: a docker save tarball
 * loaded, then a one-line build FROM it for our labels and tag.  Build
 * contexts are streamed as tars from a forked writer through a pipe.
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
#include <sys/wait.h>
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>

#include <json-c/json.h>

#include "agent.h"
#include "agent_int.h"
#include "archive.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "docker.h"
#include "log.h"
#include "sha256.h"
#include "yamlcfg.h"

/* Files the agent adds to a gradio/plugin build context. */
#define AGENT_DOCKERFILE	"Dockerfile.slipway"
#define AGENT_PLUGIN_LAUNCHER	"slipway_launcher.py"

/* ------------------------------------------------------------------ */
/* Images                                                              */

static int
tar_to_fd(void *arg, const void *data, size_t len)
{
	return agent_write_all(*(int *)arg, data, len);
}

/*
 * Build dir (streamed as a tar through a pipe from a forked writer) into
 * tag with our labels (plus extra); *image_id on success.
 */
static int
build_context(struct agent_job *c, const char *dir, const char *dockerfile,
    const char *tag, const struct docker_kv *extra, size_t nextra,
    char **image_id)
{
	struct docker_build_opts o;
	struct docker_kv labels[8];
	enum docker_err e;
	int pfd[2] = { -1, -1 }, status, rc = -1;
	int64_t left;
	pid_t pid;
	size_t i, n = 0;

	if (extra == NULL || nextra == 0) {
		agent_job_labels(c, labels);
		n = 3;
	}
	for (i = 0; i < nextra && n < 8; i++)
		labels[n++] = extra[i];
	left = (c->build_deadline - agent_now_ms()) / 1000;
	if (left < 1) {
		agent_job_fail(c, "build took longer than %d s", c->conf->build_timeout);
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		log_warn("pipe");
		agent_job_fail(c, "internal error (pipe)");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(pfd[0]);
		close(pfd[1]);
		agent_job_fail(c, "internal error (fork)");
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		signal(SIGPIPE, SIG_IGN);
		_exit(archive_write_tar(dir, tar_to_fd, &pfd[1]) == 0 ? 0 : 1);
	}
	close(pfd[1]);

	memset(&o, 0, sizeof(o));
	o.tag = tag;
	o.dockerfile = dockerfile;
	o.labels = labels;
	o.nlabels = n;
	o.read = docker_read_fd;
	o.read_arg = &pfd[0];
	o.context_len = -1;
	o.log = agent_job_log;
	o.cancel = agent_job_cancelled;
	o.arg = c;
	o.timeout_s = (long)left;
	e = docker_build(c->docker, &o, image_id);
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	switch (e) {
	case DOCKER_OK:
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			free(*image_id);
			*image_id = NULL;
			agent_job_fail(c, "could not read the sources for the build");
			break;
		}
		rc = 0;
		break;
	case DOCKER_ERR_TIMEOUT:
		agent_job_fail(c, "build took longer than %d s", c->conf->build_timeout);
		break;
	case DOCKER_ERR_ABORTED:
		agent_job_fail(c, "build cancelled");
		break;
	case DOCKER_ERR_STREAM:
		agent_job_fail_docker(c, "build failed", e);
		break;
	default:
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			agent_job_fail(c, "could not read the sources for the build");
		else
			agent_job_fail_docker(c, "build failed", e);
	}
	return rc;
}

/* Is ref an image of this app (our labels)?  1 yes, 0 no/absent, -1 error. */
int
agent_build_is_ours(struct agent_job *c, const char *ref)
{
	struct docker_image img;
	const char *a, *i;
	enum docker_err e;
	int rc;

	memset(&img, 0, sizeof(img));
	if ((e = docker_image_inspect(c->docker, ref, &img)) != DOCKER_OK)
		return e == DOCKER_ERR_NOT_FOUND || e == DOCKER_ERR_INVALID ?
		    0 : -1;
	a = docker_labels_get(&img.labels, "slipway.app");
	i = docker_labels_get(&img.labels, "slipway.instance");
	rc = a != NULL && i != NULL && strcmp(a, c->app.app_id) == 0 &&
	    strcmp(i, c->inst) == 0;
	docker_image_release(&img);
	return rc;
}

/* Names inside a Dockerfile: an image reference we write after FROM. */
static int
image_ref_safe(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 255 || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._-/:@", s[i]) ==
		    NULL)
			return 0;
	return 1;
}

/* A relative .py path of safe components (gradio entry). */
static int
entry_safe(const char *s)
{
	const char *p = s, *e;
	size_t n;

	if (s == NULL || s[0] == '\0' || strlen(s) > 255 || s[0] == '/')
		return 0;
	n = strlen(s);
	if (n < 4 || strcmp(s + n - 3, ".py") != 0)
		return 0;
	while (*p != '\0') {
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || p[0] == '.' || p[0] == '-')
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '_' &&
			    p[i] != '.' && p[i] != '-')
				return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

/* Normalise a distribution name: lower case, [-_.] runs as '-'. */
static void
dist_norm(const char *s, size_t n, struct buf *out)
{
	size_t i;
	int dash = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '-' || s[i] == '_' || s[i] == '.') {
			dash = 1;
			continue;
		}
		if (dash && out->len > 0)
			buf_addch(out, '-');
		dash = 0;
		buf_addch(out, tolower((unsigned char)s[i]));
	}
}

int
agent_requirements_lists(const char *text, const char *pkg)
{
	struct buf want = BUF_INIT, got = BUF_INIT;
	const char *line = text, *end, *p;
	size_t n;
	int found = 0;

	dist_norm(pkg, strlen(pkg), &want);
	while (!found && line != NULL && *line != '\0') {
		end = strchr(line, '\n');
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-_.");
		if (n > 0 && *p != '#' && *p != '-') {
			buf_reset(&got);
			dist_norm(p, n, &got);
			if (want.len > 0 && strcmp(got.data, want.data) == 0)
				found = 1;
		}
		line = end ? end + 1 : NULL;
	}
	buf_release(&want);
	buf_release(&got);
	return found;
}

/* Does a requirements text hold anything to install? */
static int
requirements_nonempty(const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p != '\n' && *p != '#' && *p != '\0')
			return 1;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return 0;
}

/*
 * The dependency layer: slipway/deps:<sha256 of base + requirements>,
 * built once and reused while both stay the same.  Writes the image to
 * build FROM into from.
 */
static int
build_deps(struct agent_job *c, const char *base, const struct buf *reqs,
    char *from, size_t fromsz)
{
	struct sha256 h;
	uint8_t dig[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1], tag[96];
	struct docker_image img;
	struct docker_kv labels[2];
	struct buf dir = BUF_INIT, path = BUF_INIT, df = BUF_INIT;
	char *image_id = NULL;
	const char *l;
	size_t i;
	int rc = -1;

	sha256_init(&h);
	sha256_update(&h, "slipway-deps-v1\n", 16);
	sha256_update(&h, base, strlen(base));
	sha256_update(&h, "\n", 1);
	sha256_update(&h, reqs->data, reqs->len);
	sha256_final(&h, dig);
	for (i = 0; i < SHA256_LEN; i++)
		(void)str_fmt(hex + 2 * i, 3, "%02x", dig[i]);
	if (str_fmt(tag, sizeof(tag), "slipway/deps:%s", hex) == -1)
		return -1;

	memset(&img, 0, sizeof(img));
	if (docker_image_inspect(c->docker, tag, &img) == DOCKER_OK) {
		l = docker_labels_get(&img.labels, "slipway.deps");
		if (l != NULL && strcmp(l, hex) == 0) {
			agent_applog_fd(c->logfd, "requirements unchanged: reusing "
			    "dependency layer %.12s", hex);
			docker_image_release(&img);
			return str_copy(from, fromsz, tag);
		}
		docker_image_release(&img);
	}

	agent_applog_fd(c->logfd, "installing requirements (dependency layer "
	    "%.12s)", hex);
	agent_job_path(c, &dir, ".deps");
	if (tree_remove(dir.data) == -1 || agent_mkdir(dir.data, 0755) == -1) {
		agent_job_fail(c, "internal error (build directory)");
		goto out;
	}
	buf_printf(&path, "%s/requirements.txt", dir.data);
	if (agent_write_file(path.data, reqs->data, reqs->len, 0644) == -1) {
		agent_job_fail(c, "internal error (requirements)");
		goto out;
	}
	buf_printf(&df, "FROM %s\n"
	    "COPY requirements.txt /tmp/slipway-requirements.txt\n"
	    "RUN python -m pip install --no-cache-dir -r "
	    "/tmp/slipway-requirements.txt\n", base);
	buf_reset(&path);
	buf_printf(&path, "%s/Dockerfile", dir.data);
	if (agent_write_file(path.data, df.data, df.len, 0644) == -1) {
		agent_job_fail(c, "internal error (Dockerfile)");
		goto out;
	}
	labels[0].key = "slipway.deps";
	labels[0].value = hex;
	labels[1].key = "slipway.instance";
	labels[1].value = c->inst;
	if (build_context(c, dir.data, NULL, tag, labels, 2, &image_id) == -1)
		goto out;
	rc = str_copy(from, fromsz, tag);
out:
	(void)tree_remove(dir.data);
	free(image_id);
	buf_release(&dir);
	buf_release(&path);
	buf_release(&df);
	return rc;
}

/* docker: the upload's own Dockerfile. */
static int
build_docker(struct agent_job *c, char **image_id)
{
	struct buf dir = BUF_INIT;
	int rc;

	agent_job_path(c, &dir, "");
	agent_applog_fd(c->logfd, "building %s from the Dockerfile", c->tag);
	rc = build_context(c, dir.data, NULL, c->tag, NULL, 0, image_id);
	buf_release(&dir);
	return rc;
}

/*
 * gradio and plugin: a copy of the sources (hard links) plus a generated
 * Dockerfile (and for plugins the launcher), on the base image or on the
 * dependency layer when there is something to install.
 */
static int
build_python(struct agent_job *c, char **image_id)
{
	struct buf src = BUF_INIT, stage = BUF_INIT, path = BUF_INIT;
	struct buf reqs = BUF_INIT, df = BUF_INIT, launcher = BUF_INIT;
	struct plugin_config cfg;
	struct app_detect det;
	json_object *cmd = NULL;
	const char *base = c->conf->gradio_base_image, *pkg = c->conf->gradio_package;
	const char *entry = NULL;
	char from[128], err[512];
	struct stat st;
	int rc = -1;

	agent_job_path(c, &src, "");
	agent_job_path(c, &stage, ".build");
	if (!image_ref_safe(base)) {
		agent_job_fail(c, "SLIPWAY_GRADIO_BASE_IMAGE is not an image name");
		goto out;
	}
	if (c->app.type == AGENT_APP_PLUGIN) {
		buf_printf(&path, "%s/config.yaml", src.data);
		if (plugin_config_load(path.data, &cfg, err, sizeof(err)) == -1 ||
		    plugin_config_check_tree(&cfg, src.data, err,
		    sizeof(err)) == -1) {
			agent_job_fail(c, "%s", err);
			goto out;
		}
		if (plugin_launcher_py(&cfg, &launcher) == -1) {
			agent_job_fail(c, "config.yaml: cannot make the launcher");
			goto out;
		}
		entry = AGENT_PLUGIN_LAUNCHER;
		agent_applog_fd(c->logfd, "plugin %s@%s, entrypoint %s", cfg.code,
		    cfg.version, cfg.entrypoint);
	} else {
		entry = c->app.entry;
		if (entry == NULL || entry[0] == '\0') {
			if (archive_detect_app(src.data, &det) == -1 ||
			    det.kind != ARCHIVE_APP_GRADIO) {
				agent_job_fail(c, "no Python entry file found");
				goto out;
			}
			entry = det.entry;
		}
		if (!entry_safe(entry)) {
			agent_job_fail(c, "the entry file name is not allowed");
			goto out;
		}
		buf_reset(&path);
		buf_printf(&path, "%s/%s", src.data, entry);
		if (lstat(path.data, &st) == -1 || !S_ISREG(st.st_mode)) {
			agent_job_fail(c, "the entry file %s is missing", entry);
			goto out;
		}
	}

	/* Requirements, plus the gradio package unless listed or disabled. */
	buf_reset(&path);
	buf_printf(&path, "%s/requirements.txt", src.data);
	if (lstat(path.data, &st) == 0 && S_ISREG(st.st_mode)) {
		if (agent_read_file(path.data, AGENT_REQUIREMENTS_MAX, &reqs) == -1) {
			agent_job_fail(c, "requirements.txt cannot be read (at most "
			    "%d bytes)", AGENT_REQUIREMENTS_MAX);
			goto out;
		}
		if (memchr(reqs.data, '\0', reqs.len) != NULL) {
			agent_job_fail(c, "requirements.txt is not text");
			goto out;
		}
	}
	if (pkg[0] != '\0' && !agent_requirements_lists(reqs.data, pkg)) {
		if (reqs.len > 0 && reqs.data[reqs.len - 1] != '\n')
			buf_addch(&reqs, '\n');
		buf_printf(&reqs, "%s\n", pkg);
	}
	if (str_copy(from, sizeof(from), base) == -1)
		goto out;
	if (requirements_nonempty(reqs.data) &&
	    build_deps(c, base, &reqs, from, sizeof(from)) == -1)
		goto out;

	/* The build directory: the sources hard-linked, our files added. */
	if (tree_remove(stage.data) == -1 ||
	    tree_copy(src.data, stage.data) == -1) {
		agent_job_fail(c, "internal error (build directory)");
		goto out;
	}
	if (c->app.type == AGENT_APP_PLUGIN) {
		buf_reset(&path);
		buf_printf(&path, "%s/%s", stage.data, AGENT_PLUGIN_LAUNCHER);
		if (agent_write_file(path.data, launcher.data, launcher.len,
		    0644) == -1) {
			agent_job_fail(c, "internal error (launcher)");
			goto out;
		}
	}
	cmd = json_object_new_array();
	json_object_array_add(cmd, json_object_new_string("python"));
	json_object_array_add(cmd, json_object_new_string(entry));
	buf_printf(&df, "FROM %s\nWORKDIR /app\nCOPY . /app\n"
	    "ENV PYTHONUNBUFFERED=1\nCMD %s\n", from,
	    json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_reset(&path);
	buf_printf(&path, "%s/%s", stage.data, AGENT_DOCKERFILE);
	if (agent_write_file(path.data, df.data, df.len, 0644) == -1) {
		agent_job_fail(c, "internal error (Dockerfile)");
		goto out;
	}
	agent_applog_fd(c->logfd, "building %s: python %s on %s", c->tag, entry,
	    from);
	rc = build_context(c, stage.data, AGENT_DOCKERFILE, c->tag, NULL, 0,
	    image_id);
out:
	(void)tree_remove(stage.data);
	json_object_put(cmd);
	buf_release(&src);
	buf_release(&stage);
	buf_release(&path);
	buf_release(&reqs);
	buf_release(&df);
	buf_release(&launcher);
	return rc;
}

/*
 * image: load the docker save tar (streamed), then a one-line build FROM
 * it gives the image our labels and tag; the names the tar carried are
 * taken off again (an upload must not leave or replace names on the host).
 */
static int
build_load(struct agent_job *c, char **image_id)
{
	struct buf src = BUF_INIT, tar = BUF_INIT, stage = BUF_INIT;
	struct buf path = BUF_INIT, df = BUF_INIT;
	struct docker_refs refs;
	struct docker_image img;
	struct app_detect det;
	struct stat st;
	enum docker_err e;
	const char *pick = NULL;
	size_t i;
	int rc = -1;

	memset(&refs, 0, sizeof(refs));
	memset(&img, 0, sizeof(img));
	agent_job_path(c, &src, "");
	buf_printf(&tar, "%s/image.tar", src.data);
	if (lstat(tar.data, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (archive_detect_app(src.data, &det) == -1 ||
		    det.kind != ARCHIVE_APP_IMAGE) {
			agent_job_fail(c, "the image tarball is missing");
			goto out;
		}
		buf_reset(&tar);
		buf_printf(&tar, "%s/%s", src.data, det.entry);
	}
	agent_applog_fd(c->logfd, "loading the image tarball");
	e = docker_image_load(c->docker, tar.data, agent_job_log, agent_job_cancelled,
	    c, &refs);
	if (e != DOCKER_OK) {
		agent_job_fail_docker(c, "image load failed", e);
		goto out;
	}
	/* Prefer an id; else the first name. */
	for (i = 0; i < refs.n && pick == NULL; i++)
		if (strncmp(refs.v[i], "sha256:", 7) == 0)
			pick = refs.v[i];
	if (pick == NULL && refs.n > 0)
		pick = refs.v[0];
	if (pick == NULL) {
		agent_job_fail(c, "the tarball holds no image");
		goto out;
	}
	if ((e = docker_image_inspect(c->docker, pick, &img)) != DOCKER_OK) {
		agent_job_fail_docker(c, "loaded image not found", e);
		goto out;
	}
	if (!image_ref_safe(img.id)) {
		agent_job_fail(c, "loaded image has a malformed id");
		goto out;
	}
	agent_job_path(c, &stage, ".build");
	if (tree_remove(stage.data) == -1 || agent_mkdir(stage.data, 0755) == -1) {
		agent_job_fail(c, "internal error (build directory)");
		goto out;
	}
	buf_printf(&df, "FROM %s\n", img.id);
	buf_printf(&path, "%s/Dockerfile", stage.data);
	if (agent_write_file(path.data, df.data, df.len, 0644) == -1) {
		agent_job_fail(c, "internal error (Dockerfile)");
		goto out;
	}
	if (build_context(c, stage.data, NULL, c->tag, NULL, 0, image_id) == -1)
		goto out;
	for (i = 0; i < refs.n; i++) {
		if (strncmp(refs.v[i], "sha256:", 7) == 0 ||
		    strcmp(refs.v[i], c->tag) == 0)
			continue;
		if (docker_image_remove(c->docker, refs.v[i], 0) == DOCKER_OK)
			agent_applog_fd(c->logfd, "untagged %s", refs.v[i]);
	}
	rc = 0;
out:
	if (stage.len > 0)
		(void)tree_remove(stage.data);
	docker_image_release(&img);
	docker_refs_release(&refs);
	buf_release(&src);
	buf_release(&tar);
	buf_release(&stage);
	buf_release(&path);
	buf_release(&df);
	return rc;
}

/* Make the app's image (not compose); apps.image set on success. */
int
agent_build_image(struct agent_job *c, char **image_id)
{
	int rc;

	c->build_deadline = agent_now_ms() + (int64_t)c->conf->build_timeout * 1000;
	switch (c->app.type) {
	case AGENT_APP_DOCKER:
		rc = build_docker(c, image_id);
		break;
	case AGENT_APP_GRADIO:
	case AGENT_APP_PLUGIN:
		rc = build_python(c, image_id);
		break;
	case AGENT_APP_IMAGE:
		rc = build_load(c, image_id);
		break;
	default:
		agent_job_fail(c, "internal error (kind)");
		return -1;
	}
	if (rc == 0) {
		if (agent_app_set_text(c->db, c->app.rowid, "image", *image_id) == -1) {
			agent_job_fail(c, "internal error (database)");
			return -1;
		}
		free(c->app.image);
		c->app.image = xstrdup(*image_id);
		agent_applog_fd(c->logfd, "image %s built", *image_id);
	}
	return rc;
}

/* Remove this app's images other than keep (after a successful deploy). */
void
agent_build_prune_old(struct agent_job *c, const char *keep)
{
	struct docker_image_list l;
	struct buf label = BUF_INIT;
	const char *inst;
	size_t i;

	memset(&l, 0, sizeof(l));
	buf_printf(&label, "slipway.app=%s", c->app.app_id);
	if (docker_image_list(c->docker, label.data, &l) == DOCKER_OK) {
		for (i = 0; i < l.n; i++) {
			inst = docker_labels_get(&l.v[i].labels, "slipway.instance");
			if (inst == NULL || strcmp(inst, c->inst) != 0 ||
			    (keep != NULL && strcmp(l.v[i].id, keep) == 0))
				continue;
			if (docker_image_remove(c->docker, l.v[i].id, 1) == DOCKER_OK)
				agent_applog_fd(c->logfd, "removed old image %.19s",
				    l.v[i].id);
		}
		docker_image_list_release(&l);
	}
	buf_release(&label);
}
