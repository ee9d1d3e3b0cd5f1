/*
 * agent_follow: a container's output copied into the app log by a child
 * of the daemon (`slipway-agent --follow <app_id> <container> <parent>`),
 * following `docker logs` with timestamps.  Restart-safe: the newest
 * timestamp copied is kept in <run_dir>/logpos/<app_id>.<container> and
 * older lines are skipped when a follower starts again.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <time.h>

#include "agent.h"
#include "agent_int.h"
#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "docker.h"
#include "log.h"
#include "valid.h"

/* ------------------------------------------------------------------ */
/* Log followers: container output into the app log                    */

int64_t
agent_log_timestamp(const char *s, size_t len, size_t *rest)
{
	struct tm tm;
	int64_t secs, ns = 0;
	size_t i = 19, digits = 0;
	int v[6], k;
	static const int at[6] = { 0, 5, 8, 11, 14, 17 };
	static const int w[6] = { 4, 2, 2, 2, 2, 2 };

	if (len < 21 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	for (k = 0; k < 6; k++) {
		v[k] = 0;
		for (int j = 0; j < w[k]; j++) {
			if (!isdigit((unsigned char)s[at[k] + j]))
				return -1;
			v[k] = v[k] * 10 + (s[at[k] + j] - '0');
		}
	}
	if (s[i] == '.') {
		for (i++; i < len && isdigit((unsigned char)s[i]); i++) {
			if (++digits > 9)
				return -1;
			ns = ns * 10 + (s[i] - '0');
		}
		if (digits == 0)
			return -1;
		for (; digits < 9; digits++)
			ns *= 10;
	}
	if (i + 1 >= len || s[i] != 'Z' || s[i + 1] != ' ')
		return -1;
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
	    v[4] > 59 || v[5] > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	secs = (int64_t)timegm(&tm);
	if (secs < 0 || secs > INT64_MAX / 1000000000 - 1)
		return -1;
	*rest = i + 2;
	return secs * 1000000000 + ns;
}

static volatile sig_atomic_t follow_stop;

static void
follow_on_term(int sig)
{
	(void)sig;
	follow_stop = 1;
}

struct follow_ctx {
	int		 logfd;
	pid_t		 parent;
	const char	*cid;
	struct buf	 pospath;
	int64_t		 since;		/* ns: lines up to here are in the log */
	int64_t		 last;		/* ns of the newest line written */
	int64_t		 saved_ms;
	struct buf	 line[3];	/* partial line per stream */
};

static void
follow_save(struct follow_ctx *f)
{
	struct buf tmp = BUF_INIT, text = BUF_INIT;

	if (f->last <= f->since)
		return;
	buf_printf(&tmp, "%s.tmp", f->pospath.data);
	buf_printf(&text, "%s %" PRId64 "\n", f->cid, f->last);
	if (agent_write_file(tmp.data, text.data, text.len, 0600) == 0 &&
	    rename(tmp.data, f->pospath.data) == -1) {
		log_warn("rename %s", tmp.data);
		unlink(tmp.data);
	}
	f->since = f->last;
	f->saved_ms = agent_now_ms();
	buf_release(&tmp);
	buf_release(&text);
}

static void
follow_line(struct follow_ctx *f, const char *s, size_t len)
{
	int64_t ts;
	size_t rest = 0;

	ts = agent_log_timestamp(s, len, &rest);
	if (ts >= 0) {
		if (ts <= f->since)
			return;
		if (ts > f->last)
			f->last = ts;
	}
	(void)agent_write_all(f->logfd, s + rest, len - rest);
	if (len == rest || s[len - 1] != '\n')
		(void)agent_write_all(f->logfd, "\n", 1);
}

static void
follow_out(void *arg, int stream, const char *data, size_t len)
{
	struct follow_ctx *f = arg;
	struct buf *b = &f->line[stream == 2 ? 2 : 1];
	const char *nl;
	size_t n;

	while (len > 0) {
		nl = memchr(data, '\n', len);
		n = nl ? (size_t)(nl - data) + 1 : len;
		buf_add(b, data, n);
		if (nl != NULL || b->len >= AGENT_FOLLOW_LINE_MAX) {
			follow_line(f, b->data, b->len);
			buf_reset(b);
		}
		data += n;
		len -= n;
	}
	if (agent_now_ms() - f->saved_ms >= 500)
		follow_save(f);
}

static int
follow_cancel(void *arg)
{
	struct follow_ctx *f = arg;

	return follow_stop || getppid() != f->parent;
}

int
agent_follow_main(const struct conf *conf, const char *app_id,
    const char *cid, pid_t parent)
{
	struct follow_ctx f;
	struct docker_logs_opts o;
	struct docker *d = NULL;
	struct buf text = BUF_INIT, dir = BUF_INIT;
	struct sigaction sa;
	enum docker_err e;
	size_t sp;
	int i;

	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent || valid_app_id(app_id) == -1 ||
	    strlen(cid) < 12 || strlen(cid) > 64 ||
	    strspn(cid, "0123456789abcdef") != strlen(cid))
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = follow_on_term;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	memset(&f, 0, sizeof(f));
	f.parent = parent;
	f.cid = cid;
	buf_init(&f.pospath);
	for (i = 0; i < 3; i++)
		buf_init(&f.line[i]);
	buf_printf(&dir, "%s/logpos", conf->run_dir);
	(void)agent_mkdir(dir.data, 0700);
	buf_printf(&f.pospath, "%s/%s.%.12s", dir.data, app_id, cid);
	if (agent_read_file(f.pospath.data, 256, &text) == 0 &&
	    (sp = strcspn(text.data, " ")) < text.len &&
	    strncmp(text.data, cid, sp) == 0 && sp == strlen(cid)) {
		long long v;

		text.data[strcspn(text.data, "\n")] = '\0';
		if (valid_int(text.data + sp + 1, 0, LLONG_MAX, &v) == 0)
			f.since = f.last = v;
	}
	f.saved_ms = agent_now_ms();
	if ((f.logfd = agent_applog_open(conf, app_id)) == -1 ||
	    (d = docker_open(conf->docker_socket)) == NULL)
		goto out;
	memset(&o, 0, sizeof(o));
	o.tail = -1;
	o.follow = 1;
	o.timestamps = 1;
	o.out = follow_out;
	o.cancel = follow_cancel;
	o.arg = &f;
	e = docker_container_logs(d, cid, &o);
	/* A container removed while followed ends the stream abruptly. */
	if (e == DOCKER_ERR_TRANSPORT)
		log_debug("logs of %.12s: %s", cid, docker_errmsg(d));
	else if (e != DOCKER_OK && e != DOCKER_ERR_ABORTED &&
	    e != DOCKER_ERR_NOT_FOUND)
		log_warnx("logs of %.12s: %s", cid, docker_errmsg(d));
	for (i = 1; i < 3; i++)
		if (f.line[i].len > 0)
			follow_line(&f, f.line[i].data, f.line[i].len);
	follow_save(&f);
out:
	if (f.logfd >= 0)
		close(f.logfd);
	docker_close(d);
	for (i = 0; i < 3; i++)
		buf_release(&f.line[i]);
	buf_release(&f.pospath);
	buf_release(&text);
	buf_release(&dir);
	return 0;
}
