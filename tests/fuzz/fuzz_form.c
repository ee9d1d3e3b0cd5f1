/*
 * libFuzzer harness for the query/form parser (form.c).
 * Build and run (not part of make check; B = a configured build directory
 * for config.h, S = the source tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=undefined -I$B -iquote $S/src \
 *     $(pkg-config --cflags json-c) $S/tests/fuzz/fuzz_form.c \
 *     $S/src/form.c $S/src/buf.c $S/src/log.c \
 *     $(pkg-config --libs json-c) -o fuzz_form
 *   mkdir -p corpus_form && printf 'a=1&b=%%41+c&d' > corpus_form/seed
 *   ./fuzz_form -max_total_time=60 corpus_form
 *
 * Input: the whole input is a urlencoded body (NUL bytes included).
 * Checks, abort() on violation:
 *   - on success: at most LIMIT_FORM_FIELDS fields, each with a non-empty
 *     NUL-free name and a value of value_len <= LIMIT_FIELD_VALUE bytes
 *     with no NUL inside and a NUL after it;
 *   - round trip: percent-encoding every field again and parsing that
 *     gives the same fields, byte for byte;
 *   - a NUL byte, "%00" or a '%' not followed by two hex digits anywhere
 *     in the input means failure;
 *   - form_urldecode: output no longer than input, outlen == strlen(out),
 *     '+' kept when plus_is_space is 0.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "form.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
ishex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* Does the input contain something that must make the parser fail? */
static int
must_fail(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\0')
			return 1;
		if (s[i] == '%') {
			if (i + 2 >= n || !ishex((unsigned char)s[i + 1]) ||
			    !ishex((unsigned char)s[i + 2]))
				return 1;
			if (s[i + 1] == '0' && s[i + 2] == '0')
				return 1;
		}
	}
	return 0;
}

static void
encode(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')
			buf_addch(b, c);
		else if (c == ' ')
			buf_addch(b, '+');
		else {
			buf_addch(b, '%');
			buf_addch(b, hex[c >> 4]);
			buf_addch(b, hex[c & 15]);
		}
	}
}

static void
check_decode(const char *s, size_t n, int plus)
{
	size_t outlen = (size_t)-1, i, plus_in = 0, plus_out = 0;
	char *out;

	if ((out = form_urldecode(s, n, plus, &outlen)) == NULL)
		return;
	if (outlen > n || strlen(out) != outlen)
		abort();
	if (!plus) {
		/* every literal '+' survives; %2B adds more */
		for (i = 0; i < n; i++)
			if (s[i] == '+')
				plus_in++;
		for (i = 0; i < outlen; i++)
			if (out[i] == '+')
				plus_out++;
		if (plus_out < plus_in)
			abort();
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct form f = FORM_INIT, g = FORM_INIT;
	struct buf again = BUF_INIT;
	size_t i;
	int rc;

	rc = form_parse_urlencoded(&f, in, size);
	if (rc == 0 && must_fail(in, size))
		abort();
	if (rc == 0) {
		if (f.n > LIMIT_FORM_FIELDS)
			abort();
		for (i = 0; i < f.n; i++) {
			if (f.fields[i].name[0] == '\0' ||
			    f.fields[i].value_len > LIMIT_FIELD_VALUE ||
			    strlen(f.fields[i].value) != f.fields[i].value_len ||
			    f.fields[i].value[f.fields[i].value_len] != '\0')
				abort();
			if (i > 0)
				buf_addch(&again, '&');
			encode(&again, f.fields[i].name, strlen(f.fields[i].name));
			buf_addch(&again, '=');
			encode(&again, f.fields[i].value, f.fields[i].value_len);
		}
		if (form_parse_urlencoded(&g, again.data, again.len) != 0 ||
		    g.n != f.n)
			abort();
		for (i = 0; i < f.n; i++)
			if (strcmp(f.fields[i].name, g.fields[i].name) != 0 ||
			    f.fields[i].value_len != g.fields[i].value_len ||
			    memcmp(f.fields[i].value, g.fields[i].value,
			    f.fields[i].value_len) != 0)
				abort();
		/* the accessors agree with the list */
		for (i = 0; i < f.n; i++)
			if (form_get(&f, f.fields[i].name) == NULL ||
			    form_count(&f, f.fields[i].name) == 0)
				abort();
	}
	check_decode(in, size, 0);
	check_decode(in, size, 1);
	form_free(&f);
	form_free(&g);
	buf_release(&again);
	return 0;
}
