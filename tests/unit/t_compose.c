/*
 * t_compose: hostile compose files each refused with the right rule, good
 * ones accepted, and the normalised file checked by golden text and by
 * `docker-compose -f <it> config -q` when docker-compose is installed.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "compose.h"
#include "tap.h"
#include "yamlcfg.h"

static char tmpdir[] = "/tmp/t_compose.XXXXXX";

static void
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd == -1 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static char *
read_text(const char *path)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd == -1)
		return NULL;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)r);
	close(fd);
	return buf_detach(&b, NULL);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static const char *
tmp(const char *name)
{
	static char paths[4][512];
	static unsigned int next;
	char *path = paths[next++ % 4];

	snprintf(path, sizeof(paths[0]), "%s/%s", tmpdir, name);
	return path;
}

/* replace every occurrence of from in s by to */
static char *
replace_all(const char *s, const char *from, const char *to)
{
	struct buf b = BUF_INIT;
	const char *p;
	size_t n = strlen(from);

	while ((p = strstr(s, from)) != NULL) {
		buf_add(&b, s, (size_t)(p - s));
		buf_adds(&b, to);
		s = p + n;
	}
	buf_adds(&b, s);
	return buf_detach(&b, NULL);
}

/* A service that publishes ${PORT}, to make a case about something else. */
#define WEB	"services:\n  web:\n    image: busybox\n" \
		"    ports: [\"${PORT}:80\"]\n"

static const struct bad_case {
	const char	*name;
	const char	*yaml;		/* NULL: built in code */
	const char	*expect;
} bad[] = {
	/* the rules of the issue */
	{ "privileged", WEB "    privileged: true\n",
	  "docker-compose.yml: services.web.privileged: privileged containers "
	  "are not allowed" },
	{ "privileged via substitution", WEB "    privileged: ${P}\n",
	  "privileged containers are not allowed" },
	{ "privileged as a string", WEB "    privileged: \"false\"\n",
	  "privileged containers are not allowed" },
	{ "network_mode host", WEB "    network_mode: host\n",
	  "services.web.network_mode: network_mode: host is not allowed" },
	{ "network_mode container", WEB "    network_mode: container:db\n",
	  "network_mode: only bridge, none or service:" },
	{ "network_mode of itself", WEB "    network_mode: service:web\n",
	  "network_mode: only bridge" },
	{ "network_mode substituted", WEB "    network_mode: ${NM}\n",
	  "services.web.network_mode: variable substitution ($) is not "
	  "allowed" },
	{ "pid host", WEB "    pid: host\n",
	  "services.web.pid: pid: host is not allowed" },
	{ "ipc host", WEB "    ipc: host\n",
	  "services.web.ipc: ipc: host is not allowed" },
	{ "userns_mode host", WEB "    userns_mode: host\n",
	  "services.web.userns_mode: userns_mode is not allowed" },
	{ "uts host", WEB "    uts: host\n", "uts is not allowed" },
	{ "devices", WEB "    devices: [\"/dev/sda:/dev/sda\"]\n",
	  "services.web.devices: devices are not allowed" },
	{ "cap_add", WEB "    cap_add: [SYS_ADMIN]\n",
	  "services.web.cap_add: cap_add is not allowed" },
	{ "security_opt unconfined",
	  WEB "    security_opt: [\"seccomp:unconfined\"]\n",
	  "services.web.security_opt[0]: security_opt: unconfined profiles "
	  "are not allowed" },
	{ "security_opt apparmor", WEB "    security_opt: [\"apparmor=x\"]\n",
	  "security_opt: only no-new-privileges is allowed" },
	{ "container_name", WEB "    container_name: web\n",
	  "services.web.container_name: container_name is not allowed" },
	{ "bind of /etc", WEB "    volumes: [\"/etc:/x\"]\n",
	  "services.web.volumes[0]: bind mount source must be a relative path "
	  "(./...) inside the project directory; host paths outside it are "
	  "not allowed" },
	{ "bind of /", WEB "    volumes: [\"/:/host:ro\"]\n",
	  "host paths outside it are not allowed" },
	{ "bind of the Docker socket",
	  WEB "    volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]\n",
	  "services.web.volumes[0]: volumes: the Docker socket may not be "
	  "mounted" },
	{ "Docker socket through /run",
	  WEB "    volumes: [\"/run/docker.sock:/s\"]\n",
	  "the Docker socket may not be mounted" },
	{ "Docker socket inside the project",
	  WEB "    volumes: [\"./docker.sock:/s\"]\n",
	  "the Docker socket may not be mounted" },
	{ "bind of ../outside", WEB "    volumes: [\"../outside:/y\"]\n",
	  "services.web.volumes[0]: the bind mount source is outside the "
	  "project directory (..)" },
	{ "bind of ./a/../../x", WEB "    volumes: [\"./a/../../x:/y\"]\n",
	  "is outside the project directory (..)" },
	{ "bind of ~", WEB "    volumes: [\"~/x:/y\"]\n",
	  "services.web.volumes[0]: bind mount source must be a relative path" },
	{ "bind through a symlink out", WEB "    volumes: [\"./out:/y\"]\n",
	  "services.web.volumes[0]: the bind mount source is outside the "
	  "project directory (symbolic link)" },
	{ "bind below a symlink out", WEB "    volumes: [\"./out/ssh:/y\"]\n",
	  "(symbolic link)" },
	{ "bind of a dangling symlink", WEB "    volumes: [\"./dangling:/y\"]\n",
	  "(symbolic link)" },
	{ "bind substituted", WEB "    volumes: [\"${HOME}:/h\"]\n",
	  "volumes: variable substitution ($) is not allowed" },
	{ "bind of an empty source", WEB "    volumes: [\":/y\"]\n",
	  "named volume '' is not declared" },
	{ "long bind of /etc",
	  WEB "    volumes:\n      - type: bind\n        source: /etc\n"
	  "        target: /x\n",
	  "services.web.volumes[0].source: bind mount source must be a "
	  "relative path" },
	{ "long bind propagation",
	  WEB "    volumes:\n      - type: bind\n        source: ./d\n"
	  "        target: /x\n        bind: {propagation: rshared}\n",
	  "volumes: bind propagation options are not allowed" },
	{ "long npipe",
	  WEB "    volumes:\n      - type: npipe\n        source: x\n"
	  "        target: /x\n",
	  "volumes: only volume, bind and tmpfs mounts are allowed" },
	{ "long socket", WEB "    volumes:\n      - type: bind\n"
	  "        source: /var/run/docker.sock\n        target: /s\n",
	  "the Docker socket may not be mounted" },
	{ "volume with a relative target", WEB "    volumes: [\"./d:x\"]\n",
	  "the container path must be absolute" },
	{ "volume with a bad mode", WEB "    volumes: [\"./d:/x:shared\"]\n",
	  "volumes: mode must be made of" },
	{ "undeclared named volume", WEB "    volumes: [\"data:/x\"]\n",
	  "named volume 'data' is not declared in the top-level volumes" },
	{ "top-level volume driver_opts",
	  WEB "volumes:\n  data:\n    driver_opts: {type: none, o: bind, "
	  "device: /etc}\n",
	  "volumes.data.driver_opts: volume driver_opts are not allowed" },
	{ "top-level volume external",
	  WEB "volumes:\n  data:\n    external: true\n",
	  "volumes.data.external: external is not allowed" },
	{ "top-level volume name", WEB "volumes:\n  data:\n    name: other\n",
	  "volumes.data.name: name is not allowed" },
	{ "top-level volume driver", WEB "volumes:\n  data:\n    driver: nfs\n",
	  "only the local volume driver is allowed" },
	{ "network external",
	  WEB "networks:\n  default:\n    external: true\n    name: host\n",
	  "networks.default.external: external is not allowed" },
	{ "network driver host", WEB "networks:\n  n:\n    driver: host\n",
	  "only the bridge network driver is allowed" },
	{ "network ipam", WEB "networks:\n  n:\n    ipam: {config: []}\n",
	  "networks.n.ipam: ipam is not allowed" },
	{ "undeclared network", WEB "    networks: [other]\n",
	  "network 'other' is not declared" },
	{ "ports 8080:80 (not via PORT)",
	  "services:\n  web:\n    image: x\n    ports: [\"8080:80\"]\n",
	  "services.web.ports[0]: ports: only \"${PORT}:<container port>\" "
	  "may be published" },
	{ "ports 0.0.0.0:${PORT}:80",
	  "services:\n  web:\n    image: x\n    ports: [\"0.0.0.0:${PORT}:80\"]\n",
	  "services.web.ports[0]: ports: a host address is not allowed" },
	{ "ports bare container port",
	  "services:\n  web:\n    image: x\n    ports: [80]\n",
	  "ports: a bare container port would be published" },
	{ "ports udp",
	  "services:\n  web:\n    image: x\n    ports: [\"${PORT}:53/udp\"]\n",
	  "ports: only tcp may be published" },
	{ "ports range",
	  "services:\n  web:\n    image: x\n    ports: [\"${PORT}:80-81\"]\n",
	  "ports: the container port must be a number" },
	{ "ports substituted host",
	  "services:\n  web:\n    image: x\n    ports: [\"${OTHER}:80\"]\n",
	  "may be published" },
	{ "ports long form published 8080",
	  "services:\n  web:\n    image: x\n    ports:\n      - target: 80\n"
	  "        published: 8080\n",
	  "services.web.ports[0].published: ports: only" },
	{ "two services publishing PORT",
	  WEB "  api:\n    image: x\n    ports: [\"${PORT}:81\"]\n",
	  "services.api.ports[0]: ports: exactly one service may publish "
	  "${PORT} (services web and api both do)" },
	{ "one service publishing PORT twice",
	  "services:\n  web:\n    image: x\n"
	  "    ports: [\"${PORT}:80\", \"${PORT}:81\"]\n",
	  "ports: only one port entry may publish ${PORT}" },
	{ "no service publishes", "services:\n  web:\n    image: x\n",
	  "docker-compose.yml: ports: no service publishes ${PORT}" },
	{ "alias",
	  "x-base: &base\n  image: x\nservices:\n  web:\n    <<: *base\n",
	  "docker-compose.yml: line 1: anchors and aliases are not allowed" },
	{ "merge key without anchors",
	  "services:\n  web:\n    <<: {image: x}\n",
	  "merge keys (<<) are not allowed" },
	{ "unknown service key", WEB "    foo: bar\n",
	  "services.web: unknown key 'foo' (only known safe keys are allowed)" },
	{ "unknown top-level key", WEB "name: other-project\n",
	  "top level: unknown key 'name'" },
	{ "21 services", NULL,
	  "docker-compose.yml: services: 1 to 20 services are allowed, not 21" },
	{ "env_file outside", WEB "    env_file: ../secrets.env\n",
	  "services.web.env_file: the env_file is outside the project" },
	{ "env_file absolute", WEB "    env_file: [/etc/shadow]\n",
	  "services.web.env_file[0]: the env_file must be a relative path" },
	{ "env_file through a symlink", WEB "    env_file: ./out/passwd\n",
	  "env_file is outside the project directory (symbolic link)" },
	{ "env_file a FIFO", WEB "    env_file: ./fifo\n",
	  "services.web.env_file: the env_file is not a regular file" },
	{ "secret file a directory", WEB "secrets:\n  s:\n    file: ./d\n",
	  "secrets.s.file: the file is not a regular file" },
	/* more */
	{ "extends", WEB "    extends: {file: ../x.yml, service: a}\n",
	  "services.web.extends: extends is not allowed" },
	{ "external_links", WEB "    external_links: [other]\n",
	  "external_links are not allowed" },
	{ "volumes_from", WEB "    volumes_from: [\"container:x\"]\n",
	  "volumes_from is not allowed" },
	{ "sysctls", WEB "    sysctls: {net.ipv4.ip_forward: 1}\n",
	  "sysctls are not allowed" },
	{ "logging", WEB "    logging: {driver: syslog}\n",
	  "logging is not allowed" },
	{ "runtime", WEB "    runtime: nvidia\n", "runtime is not allowed" },
	{ "cgroup_parent", WEB "    cgroup_parent: /\n",
	  "cgroup_parent is not allowed" },
	{ "oom_score_adj", WEB "    oom_score_adj: -1000\n",
	  "oom_score_adj is not allowed" },
	{ "deploy GPU devices",
	  WEB "    deploy:\n      resources:\n        reservations:\n"
	  "          devices: [{capabilities: [gpu]}]\n",
	  "services.web.deploy.resources.reservations.devices: device "
	  "reservations are not allowed (GPUs are assigned by slipway)" },
	{ "deploy replicas", WEB "    deploy: {replicas: 3}\n",
	  "services.web.deploy.replicas: replicas is not allowed" },
	{ "reserved label", WEB "    labels: {slipway.app: other}\n",
	  "labels: keys starting with slipway. or com.docker. are reserved" },
	{ "reserved label in a list",
	  WEB "    labels: [\"com.docker.compose.project=slipway-x\"]\n",
	  "services.web.labels[0]: labels: keys starting with slipway." },
	{ "reserved label on a build",
	  WEB "  b:\n    build:\n      context: .\n"
	  "      labels: {slipway.app: x}\n",
	  "services.b.build.labels.slipway.app: labels: keys starting" },
	{ "build context outside", WEB "  b:\n    build: ../\n",
	  "services.b.build: the build context is outside the project "
	  "directory" },
	{ "build context absolute", WEB "  b:\n    build: /\n",
	  "the build context must be a relative path" },
	{ "build context URL",
	  WEB "  b:\n    build: https://github.com/x/y.git\n",
	  "the build context must be a directory inside the project, not a "
	  "URL" },
	{ "build context through a symlink", WEB "  b:\n    build: ./out\n",
	  "the build context is outside the project directory (symbolic "
	  "link)" },
	{ "dockerfile absolute",
	  WEB "  b:\n    build: {context: ., dockerfile: /etc/passwd}\n",
	  "services.b.build.dockerfile: the dockerfile must be a relative "
	  "path" },
	{ "dockerfile outside the context",
	  WEB "  b:\n    build: {context: ./sub, dockerfile: ../Dockerfile}\n",
	  "the dockerfile must be inside the build context" },
	{ "dockerfile outside the project",
	  WEB "  b:\n    build: {context: ., dockerfile: ../../Dockerfile}\n",
	  "services.b.build.dockerfile: the dockerfile is outside the "
	  "project" },
	{ "build network host",
	  WEB "  b:\n    build: {context: ., network: host}\n",
	  "services.b.build.network: network is not allowed" },
	{ "build without context", WEB "  b:\n    build: {dockerfile: D}\n",
	  "services.b.build.context: missing" },
	{ "built image with a registry",
	  WEB "  b:\n    build: .\n    image: localhost:5000/x\n",
	  "services.b.image: the name of a built image must be name[:tag]" },
	{ "secret file outside",
	  WEB "secrets:\n  s:\n    file: ../../etc/shadow\n",
	  "secrets.s.file: the file is outside the project directory" },
	{ "secret external", WEB "secrets:\n  s:\n    external: true\n",
	  "secrets.s.external: external is not allowed" },
	{ "undeclared secret", WEB "    secrets: [s]\n",
	  "secret 's' is not declared at the top level" },
	{ "depends_on unknown", WEB "    depends_on: [db]\n",
	  "services.web.depends_on[0]: depends_on: not another service" },
	{ "links outside", WEB "    links: [\"other:db\"]\n",
	  "links: only services of this project" },
	{ "service without image or build",
	  WEB "  b:\n    command: x\n", "services.b: needs image or build" },
	{ "service name", "services:\n  -bad:\n    image: x\n",
	  "services: '-bad' is not a valid service name" },
	{ "service is a list", "services:\n  web: [a]\n",
	  "services.web: must be a mapping, not a list" },
	{ "services missing", "version: '3'\n",
	  "services: missing (at least one service is needed)" },
	{ "root is a list", "- a\n", "top level: must be a mapping, not a list" },
	{ "duplicate service", WEB "  web:\n    image: y\n",
	  "line 5: duplicate key 'web'" },
	{ "tag", WEB "    command: !!python/object/apply:os.system [id]\n",
	  "tags (such as !!python/object or !!str) are not allowed" },
	{ "two documents", WEB "---\n" WEB, "more than one document" },
	{ "too big", NULL, "docker-compose.yml: file is larger than 256 KiB" },
	{ "dotenv symlink", NULL, ".env: must be a regular file" },
	{ "non-UTF-8", "services:\n  w\xe9" "b:\n    image: x\n",
	  "not valid UTF-8" },
};

static char *
build_bad(const char *name)
{
	struct buf b = BUF_INIT;
	size_t i;

	if (strcmp(name, "21 services") == 0) {
		buf_adds(&b, "services:\n");
		for (i = 0; i < 21; i++)
			buf_printf(&b, "  s%zu:\n    image: x\n", i);
	} else if (strcmp(name, "too big") == 0) {
		buf_adds(&b, WEB "    command: \"");
		for (i = 0; i < COMPOSE_MAX_BYTES; i++)
			buf_addch(&b, 'x');
		buf_adds(&b, "\"\n");
	} else
		buf_adds(&b, WEB);
	return buf_detach(&b, NULL);
}

static void
setup_project(const char *dir)
{
	char path[1024];

	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/out", dir);
	if (symlink("/etc", path) == -1)
		perror("symlink");
	snprintf(path, sizeof(path), "%s/dangling", dir);
	if (symlink("/nonexistent-slipway-dir/x", path) == -1)
		perror("symlink");
	snprintf(path, sizeof(path), "%s/d", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/inside", dir);
	if (symlink("d", path) == -1)
		perror("symlink");
	snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) == -1)
		perror("mkfifo");
}

static void
test_bad(void)
{
	struct compose_info ci;
	char path[1024], dir[512], err[512];
	char *data;
	size_t i;

	snprintf(dir, sizeof(dir), "%s", tmp("bad"));
	setup_project(dir);
	snprintf(path, sizeof(path), "%s/docker-compose.yml", dir);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_case *b = &bad[i];
		char env[1100];
		int rc;

		data = b->yaml ? xstrdup(b->yaml) : build_bad(b->name);
		write_file(path, data, strlen(data));
		snprintf(env, sizeof(env), "%s/.env", dir);
		if (strcmp(b->name, "dotenv symlink") == 0 &&
		    symlink("/etc/passwd", env) == -1)
			perror("symlink");
		err[0] = '\0';
		memset(&ci, 0, sizeof(ci));
		rc = compose_check(path, dir, &ci, err, sizeof(err));
		ok(rc == -1 && strstr(err, b->expect) != NULL, "bad: %s",
		    b->name);
		if (rc != -1 || strstr(err, b->expect) == NULL)
			printf("#   rc %d, error '%s'\n#   expected '%s'\n", rc,
			    err, b->expect);
		ok(ci.doc == NULL && ci.project_dir == NULL,
		    "  out untouched");
		ok(strstr(err, tmpdir) == NULL, "  no host path in the message");
		if (rc == 0)
			compose_info_free(&ci);
		unlink(env);
		free(data);
	}
}

static const struct good_case {
	const char	*name;
	const char	*yaml;
	const char	*publisher;
	int		 port;
} good[] = {
	{ "minimal", WEB, "web", 80 },
	{ "${PORT}:${PORT}, tcp, version 2",
	  "version: '2.4'\nservices:\n  app:\n    image: x\n"
	  "    ports: [\"$PORT:${PORT}/tcp\"]\n", "app", 0 },
	{ "long port syntax",
	  "services:\n  db:\n    image: postgres\n  ui:\n    image: x\n"
	  "    ports:\n      - target: 7860\n        published: ${PORT}\n"
	  "        protocol: tcp\n", "ui", 7860 },
	{ "bind through a symlink inside, ./ and . binds",
	  WEB "    volumes: [\"./inside:/x\", \".:/src:ro\", \"./new/dir:/n\","
	  " \"/anon\"]\n", "web", 80 },
	{ "namespaces shared inside the project",
	  WEB "  side:\n    image: y\n    network_mode: service:web\n"
	  "    pid: service:web\n    ipc: shareable\n", "web", 80 },
	{ "networks, volumes, secrets, depends_on conditions",
	  WEB "    networks: {front: {aliases: [w]}, default: null}\n"
	  "    depends_on: {db: {condition: service_healthy}}\n"
	  "    secrets: [s, {source: s, target: /run/s2}]\n"
	  "  db:\n    image: pg\n    volumes:\n      - type: volume\n"
	  "        source: data\n        target: /var/lib\n"
	  "      - type: tmpfs\n        target: /tmp\n"
	  "networks:\n  front:\n    driver: bridge\n    internal: false\n"
	  "volumes:\n  data: {driver: local, labels: {a: b}}\n"
	  "secrets:\n  s:\n    file: ./d/secret.txt\n", "web", 80 },
	{ "extension keys and escaped dollars",
	  "x-a: 1\nservices:\n  web:\n    x-b: [1]\n    image: x\n"
	  "    command: echo $$HOME ${GREETING:-hi}\n"
	  "    ports: [\"${PORT}:80\"]\n", "web", 80 },
	{ "20 services", NULL, "s0", 80 },
};

static void
test_good_table(void)
{
	struct compose_info ci;
	struct buf b = BUF_INIT, out = BUF_INIT;
	struct yamlcfg_node *again = NULL;
	char path[1024], dir[512], err[512];
	size_t i, k;

	snprintf(dir, sizeof(dir), "%s", tmp("goodtab"));
	setup_project(dir);
	snprintf(path, sizeof(path), "%s/compose.yaml", dir);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct good_case *g = &good[i];
		int rc;

		buf_reset(&b);
		if (g->yaml != NULL)
			buf_adds(&b, g->yaml);
		else {
			buf_adds(&b, "services:\n");
			for (k = 0; k < 20; k++)
				buf_printf(&b, "  s%zu:\n    image: x\n%s", k,
				    k == 0 ? "    ports: [\"${PORT}:80\"]\n" :
				    "");
		}
		write_file(path, b.data, b.len);
		err[0] = '\0';
		rc = compose_check(path, dir, &ci, err, sizeof(err));
		ok(rc == 0, "good: %s", g->name);
		if (rc != 0) {
			printf("#   error: %s\n", err);
			continue;
		}
		is_str(ci.publisher, g->publisher, "  publisher");
		is(ci.container_port, g->port, "  container port");
		buf_reset(&out);
		ok(compose_write_normalized(&ci, "abc123def456", 8123, NULL, 0,
		    NULL, 0, &out) == 0, "  normalised");
		ok(yamlcfg_parse(out.data, out.len, "out", &again, err,
		    sizeof(err)) == 0, "  output parses strictly");
		ok(strstr(out.data, "127.0.0.1:8123:") != NULL &&
		    strstr(out.data, "${PORT}") == NULL &&
		    strstr(out.data, "$PORT") == NULL, "  port rewritten");
		yamlcfg_free(again);
		again = NULL;
		compose_info_free(&ci);
	}
	ok(compose_find(dir) != NULL &&
	    strcmp(compose_find(dir), "compose.yaml") == 0,
	    "find: compose.yaml");
	write_file(tmp("goodtab/docker-compose.yml"), "x", 1);
	ok(strcmp(compose_find(dir), "docker-compose.yml") == 0,
	    "find: docker-compose.yml first");
	ok(compose_find(tmpdir) == NULL, "find: none");
	buf_release(&b);
	buf_release(&out);
}

static const char fixture_files[][32] = {
	"docker-compose.yml", "Dockerfile", "app.env", "www/index.html",
	"data/.keep"
};

/* copy the good fixture into a fresh directory (its path varies) */
static void
copy_good(const char *srcdir, const char *dir)
{
	char from[1024], to[1100], *text;
	size_t i;

	mkdir(dir, 0755);
	snprintf(to, sizeof(to), "%s/www", dir);
	mkdir(to, 0755);
	snprintf(to, sizeof(to), "%s/data", dir);
	mkdir(to, 0755);
	for (i = 0; i < sizeof(fixture_files) / sizeof(fixture_files[0]); i++) {
		snprintf(from, sizeof(from), "%s/tests/data/compose/good/%s",
		    srcdir, fixture_files[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, fixture_files[i]);
		if ((text = read_text(from)) == NULL) {
			perror(from);
			exit(1);
		}
		write_file(to, text, strlen(text));
		free(text);
	}
}

static const char *
find_compose_binary(void)
{
	static const char *const where[] = { "/usr/bin/docker-compose",
	    "/usr/local/bin/docker-compose", NULL };
	size_t i;

	for (i = 0; where[i] != NULL; i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* docker-compose -f file config -q, with PORT set; exit status */
static int
compose_config(const char *bin, const char *file, const char *errpath)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { "docker-compose", "-f", (char *)file, "config", "-q",
	    NULL };
	char home[600];
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "PORT=8123",
	    home, NULL };
	pid_t pid;
	int status;

	snprintf(home, sizeof(home), "HOME=%s", tmpdir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, errpath,
	    O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (posix_spawn(&pid, bin, &fa, NULL, argv, envp) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
golden(const char *srcdir, const char *proj, const char *text,
    const char *name)
{
	char path[1024], *expect, *got;

	snprintf(path, sizeof(path), "%s/tests/data/compose/%s", srcdir, name);
	expect = read_text(path);
	got = replace_all(text, proj, "@PROJECT@");
	ok(expect != NULL && strcmp(got, expect) == 0, "golden: %s", name);
	if (expect == NULL || strcmp(got, expect) != 0)
		printf("# got:\n%s# end\n", got);
	free(expect);
	free(got);
}

static void
test_fixture(const char *srcdir)
{
	static const char *const gpus[] = { "0", "GPU-5f6e1c2a-0b1d" };
	static const char *const env[] = { "GRADIO_ROOT_PATH=/apps/abc123def456",
	    "ROOT_PATH=/apps/abc123def456", "TRICKY=a$b", "GREETING=override" };
	struct compose_info ci;
	struct buf out = BUF_INIT;
	char dir[512], path[1024], real[PATH_MAX], err[512], *msg;
	const char *bin = find_compose_binary();
	int rc;

	snprintf(dir, sizeof(dir), "%s", tmp("proj"));
	copy_good(srcdir, dir);
	if (realpath(dir, real) == NULL)
		perror("realpath");
	snprintf(path, sizeof(path), "%s/docker-compose.yml", dir);
	rc = compose_check(path, dir, &ci, err, sizeof(err));
	ok(rc == 0, "fixture: accepted");
	if (rc != 0) {
		printf("#   error: %s\n", err);
		return;
	}
	is_str(ci.publisher, "web", "fixture: publisher");
	is(ci.container_port, 8000, "fixture: container port");
	is(ci.n_services, 2, "fixture: two services");
	is_str(ci.services[1], "worker", "fixture: service names");
	is_str(ci.project_dir, real, "fixture: project real path");

	/* arguments are checked */
	ok(compose_write_normalized(&ci, "Bad/Id", 8123, NULL, 0, NULL, 0,
	    &out) == -1 && out.len == 0, "write: bad app id refused");
	ok(compose_write_normalized(&ci, "abc123def456", 0, NULL, 0, NULL, 0,
	    &out) == -1, "write: bad port refused");
	{
		const char *bad_gpu[] = { "0; rm" };
		const char *bad_env[] = { "A B=1" };

		ok(compose_write_normalized(&ci, "abc123def456", 8123, bad_gpu,
		    1, NULL, 0, &out) == -1, "write: bad GPU id refused");
		ok(compose_write_normalized(&ci, "abc123def456", 8123, NULL, 0,
		    bad_env, 1, &out) == -1, "write: bad env name refused");
	}

	ok(compose_write_normalized(&ci, "abc123def456", 8123, NULL, 0, env, 4,
	    &out) == 0, "write: normalised");
	golden(srcdir, real, out.data, "good.normalized.yml");
	write_file(tmp("out.yml"), out.data, out.len);
	if (bin == NULL)
		ok(1, "# SKIP docker-compose not installed");
	else {
		rc = compose_config(bin, tmp("out.yml"), tmp("config.err"));
		is(rc, 0, "docker-compose config -q accepts the output");
		if (rc != 0 && (msg = read_text(tmp("config.err"))) != NULL) {
			printf("# %s\n", msg);
			free(msg);
		}
	}

	buf_reset(&out);
	ok(compose_write_normalized(&ci, "abc123def456", 8123, gpus, 2, NULL,
	    0, &out) == 0, "write: with GPUs");
	golden(srcdir, real, out.data, "good.gpu.normalized.yml");
	write_file(tmp("out-gpu.yml"), out.data, out.len);
	if (bin != NULL) {
		rc = compose_config(bin, tmp("out-gpu.yml"), tmp("config.err"));
		is(rc, 0, "docker-compose config -q accepts the GPU output");
		if (rc != 0 && (msg = read_text(tmp("config.err"))) != NULL) {
			printf("# %s\n", msg);
			free(msg);
		}
	}
	/* the original, for comparison, is accepted by compose too */
	if (bin != NULL)
		is(compose_config(bin, path, tmp("config.err")), 0,
		    "docker-compose config -q accepts the original");
	compose_info_free(&ci);
	buf_release(&out);
}

int
main(void)
{
	const char *srcdir = getenv("SLIPWAY_SRCDIR");

	if (srcdir == NULL)
		srcdir = SLIPWAY_SRCDIR;
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_bad();
	test_good_table();
	test_fixture(srcdir);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
