/* SPDX-License-Identifier: MIT */
/*
 * arena_lane.bpf.c - the lane between user space and SEC("syscall") programs run on
 * demand with BPF_PROG_TEST_RUN, on whichever structure control.lane_kind names.
 * lane_drain (user -> kernel) takes everything and records how many values and their
 * sum (a checksum user space compares); the io_uring-style pair answers each
 * submission with a completion (res = value + 1). lane_fill (kernel -> user) pushes
 * announced values while user space pops them, the kernel side's producer.
 */
/* Tests set control.fault_injection to spend the loop budget between take and free. */
static inline __attribute__((always_inline)) void lane_after_take(void);
#define ARENA_AFTER_TAKE() lane_after_take()

#include "ermfs_bpf.h"
#include "arena_hashset.h"
#include "arena_mpmc.h"
#include "arena_msqueue.h"
#include "arena_spsc.h"
#include "arena_treiber.h"
#include "arena_uring.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline void lane_after_take(void)
{
	struct arena_control __arena *control = ERMFS_CONTROL();

	if (control->fault_injection & ARENA_FAULT_BUDGET_AFTER_TAKE)
		arena_spend_loop_budget();
}

static __always_inline int lane_take(arena_u32 kind, arena_off_t at, arena_u64 *value)
{
	arena_u64 arg;

	switch (kind) {
	case ARENA_KIND_SPSC: return arena_spsc_pop(0, at, value);
	case ARENA_KIND_MPMC: return arena_mpmc_pop(0, at, value);
	case ARENA_KIND_MSQUEUE: return arena_msqueue_pop(0, at, value);
	case ARENA_KIND_TREIBER: return arena_treiber_pop(0, at, value);
	case ARENA_KIND_URING: {
		int status = arena_uring_take(0, at, value, &arg);

		return status ? status : arena_uring_complete(0, at, *value, (arena_s64)(*value + 1));
	}
	}
	return -ARENA_EINVAL;
}

SEC("syscall")
int lane_drain(void *ctx)
{
	struct arena_control __arena *control = ERMFS_CONTROL();
	arena_u32 kind = control->lane_kind;
	arena_off_t at = control->lane_at;
	arena_u64 consumed = 0, checksum = 0, value = 0;
	int status = ARENA_OK;

	ERMFS_USE_ARENA();
	if (control->magic != ARENA_CONTROL_MAGIC)
		return -ARENA_EINVAL;
	if (kind == ARENA_KIND_HASHSET) {
		/* A set has no order: remove each key of the announced range. */
		arena_u64 key = control->lane_key_first, end = key + control->lane_key_count;

		for (; key < end && arena_may_loop(); key++) {
			value = key;
			status = arena_hashset_pop(0, at, &value);
			if (status == ARENA_OK) {
				consumed++;
				checksum += key;
			} else if (status != -ARENA_EEMPTY) {
				break;
			}
		}
		/* Stopping early after an "absent" key is the loop budget too, not a finish. */
		if (key == end)
			status = ARENA_OK;
		else if (status == ARENA_OK || status == -ARENA_EEMPTY)
			status = -ARENA_ELOOP;
	} else {
		while (arena_may_loop()) {
			status = lane_take(kind, at, &value);
			if (status != ARENA_OK)
				break;
			consumed++;
			checksum += value;
		}
		/* Leaving with OK means the loop budget ended it, not an empty structure. */
		if (status == ARENA_OK)
			status = -ARENA_ELOOP;
	}
	arena_atomic_add(&control->lane_consumed, consumed, ARENA_RELAXED);
	arena_atomic_add(&control->lane_checksum, checksum, ARENA_RELAXED);
	arena_atomic_store(&control->lane_status, (arena_s64)status, ARENA_RELAXED);
	arena_atomic_inc(&control->lane_runs, ARENA_RELEASE);
	return 0;
}

static __always_inline int lane_put(arena_u32 kind, arena_off_t at, arena_u64 value)
{
	switch (kind) {
	case ARENA_KIND_SPSC: return arena_spsc_push(0, at, value);
	case ARENA_KIND_MPMC: return arena_mpmc_push(0, at, value);
	case ARENA_KIND_MSQUEUE: return arena_msqueue_push(0, at, value);
	case ARENA_KIND_TREIBER: return arena_treiber_push(0, at, value);
	}
	return -ARENA_EINVAL;
}

/* Pushes lane_fill_next, +1, ... until lane_fill_end, a full structure or the loop
 * budget stops it; the next run goes on from there. One run at a time (it is the
 * structure's only producer for SPSC). */
SEC("syscall")
int lane_fill(void *ctx)
{
	struct arena_control __arena *control = ERMFS_CONTROL();
	arena_u32 kind = control->lane_kind;
	arena_off_t at = control->lane_at;
	arena_u64 next = arena_atomic_load(&control->lane_fill_next, ARENA_RELAXED);
	arena_u64 end = arena_atomic_load(&control->lane_fill_end, ARENA_ACQUIRE);
	arena_u64 produced = 0, checksum = 0;
	int status = ARENA_OK;

	ERMFS_USE_ARENA();
	if (control->magic != ARENA_CONTROL_MAGIC)
		return -ARENA_EINVAL;
	while (next < end && arena_may_loop()) {
		status = lane_put(kind, at, next);
		if (status != ARENA_OK)
			break;
		produced++;
		checksum += next;
		next++;
	}
	if (next < end && status == ARENA_OK)
		status = -ARENA_ELOOP;
	arena_atomic_store(&control->lane_fill_next, next, ARENA_RELEASE);
	arena_atomic_add(&control->lane_produced, produced, ARENA_RELAXED);
	arena_atomic_add(&control->lane_produced_checksum, checksum, ARENA_RELAXED);
	arena_atomic_store(&control->lane_fill_status, (arena_s64)status, ARENA_RELEASE);
	return 0;
}
