#include "config.h"

#include <sys/random.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "log.h"
#include "multipart.h"
#include "valid.h"

/*
 * The parser.  The delimiter is CRLF "--" boundary; the body is scanned for
 * it with memchr on CR (CR occurs in the delimiter only at position 0, so a
 * failed partial match can only restart at the current byte, and the bytes
 * held back while matching are exactly a prefix of the delimiter: nothing
 * of the body is ever copied).  The stream is treated as if it began with
 * CRLF, so the first delimiter may open the body.
 */
enum mp_state {
	MP_PREAMBLE,		/* before the first delimiter: discarded */
	MP_AFTER_DELIM,		/* delimiter matched: "--", padding or CR next */
	MP_CLOSE_DASH,		/* "-" after the delimiter: need the second */
	MP_PADDING,		/* spaces/tabs after the delimiter */
	MP_PADDING_LF,		/* CR after the delimiter: need LF */
	MP_HEADERS,		/* a part's header block */
	MP_BODY,		/* a part's body */
	MP_EPILOGUE,		/* after the close delimiter: discarded */
	MP_FAILED
};

struct multipart {
	struct multipart_cb	 cb;
	void			*arg;
	char			 delim[4 + MULTIPART_BOUNDARY_MAX + 1];
	size_t			 dlen;
	size_t			 match;		/* delimiter bytes matched */
	enum mp_state		 state;
	int			 in_part;	/* part_begin called, no part_end yet */
	struct buf		 hdr;
	const char		*error;
};

#define MP_PARAM_NAME_MAX 64

static int
mp_is_tchar(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
mp_is_bchar(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("'()+_,-./:=? ", c) != NULL;
}

static int
mp_valid_boundary(const char *b, size_t len)
{
	size_t i;

	if (len < 1 || len > MULTIPART_BOUNDARY_MAX || b[len - 1] == ' ')
		return -1;
	for (i = 0; i < len; i++)
		if (!mp_is_bchar((unsigned char)b[i]))
			return -1;
	return 0;
}

static const char *
mp_skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/*
 * One parameter at *sp: OWS ";" OWS name OWS "=" OWS (token | quoted-string).
 * Returns 1 with name (lower-cased) and the unescaped value, 0 at the end of
 * the string (a trailing ";" is allowed), -1 if malformed.
 */
static int
mp_next_param(const char **sp, char *name, struct buf *value)
{
	const char *s = mp_skip_ows(*sp);
	size_t n = 0;

	buf_reset(value);
	if (*s == '\0')
		return 0;
	if (*s != ';')
		return -1;
	s = mp_skip_ows(s + 1);
	if (*s == '\0') {
		*sp = s;
		return 0;
	}
	while (mp_is_tchar((unsigned char)*s)) {
		if (n + 1 >= MP_PARAM_NAME_MAX)
			return -1;
		name[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
		s++;
	}
	name[n] = '\0';
	if (n == 0)
		return -1;
	s = mp_skip_ows(s);
	if (*s != '=')
		return -1;
	s = mp_skip_ows(s + 1);
	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (*s == '\0')
				return -1;
			if (*s == '\\') {
				s++;
				if (*s == '\0')
					return -1;
			}
			buf_addch(value, *s);
		}
		s++;
	} else {
		while (*s != '\0' && *s != ';' && *s != ' ' && *s != '\t' &&
		    *s != '"' && *s != '\\') {
			buf_addch(value, *s);
			s++;
		}
		if (value->len == 0)
			return -1;
	}
	*sp = s;
	return 1;
}

int
multipart_boundary(const char *ct, char *out, size_t outsz)
{
	static const char type[] = "multipart/form-data";
	struct buf value = BUF_INIT;
	char name[MP_PARAM_NAME_MAX];
	const char *s;
	int r, found = 0, rc = -1;

	if (ct == NULL)
		return -1;
	s = mp_skip_ows(ct);
	if (strncasecmp(s, type, sizeof(type) - 1) != 0)
		goto out;
	s += sizeof(type) - 1;
	if (*s != '\0' && *s != ';' && *s != ' ' && *s != '\t')
		goto out;
	while ((r = mp_next_param(&s, name, &value)) == 1) {
		if (strcmp(name, "boundary") != 0)
			continue;
		if (found++ ||
		    mp_valid_boundary(value.data, value.len) == -1 ||
		    value.len >= outsz)
			goto out;
		memcpy(out, value.data, value.len + 1);
	}
	if (r == 0 && found == 1)
		rc = 0;
out:
	if (rc == -1 && found && outsz > 0)
		out[0] = '\0';
	buf_release(&value);
	return rc;
}

static int
mp_fail(struct multipart *mp, const char *why)
{
	mp->state = MP_FAILED;
	mp->error = why;
	return -1;
}

struct multipart *
multipart_new(const char *boundary, const struct multipart_cb *cb, void *arg)
{
	struct multipart *mp;
	size_t blen;

	if (boundary == NULL || cb == NULL)
		return NULL;
	blen = strlen(boundary);
	if (mp_valid_boundary(boundary, blen) == -1)
		return NULL;
	mp = xcalloc(1, sizeof(*mp));
	mp->cb = *cb;
	mp->arg = arg;
	memcpy(mp->delim, "\r\n--", 4);
	memcpy(mp->delim + 4, boundary, blen + 1);
	mp->dlen = 4 + blen;
	/* Pretend the body began with CRLF: the first delimiter may open it. */
	mp->match = 2;
	mp->state = MP_PREAMBLE;
	mp->error = "";
	buf_init(&mp->hdr);
	return mp;
}

void
multipart_free(struct multipart *mp)
{
	if (mp == NULL)
		return;
	buf_release(&mp->hdr);
	free(mp);
}

const char *
multipart_error(const struct multipart *mp)
{
	return mp->error;
}

static int
mp_emit(struct multipart *mp, const char *p, size_t n)
{
	if (n == 0 || mp->state != MP_BODY || mp->cb.part_data == NULL)
		return 0;
	if (mp->cb.part_data(mp->arg, p, n) != 0)
		return mp_fail(mp, "stopped by callback");
	return 0;
}

/*
 * Scan body (or preamble) bytes from *ip for the delimiter, handing body
 * data to part_data in as few calls as the held-back bytes allow.
 */
static int
mp_scan(struct multipart *mp, const char *data, size_t len, size_t *ip)
{
	size_t i = *ip, from = i, mstart = mp->match ? SIZE_MAX : i, end;
	const char *p;

	while (i < len) {
		if (mp->match == 0) {
			/*
			 * A whole delimiter in the rest of the chunk: memmem
			 * skips through binary data far faster than stopping
			 * at every CR.
			 */
			p = memmem(data + i, len - i, mp->delim, mp->dlen);
			if (p != NULL) {
				mstart = (size_t)(p - data);
				if (mp_emit(mp, data + from, mstart - from) == -1)
					return -1;
				mp->state = MP_AFTER_DELIM;
				*ip = mstart + mp->dlen;
				return 0;
			}
			/* Else the chunk may end with a delimiter's prefix. */
			i = len - i < mp->dlen ? i : len - mp->dlen + 1;
			for (; i < len; i++)
				if (data[i] == '\r' &&
				    memcmp(data + i, mp->delim, len - i) == 0)
					break;
			if (i < len) {
				mstart = i;
				mp->match = len - i;
			}
			i = len;
			break;
		}
		if (data[i] == mp->delim[mp->match]) {
			i++;
			if (++mp->match == mp->dlen) {
				/* Delimiter: what came before it is data. */
				if (mstart != SIZE_MAX &&
				    mp_emit(mp, data + from, mstart - from) == -1)
					return -1;
				mp->match = 0;
				mp->state = MP_AFTER_DELIM;
				*ip = i;
				return 0;
			}
			continue;
		}
		/* Mismatch: the held-back bytes were data after all. */
		if (mstart == SIZE_MAX) {
			/* They began in an earlier chunk: a delimiter prefix. */
			if (mp_emit(mp, mp->delim, mp->match) == -1)
				return -1;
			from = i;
		}
		mp->match = 0;
	}
	/* End of chunk: keep a partial match back, hand over the rest. */
	if (mp->match == 0)
		end = len;
	else
		end = mstart == SIZE_MAX ? from : mstart;
	if (end > from && mp_emit(mp, data + from, end - from) == -1)
		return -1;
	*ip = len;
	return 0;
}

/* A delimiter is confirmed: the current part, if any, is over. */
static int
mp_delimiter(struct multipart *mp)
{
	if (!mp->in_part)
		return 0;
	mp->in_part = 0;
	if (mp->cb.part_end != NULL && mp->cb.part_end(mp->arg) != 0)
		return mp_fail(mp, "stopped by callback");
	return 0;
}

static int
mp_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 5987 ext-value, UTF-8 only: "UTF-8'" [lang] "'" pct-encoded. */
static int
mp_ext_value(const struct buf *in, struct buf *out)
{
	const char *s = in->data, *q;
	int hi, lo;

	buf_reset(out);
	if ((q = strchr(s, '\'')) == NULL || q - s != 5 ||
	    strncasecmp(s, "utf-8", 5) != 0)
		return -1;
	if ((q = strchr(q + 1, '\'')) == NULL)
		return -1;
	for (s = q + 1; *s != '\0'; s++) {
		if (*s != '%') {
			if (*s == '\'')
				return -1;
			buf_addch(out, *s);
			continue;
		}
		if ((hi = mp_hexval((unsigned char)s[1])) == -1 ||
		    (lo = mp_hexval((unsigned char)s[2])) == -1)
			return -1;
		buf_addch(out, hi * 16 + lo);
		s += 2;
	}
	if (memchr(out->data, '\0', out->len) != NULL ||
	    valid_utf8(out->data, out->len) == -1)
		return -1;
	return 0;
}

/* Content-Disposition: form-data; name=...; filename=...; filename*=... */
static int
mp_disposition(struct multipart *mp, const char *s, struct buf *name,
    struct buf *filename, int *has_filename)
{
	static const char type[] = "form-data";
	struct buf value = BUF_INIT, ext = BUF_INIT;
	char pname[MP_PARAM_NAME_MAX];
	int r, seen_name = 0, seen_fn = 0, seen_ext = 0, rc = -1;

	if (strncasecmp(s, type, sizeof(type) - 1) != 0) {
		mp_fail(mp, "part is not form-data");
		goto out;
	}
	s += sizeof(type) - 1;
	if (*s != '\0' && *s != ';' && *s != ' ' && *s != '\t') {
		mp_fail(mp, "part is not form-data");
		goto out;
	}
	while ((r = mp_next_param(&s, pname, &value)) == 1) {
		if (strcmp(pname, "name") == 0) {
			if (seen_name++)
				break;
			buf_reset(name);
			buf_add(name, value.data, value.len);
		} else if (strcmp(pname, "filename") == 0) {
			if (seen_fn++)
				break;
			if (!seen_ext) {
				buf_reset(filename);
				buf_add(filename, value.data, value.len);
			}
		} else if (strcmp(pname, "filename*") == 0) {
			if (seen_ext++ || mp_ext_value(&value, &ext) == -1)
				break;
			buf_reset(filename);
			buf_add(filename, ext.data, ext.len);
		}
	}
	if (r != 0) {
		mp_fail(mp, "malformed Content-Disposition");
		goto out;
	}
	if (!seen_name || name->len == 0) {
		mp_fail(mp, "part without a name");
		goto out;
	}
	*has_filename = seen_fn || seen_ext;
	rc = 0;
out:
	buf_release(&value);
	buf_release(&ext);
	return rc;
}

/* The header block is complete (it ends in CRLF CRLF, or is just CRLF). */
static int
mp_part_headers(struct multipart *mp)
{
	struct buf name = BUF_INIT, filename = BUF_INIT;
	char *line = mp->hdr.data, *last = mp->hdr.data + mp->hdr.len;
	char *eol, *colon, *value, *end, *p;
	const char *ctype = NULL;
	int has_disp = 0, has_filename = 0, rc = -1;

	for (;;) {
		/* The block ends in CRLF, so every line has one. */
		eol = memmem(line, (size_t)(last - line), "\r\n", 2);
		if (eol == NULL || eol == line)
			break;
		for (p = line; p < eol; p++)
			if (((unsigned char)*p < 0x20 && *p != '\t') ||
			    *p == 0x7f) {
				mp_fail(mp, "control byte in part header");
				goto out;
			}
		*eol = '\0';
		if (*line == ' ' || *line == '\t') {
			mp_fail(mp, "folded part header");
			goto out;
		}
		for (colon = line; mp_is_tchar((unsigned char)*colon); colon++)
			;
		if (colon == line || *colon != ':') {
			mp_fail(mp, "malformed part header");
			goto out;
		}
		*colon = '\0';
		value = (char *)mp_skip_ows(colon + 1);
		for (end = eol; end > value && (end[-1] == ' ' ||
		    end[-1] == '\t'); end--)
			;
		*end = '\0';
		if (strcasecmp(line, "Content-Disposition") == 0) {
			if (has_disp++) {
				mp_fail(mp, "duplicate Content-Disposition");
				goto out;
			}
			if (mp_disposition(mp, value, &name, &filename,
			    &has_filename) == -1)
				goto out;
		} else if (strcasecmp(line, "Content-Type") == 0) {
			if (ctype != NULL || *value == '\0') {
				mp_fail(mp, "bad part Content-Type");
				goto out;
			}
			ctype = value;
		}
		line = eol + 2;
	}
	if (!has_disp) {
		mp_fail(mp, "part without Content-Disposition");
		goto out;
	}
	mp->in_part = 1;
	mp->state = MP_BODY;
	mp->match = 0;
	if (mp->cb.part_begin != NULL && mp->cb.part_begin(mp->arg, name.data,
	    has_filename ? filename.data : NULL, ctype) != 0) {
		mp_fail(mp, "stopped by callback");
		goto out;
	}
	rc = 0;
out:
	buf_release(&name);
	buf_release(&filename);
	return rc;
}

/* Header bytes from *ip up to the end of the block or of the chunk. */
static int
mp_headers(struct multipart *mp, const char *data, size_t len, size_t *ip)
{
	size_t i = *ip, n;
	const char *nl;
	struct buf *h = &mp->hdr;

	while (i < len) {
		nl = memchr(data + i, '\n', len - i);
		n = nl != NULL ? (size_t)(nl - (data + i)) + 1 : len - i;
		if (n > LIMIT_PART_HEADERS - h->len)
			return mp_fail(mp, "part headers too large");
		buf_add(h, data + i, n);
		i += n;
		if ((h->len == 2 && memcmp(h->data, "\r\n", 2) == 0) ||
		    (h->len >= 4 &&
		    memcmp(h->data + h->len - 4, "\r\n\r\n", 4) == 0)) {
			*ip = i;
			return mp_part_headers(mp);
		}
	}
	*ip = i;
	return 0;
}

int
multipart_feed(struct multipart *mp, const char *data, size_t len)
{
	size_t i = 0;
	char c;

	while (i < len) {
		switch (mp->state) {
		case MP_FAILED:
			return -1;
		case MP_PREAMBLE:
		case MP_BODY:
			if (mp_scan(mp, data, len, &i) == -1)
				return -1;
			break;
		case MP_AFTER_DELIM:
			c = data[i];
			if (c == '-' || c == ' ' || c == '\t' || c == '\r') {
				if (mp_delimiter(mp) == -1)
					return -1;
				mp->state = c == '-' ? MP_CLOSE_DASH :
				    c == '\r' ? MP_PADDING_LF : MP_PADDING;
				i++;
				break;
			}
			/* "--boundary" then something else: body data. */
			mp->state = mp->in_part ? MP_BODY : MP_PREAMBLE;
			if (mp_emit(mp, mp->delim, mp->dlen) == -1)
				return -1;
			break;
		case MP_CLOSE_DASH:
			if (data[i++] != '-')
				return mp_fail(mp, "malformed delimiter");
			mp->state = MP_EPILOGUE;
			break;
		case MP_PADDING:
			c = data[i++];
			if (c == '\r')
				mp->state = MP_PADDING_LF;
			else if (c != ' ' && c != '\t')
				return mp_fail(mp, "malformed delimiter");
			break;
		case MP_PADDING_LF:
			if (data[i++] != '\n')
				return mp_fail(mp, "malformed delimiter");
			buf_reset(&mp->hdr);
			mp->state = MP_HEADERS;
			break;
		case MP_HEADERS:
			if (mp_headers(mp, data, len, &i) == -1)
				return -1;
			break;
		case MP_EPILOGUE:
			i = len;
			break;
		}
	}
	return mp->state == MP_FAILED ? -1 : 0;
}

int
multipart_finish(struct multipart *mp)
{
	if (mp->state == MP_FAILED)
		return -1;
	if (mp->state != MP_EPILOGUE)
		return mp_fail(mp, "body ends before the closing delimiter");
	return 0;
}

/*
 * The upload collector.
 */
enum upload_part {
	UPLOAD_NONE,
	UPLOAD_FIELD,
	UPLOAD_FILE
};

struct upload_field {
	char	*name;
	char	*value;
};

struct multipart_upload {
	struct multipart	*mp;
	char			*dir;
	uint64_t		 max_file;
	enum mp_err		 err;
	const char		*errmsg;
	int			 finished;

	struct upload_field	 fields[LIMIT_FORM_FIELDS];
	size_t			 nfields;

	enum upload_part	 cur;
	char			*cur_name;
	struct buf		 value;

	int			 has_file;
	int			 fd;
	char			*path;
	char			*filename;
	char			*ctype;
	uint64_t		 size;
	char			*wbuf;
	size_t			 wlen;
	int			 taken;
	int			 nostore;	/* file bytes no longer written */
	multipart_tap_fn	 tap;
	void			*tap_arg;
};

static const char *const mp_err_names[MP_ERR__MAX] = {
	"ok",			/* MP_OK */
	"malformed",		/* MP_ERR_MALFORMED */
	"too_large",		/* MP_ERR_TOO_LARGE */
	"too_many_fields",	/* MP_ERR_TOO_MANY_FIELDS */
	"field_too_large",	/* MP_ERR_FIELD_TOO_LARGE */
	"io",			/* MP_ERR_IO */
	"duplicate_file",	/* MP_ERR_DUPLICATE_FILE */
	"bad_filename",		/* MP_ERR_FILENAME */
	"stopped",		/* MP_ERR_TAP */
};

const char *
mp_err_name(enum mp_err e)
{
	if ((int)e < 0 || e >= MP_ERR__MAX)
		return "unknown";
	return mp_err_names[e];
}

static int
upload_fail(struct multipart_upload *u, enum mp_err e, const char *msg)
{
	if (u->err == MP_OK) {
		u->err = e;
		u->errmsg = msg;
	}
	return -1;
}

static int
upload_filename_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > LIMIT_UPLOAD_FILENAME)
		return -1;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return -1;
	}
	return valid_utf8(s, n);
}

static int
upload_create(struct multipart_upload *u)
{
	unsigned char rnd[8];
	char name[32];
	struct buf path = BUF_INIT;
	int tries, fd = -1;
	size_t i;

	for (tries = 0; tries < 8 && fd == -1; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			log_warn("getrandom");
			break;
		}
		memcpy(name, "upload-", 7);
		for (i = 0; i < sizeof(rnd); i++) {
			name[7 + 2 * i] = "0123456789abcdef"[rnd[i] >> 4];
			name[8 + 2 * i] = "0123456789abcdef"[rnd[i] & 15];
		}
		name[7 + 2 * sizeof(rnd)] = '\0';
		buf_reset(&path);
		buf_printf(&path, "%s/%s", u->dir, name);
		fd = open(path.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST) {
			log_warn("open %s", path.data);
			break;
		}
	}
	if (fd == -1) {
		buf_release(&path);
		return upload_fail(u, MP_ERR_IO, "cannot store the upload");
	}
	u->fd = fd;
	u->path = buf_detach(&path, NULL);
	return 0;
}

static int
upload_flush(struct multipart_upload *u)
{
	size_t off = 0;
	ssize_t n;

	while (off < u->wlen) {
		n = write(u->fd, u->wbuf + off, u->wlen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("write %s", u->path);
			return upload_fail(u, MP_ERR_IO,
			    "cannot store the upload");
		}
		off += (size_t)n;
	}
	u->wlen = 0;
	return 0;
}

static int
upload_part_begin(void *arg, const char *name, const char *filename,
    const char *ctype)
{
	struct multipart_upload *u = arg;

	if (strcmp(name, "file") == 0) {
		if (u->has_file)
			return upload_fail(u, MP_ERR_DUPLICATE_FILE,
			    "more than one file part");
		if (filename != NULL && *filename != '\0' &&
		    upload_filename_ok(filename) == -1)
			return upload_fail(u, MP_ERR_FILENAME,
			    "unacceptable file name");
		u->has_file = 1;
		if (filename != NULL && *filename != '\0')
			u->filename = xstrdup(filename);
		if (ctype != NULL)
			u->ctype = xstrdup(ctype);
		if (upload_create(u) == -1)
			return -1;
		u->wbuf = xmalloc(UPLOAD_WRITE_BUF);
		u->cur = UPLOAD_FILE;
		return 0;
	}
	if (filename != NULL)
		return upload_fail(u, MP_ERR_MALFORMED,
		    "a file part other than \"file\"");
	if (u->nfields == LIMIT_FORM_FIELDS)
		return upload_fail(u, MP_ERR_TOO_MANY_FIELDS, "too many fields");
	u->cur = UPLOAD_FIELD;
	u->cur_name = xstrdup(name);
	buf_reset(&u->value);
	return 0;
}

static int
upload_part_data(void *arg, const char *data, size_t len)
{
	struct multipart_upload *u = arg;
	size_t n;

	if (u->cur == UPLOAD_FIELD) {
		if (len > LIMIT_FIELD_VALUE - u->value.len)
			return upload_fail(u, MP_ERR_FIELD_TOO_LARGE,
			    "a field is too large");
		buf_add(&u->value, data, len);
		return 0;
	}
	if (u->cur != UPLOAD_FILE)
		return upload_fail(u, MP_ERR_MALFORMED, "data outside a part");
	if (len > u->max_file - u->size)
		return upload_fail(u, MP_ERR_TOO_LARGE,
		    "file is larger than the upload limit");
	u->size += len;
	if (u->tap != NULL && u->tap(u->tap_arg, data, len) == -1)
		return upload_fail(u, MP_ERR_TAP, "stopped by the reader");
	if (u->nostore)
		return 0;
	while (len > 0) {
		n = UPLOAD_WRITE_BUF - u->wlen;
		if (n > len)
			n = len;
		memcpy(u->wbuf + u->wlen, data, n);
		u->wlen += n;
		data += n;
		len -= n;
		if (u->wlen == UPLOAD_WRITE_BUF && upload_flush(u) == -1)
			return -1;
	}
	return 0;
}

static int
upload_part_end(void *arg)
{
	struct multipart_upload *u = arg;
	struct upload_field *f;
	int fd;

	switch (u->cur) {
	case UPLOAD_FIELD:
		if (memchr(u->value.data, '\0', u->value.len) != NULL)
			return upload_fail(u, MP_ERR_MALFORMED,
			    "NUL byte in a field");
		f = &u->fields[u->nfields++];
		f->name = u->cur_name;
		u->cur_name = NULL;
		f->value = buf_detach(&u->value, NULL);
		break;
	case UPLOAD_FILE:
		if (u->tap != NULL && u->tap(u->tap_arg, NULL, 0) == -1)
			return upload_fail(u, MP_ERR_TAP, "stopped by the reader");
		if (upload_flush(u) == -1)
			return -1;
		free(u->wbuf);
		u->wbuf = NULL;
		fd = u->fd;
		u->fd = -1;
		if (close(fd) == -1) {
			log_warn("close %s", u->path);
			return upload_fail(u, MP_ERR_IO,
			    "cannot store the upload");
		}
		break;
	case UPLOAD_NONE:
		break;
	}
	u->cur = UPLOAD_NONE;
	return 0;
}

static const struct multipart_cb upload_cb = {
	upload_part_begin,
	upload_part_data,
	upload_part_end
};

struct multipart_upload *
multipart_upload_new(const char *boundary, const char *dir,
    uint64_t max_file_bytes)
{
	struct multipart_upload *u;

	if (dir == NULL)
		return NULL;
	u = xcalloc(1, sizeof(*u));
	u->fd = -1;
	u->dir = xstrdup(dir);
	u->max_file = max_file_bytes;
	u->errmsg = "";
	buf_init(&u->value);
	if ((u->mp = multipart_new(boundary, &upload_cb, u)) == NULL) {
		multipart_upload_free(u);
		return NULL;
	}
	return u;
}

void
multipart_upload_set_tap(struct multipart_upload *u, multipart_tap_fn tap,
    void *arg)
{
	u->tap = tap;
	u->tap_arg = arg;
}

int
multipart_upload_stop_storing(struct multipart_upload *u)
{
	if (u->nostore)
		return 0;
	u->nostore = 1;
	u->wlen = 0;
	if (u->fd != -1 && ftruncate(u->fd, 0) == -1) {
		log_warn("ftruncate %s", u->path);
		return upload_fail(u, MP_ERR_IO, "cannot store the upload");
	}
	return 0;
}

int
multipart_upload_storing(const struct multipart_upload *u)
{
	return !u->nostore;
}

enum mp_err
multipart_upload_feed(struct multipart_upload *u, const char *data,
    size_t len)
{
	if (u->err != MP_OK)
		return u->err;
	if (u->finished) {
		upload_fail(u, MP_ERR_MALFORMED, "data after the end");
		return u->err;
	}
	if (multipart_feed(u->mp, data, len) == -1)
		upload_fail(u, MP_ERR_MALFORMED, multipart_error(u->mp));
	return u->err;
}

enum mp_err
multipart_upload_finish(struct multipart_upload *u)
{
	if (u->err != MP_OK)
		return u->err;
	if (multipart_finish(u->mp) == -1)
		upload_fail(u, MP_ERR_MALFORMED, multipart_error(u->mp));
	else
		u->finished = 1;
	return u->err;
}

const char *
multipart_upload_error(const struct multipart_upload *u)
{
	return u->errmsg;
}

const char *
multipart_upload_field(const struct multipart_upload *u, const char *name)
{
	size_t i;

	for (i = 0; i < u->nfields; i++)
		if (strcmp(u->fields[i].name, name) == 0)
			return u->fields[i].value;
	return NULL;
}

const char **
multipart_upload_fields(const struct multipart_upload *u, const char *name,
    size_t *n)
{
	const char **v = NULL;
	size_t i, k = 0;

	for (i = 0; i < u->nfields; i++)
		if (strcmp(u->fields[i].name, name) == 0)
			k++;
	*n = k;
	if (k == 0)
		return NULL;
	v = xcalloc(k, sizeof(*v));
	for (i = 0, k = 0; i < u->nfields; i++)
		if (strcmp(u->fields[i].name, name) == 0)
			v[k++] = u->fields[i].value;
	return v;
}

size_t
multipart_upload_nfields(const struct multipart_upload *u)
{
	return u->nfields;
}

int
multipart_upload_field_at(const struct multipart_upload *u, size_t i,
    const char **name, const char **value)
{
	if (i >= u->nfields)
		return -1;
	*name = u->fields[i].name;
	*value = u->fields[i].value;
	return 0;
}

int
multipart_upload_has_file(const struct multipart_upload *u)
{
	return u->has_file;
}

const char *
multipart_upload_path(const struct multipart_upload *u)
{
	return u->taken ? NULL : u->path;
}

const char *
multipart_upload_filename(const struct multipart_upload *u)
{
	return u->filename;
}

const char *
multipart_upload_content_type(const struct multipart_upload *u)
{
	return u->ctype;
}

uint64_t
multipart_upload_size(const struct multipart_upload *u)
{
	return u->size;
}

char *
multipart_upload_take_file(struct multipart_upload *u)
{
	if (!u->finished || u->err != MP_OK || u->path == NULL || u->taken)
		return NULL;
	u->taken = 1;
	return xstrdup(u->path);
}

void
multipart_upload_free(struct multipart_upload *u)
{
	size_t i;

	if (u == NULL)
		return;
	if (u->fd != -1)
		close(u->fd);
	if (u->path != NULL && !u->taken && unlink(u->path) == -1 &&
	    errno != ENOENT)
		log_warn("unlink %s", u->path);
	for (i = 0; i < u->nfields; i++) {
		free(u->fields[i].name);
		free(u->fields[i].value);
	}
	multipart_free(u->mp);
	buf_release(&u->value);
	free(u->cur_name);
	free(u->path);
	free(u->filename);
	free(u->ctype);
	free(u->wbuf);
	free(u->dir);
	free(u);
}
