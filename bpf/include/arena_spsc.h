/* SPDX-License-Identifier: MIT */
/*
 * arena_spsc.h - bounded single-producer single-consumer ring of u64 values
 * (Lamport, with Folly-style cached opposite indices). The producer's tail and the
 * consumer's head sit on separate cache lines, each beside its owner's cached copy
 * of the other index, so the fast path touches no line the other side writes.
 * FIFO; exactly one producer and one consumer at a time.
 */
#ifndef ERMFS_ARENA_SPSC_H
#define ERMFS_ARENA_SPSC_H

#include "arena_common.h"

struct arena_spsc {
	arena_u64 tail;        /* written by the producer only */
	arena_u64 cached_head; /* producer's last view of head */
	arena_u8 pad0_[ARENA_CACHE_LINE - 16];
	arena_u64 head;        /* written by the consumer only */
	arena_u64 cached_tail; /* consumer's last view of tail */
	arena_u8 pad1_[ARENA_CACHE_LINE - 16];
	arena_u64 mask;        /* capacity - 1; read-only after init */
	arena_u32 magic;
	arena_u32 capacity;
	arena_u8 pad2_[ARENA_CACHE_LINE - 16];
	arena_u64 slots[];
};

#define ARENA_SPSC_MAGIC 0x53505343u

ARENA_INLINE arena_u64 arena_spsc_bytes(arena_u32 capacity)
{
	return sizeof(struct arena_spsc) + (arena_u64)capacity * sizeof(arena_u64);
}

/* capacity: a power of two. */
ARENA_INLINE int arena_spsc_init(arena_base_t base, arena_off_t at, arena_u32 capacity, arena_off_t pool)
{
	struct arena_spsc __arena *r = ARENA_PTR(base, struct arena_spsc, at);

	(void)pool;
	if (at == 0 || !ARENA_IS_POW2(capacity))
		return -ARENA_EINVAL;
	r->mask = capacity - 1;
	r->capacity = capacity;
	r->cached_head = 0;
	r->cached_tail = 0;
	arena_atomic_store(&r->head, 0, ARENA_RELAXED);
	arena_atomic_store(&r->tail, 0, ARENA_RELAXED);
	arena_atomic_store(&r->magic, ARENA_SPSC_MAGIC, ARENA_RELEASE);
	return ARENA_OK;
}

ARENA_INLINE int arena_spsc_push(arena_base_t base, arena_off_t at, arena_u64 value)
{
	struct arena_spsc __arena *r = ARENA_PTR(base, struct arena_spsc, at);
	arena_u64 tail = arena_atomic_load(&r->tail, ARENA_RELAXED);

	if (tail - r->cached_head > r->mask) {
		/* Acquire: the consumer's reads of those slots are done before we reuse them. */
		r->cached_head = arena_atomic_load(&r->head, ARENA_ACQUIRE); /* site: consume */
		if (tail - r->cached_head > r->mask)
			return -ARENA_EFULL;
	}
	arena_atomic_store(&r->slots[tail & r->mask], value, ARENA_RELAXED);
	arena_atomic_store(&r->tail, tail + 1, ARENA_RELEASE); /* site: publish */
	return ARENA_OK;
}

ARENA_INLINE int arena_spsc_pop(arena_base_t base, arena_off_t at, arena_u64 *value)
{
	struct arena_spsc __arena *r = ARENA_PTR(base, struct arena_spsc, at);
	arena_u64 head = arena_atomic_load(&r->head, ARENA_RELAXED);

	if (head == r->cached_tail) {
		r->cached_tail = arena_atomic_load(&r->tail, ARENA_ACQUIRE); /* site: consume */
		if (head == r->cached_tail)
			return -ARENA_EEMPTY;
	}
	*value = arena_atomic_load(&r->slots[head & r->mask], ARENA_RELAXED);
	arena_atomic_store(&r->head, head + 1, ARENA_RELEASE); /* site: publish */
	return ARENA_OK;
}

/* Quiescent check: 0 <= tail - head <= capacity. */
ARENA_INLINE int arena_spsc_verify(arena_base_t base, arena_off_t at, arena_u64 *count)
{
	struct arena_spsc __arena *r = ARENA_PTR(base, struct arena_spsc, at);
	arena_u64 head = arena_atomic_load(&r->head, ARENA_ACQUIRE);
	arena_u64 tail = arena_atomic_load(&r->tail, ARENA_ACQUIRE);

	if (r->magic != ARENA_SPSC_MAGIC || r->mask + 1 != r->capacity || tail - head > r->capacity)
		return -ARENA_ECORRUPT;
	*count = tail - head;
	return ARENA_OK;
}

#endif /* ERMFS_ARENA_SPSC_H */
