/*
 * h_templates: POST /templates, GET /templates, POST /deploy_template/{id},
 * POST /save_template/{app_id}, POST /edit_template, DELETE /templates/{id}.
 * The table and the folders belong to templates.c; archives are unpacked
 * and checked by upload.c exactly as for POST /upload; apps are created
 * by apps.c and answered like an upload (h_app_accepted).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "archive.h"
#include "auth.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "handlers.h"
#include "log.h"
#include "req.h"
#include "templates.h"
#include "upload.h"
#include "valid.h"

/* Top-level folders of an app's tree that are never part of a template. */
static const char *const h_template_skip[] = {
	".venv",	/* virtual environments */
	"venv",
	"__pycache__",	/* byte code */
};

/* Template fields a client sets (name, description, vram_required). */
struct h_template_opts {
	const char	*name;		/* NULL: not given */
	const char	*description;
	int64_t		 vram_required;	/* -1: not given */
};

static int
h_templates_fail(struct req *r, enum templates_result res)
{
	switch (res) {
	case TEMPLATES_NOT_FOUND:
		return req_fail(r, HERR_NOT_FOUND, "not_found",
		    "no such template");
	case TEMPLATES_CONFLICT:
		return req_fail(r, HERR_CONFLICT, "name_taken",
		    "a template with that name already exists");
	default:
		return req_fail(r, HERR_UNAVAILABLE, "database",
		    "database unavailable");
	}
}

static int
h_template_opts_parse(struct req *r, const struct form *f,
    struct h_template_opts *o)
{
	const char *v;
	long long n;

	o->name = o->description = NULL;
	o->vram_required = -1;
	if ((v = form_get(f, "name")) != NULL) {
		if (template_valid_name(v) == -1)
			return req_fail(r, HERR_BAD_REQUEST, "invalid_name",
			    "name must match ^[a-z0-9][a-z0-9_-]{0,62}$ or be "
			    "a plugin release code@version");
		o->name = v;
	}
	if ((v = form_get(f, "description")) != NULL) {
		if (valid_description(v) == -1)
			return req_fail(r, HERR_BAD_REQUEST,
			    "invalid_description", "description must be UTF-8 "
			    "text of at most %d bytes", LIMIT_DESCRIPTION);
		o->description = v;
	}
	if ((v = form_get(f, "vram_required")) != NULL && *v != '\0') {
		if (valid_int(v, 0, LIMIT_VRAM_MIB, &n) == -1)
			return req_fail(r, HERR_BAD_REQUEST, "invalid_vram",
			    "vram_required must be MiB from 0 to %d",
			    LIMIT_VRAM_MIB);
		o->vram_required = n;
	}
	return 0;
}

/* The template named by the path argument (id or name). */
static int
h_template_arg(struct req *r, struct template **out)
{
	enum templates_result res = template_load(r->db, req_arg(r, 0), out);

	return res == TEMPLATES_OK ? 0 : h_templates_fail(r, res);
}

static int
h_template_check_change(struct req *r, const struct template *t)
{
	if (t->builtin)
		return req_fail(r, HERR_FORBIDDEN, "read_only",
		    "built-in templates are read-only");
	if (!template_may_change(t, r->user))
		return req_fail(r, HERR_FORBIDDEN, "forbidden",
		    "only the template's owner or an administrator may "
		    "change it");
	return 0;
}

/* 201 with the template just made. */
static int
h_template_created(struct req *r, int64_t id)
{
	struct template *t = NULL;
	enum templates_result res;
	int rc;

	if ((res = template_load_id(r->db, id, &t)) != TEMPLATES_OK)
		return h_templates_fail(r, res);
	rc = req_json(r, 201, template_to_json(t));
	template_free(t);
	return rc;
}

int
h_templates_create(struct req *r)
{
	struct upload *u = NULL;
	struct upload_tree tree;
	struct h_template_opts o;
	struct template_new tn;
	enum templates_result res;
	char *dir = NULL;
	int64_t id;
	int rc = -1, placed = 0;

	if (upload_receive(r, r->conf->max_upload, &u) == -1)
		goto out;
	if (h_template_opts_parse(r, &u->fields, &o) == -1)
		goto out;
	if (o.name == NULL) {
		req_fail(r, HERR_BAD_REQUEST, "missing_field",
		    "name is required");
		goto out;
	}
	/* A taken name fails before any unpacking (and again at insert). */
	{
		struct template *t = NULL;

		res = template_load(r->db, o.name, &t);
		if (res == TEMPLATES_OK && strcmp(t->name, o.name) == 0)
			res = TEMPLATES_CONFLICT;
		else if (res == TEMPLATES_OK)
			res = TEMPLATES_NOT_FOUND;	/* a numeric id matched */
		template_free(t);
		if (res != TEMPLATES_NOT_FOUND) {
			h_templates_fail(r, res);
			goto out;
		}
	}
	if ((dir = templates_store_path(r->conf)) == NULL) {
		req_fail(r, HERR_INTERNAL, "io", "could not store the template");
		goto out;
	}
	if (upload_unpack(r, u, dir, &tree) == -1)
		goto out;
	placed = 1;
	memset(&tn, 0, sizeof(tn));
	tn.name = o.name;
	tn.description = o.description;
	tn.type = tree.type;
	tn.vram_required = o.vram_required > 0 ? o.vram_required : 0;
	tn.owner_id = r->user->id;
	tn.dir = dir;
	if ((res = template_insert(r->db, &tn, &id)) != TEMPLATES_OK) {
		h_templates_fail(r, res);
		goto out;
	}
	placed = 0;
	log_info("template %lld (%s, %s) uploaded by %s", (long long)id,
	    o.name, tree.type, r->user->username);
	rc = h_template_created(r, id);
out:
	if (placed)
		(void)tree_remove(dir);
	free(dir);
	upload_free(u);
	return rc;
}

int
h_templates_list(struct req *r)
{
	struct json_object *arr = NULL;

	/* Folders dropped in since the last look (idempotent). */
	(void)templates_register(r->db, r->conf);
	if (templates_list_json(r->db, &arr) == -1)
		return req_fail(r, HERR_UNAVAILABLE, "database",
		    "database unavailable");
	return req_json(r, 200, arr);
}

/* "<template name>-<random>" as an app name (invalid characters: '-'). */
static void
h_template_default_name(const char *tname, char *out, size_t outsz)
{
	char suffix[TEMPLATE_SUFFIX_LEN + 1];
	size_t i, n, room = LIMIT_APP_NAME - 1 - TEMPLATE_SUFFIX_LEN;

	n = strlen(tname);
	if (n > room)
		n = room;
	if (n > outsz - TEMPLATE_SUFFIX_LEN - 2)
		n = outsz - TEMPLATE_SUFFIX_LEN - 2;
	for (i = 0; i < n; i++) {
		char c = tname[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out[i] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-') ? c : '-';
	}
	auth_random_id(suffix, TEMPLATE_SUFFIX_LEN);
	out[n] = '-';
	memcpy(out + n + 1, suffix, TEMPLATE_SUFFIX_LEN + 1);
}

int
h_template_deploy(struct req *r)
{
	struct form f = FORM_INIT;
	struct template *t = NULL;
	struct app_opts opts;
	struct app_new an;
	struct upload_tree tree;
	struct buf dir = BUF_INIT;
	struct stat sb;
	char app_id[APP_ID_LEN + 1], name[LIMIT_APP_NAME + 1];
	enum apps_result res = APPS_ERROR;
	int64_t rowid = 0, job = 0;
	int rc = -1, placed = 0, tries;

	memset(&opts, 0, sizeof(opts));
	if (req_params(r, &f) == -1 || app_opts_parse(r, &f, &opts) == -1)
		goto out;
	(void)templates_register(r->db, r->conf);
	if (h_template_arg(r, &t) == -1)
		goto out;
	if (lstat(t->dir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		req_fail(r, HERR_NOT_FOUND, "template_gone",
		    "the template's files are gone");
		goto out;
	}
	if (app_new_id(r->db, app_id) == -1) {
		req_fail(r, HERR_UNAVAILABLE, "database", "database unavailable");
		goto out;
	}
	/* A hard-linked copy: the agent treats it as an uploaded app. */
	buf_printf(&dir, "%s/%s", r->conf->uploads_dir, app_id);
	if (tree_copy(t->dir, dir.data) == -1) {
		req_fail(r, HERR_INTERNAL, "io", "could not copy the template");
		goto out;
	}
	placed = 1;
	if (upload_check_tree(r, dir.data, &tree) == -1)
		goto out;
	memset(&an, 0, sizeof(an));
	an.app_id = app_id;
	an.description = opts.description ? opts.description : t->description;
	an.type = tree.type;
	an.entry = tree.entry;
	an.allow_ips = opts.allow_ips;
	an.auth_header = opts.auth_header;
	an.vram_required = opts.vram_required >= 0 ? opts.vram_required :
	    t->vram_required;
	an.envs = opts.envs;
	an.owner_id = r->user->id;
	an.model = -1;
	an.template_id = t->id;
	/* A given name must be free; a default one is retried. */
	for (tries = 0; tries < TEMPLATE_NAME_TRIES; tries++) {
		if (opts.name != NULL)
			an.name = opts.name;
		else {
			h_template_default_name(t->name, name, sizeof(name));
			an.name = name;
		}
		res = app_create(r->db, &an, &rowid, &job);
		if (res != APPS_CONFLICT || opts.name != NULL)
			break;
	}
	switch (res) {
	case APPS_OK:
		break;
	case APPS_CONFLICT:
		req_fail(r, HERR_CONFLICT, "name_taken",
		    "an app with that name already exists");
		goto out;
	default:
		req_fail(r, HERR_UNAVAILABLE, "database", "database unavailable");
		goto out;
	}
	placed = 0;
	log_info("app %s (%s, %s) deployed from template %s by %s", app_id,
	    an.name, tree.type, t->name, r->user->username);
	rc = h_app_accepted(r, app_id, an.name, tree.type, rowid, job);
out:
	if (placed)
		(void)tree_remove(dir.data);
	app_opts_release(&opts);
	template_free(t);
	form_free(&f);
	buf_release(&dir);
	return rc;
}

int
h_template_save(struct req *r)
{
	struct form f = FORM_INIT;
	struct h_template_opts o;
	struct template_new tn;
	struct upload_tree tree;
	struct app *a = NULL;
	struct buf src = BUF_INIT, skip = BUF_INIT;
	struct stat sb;
	enum apps_result ares;
	enum templates_result res;
	char *dir = NULL;
	int64_t id;
	size_t i;
	int rc = -1, placed = 0;

	if (req_params(r, &f) == -1 || h_template_opts_parse(r, &f, &o) == -1)
		goto out;
	if ((ares = app_load(r->db, req_arg(r, 0), r->user, &a)) != APPS_OK) {
		if (ares == APPS_NOT_FOUND)
			req_fail(r, HERR_NOT_FOUND, "not_found", "no such app");
		else
			req_fail(r, HERR_UNAVAILABLE, "database",
			    "database unavailable");
		goto out;
	}
	if (o.name == NULL && template_valid_name(a->name) == 0)
		o.name = a->name;
	if (o.name == NULL) {
		req_fail(r, HERR_BAD_REQUEST, "missing_field",
		    "name is required");
		goto out;
	}
	if (o.description == NULL)
		o.description = a->description;
	if (o.vram_required < 0)
		o.vram_required = a->vram_required;
	buf_printf(&src, "%s/%s", r->conf->uploads_dir, a->app_id);
	if (lstat(src.data, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		req_fail(r, HERR_CONFLICT, "no_sources",
		    "this app has no stored sources to save");
		goto out;
	}
	if ((dir = templates_store_path(r->conf)) == NULL) {
		req_fail(r, HERR_INTERNAL, "io", "could not store the template");
		goto out;
	}
	/* Sources only: a hard-linked copy without environments. */
	if (tree_copy(src.data, dir) == -1) {
		req_fail(r, HERR_INTERNAL, "io", "could not copy the app");
		goto out;
	}
	placed = 1;
	for (i = 0; i < sizeof(h_template_skip) / sizeof(h_template_skip[0]);
	    i++) {
		buf_reset(&skip);
		buf_printf(&skip, "%s/%s", dir, h_template_skip[i]);
		if (tree_remove(skip.data) == -1) {
			req_fail(r, HERR_INTERNAL, "io",
			    "could not store the template");
			goto out;
		}
	}
	if (upload_check_tree(r, dir, &tree) == -1)
		goto out;
	memset(&tn, 0, sizeof(tn));
	tn.name = o.name;
	tn.description = o.description;
	tn.type = tree.type;
	tn.vram_required = o.vram_required;
	tn.owner_id = r->user->id;
	tn.dir = dir;
	if ((res = template_insert(r->db, &tn, &id)) != TEMPLATES_OK) {
		h_templates_fail(r, res);
		goto out;
	}
	placed = 0;
	log_info("template %lld (%s) saved from app %s by %s", (long long)id,
	    o.name, a->app_id, r->user->username);
	rc = h_template_created(r, id);
out:
	if (placed)
		(void)tree_remove(dir);
	free(dir);
	app_free(a);
	form_free(&f);
	buf_release(&src);
	buf_release(&skip);
	return rc;
}

int
h_template_edit(struct req *r)
{
	struct form f = FORM_INIT;
	struct h_template_opts o;
	struct template *t = NULL;
	enum templates_result res;
	const char *key;
	int64_t id;
	int rc = -1;

	if (req_params(r, &f) == -1)
		goto out;
	if ((key = form_get(&f, "template_id")) == NULL &&
	    (key = form_get(&f, "id")) == NULL) {
		req_fail(r, HERR_BAD_REQUEST, "missing_field",
		    "template_id is required");
		goto out;
	}
	if (h_template_opts_parse(r, &f, &o) == -1)
		goto out;
	if ((res = template_load(r->db, key, &t)) != TEMPLATES_OK) {
		h_templates_fail(r, res);
		goto out;
	}
	if (h_template_check_change(r, t) == -1)
		goto out;
	if ((res = template_update(r->db, t->id, o.name, o.description,
	    o.vram_required)) != TEMPLATES_OK) {
		h_templates_fail(r, res);
		goto out;
	}
	log_info("template %lld edited by %s", (long long)t->id,
	    r->user->username);
	id = t->id;
	template_free(t);
	t = NULL;
	/* Answer with the template as it is now. */
	if ((res = template_load_id(r->db, id, &t)) != TEMPLATES_OK) {
		h_templates_fail(r, res);
		goto out;
	}
	rc = req_json(r, 200, template_to_json(t));
out:
	template_free(t);
	form_free(&f);
	return rc;
}

int
h_template_delete(struct req *r)
{
	struct template *t = NULL;
	struct buf trash = BUF_INIT;
	enum templates_result res;
	char rnd[APP_ID_LEN + 1];
	const char *slash;
	int rc = -1, moved = 0;

	if (h_template_arg(r, &t) == -1)
		goto out;
	if (h_template_check_change(r, t) == -1)
		goto out;
	/*
	 * Out of sight first (a dot name is never registered again), then
	 * the row, then the files.
	 */
	if ((slash = strrchr(t->dir, '/')) == NULL || slash == t->dir) {
		req_fail(r, HERR_INTERNAL, "io", "bad template folder");
		goto out;
	}
	auth_random_id(rnd, APP_ID_LEN);
	buf_add(&trash, t->dir, (size_t)(slash - t->dir));
	buf_printf(&trash, "/.deleting-%lld-%s", (long long)t->id, rnd);
	if (rename(t->dir, trash.data) == 0)
		moved = 1;
	else if (errno != ENOENT) {
		log_warn("rename %s", t->dir);
		req_fail(r, HERR_INTERNAL, "io", "could not remove the files");
		goto out;
	}
	res = template_delete(r->db, t->id);
	if (res == TEMPLATES_ERROR) {
		if (moved && rename(trash.data, t->dir) == -1)
			log_warn("rename %s back", trash.data);
		moved = 0;
		h_templates_fail(r, res);
		goto out;
	}
	/* NOT_FOUND: a concurrent delete or scan got there first. */
	log_info("template %lld (%s) deleted by %s", (long long)t->id,
	    t->name, r->user->username);
	rc = req_no_content(r);
out:
	if (moved)
		(void)tree_remove(trash.data);
	buf_release(&trash);
	template_free(t);
	return rc;
}
