/*
 * gpu: GPU inventory, VRAM reservations and device assignment.
 *
 * Inventory (gpu_inventory): NVML loaded at run time with
 * dlopen("libnvidia-ml.so.1"), else `nvidia-smi --query-gpu=index,uuid,name,
 * memory.total,memory.used --format=csv,noheader,nounits` run with
 * posix_spawn (no shell), its output capped and parsed strictly as untrusted
 * CSV: any bad line rejects the whole answer.  A host with neither has no
 * GPUs, and that is not an error.  When the source names no program,
 * SLIPWAY_NVIDIA_SMI, if set, names the nvidia-smi to run and NVML is
 * skipped (so a fake inventory wins even on a GPU host); otherwise NVML
 * first, then "nvidia-smi" from PATH.  tests/data/gpu/nvidia-smi-file is a
 * fake that prints the CSV file named by SLIPWAY_FAKE_GPUS (for e2e tests).
 *
 * Availability.  Per GPU:
 *     free = total - reserved - foreign_used
 *     foreign_used = max(0, used - reserved)
 * i.e. free = total - max(used, reserved), never below 0.  "used" is the
 * device's memory in use as reported (all processes, slipway's too), and
 * "reserved" the sum of slipway's reservations on it.  Telling slipway's own
 * processes apart by pid does not work across containers, so this is an
 * approximation that never counts an app's own usage twice (the flaw of
 * subtracting both its reported usage and its reservation).  It
 * under-counts foreign usage while slipway apps use less than they reserved.
 * Invariant kept by gpu_reserve: on every GPU, sum(reservations) <= total.
 *
 * Reservations live in the table gpu_reservations(gpu_index, app_id, mib);
 * apps.gpus mirrors them as "0,2" (ascending indices).  Every change runs in
 * BEGIN IMMEDIATE (db_begin), or, when the caller already holds a
 * transaction (db->in_tx), inside a savepoint of the caller's.
 */
#ifndef SLIPWAY_GPU_H
#define SLIPWAY_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "caps.h"

struct db;
struct json_object;

struct gpu_info {
	int	 index;				/* 0 .. GPU_MAX-1, unique */
	char	 uuid[GPU_UUID_MAX + 1];	/* "GPU-" hex and dashes */
	char	 name[GPU_NAME_MAX + 1];	/* printable ASCII */
	int64_t	 total_mib;			/* 1 .. GPU_MEM_MAX_MIB */
	int64_t	 used_mib;			/* 0 .. total_mib */
};

/* GPUs sorted by index.  No heap memory: nothing to free. */
struct gpu_list {
	size_t		 n;
	struct gpu_info	 gpu[GPU_MAX];
};

/*
 * NVML entry points, for tests that stand in for the library (return codes
 * are nvmlReturn_t: 0 is success; devices are nvmlDevice_t handles).
 */
struct gpu_nvml_memory {		/* nvmlMemory_t, bytes */
	unsigned long long	total;
	unsigned long long	free;
	unsigned long long	used;
};
struct gpu_nvml_api {
	int	(*init)(void);
	int	(*shutdown)(void);
	int	(*get_count)(unsigned int *);
	int	(*get_handle)(unsigned int, void **);
	int	(*get_name)(void *, char *, unsigned int);
	int	(*get_uuid)(void *, char *, unsigned int);
	int	(*get_memory)(void *, struct gpu_nvml_memory *);
};

/*
 * Where the inventory comes from; all-zero (or a NULL pointer) means the
 * defaults described above.  Borrowed strings.
 */
struct gpu_source {
	const char			*fixture;	/* parse this CSV, run nothing */
	int				 no_nvml;	/* skip NVML */
	const struct gpu_nvml_api	*nvml;		/* instead of dlopen */
	const char			*nvidia_smi;	/* program (PATH search without '/') */
	int				 timeout_ms;	/* 0: GPU_SMI_TIMEOUT_MS */
};

/*
 * Fill *out (written only on success).  0 (possibly with out->n == 0), or
 * -1 with a warning logged: NVML failed after it loaded, nvidia-smi failed,
 * timed out, wrote too much or wrote anything that does not parse.
 */
int	gpu_inventory(const struct gpu_source *, struct gpu_list *out);

/* The nvidia-smi CSV parser on its own (also for the fuzzer). 0 or -1. */
int	gpu_parse_csv(const char *data, size_t len, struct gpu_list *out);

/* free = total - max(used, reserved), at least 0 (see above). */
int64_t	gpu_free_mib(int64_t total, int64_t used, int64_t reserved);

/*
 * Allocation, a pure function.  need 0: no GPU (*n_out = 0).  Else the
 * fewest GPUs whose free memory together covers need; among those the least
 * total leftover (sum of free - need); ties go to the lowest indices.  So
 * one GPU when one suffices, and then the best fit (smallest sufficient
 * free, lowest index).  Per-GPU shares fill the largest free first, so they
 * add up to need exactly.  out must have room for n entries; it is written
 * in ascending index order, only on success.  -1 when nothing fits (or need
 * < 0).  Entries with free <= 0 are never chosen.
 */
struct gpu_avail {
	int	 index;
	int64_t	 free_mib;
};
struct gpu_share {
	int	 index;
	int64_t	 mib;
};
int	gpu_allocate(const struct gpu_avail *gpus, size_t n, int64_t need_mib,
	    struct gpu_share *out, size_t *n_out);

/*
 * Reserve need_mib for the app (apps.id) against this inventory, writing
 * the chosen indices ("0,2", "" for need 0) to gpus_out on success.
 * Idempotent: an app that already holds reservations of exactly need_mib on
 * GPUs still in the inventory keeps them; a different amount is released
 * and allocated afresh (atomically: on failure the old one stays).
 * err (may be NULL) gets a message fit for status_detail on failure.
 */
enum gpu_reserve_result {
	GPU_RESERVE_ERROR = -1,	/* database or argument error */
	GPU_RESERVE_OK = 0,
	GPU_RESERVE_NOROOM = 1,	/* "no GPU with N MiB free": may fit later */
	GPU_RESERVE_NEVER = 2,	/* more than the GPUs hold even when idle */
};
int	gpu_reserve(struct db *, const struct gpu_list *inventory,
	    int64_t app_rowid, int64_t need_mib, char *gpus_out, size_t gpus_outsz,
	    char *err, size_t errsz);

/* Drop the app's reservations and clear apps.gpus.  0 or -1. */
int	gpu_release(struct db *, int64_t app_rowid);

/*
 * At agent start: drop the reservations of apps not queued, building,
 * starting or running, and make apps.gpus agree with the rows.  0 or -1.
 */
int	gpu_rederive(struct db *);

/*
 * The GET /gpus answer: [{"index","name","uuid","memory_total",
 * "memory_free","reserved","apps":[app_id, ...]}], one per inventory GPU
 * (memory_free as computed above).  NULL on a database error.  Caller owns
 * the reference (json_object_put).
 */
struct json_object *gpu_list_json(struct db *, const struct gpu_list *);

/*
 * Device assignment from an apps.gpus value.  gpu_device_ids validates the
 * canonical form (ascending, distinct decimal indices < GPU_MAX, commas,
 * nothing else; "" is no GPU) and writes the indices, for Docker's
 * HostConfig.DeviceRequests [{"Driver":"nvidia","DeviceIDs":["0","2"],
 * "Capabilities":[["gpu"]]}].  0, or -1 when invalid or more than max.
 * gpu_cuda_visible_devices writes the CUDA_VISIBLE_DEVICES value for an app
 * run on the host ("" hides every GPU); set CUDA_DEVICE_ORDER to
 * GPU_CUDA_DEVICE_ORDER with it, so CUDA numbers GPUs as nvidia-smi does.
 */
#define GPU_CUDA_DEVICE_ORDER	"PCI_BUS_ID"
int	gpu_device_ids(const char *gpus_csv, int *ids, size_t max, size_t *n);
int	gpu_cuda_visible_devices(const char *gpus_csv, char *out, size_t outsz);

#endif
