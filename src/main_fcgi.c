/*
 * slipway-fcgi: the FastCGI worker.  spawn-fcgi starts N of these on one
 * unix socket; each is single-threaded and stateless (all state is in
 * SQLite and the data directory), so any worker serves any request.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "req.h"
#include "route.h"
#include "valid.h"

#include <sys/wait.h>

#define FCGI_MAX_WORKERS 64

static volatile sig_atomic_t fcgi_quit;
static volatile sig_atomic_t fcgi_busy;	/* a worker inside a request */
static int fcgi_is_worker;

/*
 * SIGTERM: the master stops its loop; an idle worker (blocked in accept,
 * which libfcgi restarts on EINTR) exits at once, a busy one after its
 * current request.
 */
static void
fcgi_on_term(int sig)
{
	(void)sig;
	fcgi_quit = 1;
	if (fcgi_is_worker && !fcgi_busy)
		_exit(0);
}

/* One worker: accept and answer requests until told to stop. */
static int
fcgi_worker(struct conf *conf)
{
	struct db *db;
	FCGX_Request fr;
	struct req r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("curl_global_init");
	if ((db = db_open(conf->db_path)) == NULL)
		fatalx("cannot open database %s", conf->db_path);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0)
		fatalx("FastCGI init failed");
	log_debug("worker ready");
	fcgi_is_worker = 1;
	while (!fcgi_quit && FCGX_Accept_r(&fr) >= 0) {
		fcgi_busy = 1;
		if (req_init_fcgi(&r, &fr, conf, db) == 0 || r.err != HERR_OK)
			route_dispatch(&r);
		if (db->in_tx) {
			log_warnx("handler left a transaction open");
			db_rollback(db);
		}
		req_release(&r);
		FCGX_Finish_r(&fr);
		fcgi_busy = 0;
	}
	db_close(db);
	curl_global_cleanup();
	return 0;
}

static pid_t
fcgi_fork_worker(struct conf *conf)
{
	pid_t pid = fork();

	if (pid == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0) {
		log_init("slipway-fcgi", conf->debug);
		_exit(fcgi_worker(conf));
	}
	return pid;
}

/*
 * Master: fork n workers sharing the listening socket (fd 0, set up by
 * spawn-fcgi) and start a new one whenever one dies, until SIGTERM; then
 * stop them all.
 */
static int
fcgi_master(struct conf *conf, int n)
{
	pid_t pids[FCGI_MAX_WORKERS], pid;
	int i, status;

	for (i = 0; i < n; i++)
		pids[i] = fcgi_fork_worker(conf);
	log_info("%d workers started", n);
	while (!fcgi_quit) {
		pid = wait(&status);
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			sleep(1);
			for (i = 0; i < n; i++)
				if (pids[i] == -1)
					pids[i] = fcgi_fork_worker(conf);
			continue;
		}
		for (i = 0; i < n; i++) {
			if (pids[i] != pid)
				continue;
			if (fcgi_quit)
				break;
			if (WIFSIGNALED(status))
				log_warnx("worker %ld killed by signal %d: "
				    "starting another", (long)pid,
				    WTERMSIG(status));
			else
				log_warnx("worker %ld exited (%d): starting "
				    "another", (long)pid, WEXITSTATUS(status));
			usleep(100000);
			pids[i] = fcgi_fork_worker(conf);
		}
	}
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			(void)waitpid(pids[i], &status, 0);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	struct conf conf;
	long long nworkers = 0;
	int rc;

	log_init("slipway-fcgi", 0);
	if (argc == 3 && strcmp(argv[1], "--workers") == 0) {
		if (valid_int(argv[2], 1, FCGI_MAX_WORKERS, &nworkers) == -1)
			fatalx("--workers takes 1..%d", FCGI_MAX_WORKERS);
	} else if (argc != 1)
		fatalx("usage: slipway-fcgi [--workers N]");
	if (conf_load(&conf) == -1)
		fatalx("bad configuration");
	log_init("slipway-fcgi", conf.debug);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fcgi_on_term;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a blocked accept returns and the loop ends */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (nworkers > 0)
		rc = fcgi_master(&conf, (int)nworkers);
	else
		rc = fcgi_worker(&conf);
	conf_free(&conf);
	return rc;
}
