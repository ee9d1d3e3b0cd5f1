/*
 * t_gpu: inventory parsing (fixtures, fake nvidia-smi scripts, a stand-in
 * NVML), allocation tables and a brute-force cross-check, device ids, the
 * reservation bookkeeping on a temporary database, and a property test:
 * four processes reserving and releasing at random never over-commit.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
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
#include "tap.h"

#define SMI(name)	SLIPWAY_SRCDIR "/tests/data/gpu/" name

static const char *const csv4 =
    "0, GPU-0a0a0a0a-1111-2222-3333-444444444444, NVIDIA A100-SXM4-40GB, 40960, 960\n"
    "1, GPU-1b1b1b1b-1111-2222-3333-444444444444, NVIDIA A10G, 23028, 7028\n"
    "2, GPU-2c2c2c2c-1111-2222-3333-444444444444, Tesla T4, 15360, 7360\n"
    "3, GPU-3d3d3d3d-1111-2222-3333-444444444444, NVIDIA H100 80GB HBM3, 81559, 1559\n";

/* The same GPUs idle (used 0), so reservations alone decide. */
static const char *const csv4_idle =
    "0, GPU-0a0a0a0a-1111-2222-3333-444444444444, NVIDIA A100-SXM4-40GB, 40000, 0\n"
    "1, GPU-1b1b1b1b-1111-2222-3333-444444444444, NVIDIA A10G, 16000, 0\n"
    "2, GPU-2c2c2c2c-1111-2222-3333-444444444444, Tesla T4, 8000, 0\n"
    "3, GPU-3d3d3d3d-1111-2222-3333-444444444444, NVIDIA H100 80GB HBM3, 80000, 0\n";

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* CSV parsing                                                         */

static void
test_csv_good(void)
{
	struct gpu_list l;

	ok(gpu_parse_csv("", 0, &l) == 0 && l.n == 0, "csv: empty is 0 GPUs");
	ok(gpu_parse_csv(csv4, strlen(csv4), &l) == 0 && l.n == 4,
	    "csv: four GPUs");
	is(l.gpu[0].index, 0, "csv: index 0");
	is_str(l.gpu[0].uuid, "GPU-0a0a0a0a-1111-2222-3333-444444444444",
	    "csv: uuid");
	is_str(l.gpu[0].name, "NVIDIA A100-SXM4-40GB", "csv: name trimmed");
	is(l.gpu[0].total_mib, 40960, "csv: total");
	is(l.gpu[0].used_mib, 960, "csv: used");
	is_str(l.gpu[3].name, "NVIDIA H100 80GB HBM3", "csv: inner spaces kept");

	{
		const char *s = "3, GPU-ab, B, 100, 0\n1, GPU-cd, A, 50, 50";
		ok(gpu_parse_csv(s, strlen(s), &l) == 0 && l.n == 2 &&
		    l.gpu[0].index == 1 && l.gpu[1].index == 3 &&
		    l.gpu[0].used_mib == 50,
		    "csv: sorted by index, no final newline, used == total");
	}
	{
		const char *s = "0,GPU-ABCDEF-01,Quadro RTX 8000 (x),48601,0\n";
		ok(gpu_parse_csv(s, strlen(s), &l) == 0 && l.n == 1 &&
		    strcmp(l.gpu[0].name, "Quadro RTX 8000 (x)") == 0,
		    "csv: no spaces, upper-case hex, punctuation in name");
	}
	{
		struct buf b = BUF_INIT;
		int i;

		for (i = 0; i < GPU_MAX; i++)
			buf_printf(&b, "%d, GPU-%04x, G, 1024, 0\n", i, i);
		ok(gpu_parse_csv(b.data, b.len, &l) == 0 && l.n == GPU_MAX &&
		    l.gpu[GPU_MAX - 1].index == GPU_MAX - 1,
		    "csv: %d GPUs accepted", GPU_MAX);
		buf_printf(&b, "%d, GPU-ffff, G, 1024, 0\n", GPU_MAX);
		ok(gpu_parse_csv(b.data, b.len, &l) == -1,
		    "csv: %d GPUs rejected", GPU_MAX + 1);
		buf_release(&b);
	}
}

static void
test_csv_bad(void)
{
	static const struct {
		const char *why;
		const char *csv;
	} bad[] = {
		{ "garbage line", "Unable to determine the device handle\n" },
		{ "good line then garbage",
		  "0, GPU-ab, A, 100, 0\nNo devices were found\n" },
		{ "missing column", "0, GPU-ab, A, 100\n" },
		{ "extra column", "0, GPU-ab, A, 100, 0, 7\n" },
		{ "empty field", "0, GPU-ab, , 100, 0\n" },
		{ "negative used", "0, GPU-ab, A, 100, -5\n" },
		{ "negative total", "0, GPU-ab, A, -100, 0\n" },
		{ "zero total", "0, GPU-ab, A, 0, 0\n" },
		{ "used above total", "0, GPU-ab, A, 100, 101\n" },
		{ "huge total", "0, GPU-ab, A, 4194305, 0\n" },
		{ "total beyond int64", "0, GPU-ab, A, 99999999999999999999999, 0\n" },
		{ "N/A memory", "0, GPU-ab, A, [N/A], [N/A]\n" },
		{ "float memory", "0, GPU-ab, A, 100.5, 0\n" },
		{ "hex memory", "0, GPU-ab, A, 0x100, 0\n" },
		{ "plus sign", "+0, GPU-ab, A, 100, 0\n" },
		{ "leading zero index", "01, GPU-ab, A, 100, 0\n" },
		{ "index out of range", "64, GPU-ab, A, 100, 0\n" },
		{ "negative index", "-1, GPU-ab, A, 100, 0\n" },
		{ "duplicate index", "0, GPU-ab, A, 100, 0\n0, GPU-cd, A, 100, 0\n" },
		{ "duplicate uuid", "0, GPU-ab, A, 100, 0\n1, GPU-ab, A, 100, 0\n" },
		{ "uuid without prefix", "0, 5f1c3a52-9d2e, A, 100, 0\n" },
		{ "uuid prefix only", "0, GPU-, A, 100, 0\n" },
		{ "uuid dashes only", "0, GPU----, A, 100, 0\n" },
		{ "uuid non-hex", "0, GPU-xyz, A, 100, 0\n" },
		{ "uuid lower prefix", "0, gpu-ab, A, 100, 0\n" },
		{ "MIG uuid", "0, MIG-ab, A, 100, 0\n" },
		{ "name with tab", "0, GPU-ab, A\tB, 100, 0\n" },
		{ "name with escape", "0, GPU-ab, A\x1b[2JB, 100, 0\n" },
		{ "name with DEL", "0, GPU-ab, A\x7f, 100, 0\n" },
		{ "name non-ASCII", "0, GPU-ab, \xc3\xa9t\xc3\xa9, 100, 0\n" },
		{ "blank line inside", "0, GPU-ab, A, 100, 0\n\n1, GPU-cd, A, 100, 0\n" },
		{ "two final newlines", "0, GPU-ab, A, 100, 0\n\n" },
		{ "only a newline", "\n" },
		{ "CRLF", "0, GPU-ab, A, 100, 0\r\n" },
		{ "header line", "index, uuid, name, memory.total [MiB], memory.used [MiB]\n" },
		{ "units left in", "0, GPU-ab, A, 100 MiB, 0 MiB\n" },
	};
	struct gpu_list l;
	size_t i;
	char longname[GPU_NAME_MAX + 64], line[512];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l.n = 99;
		ok(gpu_parse_csv(bad[i].csv, strlen(bad[i].csv), &l) == -1 &&
		    l.n == 99, "csv rejects %s, output untouched", bad[i].why);
	}
	{
		const char s[] = "0, GPU-ab, A\0B, 100, 0\n";
		ok(gpu_parse_csv(s, sizeof(s) - 1, &l) == -1, "csv rejects NUL");
	}
	memset(longname, 'N', GPU_NAME_MAX);
	longname[GPU_NAME_MAX] = '\0';
	str_fmt(line, sizeof(line), "0, GPU-ab, %s, 100, 0\n", longname);
	ok(gpu_parse_csv(line, strlen(line), &l) == 0 &&
	    strlen(l.gpu[0].name) == GPU_NAME_MAX, "csv: %d-byte name ok",
	    GPU_NAME_MAX);
	longname[GPU_NAME_MAX] = 'N';
	longname[GPU_NAME_MAX + 1] = '\0';
	str_fmt(line, sizeof(line), "0, GPU-ab, %s, 100, 0\n", longname);
	ok(gpu_parse_csv(line, strlen(line), &l) == -1, "csv: %d-byte name "
	    "rejected", GPU_NAME_MAX + 1);
	memset(longname, 'a', GPU_UUID_MAX);
	memcpy(longname, "GPU-", 4);
	longname[GPU_UUID_MAX + 1] = '\0';
	str_fmt(line, sizeof(line), "0, %s, A, 100, 0\n", longname);
	ok(gpu_parse_csv(line, strlen(line), &l) == -1, "csv: long uuid "
	    "rejected");
	longname[GPU_UUID_MAX] = '\0';
	str_fmt(line, sizeof(line), "0, %s, A, 100, 0\n", longname);
	ok(gpu_parse_csv(line, strlen(line), &l) == 0, "csv: %d-byte uuid ok",
	    GPU_UUID_MAX);
}

/* ------------------------------------------------------------------ */
/* Inventory through fake nvidia-smi scripts                           */

static void
test_inventory_smi(void)
{
	struct gpu_source src;
	struct gpu_list l;
	int64_t t0;
	char emptydir[] = "/tmp/t_gpu_path.XXXXXX";
	char *oldpath;

	unsetenv("SLIPWAY_NVIDIA_SMI");
	memset(&src, 0, sizeof(src));
	src.no_nvml = 1;

	src.nvidia_smi = SMI("nvidia-smi-0");
	l.n = 99;
	ok(gpu_inventory(&src, &l) == 0 && l.n == 0, "smi: 0 GPUs");
	src.nvidia_smi = SMI("nvidia-smi-1");
	ok(gpu_inventory(&src, &l) == 0 && l.n == 1 &&
	    strcmp(l.gpu[0].name, "NVIDIA GeForce RTX 4090") == 0 &&
	    l.gpu[0].total_mib == 24564 && l.gpu[0].used_mib == 2048,
	    "smi: 1 GPU (and the arguments were right)");
	src.nvidia_smi = SMI("nvidia-smi-4");
	ok(gpu_inventory(&src, &l) == 0 && l.n == 4 && l.gpu[3].index == 3 &&
	    l.gpu[3].total_mib - l.gpu[3].used_mib == 80000,
	    "smi: 4 GPUs");

	l.n = 99;
	src.nvidia_smi = SMI("nvidia-smi-garbage");
	ok(gpu_inventory(&src, &l) == -1 && l.n == 99, "smi: garbage rejected");
	src.nvidia_smi = SMI("nvidia-smi-negative");
	ok(gpu_inventory(&src, &l) == -1 && l.n == 99,
	    "smi: negative memory rejected");
	src.nvidia_smi = SMI("nvidia-smi-fail");
	ok(gpu_inventory(&src, &l) == -1 && l.n == 99,
	    "smi: non-zero exit is an error");
	t0 = now_ms();
	src.nvidia_smi = SMI("nvidia-smi-huge");
	ok(gpu_inventory(&src, &l) == -1 && l.n == 99,
	    "smi: 10 MB of output rejected");
	ok(now_ms() - t0 < 5000, "smi: ... promptly (%lld ms)",
	    (long long)(now_ms() - t0));
	t0 = now_ms();
	src.nvidia_smi = SMI("nvidia-smi-hang");
	src.timeout_ms = 300;
	ok(gpu_inventory(&src, &l) == -1 && l.n == 99,
	    "smi: a hanging nvidia-smi is an error");
	ok(now_ms() - t0 < 3000, "smi: ... killed at the timeout (%lld ms)",
	    (long long)(now_ms() - t0));
	src.timeout_ms = 0;
	src.nvidia_smi = SLIPWAY_SRCDIR "/tests/data/gpu";
	ok(gpu_inventory(&src, &l) == -1, "smi: a directory is an error");
	src.nvidia_smi = SLIPWAY_SRCDIR "/tests/unit/t_gpu.c";
	ok(gpu_inventory(&src, &l) == -1, "smi: a non-executable file is an "
	    "error");
	src.nvidia_smi = "no-such-nvidia-smi-on-path";
	ok(gpu_inventory(&src, &l) == 0 && l.n == 0,
	    "smi: program not on PATH is 0 GPUs, no error");
	{
		char fake[] = "/tmp/t_gpu_fake.XXXXXX";
		int fd = mkstemp(fake);
		const char *s = "0, GPU-ab, Fake, 2048, 48\n";

		if (fd == -1 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
			fatal("fake inventory file");
		close(fd);
		setenv("SLIPWAY_FAKE_GPUS", fake, 1);
		src.nvidia_smi = SMI("nvidia-smi-file");
		ok(gpu_inventory(&src, &l) == 0 && l.n == 1 &&
		    l.gpu[0].total_mib == 2048 && l.gpu[0].used_mib == 48,
		    "smi: nvidia-smi-file serves SLIPWAY_FAKE_GPUS");
		unsetenv("SLIPWAY_FAKE_GPUS");
		unlink(fake);
	}
	src.nvidia_smi = SLIPWAY_SRCDIR "/tests/data/gpu/no-such-nvidia-smi";
	ok(gpu_inventory(&src, &l) == 0 && l.n == 0,
	    "smi: missing program is 0 GPUs, no error");

	memset(&src, 0, sizeof(src));
	src.fixture = csv4;
	ok(gpu_inventory(&src, &l) == 0 && l.n == 4, "fixture: 4 GPUs");
	src.fixture = "0, GPU-ab, A, 100, 101\n";
	l.n = 99;
	ok(gpu_inventory(&src, &l) == -1 && l.n == 99, "fixture: bad rejected");

	/* Defaults: SLIPWAY_NVIDIA_SMI names the program and skips NVML. */
	setenv("SLIPWAY_NVIDIA_SMI", SMI("nvidia-smi-4"), 1);
	ok(gpu_inventory(NULL, &l) == 0 && l.n == 4,
	    "default source: SLIPWAY_NVIDIA_SMI used");
	unsetenv("SLIPWAY_NVIDIA_SMI");
	/* A host with no NVML and no nvidia-smi on PATH: no GPUs, no error. */
	oldpath = getenv("PATH") ? xstrdup(getenv("PATH")) : NULL;
	if (mkdtemp(emptydir) == NULL)
		fatal("mkdtemp");
	setenv("PATH", emptydir, 1);
	l.n = 99;
	ok(gpu_inventory(NULL, &l) == 0 && l.n == 0,
	    "default source on a host without GPU tooling: 0 GPUs");
	if (oldpath)
		setenv("PATH", oldpath, 1);
	free(oldpath);
	rmdir(emptydir);
}

/* ------------------------------------------------------------------ */
/* Inventory through a stand-in NVML                                   */

static struct {
	int		 init_rc;
	unsigned int	 count;
	int		 memory_rc;
	const char	*name1;
	unsigned long long total1;
	int		 inits, shutdowns;
} fake;

static int
fake_init(void)
{
	if (fake.init_rc == 0)
		fake.inits++;
	return fake.init_rc;
}

static int
fake_shutdown(void)
{
	fake.shutdowns++;
	return 0;
}

static int
fake_count(unsigned int *n)
{
	*n = fake.count;
	return 0;
}

static int
fake_handle(unsigned int i, void **dev)
{
	*dev = (void *)(uintptr_t)(i + 1);
	return 0;
}

static int
fake_name(void *dev, char *buf, unsigned int len)
{
	const char *s = (uintptr_t)dev == 2 && fake.name1 ? fake.name1 :
	    "NVIDIA L4";

	if (strlen(s) >= len)
		return 7;	/* NVML_ERROR_INSUFFICIENT_SIZE */
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

static int
fake_uuid(void *dev, char *buf, unsigned int len)
{
	return snprintf(buf, len, "GPU-%08x-aaaa", (unsigned)(uintptr_t)dev)
	    < (int)len ? 0 : 7;
}

static int
fake_memory(void *dev, struct gpu_nvml_memory *m)
{
	if (fake.memory_rc)
		return fake.memory_rc;
	m->total = (uintptr_t)dev == 2 ? fake.total1 : 23034ULL << 20;
	m->used = ((uintptr_t)dev * 1000ULL) << 20;
	m->free = m->total - m->used;
	return 0;
}

static const struct gpu_nvml_api fake_api = {
	fake_init, fake_shutdown, fake_count, fake_handle, fake_name,
	fake_uuid, fake_memory
};

static void
fake_reset(void)
{
	memset(&fake, 0, sizeof(fake));
	fake.count = 2;
	fake.total1 = (81559ULL << 20) + 12345;	/* not a whole MiB */
}

static void
test_inventory_nvml(void)
{
	struct gpu_source src;
	struct gpu_list l;

	memset(&src, 0, sizeof(src));
	src.nvml = &fake_api;
	src.nvidia_smi = SMI("nvidia-smi-1");

	fake_reset();
	ok(gpu_inventory(&src, &l) == 0 && l.n == 2, "nvml: 2 GPUs");
	ok(l.gpu[0].index == 0 && l.gpu[1].index == 1 &&
	    strcmp(l.gpu[0].name, "NVIDIA L4") == 0 &&
	    strcmp(l.gpu[1].uuid, "GPU-00000002-aaaa") == 0,
	    "nvml: indices, names, UUIDs");
	is(l.gpu[1].total_mib, 81559, "nvml: bytes to MiB, rounded down");
	is(l.gpu[1].used_mib, 2000, "nvml: used");
	ok(fake.inits == 1 && fake.shutdowns == 1, "nvml: shut down after use");

	fake_reset();
	fake.init_rc = 9;	/* NVML_ERROR_DRIVER_NOT_LOADED */
	ok(gpu_inventory(&src, &l) == 0 && l.n == 1 &&
	    l.gpu[0].total_mib == 24564, "nvml: no driver falls back to "
	    "nvidia-smi");
	ok(fake.shutdowns == 0, "nvml: no shutdown without init");

	fake_reset();
	fake.memory_rc = 15;	/* NVML_ERROR_GPU_IS_LOST */
	l.n = 99;
	ok(gpu_inventory(&src, &l) == -1 && l.n == 99 && fake.shutdowns == 1,
	    "nvml: a failing GPU is an error (and NVML shut down)");

	fake_reset();
	fake.name1 = "bad\x1bname";
	ok(gpu_inventory(&src, &l) == -1, "nvml: control bytes in name");

	fake_reset();
	fake.count = GPU_MAX + 1;
	ok(gpu_inventory(&src, &l) == -1, "nvml: too many GPUs");

	fake_reset();
	fake.total1 = 0;
	ok(gpu_inventory(&src, &l) == -1, "nvml: zero total");

	fake_reset();
	fake.total1 = 1000ULL << 20;	/* used (2000 MiB) above total */
	ok(gpu_inventory(&src, &l) == -1, "nvml: used above total");

	fake_reset();
	fake.count = 0;
	ok(gpu_inventory(&src, &l) == 0 && l.n == 0, "nvml: zero GPUs");

	fake_reset();
	src.no_nvml = 1;
	ok(gpu_inventory(&src, &l) == 0 && l.n == 1 && fake.inits == 0,
	    "nvml: no_nvml skips it");
}

/* ------------------------------------------------------------------ */
/* Allocation                                                          */

static void
test_free_mib(void)
{
	static const struct { int64_t total, used, reserved, want; } t[] = {
		{ 16000, 0, 0, 16000 },
		{ 16000, 6000, 0, 10000 },	/* foreign use only */
		{ 16000, 0, 4000, 12000 },	/* reserved, not started */
		{ 16000, 8000, 8000, 8000 },	/* app uses what it reserved */
		{ 16000, 3000, 8000, 8000 },	/* app uses less */
		{ 16000, 11000, 8000, 5000 },	/* app + 3000 foreign */
		{ 16000, 17000, 0, 0 },
		{ 16000, 0, 20000, 0 },
		{ 16000, -5, -5, 16000 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is(gpu_free_mib(t[i].total, t[i].used, t[i].reserved), t[i].want,
		    "free(total %lld, used %lld, reserved %lld)",
		    (long long)t[i].total, (long long)t[i].used,
		    (long long)t[i].reserved);
}

/* "1:8000,3:3000" from shares, for compact expectations. */
static void
shares_str(const struct gpu_share *s, size_t n, char *out, size_t outsz)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		buf_printf(&b, "%s%d:%lld", i ? "," : "", s[i].index,
		    (long long)s[i].mib);
	if (str_copy(out, outsz, b.data) == -1)
		out[0] = '\0';
	buf_release(&b);
}

static void
test_allocate_table(void)
{
	static const struct {
		const char	*why;
		size_t		 n;
		int64_t		 free[8];
		int64_t		 need;
		const char	*want;	/* NULL: must fail */
	} t[] = {
		{ "need 0 takes no GPU", 2, { 100, 200 }, 0, "" },
		{ "need 0 on a host without GPUs", 0, { 0 }, 0, "" },
		{ "best fit", 3, { 24000, 10000, 16000 }, 12000, "2:12000" },
		{ "best fit, smallest that fits", 4, { 8000, 40000, 9000, 8500 },
		  8200, "3:8200" },
		{ "exact fit", 2, { 8192, 16384 }, 8192, "0:8192" },
		{ "exact fit whole GPU", 1, { 8192 }, 8192, "0:8192" },
		{ "tie goes to the lowest index", 3, { 16000, 8000, 8000 },
		  8000, "1:8000" },
		{ "one GPU preferred over a tighter pair", 3,
		  { 30000, 6000, 4000 }, 10000, "0:10000" },
		{ "multi-GPU split, least leftover", 3, { 10000, 6000, 4000 },
		  14000, "0:10000,2:4000" },
		{ "pair with zero leftover", 4, { 9000, 8000, 5000, 3000 },
		  11000, "1:8000,3:3000" },
		{ "split fills the largest first", 2, { 5000, 7000 }, 10000,
		  "0:3000,1:7000" },
		{ "fragmentation: 4 x 3 GiB, need 8 GiB", 4,
		  { 3072, 3072, 3072, 3072 }, 8192,
		  "0:3072,1:3072,2:2048" },
		{ "all GPUs exactly", 4, { 1000, 2000, 3000, 4000 }, 10000,
		  "0:1000,1:2000,2:3000,3:4000" },
		{ "no room", 2, { 4000, 4000 }, 9000, NULL },
		{ "no GPUs", 0, { 0 }, 1, NULL },
		{ "full GPUs are never chosen", 3, { 0, -10, 5000 }, 5000,
		  "2:5000" },
		{ "full GPUs cannot help", 3, { 0, 0, 5000 }, 5001, NULL },
		{ "negative need", 1, { 5000 }, -1, NULL },
	};
	struct gpu_avail av[8];
	struct gpu_share sh[8];
	char got[256];
	size_t i, j, n;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (j = 0; j < t[i].n; j++) {
			av[j].index = (int)j;
			av[j].free_mib = t[i].free[j];
		}
		n = 77;
		rc = gpu_allocate(av, t[i].n, t[i].need, sh, &n);
		if (t[i].want == NULL) {
			ok(rc == -1 && n == 77, "allocate: %s fails", t[i].why);
			continue;
		}
		if (rc == 0)
			shares_str(sh, n, got, sizeof(got));
		else
			str_copy(got, sizeof(got), "(failed)");
		is_str(got, t[i].want, "allocate: %s", t[i].why);
	}

	/* Input order and index values do not change the answer. */
	av[0] = (struct gpu_avail){ 7, 3000 };
	av[1] = (struct gpu_avail){ 2, 8000 };
	av[2] = (struct gpu_avail){ 5, 5000 };
	av[3] = (struct gpu_avail){ 0, 9000 };
	ok(gpu_allocate(av, 4, 11000, sh, &n) == 0, "allocate: shuffled");
	shares_str(sh, n, got, sizeof(got));
	is_str(got, "2:8000,7:3000", "allocate: shuffled, sparse indices");

	/* Many equal GPUs: the search budget keeps it quick and valid. */
	{
		struct gpu_avail big[GPU_MAX];
		struct gpu_share bsh[GPU_MAX];
		int64_t t0 = now_ms(), sum = 0;

		for (j = 0; j < GPU_MAX; j++)
			big[j] = (struct gpu_avail){ (int)j, 1000 + (int)(j % 3) };
		rc = gpu_allocate(big, GPU_MAX, 32500, bsh, &n);
		for (j = 0; rc == 0 && j < n; j++)
			sum += bsh[j].mib;
		ok(rc == 0 && n == 33 && sum == 32500,
		    "allocate: 64 GPUs, 33 chosen, shares add up");
		ok(now_ms() - t0 < 2000, "allocate: 64 GPUs in %lld ms",
		    (long long)(now_ms() - t0));
	}
}

/* Brute force over every subset: fewest GPUs, then least leftover. */
static void
brute(const struct gpu_avail *av, size_t n, int64_t need, int *best_k,
    int64_t *best_left)
{
	unsigned int mask;
	int64_t sum;
	size_t i;
	int k;

	*best_k = -1;
	*best_left = -1;
	for (mask = 1; mask < (1u << n); mask++) {
		sum = 0;
		k = 0;
		for (i = 0; i < n; i++)
			if (mask & (1u << i)) {
				if (av[i].free_mib <= 0)
					break;
				sum += av[i].free_mib;
				k++;
			}
		if (i < n || sum < need)
			continue;
		if (*best_k == -1 || k < *best_k ||
		    (k == *best_k && sum - need < *best_left)) {
			*best_k = k;
			*best_left = sum - need;
		}
	}
}

static void
test_allocate_random(void)
{
	struct gpu_avail av[8];
	struct gpu_share sh[8], sh2[8];
	unsigned int seed = 12345;
	int64_t need, sum, left, best_left, freeof;
	size_t n, got, got2, i, j;
	int trial, bad = 0, best_k, rc;

	for (trial = 0; trial < 3000; trial++) {
		n = (size_t)(rand_r(&seed) % 9);
		for (i = 0; i < n; i++) {
			av[i].index = (int)(i * 2 + (unsigned)rand_r(&seed) % 2);
			av[i].free_mib = rand_r(&seed) % 5 == 0 ? 0 :
			    (int64_t)(rand_r(&seed) % 8) * 1024 +
			    (rand_r(&seed) % 2) * 512;
		}
		need = (int64_t)(rand_r(&seed) % 40) * 512;
		brute(av, n, need, &best_k, &best_left);
		rc = gpu_allocate(av, n, need, sh, &got);
		if (need == 0) {
			if (rc != 0 || got != 0)
				bad++;
			continue;
		}
		if ((rc == 0) != (best_k != -1)) {
			bad++;
			continue;
		}
		if (rc == -1)
			continue;
		sum = 0;
		left = 0;
		for (i = 0; i < got; i++) {
			freeof = -1;
			for (j = 0; j < n; j++)
				if (av[j].index == sh[i].index)
					freeof = av[j].free_mib;
			if (freeof <= 0 || sh[i].mib <= 0 || sh[i].mib > freeof ||
			    (i > 0 && sh[i].index <= sh[i - 1].index))
				bad++;
			sum += sh[i].mib;
			left += freeof - sh[i].mib;
		}
		if (sum != need || (int)got != best_k || left != best_left)
			bad++;
		/* Deterministic. */
		if (gpu_allocate(av, n, need, sh2, &got2) != 0 || got2 != got)
			bad++;
		for (i = 0; i < got && i < got2; i++)
			if (sh[i].index != sh2[i].index || sh[i].mib != sh2[i].mib)
				bad++;
	}
	is(bad, 0, "allocate: 3000 random cases agree with brute force "
	    "(fewest GPUs, least leftover, exact shares, ascending)");
}

/* ------------------------------------------------------------------ */
/* Device ids                                                          */

static void
test_device_ids(void)
{
	static const char *const good[] = { "", "0", "0,2", "1,3,63", "10,11" };
	static const char *const bad[] = {
		"0,", ",0", "2,0", "0,0", "01", "64", "a", " 0", "0 ,1", "-1",
		"0,,1", "0;1", "1,2,", "99999999999999999999", "0x1", "+1",
	};
	int ids[GPU_MAX];
	char out[64];
	size_t i, n;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(gpu_device_ids(good[i], ids, GPU_MAX, &n) == 0,
		    "device ids accept '%s'", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 77;
		ok(gpu_device_ids(bad[i], ids, GPU_MAX, &n) == -1 && n == 77,
		    "device ids reject '%s'", bad[i]);
	}
	ok(gpu_device_ids("1,3,63", ids, GPU_MAX, &n) == 0 && n == 3 &&
	    ids[0] == 1 && ids[1] == 3 && ids[2] == 63, "device ids: values");
	ok(gpu_device_ids("", ids, GPU_MAX, &n) == 0 && n == 0,
	    "device ids: none");
	ids[0] = -7;
	ok(gpu_device_ids("0,1,2", ids, 2, &n) == -1 && ids[0] == -7,
	    "device ids: more than max, ids untouched");
	ok(gpu_cuda_visible_devices("0,2", out, sizeof(out)) == 0 &&
	    strcmp(out, "0,2") == 0, "CUDA_VISIBLE_DEVICES 0,2");
	ok(gpu_cuda_visible_devices("", out, sizeof(out)) == 0 &&
	    strcmp(out, "") == 0, "CUDA_VISIBLE_DEVICES empty hides all");
	ok(gpu_cuda_visible_devices("2,0", out, sizeof(out)) == -1,
	    "CUDA_VISIBLE_DEVICES rejects a bad list");
	ok(gpu_cuda_visible_devices("10,11", out, 5) == -1,
	    "CUDA_VISIBLE_DEVICES: no truncation");
}

/* ------------------------------------------------------------------ */
/* The database                                                        */

static char tmpdir[] = "/tmp/t_gpu.XXXXXX";
static char dbpath[256];

static int64_t
mkapp(struct db *db, const char *app_id, const char *status)
{
	sqlite3_stmt *st;

	st = db_prepare(db, "INSERT INTO apps(app_id, name, type, status, "
	    "owner_id, created_at, updated_at) VALUES (?, ?, 'docker', ?, 1, "
	    "0, 0)");
	if (st == NULL || db_bind_text(st, 1, app_id) == -1 ||
	    db_bind_text(st, 2, app_id) == -1 ||
	    db_bind_text(st, 3, status) == -1 || db_exec_stmt(db, st) == -1)
		fatalx("insert app %s", app_id);
	return db_last_id(db);
}

static int64_t
q_int(struct db *db, const char *sql, int64_t arg)
{
	sqlite3_stmt *st = db_prepare(db, sql);
	int64_t v = -12345;

	if (st == NULL)
		return v;
	if (strchr(sql, '?') != NULL)
		db_bind_int(st, 1, arg);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* apps.gpus of one app, in a static buffer. */
static const char *
app_gpus(struct db *db, int64_t app)
{
	static char out[256];
	sqlite3_stmt *st = db_prepare(db, "SELECT gpus FROM apps WHERE id = ?");

	str_copy(out, sizeof(out), "(none)");
	db_bind_int(st, 1, app);
	if (sqlite3_step(st) == SQLITE_ROW)
		str_copy(out, sizeof(out),
		    (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

/* Reservations of one app as "1:8000,3:3000". */
static const char *
app_rows(struct db *db, int64_t app)
{
	static char out[256];
	struct buf b = BUF_INIT;
	sqlite3_stmt *st = db_prepare(db, "SELECT gpu_index, mib FROM "
	    "gpu_reservations WHERE app_id = ? ORDER BY gpu_index");

	db_bind_int(st, 1, app);
	while (sqlite3_step(st) == SQLITE_ROW)
		buf_printf(&b, "%s%lld:%lld", b.len ? "," : "",
		    (long long)sqlite3_column_int64(st, 0),
		    (long long)sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	str_copy(out, sizeof(out), b.data);
	buf_release(&b);
	return out;
}

static struct db *
setup_db(void)
{
	struct db *db;

	if (mkdtemp(tmpdir) == NULL)
		fatal("mkdtemp");
	if (str_fmt(dbpath, sizeof(dbpath), "%s/slipway.db", tmpdir) == -1 ||
	    (db = db_open(dbpath)) == NULL)
		fatalx("db_open");
	if (db_exec(db, "INSERT INTO users(id, username, password_hash, "
	    "created_at) VALUES (1, 'alice', 'x', 0)") == -1)
		fatalx("insert user");
	return db;
}

static void
test_db(struct db *db)
{
	struct gpu_list inv, two;
	struct json_object *j, *g, *v;
	char gpus[64], err[128];
	int64_t a, b, c, d, e;
	int rc;

	/* Free memory: 40000, 16000, 8000, 80000. */
	if (gpu_parse_csv(csv4_idle, strlen(csv4_idle), &inv) == -1)
		fatalx("csv4");
	a = mkapp(db, "aaaaaaaaaaaa", "queued");
	b = mkapp(db, "bbbbbbbbbbbb", "queued");
	c = mkapp(db, "cccccccccccc", "queued");
	d = mkapp(db, "dddddddddddd", "queued");
	e = mkapp(db, "eeeeeeeeeeee", "queued");

	ok(gpu_reserve(db, &inv, a, 0, gpus, sizeof(gpus), err, sizeof(err))
	    == GPU_RESERVE_OK && strcmp(gpus, "") == 0 &&
	    strcmp(app_rows(db, a), "") == 0, "reserve 0: no GPU, no rows");

	rc = gpu_reserve(db, &inv, a, 12000, gpus, sizeof(gpus), err,
	    sizeof(err));
	ok(rc == GPU_RESERVE_OK && strcmp(gpus, "1") == 0,
	    "reserve 12000: best fit is GPU 1 (16000 free)");
	is_str(app_rows(db, a), "1:12000", "reserve: row written");
	is_str(app_gpus(db, a), "1", "reserve: apps.gpus written");

	rc = gpu_reserve(db, &inv, a, 12000, gpus, sizeof(gpus), err,
	    sizeof(err));
	ok(rc == GPU_RESERVE_OK && strcmp(gpus, "1") == 0 &&
	    strcmp(app_rows(db, a), "1:12000") == 0,
	    "reserve again: idempotent");

	rc = gpu_reserve(db, &inv, b, 8000, gpus, sizeof(gpus), err,
	    sizeof(err));
	ok(rc == GPU_RESERVE_OK && strcmp(gpus, "2") == 0,
	    "reserve 8000: exact fit on GPU 2");

	rc = gpu_reserve(db, &inv, c, 100000, gpus, sizeof(gpus), err,
	    sizeof(err));
	ok(rc == GPU_RESERVE_OK && strcmp(gpus, "0,3") == 0,
	    "reserve 100000: split over GPUs 0 and 3");
	is_str(app_rows(db, c), "0:20000,3:80000",
	    "reserve: split fills the largest first");

	str_copy(gpus, sizeof(gpus), "untouched");
	rc = gpu_reserve(db, &inv, d, 30000, gpus, sizeof(gpus), err,
	    sizeof(err));
	ok(rc == GPU_RESERVE_NOROOM, "no room: NOROOM (%d)", rc);
	is_str(err, "no GPU with 30000 MiB free", "no room: the message");
	ok(strcmp(gpus, "untouched") == 0 && strcmp(app_rows(db, d), "") == 0,
	    "no room: nothing written");

	rc = gpu_reserve(db, &inv, d, 200000, gpus, sizeof(gpus), err,
	    sizeof(err));
	ok(rc == GPU_RESERVE_NEVER, "more than the host holds: NEVER (%d)", rc);
	is_str(err, "no GPU with 200000 MiB free", "never: the message");

	/* Release and re-use. */
	ok(gpu_release(db, c) == 0 && strcmp(app_rows(db, c), "") == 0 &&
	    strcmp(app_gpus(db, c), "") == 0, "release: rows and gpus gone");
	ok(gpu_release(db, c) == 0, "release twice: fine");
	rc = gpu_reserve(db, &inv, d, 30000, gpus, sizeof(gpus), err,
	    sizeof(err));
	ok(rc == GPU_RESERVE_OK && strcmp(gpus, "0") == 0,
	    "re-use: 30000 now fits on GPU 0");

	/* A changed amount is re-allocated. */
	rc = gpu_reserve(db, &inv, a, 4000, gpus, sizeof(gpus), err,
	    sizeof(err));
	ok(rc == GPU_RESERVE_OK && strcmp(app_rows(db, a), "0:4000") == 0,
	    "reserve a new amount: re-allocated, best fit now GPU 0 (%s)",
	    app_rows(db, a));
	/* ... and a failed change keeps the old reservation. */
	rc = gpu_reserve(db, &inv, a, 110000, gpus, sizeof(gpus), err,
	    sizeof(err));
	ok(rc == GPU_RESERVE_NOROOM && strcmp(app_rows(db, a), "0:4000") == 0
	    && strcmp(app_gpus(db, a), "0") == 0,
	    "failed change keeps the old reservation");
	rc = gpu_reserve(db, &inv, a, 0, gpus, sizeof(gpus), err, sizeof(err));
	ok(rc == GPU_RESERVE_OK && strcmp(app_rows(db, a), "") == 0 &&
	    strcmp(app_gpus(db, a), "") == 0, "reserve 0 drops a reservation");

	/* Foreign usage and no double counting. */
	{
		struct gpu_list one;
		const char *s = "0, GPU-ab, X, 16000, 8000\n";
		int64_t f = mkapp(db, "ffffffffffff", "running");
		int64_t g2 = mkapp(db, "gggggggggggg", "running");

		/* GPU index 0 is shared with inv: clear what others hold. */
		gpu_release(db, d);
		gpu_parse_csv(s, strlen(s), &one);
		ok(gpu_reserve(db, &one, f, 9000, gpus, sizeof(gpus), err,
		    sizeof(err)) == GPU_RESERVE_NOROOM,
		    "foreign use: 8000 used leaves 8000, 9000 waits");
		ok(gpu_reserve(db, &one, f, 8000, gpus, sizeof(gpus), err,
		    sizeof(err)) == GPU_RESERVE_OK, "foreign use: 8000 fits");
		/* Now app f runs and uses its 8000: used 8000 = reserved. */
		ok(gpu_reserve(db, &one, g2, 8000, gpus, sizeof(gpus), err,
		    sizeof(err)) == GPU_RESERVE_OK,
		    "own usage not counted twice: another 8000 fits");
		ok(gpu_reserve(db, &one, e, 1, gpus, sizeof(gpus), err,
		    sizeof(err)) == GPU_RESERVE_NOROOM, "and then it is full");
		gpu_release(db, f);
		gpu_release(db, g2);
	}

	/* Errors. */
	rc = gpu_reserve(db, &inv, 9999, 1000, gpus, sizeof(gpus), err,
	    sizeof(err));
	ok(rc == GPU_RESERVE_ERROR && strcmp(err, "no such app") == 0,
	    "unknown app: error");
	ok(gpu_reserve(db, &inv, e, -1, gpus, sizeof(gpus), err, sizeof(err))
	    == GPU_RESERVE_ERROR, "negative need: error");
	ok(gpu_reserve(db, &inv, e, LIMIT_VRAM_MIB + 1, gpus, sizeof(gpus),
	    err, sizeof(err)) == GPU_RESERVE_ERROR, "need above the cap: error");
	ok(gpu_reserve(db, &inv, e, 1000, gpus, 1, err, sizeof(err)) ==
	    GPU_RESERVE_ERROR && strcmp(app_rows(db, e), "") == 0,
	    "output too small: error, nothing written");
	ok(gpu_reserve(db, &inv, e, 1000, gpus, sizeof(gpus), NULL, 0) ==
	    GPU_RESERVE_OK, "err may be NULL");
	gpu_release(db, e);
	ok(!db->in_tx, "no transaction left open");

	/* Inside the caller's transaction. */
	db_begin(db);
	ok(gpu_reserve(db, &inv, e, 1000, gpus, sizeof(gpus), err,
	    sizeof(err)) == GPU_RESERVE_OK && db->in_tx,
	    "in a caller's transaction: joins it");
	db_rollback(db);
	is_str(app_rows(db, e), "", "caller's rollback undoes it");
	db_begin(db);
	gpu_reserve(db, &inv, e, 1000, gpus, sizeof(gpus), err, sizeof(err));
	ok(gpu_reserve(db, &inv, d, 500000, gpus, sizeof(gpus), err,
	    sizeof(err)) == GPU_RESERVE_NEVER, "failure inside a caller's "
	    "transaction");
	ok(db_commit(db) == 0 && strcmp(app_rows(db, e), "1:1000") == 0,
	    "... keeps the caller's earlier work (%s)", app_rows(db, e));

	/* A GPU that left the inventory: reserve again moves the app. */
	{
		const char *s = "0, GPU-0a0a0a0a-1111-2222-3333-444444444444, A, "
		    "40960, 960\n";
		int64_t h = mkapp(db, "hhhhhhhhhhhh", "running");

		gpu_release(db, a);
		gpu_release(db, b);
		gpu_release(db, e);
		ok(gpu_reserve(db, &inv, h, 60000, gpus, sizeof(gpus), err,
		    sizeof(err)) == GPU_RESERVE_OK && strcmp(gpus, "3") == 0,
		    "reserve on GPU 3");
		gpu_parse_csv(s, strlen(s), &two);
		ok(gpu_reserve(db, &two, h, 30000, gpus, sizeof(gpus), err,
		    sizeof(err)) == GPU_RESERVE_OK && strcmp(gpus, "0") == 0,
		    "GPU 3 gone: moved to GPU 0");
		gpu_release(db, h);
	}

	/* GET /gpus. */
	gpu_release(db, d);
	gpu_reserve(db, &inv, a, 10000, gpus, sizeof(gpus), err, sizeof(err));
	gpu_reserve(db, &inv, b, 5000, gpus, sizeof(gpus), err, sizeof(err));
	gpu_reserve(db, &inv, c, 15000, gpus, sizeof(gpus), err, sizeof(err));
	j = gpu_list_json(db, &inv);
	ok(j != NULL && json_object_is_type(j, json_type_array) &&
	    json_object_array_length(j) == 4, "gpus json: 4 entries");
	g = j ? json_object_array_get_idx(j, 1) : NULL;
	ok(g != NULL && json_object_object_get_ex(g, "index", &v) &&
	    json_object_get_int(v) == 1, "gpus json: index");
	ok(g != NULL && json_object_object_get_ex(g, "memory_total", &v) &&
	    json_object_get_int64(v) == 16000, "gpus json: memory_total");
	ok(g != NULL && json_object_object_get_ex(g, "reserved", &v) &&
	    json_object_get_int64(v) == 15000, "gpus json: reserved");
	ok(g != NULL && json_object_object_get_ex(g, "memory_free", &v) &&
	    json_object_get_int64(v) == 1000, "gpus json: memory_free");
	ok(g != NULL && json_object_object_get_ex(g, "apps", &v) &&
	    json_object_array_length(v) == 2 &&
	    strcmp(json_object_get_string(json_object_array_get_idx(v, 0)),
	    "aaaaaaaaaaaa") == 0 &&
	    strcmp(json_object_get_string(json_object_array_get_idx(v, 1)),
	    "bbbbbbbbbbbb") == 0, "gpus json: apps by app_id");
	ok(g != NULL && json_object_object_get_ex(g, "name", &v) &&
	    strcmp(json_object_get_string(v), "NVIDIA A10G") == 0 &&
	    json_object_object_get_ex(g, "uuid", &v), "gpus json: name, uuid");
	g = j ? json_object_array_get_idx(j, 0) : NULL;
	ok(g != NULL && json_object_object_get_ex(g, "reserved", &v) &&
	    json_object_get_int64(v) == 15000 &&
	    json_object_object_get_ex(g, "memory_free", &v) &&
	    json_object_get_int64(v) == 25000 &&
	    json_object_object_get_ex(g, "apps", &v) &&
	    json_object_array_length(v) == 1, "gpus json: GPU 0");
	g = j ? json_object_array_get_idx(j, 2) : NULL;
	ok(g != NULL && json_object_object_get_ex(g, "reserved", &v) &&
	    json_object_get_int64(v) == 0 &&
	    json_object_object_get_ex(g, "memory_free", &v) &&
	    json_object_get_int64(v) == 8000 &&
	    json_object_object_get_ex(g, "apps", &v) &&
	    json_object_array_length(v) == 0, "gpus json: idle GPU 2");
	json_object_put(j);
	/* The same reservations against GPUs with memory in use. */
	{
		struct gpu_list busy;

		gpu_parse_csv(csv4, strlen(csv4), &busy);
		j = gpu_list_json(db, &busy);
		g = j ? json_object_array_get_idx(j, 1) : NULL;
		ok(g != NULL && json_object_object_get_ex(g, "memory_free",
		    &v) && json_object_get_int64(v) == 23028 - 15000,
		    "gpus json: used 7028 under reserved 15000 counts once");
		g = j ? json_object_array_get_idx(j, 2) : NULL;
		ok(g != NULL && json_object_object_get_ex(g, "memory_free",
		    &v) && json_object_get_int64(v) == 15360 - 7360,
		    "gpus json: foreign use alone is subtracted");
		json_object_put(j);
	}
	two.n = 0;
	j = gpu_list_json(db, &two);
	ok(j != NULL && json_object_array_length(j) == 0,
	    "gpus json: no GPUs, empty array");
	json_object_put(j);

	/* Re-derive at agent start. */
	db_exec(db, "UPDATE apps SET status = 'stopped' WHERE app_id = "
	    "'aaaaaaaaaaaa'");
	db_exec(db, "UPDATE apps SET status = 'error' WHERE app_id = "
	    "'bbbbbbbbbbbb'");
	db_exec(db, "UPDATE apps SET status = 'running', gpus = '7' WHERE "
	    "app_id = 'cccccccccccc'");
	db_exec(db, "UPDATE apps SET status = 'running', gpus = '2' WHERE "
	    "app_id = 'dddddddddddd'");
	ok(gpu_rederive(db) == 0, "rederive");
	ok(strcmp(app_rows(db, a), "") == 0 && strcmp(app_gpus(db, a), "") == 0,
	    "rederive: a stopped app loses its GPU");
	ok(strcmp(app_rows(db, b), "") == 0 && strcmp(app_gpus(db, b), "") == 0,
	    "rederive: an app in error loses its GPU");
	ok(strcmp(app_rows(db, c), "0:15000") == 0 &&
	    strcmp(app_gpus(db, c), "0") == 0,
	    "rederive: a running app keeps it, gpus column repaired");
	ok(strcmp(app_gpus(db, d), "") == 0,
	    "rederive: gpus without rows cleared");
	is(q_int(db, "SELECT count(*) FROM gpu_reservations", 0), 1,
	    "rederive: one reservation left");
	ok(!db->in_tx, "no transaction left open");
}

/* ------------------------------------------------------------------ */
/* Property test: four processes, random reserve/release               */

#define PROP_PROCS	4
#define PROP_APPS	16
#define PROP_MS		1500

struct prop_counts {
	long	ops, reserved, noroom, released, errors, violations;
};

static const char *const prop_csv =
    "0, GPU-aa, P, 8000, 0\n"
    "1, GPU-bb, P, 16000, 0\n"
    "2, GPU-cc, P, 24000, 0\n"
    "3, GPU-dd, P, 4000, 0\n";

/*
 * Invariants, each in one statement (one snapshot): no GPU over-committed,
 * no empty or negative reservation, rows only on known GPUs, and apps.gpus
 * agreeing with the rows of every app.
 */
static long
prop_check(struct db *db, const struct gpu_list *inv)
{
	sqlite3_stmt *st;
	long bad = 0;
	int64_t idx, sum;
	size_t i;

	st = db_prepare(db, "SELECT gpu_index, SUM(mib), MIN(mib) FROM "
	    "gpu_reservations GROUP BY gpu_index");
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		idx = sqlite3_column_int64(st, 0);
		sum = sqlite3_column_int64(st, 1);
		for (i = 0; i < inv->n; i++)
			if (inv->gpu[i].index == idx)
				break;
		if (i == inv->n || sum > inv->gpu[i].total_mib ||
		    sqlite3_column_int64(st, 2) <= 0)
			bad++;
	}
	sqlite3_finalize(st);
	st = db_prepare(db, "SELECT count(*) FROM apps a WHERE a.gpus <> "
	    "ifnull((SELECT group_concat(gpu_index, ',') FROM (SELECT gpu_index "
	    "FROM gpu_reservations r WHERE r.app_id = a.id ORDER BY "
	    "gpu_index)), '')");
	if (st && sqlite3_step(st) == SQLITE_ROW)
		bad += sqlite3_column_int64(st, 0);
	else
		bad++;
	sqlite3_finalize(st);
	return bad;
}

static void
prop_child(int wfd, int64_t first_app, unsigned int seed)
{
	static const int64_t needs[] = { 0, 1000, 2000, 3000, 4000, 6000,
	    8000, 12000, 20000, 30000, 52000, 60000 };
	struct prop_counts c;
	struct gpu_list inv;
	struct db *db;
	char gpus[64], err[128];
	int64_t end = now_ms() + PROP_MS, app;
	int ids[GPU_MAX];
	size_t n;
	int rc;

	memset(&c, 0, sizeof(c));
	if ((db = db_open(dbpath)) == NULL ||
	    gpu_parse_csv(prop_csv, strlen(prop_csv), &inv) == -1) {
		c.errors++;
		goto out;
	}
	while (now_ms() < end) {
		app = first_app + rand_r(&seed) % PROP_APPS;
		c.ops++;
		if (rand_r(&seed) % 10 < 6) {
			rc = gpu_reserve(db, &inv, app, needs[rand_r(&seed) %
			    (sizeof(needs) / sizeof(needs[0]))], gpus,
			    sizeof(gpus), err, sizeof(err));
			if (rc == GPU_RESERVE_OK) {
				c.reserved++;
				if (gpu_device_ids(gpus, ids, GPU_MAX, &n) ==
				    -1 || n > inv.n)
					c.violations++;
			} else if (rc == GPU_RESERVE_NOROOM)
				c.noroom++;
			else if (rc != GPU_RESERVE_NEVER)
				c.errors++;
		} else {
			if (gpu_release(db, app) == 0)
				c.released++;
			else
				c.errors++;
		}
		c.violations += prop_check(db, &inv);
	}
out:
	db_close(db);
	if (write(wfd, &c, sizeof(c)) != (ssize_t)sizeof(c))
		_exit(2);
	_exit(0);
}

static void
test_property(struct db **dbp)
{
	struct db *db = *dbp;
	struct prop_counts all, c;
	struct gpu_list inv;
	int pfd[2], status, i, exits_ok = 1;
	int64_t first = 0, app;
	pid_t pids[PROP_PROCS];
	char name[16];
	unsigned int seed0 = (unsigned int)time(NULL);

	if (gpu_parse_csv(prop_csv, strlen(prop_csv), &inv) == -1)
		fatalx("prop csv");
	db_exec(db, "DELETE FROM gpu_reservations");
	db_exec(db, "UPDATE apps SET gpus = ''");
	for (i = 0; i < PROP_APPS; i++) {
		str_fmt(name, sizeof(name), "prop%08d", i);
		app = mkapp(db, name, "running");
		if (i == 0)
			first = app;
		else if (app != first + i)
			fatalx("app ids not consecutive");
	}
	if (pipe(pfd) == -1)
		fatal("pipe");
	/* No SQLite connection may cross a fork: close ours, reopen after. */
	db_close(db);
	*dbp = db = NULL;
	printf("# property test: %d processes, %d ms, seed %u\n", PROP_PROCS,
	    PROP_MS, seed0);
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < PROP_PROCS; i++) {
		if ((pids[i] = fork()) == -1)
			fatal("fork");
		if (pids[i] == 0) {
			close(pfd[0]);
			prop_child(pfd[1], first, seed0 + (unsigned int)i * 7919);
		}
	}
	close(pfd[1]);
	memset(&all, 0, sizeof(all));
	for (i = 0; i < PROP_PROCS; i++) {
		if (read(pfd[0], &c, sizeof(c)) != (ssize_t)sizeof(c)) {
			exits_ok = 0;
			break;
		}
		all.ops += c.ops;
		all.reserved += c.reserved;
		all.noroom += c.noroom;
		all.released += c.released;
		all.errors += c.errors;
		all.violations += c.violations;
	}
	close(pfd[0]);
	for (i = 0; i < PROP_PROCS; i++)
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			exits_ok = 0;
	if ((*dbp = db = db_open(dbpath)) == NULL)
		fatalx("reopen");
	printf("# ops %ld, reserved %ld, no room %ld, released %ld\n",
	    all.ops, all.reserved, all.noroom, all.released);
	ok(exits_ok, "property: every process finished");
	is(all.errors, 0, "property: no database errors under contention");
	is(all.violations, 0, "property: invariants held after every "
	    "operation in every process");
	ok(all.reserved > 50 && all.noroom > 10 && all.released > 50,
	    "property: the run exercised reserve, no-room and release");
	is(prop_check(db, &inv), 0, "property: final database consistent");
	ok(q_int(db, "SELECT count(*) FROM gpu_reservations", 0) > 0 ||
	    all.reserved > 0, "property: reservations were made");
}

int
main(void)
{
	struct db *db;

	log_init("t_gpu", 0);
	test_csv_good();
	test_csv_bad();
	test_inventory_smi();
	test_inventory_nvml();
	test_free_mib();
	test_allocate_table();
	test_allocate_random();
	test_device_ids();
	db = setup_db();
	test_db(db);
	test_property(&db);
	db_close(db);
	{
		char p[300];

		str_fmt(p, sizeof(p), "%s-wal", dbpath);
		unlink(p);
		str_fmt(p, sizeof(p), "%s-shm", dbpath);
		unlink(p);
		unlink(dbpath);
		rmdir(tmpdir);
	}
	return done_testing();
}
