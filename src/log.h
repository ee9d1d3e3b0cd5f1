/*
 * log: one line per event on stderr:
 *   <UTC time> <program>[<pid>] <level> [req=<id>] <function>: <message>
 * Control bytes in the message are escaped (\xNN), so request data cannot
 * forge log lines.  log_warn appends strerror(errno); fatal exits 1.
 */
#ifndef SLIPWAY_LOG_H
#define SLIPWAY_LOG_H

#include <stdarg.h>

void	log_init(const char *progname, int debug);
/* Set (or clear with NULL) the request id carried by following lines. */
void	log_set_reqid(const char *);
const char *log_reqid(void);

void	log_emit(int level, int with_errno, const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
void	log_fatal(int with_errno, const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4), noreturn));

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL__MAX
};

#define log_debug(...)	log_emit(LOG_LEVEL_DEBUG, 0, __func__, __VA_ARGS__)
#define log_info(...)	log_emit(LOG_LEVEL_INFO, 0, __func__, __VA_ARGS__)
#define log_warnx(...)	log_emit(LOG_LEVEL_WARN, 0, __func__, __VA_ARGS__)
#define log_warn(...)	log_emit(LOG_LEVEL_WARN, 1, __func__, __VA_ARGS__)
#define fatal(...)	log_fatal(1, __func__, __VA_ARGS__)
#define fatalx(...)	log_fatal(0, __func__, __VA_ARGS__)

/* Append s to out escaping control bytes and backslash; used by the log. */
struct buf;
void	log_escape(struct buf *out, const char *s);

#endif
