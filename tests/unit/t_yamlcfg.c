/*
 * t_yamlcfg: the strict YAML loader, plugin config.yaml validation, the
 * module-file check and the generated launcher (run with python3).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "tap.h"
#include "yamlcfg.h"

extern char **environ;

static char tmpdir[] = "/tmp/t_yamlcfg.XXXXXX";

static void
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd == -1 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static char *
read_text(const char *path)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd == -1)
		return NULL;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)r);
	close(fd);
	return buf_detach(&b, NULL);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* a path in the temporary directory (four calls may be live at once) */
static const char *
tmp(const char *name)
{
	static char paths[4][512];
	static unsigned int next;
	char *path = paths[next++ % 4];

	snprintf(path, sizeof(paths[0]), "%s/%s", tmpdir, name);
	return path;
}

/*
 * Tables
 */

static const char seed_config[] =
    "code: my-plugin\n"
    "name: My Plugin\n"
    "version: 1.0.0\n"
    "category: neural_net\n"
    "\n"
    "actions:\n"
    "  gradio:\n"
    "    entrypoint: plugin.gradio_interface.app\n"
    "    method: job\n";

static const struct good_case {
	const char	*name;
	const char	*yaml;
	const char	*code, *version, *category;
	const char	*module, *module_file, *attr;
} good[] = {
	{ "seed config (dotted entrypoint)", seed_config,
	  "my-plugin", "1.0.0", "neural_net",
	  "plugin.gradio_interface", "plugin/gradio_interface.py", "app" },
	{ "file-path entrypoint",
	  "code: p1\nname: P\nversion: '2'\nactions:\n  gradio:\n"
	  "    entrypoint: plugin/gradio_interface.py\n",
	  "p1", "2", "", "", "plugin/gradio_interface.py", "" },
	{ "extra unknown keys at every level are fine",
	  "code: p_2\nname: \"Ünïcode näme\"\nversion: 0.1.0-rc.1+b_2\n"
	  "readme: README.md\ntasks: [a, b, {c: d}]\n"
	  "package_manager: pip\nactions:\n  train: {entrypoint: x.y}\n"
	  "  gradio:\n    entrypoint: main.demo\n    extra: [1, 2]\n",
	  "p_2", "0.1.0-rc.1+b_2", "", "main", "main.py", "demo" },
	{ "numeric version and deep module path",
	  "code: 9lives\nname: x\nversion: 3\ncategory: Export Tool\n"
	  "actions: {gradio: {entrypoint: a.b.c.d_e.App_1}}\n",
	  "9lives", "3", "Export Tool", "a.b.c.d_e", "a/b/c/d_e.py", "App_1" },
	{ "comments, explicit document markers, block scalar name",
	  "%YAML 1.1\n---\n# comment\ncode: c\nname: >-\n  folded\n  text\n"
	  "version: v1\nactions:\n  gradio:\n    entrypoint: 'x_y.z'\n...\n",
	  "c", "v1", "", "x_y", "x_y.py", "z" },
	{ "quoted values and flow style",
	  "{\"code\": \"q\", \"name\": 'It''s', \"version\": \"1.0\", "
	  "\"actions\": {\"gradio\": {\"entrypoint\": \"m.app\"}}}\n",
	  "q", "1.0", "", "m", "m.py", "app" },
};

static const char base_head[] =
    "code: my-plugin\nname: My Plugin\nversion: 1.0.0\n";

static const struct bad_case {
	const char	*name;
	const char	*yaml;		/* NULL: built in code */
	const char	*expect;
} bad[] = {
	{ "missing code",
	  "name: x\nversion: 1\nactions: {gradio: {entrypoint: a.b}}\n",
	  "config.yaml: code: missing" },
	{ "null code",
	  "code:\nname: x\nversion: 1\nactions: {gradio: {entrypoint: a.b}}\n",
	  "config.yaml: code: missing" },
	{ "code with capitals",
	  "code: MyPlugin\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: a.b}}\n",
	  "config.yaml: code: must be" },
	{ "code too long",
	  "code: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "\nname: x\nversion: 1\nactions: {gradio: {entrypoint: a.b}}\n",
	  "config.yaml: code: must be" },
	{ "version as a list",
	  "code: a\nname: x\nversion: [1]\n"
	  "actions: {gradio: {entrypoint: a.b}}\n",
	  "config.yaml: version: must be a string, not a list" },
	{ "version as a mapping",
	  "code: a\nname: x\nversion: {major: 1}\n"
	  "actions: {gradio: {entrypoint: a.b}}\n",
	  "config.yaml: version: must be a string, not a mapping" },
	{ "version with a slash",
	  "code: a\nname: x\nversion: 1/2\n"
	  "actions: {gradio: {entrypoint: a.b}}\n",
	  "config.yaml: version: must be" },
	{ "missing name",
	  "code: a\nversion: 1\nactions: {gradio: {entrypoint: a.b}}\n",
	  "config.yaml: name: missing" },
	{ "name with a control character",
	  "code: a\nname: \"x\\ty\"\nversion: 1\n"
	  "actions: {gradio: {entrypoint: a.b}}\n",
	  "config.yaml: name: must be 1 to 200 bytes" },
	{ "category as a list",
	  "code: a\nname: x\nversion: 1\ncategory: [a]\n"
	  "actions: {gradio: {entrypoint: a.b}}\n",
	  "config.yaml: category: must be a string" },
	{ "no actions", "code: a\nname: x\nversion: 1\n",
	  "config.yaml: actions.gradio: missing" },
	{ "actions as a list",
	  "code: a\nname: x\nversion: 1\nactions: [gradio]\n",
	  "config.yaml: actions: must be a mapping, not a list" },
	{ "no gradio action",
	  "code: a\nname: x\nversion: 1\nactions: {train: {entrypoint: a.b}}\n",
	  "config.yaml: actions.gradio: missing" },
	{ "gradio as a string",
	  "code: a\nname: x\nversion: 1\nactions: {gradio: a.b}\n",
	  "config.yaml: actions.gradio: must be a mapping" },
	{ "entrypoint missing",
	  "code: a\nname: x\nversion: 1\nactions: {gradio: {method: job}}\n",
	  "config.yaml: actions.gradio.entrypoint: missing" },
	{ "entrypoint as a list",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: [a.b]}}\n",
	  "config.yaml: actions.gradio.entrypoint: must be a string" },
	{ "entrypoint with ..",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: ../evil.py}}\n",
	  "config.yaml: actions.gradio.entrypoint: must not contain '..'" },
	{ "entrypoint with .. inside",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: plugin/../../x.py}}\n",
	  "actions.gradio.entrypoint: must not contain '..'" },
	{ "dotted entrypoint with ..",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: plugin..x.app}}\n",
	  "actions.gradio.entrypoint: must not contain '..'" },
	{ "absolute entrypoint",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: /etc/evil.py}}\n",
	  "actions.gradio.entrypoint: must be a relative path" },
	{ "entrypoint with spaces",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: 'plugin.gradio interface.app'}}\n",
	  "config.yaml: actions.gradio.entrypoint: must be a dotted module "
	  "path" },
	{ "entrypoint with quotes",
	  "code: a\nname: x\nversion: 1\nactions: {gradio: {entrypoint: "
	  "\"x'); import os; os.system('id'); ('.app\"}}\n",
	  "actions.gradio.entrypoint: must be a dotted module path" },
	{ "entrypoint with a newline",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: \"a.b\\nimport os\"}}\n",
	  "actions.gradio.entrypoint: must be a dotted module path" },
	{ "entrypoint of one name",
	  "code: a\nname: x\nversion: 1\nactions: {gradio: {entrypoint: app}}\n",
	  "actions.gradio.entrypoint: must be a dotted module path" },
	{ "entrypoint component starting with a digit",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: plugin.1x.app}}\n",
	  "actions.gradio.entrypoint: must be a dotted module path" },
	{ "file entrypoint with a space",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: 'plugin/x y.py'}}\n",
	  "actions.gradio.entrypoint: path components may only contain" },
	{ "file entrypoint with a hidden file",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: plugin/.x.py}}\n",
	  "actions.gradio.entrypoint: path components may only contain" },
	{ "file entrypoint with an empty component",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: plugin//x.py}}\n",
	  "actions.gradio.entrypoint: must not contain empty" },
	{ "file entrypoint not .py",
	  "code: a\nname: x\nversion: 1\n"
	  "actions: {gradio: {entrypoint: plugin/run.sh}}\n",
	  "actions.gradio.entrypoint: a file path must name a .py file" },
	{ "alias bomb (billion laughs)",
	  "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	  "code: a\nname: x\nversion: 1\n",
	  "config.yaml: line 1: anchors and aliases are not allowed" },
	{ "alias without anchor use",
	  "code: a\nname: *n\n", "anchors and aliases are not allowed" },
	{ "anchor alone",
	  "code: &c a\nname: x\nversion: 1\n",
	  "line 1: anchors and aliases are not allowed" },
	{ "merge key",
	  "code: a\n<<: {name: x}\nversion: 1\n",
	  "line 2: merge keys (<<) are not allowed" },
	{ "two documents",
	  "code: a\nname: x\nversion: 1\n---\ncode: b\n",
	  "line 4: more than one document" },
	{ "python tag",
	  "code: !!python/object/apply:os.system ['id']\nname: x\n",
	  "line 1: tags (such as !!python/object or !!str) are not allowed" },
	{ "local tag", "code: !foo a\n", "tags" },
	{ "str tag", "code: !!str a\n", "tags" },
	{ "deep nesting", NULL, "nested deeper than 32 levels" },
	{ "non-UTF-8", "code: a\nname: \xff\xfe\nversion: 1\n",
	  "config.yaml: not valid UTF-8" },
	{ "overlong UTF-8", "code: \xc0\xaf\n", "not valid UTF-8" },
	{ "UTF-16 with BOM", "\xff\xfe" "c\0o\0d\0e\0", "NUL bytes" },
	{ "NUL escape", "code: \"a\\0b\"\nname: x\n",
	  "line 1: NUL characters are not allowed" },
	{ "duplicate key",
	  "code: a\nname: x\ncode: b\nversion: 1\n",
	  "line 3: duplicate key 'code'" },
	{ "duplicate key in a nested mapping",
	  "code: a\nactions:\n  gradio: {entrypoint: a.b, entrypoint: c.d}\n",
	  "line 3: duplicate key 'entrypoint'" },
	{ "duplicate key, quoted and plain",
	  "code: a\n\"code\": b\n", "duplicate key 'code'" },
	{ "root is a list", "- code: a\n",
	  "config.yaml: the top level must be a mapping, not a list" },
	{ "root is a string", "hello\n", "the top level must be a mapping" },
	{ "only ---", "---\n", "the top level must be a mapping, not null" },
	{ "empty file", "", "config.yaml: empty file" },
	{ "comments only", "# nothing\n", "config.yaml: empty file" },
	{ "syntax error", "code: [a\n", "YAML syntax error" },
	{ "bad indentation", "code: a\n  name: b\n x: 1\n",
	  "YAML syntax error" },
	{ "complex key", "? [a, b]\n: c\n", "mapping keys must be strings" },
	{ "control character", "code: a\x01\n", "YAML syntax error" },
	{ "too many items", NULL, "more than 1024 items" },
	{ "too big", NULL, "config.yaml: file is larger than 64 KiB" },
};

static char *
build_bad(const char *name, size_t *lenp)
{
	struct buf b = BUF_INIT;
	size_t i;

	if (strcmp(name, "deep nesting") == 0) {
		buf_adds(&b, base_head);
		buf_adds(&b, "x: ");
		for (i = 0; i < 40; i++)
			buf_addch(&b, '[');
		for (i = 0; i < 40; i++)
			buf_addch(&b, ']');
		buf_addch(&b, '\n');
	} else if (strcmp(name, "too many items") == 0) {
		buf_adds(&b, base_head);
		buf_adds(&b, "x: [");
		for (i = 0; i < 1100; i++)
			buf_adds(&b, "1,");
		buf_adds(&b, "1]\n");
	} else {
		buf_adds(&b, base_head);
		buf_adds(&b, "pad: \"");
		for (i = 0; i < PLUGIN_CONFIG_MAX_BYTES; i++)
			buf_addch(&b, 'x');
		buf_adds(&b, "\"\n");
	}
	return buf_detach(&b, lenp);
}

static void
test_good(void)
{
	struct plugin_config pc;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct good_case *g = &good[i];
		int rc;

		err[0] = '\0';
		memset(&pc, 0xa5, sizeof(pc));
		rc = plugin_config_parse(g->yaml, strlen(g->yaml), &pc, err,
		    sizeof(err));
		ok(rc == 0, "good: %s", g->name);
		if (rc != 0) {
			printf("#   error: %s\n", err);
			continue;
		}
		is_str(pc.code, g->code, "  code");
		is_str(pc.version, g->version, "  version");
		is_str(pc.category, g->category, "  category");
		is_str(pc.module, g->module, "  module");
		is_str(pc.module_file, g->module_file, "  module_file");
		is_str(pc.attr, g->attr, "  attr");
	}
}

static void
test_bad(void)
{
	struct plugin_config pc, untouched;
	char err[256];
	char *data;
	size_t i, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_case *b = &bad[i];
		int rc;

		if (b->yaml != NULL) {
			len = strlen(b->yaml);
			/* the UTF-16 case carries NUL bytes */
			if (strcmp(b->name, "UTF-16 with BOM") == 0)
				len = 10;
			data = xstrndup(b->yaml, len);
		} else
			data = build_bad(b->name, &len);
		err[0] = '\0';
		memset(&pc, 0x5a, sizeof(pc));
		memcpy(&untouched, &pc, sizeof(pc));
		rc = plugin_config_parse(data, len, &pc, err, sizeof(err));
		ok(rc == -1 && strstr(err, b->expect) != NULL, "bad: %s",
		    b->name);
		if (rc != -1 || strstr(err, b->expect) == NULL)
			printf("#   rc %d, error '%s', expected '%s'\n", rc, err,
			    b->expect);
		ok(memcmp(&pc, &untouched, sizeof(pc)) == 0,
		    "  out untouched on failure");
		free(data);
	}
}

static void
test_loader(void)
{
	struct yamlcfg_node *root = NULL, *again = NULL;
	struct buf out = BUF_INIT;
	const struct yamlcfg_node *n;
	char err[256];
	int v;
	static const char doc[] =
	    "plain: true\n"
	    "quoted: \"true\"\n"
	    "null1:\n"
	    "null2: ~\n"
	    "port: \"8080:80\"\n"
	    "multi: |\n  line one\n  line two\n"
	    "list: [a, 'b c', 1]\n"
	    "'key with: colon': x\n"
	    "nested: {a: {b: [{c: d}]}}\n";
	static const char expect[] =
	    "plain: true\n"
	    "quoted: \"true\"\n"
	    "null1: null\n"
	    "null2: ~\n"
	    "port: \"8080:80\"\n"
	    "multi: |\n  line one\n  line two\n"
	    "list:\n- a\n- \"b c\"\n- 1\n"
	    "\"key with: colon\": x\n"
	    "nested:\n  a:\n    b:\n    - c: d\n";

	ok(yamlcfg_parse(doc, strlen(doc), "t.yaml", &root, err,
	    sizeof(err)) == 0, "loader: parses a mixed document");
	if (root == NULL) {
		printf("#   %s\n", err);
		return;
	}
	n = yamlcfg_get(root, "plain");
	ok(n && n->plain && yamlcfg_bool(n, &v) == 0 && v == 1,
	    "loader: plain true is a bool");
	n = yamlcfg_get(root, "quoted");
	ok(n && !n->plain && yamlcfg_bool(n, &v) == -1,
	    "loader: quoted \"true\" is a string");
	ok(yamlcfg_is_null(yamlcfg_get(root, "null1")) &&
	    yamlcfg_is_null(yamlcfg_get(root, "null2")), "loader: nulls");
	n = yamlcfg_get(root, "list");
	ok(n && n->type == YAMLCFG_SEQUENCE && n->n == 3, "loader: list");
	ok(yamlcfg_get(root, "missing") == NULL, "loader: missing key");
	is_str(yamlcfg_type_name(yamlcfg_get(root, "nested")), "a mapping",
	    "loader: type name");

	ok(yamlcfg_emit(root, &out, err, sizeof(err)) == 0, "emit: ok");
	is_str(out.data, expect, "emit: golden text");
	ok(yamlcfg_parse(out.data, out.len, "again", &again, err,
	    sizeof(err)) == 0, "emit: output parses again");
	n = yamlcfg_get(again, "quoted");
	ok(n && !n->plain, "emit: quoted stays a string");
	n = yamlcfg_get(again, "plain");
	ok(n && n->plain, "emit: plain stays plain");
	yamlcfg_free(again);
	yamlcfg_free(root);
	buf_release(&out);

	/* map_set replaces in place, map_del removes */
	root = yamlcfg_new_mapping();
	yamlcfg_map_set(root, "a", yamlcfg_new_string("1"));
	yamlcfg_map_set(root, "b", yamlcfg_new_plain("2"));
	yamlcfg_map_set(root, "a", yamlcfg_new_string("3"));
	yamlcfg_map_set(root, "c", yamlcfg_new_sequence());
	yamlcfg_map_del(root, "b");
	ok(yamlcfg_emit(root, &out, err, sizeof(err)) == 0 &&
	    strcmp(out.data, "a: \"3\"\nc: []\n") == 0, "build: set/del");
	if (strcmp(out.data, "a: \"3\"\nc: []\n") != 0)
		printf("#   got '%s'\n", out.data);
	yamlcfg_free(root);
	buf_release(&out);
}

static void
test_load_file(const char *srcdir)
{
	struct plugin_config pc;
	char path[1024], err[256];
	char *big;
	size_t n = 10 * 1024 * 1024;

	snprintf(path, sizeof(path), "%s/tests/data/plugin/good/config.yaml",
	    srcdir);
	ok(plugin_config_load(path, &pc, err, sizeof(err)) == 0,
	    "load: fixture config.yaml");
	is_str(pc.entrypoint, "plugin.gradio_interface.app", "  entrypoint");
	is_str(pc.name, "My Plugin", "  name");

	ok(plugin_config_load(tmp("nope.yaml"), &pc, err, sizeof(err)) == -1 &&
	    strcmp(err, "config.yaml: missing") == 0, "load: missing file");

	big = xmalloc(n);
	memset(big, '#', n);
	write_file(tmp("big.yaml"), big, n);
	free(big);
	ok(plugin_config_load(tmp("big.yaml"), &pc, err, sizeof(err)) == -1 &&
	    strstr(err, "config.yaml: file is larger than 64 KiB") != NULL,
	    "load: 10 MB file");

	if (symlink(path, tmp("link.yaml")) == -1)
		perror("symlink");
	ok(plugin_config_load(tmp("link.yaml"), &pc, err, sizeof(err)) == -1 &&
	    strstr(err, "symbolic link") != NULL, "load: symlinked config");
	ok(plugin_config_load(tmpdir, &pc, err, sizeof(err)) == -1 &&
	    strstr(err, "not a regular file") != NULL, "load: a directory");
}

static void
test_check_tree(const char *srcdir)
{
	struct plugin_config pc;
	char dir[1024], err[256];
	const char *cfg = seed_config;

	snprintf(dir, sizeof(dir), "%s/tests/data/plugin/good", srcdir);
	if (plugin_config_parse(cfg, strlen(cfg), &pc, err, sizeof(err)) == -1)
		printf("# %s\n", err);
	ok(plugin_config_check_tree(&pc, dir, err, sizeof(err)) == 0,
	    "tree: fixture module found");

	mkdir(tmp("p1"), 0755);
	ok(plugin_config_check_tree(&pc, tmp("p1"), err, sizeof(err)) == -1 &&
	    strstr(err, "plugin/gradio_interface.py is not in the plugin "
	    "archive") != NULL, "tree: missing module");

	/* module file is a link out */
	mkdir(tmp("p1/plugin"), 0755);
	if (symlink("/etc/passwd", tmp("p1/plugin/gradio_interface.py")) == -1)
		perror("symlink");
	ok(plugin_config_check_tree(&pc, tmp("p1"), err, sizeof(err)) == -1 &&
	    strstr(err, "symbolic link") != NULL, "tree: symlinked module");

	/* a directory on the way is a link out */
	mkdir(tmp("p2"), 0755);
	if (symlink(dir, tmp("p2/plugin")) == -1)
		perror("symlink");
	ok(plugin_config_check_tree(&pc, tmp("p2"), err, sizeof(err)) == -1 &&
	    strstr(err, "symbolic link") != NULL, "tree: symlinked directory");

	/* module is a directory */
	mkdir(tmp("p3"), 0755);
	mkdir(tmp("p3/plugin"), 0755);
	mkdir(tmp("p3/plugin/gradio_interface.py"), 0755);
	ok(plugin_config_check_tree(&pc, tmp("p3"), err, sizeof(err)) == -1 &&
	    strstr(err, "is not a regular file") != NULL,
	    "tree: module is a directory");

	/* module is a package */
	mkdir(tmp("p4"), 0755);
	mkdir(tmp("p4/plugin"), 0755);
	mkdir(tmp("p4/plugin/gradio_interface"), 0755);
	write_file(tmp("p4/plugin/gradio_interface/__init__.py"), "", 0);
	ok(plugin_config_check_tree(&pc, tmp("p4"), err, sizeof(err)) == 0,
	    "tree: package module");
	is_str(pc.module_file, "plugin/gradio_interface/__init__.py",
	    "  module_file points at the package");
}

static int
run_python(const char *script, const char *outpath)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { "python3", (char *)script, NULL };
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "PORT=7861",
	    "GRADIO_SERVER_NAME=127.0.0.1", "GRADIO_ROOT_PATH=/apps/abc",
	    "PLUGIN_PARAMS={\"input_size\": 512}", "PYTHONDONTWRITEBYTECODE=1",
	    NULL };
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, outpath,
	    O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (posix_spawnp(&pid, "python3", &fa, NULL, argv, envp) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -2;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* copy a fixture file into the temporary plugin tree */
static void
copy_fixture(const char *srcdir, const char *rel, const char *dst)
{
	char path[1024], *text;

	snprintf(path, sizeof(path), "%s/tests/data/plugin/%s", srcdir, rel);
	if ((text = read_text(path)) == NULL) {
		perror(path);
		exit(1);
	}
	write_file(dst, text, strlen(text));
	free(text);
}

static void
test_launcher(const char *srcdir)
{
	struct plugin_config pc, broken;
	struct buf out = BUF_INIT;
	char path[1024], err[256], *expect, *got;
	int rc;

	snprintf(path, sizeof(path), "%s/tests/data/plugin/good/config.yaml",
	    srcdir);
	if (plugin_config_load(path, &pc, err, sizeof(err)) == -1)
		printf("# %s\n", err);
	ok(plugin_launcher_py(&pc, &out) == 0, "launcher: generated");
	snprintf(path, sizeof(path), "%s/tests/data/plugin/launcher.expected.py",
	    srcdir);
	expect = read_text(path);
	ok(expect != NULL && strcmp(out.data, expect) == 0,
	    "launcher: golden text");
	if (expect == NULL || strcmp(out.data, expect) != 0)
		printf("# got:\n%s\n", out.data);
	free(expect);

	/* run it: dotted entry, `app` missing, falls back to `demo` */
	mkdir(tmp("run"), 0755);
	mkdir(tmp("run/plugin"), 0755);
	copy_fixture(srcdir, "good/plugin/__init__.py",
	    tmp("run/plugin/__init__.py"));
	copy_fixture(srcdir, "good/plugin/gradio_interface.py",
	    tmp("run/plugin/gradio_interface.py"));
	write_file(tmp("run/launch.py"), out.data, out.len);
	rc = run_python(tmp("run/launch.py"), tmp("run/out.txt"));
	if (rc == -2) {
		ok(1, "# SKIP python3 not found");
	} else {
		got = read_text(tmp("run/out.txt"));
		is(rc, 0, "launcher: python3 runs it");
		is_str(got, "{\"params\": {\"input_size\": 512}, \"root_path\": "
		    "\"/apps/abc\", \"server_name\": \"127.0.0.1\", "
		    "\"server_port\": 7861}\n", "launcher: app launched with "
		    "PORT, GRADIO_SERVER_NAME, GRADIO_ROOT_PATH");
		free(got);
	}

	/* file form: a function returning an app whose launch() has no
	 * root_path; the file is not run as __main__ */
	snprintf(path, sizeof(path),
	    "%s/tests/data/plugin/fileform/config.yaml", srcdir);
	buf_reset(&out);
	if (plugin_config_load(path, &pc, err, sizeof(err)) == -1)
		printf("# %s\n", err);
	mkdir(tmp("run2"), 0755);
	mkdir(tmp("run2/app"), 0755);
	copy_fixture(srcdir, "fileform/app/ui_main.py",
	    tmp("run2/app/ui_main.py"));
	snprintf(path, sizeof(path), "%s/tests/data/plugin/fileform", srcdir);
	ok(plugin_config_check_tree(&pc, path, err, sizeof(err)) == 0,
	    "launcher: file form module found");
	ok(plugin_launcher_py(&pc, &out) == 0 &&
	    strstr(out.data, "MODULE = ''\nMODULE_FILE = 'app/ui_main.py'\n"
	    "ATTR = ''\n") != NULL, "launcher: file form constants");
	write_file(tmp("run2/launch.py"), out.data, out.len);
	rc = run_python(tmp("run2/launch.py"), tmp("run2/out.txt"));
	if (rc != -2) {
		got = read_text(tmp("run2/out.txt"));
		is(rc, 0, "launcher: file form runs");
		is_str(got, "old launch 127.0.0.1 7861\n",
		    "launcher: function called, root_path left out");
		free(got);
	}

	/* nothing unvalidated reaches the text */
	broken = pc;
	str_copy(broken.module_file, sizeof(broken.module_file),
	    "x'+__import__('os').system('id')+'.py");
	buf_reset(&out);
	ok(plugin_launcher_py(&broken, &out) == -1 && out.len == 0,
	    "launcher: refuses an unvalidated module_file");
	broken = pc;
	str_copy(broken.module, sizeof(broken.module), "a.b");
	str_copy(broken.attr, sizeof(broken.attr), "x;y");
	ok(plugin_launcher_py(&broken, &out) == -1,
	    "launcher: refuses an unvalidated attribute");
	buf_release(&out);
}

int
main(void)
{
	const char *srcdir = getenv("SLIPWAY_SRCDIR");

	if (srcdir == NULL)
		srcdir = SLIPWAY_SRCDIR;
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_good();
	test_bad();
	test_loader();
	test_load_file(srcdir);
	test_check_tree(srcdir);
	test_launcher(srcdir);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
