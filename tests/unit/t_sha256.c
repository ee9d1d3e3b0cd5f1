/*
 * t_sha256: FIPS 180-4 / NIST CAVP vectors, the padding boundaries
 * (55/56/63/64 bytes ...), and incremental feeding in odd chunk sizes
 * agreeing with the one-shot digest.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sha256.h"
#include "tap.h"

static void
hex(const uint8_t d[SHA256_LEN], char out[2 * SHA256_LEN + 1])
{
	static const char x[] = "0123456789abcdef";
	int i;

	for (i = 0; i < SHA256_LEN; i++) {
		out[2 * i] = x[d[i] >> 4];
		out[2 * i + 1] = x[d[i] & 15];
	}
	out[2 * SHA256_LEN] = '\0';
}

/* Digest of data fed in chunks of the sizes in steps (cycled). */
static void
chunked(const void *data, size_t n, const size_t *steps, size_t nsteps,
    char out[2 * SHA256_LEN + 1])
{
	struct sha256 s;
	uint8_t d[SHA256_LEN];
	const uint8_t *p = data;
	size_t off = 0, k = 0, take;

	sha256_init(&s);
	while (off < n) {
		take = steps[k++ % nsteps];
		if (take > n - off)
			take = n - off;
		sha256_update(&s, p + off, take);
		off += take;
	}
	sha256_final(&s, d);
	hex(d, out);
}

static void
test_vectors(void)
{
	static const struct {
		const char	*msg;
		const char	*digest;
		const char	*what;
	} t[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "empty" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		  "abc (FIPS 180-4)" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
		  "448-bit message" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
		  "896-bit message" },
		{ "The quick brown fox jumps over the lazy dog",
		  "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592",
		  "quick brown fox" },
	};
	char out[2 * SHA256_LEN + 1];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		sha256_hex(t[i].msg, strlen(t[i].msg), out);
		is_str(out, t[i].digest, "sha256 %s", t[i].what);
	}
	sha256_hex("\0", 1, out);
	is_str(out, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	    "sha256 of one NUL byte (length, not strlen)");
}

static void
test_boundaries(void)
{
	/* n times 'a': digests from coreutils sha256sum. */
	static const struct {
		size_t		 n;
		const char	*digest;
	} t[] = {
		{ 1,   "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb" },
		{ 55,  "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56,  "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 57,  "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6" },
		{ 63,  "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64,  "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ 65,  "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
		{ 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
		{ 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
		{ 127, "c57e9278af78fa3cab38667bef4ce29d783787a2f731d4e12200270f0c32320a" },
		{ 128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e" },
		{ 129, "c12cb024a2e5551cca0e08fce8f1c5e314555cc3fef6329ee994a3db752166ae" },
	};
	static const size_t ones[] = { 1 }, odd[] = { 3, 7, 1, 13, 0, 64, 5 };
	char a[200], out[2 * SHA256_LEN + 1];
	size_t i;

	memset(a, 'a', sizeof(a));
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		sha256_hex(a, t[i].n, out);
		is_str(out, t[i].digest, "sha256 of %zu 'a' (one shot)", t[i].n);
		chunked(a, t[i].n, ones, 1, out);
		is_str(out, t[i].digest, "sha256 of %zu 'a' (byte by byte)", t[i].n);
		chunked(a, t[i].n, odd, sizeof(odd) / sizeof(odd[0]), out);
		is_str(out, t[i].digest, "sha256 of %zu 'a' (odd chunks)", t[i].n);
	}
}

static void
test_million(void)
{
	static const char want[] =
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	static const size_t steps[][4] = {
		{ 1000000, 1, 1, 1 },
		{ 1, 1, 1, 1 },
		{ 7, 7, 7, 7 },
		{ 63, 65, 1, 127 },
		{ 4093, 3, 64, 1 },
		{ 99991, 13, 55, 56 },
	};
	char *m = xmalloc(1000000), out[2 * SHA256_LEN + 1];
	size_t i;

	memset(m, 'a', 1000000);
	sha256_hex(m, 1000000, out);
	is_str(out, want, "one million 'a' in one call");
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		chunked(m, 1000000, steps[i], 4, out);
		is_str(out, want, "one million 'a' in chunks %zu,%zu,%zu,%zu",
		    steps[i][0], steps[i][1], steps[i][2], steps[i][3]);
	}
	free(m);
}

static void
test_incremental_all_lengths(void)
{
	static const size_t odd[] = { 5, 17, 1, 31, 2 };
	uint8_t data[1024];
	char one[2 * SHA256_LEN + 1], inc[2 * SHA256_LEN + 1];
	size_t n;
	int bad = 0;

	for (n = 0; n < sizeof(data); n++)
		data[n] = (uint8_t)(n * 7 + 3);
	for (n = 0; n <= sizeof(data); n++) {
		sha256_hex(data, n, one);
		chunked(data, n, odd, sizeof(odd) / sizeof(odd[0]), inc);
		if (strcmp(one, inc) != 0)
			bad++;
	}
	is(bad, 0, "one-shot and chunked agree for every length 0..1024");

	for (n = 0; n < sizeof(data); n++)
		data[n] = (uint8_t)(n & 0xff);
	sha256_hex(data, sizeof(data), one);
	is_str(one, "785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c9",
	    "bytes 0..255 four times (all byte values)");
}

int
main(void)
{
	test_vectors();
	test_boundaries();
	test_million();
	test_incremental_all_lengths();
	return done_testing();
}
