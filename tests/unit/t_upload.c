#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
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
#include "conf.h"
#include "req.h"
#include "tap.h"
#include "upload.h"

/*
 * upload_receive() and upload_unpack() on bodies fed through req_read()
 * in steps of various sizes: tars extracted as they arrive (through the
 * receiver thread), the stored-file path for the rest, and refusals
 * midway that must leave nothing in var/tmp or var/uploads.
 */

#define B "sLiPwAy"

static char top[64], tmpdir[128], upldir[128];
static struct conf conf;

enum fmt { TAR, TARGZ, ZIP };

struct ent {
	const char	*name;
	char		 type;	/* f file, d dir, l symlink */
	const char	*data;	/* content or link target */
	size_t		 fill;	/* a file of this many pseudo-random bytes */
};

static void
fill_bytes(char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char)(seed >> 16);
	}
}

/* An archive in memory. */
static void
mk(struct buf *out, enum fmt fmt, const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae;
	size_t cap = 8u << 20, used = 0, i, len;
	char *mem = xmalloc(cap), *data;

	if (fmt == ZIP)
		archive_write_set_format_zip(a);
	else
		archive_write_set_format_pax_restricted(a);
	if (fmt == TARGZ)
		archive_write_add_filter_gzip(a);
	if (archive_write_open_memory(a, mem, cap, &used) != ARCHIVE_OK)
		abort();
	for (i = 0; i < n; i++) {
		ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].name);
		data = NULL;
		len = 0;
		if (e[i].type == 'd') {
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, 0755);
		} else if (e[i].type == 'l') {
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_perm(ae, 0777);
			archive_entry_set_symlink(ae, e[i].data);
		} else {
			len = e[i].fill ? e[i].fill : strlen(e[i].data);
			data = xmalloc(len + 1);
			if (e[i].fill)
				fill_bytes(data, len, (unsigned)i + 7);
			else
				memcpy(data, e[i].data, len);
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, 0644);
			archive_entry_set_size(ae, (la_int64_t)len);
		}
		if (archive_write_header(a, ae) != ARCHIVE_OK ||
		    (len > 0 && archive_write_data(a, data, len) !=
		    (la_ssize_t)len))
			abort();
		free(data);
		archive_entry_free(ae);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		abort();
	archive_write_free(a);
	buf_reset(out);
	buf_add(out, mem, used);
	free(mem);
}

/* A multipart body: name (before or after the file) and the file. */
static void
body(struct buf *out, const char *fname, const struct buf *file, int name_first)
{
	buf_reset(out);
	if (name_first)
		buf_printf(out, "--" B "\r\nContent-Disposition: form-data; "
		    "name=\"name\"\r\n\r\nmyapp\r\n");
	buf_printf(out, "--" B "\r\nContent-Disposition: form-data; "
	    "name=\"file\"; filename=\"%s\"\r\nContent-Type: "
	    "application/octet-stream\r\n\r\n", fname);
	buf_add(out, file->data, file->len);
	buf_adds(out, "\r\n");
	if (!name_first)
		buf_printf(out, "--" B "\r\nContent-Disposition: form-data; "
		    "name=\"name\"\r\n\r\nmyapp\r\n");
	buf_adds(out, "--" B "--\r\n");
}

static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
req_for(struct req *r, const struct buf *b, size_t step)
{
	req_init_test(r, "POST", "/upload", NULL);
	r->conf = &conf;
	r->content_type = xstrdup("multipart/form-data; boundary=" B);
	r->content_length = b->len;
	r->test_in = b->data;
	r->test_in_len = b->len;
	r->test_in_step = step;
}

static int
same_file(const char *path, const char *data, size_t len)
{
	struct buf f = BUF_INIT;
	char tmp[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY), same;

	if (fd == -1)
		return 0;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(&f, tmp, (size_t)n);
	close(fd);
	same = f.len == len && memcmp(f.data, data, len) == 0;
	buf_release(&f);
	return same;
}

/* Receive and place one body; want the tree's type, or the error code. */
static void
run(const char *desc, const struct buf *b, size_t step, uint64_t max,
    int want_streamed, const char *want_type, const char *want_err)
{
	struct upload *u = NULL;
	struct upload_tree t;
	struct req r;
	char dir[192];
	int rc;

	req_for(&r, b, step);
	str_fmt(dir, sizeof(dir), "%s/app000000001", upldir);
	rc = upload_receive(&r, max, &u);
	if (rc == 0) {
		is(u->tree != NULL, want_streamed, "%s: %s", desc,
		    want_streamed ? "extracted as it arrived" : "stored");
		is_str(form_get(&u->fields, "name"), "myapp",
		    "%s: the name field", desc);
		rc = upload_unpack(&r, u, dir, &t);
	}
	if (want_err == NULL) {
		is(rc, 0, "%s: accepted (%s)", desc,
		    r.err_detail ? r.err_detail : "");
		if (rc == 0)
			is_str(t.type, want_type, "%s: a %s app", desc, want_type);
	} else {
		is(rc, -1, "%s: refused", desc);
		is_str(r.err_code, want_err, "%s: %s (%s)", desc, want_err,
		    r.err_detail ? r.err_detail : "");
	}
	upload_free(u);
	is(entries(tmpdir), 0, "%s: nothing in tmp", desc);
	if (want_err != NULL || rc != 0)
		is(entries(upldir), 0, "%s: nothing in uploads", desc);
	else
		is(entries(upldir), 1, "%s: only the app in uploads", desc);
	req_release(&r);
}

static void
test_tar(void)
{
	static const struct ent flat[] = {
		{ "Dockerfile", 'f', "FROM scratch\n", 0 },
		{ "www/", 'd', NULL, 0 },
		{ "www/big.bin", 'f', NULL, 700000 },
		{ "www/home.html", 'l', "big.bin", 0 },
		{ "www/small.txt", 'f', "small\n", 0 },
	};
	static const struct ent wrapped[] = {
		{ "proj/", 'd', NULL, 0 },
		{ "proj/app.py", 'f', "import gradio\n", 0 },
		{ "proj/data.bin", 'f', NULL, 1500000 },
	};
	static const size_t steps[] = { 0, 1000, 8192, 65536 };
	struct buf a = BUF_INIT, b = BUF_INIT, ref = BUF_INIT;
	char desc[128], p[256];
	size_t i;
	int fmt;

	for (fmt = TAR; fmt <= TARGZ; fmt++)
		for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			mk(&a, (enum fmt)fmt, flat, 5);
			body(&b, "app.tar", &a, (int)(i % 2));
			str_fmt(desc, sizeof(desc), "%s, %zu-byte reads, name %s",
			    fmt == TAR ? "tar" : "tar.gz", steps[i],
			    i % 2 ? "first" : "last");
			run(desc, &b, steps[i], 1u << 30, 1, "docker", NULL);
			buf_reset(&ref);
			buf_grow(&ref, 700000);
			fill_bytes(ref.data, 700000, 2 + 7);
			str_fmt(p, sizeof(p), "%s/app000000001/www/big.bin", upldir);
			ok(same_file(p, ref.data, 700000),
			    "%s: big.bin arrived whole", desc);
			str_fmt(p, sizeof(p), "%s/app000000001", upldir);
			tree_remove(p);
		}
	mk(&a, TARGZ, wrapped, 3);
	body(&b, "app.tgz", &a, 0);
	run("a wrapped tar.gz", &b, 4096, 1u << 30, 1, "gradio", NULL);
	str_fmt(p, sizeof(p), "%s/app000000001/app.py", upldir);
	ok(access(p, F_OK) == 0, "a wrapped tar.gz: unwrapped");
	str_fmt(p, sizeof(p), "%s/app000000001", upldir);
	tree_remove(p);

	/* the whole body in one read: no receiver thread */
	mk(&a, TAR, flat + 4, 1);
	buf_reset(&b);
	body(&b, "x.tar", &a, 0);
	run("a small tar in one read", &b, 0, 1u << 30, 1, "docker", "no_app");
	buf_release(&a);
	buf_release(&b);
	buf_release(&ref);
}

static void
test_stored(void)
{
	static const struct ent z[] = {
		{ "Dockerfile", 'f', "FROM scratch\n", 0 },
		{ "big.bin", 'f', NULL, 600000 },
	};
	static const struct ent save[] = {
		{ "manifest.json", 'f', "[{\"Config\":\"c.json\",\"Layers\":[]}]", 0 },
		{ "c.json", 'f', "{}", 0 },
		{ "pad.bin", 'f', NULL, 600000 },
	};
	static const struct ent late[] = {
		{ "README", 'f', "hand made\n", 0 },
		{ "pad.bin", 'f', NULL, 600000 },
		{ "manifest.json", 'f', "[{\"Config\":\"c.json\",\"Layers\":[]}]", 0 },
		{ "c.json", 'f', "{}", 0 },
	};
	struct buf a = BUF_INIT, b = BUF_INIT;
	char p[256];

	mk(&a, ZIP, z, 2);
	body(&b, "app.zip", &a, 0);
	run("a zip", &b, 8192, 1u << 30, 0, "docker", NULL);
	str_fmt(p, sizeof(p), "%s/app000000001", upldir);
	tree_remove(p);

	mk(&a, TAR, save, 3);
	body(&b, "image.tar", &a, 1);
	run("docker save output", &b, 8192, 1u << 30, 0, "image", NULL);
	str_fmt(p, sizeof(p), "%s/app000000001/image.tar", upldir);
	ok(same_file(p, a.data, a.len), "docker save output: kept byte for byte");
	str_fmt(p, sizeof(p), "%s/app000000001", upldir);
	tree_remove(p);

	mk(&a, TAR, late, 4);
	body(&b, "image.tar", &a, 0);
	run("an image whose first entry is a README", &b, 8192, 1u << 30, 1,
	    "image", NULL);
	str_fmt(p, sizeof(p), "%s/app000000001", upldir);
	is(entries(p), 1, "  ... only image.tar in its tree");
	tree_remove(p);

	buf_reset(&a);
	buf_adds(&a, "import gradio as gr\n");
	body(&b, "app.py", &a, 0);
	run("a .py file", &b, 7, 1u << 30, 0, "gradio", NULL);
	str_fmt(p, sizeof(p), "%s/app000000001", upldir);
	tree_remove(p);
	buf_release(&a);
	buf_release(&b);
}

static void
test_refused(void)
{
	static const struct ent late_link[] = {
		{ "Dockerfile", 'f', "FROM scratch\n", 0 },
		{ "big.bin", 'f', NULL, 900000 },
		{ "etc", 'l', "/etc", 0 },
	};
	static const struct ent first_bad[] = {
		{ "../escape", 'f', "x\n", 0 },
		{ "Dockerfile", 'f', "FROM scratch\n", 0 },
	};
	static const struct ent big[] = {
		{ "Dockerfile", 'f', "FROM scratch\n", 0 },
		{ "big.bin", 'f', NULL, 2000000 },
	};
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct upload *u = NULL;
	struct req r;

	mk(&a, TAR, late_link, 3);
	body(&b, "x.tar", &a, 0);
	run("a symlink to /etc after 900 KB", &b, 8192, 1u << 30, 0, "",
	    "unsafe");
	mk(&a, TARGZ, late_link, 3);
	body(&b, "x.tgz", &a, 1);
	run("the same, gzipped", &b, 0, 1u << 30, 0, "", "unsafe");
	/* refused at its first entry: the stored file says the same */
	mk(&a, TAR, first_bad, 2);
	body(&b, "x.tar", &a, 0);
	run("a ../ first entry", &b, 8192, 1u << 30, 0, "", "unsafe");

	mk(&a, TARGZ, big, 2);
	a.len = a.len * 2 / 3;
	body(&b, "cut.tgz", &a, 0);
	run("a tar.gz cut short", &b, 8192, 1u << 30, 0, "", "bad_archive");

	mk(&a, TAR, big, 2);
	body(&b, "big.tar", &a, 0);
	run("over the size cap midway", &b, 8192, 1000000, 0, "",
	    "too_large");

	/* the request breaks off midway */
	req_for(&r, &b, 8192);
	r.test_in_fail = 1200000;
	is(upload_receive(&r, 1u << 30, &u), -1, "a broken-off body: refused");
	is_str(r.err_code, "body_read", "a broken-off body: body_read");
	is(entries(tmpdir), 0, "a broken-off body: nothing in tmp");
	is(entries(upldir), 0, "a broken-off body: nothing in uploads");
	req_release(&r);

	/* the body ends inside the file part */
	b.len -= 1000;
	run("no close delimiter", &b, 8192, 1u << 30, 0, "", "malformed");
	/* the close delimiter missing after a complete tar */
	mk(&a, TAR, big, 2);
	body(&b, "big.tar", &a, 0);
	b.len -= strlen("--" B "--\r\n") + 16;
	run("a whole tar, then the body stops", &b, 8192, 1u << 30, 0, "",
	    "malformed");
	buf_release(&a);
	buf_release(&b);
}

int
main(void)
{
	if (str_copy(top, sizeof(top), "/tmp/t_upload.XXXXXX") == -1 ||
	    mkdtemp(top) == NULL)
		return 1;
	str_fmt(tmpdir, sizeof(tmpdir), "%s/tmp", top);
	str_fmt(upldir, sizeof(upldir), "%s/uploads", top);
	if (mkdir(tmpdir, 0700) == -1 || mkdir(upldir, 0755) == -1)
		return 1;
	memset(&conf, 0, sizeof(conf));
	conf.tmp_dir = tmpdir;
	conf.uploads_dir = upldir;
	test_tar();
	test_stored();
	test_refused();
	tree_remove(top);
	return done_testing();
}
