#define _GNU_SOURCE
#include "arena_structures.h"

#include "bpf-include/arena_hashset.h"
#include "bpf-include/arena_mpmc.h"
#include "bpf-include/arena_msqueue.h"
#include "bpf-include/arena_pool.h"
#include "bpf-include/arena_spsc.h"
#include "bpf-include/arena_treiber.h"
#include "bpf-include/arena_uring.h"

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

int ermfs_arena_pool_verify(void *base, uint32_t at, uint64_t *free_count)
{
	arena_u64 n = 0;
	int status = arena_pool_verify(base, at, &n);

	*free_count = n;
	return status;
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
