#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <json.h>

#include "archive.h"
#include "buf.h"
#include "caps.h"
#include "log.h"
#include "valid.h"

#define AR_IOBUF	(64 * 1024)

static const char *const archive_result_names[ARCHIVE_RES__MAX] = {
	"ok",			/* ARCHIVE_RES_OK */
	"bad_archive",		/* ARCHIVE_RES_BAD */
	"too_large",		/* ARCHIVE_RES_TOO_LARGE */
	"unsafe",		/* ARCHIVE_RES_UNSAFE */
	"io",			/* ARCHIVE_RES_IO */
	"declined",		/* ARCHIVE_RES_DECLINED */
};

static const char *const archive_kind_names[ARCHIVE_KIND__MAX] = {
	"unknown",		/* ARCHIVE_KIND_UNKNOWN */
	"zip",			/* ARCHIVE_KIND_ZIP */
	"tar",			/* ARCHIVE_KIND_TAR */
	"tar.gz",		/* ARCHIVE_KIND_TARGZ */
	"docker-save",		/* ARCHIVE_KIND_DOCKER_SAVE */
	"python",		/* ARCHIVE_KIND_PYTHON */
};

static const char *const archive_app_names[ARCHIVE_APP__MAX] = {
	"gradio",		/* ARCHIVE_APP_GRADIO */
	"docker",		/* ARCHIVE_APP_DOCKER */
	"compose",		/* ARCHIVE_APP_COMPOSE */
	"plugin",		/* ARCHIVE_APP_PLUGIN */
	"image",		/* ARCHIVE_APP_IMAGE */
};

const char *
archive_result_name(enum archive_result r)
{
	if ((int)r < 0 || r >= ARCHIVE_RES__MAX)
		return "unknown";
	return archive_result_names[r];
}

const char *
archive_kind_name(enum archive_kind k)
{
	if ((int)k < 0 || k >= ARCHIVE_KIND__MAX)
		return "unknown";
	return archive_kind_names[k];
}

const char *
archive_app_kind_name(enum archive_app_kind k)
{
	if ((int)k < 0 || k >= ARCHIVE_APP__MAX)
		return "unknown";
	return archive_app_names[k];
}

void
archive_limits_default(struct archive_limits *l)
{
	l->max_entries = ARCHIVE_MAX_ENTRIES;
	l->max_bytes = ARCHIVE_MAX_BYTES;
	l->max_ratio = ARCHIVE_MAX_RATIO;
	l->ratio_floor = ARCHIVE_RATIO_FLOOR;
	l->max_path = ARCHIVE_MAX_PATH;
	l->max_depth = ARCHIVE_MAX_DEPTH;
}

/* libarchive's error string, never NULL. */
static const char *
ar_errstr(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s != NULL ? s : "unknown libarchive error";
}

/*
 * Directory listing: the names in a directory (not "." and ".."), sorted
 * byte-wise.  A fresh open file description each time, so listings of the
 * same fd do not share a position.
 */
struct ar_names {
	char	**v;
	size_t	  n;
};

static int
ar_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
ar_names_free(struct ar_names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
ar_list(int dfd, struct ar_names *l)
{
	DIR *d = NULL;
	struct dirent *de;
	size_t cap = 0;
	int fd, rc = -1;

	l->v = NULL;
	l->n = 0;
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("open directory");
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		log_warn("fdopendir");
		close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				log_warn("readdir");
				goto out;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (l->n == TREE_LIST_MAX) {
			log_warnx("more than %d names in one directory",
			    TREE_LIST_MAX);
			goto out;
		}
		if (l->n == cap) {
			cap = cap ? st_mult(cap, 2) : 16;
			l->v = xrealloc(l->v, st_mult(cap, sizeof(*l->v)));
		}
		l->v[l->n++] = xstrdup(de->d_name);
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), ar_cmp_names);
	rc = 0;
out:
	closedir(d);
	if (rc == -1)
		ar_names_free(l);
	return rc;
}

static int
ar_ignored_name(const char *name)
{
	return strcmp(name, "__MACOSX") == 0 || strcmp(name, ".DS_Store") == 0;
}

static int
ar_open_dir(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int
ar_open_subdir(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

/* Write all of buf to fd. */
static int
ar_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Extraction.
 */
struct ar_extract {
	const struct archive_limits	*lim;
	char				*err;
	size_t				 errlen;
	enum archive_result		 res;
	uint64_t			 entries;
	uint64_t			 bytes;
	uint64_t			 packed;
	uint64_t			 packed_hint;	/* streams: size bound */
	int				 destfd;
	int				 started;	/* an entry was written */
	const struct archive_source	*src;		/* streams */
	struct buf			 name;	/* normalized entry name */
	struct buf			 link;	/* normalized link target */
};

/* An entry name for messages: unprintable bytes as '?', at most 120 bytes. */
static void
ar_printable(const char *s, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outsz && i < 120; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ?
		    '?' : s[i];
	out[i] = '\0';
}

static int __attribute__((format(printf, 3, 4)))
ar_fail(struct ar_extract *x, enum archive_result r, const char *fmt, ...)
{
	va_list ap;

	if (x->res != ARCHIVE_RES_OK)
		return -1;
	x->res = r;
	if (x->err != NULL && x->errlen > 0) {
		va_start(ap, fmt);
		/* A message cut short is still a message. */
		if (vsnprintf(x->err, x->errlen, fmt, ap) < 0)
			x->err[0] = '\0';
		va_end(ap);
	}
	return -1;
}

/* Which errno values say "our side failed" rather than "bad entry". */
static enum archive_result
ar_errno_result(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
	case EIO:
	case EROFS:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
		return ARCHIVE_RES_IO;
	default:
		return ARCHIVE_RES_UNSAFE;
	}
}

/*
 * Normalize a relative name into out: "." and empty components dropped,
 * ".." and absolute names refused, no control bytes, within the caps.
 * *depth is the number of components.  0, or -1 with why set.
 */
static int
ar_norm(const char *name, const struct archive_limits *lim, struct buf *out,
    size_t *depth, const char **why)
{
	const char *p, *c;
	size_t d = 0;

	buf_reset(out);
	if (*name == '\0') {
		*why = "empty name";
		return -1;
	}
	if (*name == '/') {
		*why = "absolute path";
		return -1;
	}
	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*why = "control byte in name";
			return -1;
		}
	for (p = name; *p != '\0';) {
		while (*p == '/')
			p++;
		c = p;
		while (*p != '\0' && *p != '/')
			p++;
		if (p == c || (p - c == 1 && c[0] == '.'))
			continue;
		if (p - c == 2 && c[0] == '.' && c[1] == '.') {
			*why = "'..' in path";
			return -1;
		}
		if (out->len > 0)
			buf_addch(out, '/');
		buf_add(out, c, (size_t)(p - c));
		d++;
	}
	if (out->len > lim->max_path) {
		*why = "path too long";
		return -1;
	}
	if (d > lim->max_depth) {
		*why = "path too deep";
		return -1;
	}
	*depth = d;
	return 0;
}

/*
 * A symlink target must stay in the tree: relative, ("../")* then names,
 * no more leading ".." than the link's directory is deep (parent_depth).
 */
static int
ar_symlink_ok(const char *t, size_t parent_depth,
    const struct archive_limits *lim, const char **why)
{
	const char *p, *c;
	size_t ups = 0, names = 0;

	if (*t == '\0') {
		*why = "empty symlink target";
		return -1;
	}
	if (*t == '/') {
		*why = "absolute symlink target";
		return -1;
	}
	if (strlen(t) > lim->max_path) {
		*why = "symlink target too long";
		return -1;
	}
	for (p = t; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*why = "control byte in symlink target";
			return -1;
		}
	for (p = t; *p != '\0';) {
		while (*p == '/')
			p++;
		c = p;
		while (*p != '\0' && *p != '/')
			p++;
		if (p == c || (p - c == 1 && c[0] == '.'))
			continue;
		if (p - c == 2 && c[0] == '.' && c[1] == '.') {
			if (names > 0) {
				*why = "'..' after a name in symlink target";
				return -1;
			}
			if (++ups > parent_depth) {
				*why = "symlink target escapes the tree";
				return -1;
			}
			continue;
		}
		names++;
	}
	return 0;
}

/*
 * Is rel (normalized) a regular file under rootfd, reached without
 * symlinks?  Its size goes to *size.
 */
static int
ar_regular_inside(int rootfd, const char *rel, uint64_t *size)
{
	char comp[256];
	const char *p = rel, *slash;
	struct stat st;
	int fd = rootfd, nfd, ok = 0;
	size_t n;

	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n >= sizeof(comp))
			break;
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (slash == NULL) {
			ok = fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(st.st_mode);
			if (ok)
				*size = (uint64_t)st.st_size;
			break;
		}
		if ((nfd = ar_open_subdir(fd, comp)) == -1)
			break;
		if (fd != rootfd)
			close(fd);
		fd = nfd;
		p = slash + 1;
	}
	if (fd != rootfd)
		close(fd);
	return ok;
}

static const char *
ar_entry_name(struct archive_entry *e)
{
	const char *s = archive_entry_pathname_utf8(e);

	return s != NULL ? s : archive_entry_pathname(e);
}

static const char *
ar_entry_symlink(struct archive_entry *e)
{
	const char *s = archive_entry_symlink_utf8(e);

	return s != NULL ? s : archive_entry_symlink(e);
}

static const char *
ar_entry_hardlink(struct archive_entry *e)
{
	const char *s = archive_entry_hardlink_utf8(e);

	return s != NULL ? s : archive_entry_hardlink(e);
}

static int
ar_check_caps(struct ar_extract *x, const char *pname)
{
	const struct archive_limits *l = x->lim;
	uint64_t packed = x->packed > x->packed_hint ? x->packed : x->packed_hint;

	if (x->bytes > l->max_bytes)
		return ar_fail(x, ARCHIVE_RES_TOO_LARGE,
		    "unpacks to more than %llu bytes (at %s)",
		    (unsigned long long)l->max_bytes, pname);
	if (l->max_ratio > 0 && x->bytes > l->ratio_floor &&
	    packed <= UINT64_MAX / l->max_ratio &&
	    x->bytes > packed * l->max_ratio)
		return ar_fail(x, ARCHIVE_RES_TOO_LARGE,
		    "unpacks to more than %llu times its size (at %s)",
		    (unsigned long long)l->max_ratio, pname);
	return 0;
}

/* Stream one regular entry's data, counting what is written. */
static int
ar_copy_data(struct ar_extract *x, struct archive *ar, struct archive *aw,
    const char *pname)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	uint64_t extent = 0, end;
	int r;

	for (;;) {
		r = archive_read_data_block(ar, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return ar_fail(x, ARCHIVE_RES_BAD, "%s: %s", pname,
			    ar_errstr(ar));
		if (offset < 0 || (uint64_t)offset > UINT64_MAX - size)
			return ar_fail(x, ARCHIVE_RES_BAD, "%s: bad offset",
			    pname);
		/* Count the file's extent: holes count, headers do not. */
		end = (uint64_t)offset + size;
		if (end > extent) {
			if (end - extent > UINT64_MAX - x->bytes)
				x->bytes = UINT64_MAX;
			else
				x->bytes += end - extent;
			extent = end;
		}
		if (ar_check_caps(x, pname) == -1)
			return -1;
		if (size == 0)
			continue;
		if (archive_write_data_block(aw, buf, size, offset) !=
		    ARCHIVE_OK)
			return ar_fail(x, ARCHIVE_RES_IO, "%s: %s", pname,
			    ar_errstr(aw));
	}
}

static int
ar_entry(struct ar_extract *x, struct archive *ar, struct archive *aw,
    struct archive_entry *e)
{
	const struct archive_limits *l = x->lim;
	const char *name, *target, *hl, *why = NULL;
	char pname[128];
	mode_t type = archive_entry_filetype(e);
	mode_t mode = archive_entry_perm(e), perm;
	struct stat st;
	size_t depth, tdepth;
	uint64_t lsize = 0;
	int r, is_file = 0;

	if ((name = ar_entry_name(e)) == NULL)
		return ar_fail(x, ARCHIVE_RES_BAD, "entry without a name");
	ar_printable(name, pname, sizeof(pname));
	if (ar_norm(name, l, &x->name, &depth, &why) == -1)
		return ar_fail(x, ARCHIVE_RES_UNSAFE, "%s: %s", pname, why);
	if (x->name.len == 0) {
		/* "./": the root itself. */
		if (type == AE_IFDIR && ar_entry_hardlink(e) == NULL)
			return 0;
		return ar_fail(x, ARCHIVE_RES_UNSAFE, "%s: names the root",
		    pname);
	}

	if ((hl = ar_entry_hardlink(e)) != NULL) {
		if (type != AE_IFREG && type != 0)
			return ar_fail(x, ARCHIVE_RES_UNSAFE,
			    "%s: hard link of an odd type", pname);
		if (ar_norm(hl, l, &x->link, &tdepth, &why) == -1)
			return ar_fail(x, ARCHIVE_RES_UNSAFE,
			    "%s: hard link target: %s", pname, why);
		if (x->link.len == 0 ||
		    !ar_regular_inside(x->destfd, x->link.data, &lsize))
			return ar_fail(x, ARCHIVE_RES_UNSAFE,
			    "%s: hard link to something other than a file "
			    "extracted before", pname);
		/*
		 * A link adds its file's size once more: whoever copies or
		 * tars the tree reads it once per name.
		 */
		if (lsize > UINT64_MAX - x->bytes)
			x->bytes = UINT64_MAX;
		else
			x->bytes += lsize;
		if (ar_check_caps(x, pname) == -1)
			return -1;
		archive_entry_set_hardlink(e, x->link.data);
		perm = 0644 | (mode & 0111);
	} else {
		switch (type) {
		case AE_IFREG:
			perm = 0644 | (mode & 0111);
			is_file = 1;
			break;
		case AE_IFDIR:
			perm = 0755;
			break;
		case AE_IFLNK:
			if ((target = ar_entry_symlink(e)) == NULL)
				target = "";
			if (ar_symlink_ok(target, depth - 1, l, &why) == -1)
				return ar_fail(x, ARCHIVE_RES_UNSAFE, "%s: %s",
				    pname, why);
			buf_reset(&x->link);
			buf_adds(&x->link, target);
			archive_entry_set_symlink(e, x->link.data);
			perm = 0777;
			break;
		default:
			return ar_fail(x, ARCHIVE_RES_UNSAFE,
			    "%s: not a file, directory or link", pname);
		}
	}
	/*
	 * The same name twice: the second would silently replace the first
	 * (a directory named again, or made before for a file in it, is fine).
	 */
	if (fstatat(x->destfd, x->name.data, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !(S_ISDIR(st.st_mode) && type == AE_IFDIR && hl == NULL))
		return ar_fail(x, ARCHIVE_RES_UNSAFE, "%s: the same name twice",
		    pname);
	/* A declared size over the cap fails early; the real count follows. */
	if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
	    (uint64_t)archive_entry_size(e) > l->max_bytes - x->bytes)
		return ar_fail(x, ARCHIVE_RES_TOO_LARGE,
		    "%s: larger than %llu bytes", pname,
		    (unsigned long long)l->max_bytes);
	archive_entry_set_pathname(e, x->name.data);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, NULL);
	archive_entry_set_gname(e, NULL);
	/* Never let the writer extend a file to a declared size. */
	archive_entry_unset_size(e);

	if (!x->started) {
		if (x->src != NULL && x->src->first != NULL &&
		    x->src->first(x->src->arg, x->name.data) == -1)
			return ar_fail(x, ARCHIVE_RES_DECLINED,
			    "%s: declined", pname);
		x->started = 1;
	}
	r = archive_write_header(aw, e);
	if (r < ARCHIVE_WARN)
		return ar_fail(x, ar_errno_result(archive_errno(aw)),
		    "%s: %s", pname, ar_errstr(aw));
	if (is_file && ar_copy_data(x, ar, aw, pname) == -1)
		return -1;
	r = archive_write_finish_entry(aw);
	if (r < ARCHIVE_WARN)
		return ar_fail(x, ARCHIVE_RES_IO, "%s: %s", pname,
		    ar_errstr(aw));
	return 0;
}

static uint32_t
ar_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
ar_le64(const unsigned char *p)
{
	return (uint64_t)ar_le32(p) | (uint64_t)ar_le32(p + 4) << 32;
}

/*
 * libarchive reads a zip's whole central directory before the first
 * entry: refuse one whose end record announces more entries, or a bigger
 * directory, than the caps allow, before it gets there.
 */
static int
ar_zip_precheck(struct ar_extract *x, int fd, uint64_t size)
{
	unsigned char tail[22 + 65535], z64[56];
	size_t want, i;
	uint64_t entries, cdsize, off;
	ssize_t n;

	want = size < sizeof(tail) ? (size_t)size : sizeof(tail);
	if (want < 22)
		return 0;
	n = pread(fd, tail, want, (off_t)(size - want));
	if (n != (ssize_t)want)
		return ar_fail(x, ARCHIVE_RES_IO, "cannot read the archive");
	for (i = want - 22 + 1; i-- > 0;)
		if (ar_le32(tail + i) == 0x06054b50)
			break;
	if (i == (size_t)-1)
		return 0;	/* no end record: libarchive decides */
	entries = tail[i + 10] | (uint64_t)tail[i + 11] << 8;
	cdsize = ar_le32(tail + i + 12);
	if ((entries == 0xffff || cdsize == 0xffffffff) && i >= 20 &&
	    ar_le32(tail + i - 20) == 0x07064b50) {
		off = ar_le64(tail + i - 20 + 8);
		if (off < size && size - off >= sizeof(z64) &&
		    pread(fd, z64, sizeof(z64), (off_t)off) ==
		    (ssize_t)sizeof(z64) && ar_le32(z64) == 0x06064b50) {
			entries = ar_le64(z64 + 32);
			cdsize = ar_le64(z64 + 40);
		}
	}
	if (entries > x->lim->max_entries)
		return ar_fail(x, ARCHIVE_RES_TOO_LARGE,
		    "more than %llu entries",
		    (unsigned long long)x->lim->max_entries);
	if (cdsize / ARCHIVE_ZIP_CD_PER_ENTRY > x->lim->max_entries + 256)
		return ar_fail(x, ARCHIVE_RES_TOO_LARGE,
		    "zip central directory too large");
	return 0;
}

static int
ar_read_support(struct archive *ar)
{
	if (archive_read_support_format_zip(ar) != ARCHIVE_OK ||
	    archive_read_support_format_tar(ar) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(ar) != ARCHIVE_OK) {
		log_warnx("libarchive: %s", ar_errstr(ar));
		return -1;
	}
	return 0;
}

static void
ar_extract_init(struct ar_extract *x, const struct archive_limits *limits,
    struct archive_limits *deflim, char *err, size_t errlen)
{
	if (limits == NULL) {
		archive_limits_default(deflim);
		limits = deflim;
	}
	memset(x, 0, sizeof(*x));
	x->lim = limits;
	x->err = err;
	x->errlen = errlen;
	x->destfd = -1;
	buf_init(&x->name);
	buf_init(&x->link);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
}

/* Open dest_dir into x->destfd; it must be an empty directory.  0 or -1. */
static int
ar_extract_dest(struct ar_extract *x, const char *dest_dir)
{
	struct ar_names names = { NULL, 0 };
	int rc = 0;

	if ((x->destfd = ar_open_dir(dest_dir)) == -1) {
		log_warn("open %s", dest_dir);
		return ar_fail(x, ARCHIVE_RES_IO, "cannot open the destination");
	}
	if (ar_list(x->destfd, &names) == -1 || names.n != 0)
		rc = ar_fail(x, ARCHIVE_RES_IO, "destination is not empty");
	ar_names_free(&names);
	return rc;
}

/*
 * Every entry of the opened reader ar into x->destfd (dest_dir), with the
 * working directory there while libarchive writes.  Result in x->res.
 */
static void
ar_extract_entries(struct ar_extract *x, struct archive *ar,
    const char *dest_dir)
{
	struct archive *aw;
	struct archive_entry *e;
	int cwdfd = -1, moved = 0, r;
	const int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;

	if ((aw = archive_write_disk_new()) == NULL)
		fatalx("libarchive: out of memory");
	if (archive_write_disk_set_options(aw, flags) != ARCHIVE_OK) {
		ar_fail(x, ARCHIVE_RES_IO, "libarchive setup failed");
		goto out;
	}
	/* libarchive's secure checks work on names relative to the cwd. */
	if ((cwdfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("open .");
		ar_fail(x, ARCHIVE_RES_IO, "cannot save the working directory");
		goto out;
	}
	if (fchdir(x->destfd) == -1) {
		log_warn("fchdir %s", dest_dir);
		ar_fail(x, ARCHIVE_RES_IO, "cannot enter the destination");
		goto out;
	}
	moved = 1;

	for (;;) {
		r = archive_read_next_header(ar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			ar_fail(x, ARCHIVE_RES_BAD, "%s", ar_errstr(ar));
			goto out;
		}
		if (++x->entries > x->lim->max_entries) {
			ar_fail(x, ARCHIVE_RES_TOO_LARGE,
			    "more than %llu entries",
			    (unsigned long long)x->lim->max_entries);
			goto out;
		}
		if (ar_entry(x, ar, aw, e) == -1)
			goto out;
	}
	if (x->entries == 0) {
		ar_fail(x, ARCHIVE_RES_BAD, "archive has no entries");
		goto out;
	}
	if (archive_write_close(aw) < ARCHIVE_WARN) {
		ar_fail(x, ARCHIVE_RES_IO, "%s", ar_errstr(aw));
		goto out;
	}
out:
	/* Freeing the writer runs its fixups: still inside dest_dir. */
	archive_write_free(aw);
	if (moved && fchdir(cwdfd) == -1)
		fatal("fchdir back");
	if (cwdfd != -1)
		close(cwdfd);
}

static void
ar_extract_release(struct ar_extract *x)
{
	if (x->destfd != -1)
		close(x->destfd);
	x->destfd = -1;
	buf_release(&x->name);
	buf_release(&x->link);
}

enum archive_result
archive_extract(const char *archive_path, const char *dest_dir,
    const struct archive_limits *limits, char *err, size_t errlen)
{
	struct archive_limits deflim;
	struct ar_extract x;
	struct archive *ar = NULL;
	unsigned char magic[4];
	struct stat st;
	int fd = -1;

	ar_extract_init(&x, limits, &deflim, err, errlen);
	if ((fd = open(archive_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		log_warn("open %s", archive_path);
		ar_fail(&x, ARCHIVE_RES_IO, "cannot open the archive");
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		ar_fail(&x, ARCHIVE_RES_BAD, "empty or not a file");
		goto out;
	}
	x.packed = (uint64_t)st.st_size;
	if (ar_extract_dest(&x, dest_dir) == -1)
		goto out;
	if (pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, "PK", 2) == 0 &&
	    ar_zip_precheck(&x, fd, x.packed) == -1)
		goto out;

	if ((ar = archive_read_new()) == NULL)
		fatalx("libarchive: out of memory");
	if (ar_read_support(ar) == -1) {
		ar_fail(&x, ARCHIVE_RES_IO, "libarchive setup failed");
		goto out;
	}
	if (archive_read_open_fd(ar, fd, AR_IOBUF) != ARCHIVE_OK) {
		ar_fail(&x, ARCHIVE_RES_BAD, "%s", ar_errstr(ar));
		goto out;
	}
	ar_extract_entries(&x, ar, dest_dir);
out:
	if (ar != NULL)
		archive_read_free(ar);
	if (fd != -1)
		close(fd);
	ar_extract_release(&x);
	return x.res;
}

/* libarchive's read callback over an archive_source. */
static la_ssize_t
ar_source_read(struct archive *a, void *arg, const void **buf)
{
	struct ar_extract *x = arg;
	const struct archive_source *src = x->src;
	ssize_t n;

	*buf = NULL;
	if ((n = src->read(src->arg, buf)) < 0) {
		archive_set_error(a, EIO, "the upload was interrupted");
		return -1;
	}
	if ((uint64_t)n > UINT64_MAX - x->packed)
		x->packed = UINT64_MAX;
	else
		x->packed += (uint64_t)n;
	return n;
}

enum archive_result
archive_extract_stream(const struct archive_source *src, const char *dest_dir,
    const struct archive_limits *limits, char *err, size_t errlen)
{
	struct archive_limits deflim;
	struct ar_extract x;
	struct archive *ar = NULL;

	ar_extract_init(&x, limits, &deflim, err, errlen);
	x.src = src;
	x.packed_hint = src->size_hint;
	if (ar_extract_dest(&x, dest_dir) == -1)
		goto out;
	if ((ar = archive_read_new()) == NULL)
		fatalx("libarchive: out of memory");
	/* No zip: its truth is the central directory at the end. */
	if (archive_read_support_format_tar(ar) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(ar) != ARCHIVE_OK) {
		log_warnx("libarchive: %s", ar_errstr(ar));
		ar_fail(&x, ARCHIVE_RES_IO, "libarchive setup failed");
		goto out;
	}
	/* x.packed counts what was read; the ratio cap uses the hint until
	 * more than that has been read. */
	if (archive_read_open(ar, &x, NULL, ar_source_read, NULL) !=
	    ARCHIVE_OK) {
		ar_fail(&x, ARCHIVE_RES_BAD, "%s", ar_errstr(ar));
		goto out;
	}
	ar_extract_entries(&x, ar, dest_dir);
out:
	if (ar != NULL)
		archive_read_free(ar);
	ar_extract_release(&x);
	return x.res;
}

/*
 * Sniffing.
 */

/* docker save's manifest.json: [{"Config": "...", "Layers": [...]}, ...] */
static int
ar_docker_manifest(const char *data, size_t len)
{
	struct json_tokener *tok;
	struct json_object *root, *img, *v;
	size_t i, n;
	int ok = 0;

	if (len > INT32_MAX || (tok = json_tokener_new()) == NULL)
		return 0;
	root = json_tokener_parse_ex(tok, data, (int)len);
	if (root != NULL && json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_is_type(root, json_type_array) &&
	    (n = json_object_array_length(root)) > 0) {
		ok = 1;
		for (i = 0; i < n && ok; i++) {
			img = json_object_array_get_idx(root, i);
			if (!json_object_is_type(img, json_type_object) ||
			    !json_object_object_get_ex(img, "Config", &v) ||
			    !json_object_is_type(v, json_type_string) ||
			    !json_object_object_get_ex(img, "Layers", &v) ||
			    !json_object_is_type(v, json_type_array))
				ok = 0;
		}
	}
	json_object_put(root);
	json_tokener_free(tok);
	return ok;
}

/* The top-level name of an entry, or NULL if it is deeper. */
static const char *
ar_top_name(const char *name, char *out, size_t outsz)
{
	size_t n;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	n = strcspn(name, "/");
	if (name[n] == '/' && name[n + 1] != '\0')
		return NULL;
	if (n == 0 || n >= outsz)
		return NULL;
	memcpy(out, name, n);
	out[n] = '\0';
	return out;
}

/* Scan a tar's top level for docker save markers. */
static int
ar_is_docker_save(struct archive *ar, struct archive_entry *e)
{
	struct buf m = BUF_INIT;
	const char *name;
	char top[64], chunk[8192];
	uint64_t count = 0;
	int manifest = 0, oci = 0, index = 0, r = ARCHIVE_OK;
	la_ssize_t n;

	for (; r >= ARCHIVE_WARN && count++ < ARCHIVE_MAX_ENTRIES;
	    r = archive_read_next_header(ar, &e)) {
		if ((name = ar_entry_name(e)) == NULL ||
		    ar_top_name(name, top, sizeof(top)) == NULL ||
		    archive_entry_filetype(e) != AE_IFREG)
			continue;
		if (strcmp(top, "oci-layout") == 0)
			oci = 1;
		else if (strcmp(top, "index.json") == 0)
			index = 1;
		else if (strcmp(top, "manifest.json") == 0 && !manifest &&
		    archive_entry_size(e) <= ARCHIVE_MANIFEST_MAX) {
			buf_reset(&m);
			while ((n = archive_read_data(ar, chunk,
			    sizeof(chunk))) > 0 &&
			    m.len + (size_t)n <= ARCHIVE_MANIFEST_MAX)
				buf_add(&m, chunk, (size_t)n);
			if (n == 0)
				manifest = ar_docker_manifest(m.data, m.len);
		}
		if (manifest || (oci && index))
			break;
	}
	buf_release(&m);
	return manifest || (oci && index);
}

/* Is name a regular file (not a symlink) in dfd? */
static int
ar_is_regular(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode);
}


int
archive_tree_is_image(const char *dir)
{
	struct buf m = BUF_INIT;
	struct stat st;
	char chunk[8192];
	ssize_t n;
	int dfd, fd = -1, image = 0;

	if ((dfd = ar_open_dir(dir)) == -1)
		return 0;
	if (ar_is_regular(dfd, "oci-layout") && ar_is_regular(dfd, "index.json")) {
		image = 1;
		goto out;
	}
	if ((fd = openat(dfd, "manifest.json", O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > ARCHIVE_MANIFEST_MAX)
		goto out;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 &&
	    m.len + (size_t)n <= ARCHIVE_MANIFEST_MAX)
		buf_add(&m, chunk, (size_t)n);
	if (n == 0)
		image = ar_docker_manifest(m.data, m.len);
out:
	if (fd != -1)
		close(fd);
	close(dfd);
	buf_release(&m);
	return image;
}

/* UTF-8 without NUL; a sequence cut by the end of a window is fine. */
static int
ar_is_text(const unsigned char *p, size_t n, int truncated)
{
	size_t i = 0, k, len;

	while (i < n) {
		if (p[i] == 0)
			return 0;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			len = 2;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			len = 3;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			len = 4;
		else
			return 0;
		if (i + len > n)
			return truncated;
		/* Whole sequence: let the shared validator judge it. */
		for (k = 1; k < len; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		if (valid_utf8((const char *)p + i, len) == -1)
			return 0;
		i += len;
	}
	return 1;
}

static int
ar_named_py(const char *fname)
{
	size_t n;

	if (fname == NULL || (n = strlen(fname)) < 4)
		return 0;
	return strcasecmp(fname + n - 3, ".py") == 0;
}

enum archive_kind
archive_sniff(const char *path, const char *client_filename)
{
	struct archive *ar = NULL;
	struct archive_entry *e;
	enum archive_kind kind = ARCHIVE_KIND_UNKNOWN;
	unsigned char *head = NULL;
	struct stat st;
	ssize_t n;
	int fd, gz;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_warn("open %s", path);
		return ARCHIVE_KIND_UNKNOWN;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size == 0)
		goto out;
	head = xmalloc(ARCHIVE_SNIFF_TEXT);
	if ((n = pread(fd, head, ARCHIVE_SNIFF_TEXT, 0)) <= 0)
		goto out;
	/* Zip by magic: libarchive would read the whole central directory. */
	if (n >= 4 && (memcmp(head, "PK\003\004", 4) == 0 ||
	    memcmp(head, "PK\005\006", 4) == 0)) {
		kind = ARCHIVE_KIND_ZIP;
		goto out;
	}
	gz = n >= 2 && head[0] == 0x1f && head[1] == 0x8b;
	if ((ar = archive_read_new()) == NULL)
		fatalx("libarchive: out of memory");
	if (archive_read_support_format_tar(ar) != ARCHIVE_OK ||
	    (gz && archive_read_support_filter_gzip(ar) != ARCHIVE_OK)) {
		log_warnx("libarchive: %s", ar_errstr(ar));
		goto out;
	}
	if (archive_read_open_fd(ar, fd, AR_IOBUF) == ARCHIVE_OK &&
	    archive_read_next_header(ar, &e) >= ARCHIVE_WARN) {
		kind = gz ? ARCHIVE_KIND_TARGZ : ARCHIVE_KIND_TAR;
		if (ar_is_docker_save(ar, e))
			kind = ARCHIVE_KIND_DOCKER_SAVE;
		goto out;
	}
	if (ar_named_py(client_filename) &&
	    ar_is_text(head, (size_t)n, (uint64_t)st.st_size > (uint64_t)n))
		kind = ARCHIVE_KIND_PYTHON;
out:
	if (ar != NULL)
		archive_read_free(ar);
	free(head);
	close(fd);
	return kind;
}

/*
 * Looking at extracted trees.
 */
int
archive_unwrap(const char *dir, char *out, size_t outsz)
{
	struct ar_names l = { NULL, 0 };
	struct stat st;
	const char *only = NULL;
	size_t i, count = 0;
	int dfd, rc = -1;

	if ((dfd = ar_open_dir(dir)) == -1) {
		log_warn("open %s", dir);
		return -1;
	}
	if (ar_list(dfd, &l) == -1)
		goto out;
	for (i = 0; i < l.n; i++) {
		if (ar_ignored_name(l.v[i]))
			continue;
		count++;
		only = l.v[i];
	}
	if (count == 1 && fstatat(dfd, only, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode)) {
		if (str_fmt(out, outsz, "%s/%s", dir, only) == -1)
			goto out;
		rc = 1;
	} else {
		if (str_copy(out, outsz, dir) == -1)
			goto out;
		rc = 0;
	}
out:
	ar_names_free(&l);
	close(dfd);
	return rc;
}

/* An entry script name the generated Dockerfile can use as is. */
static int
ar_safe_py_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 4 || n >= sizeof(((struct app_detect *)0)->entry) ||
	    s[0] == '.' || s[0] == '-' || strcmp(s + n - 3, ".py") != 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

int
archive_detect_app(const char *dir, struct app_detect *out)
{
	static const char *const compose[] = {
		"compose.yaml", "compose.yml",
		"docker-compose.yaml", "docker-compose.yml",
	};
	struct ar_names l = { NULL, 0 };
	struct buf path = BUF_INIT;
	enum archive_app_kind kind = ARCHIVE_APP__MAX;
	const char *entry = NULL, *only = NULL;
	size_t i, count = 0;
	int dfd, rc = -1;

	if ((dfd = ar_open_dir(dir)) == -1) {
		log_warn("open %s", dir);
		return -1;
	}
	for (i = 0; i < sizeof(compose) / sizeof(compose[0]) && !entry; i++)
		if (ar_is_regular(dfd, compose[i])) {
			kind = ARCHIVE_APP_COMPOSE;
			entry = compose[i];
		}
	if (entry == NULL && ar_is_regular(dfd, "Dockerfile")) {
		kind = ARCHIVE_APP_DOCKER;
		entry = "Dockerfile";
	}
	if (entry == NULL && ar_is_regular(dfd, "config.yaml")) {
		kind = ARCHIVE_APP_PLUGIN;
		entry = "config.yaml";
	}
	if (entry == NULL && ar_is_regular(dfd, "app.py")) {
		kind = ARCHIVE_APP_GRADIO;
		entry = "app.py";
	}
	if (entry == NULL) {
		if (ar_list(dfd, &l) == -1)
			goto out;
		for (i = 0; i < l.n && entry == NULL; i++)
			if (ar_safe_py_name(l.v[i]) &&
			    ar_is_regular(dfd, l.v[i])) {
				kind = ARCHIVE_APP_GRADIO;
				entry = l.v[i];
			}
		for (i = 0; i < l.n && entry == NULL; i++) {
			if (ar_ignored_name(l.v[i]))
				continue;
			count++;
			only = l.v[i];
		}
		if (entry == NULL && count == 1 && ar_is_regular(dfd, only)) {
			buf_printf(&path, "%s/%s", dir, only);
			if (archive_sniff(path.data, only) ==
			    ARCHIVE_KIND_DOCKER_SAVE) {
				kind = ARCHIVE_APP_IMAGE;
				entry = only;
			}
		}
	}
	if (entry == NULL || str_copy(out->entry, sizeof(out->entry), entry) == -1)
		goto out;
	out->kind = kind;
	rc = 0;
out:
	buf_release(&path);
	ar_names_free(&l);
	close(dfd);
	return rc;
}

/*
 * Build-context tars.
 */
struct ar_tarw {
	struct archive	*a;
	int		(*cb)(void *, const void *, size_t);
	void		*arg;
	struct buf	 path;
	char		*iobuf;
	int		 failed;	/* the callback said -1 */
};

/*
 * A failed callback is remembered and the rest discarded, rather than
 * reported to libarchive: a writer in the FATAL state leaks its client
 * buffer on free (3.6).  The walk checks w->failed after every entry.
 */
static la_ssize_t
ar_tar_write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct ar_tarw *w = ctx;

	if (!w->failed && w->cb(w->arg, buf, len) != 0) {
		log_warnx("tar: write callback failed");
		w->failed = 1;
	}
	return (la_ssize_t)len;
}

static int
ar_tar_file(struct ar_tarw *w, int dfd, const char *name, off_t size)
{
	la_ssize_t wn;
	ssize_t n;
	off_t total = 0;
	int fd, rc = -1;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_warn("open %s", w->path.data);
		return -1;
	}
	while (total < size && !w->failed) {
		n = read(fd, w->iobuf, AR_IOBUF);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("read %s", w->path.data);
			goto out;
		}
		if (n == 0 || n > size - total) {
			log_warnx("%s changed while being read", w->path.data);
			goto out;
		}
		wn = archive_write_data(w->a, w->iobuf, (size_t)n);
		if (wn != n) {
			log_warnx("tar %s: %s", w->path.data,
			    ar_errstr(w->a));
			goto out;
		}
		total += n;
	}
	rc = w->failed ? -1 : 0;
out:
	close(fd);
	return rc;
}

static int
ar_tar_dir(struct ar_tarw *w, int dfd, size_t depth)
{
	struct ar_names l = { NULL, 0 };
	struct archive_entry *e = NULL;
	struct stat st;
	char *target = NULL;
	size_t i, plen = w->path.len;
	ssize_t n;
	int sub, r, rc = -1;

	if (depth > TREE_MAX_DEPTH) {
		log_warnx("%s: tree too deep", w->path.data);
		return -1;
	}
	if (ar_list(dfd, &l) == -1)
		return -1;
	for (i = 0; i < l.n; i++) {
		buf_truncate(&w->path, plen);
		if (plen > 0)
			buf_addch(&w->path, '/');
		buf_adds(&w->path, l.v[i]);
		if (fstatat(dfd, l.v[i], &st, AT_SYMLINK_NOFOLLOW) == -1) {
			log_warn("stat %s", w->path.data);
			goto out;
		}
		if ((e = archive_entry_new()) == NULL)
			fatalx("libarchive: out of memory");
		/* Names are bytes (hdrcharset=BINARY): no charset games. */
		archive_entry_set_pathname(e, w->path.data);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		archive_entry_set_mtime(e, st.st_mtime, 0);
		if (S_ISREG(st.st_mode)) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, st.st_size);
		} else if (S_ISDIR(st.st_mode)) {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_size(e, 0);
		} else if (S_ISLNK(st.st_mode)) {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_size(e, 0);
			if (st.st_size <= 0 || st.st_size > 65536)
				st.st_size = 4096;
			target = xmalloc((size_t)st.st_size + 1);
			n = readlinkat(dfd, l.v[i], target, (size_t)st.st_size + 1);
			if (n < 0 || n > st.st_size) {
				log_warn("readlink %s", w->path.data);
				goto out;
			}
			target[n] = '\0';
			archive_entry_set_symlink(e, target);
			free(target);
			target = NULL;
		} else {
			log_warnx("%s: not a file, directory or symlink",
			    w->path.data);
			goto out;
		}
		archive_entry_set_perm(e, st.st_mode & 0777);
		r = archive_write_header(w->a, e);
		if (r < ARCHIVE_WARN) {
			log_warnx("tar %s: %s", w->path.data,
			    ar_errstr(w->a));
			goto out;
		}
		if (S_ISREG(st.st_mode) &&
		    ar_tar_file(w, dfd, l.v[i], st.st_size) == -1)
			goto out;
		archive_entry_free(e);
		e = NULL;
		if (w->failed)
			goto out;
		if (S_ISDIR(st.st_mode)) {
			if ((sub = ar_open_subdir(dfd, l.v[i])) == -1) {
				log_warn("open %s", w->path.data);
				goto out;
			}
			r = ar_tar_dir(w, sub, depth + 1);
			close(sub);
			if (r == -1)
				goto out;
		}
	}
	rc = 0;
out:
	buf_truncate(&w->path, plen);
	free(target);
	if (e != NULL)
		archive_entry_free(e);
	ar_names_free(&l);
	return rc;
}

int
archive_write_tar(const char *dir,
    int (*write_cb)(void *arg, const void *buf, size_t len), void *arg)
{
	struct ar_tarw w;
	int dfd, rc = -1;

	memset(&w, 0, sizeof(w));
	w.cb = write_cb;
	w.arg = arg;
	buf_init(&w.path);
	if ((dfd = ar_open_dir(dir)) == -1) {
		log_warn("open %s", dir);
		return -1;
	}
	w.iobuf = xmalloc(AR_IOBUF);
	if ((w.a = archive_write_new()) == NULL)
		fatalx("libarchive: out of memory");
	/*
	 * hdrcharset=BINARY: names go out as the bytes they are on disk;
	 * converting them to UTF-8 in the C locale fails (and libarchive
	 * 3.6 then crashes on a name that is not UTF-8).
	 */
	if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    archive_write_set_format_option(w.a, "pax", "hdrcharset",
	    "BINARY") != ARCHIVE_OK ||
	    archive_write_add_filter_none(w.a) != ARCHIVE_OK ||
	    archive_write_open(w.a, &w, NULL, ar_tar_write_cb, NULL) !=
	    ARCHIVE_OK) {
		log_warnx("libarchive: %s", ar_errstr(w.a));
		goto out;
	}
	if (ar_tar_dir(&w, dfd, 0) == -1)
		goto out;
	if (archive_write_close(w.a) != ARCHIVE_OK) {
		log_warnx("tar close: %s", ar_errstr(w.a));
		goto out;
	}
	if (w.failed)
		goto out;
	rc = 0;
out:
	/* After a failure nothing more reaches the callback (no trailer). */
	if (rc == -1)
		w.failed = 1;
	archive_write_free(w.a);
	free(w.iobuf);
	buf_release(&w.path);
	close(dfd);
	return rc;
}

static int
ar_fd_write_cb(void *arg, const void *buf, size_t len)
{
	int fd = *(int *)arg;

	if (ar_write_all(fd, buf, len) == -1) {
		log_warn("write tar");
		return -1;
	}
	return 0;
}

int
archive_write_tar_file(const char *dir, const char *out_path)
{
	int fd, rc = -1;

	fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("open %s", out_path);
		return -1;
	}
	if (archive_write_tar(dir, ar_fd_write_cb, &fd) == -1)
		goto out;
	rc = 0;
out:
	if (close(fd) == -1) {
		log_warn("close %s", out_path);
		rc = -1;
	}
	if (rc == -1 && unlink(out_path) == -1)
		log_warn("unlink %s", out_path);
	return rc;
}

/*
 * Trees.
 */
static int
ar_remove_dir(int dfd, size_t depth)
{
	struct ar_names l = { NULL, 0 };
	struct stat st;
	size_t i;
	int sub, r, rc = -1;

	if (depth > TREE_MAX_DEPTH) {
		log_warnx("tree too deep to remove");
		return -1;
	}
	if (ar_list(dfd, &l) == -1)
		return -1;
	for (i = 0; i < l.n; i++) {
		if (fstatat(dfd, l.v[i], &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;
			log_warn("stat %s", l.v[i]);
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			sub = ar_open_subdir(dfd, l.v[i]);
			if (sub == -1 && errno == EACCES &&
			    fchmodat(dfd, l.v[i], 0700, 0) == 0)
				sub = ar_open_subdir(dfd, l.v[i]);
			if (sub == -1) {
				log_warn("open %s", l.v[i]);
				goto out;
			}
			r = ar_remove_dir(sub, depth + 1);
			close(sub);
			if (r == -1)
				goto out;
		}
		if (unlinkat(dfd, l.v[i], S_ISDIR(st.st_mode) ?
		    AT_REMOVEDIR : 0) == -1 && errno != ENOENT) {
			log_warn("remove %s", l.v[i]);
			goto out;
		}
	}
	rc = 0;
out:
	ar_names_free(&l);
	return rc;
}

int
tree_remove(const char *dir)
{
	struct stat st;
	int dfd, r;

	if (lstat(dir, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("stat %s", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(dir) == -1 && errno != ENOENT) {
			log_warn("unlink %s", dir);
			return -1;
		}
		return 0;
	}
	if ((dfd = ar_open_dir(dir)) == -1) {
		log_warn("open %s", dir);
		return -1;
	}
	r = ar_remove_dir(dfd, 0);
	close(dfd);
	if (r == -1)
		return -1;
	if (rmdir(dir) == -1 && errno != ENOENT) {
		log_warn("rmdir %s", dir);
		return -1;
	}
	return 0;
}

static int
ar_copy_file(int sfd, int dfd, const char *name, mode_t mode, char *iobuf)
{
	int in, out = -1, rc = -1;
	ssize_t n;

	if ((in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_warn("open %s", name);
		return -1;
	}
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode & 0777);
	if (out == -1) {
		log_warn("create %s", name);
		goto out;
	}
	for (;;) {
		n = read(in, iobuf, AR_IOBUF);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("read %s", name);
			goto out;
		}
		if (n == 0)
			break;
		if (ar_write_all(out, iobuf, (size_t)n) == -1) {
			log_warn("write %s", name);
			goto out;
		}
	}
	if (fchmod(out, mode & 0777) == -1) {
		log_warn("chmod %s", name);
		goto out;
	}
	rc = 0;
out:
	close(in);
	if (out != -1 && close(out) == -1 && rc == 0) {
		log_warn("close %s", name);
		rc = -1;
	}
	return rc;
}

static int
ar_copy_dir(int sfd, int dfd, size_t depth, char *iobuf)
{
	struct ar_names l = { NULL, 0 };
	struct stat st;
	char *target = NULL;
	size_t i;
	ssize_t n;
	int ssub = -1, dsub = -1, rc = -1;

	if (depth > TREE_MAX_DEPTH) {
		log_warnx("tree too deep to copy");
		return -1;
	}
	if (ar_list(sfd, &l) == -1)
		return -1;
	for (i = 0; i < l.n; i++) {
		if (fstatat(sfd, l.v[i], &st, AT_SYMLINK_NOFOLLOW) == -1) {
			log_warn("stat %s", l.v[i]);
			goto out;
		}
		if (S_ISREG(st.st_mode)) {
			if (linkat(sfd, l.v[i], dfd, l.v[i], 0) == 0)
				continue;
			if (errno != EXDEV && errno != EPERM &&
			    errno != EMLINK && errno != EACCES) {
				log_warn("link %s", l.v[i]);
				goto out;
			}
			if (ar_copy_file(sfd, dfd, l.v[i], st.st_mode,
			    iobuf) == -1)
				goto out;
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdirat(dfd, l.v[i], 0700) == -1) {
				log_warn("mkdir %s", l.v[i]);
				goto out;
			}
			if ((ssub = ar_open_subdir(sfd, l.v[i])) == -1 ||
			    (dsub = ar_open_subdir(dfd, l.v[i])) == -1) {
				log_warn("open %s", l.v[i]);
				goto out;
			}
			if (ar_copy_dir(ssub, dsub, depth + 1, iobuf) == -1)
				goto out;
			if (fchmod(dsub, st.st_mode & 0777) == -1) {
				log_warn("chmod %s", l.v[i]);
				goto out;
			}
			close(ssub);
			close(dsub);
			ssub = dsub = -1;
		} else if (S_ISLNK(st.st_mode)) {
			if (st.st_size <= 0 || st.st_size > 65536)
				st.st_size = 4096;
			target = xmalloc((size_t)st.st_size + 1);
			n = readlinkat(sfd, l.v[i], target,
			    (size_t)st.st_size + 1);
			if (n < 0 || n > st.st_size) {
				log_warn("readlink %s", l.v[i]);
				goto out;
			}
			target[n] = '\0';
			if (symlinkat(target, dfd, l.v[i]) == -1) {
				log_warn("symlink %s", l.v[i]);
				goto out;
			}
			free(target);
			target = NULL;
		} else {
			log_warnx("%s: not a file, directory or symlink",
			    l.v[i]);
			goto out;
		}
	}
	rc = 0;
out:
	if (ssub != -1)
		close(ssub);
	if (dsub != -1)
		close(dsub);
	free(target);
	ar_names_free(&l);
	return rc;
}

int
tree_copy(const char *src, const char *dst)
{
	struct stat st;
	char *iobuf = NULL;
	int sfd, dfd = -1, made = 0, rc = -1;

	if ((sfd = ar_open_dir(src)) == -1) {
		log_warn("open %s", src);
		return -1;
	}
	if (fstat(sfd, &st) == -1) {
		log_warn("stat %s", src);
		goto out;
	}
	if (mkdir(dst, 0700) == -1) {
		log_warn("mkdir %s", dst);
		goto out;
	}
	made = 1;
	if ((dfd = ar_open_dir(dst)) == -1) {
		log_warn("open %s", dst);
		goto out;
	}
	iobuf = xmalloc(AR_IOBUF);
	if (ar_copy_dir(sfd, dfd, 0, iobuf) == -1)
		goto out;
	if (fchmod(dfd, st.st_mode & 0777) == -1) {
		log_warn("chmod %s", dst);
		goto out;
	}
	rc = 0;
out:
	free(iobuf);
	if (dfd != -1)
		close(dfd);
	close(sfd);
	if (rc == -1 && made)
		tree_remove(dst);
	return rc;
}

static int
ar_size_dir(int dfd, size_t depth, uint64_t *bytes, uint64_t *entries)
{
	struct ar_names l = { NULL, 0 };
	struct stat st;
	size_t i;
	int sub, r, rc = -1;

	if (depth > TREE_MAX_DEPTH) {
		log_warnx("tree too deep to measure");
		return -1;
	}
	if (ar_list(dfd, &l) == -1)
		return -1;
	for (i = 0; i < l.n; i++) {
		if (fstatat(dfd, l.v[i], &st, AT_SYMLINK_NOFOLLOW) == -1) {
			log_warn("stat %s", l.v[i]);
			goto out;
		}
		(*entries)++;
		if (S_ISREG(st.st_mode))
			*bytes += (uint64_t)st.st_size;
		else if (S_ISDIR(st.st_mode)) {
			if ((sub = ar_open_subdir(dfd, l.v[i])) == -1) {
				log_warn("open %s", l.v[i]);
				goto out;
			}
			r = ar_size_dir(sub, depth + 1, bytes, entries);
			close(sub);
			if (r == -1)
				goto out;
		}
	}
	rc = 0;
out:
	ar_names_free(&l);
	return rc;
}

int
tree_size(const char *dir, uint64_t *bytes, uint64_t *entries)
{
	uint64_t b = 0, n = 0;
	int dfd, r;

	if ((dfd = ar_open_dir(dir)) == -1) {
		log_warn("open %s", dir);
		return -1;
	}
	r = ar_size_dir(dfd, 0, &b, &n);
	close(dfd);
	if (r == -1)
		return -1;
	*bytes = b;
	*entries = n;
	return 0;
}
