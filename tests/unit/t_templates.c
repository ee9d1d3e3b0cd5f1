/*
 * t_templates: the templates model on a temporary database and folders:
 * the name grammar (good and bad table), folders registered once (also
 * with four processes racing), built-in flag, template.json good and bad
 * (each bad value ignored, the folder still registered), skipped folders
 * (hidden, badly named, symlinks, no app), name clashes, forgotten folders,
 * insert/update/delete results, who may change what, the store path.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "req.h"
#include "tap.h"
#include "templates.h"

static char tmpdir[] = "/tmp/t_templates.XXXXXX";
static struct conf conf;

static char *
tpath(const char *name)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s/%s", tmpdir, name);
	return buf_detach(&b, NULL);
}

static void
write_file(const char *dir, const char *name, const char *text, size_t len)
{
	struct buf p = BUF_INIT;
	FILE *f;

	buf_printf(&p, "%s/%s", dir, name);
	if ((f = fopen(p.data, "w")) == NULL)
		fatal("fopen %s", p.data);
	if (fwrite(text, 1, len, f) != len)
		fatal("fwrite %s", p.data);
	fclose(f);
	buf_release(&p);
}

/* A folder holding a gradio app (app.py) and optional template.json. */
static char *
make_folder(const char *parent, const char *name, const char *json,
    size_t jsonlen)
{
	struct buf p = BUF_INIT;

	buf_printf(&p, "%s/%s", parent, name);
	if (mkdir(p.data, 0755) == -1)
		fatal("mkdir %s", p.data);
	write_file(p.data, "app.py", "print('hi')\n", 12);
	if (json != NULL)
		write_file(p.data, "template.json", json, jsonlen);
	return buf_detach(&p, NULL);
}

static int64_t
int_query(struct db *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st = db_prepare(db, sql);
	int64_t v = -999;

	if (st != NULL && arg != NULL)
		db_bind_text(st, 1, arg);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *
str_query(struct db *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st = db_prepare(db, sql);
	char *v = NULL;

	if (st != NULL && arg != NULL)
		db_bind_text(st, 1, arg);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		v = db_col_strdup(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
test_names(void)
{
	static const char *const good[] = {
		"a", "0", "my-site", "x_y", "echo@1.0.0", "code@V2.1+b_3-rc",
		"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0",
	};
	static const char *const bad[] = {
		"", "Bad", "-a", "_a", "a b", "a/b", "../x", ".hidden", "a@",
		"@1", "a@1@2", "a@-1", "a@1 ", "caf\xc3\xa9",
		"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		is(template_valid_name(good[i]), 0, "good name '%s'", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is(template_valid_name(bad[i]), -1, "bad name '%s'", bad[i]);
	is(template_valid_name(NULL), -1, "NULL name");
}

/* template.json cases: content, expected name, description, vram. */
static const struct meta_case {
	const char	*folder;
	const char	*json;
	size_t		 len;		/* 0: strlen */
	const char	*name, *description;
	int64_t		 vram;
} meta_cases[] = {
	{ "m-good", "{\"name\": \"nice\", \"description\": \"d e\", "
	    "\"vram_required\": 7}\n", 0, "nice", "d e", 7 },
	{ "m-release", "{\"name\": \"rel@1.2\"}", 0, "rel@1.2", "", 0 },
	{ "m-array", "[1, 2]", 0, "m-array", "", 0 },
	{ "m-trailing", "{\"name\": \"trail\"} x", 0, "m-trailing", "", 0 },
	{ "m-single", "{'name': 'single'}", 0, "m-single", "", 0 },
	{ "m-comma", "{\"name\": \"comma\",}", 0, "m-comma", "", 0 },
	{ "m-nul", "{\"name\": \"nul\"}\0", 16, "m-nul", "", 0 },
	{ "m-badname", "{\"name\": \"Not Valid\", \"vram_required\": 3}", 0,
	    "m-badname", "", 3 },
	{ "m-nametype", "{\"name\": 5, \"description\": \"ok\"}", 0,
	    "m-nametype", "ok", 0 },
	{ "m-descctl", "{\"description\": \"a\\u0001b\"}", 0, "m-descctl",
	    "", 0 },
	{ "m-descnul", "{\"description\": \"a\\u0000b\"}", 0, "m-descnul",
	    "", 0 },
	{ "m-vneg", "{\"vram_required\": -1}", 0, "m-vneg", "", 0 },
	{ "m-vfloat", "{\"vram_required\": 1.5}", 0, "m-vfloat", "", 0 },
	{ "m-vstr", "{\"vram_required\": \"3\"}", 0, "m-vstr", "", 0 },
	{ "m-vbig", "{\"vram_required\": 99999999999}", 0, "m-vbig", "", 0 },
	{ "m-utf8", "{\"name\": \"x\xff\"}", 0, "m-utf8", "", 0 },
	{ "m-empty", "", 0, "m-empty", "", 0 },
};

static void
test_register(struct db *db)
{
	const char *q;
	char *p, *s, *l;
	struct template *t = NULL;
	struct user alice = { 1, NULL, 0, 0, "" };
	struct user admin = { 2, NULL, 1, 0, "" };
	struct user bob = { 3, NULL, 0, 0, "" };
	int64_t n, id;
	size_t i;
	pid_t kids[4];
	int status, allok;

	/* Nothing there yet: fine. */
	is(templates_register(db, &conf), 0, "register with no folders");
	is(int_query(db, "SELECT count(*) FROM templates", NULL), 0, "no rows");

	if (mkdir(conf.builtin_templates_dir, 0755) == -1 ||
	    mkdir(conf.templates_dir, 0755) == -1)
		fatal("mkdir");
	q = "{\"name\": \"site-x\", \"description\": \"built in\", "
	    "\"vram_required\": 5}";
	free(make_folder(conf.builtin_templates_dir, "site", q, strlen(q)));
	p = make_folder(conf.templates_dir, "py", NULL, 0);
	free(make_folder(conf.templates_dir, "Bad Name", NULL, 0));
	free(make_folder(conf.templates_dir, ".hidden", NULL, 0));
	q = "{\"name\": \"py\"}";
	free(make_folder(conf.templates_dir, "clash", q, strlen(q)));
	l = tpath("templates/empty");
	if (mkdir(l, 0755) == -1)
		fatal("mkdir");
	write_file(l, "README", "x", 1);
	free(l);
	l = tpath("templates/link");
	if (symlink(p, l) == -1)
		fatal("symlink");
	free(l);
	for (i = 0; i < sizeof(meta_cases) / sizeof(meta_cases[0]); i++)
		free(make_folder(conf.templates_dir, meta_cases[i].folder,
		    meta_cases[i].json, meta_cases[i].len ? meta_cases[i].len :
		    strlen(meta_cases[i].json)));

	is(templates_register(db, &conf), 0, "register");
	n = int_query(db, "SELECT count(*) FROM templates", NULL);
	is(n, 3 + (int64_t)(sizeof(meta_cases) / sizeof(meta_cases[0])),
	    "site, py, clash and the template.json cases registered");
	is(int_query(db, "SELECT builtin FROM templates WHERE name = ?",
	    "site-x"), 1, "built-in folder is builtin");
	is(int_query(db, "SELECT vram_required FROM templates WHERE name = ?",
	    "site-x"), 5, "vram_required from template.json");
	is(int_query(db, "SELECT builtin FROM templates WHERE name = ?", "py"),
	    0, "templates_dir folder is not builtin");
	s = str_query(db, "SELECT type FROM templates WHERE name = ?", "py");
	is_str(s, "gradio", "type detected");
	free(s);
	s = str_query(db, "SELECT dir FROM templates WHERE name = ?", "py");
	ok(s != NULL && s[0] == '/' && strstr(s, "/templates/py") != NULL,
	    "dir is absolute (%s)", s ? s : "null");
	free(s);
	is(int_query(db, "SELECT owner_id IS NULL FROM templates WHERE name = ?",
	    "py"), 1, "no owner");
	s = str_query(db, "SELECT name FROM templates WHERE dir LIKE '%/clash'",
	    NULL);
	is_str(s, "py-2", "a taken name gets -2");
	free(s);
	is(int_query(db, "SELECT count(*) FROM templates WHERE dir LIKE ? ",
	    "%/Bad Name"), 0, "badly named folder skipped");
	is(int_query(db, "SELECT count(*) FROM templates WHERE dir LIKE ? ",
	    "%/.hidden"), 0, "hidden folder skipped");
	is(int_query(db, "SELECT count(*) FROM templates WHERE dir LIKE ? ",
	    "%/empty"), 0, "folder without an app skipped");
	is(int_query(db, "SELECT count(*) FROM templates WHERE dir LIKE ? ",
	    "%/link"), 0, "symlinked folder skipped");
	for (i = 0; i < sizeof(meta_cases) / sizeof(meta_cases[0]); i++) {
		const struct meta_case *c = &meta_cases[i];
		struct buf like = BUF_INIT;

		buf_printf(&like, "%%/%s", c->folder);
		s = str_query(db, "SELECT name FROM templates WHERE dir LIKE ?",
		    like.data);
		is_str(s, c->name, "%s: name", c->folder);
		free(s);
		s = str_query(db, "SELECT description FROM templates WHERE "
		    "dir LIKE ?", like.data);
		is_str(s, c->description, "%s: description", c->folder);
		free(s);
		is(int_query(db, "SELECT vram_required FROM templates WHERE "
		    "dir LIKE ?", like.data), c->vram, "%s: vram_required",
		    c->folder);
		buf_release(&like);
	}

	/* Idempotent. */
	is(templates_register(db, &conf), 0, "register again");
	is(int_query(db, "SELECT count(*) FROM templates", NULL), n,
	    "no duplicates");

	/* Four processes register one new folder at once: one row. */
	free(make_folder(conf.templates_dir, "race", NULL, 0));
	for (i = 0; i < 4; i++) {
		if ((kids[i] = fork()) == -1)
			fatal("fork");
		if (kids[i] == 0) {
			struct db *d2 = db_open(conf.db_path);
			int r = d2 != NULL ? templates_register(d2, &conf) : -1;

			db_close(d2);
			_exit(r == 0 ? 0 : 1);
		}
	}
	allok = 1;
	for (i = 0; i < 4; i++)
		if (waitpid(kids[i], &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			allok = 0;
	ok(allok, "four racing registrations succeed");
	is(int_query(db, "SELECT count(*) FROM templates WHERE name = ?",
	    "race"), 1, "the raced folder has exactly one row");
	is(int_query(db, "SELECT count(*) FROM templates", NULL), n + 1,
	    "and nothing else changed");

	/* A folder removed by hand is forgotten. */
	if (tree_remove(p) == -1)
		fatal("tree_remove");
	is(templates_register(db, &conf), 0, "register after a removal");
	is(int_query(db, "SELECT count(*) FROM templates WHERE name = ?", "py"),
	    0, "the removed folder is forgotten");
	free(p);

	/* The built-in directory moves: the template keeps its name. */
	l = tpath("builtin2");
	if (rename(conf.builtin_templates_dir, l) == -1)
		fatal("rename");
	free(conf.builtin_templates_dir);
	conf.builtin_templates_dir = l;
	is(templates_register(db, &conf), 0, "register after a move");
	s = str_query(db, "SELECT dir FROM templates WHERE name = ?", "site-x");
	ok(s != NULL && strstr(s, "/builtin2/site") != NULL,
	    "site-x now from the new directory (%s)", s ? s : "null");
	free(s);
	is(int_query(db, "SELECT count(*) FROM templates WHERE builtin = 1",
	    NULL), 1, "one built-in row");

	/* A directory that vanished (unmounted): its rows are kept. */
	l = tpath("elsewhere");
	if (mkdir(l, 0755) == -1)
		fatal("mkdir");
	free(make_folder(l, "kept", NULL, 0));
	{
		char *saved = conf.templates_dir, *moved = tpath("elsewhere2");

		conf.templates_dir = l;
		is(templates_register(db, &conf), 0, "register elsewhere");
		conf.templates_dir = saved;
		if (rename(l, moved) == -1)
			fatal("rename");
		is(templates_register(db, &conf), 0, "register, parent gone");
		is(int_query(db, "SELECT count(*) FROM templates WHERE name = ?",
		    "kept"), 1, "a folder whose directory vanished is kept");
		free(moved);
	}
	free(l);

	/* Load by id and by name. */
	is(template_load(db, "site-x", &t), TEMPLATES_OK, "load by name");
	id = t != NULL ? t->id : 0;
	ok(t != NULL && t->builtin && t->owner == NULL && t->owner_id == 0,
	    "built-in, no owner");
	ok(t != NULL && !template_may_change(t, &admin),
	    "nobody may change a built-in, not even an admin");
	template_free(t);
	t = NULL;
	s = xmalloc(32);
	(void)str_fmt(s, 32, "%lld", (long long)id);
	is(template_load(db, s, &t), TEMPLATES_OK, "load by id");
	ok(t != NULL && strcmp(t->name, "site-x") == 0, "same template");
	template_free(t);
	t = NULL;
	free(s);
	is(template_load(db, "0", &t), TEMPLATES_NOT_FOUND, "id 0 not found");
	is(template_load(db, "999999", &t), TEMPLATES_NOT_FOUND,
	    "unknown id not found");
	is(template_load(db, "../etc", &t), TEMPLATES_NOT_FOUND,
	    "bad key not found");
	is(template_load(db, NULL, &t), TEMPLATES_NOT_FOUND, "NULL key");
	is(template_load(db, "m-good", &t), TEMPLATES_NOT_FOUND,
	    "a folder name is not the template name");
	is(template_load(db, "race", &t), TEMPLATES_OK, "dropped folder");
	ok(t != NULL && !template_may_change(t, &alice) &&
	    template_may_change(t, &admin),
	    "no owner: only an admin may change it");
	template_free(t);
	t = NULL;
	(void)bob;
}

static void
test_rows(struct db *db)
{
	struct template_new tn;
	struct template *t = NULL;
	struct user alice = { 1, NULL, 0, 0, "" };
	struct user admin = { 2, NULL, 1, 0, "" };
	struct user bob = { 3, NULL, 0, 0, "" };
	struct json_object *arr = NULL;
	int64_t id = 0, id2 = 0;
	char *sp;

	memset(&tn, 0, sizeof(tn));
	tn.name = "mine";
	tn.type = "docker";
	tn.vram_required = 10;
	tn.owner_id = 1;
	tn.dir = "/nonexistent/mine";
	is(template_insert(db, &tn, &id), TEMPLATES_OK, "insert");
	ok(id > 0, "id %lld", (long long)id);
	tn.dir = "/nonexistent/other";
	is(template_insert(db, &tn, &id2), TEMPLATES_CONFLICT,
	    "same name: conflict");
	tn.name = "other";
	tn.dir = "/nonexistent/mine";
	is(template_insert(db, &tn, &id2), TEMPLATES_CONFLICT,
	    "same dir: conflict");
	tn.dir = "/nonexistent/other";
	is(template_insert(db, &tn, &id2), TEMPLATES_OK, "another");
	is(template_load_id(db, id, &t), TEMPLATES_OK, "load");
	ok(t != NULL && strcmp(t->owner, "alice") == 0 && t->owner_id == 1 &&
	    !t->builtin && t->vram_required == 10 &&
	    strcmp(t->description, "") == 0, "fields as inserted");
	ok(t != NULL && template_may_change(t, &alice), "owner may change");
	ok(t != NULL && template_may_change(t, &admin), "admin may change");
	ok(t != NULL && !template_may_change(t, &bob), "others may not");
	ok(t != NULL && !template_may_change(t, NULL), "nobody may not");
	if (t != NULL) {
		struct json_object *o = template_to_json(t), *v;

		ok(json_object_object_get_ex(o, "template_id", &v) &&
		    json_object_get_int64(v) == id, "JSON template_id");
		ok(json_object_object_get_ex(o, "owner", &v) &&
		    strcmp(json_object_get_string(v), "alice") == 0,
		    "JSON owner");
		ok(json_object_object_get_ex(o, "builtin", &v) &&
		    json_object_is_type(v, json_type_boolean),
		    "JSON builtin is a boolean");
		json_object_put(o);
	}
	template_free(t);
	t = NULL;

	is(template_update(db, id, "renamed", "new text", -1), TEMPLATES_OK,
	    "update name and description");
	is(template_load_id(db, id, &t), TEMPLATES_OK, "reload");
	ok(t != NULL && strcmp(t->name, "renamed") == 0 &&
	    strcmp(t->description, "new text") == 0 && t->vram_required == 10,
	    "updated, vram kept");
	template_free(t);
	t = NULL;
	is(template_update(db, id, NULL, NULL, 0), TEMPLATES_OK, "vram to 0");
	is(int_query(db, "SELECT vram_required FROM templates WHERE name = ?",
	    "renamed"), 0, "vram 0");
	is(template_update(db, id, "other", NULL, -1), TEMPLATES_CONFLICT,
	    "rename onto a taken name");
	is(template_update(db, 999999, "x", NULL, -1), TEMPLATES_NOT_FOUND,
	    "update unknown");
	is(templates_list_json(db, &arr), 0, "list");
	ok(arr != NULL && json_object_array_length(arr) > 2, "list has rows");
	json_object_put(arr);
	is(template_delete(db, id), TEMPLATES_OK, "delete");
	is(template_delete(db, id), TEMPLATES_NOT_FOUND, "delete again");

	sp = templates_store_path(&conf);
	ok(sp != NULL && strncmp(sp, conf.templates_dir,
	    strlen(conf.templates_dir)) == 0 &&
	    strstr(sp, "/.store/") != NULL, "store path %s", sp ? sp : "null");
	{
		struct buf st = BUF_INIT;
		struct stat sb;

		buf_printf(&st, "%s/.store", conf.templates_dir);
		ok(stat(st.data, &sb) == 0 && S_ISDIR(sb.st_mode),
		    ".store exists");
		ok(sp != NULL && stat(sp, &sb) == -1, "the folder itself not");
		buf_release(&st);
	}
	free(sp);
	is(templates_register(db, &conf), 0, ".store is never registered");
	is(int_query(db, "SELECT count(*) FROM templates WHERE dir LIKE ?",
	    "%/.store%"), 0, "no .store rows");
}

int
main(void)
{
	struct db *db;

	log_init("t_templates", 0);
	if (mkdtemp(tmpdir) == NULL)
		fatal("mkdtemp");
	memset(&conf, 0, sizeof(conf));
	conf.data_dir = xstrdup(tmpdir);
	conf.db_path = tpath("slipway.db");
	conf.templates_dir = tpath("templates");
	conf.builtin_templates_dir = tpath("builtin");
	conf.tmp_dir = tpath("tmp");
	if ((db = db_open(conf.db_path)) == NULL)
		fatal("db_open");
	if (db_exec(db, "INSERT INTO users(id, username, password_hash, "
	    "is_admin, created_at) VALUES (1, 'alice', 'x', 0, 0), "
	    "(2, 'admin', 'x', 1, 0), (3, 'bob', 'x', 0, 0)") == -1)
		fatal("users");

	test_names();
	test_register(db);
	test_rows(db);

	db_close(db);
	(void)tree_remove(tmpdir);
	free(conf.data_dir);
	free(conf.db_path);
	free(conf.templates_dir);
	free(conf.builtin_templates_dir);
	free(conf.tmp_dir);
	return done_testing();
}
