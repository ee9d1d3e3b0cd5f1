/*
 * slipway-agent: runs jobs against the Docker Engine API (see agent.c).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"

static volatile sig_atomic_t agent_quit;

static void
agent_on_term(int sig)
{
	(void)sig;
	agent_quit = 1;
}

int
main(void)
{
	struct conf conf;
	struct buf pidpath = BUF_INIT;
	FILE *fp;

	log_init("slipway-agent", 0);
	if (conf_load(&conf) == -1)
		fatalx("bad configuration");
	signal(SIGTERM, agent_on_term);
	signal(SIGINT, agent_on_term);
	buf_printf(&pidpath, "%s/agent.pid", conf.run_dir);
	if ((fp = fopen(pidpath.data, "we")) != NULL) {
		fprintf(fp, "%ld\n", (long)getpid());
		fclose(fp);
	}
	while (!agent_quit)
		pause();
	unlink(pidpath.data);
	buf_release(&pidpath);
	conf_free(&conf);
	return 0;
}
