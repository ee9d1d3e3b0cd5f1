#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "caps.h"
#include "log.h"
#include "netaddr.h"

/* Longest entry text: a full IPv6 address with an embedded IPv4 and "/128". */
#define NETADDR_ENTRY_MAX	(INET6_ADDRSTRLEN + 4)

static void __attribute__((format(printf, 3, 4)))
netaddr_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(err, errlen, fmt, ap) < 0)
		err[0] = '\0';
	va_end(ap);
}

/* Decimal 0..max, no sign, no leading zeros, no junk. */
static int
netaddr_parse_prefix(const char *s, size_t n, int max, int *out)
{
	int v = 0;
	size_t i;

	if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Dotted quad with no leading zeros (inet_pton does the rest). */
static int
netaddr_ipv4_text_ok(const char *s)
{
	const char *p;
	int digits = 0;

	for (p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (digits == 0)
				return -1;
			digits = 0;
			continue;
		}
		if (*p < '0' || *p > '9')
			return -1;
		if (digits == 1 && p[-1] == '0')
			return -1;	/* "01": octal in some parsers */
		digits++;
	}
	return digits == 0 ? -1 : 0;
}

static int
netaddr_ipv6_text_ok(const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
		    (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
			return -1;
	return 0;
}

static void
netaddr_mask(struct allow_entry *e)
{
	int bytes = e->family == AF_INET ? 4 : 16;
	int i, bit;

	for (i = 0; i < bytes; i++) {
		bit = i * 8;
		if (bit >= e->prefix)
			e->addr[i] = 0;
		else if (bit + 8 > e->prefix)
			e->addr[i] &= (unsigned char)(0xff << (8 - (e->prefix - bit)));
	}
}

/* Parse one trimmed entry of n bytes (no NUL inside, checked by caller). */
static int
netaddr_parse_entry(const char *s, size_t n, struct allow_entry *e,
    char *err, size_t errlen, size_t idx)
{
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char text[NETADDR_ENTRY_MAX + 1];
	const char *slash;
	size_t alen;
	int max;

	if (n > NETADDR_ENTRY_MAX) {
		netaddr_err(err, errlen, "entry %zu: too long", idx);
		return -1;
	}
	memcpy(text, s, n);
	text[n] = '\0';
	slash = memchr(text, '/', n);
	alen = slash ? (size_t)(slash - text) : n;
	if (alen == 0) {
		netaddr_err(err, errlen, "entry %zu: missing address", idx);
		return -1;
	}
	text[alen] = '\0';
	memset(e, 0, sizeof(*e));
	if (memchr(text, ':', alen) != NULL) {
		e->family = AF_INET6;
		max = 128;
		if (netaddr_ipv6_text_ok(text) == -1 ||
		    inet_pton(AF_INET6, text, e->addr) != 1) {
			netaddr_err(err, errlen,
			    "entry %zu: not an IPv6 address", idx);
			return -1;
		}
		if (memcmp(e->addr, v4mapped, sizeof(v4mapped)) == 0) {
			netaddr_err(err, errlen, "entry %zu: IPv4-mapped IPv6 "
			    "address: write the IPv4 form", idx);
			return -1;
		}
	} else {
		e->family = AF_INET;
		max = 32;
		if (netaddr_ipv4_text_ok(text) == -1 ||
		    inet_pton(AF_INET, text, e->addr) != 1) {
			netaddr_err(err, errlen, "entry %zu: not an IPv4 "
			    "address (a.b.c.d, no hostnames)", idx);
			return -1;
		}
	}
	e->prefix = max;
	if (slash != NULL && netaddr_parse_prefix(slash + 1,
	    n - alen - 1, max, &e->prefix) == -1) {
		netaddr_err(err, errlen, "entry %zu: prefix must be 0..%d",
		    idx, max);
		return -1;
	}
	netaddr_mask(e);
	return 0;
}

static int
netaddr_entry_equal(const struct allow_entry *a, const struct allow_entry *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	    memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

int
netaddr_parse_allow_list_n(const char *input, size_t len,
    struct allow_list *out, char *err, size_t errlen)
{
	struct allow_list *tmp = NULL;
	struct allow_entry e;
	size_t i, start, end, idx = 0, k;
	int rc = -1, dup;

	if (input == NULL) {
		netaddr_err(err, errlen, "missing");
		return -1;
	}
	if (memchr(input, '\0', len) != NULL) {
		netaddr_err(err, errlen, "NUL byte");
		return -1;
	}
	tmp = xcalloc(1, sizeof(*tmp));
	/* All spaces (or nothing): the empty list. */
	for (i = 0; i < len && input[i] == ' '; i++)
		;
	if (i == len) {
		*out = *tmp;
		rc = 0;
		goto out;
	}
	start = 0;
	for (;;) {
		idx++;
		for (end = start; end < len && input[end] != ','; end++)
			;
		/* trim spaces on both sides of the entry */
		i = start;
		while (i < end && input[i] == ' ')
			i++;
		k = end;
		while (k > i && input[k - 1] == ' ')
			k--;
		if (k == i) {
			netaddr_err(err, errlen, "entry %zu: empty", idx);
			goto out;
		}
		if (netaddr_parse_entry(input + i, k - i, &e, err, errlen,
		    idx) == -1)
			goto out;
		dup = 0;
		for (k = 0; k < tmp->n; k++)
			if (netaddr_entry_equal(&tmp->e[k], &e))
				dup = 1;
		if (!dup) {
			if (tmp->n == LIMIT_ALLOW_IPS) {
				netaddr_err(err, errlen, "more than %d entries",
				    LIMIT_ALLOW_IPS);
				goto out;
			}
			tmp->e[tmp->n++] = e;
		}
		if (end == len)
			break;
		start = end + 1;
	}
	*out = *tmp;
	rc = 0;
out:
	free(tmp);
	return rc;
}

int
netaddr_parse_allow_list(const char *input, struct allow_list *out,
    char *err, size_t errlen)
{
	if (input == NULL) {
		netaddr_err(err, errlen, "missing");
		return -1;
	}
	return netaddr_parse_allow_list_n(input, strlen(input), out, err,
	    errlen);
}

void
netaddr_format_entry(const struct allow_entry *e, struct buf *b)
{
	char text[INET6_ADDRSTRLEN];
	int max = e->family == AF_INET ? 32 : 128;

	if (inet_ntop(e->family, e->addr, text, sizeof(text)) == NULL)
		fatal("inet_ntop");	/* parsed entries always format */
	buf_adds(b, text);
	if (e->prefix != max)
		buf_printf(b, "/%d", e->prefix);
}

void
netaddr_format_allow_list(const struct allow_list *l, struct buf *b)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (i > 0)
			buf_adds(b, ", ");
		netaddr_format_entry(&l->e[i], b);
	}
}

int
netaddr_canonical_allow_list(const char *input, struct buf *b, char *err,
    size_t errlen)
{
	struct allow_list *l = xcalloc(1, sizeof(*l));
	int rc = -1;

	if (netaddr_parse_allow_list(input, l, err, errlen) == -1)
		goto out;
	netaddr_format_allow_list(l, b);
	rc = 0;
out:
	free(l);
	return rc;
}

int
netaddr_valid_auth_header_n(const char *s, size_t len)
{
	size_t i;
	unsigned char c;

	if (s == NULL || len < 1 || len > LIMIT_AUTH_HEADER)
		return -1;
	if (s[0] == ' ' || s[len - 1] == ' ')
		return -1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == ' ') {
			if (s[i + 1] == ' ')	/* i + 1 < len: no trailing space */
				return -1;
			continue;
		}
		if (c < 0x21 || c > 0x7e)
			return -1;
		if (strchr("\"'\\;{}$#", c) != NULL)
			return -1;
	}
	return 0;
}

int
netaddr_valid_auth_header(const char *s)
{
	if (s == NULL)
		return -1;
	return netaddr_valid_auth_header_n(s, strlen(s));
}

static int
netaddr_is_b64(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int
netaddr_auth_is_basic(const char *s)
{
	const char *p;
	size_t n, i, pad = 0;

	if (netaddr_valid_auth_header(s) == -1 ||
	    strncasecmp(s, "Basic ", 6) != 0)
		return 0;
	p = s + 6;
	n = strlen(p);
	if (n == 0 || n % 4 != 0)
		return 0;
	if (p[n - 1] == '=') {
		pad++;
		if (p[n - 2] == '=')
			pad++;
	}
	for (i = 0; i < n - pad; i++)
		if (!netaddr_is_b64((unsigned char)p[i]))
			return 0;
	return 1;
}
