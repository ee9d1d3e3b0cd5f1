/*
 * libFuzzer harness for the multipart parser and the upload collector.
 * Build and run (not part of make check; tests/fuzz/README has more):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I<builddir> \
 *     -iquote <srcdir>/src $(pkg-config --cflags json-c) \
 *     tests/fuzz/fuzz_multipart.c src/multipart.c src/archive.c src/buf.c \
 *     src/log.c src/valid.c -larchive -ljson-c -o fuzz_multipart
 *   python3 tests/data/fuzz/mkseeds.py seeds
 *   ./fuzz_multipart -max_total_time=60 -dict=<srcdir>/tests/data/fuzz/multipart.dict corpus seeds/multipart
 *
 * Input: byte 0 seeds the chunking; if its top bit is set, the first line
 * of the rest is a Content-Type for multipart_boundary() and the boundary
 * it yields (if any) is used, else "XyZ".  The body is parsed whole and
 * in random chunks: the events and the result must be identical (abort
 * otherwise).  Then the collector runs on it into a temporary directory
 * that must be empty again after multipart_upload_free().
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct rec {
	struct buf	log;
	int		in_data;
};

static int
rec_begin(void *arg, const char *name, const char *fn, const char *ct)
{
	struct rec *r = arg;

	if (name == NULL || *name == '\0')
		abort();	/* the parser promises a non-empty name */
	buf_printf(&r->log, "B(%s|%s|%s)", name, fn ? fn : "-", ct ? ct : "-");
	r->in_data = 0;
	return 0;
}

static int
rec_data(void *arg, const char *d, size_t n)
{
	struct rec *r = arg;

	if (n == 0)
		abort();	/* never called with nothing */
	if (!r->in_data)
		buf_adds(&r->log, "D:");
	r->in_data = 1;
	buf_add(&r->log, d, n);
	return 0;
}

static int
rec_end(void *arg)
{
	struct rec *r = arg;

	buf_adds(&r->log, "|E;");
	r->in_data = 0;
	return 0;
}

static const struct multipart_cb rec_cb = { rec_begin, rec_data, rec_end };

static int
parse(const char *boundary, const char *body, size_t len, unsigned seed,
    struct buf *log)
{
	struct rec r = { BUF_INIT, 0 };
	struct multipart *mp;
	size_t off = 0, n;
	uint32_t x = seed * 2654435761u + 1;
	int rc = 0;

	if ((mp = multipart_new(boundary, &rec_cb, &r)) == NULL)
		abort();
	while (off < len && rc == 0) {
		if (seed == 0)
			n = len - off;
		else {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			n = 1 + x % (seed % 3 == 0 ? 3 : 97);
			if (n > len - off)
				n = len - off;
		}
		rc = multipart_feed(mp, body + off, n);
		off += n;
	}
	if (rc == 0)
		rc = multipart_finish(mp);
	if (rc == -1 && *multipart_error(mp) == '\0')
		abort();	/* every failure says why */
	multipart_free(mp);
	*log = r.log;
	return rc;
}

static char dir[64];

static void
cleanup(void)
{
	rmdir(dir);
}

static int
dir_empty(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char boundary[MULTIPART_BOUNDARY_MAX + 1] = "XyZ";
	struct buf whole = BUF_INIT, chunked = BUF_INIT, ct = BUF_INIT;
	struct multipart_upload *u;
	const char *body, *nl;
	size_t len;
	unsigned seed;
	enum mp_err e;
	struct stat st;
	int r1, r2;

	if (dir[0] == '\0') {
		if (str_copy(dir, sizeof(dir), "/tmp/fuzz_multipart.XXXXXX") ==
		    -1 || mkdtemp(dir) == NULL)
			abort();
		atexit(cleanup);
	}
	if (size < 1)
		return 0;
	seed = data[0];
	body = (const char *)data + 1;
	len = size - 1;
	if ((seed & 0x80) && (nl = memchr(body, '\n', len)) != NULL) {
		buf_add(&ct, body, (size_t)(nl - body));
		if (multipart_boundary(ct.data, boundary, sizeof(boundary)) == -1)
			memcpy(boundary, "XyZ", 4);
		len -= (size_t)(nl - body) + 1;
		body = nl + 1;
	}

	r1 = parse(boundary, body, len, 0, &whole);
	r2 = parse(boundary, body, len, seed | 1, &chunked);
	if (r1 != r2 || whole.len != chunked.len ||
	    memcmp(whole.data, chunked.data, whole.len) != 0)
		abort();	/* chunking changed the outcome */

	u = multipart_upload_new(boundary, dir, 1024);
	if (u == NULL)
		abort();
	e = multipart_upload_feed(u, body, len);
	if (e == MP_OK)
		e = multipart_upload_finish(u);
	if (r1 == -1 && e == MP_OK)
		abort();	/* the collector accepted what the parser refused */
	if (e != MP_OK && *multipart_upload_error(u) == '\0')
		abort();
	if (e == MP_OK && multipart_upload_has_file(u)) {
		if (stat(multipart_upload_path(u), &st) == -1 ||
		    (uint64_t)st.st_size != multipart_upload_size(u) ||
		    multipart_upload_size(u) > 1024 ||
		    (st.st_mode & 07777) != 0600)
			abort();
	}
	multipart_upload_free(u);
	if (!dir_empty())
		abort();	/* a temp file survived free */
	buf_release(&whole);
	buf_release(&chunked);
	buf_release(&ct);
	return 0;
}
