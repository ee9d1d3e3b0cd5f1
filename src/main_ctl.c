/*
 * slipway-ctl: operator commands run by the stack scripts.
 *   slipway-ctl init     create the data directory layout, migrate the
 *                        database, make sure the admin user exists
 *                        (ADMIN_PASSWORD, else generated, printed once and
 *                        written to <data>/admin-password, mode 0600)
 *   slipway-ctl routes   render the apps include from the database, check
 *                        it with nginx -t and reload nginx
 */
#include "config.h"

#include <curl/curl.h>
#include <dirent.h>
#include <sqlite3.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "auth.h"
#include "caps.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "ngxconf.h"
#include "templates.h"
#include "valid.h"

static int
ctl_mkdir(const char *path)
{
	if (mkdir(path, 0750) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", path);
		return -1;
	}
	return 0;
}

/*
 * A worker killed mid-upload leaves a temporary file, or a staging or
 * source directory without an app row: remove them.  Only names slipway
 * creates are touched.
 */
static void
ctl_clean_orphans(struct conf *conf, struct db *db)
{
	struct buf path = BUF_INIT;
	struct dirent *de;
	sqlite3_stmt *st;
	DIR *d;
	int known;

	if ((d = opendir(conf->tmp_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			buf_reset(&path);
			buf_printf(&path, "%s/%s", conf->tmp_dir, de->d_name);
			if (unlink(path.data) == 0)
				log_info("removed stale upload %s", path.data);
		}
		closedir(d);
	}
	/* a release being stored or replaced (h_containers.c) */
	if ((d = opendir(conf->plugins_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, ".tmp-", 5) != 0 &&
			    strncmp(de->d_name, ".old-", 5) != 0)
				continue;
			buf_reset(&path);
			buf_printf(&path, "%s/%s", conf->plugins_dir,
			    de->d_name);
			if (tree_remove(path.data) == 0)
				log_info("removed stale release %s", path.data);
		}
		closedir(d);
	}
	if ((d = opendir(conf->uploads_dir)) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		char id[APP_ID_LEN + 1];
		size_t n = strlen(de->d_name);

		if (n < APP_ID_LEN || str_fmt(id, sizeof(id), "%.*s",
		    APP_ID_LEN, de->d_name) == -1 || valid_app_id(id) == -1)
			continue;
		if (n != APP_ID_LEN && strcmp(de->d_name + APP_ID_LEN,
		    ".staging") != 0)
			continue;
		known = 0;
		if (n == APP_ID_LEN) {
			st = db_prepare(db, "SELECT 1 FROM apps WHERE app_id = ?");
			if (st == NULL)
				continue;
			db_bind_text(st, 1, id);
			known = sqlite3_step(st) == SQLITE_ROW;
			sqlite3_finalize(st);
		}
		if (known)
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s/%s", conf->uploads_dir, de->d_name);
		if (tree_remove(path.data) == 0)
			log_info("removed orphaned upload %s", path.data);
	}
	closedir(d);
out:
	buf_release(&path);
}

static int
ctl_routes(struct conf *conf)
{
	struct db *db;
	int rc;

	if ((db = db_open(conf->db_path)) == NULL)
		return -1;
	rc = ngxconf_sync(conf, db, NULL);
	db_close(db);
	return rc;
}

static int
ctl_init(struct conf *conf)
{
	const char *dirs[] = {
		conf->data_dir, conf->run_dir, conf->uploads_dir,
		conf->templates_dir, conf->plugins_dir, conf->logs_dir,
		conf->nginx_dir, conf->tmp_dir,
	};
	struct buf path = BUF_INIT;
	struct db *db = NULL;
	char *generated = NULL;
	const char *pw = getenv("ADMIN_PASSWORD");
	size_t i;
	int fd = -1, rc = -1;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (ctl_mkdir(dirs[i]) == -1)
			goto out;
	if ((db = db_open(conf->db_path)) == NULL)
		goto out;
	if (pw != NULL && *pw != '\0' && strlen(pw) < 8) {
		log_warnx("ADMIN_PASSWORD must be at least 8 bytes");
		goto out;
	}
	if (auth_bootstrap_admin(db, pw && *pw ? pw : NULL, &generated) == -1)
		goto out;
	ctl_clean_orphans(conf, db);
	(void)templates_register(db, conf);	/* folders dropped in */
	if (generated != NULL) {
		buf_printf(&path, "%s/admin-password", conf->data_dir);
		fd = open(path.data, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd == -1 || write(fd, generated, strlen(generated)) < 0 ||
		    write(fd, "\n", 1) < 0) {
			log_warn("%s", path.data);
			goto out;
		}
		printf("slipway: created user 'admin' with password %s "
		    "(also in %s)\n", generated, path.data);
		fflush(stdout);
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(generated);
	buf_release(&path);
	db_close(db);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct conf conf;
	int rc = 1;

	log_init("slipway-ctl", 0);
	if (argc != 2) {
		fprintf(stderr, "usage: slipway-ctl init|routes\n");
		return 2;
	}
	if (conf_load(&conf) == -1)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(argv[1], "init") == 0)
		rc = ctl_init(&conf) == 0 ? 0 : 1;
	else if (strcmp(argv[1], "routes") == 0)
		rc = ctl_routes(&conf) == 0 ? 0 : 1;
	else {
		fprintf(stderr, "usage: slipway-ctl init|routes\n");
		rc = 2;
	}
	curl_global_cleanup();
	conf_free(&conf);
	return rc;
}
