/*
 * t_req: struct req without a web server.
 *   - req_init_test: req_fail keeps the first error; req_respond, req_json,
 *     req_no_content and streams captured in test_out; req_query; req_arg.
 *   - req_init_fcgi on a fake FCGX_Request (an environ array and in-memory
 *     streams): path normalization errors, CONTENT_LENGTH, QUERY_STRING
 *     caps, Host and REQUEST_ID handling.
 *   - Bodies through a fake input stream fed in small chunks:
 *     req_read_body caps, req_json_body (UTF-8, trailing data, depth cap),
 *     req_params by Content-Type (JSON, urlencoded, multipart, 415).
 *   - Responses through a fake output stream with a tiny buffer.
 */
#include "config.h"

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "form.h"
#include "log.h"
#include "req.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_req.XXXXXX";

/* ---- a fake FastCGI request ------------------------------------------ */

struct fake {
	FCGX_Request	 req;
	FCGX_Stream	 in, out;
	char		*envp[16];
	size_t		 nenv;
	const unsigned char *body;	/* input, fed chunk bytes at a time */
	size_t		 body_len, body_off, chunk;
	unsigned char	 outmem[37];	/* tiny: exercises the flush path */
	struct buf	 sent;		/* everything written */
	struct conf	 conf;
};

static void
fake_fill(FCGX_Stream *s)
{
	struct fake *f = s->data;
	size_t n;

	if (f->body_off >= f->body_len) {
		s->isClosed = 1;	/* end of input */
		return;
	}
	n = f->body_len - f->body_off;
	if (n > f->chunk)
		n = f->chunk;
	s->rdNext = s->stopUnget = (unsigned char *)f->body + f->body_off;
	s->stop = s->rdNext + n;
	f->body_off += n;
}

static void
fake_empty(FCGX_Stream *s, int doclose)
{
	struct fake *f = s->data;

	buf_add(&f->sent, f->outmem, (size_t)(s->wrNext - f->outmem));
	s->wrNext = f->outmem;
	if (doclose)
		s->isClosed = 1;
}

/* env: NULL-terminated "NAME=value" list (copied). */
static void
fake_init(struct fake *f, const char *const *env, const void *body,
    size_t body_len, size_t chunk)
{
	memset(f, 0, sizeof(*f));
	for (f->nenv = 0; env[f->nenv] != NULL && f->nenv < 15; f->nenv++)
		f->envp[f->nenv] = xstrdup(env[f->nenv]);
	f->envp[f->nenv] = NULL;
	f->body = body;
	f->body_len = body_len;
	f->chunk = chunk ? chunk : 7;
	f->in.isReader = 1;
	f->in.fillBuffProc = fake_fill;
	f->in.data = f;
	f->in.rdNext = f->in.stop = f->in.stopUnget = f->outmem; /* empty */
	f->out.isReader = 0;
	f->out.wrNext = f->outmem;
	f->out.stop = f->outmem + sizeof(f->outmem);
	f->out.emptyBuffProc = fake_empty;
	f->out.data = f;
	f->req.in = &f->in;
	f->req.out = &f->out;
	f->req.envp = f->envp;
	buf_init(&f->sent);
	f->conf.public_host = (char *)"public.example";
	f->conf.control_port = 8000;
	f->conf.tmp_dir = tmpdir;
}

static void
fake_free(struct fake *f)
{
	size_t i;

	for (i = 0; i < f->nenv; i++)
		free(f->envp[i]);
	buf_release(&f->sent);
}

/* ---- req_init_test ---------------------------------------------------- */

static void
test_fail(void)
{
	struct req r;

	req_init_test(&r, "POST", "/x", NULL);
	is(r.err, HERR_OK, "a fresh request has no error");
	is(req_fail(&r, HERR_CONFLICT, "name_taken", "name %s is taken", "a"),
	    -1, "req_fail returns -1");
	is(r.err, HERR_CONFLICT, "first error kept");
	is_str(r.err_code, "name_taken", "its code");
	is_str(r.err_detail, "name a is taken", "its formatted detail");
	is(req_fail(&r, HERR_INTERNAL, "internal", "later %d", 2), -1,
	    "second req_fail returns -1");
	is(r.err, HERR_CONFLICT, "second error does not replace the first");
	is_str(r.err_code, "name_taken", "code unchanged");
	is_str(r.err_detail, "name a is taken", "detail unchanged");
	ok(r.test_out.len == 0 && !r.responded, "req_fail answers nothing itself");
	req_release(&r);
	ok(r.err_code == NULL && r.method == NULL, "req_release zeroes the request");
	req_release(&r);
	ok(1, "a second req_release is harmless");
}

static void
test_respond(void)
{
	struct req r;
	struct json_object *o;

	req_init_test(&r, "GET", "/x", NULL);
	is(req_respond(&r, 201, "text/plain", NULL, "hi", 2), 0, "req_respond");
	is_str(r.test_out.data, "Status: 201 Created\r\nContent-Type: text/plain\r\n"
	    "Cache-Control: no-store\r\n\r\nhi", "status line, headers, body");
	ok(r.responded && r.status == 201, "responded, status 201");
	is(req_respond(&r, 500, "text/plain", NULL, "again", 5), 0,
	    "a second respond is ignored");
	ok(r.status == 201 && strstr(r.test_out.data, "again") == NULL,
	    "first answer stands");
	req_release(&r);

	req_init_test(&r, "GET", "/x", NULL);
	(void)req_respond(&r, 401, NULL, "WWW-Authenticate: Bearer\r\n", NULL, 0);
	is_str(r.test_out.data, "Status: 401 Unauthorized\r\n"
	    "Cache-Control: no-store\r\nWWW-Authenticate: Bearer\r\n\r\n",
	    "no Content-Type without ctype; extra headers before the blank line");
	req_release(&r);

	req_init_test(&r, "GET", "/x", NULL);
	o = json_object_new_object();
	json_object_object_add(o, "a", json_object_new_int(1));
	json_object_object_add(o, "u", json_object_new_string("http://h/p"));
	is(req_json(&r, 200, o), 0, "req_json");
	is_str(r.test_out.data, "Status: 200 OK\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n\r\n{\"a\":1,\"u\":\"http://h/p\"}",
	    "JSON answer: compact, slashes not escaped");
	req_release(&r);

	req_init_test(&r, "DELETE", "/x", NULL);
	is(req_no_content(&r), 0, "req_no_content");
	is_str(r.test_out.data, "Status: 204 No Content\r\n"
	    "Cache-Control: no-store\r\n\r\n", "204 without a Content-Type or body");
	is(r.status, 204, "status 204");
	req_release(&r);

	req_init_test(&r, "GET", "/logs/x", NULL);
	ok(req_stream_begin(&r, 200, "text/plain; charset=utf-8") == 0 &&
	    req_write(&r, "line 1\n", 7) == 0 && req_flush(&r) == 0 &&
	    req_write(&r, "line 2\n", 7) == 0, "stream begin, write, flush");
	is_str(r.test_out.data, "Status: 200 OK\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n\r\n"
	    "line 1\nline 2\n", "streamed answer");
	req_release(&r);

	{
		static const int codes[] = { 400, 404, 405, 409, 413, 415,
		    429, 500, 502, 503 };
		static const char *const lines[] = {
			"Status: 400 Bad Request\r\n",
			"Status: 404 Not Found\r\n",
			"Status: 405 Method Not Allowed\r\n",
			"Status: 409 Conflict\r\n",
			"Status: 413 Payload Too Large\r\n",
			"Status: 415 Unsupported Media Type\r\n",
			"Status: 429 Too Many Requests\r\n",
			"Status: 500 Internal Server Error\r\n",
			"Status: 502 Bad Gateway\r\n",
			"Status: 503 Service Unavailable\r\n",
		};
		size_t i;

		for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
			req_init_test(&r, "GET", "/", NULL);
			(void)req_json(&r, codes[i], json_object_new_object());
			ok(strncmp(r.test_out.data, lines[i], strlen(lines[i]))
			    == 0, "req_json %d status line", codes[i]);
			req_release(&r);
		}
	}
}

static void
test_query(void)
{
	struct req r;

	req_init_test(&r, "GET", "/status/", "status=running&tail=10&x=&x=2&sp=a+b%21");
	is_str(r.path, "/status", "path normalized");
	is_str(r.method, "GET", "method");
	is_str(req_query(&r, "status"), "running", "req_query status");
	is_str(req_query(&r, "tail"), "10", "req_query tail");
	is_str(req_query(&r, "x"), "", "req_query: the first of repeated");
	is_str(req_query(&r, "sp"), "a b!", "req_query decodes");
	ok(req_query(&r, "missing") == NULL, "req_query missing is NULL");
	ok(req_query(&r, "STATUS") == NULL, "req_query is case-sensitive");
	ok(req_arg(&r, 0) == NULL, "no args before routing");
	req_release(&r);

	req_init_test(&r, "GET", "/x", NULL);
	is_str(r.query, "", "NULL query is the empty string");
	ok(req_query(&r, "a") == NULL && r.query_params.n == 0, "no params");
	req_release(&r);

	req_init_test(&r, "GET", "/x", "a=%zz");
	ok(req_query(&r, "a") == NULL, "a malformed test query gives no params");
	req_release(&r);
}

/* ---- req_init_fcgi ---------------------------------------------------- */

/* Init a fake with one varying parameter; returns err (HERR_OK if fine). */
static enum herr
init_with(struct fake *f, struct req *r, const char *extra, const void *body,
    size_t len)
{
	const char *env[] = {
		"REQUEST_METHOD=POST", "PATH_INFO=/login",
		"REMOTE_ADDR=192.0.2.1", extra, NULL,
	};

	fake_init(f, env, body, len, 0);
	(void)req_init_fcgi(r, &f->req, &f->conf, NULL);
	return r->err;
}

static void
test_init_fcgi(void)
{
	static const struct {
		const char	*param;
		enum herr	 err;
		const char	*code;
	} t[] = {
		{ "CONTENT_LENGTH=", HERR_OK, NULL },
		{ "CONTENT_LENGTH=0", HERR_OK, NULL },
		{ "CONTENT_LENGTH=10", HERR_OK, NULL },
		{ "CONTENT_LENGTH=1125899906842624", HERR_OK, NULL },	/* 2^50 */
		{ "CONTENT_LENGTH=1125899906842625", HERR_BAD_REQUEST, "bad_length" },
		{ "CONTENT_LENGTH=-1", HERR_BAD_REQUEST, "bad_length" },
		{ "CONTENT_LENGTH=01", HERR_BAD_REQUEST, "bad_length" },
		{ "CONTENT_LENGTH= 5", HERR_BAD_REQUEST, "bad_length" },
		{ "CONTENT_LENGTH=5x", HERR_BAD_REQUEST, "bad_length" },
		{ "CONTENT_LENGTH=0x10", HERR_BAD_REQUEST, "bad_length" },
		{ "CONTENT_LENGTH=99999999999999999999", HERR_BAD_REQUEST, "bad_length" },
		{ "QUERY_STRING=a=1&b=2", HERR_OK, NULL },
		{ "QUERY_STRING=a=%zz", HERR_BAD_REQUEST, "bad_query" },
		{ "QUERY_STRING=a=%00", HERR_BAD_REQUEST, "bad_query" },
		{ "QUERY_STRING==1", HERR_BAD_REQUEST, "bad_query" },
	};
	struct fake f;
	struct req r;
	struct buf b = BUF_INIT;
	size_t i;
	enum herr e;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		e = init_with(&f, &r, t[i].param, NULL, 0);
		ok(e == t[i].err && (t[i].code == NULL ? r.err_code == NULL :
		    r.err_code != NULL && strcmp(r.err_code, t[i].code) == 0),
		    "req_init_fcgi %s -> %s", t[i].param,
		    t[i].code ? t[i].code : "ok");
		req_release(&r);
		fake_free(&f);
	}

	init_with(&f, &r, "CONTENT_LENGTH=10", NULL, 0);
	ok(r.content_length == 10 && r.has_body, "CONTENT_LENGTH=10: has a body");
	is_str(r.method, "POST", "method from REQUEST_METHOD");
	is_str(r.path, "/login", "path from PATH_INFO");
	is_str(r.remote_addr, "192.0.2.1", "REMOTE_ADDR");
	is_str(r.query, "", "no QUERY_STRING is empty");
	ok(r.authorization == NULL && r.content_type == NULL,
	    "absent headers are NULL");
	req_release(&r);
	fake_free(&f);
	init_with(&f, &r, "CONTENT_LENGTH=0", NULL, 0);
	ok(r.content_length == 0 && !r.has_body, "CONTENT_LENGTH=0: no body");
	req_release(&r);
	fake_free(&f);

	/* The query cap. */
	buf_adds(&b, "QUERY_STRING=");
	for (i = 0; i < LIMIT_QUERY; i++)
		buf_addch(&b, 'q');
	is(init_with(&f, &r, b.data, NULL, 0), HERR_OK, "query of LIMIT_QUERY bytes");
	req_release(&r);
	fake_free(&f);
	buf_addch(&b, 'q');
	is(init_with(&f, &r, b.data, NULL, 0), HERR_BAD_REQUEST,
	    "query of LIMIT_QUERY + 1 bytes: 400");
	req_release(&r);
	fake_free(&f);
	buf_release(&b);

	/* Paths: PATH_INFO, DOCUMENT_URI fallback, bad paths are 400. */
	{
		static const struct {
			const char	*env1, *env2;
			enum herr	 err;
			const char	*path;
		} p[] = {
			{ "PATH_INFO=/health/", NULL, HERR_OK, "/health" },
			{ "PATH_INFO=", "DOCUMENT_URI=/users/me/", HERR_OK, "/users/me" },
			{ "DOCUMENT_URI=/gpus", NULL, HERR_OK, "/gpus" },
			{ "PATH_INFO=/a/../b", NULL, HERR_BAD_REQUEST, "/" },
			{ "PATH_INFO=/a%00", NULL, HERR_BAD_REQUEST, "/" },
			{ "PATH_INFO=/a%0a", NULL, HERR_BAD_REQUEST, "/" },
			{ "PATH_INFO=relative", NULL, HERR_BAD_REQUEST, "/" },
			{ "PATH_INFO=/%2e%2e", NULL, HERR_BAD_REQUEST, "/" },
			{ NULL, NULL, HERR_BAD_REQUEST, "/" },	/* no path at all */
		};
		for (i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
			const char *env[] = { "REQUEST_METHOD=GET", p[i].env1,
			    p[i].env2, NULL };

			if (p[i].env1 == NULL)
				env[1] = NULL;
			fake_init(&f, env, NULL, 0, 0);
			(void)req_init_fcgi(&r, &f.req, &f.conf, NULL);
			ok(r.err == p[i].err && strcmp(r.path, p[i].path) == 0 &&
			    (p[i].err == HERR_OK || strcmp(r.err_code, "bad_path") == 0),
			    "path [%zu] %s%s -> %s", i, p[i].env1 ? p[i].env1 : "(none)",
			    p[i].env2 ? " + DOCUMENT_URI" : "",
			    p[i].err ? "400 bad_path" : p[i].path);
			req_release(&r);
			fake_free(&f);
		}
	}

	/* Defaults when nginx sends little. */
	{
		const char *env[] = { "DOCUMENT_URI=/x", NULL };

		fake_init(&f, env, NULL, 0, 0);
		(void)req_init_fcgi(&r, &f.req, &f.conf, NULL);
		ok(strcmp(r.method, "GET") == 0 && strcmp(r.query, "") == 0 &&
		    strcmp(r.remote_addr, "-") == 0 && strcmp(r.id, "-") == 0,
		    "defaults: GET, empty query, remote '-', id '-'");
		req_release(&r);
		fake_free(&f);
	}

	/* Host: used for absolute URLs only when it is a plain host[:port]. */
	{
		static const struct {
			const char	*host;
			const char	*want;
		} h[] = {
			{ "HTTP_HOST=example.com:8000", "http://example.com:8000" },
			{ "HTTP_HOST=127.0.0.1:8000", "http://127.0.0.1:8000" },
			{ "HTTP_HOST=[::1]:8000", "http://[::1]:8000" },
			{ "HTTP_HOST=a-b.example", "http://a-b.example" },
			{ "HTTP_HOST=", "http://public.example:8000" },
			{ "HTTP_HOST=evil.com/x", "http://public.example:8000" },
			{ "HTTP_HOST=evil.com@x", "http://public.example:8000" },
			{ "HTTP_HOST=a b", "http://public.example:8000" },
			{ "HTTP_HOST=a\"b", "http://public.example:8000" },
			{ "HTTP_HOST=a\r\nX: y", "http://public.example:8000" },
			{ "HTTP_HOST=ex\xc3\xa4mple.com", "http://public.example:8000" },
			{ "X_NONE=1", "http://public.example:8000" },
		};
		for (i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
			init_with(&f, &r, h[i].host, NULL, 0);
			is_str(r.scheme_host, h[i].want, "scheme_host for [%zu] -> %s",
			    i, h[i].want);
			req_release(&r);
			fake_free(&f);
		}
		buf_adds(&b, "HTTP_HOST=");
		for (i = 0; i < 256; i++)
			buf_addch(&b, 'h');
		init_with(&f, &r, b.data, NULL, 0);
		is_str(r.scheme_host, "http://public.example:8000",
		    "a 256-byte Host is not used");
		req_release(&r);
		fake_free(&f);
		buf_release(&b);
	}

	/* REQUEST_ID: nginx's 32 hex; the first 16 are kept. */
	{
		static const struct {
			const char	*id;
			const char	*want;
		} t2[] = {
			{ "REQUEST_ID=0123456789abcdef0123456789abcdef", "0123456789abcdef" },
			{ "REQUEST_ID=0123456789abcdef", "0123456789abcdef" },
			{ "REQUEST_ID=0123456789abcde", "-" },
			{ "REQUEST_ID=0123456789ABCDEF0123", "-" },
			{ "REQUEST_ID=\x1b[31m0123456789abcdef", "-" },
			{ "REQUEST_ID=", "-" },
		};
		for (i = 0; i < sizeof(t2) / sizeof(t2[0]); i++) {
			init_with(&f, &r, t2[i].id, NULL, 0);
			is_str(r.id, t2[i].want, "request id [%zu] -> %s", i,
			    t2[i].want);
			req_release(&r);
			fake_free(&f);
		}
	}
}

/* ---- bodies ------------------------------------------------------------ */

/* A request with a body: Content-Type ctype (NULL: none), length len. */
static void
body_req(struct fake *f, struct req *r, const char *ctype, const char *body,
    size_t len, size_t chunk)
{
	char cl[64], ct[256];
	const char *env[] = { "REQUEST_METHOD=POST", "PATH_INFO=/x", cl, ct, NULL };

	(void)str_fmt(cl, sizeof(cl), "CONTENT_LENGTH=%zu", len);
	if (ctype != NULL)
		(void)str_fmt(ct, sizeof(ct), "CONTENT_TYPE=%s", ctype);
	else
		env[3] = NULL;
	fake_init(f, env, body, len, chunk);
	(void)req_init_fcgi(r, &f->req, &f->conf, NULL);
}

static void
test_read_body(void)
{
	struct fake f;
	struct req r;
	struct buf out = BUF_INIT;
	char *big;
	size_t chunks[] = { 1, 7, 4096, 100000 }, i;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		body_req(&f, &r, "text/plain", "hello, body", 11, chunks[i]);
		ok(req_read_body(&r, 100, &out) == 0 && out.len == 11 &&
		    strcmp(out.data, "hello, body") == 0,
		    "req_read_body in chunks of %zu", chunks[i]);
		is(r.body_read, 11, "body_read counts bytes");
		buf_reset(&out);
		req_release(&r);
		fake_free(&f);
	}
	body_req(&f, &r, "text/plain", "0123456789", 10, 0);
	ok(req_read_body(&r, 10, &out) == 0 && out.len == 10, "exactly the cap");
	buf_reset(&out);
	req_release(&r);
	fake_free(&f);

	body_req(&f, &r, "text/plain", "0123456789a", 11, 0);
	ok(req_read_body(&r, 10, &out) == -1 && r.err == HERR_TOO_LARGE &&
	    f.body_off == 0, "CONTENT_LENGTH over the cap: 413 before reading");
	buf_reset(&out);
	req_release(&r);
	fake_free(&f);

	/* A lying CONTENT_LENGTH: the stream carries more than announced. */
	big = xmalloc(5000);
	memset(big, 'b', 5000);
	body_req(&f, &r, "text/plain", big, 5000, 0);
	f.body_len = 5000;
	r.content_length = 10;
	ok(req_read_body(&r, 100, &out) == -1 && r.err == HERR_TOO_LARGE &&
	    out.len <= 100, "more bytes than the cap on the wire: 413, bounded");
	buf_reset(&out);
	req_release(&r);
	fake_free(&f);
	free(big);
	buf_release(&out);
}

static void
test_json_body(void)
{
	static const struct {
		const char	*body;
		int		 rc;
		const char	*what;
	} t[] = {
		{ "{\"a\":1}",		0, "object" },
		{ "[1,2]",		0, "array" },
		{ "{\"a\":1}\n",	0, "trailing newline (curl -d @file)" },
		{ "  {\"a\":1}\r\n\t ",	0, "surrounding whitespace" },
		{ "{\"a\":\"\xc3\xa9\"}", 0, "UTF-8 string" },
		{ "",			-1, "empty body" },
		{ " ",			-1, "only whitespace" },
		{ "{",			-1, "truncated" },
		{ "{\"a\":1}x",		-1, "trailing junk" },
		{ "{\"a\":1}{\"b\":2}",	-1, "two objects" },
		{ "{\"a\":1} 1",	-1, "object then number" },
		{ "{\"a\":\"\xff\"}",	-1, "invalid UTF-8 in a string" },
		{ "{\"a\":\"\xc0\xaf\"}", -1, "overlong in a string" },
		{ "\xef\xbb\xbf{}",	-1, "BOM" },
		{ "nope",		-1, "not JSON" },
		{ "{\"a\":1,\"b\":}",	-1, "missing value" },
	};
	struct fake f;
	struct req r;
	struct json_object *o;
	struct buf b = BUF_INIT;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		body_req(&f, &r, "application/json", t[i].body,
		    strlen(t[i].body), 3);
		o = NULL;
		rc = req_json_body(&r, &o);
		ok(rc == t[i].rc && (rc == 0 ? o != NULL : r.err ==
		    HERR_BAD_REQUEST && strcmp(r.err_code, "bad_json") == 0),
		    "req_json_body %s: %s", rc == 0 ? "good" : "bad", t[i].what);
		json_object_put(o);
		req_release(&r);
		fake_free(&f);
	}

	/* Depth cap 32 (json_tokener_new_ex(32)). */
	for (i = 0; i < 32; i++)
		buf_addch(&b, '[');
	for (i = 0; i < 32; i++)
		buf_addch(&b, ']');
	body_req(&f, &r, "application/json", b.data, b.len, 0);
	o = NULL;
	ok(req_json_body(&r, &o) == 0, "32 levels of nesting are fine");
	json_object_put(o);
	req_release(&r);
	fake_free(&f);
	buf_reset(&b);
	for (i = 0; i < 33; i++)
		buf_addch(&b, '[');
	for (i = 0; i < 33; i++)
		buf_addch(&b, ']');
	body_req(&f, &r, "application/json", b.data, b.len, 0);
	o = NULL;
	ok(req_json_body(&r, &o) == -1 && o == NULL && r.err == HERR_BAD_REQUEST,
	    "33 levels of nesting: 400");
	req_release(&r);
	fake_free(&f);
	buf_reset(&b);
	for (i = 0; i < 100000; i++)
		buf_addch(&b, '[');
	body_req(&f, &r, "application/json", b.data, b.len, 4096);
	ok(req_json_body(&r, &o) == -1, "100000 open brackets: 400, no crash");
	req_release(&r);
	fake_free(&f);

	/* Size cap. */
	buf_reset(&b);
	buf_adds(&b, "{\"a\":\"");
	while (b.len < LIMIT_JSON_BODY - 2)
		buf_addch(&b, 'x');
	buf_adds(&b, "\"}");
	body_req(&f, &r, "application/json", b.data, b.len, 65536);
	o = NULL;
	ok(b.len == LIMIT_JSON_BODY && req_json_body(&r, &o) == 0,
	    "a JSON body of LIMIT_JSON_BODY bytes");
	json_object_put(o);
	req_release(&r);
	fake_free(&f);
	buf_truncate(&b, b.len - 2);
	buf_adds(&b, "x\"}");
	body_req(&f, &r, "application/json", b.data, b.len, 65536);
	o = NULL;
	ok(req_json_body(&r, &o) == -1 && r.err == HERR_TOO_LARGE,
	    "LIMIT_JSON_BODY + 1 bytes: 413");
	req_release(&r);
	fake_free(&f);
	buf_release(&b);
}

static void
test_params(void)
{
	static const struct {
		const char	*ctype;
		const char	*body;
		enum herr	 err;
		const char	*want_a;	/* value of "a" when ok */
	} t[] = {
		{ "application/json", "{\"a\":\"1\"}", HERR_OK, "1" },
		{ "application/json; charset=utf-8", "{\"a\":2}", HERR_OK, "2" },
		{ "Application/JSON", "{\"a\":true}", HERR_OK, "true" },
		{ " application/json", "{\"a\":\"x\"}", HERR_OK, "x" },
		{ "application/x-www-form-urlencoded", "a=1&b=2", HERR_OK, "1" },
		{ "application/x-www-form-urlencoded; charset=UTF-8", "a=x+y", HERR_OK, "x y" },
		{ "application/json", "[1]", HERR_BAD_REQUEST, NULL },
		{ "application/json", "{\"a\":\"\\u0000\"}", HERR_BAD_REQUEST, NULL },
		{ "application/json", "{bad", HERR_BAD_REQUEST, NULL },
		{ "application/x-www-form-urlencoded", "a=%zz", HERR_BAD_REQUEST, NULL },
		{ "application/x-www-form-urlencoded", "=1", HERR_BAD_REQUEST, NULL },
		{ "application/jsonx", "{\"a\":1}", HERR_UNSUPPORTED, NULL },
		{ "text/plain", "a=1", HERR_UNSUPPORTED, NULL },
		{ "application/xml", "<a/>", HERR_UNSUPPORTED, NULL },
		{ NULL, "a=1", HERR_UNSUPPORTED, NULL },
		{ "multipart/form-data", "x", HERR_UNSUPPORTED, NULL }, /* no boundary */
		{ "multipart/form-data; boundary=XyZ",
		  "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
		  "mp\r\n--XyZ--\r\n", HERR_OK, "mp" },
		{ "multipart/form-data; boundary=XyZ",
		  "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
		  "filename=\"x.py\"\r\n\r\nprint(1)\r\n--XyZ--\r\n",
		  HERR_BAD_REQUEST, NULL },	/* a file where none is taken */
	};
	struct fake f;
	struct req r;
	struct form fo = FORM_INIT;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		body_req(&f, &r, t[i].ctype, t[i].body, strlen(t[i].body), 5);
		rc = req_params(&r, &fo);
		if (t[i].err == HERR_OK)
			ok(rc == 0 && fo.n >= 1 && form_get(&fo, "a") != NULL &&
			    strcmp(form_get(&fo, "a"), t[i].want_a) == 0,
			    "req_params [%zu] %s -> a=%s", i,
			    t[i].ctype ? t[i].ctype : "(none)", t[i].want_a);
		else {
			ok(rc == -1 && r.err == t[i].err,
			    "req_params [%zu] %s -> %d", i,
			    t[i].ctype ? t[i].ctype : "(none)", (int)t[i].err);
			if (r.err != t[i].err)
				printf("#   got err %d (%s)\n", (int)r.err,
				    r.err_code ? r.err_code : "-");
		}
		form_free(&fo);
		req_release(&r);
		fake_free(&f);
	}

	/* No body at all: no params, whatever the type. */
	body_req(&f, &r, NULL, "", 0, 0);
	ok(req_params(&r, &fo) == 0 && fo.n == 0 && r.err == HERR_OK,
	    "no body (CONTENT_LENGTH=0, no type): no params, no error");
	req_release(&r);
	fake_free(&f);
}

static void
test_fcgi_out(void)
{
	struct fake f;
	struct req r;
	struct json_object *o;
	const char *env[] = { "PATH_INFO=/x", NULL };
	struct buf want = BUF_INIT;
	size_t i;

	fake_init(&f, env, NULL, 0, 0);
	(void)req_init_fcgi(&r, &f.req, &f.conf, NULL);
	o = json_object_new_object();
	for (i = 0; i < 20; i++) {
		char k[8];

		(void)str_fmt(k, sizeof(k), "k%zu", i);
		json_object_object_add(o, k, json_object_new_int((int)i));
	}
	buf_adds(&want, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	is(req_json(&r, 200, o), 0, "req_json through a FastCGI stream");
	is(req_flush(&r), 0, "req_flush");
	ok(r.test_out.len == 0, "nothing captured in test_out when fcgi is set");
	ok(strncmp(f.sent.data, "Status: 200 OK\r\n", 16) == 0,
	    "stream starts with the status line");
	ok(f.sent.len > want.len && memcmp(f.sent.data + f.sent.len - want.len - 1,
	    want.data, want.len) == 0 && f.sent.data[f.sent.len - 1] == '\n',
	    "body written whole across buffer flushes, then a newline");
	req_release(&r);
	fake_free(&f);
	buf_release(&want);
}

int
main(void)
{
	log_init("t_req", 0);
	if (mkdtemp(tmpdir) == NULL) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_fail();
	test_respond();
	test_query();
	test_init_fcgi();
	test_read_body();
	test_json_body();
	test_params();
	test_fcgi_out();
	(void)rmdir(tmpdir);
	return done_testing();
}
