/*
 * t_ngxconf: the include writer.
 *   - golden includes in tests/data/ngxconf/ (SLIPWAY_REGEN_GOLDEN=1
 *     rewrites them after a deliberate change: review the diff);
 *   - hostile field values are refused, naming the app;
 *   - apply and sync against a fake nginx (a shell script) that rejects
 *     any include naming the app id "badbadbadbad", with or without a line
 *     number, or everything: the last good include stays, the bad route is
 *     found and left out, the app is marked error, bursts coalesce;
 *   - pid file parsing and the reload's "is it nginx" guard.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "ngxconf.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_ngxconf.XXXXXX";

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static int
slurp(const char *path, struct buf *b)
{
	char chunk[4096];
	ssize_t r;
	int fd;

	buf_reset(b);
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(b, chunk, (size_t)r);
	close(fd);
	return r < 0 ? -1 : 0;
}

static int
spew(const char *path, const char *text, mode_t mode)
{
	int fd;
	size_t n = strlen(text);

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1)
		return -1;
	if (write(fd, text, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static char *
tpath(const char *leaf)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s/%s", tmpdir, leaf);
	return buf_detach(&b, NULL);
}

/* Files left in the temp dir whose name starts with prefix (not the lock). */
static int
leftovers(const char *prefix)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 &&
		    strcmp(de->d_name, "apps.conf.lock") != 0)
			n++;
	closedir(d);
	return n;
}

/* ------------------------------------------------------------------ */
/* golden files                                                        */

static const struct ngx_site site4 = { "127.0.0.1", 8080, "2g", 0 };
static const struct ngx_site site6 = { "::1", 18080, "512m", 600 };

static const struct ngx_route r_open = {
	"a1b2c3d4e5f6", "gradio-demo", 7860, "", "", NULL };
static const struct ngx_route r_allow = {
	"allow0000001", "lab-only", 7861,
	"10.1.2.3/8, 192.168.1.7, ::1,2001:db8::/32 , 10.0.0.0/8", NULL, NULL };
static const struct ngx_route r_bearer = {
	"bearer000001", "api", 7862, NULL, "Bearer s3cr3t-t0ken.value", NULL };
static const struct ngx_route r_basic = {
	"basic0000001", "team-ui", 7863, "", "Basic dXNlcjpwYXNz", NULL };
static const struct ngx_route r_both = {
	"both00000001", "private_app", 7864, "127.0.0.1, fd00::/8",
	"basic YWxpY2U6d29uZGVybGFuZA==", "100m" };

static void
golden(const char *leaf, const struct ngx_site *site,
    const struct ngx_route *routes, size_t n)
{
	struct buf out = BUF_INIT, want = BUF_INIT, path = BUF_INIT;
	char err[256];

	buf_printf(&path, "%s/tests/data/ngxconf/%s", SLIPWAY_SRCDIR, leaf);
	if (!ok(ngxconf_render(site, routes, n, &out, err, sizeof(err)) == 0,
	    "render %s", leaf)) {
		printf("#   %s\n", err);
		goto out;
	}
	if (getenv("SLIPWAY_REGEN_GOLDEN") != NULL)
		ok(spew(path.data, out.data, 0644) == 0, "regenerated %s",
		    path.data);
	if (!ok(slurp(path.data, &want) == 0, "read %s", path.data))
		goto out;
	if (!ok(strcmp(out.data, want.data) == 0, "golden %s", leaf))
		printf("# --- got ---\n%s# ---\n", out.data);
out:
	buf_release(&out);
	buf_release(&want);
	buf_release(&path);
}

/* the same networks as r_allow, in another order and spelling */
static const struct ngx_route r_allow_same = {
	"allow0000002", "lab-too", 7865,
	"::1, 2001:db8:0::/32, 192.168.1.7/32, 10.9.9.9/8", "Bearer x", NULL };

static void
test_golden(void)
{
	struct ngx_route all[] = { r_open, r_allow, r_bearer, r_basic, r_both };
	struct ngx_route shared[] = { r_allow, r_both, r_allow_same };

	golden("none.conf", &site4, NULL, 0);
	golden("open.conf", &site4, &r_open, 1);
	golden("allow.conf", &site4, &r_allow, 1);
	golden("bearer.conf", &site4, &r_bearer, 1);
	golden("basic.conf", &site4, &r_basic, 1);
	golden("both.conf", &site4, &r_both, 1);
	golden("all-ipv6-site.conf", &site6, all, 5);
	golden("shared-geo.conf", &site4, shared, 3);
}

/* ------------------------------------------------------------------ */
/* hostile values                                                      */

static void
test_refused(void)
{
	static const struct {
		struct ngx_route	r;
		const char		*why;
	} bad[] = {
		{ { "ABCDEFABCDEF", "x", 1, "", "", NULL }, "upper-case id" },
		{ { "abcdefabcde", "x", 1, "", "", NULL }, "short id" },
		{ { "abcdefabcdef0", "x", 1, "", "", NULL }, "long id" },
		{ { "abcdef;bcdef", "x", 1, "", "", NULL }, "id with ;" },
		{ { "abcdef/../ab", "x", 1, "", "", NULL }, "id with dots" },
		{ { NULL, "x", 1, "", "", NULL }, "no id" },
		{ { "abcdefabcdef", "x\"y", 1, "", "", NULL }, "name quote" },
		{ { "abcdefabcdef", "x$y", 1, "", "", NULL }, "name dollar" },
		{ { "abcdefabcdef", "x\ny", 1, "", "", NULL }, "name newline" },
		{ { "abcdefabcdef", "x}y", 1, "", "", NULL }, "name brace" },
		{ { "abcdefabcdef", "", 1, "", "", NULL }, "empty name" },
		{ { "abcdefabcdef", NULL, 1, "", "", NULL }, "no name" },
		{ { "abcdefabcdef", "x", 0, "", "", NULL }, "port 0" },
		{ { "abcdefabcdef", "x", -1, "", "", NULL }, "port -1" },
		{ { "abcdefabcdef", "x", 65536, "", "", NULL }, "port 65536" },
		{ { "abcdefabcdef", "x", 1, "all", "", NULL }, "allow all" },
		{ { "abcdefabcdef", "x", 1, "10.0.0.1; allow all", "", NULL },
		    "allow directive" },
		{ { "abcdefabcdef", "x", 1, "10.0.0.1 }", "", NULL },
		    "allow brace" },
		{ { "abcdefabcdef", "x", 1, "localhost", "", NULL },
		    "allow hostname" },
		{ { "abcdefabcdef", "x", 1, "1.2.3.4/33", "", NULL },
		    "allow prefix" },
		{ { "abcdefabcdef", "x", 1, "1.2.3.4\n", "", NULL },
		    "allow newline" },
		{ { "abcdefabcdef", "x", 1, "", "Bearer \"x", NULL },
		    "auth quote" },
		{ { "abcdefabcdef", "x", 1, "", "Bearer x\"; return 200; #",
		    NULL }, "auth injection" },
		{ { "abcdefabcdef", "x", 1, "", "Bearer ${x}", NULL },
		    "auth variable" },
		{ { "abcdefabcdef", "x", 1, "", "Bearer x\n", NULL },
		    "auth newline" },
		{ { "abcdefabcdef", "x", 1, "", "Bearer x\\", NULL },
		    "auth backslash" },
		{ { "abcdefabcdef", "x", 1, "", "Bearer {x}", NULL },
		    "auth braces" },
		{ { "abcdefabcdef", "x", 1, "", " Bearer", NULL },
		    "auth leading space" },
		{ { "abcdefabcdef", "x", 1, "", "", "1x" }, "max_body junk" },
		{ { "abcdefabcdef", "x", 1, "", "", "10m;" }, "max_body ;" },
		{ { "abcdefabcdef", "x", 1, "", "", "" }, "max_body empty" },
	};
	struct ngx_route two[2];
	struct ngx_site s;
	struct buf out = BUF_INIT, longauth = BUF_INIT;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&out);
		buf_adds(&out, "keep");
		err[0] = '\0';
		ok(ngxconf_render(&site4, &bad[i].r, 1, &out, err,
		    sizeof(err)) == -1 && strcmp(out.data, "keep") == 0,
		    "refused: %s (%s)", bad[i].why, err);
		ok(ngxconf_route_check(&bad[i].r, err, sizeof(err)) == -1,
		    "route_check refuses: %s", bad[i].why);
	}
	/* the message names the app when its id is valid */
	ngxconf_render(&site4, &bad[15].r, 1, &out, err, sizeof(err));
	ok(strstr(err, "abcdefabcdef") != NULL && strstr(err, "allow_ips"),
	    "error names app and field: %s", err);
	ok(strstr(err, "all") == NULL || strstr(err, "allow") != NULL,
	    "error does not quote the value");

	/* overlong auth */
	buf_adds(&longauth, "Bearer ");
	while (longauth.len <= LIMIT_AUTH_HEADER)
		buf_addch(&longauth, 'x');
	two[0] = r_open;
	two[0].auth_header = longauth.data;
	ok(ngxconf_render(&site4, two, 1, &out, err, sizeof(err)) == -1,
	    "overlong auth refused");

	/* a bad route among good ones refuses the whole render */
	two[0] = r_open;
	two[1] = bad[22].r;
	ok(ngxconf_render(&site4, two, 2, &out, err, sizeof(err)) == -1 &&
	    strstr(err, "abcdefabcdef"), "one bad route refuses: %s", err);
	/* duplicate ids */
	two[1] = r_open;
	two[1].port = 9999;
	ok(ngxconf_render(&site4, two, 2, &out, err, sizeof(err)) == -1 &&
	    strstr(err, "duplicate"), "duplicate app_id refused: %s", err);

	/* site */
	s = site4;
	s.bind = "localhost";
	ok(ngxconf_render(&s, NULL, 0, &out, err, sizeof(err)) == -1,
	    "site bind hostname refused");
	s.bind = "127.0.0.1; evil";
	ok(ngxconf_render(&s, NULL, 0, &out, err, sizeof(err)) == -1,
	    "site bind injection refused");
	s = site4;
	s.apps_port = 0;
	ok(ngxconf_render(&s, NULL, 0, &out, err, sizeof(err)) == -1,
	    "site port 0 refused");
	s = site4;
	s.max_body = "2g;";
	ok(ngxconf_render(&s, NULL, 0, &out, err, sizeof(err)) == -1,
	    "site max body refused");
	s = site4;
	s.read_timeout = -5;
	ok(ngxconf_render(&s, NULL, 0, &out, err, sizeof(err)) == -1,
	    "site timeout refused");
	buf_release(&out);
	buf_release(&longauth);
}

/* ------------------------------------------------------------------ */
/* pid files and include substitution                                  */

static void
test_pid(void)
{
	static const struct {
		const char	*text;
		long		 pid;	/* 0: invalid */
	} pids[] = {
		{ "123\n", 123 }, { "123", 123 }, { "2", 2 },
		{ "2147483647\n", 2147483647L },
		{ "\n", 0 }, { "0", 0 }, { "1", 0 }, { "0123", 0 },
		{ "12a", 0 }, { " 123", 0 }, { "123 ", 0 }, { "123\n\n", 0 },
		{ "2147483648", 0 }, { "99999999999", 0 }, { "-5", 0 },
		{ "+5", 0 }, { "12\n34", 0 }, { "0x10", 0 },
	};
	char *path = tpath("pid");
	pid_t pid;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		spew(path, pids[i].text, 0644);
		pid = -7;
		rc = ngxconf_read_pid(path, &pid);
		if (pids[i].pid)
			ok(rc == 0 && pid == pids[i].pid, "pid file %zu ok", i);
		else
			ok(rc == -1 && errno == EINVAL && pid == -7,
			    "pid file %zu rejected", i);
	}
	spew(path, "", 0644);
	ok(ngxconf_read_pid(path, &pid) == -1 && errno == ENOENT,
	    "empty pid file (nginx -t made it) is ENOENT");
	unlink(path);
	ok(ngxconf_read_pid(path, &pid) == -1 && errno == ENOENT,
	    "missing pid file is ENOENT");
	free(path);
}

static void
test_replace(void)
{
	static const struct {
		const char	*in;
		const char	*out;
		size_t		 n;
	} t[] = {
		{ "include /d/apps.conf;", "include /T;", 1 },
		{ "\tinclude   /d/apps.conf ;\n", "\tinclude   /T ;\n", 1 },
		{ "include \"/d/apps.conf\";", "include \"/T\";", 1 },
		{ "include '/d/apps.conf';", "include '/T';", 1 },
		{ "include /d/apps.conf.bak;", "include /d/apps.conf.bak;", 0 },
		{ "include /x/d/apps.conf;", "include /x/d/apps.conf;", 0 },
		{ "include /d/apps.confx;", "include /d/apps.confx;", 0 },
		{ "include /d/apps.conf", "include /T", 1 },
		{ "/d/apps.conf;", "/T;", 1 },
		{ "a /d/apps.conf; b /d/apps.conf;", "a /T; b /T;", 2 },
		{ "", "", 0 },
	};
	struct buf out = BUF_INIT;
	size_t i, n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		buf_reset(&out);
		n = ngxconf_replace_include(t[i].in, "/d/apps.conf", "/T",
		    &out);
		ok(n == t[i].n && strcmp(out.data, t[i].out) == 0,
		    "replace %zu: %zu replacements", i, n);
	}
	buf_release(&out);
}

/* ------------------------------------------------------------------ */
/* apply against a fake nginx                                          */

/*
 * Fake nginx: "-t -q -c FILE".  Logs each run to $FAKE_LOG.  Fails when
 * NGINX is in its environment (nginx would read it as inherited sockets),
 * FAKE_FAIL_ALL is set, or when the include FILE names contains
 * badbadbadbad (with "in FILE:LINE" unless FAKE_NO_LINE is set).  Sleeps
 * $FAKE_SLEEP seconds first.
 */
static const char fake_nginx[] =
    "#!/bin/sh\n"
    "[ \"$1\" = -t ] || exit 2\n"
    "conf=$4\n"
    "echo run >> \"$FAKE_LOG\"\n"
    "[ -n \"${NGINX+x}\" ] && { echo 'nginx: [emerg] NGINX leaked' >&2; "
    "exit 1; }\n"
    "[ -n \"$FAKE_SLEEP\" ] && sleep \"$FAKE_SLEEP\"\n"
    "inc=$(sed -n 's/^include \\(.*\\);$/\\1/p' \"$conf\")\n"
    "[ -f \"$inc\" ] || { echo \"nginx: [emerg] open() $inc failed\" >&2; "
    "exit 1; }\n"
    "if [ -n \"$FAKE_FAIL_ALL\" ]; then\n"
    "  echo 'nginx: [emerg] unknown directive \"bogus\" in '\"$conf:1\" >&2\n"
    "  echo 'nginx: configuration file test failed' >&2; exit 1\n"
    "fi\n"
    "line=$(grep -n badbadbadbad \"$inc\" | head -n 1 | cut -d: -f1)\n"
    "if [ -n \"$line\" ]; then\n"
    "  echo 'nginx: [emerg] earlier noise' >&2\n"
    "  if [ -n \"$FAKE_NO_LINE\" ]; then\n"
    "    echo 'nginx: [emerg] injected fault' >&2\n"
    "  else\n"
    "    echo \"nginx: [emerg] injected fault in $inc:$line\" >&2\n"
    "  fi\n"
    "  echo 'nginx: configuration file test failed' >&2; exit 1\n"
    "fi\n"
    "exit 0\n";

struct fake {
	char	*nginx, *conf, *include, *pid, *log;
};

static void
fake_setup(struct fake *f)
{
	struct buf b = BUF_INIT;

	f->nginx = tpath("nginx");
	f->conf = tpath("nginx.conf");
	f->include = tpath("apps.conf");
	f->pid = tpath("nginx.pid");
	f->log = tpath("fake.log");
	spew(f->nginx, fake_nginx, 0755);
	buf_printf(&b, "include %s;\n", f->include);
	spew(f->conf, b.data, 0644);
	setenv("FAKE_LOG", f->log, 1);
	buf_release(&b);
}

static void
fake_free(struct fake *f)
{
	free(f->nginx);
	free(f->conf);
	free(f->include);
	free(f->pid);
	free(f->log);
}

static int
fake_runs(struct fake *f)
{
	struct buf b = BUF_INIT;
	size_t i;
	int n = 0;

	if (slurp(f->log, &b) == 0)
		for (i = 0; i < b.len; i++)
			n += b.data[i] == '\n';
	buf_release(&b);
	unlink(f->log);
	return n;
}

/* A child whose comm is "nginx": exits 42 on SIGHUP, 0 after 20 s. */
static pid_t
fake_master(void)
{
	sigset_t set;
	pid_t pid;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((pid = fork()) == 0) {
		prctl(PR_SET_NAME, "nginx", 0, 0, 0);
		alarm(20);
		if (sigwait(&set, &sig) == 0 && sig == SIGHUP)
			_exit(42);
		_exit(0);
	}
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return pid;
}

static void
test_apply(void)
{
	struct fake f;
	struct ngxconf_ctx ctx;
	struct ngxconf_result res;
	struct ngx_route routes[6];
	struct buf want = BUF_INIT, got = BUF_INIT, before = BUF_INIT;
	struct buf pidtext = BUF_INIT;
	char *argv_false[] = { (char *)"false", NULL };
	char err[256], *saved_nginx;
	pid_t master;
	int rc, status;

	fake_setup(&f);
	saved_nginx = getenv("NGINX") ? xstrdup(getenv("NGINX")) : NULL;
	setenv("NGINX", "/usr/sbin/nginx", 1);	/* must not reach nginx */
	memset(&ctx, 0, sizeof(ctx));
	ctx.nginx_bin = f.nginx;
	ctx.nginx_conf = f.conf;
	ctx.include = f.include;
	ctx.pid_file = f.pid;

	/* first apply: nothing there yet, nginx not running */
	routes[0] = r_open;
	routes[1] = r_basic;
	ngxconf_result_init(&res);
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == 0 && res.installed && !res.reloaded && res.checks == 1 &&
	    res.nroutes == 2, "first apply installs (rc %d, %s)", rc,
	    res.error);
	ngxconf_result_release(&res);
	ngxconf_render(&site4, routes, 2, &want, err, sizeof(err));
	slurp(f.include, &got);
	ok(strcmp(want.data, got.data) == 0, "include is the render");
	is(fake_runs(&f), 1, "one nginx -t");
	is(leftovers("apps.conf."), 0, "no temporary include left");
	is(leftovers(".slipway-nginx-test"), 0, "no test config left");

	/* same routes again: nothing to do */
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == 0 && res.unchanged && !res.installed && res.checks == 0,
	    "identical render is not applied again");
	ngxconf_result_release(&res);
	is(fake_runs(&f), 0, "no nginx -t for an identical render");

	/* a route nginx rejects (line number given), plus a new good one */
	routes[2] = r_bearer;
	routes[2].app_id = "badbadbadbad";
	routes[3] = r_allow;
	rc = ngxconf_apply(&ctx, &site4, routes, 4, &res);
	ok(rc == 1 && res.nbad == 1 && res.bad[0].index == 2 &&
	    res.installed && res.nroutes == 3, "bad route left out, rest "
	    "installed (rc %d, nbad %zu, checks %d)", rc, res.nbad,
	    res.checks);
	ok(res.nbad == 1 && strstr(res.bad[0].reason, "injected fault") &&
	    strstr(res.bad[0].reason, "apps.conf.") == NULL,
	    "reason is nginx's message without the temp path: %s",
	    res.nbad ? res.bad[0].reason : "");
	is(res.checks, 2, "line number found it in 2 checks");
	ngxconf_result_release(&res);
	slurp(f.include, &got);
	ok(strstr(got.data, "badbadbadbad") == NULL &&
	    strstr(got.data, "allow0000001") != NULL &&
	    strstr(got.data, "a1b2c3d4e5f6") != NULL, "include has the good "
	    "routes only");
	fake_runs(&f);

	/* same without line numbers: bisection */
	routes[2] = r_both;
	routes[3] = r_bearer;
	routes[3].app_id = "badbadbadbad";
	routes[4] = r_allow;
	routes[5] = r_bearer;
	setenv("FAKE_NO_LINE", "1", 1);
	rc = ngxconf_apply(&ctx, &site4, routes, 6, &res);
	ok(rc == 1 && res.nbad == 1 && res.bad[0].index == 3 &&
	    res.nroutes == 5 && res.checks > 2, "bisection finds it "
	    "(rc %d, nbad %zu, checks %d)", rc, res.nbad, res.checks);
	ngxconf_result_release(&res);
	unsetenv("FAKE_NO_LINE");
	slurp(f.include, &got);
	ok(strstr(got.data, "badbadbadbad") == NULL &&
	    strstr(got.data, "bearer000001") != NULL, "include after "
	    "bisection");
	fake_runs(&f);

	/* two bad routes */
	routes[0].app_id = "badbadbadbad";
	routes[5].app_id = "badbadbadbad";	/* duplicate: refused early */
	rc = ngxconf_apply(&ctx, &site4, routes, 6, &res);
	ok(rc == 1 && res.nbad == 3, "three left out (two nginx, one "
	    "duplicate): nbad %zu", res.nbad);
	ngxconf_result_release(&res);
	routes[0] = r_open;
	routes[5] = r_bearer;
	fake_runs(&f);

	/* nginx rejects everything: the last good include stays */
	slurp(f.include, &before);
	setenv("FAKE_FAIL_ALL", "1", 1);
	rc = ngxconf_apply(&ctx, &site4, routes, 3, &res);
	ok(rc == -1 && !res.installed && strstr(res.error, "without any app"),
	    "site-level failure: -1 (%s)", res.error);
	ngxconf_result_release(&res);
	unsetenv("FAKE_FAIL_ALL");
	slurp(f.include, &got);
	ok(strcmp(before.data, got.data) == 0, "last good include kept");
	is(leftovers("apps.conf."), 0, "no temporary include left");
	is(leftovers(".slipway-nginx-test"), 0, "no test config left");
	fake_runs(&f);

	/* invalid fields never reach nginx */
	routes[1] = r_basic;
	routes[1].auth_header = "Basic x\"; deny all; #";
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == 1 && res.nbad == 1 && res.bad[0].index == 1 &&
	    strstr(res.bad[0].reason, "auth_header"), "invalid route left "
	    "out: %s", res.nbad ? res.bad[0].reason : "");
	ngxconf_result_release(&res);
	routes[1] = r_basic;

	/* malformed pid file: installed, not reloaded, error */
	spew(f.pid, "12abc\n", 0644);
	routes[1] = r_bearer;
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == -1 && res.installed && !res.reloaded &&
	    strstr(res.error, "not a pid"), "bad pid file: %s", res.error);
	ngxconf_result_release(&res);

	/* a pid that is not nginx (ourselves): refused, not signalled */
	buf_printf(&pidtext, "%ld\n", (long)getpid());
	spew(f.pid, pidtext.data, 0644);
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == -1 && res.unchanged && strstr(res.error, "not nginx"),
	    "pending reload retried, pid not nginx refused: %s", res.error);
	ngxconf_result_release(&res);

	/* an nginx master: the pending reload is retried and delivered */
	master = fake_master();
	buf_reset(&pidtext);
	buf_printf(&pidtext, "%ld\n", (long)master);
	spew(f.pid, pidtext.data, 0644);
	usleep(100000);		/* let the child rename itself */
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == 0 && res.unchanged && res.reloaded, "pending reload "
	    "delivered (rc %d, %s)", rc, res.error);
	ngxconf_result_release(&res);
	ok(waitpid(master, &status, 0) == master && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 42, "master got SIGHUP");
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == 0 && res.unchanged && !res.reloaded, "then nothing pending");
	ngxconf_result_release(&res);

	/* stale pid (process gone): installed, no error */
	routes[1] = r_both;
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == 0 && res.installed && !res.reloaded, "stale pid file is "
	    "not an error (rc %d, %s)", rc, res.error);
	ngxconf_result_release(&res);

	/* reload command */
	ctx.reload_argv = argv_false;
	routes[1] = r_basic;
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == -1 && res.installed && strstr(res.error, "reload command"),
	    "failing reload command reported: %s", res.error);
	ngxconf_result_release(&res);
	ctx.reload_argv = NULL;

	/* main config that does not include the file */
	spew(f.conf, "include /elsewhere/apps.conf;\n", 0644);
	routes[1] = r_both;
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == -1 && !res.installed && strstr(res.error, "does not "
	    "include"), "main config must include it: %s", res.error);
	ngxconf_result_release(&res);
	is(leftovers("apps.conf."), 0, "no temporary include left");

	/* nginx binary missing */
	buf_reset(&pidtext);
	buf_printf(&pidtext, "include %s;\n", f.include);
	spew(f.conf, pidtext.data, 0644);
	ctx.nginx_bin = "/nonexistent/nginx";
	rc = ngxconf_apply(&ctx, &site4, routes, 2, &res);
	ok(rc == -1 && !res.installed, "missing nginx binary: %s", res.error);
	ngxconf_result_release(&res);

	unlink(f.pid);
	if (saved_nginx != NULL)
		setenv("NGINX", saved_nginx, 1);
	else
		unsetenv("NGINX");
	free(saved_nginx);
	buf_release(&want);
	buf_release(&got);
	buf_release(&before);
	buf_release(&pidtext);
	fake_free(&f);
}

/* ------------------------------------------------------------------ */
/* sync from the database                                              */

static void
conf_for(struct conf *c, struct fake *f)
{
	memset(c, 0, sizeof(*c));
	c->db_path = tpath("slipway.db");
	c->bind = xstrdup("127.0.0.1");
	c->apps_port = 8080;
	c->max_upload_str = xstrdup("2g");
	c->nginx_bin = xstrdup(f->nginx);
	c->nginx_conf = xstrdup(f->conf);
	c->nginx_pid = xstrdup(f->pid);
	c->apps_include = xstrdup(f->include);
}

static void
add_app(struct db *db, const char *app_id, const char *name,
    const char *status, int port, const char *allow, const char *auth)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "INSERT INTO apps (app_id, name, type, status, "
	    "owner_id, port, allow_ips, auth_header, created_at, updated_at) "
	    "VALUES (?, ?, 'docker', ?, 1, ?, ?, ?, 0, 0)");
	db_bind_text(st, 1, app_id);
	db_bind_text(st, 2, name);
	db_bind_text(st, 3, status);
	if (port)
		db_bind_int(st, 4, port);
	db_bind_text(st, 5, allow);
	db_bind_text(st, 6, auth);
	if (db_exec_stmt(db, st) == -1)
		printf("# insert %s failed\n", app_id);
}

static void
app_status(struct db *db, const char *app_id, struct buf *out)
{
	sqlite3_stmt *st;

	buf_reset(out);
	st = db_prepare(db, "SELECT status, status_detail FROM apps WHERE "
	    "app_id = ?");
	db_bind_text(st, 1, app_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		buf_printf(out, "%s: %s", sqlite3_column_text(st, 0),
		    sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
}

static void
test_sync(void)
{
	struct fake f;
	struct conf c;
	struct db *db;
	struct ngxconf_sync_result sr;
	struct buf got = BUF_INIT, st = BUF_INIT;
	pid_t kids[8];
	int i, rc, status, applied = 0, coalesced = 0, failed = 0;
	int64_t v;

	fake_setup(&f);
	conf_for(&c, &f);
	if ((db = db_open(c.db_path)) == NULL) {
		ok(0, "open database");
		return;
	}
	db_exec(db, "INSERT INTO users (id, username, password_hash, "
	    "created_at) VALUES (1, 'alice', 'x', 0)");
	add_app(db, "a1b2c3d4e5f6", "one", "running", 7860, "", "");
	add_app(db, "starting0001", "two", "starting", 7861, "::1",
	    "Bearer t");
	add_app(db, "stopped00001", "three", "stopped", 7862, "", "");
	add_app(db, "noport000001", "four", "running", 0, "", "");
	add_app(db, "hostile00001", "five", "running", 7863,
	    "10.0.0.1; allow all", "");
	add_app(db, "badbadbadbad", "six", "running", 7864, "", "");

	rc = ngxconf_sync(&c, db, &sr);
	ok(rc == 0 && sr.nroutes == 2 && sr.nerror == 2 && !sr.coalesced,
	    "sync: 2 routes, 2 apps in error (rc %d, %zu, %zu)", rc,
	    sr.nroutes, sr.nerror);
	slurp(f.include, &got);
	ok(strstr(got.data, "a1b2c3d4e5f6") && strstr(got.data,
	    "starting0001") && !strstr(got.data, "stopped00001") &&
	    !strstr(got.data, "noport000001") && !strstr(got.data,
	    "hostile00001") && !strstr(got.data, "badbadbadbad"),
	    "include holds the starting and running apps with a port");
	app_status(db, "hostile00001", &st);
	ok(strncmp(st.data, "error: route rejected: invalid allow_ips", 40) ==
	    0, "hostile app marked error: %s", st.data);
	app_status(db, "badbadbadbad", &st);
	ok(strcmp(st.data, "error: route rejected: nginx -t: injected fault")
	    == 0, "app nginx rejects marked error: %s", st.data);
	app_status(db, "a1b2c3d4e5f6", &st);
	is_str(st.data, "running: ", "other app still running");
	db_meta_get_int(db, "routes_applied", &v);
	is(v, 1, "routes_applied = 1");
	fake_runs(&f);

	/* a burst of 8 processes after one change */
	add_app(db, "burst0000001", "seven", "running", 7865, "", "");
	setenv("FAKE_SLEEP", "0.3", 1);
	for (i = 0; i < 8; i++) {
		if ((kids[i] = fork()) == 0) {
			struct db *kdb = db_open(c.db_path);

			if (kdb == NULL || ngxconf_sync(&c, kdb, &sr) == -1)
				_exit(3);
			db_close(kdb);
			_exit(sr.coalesced ? 1 : 0);
		}
	}
	for (i = 0; i < 8; i++) {
		if (waitpid(kids[i], &status, 0) != kids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) > 1)
			failed++;
		else if (WEXITSTATUS(status) == 1)
			coalesced++;
		else
			applied++;
	}
	unsetenv("FAKE_SLEEP");
	is(failed, 0, "no sync failed");
	/* late starters render again (identical text, no check) */
	ok(applied >= 1 && applied <= 4, "8 syncs, %d rendered, %d coalesced",
	    applied, coalesced);
	ok(fake_runs(&f) <= 1, "at most one nginx -t for the burst");
	slurp(f.include, &got);
	ok(strstr(got.data, "burst0000001") != NULL, "burst change applied");

	/* inside a transaction: refused */
	db_begin(db);
	ok(ngxconf_sync(&c, db, NULL) == -1, "sync inside a transaction "
	    "refused");
	db_rollback(db);

	db_close(db);
	conf_free(&c);
	buf_release(&got);
	buf_release(&st);
	fake_free(&f);
}

/* Run nginx -t -q -c conf; its exit status, or -1. */
static int
real_check(const char *nginx, const char *conf)
{
	char *argv[] = { (char *)nginx, (char *)"-t", (char *)"-q",
	    (char *)"-c", (char *)conf, NULL };
	pid_t pid;
	int status, devnull;

	if ((pid = fork()) == 0) {
		if ((devnull = open("/dev/null", O_WRONLY)) != -1)
			dup2(devnull, 1);
		execv(nginx, argv);
		_exit(127);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

/* Real nginx accepts every golden include (skipped without nginx). */
static void
test_real_nginx(void)
{
	static const char *const leaves[] = { "none.conf", "open.conf",
	    "allow.conf", "bearer.conf", "basic.conf", "both.conf",
	    "all-ipv6-site.conf", "shared-geo.conf" };
	struct ngx_route all[] = { r_open, r_allow, r_bearer, r_basic, r_both };
	const char *nginx = getenv("NGINX");
	char *conf = tpath("real.conf"), *include = tpath("real-apps.conf");
	struct buf text = BUF_INIT, path = BUF_INIT;
	struct ngxconf_ctx ctx;
	struct ngxconf_result res;
	size_t i;
	int rc;

	if (nginx == NULL || nginx[0] != '/')
		nginx = "/usr/sbin/nginx";
	if (access(nginx, X_OK) == -1) {
		ok(1, "# SKIP no nginx at %s", nginx);
		goto out;
	}
	buf_printf(&text,
	    "pid %s/real.pid;\n"
	    "error_log %s/real-error.log;\n"
	    "events { }\n"
	    "http {\n"
	    "\taccess_log off;\n"
	    "\tclient_body_temp_path %s;\n"
	    "\tproxy_temp_path %s;\n"
	    "\tfastcgi_temp_path %s;\n"
	    "\tuwsgi_temp_path %s;\n"
	    "\tscgi_temp_path %s;\n"
	    "\tmap $http_upgrade $connection_upgrade {\n"
	    "\t\tdefault upgrade;\n\t\t'' close;\n\t}\n"
	    "\tinclude %s;\n"
	    "}\n", tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir,
	    include);
	spew(conf, text.data, 0644);

	/* each golden file, included as it is */
	for (i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		buf_reset(&path);
		buf_printf(&path, "%s/tests/data/ngxconf/%s", SLIPWAY_SRCDIR,
		    leaves[i]);
		if (slurp(path.data, &text) == -1 ||
		    spew(include, text.data, 0644) == -1) {
			ok(0, "copy %s", leaves[i]);
			continue;
		}
		is(real_check(nginx, conf), 0, "real nginx -t accepts %s",
		    leaves[i]);
	}

	/* and ngxconf_apply driving the real binary */
	memset(&ctx, 0, sizeof(ctx));
	ctx.nginx_bin = nginx;
	ctx.nginx_conf = conf;
	ctx.include = include;
	unlink(include);
	ngxconf_result_init(&res);
	rc = ngxconf_apply(&ctx, &site4, all, 5, &res);
	ok(rc == 0 && res.installed && res.checks == 1, "apply with real "
	    "nginx -t (rc %d, %s)", rc, res.error);
	ngxconf_result_release(&res);

	/* a per-app body size only nginx refuses (2^63 bytes) */
	all[1].max_body = "8589934592g";
	rc = ngxconf_apply(&ctx, &site4, all, 5, &res);
	ok(rc == 1 && res.nbad == 1 && res.bad[0].index == 1 &&
	    strcmp(res.bad[0].reason, "nginx -t: \"client_max_body_size\" "
	    "directive invalid value") == 0, "real nginx rejection isolated "
	    "(rc %d, %s)", rc, res.nbad ? res.bad[0].reason : res.error);
	is(res.checks, 2, "found from nginx's line number in 2 checks");
	ngxconf_result_release(&res);
out:
	free(conf);
	free(include);
	buf_release(&text);
	buf_release(&path);
}

static void
cleanup(void)
{
	struct buf cmd = BUF_INIT;
	DIR *d;
	struct dirent *de;

	if ((d = opendir(tmpdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
			    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
				continue;
			buf_reset(&cmd);
			buf_printf(&cmd, "%s/%s", tmpdir, de->d_name);
			unlink(cmd.data);
		}
		closedir(d);
	}
	rmdir(tmpdir);
	buf_release(&cmd);
}

int
main(void)
{
	log_init("t_ngxconf", 0);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_golden();
	test_refused();
	test_pid();
	test_replace();
	test_apply();
	test_sync();
	test_real_nginx();
	cleanup();
	return done_testing();
}
