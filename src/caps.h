/*
 * caps: every cap and default in one place (grep here first).
 * (Not limits.h: gcc's syslimits.h include_next would find it.)
 */
#ifndef SLIPWAY_CAPS_H
#define SLIPWAY_CAPS_H

/* Requests */
#define LIMIT_JSON_BODY		(1024 * 1024)	/* non-upload request bodies */
#define LIMIT_FORM_FIELDS	64		/* fields in a form or multipart body */
#define LIMIT_FIELD_VALUE	(64 * 1024)	/* one text field */
#define LIMIT_QUERY		4096		/* QUERY_STRING bytes */
#define LIMIT_PATH		1024		/* request path bytes */
#define DEFAULT_MAX_UPLOAD	"2g"		/* SLIPWAY_MAX_UPLOAD (nginx syntax) */
#define DEFAULT_MAX_UPLOAD_BYTES (2ULL * 1024 * 1024 * 1024)

/* Users and tokens */
#define LIMIT_USERNAME		32
#define LIMIT_PASSWORD_MIN	8
#define LIMIT_PASSWORD_MAX	256
#define TOKEN_BYTES		32		/* 256 random bits */
#define DEFAULT_TOKEN_TTL	(72 * 3600)	/* SLIPWAY_TOKEN_TTL, seconds */
#define LOGIN_FAIL_WINDOW	300		/* seconds */
#define LOGIN_FAIL_MAX_USER	5		/* failures per username per window */
#define LOGIN_FAIL_MAX_ADDR	20		/* failures per address per window */

/* Apps */
#define LIMIT_APP_NAME		63
#define LIMIT_DESCRIPTION	1024
#define APP_ID_LEN		12
#define LIMIT_ALLOW_IPS		64		/* entries in allow_ips */
#define LIMIT_AUTH_HEADER	512
#define LIMIT_ENVS		64		/* envs entries */
#define LIMIT_ENV_NAME		128
#define LIMIT_ENV_VALUE		4096
#define LIMIT_VRAM_MIB		(1024 * 1024)	/* 1 TiB */
#define DEFAULT_PORT_RANGE	"7860-8860"
#define DEFAULT_START_TIMEOUT	60		/* seconds until ready */
#define DEFAULT_BUILD_TIMEOUT	1800		/* seconds */
#define LOG_TAIL_MAX		100000		/* lines */
#define LOG_FOLLOW_MAX		600		/* seconds one ?follow=1 may stream */

/* Archives */
#define ARCHIVE_MAX_ENTRIES	20000
#define ARCHIVE_MAX_BYTES	(4ULL * 1024 * 1024 * 1024)	/* unpacked */
#define ARCHIVE_MAX_RATIO	200		/* unpacked / packed */
#define ARCHIVE_RATIO_FLOOR	(16ULL * 1024 * 1024)	/* ratio applies above */
#define ARCHIVE_MAX_PATH	1024
#define ARCHIVE_MAX_DEPTH	64

/* Container API */
#define PAGE_SIZE_DEFAULT	20
#define PAGE_SIZE_MAX		100

/* SQLite */
#define DB_BUSY_TIMEOUT_MS	10000

/* GPUs (gpu.c) */
#define GPU_MAX			64		/* GPUs one host may report */
#define GPU_NAME_MAX		96		/* bytes of a GPU name */
#define GPU_UUID_MAX		80		/* bytes of a GPU UUID */
#define GPU_MEM_MAX_MIB		(4LL * 1024 * 1024)	/* 4 TiB on one GPU */
#define GPU_SMI_OUTPUT_MAX	(64 * 1024)	/* nvidia-smi output bytes read */
#define GPU_SMI_TIMEOUT_MS	10000		/* nvidia-smi may run this long */
#define GPU_ALLOC_SEARCH_MAX	50000		/* subsets tried for a multi-GPU split */
#define DEFAULT_NVIDIA_SMI	"nvidia-smi"	/* SLIPWAY_NVIDIA_SMI */

/* Docker Engine API (docker.c) */
#define DOCKER_API_MINOR_MIN	41		/* refuse daemons below API 1.41 */
#define DOCKER_API_MINOR_MAX	43		/* newest API version spoken (1.43) */
#define DOCKER_CONNECT_TIMEOUT_MS 2000		/* connecting to the socket */
#define DOCKER_CALL_TIMEOUT	30		/* seconds: inspect, list, create, start */
#define DOCKER_SLOW_TIMEOUT	600		/* seconds: image remove, prune */
#define DOCKER_REPLY_MAX	(16 * 1024 * 1024)	/* one reply body (inspect, list) */
#define DOCKER_ERROR_MAX	(64 * 1024)	/* one error reply body */
#define DOCKER_LINE_MAX		(1024 * 1024)	/* one message of a JSON stream */
#define DOCKER_FIELD_MAX	1024		/* id, name, image ref, state in a reply */
#define DOCKER_TEXT_MAX		(64 * 1024)	/* label value or error text in a reply */
#define DOCKER_LABELS_MAX	512		/* labels kept per object (more: skipped) */
#define DOCKER_REFS_MAX		256		/* refs kept per image or image load */
#define DOCKER_PORTS_MAX	1024		/* port entries kept per container */

/* Multipart and archives (multipart.c, archive.c) */
#define LIMIT_PART_HEADERS	8192		/* header block of one multipart part */
#define LIMIT_UPLOAD_FILENAME	255		/* client filename of the file part */
#define UPLOAD_WRITE_BUF	(64 * 1024)	/* file part write buffer */
#define ARCHIVE_MANIFEST_MAX	(1024 * 1024)	/* docker save manifest.json read by sniff */
#define ARCHIVE_SNIFF_TEXT	(64 * 1024)	/* bytes checked for "is a text .py" */
#define ARCHIVE_ZIP_CD_PER_ENTRY 302		/* zip central directory bytes per allowed entry */
#define TREE_MAX_DEPTH		256		/* walks in tree_* and archive_write_tar */
#define TREE_LIST_MAX		(1024 * 1024)	/* names read from one directory */

/* YAML: strict loader (yamlcfg.c), plugin config.yaml, compose files (compose.c) */
#define YAML_MAX_DEPTH		32		/* nested mappings/lists */
#define YAML_MAX_NODES		20000		/* scalars + collections per document */
#define YAML_MAX_ENTRIES	1024		/* items in one mapping or list */
#define YAML_MAX_KEY		1024		/* bytes in one mapping key */
#define PLUGIN_CONFIG_MAX_BYTES	(64 * 1024)	/* config.yaml */
#define PLUGIN_NAME_MAX		200		/* config.yaml name, bytes */
#define PLUGIN_CATEGORY_MAX	64		/* config.yaml category, bytes */
#define PLUGIN_ENTRYPOINT_MAX	255		/* actions.gradio.entrypoint, bytes */
#define COMPOSE_MAX_BYTES	(256 * 1024)	/* docker-compose.yml */
#define COMPOSE_MAX_SERVICES	20
#define COMPOSE_MAX_NAME	63		/* service, volume, network names */

/* Agent (agent*.c): slipway-agent */
#define AGENT_MAX_JOBS		8		/* job processes at once */
#define AGENT_MAX_BUILDS	4		/* of which deploys (builds) */
#define AGENT_POLL_MS		1000		/* queue polled at least this often */
#define AGENT_TICK_MS		2000		/* safety poll of containers, followers */
#define AGENT_HEARTBEAT_MS	10000		/* last_heartbeat refresh */
#define AGENT_DEATH_DELAY_MS	2000		/* a die event is judged this much later */
#define AGENT_BACKOFF_MIN_MS	250		/* Docker reconnect backoff */
#define AGENT_BACKOFF_MAX_MS	5000
#define AGENT_SHUTDOWN_MS	5000		/* children get this long after SIGTERM */
#define AGENT_JOB_GRACE		300		/* s beyond build+start timeouts: killed */
#define AGENT_STOP_TIMEOUT	5		/* s: docker stop grace (Init=true: fast) */
#define AGENT_PORT_ATTEMPTS	5		/* ports tried when Docker finds one taken */
#define AGENT_PROBE_CONNECT_MS	200		/* readiness: connect timeout */
#define AGENT_PROBE_READ_MS	2000		/* readiness: first bytes of the answer */
#define AGENT_PROBE_RETRY_MS	50		/* readiness: pause between attempts */
#define AGENT_PROBE_INSPECT_MS	300		/* readiness: container state checks */
#define AGENT_LOG_TAIL_LINES	20		/* container output in a failed start */
#define AGENT_DETAIL_MAX	1500		/* bytes of untrusted text in status_detail */
#define AGENT_REQUIREMENTS_MAX	(1024 * 1024)	/* requirements.txt */
#define AGENT_FOLLOW_LINE_MAX	(64 * 1024)	/* one container output line */
#define AGENT_FOLLOW_RESPAWN_MS	2000		/* a log follower restarts at most this often */
#define AGENT_COMPOSE_DOWN_TIMEOUT 120		/* s: compose down */
#define AGENT_GRADIO_PACKAGE	"gradio"	/* SLIPWAY_GRADIO_PACKAGE */
#define AGENT_COMPOSE_PROGRAM	"docker-compose" /* SLIPWAY_COMPOSE */

/* Templates (templates.c, h_templates.c) */
#define TEMPLATE_JSON_MAX	(64 * 1024)	/* template.json in a template folder */
#define TEMPLATES_SCAN_MAX	1024		/* folders looked at per templates directory */
#define TEMPLATE_SUFFIX_LEN	6		/* random suffix of a deployed app's default name */
#define TEMPLATE_NAME_TRIES	8		/* default names tried on a clash */

/* Container API (h_containers.c) */
#define CONTAINER_LABELS_MAX	32		/* labels on one container */
#define CONTAINER_METADATA_MAX	(16 * 1024)	/* metadata JSON bytes */
#define CONTAINER_PARAMS_MAX	LIMIT_ENV_VALUE	/* params JSON: PLUGIN_PARAMS */
#define CONTAINER_MODEL_MAX	9007199254740991LL /* 2^53 - 1: JSON-safe */
#define CONTAINER_JSON_DEPTH	16		/* nesting in JSON text */
#define CONTAINER_LABEL_FILTERS	8		/* ?label= filters per list */
#define CONTAINER_PAGE_MAX	100000000LL	/* ?page= upper bound */
#define CONTAINER_CREATE_TRIES	4		/* insert/conflict rounds */

/* Host runtime for gradio/plugin apps (agent_venv.c, SLIPWAY_GRADIO_RUNTIME=venv) */
#define AGENT_VENV_PYTHON	"python3"	/* SLIPWAY_PYTHON (PATH search) */
#define AGENT_VENV_PATH		"/usr/local/bin:/usr/bin:/bin"	/* after <venv>/bin */
#define AGENT_VENV_LANG		"C.UTF-8"	/* LANG of app and installs */
#define AGENT_VENV_NOFILE	4096		/* RLIMIT_NOFILE of app and installs */
#define AGENT_VENV_GROUPS_MAX	64		/* supplementary groups of SLIPWAY_RUN_USER */
#define AGENT_VENV_POLL_MS	100		/* installs, stops: state looked at this often */
#define AGENT_VENV_KILL_WAIT_MS	2000		/* after SIGKILL: wait this long for the group */
#define AGENT_VENV_STAT_MAX	1024		/* bytes of /proc/<pid>/stat read */

#endif
