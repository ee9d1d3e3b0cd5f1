#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "multipart.h"
#include "tap.h"

#define CRLF "\r\n"
#define B "XyZ"
#define DISP(n) "Content-Disposition: form-data; name=\"" n "\"" CRLF
#define FIELD(n, v) "--" B CRLF DISP(n) CRLF v CRLF
#define CLOSE "--" B "--" CRLF

/* ---- multipart_boundary ---- */

static void
test_boundary(void)
{
	static const struct {
		const char *ct;
		const char *want;	/* NULL: must fail */
	} t[] = {
		{ "multipart/form-data; boundary=abc", "abc" },
		{ "multipart/form-data;boundary=abc", "abc" },
		{ "Multipart/Form-Data; BOUNDARY=----WebKitFormBoundaryx7Q", "----WebKitFormBoundaryx7Q" },
		{ "multipart/form-data; boundary=\"a b:c=d?\"", "a b:c=d?" },
		{ "multipart/form-data; charset=utf-8; boundary=xyz", "xyz" },
		{ "multipart/form-data; boundary=xyz; charset=utf-8", "xyz" },
		{ "multipart/form-data; boundary=xyz;", "xyz" },
		{ "  multipart/form-data ; boundary = xyz", "xyz" },
		{ "multipart/form-data; boundary=\"q\\\"\"", NULL },	/* '"' not a bchar */
		{ "multipart/form-data; boundary="
		    "0123456789012345678901234567890123456789012345678901234567890123456789",
		    "0123456789012345678901234567890123456789012345678901234567890123456789" },
		{ "multipart/form-data; boundary="
		    "01234567890123456789012345678901234567890123456789012345678901234567890", NULL },
		{ "", NULL },
		{ "multipart/form-data", NULL },
		{ "multipart/form-data;", NULL },
		{ "multipart/form-data; boundary=", NULL },
		{ "multipart/form-data; boundary=\"\"", NULL },
		{ "multipart/form-data; boundary=\"abc", NULL },
		{ "multipart/form-data; boundary=\"ab \"", NULL },	/* ends in space */
		{ "multipart/form-data; boundary=a@b", NULL },	/* not a bchar */
		{ "multipart/form-data; boundary=a;boundary=b", NULL },
		{ "multipart/form-data; boundary=abc junk", NULL },
		{ "multipart/form-data; =abc", NULL },
		{ "multipart/form-data; boundary", NULL },
		{ "multipart/form-dataX; boundary=a", NULL },
		{ "multipart/mixed; boundary=a", NULL },
		{ "text/plain; boundary=a", NULL },
		{ "application/x-www-form-urlencoded", NULL },
	};
	char out[MULTIPART_BOUNDARY_MAX + 1], small[3];
	size_t i;
	int r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(out, 'Z', sizeof(out));
		out[sizeof(out) - 1] = '\0';
		r = multipart_boundary(t[i].ct, out, sizeof(out));
		if (t[i].want != NULL) {
			is(r, 0, "boundary ok: %s", t[i].ct);
			is_str(out, t[i].want, "boundary value: %s", t[i].ct);
		} else
			is(r, -1, "boundary rejected: %s", t[i].ct);
	}
	is(multipart_boundary(NULL, out, sizeof(out)), -1, "NULL content type");
	is(multipart_boundary("multipart/form-data; boundary=abc", small,
	    sizeof(small)), -1, "boundary longer than the output buffer");
	ok(multipart_new("a b ", &(struct multipart_cb){ 0 }, NULL) == NULL,
	    "multipart_new refuses a bad boundary");
}

/* ---- the parser, with an event log ---- */

struct rec {
	struct buf	log;
	int		stop_at;	/* stop (return -1) at this callback, 0: never */
	int		calls;
	int		in_data;
};

static int
rec_stop(struct rec *r)
{
	return ++r->calls == r->stop_at ? -1 : 0;
}

static int
rec_begin(void *arg, const char *name, const char *fn, const char *ct)
{
	struct rec *r = arg;

	buf_printf(&r->log, "B(%s|%s|%s)", name, fn ? fn : "-", ct ? ct : "-");
	r->in_data = 0;
	return rec_stop(r);
}

static int
rec_data(void *arg, const char *d, size_t n)
{
	struct rec *r = arg;

	/* Consecutive data calls are merged so chunkings compare equal. */
	if (!r->in_data)
		buf_adds(&r->log, "D:");
	r->in_data = 1;
	buf_add(&r->log, d, n);
	if (n == 0)
		buf_adds(&r->log, "<EMPTY DATA CALL>");
	return rec_stop(r);
}

static int
rec_end(void *arg)
{
	struct rec *r = arg;

	buf_adds(&r->log, "|E;");
	r->in_data = 0;
	return rec_stop(r);
}

static const struct multipart_cb rec_cb = { rec_begin, rec_data, rec_end };

static unsigned long rng = 88172645463325252UL;

static unsigned long
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/*
 * Parse body with chunking: 0 = whole, 1 = byte by byte, else random chunk
 * sizes from seed.  Returns the rc (0 / -1) and fills log.
 */
static int
parse(const char *boundary, const char *body, size_t len, int chunking,
    int stop_at, struct buf *log, const char **err)
{
	struct rec r = { BUF_INIT, stop_at, 0, 0 };
	struct multipart *mp;
	size_t off = 0, n;
	int rc = 0;

	mp = multipart_new(boundary, &rec_cb, &r);
	if (mp == NULL)
		return -2;
	while (off < len && rc == 0) {
		if (chunking == 0)
			n = len;
		else if (chunking == 1)
			n = 1;
		else
			n = 1 + rnd() % (chunking == 2 ? 7 : 300);
		if (n > len - off)
			n = len - off;
		rc = multipart_feed(mp, body + off, n);
		off += n;
	}
	if (rc == 0)
		rc = multipart_finish(mp);
	if (err != NULL)
		*err = multipart_error(mp);
	/* A failed parser keeps failing. */
	if (rc == -1 && multipart_feed(mp, "x", 1) != -1)
		rc = -3;
	multipart_free(mp);
	buf_release(log);
	*log = r.log;
	return rc;
}

static void
test_parser_table(void)
{
	static const struct {
		const char *desc;
		const char *body;
		int rc;
		const char *log;	/* expected event log when rc == 0 */
	} t[] = {
		{ "one field", FIELD("a", "hello") CLOSE, 0,
		    "B(a|-|-)D:hello|E;" },
		{ "two fields, preamble and epilogue",
		    "preamble junk\r\n--XyZx\r\n" FIELD("a", "1") FIELD("b", "2")
		    "--XyZ--\r\nepilogue --XyZ\r\n", 0,
		    "B(a|-|-)D:1|E;B(b|-|-)D:2|E;" },
		{ "preamble ending in CRLF before the first delimiter",
		    "pre\r\n" FIELD("a", "1") CLOSE, 0, "B(a|-|-)D:1|E;" },
		{ "file with filename and type",
		    "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n"
		    "Content-Type: application/zip\r\n\r\nPK\x03\x04\r\n" CLOSE, 0,
		    "B(file|a.zip|application/zip)D:PK\x03\x04|E;" },
		{ "empty part body", FIELD("a", "") CLOSE, 0, "B(a|-|-)|E;" },
		{ "body holds a delimiter lookalike",
		    FIELD("a", "x\r\n--XyZa\r\n--Xy\r\r\n-\r\n--XyZZ") CLOSE, 0,
		    "B(a|-|-)D:x\r\n--XyZa\r\n--Xy\r\r\n-\r\n--XyZZ|E;" },
		{ "CR before the delimiter", FIELD("a", "x\r") CLOSE, 0,
		    "B(a|-|-)D:x\r|E;" },
		{ "body is CRLF", FIELD("a", "\r\n") CLOSE, 0,
		    "B(a|-|-)D:\r\n|E;" },
		{ "transport padding after delimiters",
		    "--XyZ \t\r\n" DISP("a") "\r\nv\r\n--XyZ  \r\n" DISP("b")
		    "\r\nw\r\n--XyZ--", 0, "B(a|-|-)D:v|E;B(b|-|-)D:w|E;" },
		{ "close delimiter without CRLF", FIELD("a", "v") "--XyZ--", 0,
		    "B(a|-|-)D:v|E;" },
		{ "header names are case-insensitive, unknown headers ignored",
		    "--XyZ\r\ncontent-disposition: FORM-DATA; NAME=a\r\n"
		    "X-Other: whatever\r\ncontent-type:text/plain \r\n\r\nv\r\n" CLOSE, 0,
		    "B(a|-|text/plain)D:v|E;" },
		{ "quoted filename with escapes",
		    "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\\\"b\\\\c.txt\"\r\n\r\nv\r\n" CLOSE,
		    0, "B(f|a\"b\\c.txt|-)D:v|E;" },
		{ "filename* wins over filename",
		    "--XyZ\r\nContent-Disposition: form-data; name=f; filename=\"naive.txt\"; "
		    "filename*=UTF-8''na%C3%AFve.txt\r\n\r\nv\r\n" CLOSE, 0,
		    "B(f|na\xc3\xafve.txt|-)D:v|E;" },
		{ "filename* before filename",
		    "--XyZ\r\nContent-Disposition: form-data; name=f; filename*=utf-8'en'x%20y; "
		    "filename=z\r\n\r\nv\r\n" CLOSE, 0, "B(f|x y|-)D:v|E;" },
		{ "empty filename", "--XyZ\r\nContent-Disposition: form-data; name=f; filename=\"\"\r\n\r\n\r\n" CLOSE,
		    0, "B(f||-)|E;" },
		{ "semicolon-separated with spaces and trailing ;",
		    "--XyZ\r\nContent-Disposition: form-data ;name = \"a\" ; \r\n\r\nv\r\n" CLOSE,
		    0, "B(a|-|-)D:v|E;" },
		/* failures */
		{ "empty body", "", -1, NULL },
		{ "no closing delimiter", FIELD("a", "v"), -1, NULL },
		{ "truncated in the body", "--XyZ\r\n" DISP("a") "\r\nvalue", -1, NULL },
		{ "truncated in the headers", "--XyZ\r\n" DISP("a"), -1, NULL },
		{ "no delimiter at all", "just text", -1, NULL },
		{ "header without colon", "--XyZ\r\nContent-Disposition form-data; name=a\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "space before colon", "--XyZ\r\nContent-Disposition : form-data; name=a\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "folded header", "--XyZ\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "no Content-Disposition", "--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "no headers at all", "--XyZ\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "not form-data", "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "form-data prefix only", "--XyZ\r\nContent-Disposition: form-datax; name=a\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "no name", "--XyZ\r\nContent-Disposition: form-data; filename=a\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "empty name", "--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "duplicate name", "--XyZ\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "duplicate filename", "--XyZ\r\nContent-Disposition: form-data; name=a; filename=x; filename=y\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "duplicate Content-Disposition", "--XyZ\r\n" DISP("a") DISP("b") "\r\nv\r\n" CLOSE, -1, NULL },
		{ "duplicate Content-Type", "--XyZ\r\n" DISP("a") "Content-Type: a/b\r\nContent-Type: a/b\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "empty Content-Type", "--XyZ\r\n" DISP("a") "Content-Type: \r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "unterminated quoted string", "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "junk after quoted string", "--XyZ\r\nContent-Disposition: form-data; name=\"a\"b\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "param without value", "--XyZ\r\nContent-Disposition: form-data; name\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "param name too long", "--XyZ\r\nContent-Disposition: form-data; name=a; "
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=1\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "filename* other charset", "--XyZ\r\nContent-Disposition: form-data; name=a; filename*=ISO-8859-1''x\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "filename* with NUL", "--XyZ\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''x%00y\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "filename* bad escape", "--XyZ\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''x%G1\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "filename* truncated escape", "--XyZ\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''x%4\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "filename* invalid UTF-8", "--XyZ\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''%FF\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "filename* no language quote", "--XyZ\r\nContent-Disposition: form-data; name=a; filename*=UTF-8'x\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "control byte in header", "--XyZ\r\nContent-Disposition: form-data; name=\"a\x01\"\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "DEL in header", "--XyZ\r\nContent-Disposition: form-data; name=\"a\x7f\"\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "bare LF line ends", "--XyZ\nContent-Disposition: form-data; name=a\n\nv\n--XyZ--\n", -1, NULL },
		{ "bare LF inside headers", "--XyZ\r\nContent-Disposition: form-data; name=a\nX: y\r\n\r\nv\r\n" CLOSE, -1, NULL },
		{ "dash then junk after delimiter", FIELD("a", "v") "--XyZ-x\r\n", -1, NULL },
		{ "padding then junk after delimiter", "--XyZ  x\r\n" DISP("a") "\r\nv\r\n" CLOSE, -1, NULL },
		{ "CR without LF after delimiter", "--XyZ\rx" DISP("a") "\r\nv\r\n" CLOSE, -1, NULL },
	};
	const char *err;
	struct buf log = BUF_INIT, log2 = BUF_INIT;
	size_t i, len;
	int rc, c, same;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		len = strlen(t[i].body);
		rc = parse(B, t[i].body, len, 0, 0, &log, &err);
		is(rc, t[i].rc, "parse: %s", t[i].desc);
		if (t[i].rc == 0)
			is_str(log.data, t[i].log, "events: %s", t[i].desc);
		else
			ok(err != NULL && *err != '\0', "error string: %s (%s)",
			    t[i].desc, err ? err : "");
		/* Every chunking gives the same result. */
		same = 1;
		for (c = 1; c < 12; c++) {
			rc = parse(B, t[i].body, len, c, 0, &log2, NULL);
			if (rc != t[i].rc || log2.len != log.len ||
			    memcmp(log2.data, log.data, log.len) != 0)
				same = 0;
		}
		ok(same, "chunk-split equivalence: %s", t[i].desc);
	}
	buf_release(&log);
	buf_release(&log2);

	/* NUL bytes in a body are data like any other. */
	{
		static const char bin[] = FIELD("a", "\x00\x01\xff\r\x00") CLOSE;
		static const char want[] = "B(a|-|-)D:\x00\x01\xff\r\x00|E;";

		for (c = 0; c < 4; c++) {
			rc = parse(B, bin, sizeof(bin) - 1, c, 0, &log, NULL);
			ok(rc == 0 && log.len == sizeof(want) - 1 &&
			    memcmp(log.data, want, log.len) == 0,
			    "binary body with NULs (chunking %d)", c);
		}
		buf_release(&log);
	}
}

static void
test_parser_limits(void)
{
	struct buf body = BUF_INIT, log = BUF_INIT;
	const char *err = NULL;
	size_t pad;
	int rc;

	/* Header block exactly at the cap passes, one byte more fails. */
	buf_adds(&body, "--XyZ\r\n" DISP("a") "X: ");
	pad = LIMIT_PART_HEADERS - (body.len - 7) - 4;
	while (pad-- > 0)
		buf_addch(&body, 'p');
	buf_adds(&body, "\r\n\r\nv\r\n" CLOSE);
	rc = parse(B, body.data, body.len, 0, 0, &log, NULL);
	is(rc, 0, "header block of exactly LIMIT_PART_HEADERS");
	buf_reset(&body);
	buf_adds(&body, "--XyZ\r\n" DISP("a") "X: ");
	pad = LIMIT_PART_HEADERS - (body.len - 7) - 3;
	while (pad-- > 0)
		buf_addch(&body, 'p');
	buf_adds(&body, "\r\n\r\nv\r\n" CLOSE);
	rc = parse(B, body.data, body.len, 0, 0, &log, &err);
	is(rc, -1, "header block over LIMIT_PART_HEADERS");
	is_str(err, "part headers too large", "header cap error string");
	rc = parse(B, body.data, body.len, 2, 0, &log, &err);
	is(rc, -1, "header block over the cap, fed in pieces");

	/* A callback that says stop stops the parse, at each callback. */
	buf_reset(&body);
	buf_adds(&body, FIELD("a", "v") FIELD("b", "w") CLOSE);
	for (rc = 1; rc <= 6; rc++) {
		int r = parse(B, body.data, body.len, 0, rc, &log, &err);

		ok(r == -1 && strcmp(err, "stopped by callback") == 0,
		    "callback %d returning -1 stops the parse", rc);
	}
	buf_release(&body);
	buf_release(&log);
}

/* A large binary body holding CRs and delimiter prefixes, many chunkings. */
static void
test_parser_stream(void)
{
	struct buf body = BUF_INIT, want = BUF_INIT, log = BUF_INIT;
	struct buf log2 = BUF_INIT;
	size_t i;
	int rc, c, same = 1;
	char ch;

	for (i = 0; i < 300000; i++) {
		switch (rnd() % 8) {
		case 0: buf_adds(&want, "\r\n--Xy"); break;
		case 1: buf_addch(&want, '\r'); break;
		case 2: buf_adds(&want, "\r\n--XyZ_"); break;
		default:
			/* No 'Z': "\r\n--Xy" must never complete by chance. */
			ch = (char)(rnd() & 0xff);
			if (ch == 'Z')
				ch = 'z';
			buf_addch(&want, ch);
		}
	}
	buf_adds(&body, "--XyZ\r\n" DISP("big") "\r\n");
	buf_add(&body, want.data, want.len);
	buf_adds(&body, "\r\n" CLOSE);
	rc = parse(B, body.data, body.len, 0, 0, &log, NULL);
	is(rc, 0, "large binary part parses");
	ok(log.len == want.len + strlen("B(big|-|-)D:|E;") &&
	    memcmp(log.data + strlen("B(big|-|-)D:"), want.data, want.len) == 0,
	    "large binary part: data identical");
	for (c = 1; c < 8; c++) {
		rc = parse(B, body.data, body.len, c, 0, &log2, NULL);
		if (rc != 0 || log2.len != log.len ||
		    memcmp(log2.data, log.data, log.len) != 0)
			same = 0;
	}
	ok(same, "large binary part: every chunking gives the same events");
	buf_release(&body);
	buf_release(&want);
	buf_release(&log);
	buf_release(&log2);
}

/* ---- the collector ---- */

static char tmpdir[64];

static int
dir_entries(const char *dir)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Feed body in chunks of csize (0: whole). */
static enum mp_err
upload(struct multipart_upload *u, const char *body, size_t len, size_t csize)
{
	size_t off = 0, n;
	enum mp_err e = MP_OK;

	while (off < len && e == MP_OK) {
		n = csize == 0 || csize > len - off ? len - off : csize;
		e = multipart_upload_feed(u, body + off, n);
		off += n;
	}
	if (e == MP_OK)
		e = multipart_upload_finish(u);
	return e;
}

static enum mp_err
upload_once(const char *body, size_t len, uint64_t max)
{
	struct multipart_upload *u;
	enum mp_err e;

	u = multipart_upload_new(B, tmpdir, max);
	if (u == NULL)
		return MP_ERR__MAX;
	e = upload(u, body, len, 0);
	if (e != MP_OK && *multipart_upload_error(u) == '\0')
		e = MP_ERR__MAX;	/* every error carries a sentence */
	if (e != MP_OK && multipart_upload_feed(u, "x", 1) != e)
		e = MP_ERR__MAX;	/* errors are sticky */
	multipart_upload_free(u);
	return e;
}

#define FILEDATA "PK\x03\x04 zipdata\r\n--XyZnot \r\n--Xy"
#define FILEPART(fn, data) "--" B CRLF \
	"Content-Disposition: form-data; name=\"file\"; filename=\"" fn "\"" CRLF \
	"Content-Type: application/octet-stream" CRLF CRLF data CRLF

static void
test_upload_good(void)
{
	static const char body[] =
	    FIELD("name", "my-app") FIELD("labels", "one")
	    FIELD("description", "a\r\nb") FIELD("labels", "two")
	    FILEPART("app.zip", FILEDATA)
	    FIELD("labels", "three") FIELD("empty", "") CLOSE;
	struct multipart_upload *u;
	const char **v, *n, *val;
	char *path, data[64];
	struct stat st;
	size_t cnt;
	ssize_t r;
	int fd, pass;

	for (pass = 0; pass < 3; pass++) {
		u = multipart_upload_new(B, tmpdir, 1000);
		is(upload(u, body, sizeof(body) - 1, pass == 0 ? 0 :
		    pass == 1 ? 1 : 5), MP_OK, "good upload (chunks %d)", pass);
		is_str(multipart_upload_field(u, "name"), "my-app", "field name");
		is_str(multipart_upload_field(u, "description"), "a\r\nb",
		    "field with CRLF");
		is_str(multipart_upload_field(u, "empty"), "", "empty field");
		ok(multipart_upload_field(u, "nope") == NULL, "absent field");
		ok(multipart_upload_field(u, "file") == NULL,
		    "the file is not a field");
		is(multipart_upload_nfields(u), 6, "field count");
		ok(multipart_upload_field_at(u, 5, &n, &val) == 0 &&
		    strcmp(n, "empty") == 0, "field_at");
		ok(multipart_upload_field_at(u, 6, &n, &val) == -1,
		    "field_at out of range");
		v = multipart_upload_fields(u, "labels", &cnt);
		ok(v != NULL && cnt == 3 && strcmp(v[0], "one") == 0 &&
		    strcmp(v[1], "two") == 0 && strcmp(v[2], "three") == 0,
		    "repeated field kept in order");
		free(v);
		v = multipart_upload_fields(u, "nope", &cnt);
		ok(v == NULL && cnt == 0, "fields of an absent name");
		ok(multipart_upload_has_file(u), "has file");
		is_str(multipart_upload_filename(u), "app.zip", "client filename");
		is_str(multipart_upload_content_type(u),
		    "application/octet-stream", "file content type");
		is(multipart_upload_size(u), sizeof(FILEDATA) - 1, "file size");
		ok(multipart_upload_path(u) != NULL &&
		    strncmp(multipart_upload_path(u), tmpdir, strlen(tmpdir)) == 0,
		    "file inside the upload dir");
		ok(lstat(multipart_upload_path(u), &st) == 0 &&
		    S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600 &&
		    st.st_size == sizeof(FILEDATA) - 1,
		    "file is regular, 0600, full size");
		fd = open(multipart_upload_path(u), O_RDONLY);
		r = read(fd, data, sizeof(data));
		close(fd);
		ok(r == sizeof(FILEDATA) - 1 && memcmp(data, FILEDATA,
		    sizeof(FILEDATA) - 1) == 0, "file content");
		if (pass == 0) {
			path = multipart_upload_take_file(u);
			ok(path != NULL, "take_file");
			ok(multipart_upload_take_file(u) == NULL,
			    "take_file twice");
			ok(multipart_upload_path(u) == NULL,
			    "no path once taken");
			multipart_upload_free(u);
			ok(path != NULL && access(path, F_OK) == 0,
			    "taken file survives free");
			if (path != NULL)
				unlink(path);
			free(path);
		} else {
			multipart_upload_free(u);
			is(dir_entries(tmpdir), 0, "free unlinks an untaken file");
		}
	}
}

static void
test_upload_variants(void)
{
	struct multipart_upload *u;
	static const char nofn[] = "--XyZ\r\n" DISP("file") "\r\nprint(1)\r\n" CLOSE;
	static const char emptyfn[] = FILEPART("", "") CLOSE;
	static const char nofile[] = FIELD("name", "x") CLOSE;

	u = multipart_upload_new(B, tmpdir, 100);
	is(upload(u, nofn, sizeof(nofn) - 1, 0), MP_OK, "file part without filename");
	ok(multipart_upload_has_file(u) && multipart_upload_filename(u) == NULL &&
	    multipart_upload_size(u) == 8, "stored, no filename");
	multipart_upload_free(u);

	u = multipart_upload_new(B, tmpdir, 100);
	is(upload(u, emptyfn, sizeof(emptyfn) - 1, 0), MP_OK, "empty filename");
	ok(multipart_upload_has_file(u) && multipart_upload_filename(u) == NULL &&
	    multipart_upload_size(u) == 0, "empty filename counts as none");
	multipart_upload_free(u);

	u = multipart_upload_new(B, tmpdir, 100);
	is(upload(u, nofile, sizeof(nofile) - 1, 0), MP_OK, "no file part");
	ok(!multipart_upload_has_file(u) && multipart_upload_path(u) == NULL &&
	    multipart_upload_take_file(u) == NULL, "no file: no path");
	multipart_upload_free(u);

	u = multipart_upload_new(B, tmpdir, 100);
	ok(multipart_upload_feed(u, nofile, 10) == MP_OK &&
	    multipart_upload_take_file(u) == NULL, "take_file before finish");
	multipart_upload_free(u);

	u = multipart_upload_new(B, tmpdir, 100);
	is(upload(u, nofile, sizeof(nofile) - 1, 0), MP_OK, "finish once");
	is(multipart_upload_feed(u, "x", 1), MP_ERR_MALFORMED,
	    "data after finish");
	multipart_upload_free(u);

	ok(multipart_upload_new("", tmpdir, 1) == NULL, "collector: bad boundary");
	ok(multipart_upload_new(B, NULL, 1) == NULL, "collector: NULL dir");
	is(dir_entries(tmpdir), 0, "variants leave nothing behind");
	is_str(mp_err_name(MP_ERR_TOO_LARGE), "too_large", "mp_err_name");
	is_str(mp_err_name(MP_ERR__MAX), "unknown", "mp_err_name out of range");
}

static void
test_upload_errors(void)
{
	struct buf body = BUF_INIT;
	struct multipart_upload *u;
	size_t i;
	static const struct {
		const char *desc;
		const char *body;
		uint64_t max;
		enum mp_err want;
	} t[] = {
		{ "file at the cap", FILEPART("a.zip", "12345") CLOSE, 5, MP_OK },
		{ "file one byte over the cap", FILEPART("a.zip", "123456") CLOSE, 5, MP_ERR_TOO_LARGE },
		{ "empty file with a zero cap", FILEPART("a.zip", "") CLOSE, 0, MP_OK },
		{ "two file parts", FILEPART("a.zip", "1") FILEPART("b.zip", "2") CLOSE, 9, MP_ERR_DUPLICATE_FILE },
		{ "filename with a path", FILEPART("../a.zip", "1") CLOSE, 9, MP_ERR_FILENAME },
		{ "filename with a slash", FILEPART("dir/a.zip", "1") CLOSE, 9, MP_ERR_FILENAME },
		{ "filename with a Windows path", FILEPART("C:\\\\x\\\\a.zip", "1") CLOSE, 9, MP_ERR_FILENAME },
		{ "filename ..", FILEPART("..", "1") CLOSE, 9, MP_ERR_FILENAME },
		{ "filename .", FILEPART(".", "1") CLOSE, 9, MP_ERR_FILENAME },
		{ "filename with a tab", FILEPART("a\tb", "1") CLOSE, 9, MP_ERR_FILENAME },
		{ "filename not UTF-8", FILEPART("a\xff.zip", "1") CLOSE, 9, MP_ERR_FILENAME },
		{ "filename* with a control byte",
		    "--XyZ\r\nContent-Disposition: form-data; name=file; filename*=UTF-8''a%01\r\n\r\n1\r\n" CLOSE,
		    9, MP_ERR_FILENAME },
		{ "filename* with a slash",
		    "--XyZ\r\nContent-Disposition: form-data; name=file; filename*=UTF-8''..%2Fx\r\n\r\n1\r\n" CLOSE,
		    9, MP_ERR_FILENAME },
		{ "UTF-8 filename is fine", FILEPART("\xc3\xa9t\xc3\xa9.py", "1") CLOSE, 9, MP_OK },
		{ "file part under another name", "--XyZ\r\nContent-Disposition: form-data; name=other; filename=x\r\n\r\n1\r\n" CLOSE,
		    9, MP_ERR_MALFORMED },
		{ "NUL in a field", FIELD("a", "x\0y") CLOSE, 9, MP_ERR_MALFORMED },
		{ "malformed body", "garbage", 9, MP_ERR_MALFORMED },
		{ "no closing delimiter", FIELD("a", "x"), 9, MP_ERR_MALFORMED },
	};

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = strlen(t[i].body);

		if (strcmp(t[i].desc, "NUL in a field") == 0)
			len = sizeof(FIELD("a", "x\0y") CLOSE) - 1;
		is(upload_once(t[i].body, len, t[i].max), t[i].want,
		    "collector: %s", t[i].desc);
	}

	/* 255-byte filename passes, 256 fails. */
	for (i = 255; i <= 256; i++) {
		buf_reset(&body);
		buf_adds(&body, "--XyZ\r\nContent-Disposition: form-data; name=file; filename=\"");
		for (size_t k = 0; k < i; k++)
			buf_addch(&body, 'n');
		buf_adds(&body, "\"\r\n\r\n1\r\n" CLOSE);
		is(upload_once(body.data, body.len, 9),
		    i == 255 ? MP_OK : MP_ERR_FILENAME, "%zu-byte filename", i);
	}

	/* LIMIT_FORM_FIELDS fields pass, one more fails. */
	for (i = LIMIT_FORM_FIELDS; i <= LIMIT_FORM_FIELDS + 1; i++) {
		buf_reset(&body);
		for (size_t k = 0; k < i; k++)
			buf_adds(&body, FIELD("labels", "x"));
		buf_adds(&body, FILEPART("a.zip", "1") CLOSE);
		is(upload_once(body.data, body.len, 9),
		    i == LIMIT_FORM_FIELDS ? MP_OK : MP_ERR_TOO_MANY_FIELDS,
		    "%zu fields", i);
	}

	/* A field of LIMIT_FIELD_VALUE bytes passes, one more fails. */
	for (i = LIMIT_FIELD_VALUE; i <= LIMIT_FIELD_VALUE + 1; i++) {
		buf_reset(&body);
		buf_adds(&body, "--XyZ\r\n" DISP("big") "\r\n");
		for (size_t k = 0; k < i; k++)
			buf_addch(&body, 'v');
		buf_adds(&body, "\r\n" CLOSE);
		u = multipart_upload_new(B, tmpdir, 9);
		is(upload(u, body.data, body.len, 4096),
		    i == LIMIT_FIELD_VALUE ? MP_OK : MP_ERR_FIELD_TOO_LARGE,
		    "%zu-byte field", i);
		if (i == LIMIT_FIELD_VALUE)
			is(strlen(multipart_upload_field(u, "big")), i,
			    "big field kept whole");
		multipart_upload_free(u);
	}

	/* A missing upload directory is an I/O error. */
	u = multipart_upload_new(B, "/nonexistent/slipway-test", 9);
	buf_reset(&body);
	buf_adds(&body, FILEPART("a.zip", "1") CLOSE);
	is(upload(u, body.data, body.len, 0), MP_ERR_IO, "missing upload dir");
	multipart_upload_free(u);
	buf_release(&body);
	is(dir_entries(tmpdir), 0, "errors leave no file behind");
}

/* A write failure (file size limit) is MP_ERR_IO and removes the file. */
static void
test_upload_write_error(void)
{
	struct multipart_upload *u;
	struct rlimit old, lim;
	struct buf body = BUF_INIT;
	size_t k;

	buf_adds(&body, "--XyZ\r\nContent-Disposition: form-data; name=file; filename=a\r\n\r\n");
	for (k = 0; k < 3 * UPLOAD_WRITE_BUF; k++)
		buf_addch(&body, 'd');
	buf_adds(&body, "\r\n" CLOSE);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = UPLOAD_WRITE_BUF;
	setrlimit(RLIMIT_FSIZE, &lim);
	u = multipart_upload_new(B, tmpdir, 1 << 30);
	is(upload(u, body.data, body.len, 1000), MP_ERR_IO,
	    "write failure is MP_ERR_IO");
	multipart_upload_free(u);
	setrlimit(RLIMIT_FSIZE, &old);
	is(dir_entries(tmpdir), 0, "write failure leaves no file");
	buf_release(&body);
}

/* 8 MiB streamed in 64 KiB chunks with a 4 MiB cap stops at the cap. */
static void
test_upload_stream(void)
{
	struct multipart_upload *u;
	char *chunk = xmalloc(64 * 1024);
	const char *hdr = "--XyZ\r\nContent-Disposition: form-data; name=file; filename=big.bin\r\n\r\n";
	enum mp_err e;
	size_t fed = 0;
	int i;

	for (i = 0; i < 64 * 1024; i++)
		chunk[i] = (char)(i * 7 + 1);
	u = multipart_upload_new(B, tmpdir, 4 * 1024 * 1024);
	e = multipart_upload_feed(u, hdr, strlen(hdr));
	for (i = 0; i < 128 && e == MP_OK; i++) {
		e = multipart_upload_feed(u, chunk, 64 * 1024);
		fed += 64 * 1024;
	}
	is(e, MP_ERR_TOO_LARGE, "streamed file over the cap");
	is(fed, 4 * 1024 * 1024 + 64 * 1024, "stopped at the first chunk over");
	ok(multipart_upload_size(u) == 4 * 1024 * 1024, "size counted to the cap");
	multipart_upload_free(u);
	is(dir_entries(tmpdir), 0, "over-cap file removed");
	free(chunk);
}


/* The tap: every file byte, in order, then one end call. */
struct tap_rec {
	struct buf	 seen;
	int		 ends;
	int		 calls;
	int		 fail_at;	/* call that returns -1, 0 never */
	int		 stop_at;	/* call that stops storing, 0 never */
	struct multipart_upload *u;
};

static int
tap_cb(void *arg, const char *data, size_t len)
{
	struct tap_rec *t = arg;

	t->calls++;
	if (len == 0) {
		ok(data == NULL, "tap: the end call has no data");
		t->ends++;
		return 0;
	}
	buf_add(&t->seen, data, len);
	if (t->stop_at == t->calls)
		ok(multipart_upload_stop_storing(t->u) == 0 &&
		    multipart_upload_stop_storing(t->u) == 0,
		    "tap: stop storing (twice is fine)");
	return t->calls == t->fail_at ? -1 : 0;
}

static void
test_upload_tap(void)
{
	static const char body[] = FIELD("name", "x") FILEPART("a.tar", FILEDATA)
	    FIELD("after", "y") CLOSE;
	static const size_t steps[] = { 0, 1, 3, 7 };
	struct multipart_upload *u;
	struct tap_rec t;
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		memset(&t, 0, sizeof(t));
		buf_init(&t.seen);
		u = t.u = multipart_upload_new(B, tmpdir, 1000);
		multipart_upload_set_tap(u, tap_cb, &t);
		is(upload(u, body, sizeof(body) - 1, steps[i]), MP_OK,
		    "tap: upload in %zu-byte steps", steps[i]);
		ok(t.seen.len == sizeof(FILEDATA) - 1 &&
		    memcmp(t.seen.data, FILEDATA, t.seen.len) == 0,
		    "tap: saw exactly the file's bytes (%zu)", steps[i]);
		is(t.ends, 1, "tap: one end call");
		ok(multipart_upload_storing(u), "tap: still storing");
		ok(stat(multipart_upload_path(u), &st) == 0 &&
		    st.st_size == sizeof(FILEDATA) - 1, "tap: file stored too");
		is_str(multipart_upload_field(u, "after"), "y",
		    "tap: fields after the file");
		multipart_upload_free(u);
		buf_release(&t.seen);
	}

	/* stop storing on the 2nd call: the file is empty, the size whole */
	memset(&t, 0, sizeof(t));
	buf_init(&t.seen);
	u = t.u = multipart_upload_new(B, tmpdir, 1000);
	multipart_upload_set_tap(u, tap_cb, &t);
	t.stop_at = 2;
	is(upload(u, body, sizeof(body) - 1, 5), MP_OK, "tap: stop storing");
	ok(!multipart_upload_storing(u), "tap: not storing");
	ok(stat(multipart_upload_path(u), &st) == 0 && st.st_size == 0,
	    "tap: the stored file is empty");
	ok(multipart_upload_size(u) == sizeof(FILEDATA) - 1,
	    "tap: the size counts every byte");
	is((int)t.seen.len, (int)sizeof(FILEDATA) - 1, "tap: saw them all");
	multipart_upload_free(u);
	buf_release(&t.seen);

	/* the tap says stop */
	memset(&t, 0, sizeof(t));
	buf_init(&t.seen);
	u = t.u = multipart_upload_new(B, tmpdir, 1000);
	multipart_upload_set_tap(u, tap_cb, &t);
	t.fail_at = 2;
	is(upload(u, body, sizeof(body) - 1, 5), MP_ERR_TAP,
	    "tap: -1 fails the upload");
	is_str(mp_err_name(MP_ERR_TAP), "stopped", "tap: error name");
	ok(*multipart_upload_error(u) != '\0', "tap: with a sentence");
	multipart_upload_free(u);
	buf_release(&t.seen);

	/* over the cap: the tap never sees the bytes over it */
	memset(&t, 0, sizeof(t));
	buf_init(&t.seen);
	u = t.u = multipart_upload_new(B, tmpdir, 10);
	multipart_upload_set_tap(u, tap_cb, &t);
	is(upload(u, body, sizeof(body) - 1, 0), MP_ERR_TOO_LARGE,
	    "tap: over the cap");
	ok(t.seen.len <= 10, "tap: saw at most the cap (%zu)", t.seen.len);
	multipart_upload_free(u);
	buf_release(&t.seen);
	is(dir_entries(tmpdir), 0, "tap: nothing left behind");
}

int
main(void)
{
	if (str_copy(tmpdir, sizeof(tmpdir), "/tmp/t_multipart.XXXXXX") == -1 ||
	    mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_boundary();
	test_parser_table();
	test_parser_limits();
	test_parser_stream();
	test_upload_good();
	test_upload_variants();
	test_upload_errors();
	test_upload_write_error();
	test_upload_stream();
	test_upload_tap();
	rmdir(tmpdir);
	return done_testing();
}
