/* SPDX-License-Identifier: MIT */
/*
 * arena_common.h - addressing, status codes and loop guards shared by every arena
 * structure, for BPF programs and user space alike.
 *
 * Addressing: everything in the arena is named by a 32-bit byte offset from the arena
 * start; offset 0 is never a node (the control page lives there), so 0 means "none".
 * User space passes the mapping's base address. BPF passes 0: the arena is mapped at a
 * user address whose low 32 bits are 0 and the kernel keeps only the low 32 bits of an
 * arena pointer, so `(T __arena *)off` is arena byte `off` (docs/decisions/arena-layout.md).
 */
#ifndef ERMFS_ARENA_COMMON_H
#define ERMFS_ARENA_COMMON_H

#include "arena_atomic.h"

typedef arena_u32 arena_off_t;

#if defined(__bpf__)
typedef arena_u64 arena_base_t;
#define ARENA_INLINE static inline __attribute__((always_inline))
#else
typedef char *arena_base_t;
#define ARENA_INLINE static inline
#endif

#define ARENA_PTR(base, type, off) ((type __arena *)((base) + (arena_u64)(off)))

/* Status codes: 0 is success, failures are negative. */
enum arena_status {
	ARENA_OK = 0,
	ARENA_EFULL = 1,    /* no free slot or node: the structure is truly full */
	ARENA_EEMPTY = 2,   /* nothing to take: the structure is truly empty */
	ARENA_EINVAL = 3,   /* bad capacity, reserved key, offset outside the arena */
	ARENA_EEXIST = 4,   /* hash set: key already present */
	ARENA_ECORRUPT = 5, /* verify walk found a broken invariant */
	ARENA_ELOOP = 6,    /* BPF only: the kernel's may_goto budget ran out */
};

#define ARENA_CACHE_LINE 64u

/*
 * Retry loops never stop after a fixed count. In user space they spin until they
 * succeed or see a true full/empty state. BPF needs every loop bounded for the
 * verifier; `may_goto` leaves the bound to the kernel (millions of iterations), and
 * exhausting it is reported as ARENA_ELOOP instead of a silent failure.
 */
#if defined(__bpf__)
#define arena_may_loop()                                                         \
	({                                                                       \
		__label__ arena_l_break_, arena_l_continue_;                     \
		int arena_ret_ = 1;                                              \
		asm volatile goto("may_goto %l[arena_l_break_]" :::: arena_l_break_); \
		goto arena_l_continue_;                                          \
	arena_l_break_:                                                          \
		arena_ret_ = 0;                                                  \
	arena_l_continue_:;                                                      \
		arena_ret_;                                                      \
	})
#define arena_cpu_relax() do { } while (0)
/* Spends what is left of the program's may_goto budget (fault injection in tests). */
#define arena_spend_loop_budget() do { } while (arena_may_loop())
#else
#define arena_may_loop() 1
#if defined(__x86_64__) || defined(__i386__)
#define arena_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define arena_cpu_relax() __asm__ __volatile__("yield")
#else
#define arena_cpu_relax() do { } while (0)
#endif
#endif

/*
 * Fault-injection point between a pop's taking CAS and the release of the node it
 * unlinked; a BPF test program defines it to spend the loop budget right there.
 */
#ifndef ARENA_AFTER_TAKE
#define ARENA_AFTER_TAKE() do { } while (0)
#endif

/* Tagged word: high 32 bits count every change (ABA guard), low 32 bits an offset. */
#define ARENA_TAG(word) ((arena_u32)((word) >> 32))
#define ARENA_OFF(word) ((arena_off_t)(word))
#define ARENA_TAGGED(tag, off) (((arena_u64)(arena_u32)(tag) << 32) | (arena_u64)(arena_off_t)(off))

#define ARENA_IS_POW2(x) ((x) != 0 && (((x) & ((x) - 1)) == 0))
#define ARENA_ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))

#endif /* ERMFS_ARENA_COMMON_H */
