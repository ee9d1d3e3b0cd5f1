#include "config.h"

#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "netaddr.h"
#include "ngxconf.h"
#include "valid.h"

extern char **environ;

#define NGX_UPSTREAM_HOST	"127.0.0.1"
#define NGX_REDIRECT_PATH	"/_slipway/redirect/"	/* internal only */
#define NGX_READ_TIMEOUT	3600		/* seconds, default */
#define NGX_READ_TIMEOUT_MAX	(7 * 86400)
#define NGX_CHECK_TIMEOUT_MS	60000		/* one nginx -t or reload command */
#define NGX_OUTPUT_MAX		(16 * 1024)	/* nginx output kept */
#define NGX_MAIN_CONF_MAX	(4 * 1024 * 1024)
#define NGX_INCLUDE_MAX		(256 * 1024 * 1024)
#define NGX_MAX_CHECKS		512		/* nginx -t runs per apply */

/* Byte range of one route's text in a rendered include. */
struct ngx_span {
	size_t	geo_lo, geo_hi;		/* geo block, empty when lo == hi */
	size_t	loc_lo, loc_hi;		/* its location */
};

/* State of one apply, under the lock. */
struct ngx_apply {
	const struct ngxconf_ctx	*ctx;
	const struct ngx_site		*site;
	const struct ngx_route		*routes;
	struct ngxconf_result		*res;
	int				 lock_fd;
	char				*tmp_path;	/* candidate include */
	int				 tmp_fd;
	char				*test_path;	/* test main config */
	struct buf			 output;	/* last nginx output */
	struct buf			 message;	/* its main line */
};

static int64_t
ngx_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void __attribute__((format(printf, 3, 4)))
ngx_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(err, errlen, fmt, ap) < 0)
		err[0] = '\0';
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */

/*
 * Append s as an nginx double-quoted string.  `"` and `\` are escaped; a
 * byte that no quoting makes safe (control bytes, non-ASCII, and `$`, which
 * nginx expands inside strings) makes it return -1.
 */
static int
ngx_quote(struct buf *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '$')
			return -1;
	buf_addch(b, '"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_addch(b, '\\');
		buf_addch(b, *p);
	}
	buf_addch(b, '"');
	return 0;
}

/* Append s as the inside of an HTTP quoted-string (RFC 9110 5.6.4). */
static void
ngx_http_quoted(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_addch(b, '\\');
		buf_addch(b, *s);
	}
}

int
ngxconf_route_check(const struct ngx_route *r, char *err, size_t errlen)
{
	struct allow_list *l = NULL;
	char why[160];
	uint64_t sz;
	int rc = -1;

	if (valid_app_id(r->app_id) == -1) {
		ngx_err(err, errlen, "invalid app_id");
		goto out;
	}
	if (valid_app_name(r->name) == -1) {
		ngx_err(err, errlen, "invalid name");
		goto out;
	}
	if (r->port < 1 || r->port > 65535) {
		ngx_err(err, errlen, "invalid port %d", r->port);
		goto out;
	}
	if (r->allow_ips != NULL && r->allow_ips[0] != '\0') {
		l = xmalloc(sizeof(*l));
		if (netaddr_parse_allow_list(r->allow_ips, l, why,
		    sizeof(why)) == -1) {
			ngx_err(err, errlen, "invalid allow_ips: %s", why);
			goto out;
		}
	}
	if (r->auth_header != NULL && r->auth_header[0] != '\0' &&
	    netaddr_valid_auth_header(r->auth_header) == -1) {
		ngx_err(err, errlen, "invalid auth_header");
		goto out;
	}
	if (r->max_body != NULL && valid_size(r->max_body, &sz) == -1) {
		ngx_err(err, errlen, "invalid max_body");
		goto out;
	}
	rc = 0;
out:
	free(l);
	return rc;
}

static int
ngx_site_check(const struct ngx_site *s, char *err, size_t errlen)
{
	unsigned char a[16];
	uint64_t sz;

	if (s->bind == NULL || (inet_pton(AF_INET, s->bind, a) != 1 &&
	    inet_pton(AF_INET6, s->bind, a) != 1)) {
		ngx_err(err, errlen, "site: bind is not an IP address");
		return -1;
	}
	if (s->apps_port < 1 || s->apps_port > 65535) {
		ngx_err(err, errlen, "site: invalid apps port %d", s->apps_port);
		return -1;
	}
	if (s->max_body == NULL || valid_size(s->max_body, &sz) == -1) {
		ngx_err(err, errlen, "site: invalid max body size");
		return -1;
	}
	if (s->read_timeout < 0 || s->read_timeout > NGX_READ_TIMEOUT_MAX) {
		ngx_err(err, errlen, "site: invalid read timeout");
		return -1;
	}
	return 0;
}

/*
 * The two checks every location of an app starts with.  geo_id names the
 * geo block of the app's allow list (NULL: no list).
 */
static int
ngx_render_guards(struct buf *b, const struct ngx_route *r,
    const char *geo_id)
{
	struct buf realm = BUF_INIT, value = BUF_INIT;
	int rc = -1, basic;

	if (geo_id != NULL)
		buf_printf(b,
		    "\t\tif ($slipway_allow_%s = 0) {\n"
		    "\t\t\treturn 403 '{\"detail\":\"forbidden\"}\\n';\n"
		    "\t\t}\n", geo_id);
	if (r->auth_header != NULL && r->auth_header[0] != '\0') {
		/*
		 * Exact, case-sensitive match.  A Basic credential is composed
		 * by the browser (or curl -u) as "Basic <base64>": the scheme
		 * is written that way whatever case it was stored in.
		 */
		basic = netaddr_auth_is_basic(r->auth_header);
		if (basic) {
			buf_adds(&value, "Basic ");
			buf_adds(&value, r->auth_header + 6);
		} else
			buf_adds(&value, r->auth_header);
		buf_adds(b, "\t\tif ($http_authorization != ");
		if (ngx_quote(b, value.data) == -1)
			goto out;
		buf_adds(b, ") {\n");
		if (basic) {
			buf_adds(&realm, "Basic realm=\"");
			ngx_http_quoted(&realm, r->name);
			buf_adds(&realm, "\", charset=\"UTF-8\"");
			buf_adds(b, "\t\t\tadd_header WWW-Authenticate ");
			if (ngx_quote(b, realm.data) == -1)
				goto out;
			buf_adds(b, " always;\n");
		}
		buf_adds(b,
		    "\t\t\treturn 401 '{\"detail\":\"authorization required\"}\\n';\n"
		    "\t\t}\n");
	}
	rc = 0;
out:
	buf_release(&realm);
	buf_release(&value);
	return rc;
}

static int
ngx_render_route(struct buf *b, const struct ngx_route *r,
    const char *geo_id)
{
	const char *id = r->app_id;

	buf_printf(b, "\n\t# app %s %s\n", id, r->name);
	buf_printf(b, "\tlocation = /apps/%s {\n"
	    "\t\trewrite ^ " NGX_REDIRECT_PATH "%s last;\n"
	    "\t}\n", id, id);
	buf_printf(b, "\tlocation ^~ /apps/%s/ {\n", id);
	if (ngx_render_guards(b, r, geo_id) == -1)
		return -1;
	buf_printf(b,
	    "\t\tproxy_pass http://" NGX_UPSTREAM_HOST ":%d/;\n"
	    "\t\tproxy_set_header Host $http_host;\n"
	    "\t\tproxy_set_header X-Real-IP $remote_addr;\n"
	    "\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
	    "\t\tproxy_set_header X-Forwarded-Proto $scheme;\n"
	    "\t\tproxy_set_header X-Forwarded-Host $http_host;\n"
	    "\t\tproxy_set_header X-Forwarded-Prefix /apps/%s;\n"
	    "\t\tproxy_set_header Upgrade $http_upgrade;\n"
	    "\t\tproxy_set_header Connection $connection_upgrade;\n",
	    r->port, id);
	if (r->max_body != NULL)
		buf_printf(b, "\t\tclient_max_body_size %s;\n", r->max_body);
	buf_adds(b, "\t}\n");
	return 0;
}

static int
ngx_entry_cmp(const void *a, const void *b)
{
	const struct allow_entry *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* FNV-1a over a sorted list, to find equal lists quickly. */
static uint64_t
ngx_list_hash(const struct allow_list *l)
{
	const unsigned char *p = (const unsigned char *)l->e;
	size_t i, n = l->n * sizeof(l->e[0]);
	uint64_t h = 0xcbf29ce484222325ULL ^ l->n;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * Render routes[sel[0..m)] (all routes when sel is NULL) into out; spans,
 * when given, receives the byte ranges of each selected route.
 */
static int
ngx_render_sel(const struct ngx_site *site, const struct ngx_route *routes,
    const size_t *sel, size_t m, struct buf *out, struct ngx_span *spans,
    char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	struct allow_list *lists = NULL;
	const struct ngx_route *r;
	uint64_t *hash = NULL;
	size_t *owner = NULL;
	unsigned char a[16];
	char why[320];
	size_t i, j, k;
	int rc = -1;

	if (ngx_site_check(site, err, errlen) == -1)
		goto out;
	lists = xcalloc(m ? m : 1, sizeof(*lists));
	hash = xcalloc(m ? m : 1, sizeof(*hash));
	owner = xcalloc(m ? m : 1, sizeof(*owner));
	for (i = 0; i < m; i++) {
		r = &routes[sel ? sel[i] : i];
		if (ngxconf_route_check(r, why, sizeof(why)) == -1) {
			if (valid_app_id(r->app_id) == 0)
				ngx_err(err, errlen, "app %s: %s", r->app_id,
				    why);
			else
				ngx_err(err, errlen, "route %zu: %s",
				    sel ? sel[i] : i, why);
			goto out;
		}
		for (j = 0; j < i; j++)
			if (strcmp(routes[sel ? sel[j] : j].app_id,
			    r->app_id) == 0) {
				ngx_err(err, errlen, "app %s: duplicate app_id",
				    r->app_id);
				goto out;
			}
		if (r->allow_ips != NULL && r->allow_ips[0] != '\0' &&
		    netaddr_parse_allow_list(r->allow_ips, &lists[i], NULL,
		    0) == -1)
			goto out;	/* cannot happen: checked above */
		/*
		 * One geo block per distinct set of networks, named after
		 * the first app using it: 1000 geo blocks cost nginx about
		 * 100 ms more per check and per reload than one.
		 */
		qsort(lists[i].e, lists[i].n, sizeof(lists[i].e[0]),
		    ngx_entry_cmp);
		hash[i] = ngx_list_hash(&lists[i]);
		owner[i] = i;
		for (j = 0; j < i && lists[i].n > 0; j++)
			if (owner[j] == j && hash[j] == hash[i] &&
			    lists[j].n == lists[i].n && memcmp(lists[j].e,
			    lists[i].e, lists[i].n * sizeof(lists[i].e[0])) ==
			    0) {
				owner[i] = j;
				break;
			}
	}

	buf_printf(&b,
	    "# Generated by slipway from its database (src/ngxconf.c): do not\n"
	    "# edit, every change of an app's route rewrites it.  %zu app%s.\n",
	    m, m == 1 ? "" : "s");

	/* http level: one geo per distinct list, looked up only when used */
	for (i = 0; i < m; i++) {
		r = &routes[sel ? sel[i] : i];
		if (spans != NULL)
			spans[i].geo_lo = spans[i].geo_hi = b.len;
		if (lists[i].n == 0 || owner[i] != i)
			continue;
		buf_printf(&b, "\ngeo $slipway_allow_%s {\n\tdefault 0;\n",
		    r->app_id);
		for (k = 0; k < lists[i].n; k++) {
			buf_addch(&b, '\t');
			netaddr_format_entry(&lists[i].e[k], &b);
			buf_adds(&b, " 1;\n");
		}
		buf_adds(&b, "}\n");
		if (spans != NULL)
			spans[i].geo_hi = b.len;
	}

	buf_adds(&b, "\nserver {\n");
	if (inet_pton(AF_INET6, site->bind, a) == 1)
		buf_printf(&b, "\tlisten [%s]:%d;\n", site->bind,
		    site->apps_port);
	else
		buf_printf(&b, "\tlisten %s:%d;\n", site->bind,
		    site->apps_port);
	buf_printf(&b,
	    "\tserver_name _;\n"
	    "\tabsolute_redirect off;\n"
	    "\t# nginx's own answers are JSON; proxied ones keep their type.\n"
	    "\ttypes { }\n"
	    "\tdefault_type application/json;\n"
	    "\tclient_max_body_size %s;\n"
	    "\t# Server-sent events and uploads stream through unbuffered.\n"
	    "\tproxy_http_version 1.1;\n"
	    "\tproxy_buffering off;\n"
	    "\tproxy_request_buffering off;\n"
	    "\tproxy_read_timeout %ds;\n"
	    "\tproxy_send_timeout %ds;\n"
	    "\n"
	    "\tlocation / {\n"
	    "\t\treturn 404 '{\"detail\":\"not found\"}\\n';\n"
	    "\t}\n"
	    "\tlocation /apps/ {\n"
	    "\t\treturn 404 '{\"detail\":\"no such app\"}\\n';\n"
	    "\t}\n"
	    "\t# /apps/<id> without the slash (each app's `location =` comes\n"
	    "\t# here): GET and HEAD go to the slash form, whose checks apply;\n"
	    "\t# other methods are refused.  Without the `location =`, nginx\n"
	    "\t# would redirect every method itself (proxy_pass auto-redirect).\n"
	    "\tlocation ~ \"^" NGX_REDIRECT_PATH "(?<slipway_app>[a-z0-9]{%d})$\" {\n"
	    "\t\tinternal;\n"
	    "\t\tif ($request_method !~ ^(GET|HEAD)$) {\n"
	    "\t\t\tadd_header Allow \"GET, HEAD\" always;\n"
	    "\t\t\treturn 405 '{\"detail\":\"method not allowed\"}\\n';\n"
	    "\t\t}\n"
	    "\t\treturn 301 /apps/$slipway_app/$is_args$args;\n"
	    "\t}\n",
	    site->max_body,
	    site->read_timeout ? site->read_timeout : NGX_READ_TIMEOUT,
	    site->read_timeout ? site->read_timeout : NGX_READ_TIMEOUT,
	    APP_ID_LEN);
	for (i = 0; i < m; i++) {
		r = &routes[sel ? sel[i] : i];
		if (spans != NULL)
			spans[i].loc_lo = b.len;
		if (ngx_render_route(&b, r, lists[i].n == 0 ? NULL :
		    routes[sel ? sel[owner[i]] : owner[i]].app_id) == -1) {
			ngx_err(err, errlen, "app %s: unsafe value", r->app_id);
			goto out;
		}
		if (spans != NULL)
			spans[i].loc_hi = b.len;
	}
	buf_adds(&b, "}\n");
	buf_add(out, b.data, b.len);
	rc = 0;
out:
	if (rc == -1 && err != NULL && errlen > 0)
		log_warnx("%s", err);
	free(lists);
	free(hash);
	free(owner);
	buf_release(&b);
	return rc;
}

int
ngxconf_render(const struct ngx_site *site, const struct ngx_route *routes,
    size_t n, struct buf *out, char *err, size_t errlen)
{
	char tmp[512];

	if (err == NULL || errlen == 0) {
		err = tmp;
		errlen = sizeof(tmp);
	}
	return ngx_render_sel(site, routes, NULL, n, out, NULL, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Files and processes                                                 */

static int
ngx_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read a whole file (at most max bytes) into b.  -1 with errno. */
static int
ngx_read_file(const char *path, size_t max, struct buf *b)
{
	char chunk[8192];
	ssize_t r;
	int fd, rc = -1, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		if ((r = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (r == 0)
			break;
		if (b->len + (size_t)r > max) {
			errno = EFBIG;
			goto out;
		}
		buf_add(b, chunk, (size_t)r);
	}
	rc = 0;
out:
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static char *
ngx_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static const char *
ngx_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int
ngx_fsync_dir(const char *path)
{
	char *dir = ngx_dirname(path);
	int fd, rc = -1;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("open %s", dir);
		goto out;
	}
	if (fsync(fd) == -1 && errno != EINVAL) {
		log_warn("fsync %s", dir);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(dir);
	return rc;
}

/* An fd >= 3 with close-on-exec (so dup2 onto 0..2 always copies). */
static int
ngx_high_fd(int fd)
{
	int nfd;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/*
 * Run argv (PATH searched), stdin /dev/null, stdout and stderr captured into
 * out (first NGX_OUTPUT_MAX bytes).  *status gets the wait status.  Killed
 * after timeout_ms.  0 when it ran and was reaped, -1 otherwise.
 */
static int
ngx_run(char *const argv[], struct buf *out, int timeout_ms, int *status)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	struct pollfd pfd;
	char chunk[4096];
	int64_t deadline;
	pid_t pid = -1;
	ssize_t r;
	char **envp;
	size_t i, k;
	int p[2] = { -1, -1 }, rc = -1, e, left, fa_init = 0, at_init = 0;
	int timed_out = 0;

	buf_reset(out);
	/*
	 * nginx reads NGINX=fd;fd; as listening sockets inherited from an
	 * old binary (a test harness or `make up` may export NGINX=<path>):
	 * never pass it on.
	 */
	for (i = 0; environ[i] != NULL; i++)
		;
	envp = xcalloc(i + 1, sizeof(*envp));
	for (i = 0, k = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], "NGINX=", 6) != 0)
			envp[k++] = environ[i];
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("pipe2");
		free(envp);
		return -1;
	}
	if ((p[0] = ngx_high_fd(p[0])) == -1 ||
	    (p[1] = ngx_high_fd(p[1])) == -1) {
		log_warn("fcntl");
		goto out;
	}
	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto spawn_err;
	fa_init = 1;
	if ((e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
	    O_RDONLY, 0)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, p[1], 1)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, p[1], 2)) != 0)
		goto spawn_err;
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 34)
	if ((e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
		goto spawn_err;
#endif
#endif
	if ((e = posix_spawnattr_init(&attr)) != 0)
		goto spawn_err;
	at_init = 1;
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if ((e = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF)) != 0)
		goto spawn_err;
	if ((e = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp)) != 0)
		goto spawn_err;
	close(p[1]);
	p[1] = -1;

	deadline = ngx_usec() + (int64_t)timeout_ms * 1000;
	for (;;) {
		left = (int)((deadline - ngx_usec()) / 1000);
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		pfd.fd = p[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			timed_out = 1;
			break;
		}
		if ((r = read(p[0], chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_warn("read");
			break;
		}
		if (r == 0)
			break;
		if (out->len < NGX_OUTPUT_MAX)
			buf_add(out, chunk, (size_t)r > NGX_OUTPUT_MAX -
			    out->len ? NGX_OUTPUT_MAX - out->len : (size_t)r);
	}
	if (timed_out) {
		log_warnx("%s: no answer after %d ms, killing pid %ld",
		    argv[0], timeout_ms, (long)pid);
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, status, 0) == -1) {
		if (errno != EINTR) {
			log_warn("waitpid %ld", (long)pid);
			goto out;
		}
	}
	rc = timed_out ? -1 : 0;
	goto out;
spawn_err:
	errno = e;
	log_warn("posix_spawn %s", argv[0]);
out:
	if (at_init)
		posix_spawnattr_destroy(&attr);
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	free(envp);
	return rc;
}

/* The line of nginx output worth showing: the first [emerg]/[alert]/... */
static void
ngx_main_message(const char *output, struct buf *msg)
{
	static const char *const levels[] = { "[emerg]", "[alert]", "[crit]",
	    "[error]" };
	const char *line = NULL, *p, *end;
	size_t i;

	buf_reset(msg);
	/* the last line of the most severe level: nginx stops at it */
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]) && !line; i++)
		for (p = output; (p = strstr(p, levels[i])) != NULL; p++)
			line = p;
	if (line == NULL) {
		for (line = output; *line == '\n'; line++)
			;
	} else {
		for (p = line; p > output && p[-1] != '\n'; p--)
			;
		line = p;
	}
	if ((end = strchr(line, '\n')) == NULL)
		end = line + strlen(line);
	/*
	 * "nginx: [emerg] text" before the error log is open, else
	 * "2026/01/01 00:00:00 [emerg] 123#123: text": keep the text.
	 */
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if ((p = strstr(line, levels[i])) != NULL && p < end &&
		    p[strlen(levels[i])] == ' ') {
			line = p + strlen(levels[i]) + 1;
			for (p = line; p < end && *p >= '0' && *p <= '9'; p++)
				;
			if (p > line && *p == '#') {
				for (p++; p < end && *p >= '0' && *p <= '9'; p++)
					;
				if (p + 1 < end && p[0] == ':' && p[1] == ' ')
					line = p + 2;
			}
			break;
		}
	if (strncmp(line, "nginx: ", 7) == 0)
		line += 7;
	for (p = line; p < end && msg->len < 400; p++)
		buf_addch(msg, (*p < 0x20 || *p > 0x7e) ? '?' : *p);
	if (msg->len == 0)
		buf_adds(msg, "failed without a message");
}

/* ------------------------------------------------------------------ */
/* Pid file and reload                                                 */

int
ngxconf_read_pid(const char *path, pid_t *out)
{
	char text[32];
	ssize_t r;
	size_t n, i;
	long long v = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	do {
		r = read(fd, text, sizeof(text) - 1);
	} while (r == -1 && errno == EINTR);
	close(fd);
	if (r < 0)
		return -1;
	n = (size_t)r;
	if (n == 0) {
		/* nginx -t creates the pid file empty when it is missing */
		errno = ENOENT;
		return -1;
	}
	if (text[n - 1] == '\n')
		n--;
	if (n == 0 || n > 10 || text[0] == '0')
		goto bad;
	for (i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			goto bad;
		v = v * 10 + (text[i] - '0');
	}
	if (v < 2 || v > INT_MAX)
		goto bad;
	*out = (pid_t)v;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * Is pid an nginx master?  On Linux /proc/<pid>/comm must read "nginx" or
 * the nginx binary's name: a stale pid file must not make us send SIGHUP
 * (which terminates most programs) to whatever reused the pid.
 */
static int
ngx_pid_is_nginx(pid_t pid, const char *nginx_bin)
{
	char path[64], comm[32];
	const char *base = ngx_basename(nginx_bin);
	ssize_t r;
	int fd;

	if (str_fmt(path, sizeof(path), "/proc/%ld/comm", (long)pid) == -1)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT && access("/proc/self/comm", F_OK) == -1;
	r = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	comm[r] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	/* comm is the first 15 bytes of the name */
	return strcmp(comm, "nginx") == 0 ||
	    strncmp(comm, base, 15) == 0;
}

/* Tell nginx to re-read its config.  0 ok (or nothing to tell), -1 error. */
static int
ngx_reload(struct ngx_apply *a)
{
	const struct ngxconf_ctx *ctx = a->ctx;
	struct ngxconf_result *res = a->res;
	pid_t pid;
	int status;

	if (ctx->reload_argv != NULL) {
		if (ngx_run(ctx->reload_argv, &a->output, NGX_CHECK_TIMEOUT_MS,
		    &status) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			ngx_main_message(a->output.data, &a->message);
			ngx_err(res->error, sizeof(res->error),
			    "reload command failed: %s", a->message.data);
			return -1;
		}
		res->reloaded = 1;
		return 0;
	}
	if (ctx->pid_file == NULL)
		return 0;
	if (ngxconf_read_pid(ctx->pid_file, &pid) == -1) {
		if (errno == ENOENT) {
			log_info("%s: no pid, nginx not running: it will "
			    "read %s when it starts", ctx->pid_file,
			    ctx->include);
			return 0;
		}
		ngx_err(res->error, sizeof(res->error), "pid file %s: %s",
		    ctx->pid_file, errno == EINVAL ? "not a pid" :
		    strerror(errno));
		return -1;
	}
	if (kill(pid, 0) == -1 && errno == ESRCH) {
		log_warnx("%s: pid %ld is gone (stale pid file): nginx will "
		    "read %s when it starts", ctx->pid_file, (long)pid,
		    ctx->include);
		return 0;
	}
	if (!ngx_pid_is_nginx(pid, ctx->nginx_bin)) {
		ngx_err(res->error, sizeof(res->error), "pid file %s names "
		    "pid %ld, which is not nginx", ctx->pid_file, (long)pid);
		return -1;
	}
	if (kill(pid, SIGHUP) == -1) {
		ngx_err(res->error, sizeof(res->error), "SIGHUP to nginx "
		    "pid %ld: %s", (long)pid, strerror(errno));
		return -1;
	}
	res->reloaded = 1;
	return 0;
}

/*
 * The lock file carries one byte of state: '1' between installing an
 * include and reloading nginx successfully, so that a failed or interrupted
 * reload is retried by the next apply even when nothing else changed.
 */
static void
ngx_set_pending(int lock_fd, int pending)
{
	char c = pending ? '1' : '0';

	if (lock_fd == -1)
		return;
	if (pwrite(lock_fd, &c, 1, 0) != 1)
		log_warn("lock file");
}

static int
ngx_pending(int lock_fd)
{
	char c = '0';

	if (lock_fd == -1)
		return 0;
	return pread(lock_fd, &c, 1, 0) == 1 && c == '1';
}

static int
ngx_lock(const char *include)
{
	struct buf path = BUF_INIT;
	int fd;

	buf_printf(&path, "%s.lock", include);
	if ((fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		log_warn("open %s", path.data);
		goto out;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		log_warn("flock %s", path.data);
		close(fd);
		fd = -1;
		break;
	}
out:
	buf_release(&path);
	return fd;
}

/* ------------------------------------------------------------------ */
/* Apply                                                               */

size_t
ngxconf_replace_include(const char *text, const char *include,
    const char *replacement, struct buf *out)
{
	size_t ilen = strlen(include), count = 0;
	const char *p = text, *hit;
	char before, after;

	if (ilen == 0) {
		buf_adds(out, text);
		return 0;
	}
	while ((hit = strstr(p, include)) != NULL) {
		before = hit == text ? ' ' : hit[-1];
		after = hit[ilen];
		buf_add(out, p, (size_t)(hit - p));
		/* strchr also finds the NUL: the end of the text delimits */
		if (strchr(" \t\r\n\"'", before) != NULL &&
		    strchr(" \t\r\n\"';", after) != NULL) {
			buf_adds(out, replacement);
			count++;
		} else
			buf_add(out, hit, ilen);
		p = hit + ilen;
	}
	buf_adds(out, p);
	return count;
}

/* Create the candidate include and the test config that points at it. */
static int
ngx_prepare(struct ngx_apply *a)
{
	const struct ngxconf_ctx *ctx = a->ctx;
	struct ngxconf_result *res = a->res;
	struct buf main_text = BUF_INIT, test_text = BUF_INIT, path = BUF_INIT;
	char *dir = NULL;
	int fd = -1, rc = -1, attempt;

	buf_printf(&path, "%s.XXXXXX", ctx->include);
	if ((a->tmp_fd = mkostemp(path.data, O_CLOEXEC)) == -1) {
		ngx_err(res->error, sizeof(res->error), "create %s: %s",
		    path.data, strerror(errno));
		goto out;
	}
	a->tmp_path = buf_detach(&path, NULL);
	if (fchmod(a->tmp_fd, 0644) == -1)
		log_warn("fchmod %s", a->tmp_path);

	if (ngx_read_file(ctx->nginx_conf, NGX_MAIN_CONF_MAX,
	    &main_text) == -1) {
		ngx_err(res->error, sizeof(res->error), "read %s: %s",
		    ctx->nginx_conf, strerror(errno));
		goto out;
	}
	if (ngxconf_replace_include(main_text.data, ctx->include,
	    a->tmp_path, &test_text) == 0) {
		ngx_err(res->error, sizeof(res->error), "%s does not include "
		    "%s by that path", ctx->nginx_conf, ctx->include);
		goto out;
	}
	/*
	 * Next to the main config, so that its relative paths resolve the
	 * same; next to the include when that directory is read-only.
	 */
	for (attempt = 0; attempt < 2 && fd == -1; attempt++) {
		free(dir);
		dir = ngx_dirname(attempt == 0 ? ctx->nginx_conf :
		    ctx->include);
		buf_reset(&path);
		buf_printf(&path, "%s/.slipway-nginx-test.XXXXXX", dir);
		fd = mkostemp(path.data, O_CLOEXEC);
	}
	if (fd == -1) {
		ngx_err(res->error, sizeof(res->error), "create %s: %s",
		    path.data, strerror(errno));
		goto out;
	}
	a->test_path = buf_detach(&path, NULL);
	if (fchmod(fd, 0644) == -1 ||
	    ngx_write_all(fd, test_text.data, test_text.len) == -1) {
		ngx_err(res->error, sizeof(res->error), "write %s: %s",
		    a->test_path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(dir);
	buf_release(&main_text);
	buf_release(&test_text);
	buf_release(&path);
	return rc;
}

/*
 * Check text as the include: 1 if nginx accepts it, 0 if it does not
 * (message in a->message), -1 if the check could not run.
 */
static int
ngx_check(struct ngx_apply *a, const struct buf *text)
{
	struct ngxconf_result *res = a->res;
	char *argv[] = { (char *)a->ctx->nginx_bin, (char *)"-t",
	    (char *)"-q", (char *)"-c", a->test_path, NULL };
	int64_t t0 = ngx_usec();
	int status, rc = -1;

	if (res->checks >= NGX_MAX_CHECKS) {
		ngx_err(res->error, sizeof(res->error), "gave up after %d "
		    "nginx -t runs", res->checks);
		return -1;
	}
	if (ftruncate(a->tmp_fd, 0) == -1 || lseek(a->tmp_fd, 0,
	    SEEK_SET) == -1 || ngx_write_all(a->tmp_fd, text->data,
	    text->len) == -1) {
		ngx_err(res->error, sizeof(res->error), "write %s: %s",
		    a->tmp_path, strerror(errno));
		return -1;
	}
	res->checks++;
	if (ngx_run(argv, &a->output, NGX_CHECK_TIMEOUT_MS, &status) == -1) {
		ngx_err(res->error, sizeof(res->error), "could not run %s -t",
		    a->ctx->nginx_bin);
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = 1;
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		ngx_err(res->error, sizeof(res->error), "could not run %s",
		    a->ctx->nginx_bin);
		goto out;
	}
	ngx_main_message(a->output.data, &a->message);
	log_debug("nginx -t: %s", a->message.data);
	rc = 0;
out:
	res->usec_check += ngx_usec() - t0;
	return rc;
}

/* Which selected route does nginx's "in <tmp>:<line>" point into? */
static int
ngx_hint(struct ngx_apply *a, const struct buf *text,
    const struct ngx_span *spans, size_t m, size_t *pos)
{
	const char *p, *q;
	size_t tlen = strlen(a->tmp_path), off, i;
	long line = 0;

	for (p = a->output.data; (p = strstr(p, a->tmp_path)) != NULL;
	    p += tlen)
		if (p[tlen] == ':' && p[tlen + 1] >= '1' && p[tlen + 1] <= '9')
			break;
	if (p == NULL)
		return -1;
	for (q = p + tlen + 1; *q >= '0' && *q <= '9' && line < 100000000;
	    q++)
		line = line * 10 + (*q - '0');
	/* byte offset of the start of that line */
	for (off = 0; off < text->len && line > 1; off++)
		if (text->data[off] == '\n')
			line--;
	if (line > 1)
		return -1;
	for (i = 0; i < m; i++)
		if ((off >= spans[i].geo_lo && off < spans[i].geo_hi) ||
		    (off >= spans[i].loc_lo && off < spans[i].loc_hi)) {
			*pos = i;
			return 0;
		}
	return -1;
}

static void
ngx_add_bad(struct ngxconf_result *res, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
ngx_add_bad(struct ngxconf_result *res, size_t index, const char *fmt, ...)
{
	struct ngxconf_bad *b;
	va_list ap;

	res->bad = xrealloc(res->bad, st_mult(res->nbad + 1,
	    sizeof(*res->bad)));
	b = &res->bad[res->nbad++];
	b->index = index;
	va_start(ap, fmt);
	if (vsnprintf(b->reason, sizeof(b->reason), fmt, ap) < 0)
		b->reason[0] = '\0';
	va_end(ap);
}

/* Strip nginx's " in <tmp>:<line>" (meaningless once the file is gone). */
static void
ngx_reason(struct ngx_apply *a, struct buf *out)
{
	const char *p = strstr(a->message.data, a->tmp_path);

	buf_reset(out);
	if (p != NULL && p - a->message.data >= 4 && strncmp(p - 4, " in ",
	    4) == 0)
		buf_add(out, a->message.data, (size_t)(p - 4 -
		    a->message.data));
	else
		buf_adds(out, a->message.data);
}

static void
ngx_sel_remove(size_t *sel, size_t *m, size_t pos)
{
	memmove(&sel[pos], &sel[pos + 1], (*m - pos - 1) * sizeof(*sel));
	(*m)--;
}

/*
 * sel[0..*m) fails the check (a->message says why).  Find and drop the
 * routes nginx rejects until the rest passes.  0 when the rest passes, -1
 * when the failure is not any route's (or the check cannot run).
 */
static int
ngx_isolate(struct ngx_apply *a, size_t *sel, size_t *m, struct buf *text)
{
	struct ngx_span *spans = NULL;
	struct buf reason = BUF_INIT, probe = BUF_INIT;
	size_t pos, lo, hi, mid;
	int rc = -1, ok, site_checked = 0;

	for (;;) {
		free(spans);
		spans = xcalloc(*m ? *m : 1, sizeof(*spans));
		buf_reset(text);
		if (ngx_render_sel(a->site, a->routes, sel, *m, text, spans,
		    a->res->error, sizeof(a->res->error)) == -1)
			goto out;
		/* a->output and a->message are from checking this text */
		ngx_reason(a, &reason);
		if (*m > 0 && ngx_hint(a, text, spans, *m, &pos) == 0) {
			/* nginx named a line inside one route's text */
		} else {
			/* Not inside a route: is it the site itself? */
			if (!site_checked) {
				buf_reset(&probe);
				if (ngx_render_sel(a->site, a->routes, sel, 0,
				    &probe, NULL, a->res->error,
				    sizeof(a->res->error)) == -1 ||
				    (ok = ngx_check(a, &probe)) == -1)
					goto out;
				if (ok == 0 || *m == 0) {
					ngx_err(a->res->error,
					    sizeof(a->res->error), "nginx -t "
					    "fails without any app: %s",
					    a->message.data);
					goto out;
				}
				site_checked = 1;
			}
			/* smallest failing prefix: its last route is bad */
			lo = 1;
			hi = *m;
			while (lo < hi) {
				mid = lo + (hi - lo) / 2;
				buf_reset(&probe);
				if (ngx_render_sel(a->site, a->routes, sel,
				    mid, &probe, NULL, a->res->error,
				    sizeof(a->res->error)) == -1 ||
				    (ok = ngx_check(a, &probe)) == -1)
					goto out;
				if (ok == 0) {
					hi = mid;
					ngx_reason(a, &reason);
				} else
					lo = mid + 1;
			}
			pos = hi - 1;
		}
		log_warnx("app %s left out of %s: %s",
		    a->routes[sel[pos]].app_id, a->ctx->include, reason.data);
		ngx_add_bad(a->res, sel[pos], "nginx -t: %s", reason.data);
		ngx_sel_remove(sel, m, pos);

		buf_reset(text);
		if (ngx_render_sel(a->site, a->routes, sel, *m, text, NULL,
		    a->res->error, sizeof(a->res->error)) == -1 ||
		    (ok = ngx_check(a, text)) == -1)
			goto out;
		if (ok == 1)
			break;
	}
	rc = 0;
out:
	free(spans);
	buf_release(&reason);
	buf_release(&probe);
	return rc;
}

static int
ngx_apply_locked(const struct ngxconf_ctx *ctx, const struct ngx_site *site,
    const struct ngx_route *routes, size_t n, int lock_fd,
    struct ngxconf_result *res)
{
	struct ngx_apply a;
	struct buf text = BUF_INIT, current = BUF_INIT;
	size_t *sel = NULL, m = 0, i, j;
	int64_t t0 = ngx_usec(), t;
	char why[320];
	int rc = -1, ok, dup, have_current;

	memset(&a, 0, sizeof(a));
	a.ctx = ctx;
	a.site = site;
	a.routes = routes;
	a.res = res;
	a.lock_fd = lock_fd;
	a.tmp_fd = -1;
	buf_init(&a.output);
	buf_init(&a.message);

	if (ctx->nginx_bin == NULL || ctx->nginx_conf == NULL ||
	    ctx->include == NULL || ctx->include[0] != '/') {
		ngx_err(res->error, sizeof(res->error), "nginx binary, config "
		    "and absolute include path are required");
		goto out;
	}
	/* Invalid routes are left out before nginx ever sees them. */
	sel = xcalloc(n ? n : 1, sizeof(*sel));
	for (i = 0; i < n; i++) {
		if (ngxconf_route_check(&routes[i], why, sizeof(why)) == -1) {
			ngx_add_bad(res, i, "%s", why);
			continue;
		}
		for (dup = 0, j = 0; j < m && !dup; j++)
			dup = strcmp(routes[sel[j]].app_id,
			    routes[i].app_id) == 0;
		if (dup) {
			ngx_add_bad(res, i, "duplicate app_id");
			continue;
		}
		sel[m++] = i;
	}
	for (i = 0; i < res->nbad; i++)
		log_warnx("route %zu (%s) left out: %s", res->bad[i].index,
		    valid_app_id(routes[res->bad[i].index].app_id) == 0 ?
		    routes[res->bad[i].index].app_id : "?",
		    res->bad[i].reason);
	t = ngx_usec();
	if (ngx_render_sel(site, routes, sel, m, &text, NULL, res->error,
	    sizeof(res->error)) == -1)
		goto out;
	res->usec_render += ngx_usec() - t;

	have_current = ngx_read_file(ctx->include, NGX_INCLUDE_MAX,
	    &current) == 0;
	if (have_current && current.len == text.len &&
	    memcmp(current.data, text.data, text.len) == 0) {
		res->unchanged = 1;
		res->nroutes = m;
		if (ngx_pending(lock_fd)) {
			if (ngx_reload(&a) == -1)
				goto out;
			ngx_set_pending(lock_fd, 0);
		}
		rc = res->nbad ? 1 : 0;
		goto out;
	}

	if (ngx_prepare(&a) == -1)
		goto out;
	if ((ok = ngx_check(&a, &text)) == -1)
		goto out;
	if (ok == 0 && ngx_isolate(&a, sel, &m, &text) == -1)
		goto out;
	res->nroutes = m;

	/* Some routes left out may leave the include as it was. */
	if (have_current && current.len == text.len &&
	    memcmp(current.data, text.data, text.len) == 0) {
		res->unchanged = 1;
		if (ngx_pending(lock_fd)) {
			if (ngx_reload(&a) == -1)
				goto out;
			ngx_set_pending(lock_fd, 0);
		}
		rc = res->nbad ? 1 : 0;
		goto out;
	}
	/* The candidate holds the text last checked: make it durable. */
	if (fsync(a.tmp_fd) == -1) {
		ngx_err(res->error, sizeof(res->error), "fsync %s: %s",
		    a.tmp_path, strerror(errno));
		goto out;
	}
	ngx_set_pending(lock_fd, 1);
	if (rename(a.tmp_path, ctx->include) == -1) {
		ngx_err(res->error, sizeof(res->error), "rename to %s: %s",
		    ctx->include, strerror(errno));
		goto out;
	}
	free(a.tmp_path);
	a.tmp_path = NULL;
	res->installed = 1;
	(void)ngx_fsync_dir(ctx->include);
	if (ngx_reload(&a) == -1)
		goto out;
	ngx_set_pending(lock_fd, 0);
	rc = res->nbad ? 1 : 0;
out:
	if (rc == -1)
		log_warnx("%s: %s", ctx->include ? ctx->include : "include",
		    res->error);
	if (a.tmp_fd != -1)
		close(a.tmp_fd);
	if (a.tmp_path != NULL && unlink(a.tmp_path) == -1)
		log_warn("unlink %s", a.tmp_path);
	if (a.test_path != NULL && unlink(a.test_path) == -1)
		log_warn("unlink %s", a.test_path);
	free(a.tmp_path);
	free(a.test_path);
	buf_release(&a.output);
	buf_release(&a.message);
	buf_release(&text);
	buf_release(&current);
	free(sel);
	res->usec_total += ngx_usec() - t0;
	return rc;
}

void
ngxconf_result_init(struct ngxconf_result *res)
{
	memset(res, 0, sizeof(*res));
}

void
ngxconf_result_release(struct ngxconf_result *res)
{
	free(res->bad);
	ngxconf_result_init(res);
}

int
ngxconf_apply(const struct ngxconf_ctx *ctx, const struct ngx_site *site,
    const struct ngx_route *routes, size_t n, struct ngxconf_result *res)
{
	int fd, rc;

	if (ctx->include == NULL) {
		ngx_err(res->error, sizeof(res->error), "no include path");
		return -1;
	}
	if ((fd = ngx_lock(ctx->include)) == -1) {
		ngx_err(res->error, sizeof(res->error), "cannot lock %s.lock",
		    ctx->include);
		return -1;
	}
	rc = ngx_apply_locked(ctx, site, routes, n, fd, res);
	close(fd);	/* releases the lock */
	return rc;
}

/* ------------------------------------------------------------------ */
/* From the database                                                   */

struct ngx_rows {
	struct ngx_route	*r;
	size_t			 n, cap;
};

static void
ngx_rows_free(struct ngx_rows *rows)
{
	size_t i;

	for (i = 0; i < rows->n; i++) {
		free((char *)rows->r[i].app_id);
		free((char *)rows->r[i].name);
		free((char *)rows->r[i].allow_ips);
		free((char *)rows->r[i].auth_header);
	}
	free(rows->r);
	memset(rows, 0, sizeof(*rows));
}

static int
ngx_load_routes(struct db *db, struct ngx_rows *rows)
{
	sqlite3_stmt *st;
	struct ngx_route *r;
	int rc = -1, step;

	st = db_prepare(db, "SELECT app_id, name, port, allow_ips, "
	    "auth_header FROM apps WHERE status IN (?, ?) AND port IS NOT NULL "
	    "ORDER BY app_id");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, "starting") == -1 ||
	    db_bind_text(st, 2, "running") == -1)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (rows->n == rows->cap) {
			rows->cap = rows->cap ? st_mult(rows->cap, 2) : 64;
			rows->r = xrealloc(rows->r, st_mult(rows->cap,
			    sizeof(*rows->r)));
		}
		r = &rows->r[rows->n++];
		memset(r, 0, sizeof(*r));
		r->app_id = db_col_strdup(st, 0);
		r->name = db_col_strdup(st, 1);
		r->port = sqlite3_column_type(st, 2) == SQLITE_INTEGER &&
		    sqlite3_column_int64(st, 2) >= 1 &&
		    sqlite3_column_int64(st, 2) <= 65535 ?
		    sqlite3_column_int(st, 2) : 0;
		r->allow_ips = db_col_strdup(st, 3);
		r->auth_header = db_col_strdup(st, 4);
		if (r->app_id == NULL)
			r->app_id = xstrdup("");
		if (r->name == NULL)
			r->name = xstrdup("");
	}
	if (step != SQLITE_DONE) {
		log_warnx("apps: %s", sqlite3_errmsg(db->conn));
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int
ngx_mark_error(struct db *db, const char *app_id, const char *reason)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "UPDATE apps SET status = 'error', "
	    "status_detail = ?, updated_at = ? WHERE app_id = ? AND "
	    "status IN ('starting', 'running')");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, reason) == -1 ||
	    db_bind_int(st, 2, db_now()) == -1 ||
	    db_bind_text(st, 3, app_id) == -1) {
		sqlite3_finalize(st);
		return -1;
	}
	return db_exec_stmt(db, st);
}

/* Atomically add one to meta 'routes_wanted'; the new value in *gen. */
static int
ngx_bump_wanted(struct db *db, int64_t *gen)
{
	int64_t v;

	if (db_begin(db) == -1)
		return -1;
	if (db_meta_get_int(db, "routes_wanted", &v) == -1 ||
	    db_meta_set_int(db, "routes_wanted", v + 1) == -1) {
		db_rollback(db);
		return -1;
	}
	if (db_commit(db) == -1)
		return -1;
	*gen = v + 1;
	return 0;
}

int
ngxconf_sync(const struct conf *conf, struct db *db,
    struct ngxconf_sync_result *sr)
{
	struct ngxconf_sync_result local;
	struct ngxconf_result res;
	struct ngxconf_ctx ctx;
	struct ngx_site site;
	struct ngx_rows rows;
	struct buf detail = BUF_INIT;
	int64_t t0 = ngx_usec(), mine, applied, wanted;
	size_t i;
	int fd = -1, rc = -1, arc;

	if (sr == NULL)
		sr = &local;
	memset(sr, 0, sizeof(*sr));
	memset(&rows, 0, sizeof(rows));
	ngxconf_result_init(&res);
	if (db->in_tx) {
		log_warnx("called inside a transaction");
		goto out;
	}
	if (ngx_bump_wanted(db, &mine) == -1)
		goto out;
	if ((fd = ngx_lock(conf->apps_include)) == -1)
		goto out;
	if (db_meta_get_int(db, "routes_applied", &applied) == -1)
		goto out;
	if (applied >= mine) {
		log_debug("routes generation %lld already applied (%lld)",
		    (long long)mine, (long long)applied);
		sr->coalesced = 1;
		rc = 0;
		goto out;
	}
	/* Everything requested up to here is covered by what we read next. */
	if (db_meta_get_int(db, "routes_wanted", &wanted) == -1 ||
	    ngx_load_routes(db, &rows) == -1)
		goto out;

	memset(&site, 0, sizeof(site));
	site.bind = conf->bind;
	site.apps_port = conf->apps_port;
	site.max_body = conf->max_upload_str;
	memset(&ctx, 0, sizeof(ctx));
	ctx.nginx_bin = conf->nginx_bin;
	ctx.nginx_conf = conf->nginx_conf;
	ctx.include = conf->apps_include;
	ctx.pid_file = conf->nginx_pid;

	arc = ngx_apply_locked(&ctx, &site, rows.r, rows.n, fd, &res);
	if (arc == -1)
		goto out;
	for (i = 0; i < res.nbad; i++) {
		buf_reset(&detail);
		buf_printf(&detail, "route rejected: %s", res.bad[i].reason);
		if (ngx_mark_error(db, rows.r[res.bad[i].index].app_id,
		    detail.data) == -1)
			goto out;
		sr->nerror++;
	}
	if (db_meta_set_int(db, "routes_applied", wanted) == -1)
		goto out;
	sr->reloaded = res.reloaded;
	sr->nroutes = res.nroutes;
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	sr->usec_total = ngx_usec() - t0;
	ngx_rows_free(&rows);
	ngxconf_result_release(&res);
	buf_release(&detail);
	return rc;
}
