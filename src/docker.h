/*
 * docker: the Docker Engine API over its unix socket (libcurl, json-c).
 * The only module that knows Docker's JSON and HTTP API.
 *
 * - One struct docker holds one curl easy handle, reused for every call
 *   (keep-alive).  Not thread-safe.  Callbacks (log, output, read, cancel,
 *   events) run inside a transfer and must not call into the same handle.
 * - The API version is negotiated from GET /version on first use (or by
 *   docker_version): min(1.DOCKER_API_MINOR_MAX, the server's), refusing
 *   servers below 1.DOCKER_API_MINOR_MIN; every path is then /v1.NN/...
 * - Every call returns DOCKER_OK (0) or an enum docker_err.  After a failure
 *   docker_errmsg() holds Docker's message (or curl's): untrusted text for
 *   the app log and the agent's log, never for API clients verbatim.
 * - Replies are untrusted: bodies capped (caps.h DOCKER_*), types checked;
 *   a reply that does not fit is DOCKER_ERR_PROTOCOL, never a crash.
 *   Labels, ports and refs beyond their caps are skipped (they come from
 *   user images), everything else that does not fit fails the call.
 * - Out-parameters are written only on DOCKER_OK; the matching _release()
 *   frees what a successful call filled in (safe on a zeroed struct).
 * - Names in paths (container ids/names, image refs) are checked against a
 *   strict character set, never escaped: anything else is DOCKER_ERR_INVALID.
 */
#ifndef SLIPWAY_DOCKER_H
#define SLIPWAY_DOCKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "buf.h"

enum docker_err {
	DOCKER_OK = 0,
	DOCKER_ERR_TRANSPORT,	/* socket, connection, upload read failed */
	DOCKER_ERR_TIMEOUT,	/* the call's time limit passed */
	DOCKER_ERR_ABORTED,	/* the caller's cancel hook said stop */
	DOCKER_ERR_PROTOCOL,	/* reply malformed, too large, wrong types */
	DOCKER_ERR_VERSION,	/* server's API older than we accept */
	DOCKER_ERR_INVALID,	/* bad argument (ours) or HTTP 400 */
	DOCKER_ERR_NOT_FOUND,	/* HTTP 404: no such container/image */
	DOCKER_ERR_CONFLICT,	/* HTTP 409: name in use, image in use */
	DOCKER_ERR_PORT_IN_USE,	/* "port is already allocated" on start */
	DOCKER_ERR_SERVER,	/* any other HTTP error */
	DOCKER_ERR_STREAM,	/* an error message inside a 200 stream (build, load) */
	DOCKER_ERR__MAX
};

/* Stable short text for an error ("not found", ...). */
const char	*docker_err_str(enum docker_err);

/* Borrowed key/value input (labels, env NAME=value). */
struct docker_kv {
	const char	*key;
	const char	*value;
};

/* Owned labels from a reply; docker_labels_get returns NULL if absent. */
struct docker_label {
	char		*key;
	char		*value;
};
struct docker_labels {
	struct docker_label *v;
	size_t		 n;
};
const char	*docker_labels_get(const struct docker_labels *, const char *);

/* Callbacks. */
/* Text for the app log (build output, load messages); not NUL-terminated. */
typedef void	 docker_log_fn(void *arg, const char *text, size_t len);
/* Nonzero: abort the transfer (checked at least once a second). */
typedef int	 docker_cancel_fn(void *arg);
/* Upload data: bytes written to buf, 0 at the end, -1 on error. */
typedef ssize_t	 docker_read_fn(void *arg, char *buf, size_t len);
/* Container output: stream 1 stdout, 2 stderr (TTY output is 1). */
typedef void	 docker_output_fn(void *arg, int stream, const char *data,
		    size_t len);

/* A docker_read_fn over a file descriptor; arg points to an int fd. */
ssize_t		 docker_read_fd(void *arg, char *buf, size_t len);

struct docker;

struct docker	*docker_open(const char *socket_path);	/* NULL on failure */
void		 docker_close(struct docker *);
/* Docker's (or curl's) text for the last failure, "" if none. */
const char	*docker_errmsg(const struct docker *);

struct docker_version {
	char		 api[16];	/* negotiated, "1.41" */
	char		 server_api[16];/* the server's ApiVersion */
	char		 engine[64];	/* "20.10.24+dfsg1" */
};
enum docker_err	 docker_ping(struct docker *);		/* GET /_ping */
enum docker_err	 docker_version(struct docker *, struct docker_version *);

/*
 * Build: POST /build?t=..&labels=..&rm=1&forcerm=1 with the context tar
 * (uncompressed) streamed from read(); context_len < 0 sends it chunked.
 * Output lines go to log() as they arrive.  An {"error"} line in the 200
 * stream is DOCKER_ERR_STREAM with the message in docker_errmsg().  A
 * failed build removes the intermediate images it made (they carry no
 * labels: the builder adds those in a last step).
 * timeout_s 0: unbounded (cancel still works).  *image_id ("sha256:...")
 * is the caller's to free().
 */
struct docker_build_opts {
	const char		*tag;		/* required */
	const char		*dockerfile;	/* path in the context; NULL: Dockerfile */
	const struct docker_kv	*labels;
	size_t			 nlabels;
	docker_read_fn		*read;		/* required */
	void			*read_arg;
	int64_t			 context_len;	/* bytes, or -1: unknown */
	docker_log_fn		*log;		/* optional */
	docker_cancel_fn	*cancel;	/* optional */
	void			*arg;		/* for log and cancel */
	long			 timeout_s;
};
enum docker_err	 docker_build(struct docker *, const struct docker_build_opts *,
		    char **image_id);

/*
 * Image load: POST /images/load?quiet=1 streamed from tar_path (a docker
 * save or OCI archive; never read whole).  refs receive every "Loaded
 * image: <ref>" and "Loaded image ID: <id>" in order.
 */
struct docker_refs {
	char		**v;
	size_t		 n;
};
void		 docker_refs_release(struct docker_refs *);
enum docker_err	 docker_image_load(struct docker *, const char *tar_path,
		    docker_log_fn *, docker_cancel_fn *, void *arg,
		    struct docker_refs *loaded);

/* Images. */
struct docker_image {
	char		*id;
	struct docker_refs tags;	/* RepoTags */
	int64_t		 size;
	int		 exposed_port;	/* the one tcp port if exactly one, else 0 */
	size_t		 nexposed_tcp;	/* tcp ports in ExposedPorts (inspect) */
	struct docker_labels labels;
};
struct docker_image_list {
	struct docker_image *v;
	size_t		 n;
};
void		 docker_image_release(struct docker_image *);
void		 docker_image_list_release(struct docker_image_list *);
enum docker_err	 docker_image_inspect(struct docker *, const char *name,
		    struct docker_image *);
/* label: "key" or "key=value" filter, required. */
enum docker_err	 docker_image_list(struct docker *, const char *label,
		    struct docker_image_list *);
enum docker_err	 docker_image_tag(struct docker *, const char *name,
		    const char *repo, const char *tag);
enum docker_err	 docker_image_remove(struct docker *, const char *name,
		    int force);

/*
 * Containers.  The create body is built field by field from this struct
 * (docker_run_spec_json, pure, for tests).  The port is published on
 * 127.0.0.1 only; Init, RestartPolicy unless-stopped, no-new-privileges
 * and Privileged false are always set.
 */
struct docker_run_spec {
	const char		*name;		/* container name, or NULL */
	const char		*image;		/* required */
	const struct docker_kv	*env;		/* NAME, value -> "NAME=value" */
	size_t			 nenv;
	const struct docker_kv	*labels;
	size_t			 nlabels;
	int			 container_port;/* 0: none; else host_port too */
	int			 host_port;	/* on 127.0.0.1 */
	int64_t			 memory;	/* bytes, 0: no limit */
	int64_t			 pids_limit;	/* 0: no limit */
	int64_t			 nano_cpus;	/* 1e9 per CPU, 0: no limit */
	const char *const	*gpu_ids;	/* nvidia DeviceIDs ("0", "1") */
	size_t			 ngpu;
};
/* New reference (json_object_put), or NULL if the spec is invalid. */
json_object	*docker_run_spec_json(const struct docker_run_spec *);

/* *id is the caller's to free().  A taken name is DOCKER_ERR_CONFLICT. */
enum docker_err	 docker_container_create(struct docker *,
		    const struct docker_run_spec *, char **id);
/* Already started / already stopped (304) is DOCKER_OK. */
enum docker_err	 docker_container_start(struct docker *, const char *id);
enum docker_err	 docker_container_stop(struct docker *, const char *id,
		    int timeout_s);
enum docker_err	 docker_container_restart(struct docker *, const char *id,
		    int timeout_s);
enum docker_err	 docker_container_remove(struct docker *, const char *id,
		    int force, int volumes);

/* Every string is non-NULL ("" when Docker gave none). */
struct docker_cstate {
	char		*id;
	char		*name;		/* without the leading '/' */
	char		*image;		/* Config.Image as created */
	char		*image_id;
	char		*status;	/* created running paused restarting exited dead */
	char		*health;	/* "", starting, healthy, unhealthy */
	char		*error;		/* State.Error */
	char		*started_at;	/* RFC 3339 as Docker gives it */
	char		*finished_at;
	int		 running;
	int		 restarting;
	int		 oom_killed;
	int		 tty;
	int		 exit_code;
	int		 pid;
	int		 restart_count;
	int		 container_port;/* first tcp binding, 0 if none */
	int		 host_port;
	struct docker_labels labels;
};
void		 docker_cstate_release(struct docker_cstate *);
enum docker_err	 docker_container_inspect(struct docker *, const char *id,
		    struct docker_cstate *);

struct docker_port {
	int		 private_port;
	int		 public_port;	/* 0: not published */
	char		 ip[48];
	char		 type[8];	/* tcp, udp, sctp */
};
struct docker_container {
	char		*id;
	char		*name;		/* first name, without '/' */
	char		*image;
	char		*state;		/* running, exited, ... */
	char		*status;	/* "Up 2 minutes" */
	int64_t		 created;	/* unix seconds */
	struct docker_port *ports;
	size_t		 nports;
	struct docker_labels labels;
};
struct docker_container_list {
	struct docker_container *v;
	size_t		 n;
};
void		 docker_container_list_release(struct docker_container_list *);
/* All containers (running or not) carrying label ("key" or "key=value"). */
enum docker_err	 docker_container_list(struct docker *, const char *label,
		    struct docker_container_list *);

/*
 * Logs: GET /containers/{id}/logs, demultiplexed (or raw for TTY
 * containers) into out().  tail < 0: everything.  follow: until the
 * container stops or cancel() says stop (no time limit).
 */
struct docker_logs_opts {
	long			 tail;
	int			 follow;
	int			 timestamps;
	docker_output_fn	*out;		/* required */
	docker_cancel_fn	*cancel;
	void			*arg;
};
enum docker_err	 docker_container_logs(struct docker *, const char *id,
		    const struct docker_logs_opts *);

/*
 * Cleanup by label (required, "key" or "key=value"): removes unused
 * objects carrying it and nothing else.  Images: tagged or not.  Volumes:
 * named ones too.  *reclaimed (bytes) may be NULL.  The classic builder's
 * cache is the image's parent chain: docker_image_remove frees it.
 */
enum docker_prune {
	DOCKER_PRUNE_CONTAINERS,	/* stopped containers */
	DOCKER_PRUNE_IMAGES,		/* images no container uses */
	DOCKER_PRUNE_VOLUMES,		/* volumes no container uses */
	DOCKER_PRUNE_NETWORKS,		/* networks no container uses */
	DOCKER_PRUNE__MAX
};
enum docker_err	 docker_prune(struct docker *, enum docker_prune,
		    const char *label, uint64_t *reclaimed);

/*
 * Events: GET /events?filters={"type":["container"],"label":[label]} on a
 * connection of its own, driven without blocking by docker_events_wait(),
 * which also waits on the caller's descriptors (a wake-up socket): it
 * returns DOCKER_OK while the stream is alive (events delivered through
 * the callback, extra[].revents set), or an error once the stream ended
 * (daemon restarted): close, and open again with since = docker_events_last().
 * timeout_ms: 0 only checks, < 0 waits for activity without a limit.
 * Strings in an event are borrowed for the callback's duration.
 */
struct docker_event {
	const char	*type;		/* "container" */
	const char	*action;	/* start die oom stop "health_status: healthy" ... */
	const char	*id;		/* Actor.ID */
	const char	*name;		/* container name, or "" */
	const char	*label;		/* value of the filter label's key, or "" */
	int		 exit_code;	/* die: exitCode, else -1 */
	int64_t		 time;		/* unix seconds */
};
typedef void	 docker_event_fn(void *arg, const struct docker_event *);

struct docker_events;
struct pollfd;
/* since: unix seconds to replay from, 0 for new events only. */
struct docker_events *docker_events_open(struct docker *, const char *label,
		    int64_t since, docker_event_fn *, void *arg);
enum docker_err	 docker_events_wait(struct docker_events *, struct pollfd *extra,
		    unsigned int nextra, int timeout_ms);
/* Makes a docker_events_wait in another thread return early. */
void		 docker_events_wakeup(struct docker_events *);
int64_t		 docker_events_last(const struct docker_events *);
const char	*docker_events_errmsg(const struct docker_events *);
void		 docker_events_close(struct docker_events *);

/*
 * Stream parsers, exposed for tests (the calls above use them).
 */

/* Build and load output: newline-delimited JSON messages, any split. */
struct docker_progress {
	docker_log_fn	*log;
	void		*arg;
	char		*image_id;	/* aux.ID, or "Successfully built" id */
	char		*error;		/* first {"error"} message */
	struct docker_refs refs;	/* "Loaded image[ ID]: " */
	struct docker_refs layers;	/* " ---> <id>" made by this build */
	int		 cached;	/* private: last step was a cache hit */
	const char	*bad;		/* protocol error, static text */
	struct buf	 line;		/* private: the partial message */
};
void		 docker_progress_init(struct docker_progress *, docker_log_fn *,
		    void *arg);
/* -1 (and ->bad set) on a message that is not JSON or too long. */
int		 docker_progress_feed(struct docker_progress *, const char *,
		    size_t);
int		 docker_progress_finish(struct docker_progress *);
void		 docker_progress_release(struct docker_progress *);

/* Log frames: 8-byte headers (stream, 0, 0, 0, big-endian length). */
struct docker_demux {
	docker_output_fn *out;
	void		*arg;
	int		 raw;		/* TTY: no frames, all stdout */
	unsigned char	 hdr[8];
	size_t		 hlen;
	uint32_t	 remain;
	int		 stream;
};
void		 docker_demux_init(struct docker_demux *, int raw,
		    docker_output_fn *, void *arg);
int		 docker_demux_feed(struct docker_demux *, const char *, size_t);
/* -1 if the data ended inside a frame. */
int		 docker_demux_finish(const struct docker_demux *);

/* Reply parsers (untrusted bytes in, DOCKER_OK or DOCKER_ERR_PROTOCOL). */
enum docker_err	 docker_parse_version(const char *, size_t, struct docker_version *);
enum docker_err	 docker_parse_cstate(const char *, size_t, struct docker_cstate *);
enum docker_err	 docker_parse_container_list(const char *, size_t,
		    struct docker_container_list *);
enum docker_err	 docker_parse_image(const char *, size_t, struct docker_image *);
/* label_key may be NULL.  -1 if obj is not a well-formed event. */
int		 docker_event_parse(json_object *, const char *label_key,
		    struct docker_event *);

#endif
