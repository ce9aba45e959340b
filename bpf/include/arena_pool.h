/* SPDX-License-Identifier: MIT */
/*
 * arena_pool.h - the one allocator of the arena: fixed-size nodes at fixed offsets,
 * a lock-free free list (Treiber stack) with an ABA-tagged head, shared by kernel
 * producers and user-space consumers.
 *
 * Pages are faulted in by user space before the pool is initialised (tracepoint
 * programs may not call the sleepable bpf_arena_alloc_pages). Nodes are recycled,
 * never unmapped, so a stale reader always reads pool memory; every word that decides
 * reachability (free-list head, node->next) carries a 32-bit change count so a stale
 * compare-and-swap fails instead of corrupting a list. A BPF program out of loop
 * budget parks a node instead of freeing it (no loop); user space reclaims parked
 * nodes (docs/decisions/arena-layout.md).
 */
#ifndef ERMFS_ARENA_POOL_H
#define ERMFS_ARENA_POOL_H

#include "arena_common.h"

/* Every node starts with this; structures put their payload after `value`. */
struct arena_node {
	arena_u64 next;  /* tagged: change count << 32 | offset of the next node */
	arena_u64 value;
};

struct arena_pool {
	arena_u64 head;        /* tagged free-list head; own cache line */
	arena_u8 pad0_[ARENA_CACHE_LINE - 8];
	arena_u64 parked;      /* offset of the last parked node, 0: none; own cache line */
	arena_u8 pad1_[ARENA_CACHE_LINE - 8];
	arena_u32 node_size;   /* bytes per node, multiple of 8, >= 16 */
	arena_u32 node_count;
	arena_off_t first;     /* offset of node 0 */
	arena_u32 magic;
};

#define ARENA_POOL_MAGIC 0x504f4f4cu /* "POOL" */
#define ARENA_POOL_HEADER_BYTES (ARENA_CACHE_LINE * 3)
/* Offset part of a parked node's next while its link is being written. */
#define ARENA_PARK_PENDING 0xffffffffu

/* Bytes a pool of `count` nodes of `node_size` bytes occupies at its offset. */
ARENA_INLINE arena_u64 arena_pool_bytes(arena_u32 node_size, arena_u32 count)
{
	return ARENA_POOL_HEADER_BYTES + (arena_u64)node_size * count;
}

/*
 * Parks `off` on the pool's parked list without any loop: one exchange, so it cannot
 * fail, whatever is left of a BPF program's loop budget. User space moves parked nodes
 * back to the free list (arena_pool_reclaim). Until the link is written the node's next
 * says ARENA_PARK_PENDING, and a reclaimer waits for it (Vyukov's wait-free push).
 */
ARENA_INLINE void arena_pool_park(arena_base_t base, arena_off_t pool_off, arena_off_t off)
{
	struct arena_pool __arena *pool = ARENA_PTR(base, struct arena_pool, pool_off);
	struct arena_node __arena *node = ARENA_PTR(base, struct arena_node, off);
	arena_u32 tag = ARENA_TAG(arena_atomic_load(&node->next, ARENA_RELAXED)) + 1;
	arena_u64 previous;

	arena_atomic_store(&node->next, ARENA_TAGGED(tag, ARENA_PARK_PENDING), ARENA_RELAXED);
	previous = arena_atomic_exchange(&pool->parked, off, ARENA_ACQ_REL); /* site: publish */
	arena_atomic_store(&node->next, ARENA_TAGGED(tag + 1, ARENA_OFF(previous)), ARENA_RELEASE); /* site: publish */
}

/*
 * Gives node `off` back. Pushes it onto the free list (next gets a new change count on
 * every write); a BPF program whose loop budget runs out before its CAS succeeds parks
 * the node instead, so giving back never fails and never leaks (arena-layout.md).
 */
ARENA_INLINE int arena_pool_free(arena_base_t base, arena_off_t pool_off, arena_off_t off)
{
	struct arena_pool __arena *pool = ARENA_PTR(base, struct arena_pool, pool_off);
	struct arena_node __arena *node = ARENA_PTR(base, struct arena_node, off);

	if (off == 0)
		return -ARENA_EINVAL;
	while (arena_may_loop()) {
		arena_u64 head = arena_atomic_load(&pool->head, ARENA_ACQUIRE);
		arena_u64 next = arena_atomic_load(&node->next, ARENA_RELAXED);

		arena_atomic_store(&node->next, ARENA_TAGGED(ARENA_TAG(next) + 1, ARENA_OFF(head)), ARENA_RELAXED);
		if (arena_atomic_cmpxchg(&pool->head, head, ARENA_TAGGED(ARENA_TAG(head) + 1, off), /* site: publish */
					 ARENA_ACQ_REL, ARENA_ACQUIRE) == head)
			return ARENA_OK;
	}
	arena_pool_park(base, pool_off, off);
	return ARENA_OK;
}

#if !defined(__bpf__)
/* User space: moves every parked node to the free list; returns how many. */
ARENA_INLINE arena_u64 arena_pool_reclaim(arena_base_t base, arena_off_t pool_off)
{
	struct arena_pool __arena *pool = ARENA_PTR(base, struct arena_pool, pool_off);
	arena_off_t off;
	arena_u64 n = 0;

	if (arena_atomic_load(&pool->parked, ARENA_RELAXED) == 0)
		return 0;
	off = ARENA_OFF(arena_atomic_exchange(&pool->parked, 0, ARENA_ACQ_REL));
	while (off != 0) {
		struct arena_node __arena *node = ARENA_PTR(base, struct arena_node, off);
		arena_u64 next = arena_atomic_load(&node->next, ARENA_ACQUIRE);

		/* A parker between its exchange and its link: two instructions away. */
		while (ARENA_OFF(next) == ARENA_PARK_PENDING) {
			arena_cpu_relax();
			next = arena_atomic_load(&node->next, ARENA_ACQUIRE);
		}
		arena_pool_free(base, pool_off, off);
		off = ARENA_OFF(next);
		n++;
	}
	return n;
}
#endif

/*
 * Pops a node; returns its offset, 0 when the pool is truly empty (or, on BPF only,
 * when the loop budget ran out: *status tells which). In user space an empty free list
 * first takes back the parked nodes; BPF cannot, and reports EFULL while nodes are
 * parked. The node's `next` keeps its change count; callers set the offset they need.
 */
ARENA_INLINE arena_off_t arena_pool_alloc(arena_base_t base, arena_off_t pool_off, int *status)
{
	struct arena_pool __arena *pool = ARENA_PTR(base, struct arena_pool, pool_off);

	while (arena_may_loop()) {
		arena_u64 head = arena_atomic_load(&pool->head, ARENA_ACQUIRE); /* site: consume */
		arena_off_t off = ARENA_OFF(head);
		struct arena_node __arena *node;
		arena_u64 next;

		if (off == 0) {
#if !defined(__bpf__)
			if (arena_pool_reclaim(base, pool_off) != 0)
				continue;
#endif
			*status = -ARENA_EFULL;
			return 0;
		}
		node = ARENA_PTR(base, struct arena_node, off);
		/* May be stale if another thread took the node: then the tagged CAS fails. */
		next = arena_atomic_load(&node->next, ARENA_RELAXED);
		if (arena_atomic_cmpxchg(&pool->head, head, ARENA_TAGGED(ARENA_TAG(head) + 1, ARENA_OFF(next)), /* site: consume */
					 ARENA_ACQ_REL, ARENA_ACQUIRE) == head) {
			*status = ARENA_OK;
			return off;
		}
	}
	*status = -ARENA_ELOOP;
	return 0;
}

/* Lays out `count` nodes after the header and puts them all on the free list.
 * Single-threaded: call before anyone else sees the pool. */
ARENA_INLINE int arena_pool_init(arena_base_t base, arena_off_t pool_off, arena_u32 node_size, arena_u32 count)
{
	struct arena_pool __arena *pool = ARENA_PTR(base, struct arena_pool, pool_off);
	arena_u64 end = (arena_u64)pool_off + arena_pool_bytes(node_size, count);
	arena_u32 i;

	if (pool_off == 0 || node_size < sizeof(struct arena_node) || node_size % 8 != 0 || count == 0 ||
	    end > 0xffffffffull)
		return -ARENA_EINVAL;
	pool->node_size = node_size;
	pool->node_count = count;
	pool->first = pool_off + ARENA_POOL_HEADER_BYTES;
	arena_atomic_store(&pool->head, 0, ARENA_RELAXED);
	arena_atomic_store(&pool->parked, 0, ARENA_RELAXED);
	/* Build the list back to front so allocation starts at the lowest offset. */
	for (i = count; i > 0 && arena_may_loop(); i--) {
		arena_off_t off = pool->first + (i - 1) * node_size;
		struct arena_node __arena *node = ARENA_PTR(base, struct arena_node, off);
		arena_u64 head = arena_atomic_load(&pool->head, ARENA_RELAXED);

		arena_atomic_store(&node->value, 0, ARENA_RELAXED);
		arena_atomic_store(&node->next, ARENA_TAGGED(0, ARENA_OFF(head)), ARENA_RELAXED);
		arena_atomic_store(&pool->head, ARENA_TAGGED(0, off), ARENA_RELAXED);
	}
	if (i != 0)
		return -ARENA_ELOOP;
	arena_atomic_store(&pool->magic, ARENA_POOL_MAGIC, ARENA_RELEASE);
	return ARENA_OK;
}

/* True when `off` is the start of a node of this pool. */
ARENA_INLINE int arena_pool_owns(arena_base_t base, arena_off_t pool_off, arena_off_t off)
{
	struct arena_pool __arena *pool = ARENA_PTR(base, struct arena_pool, pool_off);

	return off >= pool->first && off < pool->first + (arena_u64)pool->node_size * pool->node_count &&
	       (off - pool->first) % pool->node_size == 0;
}

/* Quiescent walk of the free list and the parked list: every link a node of this
 * pool, no cycle, no link still being written. *free_count and *parked_count receive
 * the nodes on each; with every node accounted for elsewhere they add up to the pool. */
ARENA_INLINE int arena_pool_verify(arena_base_t base, arena_off_t pool_off, arena_u64 *free_count,
				   arena_u64 *parked_count)
{
	struct arena_pool __arena *pool = ARENA_PTR(base, struct arena_pool, pool_off);
	arena_off_t off = ARENA_OFF(arena_atomic_load(&pool->head, ARENA_ACQUIRE));
	arena_u64 n = 0, parked = 0;

	if (pool->magic != ARENA_POOL_MAGIC)
		return -ARENA_ECORRUPT;
	while (off != 0 && arena_may_loop()) {
		if (!arena_pool_owns(base, pool_off, off) || n >= pool->node_count)
			return -ARENA_ECORRUPT;
		n++;
		off = ARENA_OFF(arena_atomic_load(&ARENA_PTR(base, struct arena_node, off)->next, ARENA_RELAXED));
	}
	if (off != 0)
		return -ARENA_ELOOP;
	off = ARENA_OFF(arena_atomic_load(&pool->parked, ARENA_ACQUIRE));
	while (off != 0 && arena_may_loop()) {
		if (!arena_pool_owns(base, pool_off, off) || n + parked >= pool->node_count)
			return -ARENA_ECORRUPT;
		parked++;
		off = ARENA_OFF(arena_atomic_load(&ARENA_PTR(base, struct arena_node, off)->next, ARENA_ACQUIRE));
	}
	if (off != 0)
		return -ARENA_ELOOP;
	*free_count = n;
	*parked_count = parked;
	return ARENA_OK;
}

#endif /* ERMFS_ARENA_POOL_H */
