/*
 * fuzz_gpu_csv: libFuzzer harness for the nvidia-smi CSV parser.
 *   clang -fsanitize=fuzzer,address,undefined -DHAVE_CONFIG_H -I<build> \
 *     -iquote src tests/fuzz/fuzz_gpu_csv.c src/gpu.c src/buf.c src/log.c \
 *     src/valid.c src/db.c $(pkg-config --cflags --libs json-c sqlite3) -ldl
 * Whatever the input, the parser either rejects it or returns a list that
 * holds every invariant the rest of slipway relies on.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "log.h"

static int
fuzz_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gpu_list l;
	size_t i, j;

	log_init("fuzz_gpu_csv", 0);
	if (gpu_parse_csv((const char *)data, size, &l) == -1)
		return 0;
	if (l.n > GPU_MAX)
		abort();
	for (i = 0; i < l.n; i++) {
		if (l.gpu[i].index < 0 || l.gpu[i].index >= GPU_MAX ||
		    (i > 0 && l.gpu[i].index <= l.gpu[i - 1].index) ||
		    l.gpu[i].total_mib < 1 ||
		    l.gpu[i].total_mib > GPU_MEM_MAX_MIB ||
		    l.gpu[i].used_mib < 0 ||
		    l.gpu[i].used_mib > l.gpu[i].total_mib ||
		    strncmp(l.gpu[i].uuid, "GPU-", 4) != 0 ||
		    strlen(l.gpu[i].name) == 0 ||
		    strlen(l.gpu[i].name) > GPU_NAME_MAX ||
		    !fuzz_printable(l.gpu[i].name) ||
		    !fuzz_printable(l.gpu[i].uuid))
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(l.gpu[i].uuid, l.gpu[j].uuid) == 0)
				abort();
	}
	return 0;
}
