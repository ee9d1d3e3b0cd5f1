/*
 * ngxconf: the apps site of nginx, rendered from the database.
 *
 * The generated include (conf->apps_include, default <data>/nginx/apps.conf)
 * is included at http level by the main config and holds:
 *   - one `geo $slipway_allow_<app_id>` block per distinct allow list (the
 *     same set of networks in any order), named after the first app that
 *     uses it,
 *   - the apps `server { listen <bind>:<apps_port>; ... }` block: a 404 for
 *     `/` and for unknown `/apps/...`, and per app
 *       location = /apps/<id>    GET/HEAD -> 301 /apps/<id>/, else 405 (via
 *                                one shared internal location: cheaper to
 *                                parse than 1000 copies of the checks)
 *       location ^~ /apps/<id>/  -> http://127.0.0.1:<port>/ (prefix stripped)
 *     the latter starting with, in this order (both rewrite phase):
 *       if ($slipway_allow_<id> = 0) { return 403; }      (allow list)
 *       if ($http_authorization != "<value>") { return 401; }
 *     so a denied address gets 403 with or without the right value.  The
 *     comparison is exact and case-sensitive (a `map` would compare
 *     case-insensitively).  A Basic value adds
 *     `WWW-Authenticate: Basic realm="<name>"` to the 401.
 *   It relies on `map $http_upgrade $connection_upgrade` in the main config.
 *
 * Apply (ngxconf_apply / ngxconf_sync), under flock(<include>.lock):
 *   1. render; identical to the current include -> done, no reload;
 *   2. write <include>.XXXXXX (mkstemp: O_EXCL, 0644 after fchmod), fsync;
 *   3. nginx -t -q -c <test config>: a copy of the main config written next
 *      to it (falling back to next to the include) in which the include path
 *      is replaced by the temporary file, so the live include is only ever
 *      replaced by a checked file;
 *   4. rename over the include, fsync the directory;
 *   5. SIGHUP to the master whose pid is in the pid file (strict decimal;
 *      /proc/<pid>/comm must say nginx) -- or run reload_argv if given.
 *      No pid file (nginx not started yet) is not an error: it will read
 *      the new include when it starts.
 *   When the check fails, the routes nginx rejects are found (the line of
 *   its message, else bisection), left out, reported, and the rest is
 *   checked and installed: the last good include is never replaced by a
 *   failing one and every other app keeps serving.
 *
 * Plugging into a system nginx: everything is in struct conf --
 * SLIPWAY_APPS_INCLUDE (the include; the main config must name it by this
 * exact absolute path in an `include` line at http level),
 * SLIPWAY_NGINX_CONF (the file containing that line, used for `nginx -t`),
 * SLIPWAY_NGINX (binary), SLIPWAY_NGINX_PID (master pid file).  The caller
 * must be able to run `nginx -t` on it and signal the master (same user).
 *
 * nginx is run with posix_spawnp and an argv, never a shell; callers must
 * not set SIGCHLD to SIG_IGN (the exit status would be lost).
 */
#ifndef SLIPWAY_NGXCONF_H
#define SLIPWAY_NGXCONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;
struct conf;
struct db;

struct ngx_route {
	const char	*app_id;	/* ^[a-z0-9]{12}$ */
	const char	*name;		/* valid_app_name(); realm of Basic */
	int		 port;		/* 1..65535 on 127.0.0.1 */
	const char	*allow_ips;	/* allow list (re-parsed), NULL/"" = any */
	const char	*auth_header;	/* exact Authorization, NULL/"" = none */
	const char	*max_body;	/* nginx size, NULL = the site's */
};

struct ngx_site {
	const char	*bind;		/* IPv4/IPv6 literal the site listens on */
	int		 apps_port;	/* 1..65535 */
	const char	*max_body;	/* nginx size: default client_max_body_size */
	int		 read_timeout;	/* seconds, 0 = 3600 */
};

struct ngxconf_ctx {
	const char	*nginx_bin;	/* run with posix_spawnp */
	const char	*nginx_conf;	/* full config holding `include <include>` */
	const char	*include;	/* generated file (absolute path) */
	const char	*pid_file;	/* master pid; NULL: never reload */
	char *const	*reload_argv;	/* optional: run instead of SIGHUP */
};

/* One route left out of the include. */
struct ngxconf_bad {
	size_t		 index;		/* into the routes given */
	char		 reason[512];	/* validator or nginx message */
};

struct ngxconf_result {
	int			 unchanged;	/* rendered text == current include */
	int			 installed;	/* the include was replaced */
	int			 reloaded;	/* nginx was signalled */
	int			 checks;	/* nginx -t runs */
	size_t			 nroutes;	/* routes in the installed include */
	size_t			 nbad;
	struct ngxconf_bad	*bad;		/* nbad entries */
	int64_t			 usec_render, usec_check, usec_total;
	char			 error[1024];	/* why -1 was returned */
};

void	ngxconf_result_init(struct ngxconf_result *);
void	ngxconf_result_release(struct ngxconf_result *);

/*
 * 0 if the route may be rendered, else -1 with the reason in err (naming
 * the field, never quoting the value).
 */
int	ngxconf_route_check(const struct ngx_route *, char *err, size_t errlen);

/*
 * Render the include for n routes into out (appended).  Every field is
 * re-validated; an invalid site or route (or a duplicate app_id) makes it
 * return -1 with the offending app named in err, and out untouched.
 */
int	ngxconf_render(const struct ngx_site *, const struct ngx_route *,
	    size_t n, struct buf *out, char *err, size_t errlen);

/*
 * Render, check, install and reload under the lock (see above).
 * Returns 0 when every route is in the installed include (or it was
 * already identical), 1 when some routes were left out (res->bad lists
 * them; the rest is installed), -1 on failure with nothing changed and
 * res->error set.  res must be initialised; release it afterwards.
 */
int	ngxconf_apply(const struct ngxconf_ctx *, const struct ngx_site *,
	    const struct ngx_route *, size_t n, struct ngxconf_result *res);

struct ngxconf_sync_result {
	int		 coalesced;	/* someone else's apply already covered us */
	int		 reloaded;
	size_t		 nroutes;	/* routes rendered */
	size_t		 nerror;	/* apps marked error */
	int64_t		 usec_total;
};

/*
 * Re-render the include from the apps table after a change.  Call after
 * committing the change and outside any transaction.  Bumps the wanted
 * generation (meta 'routes_wanted'), takes the lock, and returns at once if
 * an apply that started after the bump already happened ('routes_applied'),
 * so a burst of N callers causes far fewer than N reloads.  Otherwise reads
 * the apps that are starting or running with a port, applies, and marks
 * each route left out status='error' with the reason in status_detail.
 * 0 on success (including apps marked error), -1 on failure.  sr may be
 * NULL.
 */
int	ngxconf_sync(const struct conf *, struct db *,
	    struct ngxconf_sync_result *sr);

/*
 * Exposed for tests: read a pid file strictly (decimal 2..INT_MAX with an
 * optional trailing newline).  0, or -1 with errno ENOENT when it does not
 * exist or is empty (`nginx -t` creates it empty), EINVAL when malformed.
 */
int	ngxconf_read_pid(const char *path, pid_t *out);

/*
 * Exposed for tests: copy conf_text to out replacing every token equal to
 * include (delimited by whitespace or quotes before, and whitespace, quotes
 * or ';' after) by replacement.  Returns the number of replacements.
 */
size_t	ngxconf_replace_include(const char *conf_text, const char *include,
	    const char *replacement, struct buf *out);

#endif
