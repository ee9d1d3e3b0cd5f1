/*
 * libFuzzer harness for request path normalization (req.c, through
 * req_init_test) and route_match over the real route table (route.c).
 * Build and run (not part of make check; B = a configured build directory
 * for config.h, S = the source tree; route.c pulls in every handler, so
 * the whole library is compiled in):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=undefined -I$B -iquote $S/src \
 *     $(pkg-config --cflags json-c libarchive libcurl yaml-0.1) \
 *     $S/tests/fuzz/fuzz_path.c $(ls -d $S/src/[a-z]?*.c | grep -v /main_) \
 *     $(pkg-config --libs fcgi json-c sqlite3 libcurl libarchive \
 *     libcrypt yaml-0.1) -o fuzz_path
 *   mkdir -p corpus_path && printf '/containers/docker/%%2e/x/' \
 *     > corpus_path/seed
 *   ./fuzz_path -max_total_time=60 corpus_path
 *
 * Input: the raw path (up to the first NUL).  Checks, abort() on violation:
 *   - the normalized path starts with '/', has no "//", no trailing '/'
 *     (but "/"), no control bytes, no "." or ".." segment, at most
 *     LIMIT_PATH bytes;
 *   - a plain input (no '%', no control bytes, no dot segments, leading
 *     '/', within the cap) normalizes to itself with slashes collapsed;
 *   - normalizing a '%'-free result again changes nothing;
 *   - for GET HEAD POST PUT PATCH DELETE, route_match agrees with a
 *     reference matcher written here: the first route in table order whose
 *     pattern matches and whose method fits (HEAD fits GET), else NULL with
 *     the 405 flag exactly when some pattern matches under another method;
 *     the captured args are non-empty, '/'-free, and put back into the
 *     pattern give the path again.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "log.h"
#include "req.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char *
normalize(const char *raw)
{
	struct req r;
	char *p;

	req_init_test(&r, "GET", raw, NULL);
	p = xstrdup(r.path);
	req_release(&r);
	return p;
}

static int
is_dot_segment(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

static void
check_shape(const char *p)
{
	size_t n = strlen(p), i, seg;

	if (p[0] != '/' || n > LIMIT_PATH || (n > 1 && p[n - 1] == '/'))
		abort();
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f || (c == '/' && p[i + 1] == '/'))
			abort();
	}
	for (i = 0; i < n; i = seg) {
		for (seg = i + 1; seg < n && p[seg] != '/'; seg++)
			;
		if (is_dot_segment(p + i + 1, seg - i - 1))
			abort();
	}
}

/* Is raw plain enough that normalization must only fold slashes? */
static int
plain(const char *raw)
{
	size_t n = strlen(raw), i, seg;

	if (raw[0] != '/' || n > LIMIT_PATH || strchr(raw, '%') != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)raw[i] < 0x20 || raw[i] == 0x7f)
			return 0;
	for (i = 0; i < n; i = seg) {
		for (seg = i + 1; seg < n && raw[seg] != '/'; seg++)
			;
		if (is_dot_segment(raw + i + 1, seg - i - 1))
			return 0;
	}
	return 1;
}

static char *
fold(const char *raw)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; raw[i] != '\0'; i++)
		if (!(raw[i] == '/' && b.len > 0 && b.data[b.len - 1] == '/'))
			buf_addch(&b, raw[i]);
	while (b.len > 1 && b.data[b.len - 1] == '/')
		buf_truncate(&b, b.len - 1);
	return buf_detach(&b, NULL);
}

/* Reference: does pattern match path (segment by segment)? */
static int
ref_match(const char *pat, const char *path)
{
	const char *p = pat, *s = path;
	size_t pl, sl;

	for (;;) {
		if (*p == '\0' || *s == '\0')
			return *p == '\0' && *s == '\0';
		if (*p != '/' || *s != '/')
			return 0;
		p++;
		s++;
		pl = strcspn(p, "/");
		sl = strcspn(s, "/");
		if (p[0] == '{') {
			if (sl == 0)
				return 0;
		} else if (pl != sl || memcmp(p, s, pl) != 0)
			return 0;
		p += pl;
		s += sl;
	}
}

static int
method_fits(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0 ||
	    (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

static void
check_routes(const char *path)
{
	static const char *const methods[] = {
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
	};
	const struct route *rt, *want, *get_rt = NULL;
	char *args[REQ_MAX_ARGS];
	struct buf back = BUF_INIT;
	size_t m, i, nargs, k;
	int mm, want_mm;
	const char *p;

	for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		want = NULL;
		want_mm = 0;
		for (i = 0; i < route_table_len; i++) {
			if (!ref_match(route_table[i].pattern, path))
				continue;
			if (method_fits(route_table[i].method, methods[m])) {
				want = &route_table[i];
				break;
			}
			want_mm = 1;
		}
		nargs = 99;
		rt = route_match(route_table, route_table_len, methods[m], path,
		    args, &nargs, &mm);
		if (rt != want)
			abort();
		if (rt == NULL) {
			if (mm != want_mm)
				abort();
			continue;
		}
		if (m == 0)
			get_rt = rt;
		if (m == 1 && rt != get_rt)
			abort();	/* HEAD is GET */
		if (nargs > REQ_MAX_ARGS)
			abort();
		buf_reset(&back);
		k = 0;
		for (p = rt->pattern; *p != '\0'; p++) {
			if (*p == '{') {
				if (k >= nargs || args[k][0] == '\0' ||
				    strchr(args[k], '/') != NULL)
					abort();
				buf_adds(&back, args[k++]);
				p = strchr(p, '}');
			} else
				buf_addch(&back, *p);
		}
		if (k != nargs || strcmp(back.data, path) != 0)
			abort();
		for (k = 0; k < nargs; k++)
			free(args[k]);
	}
	buf_release(&back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	char *raw, *p, *again, *want;

	if (!inited) {
		log_init("fuzz_path", 0);
		inited = 1;
	}
	raw = xstrndup((const char *)data, size);	/* up to the first NUL */
	p = normalize(raw);
	check_shape(p);
	if (plain(raw)) {
		want = fold(raw);
		if (strcmp(p, want) != 0)
			abort();
		free(want);
	}
	if (strchr(p, '%') == NULL) {
		again = normalize(p);
		if (strcmp(again, p) != 0)
			abort();
		free(again);
	}
	check_routes(p);
	/* the matcher must also be safe on paths nobody normalized */
	check_routes(raw[0] == '/' && strstr(raw, "//") == NULL ? raw : p);
	free(p);
	free(raw);
	return 0;
}
