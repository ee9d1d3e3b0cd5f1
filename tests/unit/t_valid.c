/*
 * t_valid: tables of good and bad input for every validator in valid.c.
 * The bad tables carry SQL and shell metacharacters, quotes, control
 * bytes, and Unicode look-alikes (Cyrillic, fullwidth, Unicode hyphen).
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "valid.h"
#include "tap.h"

/* A fresh string of n copies of c (caller frees). */
static char *
rep(int c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* prefix + n copies of c + suffix (caller frees). */
static char *
mk(const char *prefix, int c, size_t n, const char *suffix)
{
	struct buf b = BUF_INIT;
	char *r = rep(c, n);

	buf_adds(&b, prefix);
	buf_adds(&b, r);
	buf_adds(&b, suffix);
	free(r);
	return buf_detach(&b, NULL);
}

/* Printable rendering of a test input for the TAP line. */
static const char *
show(const char *s)
{
	static struct buf b = BUF_INIT;
	size_t i;

	buf_reset(&b);
	if (s == NULL)
		return "(null)";
	for (i = 0; s[i] != '\0' && i < 40; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\')
			buf_printf(&b, "\\x%02x", c);
		else
			buf_addch(&b, c);
	}
	if (s[i] != '\0')
		buf_printf(&b, "...(%zu bytes)", strlen(s));
	return b.data;
}

static void
test_int(void)
{
	static const struct {
		const char	*s;
		long long	 min, max;
		int		 rc;
		long long	 v;
	} t[] = {
		{ "0",			0, 10, 0, 0 },
		{ "1",			0, 10, 0, 1 },
		{ "10",			0, 10, 0, 10 },		/* max inclusive */
		{ "-5",			-5, 5, 0, -5 },		/* min inclusive */
		{ "42",			LLONG_MIN, LLONG_MAX, 0, 42 },
		{ "-42",		LLONG_MIN, LLONG_MAX, 0, -42 },
		{ "9223372036854775807", LLONG_MIN, LLONG_MAX, 0, LLONG_MAX },
		{ "9223372036854775806", LLONG_MIN, LLONG_MAX, 0, LLONG_MAX - 1 },
		{ "-9223372036854775807", LLONG_MIN, LLONG_MAX, 0, -LLONG_MAX },
		/* LLONG_MIN is inside [LLONG_MIN, LLONG_MAX] (was refused once) */
		{ "-9223372036854775808", LLONG_MIN, LLONG_MAX, 0, LLONG_MIN },
		{ "1000000000000000000", 0, LLONG_MAX, 0, 1000000000000000000LL },

		{ "",			0, 10, -1, 0 },
		{ "-",			-10, 10, -1, 0 },
		{ "+1",			0, 10, -1, 0 },
		{ "-0",			-10, 10, -1, 0 },	/* one spelling of zero */
		{ "00",			0, 10, -1, 0 },
		{ "01",			0, 10, -1, 0 },
		{ "-01",		-10, 10, -1, 0 },
		{ "007",		0, 10, -1, 0 },
		{ " 1",			0, 10, -1, 0 },
		{ "1 ",			0, 10, -1, 0 },
		{ "1\n",		0, 10, -1, 0 },
		{ "\t1",		0, 10, -1, 0 },
		{ "1 2",		0, 100, -1, 0 },
		{ "--1",		-10, 10, -1, 0 },
		{ "1-",			-10, 10, -1, 0 },
		{ "11",			0, 10, -1, 0 },		/* above max */
		{ "-6",			-5, 5, -1, 0 },		/* below min */
		{ "-1",			0, 10, -1, 0 },
		{ "9223372036854775808", LLONG_MIN, LLONG_MAX, -1, 0 },
		{ "9223372036854775810", LLONG_MIN, LLONG_MAX, -1, 0 },
		{ "-9223372036854775809", LLONG_MIN, LLONG_MAX, -1, 0 },
		{ "18446744073709551616", LLONG_MIN, LLONG_MAX, -1, 0 }, /* 2^64: wraps to 0 */
		{ "18446744073709551617", LLONG_MIN, LLONG_MAX, -1, 0 }, /* 2^64+1: wraps to 1 */
		{ "99999999999999999999", LLONG_MIN, LLONG_MAX, -1, 0 },
		{ "00000000000000000000001", LLONG_MIN, LLONG_MAX, -1, 0 },
		{ "1e3",		0, 10000, -1, 0 },
		{ "0x10",		0, 100, -1, 0 },
		{ "1.0",		0, 10, -1, 0 },
		{ "1,000",		0, 10000, -1, 0 },
		{ "1_000",		0, 10000, -1, 0 },
		{ "\xd9\xa1",		0, 10, -1, 0 },		/* ARABIC-INDIC DIGIT ONE */
		{ "\xef\xbc\x91",	0, 10, -1, 0 },		/* FULLWIDTH DIGIT ONE */
		{ "1; DROP TABLE apps", 0, 10, -1, 0 },
		{ "1' OR '1'='1",	0, 10, -1, 0 },
		{ "'1'",		0, 10, -1, 0 },
		{ "$(id)",		0, 10, -1, 0 },
		{ "NaN",		0, 10, -1, 0 },
		{ "inf",		0, 10, -1, 0 },
	};
	size_t i;
	long long v;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 777;
		rc = valid_int(t[i].s, t[i].min, t[i].max, &v);
		if (t[i].rc == 0)
			ok(rc == 0 && v == t[i].v, "valid_int good \"%s\" -> %lld",
			    show(t[i].s), t[i].v);
		else
			ok(rc == -1 && v == 777, "valid_int bad \"%s\" [%lld, %lld] "
			    "(out untouched)", show(t[i].s), t[i].min, t[i].max);
	}
	ok(valid_int(NULL, 0, 1, &v) == -1, "valid_int(NULL) fails");
}

static void
test_size(void)
{
	static const struct {
		const char	*s;
		int		 rc;
		uint64_t	 v;
	} t[] = {
		{ "1",		0, 1 },
		{ "512",	0, 512 },
		{ "1k",		0, 1024 },
		{ "1K",		0, 1024 },
		{ "2m",		0, 2ULL << 20 },
		{ "2M",		0, 2ULL << 20 },
		{ "2g",		0, 2ULL << 30 },
		{ "2G",		0, 2ULL << 30 },
		{ "1099511627776", 0, 1ULL << 40 },	/* the largest number */
		{ "1099511627776k", 0, 1ULL << 50 },
		{ "16777215g",	0, 16777215ULL << 30 },

		{ "",		-1, 0 },
		{ "0",		-1, 0 },
		{ "0k",		-1, 0 },
		{ "k",		-1, 0 },
		{ "g",		-1, 0 },
		{ "-1",		-1, 0 },
		{ "-1k",	-1, 0 },
		{ "+1k",	-1, 0 },
		{ "01k",	-1, 0 },
		{ "1kb",	-1, 0 },
		{ "1kk",	-1, 0 },
		{ "1 k",	-1, 0 },
		{ " 1k",	-1, 0 },
		{ "1k ",	-1, 0 },
		{ "1.5g",	-1, 0 },
		{ "1t",		-1, 0 },
		{ "1b",		-1, 0 },
		{ "1099511627777", -1, 0 },		/* above 2^40 */
		{ "1099511627776g", -1, 0 },		/* 2^70 */
		{ "12345678901234567890123", -1, 0 },	/* 23 digits */
		{ "123456789012345678901234k", -1, 0 },/* too long */
		{ "1\xef\xbd\x8b",	-1, 0 },	/* FULLWIDTH k */
		{ "1;reload",	-1, 0 },
	};
	size_t i;
	uint64_t v;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 777;
		rc = valid_size(t[i].s, &v);
		if (t[i].rc == 0)
			ok(rc == 0 && v == t[i].v, "valid_size good \"%s\"",
			    show(t[i].s));
		else
			ok(rc == -1 && v == 777, "valid_size bad \"%s\"",
			    show(t[i].s));
	}
	ok(valid_size(NULL, &v) == -1, "valid_size(NULL) fails");
}

static void
test_port_range(void)
{
	static const struct {
		const char	*s;
		int		 rc;
		long long	 lo, hi;
	} t[] = {
		{ "1024-65535",	0, 1024, 65535 },
		{ "7860-8860",	0, 7860, 8860 },
		{ "8000-8000",	0, 8000, 8000 },

		{ "1023-2000",	-1, 0, 0 },
		{ "2000-1999",	-1, 0, 0 },
		{ "1024-65536",	-1, 0, 0 },
		{ "0-0",	-1, 0, 0 },
		{ "8000",	-1, 0, 0 },
		{ "-",		-1, 0, 0 },
		{ "",		-1, 0, 0 },
		{ "1024-",	-1, 0, 0 },
		{ "-2000",	-1, 0, 0 },
		{ "1024--2000",	-1, 0, 0 },
		{ "1024-2000-3000", -1, 0, 0 },
		{ " 1024-2000",	-1, 0, 0 },
		{ "1024 -2000",	-1, 0, 0 },
		{ "1024- 2000",	-1, 0, 0 },
		{ "1024-2000 ",	-1, 0, 0 },
		{ "01024-2000",	-1, 0, 0 },
		{ "1024-02000",	-1, 0, 0 },
		{ "abcd-efgh",	-1, 0, 0 },
		{ "1024:2000",	-1, 0, 0 },
		{ "1024\xe2\x80\x90" "2000", -1, 0, 0 },	/* U+2010 HYPHEN */
		{ "1024-2000;", -1, 0, 0 },
		{ "99999999-1", -1, 0, 0 },
	};
	size_t i;
	long long lo, hi;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		lo = hi = 777;
		rc = valid_port_range(t[i].s, &lo, &hi);
		if (t[i].rc == 0)
			ok(rc == 0 && lo == t[i].lo && hi == t[i].hi,
			    "valid_port_range good \"%s\"", show(t[i].s));
		else
			ok(rc == -1 && lo == 777 && hi == 777,
			    "valid_port_range bad \"%s\"", show(t[i].s));
	}
	ok(valid_port_range(NULL, &lo, &hi) == -1, "valid_port_range(NULL)");
}

/* A table of strings for a validator f(const char *): 0 good, -1 bad. */
struct stab {
	const char	*s;
	int		 rc;
};

static void
run_stab(const char *name, int (*f)(const char *), const struct stab *t,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ok(f(t[i].s) == t[i].rc, "%s %s \"%s\"", name,
		    t[i].rc == 0 ? "good" : "bad", show(t[i].s));
}

/* Generated edge lengths: f(prefix + n*c) is rc. */
static void
run_len(const char *name, int (*f)(const char *), const char *prefix, int c,
    size_t n, int rc)
{
	char *s = mk(prefix, c, n, "");

	ok(f(s) == rc, "%s %s at %zu bytes", name, rc == 0 ? "accepts" :
	    "rejects", strlen(s));
	free(s);
}

static const char *const metachars[] = {
	"'", "\"", ";", "`", "$", "(", ")", "\\", "/", " ", "\t", "\n", "\r",
	"%", "&", "|", "<", ">", "*", "?", "[", "]", "{", "}", "#", "!", "=",
	",", ":", "@", "+", "~", "^", "\x7f", "\x01", "\xc3\xa9",
	"\xd0\xb0",		/* CYRILLIC SMALL LETTER A */
	"\xef\xbd\x81",		/* FULLWIDTH LATIN SMALL LETTER A */
	"\xe2\x80\x90",		/* HYPHEN */
	"\xe2\x80\x8b",		/* ZERO WIDTH SPACE */
};

/* Every metacharacter in the middle of an otherwise good name is bad. */
static void
run_meta(const char *name, int (*f)(const char *), const char *good,
    const char *allowed)
{
	size_t i;
	int bad = 0;
	struct buf b = BUF_INIT;

	for (i = 0; i < sizeof(metachars) / sizeof(metachars[0]); i++) {
		if (allowed != NULL && strlen(metachars[i]) == 1 &&
		    strchr(allowed, metachars[i][0]) != NULL)
			continue;
		buf_reset(&b);
		buf_printf(&b, "%.2s%s%s", good, metachars[i], good + 2);
		if (f(b.data) != -1) {
			bad++;
			printf("# %s accepted \"%s\"\n", name, show(b.data));
		}
	}
	ok(bad == 0, "%s rejects %zu metacharacters and look-alikes inside "
	    "\"%s\"", name, sizeof(metachars) / sizeof(metachars[0]), good);
	buf_release(&b);
}

static void
test_username(void)
{
	static const struct stab t[] = {
		{ "ab", 0 }, { "alice", 0 }, { "admin", 0 }, { "a1", 0 },
		{ "a_b", 0 }, { "a.b", 0 }, { "a-b", 0 }, { "a--", 0 },
		{ "a..", 0 }, { "z9_.-x", 0 },
		{ "", -1 }, { "a", -1 }, { "A", -1 }, { "Alice", -1 },
		{ "aliCe", -1 }, { "1abc", -1 }, { "_ab", -1 }, { ".ab", -1 },
		{ "-ab", -1 }, { "ab cd", -1 }, { " ab", -1 }, { "ab ", -1 },
		{ "ab\n", -1 }, { "ab\t", -1 }, { "a'b", -1 }, { "a\"b", -1 },
		{ "a;b", -1 }, { "ab%", -1 }, { "ab/", -1 }, { "ab\\", -1 },
		{ "ab@x", -1 }, { "ab:c", -1 }, { "ab*", -1 },
		{ "\xd0\xb0" "dmin", -1 },	/* Cyrillic a + dmin */
		{ "\xef\xbd\x81" "b", -1 },	/* fullwidth a */
		{ "ab\xc3\xa9", -1 },
		{ "admin\xe2\x80\x8b", -1 },	/* admin + ZERO WIDTH SPACE */
		{ "robert'); DROP TABLE users;--", -1 },
		{ "a' OR '1'='1", -1 },
		{ "a\x7f", -1 },
	};

	run_stab("valid_username", valid_username, t, sizeof(t) / sizeof(t[0]));
	run_len("valid_username", valid_username, "a", 'b', LIMIT_USERNAME - 1, 0);
	run_len("valid_username", valid_username, "a", 'b', LIMIT_USERNAME, -1);
	run_len("valid_username", valid_username, "a", '9', 1000, -1);
	run_meta("valid_username", valid_username, "alice", "_.-");
	ok(valid_username(NULL) == -1, "valid_username(NULL)");
	is(LIMIT_USERNAME, 32, "usernames are at most 32 bytes (API.md)");
}

static void
test_password(void)
{
	static const struct {
		const char	*s;
		size_t		 len;
		int		 rc;
		const char	*what;
	} t[] = {
		{ "12345678", 8, 0, "8 bytes" },
		{ "pass word", 9, 0, "with a space" },
		{ "'\";--$(x)", 9, 0, "metacharacters are fine in a password" },
		{ "p\xc3\xa4ssw\xc3\xb6rd", 10, 0, "UTF-8" },
		{ "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", 8, 0, "any non-NUL bytes" },
		{ "1234567", 7, -1, "7 bytes" },
		{ "", 0, -1, "empty" },
		{ "1234\0" "5678", 9, -1, "NUL inside" },
		{ "12345678\0", 9, -1, "NUL at the end" },
		{ "\0" "12345678", 9, -1, "NUL first" },
	};
	size_t i;
	char *s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(valid_password(t[i].s, t[i].len) == t[i].rc,
		    "valid_password %s: %s", t[i].rc ? "bad" : "good", t[i].what);
	s = rep('x', 300);
	ok(valid_password(s, 256) == 0, "valid_password 256 bytes");
	ok(valid_password(s, 257) == -1, "valid_password 257 bytes");
	ok(valid_password(s, 300) == -1, "valid_password 300 bytes");
	free(s);
	ok(valid_password(NULL, 8) == -1, "valid_password(NULL)");
}

static void
test_app_name(void)
{
	static const struct stab t[] = {
		{ "a", 0 }, { "0", 0 }, { "9lives", 0 }, { "my-app", 0 },
		{ "my_app", 0 }, { "a-", 0 }, { "a_", 0 }, { "app2", 0 },
		{ "", -1 }, { "-a", -1 }, { "_a", -1 }, { "A", -1 },
		{ "myApp", -1 }, { "a.b", -1 }, { ".", -1 }, { "..", -1 },
		{ "../x", -1 }, { "a/b", -1 }, { "a b", -1 }, { "a\n", -1 },
		{ "a'", -1 }, { "a;rm -rf", -1 }, { "a$(id)", -1 },
		{ "\xef\xbd\x81", -1 }, { "\xc3\xa9t\xc3\xa9", -1 },
		{ "\xd0\xb0pp", -1 }, { "app\xe2\x80\x8b", -1 },
		{ "a{b}", -1 }, { "a#b", -1 }, { "a:b", -1 },
	};

	run_stab("valid_app_name", valid_app_name, t, sizeof(t) / sizeof(t[0]));
	run_len("valid_app_name", valid_app_name, "a", 'b', 62, 0);
	run_len("valid_app_name", valid_app_name, "a", 'b', 63, -1);
	run_meta("valid_app_name", valid_app_name, "myapp", "_-");
	ok(valid_app_name(NULL) == -1, "valid_app_name(NULL)");
}

static void
test_app_id(void)
{
	static const struct stab t[] = {
		{ "abcdefghijkl", 0 }, { "0123456789ab", 0 },
		{ "a1b2c3d4e5f6", 0 }, { "zzzzzzzzzzzz", 0 },
		{ "000000000000", 0 },
		{ "", -1 }, { "abcdefghijk", -1 }, { "abcdefghijklm", -1 },
		{ "ABCDEFGHIJKL", -1 }, { "abcdefghijkL", -1 },
		{ "abcdefghijk-", -1 }, { "abcdefghijk_", -1 },
		{ "abcdefghijk ", -1 }, { " abcdefghijk", -1 },
		{ "abcdefghij\xc3\xa9", -1 }, { "abcdefghijk'", -1 },
		{ "abcdef/hijkl", -1 }, { "../../etc/pa", -1 },
		{ "abcdefghijk\n", -1 },
	};

	run_stab("valid_app_id", valid_app_id, t, sizeof(t) / sizeof(t[0]));
	ok(valid_app_id(NULL) == -1, "valid_app_id(NULL)");
}

static void
test_description(void)
{
	static const struct stab t[] = {
		{ "", 0 }, { "hello", 0 }, { "line\nnext", 0 },
		{ "tab\there", 0 }, { "It's \"quoted\" & <b>ok</b>; $x", 0 },
		{ "h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80", 0 },
		{ "cr\r", -1 }, { "\x01", -1 }, { "bell\x07", -1 },
		{ "del\x7f", -1 }, { "\x1b[31mred", -1 }, { "\xff", -1 },
		{ "\xc0\xaf", -1 }, { "\xed\xa0\x80", -1 }, { "bad \xe6\x97", -1 },
		{ "\xc2\x85", 0 },	/* U+0085 NEL is valid UTF-8 text */
	};

	run_stab("valid_description", valid_description, t,
	    sizeof(t) / sizeof(t[0]));
	run_len("valid_description", valid_description, "", 'd',
	    LIMIT_DESCRIPTION, 0);
	run_len("valid_description", valid_description, "", 'd',
	    LIMIT_DESCRIPTION + 1, -1);
	{
		/* 1022 bytes + a 3-byte character: 1025 bytes. */
		char *s = mk("", 'd', LIMIT_DESCRIPTION - 2, "\xe6\x97\xa5");

		ok(valid_description(s) == -1, "valid_description: multibyte "
		    "character crossing the cap");
		free(s);
	}
	ok(valid_description(NULL) == -1, "valid_description(NULL)");
}

static void
test_env(void)
{
	static const struct stab names[] = {
		{ "A", 0 }, { "_", 0 }, { "PATH", 0 }, { "a_b1", 0 },
		{ "_1", 0 }, { "HF_TOKEN", 0 }, { "lower", 0 },
		{ "", -1 }, { "1A", -1 }, { "A-B", -1 }, { "A B", -1 },
		{ "A=B", -1 }, { "A.B", -1 }, { "\xc3\x89", -1 }, { "A\n", -1 },
		{ "A$", -1 }, { "A;B", -1 }, { "'A'", -1 }, { "A\xc3\xa9", -1 },
		{ "\xd0\x90", -1 },	/* CYRILLIC CAPITAL A */
	};
	static const struct stab values[] = {
		{ "", 0 }, { "x", 0 }, { "a=b; c", 0 }, { "'\"$(id)`", 0 },
		{ "line\nline", 0 }, { "\xe6\x97\xa5\xe6\x9c\xac", 0 },
		{ "\xff", -1 }, { "\xed\xa0\x80", -1 }, { "\xc0\x80", -1 },
		{ "trunc\xc3", -1 },
	};

	run_stab("valid_env_name", valid_env_name, names,
	    sizeof(names) / sizeof(names[0]));
	run_len("valid_env_name", valid_env_name, "A", 'B', LIMIT_ENV_NAME - 1, 0);
	run_len("valid_env_name", valid_env_name, "A", 'B', LIMIT_ENV_NAME, -1);
	run_stab("valid_env_value", valid_env_value, values,
	    sizeof(values) / sizeof(values[0]));
	run_len("valid_env_value", valid_env_value, "", 'v', LIMIT_ENV_VALUE, 0);
	run_len("valid_env_value", valid_env_value, "", 'v', LIMIT_ENV_VALUE + 1, -1);
	ok(valid_env_name(NULL) == -1 && valid_env_value(NULL) == -1,
	    "valid_env_name/value(NULL)");
}

static void
test_utf8(void)
{
	static const struct {
		const char	*s;
		size_t		 n;
		int		 rc;
		const char	*what;
	} t[] = {
		{ "", 0, 0, "empty" },
		{ "a", 1, 0, "ASCII" },
		{ "a\0b", 3, 0, "NUL is ASCII to valid_utf8 (callers check NUL)" },
		{ "\xc2\x80", 2, 0, "U+0080" },
		{ "\xdf\xbf", 2, 0, "U+07FF" },
		{ "\xe0\xa0\x80", 3, 0, "U+0800" },
		{ "\xed\x9f\xbf", 3, 0, "U+D7FF" },
		{ "\xee\x80\x80", 3, 0, "U+E000" },
		{ "\xef\xbf\xbd", 3, 0, "U+FFFD" },
		{ "\xef\xbf\xbf", 3, 0, "U+FFFF" },
		{ "\xf0\x90\x80\x80", 4, 0, "U+10000" },
		{ "\xf0\x9f\x98\x80", 4, 0, "U+1F600" },
		{ "\xf4\x8f\xbf\xbf", 4, 0, "U+10FFFF" },
		{ "a\xc3\xa9z\xe6\x97\xa5", 7, 0, "mixed" },

		{ "\x80", 1, -1, "lone continuation 80" },
		{ "\xbf", 1, -1, "lone continuation bf" },
		{ "a\x80" "b", 3, -1, "continuation after ASCII" },
		{ "\xc0\x80", 2, -1, "overlong NUL C0 80" },
		{ "\xc0\xaf", 2, -1, "overlong '/' C0 AF" },
		{ "\xc1\xbf", 2, -1, "overlong C1 BF" },
		{ "\xe0\x80\x80", 3, -1, "overlong 3-byte NUL" },
		{ "\xe0\x80\xaf", 3, -1, "overlong 3-byte '/'" },
		{ "\xe0\x9f\xbf", 3, -1, "overlong U+07FF in 3 bytes" },
		{ "\xf0\x80\x80\x80", 4, -1, "overlong 4-byte NUL" },
		{ "\xf0\x8f\xbf\xbf", 4, -1, "overlong U+FFFF in 4 bytes" },
		{ "\xed\xa0\x80", 3, -1, "surrogate U+D800" },
		{ "\xed\xaf\xbf", 3, -1, "surrogate U+DBFF" },
		{ "\xed\xb0\x80", 3, -1, "surrogate U+DC00" },
		{ "\xed\xbf\xbf", 3, -1, "surrogate U+DFFF" },
		{ "\xed\xa0\xbd\xed\xb8\x80", 6, -1, "CESU-8 surrogate pair" },
		{ "\xf4\x90\x80\x80", 4, -1, "U+110000" },
		{ "\xf5\x80\x80\x80", 4, -1, "lead F5" },
		{ "\xf7\xbf\xbf\xbf", 4, -1, "lead F7 (U+1FFFFF)" },
		{ "\xf8\x88\x80\x80\x80", 5, -1, "5-byte form" },
		{ "\xfc\x84\x80\x80\x80\x80", 6, -1, "6-byte form" },
		{ "\xfe", 1, -1, "FE" },
		{ "\xff", 1, -1, "FF" },
		{ "\xc2", 1, -1, "truncated 2-byte" },
		{ "\xe0\xa0", 2, -1, "truncated 3-byte" },
		{ "\xf0\x90\x80", 3, -1, "truncated 4-byte" },
		{ "ok\xc3", 3, -1, "truncated at the end" },
		{ "\xc2\x41", 2, -1, "bad continuation (ASCII)" },
		{ "\xe0\xa0\xc0", 3, -1, "bad 3rd byte" },
		{ "\xf0\x90\x80\xc0", 4, -1, "bad 4th byte" },
		{ "\xc2\x80", 1, -1, "valid sequence cut by the length" },
		{ "\xf0\x90\x80\x80", 3, -1, "4-byte sequence cut by the length" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(valid_utf8(t[i].s, t[i].n) == t[i].rc, "valid_utf8 %s: %s",
		    t[i].rc ? "bad" : "good", t[i].what);
}

static void
test_plugin_release(void)
{
	static const struct stab t[] = {
		{ "code@1.0", 0 }, { "my-plugin@v2", 0 }, { "a@1", 0 },
		{ "a_b@1.0.0+build_1-rc", 0 }, { "0@0", 0 }, { "p@V1", 0 },
		{ "", -1 }, { "code", -1 }, { "@1", -1 }, { "code@", -1 },
		{ "code@@1", -1 }, { "a@b@c", -1 }, { "Code@1", -1 },
		{ "-a@1", -1 }, { "_a@1", -1 }, { "a.b@1", -1 },
		{ "a@.1", -1 }, { "a@-1", -1 }, { "a@+1", -1 }, { "a@_1", -1 },
		{ "a@1 2", -1 }, { "a@1/2", -1 }, { "a/b@1", -1 },
		{ "../a@1", -1 }, { "a@1;rm", -1 }, { "a@1\n", -1 },
		{ "a@\xc3\xa9", -1 }, { "\xd0\xb0@1", -1 }, { "a@1'", -1 },
		{ "a @1", -1 }, { "a@ 1", -1 }, { "a@1:latest", -1 },
	};
	char *s;

	run_stab("valid_plugin_release", valid_plugin_release, t,
	    sizeof(t) / sizeof(t[0]));
	s = mk("", 'c', 63, "@1");
	ok(valid_plugin_release(s) == 0, "valid_plugin_release code of 63");
	free(s);
	s = mk("", 'c', 64, "@1");
	ok(valid_plugin_release(s) == -1, "valid_plugin_release code of 64");
	free(s);
	s = mk("c@", '1', 32, "");
	ok(valid_plugin_release(s) == 0, "valid_plugin_release version of 32");
	free(s);
	s = mk("c@", '1', 33, "");
	ok(valid_plugin_release(s) == -1, "valid_plugin_release version of 33");
	free(s);
	ok(valid_plugin_release(NULL) == -1, "valid_plugin_release(NULL)");
}

static void
test_label(void)
{
	static const struct stab t[] = {
		{ "x", 0 }, { "key=value", 0 }, { "with space", 0 },
		{ "\xc3\xbc", 0 }, { "'\";$", 0 },
		{ "", -1 }, { "\n", -1 }, { "a\tb", -1 }, { "a\rb", -1 },
		{ "\x7f", -1 }, { "\xff", -1 }, { "\x1b[0m", -1 },
		{ "\xed\xa0\x80", -1 },
	};

	run_stab("valid_label", valid_label, t, sizeof(t) / sizeof(t[0]));
	run_len("valid_label", valid_label, "", 'l', 128, 0);
	run_len("valid_label", valid_label, "", 'l', 129, -1);
	ok(valid_label(NULL) == -1, "valid_label(NULL)");
}

int
main(void)
{
	test_int();
	test_size();
	test_port_range();
	test_username();
	test_password();
	test_app_name();
	test_app_id();
	test_description();
	test_env();
	test_utf8();
	test_plugin_release();
	test_label();
	return done_testing();
}
