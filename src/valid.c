#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "valid.h"

int
valid_int(const char *s, long long min, long long max, long long *out)
{
	const char *p = s;
	long long v;
	char *end;

	if (s == NULL || *s == '\0')
		return -1;
	if (*p == '-')
		p++;
	/* Digits only, at most 19, no leading zeros ("0" itself is fine). */
	if (*p == '\0' || strlen(p) > 19 || strspn(p, "0123456789") !=
	    strlen(p) || (p[0] == '0' && p[1] != '\0'))
		return -1;
	if (p != s && strcmp(p, "0") == 0)
		return -1;	/* "-0": one spelling per number */
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
valid_size(const char *s, uint64_t *out)
{
	char num[24];
	size_t n;
	long long v;
	uint64_t mult = 1;

	if (s == NULL || (n = strlen(s)) == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'k': case 'K': mult = 1024; num[--n] = '\0'; break;
	case 'm': case 'M': mult = 1024 * 1024; num[--n] = '\0'; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; num[--n] = '\0'; break;
	default: break;
	}
	if (valid_int(num, 1, 1LL << 40, &v) == -1)
		return -1;
	if ((uint64_t)v > (UINT64_MAX / mult))
		return -1;
	*out = (uint64_t)v * mult;
	return 0;
}

int
valid_port_range(const char *s, long long *lo, long long *hi)
{
	char a[8], b[8];
	const char *dash;
	long long l, h;

	if (s == NULL || (dash = strchr(s, '-')) == NULL ||
	    (size_t)(dash - s) >= sizeof(a) || strlen(dash + 1) >= sizeof(b))
		return -1;
	memcpy(a, s, (size_t)(dash - s));
	a[dash - s] = '\0';
	memcpy(b, dash + 1, strlen(dash + 1) + 1);
	if (valid_int(a, 1024, 65535, &l) == -1 ||
	    valid_int(b, 1024, 65535, &h) == -1 || l > h)
		return -1;
	*lo = l;
	*hi = h;
	return 0;
}

static int
is_lower_digit(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int
valid_username(const char *s)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) < 2 || n > LIMIT_USERNAME)
		return -1;
	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return -1;
	for (i = 1; i < n; i++)
		if (!is_lower_digit(s[i]) && s[i] != '_' && s[i] != '.' &&
		    s[i] != '-')
			return -1;
	return 0;
}

int
valid_password(const char *s, size_t len)
{
	if (s == NULL || len < LIMIT_PASSWORD_MIN || len > LIMIT_PASSWORD_MAX)
		return -1;
	if (memchr(s, '\0', len) != NULL)
		return -1;
	return 0;
}

int
valid_app_name(const char *s)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) < 1 || n > LIMIT_APP_NAME)
		return -1;
	if (!is_lower_digit(s[0]))
		return -1;
	for (i = 1; i < n; i++)
		if (!is_lower_digit(s[i]) && s[i] != '_' && s[i] != '-')
			return -1;
	return 0;
}

int
valid_app_id(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != APP_ID_LEN)
		return -1;
	for (i = 0; i < APP_ID_LEN; i++)
		if (!is_lower_digit(s[i]))
			return -1;
	return 0;
}

int
valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k, len;
	uint32_t cp;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = p[i] & 0x07;
		} else
			return -1;
		if (i + len > n)
			return -1;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* overlongs, surrogates, beyond U+10FFFF */
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		i += len;
	}
	return 0;
}

int
valid_description(const char *s)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) > LIMIT_DESCRIPTION)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			return -1;
	}
	return valid_utf8(s, n);
}

int
valid_env_name(const char *s)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) < 1 || n > LIMIT_ENV_NAME)
		return -1;
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_') ||
	    !isascii((unsigned char)s[0]))
		return -1;
	for (i = 1; i < n; i++)
		if (!isascii((unsigned char)s[i]) ||
		    !(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return -1;
	return 0;
}

int
valid_env_value(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) > LIMIT_ENV_VALUE)
		return -1;
	return valid_utf8(s, n);
}

int
valid_plugin_release(const char *s)
{
	const char *at;
	size_t cl, vl, i;

	if (s == NULL || (at = strchr(s, '@')) == NULL || strchr(at + 1, '@'))
		return -1;
	cl = (size_t)(at - s);
	vl = strlen(at + 1);
	if (cl < 1 || cl > 63 || vl < 1 || vl > 32)
		return -1;
	if (!is_lower_digit(s[0]))
		return -1;
	for (i = 1; i < cl; i++)
		if (!is_lower_digit(s[i]) && s[i] != '_' && s[i] != '-')
			return -1;
	if (!isascii((unsigned char)at[1]) || !isalnum((unsigned char)at[1]))
		return -1;
	for (i = 2; i <= vl; i++) {
		unsigned char c = (unsigned char)at[i];

		if (!isascii(c) || !(isalnum(c) || c == '.' || c == '+' ||
		    c == '_' || c == '-'))
			return -1;
	}
	return 0;
}

int
valid_label(const char *s)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) < 1 || n > 128)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	return valid_utf8(s, n);
}
