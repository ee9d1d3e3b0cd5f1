/*
 * buf: one growable byte buffer with strbuf invariants.
 *
 * - After buf_init() (or BUF_INIT) .data is never NULL and always NUL-terminated
 *   at .data[.len]; .data may hold NUL bytes before .len.
 * - All size arithmetic is overflow-checked; on allocation failure the
 *   process aborts (out of memory is not a request error).
 * - buf_detach() hands the bytes to the caller (free with free()) and leaves
 *   the buffer empty and valid; buf_release() frees and re-initialises.
 */
#ifndef SLIPWAY_BUF_H
#define SLIPWAY_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

extern char buf_empty[];
#define BUF_INIT { buf_empty, 0, 0 }

void	 buf_init(struct buf *);
void	 buf_release(struct buf *);
char	*buf_detach(struct buf *, size_t *lenp);
void	 buf_grow(struct buf *, size_t extra);
void	 buf_reset(struct buf *);
void	 buf_truncate(struct buf *, size_t len);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_adds(struct buf *, const char *);
void	 buf_addch(struct buf *, int);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

/* Checked size arithmetic: abort on overflow. */
size_t	 st_add(size_t, size_t);
size_t	 st_mult(size_t, size_t);

/* Allocation that never returns NULL (aborts on out of memory). */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

/*
 * Bounded copy into a fixed array: returns 0 on success, -1 (and leaves dst
 * empty) if src does not fit.  Never truncates silently.
 */
int	 str_copy(char *dst, size_t dstsz, const char *src);
/* snprintf that returns -1 on error or truncation. */
int	 str_fmt(char *dst, size_t dstsz, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
