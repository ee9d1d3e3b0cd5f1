/*
 * t_form: urlencoded parsing (tables of good and bad input, the caps from
 * caps.h), form_from_json (every JSON type), and the accessors.
 */
#include "config.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "form.h"
#include "tap.h"

/* "name=value|name=value" with bytes outside 0x20..0x7e as \xNN. */
static char *
dump(const struct form *f)
{
	struct buf b = BUF_INIT;
	size_t i, k;

	for (i = 0; i < f->n; i++) {
		if (i > 0)
			buf_addch(&b, '|');
		buf_adds(&b, f->fields[i].name);
		buf_addch(&b, '=');
		for (k = 0; k < f->fields[i].value_len; k++) {
			unsigned char c = (unsigned char)f->fields[i].value[k];

			if (c < 0x20 || c > 0x7e)
				buf_printf(&b, "\\x%02x", c);
			else
				buf_addch(&b, c);
		}
	}
	return buf_detach(&b, NULL);
}

static void
test_urlencoded_good(void)
{
	static const struct {
		const char	*in;
		const char	*out;
	} t[] = {
		{ "",			"" },
		{ "&",			"" },
		{ "&&&",		"" },
		{ "a=1",		"a=1" },
		{ "a=1&b=2",		"a=1|b=2" },
		{ "a=1&&b=2",		"a=1|b=2" },
		{ "&a=1&",		"a=1" },
		{ "a",			"a=" },
		{ "a&b",		"a=|b=" },
		{ "a=",			"a=" },
		{ "a=&b=",		"a=|b=" },
		{ "a==",		"a==" },
		{ "a=b=c",		"a=b=c" },
		{ "a+b=c+d",		"a b=c d" },
		{ "a%20b=c%2Bd",	"a b=c+d" },
		{ "%41=%7a",		"A=z" },
		{ "%4a=%4A",		"J=J" },
		{ "a=%e6%97%a5",	"a=\\xe6\\x97\\xa5" },
		{ "a=1&a=2",		"a=1|a=2" },
		{ "a=%2526",		"a=%26" },	/* decoded once only */
		{ "x=a%3Db%26c",	"x=a=b&c" },
		{ "a=1;b=2",		"a=1;b=2" },	/* ';' is not a separator */
		{ "a=%0A%0D%09",	"a=\\x0a\\x0d\\x09" },
		{ "a=%FF",		"a=\\xff" },	/* bytes; validators judge */
		{ "username=alice&password=s3cr%21t", "username=alice|password=s3cr!t" },
		{ "grant_type=&username=u&password=p&scope=&client_id=&client_secret=",
		  "grant_type=|username=u|password=p|scope=|client_id=|client_secret=" },
		{ "q=%27%20OR%201%3D1--", "q=' OR 1=1--" },
	};
	struct form f = FORM_INIT;
	size_t i;
	char *d;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rc = form_parse_urlencoded(&f, t[i].in, strlen(t[i].in));
		d = dump(&f);
		ok(rc == 0 && strcmp(d, t[i].out) == 0,
		    "urlencoded good \"%s\" -> \"%s\"", t[i].in, t[i].out);
		if (rc != 0 || strcmp(d, t[i].out) != 0)
			printf("#   rc %d, got \"%s\"\n", rc, d);
		free(d);
		form_free(&f);
	}
	/* Only len bytes are read: a query slice. */
	rc = form_parse_urlencoded(&f, "a=1&b=2", 3);
	d = dump(&f);
	ok(rc == 0 && strcmp(d, "a=1") == 0, "only len bytes are parsed");
	free(d);
	form_free(&f);
}

static void
test_urlencoded_bad(void)
{
	static const struct {
		const char	*in;
		size_t		 len;	/* 0: strlen */
		const char	*what;
	} t[] = {
		{ "=1", 0, "no name" },
		{ "=", 0, "bare '='" },
		{ "a=1&=2", 0, "second pair has no name" },
		{ "a=%", 0, "% at the end" },
		{ "a=%4", 0, "% and one digit" },
		{ "a=%zz", 0, "% non-hex" },
		{ "a=%G0", 0, "% G0" },
		{ "a=%0g", 0, "% 0g" },
		{ "a=% 1", 0, "% space" },
		{ "a=%-1", 0, "% minus" },
		{ "a=%%41", 0, "%%" },
		{ "%=1", 0, "% in name" },
		{ "a%4=1", 0, "short % in name" },
		{ "a=%00", 0, "%00 in value" },
		{ "%00=1", 0, "%00 in name" },
		{ "a=1%00", 0, "%00 after text" },
		{ "a=x&b=%00", 0, "%00 in a later value" },
		{ "a=b\0c", 5, "raw NUL in value" },
		{ "a\0=c", 4, "raw NUL in name" },
		{ "a=1&\0", 5, "raw NUL as a name" },
	};
	struct form f = FORM_INIT;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ok(form_parse_urlencoded(&f, t[i].in, t[i].len ? t[i].len :
		    strlen(t[i].in)) == -1, "urlencoded bad: %s", t[i].what);
		form_free(&f);
	}
}

static void
test_urlencoded_caps(void)
{
	struct form f = FORM_INIT;
	struct buf b = BUF_INIT;
	size_t i;
	char *v;

	for (i = 0; i < LIMIT_FORM_FIELDS; i++)
		buf_printf(&b, "%sf%zu=%zu", i ? "&" : "", i, i);
	ok(form_parse_urlencoded(&f, b.data, b.len) == 0 && f.n == LIMIT_FORM_FIELDS,
	    "exactly LIMIT_FORM_FIELDS (%d) fields", LIMIT_FORM_FIELDS);
	form_free(&f);
	buf_adds(&b, "&one=more");
	ok(form_parse_urlencoded(&f, b.data, b.len) == -1,
	    "LIMIT_FORM_FIELDS + 1 fields fail");
	form_free(&f);
	buf_reset(&b);

	/* The cap counts across calls: the form is appended to. */
	(void)form_add(&f, "x", "1", 1);
	for (i = 1; i < LIMIT_FORM_FIELDS; i++)
		buf_printf(&b, "%sf%zu=%zu", i > 1 ? "&" : "", i, i);
	ok(form_parse_urlencoded(&f, b.data, b.len) == 0 && f.n == LIMIT_FORM_FIELDS,
	    "appends to an existing form up to the cap");
	ok(form_parse_urlencoded(&f, "y=2", 3) == -1, "then one more fails");
	form_free(&f);
	buf_reset(&b);

	v = xmalloc(LIMIT_FIELD_VALUE + 2);
	memset(v, 'v', LIMIT_FIELD_VALUE + 1);
	v[LIMIT_FIELD_VALUE + 1] = '\0';
	buf_adds(&b, "big=");
	buf_add(&b, v, LIMIT_FIELD_VALUE);
	ok(form_parse_urlencoded(&f, b.data, b.len) == 0 &&
	    f.n == 1 && f.fields[0].value_len == LIMIT_FIELD_VALUE,
	    "a value of LIMIT_FIELD_VALUE bytes");
	form_free(&f);
	buf_addch(&b, 'v');
	ok(form_parse_urlencoded(&f, b.data, b.len) == -1,
	    "a value of LIMIT_FIELD_VALUE + 1 bytes fails");
	form_free(&f);

	/* The cap applies to the decoded value. */
	buf_reset(&b);
	buf_adds(&b, "big=");
	for (i = 0; i < LIMIT_FIELD_VALUE; i++)
		buf_adds(&b, "%41");
	ok(form_parse_urlencoded(&f, b.data, b.len) == 0 &&
	    f.fields[0].value_len == LIMIT_FIELD_VALUE,
	    "cap is on decoded bytes (%zu encoded are fine)", b.len - 4);
	form_free(&f);
	buf_adds(&b, "+");
	ok(form_parse_urlencoded(&f, b.data, b.len) == -1,
	    "one decoded byte more fails");
	form_free(&f);

	ok(form_add(&f, "n", v, LIMIT_FIELD_VALUE + 1) == -1 && f.n == 0,
	    "form_add refuses a long value and adds nothing");
	free(v);
	buf_release(&b);
}

static void
test_urldecode(void)
{
	size_t n = 99;
	char *s;

	s = form_urldecode("a+b%2B", 6, 0, &n);
	ok(s != NULL && strcmp(s, "a+b+") == 0 && n == 4,
	    "form_urldecode without plus_is_space keeps '+'");
	free(s);
	s = form_urldecode("a+b", 3, 1, &n);
	ok(s != NULL && strcmp(s, "a b") == 0 &&
	    n == 3, "form_urldecode with plus_is_space");
	free(s);
	s = form_urldecode("", 0, 1, &n);
	ok(s != NULL && *s == '\0' && n == 0, "form_urldecode of nothing");
	free(s);
	n = 99;
	ok(form_urldecode("%0", 2, 1, &n) == NULL && n == 99,
	    "form_urldecode bad input: NULL, outlen untouched");
	s = form_urldecode("%2f%2F", 6, 0, NULL);
	is_str(s, "//", "NULL outlen is fine; %%2f decodes to '/'");
	free(s);
}

static void
test_json(void)
{
	struct form f = FORM_INIT;
	struct json_object *o;
	struct buf b = BUF_INIT;
	size_t i;
	char *d;

	o = json_tokener_parse("{\"s\":\"x y\",\"n\":42,\"neg\":-7,\"f\":1.5,"
	    "\"t\":true,\"fa\":false,\"z\":null,\"o\":{\"a\":[1,2],\"u\":\"a/b\"},"
	    "\"arr\":[\"x\",\"y\"],\"e\":\"\",\"q\":\"it's \\\"q\\\"\","
	    "\"uni\":\"\\u00e9\"}");
	ok(o != NULL, "parse the fixture");
	ok(form_from_json(&f, o) == 0, "form_from_json of an object");
	is_str(form_get(&f, "s"), "x y", "string as is");
	is_str(form_get(&f, "n"), "42", "int as its JSON text");
	is_str(form_get(&f, "neg"), "-7", "negative int");
	is_str(form_get(&f, "f"), "1.5", "double as its JSON text");
	is_str(form_get(&f, "t"), "true", "true");
	is_str(form_get(&f, "fa"), "false", "false");
	ok(form_get(&f, "z") == NULL && form_count(&f, "z") == 0,
	    "null is absent");
	is_str(form_get(&f, "o"), "{\"a\":[1,2],\"u\":\"a/b\"}",
	    "object kept as compact JSON text, no slash escaping");
	is_str(form_get(&f, "arr"), "[\"x\",\"y\"]", "array kept as JSON text");
	is(form_count(&f, "arr"), 1, "array not expanded into repeated fields");
	is_str(form_get(&f, "e"), "", "empty string present");
	is_str(form_get(&f, "q"), "it's \"q\"", "escapes decoded");
	is_str(form_get(&f, "uni"), "\xc3\xa9", "\\u00e9 decoded to UTF-8");
	d = dump(&f);
	ok(strstr(d, "z=") == NULL, "no z field at all");
	free(d);
	json_object_put(o);
	form_free(&f);

	o = json_tokener_parse("{\"a\":\"x\\u0000y\"}");
	ok(o != NULL && form_from_json(&f, o) == -1, "NUL inside a JSON string rejected");
	json_object_put(o);
	form_free(&f);
	o = json_tokener_parse("{\"ok\":\"1\",\"a\":\"\\u0000\"}");
	ok(o != NULL && form_from_json(&f, o) == -1, "a lone \\u0000 string rejected");
	json_object_put(o);
	form_free(&f);

	o = json_tokener_parse("{\"o\":{\"k\":\"\\u0000\"}}");
	ok(o != NULL && form_from_json(&f, o) == 0 &&
	    strcmp(form_get(&f, "o"), "{\"k\":\"\\u0000\"}") == 0,
	    "NUL in a nested object stays escaped in the JSON text");
	json_object_put(o);
	form_free(&f);

	{
		static const char *const notobj[] = {
			"[1,2]", "\"s\"", "true", "null", "[]", "[{\"a\":1}]",
		};
		for (i = 0; i < sizeof(notobj) / sizeof(notobj[0]); i++) {
			o = json_tokener_parse(notobj[i]);
			ok(form_from_json(&f, o) == -1 && f.n == 0,
			    "form_from_json(%s) fails", notobj[i]);
			json_object_put(o);
		}
		o = json_object_new_int(5);
		ok(form_from_json(&f, o) == -1, "form_from_json(5) fails");
		json_object_put(o);
		ok(form_from_json(&f, NULL) == -1, "form_from_json(NULL) fails");
	}

	o = json_tokener_parse("{}");
	ok(form_from_json(&f, o) == 0 && f.n == 0, "{} is no fields");
	json_object_put(o);

	/* Caps. */
	buf_adds(&b, "{");
	for (i = 0; i < LIMIT_FORM_FIELDS; i++)
		buf_printf(&b, "%s\"k%zu\":%zu", i ? "," : "", i, i);
	buf_adds(&b, "}");
	o = json_tokener_parse(b.data);
	ok(form_from_json(&f, o) == 0 && f.n == LIMIT_FORM_FIELDS,
	    "JSON object of LIMIT_FORM_FIELDS members");
	json_object_put(o);
	form_free(&f);
	b.data[b.len - 1] = ',';
	buf_adds(&b, "\"extra\":1}");
	o = json_tokener_parse(b.data);
	ok(form_from_json(&f, o) == -1, "one member more fails");
	json_object_put(o);
	form_free(&f);

	buf_reset(&b);
	buf_adds(&b, "{\"v\":\"");
	for (i = 0; i < LIMIT_FIELD_VALUE; i++)
		buf_addch(&b, 'v');
	buf_adds(&b, "\"}");
	o = json_tokener_parse(b.data);
	ok(form_from_json(&f, o) == 0, "JSON string of LIMIT_FIELD_VALUE bytes");
	json_object_put(o);
	form_free(&f);
	buf_truncate(&b, b.len - 2);
	buf_adds(&b, "v\"}");
	o = json_tokener_parse(b.data);
	ok(form_from_json(&f, o) == -1, "JSON string of LIMIT_FIELD_VALUE + 1 fails");
	json_object_put(o);
	form_free(&f);

	/* A nested object whose text exceeds the cap. */
	buf_reset(&b);
	buf_adds(&b, "{\"o\":{\"v\":\"");
	for (i = 0; i < LIMIT_FIELD_VALUE; i++)
		buf_addch(&b, 'v');
	buf_adds(&b, "\"}}");
	o = json_tokener_parse(b.data);
	ok(form_from_json(&f, o) == -1, "nested JSON text over the cap fails");
	json_object_put(o);
	form_free(&f);
	buf_release(&b);
}

static void
test_accessors(void)
{
	struct form f = FORM_INIT;

	ok(form_parse_urlencoded(&f, "a=1&b=2&a=3&A=4&a=", 18) == 0,
	    "parse for the accessors");
	is_str(form_get(&f, "a"), "1", "form_get: the first value");
	is(form_count(&f, "a"), 3, "form_count: repeated name");
	is(form_count(&f, "A"), 1, "names are case-sensitive");
	is(form_count(&f, "c"), 0, "form_count of a missing name");
	is_str(form_get_nth(&f, "a", 0), "1", "form_get_nth 0");
	is_str(form_get_nth(&f, "a", 1), "3", "form_get_nth 1");
	is_str(form_get_nth(&f, "a", 2), "", "form_get_nth 2 (empty value)");
	ok(form_get_nth(&f, "a", 3) == NULL, "form_get_nth past the end");
	ok(form_get(&f, "c") == NULL, "form_get of a missing name");
	ok(form_get(&f, "") == NULL, "form_get of the empty name");
	is_str(form_get(&f, "A"), "4", "form_get A");
	form_free(&f);
	ok(f.n == 0 && f.fields == NULL && f.cap == 0, "form_free resets");
	form_free(&f);
	ok(form_get(&f, "a") == NULL && form_count(&f, "a") == 0,
	    "accessors on a freed form");
	ok(form_add(&f, "k", "v\0w", 3) == 0 && f.fields[0].value_len == 3 &&
	    memcmp(f.fields[0].value, "v\0w", 4) == 0,
	    "form_add copies value_len bytes and terminates");
	form_free(&f);
}

int
main(void)
{
	test_urlencoded_good();
	test_urlencoded_bad();
	test_urlencoded_caps();
	test_urldecode();
	test_json();
	test_accessors();
	return done_testing();
}
