/* SPDX-License-Identifier: MIT */
/*
 * syscall_count.bpf.c - counts the system calls one thread makes (raw_syscalls
 * sys_enter), so benchmarks and tests can show that a polling arena consumer makes
 * none per event. The thread id and the count live at arena offset 0.
 */
#define ERMFS_ARENA_PAGES 1u
#include "ermfs_bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct syscall_count {
	arena_u32 tid;   /* thread to count; 0 = none */
	arena_u32 pad;
	arena_u64 count;
};

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscalls(void *ctx)
{
	struct syscall_count __arena *state = ARENA_PTR(0, struct syscall_count, 0);

	ERMFS_USE_ARENA();
	if (state->tid != 0 && state->tid == (arena_u32)bpf_get_current_pid_tgid())
		arena_atomic_inc(&state->count, ARENA_RELAXED);
	return 0;
}
