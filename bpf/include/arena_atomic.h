/* SPDX-License-Identifier: MIT */
/*
 * arena_atomic.h - the only way ERMFS code touches shared arena memory atomically.
 *
 * One header for two compilers: clang -target bpf -mcpu=v4 (kernel programs) and the
 * host C compiler (user-space consumers, tests). Data-structure headers use these
 * wrappers and nothing else (no raw __atomic, __sync or smp_ calls).
 *
 * Why wrappers and not the builtins directly (clang 21, BPF back end):
 *  - a RELAXED fetch-op whose result is used is miscompiled into the NON-fetching
 *    `lock *(u64 *)(r + 0) += r` and yields the operand instead of the old value.
 *    On BPF every read-modify-write is therefore issued with SEQ_CST, which always
 *    selects the fetching instruction (atomic_fetch_*, xchg, cmpxchg). The kernel's
 *    JITs implement fetching atomics as full barriers, so nothing is lost.
 *  - seq_cst loads and stores and __atomic_thread_fence do not compile for BPF.
 *    SEQ_CST loads map to load_acquire, SEQ_CST stores to a fetching exchange (the
 *    classic x86 mapping), and the barrier to a fetching atomic on a stack word.
 *  - ACQUIRE loads and RELEASE stores become real load_acquire / store_release
 *    instructions (-mcpu=v4), so ordering holds on weakly ordered CPUs too, not only
 *    on x86.
 * In user space the builtins are used with the caller's ordering unchanged.
 */
#ifndef ERMFS_ARENA_ATOMIC_H
#define ERMFS_ARENA_ATOMIC_H

typedef unsigned char arena_u8;
typedef unsigned int arena_u32;
typedef int arena_s32;
typedef unsigned long long arena_u64;
typedef long long arena_s64;

#define ARENA_RELAXED __ATOMIC_RELAXED
#define ARENA_ACQUIRE __ATOMIC_ACQUIRE
#define ARENA_RELEASE __ATOMIC_RELEASE
#define ARENA_ACQ_REL __ATOMIC_ACQ_REL
#define ARENA_SEQ_CST __ATOMIC_SEQ_CST

#if defined(__bpf__)
/* Arena memory is address space 1: clang emits addr_space_cast on access. */
#define __arena __attribute__((address_space(1)))
#else
#define __arena
#endif

/* Value type of *ptr without qualifiers (an address space may not qualify a local). */
#define ARENA_VALUE_TYPE(ptr) __typeof__(*(ptr) + 0)

#if defined(__bpf__)

/* Orderings clang's BPF back end accepts for plain loads and stores. */
#define ARENA_LOAD_ORDER_(mo) ((mo) == ARENA_RELAXED ? ARENA_RELAXED : ARENA_ACQUIRE)
#define ARENA_RMW_ORDER_(mo) ARENA_SEQ_CST

#define arena_atomic_load(ptr, mo) __atomic_load_n((ptr), ARENA_LOAD_ORDER_(mo))

#define arena_atomic_store(ptr, val, mo)                                         \
	do {                                                                     \
		if ((mo) == ARENA_SEQ_CST)                                       \
			(void)__atomic_exchange_n((ptr), (val), ARENA_SEQ_CST);  \
		else if ((mo) == ARENA_RELAXED)                                  \
			__atomic_store_n((ptr), (val), ARENA_RELAXED);           \
		else                                                             \
			__atomic_store_n((ptr), (val), ARENA_RELEASE);           \
	} while (0)

/* A fetching RMW on a stack word: a full barrier in every BPF JIT. */
#define arena_memory_barrier()                                                   \
	do {                                                                     \
		arena_u64 arena_barrier_word_ = 0;                               \
		(void)__atomic_fetch_or(&arena_barrier_word_, 0, ARENA_SEQ_CST); \
	} while (0)

#else /* user space */

#define ARENA_RMW_ORDER_(mo) (mo)
#define arena_atomic_load(ptr, mo) __atomic_load_n((ptr), (mo))
#define arena_atomic_store(ptr, val, mo) __atomic_store_n((ptr), (val), (mo))
#define arena_memory_barrier() __atomic_thread_fence(ARENA_SEQ_CST)

#endif

/* Returns the value *ptr held before the call; success iff it equals `expected`. */
#define arena_atomic_cmpxchg(ptr, expected, desired, success_mo, fail_mo)        \
	({                                                                       \
		ARENA_VALUE_TYPE(ptr) arena_expected_ = (expected);              \
		(void)(fail_mo);                                                 \
		(void)__atomic_compare_exchange_n((ptr), &arena_expected_,       \
			(desired), 0, ARENA_RMW_ORDER_(success_mo),              \
			ARENA_RMW_FAIL_ORDER_(success_mo, fail_mo));             \
		arena_expected_;                                                 \
	})

#if defined(__bpf__)
#define ARENA_RMW_FAIL_ORDER_(s, f) ARENA_SEQ_CST
#else
/* The failure ordering may not be stronger than success nor a release. */
#define ARENA_RMW_FAIL_ORDER_(s, f) (f)
#endif

#define arena_atomic_exchange(ptr, val, mo) __atomic_exchange_n((ptr), (val), ARENA_RMW_ORDER_(mo))
#define arena_atomic_add(ptr, val, mo) __atomic_fetch_add((ptr), (val), ARENA_RMW_ORDER_(mo))
#define arena_atomic_sub(ptr, val, mo) __atomic_fetch_sub((ptr), (val), ARENA_RMW_ORDER_(mo))

/*
 * Bit operations are statements: they return nothing. The x86-64 JIT refuses the
 * fetching and/or/xor on arena memory ("BPF_ATOMIC stores into R1 arena is not
 * allowed": it would need a cmpxchg loop), so on BPF they are the non-fetching
 * `lock |=` / `lock &=`, which order nothing; a RELEASE (or stronger) adds a full
 * barrier before, an ACQUIRE (or stronger) one after. For the old bits, loop on
 * arena_atomic_cmpxchg. docs/decisions/arena-atomics.md
 */
#if defined(__bpf__)
#define arena_atomic_bits_(op, ptr, val, mo)                                     \
	do {                                                                     \
		if ((mo) != ARENA_RELAXED && (mo) != ARENA_ACQUIRE)              \
			arena_memory_barrier();                                  \
		(void)__atomic_fetch_##op((ptr), (val), ARENA_RELAXED);          \
		if ((mo) != ARENA_RELAXED && (mo) != ARENA_RELEASE)              \
			arena_memory_barrier();                                  \
	} while (0)
#else
#define arena_atomic_bits_(op, ptr, val, mo)                                     \
	do {                                                                     \
		(void)__atomic_fetch_##op((ptr), (val), (mo));                   \
	} while (0)
#endif
#define arena_atomic_and(ptr, val, mo) arena_atomic_bits_(and, ptr, val, mo)
#define arena_atomic_or(ptr, val, mo) arena_atomic_bits_(or, ptr, val, mo)
#define arena_atomic_inc(ptr, mo) arena_atomic_add((ptr), 1, (mo))
#define arena_atomic_dec(ptr, mo) arena_atomic_sub((ptr), 1, (mo))

#endif /* ERMFS_ARENA_ATOMIC_H */
