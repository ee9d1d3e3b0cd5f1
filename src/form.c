#include "config.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "form.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
form_urldecode(const char *s, size_t len, int plus_is_space, size_t *outlen)
{
	char *out = xmalloc(st_add(len, 1));
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len)
				goto bad;
			if ((hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0)
				goto bad;
			out[o] = (char)(hi << 4 | lo);
			if (out[o] == '\0')
				goto bad;
			o++;
			i += 2;
		} else if (s[i] == '+' && plus_is_space)
			out[o++] = ' ';
		else if (s[i] == '\0')
			goto bad;
		else
			out[o++] = s[i];
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return out;
bad:
	free(out);
	return NULL;
}

int
form_add(struct form *f, const char *name, const char *value, size_t vlen)
{
	struct form_field *ff;

	if (f->n >= LIMIT_FORM_FIELDS || vlen > LIMIT_FIELD_VALUE)
		return -1;
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->fields = xrealloc(f->fields, st_mult(f->cap, sizeof(*ff)));
	}
	ff = &f->fields[f->n++];
	ff->name = xstrdup(name);
	ff->value = xstrndup(value, vlen);
	ff->value_len = vlen;
	return 0;
}

int
form_parse_urlencoded(struct form *f, const char *s, size_t len)
{
	const char *p = s, *end = s + len, *amp, *eq;
	char *name = NULL, *value = NULL;
	size_t vlen;
	int rc = -1;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp == p) {		/* empty pair: "a=1&&b=2" */
			p++;
			continue;
		}
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL)
			eq = amp;
		if (eq == p)
			goto out;	/* no name */
		if ((name = form_urldecode(p, (size_t)(eq - p), 1, NULL)) == NULL)
			goto out;
		if (eq < amp)
			value = form_urldecode(eq + 1, (size_t)(amp - eq - 1), 1,
			    &vlen);
		else {
			value = xstrdup("");
			vlen = 0;
		}
		if (value == NULL || form_add(f, name, value, vlen) == -1)
			goto out;
		free(name);
		free(value);
		name = value = NULL;
		p = amp < end ? amp + 1 : end;
	}
	rc = 0;
out:
	free(name);
	free(value);
	return rc;
}

int
form_from_json(struct form *f, struct json_object *obj)
{
	const char *s;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return -1;
	json_object_object_foreach(obj, key, val) {
		if (val == NULL)
			continue;	/* JSON null: absent */
		if (json_object_is_type(val, json_type_string)) {
			if (memchr(json_object_get_string(val), '\0',
			    (size_t)json_object_get_string_len(val)) != NULL)
				return -1;
			if (form_add(f, key, json_object_get_string(val),
			    (size_t)json_object_get_string_len(val)) == -1)
				return -1;
			continue;
		}
		s = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE);
		if (form_add(f, key, s, strlen(s)) == -1)
			return -1;
	}
	return 0;
}

const char *
form_get(const struct form *f, const char *name)
{
	return form_get_nth(f, name, 0);
}

size_t
form_count(const struct form *f, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			n++;
	return n;
}

const char *
form_get_nth(const struct form *f, const char *name, size_t nth)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0 && nth-- == 0)
			return f->fields[i].value;
	return NULL;
}

void
form_free(struct form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->fields[i].name);
		free(f->fields[i].value);
	}
	free(f->fields);
	f->fields = NULL;
	f->n = f->cap = 0;
}
