/*
 * fuzz_yamlcfg: libFuzzer harness for the strict YAML loader, the emitter
 * and plugin config.yaml validation.
 *
 * Properties checked beyond "no crash, no leak, no UB":
 *   - a document the loader accepts is emitted without error, and the
 *     emitted text is accepted again with the same shape;
 *   - a config.yaml the validator accepts yields a launcher.
 *
 * Build and run (from a configured build directory B, e.g. /work/build-x):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I$B -I$SRC/src \
 *     $SRC/tests/fuzz/fuzz_yamlcfg.c $SRC/src/yamlcfg.c $SRC/src/buf.c \
 *     $SRC/src/log.c $SRC/src/valid.c -lyaml -o fuzz_yamlcfg
 *   ./fuzz_yamlcfg -max_total_time=20 -max_len=70000 CORPUS_DIR
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "yamlcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
same_shape(const struct yamlcfg_node *a, const struct yamlcfg_node *b)
{
	size_t i;

	if (a->type != b->type || a->n != b->n)
		return 0;
	if ((a->key == NULL) != (b->key == NULL))
		return 0;
	if (a->key != NULL && strcmp(a->key, b->key) != 0)
		return 0;
	if (a->type == YAMLCFG_SCALAR && !yamlcfg_is_null(a) &&
	    (a->len != b->len || memcmp(a->text, b->text, a->len) != 0))
		return 0;
	for (i = 0; i < a->n; i++)
		if (!same_shape(a->kids[i], b->kids[i]))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yamlcfg_node *root = NULL, *again = NULL;
	struct plugin_config pc;
	struct buf out = BUF_INIT;
	char err[256];

	if (yamlcfg_parse((const char *)data, size, "fuzz.yaml", &root, err,
	    sizeof(err)) == 0) {
		if (yamlcfg_emit(root, &out, err, sizeof(err)) != 0)
			abort();
		if (yamlcfg_parse(out.data, out.len, "again", &again, err,
		    sizeof(err)) != 0)
			abort();
		if (!same_shape(root, again))
			abort();
		yamlcfg_free(again);
		yamlcfg_free(root);
	} else if (err[0] == '\0')
		abort();	/* every refusal says why */
	buf_reset(&out);
	if (plugin_config_parse((const char *)data, size, &pc, err,
	    sizeof(err)) == 0) {
		if (plugin_launcher_py(&pc, &out) != 0)
			abort();
	}
	buf_release(&out);
	return 0;
}
