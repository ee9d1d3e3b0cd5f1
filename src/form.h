/*
 * form: request parameters as an ordered list of (name, value) strings,
 * whatever the encoding they came in (query string, urlencoded form,
 * multipart text fields or a JSON object), so handlers validate one shape.
 *
 * From JSON: strings as they are; numbers and booleans as their JSON text;
 * objects and arrays as compact JSON text (handlers that expect a dict
 * parse it again); arrays of strings for repeated names are NOT expanded
 * (a handler that accepts a list reads the JSON text).  null is absent.
 */
#ifndef SLIPWAY_FORM_H
#define SLIPWAY_FORM_H

#include <stddef.h>

struct json_object;

struct form_field {
	char	*name;
	char	*value;
	size_t	 value_len;
};

struct form {
	struct form_field	*fields;
	size_t			 n;
	size_t			 cap;
};

#define FORM_INIT { NULL, 0, 0 }

/*
 * Parse application/x-www-form-urlencoded (also query strings).  Strict:
 * bad %-escapes, decoded NUL bytes, more than LIMIT_FORM_FIELDS fields or a
 * value over LIMIT_FIELD_VALUE fail with -1.  Appends to f.
 */
int		 form_parse_urlencoded(struct form *f, const char *s, size_t len);
/* Take the top-level members of a JSON object (see above).  -1 if not an object. */
int		 form_from_json(struct form *f, struct json_object *obj);
/* Append one field (copies). -1 beyond the caps. */
int		 form_add(struct form *f, const char *name, const char *value,
		    size_t value_len);
/* First value of name, or NULL (borrowed). */
const char	*form_get(const struct form *, const char *name);
/* Number of values of name. */
size_t		 form_count(const struct form *, const char *name);
/* i-th value of name (borrowed) or NULL. */
const char	*form_get_nth(const struct form *, const char *name, size_t i);
void		 form_free(struct form *);

/* Percent-decode s[0..len) into a new string; NULL on bad input or NUL. */
char		*form_urldecode(const char *s, size_t len, int plus_is_space,
		    size_t *outlen);

#endif
