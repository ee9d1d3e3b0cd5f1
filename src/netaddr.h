/*
 * netaddr: the two per-app restrictions that end up in the nginx include,
 * parsed strictly so that nothing a user types is ever copied into it.
 *
 * Allow lists: "a, b, c" where each entry is an IPv4 or IPv6 address
 * (inet_pton, so dotted quads with no leading zeros, no hostnames, no "all",
 * no zone ids) optionally followed by "/prefix" (decimal, no leading zeros,
 * 0..32 or 0..128).  Spaces around the commas and at both ends are allowed;
 * empty entries are not.  The empty (or all-space) string is the empty list,
 * meaning "no restriction".
 *   - Host bits beyond the prefix are MASKED: "10.1.2.3/8" is 10.0.0.0/8.
 *   - A full-length prefix is a host: "10.0.0.1/32" prints as "10.0.0.1".
 *   - IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are rejected: nginx
 *     matches IPv4 clients against IPv4 entries, so they could never match.
 *   - Duplicates (after masking) are dropped; the first occurrence keeps its
 *     place.  At most LIMIT_ALLOW_IPS entries.
 * netaddr_format_allow_list() prints the canonical form from the parsed
 * bytes (inet_ntop), entries joined by ", ": feed it back to the parser and
 * you get the same list.
 *
 * Authorization values: the exact header value a visitor must send.
 * Printable ASCII 0x21..0x7e and single inner spaces, 1..LIMIT_AUTH_HEADER
 * bytes, none of  " ' \ ; { } $ #  (so the value can never close a string,
 * a block or a directive, nor name an nginx variable).
 */
#ifndef SLIPWAY_NETADDR_H
#define SLIPWAY_NETADDR_H

#include <stddef.h>

#include "caps.h"

struct buf;

struct allow_entry {
	int		family;		/* AF_INET or AF_INET6 */
	int		prefix;		/* 0..32 or 0..128 */
	unsigned char	addr[16];	/* network byte order, host bits zero */
};

struct allow_list {
	size_t			n;
	struct allow_entry	e[LIMIT_ALLOW_IPS];
};

/*
 * Parse a NUL-terminated allow list.  0 on success (out written), -1 with a
 * short reason in err (never quoting the input) otherwise.  err may be NULL.
 */
int	netaddr_parse_allow_list(const char *input, struct allow_list *out,
	    char *err, size_t errlen);
/* Same for len bytes (an embedded NUL is an error). */
int	netaddr_parse_allow_list_n(const char *input, size_t len,
	    struct allow_list *out, char *err, size_t errlen);
/* Append the canonical form ("" for the empty list) to b. */
void	netaddr_format_allow_list(const struct allow_list *, struct buf *b);
/* Append one entry in canonical form ("10.0.0.0/8", "::1"). */
void	netaddr_format_entry(const struct allow_entry *, struct buf *b);
/*
 * Canonicalise in one step: 0 and the canonical text appended to b, or -1
 * (b untouched) with a reason in err.
 */
int	netaddr_canonical_allow_list(const char *input, struct buf *b,
	    char *err, size_t errlen);

/* 0 if s is an acceptable Authorization value, -1 otherwise. */
int	netaddr_valid_auth_header(const char *s);
int	netaddr_valid_auth_header_n(const char *s, size_t len);
/*
 * 1 if s is a valid Authorization value of the form "Basic <base64>" (scheme
 * case-insensitive, padded base64 of at least one byte), 0 otherwise.
 */
int	netaddr_auth_is_basic(const char *s);

#endif
