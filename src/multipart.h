/*
 * multipart: a streaming multipart/form-data parser (RFC 7578, RFC 2046)
 * and, on top of it, the upload collector request handlers use.
 *
 * Memory stays bounded whatever the body size: the parser holds one part's
 * header block (LIMIT_PART_HEADERS) and nothing of the part bodies, which
 * go to the callbacks as they arrive; the collector keeps at most
 * LIMIT_FORM_FIELDS text fields of LIMIT_FIELD_VALUE bytes and streams the
 * one file part to disk through a UPLOAD_WRITE_BUF buffer.
 *
 * Parser rules (strict; anything else is malformed):
 * - lines end in CRLF; a delimiter is CRLF "--" boundary, then optional
 *   spaces/tabs and CRLF, or "--" for the close delimiter.  A preamble
 *   before the first delimiter and an epilogue after the close delimiter
 *   are ignored.  "--boundary" followed by any other byte inside a body is
 *   body data (as RFC 2046 bodies may not contain the delimiter anyway).
 * - each part has a Content-Disposition: form-data header with a non-empty
 *   name; filename (quoted-string with \-escapes, or token) and
 *   filename*=UTF-8''pct-encoded (RFC 5987; wins over filename) are read;
 *   Content-Type is passed through; other headers are ignored.  No header
 *   folding, no control bytes but HTAB, no duplicate Content-Disposition,
 *   Content-Type or parameter.
 */
#ifndef SLIPWAY_MULTIPART_H
#define SLIPWAY_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define MULTIPART_BOUNDARY_MAX	70

/*
 * Extract the boundary parameter of a "multipart/form-data" Content-Type
 * (quoted or not; other parameters ignored) and check it: 1..70 RFC 2046
 * bchars, not ending in a space.  Writes out (NUL-terminated) only on
 * success; outsz must hold MULTIPART_BOUNDARY_MAX + 1 bytes.  0 or -1.
 */
int	multipart_boundary(const char *content_type, char *out, size_t outsz);

/*
 * Parser callbacks.  Each returns 0 to go on or -1 to stop the parse (the
 * feed then returns -1 and multipart_error() says "stopped by callback").
 * Strings are borrowed for the duration of the call.  filename is NULL when
 * the part has none, "" when the client sent an empty one; content_type is
 * NULL when absent.  part_data is never called with len 0.
 */
struct multipart_cb {
	int	(*part_begin)(void *arg, const char *name, const char *filename,
		    const char *content_type);
	int	(*part_data)(void *arg, const char *data, size_t len);
	int	(*part_end)(void *arg);
};

struct multipart;

/* NULL if boundary is not a valid boundary.  Free with multipart_free(). */
struct multipart *multipart_new(const char *boundary,
	    const struct multipart_cb *, void *arg);
/* Feed the next bytes of the body, in chunks of any size.  0 or -1; after
 * -1 every later call fails too. */
int	multipart_feed(struct multipart *, const char *data, size_t len);
/* End of body: -1 unless the close delimiter was seen. */
int	multipart_finish(struct multipart *);
/* Why the last call failed: a static string, safe to show a client. */
const char *multipart_error(const struct multipart *);
void	multipart_free(struct multipart *);

/*
 * The upload collector.  Text parts are kept as fields; the part named
 * "file" (with or without a filename) is streamed to a fresh file
 * <dir>/upload-<random> created O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600.
 * Any other part carrying a filename is malformed (one file per request).
 * Text field values may not hold NUL bytes.
 *
 * Client filenames are validated, never rewritten: a filename holding '/'
 * or '\\', NUL or control bytes, invalid UTF-8, more than
 * LIMIT_UPLOAD_FILENAME bytes, or equal to "." or ".." is MP_ERR_FILENAME
 * (so "C:\\x\\app.zip" and "../app.zip" are refused, not trimmed).  An
 * empty filename (a browser's empty file input) counts as no filename.
 */
enum mp_err {
	MP_OK = 0,
	MP_ERR_MALFORMED,	/* not valid multipart/form-data: 400 */
	MP_ERR_TOO_LARGE,	/* file part over max_file_bytes: 413 */
	MP_ERR_TOO_MANY_FIELDS,	/* more than LIMIT_FORM_FIELDS text fields: 400 */
	MP_ERR_FIELD_TOO_LARGE,	/* a text field over LIMIT_FIELD_VALUE: 400 (or 413) */
	MP_ERR_IO,		/* creating or writing the file failed: 500 */
	MP_ERR_DUPLICATE_FILE,	/* a second "file" part: 400 */
	MP_ERR_FILENAME,	/* unacceptable client filename: 400 */
	MP_ERR_TAP,		/* the tap said stop (its owner says why) */
	MP_ERR__MAX
};

struct multipart_upload;

/* NULL if the boundary is invalid.  dir must exist; nothing is created until
 * the file part begins.  Free with multipart_upload_free(). */
struct multipart_upload *multipart_upload_new(const char *boundary,
	    const char *dir, uint64_t max_file_bytes);
/*
 * A tap sees the file part's bytes as they arrive, before they are
 * stored, and is called once more with (NULL, 0) when the part ends.  It
 * returns 0, or -1 to fail the upload with MP_ERR_TAP.  At most one; set
 * it before feeding.
 */
typedef int (*multipart_tap_fn)(void *arg, const char *data, size_t len);
void	multipart_upload_set_tap(struct multipart_upload *,
	    multipart_tap_fn, void *arg);
/*
 * From now on the file part's bytes go to the tap only: the stored file is
 * emptied and stays empty (it still exists, and the size still counts
 * every byte).  For a tap that keeps what it needs itself.  0, or -1 (and
 * MP_ERR_IO) if emptying it failed.
 */
int	multipart_upload_stop_storing(struct multipart_upload *);
/* 0 once multipart_upload_stop_storing() was called, else 1. */
int	multipart_upload_storing(const struct multipart_upload *);

/* After an error every later call returns the same error. */
enum mp_err multipart_upload_feed(struct multipart_upload *,
	    const char *data, size_t len);
/* End of body: flushes and closes the file; MP_ERR_MALFORMED without the
 * close delimiter. */
enum mp_err multipart_upload_finish(struct multipart_upload *);
/* A static, client-safe sentence for the first error (or "" if none). */
const char *multipart_upload_error(const struct multipart_upload *);
/* Stable machine name of an error ("malformed", "too_large", ...). */
const char *mp_err_name(enum mp_err);

/* First value of a field, NULL if absent; borrowed from u. */
const char *multipart_upload_field(const struct multipart_upload *,
	    const char *name);
/* Every value of a repeated field, in body order: a malloc'd array of n
 * borrowed pointers (free the array with free(), not the strings), NULL
 * and *n = 0 if absent. */
const char **multipart_upload_fields(const struct multipart_upload *,
	    const char *name, size_t *n);
/* Number of text fields, and the i-th (name and value borrowed). */
size_t	multipart_upload_nfields(const struct multipart_upload *);
int	multipart_upload_field_at(const struct multipart_upload *, size_t i,
	    const char **name, const char **value);

/* 1 if a "file" part was received (it may be empty). */
int	multipart_upload_has_file(const struct multipart_upload *);
/* Path of the stored file (NULL without one; borrowed). */
const char *multipart_upload_path(const struct multipart_upload *);
/* Validated client filename, NULL when none or empty (borrowed). */
const char *multipart_upload_filename(const struct multipart_upload *);
/* Content-Type the client gave the file part, NULL if none (borrowed). */
const char *multipart_upload_content_type(const struct multipart_upload *);
uint64_t multipart_upload_size(const struct multipart_upload *);
/*
 * Take the stored file: returns its path (caller frees it with free() and
 * now owns the file) or NULL if there is none or finish did not succeed.
 * After this multipart_upload_free() no longer unlinks it.
 */
char	*multipart_upload_take_file(struct multipart_upload *);
/* Closes and unlinks the file unless it was taken.  NULL is fine. */
void	multipart_upload_free(struct multipart_upload *);

#endif
