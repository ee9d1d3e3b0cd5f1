/*
 * fuzz_netaddr: libFuzzer harness for the allow-list parser and the
 * Authorization validator.  Invariants checked on every input:
 *   - an accepted list prints in canonical form, the canonical form parses
 *     to the same list, and printing it again gives the same text;
 *   - the canonical text holds only [0-9a-f.:/, ] (nothing that could
 *     close an nginx string, block or directive);
 *   - an accepted Authorization value holds none of  " ' \ ; { } $ #  nor
 *     control bytes, and a Basic value is a valid value.
 *
 * Build (not part of make check):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I<builddir> \
 *     -I<srcdir>/src tests/fuzz/fuzz_netaddr.c src/netaddr.c src/buf.c \
 *     src/log.c -o fuzz_netaddr
 *   ./fuzz_netaddr -max_total_time=60
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct allow_list *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct buf t1 = BUF_INIT, t2 = BUF_INIT;
	const char *in = (const char *)data;
	char err[128];
	size_t i;

	if (a == NULL || b == NULL)
		abort();
	if (netaddr_parse_allow_list_n(in, size, a, err, sizeof(err)) == 0) {
		if (a->n > LIMIT_ALLOW_IPS)
			abort();
		netaddr_format_allow_list(a, &t1);
		for (i = 0; i < t1.len; i++)
			if (strchr("0123456789abcdef.:/, ", t1.data[i]) == NULL)
				abort();
		if (netaddr_parse_allow_list(t1.data, b, err,
		    sizeof(err)) != 0)
			abort();
		if (a->n != b->n || memcmp(a->e, b->e, a->n *
		    sizeof(a->e[0])) != 0)
			abort();
		netaddr_format_allow_list(b, &t2);
		if (strcmp(t1.data, t2.data) != 0)
			abort();
	} else if (err[0] == '\0')
		abort();	/* a rejection always says why */

	if (netaddr_valid_auth_header_n(in, size) == 0) {
		if (size == 0 || size > LIMIT_AUTH_HEADER)
			abort();
		for (i = 0; i < size; i++)
			if ((data[i] < 0x21 && data[i] != ' ') ||
			    data[i] > 0x7e || strchr("\"'\\;{}$#", data[i]))
				abort();
		/* the NUL-terminated entry points agree */
		buf_reset(&t1);
		buf_add(&t1, in, size);
		if (netaddr_valid_auth_header(t1.data) != 0)
			abort();
		(void)netaddr_auth_is_basic(t1.data);
	}
	if (size > 0 && memchr(in, '\0', size) == NULL) {
		buf_reset(&t1);
		buf_add(&t1, in, size);
		if (netaddr_auth_is_basic(t1.data) &&
		    netaddr_valid_auth_header(t1.data) != 0)
			abort();
	}
	buf_release(&t1);
	buf_release(&t2);
	free(a);
	free(b);
	return 0;
}
