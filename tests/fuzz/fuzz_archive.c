/*
 * libFuzzer harness for archive extraction and the tree helpers.
 * Build and run (not part of make check; tests/fuzz/README has more):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I<builddir> \
 *     -iquote <srcdir>/src $(pkg-config --cflags json-c) \
 *     tests/fuzz/fuzz_archive.c src/multipart.c src/archive.c src/buf.c \
 *     src/log.c src/valid.c -larchive -ljson-c -o fuzz_archive
 *   python3 tests/data/fuzz/mkseeds.py seeds
 *   ./fuzz_archive -max_total_time=60 -max_len=65536 corpus seeds/archive
 *
 * The input is written to <tmp>/in and extracted into <tmp>/d/dest with
 * small caps.  Whatever the result, nothing may appear beside dest (in
 * <tmp>/d or <tmp>), and the sentinel directory <tmp>/outside must stay
 * as it was.  On success every extracted entry must be a regular file,
 * directory or symlink, without setuid/setgid/sticky bits, and every
 * symlink that resolves must resolve inside dest; then sniff, unwrap,
 * detect, write_tar, tree_copy and tree_size run on the tree and must
 * not fail.  tree_remove must leave nothing behind.  The temporary
 * directory is removed at exit (not after a crash).
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "buf.h"
#include "caps.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char top[64], in[96], work[96], dest[128], outside[96], copy[96];
static char dest_real[PATH_MAX];

/* Names in dir, sorted, comma-separated. */
static void
listing(const char *dir, struct buf *out)
{
	struct dirent **v;
	int n, i;

	buf_reset(out);
	if ((n = scandir(dir, &v, NULL, alphasort)) < 0)
		abort();
	for (i = 0; i < n; i++) {
		if (strcmp(v[i]->d_name, ".") != 0 &&
		    strcmp(v[i]->d_name, "..") != 0) {
			if (out->len)
				buf_addch(out, ',');
			buf_adds(out, v[i]->d_name);
		}
		free(v[i]);
	}
	free(v);
}

static void
check_tree(const char *dir, int depth)
{
	struct dirent **v;
	struct stat st;
	char p[PATH_MAX], real[PATH_MAX];
	int n, i;

	if (depth > 64 || (n = scandir(dir, &v, NULL, alphasort)) < 0)
		abort();
	for (i = 0; i < n; i++) {
		if (strcmp(v[i]->d_name, ".") == 0 ||
		    strcmp(v[i]->d_name, "..") == 0) {
			free(v[i]);
			continue;
		}
		if (str_fmt(p, sizeof(p), "%s/%s", dir, v[i]->d_name) == -1 ||
		    lstat(p, &st) == -1)
			abort();
		if (st.st_mode & (S_ISUID | S_ISGID | S_ISVTX))
			abort();	/* special bits survived */
		if (S_ISDIR(st.st_mode))
			check_tree(p, depth + 1);
		else if (S_ISLNK(st.st_mode)) {
			/* A link that resolves must land inside dest. */
			if (realpath(p, real) != NULL &&
			    (strncmp(real, dest_real, strlen(dest_real)) != 0 ||
			    (real[strlen(dest_real)] != '/' &&
			    real[strlen(dest_real)] != '\0')))
				abort();
		} else if (!S_ISREG(st.st_mode))
			abort();	/* device, fifo or socket */
		free(v[i]);
	}
	free(v);
}

static int
null_cb(void *arg, const void *p, size_t n)
{
	*(uint64_t *)arg += n;
	return 0;
}

static void
cleanup(void)
{
	tree_remove(top);
}

static void
setup(void)
{
	char p[160];
	int fd;

	umask(022);
	if (str_copy(top, sizeof(top), "/tmp/fuzz_archive.XXXXXX") == -1 ||
	    mkdtemp(top) == NULL)
		abort();
	str_fmt(in, sizeof(in), "%s/in", top);
	str_fmt(work, sizeof(work), "%s/d", top);
	str_fmt(dest, sizeof(dest), "%s/d/dest", top);
	str_fmt(outside, sizeof(outside), "%s/outside", top);
	str_fmt(copy, sizeof(copy), "%s/copy", top);
	if (mkdir(outside, 0755) == -1)
		abort();
	atexit(cleanup);
	str_fmt(p, sizeof(p), "%s/keep", outside);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0644)) == -1)
		abort();
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct archive_limits lim;
	struct app_detect det;
	struct buf l = BUF_INIT;
	enum archive_result r;
	char err[256], out[256];
	uint64_t bytes, entries, tarbytes = 0;
	int fd;

	if (top[0] == '\0')
		setup();
	if ((fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (size > 0 && write(fd, data, size) != (ssize_t)size) ||
	    close(fd) == -1)
		abort();
	if (mkdir(work, 0755) == -1 || mkdir(dest, 0755) == -1 ||
	    realpath(dest, dest_real) == NULL)
		abort();

	archive_limits_default(&lim);
	lim.max_entries = 512;
	lim.max_bytes = 8 * 1024 * 1024;
	lim.ratio_floor = 1024 * 1024;
	lim.max_ratio = 100;
	r = archive_extract(in, dest, &lim, err, sizeof(err));
	if (r != ARCHIVE_RES_OK && err[0] == '\0')
		abort();	/* every failure says why */

	listing(work, &l);
	if (strcmp(l.data, "dest") != 0)
		abort();	/* something landed beside dest */
	listing(top, &l);
	if (strcmp(l.data, "d,in,outside") != 0)
		abort();	/* something landed in the parent */
	listing(outside, &l);
	if (strcmp(l.data, "keep") != 0)
		abort();

	(void)archive_sniff(in, "x.py");
	if (r == ARCHIVE_RES_OK) {
		check_tree(dest, 0);
		if (archive_unwrap(dest, out, sizeof(out)) == -1)
			abort();
		(void)archive_detect_app(out, &det);
		if (archive_write_tar(dest, null_cb, &tarbytes) == -1 ||
		    tarbytes % 512 != 0)
			abort();	/* an extracted tree always tars */
		if (tree_copy(dest, copy) == -1 ||
		    tree_size(copy, &bytes, &entries) == -1 ||
		    tree_remove(copy) == -1)
			abort();
		if (bytes > lim.max_bytes)
			abort();	/* the byte cap held, hard links included */
	}
	if (tree_remove(work) == -1)
		abort();
	listing(top, &l);
	if (strcmp(l.data, "in,outside") != 0)
		abort();
	buf_release(&l);
	return 0;
}
