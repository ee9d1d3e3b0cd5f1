/*
 * libFuzzer harness for JSON request bodies turned into form fields: the
 * real req_params() path (req_read_body -> req_json_body with its UTF-8
 * check and depth cap of 32 -> form_from_json), driven through an
 * in-memory FastCGI request, so the caps are exactly the server's.
 * Build and run (not part of make check; B = a configured build directory
 * for config.h, S = the source tree; route.c pulls in every handler, so
 * the whole library is compiled in):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=undefined -I$B -iquote $S/src \
 *     $(pkg-config --cflags json-c libarchive libcurl yaml-0.1) \
 *     $S/tests/fuzz/fuzz_json_body.c $(ls -d $S/src/[a-z]?*.c | grep -v /main_) \
 *     $(pkg-config --libs fcgi json-c sqlite3 libcurl libarchive \
 *     libcrypt yaml-0.1) -o fuzz_json_body
 *   mkdir -p corpus_json && printf '\007{"a":"x","n":1,"o":{"k":[1,null]}}' \
 *     > corpus_json/seed
 *   ./fuzz_json_body -max_total_time=60 corpus_json
 *
 * Input: byte 0 picks the read chunk size (1..64), the rest is the body,
 * sent as Content-Type: application/json.  Checks, abort() on violation:
 *   - failure is 400 bad_json (or 413), with a code and a detail;
 *   - success means: valid UTF-8, json-c (depth 32) parses the whole body
 *     to an object; at most LIMIT_FORM_FIELDS fields; every value is
 *     NUL-free with value_len <= LIMIT_FIELD_VALUE; string members come
 *     through byte for byte; object/array members are JSON text that
 *     parses again; null members are absent;
 *   - conversely an object body with <= LIMIT_FORM_FIELDS short,
 *     NUL-free members must be accepted (no false rejections).
 */
#include "config.h"

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "form.h"
#include "log.h"
#include "req.h"
#include "valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct feed {
	const unsigned char	*p;
	size_t			 len, off, chunk;
};

static void
feed_fill(FCGX_Stream *s)
{
	struct feed *f = s->data;
	size_t n = f->len - f->off;

	if (n == 0) {
		s->isClosed = 1;
		return;
	}
	if (n > f->chunk)
		n = f->chunk;
	s->rdNext = s->stopUnget = (unsigned char *)f->p + f->off;
	s->stop = s->rdNext + n;
	f->off += n;
}

/* The reference: what json-c alone says about the body. */
static struct json_object *
reference(const char *body, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *o;

	o = json_tokener_parse_ex(tok, body, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Would a correct server accept this object? (-1: unsure, over a cap) */
static int
acceptable(struct json_object *o)
{
	size_t n = 0;
	const char *s;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return 0;
	json_object_object_foreach(o, key, val) {
		(void)key;
		if (val == NULL)
			continue;
		n++;
		if (json_object_is_type(val, json_type_string)) {
			s = json_object_get_string(val);
			if (strlen(s) != (size_t)json_object_get_string_len(val))
				return 0;	/* NUL inside */
			if ((size_t)json_object_get_string_len(val) >
			    LIMIT_FIELD_VALUE)
				return -1;
		} else if (strlen(json_object_to_json_string_ext(val,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) >
		    LIMIT_FIELD_VALUE)
			return -1;
	}
	return n <= LIMIT_FORM_FIELDS ? 1 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	static char *env[] = {
		(char *)"REQUEST_METHOD=POST", (char *)"PATH_INFO=/login",
		(char *)"CONTENT_TYPE=application/json", NULL, NULL,
	};
	char cl[48];
	struct feed feed;
	FCGX_Stream in, out;
	FCGX_Request fr;
	struct conf conf;
	struct req r;
	struct form f = FORM_INIT;
	struct json_object *ref = NULL, *v;
	const char *body;
	size_t len, i;
	int rc, acc;

	if (!inited) {
		log_init("fuzz_json_body", 0);
		inited = 1;
	}
	if (size < 1)
		return 0;
	body = (const char *)data + 1;
	len = size - 1;
	memset(&feed, 0, sizeof(feed));
	feed.p = data + 1;
	feed.len = len;
	feed.chunk = 1 + data[0] % 64;
	memset(&in, 0, sizeof(in));
	in.isReader = 1;
	in.fillBuffProc = feed_fill;
	in.data = &feed;
	memset(&out, 0, sizeof(out));
	out.isClosed = 1;		/* nothing is written */
	memset(&fr, 0, sizeof(fr));
	fr.in = &in;
	fr.out = &out;
	(void)str_fmt(cl, sizeof(cl), "CONTENT_LENGTH=%zu", len);
	env[3] = cl;
	fr.envp = env;
	memset(&conf, 0, sizeof(conf));
	conf.public_host = (char *)"127.0.0.1";
	conf.control_port = 8000;

	if (req_init_fcgi(&r, &fr, &conf, NULL) != 0)
		abort();
	rc = req_params(&r, &f);
	if (valid_utf8(body, len) == 0)
		ref = reference(body, len);
	acc = acceptable(ref);

	if (rc != 0) {
		if (r.err_code == NULL || r.err_detail == NULL ||
		    (r.err != HERR_BAD_REQUEST && r.err != HERR_TOO_LARGE))
			abort();
		if (len > 0 && acc == 1)
			abort();	/* a good body was refused */
	} else {
		if (len == 0) {
			if (f.n != 0)
				abort();
			goto out;
		}
		if (ref == NULL || acc == 0 || f.n > LIMIT_FORM_FIELDS)
			abort();
		for (i = 0; i < f.n; i++)
			if (f.fields[i].value_len > LIMIT_FIELD_VALUE ||
			    strlen(f.fields[i].value) != f.fields[i].value_len)
				abort();
		i = 0;
		json_object_object_foreach(ref, key, val) {
			const char *fv = form_get(&f, key);

			if (val == NULL) {
				if (fv != NULL)
					abort();	/* null is absent */
				continue;
			}
			i++;
			if (fv == NULL)
				abort();
			if (json_object_is_type(val, json_type_string)) {
				if (strcmp(fv, json_object_get_string(val)) != 0)
					abort();
			} else if (json_object_is_type(val, json_type_object) ||
			    json_object_is_type(val, json_type_array)) {
				if ((v = json_tokener_parse(fv)) == NULL)
					abort();
				json_object_put(v);
			}
		}
		if (i != f.n)
			abort();
	}
out:
	json_object_put(ref);
	form_free(&f);
	req_release(&r);
	return 0;
}
