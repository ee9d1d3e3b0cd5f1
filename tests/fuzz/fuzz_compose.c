/*
 * fuzz_compose: libFuzzer harness for compose file checking and the
 * normalised file.
 *
 * Properties checked beyond "no crash, no leak, no UB":
 *   - every refusal carries a message;
 *   - an accepted file is normalised without error, and the output is
 *     accepted by the strict loader again (unless it only grew past a
 *     cap by the labels and GPU entries slipway adds);
 *   - the output publishes only on 127.0.0.1.
 *
 * Build and run (B: a configured build directory):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I$B -I$SRC/src \
 *     $SRC/tests/fuzz/fuzz_compose.c $SRC/src/compose.c \
 *     $SRC/src/yamlcfg.c $SRC/src/buf.c $SRC/src/log.c $SRC/src/valid.c \
 *     -lyaml -o fuzz_compose
 *   ./fuzz_compose -max_total_time=20 -max_len=270000 CORPUS_DIR
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "compose.h"
#include "yamlcfg.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char project[] = "/tmp/fuzz_compose.XXXXXX";

static void
remove_project(void)
{
	static const char *const names[] = { "data", "out", "in" };
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", project, names[i]);
		if (remove(path) == -1 && errno != ENOENT)
			perror(path);
	}
	(void)rmdir(project);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[512];

	(void)argc;
	(void)argv;
	if (mkdtemp(project) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(remove_project);
	/* a few things for paths to find: a directory, a link out, one in */
	snprintf(path, sizeof(path), "%s/data", project);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/out", project);
	(void)symlink("/etc", path);
	snprintf(path, sizeof(path), "%s/in", project);
	(void)symlink("data", path);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const gpus[] = { "0", "1" };
	static const char *const env[] = { "GRADIO_ROOT_PATH=/apps/x$y",
	    "PORT=8123" };
	struct compose_info ci;
	struct yamlcfg_node *again = NULL;
	const struct yamlcfg_node *svc, *ports;
	struct buf out = BUF_INIT;
	char err[512];
	size_t i, k;

	err[0] = '\0';
	if (compose_check_mem((const char *)data, size, "docker-compose.yml",
	    project, &ci, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (compose_write_normalized(&ci, "abc123def456", 8123, gpus, 2, env,
	    2, &out) != 0)
		abort();
	if (yamlcfg_parse(out.data, out.len, "again", &again, err,
	    sizeof(err)) != 0) {
		if (strstr(err, "more than") == NULL)
			abort();
	} else {
		svc = yamlcfg_get(again, "services");
		for (i = 0; svc != NULL && i < svc->n; i++) {
			ports = yamlcfg_get(svc->kids[i], "ports");
			for (k = 0; ports != NULL && k < ports->n; k++)
				if (ports->kids[k]->text == NULL ||
				    strncmp(ports->kids[k]->text,
				    "127.0.0.1:8123:", 15) != 0)
					abort();
		}
		yamlcfg_free(again);
	}
	compose_info_free(&ci);
	buf_release(&out);
	return 0;
}
