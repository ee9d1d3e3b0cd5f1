/*
 * tap.h: a minimal TAP producer for the unit tests (header only).
 *   ok(cond, fmt, ...)   is(a, b, name)   is_str(a, b, name)   done_testing()
 */
#ifndef SLIPWAY_TAP_H
#define SLIPWAY_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count, tap_failed;

static int __attribute__((format(printf, 4, 5), unused))
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is(a, b, ...) do {						\
	long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);	\
	if (!ok(tap_a_ == tap_b_, __VA_ARGS__))				\
		printf("#   got %lld, expected %lld\n", tap_a_, tap_b_);	\
} while (0)
#define is_str(a, b, ...) do {						\
	const char *tap_a_ = (a), *tap_b_ = (b);			\
	if (!ok(tap_a_ != NULL && tap_b_ != NULL &&			\
	    strcmp(tap_a_, tap_b_) == 0, __VA_ARGS__))			\
		printf("#   got '%s', expected '%s'\n",		\
		    tap_a_ ? tap_a_ : "(null)", tap_b_ ? tap_b_ : "(null)"); \
} while (0)

static int __attribute__((unused))
done_testing(void)
{
	printf("1..%d\n", tap_count);
	if (tap_count == 0) {
		printf("# no tests ran\n");
		return 1;
	}
	return tap_failed ? 1 : 0;
}

#endif
