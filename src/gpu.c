#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "buf.h"
#include "caps.h"
#include "db.h"
#include "gpu.h"
#include "log.h"
#include "valid.h"

extern char **environ;

#define GPU_CSV_FIELDS		5	/* index, uuid, name, memory.total, memory.used */
#define GPU_FIELD_MAX		128	/* bytes of one CSV field, with its NUL */
#define GPU_MIB			(1024ULL * 1024)

/* ------------------------------------------------------------------ */
/* Validators shared by the CSV parser and NVML                        */

/* "GPU-" then hex digits and dashes, at most GPU_UUID_MAX bytes. */
static int
gpu_valid_uuid(const char *s)
{
	size_t n = strlen(s), i;
	int hex = 0;

	if (n <= 4 || n > GPU_UUID_MAX || strncmp(s, "GPU-", 4) != 0)
		return -1;
	for (i = 4; i < n; i++) {
		if ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))
			hex = 1;
		else if (s[i] != '-')
			return -1;
	}
	return hex ? 0 : -1;
}

/* Printable ASCII, 1..GPU_NAME_MAX bytes, no edge spaces. */
static int
gpu_valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > GPU_NAME_MAX || s[0] == ' ' || s[n - 1] == ' ')
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return -1;
	return 0;
}

/* Indices and UUIDs distinct; then sort by index (insertion sort, n <= 64). */
static int
gpu_list_finish(struct gpu_list *l)
{
	struct gpu_info tmp;
	size_t i, j;

	for (i = 0; i < l->n; i++)
		for (j = i + 1; j < l->n; j++)
			if (l->gpu[i].index == l->gpu[j].index ||
			    strcmp(l->gpu[i].uuid, l->gpu[j].uuid) == 0)
				return -1;
	for (i = 1; i < l->n; i++) {
		tmp = l->gpu[i];
		for (j = i; j > 0 && l->gpu[j - 1].index > tmp.index; j--)
			l->gpu[j] = l->gpu[j - 1];
		l->gpu[j] = tmp;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* nvidia-smi CSV                                                      */

/*
 * One line "0, GPU-..., NVIDIA A100-SXM4-40GB, 40960, 3": exactly five
 * comma-separated fields, spaces around them trimmed.
 */
static int
gpu_parse_line(const char *line, size_t len, struct gpu_info *g)
{
	char field[GPU_CSV_FIELDS][GPU_FIELD_MAX];
	const char *p = line, *end = line + len, *comma, *a, *b;
	long long index, total, used;
	size_t nf = 0;

	for (;;) {
		if (nf == GPU_CSV_FIELDS)
			return -1;		/* a sixth field */
		comma = memchr(p, ',', (size_t)(end - p));
		a = p;
		b = comma ? comma : end;
		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		if ((size_t)(b - a) >= GPU_FIELD_MAX)
			return -1;
		memcpy(field[nf], a, (size_t)(b - a));
		field[nf][b - a] = '\0';
		nf++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if (nf != GPU_CSV_FIELDS)
		return -1;
	if (valid_int(field[0], 0, GPU_MAX - 1, &index) == -1 ||
	    gpu_valid_uuid(field[1]) == -1 ||
	    gpu_valid_name(field[2]) == -1 ||
	    valid_int(field[3], 1, GPU_MEM_MAX_MIB, &total) == -1 ||
	    valid_int(field[4], 0, total, &used) == -1)
		return -1;
	g->index = (int)index;
	if (str_copy(g->uuid, sizeof(g->uuid), field[1]) == -1 ||
	    str_copy(g->name, sizeof(g->name), field[2]) == -1)
		return -1;
	g->total_mib = total;
	g->used_mib = used;
	return 0;
}

int
gpu_parse_csv(const char *data, size_t len, struct gpu_list *out)
{
	struct gpu_list *l = NULL;
	const char *p = data, *end = data + len, *eol;
	size_t linelen, lineno = 0;
	int rc = -1;

	if (data == NULL && len != 0)
		return -1;
	if (len > 0 && memchr(data, '\0', len) != NULL) {
		log_warnx("NUL byte in GPU list");
		return -1;
	}
	l = xcalloc(1, sizeof(*l));
	while (p < end) {
		lineno++;
		eol = memchr(p, '\n', (size_t)(end - p));
		linelen = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (l->n == GPU_MAX) {
			log_warnx("more than %d GPUs listed", GPU_MAX);
			goto out;
		}
		if (linelen == 0 || gpu_parse_line(p, linelen,
		    &l->gpu[l->n]) == -1) {
			log_warnx("GPU list line %zu does not parse", lineno);
			goto out;
		}
		l->n++;
		p = eol ? eol + 1 : end;
	}
	if (gpu_list_finish(l) == -1) {
		log_warnx("GPU list repeats an index or a UUID");
		goto out;
	}
	memcpy(out, l, sizeof(*out));
	rc = 0;
out:
	free(l);
	return rc;
}

/* ------------------------------------------------------------------ */
/* NVML                                                                */

/* Resolve one symbol into a function pointer slot (the POSIX dlsym idiom). */
#define GPU_NVML_SYM(h, slot, name) do {				\
	void *sym_ = dlsym((h), (name));				\
	if (sym_ == NULL)						\
		goto fail;						\
	memcpy(&(slot), &sym_, sizeof(sym_));				\
} while (0)

/* dlopen NVML; NULL (quietly) when the library is not there. */
static void *
gpu_nvml_load(struct gpu_nvml_api *api)
{
	void *h;

	if ((h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL)) == NULL) {
		log_debug("no NVML: %s", dlerror());
		return NULL;
	}
	GPU_NVML_SYM(h, api->init, "nvmlInit_v2");
	GPU_NVML_SYM(h, api->shutdown, "nvmlShutdown");
	GPU_NVML_SYM(h, api->get_count, "nvmlDeviceGetCount_v2");
	GPU_NVML_SYM(h, api->get_handle, "nvmlDeviceGetHandleByIndex_v2");
	GPU_NVML_SYM(h, api->get_name, "nvmlDeviceGetName");
	GPU_NVML_SYM(h, api->get_uuid, "nvmlDeviceGetUUID");
	GPU_NVML_SYM(h, api->get_memory, "nvmlDeviceGetMemoryInfo");
	return h;
fail:
	log_warnx("libnvidia-ml.so.1 lacks a symbol: %s", dlerror());
	dlclose(h);
	return NULL;
}

/*
 * 0 with *out filled, 1 when NVML does not initialise (no driver: try
 * nvidia-smi), -1 when it initialised and then failed or lied.
 */
static int
gpu_nvml_enumerate(const struct gpu_nvml_api *api, struct gpu_list *out)
{
	struct gpu_list *l = NULL;
	struct gpu_nvml_memory mem;
	struct gpu_info *g;
	unsigned int count, i;
	char name[GPU_NAME_MAX + 32], uuid[GPU_UUID_MAX + 32];
	void *dev;
	int r, rc = -1;

	if ((r = api->init()) != 0) {
		log_debug("nvmlInit_v2: %d", r);
		return 1;
	}
	l = xcalloc(1, sizeof(*l));
	if ((r = api->get_count(&count)) != 0) {
		log_warnx("nvmlDeviceGetCount_v2: %d", r);
		goto out;
	}
	if (count > GPU_MAX) {
		log_warnx("NVML reports %u GPUs, more than %d", count, GPU_MAX);
		goto out;
	}
	for (i = 0; i < count; i++) {
		g = &l->gpu[i];
		memset(name, 0, sizeof(name));
		memset(uuid, 0, sizeof(uuid));
		memset(&mem, 0, sizeof(mem));
		dev = NULL;
		if ((r = api->get_handle(i, &dev)) != 0 ||
		    (r = api->get_name(dev, name, sizeof(name) - 1)) != 0 ||
		    (r = api->get_uuid(dev, uuid, sizeof(uuid) - 1)) != 0 ||
		    (r = api->get_memory(dev, &mem)) != 0) {
			log_warnx("NVML GPU %u: error %d", i, r);
			goto out;
		}
		if (gpu_valid_name(name) == -1 || gpu_valid_uuid(uuid) == -1 ||
		    mem.total < GPU_MIB ||
		    mem.total / GPU_MIB > (unsigned long long)GPU_MEM_MAX_MIB ||
		    mem.used > mem.total) {
			log_warnx("NVML GPU %u: implausible name, UUID or memory",
			    i);
			goto out;
		}
		g->index = (int)i;
		if (str_copy(g->name, sizeof(g->name), name) == -1 ||
		    str_copy(g->uuid, sizeof(g->uuid), uuid) == -1)
			goto out;
		g->total_mib = (int64_t)(mem.total / GPU_MIB);
		g->used_mib = (int64_t)(mem.used / GPU_MIB);
		l->n++;
	}
	if (gpu_list_finish(l) == -1) {
		log_warnx("NVML repeats a GPU UUID");
		goto out;
	}
	memcpy(out, l, sizeof(*out));
	rc = 0;
out:
	(void)api->shutdown();
	free(l);
	return rc;
}

/* ------------------------------------------------------------------ */
/* nvidia-smi                                                          */

static int64_t
gpu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait for the child until the deadline, then kill its process group.
 * Returns the wait status, or -1 if waitpid failed.
 */
static int
gpu_reap(pid_t pid, int64_t deadline)
{
	struct timespec nap = { 0, 5 * 1000 * 1000 };
	pid_t w;
	int status;

	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			return status;
		if (w == -1 && errno != EINTR) {
			log_warn("waitpid %ld", (long)pid);
			return -1;
		}
		if (gpu_now_ms() >= deadline)
			break;
		nanosleep(&nap, NULL);
	}
	(void)kill(-pid, SIGKILL);
	while ((w = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (w != pid) {
		log_warn("waitpid %ld", (long)pid);
		return -1;
	}
	return status;
}

/*
 * Run prog with the query arguments, stdout into out (at most
 * GPU_SMI_OUTPUT_MAX bytes).  0 when it exited 0, 1 when prog does not
 * exist, -1 on any other failure (logged).
 */
static int
gpu_smi_run(const char *prog, int timeout_ms, struct buf *out)
{
	char a1[] = "--query-gpu=index,uuid,name,memory.total,memory.used";
	char a2[] = "--format=csv,noheader,nounits";
	char *argv[4] = { NULL, a1, a2, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	struct pollfd pfd;
	struct stat sb;
	char chunk[4096];
	int pipefd[2] = { -1, -1 }, fa_ok = 0, attr_ok = 0, rc = -1, r;
	int status, killed = 0;
	int64_t deadline, left;
	pid_t pid = -1;
	ssize_t nr;

	deadline = gpu_now_ms() + timeout_ms;
	argv[0] = xstrdup(prog);
	if (strchr(prog, '/') != NULL) {
		/* A path: tell "missing" from "broken" before spawning. */
		if (stat(prog, &sb) == -1 && errno == ENOENT) {
			log_debug("%s not found: no GPUs", prog);
			rc = 1;
			goto out;
		}
		if (access(prog, X_OK) == -1 || stat(prog, &sb) == -1 ||
		    !S_ISREG(sb.st_mode)) {
			log_warnx("%s is not an executable file", prog);
			goto out;
		}
	}
	if (pipe2(pipefd, O_CLOEXEC) == -1) {
		log_warn("pipe2");
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto out;
	fa_ok = 1;
	if (posix_spawnattr_init(&attr) != 0)
		goto out;
	attr_ok = 1;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGQUIT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGALRM);
	if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
	    O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null",
	    O_WRONLY, 0) != 0 ||
	    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0 ||
	    posix_spawnattr_setpgroup(&attr, 0) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &dfl) != 0) {
		log_warnx("posix_spawn setup failed");
		goto out;
	}
	r = posix_spawnp(&pid, prog, &fa, &attr, argv, environ);
	if (r != 0) {
		pid = -1;
		if (r == ENOENT) {
			log_debug("%s not found: no GPUs", prog);
			rc = 1;
		} else {
			errno = r;
			log_warn("posix_spawnp %s", prog);
		}
		goto out;
	}
	close(pipefd[1]);
	pipefd[1] = -1;

	for (;;) {
		if ((left = deadline - gpu_now_ms()) <= 0) {
			log_warnx("%s: no answer within %d ms", prog,
			    timeout_ms);
			killed = 1;
			goto out;
		}
		pfd.fd = pipefd[0];
		pfd.events = POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			log_warn("poll");
			killed = 1;
			goto out;
		}
		if (r == 0)
			continue;	/* the deadline check above ends it */
		nr = read(pipefd[0], chunk, sizeof(chunk));
		if (nr == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (nr == -1) {
			log_warn("read from %s", prog);
			killed = 1;
			goto out;
		}
		if (nr == 0)
			break;
		if ((size_t)nr > GPU_SMI_OUTPUT_MAX - out->len) {
			log_warnx("%s: more than %d bytes of output", prog,
			    GPU_SMI_OUTPUT_MAX);
			killed = 1;
			goto out;
		}
		buf_add(out, chunk, (size_t)nr);
	}
	status = gpu_reap(pid, deadline);
	pid = -1;
	if (status == -1)
		goto out;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 &&
	    out->len == 0) {
		/* posix_spawn's child could not exec (where the error is not
		 * returned, e.g. under valgrind): as good as not found. */
		log_debug("%s could not be run: no GPUs", prog);
		rc = 1;
	}
	else if (WIFEXITED(status))
		log_warnx("%s exited with status %d", prog,
		    WEXITSTATUS(status));
	else
		log_warnx("%s ended by signal %d", prog,
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
out:
	if (pid != -1) {
		if (killed)
			(void)kill(-pid, SIGKILL);
		(void)gpu_reap(pid, deadline);
	}
	if (pipefd[0] != -1)
		close(pipefd[0]);
	if (pipefd[1] != -1)
		close(pipefd[1]);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	free(argv[0]);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Inventory                                                           */

int
gpu_inventory(const struct gpu_source *src, struct gpu_list *out)
{
	static const struct gpu_source defaults;
	struct gpu_nvml_api loaded;
	struct buf text = BUF_INIT;
	const struct gpu_source *s = src ? src : &defaults;
	const char *prog, *env;
	void *lib = NULL;
	int skip_nvml, timeout_ms, r, rc = -1;

	if (s->fixture != NULL) {
		if (gpu_parse_csv(s->fixture, strlen(s->fixture), out) == -1) {
			log_warnx("GPU fixture rejected");
			return -1;
		}
		return 0;
	}
	prog = s->nvidia_smi;
	skip_nvml = s->no_nvml;
	if (prog == NULL && (env = getenv("SLIPWAY_NVIDIA_SMI")) != NULL &&
	    *env != '\0') {
		prog = env;
		skip_nvml = 1;
	}
	if (prog == NULL)
		prog = DEFAULT_NVIDIA_SMI;
	timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : GPU_SMI_TIMEOUT_MS;

	if (!skip_nvml) {
		if (s->nvml != NULL)
			r = gpu_nvml_enumerate(s->nvml, out);
		else if ((lib = gpu_nvml_load(&loaded)) != NULL)
			r = gpu_nvml_enumerate(&loaded, out);
		else
			r = 1;
		if (lib != NULL)
			dlclose(lib);
		if (r != 1)
			return r;
	}

	switch (gpu_smi_run(prog, timeout_ms, &text)) {
	case 1:
		out->n = 0;
		rc = 0;
		break;
	case 0:
		if (gpu_parse_csv(text.data, text.len, out) == -1)
			log_warnx("%s: output rejected", prog);
		else
			rc = 0;
		break;
	default:
		break;
	}
	buf_release(&text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Allocation                                                          */

int64_t
gpu_free_mib(int64_t total, int64_t used, int64_t reserved)
{
	int64_t taken = used > reserved ? used : reserved;

	if (taken < 0)
		taken = 0;
	return total > taken ? total - taken : 0;
}

struct gpu_search {
	const struct gpu_avail	*cand;		/* sorted: free desc, index asc */
	size_t			 m;
	size_t			 k;		/* GPUs to pick */
	int64_t			 need;
	const int64_t		*tail;		/* tail[i] = sum of cand[i..m-1] */
	size_t			 pick[GPU_MAX];
	size_t			 best[GPU_MAX];
	int64_t			 best_left;	/* -1: none yet */
	long			 budget;
};

static int
gpu_cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Is the picked set's sorted index list lexicographically below best's? */
static int
gpu_search_lower(const struct gpu_search *s)
{
	int a[GPU_MAX], b[GPU_MAX];
	size_t i;

	for (i = 0; i < s->k; i++) {
		a[i] = s->cand[s->pick[i]].index;
		b[i] = s->cand[s->best[i]].index;
	}
	qsort(a, s->k, sizeof(a[0]), gpu_cmp_int);
	qsort(b, s->k, sizeof(b[0]), gpu_cmp_int);
	for (i = 0; i < s->k; i++)
		if (a[i] != b[i])
			return a[i] < b[i];
	return 0;
}

/*
 * Pick k - picked more candidates from pos on.  Candidates are in
 * descending free order, so the next ones are the largest left (upper
 * bound) and the last ones the smallest (lower bound on the leftover).
 */
static void
gpu_search(struct gpu_search *s, size_t pos, size_t picked, int64_t sum)
{
	size_t r = s->k - picked, i;
	int64_t hi, lo_left;

	if (s->budget-- <= 0)
		return;
	if (r == 0) {
		if (sum < s->need)
			return;
		if (s->best_left < 0 || sum - s->need < s->best_left ||
		    (sum - s->need == s->best_left && gpu_search_lower(s))) {
			s->best_left = sum - s->need;
			memcpy(s->best, s->pick, s->k * sizeof(s->pick[0]));
		}
		return;
	}
	for (i = pos; i + r <= s->m; i++) {
		hi = sum + s->tail[i] - s->tail[i + r];
		if (hi < s->need)
			return;		/* later starts only get smaller */
		lo_left = sum + s->tail[s->m - r] - s->need;
		if (s->best_left >= 0 && lo_left > s->best_left)
			return;
		s->pick[picked] = i;
		gpu_search(s, i + 1, picked + 1, sum + s->cand[i].free_mib);
		if (s->budget <= 0)
			return;
	}
}

static int
gpu_cmp_avail(const void *a, const void *b)
{
	const struct gpu_avail *x = a, *y = b;

	if (x->free_mib != y->free_mib)
		return x->free_mib > y->free_mib ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

static int
gpu_cmp_share(const void *a, const void *b)
{
	const struct gpu_share *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

int
gpu_allocate(const struct gpu_avail *gpus, size_t n, int64_t need_mib,
    struct gpu_share *out, size_t *n_out)
{
	struct gpu_avail cand[GPU_MAX];
	struct gpu_share shares[GPU_MAX];
	int64_t tail[GPU_MAX + 1], top, rest, take;
	struct gpu_search *s = NULL;
	size_t m = 0, i, k;
	int rc = -1;

	if (need_mib < 0 || (n > 0 && gpus == NULL))
		return -1;
	if (need_mib == 0) {
		*n_out = 0;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (gpus[i].free_mib <= 0)
			continue;
		if (m == GPU_MAX || gpus[i].free_mib > GPU_MEM_MAX_MIB)
			return -1;
		cand[m++] = gpus[i];
	}
	qsort(cand, m, sizeof(cand[0]), gpu_cmp_avail);
	tail[m] = 0;
	for (i = m; i > 0; i--)
		tail[i - 1] = tail[i] + cand[i - 1].free_mib;
	/* Fewest GPUs: the smallest k whose k largest cover the need. */
	for (k = 1, top = 0; k <= m; k++) {
		top += cand[k - 1].free_mib;
		if (top >= need_mib)
			break;
	}
	if (k > m)
		return -1;

	s = xcalloc(1, sizeof(*s));
	s->cand = cand;
	s->m = m;
	s->k = k;
	s->need = need_mib;
	s->tail = tail;
	s->best_left = -1;
	s->budget = GPU_ALLOC_SEARCH_MAX;
	gpu_search(s, 0, 0, 0);
	if (s->best_left < 0)
		goto out;		/* cannot happen: the k largest fit */

	/* Shares: fill the largest free first (best[] ascends in position). */
	rest = need_mib;
	for (i = 0; i < k; i++) {
		take = cand[s->best[i]].free_mib < rest ?
		    cand[s->best[i]].free_mib : rest;
		shares[i].index = cand[s->best[i]].index;
		shares[i].mib = take;
		rest -= take;
	}
	if (rest != 0 || shares[k - 1].mib <= 0)
		goto out;
	qsort(shares, k, sizeof(shares[0]), gpu_cmp_share);
	memcpy(out, shares, k * sizeof(shares[0]));
	*n_out = k;
	rc = 0;
out:
	free(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reservations                                                        */

/* A message for the caller; a long one is cut (it is only text). */
static void __attribute__((format(printf, 3, 4)))
gpu_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(err, errsz, fmt, ap) < 0)
		err[0] = '\0';
	va_end(ap);
}

/* Own transaction, or a savepoint inside the caller's. */
static int
gpu_tx_begin(struct db *db, int *own)
{
	if (db->in_tx) {
		*own = 0;
		return db_exec(db, "SAVEPOINT gpu");
	}
	*own = 1;
	return db_begin(db);
}

static int
gpu_tx_end(struct db *db, int own, int success)
{
	if (success)
		return own ? db_commit(db) : db_exec(db, "RELEASE gpu");
	if (own)
		db_rollback(db);
	else {
		(void)db_exec(db, "ROLLBACK TO gpu");
		(void)db_exec(db, "RELEASE gpu");
	}
	return 0;
}

/* reserved[i] = sum of reservations on GPU index i. */
static int
gpu_reserved_sums(struct db *db, int64_t reserved[GPU_MAX])
{
	sqlite3_stmt *st;
	int64_t idx, mib;
	int r, rc = -1;

	memset(reserved, 0, GPU_MAX * sizeof(reserved[0]));
	st = db_prepare(db, "SELECT gpu_index, SUM(mib) FROM gpu_reservations "
	    "GROUP BY gpu_index");
	if (st == NULL)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		idx = sqlite3_column_int64(st, 0);
		mib = sqlite3_column_int64(st, 1);
		if (idx < 0 || idx >= GPU_MAX || mib < 0) {
			log_warnx("ignoring reservation row for GPU %lld",
			    (long long)idx);
			continue;
		}
		reserved[idx] = mib;
	}
	if (r != SQLITE_DONE)
		log_warnx("%s", sqlite3_errmsg(sqlite3_db_handle(st)));
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

/*
 * The app's reservation rows, ascending by index.  *valid is 0 when a row
 * is out of range (or there are too many).
 */
static int
gpu_app_rows(struct db *db, int64_t app, struct gpu_share *rows, size_t *n,
    int *valid)
{
	sqlite3_stmt *st;
	int64_t idx, mib;
	int r, rc = -1;

	*n = 0;
	*valid = 1;
	st = db_prepare(db, "SELECT gpu_index, mib FROM gpu_reservations "
	    "WHERE app_id = ? ORDER BY gpu_index");
	if (st == NULL || db_bind_int(st, 1, app) == -1)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		idx = sqlite3_column_int64(st, 0);
		mib = sqlite3_column_int64(st, 1);
		if (idx < 0 || idx >= GPU_MAX || mib <= 0 || *n == GPU_MAX) {
			*valid = 0;
			continue;
		}
		rows[*n].index = (int)idx;
		rows[*n].mib = mib;
		(*n)++;
	}
	if (r != SQLITE_DONE)
		log_warnx("%s", sqlite3_errmsg(db->conn));
	else
		rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

/* 1 if the app row exists, 0 if not, -1 on error. */
static int
gpu_app_exists(struct db *db, int64_t app)
{
	sqlite3_stmt *st;
	int r, rc = -1;

	if ((st = db_prepare(db, "SELECT 1 FROM apps WHERE id = ?")) == NULL)
		return -1;
	if (db_bind_int(st, 1, app) == 0) {
		r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			rc = 1;
		else if (r == SQLITE_DONE)
			rc = 0;
		else
			log_warnx("%s", sqlite3_errmsg(db->conn));
	}
	sqlite3_finalize(st);
	return rc;
}

static int
gpu_set_app_gpus(struct db *db, int64_t app, const char *csv)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "UPDATE apps SET gpus = ? WHERE id = ?");
	if (st == NULL || db_bind_text(st, 1, csv) == -1 ||
	    db_bind_int(st, 2, app) == -1) {
		sqlite3_finalize(st);
		return -1;
	}
	return db_exec_stmt(db, st);
}

static int
gpu_delete_app_rows(struct db *db, int64_t app)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "DELETE FROM gpu_reservations WHERE app_id = ?");
	if (st == NULL || db_bind_int(st, 1, app) == -1) {
		sqlite3_finalize(st);
		return -1;
	}
	return db_exec_stmt(db, st);
}

static int
gpu_insert_row(struct db *db, int64_t app, const struct gpu_share *sh)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "INSERT INTO gpu_reservations(gpu_index, app_id, "
	    "mib) VALUES (?, ?, ?)");
	if (st == NULL || db_bind_int(st, 1, sh->index) == -1 ||
	    db_bind_int(st, 2, app) == -1 || db_bind_int(st, 3, sh->mib) == -1) {
		sqlite3_finalize(st);
		return -1;
	}
	return db_exec_stmt(db, st);
}

/* "0,2" from shares in ascending order. */
static void
gpu_shares_csv(const struct gpu_share *sh, size_t n, struct buf *out)
{
	size_t i;

	buf_reset(out);
	for (i = 0; i < n; i++)
		buf_printf(out, "%s%d", i ? "," : "", sh[i].index);
}

static const struct gpu_info *
gpu_find(const struct gpu_list *inv, int index)
{
	size_t i;

	for (i = 0; i < inv->n; i++)
		if (inv->gpu[i].index == index)
			return &inv->gpu[i];
	return NULL;
}

/* Does the app's current reservation already answer need_mib? */
static int
gpu_rows_satisfy(const struct gpu_list *inv, const struct gpu_share *rows,
    size_t n, int valid, int64_t need_mib)
{
	int64_t sum = 0;
	size_t i;

	if (!valid || n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (gpu_find(inv, rows[i].index) == NULL)
			return 0;
		sum += rows[i].mib;
	}
	return sum == need_mib;
}

/* A caller-built list must hold what the parsers guarantee. */
static int
gpu_list_sane(const struct gpu_list *inv)
{
	size_t i;

	if (inv->n > GPU_MAX)
		return -1;
	for (i = 0; i < inv->n; i++)
		if (inv->gpu[i].index < 0 || inv->gpu[i].index >= GPU_MAX ||
		    inv->gpu[i].total_mib <= 0 ||
		    inv->gpu[i].total_mib > GPU_MEM_MAX_MIB ||
		    inv->gpu[i].used_mib < 0 ||
		    gpu_find(inv, inv->gpu[i].index) != &inv->gpu[i])
			return -1;
	return 0;
}

int
gpu_reserve(struct db *db, const struct gpu_list *inv, int64_t app_rowid,
    int64_t need_mib, char *gpus_out, size_t gpus_outsz, char *err,
    size_t errsz)
{
	struct gpu_share rows[GPU_MAX], shares[GPU_MAX];
	struct gpu_avail avail[GPU_MAX];
	int64_t reserved[GPU_MAX];
	struct buf csv = BUF_INIT;
	size_t nrows, nshares = 0, i;
	int valid, own = 0, in_tx = 0, rc = GPU_RESERVE_ERROR, r;

	if (db == NULL || inv == NULL || gpu_list_sane(inv) == -1 ||
	    app_rowid <= 0 || need_mib < 0 || need_mib > LIMIT_VRAM_MIB ||
	    gpus_out == NULL || gpus_outsz == 0) {
		gpu_err(err, errsz, "invalid GPU request");
		return GPU_RESERVE_ERROR;
	}
	if (gpu_tx_begin(db, &own) == -1) {
		gpu_err(err, errsz, "database error");
		goto out;
	}
	in_tx = 1;
	if ((r = gpu_app_exists(db, app_rowid)) != 1) {
		gpu_err(err, errsz, r == 0 ? "no such app" : "database error");
		goto out;
	}
	if (gpu_app_rows(db, app_rowid, rows, &nrows, &valid) == -1)
		goto dberr;

	if (gpu_rows_satisfy(inv, rows, nrows, valid, need_mib)) {
		memcpy(shares, rows, nrows * sizeof(rows[0]));
		nshares = nrows;
	} else {
		if ((nrows > 0 || !valid) &&
		    gpu_delete_app_rows(db, app_rowid) == -1)
			goto dberr;
		if (need_mib > 0) {
			if (gpu_reserved_sums(db, reserved) == -1)
				goto dberr;
			for (i = 0; i < inv->n; i++) {
				avail[i].index = inv->gpu[i].index;
				avail[i].free_mib = gpu_free_mib(
				    inv->gpu[i].total_mib, inv->gpu[i].used_mib,
				    reserved[inv->gpu[i].index]);
			}
			if (gpu_allocate(avail, inv->n, need_mib, shares,
			    &nshares) == -1) {
				/* Would it fit on idle GPUs?  Then wait. */
				for (i = 0; i < inv->n; i++)
					avail[i].free_mib = inv->gpu[i].total_mib;
				r = gpu_allocate(avail, inv->n, need_mib,
				    shares, &nshares);
				rc = r == 0 ? GPU_RESERVE_NOROOM :
				    GPU_RESERVE_NEVER;
				gpu_err(err, errsz, "no GPU with %lld MiB free",
				    (long long)need_mib);
				goto out;
			}
			for (i = 0; i < nshares; i++)
				if (gpu_insert_row(db, app_rowid,
				    &shares[i]) == -1)
					goto dberr;
		}
	}
	gpu_shares_csv(shares, nshares, &csv);
	if (csv.len >= gpus_outsz) {
		gpu_err(err, errsz, "GPU list does not fit");
		goto out;
	}
	if (gpu_set_app_gpus(db, app_rowid, csv.data) == -1)
		goto dberr;
	in_tx = 0;
	if (gpu_tx_end(db, own, 1) == -1) {
		gpu_err(err, errsz, "database error");
		goto out;
	}
	memcpy(gpus_out, csv.data, csv.len + 1);
	rc = GPU_RESERVE_OK;
	goto out;
dberr:
	gpu_err(err, errsz, "database error");
out:
	if (in_tx)
		gpu_tx_end(db, own, 0);
	buf_release(&csv);
	return rc;
}

int
gpu_release(struct db *db, int64_t app_rowid)
{
	int own, rc = -1;

	if (gpu_tx_begin(db, &own) == -1)
		return -1;
	if (gpu_delete_app_rows(db, app_rowid) == 0 &&
	    gpu_set_app_gpus(db, app_rowid, "") == 0)
		rc = 0;
	if (rc == 0)
		return gpu_tx_end(db, own, 1);
	gpu_tx_end(db, own, 0);
	return -1;
}

int
gpu_rederive(struct db *db)
{
	struct gpu_share rows[GPU_MAX];
	struct buf csv = BUF_INIT;
	sqlite3_stmt *st = NULL;
	int64_t *ids = NULL;
	size_t nids = 0, cap = 0, nrows, i;
	const unsigned char *cur;
	char **curs = NULL;
	int own, valid, r, ok = 0;

	if (gpu_tx_begin(db, &own) == -1)
		return -1;
	if (db_exec(db, "DELETE FROM gpu_reservations WHERE app_id NOT IN "
	    "(SELECT id FROM apps WHERE status IN "
	    "('queued', 'building', 'starting', 'running'))") == -1)
		goto out;
	/* Every app whose gpus column or rows may need agreeing. */
	st = db_prepare(db, "SELECT id, gpus FROM apps WHERE gpus <> '' OR "
	    "id IN (SELECT app_id FROM gpu_reservations) ORDER BY id");
	if (st == NULL)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (nids == cap) {
			cap = cap ? st_mult(cap, 2) : 16;
			ids = xrealloc(ids, st_mult(cap, sizeof(*ids)));
			curs = xrealloc(curs, st_mult(cap, sizeof(*curs)));
		}
		ids[nids] = sqlite3_column_int64(st, 0);
		cur = sqlite3_column_text(st, 1);
		curs[nids] = xstrdup(cur ? (const char *)cur : "");
		nids++;
	}
	if (r != SQLITE_DONE) {
		log_warnx("%s", sqlite3_errmsg(db->conn));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	for (i = 0; i < nids; i++) {
		if (gpu_app_rows(db, ids[i], rows, &nrows, &valid) == -1)
			goto out;
		if (!valid && gpu_delete_app_rows(db, ids[i]) == -1)
			goto out;
		if (!valid)
			nrows = 0;
		gpu_shares_csv(rows, nrows, &csv);
		if (strcmp(csv.data, curs[i]) != 0) {
			log_info("app %lld: gpus '%s' -> '%s'",
			    (long long)ids[i], curs[i], csv.data);
			if (gpu_set_app_gpus(db, ids[i], csv.data) == -1)
				goto out;
		}
	}
	ok = 1;
out:
	sqlite3_finalize(st);
	for (i = 0; i < nids; i++)
		free(curs[i]);
	free(curs);
	free(ids);
	buf_release(&csv);
	if (ok)
		return gpu_tx_end(db, own, 1);
	gpu_tx_end(db, own, 0);
	return -1;
}

/* ------------------------------------------------------------------ */
/* GET /gpus                                                           */

struct json_object *
gpu_list_json(struct db *db, const struct gpu_list *inv)
{
	struct json_object *arr = NULL, *apps[GPU_MAX], *o;
	int64_t reserved[GPU_MAX];
	const struct gpu_info *g;
	sqlite3_stmt *st = NULL;
	const unsigned char *app_id;
	int64_t idx;
	size_t i, slot;
	int r, ok = 0;

	if (inv == NULL || inv->n > GPU_MAX)
		return NULL;
	for (i = 0; i < inv->n; i++) {
		apps[i] = json_object_new_array();
		reserved[i] = 0;
	}
	st = db_prepare(db, "SELECT r.gpu_index, r.mib, a.app_id "
	    "FROM gpu_reservations r JOIN apps a ON a.id = r.app_id "
	    "ORDER BY r.gpu_index, a.app_id");
	if (st == NULL)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		idx = sqlite3_column_int64(st, 0);
		for (slot = 0; slot < inv->n; slot++)
			if (inv->gpu[slot].index == idx)
				break;
		if (slot == inv->n)
			continue;	/* a GPU that is gone */
		reserved[slot] += sqlite3_column_int64(st, 1);
		app_id = sqlite3_column_text(st, 2);
		json_object_array_add(apps[slot], json_object_new_string(
		    app_id ? (const char *)app_id : ""));
	}
	if (r != SQLITE_DONE) {
		log_warnx("%s", sqlite3_errmsg(db->conn));
		goto out;
	}
	arr = json_object_new_array();
	for (i = 0; i < inv->n; i++) {
		g = &inv->gpu[i];
		o = json_object_new_object();
		json_object_object_add(o, "index", json_object_new_int(g->index));
		json_object_object_add(o, "name", json_object_new_string(g->name));
		json_object_object_add(o, "uuid", json_object_new_string(g->uuid));
		json_object_object_add(o, "memory_total",
		    json_object_new_int64(g->total_mib));
		json_object_object_add(o, "memory_free", json_object_new_int64(
		    gpu_free_mib(g->total_mib, g->used_mib, reserved[i])));
		json_object_object_add(o, "reserved",
		    json_object_new_int64(reserved[i]));
		json_object_object_add(o, "apps", apps[i]);
		apps[i] = NULL;
		json_object_array_add(arr, o);
	}
	ok = 1;
out:
	sqlite3_finalize(st);
	for (i = 0; i < inv->n; i++)
		json_object_put(apps[i]);	/* NULL-safe */
	if (!ok) {
		json_object_put(arr);
		return NULL;
	}
	return arr;
}

/* ------------------------------------------------------------------ */
/* Device assignment                                                   */

int
gpu_device_ids(const char *csv, int *ids, size_t max, size_t *n)
{
	const char *p = csv;
	int tmp[GPU_MAX], v, prev = -1;
	size_t count = 0;

	if (csv == NULL)
		return -1;
	while (*p != '\0') {
		if (*p < '0' || *p > '9')
			return -1;
		if (*p == '0' && p[1] >= '0' && p[1] <= '9')
			return -1;	/* leading zero */
		for (v = 0; *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (*p - '0');
			if (v >= GPU_MAX)
				return -1;
		}
		if (v <= prev)		/* ascending and distinct: count <= GPU_MAX */
			return -1;
		if (*p == ',' && p[1] == '\0')
			return -1;	/* trailing comma */
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return -1;
		prev = v;
		tmp[count++] = v;
	}
	if (count > max || (count > 0 && ids == NULL))
		return -1;
	if (count > 0)
		memcpy(ids, tmp, count * sizeof(tmp[0]));
	*n = count;
	return 0;
}

int
gpu_cuda_visible_devices(const char *csv, char *out, size_t outsz)
{
	int ids[GPU_MAX];
	size_t n, i;
	struct buf b = BUF_INIT;
	int rc = -1;

	if (gpu_device_ids(csv, ids, GPU_MAX, &n) == -1)
		return -1;
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s%d", i ? "," : "", ids[i]);
	if (out != NULL && b.len < outsz) {
		memcpy(out, b.data, b.len + 1);
		rc = 0;
	}
	buf_release(&b);
	return rc;
}
