/*
 * t_agent: the agent's pure helpers (requirements.txt names, Docker log
 * timestamps) with tables of good and bad input, and agent_transition on a
 * temporary database: allowed-from lists, idle_only, a 'deleting' row never
 * changed back, and the reason appended to the app log.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agent.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "tap.h"

static void
test_requirements(void)
{
	static const struct {
		const char	*text;
		const char	*pkg;
		int		 want;
	} t[] = {
		{ "gradio\n", "gradio", 1 },
		{ "gradio==4.0.1\n", "gradio", 1 },
		{ "numpy\nGradio>=3\n", "gradio", 1 },
		{ "  gradio[oauth] ; python_version>'3.8'", "gradio", 1 },
		{ "huggingface_hub\n", "huggingface-hub", 1 },
		{ "Huggingface.Hub==1\n", "huggingface_hub", 1 },
		{ "gradio_client\n", "gradio", 0 },
		{ "gradio-client==1\n", "gradio", 0 },
		{ "# gradio\n", "gradio", 0 },
		{ "numpy\n", "gradio", 0 },
		{ "", "gradio", 0 },
		{ "-r other.txt\n", "gradio", 0 },
		{ "--index-url https://x/gradio\n", "gradio", 0 },
		{ "mygradio\n", "gradio", 0 },
		{ "gradio", "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is(agent_requirements_lists(t[i].text, t[i].pkg), t[i].want,
		    "requirements %zu: lists '%s': %d", i, t[i].pkg, t[i].want);
}

static void
test_timestamps(void)
{
	static const struct {
		const char	*line;
		int64_t		 want;	/* -1: refused */
		size_t		 rest;
	} t[] = {
		{ "1970-01-01T00:00:01Z x\n", 1000000000LL, 21 },
		{ "2024-05-01T10:00:00.123456789Z hello\n",
		    1714557600123456789LL, 31 },
		{ "2024-05-01T10:00:00.5Z hi", 1714557600500000000LL, 23 },
		{ "2024-05-01T10:00:00.000000001Z \n", 1714557600000000001LL, 31 },
		{ "2024-05-01T10:00:00Z ", 1714557600000000000LL, 21 },
		{ "2024-05-01T10:00:00.1234567891Z x", -1, 0 },	/* 10 digits */
		{ "2024-05-01T10:00:00.Z x", -1, 0 },
		{ "2024-05-01T10:00:00+02:00 x", -1, 0 },
		{ "2024-05-01T10:00:00Zx", -1, 0 },
		{ "2024-05-01 10:00:00Z x", -1, 0 },
		{ "2024-13-01T10:00:00Z x", -1, 0 },
		{ "2024-05-01T25:00:00Z x", -1, 0 },
		{ "plain output line\n", -1, 0 },
		{ "", -1, 0 },
		{ "2024-05-01T10:00:00Z", -1, 0 },
	};
	size_t i, rest;
	int64_t got;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rest = 0;
		got = agent_log_timestamp(t[i].line, strlen(t[i].line), &rest);
		ok(got == t[i].want && (t[i].want < 0 || rest == t[i].rest),
		    "timestamp %zu: %.*s -> %lld (rest %zu)", i,
		    (int)strcspn(t[i].line, "\n"), t[i].line, (long long)got,
		    rest);
	}
}

static char *
status_of(struct db *db, int64_t id, char **detail)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT status, status_detail FROM "
	    "apps WHERE id = ?");
	char *s = NULL;

	db_bind_int(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		s = db_col_strdup(st, 0);
		if (detail != NULL)
			*detail = db_col_strdup(st, 1);
	}
	sqlite3_finalize(st);
	return s;
}

static int
check(struct db *db, int64_t id, const char *want, const char *name)
{
	char *s = status_of(db, id, NULL);
	int r = ok(s != NULL && strcmp(s, want) == 0, "%s (%s)", name,
	    s ? s : "NULL");

	free(s);
	return r;
}

static void
test_transition(void)
{
	static const char *const live[] = { "running", "starting", NULL };
	char dir[] = "/tmp/t_agent.XXXXXX";
	struct conf conf;
	struct buf path = BUF_INIT, logtext = BUF_INIT;
	struct db *db;
	char *detail = NULL;
	FILE *fp;
	char line[512];
	int64_t id;

	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	memset(&conf, 0, sizeof(conf));
	buf_printf(&path, "%s/logs", dir);
	conf.logs_dir = xstrdup(path.data);
	buf_reset(&path);
	buf_printf(&path, "%s/t.db", dir);
	if ((db = db_open(path.data)) == NULL)
		fatalx("db_open");
	db_exec(db, "INSERT INTO users(id, username, password_hash, created_at) "
	    "VALUES (1, 'u', 'x', 0);"
	    "INSERT INTO apps(id, app_id, name, type, status, owner_id, "
	    "created_at, updated_at) VALUES (7, 'abcdefabcdef', 'a', 'docker', "
	    "'running', 1, 0, 0)");
	id = 7;

	is(agent_transition(&conf, db, id, "abcdefabcdef", "stopping", NULL, 0,
	    "stopping"), 1, "any -> stopping: changed");
	check(db, id, "stopping", "status written");
	is(agent_transition(&conf, db, id, "abcdefabcdef", "error", live, 0,
	    "boom"), 0, "from running/starting only: not changed");
	check(db, id, "stopping", "status kept");
	is(agent_transition(&conf, db, id, "abcdefabcdef", "starting", NULL, 0,
	    "go"), 1, "-> starting");
	db_exec(db, "INSERT INTO jobs(app_id, kind, state, created_at) VALUES "
	    "(7, 'stop', 'pending', 0)");
	is(agent_transition(&conf, db, id, "abcdefabcdef", "error", live, 1,
	    "died"), 0, "idle_only with a pending job: not changed");
	db_exec(db, "UPDATE jobs SET state = 'done'");
	is(agent_transition(&conf, db, id, "abcdefabcdef", "error", live, 1,
	    "the container exited with code 3\nsecond line"), 1,
	    "idle_only, no job: changed");
	free(status_of(db, id, &detail));
	ok(detail != NULL && strcmp(detail, "the container exited with code 3"
	    "\nsecond line") == 0, "status_detail holds the reason");
	free(detail);

	db_exec(db, "UPDATE apps SET status = 'deleting'");
	is(agent_transition(&conf, db, id, "abcdefabcdef", "running", NULL, 0,
	    "x"), 0, "a deleting row is never changed back");
	check(db, id, "deleting", "still deleting");
	is(agent_transition(&conf, db, 99, "abcdefabcdef", "running", NULL, 0,
	    "x"), 0, "no such row: 0");

	buf_reset(&path);
	buf_printf(&path, "%s/logs/abcdefabcdef.log", dir);
	if ((fp = fopen(path.data, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			buf_adds(&logtext, line);
		fclose(fp);
	}
	ok(strstr(logtext.data, "Z [slipway] stopping: stopping\n") != NULL,
	    "app log: a line per transition");
	ok(strstr(logtext.data, "[slipway] error: the container exited with "
	    "code 3 | second line\n") != NULL,
	    "app log: the reason on one line");
	ok(strstr(logtext.data, "boom") == NULL && strstr(logtext.data,
	    "died") == NULL, "app log: nothing for refused transitions");
	{
		int n = 0;
		const char *p = logtext.data;

		while ((p = strchr(p, '\n')) != NULL) {
			n++;
			p++;
		}
		is(n, 3, "app log: three lines");
	}

	agent_applog(&conf, "../../etc/x", "refused");
	agent_applog(&conf, "abcdefabcdef", "ctl %s", "a\x01" "b");
	logtext.len = 0;
	if ((fp = fopen(path.data, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			buf_adds(&logtext, line);
		fclose(fp);
	}
	ok(strstr(logtext.data, "[slipway] ctl a?b\n") != NULL,
	    "applog: control bytes replaced");

	db_close(db);
	unlink(path.data);
	buf_reset(&path);
	buf_printf(&path, "%s/logs", dir);
	rmdir(path.data);
	{
		char p2[300];

		(void)str_fmt(p2, sizeof(p2), "%s/t.db-wal", dir);
		unlink(p2);
		(void)str_fmt(p2, sizeof(p2), "%s/t.db-shm", dir);
		unlink(p2);
		(void)str_fmt(p2, sizeof(p2), "%s/t.db", dir);
		unlink(p2);
		rmdir(dir);
	}
	free(conf.logs_dir);
	buf_release(&path);
	buf_release(&logtext);
}

int
main(void)
{
	log_init("t_agent", 0);
	test_requirements();
	test_timestamps();
	test_transition();
	return done_testing();
}
