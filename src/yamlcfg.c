/*
 * yamlcfg: strict YAML loading over libyaml's event API (no hand parsing),
 * a small emitter for trees, and the Synapse plugin config.yaml.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "buf.h"
#include "caps.h"
#include "log.h"
#include "valid.h"
#include "yamlcfg.h"

/*
 * Messages
 */

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	/* Messages are cut to the caller's buffer on purpose. */
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void
yamlcfg_quote(char *dst, size_t dstsz, const char *s)
{
	size_t i, o = 0;

	if (dstsz == 0)
		return;
	for (i = 0; s[i] != '\0' && o + 1 < dstsz; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o + 4 >= dstsz && s[i + 1] != '\0') {
			while (o + 3 >= dstsz && o > 0)
				o--;
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
}

const char *
yamlcfg_type_name(const struct yamlcfg_node *n)
{
	if (n == NULL || yamlcfg_is_null(n))
		return "null";
	switch (n->type) {
	case YAMLCFG_MAPPING:
		return "a mapping";
	case YAMLCFG_SEQUENCE:
		return "a list";
	default:
		return "a string";
	}
}

/*
 * Nodes
 */

static struct yamlcfg_node *
node_new(enum yamlcfg_type type)
{
	struct yamlcfg_node *n = xcalloc(1, sizeof(*n));

	n->type = type;
	return n;
}

static void
node_add(struct yamlcfg_node *parent, struct yamlcfg_node *kid)
{
	if (parent->n == parent->cap) {
		parent->cap = parent->cap ? st_mult(parent->cap, 2) : 4;
		parent->kids = xrealloc(parent->kids,
		    st_mult(parent->cap, sizeof(*parent->kids)));
	}
	parent->kids[parent->n++] = kid;
}

void
yamlcfg_free(struct yamlcfg_node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		yamlcfg_free(n->kids[i]);
	free(n->kids);
	free(n->key);
	free(n->text);
	free(n);
}

struct yamlcfg_node *
yamlcfg_new_string(const char *s)
{
	struct yamlcfg_node *n = node_new(YAMLCFG_SCALAR);

	n->text = xstrdup(s);
	n->len = strlen(s);
	return n;
}

struct yamlcfg_node *
yamlcfg_new_plain(const char *s)
{
	struct yamlcfg_node *n = yamlcfg_new_string(s);

	n->plain = 1;
	return n;
}

struct yamlcfg_node *
yamlcfg_new_mapping(void)
{
	return node_new(YAMLCFG_MAPPING);
}

struct yamlcfg_node *
yamlcfg_new_sequence(void)
{
	return node_new(YAMLCFG_SEQUENCE);
}

struct yamlcfg_node *
yamlcfg_clone(const struct yamlcfg_node *n)
{
	struct yamlcfg_node *c;
	size_t i;

	c = node_new(n->type);
	c->key = n->key ? xstrdup(n->key) : NULL;
	c->key_plain = n->key_plain;
	c->line = n->line;
	if (n->text != NULL) {
		c->text = xstrndup(n->text, n->len);
		c->len = n->len;
	}
	c->plain = n->plain;
	for (i = 0; i < n->n; i++)
		node_add(c, yamlcfg_clone(n->kids[i]));
	return c;
}

void
yamlcfg_seq_add(struct yamlcfg_node *seq, struct yamlcfg_node *kid)
{
	free(kid->key);
	kid->key = NULL;
	node_add(seq, kid);
}

void
yamlcfg_map_set(struct yamlcfg_node *map, const char *key,
    struct yamlcfg_node *val)
{
	size_t i;

	free(val->key);
	val->key = xstrdup(key);
	val->key_plain = 1;
	for (i = 0; i < map->n; i++) {
		if (strcmp(map->kids[i]->key, key) == 0) {
			val->key_plain = map->kids[i]->key_plain;
			yamlcfg_free(map->kids[i]);
			map->kids[i] = val;
			return;
		}
	}
	node_add(map, val);
}

void
yamlcfg_map_del(struct yamlcfg_node *map, const char *key)
{
	size_t i;

	for (i = 0; i < map->n; i++) {
		if (strcmp(map->kids[i]->key, key) == 0) {
			yamlcfg_free(map->kids[i]);
			memmove(&map->kids[i], &map->kids[i + 1],
			    (map->n - i - 1) * sizeof(*map->kids));
			map->n--;
			return;
		}
	}
}

const struct yamlcfg_node *
yamlcfg_get(const struct yamlcfg_node *map, const char *key)
{
	size_t i;

	if (map == NULL || map->type != YAMLCFG_MAPPING)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (strcmp(map->kids[i]->key, key) == 0)
			return map->kids[i];
	return NULL;
}

int
yamlcfg_is_null(const struct yamlcfg_node *n)
{
	if (n == NULL || n->type != YAMLCFG_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->text, "~") == 0 ||
	    strcmp(n->text, "null") == 0 || strcmp(n->text, "Null") == 0 ||
	    strcmp(n->text, "NULL") == 0;
}

int
yamlcfg_bool(const struct yamlcfg_node *n, int *val)
{
	static const char *const yes[] = {
		"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"
	};
	static const char *const no[] = {
		"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"
	};
	size_t i;

	if (n == NULL || n->type != YAMLCFG_SCALAR || !n->plain)
		return -1;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(n->text, yes[i]) == 0) {
			*val = 1;
			return 0;
		}
		if (strcmp(n->text, no[i]) == 0) {
			*val = 0;
			return 0;
		}
	}
	return -1;
}

/*
 * Loading: libyaml events into a tree, refusing everything that is not
 * plain data.
 */

struct frame {
	struct yamlcfg_node	*node;
	char			*pending_key;	/* mapping: key awaiting its value */
	int			 pending_plain;
	size_t			 pending_line;
};

struct loader {
	const char		*label;
	char			*err;
	size_t			 errlen;
	struct yamlcfg_node	*root;
	struct frame		 stack[YAML_MAX_DEPTH];
	size_t			 depth;
	size_t			 nodes;
	int			 docs;
};

static void __attribute__((format(printf, 3, 4)))
load_err(struct loader *ld, size_t line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(ld->err, ld->errlen, "%s: line %zu: %s", ld->label, line, msg);
}

static int
check_properties(struct loader *ld, size_t line, const yaml_char_t *anchor,
    const yaml_char_t *tag)
{
	if (anchor != NULL) {
		load_err(ld, line, "anchors and aliases are not allowed");
		return -1;
	}
	if (tag != NULL) {
		load_err(ld, line, "tags (such as !!python/object or !!str) "
		    "are not allowed");
		return -1;
	}
	return 0;
}

static int
key_cmp(const void *a, const void *b)
{
	const struct yamlcfg_node *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

static int
check_duplicates(struct loader *ld, const struct yamlcfg_node *map)
{
	struct yamlcfg_node **sorted;
	char q[80];
	size_t i;
	int rc = 0;

	if (map->n < 2)
		return 0;
	sorted = xmalloc(st_mult(map->n, sizeof(*sorted)));
	memcpy(sorted, map->kids, map->n * sizeof(*sorted));
	qsort(sorted, map->n, sizeof(*sorted), key_cmp);
	for (i = 1; i < map->n; i++) {
		if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0) {
			const struct yamlcfg_node *second =
			    sorted[i - 1]->line > sorted[i]->line ?
			    sorted[i - 1] : sorted[i];

			yamlcfg_quote(q, sizeof(q), sorted[i]->key);
			load_err(ld, second->line, "duplicate key '%s'", q);
			rc = -1;
			break;
		}
	}
	free(sorted);
	return rc;
}

/* Hang n below the open collection (or make it the root); takes n. */
static int
attach(struct loader *ld, struct yamlcfg_node *n)
{
	struct frame *f;

	if (ld->nodes >= YAML_MAX_NODES) {
		load_err(ld, n->line, "more than %d values", YAML_MAX_NODES);
		goto fail;
	}
	ld->nodes++;
	if (ld->depth == 0) {
		if (ld->root != NULL) {
			load_err(ld, n->line, "more than one document");
			goto fail;
		}
		ld->root = n;
		return 0;
	}
	f = &ld->stack[ld->depth - 1];
	if (f->node->n >= YAML_MAX_ENTRIES) {
		load_err(ld, n->line, "more than %d items in one %s",
		    YAML_MAX_ENTRIES, f->node->type == YAMLCFG_MAPPING ?
		    "mapping" : "list");
		goto fail;
	}
	if (f->node->type == YAMLCFG_MAPPING) {
		n->key = f->pending_key;
		n->key_plain = f->pending_plain;
		n->line = f->pending_line;	/* where the entry starts */
		f->pending_key = NULL;
	}
	node_add(f->node, n);
	return 0;
fail:
	yamlcfg_free(n);
	return -1;
}

static int
in_key_position(const struct loader *ld)
{
	const struct frame *f;

	if (ld->depth == 0)
		return 0;
	f = &ld->stack[ld->depth - 1];
	return f->node->type == YAMLCFG_MAPPING && f->pending_key == NULL;
}

static int
on_scalar(struct loader *ld, const yaml_event_t *ev, size_t line)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	struct yamlcfg_node *n;
	struct frame *f;

	if (check_properties(ld, line, ev->data.scalar.anchor,
	    ev->data.scalar.tag) == -1)
		return -1;
	if (memchr(text, '\0', len) != NULL) {
		load_err(ld, line, "NUL characters are not allowed");
		return -1;
	}
	if (in_key_position(ld)) {
		f = &ld->stack[ld->depth - 1];
		if (len > YAML_MAX_KEY) {
			load_err(ld, line, "key longer than %d bytes",
			    YAML_MAX_KEY);
			return -1;
		}
		if (len == 2 && memcmp(text, "<<", 2) == 0) {
			load_err(ld, line, "merge keys (<<) are not allowed");
			return -1;
		}
		if (ld->nodes >= YAML_MAX_NODES) {
			load_err(ld, line, "more than %d values",
			    YAML_MAX_NODES);
			return -1;
		}
		ld->nodes++;
		f->pending_key = xstrndup(text, len);
		f->pending_plain = plain;
		f->pending_line = line;
		return 0;
	}
	n = node_new(YAMLCFG_SCALAR);
	n->line = line;
	n->text = xstrndup(text, len);
	n->len = len;
	n->plain = plain;
	return attach(ld, n);
}

static int
on_collection_start(struct loader *ld, enum yamlcfg_type type,
    const yaml_char_t *anchor, const yaml_char_t *tag, size_t line)
{
	struct yamlcfg_node *n;

	if (check_properties(ld, line, anchor, tag) == -1)
		return -1;
	if (in_key_position(ld)) {
		load_err(ld, line, "mapping keys must be strings");
		return -1;
	}
	if (ld->depth >= YAML_MAX_DEPTH) {
		load_err(ld, line, "nested deeper than %d levels",
		    YAML_MAX_DEPTH);
		return -1;
	}
	n = node_new(type);
	n->line = line;
	if (attach(ld, n) == -1)
		return -1;
	ld->stack[ld->depth].node = n;
	ld->stack[ld->depth].pending_key = NULL;
	ld->depth++;
	return 0;
}

static int
on_collection_end(struct loader *ld)
{
	struct frame *f;

	if (ld->depth == 0)
		return 0;	/* libyaml balances these; be safe */
	f = &ld->stack[--ld->depth];
	free(f->pending_key);
	f->pending_key = NULL;
	if (f->node->type == YAMLCFG_MAPPING)
		return check_duplicates(ld, f->node);
	return 0;
}

int
yamlcfg_parse(const char *data, size_t len, const char *label,
    struct yamlcfg_node **out, char *err, size_t errlen)
{
	struct loader ld;
	yaml_parser_t parser;
	yaml_event_t ev;
	size_t i, line;
	int parser_ok = 0, have_event = 0, done = 0, rc = -1;

	memset(&ld, 0, sizeof(ld));
	ld.label = label;
	ld.err = err;
	ld.errlen = errlen;

	if (memchr(data, '\0', len) != NULL) {
		set_err(err, errlen, "%s: NUL bytes are not allowed", label);
		goto out;
	}
	if (valid_utf8(data, len) == -1) {
		set_err(err, errlen, "%s: not valid UTF-8", label);
		goto out;
	}
	if (!yaml_parser_initialize(&parser))
		fatalx("yaml_parser_initialize: out of memory");
	parser_ok = 1;
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			set_err(err, errlen, "%s: line %zu: YAML syntax error: "
			    "%s", label, parser.problem_mark.line + 1,
			    parser.problem ? parser.problem : "unknown");
			goto out;
		}
		have_event = 1;
		line = ev.start_mark.line + 1;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
		case YAML_NO_EVENT:
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (ld.docs++ > 0) {
				load_err(&ld, line, "more than one document");
				goto out;
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_ALIAS_EVENT:
			load_err(&ld, line, "anchors and aliases are not "
			    "allowed");
			goto out;
		case YAML_SCALAR_EVENT:
			if (on_scalar(&ld, &ev, line) == -1)
				goto out;
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (on_collection_start(&ld, YAMLCFG_SEQUENCE,
			    ev.data.sequence_start.anchor,
			    ev.data.sequence_start.tag, line) == -1)
				goto out;
			break;
		case YAML_MAPPING_START_EVENT:
			if (on_collection_start(&ld, YAMLCFG_MAPPING,
			    ev.data.mapping_start.anchor,
			    ev.data.mapping_start.tag, line) == -1)
				goto out;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (on_collection_end(&ld) == -1)
				goto out;
			break;
		}
		yaml_event_delete(&ev);
		have_event = 0;
	}
	if (ld.root == NULL) {
		set_err(err, errlen, "%s: empty file", label);
		goto out;
	}
	*out = ld.root;
	ld.root = NULL;
	rc = 0;
out:
	if (have_event)
		yaml_event_delete(&ev);
	if (parser_ok)
		yaml_parser_delete(&parser);
	for (i = 0; i < ld.depth; i++)
		free(ld.stack[i].pending_key);
	yamlcfg_free(ld.root);
	return rc;
}

int
yamlcfg_read_file(const char *path, const char *label, size_t max_bytes,
    char **data, size_t *lenp, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	struct stat st;
	char chunk[8192];
	ssize_t r;
	int fd = -1, rc = -1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			set_err(err, errlen, "%s: missing", label);
		else if (errno == ELOOP)
			set_err(err, errlen, "%s: is a symbolic link", label);
		else {
			log_warn("open %s", path);
			set_err(err, errlen, "%s: cannot be read", label);
		}
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("fstat %s", path);
		set_err(err, errlen, "%s: cannot be read", label);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s: not a regular file", label);
		goto out;
	}
	if ((unsigned long long)st.st_size > max_bytes) {
		set_err(err, errlen, "%s: file is larger than %zu KiB", label,
		    max_bytes / 1024);
		goto out;
	}
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			log_warn("read %s", path);
			set_err(err, errlen, "%s: cannot be read", label);
			goto out;
		}
		if (r == 0)
			break;
		if (b.len + (size_t)r > max_bytes) {
			set_err(err, errlen, "%s: file is larger than %zu KiB",
			    label, max_bytes / 1024);
			goto out;
		}
		buf_add(&b, chunk, (size_t)r);
	}
	*lenp = b.len;
	*data = buf_detach(&b, NULL);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	buf_release(&b);
	return rc;
}

/*
 * Emitting
 */

static int
emit_write(void *data, unsigned char *bytes, size_t size)
{
	buf_add(data, bytes, size);
	return 1;
}

static int
emit_scalar(yaml_emitter_t *em, const char *text, size_t len, int plain,
    int is_key)
{
	yaml_event_t ev;
	yaml_scalar_style_t style;

	if (plain) {
		/* An empty plain value is a null: say so explicitly.  (Not
		 * for keys: "null" could then clash with a real "null" key;
		 * the emitter quotes an empty key.) */
		if (len == 0 && !is_key) {
			text = "null";
			len = 4;
		}
		style = YAML_ANY_SCALAR_STYLE;
	} else if (memchr(text, '\n', len) != NULL)
		style = YAML_LITERAL_SCALAR_STYLE;
	else
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	/*
	 * plain_implicit=0 for quoted strings: the emitter must quote them, so
	 * "true" or "8080:80" stay strings for YAML 1.1 readers.
	 */
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL,
	    (yaml_char_t *)(uintptr_t)text, (int)len, plain ? 1 : 0, 1,
	    style))
		return -1;
	return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int
emit_node(yaml_emitter_t *em, const struct yamlcfg_node *n)
{
	yaml_event_t ev;
	size_t i;

	switch (n->type) {
	case YAMLCFG_SCALAR:
		return emit_scalar(em, n->text, n->len, n->plain, 0);
	case YAMLCFG_SEQUENCE:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
		    YAML_BLOCK_SEQUENCE_STYLE) || !yaml_emitter_emit(em, &ev))
			return -1;
		for (i = 0; i < n->n; i++)
			if (emit_node(em, n->kids[i]) == -1)
				return -1;
		if (!yaml_sequence_end_event_initialize(&ev) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		return 0;
	case YAMLCFG_MAPPING:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
		    YAML_BLOCK_MAPPING_STYLE) || !yaml_emitter_emit(em, &ev))
			return -1;
		for (i = 0; i < n->n; i++) {
			if (emit_scalar(em, n->kids[i]->key,
			    strlen(n->kids[i]->key), n->kids[i]->key_plain, 1) ==
			    -1 || emit_node(em, n->kids[i]) == -1)
				return -1;
		}
		if (!yaml_mapping_end_event_initialize(&ev) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		return 0;
	default:
		return -1;
	}
}

int
yamlcfg_emit(const struct yamlcfg_node *root, struct buf *out, char *err,
    size_t errlen)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	size_t start = out->len;
	int rc = -1;

	if (!yaml_emitter_initialize(&em))
		fatalx("yaml_emitter_initialize: out of memory");
	yaml_emitter_set_output(&em, emit_write, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_indent(&em, 2);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_break(&em, YAML_LN_BREAK);
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    !yaml_emitter_emit(&em, &ev))
		goto fail;
	if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
	    !yaml_emitter_emit(&em, &ev))
		goto fail;
	if (emit_node(&em, root) == -1)
		goto fail;
	if (!yaml_document_end_event_initialize(&ev, 1) ||
	    !yaml_emitter_emit(&em, &ev))
		goto fail;
	if (!yaml_stream_end_event_initialize(&ev) ||
	    !yaml_emitter_emit(&em, &ev) || !yaml_emitter_flush(&em))
		goto fail;
	rc = 0;
	goto out;
fail:
	log_warnx("yaml emitter: %s", em.problem ? em.problem : "failed");
	set_err(err, errlen, "cannot write YAML: %s",
	    em.problem ? em.problem : "emitter failed");
	buf_truncate(out, start);
out:
	yaml_emitter_delete(&em);
	return rc;
}

/*
 * Synapse plugin config.yaml
 */

#define PLUGIN_LABEL	"config.yaml"

static int
is_ident(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int
is_path_component(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9') ||
	    s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

/* Dotted identifiers ("a.b.c"), at least min_parts of them. */
static int
is_dotted(const char *s, size_t min_parts)
{
	const char *p = s, *dot;
	size_t parts = 0;

	for (;;) {
		dot = strchr(p, '.');
		if (!is_ident(p, dot ? (size_t)(dot - p) : strlen(p)))
			return 0;
		parts++;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	return parts >= min_parts;
}

/* Relative path of safe components; *why says what is wrong. */
static int
is_safe_relpath(const char *s, const char **why)
{
	const char *p = s, *slash;
	size_t n;

	if (*s == '/') {
		*why = "must be a relative path inside the plugin, "
		    "not an absolute path";
		return 0;
	}
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if ((n == 2 && memcmp(p, "..", 2) == 0)) {
			*why = "must not contain '..'";
			return 0;
		}
		if (n == 0 || (n == 1 && *p == '.')) {
			*why = "must not contain empty or '.' components";
			return 0;
		}
		if (!is_path_component(p, n)) {
			*why = "path components may only contain letters, "
			    "digits, '_', '.' and '-' (not first)";
			return 0;
		}
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return 1;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int
entry_parse(const char *s, struct plugin_config *pc, char *err, size_t errlen)
{
	const char *why, *last;
	size_t n = strlen(s), i;

	if (n == 0 || n > PLUGIN_ENTRYPOINT_MAX) {
		set_err(err, errlen, "%s: actions.gradio.entrypoint: must be "
		    "1 to %d bytes", PLUGIN_LABEL, PLUGIN_ENTRYPOINT_MAX);
		return -1;
	}
	if (strchr(s, '/') != NULL || ends_with(s, ".py")) {
		/* file form */
		if (!is_safe_relpath(s, &why)) {
			set_err(err, errlen, "%s: actions.gradio.entrypoint: "
			    "%s", PLUGIN_LABEL, why);
			return -1;
		}
		last = strrchr(s, '/');
		last = last ? last + 1 : s;
		if (!ends_with(s, ".py") || strlen(last) <= 3) {
			set_err(err, errlen, "%s: actions.gradio.entrypoint: "
			    "a file path must name a .py file", PLUGIN_LABEL);
			return -1;
		}
		if (str_copy(pc->module_file, sizeof(pc->module_file), s) == -1)
			return -1;
		pc->module[0] = pc->attr[0] = '\0';
		return 0;
	}
	if (strstr(s, "..") != NULL) {
		set_err(err, errlen, "%s: actions.gradio.entrypoint: must not "
		    "contain '..'", PLUGIN_LABEL);
		return -1;
	}
	if (!is_dotted(s, 2)) {
		set_err(err, errlen, "%s: actions.gradio.entrypoint: must be "
		    "a dotted module path (such as plugin.gradio_interface.app) "
		    "or a relative .py file path", PLUGIN_LABEL);
		return -1;
	}
	last = strrchr(s, '.');
	/* module "a.b", attr "c", file "a/b.py": all fit, s is <= 255 bytes */
	memcpy(pc->module, s, (size_t)(last - s));
	pc->module[last - s] = '\0';
	if (str_copy(pc->attr, sizeof(pc->attr), last + 1) == -1 ||
	    (size_t)(last - s) + 3 >= sizeof(pc->module_file)) {
		set_err(err, errlen, "%s: actions.gradio.entrypoint: too long",
		    PLUGIN_LABEL);
		return -1;
	}
	for (i = 0; pc->module[i] != '\0'; i++)
		pc->module_file[i] = pc->module[i] == '.' ? '/' : pc->module[i];
	memcpy(pc->module_file + i, ".py", 4);
	return 0;
}

static int
is_text(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int
is_version(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > 32 || !((s[0] >= '0' && s[0] <= '9') ||
	    (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') || s[i] == '.' ||
		    s[i] == '+' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/*
 * A scalar field: *text is NULL when absent or null.  -1 (with a message)
 * when present with the wrong type, or absent and required.
 */
static int
field_text(const struct yamlcfg_node *n, const char *where, int required,
    const char **text, char *err, size_t errlen)
{
	*text = NULL;
	if (n == NULL || yamlcfg_is_null(n)) {
		if (required) {
			set_err(err, errlen, "%s: %s: missing", PLUGIN_LABEL,
			    where);
			return -1;
		}
		return 0;
	}
	if (n->type != YAMLCFG_SCALAR) {
		set_err(err, errlen, "%s: %s: must be a string, not %s",
		    PLUGIN_LABEL, where, yamlcfg_type_name(n));
		return -1;
	}
	*text = n->text;
	return 0;
}

int
plugin_config_parse(const char *data, size_t len, struct plugin_config *out,
    char *err, size_t errlen)
{
	struct yamlcfg_node *root = NULL;
	const struct yamlcfg_node *actions, *gradio;
	struct plugin_config pc;
	const char *s;
	int rc = -1;

	memset(&pc, 0, sizeof(pc));
	if (len > PLUGIN_CONFIG_MAX_BYTES) {
		set_err(err, errlen, "%s: file is larger than %d KiB",
		    PLUGIN_LABEL, PLUGIN_CONFIG_MAX_BYTES / 1024);
		goto out;
	}
	if (yamlcfg_parse(data, len, PLUGIN_LABEL, &root, err, errlen) == -1)
		goto out;
	if (root->type != YAMLCFG_MAPPING) {
		set_err(err, errlen, "%s: the top level must be a mapping, "
		    "not %s", PLUGIN_LABEL, yamlcfg_type_name(root));
		goto out;
	}

	if (field_text(yamlcfg_get(root, "code"), "code", 1, &s, err,
	    errlen) == -1)
		goto out;
	if (valid_app_name(s) == -1 ||
	    str_copy(pc.code, sizeof(pc.code), s) == -1) {
		set_err(err, errlen, "%s: code: must be 1 to 63 lowercase "
		    "letters, digits, '_' or '-', starting with a letter or "
		    "digit", PLUGIN_LABEL);
		goto out;
	}
	if (field_text(yamlcfg_get(root, "name"), "name", 1, &s, err,
	    errlen) == -1)
		goto out;
	if (!is_text(s, 1, PLUGIN_NAME_MAX) ||
	    str_copy(pc.name, sizeof(pc.name), s) == -1) {
		set_err(err, errlen, "%s: name: must be 1 to %d bytes of text "
		    "without control characters", PLUGIN_LABEL,
		    PLUGIN_NAME_MAX);
		goto out;
	}
	if (field_text(yamlcfg_get(root, "version"), "version", 1, &s, err,
	    errlen) == -1)
		goto out;
	if (!is_version(s) ||
	    str_copy(pc.version, sizeof(pc.version), s) == -1) {
		set_err(err, errlen, "%s: version: must be 1 to 32 letters, "
		    "digits, '.', '+', '_' or '-', starting with a letter or "
		    "digit", PLUGIN_LABEL);
		goto out;
	}
	if (field_text(yamlcfg_get(root, "category"), "category", 0, &s, err,
	    errlen) == -1)
		goto out;
	if (s != NULL && (!is_text(s, 0, PLUGIN_CATEGORY_MAX) ||
	    str_copy(pc.category, sizeof(pc.category), s) == -1)) {
		set_err(err, errlen, "%s: category: must be at most %d bytes "
		    "of text without control characters", PLUGIN_LABEL,
		    PLUGIN_CATEGORY_MAX);
		goto out;
	}

	actions = yamlcfg_get(root, "actions");
	if (actions != NULL && !yamlcfg_is_null(actions) &&
	    actions->type != YAMLCFG_MAPPING) {
		set_err(err, errlen, "%s: actions: must be a mapping, not %s",
		    PLUGIN_LABEL, yamlcfg_type_name(actions));
		goto out;
	}
	gradio = yamlcfg_get(actions, "gradio");
	if (gradio == NULL || yamlcfg_is_null(gradio)) {
		set_err(err, errlen, "%s: actions.gradio: missing (the plugin "
		    "has no gradio action)", PLUGIN_LABEL);
		goto out;
	}
	if (gradio->type != YAMLCFG_MAPPING) {
		set_err(err, errlen, "%s: actions.gradio: must be a mapping, "
		    "not %s", PLUGIN_LABEL, yamlcfg_type_name(gradio));
		goto out;
	}
	if (field_text(yamlcfg_get(gradio, "entrypoint"),
	    "actions.gradio.entrypoint", 1, &s, err, errlen) == -1)
		goto out;
	if (entry_parse(s, &pc, err, errlen) == -1)
		goto out;
	if (str_copy(pc.entrypoint, sizeof(pc.entrypoint), s) == -1)
		goto out;	/* entry_parse checked the length */
	*out = pc;
	rc = 0;
out:
	yamlcfg_free(root);
	return rc;
}

int
plugin_config_load(const char *path, struct plugin_config *out, char *err,
    size_t errlen)
{
	char *data = NULL;
	size_t len;
	int rc = -1;

	if (yamlcfg_read_file(path, PLUGIN_LABEL, PLUGIN_CONFIG_MAX_BYTES,
	    &data, &len, err, errlen) == -1)
		goto out;
	rc = plugin_config_parse(data, len, out, err, errlen);
out:
	free(data);
	return rc;
}

/*
 * Open rel (validated components) under the directory fd without following
 * a symbolic link anywhere: 0 for a regular file, else -1 with errno
 * ENOENT (missing), ELOOP (a symbolic link on the way), EINVAL (not a
 * regular file, or not a directory on the way) or the system's.
 */
static int
check_beneath(int dirfd, const char *rel)
{
	char comp[PLUGIN_ENTRYPOINT_MAX + 1];
	const char *p = rel, *slash;
	struct stat st;
	int fd = -1, next, rc = -1;
	size_t n;

	if ((fd = dup(dirfd)) == -1)
		return -1;
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n >= sizeof(comp)) {
			errno = EINVAL;
			goto out;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == -1)
			goto out;
		if (S_ISLNK(st.st_mode)) {
			errno = ELOOP;
			goto out;
		}
		if (slash == NULL) {
			if (!S_ISREG(st.st_mode)) {
				errno = EINVAL;
				goto out;
			}
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			errno = EINVAL;
			goto out;
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next == -1)
			goto out;
		close(fd);
		fd = next;
		p = slash + 1;
	}
	rc = 0;
out:
	if (fd != -1) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return rc;
}

int
plugin_config_check_tree(struct plugin_config *pc, const char *dir, char *err,
    size_t errlen)
{
	char pkg[PLUGIN_ENTRYPOINT_MAX + 1];
	const char *why, *found = NULL, *shown;
	int dfd = -1, rc = -1;
	size_t n;

	if (!is_safe_relpath(pc->module_file, &why)) {
		set_err(err, errlen, "%s: actions.gradio.entrypoint: %s",
		    PLUGIN_LABEL, why);
		goto out;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("open %s", dir);
		set_err(err, errlen, "%s: the plugin directory cannot be read",
		    PLUGIN_LABEL);
		goto out;
	}
	pkg[0] = '\0';
	shown = pc->module_file;
	if (check_beneath(dfd, pc->module_file) == 0)
		found = pc->module_file;
	else if (errno == ENOENT && pc->module[0] != '\0') {
		/* dotted form: the module may be a package */
		n = strlen(pc->module_file) - 3;	/* drop ".py" */
		if (n + sizeof("/__init__.py") <= sizeof(pkg)) {
			memcpy(pkg, pc->module_file, n);
			memcpy(pkg + n, "/__init__.py",
			    sizeof("/__init__.py"));
			if (check_beneath(dfd, pkg) == 0)
				found = pkg;
			else if (errno != ENOENT)
				shown = pkg;
			else
				errno = ENOENT;	/* report the .py file */
		}
	}
	if (found == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			set_err(err, errlen, "%s: actions.gradio.entrypoint: "
			    "%s is not in the plugin archive", PLUGIN_LABEL,
			    shown);
		else if (errno == ELOOP)
			set_err(err, errlen, "%s: actions.gradio.entrypoint: "
			    "%s goes through a symbolic link", PLUGIN_LABEL,
			    shown);
		else if (errno == EINVAL)
			set_err(err, errlen, "%s: actions.gradio.entrypoint: "
			    "%s is not a regular file", PLUGIN_LABEL, shown);
		else {
			log_warn("%s/%s", dir, shown);
			set_err(err, errlen, "%s: actions.gradio.entrypoint: "
			    "%s cannot be read", PLUGIN_LABEL, shown);
		}
		goto out;
	}
	if (found == pkg && str_copy(pc->module_file,
	    sizeof(pc->module_file), pkg) == -1)
		goto out;
	rc = 0;
out:
	if (dfd != -1)
		close(dfd);
	return rc;
}

static const char launcher_body[] =
    "FALLBACKS = ('demo', 'app')\n"
    "\n"
    "\n"
    "def load_module():\n"
    "    sys.path.insert(0, ROOT)\n"
    "    if MODULE:\n"
    "        return importlib.import_module(MODULE)\n"
    "    path = os.path.join(ROOT, MODULE_FILE)\n"
    "    sys.path.insert(0, os.path.dirname(path))\n"
    "    spec = importlib.util.spec_from_file_location('slipway_entry', "
    "path)\n"
    "    module = importlib.util.module_from_spec(spec)\n"
    "    sys.modules['slipway_entry'] = module\n"
    "    spec.loader.exec_module(module)\n"
    "    return module\n"
    "\n"
    "\n"
    "def find_app(module):\n"
    "    names = [ATTR] if ATTR else []\n"
    "    names += [n for n in FALLBACKS if n not in names]\n"
    "    for name in names:\n"
    "        obj = getattr(module, name, None)\n"
    "        if obj is None:\n"
    "            continue\n"
    "        if not hasattr(obj, 'launch') and callable(obj):\n"
    "            obj = obj()\n"
    "        if hasattr(obj, 'launch'):\n"
    "            return obj\n"
    "    sys.exit('slipway: %s defines no Gradio app (looked for %s)'\n"
    "             % (module.__name__, ', '.join(names)))\n"
    "\n"
    "\n"
    "def main():\n"
    "    app = find_app(load_module())\n"
    "    kwargs = {\n"
    "        'server_name': os.environ.get('GRADIO_SERVER_NAME') or "
    "'0.0.0.0',\n"
    "        'server_port': int(os.environ.get('PORT') or\n"
    "                           os.environ.get('GRADIO_SERVER_PORT') or "
    "'7860'),\n"
    "        'root_path': os.environ.get('GRADIO_ROOT_PATH', ''),\n"
    "    }\n"
    "    try:\n"
    "        params = inspect.signature(app.launch).parameters\n"
    "        if 'root_path' not in params and not any(\n"
    "                p.kind == p.VAR_KEYWORD for p in params.values()):\n"
    "            del kwargs['root_path']\n"
    "    except (TypeError, ValueError):\n"
    "        pass\n"
    "    app.launch(**kwargs)\n"
    "\n"
    "\n"
    "if __name__ == '__main__':\n"
    "    main()\n";

int
plugin_launcher_py(const struct plugin_config *pc, struct buf *out)
{
	const char *why;
	size_t alen = strlen(pc->attr);

	/* Everything that reaches the text is checked again here. */
	if (valid_app_name(pc->code) == -1 || !is_version(pc->version) ||
	    !is_safe_relpath(pc->module_file, &why) ||
	    !ends_with(pc->module_file, ".py") ||
	    (pc->module[0] != '\0' && !is_dotted(pc->module, 1)) ||
	    (alen != 0 && !is_ident(pc->attr, alen)) ||
	    (pc->module[0] == '\0') != (alen == 0))
		return -1;
	buf_printf(out,
	    "# slipway launcher for plugin %s@%s (generated; do not edit).\n"
	    "# Runs the Gradio app named by actions.gradio.entrypoint in\n"
	    "# config.yaml: the named attribute, else `demo`, else `app`; a\n"
	    "# function is called to get the app.  Lives at the plugin root.\n"
	    "import importlib\n"
	    "import importlib.util\n"
	    "import inspect\n"
	    "import os\n"
	    "import sys\n"
	    "\n"
	    "ROOT = os.path.dirname(os.path.abspath(__file__))\n"
	    "MODULE = '%s'\n"
	    "MODULE_FILE = '%s'\n"
	    "ATTR = '%s'\n",
	    pc->code, pc->version, pc->module, pc->module_file, pc->attr);
	buf_adds(out, launcher_body);
	return 0;
}
