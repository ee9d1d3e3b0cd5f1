/*
 * valid: every validator for untrusted input.  Each returns 0 when the
 * input is acceptable (writing out-parameters only then) and -1 otherwise.
 * Reject, never sanitize.
 */
#ifndef SLIPWAY_VALID_H
#define SLIPWAY_VALID_H

#include <stddef.h>
#include <stdint.h>

/* Decimal integer in [min, max]; no sign games, no spaces, no trailing junk. */
int	valid_int(const char *, long long min, long long max, long long *out);
/* nginx-style size: digits with optional k/m/g suffix (case-insensitive). */
int	valid_size(const char *, uint64_t *out);
/* "lo-hi" port range, 1024 <= lo <= hi <= 65535. */
int	valid_port_range(const char *, long long *lo, long long *hi);

int	valid_username(const char *);	/* ^[a-z][a-z0-9_.-]{1,31}$ */
int	valid_password(const char *, size_t len); /* 8..256 bytes, no NUL */
int	valid_app_name(const char *);	/* ^[a-z0-9][a-z0-9_-]{0,62}$ */
int	valid_app_id(const char *);	/* 12 of [a-z0-9] */
int	valid_description(const char *);/* UTF-8, <= 1024 bytes, no control bytes but \n\t */
int	valid_env_name(const char *);	/* ^[A-Za-z_][A-Za-z0-9_]{0,127}$ */
int	valid_env_value(const char *);	/* <= 4096 bytes, no NUL */
int	valid_utf8(const char *, size_t);
/* plugin release "code@version": code ^[a-z0-9][a-z0-9_-]{0,62}$, version ^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$ */
int	valid_plugin_release(const char *);
int	valid_label(const char *);	/* printable, 1..128 bytes */

#endif
