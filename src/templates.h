/*
 * templates: the templates table and the folders behind it.
 *
 * A template is a source tree (what an upload unpacks to) in a folder:
 *   - stored by the API (POST /templates, /save_template): under
 *     <templates_dir>/.store/<random>, owned by the user who made it;
 *   - dropped in by the operator: a folder directly in templates_dir
 *     (owner none: admins edit it) or in builtin_templates_dir (builtin:
 *     read-only).  templates_register() registers such folders, keyed by
 *     their absolute path (INSERT OR IGNORE on the UNIQUE dir), so it is
 *     idempotent and safe to run from every worker at once.  Names that
 *     start with '.' are never registered (.store, .deleting-*).
 *
 * An optional template.json in a dropped folder gives {"name",
 * "description", "vram_required"}; it is parsed strictly, and a bad value
 * is ignored with a log line.  Without a usable name the folder's name is
 * used; on a name clash "-2" .. "-9" is appended.
 *
 * Template names follow the app name grammar, or "code@version" (a plugin
 * release, so the container API can find a template by release).
 */
#ifndef SLIPWAY_TEMPLATES_H
#define SLIPWAY_TEMPLATES_H

#include <stdint.h>

struct conf;
struct db;
struct json_object;
struct user;

struct template {
	int64_t	 id;
	char	*name;
	char	*description;
	char	*type;		/* gradio docker compose image plugin */
	int64_t	 vram_required;
	int64_t	 owner_id;	/* 0 = none (a dropped folder) */
	char	*owner;		/* username, NULL = none */
	int	 builtin;
	char	*dir;		/* absolute path of its sources */
	int64_t	 created_at;
};

enum templates_result {
	TEMPLATES_OK,
	TEMPLATES_NOT_FOUND,
	TEMPLATES_CONFLICT,	/* name taken */
	TEMPLATES_ERROR,
	TEMPLATES__MAX
};

/* ^[a-z0-9][a-z0-9_-]{0,62}$ or a plugin release "code@version".  0 or -1. */
int	template_valid_name(const char *);

/*
 * Forget rows whose folder is gone (removed from a directory that still
 * exists, or a built-in no longer under builtin_templates_dir), then
 * register the folders of builtin_templates_dir (builtin) and
 * templates_dir not yet in the table.  0, or -1 on a database error
 * (logged; a folder that is not a valid app is skipped with a log line).
 */
int	templates_register(struct db *, const struct conf *);

/* By numeric id, or else by name.  Caller frees with template_free(). */
enum templates_result template_load(struct db *, const char *key,
	    struct template **out);
enum templates_result template_load_id(struct db *, int64_t id,
	    struct template **out);
void	template_free(struct template *);

/* May this user edit or delete it?  Never a builtin; else owner or admin. */
int	template_may_change(const struct template *, const struct user *);

/* Every template as a JSON array, oldest first (caller owns it). */
int	templates_list_json(struct db *, struct json_object **out);
/* {"id","template_id","name","description","type","vram_required",
 *  "created_at","builtin","owner"}; caller owns it. */
struct json_object *template_to_json(const struct template *);

struct template_new {
	const char	*name;
	const char	*description;	/* NULL = "" */
	const char	*type;
	int64_t		 vram_required;
	int64_t		 owner_id;	/* 0 = none */
	int		 builtin;
	const char	*dir;		/* absolute */
};
/* Insert a row; CONFLICT when the name (or dir) is taken. */
enum templates_result template_insert(struct db *, const struct template_new *,
	    int64_t *id_out);

/* Change any of name, description (NULL: keep), vram_required (-1: keep). */
enum templates_result template_update(struct db *, int64_t id,
	    const char *name, const char *description, int64_t vram_required);
/* Delete the row (not the files).  NOT_FOUND if already gone. */
enum templates_result template_delete(struct db *, int64_t id);

/*
 * Where a new stored template goes: <templates_dir>/.store/<random> (the
 * .store directory is created, the folder itself is not).  Caller frees.
 * NULL on error (logged).
 */
char	*templates_store_path(const struct conf *);

#endif
