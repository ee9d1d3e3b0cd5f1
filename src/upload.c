#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "buf.h"
#include "caps.h"
#include "compose.h"
#include "conf.h"
#include "log.h"
#include "multipart.h"
#include "req.h"
#include "upload.h"
#include "upload_int.h"
#include "yamlcfg.h"


int
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
