/* SPDX-License-Identifier: MIT */
/*
 * arena_mpmc.h - Vyukov's bounded multi-producer multi-consumer queue of u64 values.
 * Each cell carries a sequence number saying whose turn it is; positions are claimed
 * with a CAS on the enqueue/dequeue counter (each on its own cache line). FIFO per
 * producer. Full/empty are reported only when the next cell is truly not ready.
 */
#ifndef ERMFS_ARENA_MPMC_H
#define ERMFS_ARENA_MPMC_H

#include "arena_common.h"

struct arena_mpmc_cell {
	arena_u64 seq;
	arena_u64 value;
};

struct arena_mpmc {
	arena_u64 enqueue_pos;
	arena_u8 pad0_[ARENA_CACHE_LINE - 8];
	arena_u64 dequeue_pos;
	arena_u8 pad1_[ARENA_CACHE_LINE - 8];
	arena_u64 mask;
	arena_u32 magic;
	arena_u32 capacity;
	arena_u8 pad2_[ARENA_CACHE_LINE - 16];
	struct arena_mpmc_cell cells[];
};

#define ARENA_MPMC_MAGIC 0x4d504d43u

ARENA_INLINE arena_u64 arena_mpmc_bytes(arena_u32 capacity)
{
	return sizeof(struct arena_mpmc) + (arena_u64)capacity * sizeof(struct arena_mpmc_cell);
}

/* capacity: a power of two >= 2. */
ARENA_INLINE int arena_mpmc_init(arena_base_t base, arena_off_t at, arena_u32 capacity, arena_off_t pool)
{
	struct arena_mpmc __arena *q = ARENA_PTR(base, struct arena_mpmc, at);
	arena_u32 i;

	(void)pool;
	if (at == 0 || capacity < 2 || !ARENA_IS_POW2(capacity))
		return -ARENA_EINVAL;
	for (i = 0; i < capacity && arena_may_loop(); i++)
		arena_atomic_store(&q->cells[i].seq, i, ARENA_RELAXED);
	if (i != capacity)
		return -ARENA_ELOOP;
	q->mask = capacity - 1;
	q->capacity = capacity;
	arena_atomic_store(&q->enqueue_pos, 0, ARENA_RELAXED);
	arena_atomic_store(&q->dequeue_pos, 0, ARENA_RELAXED);
	arena_atomic_store(&q->magic, ARENA_MPMC_MAGIC, ARENA_RELEASE);
	return ARENA_OK;
}

ARENA_INLINE int arena_mpmc_push(arena_base_t base, arena_off_t at, arena_u64 value)
{
	struct arena_mpmc __arena *q = ARENA_PTR(base, struct arena_mpmc, at);
	arena_u64 pos = arena_atomic_load(&q->enqueue_pos, ARENA_RELAXED);

	while (arena_may_loop()) {
		struct arena_mpmc_cell __arena *cell = &q->cells[pos & q->mask];
		arena_u64 seq = arena_atomic_load(&cell->seq, ARENA_ACQUIRE); /* site: consume */
		arena_s64 dif = (arena_s64)(seq - pos);

		if (dif == 0) {
			arena_u64 seen = arena_atomic_cmpxchg(&q->enqueue_pos, pos, pos + 1, ARENA_ACQ_REL, ARENA_RELAXED);

			if (seen == pos) {
				arena_atomic_store(&cell->value, value, ARENA_RELAXED);
				arena_atomic_store(&cell->seq, pos + 1, ARENA_RELEASE); /* site: publish */
				return ARENA_OK;
			}
			pos = seen;
		} else if (dif < 0) {
			/* The cell one lap back is still occupied. */
			return -ARENA_EFULL;
		} else {
			pos = arena_atomic_load(&q->enqueue_pos, ARENA_RELAXED);
		}
	}
	return -ARENA_ELOOP;
}

ARENA_INLINE int arena_mpmc_pop(arena_base_t base, arena_off_t at, arena_u64 *value)
{
	struct arena_mpmc __arena *q = ARENA_PTR(base, struct arena_mpmc, at);
	arena_u64 pos = arena_atomic_load(&q->dequeue_pos, ARENA_RELAXED);

	while (arena_may_loop()) {
		struct arena_mpmc_cell __arena *cell = &q->cells[pos & q->mask];
		arena_u64 seq = arena_atomic_load(&cell->seq, ARENA_ACQUIRE); /* site: consume */
		arena_s64 dif = (arena_s64)(seq - (pos + 1));

		if (dif == 0) {
			arena_u64 seen = arena_atomic_cmpxchg(&q->dequeue_pos, pos, pos + 1, ARENA_ACQ_REL, ARENA_RELAXED);

			if (seen == pos) {
				*value = arena_atomic_load(&cell->value, ARENA_RELAXED);
				arena_atomic_store(&cell->seq, pos + q->mask + 1, ARENA_RELEASE); /* site: publish */
				return ARENA_OK;
			}
			pos = seen;
		} else if (dif < 0) {
			return -ARENA_EEMPTY;
		} else {
			pos = arena_atomic_load(&q->dequeue_pos, ARENA_RELAXED);
		}
	}
	return -ARENA_ELOOP;
}

/* Quiescent check: every cell's sequence agrees with the two positions. */
ARENA_INLINE int arena_mpmc_verify(arena_base_t base, arena_off_t at, arena_u64 *count)
{
	struct arena_mpmc __arena *q = ARENA_PTR(base, struct arena_mpmc, at);
	arena_u64 deq = arena_atomic_load(&q->dequeue_pos, ARENA_ACQUIRE);
	arena_u64 enq = arena_atomic_load(&q->enqueue_pos, ARENA_ACQUIRE);
	arena_u64 pos;

	if (q->magic != ARENA_MPMC_MAGIC || q->mask + 1 != q->capacity || enq - deq > q->capacity)
		return -ARENA_ECORRUPT;
	for (pos = deq; pos != deq + q->capacity && arena_may_loop(); pos++) {
		arena_u64 seq = arena_atomic_load(&q->cells[pos & q->mask].seq, ARENA_ACQUIRE);
		arena_u64 want = pos < enq ? pos + 1 : pos;

		if (seq != want)
			return -ARENA_ECORRUPT;
	}
	*count = enq - deq;
	return ARENA_OK;
}

#endif /* ERMFS_ARENA_MPMC_H */
