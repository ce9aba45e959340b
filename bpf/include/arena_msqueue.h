/* SPDX-License-Identifier: MIT */
/*
 * arena_msqueue.h - Michael-Scott lock-free FIFO queue of u64 values over pool nodes.
 * Head, tail and every node's next are tagged (change count << 32 | offset), and
 * dequeued nodes go back to the pool: type-stable memory plus counts is the
 * reclamation scheme of the original paper (PODC 1996), no hazard pointers needed.
 * Per-producer FIFO holds; the queue keeps one dummy node.
 */
#ifndef ERMFS_ARENA_MSQUEUE_H
#define ERMFS_ARENA_MSQUEUE_H

#include "arena_pool.h"

struct arena_msqueue {
	arena_u64 head;        /* tagged; own cache line */
	arena_u8 pad0_[ARENA_CACHE_LINE - 8];
	arena_u64 tail;        /* tagged; own cache line */
	arena_u8 pad1_[ARENA_CACHE_LINE - 8];
	arena_off_t pool;
	arena_u32 magic;
};

#define ARENA_MSQUEUE_MAGIC 0x4d535155u

ARENA_INLINE arena_u64 arena_msqueue_bytes(arena_u32 capacity)
{
	(void)capacity;
	return sizeof(struct arena_msqueue);
}

/* Resets node->next to "no successor" with a fresh change count. */
ARENA_INLINE void arena_msqueue_clear_next_(struct arena_node __arena *node)
{
	arena_u64 next = arena_atomic_load(&node->next, ARENA_RELAXED);

	arena_atomic_store(&node->next, ARENA_TAGGED(ARENA_TAG(next) + 1, 0), ARENA_RELAXED);
}

/* Takes one pool node as the dummy. */
ARENA_INLINE int arena_msqueue_init(arena_base_t base, arena_off_t at, arena_u32 capacity, arena_off_t pool)
{
	struct arena_msqueue __arena *q = ARENA_PTR(base, struct arena_msqueue, at);
	int status;
	arena_off_t dummy;

	(void)capacity;
	if (at == 0 || pool == 0)
		return -ARENA_EINVAL;
	dummy = arena_pool_alloc(base, pool, &status);
	if (dummy == 0)
		return status;
	arena_msqueue_clear_next_(ARENA_PTR(base, struct arena_node, dummy));
	q->pool = pool;
	arena_atomic_store(&q->head, ARENA_TAGGED(0, dummy), ARENA_RELAXED);
	arena_atomic_store(&q->tail, ARENA_TAGGED(0, dummy), ARENA_RELAXED);
	arena_atomic_store(&q->magic, ARENA_MSQUEUE_MAGIC, ARENA_RELEASE);
	return ARENA_OK;
}

ARENA_INLINE int arena_msqueue_push(arena_base_t base, arena_off_t at, arena_u64 value)
{
	struct arena_msqueue __arena *q = ARENA_PTR(base, struct arena_msqueue, at);
	struct arena_node __arena *node;
	int status;
	arena_off_t off = arena_pool_alloc(base, q->pool, &status);
	arena_u64 tail;

	if (off == 0)
		return status;
	node = ARENA_PTR(base, struct arena_node, off);
	arena_atomic_store(&node->value, value, ARENA_RELAXED);
	arena_msqueue_clear_next_(node);
	while (arena_may_loop()) {
		struct arena_node __arena *last;
		arena_u64 next;

		tail = arena_atomic_load(&q->tail, ARENA_ACQUIRE); /* site: consume */
		last = ARENA_PTR(base, struct arena_node, ARENA_OFF(tail));
		next = arena_atomic_load(&last->next, ARENA_ACQUIRE); /* site: consume */
		if (tail != arena_atomic_load(&q->tail, ARENA_ACQUIRE))
			continue;
		if (ARENA_OFF(next) == 0) {
			/* Linking is the linearization point; release publishes value and link. */
			if (arena_atomic_cmpxchg(&last->next, next, ARENA_TAGGED(ARENA_TAG(next) + 1, off), /* site: publish */
						 ARENA_ACQ_REL, ARENA_ACQUIRE) == next) {
				arena_atomic_cmpxchg(&q->tail, tail, ARENA_TAGGED(ARENA_TAG(tail) + 1, off),
						     ARENA_ACQ_REL, ARENA_ACQUIRE);
				return ARENA_OK;
			}
		} else {
			/* Tail lags: help it forward. */
			arena_atomic_cmpxchg(&q->tail, tail, ARENA_TAGGED(ARENA_TAG(tail) + 1, ARENA_OFF(next)),
					     ARENA_ACQ_REL, ARENA_ACQUIRE);
		}
	}
	arena_pool_free(base, q->pool, off);
	return -ARENA_ELOOP;
}

ARENA_INLINE int arena_msqueue_pop(arena_base_t base, arena_off_t at, arena_u64 *value)
{
	struct arena_msqueue __arena *q = ARENA_PTR(base, struct arena_msqueue, at);

	while (arena_may_loop()) {
		arena_u64 head = arena_atomic_load(&q->head, ARENA_ACQUIRE); /* site: consume */
		arena_u64 tail = arena_atomic_load(&q->tail, ARENA_ACQUIRE); /* site: consume */
		arena_u64 next = arena_atomic_load(&ARENA_PTR(base, struct arena_node, ARENA_OFF(head))->next, /* site: consume */
						   ARENA_ACQUIRE);
		arena_u64 v;

		if (head != arena_atomic_load(&q->head, ARENA_ACQUIRE))
			continue;
		if (ARENA_OFF(head) == ARENA_OFF(tail)) {
			if (ARENA_OFF(next) == 0)
				return -ARENA_EEMPTY;
			arena_atomic_cmpxchg(&q->tail, tail, ARENA_TAGGED(ARENA_TAG(tail) + 1, ARENA_OFF(next)),
					     ARENA_ACQ_REL, ARENA_ACQUIRE);
			continue;
		}
		if (ARENA_OFF(next) == 0)
			continue; /* stale snapshot: head moved under us */
		/* Read before the CAS: afterwards another consumer may recycle the node. */
		v = arena_atomic_load(&ARENA_PTR(base, struct arena_node, ARENA_OFF(next))->value, ARENA_RELAXED);
		if (arena_atomic_cmpxchg(&q->head, head, ARENA_TAGGED(ARENA_TAG(head) + 1, ARENA_OFF(next)), /* site: consume */
					 ARENA_ACQ_REL, ARENA_ACQUIRE) == head) {
			*value = v;
			ARENA_AFTER_TAKE();
			return arena_pool_free(base, q->pool, ARENA_OFF(head));
		}
	}
	return -ARENA_ELOOP;
}

/* Quiescent walk from head: links stay in the pool, the last node is the tail. */
ARENA_INLINE int arena_msqueue_verify(arena_base_t base, arena_off_t at, arena_u64 *count)
{
	struct arena_msqueue __arena *q = ARENA_PTR(base, struct arena_msqueue, at);
	struct arena_pool __arena *pool;
	arena_off_t off, last;
	arena_u64 n = 0;

	if (q->magic != ARENA_MSQUEUE_MAGIC)
		return -ARENA_ECORRUPT;
	pool = ARENA_PTR(base, struct arena_pool, q->pool);
	last = ARENA_OFF(arena_atomic_load(&q->head, ARENA_ACQUIRE));
	if (!arena_pool_owns(base, q->pool, last))
		return -ARENA_ECORRUPT;
	off = ARENA_OFF(arena_atomic_load(&ARENA_PTR(base, struct arena_node, last)->next, ARENA_ACQUIRE));
	while (off != 0 && arena_may_loop()) {
		if (!arena_pool_owns(base, q->pool, off) || n >= pool->node_count)
			return -ARENA_ECORRUPT;
		n++;
		last = off;
		off = ARENA_OFF(arena_atomic_load(&ARENA_PTR(base, struct arena_node, off)->next, ARENA_ACQUIRE));
	}
	if (off != 0)
		return -ARENA_ELOOP;
	if (ARENA_OFF(arena_atomic_load(&q->tail, ARENA_ACQUIRE)) != last)
		return -ARENA_ECORRUPT;
	*count = n;
	return ARENA_OK;
}

#endif /* ERMFS_ARENA_MSQUEUE_H */
