/*
 * t_docker: the Docker module.
 *   (a) without a daemon: the create body, the log demultiplexer, the
 *       build/load stream parser, reply parsers on real and hostile fixtures;
 *   (b) against the daemon at /var/run/docker.sock (SLIPWAY_DOCKER_SOCK):
 *       build, run, probe, logs, inspect, list, events, stop, restart,
 *       remove, save + load.  A daemon that does not answer is a failure.
 * Everything created carries slipway.test=1, slipway.app=<run app id> and
 * slipway.test.suite=t_docker, and is removed at the end.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "buf.h"
#include "caps.h"
#include "docker.h"
#include "log.h"
#include "tap.h"
#include "valid.h"

#define FIXTURES	SLIPWAY_SRCDIR "/tests/data/docker/"
#define IMAGE_ID	"sha256:e1eb5429aa0124bb09941963361d713c01d5ec682d628cf5829a3930d896af48"
#define CONTAINER_ID	"4c653582b5820b80ee1223c53c7e6306818222fa0994d40ca49af9d5fce7d1e2"

static char *
slurp(const char *name, size_t *lenp)
{
	struct buf b = BUF_INIT;
	char path[512], chunk[4096];
	FILE *f;
	size_t n;

	if (str_fmt(path, sizeof(path), "%s%s", FIXTURES, name) == -1 ||
	    (f = fopen(path, "r")) == NULL) {
		printf("# cannot open %s\n", name);
		*lenp = 0;
		return xstrdup("");
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b, lenp);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * (a) The create body.
 */

static int
json_equal_text(json_object *got, const char *want)
{
	json_object *w = json_tokener_parse(want);
	int eq;

	if (w == NULL) {
		printf("# expected JSON does not parse\n");
		return 0;
	}
	eq = got != NULL && json_object_equal(got, w);
	if (!eq)
		printf("# got %s\n", got ? json_object_to_json_string(got) : "NULL");
	json_object_put(w);
	return eq;
}

static void
test_run_spec(void)
{
	struct docker_kv env[] = {
		{ "PORT", "7860" }, { "ROOT_PATH", "/apps/abc" }, { "EMPTY", "" },
		{ "WITH_EQ", "a=b c" },
	};
	struct docker_kv labels[] = {
		{ "slipway.app", "abcdef123456" }, { "slipway.test", "1" },
	};
	const char *gpus[] = { "0", "GPU-3f2a" };
	struct docker_run_spec s, bad;
	json_object *o;
	size_t i;

	memset(&s, 0, sizeof(s));
	s.image = "slipway/abcdef123456:1";
	o = docker_run_spec_json(&s);
	ok(json_equal_text(o,
	    "{\"Image\":\"slipway/abcdef123456:1\",\"Env\":[],\"Labels\":{},"
	    "\"HostConfig\":{\"Init\":true,"
	    "\"RestartPolicy\":{\"Name\":\"unless-stopped\"},"
	    "\"SecurityOpt\":[\"no-new-privileges\"],\"Privileged\":false}}"),
	    "create body: minimal spec");
	json_object_put(o);

	s.name = "slipway-abcdef123456";
	s.env = env;
	s.nenv = 4;
	s.labels = labels;
	s.nlabels = 2;
	s.container_port = 8080;
	s.host_port = 7861;
	s.memory = 512LL * 1024 * 1024;
	s.pids_limit = 256;
	o = docker_run_spec_json(&s);
	ok(json_equal_text(o,
	    "{\"Image\":\"slipway/abcdef123456:1\","
	    "\"Env\":[\"PORT=7860\",\"ROOT_PATH=/apps/abc\",\"EMPTY=\",\"WITH_EQ=a=b c\"],"
	    "\"Labels\":{\"slipway.app\":\"abcdef123456\",\"slipway.test\":\"1\"},"
	    "\"ExposedPorts\":{\"8080/tcp\":{}},"
	    "\"HostConfig\":{\"PortBindings\":{\"8080/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"7861\"}]},"
	    "\"Init\":true,\"RestartPolicy\":{\"Name\":\"unless-stopped\"},"
	    "\"SecurityOpt\":[\"no-new-privileges\"],\"Privileged\":false,"
	    "\"Memory\":536870912,\"PidsLimit\":256}}"),
	    "create body: env, labels, port, limits, no GPU");
	json_object_put(o);

	s.gpu_ids = gpus;
	s.ngpu = 2;
	s.nano_cpus = 1500000000LL;
	s.nenv = 1;
	o = docker_run_spec_json(&s);
	ok(json_equal_text(o,
	    "{\"Image\":\"slipway/abcdef123456:1\",\"Env\":[\"PORT=7860\"],"
	    "\"Labels\":{\"slipway.app\":\"abcdef123456\",\"slipway.test\":\"1\"},"
	    "\"ExposedPorts\":{\"8080/tcp\":{}},"
	    "\"HostConfig\":{\"PortBindings\":{\"8080/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"7861\"}]},"
	    "\"Init\":true,\"RestartPolicy\":{\"Name\":\"unless-stopped\"},"
	    "\"SecurityOpt\":[\"no-new-privileges\"],\"Privileged\":false,"
	    "\"Memory\":536870912,\"PidsLimit\":256,\"NanoCpus\":1500000000,"
	    "\"DeviceRequests\":[{\"Driver\":\"nvidia\",\"DeviceIDs\":[\"0\",\"GPU-3f2a\"],"
	    "\"Capabilities\":[[\"gpu\"]]}]}}"),
	    "create body: with GPUs and CPUs");
	json_object_put(o);

	/* Invalid specs: one change each from the good one. */
	{
		struct docker_kv bad_env1[] = { { "A=B", "x" } };
		struct docker_kv bad_env2[] = { { "", "x" } };
		struct docker_kv bad_env3[] = { { "1ABC", "x" } };
		struct docker_kv bad_lab1[] = { { "", "x" } };
		struct docker_kv bad_lab2[] = { { "k", "line\nbreak" } };
		const char *bad_gpu[] = { "0", "1;rm" };
		const char *what[] = {
			"no image", "image with space", "image with ..",
			"name with slash", "env name with =", "empty env name",
			"env name starting with digit", "empty label key",
			"label value with newline", "port without host port",
			"host port out of range", "negative memory",
			"negative pids", "bad GPU id",
		};

		for (i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
			bad = s;
			switch (i) {
			case 0: bad.image = NULL; break;
			case 1: bad.image = "a b"; break;
			case 2: bad.image = "a/../b"; break;
			case 3: bad.name = "a/b"; break;
			case 4: bad.env = bad_env1; bad.nenv = 1; break;
			case 5: bad.env = bad_env2; bad.nenv = 1; break;
			case 6: bad.env = bad_env3; bad.nenv = 1; break;
			case 7: bad.labels = bad_lab1; bad.nlabels = 1; break;
			case 8: bad.labels = bad_lab2; bad.nlabels = 1; break;
			case 9: bad.host_port = 0; break;
			case 10: bad.host_port = 70000; break;
			case 11: bad.memory = -1; break;
			case 12: bad.pids_limit = -5; break;
			case 13: bad.gpu_ids = bad_gpu; bad.ngpu = 2; break;
			}
			o = docker_run_spec_json(&bad);
			ok(o == NULL, "create body refused: %s", what[i]);
			json_object_put(o);
		}
	}
}

/*
 * (a) Log frames.
 */

struct collected {
	struct buf	out;
	struct buf	err;
	int		bad_stream;
};

static void
collect_output(void *arg, int stream, const char *data, size_t len)
{
	struct collected *c = arg;

	if (stream == 1)
		buf_add(&c->out, data, len);
	else if (stream == 2)
		buf_add(&c->err, data, len);
	else
		c->bad_stream++;
}

static void
frame(struct buf *b, int stream, const char *data, size_t len)
{
	unsigned char h[8] = { (unsigned char)stream, 0, 0, 0,
	    (unsigned char)(len >> 24), (unsigned char)(len >> 16),
	    (unsigned char)(len >> 8), (unsigned char)len };

	buf_add(b, h, 8);
	buf_add(b, data, len);
}

static void
test_demux(void)
{
	struct buf s = BUF_INIT, want_out = BUF_INIT, want_err = BUF_INIT;
	struct collected c;
	struct docker_demux m;
	char big[300];
	size_t i, j;
	int fails = 0, rc;

	memset(big, 'x', sizeof(big));
	big[299] = '\n';
	frame(&s, 1, "hello\n", 6);
	buf_adds(&want_out, "hello\n");
	frame(&s, 2, "oops\n", 5);
	buf_adds(&want_err, "oops\n");
	frame(&s, 1, "", 0);
	frame(&s, 1, big, sizeof(big));
	buf_add(&want_out, big, sizeof(big));
	frame(&s, 2, "a\0b", 3);
	buf_add(&want_err, "a\0b", 3);
	frame(&s, 1, "end", 3);
	buf_adds(&want_out, "end");

	/* Two pieces, split at every byte position. */
	for (i = 0; i <= s.len; i++) {
		memset(&c, 0, sizeof(c));
		buf_init(&c.out);
		buf_init(&c.err);
		docker_demux_init(&m, 0, collect_output, &c);
		rc = docker_demux_feed(&m, s.data, i);
		rc |= docker_demux_feed(&m, s.data + i, s.len - i);
		if (rc != 0 || docker_demux_finish(&m) != 0 || c.bad_stream ||
		    c.out.len != want_out.len || c.err.len != want_err.len ||
		    memcmp(c.out.data, want_out.data, want_out.len) != 0 ||
		    memcmp(c.err.data, want_err.data, want_err.len) != 0)
			fails++;
		buf_release(&c.out);
		buf_release(&c.err);
	}
	is(fails, 0, "demux: frames split at each of %zu positions", s.len + 1);

	/* One byte at a time, and three pieces at a stride. */
	fails = 0;
	for (j = 1; j < 40; j += 3) {
		memset(&c, 0, sizeof(c));
		buf_init(&c.out);
		buf_init(&c.err);
		docker_demux_init(&m, 0, collect_output, &c);
		for (i = 0; i < s.len; i += j)
			if (docker_demux_feed(&m, s.data + i,
			    i + j <= s.len ? j : s.len - i) != 0)
				fails++;
		if (docker_demux_finish(&m) != 0 || c.out.len != want_out.len ||
		    c.err.len != want_err.len ||
		    memcmp(c.out.data, want_out.data, want_out.len) != 0 ||
		    memcmp(c.err.data, want_err.data, want_err.len) != 0)
			fails++;
		buf_release(&c.out);
		buf_release(&c.err);
	}
	is(fails, 0, "demux: fed in pieces of 1, 4, 7, ... 37 bytes");

	/* Truncated inside a header and inside a payload. */
	memset(&c, 0, sizeof(c));
	buf_init(&c.out);
	buf_init(&c.err);
	docker_demux_init(&m, 0, collect_output, &c);
	docker_demux_feed(&m, s.data, 5);
	is(docker_demux_finish(&m), -1, "demux: ends inside a header");
	docker_demux_init(&m, 0, collect_output, &c);
	docker_demux_feed(&m, s.data, 10);
	is(docker_demux_finish(&m), -1, "demux: ends inside a payload");

	/* Bad headers. */
	docker_demux_init(&m, 0, collect_output, &c);
	is(docker_demux_feed(&m, "\003\0\0\0\0\0\0\001x", 9), -1,
	    "demux: stream type 3 refused");
	docker_demux_init(&m, 0, collect_output, &c);
	is(docker_demux_feed(&m, "\001\0\001\0\0\0\0\001x", 9), -1,
	    "demux: nonzero padding refused");
	docker_demux_init(&m, 0, collect_output, &c);
	is(docker_demux_feed(&m, "hello world\n", 12), -1,
	    "demux: TTY text in framed mode refused");

	/* Raw (TTY): everything is stdout, nothing parsed. */
	buf_reset(&c.out);
	buf_reset(&c.err);
	docker_demux_init(&m, 1, collect_output, &c);
	docker_demux_feed(&m, "\001\0\0\0ab", 6);
	docker_demux_feed(&m, "cd\n", 3);
	ok(c.out.len == 9 && memcmp(c.out.data, "\001\0\0\0abcd\n", 9) == 0 &&
	    c.err.len == 0 && docker_demux_finish(&m) == 0,
	    "demux: raw mode passes bytes through as stdout");
	buf_release(&c.out);
	buf_release(&c.err);
	buf_release(&s);
	buf_release(&want_out);
	buf_release(&want_err);
}

/*
 * (a) Build and load streams.
 */

static void
collect_log(void *arg, const char *text, size_t len)
{
	buf_add(arg, text, len);
}

/* Feed data split at random points; 0 if finish succeeded. */
static int
progress_random(struct docker_progress *p, const char *data, size_t len,
    unsigned int *seed)
{
	size_t i = 0, n;

	while (i < len) {
		n = 1 + (size_t)rand_r(seed) % 40;
		if (n > len - i)
			n = len - i;
		if (docker_progress_feed(p, data + i, n) == -1)
			return -1;
		i += n;
	}
	return docker_progress_finish(p);
}

static void
test_progress(void)
{
	const char *want_log =
	    "Step 1/5 : FROM scratch\n ---> \nStep 2/5 : COPY busybox /bin/busybox\n"
	    "abc: Pulling fs layer\nabc: Download complete\n ---> 358de8fc2333\n"
	    "Successfully built e1eb5429aa01\nSuccessfully tagged slipway-fixture:1\n";
	struct docker_progress p;
	struct buf log = BUF_INIT, huge = BUF_INIT;
	unsigned int seed = 42;
	char *okdata, *errdata, *loaddata;
	size_t oklen, errlen, loadlen, i;
	int fails = 0, rc;

	okdata = slurp("build_ok.stream", &oklen);
	errdata = slurp("build_error.stream", &errlen);
	loaddata = slurp("load_ok.stream", &loadlen);

	for (i = 0; i < 200; i++) {
		buf_reset(&log);
		docker_progress_init(&p, collect_log, &log);
		rc = progress_random(&p, okdata, oklen, &seed);
		if (rc != 0 || p.error != NULL || p.image_id == NULL ||
		    strcmp(p.image_id, IMAGE_ID) != 0 ||
		    strcmp(log.data, want_log) != 0) {
			if (fails++ == 0)
				printf("# log: '%s'\n", log.data);
		}
		docker_progress_release(&p);
	}
	is(fails, 0, "build stream: 200 random splits give the log and the aux ID");

	/* Intermediate images: made ones kept, cache hits and junk not. */
	{
		const char *s =
		    "{\"stream\":\" ---> \\n\"}\n"
		    "{\"stream\":\" ---> 358de8fc2333\\n\"}\n"
		    "{\"stream\":\" ---> Running in 0123456789ab\\n\"}\n"
		    "{\"stream\":\" ---> Using cache\\n\"}\n"
		    "{\"stream\":\" ---> aaaaaaaaaaaa\\n\"}\n"
		    "{\"stream\":\" ---> 0123456789abcdef\\n\"}\n"
		    "{\"stream\":\" ---> 0123456789ab; rm\\n\"}\n"
		    "{\"stream\":\" ---> abc\\n\"}\n";
		docker_progress_init(&p, NULL, NULL);
		ok(docker_progress_feed(&p, s, strlen(s)) == 0 &&
		    p.layers.n == 2 && strcmp(p.layers.v[0], "358de8fc2333") == 0 &&
		    strcmp(p.layers.v[1], "0123456789abcdef") == 0,
		    "build stream: intermediate images, not cache hits");
		docker_progress_release(&p);
	}

	/* The same, one byte at a time and without the last newline. */
	buf_reset(&log);
	docker_progress_init(&p, collect_log, &log);
	for (i = 0; i + 1 < oklen; i++)
		docker_progress_feed(&p, okdata + i, 1);
	ok(docker_progress_finish(&p) == 0 && p.image_id != NULL &&
	    strcmp(log.data, want_log) == 0,
	    "build stream: byte by byte, last line unterminated");
	docker_progress_release(&p);

	fails = 0;
	for (i = 0; i < 100; i++) {
		buf_reset(&log);
		docker_progress_init(&p, collect_log, &log);
		rc = progress_random(&p, errdata, errlen, &seed);
		if (rc != 0 || p.error == NULL || p.image_id != NULL ||
		    strcmp(p.error, "COPY failed: file not found in build context") ||
		    strstr(log.data, "Step 2/2") == NULL ||
		    strstr(log.data, "COPY failed: file not found in build context\n")
		    == NULL)
			fails++;
		docker_progress_release(&p);
	}
	is(fails, 0, "build stream: error line found in 100 random splits (CRLF)");

	docker_progress_init(&p, NULL, NULL);
	rc = progress_random(&p, loaddata, loadlen, &seed);
	ok(rc == 0 && p.refs.n == 2 && p.error == NULL && p.layers.n == 0 &&
	    strcmp(p.refs.v[0], "slipway-test/app:1") == 0 &&
	    strcmp(p.refs.v[1], IMAGE_ID) == 0,
	    "load stream: 'Loaded image:' and 'Loaded image ID:' both found");
	docker_progress_release(&p);

	/* Hostile streams. */
	{
		const char *bad[] = {
			"not json\n",
			"[1,2]\n",
			"{\"stream\":5}\n",
			"{\"error\":{\"x\":1}}\n",
			"{\"aux\":\"sha256:x\"}\n",
			"{\"aux\":{\"ID\":\"../../etc\"}}\n",
			"{\"stream\":\"Loaded image: a b c\\n\"}\n",
			"{\"stream\":\"x\"} trailing\n",
			"{\"stream\":\"nul \\u0000 inside\"}\n",
			"{\"stream\":\"\xff\xfe\"}\n",
		};
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			docker_progress_init(&p, NULL, NULL);
			rc = docker_progress_feed(&p, bad[i], strlen(bad[i]));
			if (rc == 0)
				rc = docker_progress_finish(&p);
			ok(rc == -1 && p.bad != NULL, "stream refused: %.24s", bad[i]);
			docker_progress_release(&p);
		}
	}
	/* A message over DOCKER_LINE_MAX, arriving in pieces. */
	buf_adds(&huge, "{\"stream\":\"");
	while (huge.len <= DOCKER_LINE_MAX)
		buf_adds(&huge, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	docker_progress_init(&p, NULL, NULL);
	rc = 0;
	for (i = 0; i < huge.len && rc == 0; i += 65536)
		rc = docker_progress_feed(&p, huge.data + i,
		    huge.len - i < 65536 ? huge.len - i : 65536);
	ok(rc == -1 && p.line.len <= DOCKER_LINE_MAX,
	    "stream: a message over %d bytes refused, memory bounded",
	    DOCKER_LINE_MAX);
	docker_progress_release(&p);
	/* Too many loaded refs. */
	buf_reset(&huge);
	for (i = 0; i <= DOCKER_REFS_MAX; i++)
		buf_printf(&huge, "{\"stream\":\"Loaded image: a:%zu\\n\"}\n", i);
	docker_progress_init(&p, NULL, NULL);
	ok(docker_progress_feed(&p, huge.data, huge.len) == -1 &&
	    p.refs.n == DOCKER_REFS_MAX, "load stream: refs capped at %d",
	    DOCKER_REFS_MAX);
	docker_progress_release(&p);

	buf_release(&huge);
	buf_release(&log);
	free(okdata);
	free(errdata);
	free(loaddata);
}

/*
 * (a) Reply parsers.
 */

static void
test_parsers(void)
{
	struct docker_version v;
	struct docker_cstate cs;
	struct docker_container_list l;
	struct docker_image img;
	struct docker_event ev;
	struct buf b = BUF_INIT;
	json_object *o;
	char *data, *line, *save;
	size_t len, i;
	int n, found_die;

	data = slurp("version.json", &len);
	memset(&v, 0, sizeof(v));
	ok(docker_parse_version(data, len, &v) == DOCKER_OK &&
	    strcmp(v.api, "1.41") == 0 && strcmp(v.server_api, "1.41") == 0 &&
	    strcmp(v.engine, "20.10.24+dfsg1") == 0,
	    "version: this daemon speaks 1.41");
	free(data);
	data = slurp("version_new.json", &len);
	ok(docker_parse_version(data, len, &v) == DOCKER_OK &&
	    strcmp(v.api, "1.43") == 0 && strcmp(v.server_api, "1.45") == 0,
	    "version: a 1.45 daemon is spoken to at 1.43");
	free(data);
	data = slurp("version_old.json", &len);
	is(docker_parse_version(data, len, &v), DOCKER_ERR_VERSION,
	    "version: 1.40 refused");
	free(data);
	data = slurp("version_min_too_high.json", &len);
	is(docker_parse_version(data, len, &v), DOCKER_ERR_VERSION,
	    "version: a daemon whose minimum is above 1.43 refused");
	free(data);
	data = slurp("version_hostile_types.json", &len);
	is(docker_parse_version(data, len, &v), DOCKER_ERR_PROTOCOL,
	    "version: ApiVersion as a number refused");
	free(data);
	{
		const char *bad[] = {
			"", "null", "[]", "{}", "{\"ApiVersion\":\"1\"}",
			"{\"ApiVersion\":\"one.41\"}", "{\"ApiVersion\":\"1.41x\"}",
			"{\"ApiVersion\":\"1.-41\"}", "{\"ApiVersion\":\"1.41\"",
			"{\"ApiVersion\":\"1.41\",\"Version\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
		};
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			is(docker_parse_version(bad[i], strlen(bad[i]), &v),
			    DOCKER_ERR_PROTOCOL, "version refused: %s", bad[i]);
	}

	data = slurp("container_inspect_running.json", &len);
	memset(&cs, 0, sizeof(cs));
	ok(docker_parse_cstate(data, len, &cs) == DOCKER_OK &&
	    strcmp(cs.id, CONTAINER_ID) == 0 &&
	    strcmp(cs.name, "slipway-fixture") == 0 &&
	    strcmp(cs.status, "running") == 0 && cs.running == 1 &&
	    cs.oom_killed == 0 && cs.tty == 0 && cs.exit_code == 0 &&
	    cs.container_port == 8080 && cs.host_port == 17999 &&
	    strcmp(cs.health, "") == 0 &&
	    strcmp(cs.started_at, "2026-11-22T00:35:01.33390522Z") == 0 &&
	    strcmp(cs.image, "slipway-fixture:1") == 0 &&
	    cs.labels.n == 2 &&
	    strcmp(docker_labels_get(&cs.labels, "slipway.app"), "fixture00001") == 0,
	    "inspect: running container");
	docker_cstate_release(&cs);
	free(data);
	data = slurp("container_inspect_exited.json", &len);
	ok(docker_parse_cstate(data, len, &cs) == DOCKER_OK && cs.running == 0 &&
	    strcmp(cs.status, "exited") == 0 && cs.exit_code == 143 &&
	    cs.host_port == 17999 && cs.container_port == 8080,
	    "inspect: exited container keeps its configured port");
	docker_cstate_release(&cs);
	free(data);
	data = slurp("inspect_nulls.json", &len);
	ok(docker_parse_cstate(data, len, &cs) == DOCKER_OK &&
	    cs.name[0] == '\0' && cs.labels.n == 0 && cs.host_port == 0 &&
	    strcmp(cs.status, "created") == 0 && cs.error[0] == '\0',
	    "inspect: nulls read as absent");
	docker_cstate_release(&cs);
	free(data);
	{
		const char *files[] = { "inspect_hostile_types.json",
		    "inspect_hostile_ports.json", "list_hostile.json",
		    "events.txt" };
		for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			data = slurp(files[i], &len);
			is(docker_parse_cstate(data, len, &cs), DOCKER_ERR_PROTOCOL,
			    "inspect refused: %s", files[i]);
			free(data);
		}
	}
	{
		const char *bad[] = {
			"{\"Id\":\"" CONTAINER_ID "\"}",		/* no State */
			"{\"State\":{}}",				/* no Id */
			"{\"Id\":\"../x\",\"State\":{}}",
			"{\"Id\":\"a\",\"State\":{\"ExitCode\":\"0\"}}",
			"{\"Id\":\"a\",\"State\":{\"ExitCode\":1e3}}",
			"{\"Id\":\"a\",\"State\":{\"ExitCode\":99999999999}}",
			"{\"Id\":\"a\",\"State\":{\"Pid\":-1}}",
			"{\"Id\":\"a\",\"State\":{\"Health\":\"healthy\"}}",
			"{\"Id\":\"a\",\"State\":{},\"Config\":{\"Labels\":{\"k\":1}}}",
			"{\"Id\":\"a\",\"State\":{},\"Config\":[]}",
			"{\"Id\":\"a\",\"State\":{},\"NetworkSettings\":{\"Ports\":{\"http\":null}}}",
			"{\"Id\":\"a\",\"State\":{},\"NetworkSettings\":{\"Ports\":{\"80/tcp\":{}}}}",
			"{\"Id\":\"a\",\"State\":{},\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostPort\":\"08\"}]}}}",
			"{\"Id\":\"a\",\"State\":{}} {\"Id\":\"b\"}",
		};
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			is(docker_parse_cstate(bad[i], strlen(bad[i]), &cs),
			    DOCKER_ERR_PROTOCOL, "inspect refused: %s", bad[i]);
	}
	/* Huge strings: an id over the field cap fails, a huge label is skipped. */
	buf_adds(&b, "{\"Id\":\"");
	for (i = 0; i < DOCKER_FIELD_MAX + 1; i++)
		buf_addch(&b, 'a');
	buf_adds(&b, "\",\"State\":{}}");
	is(docker_parse_cstate(b.data, b.len, &cs), DOCKER_ERR_PROTOCOL,
	    "inspect: id over %d bytes refused", DOCKER_FIELD_MAX);
	buf_reset(&b);
	buf_adds(&b, "{\"Id\":\"a\",\"State\":{},\"Config\":{\"Labels\":{\"big\":\"");
	for (i = 0; i < 4 * 1024 * 1024; i++)
		buf_addch(&b, 'x');
	buf_adds(&b, "\",\"slipway.app\":\"abc\"}}}");
	ok(docker_parse_cstate(b.data, b.len, &cs) == DOCKER_OK &&
	    cs.labels.n == 1 &&
	    strcmp(docker_labels_get(&cs.labels, "slipway.app"), "abc") == 0 &&
	    docker_labels_get(&cs.labels, "big") == NULL,
	    "inspect: a 4 MiB label is skipped, the others kept");
	docker_cstate_release(&cs);
	buf_reset(&b);
	buf_adds(&b, "{\"Id\":\"a\",\"State\":{},\"Config\":{\"Labels\":{");
	for (i = 0; i < DOCKER_LABELS_MAX + 50; i++)
		buf_printf(&b, "%s\"k%zu\":\"v\"", i ? "," : "", i);
	buf_adds(&b, "}}}");
	ok(docker_parse_cstate(b.data, b.len, &cs) == DOCKER_OK &&
	    cs.labels.n == DOCKER_LABELS_MAX, "inspect: labels capped at %d",
	    DOCKER_LABELS_MAX);
	docker_cstate_release(&cs);
	buf_reset(&b);
	for (i = 0; i < 100; i++)
		buf_addch(&b, '[');
	is(docker_parse_cstate(b.data, b.len, &cs), DOCKER_ERR_PROTOCOL,
	    "inspect: 100 nested arrays refused");

	data = slurp("container_list.json", &len);
	memset(&l, 0, sizeof(l));
	ok(docker_parse_container_list(data, len, &l) == DOCKER_OK && l.n == 1 &&
	    strcmp(l.v[0].id, CONTAINER_ID) == 0 &&
	    strcmp(l.v[0].name, "slipway-fixture") == 0 &&
	    strcmp(l.v[0].image, "slipway-fixture:1") == 0 &&
	    strcmp(l.v[0].state, "running") == 0 &&
	    strcmp(l.v[0].status, "Up 1 second") == 0 &&
	    l.v[0].created == 1795307701 && l.v[0].nports == 1 &&
	    l.v[0].ports[0].private_port == 8080 &&
	    l.v[0].ports[0].public_port == 17999 &&
	    strcmp(l.v[0].ports[0].ip, "127.0.0.1") == 0 &&
	    strcmp(l.v[0].ports[0].type, "tcp") == 0 &&
	    strcmp(docker_labels_get(&l.v[0].labels, "slipway.test"), "1") == 0,
	    "list: one container with its port and labels");
	docker_container_list_release(&l);
	free(data);
	ok(docker_parse_container_list("[]", 2, &l) == DOCKER_OK && l.n == 0,
	    "list: empty");
	docker_container_list_release(&l);
	{
		const char *bad[] = {
			"{}", "[1]", "[null]", "[{}]",
			"[{\"Id\":\"a\",\"Names\":\"a\"}]",
			"[{\"Id\":\"a\",\"Names\":[1]}]",
			"[{\"Id\":\"a\",\"Created\":-5}]",
			"[{\"Id\":\"a\",\"Ports\":[{\"PrivatePort\":70000}]}]",
			"[{\"Id\":\"a\",\"Ports\":[{\"IP\":\"0123456789012345678901234567890123456789012345678901234567890\"}]}]",
			"[{\"Id\":\"a\"},{\"Id\":5}]",
		};
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			l.v = (void *)&l;	/* must not be touched on failure */
			l.n = 77;
			ok(docker_parse_container_list(bad[i], strlen(bad[i]), &l) ==
			    DOCKER_ERR_PROTOCOL && l.n == 77, "list refused: %s", bad[i]);
		}
		data = slurp("list_hostile.json", &len);
		is(docker_parse_container_list(data, len, &l), DOCKER_ERR_PROTOCOL,
		    "list refused: list_hostile.json (ports as strings)");
		free(data);
	}
	/* Ports beyond the cap are skipped, not fatal (EXPOSE 1-65535). */
	buf_reset(&b);
	buf_adds(&b, "[{\"Id\":\"a\",\"Ports\":[");
	for (i = 0; i < DOCKER_PORTS_MAX + 10; i++)
		buf_printf(&b, "%s{\"PrivatePort\":%zu,\"Type\":\"tcp\"}",
		    i ? "," : "", i + 1);
	buf_adds(&b, "]}]");
	ok(docker_parse_container_list(b.data, b.len, &l) == DOCKER_OK &&
	    l.n == 1 && l.v[0].nports == DOCKER_PORTS_MAX,
	    "list: ports capped at %d", DOCKER_PORTS_MAX);
	docker_container_list_release(&l);

	data = slurp("image_inspect.json", &len);
	memset(&img, 0, sizeof(img));
	ok(docker_parse_image(data, len, &img) == DOCKER_OK &&
	    strcmp(img.id, IMAGE_ID) == 0 && img.exposed_port == 8080 &&
	    img.nexposed_tcp == 1 && img.tags.n == 1 &&
	    strcmp(img.tags.v[0], "slipway-fixture:1") == 0 &&
	    strcmp(docker_labels_get(&img.labels, "slipway.app"), "fixture00001") == 0,
	    "image inspect: exposed port, tags, labels");
	docker_image_release(&img);
	free(data);
	{
		const struct { const char *json; int port; size_t n; } ports[] = {
			{ "{\"Id\":\"a\",\"Config\":{\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}}}}", 80, 1 },
			{ "{\"Id\":\"a\",\"Config\":{\"ExposedPorts\":{\"80/tcp\":{},\"81/tcp\":{}}}}", 0, 2 },
			{ "{\"Id\":\"a\",\"Config\":{\"ExposedPorts\":{\"53/udp\":{}}}}", 0, 0 },
			{ "{\"Id\":\"a\",\"Config\":{\"ExposedPorts\":null}}", 0, 0 },
			{ "{\"Id\":\"a\",\"Config\":{\"ExposedPorts\":{\"7860\":{}}}}", 7860, 1 },
		};
		for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
			memset(&img, 0, sizeof(img));
			ok(docker_parse_image(ports[i].json, strlen(ports[i].json),
			    &img) == DOCKER_OK && img.exposed_port == ports[i].port &&
			    img.nexposed_tcp == ports[i].n,
			    "image exposed port: %s", ports[i].json);
			docker_image_release(&img);
		}
	}
	{
		const char *bad[] = {
			"{\"Config\":{}}",
			"{\"Id\":\"a\",\"RepoTags\":\"x\"}",
			"{\"Id\":\"a\",\"RepoTags\":[1]}",
			"{\"Id\":\"a\",\"Size\":-1}",
			"{\"Id\":\"a\",\"Config\":{\"ExposedPorts\":{\"0/tcp\":{}}}}",
			"{\"Id\":\"a\",\"Config\":{\"ExposedPorts\":{\"x/tcp\":{}}}}",
			"{\"Id\":\"a\",\"Config\":{\"ExposedPorts\":[\"80/tcp\"]}}",
			"{\"Id\":\"a\",\"Config\":{\"Labels\":[]}}",
		};
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			is(docker_parse_image(bad[i], strlen(bad[i]), &img),
			    DOCKER_ERR_PROTOCOL, "image refused: %s", bad[i]);
	}

	/* Events. */
	data = slurp("events.txt", &len);
	n = 0;
	found_die = 0;
	for (line = strtok_r(data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((o = json_tokener_parse(line)) == NULL)
			continue;
		if (docker_event_parse(o, "slipway.app", &ev) == 0) {
			n++;
			if (strcmp(ev.action, "die") == 0 && ev.exit_code == 143 &&
			    strcmp(ev.label, "fixture00001") == 0 &&
			    strcmp(ev.id, CONTAINER_ID) == 0 &&
			    strcmp(ev.name, "slipway-fixture") == 0 &&
			    strcmp(ev.type, "container") == 0 && ev.time == 1795307702)
				found_die = 1;
			if (strcmp(ev.action, "die") != 0 && ev.exit_code != -1)
				found_die = -100;
		}
		json_object_put(o);
	}
	is(n, 6, "events: six real events parse");
	is(found_die, 1, "events: die carries exit code, label, id, name");
	free(data);
	{
		const char *bad[] = {
			"[]",
			"{\"Action\":\"die\",\"Actor\":{\"ID\":\"a\"}}",	/* no time ok? no: time optional */
			"{\"Action\":\"\",\"time\":1,\"Actor\":{\"ID\":\"a\"}}",
			"{\"Action\":\"die\",\"time\":1}",
			"{\"Action\":\"die\",\"time\":1,\"Actor\":{\"ID\":\"../a\"}}",
			"{\"Action\":\"die\",\"time\":1,\"Actor\":{\"ID\":\"a\",\"Attributes\":{\"exitCode\":\"x\"}}}",
			"{\"Action\":\"die\",\"time\":1,\"Actor\":{\"ID\":\"a\",\"Attributes\":{\"exitCode\":137}}}",
			"{\"Action\":\"die\",\"time\":\"1\",\"Actor\":{\"ID\":\"a\"}}",
			"{\"Action\":\"die\",\"time\":1,\"Actor\":{\"ID\":\"a\",\"Attributes\":{\"slipway.app\":[]}}}",
		};
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			o = json_tokener_parse(bad[i]);
			if (i == 1) {
				ok(docker_event_parse(o, "slipway.app", &ev) == 0 &&
				    ev.time == 0 && ev.label[0] == '\0',
				    "event without time or label is fine");
			} else
				is(docker_event_parse(o, "slipway.app", &ev), -1,
				    "event refused: %s", bad[i]);
			json_object_put(o);
		}
	}
	buf_release(&b);
}

/*
 * (a) A fake daemon on a unix socket: status mapping, caps and the event
 * stream's end, over real transfers.  One connection at a time, each
 * answered and closed.
 */

static void
fake_write(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, s, len);
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void
fake_reply(int fd, int status, const char *body)
{
	char head[256];

	if (str_fmt(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    status, strlen(body)) == 0)
		fake_write(fd, head, strlen(head));
	fake_write(fd, body, strlen(body));
}

#define FAKE_EVENT(action, extra) "{\"Type\":\"container\",\"Action\":\"" action \
	"\",\"time\":" extra ",\"Actor\":{\"ID\":\"abc123\",\"Attributes\":" \
	"{\"slipway.app\":\"fakeapp\",\"exitCode\":\"3\"}}}\n"

static void
fake_serve(int lfd)
{
	char req[16384], *big;
	size_t len, i;
	ssize_t n;
	int fd;
	const char *stream_head = "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nConnection: close\r\n\r\n";

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			_exit(0);
		len = 0;
		while (len < sizeof(req) - 1 &&
		    (n = read(fd, req + len, sizeof(req) - 1 - len)) > 0) {
			len += (size_t)n;
			req[len] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		req[len] = '\0';
		if (strncmp(req, "GET /version ", 13) == 0)
			fake_reply(fd, 200, "{\"ApiVersion\":\"1.41\","
			    "\"MinAPIVersion\":\"1.12\",\"Version\":\"fake\"}");
		else if (strncmp(req, "GET /_ping ", 11) == 0)
			fake_reply(fd, 200, "OK");
		else if (strstr(req, "/containers/boom/json"))
			fake_reply(fd, 500, "{\"message\":\"boom happened\"}");
		else if (strstr(req, "/containers/notjson/json"))
			fake_reply(fd, 200, "not json at all");
		else if (strstr(req, "/containers/html/json"))
			fake_reply(fd, 404, "<html>nope</html>");
		else if (strstr(req, "/containers/conflict/start"))
			fake_reply(fd, 409, "{\"message\":\"in the way\"}");
		else if (strstr(req, "/containers/oddstatus/start"))
			fake_reply(fd, 302, "");
		else if (strstr(req, "/containers/bind/start"))
			fake_reply(fd, 500, "{\"message\":\"Error starting userland "
			    "proxy: listen tcp4 127.0.0.1:7861: bind: address already in use\"}");
		else if (strstr(req, "/containers/big/json") ||
		    strstr(req, "/containers/bigerr/json")) {
			len = strstr(req, "bigerr") ? DOCKER_ERROR_MAX + 10 :
			    DOCKER_REPLY_MAX + 10;
			big = xmalloc(len + 1);
			memset(big, ' ', len);
			big[0] = '{';
			big[len - 1] = '}';
			big[len] = '\0';
			fake_reply(fd, strstr(req, "bigerr") ? 500 : 200, big);
			free(big);
		} else if (strstr(req, "GET /v1.41/events?")) {
			fake_write(fd, stream_head, strlen(stream_head));
			if (strstr(req, "since=1700000000"))
				fake_write(fd, FAKE_EVENT("replayed", "1700000001"),
				    strlen(FAKE_EVENT("replayed", "1700000001")));
			if (strstr(req, "mode%3Dbad")) {
				fake_write(fd, "garbage\n", 8);
				usleep(200000);
			} else {
				const char *e1 = FAKE_EVENT("start", "1700000005");
				const char *e2 = FAKE_EVENT("die", "1700000009");

				fake_write(fd, e1, 10);
				usleep(50000);
				fake_write(fd, e1 + 10, strlen(e1) - 10);
				fake_write(fd, "{\"Action\":\"malformed\"}\n", 23);
				for (i = 0; e2[i] != '\0'; i++) {
					fake_write(fd, e2 + i, 1);
				}
				usleep(100000);
			}
		} else
			fake_reply(fd, 404, "{\"message\":\"no such thing\"}");
		close(fd);
	}
}

struct fake_events {
	int	 n;
	char	 actions[256];
	int	 exit_code;
	char	 label[32];
};

static void
on_fake_event(void *arg, const struct docker_event *e)
{
	struct fake_events *f = arg;

	size_t used = strlen(f->actions);

	f->n++;
	if (str_fmt(f->actions + used, sizeof(f->actions) - used, "%s ",
	    e->action) == -1)
		printf("# too many events\n");
	f->exit_code = e->exit_code;
	str_copy(f->label, sizeof(f->label), e->label);
}

static void
test_fake(void)
{
	struct sockaddr_un sun;
	struct docker *d = NULL;
	struct docker_cstate cs;
	struct docker_events *ev;
	struct fake_events fe;
	char dir[64], path[128];
	enum docker_err err;
	double t0;
	pid_t pid = -1;
	int lfd = -1, status;

	str_fmt(dir, sizeof(dir), "/tmp/t_docker_fake.XXXXXX");
	if (mkdtemp(dir) == NULL ||
	    str_fmt(path, sizeof(path), "%s/docker.sock", dir) == -1 ||
	    (lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		ok(0, "fake daemon socket");
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_copy(sun.sun_path, sizeof(sun.sun_path), path);
	if (bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(lfd, 16) == -1 || (pid = fork()) == -1) {
		ok(0, "fake daemon: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		fake_serve(lfd);
	close(lfd);
	lfd = -1;

	d = docker_open(path);
	ok(d != NULL && docker_ping(d) == DOCKER_OK, "fake: ping");
	memset(&cs, 0, sizeof(cs));
	err = docker_container_inspect(d, "boom", &cs);
	ok(err == DOCKER_ERR_SERVER && strcmp(docker_errmsg(d), "boom happened") == 0,
	    "fake: 500 is a server error with Docker's message");
	is(docker_container_inspect(d, "notjson", &cs), DOCKER_ERR_PROTOCOL,
	    "fake: a 200 that is not JSON is a protocol error");
	err = docker_container_inspect(d, "html", &cs);
	ok(err == DOCKER_ERR_NOT_FOUND &&
	    strcmp(docker_errmsg(d), "<html>nope</html>") == 0,
	    "fake: 404 with a non-JSON body keeps the text");
	is(docker_container_start(d, "conflict"), DOCKER_ERR_CONFLICT,
	    "fake: 409 is a conflict");
	is(docker_container_start(d, "bind"), DOCKER_ERR_PORT_IN_USE,
	    "fake: 'address already in use' is a port in use");
	is(docker_container_start(d, "oddstatus"), DOCKER_ERR_SERVER,
	    "fake: an unexpected 302 is an error");
	t0 = now();
	err = docker_container_inspect(d, "big", &cs);
	ok(err == DOCKER_ERR_PROTOCOL && now() - t0 < 5,
	    "fake: a reply over %d bytes is refused (%s)", DOCKER_REPLY_MAX,
	    docker_errmsg(d));
	is(docker_container_inspect(d, "bigerr", &cs), DOCKER_ERR_PROTOCOL,
	    "fake: an error body over %d bytes is refused", DOCKER_ERROR_MAX);
	is(docker_container_inspect(d, "missing", &cs), DOCKER_ERR_NOT_FOUND,
	    "fake: handle still works after refused replies");

	/* The event stream: events split anywhere, then the end. */
	memset(&fe, 0, sizeof(fe));
	ev = docker_events_open(d, "slipway.app", 0, on_fake_event, &fe);
	t0 = now();
	err = DOCKER_OK;
	while (ev != NULL && now() - t0 < 5 &&
	    (err = docker_events_wait(ev, NULL, 0, 100)) == DOCKER_OK)
		;
	ok(ev != NULL && fe.n == 2 && strcmp(fe.actions, "start die ") == 0 &&
	    fe.exit_code == 3 && strcmp(fe.label, "fakeapp") == 0,
	    "fake events: two good events, the malformed one skipped (%s)",
	    fe.actions);
	ok(err == DOCKER_ERR_TRANSPORT && now() - t0 < 5 &&
	    strstr(docker_events_errmsg(ev), "ended") != NULL,
	    "fake events: the end of the stream is reported (%s)",
	    ev ? docker_events_errmsg(ev) : "");
	is(ev ? docker_events_last(ev) : 0, 1700000009, "fake events: last time");
	is(ev ? docker_events_wait(ev, NULL, 0, 0) : 0, DOCKER_ERR_TRANSPORT,
	    "fake events: an ended stream stays ended");
	docker_events_close(ev);

	memset(&fe, 0, sizeof(fe));
	ev = docker_events_open(d, "slipway.app", 1700000000, on_fake_event, &fe);
	t0 = now();
	while (ev != NULL && now() - t0 < 5 &&
	    docker_events_wait(ev, NULL, 0, 100) == DOCKER_OK)
		;
	ok(fe.n == 3 && strncmp(fe.actions, "replayed ", 9) == 0,
	    "fake events: reopened with since replays (%s)", fe.actions);
	docker_events_close(ev);

	memset(&fe, 0, sizeof(fe));
	ev = docker_events_open(d, "mode=bad", 0, on_fake_event, &fe);
	t0 = now();
	while (ev != NULL && now() - t0 < 5 &&
	    (err = docker_events_wait(ev, NULL, 0, 100)) == DOCKER_OK)
		;
	ok(err == DOCKER_ERR_PROTOCOL && fe.n == 0,
	    "fake events: a line that is not JSON ends the stream (%s)",
	    ev ? docker_events_errmsg(ev) : "");
	docker_events_close(ev);
out:
	docker_close(d);
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
	}
	if (lfd != -1)
		close(lfd);
	unlink(path);
	rmdir(dir);
}

/*
 * (b) Live.
 */

struct live {
	struct docker	*d;
	char		 app[16];	/* slipway.app of this run */
	char		 pid[16];
	char		 image[64];	/* repo:1 */
	char		 repo[64];
	char		 dir[64];	/* temporary directory */
	char		 name[64];	/* container name */
	struct docker_kv labels[4];
};

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static size_t
discard(char *p, size_t s, size_t n, void *arg)
{
	return s * n;
}

/* First 200 from http://127.0.0.1:port/ within limit seconds: elapsed, or -1. */
static double
probe(int port, double limit)
{
	char url[64];
	double t0 = now();
	long status = 0;
	CURL *c;

	if ((c = curl_easy_init()) == NULL)
		return -1;
	str_fmt(url, sizeof(url), "http://127.0.0.1:%d/index.html", port);
	while (now() - t0 < limit) {
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 300L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		if (curl_easy_perform(c) == CURLE_OK &&
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
		    status == 200)
			break;
		status = 0;
		usleep(50000);
	}
	curl_easy_cleanup(c);
	return status == 200 ? now() - t0 : -1;
}

/* A tar of the build context: Dockerfile (given), busybox, www/index.html. */
static int
write_context(const char *path, const char *dockerfile)
{
	struct archive *a = NULL;
	struct archive_entry *e = NULL;
	struct buf bb = BUF_INIT;
	const char *html = "hello from slipway\n";
	char chunk[65536];
	ssize_t n;
	int fd = -1, rc = -1;

	if ((fd = open("/bin/busybox", O_RDONLY | O_CLOEXEC)) == -1) {
		printf("# /bin/busybox: %s (install busybox-static)\n",
		    strerror(errno));
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&bb, chunk, (size_t)n);
	if ((a = archive_write_new()) == NULL ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, path) != ARCHIVE_OK)
		goto out;
	e = archive_entry_new();
#define ADD(name, mode, data, len) do {					\
	archive_entry_clear(e);						\
	archive_entry_set_pathname(e, (name));				\
	archive_entry_set_filetype(e, AE_IFREG);			\
	archive_entry_set_perm(e, (mode));				\
	archive_entry_set_size(e, (la_int64_t)(len));			\
	if (archive_write_header(a, e) != ARCHIVE_OK ||			\
	    archive_write_data(a, (data), (len)) != (la_ssize_t)(len))	\
		goto out;						\
} while (0)
	ADD("Dockerfile", 0644, dockerfile, strlen(dockerfile));
	ADD("busybox", 0755, bb.data, bb.len);
	ADD("www/index.html", 0644, html, strlen(html));
#undef ADD
	if (archive_write_close(a) != ARCHIVE_OK)
		goto out;
	rc = 0;
out:
	if (rc == -1 && a != NULL)
		printf("# archive: %s\n", archive_error_string(a));
	archive_entry_free(e);
	if (a != NULL)
		archive_write_free(a);
	if (fd != -1)
		close(fd);
	buf_release(&bb);
	return rc;
}

/* Reads at most 1000 bytes at a time: many chunks reach curl. */
static ssize_t
read_small(void *arg, char *buf, size_t len)
{
	return docker_read_fd(arg, buf, len < 1000 ? len : 1000);
}

static int
cancel_now(void *arg)
{
	return 1;
}

struct seen_events {
	int	 die;
	int	 start;
	int	 die_exit;
	int	 other_app;
	char	 app[16];
	char	 id[80];
};

static void
on_event(void *arg, const struct docker_event *e)
{
	struct seen_events *s = arg;

	if (strcmp(e->label, s->app) != 0) {
		s->other_app++;
		return;
	}
	if (strcmp(e->id, s->id) != 0)
		return;
	if (strcmp(e->action, "start") == 0)
		s->start++;
	if (strcmp(e->action, "die") == 0) {
		s->die++;
		s->die_exit = e->exit_code;
	}
}

/* GET /images/{name}/get into path, with plain libcurl. */
static int
save_image(const char *name, const char *path)
{
	char url[256];
	long status = 0;
	FILE *f;
	CURL *c;
	int rc = -1;

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	if ((c = curl_easy_init()) != NULL &&
	    str_fmt(url, sizeof(url), "http://localhost/v1.41/images/%s/get",
	    name) == 0) {
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, "/var/run/docker.sock");
		curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
		if (curl_easy_perform(c) == CURLE_OK &&
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
		    status == 200)
			rc = 0;
	}
	curl_easy_cleanup(c);
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* Remove what this run (label) or a dead earlier run created. */
static void
cleanup(struct live *L)
{
	struct docker_container_list l;
	struct docker_image_list il;
	const char *pid;
	char filter[64];
	long long p;
	size_t i;

	memset(&l, 0, sizeof(l));
	memset(&il, 0, sizeof(il));
	if (docker_container_list(L->d, "slipway.test.suite=t_docker", &l) == DOCKER_OK)
		for (i = 0; i < l.n; i++) {
			pid = docker_labels_get(&l.v[i].labels, "slipway.test.pid");
			if (pid == NULL || valid_int(pid, 1, INT32_MAX, &p) == -1)
				continue;
			if (strcmp(pid, L->pid) != 0 && (kill((pid_t)p, 0) == 0 ||
			    errno != ESRCH))
				continue;	/* a run still going */
			docker_container_remove(L->d, l.v[i].id, 1, 1);
		}
	docker_container_list_release(&l);
	if (docker_image_list(L->d, "slipway.test.suite=t_docker", &il) == DOCKER_OK)
		for (i = 0; i < il.n; i++) {
			pid = docker_labels_get(&il.v[i].labels, "slipway.test.pid");
			if (pid == NULL || valid_int(pid, 1, INT32_MAX, &p) == -1)
				continue;
			if (strcmp(pid, L->pid) != 0 && (kill((pid_t)p, 0) == 0 ||
			    errno != ESRCH))
				continue;
			docker_image_remove(L->d, il.v[i].id, 1);
		}
	docker_image_list_release(&il);
	str_fmt(filter, sizeof(filter), "slipway.app=%s", L->app);
	docker_prune(L->d, DOCKER_PRUNE_CONTAINERS, filter, NULL);
	docker_prune(L->d, DOCKER_PRUNE_IMAGES, filter, NULL);
}

static void
test_live(void)
{
	struct live L;
	struct docker_version v;
	struct docker_build_opts bo;
	struct docker_run_spec rs;
	struct docker_cstate cs;
	struct docker_container_list cl;
	struct docker_image img;
	struct docker_image_list il;
	struct docker_refs refs;
	struct docker_logs_opts lo;
	struct docker_events *evs = NULL;
	struct seen_events seen;
	struct collected out;
	struct buf log = BUF_INIT;
	struct docker_kv env[] = { { "PORT", "8080" }, { "GREETING", "a b=c" } };
	struct docker *bad;
	struct pollfd pfd;
	char ctx[128] = "", ctx_bad[128] = "", saved[128] = "", junk[128] = "";
	char filter[64], layer_id[256] = "";
	const char *layer;
	char *image_id = NULL, *cid = NULL, *cid2 = NULL;
	const char *sock;
	double t0, dt;
	int fd = -1, port, pipefd[2] = { -1, -1 };
	size_t i;
	uint64_t reclaimed;
	enum docker_err err;
	struct stat st;

	memset(&L, 0, sizeof(L));
	memset(&seen, 0, sizeof(seen));
	memset(&out, 0, sizeof(out));
	buf_init(&out.out);
	buf_init(&out.err);
	str_fmt(L.app, sizeof(L.app), "tdk%09d", (int)getpid());
	str_fmt(L.pid, sizeof(L.pid), "%d", (int)getpid());
	str_fmt(L.repo, sizeof(L.repo), "slipway-test/%s", L.app);
	str_fmt(L.image, sizeof(L.image), "%s:1", L.repo);
	str_fmt(L.name, sizeof(L.name), "slipway-%s", L.app);
	str_fmt(L.dir, sizeof(L.dir), "/tmp/t_docker.XXXXXX");
	L.labels[0] = (struct docker_kv){ "slipway.test", "1" };
	L.labels[1] = (struct docker_kv){ "slipway.app", L.app };
	L.labels[2] = (struct docker_kv){ "slipway.test.suite", "t_docker" };
	L.labels[3] = (struct docker_kv){ "slipway.test.pid", L.pid };
	str_fmt(filter, sizeof(filter), "slipway.app=%s", L.app);

	/* Transport errors come back fast and as such. */
	bad = docker_open("/nonexistent/docker.sock");
	t0 = now();
	err = bad ? docker_ping(bad) : DOCKER_ERR__MAX;
	ok(err == DOCKER_ERR_TRANSPORT && now() - t0 < 3 &&
	    docker_errmsg(bad)[0] != '\0', "no daemon: transport error (%s)",
	    bad ? docker_errmsg(bad) : "");
	is(bad ? (int)docker_container_start(bad, "x") : -1, DOCKER_ERR_TRANSPORT,
	    "no daemon: calls fail at negotiation");
	docker_close(bad);

	if ((sock = getenv("SLIPWAY_DOCKER_SOCK")) == NULL)
		sock = "/var/run/docker.sock";
	if ((L.d = docker_open(sock)) == NULL || docker_ping(L.d) != DOCKER_OK) {
		ok(0, "the Docker daemon at %s answers /_ping (%s)", sock,
		    L.d ? docker_errmsg(L.d) : "open failed");
		docker_close(L.d);
		return;
	}
	ok(1, "the Docker daemon at %s answers /_ping", sock);
	memset(&v, 0, sizeof(v));
	ok(docker_version(L.d, &v) == DOCKER_OK && strncmp(v.api, "1.4", 3) == 0,
	    "version negotiated: API %s (server %s, engine %s)", v.api,
	    v.server_api, v.engine);
	cleanup(&L);

	/* Names that would change the path are refused without a request. */
	is(docker_container_start(L.d, "../../containers/x"), DOCKER_ERR_INVALID,
	    "container id with / refused");
	is(docker_container_stop(L.d, "a?b=c", 1), DOCKER_ERR_INVALID,
	    "container id with ? refused");
	memset(&img, 0, sizeof(img));
	is(docker_image_inspect(L.d, "a b", &img), DOCKER_ERR_INVALID,
	    "image name with space refused");
	is(docker_image_remove(L.d, "x/../../y", 1), DOCKER_ERR_INVALID,
	    "image name with .. refused");
	memset(&cl, 0, sizeof(cl));
	is(docker_container_list(L.d, "", &cl), DOCKER_ERR_INVALID,
	    "empty label filter refused");
	is(docker_prune(L.d, DOCKER_PRUNE_IMAGES, "", NULL), DOCKER_ERR_INVALID,
	    "prune without a label refused");

	if (mkdtemp(L.dir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		goto out;
	}
	str_fmt(ctx, sizeof(ctx), "%s/ctx.tar", L.dir);
	str_fmt(ctx_bad, sizeof(ctx_bad), "%s/ctx-bad.tar", L.dir);
	str_fmt(saved, sizeof(saved), "%s/saved.tar", L.dir);
	str_fmt(junk, sizeof(junk), "%s/junk.tar", L.dir);
	ok(write_context(ctx,
	    "FROM scratch\n"
	    "COPY busybox /bin/busybox\n"
	    "COPY www /www\n"
	    "EXPOSE 8080\n"
	    "CMD [\"/bin/busybox\", \"sh\", \"-c\", \"echo hello-out; "
	    "echo hello-err >&2; exec /bin/busybox httpd -f -p 8080 -h /www\"]\n")
	    == 0, "build context written");
	ok(write_context(ctx_bad, "FROM scratch\nCOPY www /www2\n"
	    "COPY missing-file /x\n") == 0,
	    "failing build context written");

	/* Build, streamed chunked in small reads. */
	memset(&bo, 0, sizeof(bo));
	bo.tag = L.image;
	bo.labels = L.labels;
	bo.nlabels = 4;
	bo.read = read_small;
	bo.read_arg = &fd;
	bo.context_len = -1;
	bo.log = collect_log;
	bo.arg = &log;
	bo.timeout_s = 120;
	fd = open(ctx, O_RDONLY | O_CLOEXEC);
	t0 = now();
	err = docker_build(L.d, &bo, &image_id);
	dt = now() - t0;
	ok(err == DOCKER_OK && image_id != NULL &&
	    strncmp(image_id, "sha256:", 7) == 0,
	    "build: %s in %.2f s (%s)", image_id ? image_id : "no id", dt,
	    err ? docker_errmsg(L.d) : "ok");
	if (!ok(strstr(log.data, "Step 1/") != NULL &&
	    strstr(log.data, " : FROM scratch\n") != NULL &&
	    strstr(log.data, "Successfully tagged") != NULL,
	    "build: output reached the log callback"))
		printf("# log: %s\n", log.data);
	close(fd);

	/* A failing build: the error inside the 200 stream, known length. */
	buf_reset(&log);
	fd = open(ctx_bad, O_RDONLY | O_CLOEXEC);
	fstat(fd, &st);
	bo.read = docker_read_fd;
	bo.context_len = st.st_size;
	bo.tag = "slipway-test/failing:1";
	{
		char *id2 = NULL;

		err = docker_build(L.d, &bo, &id2);
		ok(err == DOCKER_ERR_STREAM && id2 == NULL &&
		    strstr(docker_errmsg(L.d), "missing-file") != NULL &&
		    strstr(log.data, "missing-file") != NULL,
		    "build error detected: %s", docker_errmsg(L.d));
		free(id2);
		/* The COPY www step made an image: it must be gone. */
		layer = strstr(log.data, "Step 2/");
		layer = layer ? strstr(layer, " ---> ") : NULL;
		ok(layer != NULL && str_copy(layer_id, sizeof(layer_id),
		    layer + 6) == 0 && strlen(layer_id) > 12,
		    "failed build: the log names its intermediate image");
		layer_id[strcspn(layer_id, "\n")] = '\0';
		is(docker_image_inspect(L.d, layer_id, &img), DOCKER_ERR_NOT_FOUND,
		    "failed build: intermediate image %s removed", layer_id);
	}
	close(fd);

	/* A cancelled build. */
	fd = open(ctx, O_RDONLY | O_CLOEXEC);
	bo.tag = "slipway-test/cancelled:1";
	bo.cancel = cancel_now;
	bo.context_len = -1;
	{
		char *id3 = NULL;

		t0 = now();
		err = docker_build(L.d, &bo, &id3);
		ok(err == DOCKER_ERR_ABORTED && id3 == NULL && now() - t0 < 3,
		    "build cancelled by the hook: %s", docker_err_str(err));
		free(id3);
	}
	close(fd);
	fd = -1;
	ok(docker_ping(L.d) == DOCKER_OK, "handle still usable after an abort");

	memset(&img, 0, sizeof(img));
	err = docker_image_inspect(L.d, L.image, &img);
	ok(err == DOCKER_OK && img.exposed_port == 8080 &&
	    image_id != NULL && strcmp(img.id, image_id) == 0 &&
	    docker_labels_get(&img.labels, "slipway.app") != NULL &&
	    strcmp(docker_labels_get(&img.labels, "slipway.app"), L.app) == 0,
	    "image inspect: EXPOSE 8080 and labels");
	docker_image_release(&img);
	is(docker_image_inspect(L.d, "slipway-test/does-not-exist:1", &img),
	    DOCKER_ERR_NOT_FOUND, "image inspect: unknown image is not found");

	/* Events, then create and start. */
	str_fmt(seen.app, sizeof(seen.app), "%s", L.app);
	evs = docker_events_open(L.d, filter, 0, on_event, &seen);
	ok(evs != NULL, "event stream opened");

	port = free_port();
	memset(&rs, 0, sizeof(rs));
	rs.name = L.name;
	rs.image = L.image;
	rs.env = env;
	rs.nenv = 2;
	rs.labels = L.labels;
	rs.nlabels = 4;
	rs.container_port = 8080;
	rs.host_port = port;
	rs.memory = 64LL * 1024 * 1024;
	rs.pids_limit = 64;
	t0 = now();
	err = docker_container_create(L.d, &rs, &cid);
	ok(err == DOCKER_OK && cid != NULL, "create (%s)",
	    err ? docker_errmsg(L.d) : cid);
	if (cid == NULL)
		goto out;
	str_fmt(seen.id, sizeof(seen.id), "%s", cid);
	err = docker_container_create(L.d, &rs, &cid2);
	ok(err == DOCKER_ERR_CONFLICT && cid2 == NULL &&
	    docker_errmsg(L.d)[0] != '\0', "create with a taken name: conflict (%s)",
	    docker_errmsg(L.d));
	err = docker_container_start(L.d, cid);
	ok(err == DOCKER_OK, "start: create+start %.2f s", now() - t0);
	is(docker_container_start(L.d, cid), DOCKER_OK,
	    "start again (304) is success");
	dt = probe(port, 10);
	ok(dt >= 0, "HTTP 200 on 127.0.0.1:%d after %.2f s", port, dt);

	memset(&cs, 0, sizeof(cs));
	err = docker_container_inspect(L.d, cid, &cs);
	ok(err == DOCKER_OK && cs.running && strcmp(cs.status, "running") == 0 &&
	    cs.host_port == port && cs.container_port == 8080 &&
	    strcmp(cs.name, L.name) == 0 && cs.tty == 0 && cs.pid > 0 &&
	    strcmp(docker_labels_get(&cs.labels, "slipway.app"), L.app) == 0,
	    "inspect: running, port %d, labels", cs.host_port);
	docker_cstate_release(&cs);
	is(docker_container_inspect(L.d, "slipway-test-no-such", &cs),
	    DOCKER_ERR_NOT_FOUND, "inspect: unknown container is not found");

	memset(&cl, 0, sizeof(cl));
	err = docker_container_list(L.d, filter, &cl);
	ok(err == DOCKER_OK && cl.n == 1 && strcmp(cl.v[0].id, cid) == 0 &&
	    strcmp(cl.v[0].name, L.name) == 0 &&
	    strcmp(cl.v[0].state, "running") == 0 && cl.v[0].nports >= 1 &&
	    cl.v[0].created > 0, "list by label finds exactly this container");
	for (i = 0; err == DOCKER_OK && i < cl.v[0].nports; i++)
		if (cl.v[0].ports[i].public_port == port)
			break;
	ok(err == DOCKER_OK && i < cl.v[0].nports &&
	    strcmp(cl.v[0].ports[i].ip, "127.0.0.1") == 0,
	    "list: published on 127.0.0.1 only");
	docker_container_list_release(&cl);

	/* Logs, framed. */
	memset(&lo, 0, sizeof(lo));
	lo.tail = -1;
	lo.out = collect_output;
	lo.arg = &out;
	err = docker_container_logs(L.d, cid, &lo);
	ok(err == DOCKER_OK && strcmp(out.out.data, "hello-out\n") == 0 &&
	    strcmp(out.err.data, "hello-err\n") == 0,
	    "logs: stdout and stderr apart ('%s' / '%s')", out.out.data,
	    out.err.data);
	buf_reset(&out.out);
	buf_reset(&out.err);
	lo.tail = 0;
	err = docker_container_logs(L.d, cid, &lo);
	ok(err == DOCKER_OK && out.out.len == 0 && out.err.len == 0,
	    "logs: tail=0 gives nothing");
	lo.follow = 1;
	lo.tail = -1;
	lo.cancel = cancel_now;
	t0 = now();
	err = docker_container_logs(L.d, cid, &lo);
	ok(err == DOCKER_ERR_ABORTED && now() - t0 < 3,
	    "logs: follow of a running container ends when cancelled");

	/* Port already allocated. */
	rs.name = NULL;
	err = docker_container_create(L.d, &rs, &cid2);
	ok(err == DOCKER_OK, "second container on the same port created");
	if (cid2 != NULL) {
		err = docker_container_start(L.d, cid2);
		ok(err == DOCKER_ERR_PORT_IN_USE, "start: port in use detected: %s",
		    docker_errmsg(L.d));
		is(docker_container_remove(L.d, cid2, 1, 1), DOCKER_OK,
		    "second container removed");
	}

	/* Events seen so far: start. */
	t0 = now();
	while (seen.start == 0 && now() - t0 < 5 &&
	    docker_events_wait(evs, NULL, 0, 200) == DOCKER_OK)
		;
	ok(evs != NULL && seen.start >= 1 && seen.other_app == 0,
	    "event: start of this container (%d)", seen.start);

	/* Stop: fast thanks to Init. */
	t0 = now();
	err = docker_container_stop(L.d, cid, 10);
	dt = now() - t0;
	ok(err == DOCKER_OK && dt < 3, "stop in %.2f s", dt);
	is(docker_container_stop(L.d, cid, 10), DOCKER_OK,
	    "stop again (304) is success");
	memset(&cs, 0, sizeof(cs));
	err = docker_container_inspect(L.d, cid, &cs);
	ok(err == DOCKER_OK && !cs.running && strcmp(cs.status, "exited") == 0 &&
	    cs.host_port == port && cs.finished_at[0] != '\0',
	    "inspect after stop: exited (code %d)", cs.exit_code);
	docker_cstate_release(&cs);
	t0 = now();
	while (seen.die == 0 && now() - t0 < 5 &&
	    docker_events_wait(evs, NULL, 0, 200) == DOCKER_OK)
		;
	ok(seen.die == 1 && seen.die_exit >= 0, "event: die with exit code %d",
	    seen.die_exit);

	/* The wake-up descriptor ends a wait early. */
	if (pipe(pipefd) == 0) {
		pfd.fd = pipefd[0];
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (write(pipefd[1], "x", 1) != 1)
			printf("# write: %s\n", strerror(errno));
		t0 = now();
		err = docker_events_wait(evs, &pfd, 1, 5000);
		ok(err == DOCKER_OK && (pfd.revents & POLLIN) && now() - t0 < 1,
		    "events_wait returns on the extra descriptor");
		close(pipefd[0]);
		close(pipefd[1]);
	}

	/* Restart: serving again. */
	t0 = now();
	err = docker_container_restart(L.d, cid, 10);
	ok(err == DOCKER_OK, "restart in %.2f s", now() - t0);
	dt = probe(port, 10);
	ok(dt >= 0, "HTTP 200 again after restart (%.2f s)", dt);

	/* Remove. */
	t0 = now();
	is(docker_container_remove(L.d, cid, 1, 1), DOCKER_OK, "remove (force)");
	is(docker_container_remove(L.d, cid, 1, 1), DOCKER_ERR_NOT_FOUND,
	    "remove again: not found");
	memset(&cl, 0, sizeof(cl));
	ok(docker_container_list(L.d, filter, &cl) == DOCKER_OK && cl.n == 0,
	    "list by label is empty after remove");
	docker_container_list_release(&cl);

	/* Save, remove, load back. */
	ok(save_image(L.image, saved) == 0, "image saved with GET /images/get");
	is(docker_image_remove(L.d, L.image, 1), DOCKER_OK, "image removed");
	is(docker_image_inspect(L.d, L.image, &img), DOCKER_ERR_NOT_FOUND,
	    "image gone");
	buf_reset(&log);
	memset(&refs, 0, sizeof(refs));
	err = docker_image_load(L.d, saved, collect_log, NULL, &log, &refs);
	ok(err == DOCKER_OK && refs.n == 1 && strcmp(refs.v[0], L.image) == 0,
	    "image load: %s (%s)", refs.n ? refs.v[0] : "nothing",
	    err ? docker_errmsg(L.d) : "ok");
	ok(strstr(log.data, "Loaded image: ") != NULL, "image load: logged");
	docker_refs_release(&refs);
	is(docker_image_tag(L.d, L.image, L.repo, "tagged"), DOCKER_OK, "image tag");
	is(docker_image_tag(L.d, L.image, L.repo, "bad tag"), DOCKER_ERR_INVALID,
	    "image tag with space refused");
	memset(&il, 0, sizeof(il));
	err = docker_image_list(L.d, filter, &il);
	ok(err == DOCKER_OK && il.n == 1 && il.v[0].tags.n == 2 &&
	    image_id != NULL && strcmp(il.v[0].id, image_id) == 0,
	    "image list by label: one image, two tags, same id after load");
	docker_image_list_release(&il);
	{
		int jfd = open(junk, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (jfd != -1) {
			if (write(jfd, "this is not a tar archive\n", 26) != 26)
				printf("# write: %s\n", strerror(errno));
			close(jfd);
		}
		memset(&refs, 0, sizeof(refs));
		err = docker_image_load(L.d, junk, NULL, NULL, NULL, &refs);
		ok(err != DOCKER_OK && refs.n == 0, "image load of junk fails: %s (%s)",
		    docker_err_str(err), docker_errmsg(L.d));
		is(docker_image_load(L.d, L.dir, NULL, NULL, NULL, &refs),
		    DOCKER_ERR_INVALID, "image load of a directory refused");
	}
	reclaimed = 0;
	is(docker_prune(L.d, DOCKER_PRUNE_IMAGES, filter, &reclaimed), DOCKER_OK,
	    "prune images by label");
	is(docker_image_inspect(L.d, L.image, &img), DOCKER_ERR_NOT_FOUND,
	    "image pruned (%" PRIu64 " bytes)", reclaimed);
	is(docker_prune(L.d, DOCKER_PRUNE_VOLUMES, filter, NULL), DOCKER_OK,
	    "prune volumes by label");
	is(docker_prune(L.d, DOCKER_PRUNE_NETWORKS, filter, NULL), DOCKER_OK,
	    "prune networks by label");
out:
	docker_events_close(evs);
	cleanup(&L);
	memset(&cl, 0, sizeof(cl));
	ok(docker_container_list(L.d, "slipway.test.pid", &cl) == DOCKER_OK,
	    "final list");
	for (i = 0; i < cl.n; i++)
		if (strcmp(docker_labels_get(&cl.v[i].labels, "slipway.test.pid"),
		    L.pid) == 0)
			break;
	ok(i == cl.n || cl.n == 0, "nothing of this run left behind");
	docker_container_list_release(&cl);
	if (L.dir[0] != '\0' && strchr(L.dir, 'X') == NULL) {
		unlink(ctx);
		unlink(ctx_bad);
		unlink(saved);
		unlink(junk);
		rmdir(L.dir);
	}
	free(image_id);
	free(cid);
	free(cid2);
	buf_release(&log);
	buf_release(&out.out);
	buf_release(&out.err);
	docker_close(L.d);
}

int
main(void)
{
	log_init("t_docker", 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_run_spec();
	test_demux();
	test_progress();
	test_parsers();
	test_fake();
	test_live();
	curl_global_cleanup();
	return done_testing();
}
