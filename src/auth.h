/*
 * auth: users, password hashes (libxcrypt's preferred method), API tokens
 * (256 random bits, stored as SHA-256, expiring), login rate limits.
 */
#ifndef SLIPWAY_AUTH_H
#define SLIPWAY_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct user;

enum auth_result {
	AUTH_OK,
	AUTH_NO_USER,		/* unknown user / token */
	AUTH_BAD_PASSWORD,
	AUTH_EXPIRED,
	AUTH_EXISTS,		/* username taken */
	AUTH_LIMITED,		/* too many failures */
	AUTH_ERROR,		/* database or crypt failure */
	AUTH__MAX
};

/* Hash a password with crypt_gensalt_ra(NULL...) + crypt_r; caller frees. */
char	*auth_hash_password(const char *password);
/* Constant-time check of password against a stored hash: 0 match, -1 not. */
int	 auth_check_password(const char *password, const char *hash);

/* Create a user; *id_out on success. */
enum auth_result auth_user_create(struct db *, const char *username,
	    const char *password, int is_admin, int64_t *id_out);
/* Load by id or name; caller frees with auth_user_free(). */
enum auth_result auth_user_load(struct db *, int64_t id, struct user **);
enum auth_result auth_user_by_name(struct db *, const char *, struct user **);
void	 auth_user_free(struct user *);
/* Set password and revoke all the user's tokens (one transaction). */
int	 auth_user_set_password(struct db *, int64_t id, const char *password);
/* Delete a user, their tokens (cascade); the built-in admin refuses. */
int	 auth_user_delete(struct db *, int64_t id);

/*
 * Verify username+password from addr; rate-limited per username and per
 * address.  On AUTH_OK issues a token: *token_out (caller frees) and
 * *expires_out, *user_out (caller frees).
 */
enum auth_result auth_login(struct db *, const char *username,
	    const char *password, const char *addr, int64_t ttl,
	    char **token_out, int64_t *expires_out, struct user **user_out);
/* Issue a token for a user id. */
int	 auth_token_issue(struct db *, int64_t user_id, int64_t ttl,
	    char **token_out, int64_t *expires_out);
/* Resolve a presented token. */
enum auth_result auth_token_user(struct db *, const char *token,
	    struct user **);
/* Revoke one token by its hash (logout). */
int	 auth_token_revoke_hash(struct db *, const char *hash);

/*
 * Make sure the admin user exists.  password NULL: generate one;
 * *generated is set to the new password (caller frees) only when one was
 * created (slipway-ctl prints it and writes <data>/admin-password).
 */
int	 auth_bootstrap_admin(struct db *, const char *password,
	    char **generated);

/* Random bytes from getrandom(2); fatal on failure. */
void	 auth_random(void *, size_t);
/* n random chars of [a-z0-9] (for app ids); out has n+1 bytes. */
void	 auth_random_id(char *out, size_t n);
/* Constant-time equality of two equal-length buffers. */
int	 auth_ct_equal(const void *, const void *, size_t);

#endif
