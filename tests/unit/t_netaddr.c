/* t_netaddr: allow lists and Authorization values, good and hostile. */
#include "config.h"

#include <string.h>

#include "buf.h"
#include "caps.h"
#include "netaddr.h"
#include "tap.h"

static const struct {
	const char	*in;
	const char	*canonical;
} good_lists[] = {
	{ "10.0.0.1",			"10.0.0.1" },
	{ "10.0.0.0/8",			"10.0.0.0/8" },
	{ "::1",			"::1" },
	{ "2001:db8::/32",		"2001:db8::/32" },
	{ "1.2.3.4, ::1",		"1.2.3.4, ::1" },
	{ "1.2.3.4,::1",		"1.2.3.4, ::1" },
	{ "  1.2.3.4 ,  ::1  ",		"1.2.3.4, ::1" },
	{ "",				"" },
	{ "   ",			"" },
	{ "10.1.2.3/8",			"10.0.0.0/8" },		/* masked */
	{ "192.168.1.77/30",		"192.168.1.76/30" },
	{ "10.0.0.1/32",		"10.0.0.1" },		/* host */
	{ "0.0.0.0/0",			"0.0.0.0/0" },
	{ "255.255.255.255",		"255.255.255.255" },
	{ "0.0.0.0",			"0.0.0.0" },
	{ "::/0",			"::/0" },
	{ "2001:DB8:0:0:0:0:0:1",	"2001:db8::1" },
	{ "2001:0db8::0001",		"2001:db8::1" },
	{ "2001:db8::1/128",		"2001:db8::1" },
	{ "2001:db8:abcd:ef01::/48",	"2001:db8:abcd::/48" },	/* masked */
	{ "fe80::1/10",			"fe80::/10" },
	{ "::1.2.3.4",			"::1.2.3.4" },	/* glibc style */
	{ "10.0.0.1, 10.0.0.1",		"10.0.0.1" },		/* duplicate */
	{ "10.0.0.0/8, 10.9.9.9/8, ::1, 0:0::1", "10.0.0.0/8, ::1" },
	{ "10.0.0.0/0",			"0.0.0.0/0" },
};

static const struct {
	const char	*in;
	const char	*why;
} bad_lists[] = {
	{ "\"10.0.0.1\"",		"double quotes" },
	{ "'10.0.0.1'",			"single quotes" },
	{ "10.0.0.1;",			"semicolon" },
	{ "10.0.0.1; deny all",		"directive" },
	{ "10.0.0.1 {",			"open brace" },
	{ "}",				"close brace" },
	{ "$remote_addr",		"variable" },
	{ "10.0.0.1\n",			"newline" },
	{ "10.0.0.1\n1.1.1.1",		"newline between" },
	{ "10.0.0.1\r",			"carriage return" },
	{ "10.0.0.1\t",			"tab" },
	{ "1.2.3",			"three parts" },
	{ "1.2.3.4.5",			"five parts" },
	{ "1.2.3.4/33",			"prefix too long" },
	{ "::1/129",			"v6 prefix too long" },
	{ "1.2.3.4/08",			"prefix leading zero" },
	{ "1.2.3.4/",			"empty prefix" },
	{ "1.2.3.4/+8",			"signed prefix" },
	{ "1.2.3.4/-1",			"negative prefix" },
	{ "1.2.3.4/8/8",		"two prefixes" },
	{ "1.2.3.4/0x8",		"hex prefix" },
	{ "1.2.3.4/ 8",			"space in prefix" },
	{ "1.2.3.4 /8",			"space before slash" },
	{ "01.2.3.4",			"leading zero octet" },
	{ "1.2.3.04",			"leading zero last octet" },
	{ "0x1.2.3.4",			"hex octet" },
	{ "256.1.1.1",			"octet overflow" },
	{ "1.2.3.-4",			"negative octet" },
	{ "16909060",			"integer address" },
	{ "all",			"all" },
	{ "localhost",			"hostname" },
	{ "example.com",		"dotted hostname" },
	{ "unix:",			"unix" },
	{ "1.2.3.4,",			"trailing comma" },
	{ ",1.2.3.4",			"leading comma" },
	{ "1.2.3.4,,::1",		"empty entry" },
	{ "1.2.3.4, ,::1",		"space entry" },
	{ ",",				"only comma" },
	{ "/8",				"prefix alone" },
	{ "1.2.3.4 5.6.7.8",		"space separated" },
	{ "fe80::1%eth0",		"zone id" },
	{ "[::1]",			"brackets" },
	{ "::ffff:1.2.3.4",		"v4-mapped" },
	{ "1:2:3:4:5:6:7:8:9",		"nine groups" },
	{ "1::2::3",			"two double colons" },
	{ "12345::",			"five hex digits" },
	{ "g::1",			"non-hex" },
	{ "1.2.3.4\\",			"backslash" },
	{ "#1.2.3.4",			"comment" },
	{ "1.2.3.4.",			"trailing dot" },
	{ ".1.2.3.4",			"leading dot" },
	{ "1..2.3",			"empty octet" },
	{ "\xc2\xa0" "1.2.3.4",		"non-ASCII space" },
};

static const struct {
	const char	*in;
	int		 ok;
	int		 basic;
} auth_values[] = {
	{ "Bearer xyz",				1, 0 },
	{ "Basic dXNlcjpwYXNz",			1, 1 },
	{ "basic dXNlcjpwYXNz",			1, 1 },
	{ "BASIC dXNlcjpwYXNz",			1, 1 },
	{ "Basic dXNlcjpwYXM=",			1, 1 },
	{ "Basic dXNlcjpwYQ==",			1, 1 },
	{ "Basic dXNlcjpwYQ",			1, 0 },	/* unpadded */
	{ "Basic dXNlc=pwYQ==",			1, 0 },	/* = inside */
	{ "Basic ====",				1, 0 },
	{ "Basic",				1, 0 },
	{ "Basic  dXNlcjpwYXNz",		0, 0 },	/* double space */
	{ "Basicx dXNlcjpwYXNz",		1, 0 },
	{ "Token abc-DEF_123.~+/=",		1, 0 },
	{ "x",					1, 0 },
	{ "a b c",				1, 0 },
	{ "!%&()*+,-./:<=>?@[]^_`|~",		1, 0 },
	{ "",					0, 0 },
	{ " Bearer xyz",			0, 0 },
	{ "Bearer xyz ",			0, 0 },
	{ "Bearer  xyz",			0, 0 },
	{ "Bearer \"xyz\"",			0, 0 },
	{ "Bearer 'xyz'",			0, 0 },
	{ "Bearer x\\y",			0, 0 },
	{ "Bearer xyz;",			0, 0 },
	{ "Bearer xyz; return 200",		0, 0 },
	{ "Bearer {xyz}",			0, 0 },
	{ "Bearer }",				0, 0 },
	{ "Bearer ${x}",			0, 0 },
	{ "Bearer $http_host",			0, 0 },
	{ "Bearer #x",				0, 0 },
	{ "Bearer xyz\n",			0, 0 },
	{ "Bearer\nxyz",			0, 0 },
	{ "Bearer\txyz",			0, 0 },
	{ "Bearer\rxyz",			0, 0 },
	{ "Bearer \x7f",			0, 0 },
	{ "Bearer \xc3\xa9",			0, 0 },
	{ "Basic dXNlcjpwYXNz\n",		0, 0 },
};

static void
test_good_lists(void)
{
	struct allow_list l;
	struct buf b = BUF_INIT, again = BUF_INIT;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(good_lists) / sizeof(good_lists[0]); i++) {
		err[0] = '\0';
		if (!ok(netaddr_parse_allow_list(good_lists[i].in, &l, err,
		    sizeof(err)) == 0, "good list '%s'", good_lists[i].in)) {
			printf("#   err: %s\n", err);
			continue;
		}
		buf_reset(&b);
		netaddr_format_allow_list(&l, &b);
		is_str(b.data, good_lists[i].canonical, "canonical '%s'",
		    good_lists[i].in);
		/* the canonical form is a fixed point */
		buf_reset(&again);
		ok(netaddr_canonical_allow_list(b.data, &again, err,
		    sizeof(err)) == 0 && strcmp(again.data, b.data) == 0,
		    "canonical of canonical '%s'", b.data);
	}
	buf_release(&b);
	buf_release(&again);
}

static void
test_bad_lists(void)
{
	struct allow_list l;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
		err[0] = '\0';
		l.n = 12345;
		ok(netaddr_parse_allow_list(bad_lists[i].in, &l, err,
		    sizeof(err)) == -1 && err[0] != '\0' && l.n == 12345,
		    "bad list: %s (%s)", bad_lists[i].why, err);
		/* the reason never echoes the input */
		ok(strstr(err, bad_lists[i].in) == NULL || strlen(
		    bad_lists[i].in) < 3, "reason does not quote input: %s",
		    bad_lists[i].why);
	}
}

static void
test_list_edges(void)
{
	struct allow_list l;
	struct buf in = BUF_INIT, out = BUF_INIT;
	char err[128];
	int i;

	/* embedded NUL, passed with its length */
	ok(netaddr_parse_allow_list_n("10.0.0.1\0, ::1", 14, &l, err,
	    sizeof(err)) == -1, "embedded NUL rejected");
	ok(netaddr_parse_allow_list_n("10.0.0.1, ::1", 13, &l, err,
	    sizeof(err)) == 0 && l.n == 2, "same list without NUL accepted");
	ok(netaddr_parse_allow_list_n("10.0.0.1, ::1", 8, &l, err,
	    sizeof(err)) == 0 && l.n == 1, "length bounds the input");
	ok(netaddr_parse_allow_list(NULL, &l, err, sizeof(err)) == -1,
	    "NULL rejected");

	/* exactly LIMIT_ALLOW_IPS distinct entries, then one more */
	for (i = 0; i < LIMIT_ALLOW_IPS; i++)
		buf_printf(&in, "%s10.0.%d.%d", i ? "," : "", i / 256, i % 256);
	ok(netaddr_parse_allow_list(in.data, &l, err, sizeof(err)) == 0 &&
	    l.n == LIMIT_ALLOW_IPS, "%d entries accepted", LIMIT_ALLOW_IPS);
	buf_adds(&in, ",10.0.0.1");	/* a duplicate does not count */
	ok(netaddr_parse_allow_list(in.data, &l, err, sizeof(err)) == 0 &&
	    l.n == LIMIT_ALLOW_IPS, "duplicate beyond the cap is dropped");
	buf_adds(&in, ",10.9.9.9");
	ok(netaddr_parse_allow_list(in.data, &l, err, sizeof(err)) == -1,
	    "%d entries rejected (%s)", LIMIT_ALLOW_IPS + 1, err);

	/* an overlong entry */
	buf_reset(&in);
	for (i = 0; i < 100; i++)
		buf_adds(&in, "1");
	ok(netaddr_parse_allow_list(in.data, &l, err, sizeof(err)) == -1,
	    "overlong entry rejected");
	buf_reset(&in);
	for (i = 0; i < 100000; i++)
		buf_adds(&in, "1.2.3.4,");
	ok(netaddr_parse_allow_list(in.data, &l, err, sizeof(err)) == -1,
	    "overlong list rejected");

	/* masking is bit exact */
	ok(netaddr_parse_allow_list("255.255.255.255/1, ffff::/9", &l, err,
	    sizeof(err)) == 0, "masks parse");
	netaddr_format_allow_list(&l, &out);
	is_str(out.data, "128.0.0.0/1, ff80::/9", "masks are bit exact");

	/* a tiny error buffer is fine */
	ok(netaddr_parse_allow_list("all", &l, err, 4) == -1 &&
	    strlen(err) == 3, "error text truncated to the buffer");
	ok(netaddr_parse_allow_list("all", &l, NULL, 0) == -1,
	    "NULL error buffer");
	buf_release(&in);
	buf_release(&out);
}

static void
test_auth(void)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(auth_values) / sizeof(auth_values[0]); i++) {
		is(netaddr_valid_auth_header(auth_values[i].in) == 0,
		    auth_values[i].ok, "auth value %zu valid=%d", i,
		    auth_values[i].ok);
		is(netaddr_auth_is_basic(auth_values[i].in),
		    auth_values[i].basic, "auth value %zu basic=%d", i,
		    auth_values[i].basic);
	}
	ok(netaddr_valid_auth_header(NULL) == -1, "NULL auth rejected");
	ok(netaddr_auth_is_basic(NULL) == 0, "NULL is not basic");
	ok(netaddr_valid_auth_header_n("Bearer a\0b", 10) == -1,
	    "embedded NUL rejected");
	ok(netaddr_valid_auth_header_n("Bearer ab", 9) == 0,
	    "length-bounded value accepted");

	buf_adds(&b, "Bearer ");
	while (b.len < LIMIT_AUTH_HEADER)
		buf_addch(&b, 'a');
	ok(netaddr_valid_auth_header(b.data) == 0, "%d bytes accepted",
	    LIMIT_AUTH_HEADER);
	buf_addch(&b, 'a');
	ok(netaddr_valid_auth_header(b.data) == -1, "%d bytes rejected",
	    LIMIT_AUTH_HEADER + 1);
	buf_release(&b);
}

int
main(void)
{
	test_good_lists();
	test_bad_lists();
	test_list_edges();
	test_auth();
	return done_testing();
}
