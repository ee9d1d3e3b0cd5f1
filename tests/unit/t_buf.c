/*
 * t_buf: the growable buffer's invariants (always NUL-terminated, never
 * NULL after init, detach hands ownership over), printf growth across
 * capacity boundaries, embedded NUL bytes, the bounded string helpers and
 * the checked size arithmetic (which must end the process: checked in a
 * forked child).
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "tap.h"

/* The invariants every buffer must hold between calls. */
static int
buf_sane(const struct buf *b)
{
	if (b->data == NULL || b->data[b->len] != '\0')
		return 0;
	if (b->cap == 0)
		return b->data == buf_empty && b->len == 0;
	return b->len < b->cap;
}

/* Run fn in a child with stderr silenced; its exit status (-1 on signal). */
static int
child_status(void (*fn)(void))
{
	pid_t pid;
	int st, fd;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return -2;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1)
			(void)dup2(fd, 2);
		fn();
		_exit(0);
	}
	if (waitpid(pid, &st, 0) == -1)
		return -2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static volatile size_t sink;

static void c_add_overflow(void) { sink = st_add(SIZE_MAX, 1); }
static void c_add_overflow2(void) { sink = st_add(SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 1); }
static void c_mult_overflow(void) { sink = st_mult(SIZE_MAX / 2 + 1, 2); }
static void c_mult_overflow2(void) { sink = st_mult((size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4)); }
static void c_add_edge(void) { sink = st_add(SIZE_MAX - 1, 1); }
static void c_mult_edge(void) { sink = st_mult(SIZE_MAX, 1) + st_mult(0, SIZE_MAX) + st_mult(SIZE_MAX, 0); }
static void c_grow_huge(void) { struct buf b = BUF_INIT; buf_add(&b, "x", 1); buf_grow(&b, SIZE_MAX); }
static void c_truncate_beyond(void) { struct buf b = BUF_INIT; buf_adds(&b, "abc"); buf_truncate(&b, 4); }
static void c_truncate_empty(void) { struct buf b = BUF_INIT; buf_truncate(&b, 1); }

static void
test_init(void)
{
	struct buf a = BUF_INIT, b;

	ok(buf_sane(&a), "BUF_INIT: sane, data not NULL, NUL-terminated");
	is_str(a.data, "", "BUF_INIT: empty string");
	memset(&b, 0xa5, sizeof(b));
	buf_init(&b);
	ok(buf_sane(&b) && b.len == 0, "buf_init: sane and empty");
	buf_release(&b);
	buf_release(&b);
	ok(buf_sane(&b), "double buf_release: still sane");
	buf_reset(&a);
	buf_truncate(&a, 0);
	ok(buf_sane(&a) && a.cap == 0, "reset/truncate(0) of an unallocated buffer");
	ok(buf_empty[0] == '\0', "buf_empty never written");
}

static void
test_add(void)
{
	struct buf b = BUF_INIT;
	char big[300];
	size_t i, n;
	int good = 1;

	buf_add(&b, "", 0);
	ok(b.cap == 0 && buf_sane(&b), "buf_add of 0 bytes does not allocate");
	buf_adds(&b, "hello");
	ok(buf_sane(&b) && b.len == 5, "buf_adds: len 5");
	is_str(b.data, "hello", "buf_adds content");
	buf_addch(&b, ' ');
	buf_addch(&b, 'w');
	is_str(b.data, "hello w", "buf_addch");
	buf_release(&b);
	ok(buf_sane(&b) && b.cap == 0, "buf_release reinitializes");

	/* Embedded NUL bytes: len counts them, terminator follows them. */
	buf_add(&b, "a\0b\0c", 5);
	buf_addch(&b, '\0');
	ok(b.len == 6 && memcmp(b.data, "a\0b\0c\0", 7) == 0 && buf_sane(&b),
	    "embedded NULs kept, len 6, terminator after them");
	is(strlen(b.data), 1, "strlen stops at the first embedded NUL");
	buf_release(&b);

	/* Growth across every boundary up to 300 bytes, one byte at a time. */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	for (i = 0; i < sizeof(big); i++) {
		buf_addch(&b, big[i]);
		if (!buf_sane(&b) || b.len != i + 1 ||
		    memcmp(b.data, big, i + 1) != 0)
			good = 0;
	}
	ok(good, "byte-by-byte growth to 300: sane and exact at every step");
	buf_release(&b);

	/* Chunks of every size 0..130 onto every prefix length 0..70. */
	good = 1;
	for (n = 0; n <= 70 && good; n++)
		for (i = 0; i <= 130 && good; i++) {
			buf_add(&b, big, n);
			buf_add(&b, big + 100, i);
			if (!buf_sane(&b) || b.len != n + i ||
			    memcmp(b.data, big, n) != 0 ||
			    memcmp(b.data + n, big + 100, i) != 0)
				good = 0;
			buf_release(&b);
		}
	ok(good, "prefix 0..70 + chunk 0..130: sane and exact");

	buf_grow(&b, 1000);
	ok(b.cap >= 1001 && b.len == 0 && buf_sane(&b), "buf_grow reserves, len unchanged");
	buf_release(&b);
}

static void
test_printf(void)
{
	struct buf b = BUF_INIT;
	char *want;
	size_t pre, n;
	int good = 1;

	buf_printf(&b, "%s", "");
	ok(buf_sane(&b) && b.len == 0, "printf of an empty string");
	buf_printf(&b, "%d-%s-%c", 42, "x", 'y');
	is_str(b.data, "42-x-y", "printf formats");
	ok(buf_sane(&b) && b.len == 6, "printf len");
	buf_release(&b);

	/* Every prefix length 0..70 times every output length 0..200. */
	want = xmalloc(300);
	for (pre = 0; pre <= 70 && good; pre++)
		for (n = 0; n <= 200 && good; n++) {
			memset(want, 'p', pre);
			memset(want + pre, 'q', n);
			want[pre + n] = '\0';
			buf_add(&b, want, pre);
			buf_printf(&b, "%.*s", (int)n, want + pre);
			if (!buf_sane(&b) || b.len != pre + n ||
			    strcmp(b.data, want) != 0)
				good = 0;
			buf_release(&b);
		}
	ok(good, "printf growth across capacity boundaries (exact fit, +1, x2)");
	free(want);

	/* The exact-fit edge: fill to cap-1 then print 1 and 2 bytes. */
	buf_grow(&b, 10);
	n = b.cap;
	buf_printf(&b, "%*s", (int)(n - 2), "");
	ok(b.cap == n && b.len == n - 2, "printf filling up to cap-2 does not grow");
	buf_printf(&b, "z");
	ok(b.cap == n && b.len == n - 1 && b.data[n - 1] == '\0',
	    "printf of the last free byte does not grow");
	buf_printf(&b, "Z");
	ok(b.cap > n && b.len == n && b.data[n - 1] == 'Z' && buf_sane(&b),
	    "one more byte grows and keeps content");
	buf_release(&b);

	buf_printf(&b, "%c%c", 'a', '\0');
	ok(b.len == 2 && memcmp(b.data, "a\0", 3) == 0, "printf %%c of NUL counted in len");
	buf_printf(&b, "%s", "b");
	ok(b.len == 3 && memcmp(b.data, "a\0b", 4) == 0, "append after an embedded NUL");
	buf_release(&b);
}

static void
test_detach_truncate(void)
{
	struct buf b = BUF_INIT;
	size_t len = 99;
	char *p;

	p = buf_detach(&b, &len);
	ok(p != NULL && p != buf_empty && len == 0 && p[0] == '\0',
	    "detach of an empty buffer: fresh heap \"\"");
	free(p);
	ok(buf_sane(&b), "empty buffer sane after detach");

	buf_adds(&b, "owned");
	p = buf_detach(&b, &len);
	is_str(p, "owned", "detach hands the bytes over");
	is(len, 5, "detach reports the length");
	ok(buf_sane(&b) && b.len == 0 && b.cap == 0 && b.data != p,
	    "buffer empty and valid after detach");
	buf_adds(&b, "again");
	ok(b.data != p, "new allocation after detach, old one still ours");
	is_str(p, "owned", "detached bytes untouched by later use");
	free(p);
	p = buf_detach(&b, NULL);
	is_str(p, "again", "detach with NULL lenp");
	free(p);

	buf_adds(&b, "abcdef");
	buf_truncate(&b, 3);
	ok(buf_sane(&b) && b.len == 3, "truncate shrinks and terminates");
	is_str(b.data, "abc", "truncate content");
	buf_truncate(&b, 3);
	is_str(b.data, "abc", "truncate to the same length is a no-op");
	buf_reset(&b);
	ok(buf_sane(&b) && b.len == 0 && b.cap > 0, "reset keeps the allocation");
	buf_release(&b);

	is(child_status(c_truncate_beyond), 1, "truncate beyond len: fatal, exit 1");
	is(child_status(c_truncate_empty), 1, "truncate an empty buffer to 1: fatal");
}

static void
test_str(void)
{
	char d[8];
	static const struct {
		const char	*src;
		size_t		 dstsz;
		int		 rc;
		const char	*out;
	} cp[] = {
		{ "",		8, 0,	"" },
		{ "abc",	8, 0,	"abc" },
		{ "1234567",	8, 0,	"1234567" },	/* exact fit */
		{ "12345678",	8, -1,	"" },		/* one too many */
		{ "123456789abc", 8, -1, "" },
		{ "a",		1, -1,	"" },
		{ "",		1, 0,	"" },
		{ "ab",		2, -1,	"" },
	};
	size_t i;

	for (i = 0; i < sizeof(cp) / sizeof(cp[0]); i++) {
		memcpy(d, "XXXXXXX", 8);
		is(str_copy(d, cp[i].dstsz, cp[i].src), cp[i].rc,
		    "str_copy [%zu] of %zu bytes into %zu: rc %d", i,
		    strlen(cp[i].src), cp[i].dstsz, cp[i].rc);
		is_str(d, cp[i].out, "str_copy [%zu] leaves the expected dst", i);
	}
	memcpy(d, "XXXXXXX", 8);
	is(str_copy(d, 0, "a"), -1, "str_copy into size 0 fails");
	ok(d[0] == 'X', "str_copy into size 0 writes nothing");

	memcpy(d, "XXXXXXX", 8);
	is(str_fmt(d, sizeof(d), "%d-%s", 12, "ab"), 0, "str_fmt fits");
	is_str(d, "12-ab", "str_fmt content");
	is(str_fmt(d, sizeof(d), "%s", "1234567"), 0, "str_fmt exact fit");
	is(str_fmt(d, sizeof(d), "%s", "12345678"), -1, "str_fmt truncation is -1");
	is_str(d, "", "str_fmt truncation empties dst");
	is(str_fmt(d, sizeof(d), "%d", 123456789), -1, "str_fmt number truncation -1");
	is_str(d, "", "str_fmt number truncation empties dst");
	d[0] = 'X';
	is(str_fmt(d, 0, "x"), -1, "str_fmt size 0 fails");
	ok(d[0] == 'X', "str_fmt size 0 writes nothing");
}

static void
test_alloc(void)
{
	char *p;

	is(st_add(2, 3), 5, "st_add");
	is(st_mult(6, 7), 42, "st_mult");
	is(child_status(c_add_edge), 0, "st_add(SIZE_MAX-1, 1) is fine");
	is(child_status(c_mult_edge), 0, "st_mult with SIZE_MAX*1 and 0*SIZE_MAX is fine");
	is(child_status(c_add_overflow), 1, "st_add(SIZE_MAX, 1): fatal, exit 1");
	is(child_status(c_add_overflow2), 1, "st_add of two halves: fatal");
	is(child_status(c_mult_overflow), 1, "st_mult(SIZE_MAX/2+1, 2): fatal");
	is(child_status(c_mult_overflow2), 1, "st_mult(2^32, 2^32): fatal");
	is(child_status(c_grow_huge), 1, "buf_grow(SIZE_MAX): fatal, not a wrap");

	p = xmalloc(0);
	ok(p != NULL, "xmalloc(0) is not NULL");
	free(p);
	p = xstrndup("abcdef", 3);
	is_str(p, "abc", "xstrndup copies n bytes and terminates");
	free(p);
	p = xstrndup("a\0b", 3);
	ok(memcmp(p, "a\0b", 4) == 0, "xstrndup copies past an embedded NUL");
	free(p);
	p = xcalloc(0, 0);
	ok(p != NULL, "xcalloc(0, 0) is not NULL");
	free(p);
}

int
main(void)
{
	test_init();
	test_add();
	test_printf();
	test_detach_truncate();
	test_str();
	test_alloc();
	return done_testing();
}
