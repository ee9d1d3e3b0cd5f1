/*
 * req: one FastCGI request as slipway sees it: the parameters it trusts
 * (validated or capped), the body readers, the response writers, and the
 * error a handler reports.  Everything a request allocates hangs off
 * struct req and is released by req_release().
 */
#ifndef SLIPWAY_REQ_H
#define SLIPWAY_REQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "form.h"

struct conf;
struct db;
struct json_object;
typedef struct FCGX_Request FCGX_Request;

/* What went wrong, as the router maps it to HTTP (route.c, one table). */
enum herr {
	HERR_OK,
	HERR_BAD_REQUEST,	/* 400 */
	HERR_UNAUTHORIZED,	/* 401 */
	HERR_FORBIDDEN,		/* 403 */
	HERR_NOT_FOUND,		/* 404 */
	HERR_METHOD,		/* 405 */
	HERR_CONFLICT,		/* 409 */
	HERR_TOO_LARGE,		/* 413 */
	HERR_UNSUPPORTED,	/* 415 */
	HERR_RATE_LIMITED,	/* 429 */
	HERR_INTERNAL,		/* 500 */
	HERR_BAD_GATEWAY,	/* 502 */
	HERR_UNAVAILABLE,	/* 503 */
	HERR__MAX
};

struct user {
	int64_t	 id;
	char	*username;
	int	 is_admin;
	int64_t	 created_at;
	char	 token_hash[65];	/* of the credential used, if any */
};

#define REQ_MAX_ARGS 4

struct req {
	FCGX_Request		*fcgi;		/* NULL in unit tests */
	const struct conf	*conf;
	struct db		*db;

	char			 id[24];	/* request id for logs */
	char			*method;
	char			*path;		/* decoded, no trailing slash (but "/") */
	char			*query;		/* raw QUERY_STRING */
	char			*content_type;
	char			*remote_addr;
	char			*authorization;	/* HTTP_AUTHORIZATION or NULL */
	char			*scheme_host;	/* "http://host:port" for absolute URLs */
	uint64_t		 content_length;
	int			 has_body;
	struct form		 query_params;
	char			*args[REQ_MAX_ARGS];	/* path {params} */
	size_t			 nargs;
	struct user		*user;		/* set by the router for authed routes */

	enum herr		 err;
	char			*err_code;
	char			*err_detail;
	int			 responded;
	int			 status;	/* what was sent */
	uint64_t		 body_read;
	struct buf		 test_out;	/* unit tests: response captured here */
	const char		*test_in;	/* unit tests: the body (borrowed) */
	size_t			 test_in_len, test_in_off;
	size_t			 test_in_step;	/* bytes per read, 0 = any */
	size_t			 test_in_fail;	/* a read at this offset fails, 0 = none */
};

/* Fill from the FastCGI params; -1 (with err set) on bad request lines. */
int	 req_init_fcgi(struct req *, FCGX_Request *, const struct conf *,
	    struct db *);
/* For unit tests: a request without FastCGI. */
void	 req_init_test(struct req *, const char *method, const char *path,
	    const char *query);
void	 req_release(struct req *);

/* Record an error for the router to answer; always returns -1. */
int	 req_fail(struct req *, enum herr, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/* Read up to len body bytes; returns bytes read, 0 at end, -1 on error. */
ssize_t	 req_read(struct req *, void *, size_t);
/* Whole (small) body into out, at most cap bytes: 413 beyond. */
int	 req_read_body(struct req *, size_t cap, struct buf *out);
/*
 * Request parameters from the body, by Content-Type: JSON object,
 * urlencoded form or multipart text fields (no file parts); appended to f.
 * An empty body is no parameters.  Errors: 400/413/415.
 */
int	 req_params(struct req *, struct form *f);
/* Multipart text fields only (a file part is a 400); appended to f. */
int	 req_multipart_fields(struct req *, struct form *f);
/* Parse a JSON body (object or array) with depth and size caps. */
int	 req_json_body(struct req *, struct json_object **out);

/* Responses.  req_json consumes the reference. */
int	 req_respond(struct req *, int status, const char *ctype,
	    const char *extra_headers, const void *body, size_t len);
int	 req_json(struct req *, int status, struct json_object *);
/* The same for JSON already written as text (borrowed). */
int	 req_json_text(struct req *, int status, const char *json,
	    size_t len);
int	 req_no_content(struct req *);
/* Start a streamed response (text/plain); then req_write, req_flush. */
int	 req_stream_begin(struct req *, int status, const char *ctype);
int	 req_write(struct req *, const void *, size_t);
int	 req_flush(struct req *);

const char *req_arg(const struct req *, size_t i);
/* Query parameter (first) or NULL. */
const char *req_query(const struct req *, const char *name);

#endif
