#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "auth.h"
#include "buf.h"
#include "caps.h"
#include "compose.h"
#include "conf.h"
#include "log.h"
#include "multipart.h"
#include "req.h"
#include "upload.h"
#include "yamlcfg.h"

#define UPLOAD_CHUNK	(64 * 1024)
#define UPLOAD_SNIFF_BYTES	512	/* a tar header: enough to tell tar or gzip */

static int
upload_mp_fail(struct req *r, enum mp_err e, const char *msg,
    uint64_t max_file)
{
	switch (e) {
	case MP_ERR_TOO_LARGE:
		if (max_file == 0)
			return req_fail(r, HERR_BAD_REQUEST, "unexpected_file",
			    "this endpoint takes no file");
		return req_fail(r, HERR_TOO_LARGE, "too_large",
		    "the uploaded file is too large");
	case MP_ERR_IO:
		return req_fail(r, HERR_INTERNAL, "io",
		    "could not store the upload");
	case MP_ERR_FIELD_TOO_LARGE:
		return req_fail(r, HERR_TOO_LARGE, "field_too_large",
		    "a form field is too large");
	default:
		return req_fail(r, HERR_BAD_REQUEST, mp_err_name(e),
		    "malformed multipart body: %s", msg ? msg : "invalid");
	}
}

/* A failed extraction as the request's error. */
static int
upload_archive_fail(struct req *r, enum archive_result ar, const char *err)
{
	return req_fail(r, ar == ARCHIVE_RES_TOO_LARGE ? HERR_TOO_LARGE :
	    ar == ARCHIVE_RES_IO ? HERR_INTERNAL : HERR_BAD_REQUEST,
	    archive_result_name(ar), "%s", err);
}

void
upload_free(struct upload *u)
{
	if (u == NULL)
		return;
	if (u->tree != NULL)
		(void)tree_remove(u->tree);
	free(u->tree);
	multipart_upload_free(u->mp);	/* unlinks the file unless taken */
	form_free(&u->fields);
	free(u);
}

int
upload_has_file(const struct upload *u)
{
	return multipart_upload_has_file(u->mp);
}

/*
 * Receiving, with extraction on the way in.  A tar or tar.gz file part is
 * unpacked as it arrives (archive_extract_stream() pulls it from the
 * request through the parser), so a big upload is written to disk once,
 * not stored and then read back.  Until its first entry is written the raw
 * bytes are stored as well; if the part turns out not to be a tar, or its
 * first entry looks like docker save output (an image is kept whole for
 * docker load), or it is refused before anything was written, receiving
 * goes on storing and upload_unpack() works from the stored file.
 */
enum upload_mode {
	UPLOAD_SNIFF,		/* waiting for the file's first bytes */
	UPLOAD_STORE,		/* storing the file only */
	UPLOAD_EXTRACT,		/* extracting as it arrives */
	UPLOAD_EXTRACTED	/* done: the rest of the part is not needed */
};

struct upload_rx {
	struct req		*r;
	struct upload		*u;
	uint64_t		 max_file;
	char			*chunk;
	struct buf		 pend;	/* file bytes the extractor has not had */
	int			 pend_given;	/* ... until the next read */
	enum upload_mode	 mode;
	int			 file_end;
	int			 body_end;
	int			 failed;	/* the request error is set */
};

/* The multipart tap: file bytes for the extractor (or the sniff). */
static int
upload_tap(void *arg, const char *data, size_t len)
{
	struct upload_rx *x = arg;

	if (len == 0)
		x->file_end = 1;
	else if (x->mode == UPLOAD_SNIFF || x->mode == UPLOAD_EXTRACT)
		buf_add(&x->pend, data, len);
	return 0;
}

/* One chunk of the body into the parser: 1, 0 at its end, or -1 with the
 * request error set. */
static int
upload_pump(struct upload_rx *x)
{
	enum mp_err e;
	ssize_t n;

	if (x->body_end)
		return 0;
	if ((n = req_read(x->r, x->chunk, UPLOAD_CHUNK)) < 0) {
		req_fail(x->r, HERR_BAD_REQUEST, "body_read",
		    "the upload was interrupted");
		x->failed = 1;
		return -1;
	}
	if (n == 0) {
		x->body_end = 1;
		e = multipart_upload_finish(x->u->mp);
	} else
		e = multipart_upload_feed(x->u->mp, x->chunk, (size_t)n);
	if (e != MP_OK) {
		upload_mp_fail(x->r, e, multipart_upload_error(x->u->mp),
		    x->max_file);
		x->failed = 1;
		return -1;
	}
	return n > 0;
}

/* archive_source read(): the next file bytes, pulled through the parser. */
static ssize_t
upload_rx_read(void *arg, const void **buf)
{
	struct upload_rx *x = arg;
	int r;

	if (x->pend_given)	/* the extractor is done with the last ones */
		buf_reset(&x->pend);
	while (x->pend.len == 0 && !x->file_end)
		if ((r = upload_pump(x)) <= 0)
			return r == 0 ? 0 : -1;
	*buf = x->pend.data;
	x->pend_given = 1;
	return (ssize_t)x->pend.len;
}

/*
 * Top-level names docker save (legacy and OCI) and podman save begin
 * with: such a tar is an image, kept whole.
 */
static int
upload_image_like(const char *name)
{
	static const char *const names[] = { "manifest.json", "repositories",
	    "index.json", "oci-layout", "blobs" };
	size_t n = strcspn(name, "/"), i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (n == strlen(names[i]) && strncmp(name, names[i], n) == 0)
			return 1;
	/* <sha256>/, <sha256>.json, <sha256>.tar */
	if (!(n == 64 || (n == 69 && strncmp(name + 64, ".json", 5) == 0) ||
	    (n == 68 && strncmp(name + 64, ".tar", 4) == 0)))
		return 0;
	for (i = 0; i < 64; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

/* archive_source first(): extract, or keep storing (an image). */
static int
upload_rx_first(void *arg, const char *name)
{
	struct upload_rx *x = arg;

	if (upload_image_like(name))
		return -1;
	/* From here on the extraction is the upload. */
	return multipart_upload_stop_storing(x->u->mp);
}

/* A fresh <uploads>/<random>.staging (cleaned at start if orphaned). */
static char *
upload_staging_dir(const struct conf *conf)
{
	struct buf path = BUF_INIT;
	char id[APP_ID_LEN + 1];
	int tries;

	for (tries = 0; tries < 8; tries++) {
		auth_random_id(id, APP_ID_LEN);
		buf_reset(&path);
		buf_printf(&path, "%s/%s.staging", conf->uploads_dir, id);
		if (mkdir(path.data, 0755) == 0)
			return buf_detach(&path, NULL);
		if (errno != EEXIST) {
			log_warn("mkdir %s", path.data);
			break;
		}
	}
	buf_release(&path);
	return NULL;
}

/*
 * The file's first bytes are in: extract it while it arrives if it is a
 * tar or gzip, else store it.  0 (receiving goes on in the mode now set),
 * or -1 with the request error set.
 */
static int
upload_rx_decide(struct upload_rx *x)
{
	const unsigned char *p = (const unsigned char *)x->pend.data;
	struct archive_source src;
	enum archive_result ar;
	char err[512];
	int tar, gz;

	tar = x->pend.len >= UPLOAD_SNIFF_BYTES && memcmp(p + 257, "ustar", 5) == 0;
	gz = x->pend.len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
	x->mode = UPLOAD_STORE;
	if ((!tar && !gz) ||
	    (x->u->tree = upload_staging_dir(x->r->conf)) == NULL) {
		buf_release(&x->pend);
		return 0;
	}
	memset(&src, 0, sizeof(src));
	src.read = upload_rx_read;
	src.first = upload_rx_first;
	src.arg = x;
	src.size_hint = x->r->content_length;
	/* The bytes already in pend are the extractor's first read. */
	x->mode = UPLOAD_EXTRACT;
	ar = archive_extract_stream(&src, x->u->tree, NULL, err, sizeof(err));
	if (x->failed)
		return -1;
	if (ar == ARCHIVE_RES_OK) {
		x->mode = UPLOAD_EXTRACTED;
		buf_release(&x->pend);
		return 0;
	}
	if (!multipart_upload_storing(x->u->mp)) {
		/* Refused after entries were written: the upload is refused. */
		upload_archive_fail(x->r, ar, err);
		x->failed = 1;
		return -1;
	}
	/* Declined or refused before writing: every byte is stored. */
	(void)tree_remove(x->u->tree);
	free(x->u->tree);
	x->u->tree = NULL;
	x->mode = UPLOAD_STORE;
	buf_release(&x->pend);
	return 0;
}

int
upload_receive(struct req *r, uint64_t max_file, struct upload **out)
{
	char boundary[MULTIPART_BOUNDARY_MAX + 1];
	struct upload_rx x;
	struct upload *u = NULL;
	const char *name, *value;
	size_t i;
	int n;

	if (r->content_type == NULL || multipart_boundary(r->content_type,
	    boundary, sizeof(boundary)) == -1)
		return req_fail(r, HERR_UNSUPPORTED, "unsupported_media_type",
		    "send multipart/form-data with a boundary");
	if (r->content_length > max_file + LIMIT_JSON_BODY)
		return req_fail(r, HERR_TOO_LARGE, "too_large",
		    "upload larger than the limit");
	u = xcalloc(1, sizeof(*u));
	u->mp = multipart_upload_new(boundary, r->conf->tmp_dir, max_file);
	if (u->mp == NULL) {
		free(u);
		return req_fail(r, HERR_INTERNAL, "io", "cannot start upload");
	}
	memset(&x, 0, sizeof(x));
	x.r = r;
	x.u = u;
	x.max_file = max_file;
	x.chunk = xmalloc(UPLOAD_CHUNK);
	buf_init(&x.pend);
	x.mode = max_file > 0 ? UPLOAD_SNIFF : UPLOAD_STORE;
	if (x.mode == UPLOAD_SNIFF)
		multipart_upload_set_tap(u->mp, upload_tap, &x);
	while ((n = upload_pump(&x)) > 0)
		if (x.mode == UPLOAD_SNIFF &&
		    (x.pend.len >= UPLOAD_SNIFF_BYTES || x.file_end) &&
		    upload_rx_decide(&x) == -1)
			goto fail;
	if (n == -1)
		goto fail;
	for (i = 0; i < multipart_upload_nfields(u->mp); i++) {
		if (multipart_upload_field_at(u->mp, i, &name, &value) == -1)
			continue;
		if (form_add(&u->fields, name, value, strlen(value)) == -1) {
			req_fail(r, HERR_BAD_REQUEST, "too_many_fields",
			    "too many form fields");
			goto fail;
		}
	}
	multipart_upload_set_tap(u->mp, NULL, NULL);
	buf_release(&x.pend);
	free(x.chunk);
	*out = u;
	return 0;
fail:
	buf_release(&x.pend);
	free(x.chunk);
	upload_free(u);
	return -1;
}

/* The tree's kind, checked: plugin config and compose file validated. */
int
upload_check_tree(struct req *r, const char *dir, struct upload_tree *t)
{
	struct app_detect det;
	struct plugin_config pc;
	struct compose_info ci;
	struct buf path = BUF_INIT;
	char err[512];
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if (archive_detect_app(dir, &det) == -1)
		return req_fail(r, HERR_BAD_REQUEST, "no_app",
		    "no app found: expected a Dockerfile, a compose file, a "
		    "config.yaml, a .py file or a docker save image");
	(void)str_copy(t->type, sizeof(t->type),
	    archive_app_kind_name(det.kind));
	(void)str_copy(t->entry, sizeof(t->entry), det.entry);
	switch (det.kind) {
	case ARCHIVE_APP_PLUGIN:
		buf_printf(&path, "%s/config.yaml", dir);
		if (plugin_config_load(path.data, &pc, err, sizeof(err)) == -1 ||
		    plugin_config_check_tree(&pc, dir, err, sizeof(err)) == -1) {
			req_fail(r, HERR_BAD_REQUEST, "bad_plugin", "%s", err);
			goto out;
		}
		(void)str_copy(t->entry, sizeof(t->entry), pc.module_file);
		break;
	case ARCHIVE_APP_COMPOSE:
		buf_printf(&path, "%s/%s", dir, det.entry);
		memset(&ci, 0, sizeof(ci));
		if (compose_check(path.data, dir, &ci, err, sizeof(err)) == -1) {
			req_fail(r, HERR_BAD_REQUEST, "bad_compose", "%s", err);
			goto out;
		}
		compose_info_free(&ci);
		break;
	case ARCHIVE_APP_IMAGE:
		/* a zipped docker save: the agent loads <dir>/image.tar */
		if (strcmp(det.entry, "image.tar") != 0) {
			struct buf to = BUF_INIT;

			buf_printf(&path, "%s/%s", dir, det.entry);
			buf_printf(&to, "%s/image.tar", dir);
			if (rename(path.data, to.data) == -1) {
				log_warn("rename %s", path.data);
				buf_release(&to);
				req_fail(r, HERR_INTERNAL, "io",
				    "could not store the image");
				goto out;
			}
			buf_release(&to);
			(void)str_copy(t->entry, sizeof(t->entry), "image.tar");
		}
		break;
	default:
		break;
	}
	rc = 0;
out:
	buf_release(&path);
	return rc;
}

/* Is name a safe *.py basename? */
static int
upload_py_name(const char *name)
{
	size_t n = name ? strlen(name) : 0, i;

	if (n < 4 || n > 128 || strcmp(name + n - 3, ".py") != 0 ||
	    name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
		    name[i] == '-' || name[i] == '.'))
			return 0;
	return 1;
}

/*
 * The tree extracted on arrival, into place in staging: unwrapped names
 * the directory to become the app's (a docker save image after all is
 * tarred again into staging/image.tar).  0 or -1 with the error set.
 */
static int
upload_place_tree(struct req *r, struct upload *u, const char *staging,
    char *unwrapped, size_t sz)
{
	struct buf dst = BUF_INIT;
	int rc = -1;

	if (archive_tree_is_image(u->tree)) {
		buf_printf(&dst, "%s/image.tar", staging);
		if (archive_write_tar_file(u->tree, dst.data) == -1) {
			req_fail(r, HERR_INTERNAL, "io",
			    "could not store the image");
			goto out;
		}
		(void)str_copy(unwrapped, sz, staging);
	} else if (archive_unwrap(u->tree, unwrapped, sz) == -1) {
		req_fail(r, HERR_INTERNAL, "io", "could not read upload");
		goto out;
	}
	rc = 0;
out:
	buf_release(&dst);
	return rc;
}

/* The stored file, sniffed, into staging: the same as above. */
static int
upload_place_file(struct req *r, struct upload *u, const char *staging,
    char *unwrapped, size_t sz)
{
	struct buf dst = BUF_INIT;
	char err[512];
	const char *fname = multipart_upload_filename(u->mp);
	const char *tmp = multipart_upload_path(u->mp);
	enum archive_result ar;
	int rc = -1;

	switch (archive_sniff(tmp, fname)) {
	case ARCHIVE_KIND_PYTHON:
		if (!upload_py_name(fname)) {
			req_fail(r, HERR_BAD_REQUEST, "bad_filename",
			    "a Python file name must be [A-Za-z0-9_.-]+.py");
			goto out;
		}
		buf_printf(&dst, "%s/%s", staging, fname);
		if (rename(tmp, dst.data) == -1) {
			log_warn("rename %s", dst.data);
			req_fail(r, HERR_INTERNAL, "io", "could not store");
			goto out;
		}
		(void)str_copy(unwrapped, sz, staging);
		break;
	case ARCHIVE_KIND_DOCKER_SAVE:
		buf_printf(&dst, "%s/image.tar", staging);
		if (rename(tmp, dst.data) == -1) {
			log_warn("rename %s", dst.data);
			req_fail(r, HERR_INTERNAL, "io", "could not store");
			goto out;
		}
		(void)str_copy(unwrapped, sz, staging);
		break;
	case ARCHIVE_KIND_ZIP:
	case ARCHIVE_KIND_TAR:
	case ARCHIVE_KIND_TARGZ:
		ar = archive_extract(tmp, staging, NULL, err, sizeof(err));
		if (ar != ARCHIVE_RES_OK) {
			upload_archive_fail(r, ar, err);
			goto out;
		}
		if (archive_unwrap(staging, unwrapped, sz) == -1) {
			req_fail(r, HERR_INTERNAL, "io", "could not read upload");
			goto out;
		}
		break;
	default:
		req_fail(r, HERR_BAD_REQUEST, "unsupported_file",
		    "upload a .py file, a .zip, a .tar/.tar.gz/.tgz archive "
		    "or a docker save tar");
		goto out;
	}
	rc = 0;
out:
	buf_release(&dst);
	return rc;
}

int
upload_unpack(struct req *r, struct upload *u, const char *final_dir,
    struct upload_tree *t)
{
	struct buf staging = BUF_INIT;
	char unwrapped[4096];
	int rc = -1, made = 0, placed = 0;

	if (!multipart_upload_has_file(u->mp) ||
	    multipart_upload_path(u->mp) == NULL)
		return req_fail(r, HERR_BAD_REQUEST, "missing_file",
		    "a file is required (form field 'file')");
	if (multipart_upload_size(u->mp) == 0)
		return req_fail(r, HERR_BAD_REQUEST, "empty_file",
		    "the uploaded file is empty");
	buf_printf(&staging, "%s.staging", final_dir);
	if (mkdir(staging.data, 0755) == -1) {
		log_warn("mkdir %s", staging.data);
		req_fail(r, HERR_INTERNAL, "io", "could not store the upload");
		goto out;
	}
	made = 1;
	if ((u->tree != NULL ? upload_place_tree(r, u, staging.data,
	    unwrapped, sizeof(unwrapped)) : upload_place_file(r, u,
	    staging.data, unwrapped, sizeof(unwrapped))) == -1)
		goto out;
	if (rename(unwrapped, final_dir) == -1 && (errno != EXDEV ||
	    tree_copy(unwrapped, final_dir) == -1)) {
		log_warn("rename %s", unwrapped);
		req_fail(r, HERR_INTERNAL, "io", "could not store the upload");
		goto out;
	}
	placed = 1;
	if (upload_check_tree(r, final_dir, t) == -1)
		goto out;
	rc = 0;
out:
	if (made)
		(void)tree_remove(staging.data);	/* empty or wrapper */
	if (u->tree != NULL) {
		(void)tree_remove(u->tree);	/* moved, a wrapper, or an image */
		free(u->tree);
		u->tree = NULL;
	}
	if (rc == -1 && placed)
		(void)tree_remove(final_dir);
	buf_release(&staging);
	return rc;
}
