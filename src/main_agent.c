/*
 * slipway-agent: runs jobs against the Docker Engine API (see agent.h).
 *
 *   slipway-agent                        the daemon (writes <run>/agent.pid)
 *   slipway-agent --job ID PPID          one claimed job (started by the daemon)
 *   slipway-agent --follow APP CID PPID  copy a container's output to the app log
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "valid.h"

static volatile int agent_quit;

static void
agent_on_term(int sig)
{
	(void)sig;
	agent_quit = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: slipway-agent [--job ID PPID | --follow APP "
	    "CONTAINER PPID]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct conf conf;
	struct buf pidpath = BUF_INIT;
	struct sigaction sa;
	long long id, ppid;
	FILE *fp;
	int rc;

	log_init("slipway-agent", 0);
	if (conf_load(&conf) == -1)
		fatalx("bad configuration");
	log_init("slipway-agent", conf.debug);

	if (argc == 4 && strcmp(argv[1], "--job") == 0) {
		if (valid_int(argv[2], 1, INT64_MAX, &id) == -1 ||
		    valid_int(argv[3], 2, INT32_MAX, &ppid) == -1)
			usage();
		rc = agent_job_main(&conf, id, (pid_t)ppid);
		conf_free(&conf);
		return rc;
	}
	if (argc == 5 && strcmp(argv[1], "--follow") == 0) {
		if (valid_int(argv[4], 2, INT32_MAX, &ppid) == -1)
			usage();
		rc = agent_follow_main(&conf, argv[2], argv[3], (pid_t)ppid);
		conf_free(&conf);
		return rc;
	}
	if (argc != 1)
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = agent_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	buf_printf(&pidpath, "%s/agent.pid", conf.run_dir);
	if ((fp = fopen(pidpath.data, "we")) != NULL) {
		fprintf(fp, "%ld\n", (long)getpid());
		fclose(fp);
	} else
		log_warn("%s", pidpath.data);
	rc = agent_run(&conf, &agent_quit) == 0 ? 0 : 1;
	unlink(pidpath.data);
	buf_release(&pidpath);
	conf_free(&conf);
	return rc;
}
