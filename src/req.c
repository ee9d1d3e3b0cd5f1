#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "form.h"
#include "log.h"
#include "multipart.h"
#include "req.h"
#include "route.h"
#include "upload.h"
#include "valid.h"

static char *
req_param(struct req *r, const char *name)
{
	const char *v;

	if (r->fcgi == NULL)
		return NULL;
	v = FCGX_GetParam(name, r->fcgi->envp);
	return v != NULL ? xstrdup(v) : NULL;
}

/* Decode and normalize the path: no //, no dot segments, no trailing /. */
static char *
req_normalize_path(const char *raw)
{
	char *dec, *out;
	size_t n, i, o = 0;

	if (raw == NULL || raw[0] != '/' || strlen(raw) > LIMIT_PATH)
		return NULL;
	if ((dec = form_urldecode(raw, strlen(raw), 0, &n)) == NULL)
		return NULL;
	out = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)dec[i];

		if (c < 0x20 || c == 0x7f)
			goto bad;
		if (c == '/' && o > 0 && out[o - 1] == '/')
			continue;
		if (c == '.' && o > 0 && out[o - 1] == '/' &&
		    (i + 1 == n || dec[i + 1] == '/' ||
		    (dec[i + 1] == '.' && (i + 2 == n || dec[i + 2] == '/'))))
			goto bad;	/* dot segments are never legitimate here */
		out[o++] = (char)c;
	}
	while (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
	free(dec);
	return out;
bad:
	free(dec);
	free(out);
	return NULL;
}

int
req_init_fcgi(struct req *r, FCGX_Request *f, const struct conf *conf,
    struct db *db)
{
	const char *v, *uri;
	char *host = NULL;
	long long n;

	memset(r, 0, sizeof(*r));
	buf_init(&r->test_out);
	r->fcgi = f;
	r->conf = conf;
	r->db = db;
	v = FCGX_GetParam("REQUEST_ID", f->envp);
	if (v == NULL || strspn(v, "0123456789abcdef") < 16)
		(void)str_copy(r->id, sizeof(r->id), "-");
	else {
		memcpy(r->id, v, 16);	/* nginx $request_id: 32 hex */
		r->id[16] = '\0';
	}
	log_set_reqid(r->id);
	r->method = req_param(r, "REQUEST_METHOD");
	r->query = req_param(r, "QUERY_STRING");
	r->content_type = req_param(r, "CONTENT_TYPE");
	r->remote_addr = req_param(r, "REMOTE_ADDR");
	r->authorization = req_param(r, "HTTP_AUTHORIZATION");
	if (r->method == NULL)
		r->method = xstrdup("GET");
	if (r->query == NULL)
		r->query = xstrdup("");
	if (r->remote_addr == NULL)
		r->remote_addr = xstrdup("-");
	host = req_param(r, "HTTP_HOST");
	{
		struct buf b = BUF_INIT;
		const char *port;
		size_t i;
		int ok = host != NULL && *host != '\0' && strlen(host) < 256;

		for (i = 0; ok && host[i] != '\0'; i++)
			if (!(isalnum((unsigned char)host[i]) || host[i] == '.' ||
			    host[i] == '-' || host[i] == ':' || host[i] == '[' ||
			    host[i] == ']'))
				ok = 0;
		if (ok && strchr(host, ':') == NULL &&
		    (port = FCGX_GetParam("SERVER_PORT", f->envp)) != NULL &&
		    strspn(port, "0123456789") == strlen(port) &&
		    strlen(port) <= 5 && *port != '\0')
			/* Debian's fastcgi_params passes $host: no port */
			buf_printf(&b, "http://%s:%s", host, port);
		else if (ok)
			buf_printf(&b, "http://%s", host);
		else
			buf_printf(&b, "http://%s:%d", conf->public_host,
			    conf->control_port);
		r->scheme_host = buf_detach(&b, NULL);
	}
	free(host);

	uri = FCGX_GetParam("PATH_INFO", f->envp);
	if (uri == NULL || *uri == '\0')
		uri = FCGX_GetParam("DOCUMENT_URI", f->envp);
	if ((r->path = req_normalize_path(uri)) == NULL) {
		r->path = xstrdup("/");
		return req_fail(r, HERR_BAD_REQUEST, "bad_path",
		    "malformed request path");
	}
	if (strlen(r->query) > LIMIT_QUERY)
		return req_fail(r, HERR_BAD_REQUEST, "bad_query",
		    "query string too long");
	if (form_parse_urlencoded(&r->query_params, r->query,
	    strlen(r->query)) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "bad_query",
		    "malformed query string");
	v = FCGX_GetParam("CONTENT_LENGTH", f->envp);
	if (v != NULL && *v != '\0') {
		if (valid_int(v, 0, (long long)1 << 50, &n) == -1)
			return req_fail(r, HERR_BAD_REQUEST, "bad_length",
			    "malformed Content-Length");
		r->content_length = (uint64_t)n;
		r->has_body = n > 0;
	}
	return 0;
}

void
req_init_test(struct req *r, const char *method, const char *path,
    const char *query)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->test_out);
	(void)str_copy(r->id, sizeof(r->id), "test");
	r->method = xstrdup(method);
	r->path = req_normalize_path(path);
	if (r->path == NULL)
		r->path = xstrdup("/");
	r->query = xstrdup(query ? query : "");
	r->remote_addr = xstrdup("127.0.0.1");
	r->scheme_host = xstrdup("http://127.0.0.1:8000");
	(void)form_parse_urlencoded(&r->query_params, r->query,
	    strlen(r->query));
}

void
req_release(struct req *r)
{
	size_t i;

	free(r->method);
	free(r->path);
	free(r->query);
	free(r->content_type);
	free(r->remote_addr);
	free(r->authorization);
	free(r->scheme_host);
	form_free(&r->query_params);
	for (i = 0; i < r->nargs; i++)
		free(r->args[i]);
	if (r->user != NULL) {
		free(r->user->username);
		free(r->user);
	}
	free(r->err_code);
	free(r->err_detail);
	buf_release(&r->test_out);
	log_set_reqid(NULL);
	memset(r, 0, sizeof(*r));
}

int
req_fail(struct req *r, enum herr e, const char *code, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (r->err != HERR_OK)		/* keep the first error */
		return -1;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	r->err = e;
	free(r->err_code);
	free(r->err_detail);
	r->err_code = xstrdup(code);
	r->err_detail = buf_detach(&b, NULL);
	return -1;
}

ssize_t
req_read(struct req *r, void *p, size_t len)
{
	int n;

	if (r->fcgi == NULL) {	/* unit tests */
		if (r->test_in_fail > 0 && r->test_in_off >= r->test_in_fail)
			return -1;
		if (len > r->test_in_len - r->test_in_off)
			len = r->test_in_len - r->test_in_off;
		if (r->test_in_step > 0 && len > r->test_in_step)
			len = r->test_in_step;
		if (len > 0)
			memcpy(p, r->test_in + r->test_in_off, len);
		r->test_in_off += len;
		r->body_read += len;
		return (ssize_t)len;
	}
	if (len > (1 << 30))
		len = 1 << 30;
	n = FCGX_GetStr(p, (int)len, r->fcgi->in);
	if (n < 0)
		return -1;
	r->body_read += (uint64_t)n;
	return n;
}

int
req_read_body(struct req *r, size_t cap, struct buf *out)
{
	char chunk[16384];
	ssize_t n;

	if (r->content_length > cap)
		return req_fail(r, HERR_TOO_LARGE, "too_large",
		    "request body larger than %zu bytes", cap);
	for (;;) {
		if ((n = req_read(r, chunk, sizeof(chunk))) < 0)
			return req_fail(r, HERR_BAD_REQUEST, "body_read",
			    "could not read the request body");
		if (n == 0)
			break;
		if (out->len + (size_t)n > cap)
			return req_fail(r, HERR_TOO_LARGE, "too_large",
			    "request body larger than %zu bytes", cap);
		buf_add(out, chunk, (size_t)n);
	}
	return 0;
}

/* Does the media type (before ';') equal want, case-insensitively? */
static int
req_ctype_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, want, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/*
 * Does JSON text hold a \u0000 escape (an odd run of backslashes before
 * "u0000")?  json-c cuts object keys there, so "user\u0000x" would
 * arrive as "user": refuse such bodies whole.
 */
static int
req_json_has_nul_escape(const char *s, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\') {
			run++;
			continue;
		}
		if (run % 2 == 1 && n - i >= 5 && memcmp(s + i, "u0000", 5) == 0)
			return 1;
		run = 0;
	}
	return 0;
}

int
req_json_body(struct req *r, struct json_object **out)
{
	struct buf body = BUF_INIT;
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	int rc = -1;

	if (req_read_body(r, LIMIT_JSON_BODY, &body) == -1)
		goto out;
	if (valid_utf8(body.data, body.len) == -1) {
		req_fail(r, HERR_BAD_REQUEST, "bad_json",
		    "request body is not UTF-8");
		goto out;
	}
	if (req_json_has_nul_escape(body.data, body.len)) {
		req_fail(r, HERR_BAD_REQUEST, "bad_json",
		    "request body holds a NUL character");
		goto out;
	}
	tok = json_tokener_new_ex(32);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, body.data, (int)body.len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != body.len) {
		req_fail(r, HERR_BAD_REQUEST, "bad_json",
		    "request body is not valid JSON");
		goto out;
	}
	*out = obj;
	obj = NULL;
	rc = 0;
out:
	json_object_put(obj);
	if (tok != NULL)
		json_tokener_free(tok);
	buf_release(&body);
	return rc;
}

int
req_params(struct req *r, struct form *f)
{
	struct json_object *obj = NULL;
	struct buf body = BUF_INIT;
	int rc = -1;

	if (!r->has_body && r->content_length == 0 && r->fcgi != NULL) {
		/* nginx always sends CONTENT_LENGTH for bodies it streams */
		return 0;
	}
	if (req_ctype_is(r->content_type, "application/json")) {
		if (req_json_body(r, &obj) == -1)
			goto out;
		if (form_from_json(f, obj) == -1) {
			req_fail(r, HERR_BAD_REQUEST, "bad_json",
			    "expected a JSON object of fields");
			goto out;
		}
	} else if (req_ctype_is(r->content_type,
	    "application/x-www-form-urlencoded")) {
		if (req_read_body(r, LIMIT_JSON_BODY, &body) == -1)
			goto out;
		if (form_parse_urlencoded(f, body.data, body.len) == -1) {
			req_fail(r, HERR_BAD_REQUEST, "bad_form",
			    "malformed form body");
			goto out;
		}
	} else if (req_ctype_is(r->content_type, "multipart/form-data")) {
		if (req_multipart_fields(r, f) == -1)
			goto out;
	} else {
		req_fail(r, HERR_UNSUPPORTED, "unsupported_media_type",
		    "send JSON, a urlencoded form or multipart/form-data");
		goto out;
	}
	rc = 0;
out:
	json_object_put(obj);
	buf_release(&body);
	return rc;
}

static int
req_put(struct req *r, const void *p, size_t n)
{
	if (r->fcgi == NULL) {
		buf_add(&r->test_out, p, n);
		return 0;
	}
	if (n == 0)
		return 0;
	return FCGX_PutStr(p, (int)n, r->fcgi->out) == (int)n ? 0 : -1;
}

static void
req_headers(struct req *r, struct buf *h, int status, const char *ctype,
    const char *extra)
{
	buf_printf(h, "Status: %d %s\r\n", status, route_reason(status));
	if (ctype != NULL)
		buf_printf(h, "Content-Type: %s\r\n", ctype);
	buf_adds(h, "Cache-Control: no-store\r\n");
	if (extra != NULL)
		buf_adds(h, extra);
	buf_adds(h, "\r\n");
}

int
req_respond(struct req *r, int status, const char *ctype, const char *extra,
    const void *body, size_t len)
{
	struct buf h = BUF_INIT;
	int rc;

	if (r->responded)
		return 0;
	r->responded = 1;
	r->status = status;
	req_headers(r, &h, status, ctype, extra);
	rc = req_put(r, h.data, h.len);
	if (rc == 0 && len > 0)
		rc = req_put(r, body, len);
	buf_release(&h);
	return rc;
}

int
req_json_text(struct req *r, int status, const char *json, size_t len)
{
	int rc;

	rc = req_respond(r, status, "application/json; charset=utf-8", NULL,
	    json, len);
	if (rc == 0 && r->fcgi == NULL)
		;	/* captured in test_out */
	else if (rc == 0)
		(void)req_put(r, "\n", 1);
	return rc;
}

int
req_json(struct req *r, int status, struct json_object *obj)
{
	const char *s;
	int rc;

	s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = req_json_text(r, status, s, strlen(s));
	json_object_put(obj);
	return rc;
}

int
req_no_content(struct req *r)
{
	return req_respond(r, 204, NULL, NULL, NULL, 0);
}

int
req_stream_begin(struct req *r, int status, const char *ctype)
{
	return req_respond(r, status, ctype, "X-Accel-Buffering: no\r\n",
	    NULL, 0);
}

int
req_write(struct req *r, const void *p, size_t n)
{
	return req_put(r, p, n);
}

int
req_flush(struct req *r)
{
	if (r->fcgi == NULL)
		return 0;
	return FCGX_FFlush(r->fcgi->out) == 0 ? 0 : -1;
}

const char *
req_arg(const struct req *r, size_t i)
{
	return i < r->nargs ? r->args[i] : NULL;
}

const char *
req_query(const struct req *r, const char *name)
{
	return form_get(&r->query_params, name);
}

int
req_multipart_fields(struct req *r, struct form *f)
{
	struct upload *u = NULL;
	size_t i;
	int rc = -1;

	if (upload_receive(r, 0, &u) == -1)
		return -1;
	if (upload_has_file(u)) {
		req_fail(r, HERR_BAD_REQUEST, "unexpected_file",
		    "this endpoint takes no file");
		goto out;
	}
	for (i = 0; i < u->fields.n; i++)
		if (form_add(f, u->fields.fields[i].name,
		    u->fields.fields[i].value,
		    u->fields.fields[i].value_len) == -1) {
			req_fail(r, HERR_BAD_REQUEST, "too_many_fields",
			    "too many form fields");
			goto out;
		}
	rc = 0;
out:
	upload_free(u);
	return rc;
}
