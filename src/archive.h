/*
 * archive: uploaded app sources.  Safe extraction (libarchive), what an
 * upload is, which kind of app a tree holds, build-context tars, and tree
 * helpers that never follow symlinks.
 *
 * Extraction rules (archive_extract):
 * - formats: zip and tar (ustar, pax, GNU), the latter plain or gzipped;
 *   anything else, an empty file, or an archive without entries is
 *   ARCHIVE_RES_BAD.
 * - entries: regular files, directories, symlinks and hard links only
 *   (devices, fifos, sockets: ARCHIVE_RES_UNSAFE).  Names must be relative,
 *   without ".." components or control bytes, at most max_path bytes and
 *   max_depth components ("./" prefixes and empty components are dropped).
 *   A symlink's target must be relative, of the form ("../")* name("/"name)*
 *   (no ".." after a name) with no more leading ".." than the link's depth,
 *   so it resolves inside the tree lexically even through other symlinks.
 *   A hard link must name a regular file already extracted (reached
 *   without symlinks).  libarchive's SECURE_NODOTDOT, SECURE_SYMLINKS and
 *   SECURE_NOABSOLUTEPATHS are set as well.
 * - modes: files 0644 plus the archive's execute bits, directories 0755
 *   (both before the umask); never owners, setuid, setgid or sticky bits.
 * - caps: entries, unpacked bytes (counted as written, by file extent, not
 *   from headers; a hard link counts its file's size again, so the sum of
 *   sizes over all names stays under the cap), and unpacked/packed ratio
 *   once above ratio_floor.
 * - dest_dir must be an existing empty directory.  On any failure the
 *   caller removes dest_dir with tree_remove().
 * - the process's working directory is dest_dir while libarchive writes
 *   (its secure checks are relative to it) and is restored before return:
 *   not for threaded callers.
 */
#ifndef SLIPWAY_ARCHIVE_H
#define SLIPWAY_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct archive_limits {
	uint64_t	max_entries;	/* ARCHIVE_MAX_ENTRIES */
	uint64_t	max_bytes;	/* ARCHIVE_MAX_BYTES, unpacked */
	uint64_t	max_ratio;	/* ARCHIVE_MAX_RATIO, unpacked/packed */
	uint64_t	ratio_floor;	/* ARCHIVE_RATIO_FLOOR: ratio applies above */
	size_t		max_path;	/* ARCHIVE_MAX_PATH bytes */
	size_t		max_depth;	/* ARCHIVE_MAX_DEPTH components */
};

/* Fill with the defaults from caps.h. */
void	archive_limits_default(struct archive_limits *);

enum archive_result {
	ARCHIVE_RES_OK,
	ARCHIVE_RES_BAD,	/* not a supported archive, corrupt, empty: 400 */
	ARCHIVE_RES_TOO_LARGE,	/* entries, bytes or ratio over a cap: 413 */
	ARCHIVE_RES_UNSAFE,	/* an entry breaks the rules above: 400 */
	ARCHIVE_RES_IO,		/* our side failed (disk, permissions): 500 */
	ARCHIVE_RES_DECLINED,	/* the source's first() said no: nothing written */
	ARCHIVE_RES__MAX
};

/* Stable machine name: "ok", "bad_archive", "too_large", "unsafe", "io",
 * "declined". */
const char *archive_result_name(enum archive_result);

/*
 * Extract archive_path into dest_dir.  limits NULL: the defaults.  err
 * (may be NULL) receives a printable sentence on failure, naming the
 * offending entry with unprintable bytes shown as '?'.
 */
enum archive_result archive_extract(const char *archive_path,
	    const char *dest_dir, const struct archive_limits *,
	    char *err, size_t errlen);

/*
 * An archive that arrives as a stream (an upload being received).
 * read() sets *buf to the next bytes and returns their count (the bytes
 * stay valid until the next call), 0 at the end, -1 on failure.  first(),
 * if set, is called once with the normalized name of the first entry
 * about to be written (a "./" root entry does not count): -1 stops the
 * extraction with ARCHIVE_RES_DECLINED before anything is written.
 * size_hint, if not 0, bounds the whole input's size: the ratio cap uses
 * it (or the bytes read so far, if more) as the packed size.
 */
struct archive_source {
	ssize_t		(*read)(void *arg, const void **buf);
	int		(*first)(void *arg, const char *name);
	void		*arg;
	uint64_t	 size_hint;
};

/*
 * archive_extract() for a tar or gzipped tar read from src (no zip: its
 * truth is the central directory at its end).  The same rules, caps and
 * results.  Reading stops at the end-of-archive marker: whatever follows
 * it is not read.
 */
enum archive_result archive_extract_stream(const struct archive_source *src,
	    const char *dest_dir, const struct archive_limits *,
	    char *err, size_t errlen);

/*
 * Does the top level of the extracted tree dir hold a docker save image
 * (a regular manifest.json as archive_sniff() wants it, or regular
 * oci-layout and index.json files)?  1 or 0.
 */
int	archive_tree_is_image(const char *dir);

enum archive_kind {
	ARCHIVE_KIND_UNKNOWN,
	ARCHIVE_KIND_ZIP,
	ARCHIVE_KIND_TAR,
	ARCHIVE_KIND_TARGZ,
	ARCHIVE_KIND_DOCKER_SAVE,	/* tar or tar.gz from `docker save` */
	ARCHIVE_KIND_PYTHON,		/* a text file the client named *.py */
	ARCHIVE_KIND__MAX
};

const char *archive_kind_name(enum archive_kind);

/*
 * What an uploaded file is, by content (client_filename, which may be NULL,
 * only decides PYTHON: UTF-8 text without NUL bytes in the first
 * ARCHIVE_SNIFF_TEXT bytes, named *.py).  DOCKER_SAVE: a tar (or tar.gz)
 * whose top level holds a manifest.json that parses as docker save's
 * [{"Config": "...", "Layers": [...]}], or oci-layout plus index.json (the
 * OCI layout of newer Docker).  A zip holding a docker save tar is ZIP:
 * extract it, and archive_detect_app() then reports ARCHIVE_APP_IMAGE.
 */
enum archive_kind archive_sniff(const char *path, const char *client_filename);

/*
 * A single wrapping folder is looked through: if dir holds exactly one
 * entry (ignoring __MACOSX and .DS_Store) and it is a directory (not a
 * symlink), write "<dir>/<name>" to out and return 1; otherwise write dir
 * to out and return 0.  -1 on error or if out is too small.
 */
int	archive_unwrap(const char *dir, char *out, size_t outsz);

enum archive_app_kind {
	ARCHIVE_APP_GRADIO,
	ARCHIVE_APP_DOCKER,
	ARCHIVE_APP_COMPOSE,
	ARCHIVE_APP_PLUGIN,
	ARCHIVE_APP_IMAGE,
	ARCHIVE_APP__MAX
};

struct app_detect {
	enum archive_app_kind	kind;
	/*
	 * The file that decided it, relative to dir: the compose file, the
	 * Dockerfile, config.yaml, the gradio entry script, or the docker
	 * save tar.
	 */
	char			entry[256];
};

/* The apps.type string: "gradio", "docker", "compose", "plugin", "image". */
const char *archive_app_kind_name(enum archive_app_kind);

/*
 * Which kind of app the top level of dir holds (regular files only, not
 * symlinks), first match wins:
 *   compose  compose.yaml, compose.yml, docker-compose.yaml,
 *            docker-compose.yml (in that order)
 *   docker   Dockerfile
 *   plugin   config.yaml (its content is checked elsewhere)
 *   gradio   app.py, else the first *.py in byte-wise order whose name is
 *            [A-Za-z0-9_.-] not starting with '.' or '-'
 *   image    the only regular file is a docker save tar (a zipped image)
 * Returns 0 and fills *out, or -1 ("no app found", or an I/O error, logged).
 */
int	archive_detect_app(const char *dir, struct app_detect *out);

/*
 * Stream an uncompressed tar (pax restricted) of the tree under dir, in
 * byte-wise name order: relative names, regular files, directories and
 * symlinks (kept as symlinks), permission bits (& 0777) kept, uid/gid 0,
 * no user or group names.  Hard links are stored as separate files; any
 * other file type fails.  write_cb returns 0, or -1 to abort.  0 or -1.
 */
int	archive_write_tar(const char *dir,
	    int (*write_cb)(void *arg, const void *buf, size_t len), void *arg);
/* The same into a new file out_path (O_EXCL, 0600; removed on failure). */
int	archive_write_tar_file(const char *dir, const char *out_path);

/*
 * Remove dir and everything below it without following symlinks (a
 * symlink is removed, never what it points to).  A missing dir is fine.
 * 0 or -1 (logged).
 */
int	tree_remove(const char *dir);
/*
 * Copy the tree src to dst (which must not exist): directories created,
 * regular files hard-linked where possible (same filesystem) else copied,
 * symlinks recreated; other file types fail.  Hard-linked files share
 * their inode with src: replace them, never edit them in place.  On
 * failure dst is removed.  0 or -1.
 */
int	tree_copy(const char *src, const char *dst);
/* Sum of regular file sizes and number of entries below dir.  0 or -1. */
int	tree_size(const char *dir, uint64_t *bytes, uint64_t *entries);

#endif
