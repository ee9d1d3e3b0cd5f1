/*
 * t_agent_venv: the host runtime's pure parts: /proc/<pid>/stat parsing
 * (good and malformed lines, a comm with spaces and parentheses), this
 * process's own stat read back, and which apps SLIPWAY_GRADIO_RUNTIME
 * hands to the host runtime.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_int.h"
#include "agent_venv.h"
#include "buf.h"
#include "conf.h"
#include "tap.h"

struct stat_case {
	const char	*text;
	int		 rc;
	char		 state;
	int		 pgrp, session;
	long long	 start;
	const char	*name;
};

#define TAIL	" 0 0 0 0 20 0 1 0 "	/* fields 14 .. 21 */

static const struct stat_case stat_cases[] = {
	{ "4242 (python3) S 1 4242 4242 0 -1 4194560 10 0 0 0" TAIL
	  "987654 11111 222 18446744073709551615\n",
	  0, 'S', 4242, 4242, 987654, "a plain line" },
	{ "77 (a b) c) d) R 1 70 60 0 -1 0 0 0 0 0" TAIL "5",
	  0, 'R', 70, 60, 5, "comm with spaces and ')': the last ')' counts" },
	{ "9 ()) Z 1 9 9 0 -1 0 0 0 0 0" TAIL "123\n",
	  0, 'Z', 9, 9, 123, "a zombie" },
	{ "9 (x) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0\n",
	  -1, 0, 0, 0, 0, "cut before field 22" },
	{ "9 (x) S 1 9 9 0 -1 0 0 0 0 0" TAIL "12x\n",
	  -1, 0, 0, 0, 0, "junk in the start time" },
	{ "9 (x) S 1 -9 9 0 -1 0 0 0 0 0" TAIL "1\n",
	  -1, 0, 0, 0, 0, "negative process group" },
	{ "9 (x) S 1 9 99999999999 0 -1 0 0 0 0 0" TAIL "1\n",
	  -1, 0, 0, 0, 0, "session out of range" },
	{ "9 (x) S 1 9 9 0 -1 0 0 0 0 0" TAIL "-1\n",
	  -1, 0, 0, 0, 0, "negative start time" },
	{ "9 x S 1 9 9 0 -1 0 0 0 0 0" TAIL "1\n",
	  -1, 0, 0, 0, 0, "no parentheses" },
	{ "9 (x)S 1 9 9 0 -1 0 0 0 0 0" TAIL "1\n",
	  -1, 0, 0, 0, 0, "no space after ')'" },
	{ "9 (x) 7 1 9 9 0 -1 0 0 0 0 0" TAIL "1\n",
	  -1, 0, 0, 0, 0, "state not a letter" },
	{ "9 (x) SS 1 9 9 0 -1 0 0 0 0 0" TAIL "1\n",
	  -1, 0, 0, 0, 0, "state of two letters" },
	{ "9 (x) S  1 9 9 0 -1 0 0 0 0 0" TAIL "1\n",
	  -1, 0, 0, 0, 0, "two spaces" },
	{ "", -1, 0, 0, 0, 0, "empty" },
	{ ")", -1, 0, 0, 0, 0, "only ')'" },
};

static void
test_parse_stat(void)
{
	struct agent_venv_stat st;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(stat_cases) / sizeof(stat_cases[0]); i++) {
		const struct stat_case *t = &stat_cases[i];

		memset(&st, 0, sizeof(st));
		rc = agent_venv_parse_stat(t->text, strlen(t->text), &st);
		is(rc, t->rc, "parse_stat: %s", t->name);
		if (rc == 0 && t->rc == 0)
			ok(st.state == t->state && st.pgrp == t->pgrp &&
			    st.session == t->session && st.start == t->start,
			    "parse_stat: %s: fields", t->name);
	}
	/* The length is honoured: the same line cut short fails. */
	rc = agent_venv_parse_stat(stat_cases[0].text, 30, &st);
	is(rc, -1, "parse_stat: only len bytes are read");
}

static void
test_own_stat(void)
{
	struct agent_venv_stat st;
	char text[1024];
	ssize_t n;
	FILE *fp;

	fp = fopen("/proc/self/stat", "re");
	ok(fp != NULL, "own stat opened");
	if (fp == NULL)
		return;
	n = (ssize_t)fread(text, 1, sizeof(text), fp);
	fclose(fp);
	ok(n > 0 && agent_venv_parse_stat(text, (size_t)n, &st) == 0,
	    "own stat parsed");
	is(st.pgrp, getpgrp(), "own process group");
	is(st.session, getsid(0), "own session");
	ok(st.start > 0 && st.state == 'R', "own start time and state");
}

static void
test_handles(void)
{
	static const struct {
		const char		*runtime;	/* NULL: unset */
		enum agent_app_type	 type;
		int			 want;
		int			 loads;
	} cases[] = {
		{ NULL, AGENT_APP_GRADIO, 0, 1 },
		{ "", AGENT_APP_GRADIO, 0, 1 },
		{ "docker", AGENT_APP_PLUGIN, 0, 1 },
		{ "Venv", AGENT_APP_GRADIO, 0, 0 },
		{ "venv ", AGENT_APP_GRADIO, 0, 0 },
		{ "venv", AGENT_APP_GRADIO, 1, 1 },
		{ "venv", AGENT_APP_PLUGIN, 1, 1 },
		{ "venv", AGENT_APP_DOCKER, 0, 1 },
		{ "venv", AGENT_APP_COMPOSE, 0, 1 },
		{ "venv", AGENT_APP_IMAGE, 0, 1 },
	};
	struct agent_app app;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf conf;
		int loaded;

		if (cases[i].runtime == NULL)
			unsetenv("SLIPWAY_GRADIO_RUNTIME");
		else
			setenv("SLIPWAY_GRADIO_RUNTIME", cases[i].runtime, 1);
		memset(&conf, 0, sizeof(conf));
		loaded = conf_load(&conf) == 0;
		memset(&app, 0, sizeof(app));
		app.type = cases[i].type;
		/* a value that is neither docker nor venv stops the start */
		is(loaded && agent_venv_handles(&conf, &app), cases[i].want,
		    "runtime '%s', type %s", cases[i].runtime ?
		    cases[i].runtime : "(unset)", agent_type_names[cases[i].type]);
		is(loaded, cases[i].loads, "runtime '%s': %s", cases[i].runtime ?
		    cases[i].runtime : "(unset)", cases[i].loads ? "accepted" :
		    "refused at start");
		ok(!loaded || agent_venv_enabled(&conf) == (cases[i].runtime &&
		    strcmp(cases[i].runtime, "venv") == 0), "enabled matches");
		conf_free(&conf);
	}
	unsetenv("SLIPWAY_GRADIO_RUNTIME");
}

int
main(void)
{
	test_parse_stat();
	test_own_stat();
	test_handles();
	return done_testing();
}
