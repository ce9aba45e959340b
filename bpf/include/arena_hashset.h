/* SPDX-License-Identifier: MIT */
/*
 * arena_hashset.h - lock-free open-addressing set of u64 keys (linear probing).
 * A slot goes EMPTY -> key (one CAS) -> TOMBSTONE (one CAS) and never back, so a key
 * is present at most once and every probe sequence is stable: no locks, no resize.
 * Keys 0 (empty) and ~0 (tombstone) are reserved. Tombstones are not reused (reusing
 * them lock-free would let two racing inserts of one key both succeed); the set is
 * full when a probe meets no empty slot, which verify reports.
 *
 * Uniform API: push = insert (-ARENA_EEXIST if present), pop = remove the key given in
 * *value (-ARENA_EEMPTY if absent). Also arena_hashset_contains.
 */
#ifndef ERMFS_ARENA_HASHSET_H
#define ERMFS_ARENA_HASHSET_H

#include "arena_common.h"

#define ARENA_HASHSET_EMPTY 0ull
#define ARENA_HASHSET_TOMBSTONE (~0ull)
#define ARENA_HASHSET_MAGIC 0x48534554u

struct arena_hashset {
	arena_u64 mask;
	arena_u32 magic;
	arena_u32 capacity;
	arena_u8 pad_[ARENA_CACHE_LINE - 16];
	arena_u64 slots[];
};

ARENA_INLINE arena_u64 arena_hashset_bytes(arena_u32 capacity)
{
	return sizeof(struct arena_hashset) + (arena_u64)capacity * sizeof(arena_u64);
}

/* splitmix64's finaliser: cheap and spreads sequential keys. */
ARENA_INLINE arena_u64 arena_hashset_hash_(arena_u64 key)
{
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebull;
	key ^= key >> 31;
	return key;
}

/* capacity: a power of two. */
ARENA_INLINE int arena_hashset_init(arena_base_t base, arena_off_t at, arena_u32 capacity, arena_off_t pool)
{
	struct arena_hashset __arena *h = ARENA_PTR(base, struct arena_hashset, at);
	arena_u32 i;

	(void)pool;
	if (at == 0 || !ARENA_IS_POW2(capacity))
		return -ARENA_EINVAL;
	for (i = 0; i < capacity && arena_may_loop(); i++)
		arena_atomic_store(&h->slots[i], ARENA_HASHSET_EMPTY, ARENA_RELAXED);
	if (i != capacity)
		return -ARENA_ELOOP;
	h->mask = capacity - 1;
	h->capacity = capacity;
	arena_atomic_store(&h->magic, ARENA_HASHSET_MAGIC, ARENA_RELEASE);
	return ARENA_OK;
}

ARENA_INLINE int arena_hashset_push(arena_base_t base, arena_off_t at, arena_u64 key)
{
	struct arena_hashset __arena *h = ARENA_PTR(base, struct arena_hashset, at);
	arena_u64 i = arena_hashset_hash_(key), probes;

	if (key == ARENA_HASHSET_EMPTY || key == ARENA_HASHSET_TOMBSTONE)
		return -ARENA_EINVAL;
	for (probes = 0; probes <= h->mask; probes++, i++) {
		arena_u64 __arena *slot = &h->slots[i & h->mask];
		arena_u64 seen;

		if (!arena_may_loop())
			return -ARENA_ELOOP;
		seen = arena_atomic_load(slot, ARENA_ACQUIRE); /* site: consume */
		if (seen == ARENA_HASHSET_EMPTY) {
			seen = arena_atomic_cmpxchg(slot, ARENA_HASHSET_EMPTY, key, ARENA_ACQ_REL, ARENA_ACQUIRE); /* site: publish */
			if (seen == ARENA_HASHSET_EMPTY)
				return ARENA_OK;
		}
		/* A slot never returns to empty, so the key cannot sit further on. */
		if (seen == key)
			return -ARENA_EEXIST;
	}
	return -ARENA_EFULL;
}

/* Finds the slot holding `key`: its index, -1 when an empty slot (or the whole table)
 * ends the probe, -2 when the BPF loop budget ran out first (never taken for absent). */
ARENA_INLINE arena_s64 arena_hashset_find_(struct arena_hashset __arena *h, arena_u64 key)
{
	arena_u64 i = arena_hashset_hash_(key), probes;

	for (probes = 0; probes <= h->mask; probes++, i++) {
		arena_u64 __arena *slot = &h->slots[i & h->mask];
		arena_u64 seen;

		if (!arena_may_loop())
			return -2;
		seen = arena_atomic_load(slot, ARENA_ACQUIRE); /* site: consume */
		if (seen == key)
			return (arena_s64)(i & h->mask);
		if (seen == ARENA_HASHSET_EMPTY)
			return -1;
	}
	return -1;
}

/* For user space: in BPF a probe that runs out of loop budget answers "absent". */
ARENA_INLINE int arena_hashset_contains(arena_base_t base, arena_off_t at, arena_u64 key)
{
	struct arena_hashset __arena *h = ARENA_PTR(base, struct arena_hashset, at);

	if (key == ARENA_HASHSET_EMPTY || key == ARENA_HASHSET_TOMBSTONE)
		return 0;
	return arena_hashset_find_(h, key) >= 0;
}

/* Removes *value; exactly one of several racing removers of a key succeeds.
 * -ARENA_EEMPTY when absent, -ARENA_ELOOP (BPF) when the probe ran out of budget. */
ARENA_INLINE int arena_hashset_pop(arena_base_t base, arena_off_t at, arena_u64 *value)
{
	struct arena_hashset __arena *h = ARENA_PTR(base, struct arena_hashset, at);
	arena_u64 key = *value;
	arena_s64 index;

	if (key == ARENA_HASHSET_EMPTY || key == ARENA_HASHSET_TOMBSTONE)
		return -ARENA_EINVAL;
	index = arena_hashset_find_(h, key);
	if (index == -2)
		return -ARENA_ELOOP;
	if (index < 0)
		return -ARENA_EEMPTY;
	if (arena_atomic_cmpxchg(&h->slots[index], key, ARENA_HASHSET_TOMBSTONE, ARENA_ACQ_REL, ARENA_ACQUIRE) != key) /* site: publish */
		return -ARENA_EEMPTY; /* another remover won */
	return ARENA_OK;
}

/* Quiescent walk: no key twice, every key reachable from its home slot. *count = live keys. */
ARENA_INLINE int arena_hashset_verify(arena_base_t base, arena_off_t at, arena_u64 *count)
{
	struct arena_hashset __arena *h = ARENA_PTR(base, struct arena_hashset, at);
	arena_u64 i, n = 0;
	arena_s64 index;

	if (h->magic != ARENA_HASHSET_MAGIC || h->mask + 1 != h->capacity)
		return -ARENA_ECORRUPT;
	for (i = 0; i <= h->mask && arena_may_loop(); i++) {
		arena_u64 key = arena_atomic_load(&h->slots[i], ARENA_ACQUIRE);

		if (key == ARENA_HASHSET_EMPTY || key == ARENA_HASHSET_TOMBSTONE)
			continue;
		/* The first match on its probe path must be this very slot. */
		index = arena_hashset_find_(h, key);
		if (index == -2)
			return -ARENA_ELOOP;
		if (index != (arena_s64)i)
			return -ARENA_ECORRUPT;
		n++;
	}
	*count = n;
	return ARENA_OK;
}

#endif /* ERMFS_ARENA_HASHSET_H */
