/*
 * route: the static route table (method, pattern, handler, auth level)
 * and the one place that maps handler errors to HTTP status codes.
 * Patterns are literal segments and {param} segments; a trailing slash is
 * optional on every route and nothing ever redirects.
 */
#ifndef SLIPWAY_ROUTE_H
#define SLIPWAY_ROUTE_H

#include "req.h"

enum route_auth {
	ROUTE_PUBLIC,		/* no token needed */
	ROUTE_USER,		/* any valid token */
	ROUTE_ADMIN,		/* an admin's token */
	ROUTE__MAX
};

typedef int (*route_handler)(struct req *);

struct route {
	const char	*method;
	const char	*pattern;
	route_handler	 handler;
	enum route_auth	 auth;
};

/*
 * Find the route for method+path; fills args (borrowed slices copied into
 * req->args).  Returns the route, or NULL with *method_mismatch set when
 * the path exists under another method (405).
 */
const struct route *route_match(const struct route *table, size_t n,
	    const char *method, const char *path, char **args, size_t *nargs,
	    int *method_mismatch);

/* Authenticate, dispatch, answer errors.  Never fails: always responds. */
void	route_dispatch(struct req *);

/* HTTP status and reason for an error kind. */
int	route_status(enum herr);
const char *route_reason(int status);
/* The table itself (for tests). */
extern const struct route route_table[];
extern const size_t route_table_len;

#endif
