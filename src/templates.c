#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "req.h"
#include "templates.h"
#include "upload.h"
#include "valid.h"

#define TEMPLATE_COLUMNS "t.id, t.name, t.description, t.type, " \
	"t.vram_required, t.owner_id, u.username, t.builtin, t.dir, " \
	"t.created_at FROM templates t LEFT JOIN users u ON u.id = t.owner_id "

/* What template.json may say (NULL / -1: not said or not usable). */
struct template_meta {
	char	*name;
	char	*description;
	int64_t	 vram_required;
};

int
template_valid_name(const char *s)
{
	if (s == NULL)
		return -1;
	if (valid_app_name(s) == 0 || valid_plugin_release(s) == 0)
		return 0;
	return -1;
}

static char *
template_col(sqlite3_stmt *st, int i)
{
	char *s = db_col_strdup(st, i);

	return s != NULL ? s : xstrdup("");
}

static struct template *
template_from_row(sqlite3_stmt *st)
{
	struct template *t = xcalloc(1, sizeof(*t));

	t->id = sqlite3_column_int64(st, 0);
	t->name = template_col(st, 1);
	t->description = template_col(st, 2);
	t->type = template_col(st, 3);
	t->vram_required = sqlite3_column_int64(st, 4);
	t->owner_id = sqlite3_column_type(st, 5) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(st, 5);
	t->owner = db_col_strdup(st, 6);
	t->builtin = sqlite3_column_int(st, 7) != 0;
	t->dir = template_col(st, 8);
	t->created_at = sqlite3_column_int64(st, 9);
	return t;
}

void
template_free(struct template *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->description);
	free(t->type);
	free(t->owner);
	free(t->dir);
	free(t);
}

static enum templates_result
template_query_one(struct db *db, sqlite3_stmt *st, struct template **out)
{
	enum templates_result res;

	if (st == NULL)
		return TEMPLATES_ERROR;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*out = template_from_row(st);
		res = TEMPLATES_OK;
		break;
	case SQLITE_DONE:
		res = TEMPLATES_NOT_FOUND;
		break;
	default:
		log_warnx("%s", sqlite3_errmsg(db->conn));
		res = TEMPLATES_ERROR;
	}
	sqlite3_finalize(st);
	return res;
}

enum templates_result
template_load_id(struct db *db, int64_t id, struct template **out)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT " TEMPLATE_COLUMNS
	    "WHERE t.id = ?");

	if (st != NULL)
		db_bind_int(st, 1, id);
	return template_query_one(db, st, out);
}

enum templates_result
template_load(struct db *db, const char *key, struct template **out)
{
	enum templates_result res = TEMPLATES_NOT_FOUND;
	sqlite3_stmt *st;
	long long id;

	if (key == NULL)
		return TEMPLATES_NOT_FOUND;
	if (valid_int(key, 1, INT64_MAX, &id) == 0 &&
	    (res = template_load_id(db, id, out)) != TEMPLATES_NOT_FOUND)
		return res;
	if (template_valid_name(key) == -1)
		return TEMPLATES_NOT_FOUND;
	st = db_prepare(db, "SELECT " TEMPLATE_COLUMNS "WHERE t.name = ?");
	if (st != NULL)
		db_bind_text(st, 1, key);
	return template_query_one(db, st, out);
}

int
template_may_change(const struct template *t, const struct user *u)
{
	if (t->builtin || u == NULL)
		return 0;
	return u->is_admin || (t->owner_id != 0 && t->owner_id == u->id);
}

struct json_object *
template_to_json(const struct template *t)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(t->id));
	json_object_object_add(o, "template_id", json_object_new_int64(t->id));
	json_object_object_add(o, "name", json_object_new_string(t->name));
	json_object_object_add(o, "description",
	    json_object_new_string(t->description));
	json_object_object_add(o, "type", json_object_new_string(t->type));
	json_object_object_add(o, "vram_required",
	    json_object_new_int64(t->vram_required));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(t->created_at));
	json_object_object_add(o, "builtin",
	    json_object_new_boolean(t->builtin));
	json_object_object_add(o, "owner", t->owner != NULL ?
	    json_object_new_string(t->owner) : NULL);
	return o;
}

int
templates_list_json(struct db *db, struct json_object **out)
{
	struct json_object *arr;
	struct template *t;
	sqlite3_stmt *st;
	int rc;

	if ((st = db_prepare(db, "SELECT " TEMPLATE_COLUMNS
	    "ORDER BY t.id")) == NULL)
		return -1;
	arr = json_object_new_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = template_from_row(st);
		json_object_array_add(arr, template_to_json(t));
		template_free(t);
	}
	if (rc != SQLITE_DONE) {
		log_warnx("%s", sqlite3_errmsg(db->conn));
		sqlite3_finalize(st);
		json_object_put(arr);
		return -1;
	}
	sqlite3_finalize(st);
	*out = arr;
	return 0;
}

enum templates_result
template_insert(struct db *db, const struct template_new *n, int64_t *id_out)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "INSERT INTO templates(name, description, type, "
	    "vram_required, owner_id, builtin, dir, created_at) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?)");
	if (st == NULL)
		return TEMPLATES_ERROR;
	db_bind_text(st, 1, n->name);
	db_bind_text(st, 2, n->description ? n->description : "");
	db_bind_text(st, 3, n->type);
	db_bind_int(st, 4, n->vram_required);
	if (n->owner_id > 0)
		db_bind_int(st, 5, n->owner_id);
	else
		sqlite3_bind_null(st, 5);
	db_bind_int(st, 6, n->builtin ? 1 : 0);
	db_bind_text(st, 7, n->dir);
	db_bind_int(st, 8, db_now());
	if (db_exec_stmt(db, st) == -1)
		return db_is_constraint(db) ? TEMPLATES_CONFLICT :
		    TEMPLATES_ERROR;
	*id_out = db_last_id(db);
	return TEMPLATES_OK;
}

enum templates_result
template_update(struct db *db, int64_t id, const char *name,
    const char *description, int64_t vram_required)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "UPDATE templates SET name = coalesce(?, name), "
	    "description = coalesce(?, description), vram_required = CASE "
	    "WHEN ? < 0 THEN vram_required ELSE ? END WHERE id = ?");
	if (st == NULL)
		return TEMPLATES_ERROR;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, description);
	db_bind_int(st, 3, vram_required);
	db_bind_int(st, 4, vram_required);
	db_bind_int(st, 5, id);
	if (db_exec_stmt(db, st) == -1)
		return db_is_constraint(db) ? TEMPLATES_CONFLICT :
		    TEMPLATES_ERROR;
	return db_changes(db) == 1 ? TEMPLATES_OK : TEMPLATES_NOT_FOUND;
}

enum templates_result
template_delete(struct db *db, int64_t id)
{
	sqlite3_stmt *st = db_prepare(db, "DELETE FROM templates WHERE id = ?");

	if (st == NULL)
		return TEMPLATES_ERROR;
	db_bind_int(st, 1, id);
	if (db_exec_stmt(db, st) == -1)
		return TEMPLATES_ERROR;
	return db_changes(db) == 1 ? TEMPLATES_OK : TEMPLATES_NOT_FOUND;
}

static int
templates_mkdir(const char *path)
{
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", path);
		return -1;
	}
	return 0;
}

char *
templates_store_path(const struct conf *conf)
{
	struct buf p = BUF_INIT;
	char rnd[APP_ID_LEN + 1];

	if (templates_mkdir(conf->templates_dir) == -1)
		return NULL;
	buf_printf(&p, "%s/.store", conf->templates_dir);
	if (templates_mkdir(p.data) == -1) {
		buf_release(&p);
		return NULL;
	}
	auth_random_id(rnd, APP_ID_LEN);
	buf_printf(&p, "/%s", rnd);
	return buf_detach(&p, NULL);
}

/* ------------------------------------------------------------------ */
/* Folders dropped into the templates directories                     */

/* A folder name we register: [A-Za-z0-9._-], not starting with '.'. */
static int
templates_folder_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 255 || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static void
template_meta_release(struct template_meta *m)
{
	free(m->name);
	free(m->description);
	m->name = m->description = NULL;
}

/* Read <dir>/template.json strictly; what is bad is ignored (logged). */
static void
template_meta_read(const char *dir, struct template_meta *m)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL, *v;
	struct buf path = BUF_INIT, text = BUF_INIT;
	char chunk[4096];
	struct stat sb;
	size_t end = 0;
	ssize_t n;
	int fd = -1;

	memset(m, 0, sizeof(*m));
	m->vram_required = -1;
	buf_printf(&path, "%s/template.json", dir);
	if ((fd = open(path.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) == -1) {
		if (errno != ENOENT)
			log_warn("%s: ignored", path.data);
		goto out;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > TEMPLATE_JSON_MAX) {
		log_warnx("%s: not a regular file of at most %d bytes: ignored",
		    path.data, TEMPLATE_JSON_MAX);
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (text.len + (size_t)n > TEMPLATE_JSON_MAX) {
			log_warnx("%s: too large: ignored", path.data);
			goto out;
		}
		buf_add(&text, chunk, (size_t)n);
	}
	if (n < 0) {
		log_warn("%s: ignored", path.data);
		goto out;
	}
	tok = json_tokener_new_ex(8);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	if (memchr(text.data, '\0', text.len) == NULL)
		o = json_tokener_parse_ex(tok, text.data, (int)text.len);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success)
		for (end = json_tokener_get_parse_end(tok); end < text.len;
		    end++)
			if (strchr(" \t\r\n", text.data[end]) == NULL)
				break;
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    end != text.len || !json_object_is_type(o, json_type_object)) {
		log_warnx("%s: not a JSON object: ignored", path.data);
		goto out;
	}
	if (json_object_object_get_ex(o, "name", &v)) {
		if (json_object_is_type(v, json_type_string) &&
		    template_valid_name(json_object_get_string(v)) == 0)
			m->name = xstrdup(json_object_get_string(v));
		else
			log_warnx("%s: name must match ^[a-z0-9][a-z0-9_-]"
			    "{0,62}$ or be code@version: ignored", path.data);
	}
	if (json_object_object_get_ex(o, "description", &v)) {
		if (json_object_is_type(v, json_type_string) &&
		    strlen(json_object_get_string(v)) ==
		    (size_t)json_object_get_string_len(v) &&
		    valid_description(json_object_get_string(v)) == 0)
			m->description = xstrdup(json_object_get_string(v));
		else
			log_warnx("%s: description must be text of at most %d "
			    "bytes: ignored", path.data, LIMIT_DESCRIPTION);
	}
	if (json_object_object_get_ex(o, "vram_required", &v)) {
		if (json_object_is_type(v, json_type_int) &&
		    json_object_get_int64(v) >= 0 &&
		    json_object_get_int64(v) <= LIMIT_VRAM_MIB)
			m->vram_required = json_object_get_int64(v);
		else
			log_warnx("%s: vram_required must be MiB from 0 to %d: "
			    "ignored", path.data, LIMIT_VRAM_MIB);
	}
out:
	if (fd != -1)
		close(fd);
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	buf_release(&path);
	buf_release(&text);
}

/* Is this absolute folder already a template?  1, 0, or -1. */
static int
templates_dir_known(struct db *db, const char *dir)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT 1 FROM templates "
	    "WHERE dir = ?");
	int rc;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, dir);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_warnx("%s", sqlite3_errmsg(db->conn));
	return -1;
}

/*
 * Insert the folder under the first free candidate name, in one
 * transaction (so concurrent workers register it once).  0 or -1.
 */
static int
templates_register_one(struct db *db, const char *dir, const char *folder,
    const struct template_meta *m, const char *type, int builtin)
{
	struct buf name = BUF_INIT;
	const char *base;
	sqlite3_stmt *st;
	int i, tries, rc = -1, done = 0, known;

	base = m->name != NULL ? m->name :
	    template_valid_name(folder) == 0 ? folder : NULL;
	if (base == NULL) {
		log_warnx("template folder %s: the folder name is not a "
		    "template name and template.json gives none: skipped", dir);
		return 0;
	}
	/* A release name is exact; others may get "-2" .. "-9". */
	tries = strchr(base, '@') != NULL ||
	    strlen(base) + 2 > LIMIT_APP_NAME ? 1 : 9;
	if (db_begin(db) == -1)
		return -1;
	for (i = 1; i <= tries && !done; i++) {
		buf_reset(&name);
		if (i == 1)
			buf_adds(&name, base);
		else
			buf_printf(&name, "%s-%d", base, i);
		if ((st = db_prepare(db, "INSERT OR IGNORE INTO templates(name, "
		    "description, type, vram_required, owner_id, builtin, dir, "
		    "created_at) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)")) == NULL)
			goto out;
		db_bind_text(st, 1, name.data);
		db_bind_text(st, 2, m->description ? m->description : "");
		db_bind_text(st, 3, type);
		db_bind_int(st, 4, m->vram_required > 0 ? m->vram_required : 0);
		db_bind_int(st, 5, builtin);
		db_bind_text(st, 6, dir);
		db_bind_int(st, 7, db_now());
		if (db_exec_stmt(db, st) == -1)
			goto out;
		if (db_changes(db) == 1) {
			log_info("template %s registered from %s (%s%s)",
			    name.data, dir, type, builtin ? ", built-in" : "");
			done = 1;
			break;
		}
		/* Ignored: the folder is known by now, or the name is taken. */
		if ((known = templates_dir_known(db, dir)) == -1)
			goto out;
		done = known;
	}
	if (db_commit(db) == -1)
		goto out;
	if (!done)
		log_warnx("template folder %s: the name %s is taken: skipped",
		    dir, base);
	rc = 0;
out:
	if (rc == -1)
		db_rollback(db);
	buf_release(&name);
	return rc;
}

/* A folder's kind, checked as an upload's would be; -1 logged. */
static int
templates_detect(const struct conf *conf, struct db *db, const char *dir,
    struct upload_tree *tree)
{
	struct req scratch;
	int rc;

	/* upload_check_tree reports through a request: a scratch one. */
	memset(&scratch, 0, sizeof(scratch));
	scratch.conf = conf;
	scratch.db = db;
	rc = upload_check_tree(&scratch, dir, tree);
	if (rc == -1)
		log_warnx("template folder %s skipped: %s", dir,
		    scratch.err_detail ? scratch.err_detail : "not an app");
	free(scratch.err_code);
	free(scratch.err_detail);
	return rc;
}

/* Does the directory holding path exist? */
static int
templates_parent_exists(const char *path)
{
	const char *slash = strrchr(path, '/');
	struct buf parent = BUF_INIT;
	struct stat sb;
	int rc;

	if (slash == NULL || slash == path)
		return 1;
	buf_add(&parent, path, (size_t)(slash - path));
	rc = stat(parent.data, &sb) == 0 && S_ISDIR(sb.st_mode);
	buf_release(&parent);
	return rc;
}

/*
 * Forget rows whose folder is gone: removed from a directory that still
 * exists, or a built-in one no longer under the built-in directory (it
 * moved).  A folder in a directory that vanished (an unmounted disk) is
 * kept.  builtin_root may be NULL.  0 or -1.
 */
static int
templates_prune(struct db *db, const char *builtin_root)
{
	sqlite3_stmt *st;
	int64_t *gone = NULL;
	size_t ngone = 0, i, blen = builtin_root ? strlen(builtin_root) : 0;
	const char *dir;
	struct stat sb;
	int rc, moved;

	if ((st = db_prepare(db, "SELECT id, dir, builtin FROM templates")) ==
	    NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dir = (const char *)sqlite3_column_text(st, 1);
		if (dir == NULL || lstat(dir, &sb) == 0 || errno != ENOENT)
			continue;
		moved = sqlite3_column_int(st, 2) && builtin_root != NULL &&
		    (strncmp(dir, builtin_root, blen) != 0 || dir[blen] != '/');
		if (!moved && !templates_parent_exists(dir))
			continue;
		gone = xrealloc(gone, st_mult(ngone + 1, sizeof(*gone)));
		gone[ngone++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s", sqlite3_errmsg(db->conn));
		free(gone);
		return -1;
	}
	for (i = 0; i < ngone; i++)
		if (template_delete(db, gone[i]) == TEMPLATES_OK)
			log_info("template %lld forgotten: its folder is gone",
			    (long long)gone[i]);
	free(gone);
	return 0;
}

static int
templates_scan(struct db *db, const struct conf *conf, const char *where,
    int builtin)
{
	struct upload_tree tree;
	struct template_meta meta;
	struct buf dir = BUF_INIT;
	struct dirent *de;
	struct stat sb;
	char root[PATH_MAX];
	DIR *d = NULL;
	size_t seen = 0;
	int rc = -1, known;

	if (where == NULL)
		return 0;
	if (realpath(where, root) == NULL) {
		if (errno == ENOENT)
			return 0;	/* nothing dropped in yet */
		log_warn("%s", where);
		return 0;
	}
	if ((d = opendir(root)) == NULL) {
		log_warn("%s", root);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (!templates_folder_name_ok(de->d_name))
			continue;	/* ".", "..", .store, .deleting-* */
		if (++seen > TEMPLATES_SCAN_MAX) {
			log_warnx("%s: more than %d folders: the rest ignored",
			    root, TEMPLATES_SCAN_MAX);
			break;
		}
		buf_reset(&dir);
		buf_printf(&dir, "%s/%s", root, de->d_name);
		if (lstat(dir.data, &sb) == -1 || !S_ISDIR(sb.st_mode))
			continue;
		if ((known = templates_dir_known(db, dir.data)) == -1)
			goto out;
		if (known)
			continue;
		if (templates_detect(conf, db, dir.data, &tree) == -1)
			continue;
		template_meta_read(dir.data, &meta);
		known = templates_register_one(db, dir.data, de->d_name, &meta,
		    tree.type, builtin);
		template_meta_release(&meta);
		if (known == -1)
			goto out;
	}
	rc = 0;
out:
	closedir(d);
	buf_release(&dir);
	return rc;
}

int
templates_register(struct db *db, const struct conf *conf)
{
	char broot[PATH_MAX];
	int rc = 0;

	/* Forget first, so a moved built-in keeps its name. */
	if (templates_prune(db, conf->builtin_templates_dir != NULL &&
	    realpath(conf->builtin_templates_dir, broot) != NULL ?
	    broot : NULL) == -1)
		rc = -1;
	if (templates_scan(db, conf, conf->builtin_templates_dir, 1) == -1)
		rc = -1;
	if (templates_scan(db, conf, conf->templates_dir, 0) == -1)
		rc = -1;
	return rc;
}
