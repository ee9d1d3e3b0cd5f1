#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static const char *log_prog = "slipway";
static int log_verbose;
static char log_req[40];

static const char *const log_level_names[LOG_LEVEL__MAX] = {
	"debug",	/* LOG_LEVEL_DEBUG */
	"info",		/* LOG_LEVEL_INFO */
	"warn",		/* LOG_LEVEL_WARN */
};

void
log_init(const char *progname, int debug)
{
	log_prog = progname;
	log_verbose = debug;
}

void
log_set_reqid(const char *id)
{
	if (id == NULL || str_copy(log_req, sizeof(log_req), id) == -1)
		log_req[0] = '\0';
}

const char *
log_reqid(void)
{
	return log_req;
}

void
log_escape(struct buf *out, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			buf_printf(out, "\\x%02x", *p);
		else
			buf_addch(out, *p);
	}
}

static void
log_vemit(int level, int errnum, const char *func, const char *fmt, va_list ap)
{
	struct buf msg = BUF_INIT, line = BUF_INIT;
	char tbuf[32];
	struct tm tm;
	time_t now = time(NULL);

	buf_vprintf(&msg, fmt, ap);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		tbuf[0] = '\0';
	buf_printf(&line, "%s %s[%ld] %s ", tbuf, log_prog, (long)getpid(),
	    log_level_names[level]);
	if (log_req[0] != '\0')
		buf_printf(&line, "req=%s ", log_req);
	buf_printf(&line, "%s: ", func);
	log_escape(&line, msg.data);
	if (errnum)
		buf_printf(&line, ": %s", strerror(errnum));
	buf_addch(&line, '\n');
	/* One write so concurrent processes do not interleave within a line. */
	(void)!write(STDERR_FILENO, line.data, line.len);
	buf_release(&msg);
	buf_release(&line);
}

void
log_emit(int level, int with_errno, const char *func, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (level == LOG_LEVEL_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	log_vemit(level, with_errno ? saved : 0, func, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_fatal(int with_errno, const char *func, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_WARN, with_errno ? saved : 0, func, fmt, ap);
	va_end(ap);
	exit(1);
}
