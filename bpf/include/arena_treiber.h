/* SPDX-License-Identifier: MIT */
/*
 * arena_treiber.h - Treiber stack (LIFO) of u64 values over pool nodes, with an
 * ABA-tagged top. Nodes come from and return to the arena pool.
 *
 * API shape shared by every structure header:
 *   X_bytes(capacity)  X_init(base, at, capacity, pool)  X_push(base, at, value)
 *   X_pop(base, at, &value)  X_verify(base, at, &count)   -> 0 or -ARENA_E*
 */
#ifndef ERMFS_ARENA_TREIBER_H
#define ERMFS_ARENA_TREIBER_H

#include "arena_pool.h"

struct arena_treiber {
	arena_u64 top;         /* tagged offset of the top node; own cache line */
	arena_u8 pad_[ARENA_CACHE_LINE - 8];
	arena_off_t pool;      /* pool the nodes come from */
	arena_u32 magic;
};

#define ARENA_TREIBER_MAGIC 0x54524542u

/* Capacity is the pool's: the stack itself holds only its top. */
ARENA_INLINE arena_u64 arena_treiber_bytes(arena_u32 capacity)
{
	(void)capacity;
	return sizeof(struct arena_treiber);
}

ARENA_INLINE int arena_treiber_init(arena_base_t base, arena_off_t at, arena_u32 capacity, arena_off_t pool)
{
	struct arena_treiber __arena *s = ARENA_PTR(base, struct arena_treiber, at);

	(void)capacity;
	if (at == 0 || pool == 0)
		return -ARENA_EINVAL;
	s->pool = pool;
	arena_atomic_store(&s->top, 0, ARENA_RELAXED);
	arena_atomic_store(&s->magic, ARENA_TREIBER_MAGIC, ARENA_RELEASE);
	return ARENA_OK;
}

ARENA_INLINE int arena_treiber_push(arena_base_t base, arena_off_t at, arena_u64 value)
{
	struct arena_treiber __arena *s = ARENA_PTR(base, struct arena_treiber, at);
	struct arena_node __arena *node;
	int status;
	arena_off_t off = arena_pool_alloc(base, s->pool, &status);

	if (off == 0)
		return status;
	node = ARENA_PTR(base, struct arena_node, off);
	arena_atomic_store(&node->value, value, ARENA_RELAXED);
	while (arena_may_loop()) {
		arena_u64 top = arena_atomic_load(&s->top, ARENA_ACQUIRE); /* site: consume */
		arena_u64 next = arena_atomic_load(&node->next, ARENA_RELAXED);

		arena_atomic_store(&node->next, ARENA_TAGGED(ARENA_TAG(next) + 1, ARENA_OFF(top)), ARENA_RELAXED);
		/* Release: the value and link are visible before the node is. */
		if (arena_atomic_cmpxchg(&s->top, top, ARENA_TAGGED(ARENA_TAG(top) + 1, off), ARENA_ACQ_REL, /* site: publish */
					 ARENA_ACQUIRE) == top)
			return ARENA_OK;
	}
	arena_pool_free(base, s->pool, off);
	return -ARENA_ELOOP;
}

ARENA_INLINE int arena_treiber_pop(arena_base_t base, arena_off_t at, arena_u64 *value)
{
	struct arena_treiber __arena *s = ARENA_PTR(base, struct arena_treiber, at);

	while (arena_may_loop()) {
		arena_u64 top = arena_atomic_load(&s->top, ARENA_ACQUIRE);
		struct arena_node __arena *node;
		arena_u64 next, v;

		if (ARENA_OFF(top) == 0)
			return -ARENA_EEMPTY;
		node = ARENA_PTR(base, struct arena_node, ARENA_OFF(top));
		/* Both reads may be stale (node already popped): the tagged CAS then fails. */
		next = arena_atomic_load(&node->next, ARENA_RELAXED);
		v = arena_atomic_load(&node->value, ARENA_RELAXED);
		if (arena_atomic_cmpxchg(&s->top, top, ARENA_TAGGED(ARENA_TAG(top) + 1, ARENA_OFF(next)), /* site: consume */
					 ARENA_ACQ_REL, ARENA_ACQUIRE) == top) {
			*value = v;
			ARENA_AFTER_TAKE();
			return arena_pool_free(base, s->pool, ARENA_OFF(top));
		}
	}
	return -ARENA_ELOOP;
}

/* Quiescent walk: every link a node of the pool, no cycle. */
ARENA_INLINE int arena_treiber_verify(arena_base_t base, arena_off_t at, arena_u64 *count)
{
	struct arena_treiber __arena *s = ARENA_PTR(base, struct arena_treiber, at);
	struct arena_pool __arena *pool;
	arena_off_t off;
	arena_u64 n = 0;

	if (s->magic != ARENA_TREIBER_MAGIC)
		return -ARENA_ECORRUPT;
	pool = ARENA_PTR(base, struct arena_pool, s->pool);
	off = ARENA_OFF(arena_atomic_load(&s->top, ARENA_ACQUIRE));
	while (off != 0 && arena_may_loop()) {
		if (!arena_pool_owns(base, s->pool, off) || n >= pool->node_count)
			return -ARENA_ECORRUPT;
		n++;
		off = ARENA_OFF(arena_atomic_load(&ARENA_PTR(base, struct arena_node, off)->next, ARENA_RELAXED));
	}
	*count = n;
	return off == 0 ? ARENA_OK : -ARENA_ELOOP;
}

#endif /* ERMFS_ARENA_TREIBER_H */
