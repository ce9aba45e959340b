#define _GNU_SOURCE
#include "arena_structures.h"

#include "bpf-include/arena_hashset.h"
#include "bpf-include/arena_mpmc.h"
#include "bpf-include/arena_msqueue.h"
#include "bpf-include/arena_pool.h"
#include "bpf-include/arena_spsc.h"
#include "bpf-include/arena_treiber.h"
#include "bpf-include/arena_uring.h"
#include "bpf-include/arena_layout.h"

#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(struct ermfs_file_event) == 8 * 2 + 4 * 8 + ARENA_COMM_MAX + ARENA_NAME_MAX, "event view");
_Static_assert(ERMFS_NAME_TRUNCATED == ARENA_NAME_TRUNCATED && ERMFS_NAME_UNREADABLE == ARENA_NAME_UNREADABLE &&
		       ERMFS_NAME_PATH == ARENA_NAME_PATH, "name flags");

/* One switch per operation keeps Swift's view to a single signature. */
#define ARENA_DISPATCH(kind, op, ...)                                                \
	switch (kind) {                                                              \
	case ERMFS_ARENA_SPSC: return arena_spsc_##op(__VA_ARGS__);                  \
	case ERMFS_ARENA_MPMC: return arena_mpmc_##op(__VA_ARGS__);                  \
	case ERMFS_ARENA_MSQUEUE: return arena_msqueue_##op(__VA_ARGS__);            \
	case ERMFS_ARENA_TREIBER: return arena_treiber_##op(__VA_ARGS__);            \
	case ERMFS_ARENA_URING: return arena_uring_##op(__VA_ARGS__);                \
	case ERMFS_ARENA_HASHSET: return arena_hashset_##op(__VA_ARGS__);            \
	}

uint64_t ermfs_arena_bytes(int kind, uint32_t capacity)
{
	ARENA_DISPATCH(kind, bytes, capacity)
	return 0;
}

int ermfs_arena_init(int kind, void *base, uint32_t at, uint32_t capacity, uint32_t pool)
{
	ARENA_DISPATCH(kind, init, base, at, capacity, pool)
	return -ARENA_EINVAL;
}

int ermfs_arena_push(int kind, void *base, uint32_t at, uint64_t value)
{
	ARENA_DISPATCH(kind, push, base, at, value)
	return -ARENA_EINVAL;
}

int ermfs_arena_pop(int kind, void *base, uint32_t at, uint64_t *value)
{
	arena_u64 v = *value;
	int status = -ARENA_EINVAL;

	switch (kind) {
	case ERMFS_ARENA_SPSC: status = arena_spsc_pop(base, at, &v); break;
	case ERMFS_ARENA_MPMC: status = arena_mpmc_pop(base, at, &v); break;
	case ERMFS_ARENA_MSQUEUE: status = arena_msqueue_pop(base, at, &v); break;
	case ERMFS_ARENA_TREIBER: status = arena_treiber_pop(base, at, &v); break;
	case ERMFS_ARENA_URING: status = arena_uring_pop(base, at, &v); break;
	case ERMFS_ARENA_HASHSET: status = arena_hashset_pop(base, at, &v); break;
	}
	*value = v;
	return status;
}

int ermfs_arena_verify(int kind, void *base, uint32_t at, uint64_t *count)
{
	arena_u64 n = 0;
	int status = -ARENA_EINVAL;

	switch (kind) {
	case ERMFS_ARENA_SPSC: status = arena_spsc_verify(base, at, &n); break;
	case ERMFS_ARENA_MPMC: status = arena_mpmc_verify(base, at, &n); break;
	case ERMFS_ARENA_MSQUEUE: status = arena_msqueue_verify(base, at, &n); break;
	case ERMFS_ARENA_TREIBER: status = arena_treiber_verify(base, at, &n); break;
	case ERMFS_ARENA_URING: status = arena_uring_verify(base, at, &n); break;
	case ERMFS_ARENA_HASHSET: status = arena_hashset_verify(base, at, &n); break;
	}
	*count = n;
	return status;
}

int ermfs_arena_uring_take(void *base, uint32_t at, uint64_t *user_data, uint64_t *arg)
{
	arena_u64 u = 0, a = 0;
	int status = arena_uring_take(base, at, &u, &a);

	*user_data = u;
	*arg = a;
	return status;
}

int ermfs_arena_uring_complete(void *base, uint32_t at, uint64_t user_data, int64_t res)
{
	return arena_uring_complete(base, at, user_data, res);
}

int ermfs_arena_uring_reap(void *base, uint32_t at, uint64_t *user_data, int64_t *res)
{
	arena_u64 u = 0;
	arena_s64 r = 0;
	int status = arena_uring_reap(base, at, &u, &r);

	*user_data = u;
	*res = r;
	return status;
}

int ermfs_arena_hashset_contains(void *base, uint32_t at, uint64_t key)
{
	return arena_hashset_contains(base, at, key);
}

uint64_t ermfs_arena_pool_bytes(uint32_t node_size, uint32_t count)
{
	return arena_pool_bytes(node_size, count);
}

int ermfs_arena_pool_init(void *base, uint32_t at, uint32_t node_size, uint32_t count)
{
	return arena_pool_init(base, at, node_size, count);
}

uint32_t ermfs_arena_pool_alloc(void *base, uint32_t at, int *status)
{
	return arena_pool_alloc(base, at, status);
}

int ermfs_arena_pool_free(void *base, uint32_t at, uint32_t node)
{
	return arena_pool_free(base, at, node);
}

int ermfs_arena_pool_verify(void *base, uint32_t at, uint64_t *free_count, uint64_t *parked_count)
{
	arena_u64 n = 0, parked = 0;
	int status = arena_pool_verify(base, at, &n, &parked);

	*free_count = n;
	*parked_count = parked;
	return status;
}

uint64_t ermfs_arena_pool_reclaim(void *base, uint32_t at)
{
	return arena_pool_reclaim(base, at);
}

void ermfs_arena_pool_park(void *base, uint32_t at, uint32_t node)
{
	arena_pool_park(base, at, node);
}

void ermfs_arena_prefault(const void *base, uint64_t bytes)
{
	/* Any user fault on an arena page allocates it (kernel/bpf/arena.c); a read keeps
	 * whatever user space already wrote. */
	for (uint64_t off = 0; off < bytes; off += ARENA_PAGE_SIZE)
		(void)*(const volatile char *)((const char *)base + off);
}

uint64_t ermfs_arena_load_acquire(const void *address)
{
	return arena_atomic_load((const arena_u64 *)address, ARENA_ACQUIRE);
}

void ermfs_arena_store_release(void *address, uint64_t value)
{
	arena_atomic_store((arena_u64 *)address, value, ARENA_RELEASE);
}

void ermfs_arena_cpu_relax(void)
{
	arena_cpu_relax();
}

uint32_t ermfs_arena_control_bytes(void)
{
	return sizeof(struct arena_control);
}

uint32_t ermfs_arena_event_node_size(void)
{
	return ARENA_ALIGN_UP(sizeof(struct arena_file_event), 8);
}

uint64_t ermfs_arena_user_address(void)
{
	return ARENA_USER_ADDRESS;
}

void ermfs_arena_control_init(void *base)
{
	struct arena_control *control = base;

	memset(control, 0, sizeof(*control));
	control->version = ARENA_LAYOUT_VERSION;
	arena_atomic_store(&control->magic, ARENA_CONTROL_MAGIC, ARENA_RELEASE);
}

void ermfs_arena_control_set_events(void *base, int kind, uint32_t at, uint32_t pool, uint32_t hook)
{
	struct arena_control *control = base;

	control->event_kind = (arena_u32)kind;
	control->event_at = at;
	control->event_pool = pool;
	control->active_hook = hook;
}

void ermfs_arena_control_set_filter(void *base, uint32_t tgid, uint64_t pidns_dev, uint64_t pidns_ino,
				    int pidns_initial)
{
	struct arena_control *control = base;

	control->filter_tgid = tgid;
	control->filter_pidns_dev = pidns_dev;
	control->filter_pidns_ino = pidns_ino;
	control->filter_pidns_initial = pidns_initial ? 1u : 0u;
}

void ermfs_arena_control_enable_events(void *base, int enabled)
{
	struct arena_control *control = base;

	arena_atomic_store(&control->filter_enabled, enabled ? 1u : 0u, ARENA_RELEASE);
}

void ermfs_arena_control_reset_event_counters(void *base)
{
	struct arena_control *control = base;

	arena_atomic_store(&control->event_sequence, 0, ARENA_RELAXED);
	arena_atomic_store(&control->events_published, 0, ARENA_RELAXED);
	arena_atomic_store(&control->events_dropped, 0, ARENA_RELAXED);
	arena_atomic_store(&control->events_loop_budget, 0, ARENA_RELAXED);
	arena_atomic_store(&control->names_read_at_exit, 0, ARENA_RELAXED);
	arena_atomic_store(&control->doorbells_rung, 0, ARENA_RELEASE);
}

void ermfs_arena_control_quiesce(void *base)
{
	struct arena_control *control = base;

	/* Dekker with producer_enter in file_events.bpf.c: clear, full barrier, then look. */
	(void)arena_atomic_exchange(&control->filter_enabled, 0u, ARENA_SEQ_CST);
	while (arena_atomic_load(&control->producers_in_flight, ARENA_SEQ_CST) != 0)
		sched_yield();
}

_Static_assert(ERMFS_FAULT_BUDGET_AFTER_TAKE == ARENA_FAULT_BUDGET_AFTER_TAKE &&
		       ERMFS_FAULT_BUDGET_BEFORE_PUSH == ARENA_FAULT_BUDGET_BEFORE_PUSH, "fault points");

void ermfs_arena_control_set_fault_injection(void *base, uint32_t points)
{
	struct arena_control *control = base;

	arena_atomic_store(&control->fault_injection, points, ARENA_RELEASE);
}

void ermfs_arena_control_set_lane(void *base, int kind, uint32_t at, uint64_t key_first, uint64_t key_count)
{
	struct arena_control *control = base;

	control->lane_kind = (arena_u32)kind;
	control->lane_at = at;
	control->lane_key_first = key_first;
	arena_atomic_store(&control->lane_key_count, key_count, ARENA_RELEASE);
}

void ermfs_arena_control_set_fill(void *base, uint64_t first, uint64_t count)
{
	struct arena_control *control = base;

	arena_atomic_store(&control->lane_fill_next, first, ARENA_RELAXED);
	arena_atomic_store(&control->lane_fill_end, first + count, ARENA_RELEASE);
}

void ermfs_arena_control_read(const void *base, struct ermfs_arena_counters *out)
{
	const struct arena_control *control = base;

	out->event_sequence = arena_atomic_load(&control->event_sequence, ARENA_ACQUIRE);
	out->events_published = arena_atomic_load(&control->events_published, ARENA_ACQUIRE);
	out->events_dropped = arena_atomic_load(&control->events_dropped, ARENA_ACQUIRE);
	out->events_loop_budget = arena_atomic_load(&control->events_loop_budget, ARENA_ACQUIRE);
	out->names_read_at_exit = arena_atomic_load(&control->names_read_at_exit, ARENA_ACQUIRE);
	out->lane_runs = arena_atomic_load(&control->lane_runs, ARENA_ACQUIRE);
	out->lane_consumed = arena_atomic_load(&control->lane_consumed, ARENA_ACQUIRE);
	out->lane_checksum = arena_atomic_load(&control->lane_checksum, ARENA_ACQUIRE);
	out->lane_status = arena_atomic_load(&control->lane_status, ARENA_ACQUIRE);
	out->lane_produced = arena_atomic_load(&control->lane_produced, ARENA_ACQUIRE);
	out->lane_produced_checksum = arena_atomic_load(&control->lane_produced_checksum, ARENA_ACQUIRE);
	out->lane_fill_next = arena_atomic_load(&control->lane_fill_next, ARENA_ACQUIRE);
	out->lane_fill_end = arena_atomic_load(&control->lane_fill_end, ARENA_ACQUIRE);
	out->lane_fill_status = arena_atomic_load(&control->lane_fill_status, ARENA_ACQUIRE);
	out->doorbells_rung = arena_atomic_load(&control->doorbells_rung, ARENA_ACQUIRE);
	out->consumer_sleeping = arena_atomic_load(&control->consumer_sleeping, ARENA_ACQUIRE);
}

void ermfs_arena_control_set_sleeping(void *base, int sleeping)
{
	struct arena_control *control = base;

	(void)arena_atomic_exchange(&control->consumer_sleeping, sleeping ? 1ull : 0ull, ARENA_SEQ_CST);
}

int ermfs_arena_take_event(int kind, void *base, uint32_t at, uint32_t pool, struct ermfs_file_event *out)
{
	uint64_t off = 0;
	const struct arena_file_event *event;
	int status = ermfs_arena_pop(kind, base, at, &off);

	if (status == -ARENA_EEMPTY)
		(void)arena_pool_reclaim(base, pool); /* nodes a producer parked (arena_pool.h) */
	if (status != 0)
		return status;
	if (!arena_pool_owns(base, pool, (arena_off_t)off))
		return -ARENA_ECORRUPT;
	/* The structure's acquire pop makes the producer's plain writes visible. */
	event = (const struct arena_file_event *)((char *)base + off);
	out->sequence = event->sequence;
	out->timestamp_ns = event->timestamp_ns;
	out->pid = event->pid;
	out->tgid = event->tgid;
	out->mode = event->mode;
	out->hook = event->hook;
	out->syscall = event->syscall;
	out->dirfd = event->dirfd;
	out->name_flags = event->name_flags;
	out->reserved = 0;
	memcpy(out->comm, event->comm, sizeof(out->comm));
	memcpy(out->name, event->name, sizeof(out->name));
	out->comm[sizeof(out->comm) - 1] = 0;
	out->name[sizeof(out->name) - 1] = 0;
	return arena_pool_free(base, pool, (arena_off_t)off);
}

int32_t ermfs_gettid(void)
{
	return (int32_t)syscall(SYS_gettid);
}
