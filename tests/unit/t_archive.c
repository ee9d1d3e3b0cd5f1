#include "config.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "archive.h"
#include "buf.h"
#include "caps.h"
#include "tap.h"

/*
 * Every archive here is built at run time with libarchive's writer, so the
 * hostile ones (zip-slip, absolute names, escaping links, devices, bombs)
 * never sit in the source tree.
 */

enum fmt { TAR, TARGZ, ZIP };

struct ent {
	const char	*name;
	char		 type;	/* f file, d dir, l symlink, h hard link, c b p */
	int		 mode;
	const char	*data;	/* file content, or link target */
	size_t		 fill;	/* file of this many 'z' bytes instead */
};

static char top[64];		/* the test's temporary directory */
static int seq;

static void
path_in(char *out, size_t sz, const char *name)
{
	if (str_fmt(out, sz, "%s/%s", top, name) == -1)
		abort();
}

static int
mk_archive(const char *path, enum fmt fmt, const struct ent *ents, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;
	char zeros[65536];
	size_t i, left, k;
	int rc = -1;

	memset(zeros, 'z', sizeof(zeros));
	if (fmt == ZIP) {
		if (archive_write_set_format_zip(a) != ARCHIVE_OK)
			goto out;
	} else {
		if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK)
			goto out;
		if (fmt == TARGZ && archive_write_add_filter_gzip(a) != ARCHIVE_OK)
			goto out;
	}
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		const struct ent *t = &ents[i];

		e = archive_entry_new();
		archive_entry_set_pathname(e, t->name);
		archive_entry_set_perm(e, t->mode ? t->mode : 0644);
		archive_entry_set_mtime(e, 1700000000, 0);
		switch (t->type) {
		case 'F':	/* size not declared: a zip data descriptor */
			archive_entry_set_filetype(e, AE_IFREG);
			break;
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, t->fill ? t->fill :
			    t->data ? strlen(t->data) : 0);
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, t->mode ? t->mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, t->data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, t->data);
			archive_entry_set_size(e, 0);
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_rdev(e, makedev(1, 3));
			break;
		case 'b':
			archive_entry_set_filetype(e, AE_IFBLK);
			archive_entry_set_rdev(e, makedev(7, 0));
			break;
		case 'p':
			archive_entry_set_filetype(e, AE_IFIFO);
			break;
		}
		if (archive_write_header(a, e) < ARCHIVE_WARN) {
			printf("# writer: %s: %s\n", t->name,
			    archive_error_string(a));
			archive_entry_free(e);
			goto out;
		}
		if ((t->type == 'f' || t->type == 'F') && t->fill) {
			for (left = t->fill; left > 0; left -= k) {
				k = left < sizeof(zeros) ? left : sizeof(zeros);
				if (archive_write_data(a, zeros, k) != (la_ssize_t)k)
					goto out;
			}
		} else if (t->type == 'f' && t->data != NULL)
			archive_write_data(a, t->data, strlen(t->data));
		archive_entry_free(e);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		goto out;
	rc = 0;
out:
	archive_write_free(a);
	return rc;
}

static int
write_bytes(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd == -1 || write(fd, p, n) != (ssize_t)n) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	return close(fd);
}

static int
read_file(const char *path, struct buf *out)
{
	char tmp[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	buf_reset(out);
	if (fd == -1)
		return -1;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(out, tmp, (size_t)n);
	close(fd);
	return n == 0 ? 0 : -1;
}

/* Names in dir, comma-separated and sorted ("" if empty, "!" on error). */
static void
listing(const char *dir, struct buf *out)
{
	struct dirent **v;
	int n, i;

	buf_reset(out);
	if ((n = scandir(dir, &v, NULL, alphasort)) < 0) {
		buf_adds(out, "!");
		return;
	}
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

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A fresh work dir with an empty dest inside; returns dest. */
static void
fresh_dest(char *work, size_t wsz, char *dest, size_t dsz)
{
	char name[32];

	str_fmt(name, sizeof(name), "w%d", ++seq);
	path_in(work, wsz, name);
	if (mkdir(work, 0755) == -1 ||
	    str_fmt(dest, dsz, "%s/dest", work) == -1 ||
	    mkdir(dest, 0755) == -1)
		abort();
}


/* ---- streams: an archive file read through archive_extract_stream ---- */

struct stream {
	const char	*path;
	size_t		 chunk;		/* bytes per read */
	uint64_t	 hint;		/* size_hint */
	uint64_t	 given;		/* bytes read so far */
	int		 firsts;	/* first() calls */
	int		 fail_at;	/* read() call that fails, -1 none */
	const char	*decline;	/* first() declines this name */
	int		 reads;
};

static char stream_first_name[256];
static int stream_fd = -1;
static char stream_buf[65536];

static ssize_t
stream_read(void *arg, const void **buf)
{
	struct stream *s = arg;
	ssize_t n;

	if (s->fail_at >= 0 && s->reads == s->fail_at)
		return -1;
	s->reads++;
	n = read(stream_fd, stream_buf, s->chunk);
	if (n > 0)
		s->given += (uint64_t)n;
	*buf = stream_buf;
	return n;
}

static int
stream_first(void *arg, const char *name)
{
	struct stream *s = arg;

	s->firsts++;
	str_copy(stream_first_name, sizeof(stream_first_name), name);
	return s->decline != NULL && strcmp(s->decline, name) == 0 ? -1 : 0;
}

static enum archive_result
stream_extract(struct stream *s, const char *dest,
    const struct archive_limits *lim, char *err, size_t errlen)
{
	struct archive_source src = { stream_read, stream_first, s, s->hint };
	enum archive_result r;

	stream_first_name[0] = '\0';
	if ((stream_fd = open(s->path, O_RDONLY)) == -1)
		return ARCHIVE_RES__MAX;
	r = archive_extract_stream(&src, dest, lim, err, errlen);
	close(stream_fd);
	stream_fd = -1;
	return r;
}

static char abs_target[128], sym_target[128], esc1[128];

static void
extract_bad(const char *desc, enum fmt fmt, const struct ent *ents, size_t n,
    const struct archive_limits *lim, enum archive_result want)
{
	char arch[128], work[128], dest[160], err[256], name[32];
	struct buf l = BUF_INIT;
	enum archive_result r;

	str_fmt(name, sizeof(name), "a%d", seq + 1);
	path_in(arch, sizeof(arch), name);
	if (mk_archive(arch, fmt, ents, n) == -1) {
		ok(0, "%s: building the archive", desc);
		return;
	}
	fresh_dest(work, sizeof(work), dest, sizeof(dest));
	r = archive_extract(arch, dest, lim, err, sizeof(err));
	is(r, want, "%s: %s", desc, archive_result_name(want));
	if (fmt != ZIP) {
		/* The same archive as a stream: the same verdict. */
		struct stream st = { arch, 997, 0, 0, 0, -1, NULL, 0 };
		char sdest[192];
		enum archive_result sr;

		str_fmt(sdest, sizeof(sdest), "%s-stream", dest);
		mkdir(sdest, 0755);
		sr = stream_extract(&st, sdest, lim, err, sizeof(err));
		is(sr, want, "%s (streamed): %s", desc, archive_result_name(want));
		is(tree_remove(sdest), 0, "%s (streamed): tree_remove", desc);
	}
	ok(r == ARCHIVE_RES_OK || err[0] != '\0', "%s: says why (%s)", desc, err);
	listing(work, &l);
	is_str(l.data, "dest", "%s: nothing beside dest", desc);
	ok(!exists(abs_target) && !exists(sym_target) && !exists(esc1),
	    "%s: nothing escaped", desc);
	is(tree_remove(dest), 0, "%s: tree_remove", desc);
	listing(work, &l);
	is_str(l.data, "", "%s: dest gone", desc);
	rmdir(work);
	unlink(arch);
	unlink(abs_target);
	unlink(sym_target);
	unlink(esc1);
	buf_release(&l);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define BAD(desc, fmt, lim, want, ...) do {				\
	static const struct ent e_[] = { __VA_ARGS__ };		\
	extract_bad(desc, fmt, e_, N(e_), lim, want);			\
} while (0)

static void
test_hostile(void)
{
	struct archive_limits small;
	char longname[200];
	struct ent *many;
	char (*names)[24];
	size_t i;

	archive_limits_default(&small);
	str_fmt(abs_target, sizeof(abs_target), "/tmp/slipway-t-abs-%d", (int)getpid());
	str_fmt(sym_target, sizeof(sym_target), "/tmp/slipway-t-sym-%d", (int)getpid());
	path_in(esc1, sizeof(esc1), "escaped");

	BAD("zip-slip ../ (zip)", ZIP, NULL, ARCHIVE_RES_UNSAFE,
	    { "ok.txt", 'f', 0, "x", 0 }, { "../escaped", 'f', 0, "x", 0 });
	BAD("zip-slip ../../ (tar)", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "../../escaped", 'f', 0, "x", 0 });
	BAD("name with ../ inside", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "a/../../escaped", 'f', 0, "x", 0 });
	BAD("harmless-looking a/../b", TARGZ, NULL, ARCHIVE_RES_UNSAFE,
	    { "a/../b", 'f', 0, "x", 0 });
	{
		struct ent e[] = { { abs_target, 'f', 0, "x", 0 } };

		extract_bad("absolute name (tar)", TAR, e, 1, NULL,
		    ARCHIVE_RES_UNSAFE);
		extract_bad("absolute name (zip)", ZIP, e, 1, NULL,
		    ARCHIVE_RES_UNSAFE);
	}
	{
		char through[160];
		struct ent e[] = {
			{ "t", 'l', 0, "/tmp", 0 },
			{ through, 'f', 0, "x", 0 },
		};

		str_fmt(through, sizeof(through), "t/%s", sym_target + 5);
		extract_bad("symlink to /tmp, then a file through it", TAR, e,
		    2, NULL, ARCHIVE_RES_UNSAFE);
		extract_bad("symlink to /tmp (zip)", ZIP, e, 2, NULL,
		    ARCHIVE_RES_UNSAFE);
	}
	BAD("symlink to /etc", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "etc", 'l', 0, "/etc", 0 });
	BAD("symlink escaping via ../../", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "a/", 'd', 0, NULL, 0 }, { "a/l", 'l', 0, "../../x", 0 });
	BAD("symlink to ..", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "l", 'l', 0, "..", 0 });
	BAD("symlink escaping via ../../ (zip)", ZIP, NULL, ARCHIVE_RES_UNSAFE,
	    { "a/b/l", 'l', 0, "../../../etc", 0 });
	BAD("symlink with .. after a name", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "a/b/s", 'l', 0, "../..", 0 }, { "a/b/t", 'l', 0, "s/..", 0 });
	BAD("empty symlink target", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "l", 'l', 0, "", 0 });
	BAD("file through an inside symlink", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "a/", 'd', 0, NULL, 0 }, { "s", 'l', 0, "a", 0 },
	    { "s/x", 'f', 0, "x", 0 });
	BAD("hard link outside", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "h", 'h', 0, "../escaped", 0 });
	BAD("hard link to /etc/passwd", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "h", 'h', 0, "/etc/passwd", 0 });
	BAD("hard link to a directory", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "d/", 'd', 0, NULL, 0 }, { "h", 'h', 0, "d", 0 });
	BAD("hard link to nothing", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "h", 'h', 0, "missing", 0 });
	BAD("hard link to a symlink", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "l", 'l', 0, "x", 0 }, { "h", 'h', 0, "l", 0 });
	BAD("hard link through a symlink", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "d/f", 'f', 0, "x", 0 }, { "s", 'l', 0, "d", 0 },
	    { "h", 'h', 0, "s/f", 0 });
	BAD("character device", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "null", 'c', 0666, NULL, 0 });
	BAD("block device", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "loop", 'b', 0660, NULL, 0 });
	BAD("fifo", TARGZ, NULL, ARCHIVE_RES_UNSAFE,
	    { "ok", 'f', 0, "x", 0 }, { "fifo", 'p', 0644, NULL, 0 });
	BAD("control byte in a name", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "a\001b", 'f', 0, "x", 0 });
	BAD("newline in a name (zip)", ZIP, NULL, ARCHIVE_RES_UNSAFE,
	    { "a\nb", 'f', 0, "x", 0 });
	BAD("control byte in a symlink target", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "l", 'l', 0, "a\033b", 0 });
	BAD("a symlink named .", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "./.", 'l', 0, "x", 0 });
	BAD("only the root directory", TAR, NULL, ARCHIVE_RES_OK,
	    { "./", 'd', 0, NULL, 0 });

	small.max_path = 64;
	memset(longname, 'n', 65);
	longname[65] = '\0';
	{
		struct ent e[] = { { longname, 'f', 0, "x", 0 } };

		extract_bad("path over max_path", TAR, e, 1, &small,
		    ARCHIVE_RES_UNSAFE);
		longname[64] = '\0';
		extract_bad("path at max_path is fine", TAR, e, 1, &small,
		    ARCHIVE_RES_OK);
	}
	archive_limits_default(&small);
	small.max_depth = 4;
	BAD("path deeper than max_depth", TAR, &small, ARCHIVE_RES_UNSAFE,
	    { "a/b/c/d/e", 'f', 0, "x", 0 });
	BAD("path at max_depth is fine", TAR, &small, ARCHIVE_RES_OK,
	    { "a/b/c/d", 'f', 0, "x", 0 });
	BAD("./ and // do not count as depth", TAR, &small, ARCHIVE_RES_OK,
	    { "./a//b/./c/d", 'f', 0, "x", 0 });
	BAD("default depth cap", TAR, NULL, ARCHIVE_RES_UNSAFE,
	    { "1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/21/22/23/"
	      "24/25/26/27/28/29/30/31/32/33/34/35/36/37/38/39/40/41/42/43/44/"
	      "45/46/47/48/49/50/51/52/53/54/55/56/57/58/59/60/61/62/63/64/65",
	      'f', 0, "x", 0 });

	archive_limits_default(&small);
	small.max_entries = 3;
	BAD("entries over a lowered cap", ZIP, &small, ARCHIVE_RES_TOO_LARGE,
	    { "1", 'f', 0, "", 0 }, { "2", 'f', 0, "", 0 },
	    { "3", 'f', 0, "", 0 }, { "4", 'f', 0, "", 0 });
	BAD("entries at a lowered cap", TAR, &small, ARCHIVE_RES_OK,
	    { "1", 'f', 0, "", 0 }, { "2", 'f', 0, "", 0 },
	    { "3", 'f', 0, "", 0 });

	/* 100000 empty files against the default cap. */
	many = calloc(100000, sizeof(*many));
	names = calloc(100000, sizeof(*names));
	for (i = 0; i < 100000; i++) {
		str_fmt(names[i], sizeof(names[i]), "d%02zu/f%06zu", i % 50, i);
		many[i].name = names[i];
		many[i].type = 'f';
		many[i].data = "";
	}
	extract_bad("100000 entries", TARGZ, many, 100000, NULL,
	    ARCHIVE_RES_TOO_LARGE);
	free(many);
	free(names);

	/* Bombs: a highly compressible stream against lowered caps. */
	archive_limits_default(&small);
	small.max_ratio = 10;
	small.ratio_floor = 1024 * 1024;
	BAD("zip bomb over the ratio", ZIP, &small, ARCHIVE_RES_TOO_LARGE,
	    { "zeros", 'f', 0, NULL, 8 * 1024 * 1024 });
	BAD("tar.gz bomb over the ratio", TARGZ, &small, ARCHIVE_RES_TOO_LARGE,
	    { "zeros", 'f', 0, NULL, 8 * 1024 * 1024 });
	BAD("compressible but under the ratio floor", ZIP, &small,
	    ARCHIVE_RES_OK, { "zeros", 'f', 0, NULL, 900 * 1024 });
	archive_limits_default(&small);
	small.max_bytes = 1024 * 1024;
	BAD("zip over max_bytes", ZIP, &small, ARCHIVE_RES_TOO_LARGE,
	    { "zeros", 'f', 0, NULL, 2 * 1024 * 1024 });
	BAD("many files over max_bytes together", TARGZ, &small,
	    ARCHIVE_RES_TOO_LARGE,
	    { "a", 'f', 0, NULL, 600 * 1024 }, { "b", 'f', 0, NULL, 600 * 1024 });
	BAD("hard links count their file again", TAR, &small,
	    ARCHIVE_RES_TOO_LARGE,
	    { "a", 'f', 0, NULL, 600 * 1024 }, { "h", 'h', 0, "a", 0 });
	BAD("files at max_bytes together", TAR, &small, ARCHIVE_RES_OK,
	    { "a", 'f', 0, NULL, 512 * 1024 }, { "b", 'f', 0, NULL, 512 * 1024 });
}

/* Raw bytes that are not (good) archives. */
static void
test_bad_input(void)
{
	static const unsigned char badzip[] = "PK\003\004\024\000\000\000\010\000garbage garbage garbage";
	char arch[128], work[128], dest[160], err[256];
	struct buf b = BUF_INIT, l = BUF_INIT;
	unsigned char eocd[4 + 64 + 22];
	struct {
		const char *desc;
		const void *data;
		size_t len;
		enum archive_result want;
	} t[6];
	size_t i, n = 0;
	int fd;

	/* A zip whose end record announces 30000 entries. */
	memset(eocd, 0, sizeof(eocd));
	memcpy(eocd, "PK\003\004", 4);
	memcpy(eocd + 68, "PK\005\006", 4);
	eocd[68 + 10] = 30000 & 0xff;
	eocd[68 + 11] = 30000 >> 8;

	t[n++] = (typeof(t[0])){ "invalid zip bytes", badzip, sizeof(badzip) - 1, ARCHIVE_RES_BAD };
	t[n++] = (typeof(t[0])){ "empty file", "", 0, ARCHIVE_RES_BAD };
	t[n++] = (typeof(t[0])){ "plain text", "print('hello')\n", 15, ARCHIVE_RES_BAD };
	t[n++] = (typeof(t[0])){ "zip end record over the entry cap", eocd, sizeof(eocd), ARCHIVE_RES_TOO_LARGE };
	t[n++] = (typeof(t[0])){ "gzip of no tar", "\037\213\010\000\000\000\000\000\000\003\313H\315\311\311\347\002\000 0:6\006\000\000\000", 26, ARCHIVE_RES_BAD };
	t[n++] = (typeof(t[0])){ "512 zero bytes", NULL, 0, ARCHIVE_RES_BAD };
	for (i = 0; i < n; i++) {
		path_in(arch, sizeof(arch), "raw");
		if (t[i].data == NULL) {
			char z[1024] = { 0 };

			write_bytes(arch, z, sizeof(z));
		} else
			write_bytes(arch, t[i].data, t[i].len);
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract(arch, dest, NULL, err, sizeof(err)), t[i].want,
		    "%s: %s", t[i].desc, archive_result_name(t[i].want));
		ok(err[0] != '\0', "%s: says why (%s)", t[i].desc, err);
		listing(dest, &l);
		is_str(l.data, "", "%s: dest left empty", t[i].desc);
		tree_remove(work);
		unlink(arch);
	}

	/* A truncated tar.gz, and one with no entries at all. */
	{
		static const struct ent e[] = {
			{ "a", 'f', 0, NULL, 300000 }, { "b", 'f', 0, "x", 0 },
		};
		char half[128];

		path_in(arch, sizeof(arch), "full.tgz");
		mk_archive(arch, TARGZ, e, 2);
		read_file(arch, &b);
		path_in(half, sizeof(half), "half.tgz");
		write_bytes(half, b.data, b.len / 2);
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract(half, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_BAD, "truncated tar.gz is bad (%s)", err);
		tree_remove(work);
		mk_archive(half, TAR, e, 0);
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract(half, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_BAD, "tar without entries is bad (%s)", err);
		tree_remove(work);

		/* Destination problems are ours: IO. */
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		str_fmt(half, sizeof(half), "%s/stray", dest);
		write_bytes(half, "x", 1);
		is(archive_extract(arch, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_IO, "dest not empty");
		tree_remove(work);
		is(archive_extract(arch, "/nonexistent/slipway", NULL, err,
		    sizeof(err)), ARCHIVE_RES_IO, "dest missing");
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract("/nonexistent/a.zip", dest, NULL, err,
		    sizeof(err)), ARCHIVE_RES_IO, "archive missing");
		is(archive_extract(work, dest, NULL, NULL, 0), ARCHIVE_RES_BAD,
		    "archive is a directory (NULL err is fine)");
		tree_remove(work);
		unlink(arch);
		path_in(half, sizeof(half), "half.tgz");
		unlink(half);
	}
	/*
	 * Bytes are counted as written, whatever the headers say: a zip
	 * entry without declared sizes (data descriptor) and no central
	 * directory, read by libarchive's streaming zip reader.
	 */
	{
		static const struct ent e[] = {
			{ "zeros", 'F', 0, NULL, 3 * 1024 * 1024 },
		};
		struct archive_limits lim;
		const char *cd;
		char zp[256];

		archive_limits_default(&lim);
		lim.max_bytes = 1024 * 1024;
		path_in(arch, sizeof(arch), "nocd.zip");
		mk_archive(arch, ZIP, e, 1);
		read_file(arch, &b);
		cd = memmem(b.data, b.len, "PK\001\002", 4);
		ok(cd != NULL, "zip has a central directory to cut");
		write_bytes(arch, b.data, cd ? (size_t)(cd - b.data) : b.len);
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract(arch, dest, &lim, err, sizeof(err)),
		    ARCHIVE_RES_TOO_LARGE, "undeclared size counted (%s)", err);
		ok(strstr(err, "unpacks to more than 1048576 bytes") != NULL,
		    "stopped by the byte count, not a header");
		tree_remove(work);
		lim.max_bytes = 4 * 1024 * 1024;
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract(arch, dest, &lim, err, sizeof(err)),
		    ARCHIVE_RES_BAD, "zip without central directory is bad");
		str_fmt(zp, sizeof(zp), "%s/zeros", dest);
		{
			struct stat st;

			ok(stat(zp, &st) == 0 && st.st_size == 3 * 1024 * 1024,
			    "undeclared size: whole file written (%s)", err);
		}
		tree_remove(work);
		unlink(arch);
	}
	/* cwd is restored whatever happens. */
	{
		char before[512], after[512];

		fd = getcwd(before, sizeof(before)) != NULL;
		path_in(arch, sizeof(arch), "raw");
		write_bytes(arch, "junk", 4);
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		archive_extract(arch, dest, NULL, err, sizeof(err));
		ok(fd && getcwd(after, sizeof(after)) != NULL &&
		    strcmp(before, after) == 0, "cwd restored after a failure");
		tree_remove(work);
		unlink(arch);
	}
	buf_release(&b);
	buf_release(&l);
}

static mode_t
mode_of(const char *dir, const char *name)
{
	char p[512];
	struct stat st;

	str_fmt(p, sizeof(p), "%s/%s", dir, name);
	if (lstat(p, &st) == -1)
		return (mode_t)-1;
	return st.st_mode;
}

static void
test_good(void)
{
	char arch[128], work[128], dest[160], err[256], out[256], p[512];
	char before[512], after[512];
	struct buf l = BUF_INIT, b = BUF_INIT;
	struct app_detect d;
	struct stat s1, s2;
	ssize_t n;

	/* zip with a wrapping folder and macOS litter */
	{
		static const struct ent e[] = {
			{ "proj/", 'd', 0755, NULL, 0 },
			{ "proj/app.py", 'f', 0644, "import gradio\n", 0 },
			{ "proj/requirements.txt", 'f', 0644, "gradio\n", 0 },
			{ "proj/bin/run.sh", 'f', 0755, "#!/bin/sh\n", 0 },
			{ "__MACOSX/proj/._app.py", 'f', 0644, "junk", 0 },
		};

		path_in(arch, sizeof(arch), "wrapped.zip");
		ok(mk_archive(arch, ZIP, e, N(e)) == 0, "built wrapped.zip");
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		ok(getcwd(before, sizeof(before)) != NULL, "getcwd");
		is(archive_extract(arch, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_OK, "zip with a wrapping folder (%s)", err);
		ok(getcwd(after, sizeof(after)) != NULL &&
		    strcmp(before, after) == 0, "cwd restored");
		listing(dest, &l);
		is_str(l.data, "__MACOSX,proj", "top level");
		is(archive_unwrap(dest, out, sizeof(out)), 1, "unwrap looks through");
		str_fmt(p, sizeof(p), "%s/proj", dest);
		is_str(out, p, "unwrap path");
		ok(archive_detect_app(out, &d) == 0 &&
		    d.kind == ARCHIVE_APP_GRADIO && strcmp(d.entry, "app.py") == 0,
		    "wrapped gradio app detected");
		is(mode_of(out, "bin/run.sh") & 07777, 0755, "zip keeps the x bit");
		is(mode_of(out, "app.py") & 07777, 0644, "zip plain file 0644");
		ok(archive_sniff(arch, "wrapped.zip") == ARCHIVE_KIND_ZIP,
		    "sniff zip");
		tree_remove(work);
		unlink(arch);
	}
	/* tar.gz: modes, setuid stripped, symlink and hard link inside */
	{
		static const struct ent e[] = {
			{ "./", 'd', 0755, NULL, 0 },
			{ "./run.sh", 'f', 0755, "#!/bin/sh\necho hi\n", 0 },
			{ "./secret", 'f', 0600, "s", 0 },
			{ "./suid", 'f', 04755, "x", 0 },
			{ "./sgid", 'f', 02711, "x", 0 },
			{ "./sticky/", 'd', 01777, NULL, 0 },
			{ "./locked/", 'd', 0, NULL, 0 },
			{ "./locked/f", 'f', 0, "f", 0 },
			{ "./b/data", 'f', 0644, "data", 0 },
			{ "./a/link", 'l', 0, "../b/data", 0 },
			{ "./a/dirlink", 'l', 0, "../b", 0 },
			{ "./top", 'l', 0, "a/link", 0 },
			{ "./hard", 'h', 0, "b/data", 0 },
			{ "./\xc3\xa9t\xc3\xa9.py", 'f', 0644, "print(1)\n", 0 },
		};

		path_in(arch, sizeof(arch), "good.tgz");
		ok(mk_archive(arch, TARGZ, e, N(e)) == 0, "built good.tgz");
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract(arch, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_OK, "tar.gz with modes and links (%s)", err);
		is(mode_of(dest, "run.sh") & 07777, 0755, "script keeps its x bit");
		is(mode_of(dest, "secret") & 07777, 0644, "0600 file becomes 0644");
		is(mode_of(dest, "suid") & 07777, 0755, "setuid stripped");
		is(mode_of(dest, "sgid") & 07777, 0755, "setgid stripped, x kept");
		is(mode_of(dest, "sticky") & 07777, 0755, "sticky dir 0755");
		is(mode_of(dest, "locked") & 07777, 0755, "0 dir becomes 0755");
		is(mode_of(dest, "locked/f") & 07777, 0644, "0 file becomes 0644");
		ok(S_ISLNK(mode_of(dest, "a/link")), "symlink inside kept");
		str_fmt(p, sizeof(p), "%s/a/link", dest);
		n = readlink(p, out, sizeof(out) - 1);
		ok(n == 9 && memcmp(out, "../b/data", 9) == 0, "symlink target");
		str_fmt(p, sizeof(p), "%s/top", dest);
		ok(read_file(p, &b) == 0 && strcmp(b.data, "data") == 0,
		    "chained symlink resolves inside");
		ok(S_ISLNK(mode_of(dest, "a/dirlink")), "dir symlink kept");
		str_fmt(p, sizeof(p), "%s/hard", dest);
		ok(stat(p, &s1) == 0, "hard link exists");
		str_fmt(p, sizeof(p), "%s/b/data", dest);
		ok(stat(p, &s2) == 0 && s1.st_ino == s2.st_ino,
		    "hard link shares the inode");
		ok(S_ISREG(mode_of(dest, "\xc3\xa9t\xc3\xa9.py")), "UTF-8 name");
		ok(archive_sniff(arch, "good.tgz") == ARCHIVE_KIND_TARGZ,
		    "sniff tar.gz");
		is(archive_detect_app(dest, &d), -1,
		    "a non-ASCII .py name is no gradio entry");
		tree_remove(work);
		unlink(arch);
	}
	/* plain tar, zip symlink inside, files without directory entries */
	{
		static const struct ent e[] = {
			{ "deep/er/file.txt", 'f', 0644, "x", 0 },
			{ "deep/link", 'l', 0, "er/file.txt", 0 },
			{ "Dockerfile", 'f', 0644, "FROM scratch\n", 0 },
		};

		path_in(arch, sizeof(arch), "plain.tar");
		mk_archive(arch, TAR, e, N(e));
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract(arch, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_OK, "tar without dir entries (%s)", err);
		ok(archive_sniff(arch, "x.tar") == ARCHIVE_KIND_TAR, "sniff tar");
		ok(archive_detect_app(dest, &d) == 0 &&
		    d.kind == ARCHIVE_APP_DOCKER, "docker app");
		is(archive_unwrap(dest, out, sizeof(out)), 0, "nothing to unwrap");
		is_str(out, dest, "unwrap returns the dir itself");
		tree_remove(work);
		path_in(arch, sizeof(arch), "links.zip");
		mk_archive(arch, ZIP, e, N(e));
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract(arch, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_OK, "zip with an inside symlink (%s)", err);
		ok(S_ISLNK(mode_of(dest, "deep/link")), "zip symlink kept");
		tree_remove(work);
		unlink(arch);
		path_in(arch, sizeof(arch), "plain.tar");
		unlink(arch);
	}
	buf_release(&l);
	buf_release(&b);
}

/* ---- sniff ---- */

static const struct ent docker_legacy[] = {
	{ "3f5a/", 'd', 0755, NULL, 0 },
	{ "3f5a/VERSION", 'f', 0644, "1.0", 0 },
	{ "3f5a/json", 'f', 0644, "{}", 0 },
	{ "3f5a/layer.tar", 'f', 0644, NULL, 4096 },
	{ "c0ffee.json", 'f', 0644, "{\"architecture\":\"amd64\"}", 0 },
	{ "manifest.json", 'f', 0644,
	  "[{\"Config\":\"c0ffee.json\",\"RepoTags\":[\"app:latest\"],"
	  "\"Layers\":[\"3f5a/layer.tar\"]}]", 0 },
	{ "repositories", 'f', 0644, "{\"app\":{\"latest\":\"3f5a\"}}", 0 },
};

static const struct ent docker_oci[] = {
	{ "blobs/", 'd', 0755, NULL, 0 },
	{ "blobs/sha256/", 'd', 0755, NULL, 0 },
	{ "blobs/sha256/aa11", 'f', 0644, NULL, 2048 },
	{ "index.json", 'f', 0644, "{\"schemaVersion\":2,\"manifests\":[]}", 0 },
	{ "oci-layout", 'f', 0644, "{\"imageLayoutVersion\":\"1.0.0\"}", 0 },
};

static void
test_sniff(void)
{
	static const struct ent pwa[] = {
		{ "manifest.json", 'f', 0644, "{\"name\":\"my pwa\",\"icons\":[]}", 0 },
		{ "index.html", 'f', 0644, "<html>", 0 },
	};
	static const struct ent nested[] = {
		{ "img/manifest.json", 'f', 0644,
		  "[{\"Config\":\"c.json\",\"Layers\":[]}]", 0 },
	};
	static const struct ent oci_half[] = {
		{ "oci-layout", 'f', 0644, "{}", 0 },
	};
	char p[128], q[128], work[128], dest[160], err[256];
	struct buf text = BUF_INIT;
	struct app_detect d;
	size_t i;

	path_in(p, sizeof(p), "s.tar");
	mk_archive(p, TAR, docker_legacy, N(docker_legacy));
	is(archive_sniff(p, "image.tar"), ARCHIVE_KIND_DOCKER_SAVE,
	    "docker save (legacy layout)");
	mk_archive(p, TARGZ, docker_legacy, N(docker_legacy));
	is(archive_sniff(p, "image.tar.gz"), ARCHIVE_KIND_DOCKER_SAVE,
	    "gzipped docker save");
	mk_archive(p, TAR, docker_oci, N(docker_oci));
	is(archive_sniff(p, NULL), ARCHIVE_KIND_DOCKER_SAVE,
	    "docker save (OCI layout)");
	mk_archive(p, TAR, pwa, N(pwa));
	is(archive_sniff(p, "site.tar"), ARCHIVE_KIND_TAR,
	    "a web manifest.json is not docker save");
	mk_archive(p, TAR, nested, N(nested));
	is(archive_sniff(p, "x.tar"), ARCHIVE_KIND_TAR,
	    "manifest.json below the top is not docker save");
	mk_archive(p, TAR, oci_half, N(oci_half));
	is(archive_sniff(p, "x.tar"), ARCHIVE_KIND_TAR,
	    "oci-layout without index.json is not docker save");
	unlink(p);

	/* A zip holding one docker save tar: ZIP, then IMAGE after extraction. */
	path_in(q, sizeof(q), "image.tar");
	mk_archive(q, TAR, docker_legacy, N(docker_legacy));
	{
		struct buf img = BUF_INIT;
		struct archive *a = archive_write_new();
		struct archive_entry *e = archive_entry_new();

		read_file(q, &img);
		archive_write_set_format_zip(a);
		path_in(p, sizeof(p), "zipped-image.zip");
		archive_write_open_filename(a, p);
		archive_entry_set_pathname(e, "image.tar");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)img.len);
		archive_write_header(a, e);
		archive_write_data(a, img.data, img.len);
		archive_entry_free(e);
		archive_write_free(a);
		buf_release(&img);
	}
	is(archive_sniff(p, "zipped-image.zip"), ARCHIVE_KIND_ZIP,
	    "zip holding a docker save tar is ZIP");
	fresh_dest(work, sizeof(work), dest, sizeof(dest));
	is(archive_extract(p, dest, NULL, err, sizeof(err)), ARCHIVE_RES_OK,
	    "extract the zipped image (%s)", err);
	ok(archive_detect_app(dest, &d) == 0 && d.kind == ARCHIVE_APP_IMAGE &&
	    strcmp(d.entry, "image.tar") == 0,
	    "the zipped docker save tar is an image app");
	tree_remove(work);
	unlink(p);
	unlink(q);

	/* Python and other files */
	path_in(p, sizeof(p), "f");
	write_bytes(p, "import gradio as gr\n# caf\xc3\xa9\n", 28);
	is(archive_sniff(p, "app.py"), ARCHIVE_KIND_PYTHON, "text named app.py");
	is(archive_sniff(p, "APP.PY"), ARCHIVE_KIND_PYTHON, "suffix case");
	is(archive_sniff(p, "app.txt"), ARCHIVE_KIND_UNKNOWN, "text not named .py");
	is(archive_sniff(p, NULL), ARCHIVE_KIND_UNKNOWN, "text without a name");
	is(archive_sniff(p, ".py"), ARCHIVE_KIND_UNKNOWN, "named just .py");
	write_bytes(p, "print(1)\0\001\002", 11);
	is(archive_sniff(p, "app.py"), ARCHIVE_KIND_UNKNOWN, "NUL byte: not text");
	write_bytes(p, "print('\xff')\n", 11);
	is(archive_sniff(p, "app.py"), ARCHIVE_KIND_UNKNOWN, "bad UTF-8: not text");
	write_bytes(p, "", 0);
	is(archive_sniff(p, "app.py"), ARCHIVE_KIND_UNKNOWN, "empty file");
	write_bytes(p, "PK\005\006", 4);
	is(archive_sniff(p, "x.zip"), ARCHIVE_KIND_ZIP, "empty zip by magic");
	/* A multi-byte character cut by the end of the sniff window. */
	for (i = 0; i < ARCHIVE_SNIFF_TEXT - 1; i++)
		buf_addch(&text, '#');
	buf_adds(&text, "\xc3\xa9\nprint(1)\n");
	write_bytes(p, text.data, text.len);
	is(archive_sniff(p, "big.py"), ARCHIVE_KIND_PYTHON,
	    "UTF-8 cut by the sniff window");
	write_bytes(p, text.data, ARCHIVE_SNIFF_TEXT);
	is(archive_sniff(p, "cut.py"), ARCHIVE_KIND_UNKNOWN,
	    "a file that ends mid-character is not text");
	unlink(p);
	is(archive_sniff(p, "app.py"), ARCHIVE_KIND_UNKNOWN, "missing file");
	is_str(archive_kind_name(ARCHIVE_KIND_DOCKER_SAVE), "docker-save",
	    "kind name");
	is_str(archive_kind_name(ARCHIVE_KIND__MAX), "unknown", "kind name range");
	buf_release(&text);
}

/* ---- detect ---- */

static void
make_tree(const char *dir, const char *spec)
{
	char copy[512], p[512], *tok, *save = NULL;

	/* spec: comma-separated names; "x/" dir, "x>t" symlink, "x@" docker tar */
	mkdir(dir, 0755);
	str_copy(copy, sizeof(copy), spec);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *gt = strchr(tok, '>');
		size_t n = strlen(tok);

		if (gt != NULL) {
			*gt = '\0';
			str_fmt(p, sizeof(p), "%s/%s", dir, tok);
			symlink(gt + 1, p);
		} else if (tok[n - 1] == '/') {
			str_fmt(p, sizeof(p), "%s/%s", dir, tok);
			mkdir(p, 0755);
		} else if (tok[n - 1] == '@') {
			tok[n - 1] = '\0';
			str_fmt(p, sizeof(p), "%s/%s", dir, tok);
			mk_archive(p, TAR, docker_legacy, N(docker_legacy));
		} else {
			str_fmt(p, sizeof(p), "%s/%s", dir, tok);
			write_bytes(p, "x\n", 2);
		}
	}
}

static void
test_detect(void)
{
	static const struct {
		const char *spec;
		int rc;
		enum archive_app_kind kind;
		const char *entry;
	} t[] = {
		{ "compose.yaml,Dockerfile,app.py", 0, ARCHIVE_APP_COMPOSE, "compose.yaml" },
		{ "docker-compose.yml", 0, ARCHIVE_APP_COMPOSE, "docker-compose.yml" },
		{ "docker-compose.yaml,Dockerfile", 0, ARCHIVE_APP_COMPOSE, "docker-compose.yaml" },
		{ "docker-compose.yml,compose.yml", 0, ARCHIVE_APP_COMPOSE, "compose.yml" },
		{ "Dockerfile,app.py,requirements.txt", 0, ARCHIVE_APP_DOCKER, "Dockerfile" },
		{ "config.yaml,plugin/,main.py", 0, ARCHIVE_APP_PLUGIN, "config.yaml" },
		{ "app.py,aaa.py", 0, ARCHIVE_APP_GRADIO, "app.py" },
		{ "main.py,b.py,Z.py", 0, ARCHIVE_APP_GRADIO, "Z.py" },
		{ ".hidden.py,-x.py,sp ace.py,q'uote.py,ok_1.py", 0, ARCHIVE_APP_GRADIO, "ok_1.py" },
		{ "sub/,zz.py", 0, ARCHIVE_APP_GRADIO, "zz.py" },
		{ "image.tar@", 0, ARCHIVE_APP_IMAGE, "image.tar" },
		{ "image.tar@,__MACOSX/,.DS_Store", 0, ARCHIVE_APP_IMAGE, "image.tar" },
		{ "image.tar@,notes.txt", -1, 0, NULL },
		{ "plain.tar", -1, 0, NULL },
		{ "README.md,src/", -1, 0, NULL },
		{ "", -1, 0, NULL },
		{ "app.py/", -1, 0, NULL },
		{ "Dockerfile>elsewhere", -1, 0, NULL },
		{ "Dockerfile/,app.py>x.py", -1, 0, NULL },
		{ ".py", -1, 0, NULL },
	};
	char dir[128], name[32];
	struct app_detect d;
	size_t i;
	int rc;

	for (i = 0; i < N(t); i++) {
		str_fmt(name, sizeof(name), "detect%zu", i);
		path_in(dir, sizeof(dir), name);
		make_tree(dir, t[i].spec);
		memset(&d, 0, sizeof(d));
		rc = archive_detect_app(dir, &d);
		is(rc, t[i].rc, "detect [%s]: rc", t[i].spec);
		if (t[i].rc == 0) {
			is(d.kind, t[i].kind, "detect [%s]: %s", t[i].spec,
			    archive_app_kind_name(t[i].kind));
			is_str(d.entry, t[i].entry, "detect [%s]: entry",
			    t[i].spec);
		}
		tree_remove(dir);
	}
	is(archive_detect_app("/nonexistent/slipway", &d), -1, "detect: no dir");
	is_str(archive_app_kind_name(ARCHIVE_APP_COMPOSE), "compose", "app kind name");
	is_str(archive_app_kind_name(ARCHIVE_APP__MAX), "unknown", "app kind range");
}

static void
test_unwrap(void)
{
	static const struct {
		const char *spec;
		int rc;
		const char *sub;	/* NULL: dir itself */
	} t[] = {
		{ "proj/", 1, "proj" },
		{ "proj/,__MACOSX/,.DS_Store", 1, "proj" },
		{ "file.py", 0, NULL },
		{ "a/,b/", 0, NULL },
		{ "a/,x.txt", 0, NULL },
		{ "link>/tmp", 0, NULL },
		{ "", 0, NULL },
		{ "__MACOSX/", 0, NULL },
	};
	char dir[128], want[256], out[256], name[32], tiny[8];
	size_t i;

	for (i = 0; i < N(t); i++) {
		str_fmt(name, sizeof(name), "unwrap%zu", i);
		path_in(dir, sizeof(dir), name);
		make_tree(dir, t[i].spec);
		if (t[i].sub != NULL)
			str_fmt(want, sizeof(want), "%s/%s", dir, t[i].sub);
		else
			str_copy(want, sizeof(want), dir);
		is(archive_unwrap(dir, out, sizeof(out)), t[i].rc,
		    "unwrap [%s]", t[i].spec);
		is_str(out, want, "unwrap [%s]: path", t[i].spec);
		if (i == 0)
			is(archive_unwrap(dir, tiny, sizeof(tiny)), -1,
			    "unwrap: output too small");
		tree_remove(dir);
	}
	is(archive_unwrap("/nonexistent/slipway", out, sizeof(out)), -1,
	    "unwrap: no dir");
}

/* ---- build-context tars, copies, removal ---- */

static int
collect_cb(void *arg, const void *p, size_t n)
{
	buf_add(arg, p, n);
	return 0;
}

static int
fail_cb(void *arg, const void *p, size_t n)
{
	return -1;
}

/* Succeeds once, then fails; counts calls after the failure. */
static int
fail_second_cb(void *arg, const void *p, size_t n)
{
	int *calls = arg;

	return ++*calls == 1 ? 0 : -1;
}

static void
build_src(const char *src)
{
	char p[256];
	struct buf big = BUF_INIT;
	size_t i;

	mkdir(src, 0755);
	str_fmt(p, sizeof(p), "%s/app.py", src);
	write_bytes(p, "print(1)\n", 9);
	str_fmt(p, sizeof(p), "%s/run.sh", src);
	write_bytes(p, "#!/bin/sh\n", 10);
	chmod(p, 0755);
	str_fmt(p, sizeof(p), "%s/sub", src);
	mkdir(p, 0750);
	str_fmt(p, sizeof(p), "%s/empty", src);
	mkdir(p, 0755);
	for (i = 0; i < 100000; i++)
		buf_addch(&big, (char)(i * 31));
	str_fmt(p, sizeof(p), "%s/sub/data.bin", src);
	write_bytes(p, big.data, big.len);
	str_fmt(p, sizeof(p), "%s/link", src);
	symlink("sub/data.bin", p);
	buf_release(&big);
}

static void
test_write_tar(void)
{
	static const char *want_names[] = {
		"app.py", "empty", "link", "run.sh", "sub", "sub/data.bin",
	};
	char src[128], p[256], work[128], dest[160], err[256], tarp[128];
	struct buf tar = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
	struct archive *ar;
	struct archive_entry *e;
	size_t i = 0;
	int names_ok = 1, owners_ok = 1, rc;
	uint64_t bytes, entries;

	path_in(src, sizeof(src), "ctx");
	build_src(src);
	is(archive_write_tar(src, collect_cb, &tar), 0, "write_tar");
	ok(tar.len > 100000 && tar.len % 512 == 0, "tar size (%zu)", tar.len);
	ar = archive_read_new();
	archive_read_support_format_tar(ar);
	archive_read_open_memory(ar, tar.data, tar.len);
	while ((rc = archive_read_next_header(ar, &e)) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(e);
		size_t len = strlen(n);

		if (len > 0 && n[len - 1] == '/')
			len--;
		if (i >= N(want_names) || strlen(want_names[i]) != len ||
		    strncmp(n, want_names[i], len) != 0)
			names_ok = 0;
		if (archive_entry_uid(e) != 0 || archive_entry_gid(e) != 0)
			owners_ok = 0;
		if (strcmp(n, "link") == 0)
			ok(archive_entry_filetype(e) == AE_IFLNK &&
			    strcmp(archive_entry_symlink(e), "sub/data.bin") == 0,
			    "tar keeps the symlink");
		if (strcmp(n, "run.sh") == 0)
			is(archive_entry_perm(e), 0755, "tar keeps mode 0755");
		if (strncmp(n, "sub", 3) == 0 && len == 3)
			is(archive_entry_perm(e), 0750, "tar keeps dir mode");
		if (strcmp(n, "sub/data.bin") == 0)
			is(archive_entry_size(e), 100000, "tar file size");
		i++;
	}
	is(rc, ARCHIVE_EOF, "tar reads back to the end");
	ok(names_ok && i == N(want_names), "tar: relative names in order");
	ok(owners_ok, "tar: uid/gid 0");
	archive_read_free(ar);

	/* Round trip through a file and archive_extract. */
	path_in(tarp, sizeof(tarp), "ctx.tar");
	is(archive_write_tar_file(src, tarp), 0, "write_tar_file");
	is(archive_write_tar_file(src, tarp), -1, "write_tar_file will not overwrite");
	fresh_dest(work, sizeof(work), dest, sizeof(dest));
	is(archive_extract(tarp, dest, NULL, err, sizeof(err)), ARCHIVE_RES_OK,
	    "build context extracts (%s)", err);
	str_fmt(p, sizeof(p), "%s/sub/data.bin", src);
	read_file(p, &a);
	str_fmt(p, sizeof(p), "%s/link", dest);
	ok(read_file(p, &b) == 0 && a.len == b.len &&
	    memcmp(a.data, b.data, a.len) == 0, "round trip content via link");
	bytes = entries = 0;
	rc = tree_size(dest, &bytes, &entries);
	ok(rc == 0 && bytes == 100000 + 9 + 10 &&
	    entries == 6, "tree_size (%llu bytes, %llu entries)",
	    (unsigned long long)bytes, (unsigned long long)entries);
	tree_remove(work);
	unlink(tarp);

	/* Names that are not UTF-8, UTF-8 names, long names: bytes kept. */
	{
		static const char *odd[] = {
			"bad\322\230y\253", "caf\303\251.py",
			"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
			"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL",
		};
		char oddsrc[128];
		struct buf l = BUF_INIT;

		path_in(oddsrc, sizeof(oddsrc), "oddnames");
		mkdir(oddsrc, 0755);
		for (i = 0; i < N(odd); i++) {
			str_fmt(p, sizeof(p), "%s/%s", oddsrc, odd[i]);
			write_bytes(p, "x", 1);
		}
		str_fmt(p, sizeof(p), "%s/l\253", oddsrc);
		symlink("bad\322\230y\253", p);
		path_in(tarp, sizeof(tarp), "odd.tar");
		is(archive_write_tar_file(oddsrc, tarp), 0,
		    "write_tar: names that are not UTF-8");
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract(tarp, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_OK, "odd names extract (%s)", err);
		listing(dest, &l);
		is_str(l.data, "LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
		    "LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL,"
		    "bad\322\230y\253,caf\303\251.py,l\253",
		    "odd names round trip byte for byte");
		str_fmt(p, sizeof(p), "%s/l\253", dest);
		ok(read_file(p, &b) == 0 && strcmp(b.data, "x") == 0,
		    "symlink with an odd target round trips");
		tree_remove(work);
		tree_remove(oddsrc);
		unlink(tarp);
		buf_release(&l);
	}

	is(archive_write_tar(src, fail_cb, NULL), -1, "write_tar: callback fails");
	{
		int calls = 0;

		is(archive_write_tar(src, fail_second_cb, &calls), -1,
		    "write_tar: callback fails later");
		is(calls, 2, "nothing is written after the callback failed");
	}
	is(archive_write_tar("/nonexistent/slipway", collect_cb, &tar), -1,
	    "write_tar: no dir");
	str_fmt(p, sizeof(p), "%s/fifo", src);
	mkfifo(p, 0644);
	is(archive_write_tar(src, collect_cb, &tar), -1, "write_tar: fifo fails");
	is(archive_write_tar_file(src, tarp), -1, "write_tar_file: fifo fails");
	ok(!exists(tarp), "write_tar_file removes its output on failure");
	unlink(p);
	tree_remove(src);
	buf_release(&tar);
	buf_release(&a);
	buf_release(&b);
}

static void
test_trees(void)
{
	char src[128], dst[128], p[256], q[256], outside[128], out[64];
	struct stat s1, s2;
	uint64_t bytes, entries;
	ssize_t n;

	path_in(src, sizeof(src), "tsrc");
	path_in(dst, sizeof(dst), "tdst");
	build_src(src);
	is(tree_copy(src, dst), 0, "tree_copy");
	str_fmt(p, sizeof(p), "%s/sub/data.bin", src);
	str_fmt(q, sizeof(q), "%s/sub/data.bin", dst);
	ok(stat(p, &s1) == 0 && stat(q, &s2) == 0 && s1.st_ino == s2.st_ino,
	    "regular files hard-linked");
	str_fmt(q, sizeof(q), "%s/link", dst);
	n = readlink(q, out, sizeof(out) - 1);
	ok(n == 12 && memcmp(out, "sub/data.bin", 12) == 0, "symlink recreated");
	is(mode_of(dst, "sub") & 07777, 0750, "dir mode copied");
	is(mode_of(dst, "run.sh") & 07777, 0755, "file mode kept");
	ok(tree_size(dst, &bytes, &entries) == 0 && bytes == 100019 &&
	    entries == 6, "copied tree size");
	is(tree_copy(src, dst), -1, "tree_copy onto an existing dst");
	is(tree_remove(dst), 0, "tree_remove copy");
	ok(!exists(dst), "copy gone");
	ok(exists(p), "source intact");

	str_fmt(p, sizeof(p), "%s/fifo", src);
	mkfifo(p, 0644);
	is(tree_copy(src, dst), -1, "tree_copy: fifo fails");
	ok(!exists(dst), "failed copy removed");
	unlink(p);
	is(tree_copy("/nonexistent/slipway", dst), -1, "tree_copy: no src");

	/* tree_remove never follows symlinks. */
	path_in(outside, sizeof(outside), "outside");
	mkdir(outside, 0755);
	str_fmt(p, sizeof(p), "%s/keep", outside);
	write_bytes(p, "keep", 4);
	str_fmt(q, sizeof(q), "%s/to-outside", src);
	symlink(outside, q);
	str_fmt(q, sizeof(q), "%s/sub/file-link", src);
	symlink(p, q);
	str_fmt(q, sizeof(q), "%s/locked", src);
	mkdir(q, 0);
	str_fmt(q, sizeof(q), "%s/locked/inner", src);
	mkdir(q, 0);
	is(tree_remove(src), 0, "tree_remove with links and mode-0 dirs");
	ok(!exists(src), "tree gone");
	ok(exists(p), "file behind a symlink kept");
	str_fmt(q, sizeof(q), "%s/link-to-outside", top);
	symlink(outside, q);
	is(tree_remove(q), 0, "tree_remove on a symlink");
	ok(!exists(q) && exists(p), "removes the link, not the target");
	is(tree_remove(src), 0, "tree_remove on a missing path");
	is(tree_size("/nonexistent/slipway", &bytes, &entries), -1,
	    "tree_size: no dir");
	tree_remove(outside);
}


/* Recursive listing "name:mode:size" of dir, sorted. */
static void
deep_listing(const char *dir, const char *rel, struct buf *out)
{
	struct dirent **v;
	struct stat st;
	char p[1024], r[1024];
	int n, i;

	if ((n = scandir(dir, &v, NULL, alphasort)) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (strcmp(v[i]->d_name, ".") != 0 &&
		    strcmp(v[i]->d_name, "..") != 0) {
			str_fmt(p, sizeof(p), "%s/%s", dir, v[i]->d_name);
			str_fmt(r, sizeof(r), "%s%s", rel, v[i]->d_name);
			if (lstat(p, &st) == 0) {
				buf_printf(out, "%s:%o:%lld;", r,
				    (unsigned)st.st_mode,
				    S_ISREG(st.st_mode) ?
				    (long long)st.st_size : 0LL);
				if (S_ISDIR(st.st_mode)) {
					str_fmt(r, sizeof(r), "%s%s/", rel,
					    v[i]->d_name);
					deep_listing(p, r, out);
				}
			}
		}
		free(v[i]);
	}
	free(v);
}

static void
test_stream(void)
{
	static const struct ent wrapped[] = {
		{ "./", 'd', 0755, NULL, 0 },
		{ "./proj/", 'd', 0755, NULL, 0 },
		{ "./proj/Dockerfile", 'f', 0644, "FROM scratch\n", 0 },
		{ "./proj/bin/run.sh", 'f', 0755, "#!/bin/sh\n", 0 },
		{ "./proj/big.bin", 'f', 0644, NULL, 300000 },
		{ "./proj/run", 'l', 0777, "bin/run.sh", 0 },
		{ "./proj/again.bin", 'h', 0644, "proj/big.bin", 0 },
	};
	static const struct ent zeros[] = {
		{ "Dockerfile", 'f', 0644, "FROM scratch\n", 0 },
		{ "zeros.bin", 'f', 0644, NULL, 40u << 20 },
	};
	static const size_t chunks[] = { 1, 511, 512, 4096, 65536 };
	char arch[128], work[128], dest[160], dest2[192], err[256];
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct archive_limits lim;
	size_t i;
	int fmt;

	for (fmt = TAR; fmt <= TARGZ; fmt++) {
		path_in(arch, sizeof(arch), fmt == TAR ? "s.tar" : "s.tar.gz");
		ok(mk_archive(arch, (enum fmt)fmt, wrapped, N(wrapped)) == 0,
		    "stream: built %s", arch);
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(archive_extract(arch, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_OK, "stream: file extraction (%s)", err);
		buf_reset(&a);
		deep_listing(dest, "", &a);
		for (i = 0; i < N(chunks); i++) {
			struct stream st = { arch, chunks[i], 0, 0, 0, -1, NULL, 0 };

			if (chunks[i] == 1 && fmt == TAR)
				continue;	/* slow and no news */
			str_fmt(dest2, sizeof(dest2), "%s-%zu", dest, chunks[i]);
			mkdir(dest2, 0755);
			is(stream_extract(&st, dest2, NULL, err, sizeof(err)),
			    ARCHIVE_RES_OK, "stream: %s in %zu-byte reads (%s)",
			    fmt == TAR ? "tar" : "tar.gz", chunks[i], err);
			buf_reset(&b);
			deep_listing(dest2, "", &b);
			is_str(b.data, a.data, "stream: the same tree as from "
			    "the file (%zu)", chunks[i]);
			is(st.firsts, 1, "stream: first() once");
			is_str(stream_first_name, "proj",
			    "stream: first() sees the first entry, normalized");
			tree_remove(dest2);
		}
		tree_remove(work);
	}

	/* first() declines: nothing written */
	{
		struct stream st = { arch, 4096, 0, 0, 0, -1, "proj", 0 };

		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(stream_extract(&st, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_DECLINED, "stream: declined");
		is_str(archive_result_name(ARCHIVE_RES_DECLINED), "declined",
		    "stream: result name");
		buf_reset(&a);
		listing(dest, &a);
		is_str(a.data, "", "stream: declined writes nothing");
		tree_remove(work);
	}
	/* the reader fails midway: a bad archive, said so */
	path_in(arch, sizeof(arch), "s.tar");
	{
		struct stream st = { arch, 512, 0, 0, 0, 3, NULL, 0 };

		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(stream_extract(&st, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_BAD, "stream: a failing reader");
		ok(strstr(err, "interrupted") != NULL,
		    "stream: says the upload was interrupted (%s)", err);
		tree_remove(work);
	}
	/* not a tar; a zip is not streamed */
	{
		static const struct ent z[] = {
			{ "Dockerfile", 'f', 0644, "FROM scratch\n", 0 },
		};
		struct stream st = { arch, 4096, 0, 0, 0, -1, NULL, 0 };

		path_in(arch, sizeof(arch), "s.zip");
		ok(mk_archive(arch, ZIP, z, N(z)) == 0, "stream: built s.zip");
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(stream_extract(&st, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_BAD, "stream: a zip is refused (%s)", err);
		is(st.firsts, 0, "stream: first() not called");
		tree_remove(work);
		unlink(arch);
	}
	/* the end-of-archive marker ends reading: trailing bytes unread */
	{
		struct stream st = { arch, 512, 0, 0, 0, -1, NULL, 0 };
		static char junk[1 << 20];
		struct stat sb;
		int fd;

		path_in(arch, sizeof(arch), "s.tar");
		memset(junk, 'j', sizeof(junk));
		fd = open(arch, O_WRONLY | O_APPEND);
		ok(fd != -1 && write(fd, junk, sizeof(junk)) ==
		    (ssize_t)sizeof(junk) && close(fd) == 0,
		    "stream: 1 MiB of junk after the tar");
		stat(arch, &sb);
		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(stream_extract(&st, dest, NULL, err, sizeof(err)),
		    ARCHIVE_RES_OK, "stream: junk after the end (%s)", err);
		ok(st.given < (uint64_t)sb.st_size - (512u << 10),
		    "stream: stopped reading at the end marker (%llu of %lld)",
		    (unsigned long long)st.given, (long long)sb.st_size);
		tree_remove(work);
	}
	/* the ratio cap: the hint bounds the packed size */
	path_in(arch, sizeof(arch), "zeros.tar.gz");
	ok(mk_archive(arch, TARGZ, zeros, N(zeros)) == 0,
	    "stream: built zeros.tar.gz");
	archive_limits_default(&lim);
	lim.ratio_floor = 1u << 20;
	{
		struct stream st = { arch, 65536, 0, 0, 0, -1, NULL, 0 };

		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(stream_extract(&st, dest, &lim, err, sizeof(err)),
		    ARCHIVE_RES_TOO_LARGE, "stream: ratio cap without a hint "
		    "(%s)", err);
		tree_remove(dest);
		mkdir(dest, 0755);
		is(archive_extract(arch, dest, &lim, err, sizeof(err)),
		    ARCHIVE_RES_TOO_LARGE, "stream: the file path agrees");
		tree_remove(work);
	}
	{
		struct stream st = { arch, 65536, 1u << 30, 0, 0, -1, NULL, 0 };

		fresh_dest(work, sizeof(work), dest, sizeof(dest));
		is(stream_extract(&st, dest, &lim, err, sizeof(err)),
		    ARCHIVE_RES_OK, "stream: a 1 GiB hint lets 40 MiB through "
		    "(%s)", err);
		tree_remove(work);
	}
	unlink(arch);
	path_in(arch, sizeof(arch), "s.tar");
	unlink(arch);
	path_in(arch, sizeof(arch), "s.tar.gz");
	unlink(arch);
	buf_release(&a);
	buf_release(&b);
}

static void
test_tree_is_image(void)
{
	static const struct {
		const char	*spec;	/* make_tree() */
		const char	*manifest;	/* written as manifest.json */
		int		 want;
	} t[] = {
		{ "repositories", "[{\"Config\":\"c.json\",\"Layers\":[\"l/layer.tar\"]}]", 1 },
		{ "", "[{\"Config\":\"c.json\",\"Layers\":[]}]", 1 },
		{ "", "[]", 0 },
		{ "", "{\"Config\":\"c.json\",\"Layers\":[]}", 0 },
		{ "", "not json", 0 },
		{ "", "[{\"Config\":1,\"Layers\":[]}]", 0 },
		{ "oci-layout,index.json", NULL, 1 },
		{ "oci-layout", NULL, 0 },
		{ "index.json", NULL, 0 },
		{ "oci-layout,index.json/", NULL, 0 },
		{ "manifest.json/", NULL, 0 },
		{ "manifest.json>/etc/passwd", NULL, 0 },
		{ "Dockerfile,app.py", NULL, 0 },
	};
	char dir[128], p[256], name[32];
	size_t i;

	for (i = 0; i < N(t); i++) {
		str_fmt(name, sizeof(name), "img%zu", i);
		path_in(dir, sizeof(dir), name);
		make_tree(dir, t[i].spec);
		if (t[i].manifest != NULL) {
			str_fmt(p, sizeof(p), "%s/manifest.json", dir);
			write_bytes(p, t[i].manifest, strlen(t[i].manifest));
		}
		is(archive_tree_is_image(dir), t[i].want,
		    "tree_is_image: [%s] manifest %s", t[i].spec,
		    t[i].manifest ? t[i].manifest : "-");
		tree_remove(dir);
	}
	is(archive_tree_is_image("/nonexistent/slipway"), 0,
	    "tree_is_image: no dir");
}

int
main(void)
{
	struct buf l = BUF_INIT;

	umask(022);
	if (str_copy(top, sizeof(top), "/tmp/t_archive.XXXXXX") == -1 ||
	    mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_hostile();
	test_bad_input();
	test_good();
	test_stream();
	test_tree_is_image();
	test_sniff();
	test_detect();
	test_unwrap();
	test_write_tar();
	test_trees();
	is_str(archive_result_name(ARCHIVE_RES_UNSAFE), "unsafe", "result name");
	is_str(archive_result_name(ARCHIVE_RES__MAX), "unknown", "result name range");
	listing(top, &l);
	is_str(l.data, "", "the test leaves its directory empty");
	buf_release(&l);
	tree_remove(top);
	return done_testing();
}
