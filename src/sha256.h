/*
 * sha256: FIPS 180-4 SHA-256, written here because no dependency we link
 * exposes one (libcrypt only offers password hashing).  Used to store API
 * tokens hashed; not for passwords.
 */
#ifndef SLIPWAY_SHA256_H
#define SLIPWAY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t	h[8];
	uint64_t	total;
	uint8_t		block[64];
	size_t		used;
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
void	sha256_final(struct sha256 *, uint8_t out[SHA256_LEN]);
/* One call: hex digest (65 bytes with NUL) of data. */
void	sha256_hex(const void *, size_t, char out[2 * SHA256_LEN + 1]);

#endif
