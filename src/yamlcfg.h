/*
 * yamlcfg: a strict YAML loader over libyaml's event API, and the Synapse
 * plugin config.yaml built on it.
 *
 * The loader accepts one document of plain data and nothing else:
 *   - no anchors, no aliases (no "billion laughs"), no merge keys (<<),
 *     no explicit tags (!!python/object, !!str, ...);
 *   - one document; mapping keys are strings, unique within their mapping;
 *   - UTF-8 only, no NUL bytes (also none produced by "\0" escapes);
 *   - depth <= YAML_MAX_DEPTH, <= YAML_MAX_NODES nodes, <= YAML_MAX_ENTRIES
 *     items per mapping or list (caps.h).
 * Scalars keep their text and whether they were written plain (a plain
 * scalar may be a null, bool or number to YAML 1.1 readers; a quoted or
 * block scalar is always a string), so a tree can be emitted again with
 * the same meaning (yamlcfg_emit, used by compose.c to write the
 * normalised compose file).
 *
 * Error messages are written to err (truncated to errlen) as
 * "<label>: <where>: <what>", fit to show a client; they never contain
 * host paths other than what the caller passed as label.
 */
#ifndef SLIPWAY_YAMLCFG_H
#define SLIPWAY_YAMLCFG_H

#include <stddef.h>

#include "caps.h"

struct buf;

enum yamlcfg_type {
	YAMLCFG_SCALAR,
	YAMLCFG_SEQUENCE,
	YAMLCFG_MAPPING,
	YAMLCFG__MAX
};

struct yamlcfg_node {
	enum yamlcfg_type	  type;
	char			 *key;		/* in a mapping: its key, else NULL */
	int			  key_plain;	/* the key was written plain */
	size_t			  line;		/* 1-based (of the key in a mapping);
						   0 for built nodes */
	char			 *text;		/* scalar text (NUL-free), else NULL */
	size_t			  len;		/* strlen(text) */
	int			  plain;	/* scalar written plain */
	struct yamlcfg_node	**kids;		/* items, or mapping values (keyed) */
	size_t			  n;
	size_t			  cap;
};

/*
 * Parse len bytes (need not be NUL-terminated).  label names the file in
 * messages ("config.yaml").  On success *out is the root (caller frees
 * with yamlcfg_free()).
 */
int	yamlcfg_parse(const char *data, size_t len, const char *label,
	    struct yamlcfg_node **out, char *err, size_t errlen);
/*
 * Read a regular file (not a symlink) of at most max_bytes into *data
 * (NUL-terminated, caller frees).  Messages carry label, never path.
 */
int	yamlcfg_read_file(const char *path, const char *label, size_t max_bytes,
	    char **data, size_t *lenp, char *err, size_t errlen);
void	yamlcfg_free(struct yamlcfg_node *);

/* Lookups (borrowed pointers).  NULL when map is not a mapping. */
const struct yamlcfg_node *yamlcfg_get(const struct yamlcfg_node *map,
	    const char *key);
/* Plain empty, "~" or null/Null/NULL. */
int	yamlcfg_is_null(const struct yamlcfg_node *);
/* YAML 1.1 bool (plain true/false/yes/no/on/off in three casings): 0 and
 * *val set, else -1. */
int	yamlcfg_bool(const struct yamlcfg_node *, int *val);
/* "a mapping", "a list", "a string", "null": for messages. */
const char *yamlcfg_type_name(const struct yamlcfg_node *);
/* Copy a key or scalar into dst for a message: printable ASCII only, other
 * bytes as '?', cut to dstsz-1 with "..." . */
void	yamlcfg_quote(char *dst, size_t dstsz, const char *s);

/* Building and changing trees (no caps apply).  Nodes passed in are owned
 * by the tree afterwards. */
struct yamlcfg_node *yamlcfg_new_string(const char *);	/* emitted quoted */
struct yamlcfg_node *yamlcfg_new_plain(const char *);	/* emitted plain */
struct yamlcfg_node *yamlcfg_new_mapping(void);
struct yamlcfg_node *yamlcfg_new_sequence(void);
struct yamlcfg_node *yamlcfg_clone(const struct yamlcfg_node *);
void	yamlcfg_seq_add(struct yamlcfg_node *seq, struct yamlcfg_node *);
/* Replace the value under key (keeping its place) or append it. */
void	yamlcfg_map_set(struct yamlcfg_node *map, const char *key,
	    struct yamlcfg_node *);
void	yamlcfg_map_del(struct yamlcfg_node *map, const char *key);

/* Emit one block-style document (no "---") with libyaml's emitter. */
int	yamlcfg_emit(const struct yamlcfg_node *root, struct buf *out,
	    char *err, size_t errlen);

/*
 * Synapse plugin config.yaml.
 *
 * Required: code (^[a-z0-9][a-z0-9_-]{0,62}$), name (text, 1..200 bytes),
 * version (^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$), actions.gradio.entrypoint.
 * Optional: category (text <= 64 bytes).  Other keys are ignored (but the
 * whole file still goes through the strict loader).
 *
 * The entrypoint is either
 *   - a dotted path "pkg.module.attr": every component
 *     ^[A-Za-z_][A-Za-z0-9_]*$, at least two; module is "pkg.module",
 *     module_file "pkg/module.py", attr "attr"; or
 *   - a file path "plugin/gradio_interface.py": relative, ending in .py,
 *     components ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ (so no "..", no hidden
 *     files, no empty components); module "" and attr "" (the launcher
 *     loads the file by path and looks for the app object).
 *
 * Launch convention (plugin_launcher_py): the named attribute, else
 * `demo`, else `app`; an object with .launch() is launched, a callable
 * without .launch() is called first (a function returning the Blocks).
 */
struct plugin_config {
	char	code[64];
	char	version[33];
	char	name[PLUGIN_NAME_MAX + 1];
	char	category[PLUGIN_CATEGORY_MAX + 1];	/* "" when absent */
	char	entrypoint[PLUGIN_ENTRYPOINT_MAX + 1];	/* as written */
	char	module_file[PLUGIN_ENTRYPOINT_MAX + 1];	/* relative .py path */
	char	module[PLUGIN_ENTRYPOINT_MAX + 1];	/* dotted; "" in file form */
	char	attr[PLUGIN_ENTRYPOINT_MAX + 1];	/* "" in file form */
};

/* Load and validate <path> (a config.yaml); messages start "config.yaml: ". */
int	plugin_config_load(const char *path, struct plugin_config *out,
	    char *err, size_t errlen);
int	plugin_config_parse(const char *data, size_t len,
	    struct plugin_config *out, char *err, size_t errlen);
/*
 * Check that the entry module exists inside the unpacked plugin at dir:
 * every component of module_file is reached without following a symbolic
 * link and the last is a regular file.  For the dotted form
 * "pkg/module.py" may instead be the package "pkg/module/__init__.py";
 * module_file is updated to what was found.
 */
int	plugin_config_check_tree(struct plugin_config *, const char *dir,
	    char *err, size_t errlen);
/*
 * Append the text of a Python launcher (write it at the plugin root, run
 * it with that directory as the import root).  It imports the module,
 * finds the app by the convention above and calls
 * app.launch(server_name=$GRADIO_SERVER_NAME (0.0.0.0),
 * server_port=$PORT (else $GRADIO_SERVER_PORT), root_path=$GRADIO_ROOT_PATH)
 * (root_path left out for a launch() that does not take it).
 * Only validated identifiers reach the text; -1 if cfg is not valid.
 */
int	plugin_launcher_py(const struct plugin_config *, struct buf *out);

#endif
