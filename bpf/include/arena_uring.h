/* SPDX-License-Identifier: MIT */
/*
 * arena_uring.h - an io_uring-style ring pair: a submission ring (SQ) the submitter
 * fills and the server drains, and a completion ring (CQ) the server fills and the
 * submitter reaps. Like io_uring, each ring has a head owned by its consumer and a
 * tail owned by its producer, on separate cache lines, and the server takes an SQE
 * only when a CQ slot is free, so completions are never dropped.
 *
 * Uniform API: push = submit an SQE carrying `value`, pop = reap a CQE's user_data.
 * Server side: arena_uring_take (next SQE) and arena_uring_complete (post its CQE).
 * One submitter, one server, one reaper at a time.
 */
#ifndef ERMFS_ARENA_URING_H
#define ERMFS_ARENA_URING_H

#include "arena_common.h"

struct arena_uring_sqe {
	arena_u64 user_data;
	arena_u64 arg;
};

struct arena_uring_cqe {
	arena_u64 user_data;
	arena_s64 res;
};

struct arena_uring_indices {
	arena_u64 head;        /* consumer-owned */
	arena_u8 pad0_[ARENA_CACHE_LINE - 8];
	arena_u64 tail;        /* producer-owned */
	arena_u8 pad1_[ARENA_CACHE_LINE - 8];
};

struct arena_uring {
	struct arena_uring_indices sq;
	struct arena_uring_indices cq;
	arena_u64 sq_mask;
	arena_u64 cq_mask;
	arena_u32 magic;
	arena_u32 entries;     /* SQ entries; the CQ has twice as many, as in io_uring */
	arena_u8 pad_[ARENA_CACHE_LINE - 24];
	/* struct arena_uring_sqe sqes[entries]; struct arena_uring_cqe cqes[2 * entries]; */
	struct arena_uring_sqe sqes[];
};

#define ARENA_URING_MAGIC 0x5552494eu

ARENA_INLINE arena_u64 arena_uring_bytes(arena_u32 capacity)
{
	return sizeof(struct arena_uring) + (arena_u64)capacity * sizeof(struct arena_uring_sqe) +
	       2ull * capacity * sizeof(struct arena_uring_cqe);
}

ARENA_INLINE struct arena_uring_cqe __arena *arena_uring_cqes_(struct arena_uring __arena *u)
{
	return (struct arena_uring_cqe __arena *)&u->sqes[u->entries];
}

/* capacity: SQ entries, a power of two. */
ARENA_INLINE int arena_uring_init(arena_base_t base, arena_off_t at, arena_u32 capacity, arena_off_t pool)
{
	struct arena_uring __arena *u = ARENA_PTR(base, struct arena_uring, at);

	(void)pool;
	if (at == 0 || !ARENA_IS_POW2(capacity) || capacity > (1u << 30))
		return -ARENA_EINVAL;
	u->entries = capacity;
	u->sq_mask = capacity - 1;
	u->cq_mask = 2ull * capacity - 1;
	arena_atomic_store(&u->sq.head, 0, ARENA_RELAXED);
	arena_atomic_store(&u->sq.tail, 0, ARENA_RELAXED);
	arena_atomic_store(&u->cq.head, 0, ARENA_RELAXED);
	arena_atomic_store(&u->cq.tail, 0, ARENA_RELAXED);
	arena_atomic_store(&u->magic, ARENA_URING_MAGIC, ARENA_RELEASE);
	return ARENA_OK;
}

/* Submitter: queue an SQE carrying `value` (and `arg`). */
ARENA_INLINE int arena_uring_submit(arena_base_t base, arena_off_t at, arena_u64 value, arena_u64 arg)
{
	struct arena_uring __arena *u = ARENA_PTR(base, struct arena_uring, at);
	arena_u64 tail = arena_atomic_load(&u->sq.tail, ARENA_RELAXED);
	arena_u64 head = arena_atomic_load(&u->sq.head, ARENA_ACQUIRE); /* site: consume */
	struct arena_uring_sqe __arena *sqe;

	if (tail - head > u->sq_mask)
		return -ARENA_EFULL;
	sqe = &u->sqes[tail & u->sq_mask];
	arena_atomic_store(&sqe->user_data, value, ARENA_RELAXED);
	arena_atomic_store(&sqe->arg, arg, ARENA_RELAXED);
	arena_atomic_store(&u->sq.tail, tail + 1, ARENA_RELEASE); /* site: publish */
	return ARENA_OK;
}

ARENA_INLINE int arena_uring_push(arena_base_t base, arena_off_t at, arena_u64 value)
{
	return arena_uring_submit(base, at, value, 0);
}

/* Server: take the next SQE, but only when its completion will have a CQ slot. */
ARENA_INLINE int arena_uring_take(arena_base_t base, arena_off_t at, arena_u64 *user_data, arena_u64 *arg)
{
	struct arena_uring __arena *u = ARENA_PTR(base, struct arena_uring, at);
	arena_u64 head = arena_atomic_load(&u->sq.head, ARENA_RELAXED);
	arena_u64 tail = arena_atomic_load(&u->sq.tail, ARENA_ACQUIRE); /* site: consume */
	arena_u64 cq_tail = arena_atomic_load(&u->cq.tail, ARENA_RELAXED);
	arena_u64 cq_head = arena_atomic_load(&u->cq.head, ARENA_ACQUIRE); /* site: consume */
	struct arena_uring_sqe __arena *sqe;

	if (head == tail)
		return -ARENA_EEMPTY;
	/* SQEs taken but not yet completed = head - cq_tail (server-private ordering). */
	if (cq_tail - cq_head + (head - cq_tail) > u->cq_mask)
		return -ARENA_EFULL;
	sqe = &u->sqes[head & u->sq_mask];
	*user_data = arena_atomic_load(&sqe->user_data, ARENA_RELAXED);
	*arg = arena_atomic_load(&sqe->arg, ARENA_RELAXED);
	arena_atomic_store(&u->sq.head, head + 1, ARENA_RELEASE); /* site: publish */
	return ARENA_OK;
}

/* Server: post a completion (after a successful take, so a slot is reserved). */
ARENA_INLINE int arena_uring_complete(arena_base_t base, arena_off_t at, arena_u64 user_data, arena_s64 res)
{
	struct arena_uring __arena *u = ARENA_PTR(base, struct arena_uring, at);
	arena_u64 tail = arena_atomic_load(&u->cq.tail, ARENA_RELAXED);
	arena_u64 head = arena_atomic_load(&u->cq.head, ARENA_ACQUIRE); /* site: consume */
	struct arena_uring_cqe __arena *cqe;

	if (tail - head > u->cq_mask)
		return -ARENA_EFULL;
	cqe = &arena_uring_cqes_(u)[tail & u->cq_mask];
	arena_atomic_store(&cqe->user_data, user_data, ARENA_RELAXED);
	arena_atomic_store(&cqe->res, res, ARENA_RELAXED);
	arena_atomic_store(&u->cq.tail, tail + 1, ARENA_RELEASE); /* site: publish */
	return ARENA_OK;
}

/* Submitter: reap the next CQE. */
ARENA_INLINE int arena_uring_reap(arena_base_t base, arena_off_t at, arena_u64 *user_data, arena_s64 *res)
{
	struct arena_uring __arena *u = ARENA_PTR(base, struct arena_uring, at);
	arena_u64 head = arena_atomic_load(&u->cq.head, ARENA_RELAXED);
	arena_u64 tail = arena_atomic_load(&u->cq.tail, ARENA_ACQUIRE); /* site: consume */
	struct arena_uring_cqe __arena *cqe;

	if (head == tail)
		return -ARENA_EEMPTY;
	cqe = &arena_uring_cqes_(u)[head & u->cq_mask];
	*user_data = arena_atomic_load(&cqe->user_data, ARENA_RELAXED);
	*res = arena_atomic_load(&cqe->res, ARENA_RELAXED);
	arena_atomic_store(&u->cq.head, head + 1, ARENA_RELEASE); /* site: publish */
	return ARENA_OK;
}

ARENA_INLINE int arena_uring_pop(arena_base_t base, arena_off_t at, arena_u64 *value)
{
	arena_s64 res;

	return arena_uring_reap(base, at, value, &res);
}

/* Quiescent check of both rings; *count = submissions not yet reaped. */
ARENA_INLINE int arena_uring_verify(arena_base_t base, arena_off_t at, arena_u64 *count)
{
	struct arena_uring __arena *u = ARENA_PTR(base, struct arena_uring, at);
	arena_u64 sq_head = arena_atomic_load(&u->sq.head, ARENA_ACQUIRE);
	arena_u64 sq_tail = arena_atomic_load(&u->sq.tail, ARENA_ACQUIRE);
	arena_u64 cq_head = arena_atomic_load(&u->cq.head, ARENA_ACQUIRE);
	arena_u64 cq_tail = arena_atomic_load(&u->cq.tail, ARENA_ACQUIRE);

	if (u->magic != ARENA_URING_MAGIC || u->sq_mask + 1 != u->entries || sq_tail - sq_head > u->entries ||
	    cq_tail - cq_head > u->cq_mask + 1 || cq_tail > sq_head)
		return -ARENA_ECORRUPT;
	*count = (sq_tail - sq_head) + (sq_head - cq_tail) + (cq_tail - cq_head);
	return ARENA_OK;
}

#endif /* ERMFS_ARENA_URING_H */
