/*
 * upload_rx: receiving a multipart upload, with extraction on the way in.
 *
 * A tar or tar.gz file part is unpacked as it arrives, so a big upload is
 * written to disk once, not stored and then read back.  Until its first
 * entry is written the raw bytes are stored as well; if the part turns
 * out not to be a tar, or its first entry looks like docker save output
 * (an image is kept whole for docker load), or it is refused before
 * anything was written, receiving goes on storing and upload_unpack()
 * works from the stored file as for any other upload.
 *
 * Two threads while a tar streams in.  Writing to the page cache costs
 * the worker as much as everything else it does with an upload; done in
 * line, the socket from nginx fills whenever the worker writes and both
 * stall (measured: 0.92 s for 1 GiB, against 0.4 s when the bytes are
 * read and dropped).  So once the part is known to be a tar, a receiver
 * thread takes over the request: it reads the body (libfcgi), parses it
 * (the multipart collector, which also stores the raw bytes) and queues
 * the file's bytes in blocks; the calling thread extracts them
 * (libarchive, with its working-directory dance, stays where it was).
 * The request, the collector and the stored file belong to the receiver
 * until it is joined; the queue and the flags below are shared under mu.
 * The receiver blocks every signal: they stay the calling thread's.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "auth.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "log.h"
#include "multipart.h"
#include "req.h"
#include "upload.h"
#include "upload_int.h"

#define RX_CHUNK	(256 * 1024)	/* bytes asked of the request per read */
#define RX_BLOCK	(256 * 1024)	/* one queue block */
#define RX_BLOCKS	8		/* queue depth: 2 MiB in flight */
#define RX_SNIFF_BYTES	512		/* a tar header: enough to tell tar or gzip */

enum rx_mode {
	RX_SNIFF,		/* waiting for the file's first bytes */
	RX_STORE,		/* storing the file only */
	RX_EXTRACT,		/* queueing the file's bytes for the extractor */
	RX_DONE			/* extracted: the rest of the part is not needed */
};

struct rx_block {
	char	*data;
	size_t	 len;
};

struct upload_rx {
	struct req		*r;
	struct upload		*u;
	uint64_t		 max_file;
	char			*chunk;
	struct buf		 sniff;		/* the file's first bytes */
	int			 body_end;	/* receiver's own */
	size_t			 fill;		/* receiver: bytes in q[tail] */

	pthread_mutex_t		 mu;		/* guards what follows */
	pthread_cond_t		 cv;
	enum rx_mode		 mode;
	int			 file_end;	/* the file part ended */
	int			 rx_done;	/* the receiver stopped */
	int			 failed;	/* the request error is set */
	int			 started;	/* the first entry was written */
	int			 stop;		/* the receiver should stop */
	int			 given;		/* the extractor holds q[head] */
	size_t			 head, tail;	/* queued: q[head..tail) mod N */
	struct rx_block		 q[RX_BLOCKS];
};

static int
rx_mp_fail(struct req *r, enum mp_err e, const char *msg, uint64_t max_file)
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

/*
 * One chunk of the body into the collector: 1, 0 at its end, or -1 with
 * the request error set.
 */
static int
rx_pump(struct upload_rx *x)
{
	enum mp_err e;
	ssize_t n;

	if (x->body_end)
		return 0;
	if ((n = req_read(x->r, x->chunk, RX_CHUNK)) < 0)
		return req_fail(x->r, HERR_BAD_REQUEST, "body_read",
		    "the upload was interrupted");
	if (n == 0) {
		x->body_end = 1;
		e = multipart_upload_finish(x->u->mp);
	} else
		e = multipart_upload_feed(x->u->mp, x->chunk, (size_t)n);
	if (e != MP_OK)
		return rx_mp_fail(x->r, e, multipart_upload_error(x->u->mp),
		    x->max_file);
	return n > 0;
}

/* Receiver: hand the block being filled to the extractor (mu held). */
static void
rx_publish(struct upload_rx *x)
{
	if (x->fill == 0)
		return;
	x->q[x->tail % RX_BLOCKS].len = x->fill;
	x->tail++;
	x->fill = 0;
	pthread_cond_broadcast(&x->cv);
}

/*
 * Queue file bytes for the extractor (mu held), waiting for room; bytes
 * are dropped once the extractor is no longer taking them.
 */
static void
rx_enqueue(struct upload_rx *x, const char *data, size_t len)
{
	struct rx_block *b;
	size_t n;

	while (len > 0 && x->mode == RX_EXTRACT && !x->stop) {
		if (x->fill == 0 && x->tail - x->head == RX_BLOCKS) {
			pthread_cond_wait(&x->cv, &x->mu);
			continue;
		}
		/* q[tail] is the receiver's until published */
		b = &x->q[x->tail % RX_BLOCKS];
		n = RX_BLOCK - x->fill < len ? RX_BLOCK - x->fill : len;
		pthread_mutex_unlock(&x->mu);
		memcpy(b->data + x->fill, data, n);
		pthread_mutex_lock(&x->mu);
		x->fill += n;
		data += n;
		len -= n;
		if (x->fill == RX_BLOCK)
			rx_publish(x);
	}
}

/*
 * The collector's tap, in whichever thread feeds it: the file's first
 * bytes for the sniff, then its bytes for the extractor.  Bytes it drops
 * are still stored while the collector stores.
 */
static int
rx_tap(void *arg, const char *data, size_t len)
{
	struct upload_rx *x = arg;
	int stop_storing;

	pthread_mutex_lock(&x->mu);
	if (len == 0) {
		rx_publish(x);
		x->file_end = 1;
		pthread_cond_broadcast(&x->cv);
		pthread_mutex_unlock(&x->mu);
		return 0;
	}
	if (x->mode == RX_SNIFF) {
		pthread_mutex_unlock(&x->mu);
		buf_add(&x->sniff, data, len);	/* at most one chunk more */
		return 0;
	}
	rx_enqueue(x, data, len);
	stop_storing = x->started;
	pthread_mutex_unlock(&x->mu);
	/* Once an entry is written the extraction is the upload. */
	if (stop_storing && multipart_upload_storing(x->u->mp))
		return multipart_upload_stop_storing(x->u->mp);
	return 0;
}

/* The receiver thread: the rest of the body, until its end or told to stop. */
static void *
rx_main(void *arg)
{
	struct upload_rx *x = arg;
	int r, stop;

	for (;;) {
		pthread_mutex_lock(&x->mu);
		stop = x->stop;
		pthread_mutex_unlock(&x->mu);
		if (stop)
			break;
		r = rx_pump(x);
		pthread_mutex_lock(&x->mu);
		if (r == -1)
			x->failed = 1;
		else
			rx_publish(x);	/* small bodies flow too */
		pthread_mutex_unlock(&x->mu);
		if (r <= 0)
			break;
	}
	pthread_mutex_lock(&x->mu);
	x->rx_done = 1;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

/* archive_source read(), in the extracting thread: the next block. */
static ssize_t
rx_read(void *arg, const void **buf)
{
	struct upload_rx *x = arg;
	struct rx_block *b;
	ssize_t n = -1;

	pthread_mutex_lock(&x->mu);
	if (x->given) {		/* the extractor is done with the last one */
		x->head++;
		x->given = 0;
		pthread_cond_broadcast(&x->cv);
	}
	while (x->head == x->tail && !x->file_end && !x->failed &&
	    !x->rx_done)
		pthread_cond_wait(&x->cv, &x->mu);
	if (x->head != x->tail) {
		b = &x->q[x->head % RX_BLOCKS];
		*buf = b->data;
		n = (ssize_t)b->len;
		x->given = 1;
	} else if (x->file_end && !x->failed)
		n = 0;
	pthread_mutex_unlock(&x->mu);
	return n;
}

/*
 * Top-level names docker save (legacy and OCI) and podman save begin
 * with: such a tar is an image, kept whole.
 */
static int
rx_image_like(const char *name)
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

/* archive_source first(), in the extracting thread. */
static int
rx_first(void *arg, const char *name)
{
	struct upload_rx *x = arg;

	if (rx_image_like(name))
		return -1;
	pthread_mutex_lock(&x->mu);
	x->started = 1;		/* the receiver stops storing */
	pthread_mutex_unlock(&x->mu);
	return 0;
}

/* A fresh <uploads>/<random>.staging (removed at start if orphaned). */
static char *
rx_staging_dir(const struct conf *conf)
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

/* Start the receiver with every signal blocked.  0 or -1. */
static int
rx_spawn(struct upload_rx *x, pthread_t *tid)
{
	sigset_t all, old;
	int e;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(tid, NULL, rx_main, x);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		errno = e;
		log_warn("pthread_create");
		return -1;
	}
	return 0;
}

/*
 * The file's first bytes are in: if they start a tar or a gzip stream,
 * extract it while a receiver thread reads the rest; else store it.  0
 * (the caller reads on, to the end of the body, in the mode now set), or
 * -1 with the request error set.
 */
static int
rx_extract(struct upload_rx *x)
{
	const unsigned char *p = (const unsigned char *)x->sniff.data;
	struct archive_source src;
	enum archive_result ar;
	pthread_t tid;
	char err[512];
	size_t i;
	int tar, gz, threaded = 0, rc = 0;

	tar = x->sniff.len >= RX_SNIFF_BYTES && memcmp(p + 257, "ustar", 5) == 0;
	gz = x->sniff.len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
	x->mode = RX_STORE;
	if ((!tar && !gz) ||
	    (x->u->tree = rx_staging_dir(x->r->conf)) == NULL)
		goto out;
	for (i = 0; i < RX_BLOCKS; i++)
		x->q[i].data = xmalloc(RX_BLOCK);
	/* What the sniff saw is the extractor's first read. */
	pthread_mutex_lock(&x->mu);
	x->mode = RX_EXTRACT;
	rx_enqueue(x, x->sniff.data, x->sniff.len);
	rx_publish(x);
	pthread_mutex_unlock(&x->mu);
	/* The rest of the file, if any, comes through a receiver thread. */
	if (x->file_end)
		x->rx_done = 1;
	else if (rx_spawn(x, &tid) == -1) {
		req_fail(x->r, HERR_INTERNAL, "io", "cannot receive the upload");
		rc = -1;
		goto out;
	} else
		threaded = 1;

	memset(&src, 0, sizeof(src));
	src.read = rx_read;
	src.first = rx_first;
	src.arg = x;
	src.size_hint = x->r->content_length;
	ar = archive_extract_stream(&src, x->u->tree, NULL, err, sizeof(err));

	pthread_mutex_lock(&x->mu);
	if (ar == ARCHIVE_RES_OK)
		x->mode = RX_DONE;	/* read on: fields may follow */
	else if (!x->started)
		x->mode = RX_STORE;	/* every byte was stored: go on */
	else
		x->stop = 1;		/* refused midway: stop reading */
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	/* The receiver reads the body to its end, or stops when told. */
	if (threaded)
		pthread_join(tid, NULL);

	if (x->failed)
		rc = -1;	/* the receiver's error is the request's */
	else if (ar != ARCHIVE_RES_OK && x->started) {
		upload_archive_fail(x->r, ar, err);
		rc = -1;
	} else if (ar != ARCHIVE_RES_OK) {
		/* Declined, or refused before writing: the stored file. */
		(void)tree_remove(x->u->tree);
		free(x->u->tree);
		x->u->tree = NULL;
	}
out:
	for (i = 0; i < RX_BLOCKS; i++) {
		free(x->q[i].data);
		x->q[i].data = NULL;
	}
	buf_release(&x->sniff);
	return rc;
}

int
upload_receive(struct req *r, uint64_t max_file, struct upload **out)
{
	char boundary[MULTIPART_BOUNDARY_MAX + 1];
	struct upload_rx x;
	struct upload *u = NULL;
	const char *name, *value;
	size_t i;
	int n, rc = -1;

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
	x.chunk = xmalloc(RX_CHUNK);
	buf_init(&x.sniff);
	pthread_mutex_init(&x.mu, NULL);
	pthread_cond_init(&x.cv, NULL);
	x.mode = max_file > 0 ? RX_SNIFF : RX_STORE;
	if (x.mode == RX_SNIFF)
		multipart_upload_set_tap(u->mp, rx_tap, &x);
	while ((n = rx_pump(&x)) > 0)
		if (x.mode == RX_SNIFF &&
		    (x.sniff.len >= RX_SNIFF_BYTES || x.file_end) &&
		    rx_extract(&x) == -1)
			goto out;
	if (n == -1)
		goto out;
	for (i = 0; i < multipart_upload_nfields(u->mp); i++) {
		if (multipart_upload_field_at(u->mp, i, &name, &value) == -1)
			continue;
		if (form_add(&u->fields, name, value, strlen(value)) == -1) {
			req_fail(r, HERR_BAD_REQUEST, "too_many_fields",
			    "too many form fields");
			goto out;
		}
	}
	rc = 0;
out:
	multipart_upload_set_tap(u->mp, NULL, NULL);
	pthread_cond_destroy(&x.cv);
	pthread_mutex_destroy(&x.mu);
	buf_release(&x.sniff);
	free(x.chunk);
	if (rc == -1)
		upload_free(u);
	else
		*out = u;
	return rc;
}
