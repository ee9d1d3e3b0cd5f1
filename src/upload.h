/*
 * upload: a multipart request body streamed to a temporary file, its text
 * fields, and the safe turning of that file into an app source tree
 * (sniff, extract, unwrap, detect the kind, check config.yaml or the
 * compose file).  Shared by POST /upload, POST /templates and the
 * container API.  On any failure nothing is left behind.
 */
#ifndef SLIPWAY_UPLOAD_H
#define SLIPWAY_UPLOAD_H

#include <stdint.h>

#include "form.h"

struct req;
struct multipart_upload;

struct upload {
	struct multipart_upload	*mp;
	struct form		 fields;	/* every text field, in order */
	char			*tree;		/* the file, extracted on arrival */
};

/* What a source tree is. */
struct upload_tree {
	char	type[16];	/* docker gradio compose image plugin */
	char	entry[256];	/* gradio entry / plugin module / compose file */
};

/*
 * Stream the (multipart) request body; a file part named "file" (at most
 * max_file bytes) goes to a temporary file under conf->tmp_dir or, if it
 * is a tar or tar.gz, is extracted as it arrives into a fresh
 * <uploads>/<random>.staging (u->tree; see upload.c).  0, or -1
 * with the request error set (400, 413, 415).  Caller frees with
 * upload_free() (which also removes the temporary file).
 */
int	 upload_receive(struct req *, uint64_t max_file, struct upload **out);
int	 upload_has_file(const struct upload *);
void	 upload_free(struct upload *);

/*
 * Turn the uploaded file into the source tree final_dir (which must not
 * exist): a .py file, an archive (extracted securely and unwrapped) or a
 * docker save tar (kept as final_dir/image.tar).  Detects and checks the
 * kind into *tree.  0, or -1 with the request error set and nothing left.
 */
int	 upload_unpack(struct req *, struct upload *, const char *final_dir,
	    struct upload_tree *tree);

/* Detect and check the kind of an existing tree (template deploys). */
int	 upload_check_tree(struct req *, const char *dir,
	    struct upload_tree *tree);

#endif
