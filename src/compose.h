/*
 * compose: check a docker-compose project before anything of it runs, and
 * write the normalised compose file that slipway actually runs.
 *
 * compose_check() loads the file with the strict loader (yamlcfg.h: no
 * anchors/aliases/merge keys/tags, one document, caps) and enforces the
 * rules below; the first broken rule is reported in err as
 * "<file name>: <where>: <rule>" (a 400 answer; no host paths in it).
 *
 * Rules (unknown keys are REJECTED everywhere: a key we do not know is a
 * key we cannot vouch for; extension keys "x-*" are accepted and dropped):
 *   top level   version, services, volumes, networks, secrets, configs
 *   services    1..20, names ^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$, each with
 *               image or build
 *   rejected    privileged (unless false), devices, device_cgroup_rules,
 *               cap_add, container_name, extends, external_links,
 *               volumes_from, userns_mode, uts, cgroup_parent, logging,
 *               runtime, sysctls, oom_score_adj, oom_kill_disable,
 *               mac_address, isolation, storage_opt, blkio_config,
 *               credential_spec, cpu_rt_period, cpu_rt_runtime, scale
 *   network_mode bridge, none or service:<service of this project>
 *   pid         service:<service>;  ipc: private|shareable|none|service:<s>
 *   security_opt only no-new-privileges (never unconfined)
 *   volumes     named volumes declared at the top level; anonymous volumes;
 *               bind mounts only of relative paths ("./data") that stay
 *               inside the project directory, following the symbolic links
 *               that exist; never an absolute path, "~", ".." out, or
 *               anything mentioning docker.sock; no bind propagation
 *   ports       exactly one entry in exactly one service, and it is
 *               "${PORT}:<container port>" (container port a number or
 *               ${PORT}), or the long form with published: ${PORT}; tcp
 *   env_file, build context/dockerfile, secrets/configs file: relative
 *               paths inside the project (build contexts: no URLs; files
 *               that exist must be regular files);
 *               build.network and build.isolation rejected
 *   top-level volumes: driver local only, no driver_opts/external/name;
 *   networks:   driver bridge only, no external/name/driver_opts/ipam/
 *               enable_ipv6;  secrets/configs: only file
 *   labels      keys starting "slipway." or "com.docker." are reserved
 *   deploy      resources.limits/reservations cpus+memory, restart_policy,
 *               labels; reservations.devices rejected (GPUs come from
 *               slipway)
 *   "$"         variable substitution is refused in every value these rules
 *               look at (except ${PORT} in ports): compose substitutes from
 *               the project's .env, which would otherwise change a checked
 *               value after the check.  A .env that is a symbolic link or
 *               not a regular file is refused.
 *
 * The project directory's real path must not contain ':' or '$' (it is
 * written into volume strings of the normalised file).
 */
#ifndef SLIPWAY_COMPOSE_H
#define SLIPWAY_COMPOSE_H

#include <stddef.h>

#include "caps.h"

struct buf;
struct yamlcfg_node;

struct compose_info {
	struct yamlcfg_node	*doc;		/* the checked document */
	char			*project_dir;	/* realpath of the project */
	/* the one service publishing ${PORT}, and its container port
	 * (0: the same number as the host port, "${PORT}:${PORT}") */
	char			 publisher[COMPOSE_MAX_NAME + 1];
	int			 container_port;
	size_t			 n_services;
	char			 services[COMPOSE_MAX_SERVICES][COMPOSE_MAX_NAME + 1];
};

/*
 * The compose file at the top of dir, in docker-compose's order:
 * docker-compose.yml, docker-compose.yaml, compose.yml, compose.yaml
 * (static string), or NULL when there is none.  Symbolic links count as
 * present (compose_check then refuses them).
 */
const char *compose_find(const char *dir);

/*
 * Check the compose file at path (inside project_dir).  On success *out is
 * filled (release with compose_info_free()).
 *
 * Check again right before every `up` (a restart too): a container with a
 * read-write bind of the project can change the tree (plant a symbolic
 * link) after an earlier check.  For the same reason write the normalised
 * file outside the project tree.
 */
int	compose_check(const char *path, const char *project_dir,
	    struct compose_info *out, char *err, size_t errlen);
/* The same over bytes in memory; label names the file in messages. */
int	compose_check_mem(const char *data, size_t len, const char *label,
	    const char *project_dir, struct compose_info *out, char *err,
	    size_t errlen);
void	compose_info_free(struct compose_info *);

/*
 * Append the normalised compose file to out.  Run it with
 *   docker-compose -p slipway-<id> -f <that file> up -d
 * with PORT=<host_port> in a minimal environment (PATH, HOME, PORT): the
 * file's own ${VAR} references are substituted by compose from that
 * environment and the project's .env, so never hand it the agent's.
 *
 * Why a whole normalised file and not an override (-f orig -f override):
 * docker-compose 1.29 MERGES list fields such as ports across files
 * (merge_unique_items_lists / ports keyed by target+published), so an
 * override cannot take away the original "${PORT}:80" published on
 * 0.0.0.0; it can only add to it.  So slipway writes the checked document
 * again, with:
 *   - version and x-* keys dropped (the compose spec schema, which 1.29
 *     uses for a file without version, takes everything below);
 *   - the publishing service's ports replaced by
 *     ["127.0.0.1:<host_port>:<container port or host_port>"];
 *   - label slipway.app=<app_id> on every service, every build (so the
 *     built images carry it), every named volume and network (including
 *     the default network when a service uses it);
 *   - host paths (build contexts, bind sources, env_file, secret/config
 *     files) made absolute under the project's real path, so the file may
 *     be written anywhere;
 *   - a service's image name that this project builds (build + image) is
 *     renamed slipway-<app_id>/<name>:<tag>, in every service that uses
 *     it, so apps cannot overwrite each other's or shared base images;
 *   - env: "NAME=value" strings (names ^[A-Za-z_][A-Za-z0-9_]*$) set in
 *     the publishing service's environment ($ escaped as $$);
 *   - with gpu_ids (indices or GPU-UUIDs), every service gets
 *     deploy.resources.reservations.devices
 *     [{driver: nvidia, device_ids: [...], capabilities: [gpu]}].
 * Returns -1 (logged) only for invalid arguments.
 */
int	compose_write_normalized(const struct compose_info *,
	    const char *app_id, int host_port, const char *const *gpu_ids,
	    size_t n_gpu, const char *const *env, size_t n_env,
	    struct buf *out);

#endif
