/*
 * t_jobs: the job queue on a temporary database: kinds, enqueue and claim
 * order, one running job per app, finish, orphans, cancel, four processes
 * claiming at once (never the same job twice), and the wake-up datagram.
 */
#include "config.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "jobs.h"
#include "log.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_jobs.XXXXXX";
static int64_t owner;

static char *
tpath(const char *name)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s/%s", tmpdir, name);
	return buf_detach(&b, NULL);
}

static int
no_open_stmt(struct db *db)
{
	return sqlite3_next_stmt(db->conn, NULL) == NULL;
}

/* A bare app row; returns its row id. */
static int64_t
mkapp(struct db *db, const char *name)
{
	static int serial;
	sqlite3_stmt *st;
	char appid[13];

	(void)str_fmt(appid, sizeof(appid), "app%09d", ++serial);
	st = db_prepare(db, "INSERT INTO apps(app_id, name, type, status, "
	    "owner_id, created_at, updated_at) VALUES (?, ?, 'gradio', "
	    "'queued', ?, 0, 0)");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, appid);
	db_bind_text(st, 2, name);
	db_bind_int(st, 3, owner);
	if (db_exec_stmt(db, st) == -1)
		return -1;
	return db_last_id(db);
}

/* A column of one job as text (caller frees), NULL for SQL NULL. */
static char *
job_col(struct db *db, int64_t id, const char *col)
{
	struct buf sql = BUF_INIT;
	sqlite3_stmt *st;
	char *s = NULL;

	buf_printf(&sql, "SELECT %s FROM jobs WHERE id = ?", col);
	if ((st = db_prepare(db, sql.data)) != NULL) {
		db_bind_int(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			s = db_col_strdup(st, 0);
	}
	sqlite3_finalize(st);
	buf_release(&sql);
	return s;
}

static int
job_is(struct db *db, int64_t id, const char *col, const char *want)
{
	char *s = job_col(db, id, col);
	int r = want == NULL ? s == NULL : s != NULL && strcmp(s, want) == 0;

	if (!r)
		printf("#   job %lld %s = %s, want %s\n", (long long)id, col,
		    s ? s : "NULL", want ? want : "NULL");
	free(s);
	return r;
}

/* Is the column set (not NULL)? */
static int
job_has(struct db *db, int64_t id, const char *col)
{
	char *s = job_col(db, id, col);
	int r = s != NULL;

	free(s);
	return r;
}

static void
test_kinds(void)
{
	static const struct {
		const char	*s;
		int		 rc;
		enum job_kind	 k;
	} t[] = {
		{ "deploy", 0, JOB_DEPLOY }, { "start", 0, JOB_START },
		{ "stop", 0, JOB_STOP }, { "restart", 0, JOB_RESTART },
		{ "delete", 0, JOB_DELETE },
		{ "", -1, 0 }, { "Deploy", -1, 0 }, { "DEPLOY", -1, 0 },
		{ "deploy ", -1, 0 }, { " stop", -1, 0 }, { "build", -1, 0 },
		{ "de", -1, 0 }, { "deployx", -1, 0 }, { "delete;", -1, 0 },
		{ "?", -1, 0 }, { "stop;", -1, 0 }, { "sto", -1, 0 },
	};
	enum job_kind k;
	size_t i;
	int good = 1;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		k = JOB__MAX;
		if (t[i].rc == 0)
			ok(jobs_kind_parse(t[i].s, &k) == 0 && k == t[i].k,
			    "jobs_kind_parse good \"%s\"", t[i].s);
		else
			ok(jobs_kind_parse(t[i].s, &k) == -1 && k == JOB__MAX,
			    "jobs_kind_parse bad \"%s\" (out untouched)", t[i].s);
	}
	for (i = 0; i < JOB__MAX; i++)
		if (jobs_kind_parse(jobs_kind_name((enum job_kind)i), &k) == -1 ||
		    k != (enum job_kind)i)
			good = 0;
	ok(good, "jobs_kind_name/parse round trip for all %d kinds", JOB__MAX);
	is_str(jobs_kind_name(JOB__MAX), "?", "jobs_kind_name(JOB__MAX)");
	is_str(jobs_kind_name((enum job_kind)-1), "?", "jobs_kind_name(-1)");
}

static void
test_queue(struct db *db)
{
	int64_t a, b, c, ja1, jb1, ja2, jc1, jx;
	struct job j;
	int64_t before = db_now();

	a = mkapp(db, "appa");
	b = mkapp(db, "appb");
	c = mkapp(db, "appc");
	ok(a > 0 && b > 0 && c > 0, "three apps");
	ok(jobs_enqueue(db, a, JOB_DEPLOY, &ja1) == 0 &&
	    jobs_enqueue(db, b, JOB_DEPLOY, &jb1) == 0 &&
	    jobs_enqueue(db, a, JOB_STOP, &ja2) == 0 &&
	    jobs_enqueue(db, c, JOB_RESTART, &jc1) == 0, "enqueue A1 B1 A2 C1");
	ok(ja1 < jb1 && jb1 < ja2 && ja2 < jc1, "ids increase");
	ok(job_is(db, ja1, "state", "pending") && job_is(db, ja1, "kind", "deploy"),
	    "a new job is pending");
	ok(jobs_enqueue(db, a, JOB_START, NULL) == 0, "id_out may be NULL");
	jx = -1;
	ok(jobs_enqueue(db, 99999, JOB_START, &jx) == -1 && jx == -1,
	    "a job for a missing app fails (foreign key), id untouched");
	ok(no_open_stmt(db), "enqueue leaves nothing open");

	memset(&j, 0xa5, sizeof(j));
	is(jobs_claim(db, 111, 0, &j), 1, "claim");
	ok(j.id == ja1 && j.app_rowid == a && j.kind == JOB_DEPLOY &&
	    strcmp(j.state, "running") == 0 && j.created_at >= before,
	    "the oldest job: A1 deploy, running");
	ok(job_is(db, ja1, "state", "running") && job_is(db, ja1, "claimed_by", "111")
	    && job_has(db, ja1, "started_at"), "row: running, claimed_by, started_at");
	ok(!db->in_tx && no_open_stmt(db), "claim commits and leaves nothing open");
	is(jobs_claim(db, 111, 0, &j), 1, "claim again");
	is(j.id, jb1, "B1: A2 waits while A1 runs");
	is(jobs_claim(db, 111, 0, &j), 1, "claim again");
	is(j.id, jc1, "C1 (restart)");
	is(j.kind, JOB_RESTART, "kind restart");
	memset(&j, 0, sizeof(j));
	is(jobs_claim(db, 111, 0, &j), 0, "nothing claimable: A2 and A3 wait for A1");
	ok(jobs_finish(db, ja1, "done", NULL) == 0, "finish A1");
	ok(job_is(db, ja1, "state", "done") && job_is(db, ja1, "error", NULL),
	    "A1 done, no error");
	is(jobs_claim(db, 111, 0, &j), 1, "claim after A1 finished");
	ok(j.id == ja2 && j.kind == JOB_STOP, "A2 (stop) now");
	is(jobs_claim(db, 111, 0, &j), 0, "A3 waits for A2");
	ok(jobs_finish(db, ja2, "failed", "it's \"broken\"; DROP TABLE jobs") == 0,
	    "finish A2 failed with an error text");
	ok(job_is(db, ja2, "state", "failed") &&
	    job_is(db, ja2, "error", "it's \"broken\"; DROP TABLE jobs"),
	    "error stored verbatim (bound)");
	is(jobs_claim(db, 111, 0, &j), 1, "A3 claimable");
	is(j.kind, JOB_START, "A3 is the start job");
	ok(jobs_finish(db, j.id, "done", NULL) == 0 &&
	    jobs_finish(db, jb1, "done", NULL) == 0 &&
	    jobs_finish(db, jc1, "cancelled", NULL) == 0, "finish the rest");
	is(jobs_claim(db, 111, 0, &j), 0, "queue empty");

	/* Claim inside an open transaction fails cleanly. */
	ok(jobs_enqueue(db, b, JOB_STOP, &jx) == 0, "one more job");
	ok(db_begin(db) == 0, "open a transaction");
	is(jobs_claim(db, 111, 0, &j), -1, "claim inside a transaction: -1");
	ok(db->in_tx, "the caller's transaction is left alone");
	db_rollback(db);
	ok(jobs_enqueue(db, b, JOB_STOP, &jx) == 0, "enqueue after the rollback");
	(void)db_exec(db, "UPDATE jobs SET state = 'done' WHERE state = 'pending'");

	/* A kind the program does not know. */
	{
		sqlite3_stmt *st = db_prepare(db, "INSERT INTO jobs(app_id, kind, "
		    "created_at) VALUES (?, 'bogus', 0)");

		db_bind_int(st, 1, c);
		ok(db_exec_stmt(db, st) == 0, "a job with kind 'bogus'");
		is(jobs_claim(db, 5, 0, &j), 1, "it is claimed");
		is(j.kind, JOB__MAX, "with kind JOB__MAX");
		(void)jobs_finish(db, j.id, "failed", "unknown kind");
	}
}

static void
test_orphans_cancel(struct db *db)
{
	int64_t a, b, j1, j2, j3, j4, j5;
	struct job j;

	a = mkapp(db, "orpha");
	b = mkapp(db, "orphb");
	ok(jobs_enqueue(db, a, JOB_DEPLOY, &j1) == 0 &&
	    jobs_enqueue(db, b, JOB_DEPLOY, &j2) == 0, "two jobs");
	ok(jobs_claim(db, 111, 0, &j) == 1 && j.id == j1, "claimed by dead agent 111");
	ok(jobs_claim(db, 222, 0, &j) == 1 && j.id == j2, "claimed by us, 222");
	is(jobs_requeue_orphans(db, 222), 1, "requeue_orphans(222) requeues one");
	ok(job_is(db, j1, "state", "pending") && job_is(db, j1, "claimed_by", NULL) &&
	    job_is(db, j1, "started_at", NULL), "111's job pending again, unclaimed");
	ok(job_is(db, j2, "state", "running") && job_is(db, j2, "claimed_by", "222"),
	    "our own job untouched");
	is(jobs_requeue_orphans(db, 222), 0, "nothing more to requeue");
	ok(db_exec(db, "UPDATE jobs SET claimed_by = NULL WHERE id = " "(SELECT max(id) FROM jobs WHERE state = 'running')") == 0,
	    "a running job with no claimer");
	is(jobs_requeue_orphans(db, 222), 1, "claimed_by NULL counts as orphaned");
	ok(jobs_claim(db, 222, 0, &j) == 1 && jobs_claim(db, 222, 0, &j) == 1,
	    "claim both again");
	(void)jobs_finish(db, j1, "done", NULL);
	(void)jobs_finish(db, j2, "done", NULL);

	/* Cancel pending for one app only. */
	ok(jobs_enqueue(db, a, JOB_START, &j3) == 0 &&
	    jobs_enqueue(db, a, JOB_STOP, &j4) == 0 &&
	    jobs_enqueue(db, b, JOB_STOP, &j5) == 0, "A: start, stop; B: stop");
	ok(jobs_claim(db, 222, 0, &j) == 1 && j.id == j3, "A's start is running");
	ok(jobs_cancel_pending(db, a) == 0, "cancel A's pending jobs");
	ok(job_is(db, j4, "state", "cancelled") &&
	    job_has(db, j4, "finished_at"), "A's stop cancelled, finished_at set");
	ok(job_is(db, j3, "state", "running"), "A's running job untouched");
	ok(job_is(db, j5, "state", "pending"), "B's job untouched");
	ok(jobs_cancel_pending(db, 424242) == 0, "cancel for an unknown app is fine");
	ok(no_open_stmt(db), "nothing left open");
	(void)jobs_finish(db, j3, "done", NULL);
	(void)jobs_cancel_pending(db, b);
}

/* Four processes claim from one queue; no job may be claimed twice. */
/* The flags: no deploys while the build slots are full; host-only apps
 * (gradio, plugin) while Docker is away. */
static void
test_claim_flags(struct db *db)
{
	int64_t d, g, jd, jg, jstop;
	struct job j;

	d = mkapp(db, "flagdocker");
	g = mkapp(db, "flaggradio");
	ok(db_exec(db, "UPDATE apps SET type = 'docker' WHERE name = 'flagdocker'") == 0 &&
	    db_exec(db, "UPDATE apps SET type = 'gradio' WHERE name = 'flaggradio'") == 0,
	    "a docker app and a gradio app");
	ok(jobs_enqueue(db, d, JOB_DEPLOY, &jd) == 0 &&
	    jobs_enqueue(db, g, JOB_DEPLOY, &jg) == 0, "a deploy for each");
	is(jobs_claim(db, 7, JOBS_CLAIM_NO_DEPLOY, &j), 0,
	    "NO_DEPLOY: deploys are left");
	ok(jobs_claim(db, 7, JOBS_CLAIM_HOST_ONLY, &j) == 1 && j.id == jg,
	    "HOST_ONLY: the gradio app's deploy, past the older docker one");
	is(jobs_claim(db, 7, JOBS_CLAIM_HOST_ONLY, &j), 0,
	    "HOST_ONLY: the docker deploy waits for Docker");
	ok(jobs_enqueue(db, g, JOB_STOP, &jstop) == 0 &&
	    jobs_finish(db, jg, "done", NULL) == 0, "gradio deploy done, stop queued");
	ok(jobs_claim(db, 7, JOBS_CLAIM_NO_DEPLOY, &j) == 1 && j.id == jstop &&
	    j.kind == JOB_STOP, "NO_DEPLOY: a stop is still claimed");
	ok(jobs_claim(db, 7, 0, &j) == 1 && j.id == jd, "no flags: the deploy");
	ok(jobs_finish(db, jd, "done", NULL) == 0 &&
	    jobs_finish(db, jstop, "done", NULL) == 0, "finish both");
}

static void
test_concurrent_claims(const char *path)
{
	struct db *db;
	int fds[2], k, st, njobs = 40, good = 1;
	pid_t pids[4];
	int64_t id, seen[64];
	size_t nseen = 0, i, m;
	struct job j;
	char c;

	if ((db = db_open(path)) == NULL) {
		ok(0, "open for concurrency");
		return;
	}
	for (k = 0; k < njobs; k++) {
		char name[16];

		(void)str_fmt(name, sizeof(name), "race%d", k);
		if (jobs_enqueue(db, mkapp(db, name), JOB_DEPLOY, NULL) == -1)
			good = 0;
	}
	ok(good, "%d jobs for %d apps", njobs, njobs);
	db_close(db);
	if (pipe(fds) == -1)
		return;
	{
		int res[2];

		if (pipe(res) == -1)
			return;
		fflush(stdout);
		for (k = 0; k < 4; k++) {
			if ((pids[k] = fork()) == 0) {
				struct db *cd;
				int r;

				close(fds[1]);
				close(res[0]);
				(void)read(fds[0], &c, 1);
				if ((cd = db_open(path)) == NULL)
					_exit(1);
				while ((r = jobs_claim(cd, 1000 + k, 0, &j)) == 1) {
					(void)write(res[1], &j.id, sizeof(j.id));
					(void)jobs_finish(cd, j.id, "done", NULL);
				}
				db_close(cd);
				_exit(r == 0 ? 0 : 2);
			}
		}
		close(fds[0]);
		close(res[1]);
		close(fds[1]);
		while (read(res[0], &id, sizeof(id)) == sizeof(id))
			if (nseen < sizeof(seen) / sizeof(seen[0]))
				seen[nseen++] = id;
		close(res[0]);
		for (k = 0; k < 4; k++)
			if (waitpid(pids[k], &st, 0) != pids[k] || !WIFEXITED(st) ||
			    WEXITSTATUS(st) != 0)
				good = 0;
	}
	ok(good, "four claimers exit cleanly");
	is(nseen, (size_t)njobs, "every job claimed");
	good = 1;
	for (i = 0; i < nseen; i++)
		for (m = i + 1; m < nseen; m++)
			if (seen[i] == seen[m])
				good = 0;
	ok(good, "no job claimed twice");
}

static void
test_wake(void)
{
	char *sock = tpath("agent.sock");
	struct sockaddr_un sun;
	char buf[8], longp[200];
	int fd;
	ssize_t n;

	jobs_wake(sock);
	ok(1, "jobs_wake with no agent returns");
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	longp[0] = '/';
	jobs_wake(longp);
	ok(1, "jobs_wake with a too-long path returns");

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)str_copy(sun.sun_path, sizeof(sun.sun_path), sock);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ok(fd != -1 && bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "an agent socket");
	jobs_wake(sock);
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	ok(n == 1 && buf[0] == 'j', "the agent gets one 'j' datagram");
	close(fd);
	(void)unlink(sock);
	free(sock);
}

static void
cleanup(void)
{
	struct dirent *de;
	DIR *d;
	char *p;

	if ((d = opendir(tmpdir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = tpath(de->d_name);
		(void)unlink(p);
		free(p);
	}
	closedir(d);
	(void)rmdir(tmpdir);
}

int
main(void)
{
	struct db *db;
	char *p;

	log_init("t_jobs", 0);
	if (mkdtemp(tmpdir) == NULL) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_kinds();
	p = tpath("jobs.db");
	if ((db = db_open(p)) != NULL) {
		ok(db_exec(db, "INSERT INTO users(username, password_hash, "
		    "created_at) VALUES ('owner', 'x', 0)") == 0, "an owner");
		owner = db_last_id(db);
		test_queue(db);
		test_orphans_cancel(db);
		test_claim_flags(db);
		db_close(db);
		test_concurrent_claims(p);
	} else
		ok(0, "open jobs.db");
	free(p);
	test_wake();
	cleanup();
	return done_testing();
}
