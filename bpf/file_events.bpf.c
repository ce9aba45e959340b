/* SPDX-License-Identifier: MIT */
/*
 * file_events.bpf.c - the file-creation producer (policy). Mechanism lives in the
 * structure headers: each event is a pool node, filled here and its offset pushed into
 * the structure control.event_kind names (MPMC, Michael-Scott or Treiber: several CPUs
 * produce at once), published with RELEASE by the structure's push.
 *
 * Hooks, tried by the loader in this order, one set loaded at a time:
 *   lsm/inode_{create,mkdir,mknod}, fentry/security_inode_{create,mkdir,mknod} (both
 *   need BPF trampolines; the name is the new dentry's), then the syscall tracepoints: the enter program stages the arguments and the name as given
 *   to the syscall in a per-thread map entry, the exit program takes a node and
 *   publishes it if the call succeeded.
 */
#include "ermfs_bpf.h"
#include <bpf/bpf_core_read.h>

#include "ermfs_creator.h"

#include "ermfs_kernel_types.h"
#include "arena_mpmc.h"
#include "arena_msqueue.h"
#include "arena_treiber.h"

char LICENSE[] SEC("license") = "GPL";

#define ERMFS_O_CREAT 0100 /* octal, as in <fcntl.h> on x86-64 and arm64 */

/* What the event's `syscall` field names. */
#define ARENA_SYSCALL_OPENAT 1
#define ARENA_SYSCALL_CREAT 2
#define ARENA_SYSCALL_MKDIRAT 3
#define ARENA_SYSCALL_MKNODAT 4
#define ARENA_SYSCALL_OPEN 5
#define ARENA_SYSCALL_MKDIR 6
#define ARENA_SYSCALL_INODE_CREATE 7
#define ARENA_SYSCALL_OPENAT2 8
#define ARENA_SYSCALL_MKNOD 9
#define ARENA_SYSCALL_INODE_MKDIR 10
#define ARENA_SYSCALL_INODE_MKNOD 11

/* Wakes a consumer blocked in epoll; carries no data (the events are in the arena). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} doorbell SEC(".maps");

/* A creating syscall in flight on a thread: enter stages its arguments and the name
 * here, exit takes a pool node and publishes if the call succeeded. No node is held
 * across the syscall, so a stopped feed's nodes are all in the arena (verify). */
struct pending_creation {
	__u64 user_name;  /* the syscall's name pointer */
	__u64 user_how;   /* openat2 whose open_how was unreadable at enter: decide at exit */
	struct creator_ids ids;
	__u32 mode;
	__u32 syscall;
	__s32 dirfd;
	__u32 name_flags; /* ARENA_NAME_* */
	__u64 name[ARENA_NAME_MAX / 8];
};

/* The start of struct open_how (linux/openat2.h). */
struct open_how_prefix {
	__u64 flags;
	__u64 mode;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pending_creation);
} pending SEC(".maps");

static __always_inline int enabled(struct arena_control __arena *control)
{
	if (control->magic != ARENA_CONTROL_MAGIC)
		return 0;
	return arena_atomic_load(&control->filter_enabled, ARENA_ACQUIRE) != 0; /* site: consume */
}


/*
 * Code that takes or publishes nodes runs between these two, so user space can stop
 * the producer and wait until no program is inside (ermfs_arena_control_quiesce):
 * increment, then read the enabled flag; user space clears the flag, then reads the
 * count. Both are full barriers, so one of the two sides sees the other (Dekker).
 */
static __always_inline void producer_enter(struct arena_control __arena *control)
{
	arena_atomic_inc(&control->producers_in_flight, ARENA_SEQ_CST);
}

static __always_inline void producer_leave(struct arena_control __arena *control)
{
	arena_atomic_dec(&control->producers_in_flight, ARENA_SEQ_CST);
}

static __always_inline void count_drop(struct arena_control __arena *control, int status)
{
	if (status == -ARENA_ELOOP)
		arena_atomic_inc(&control->events_loop_budget, ARENA_RELAXED);
	else
		arena_atomic_inc(&control->events_dropped, ARENA_RELAXED);
}

/*
 * Copies the user string at `user` into `name` (ARENA_NAME_MAX bytes, kernel memory) and
 * says how it went, as ARENA_NAME_* flags. Longer than the buffer: truncated (a
 * 255-byte path ends exactly at the buffer, so one more byte decides). The read never
 * faults pages in: memory not mapped yet is "unreadable" (the caller may try again).
 */
static __always_inline __u32 read_user_path(__u64 *name, const char *user)
{
	long n = bpf_probe_read_user_str(name, ARENA_NAME_MAX, user);
	char next = 0;

	if (n < 0)
		return ARENA_NAME_PATH | ARENA_NAME_UNREADABLE;
	if (n == ARENA_NAME_MAX && (bpf_probe_read_user(&next, 1, user + ARENA_NAME_MAX - 1) != 0 || next != 0))
		return ARENA_NAME_PATH | ARENA_NAME_TRUNCATED;
	return ARENA_NAME_PATH;
}

/* Takes a pool node and fills everything but the sequence and timestamp; `name` is
 * ARENA_NAME_MAX bytes of kernel memory (the stack or a map value), NUL-terminated. */
static __always_inline arena_off_t take_event(struct arena_control __arena *control, const __u64 *name,
					      __u32 name_flags, __u32 mode, __u32 syscall, __s32 dirfd,
					      struct creator_ids ids)
{
	char comm[ARENA_COMM_MAX];
	struct arena_file_event __arena *event;
	int status, i;
	arena_off_t off = arena_pool_alloc(0, control->event_pool, &status);

	if (off == 0) {
		count_drop(control, status);
		return 0;
	}
	event = ARENA_PTR(0, struct arena_file_event, off);
	/* Helpers cannot write into the arena: stage on the stack, then copy. */
	__builtin_memset(comm, 0, sizeof(comm));
	bpf_get_current_comm(comm, sizeof(comm));
#pragma unroll
	for (i = 0; i < ARENA_NAME_MAX / 8; i++)
		((__u64 __arena *)event->name)[i] = name[i];
#pragma unroll
	for (i = 0; i < ARENA_COMM_MAX / 8; i++)
		((__u64 __arena *)event->comm)[i] = ((__u64 *)comm)[i];
	event->pid = ids.pid;
	event->tgid = ids.tgid;
	event->mode = mode;
	event->syscall = syscall;
	event->dirfd = dirfd;
	event->name_flags = name_flags;
	event->hook = control->active_hook;
	return off;
}

/* Stamps and pushes a filled node; on a full structure frees it and counts the drop. */
static __always_inline void publish(struct arena_control __arena *control, arena_off_t off)
{
	struct arena_file_event __arena *event = ARENA_PTR(0, struct arena_file_event, off);
	int status;

	event->sequence = arena_atomic_inc(&control->event_sequence, ARENA_RELAXED);
	event->timestamp_ns = bpf_ktime_get_ns();
	if (control->fault_injection & ARENA_FAULT_BUDGET_BEFORE_PUSH)
		arena_spend_loop_budget(); /* tests only */
	switch (control->event_kind) {
	case ARENA_KIND_MSQUEUE:
		status = arena_msqueue_push(0, control->event_at, off);
		break;
	case ARENA_KIND_TREIBER:
		status = arena_treiber_push(0, control->event_at, off);
		break;
	default:
		status = arena_mpmc_push(0, control->event_at, off);
		break;
	}
	if (status == ARENA_OK) {
		arena_atomic_inc(&control->events_published, ARENA_RELAXED);
		/* Dekker with the consumer: our push is ordered before reading its flag, its
		 * flag before its last look at the structure. */
		arena_memory_barrier();
		if (arena_atomic_load(&control->consumer_sleeping, ARENA_ACQUIRE) &&
		    arena_atomic_exchange(&control->consumer_sleeping, 0, ARENA_SEQ_CST)) {
			arena_u64 ring = 1;

			bpf_ringbuf_output(&doorbell, &ring, sizeof(ring), 0);
			arena_atomic_inc(&control->doorbells_rung, ARENA_RELAXED);
		}
		return;
	}
	count_drop(control, status);
	arena_pool_free(0, control->event_pool, off);
}

/* ---- BPF LSM and fentry: one call per inode creation, the name from the dentry ---- */

static __always_inline int on_inode_create(struct dentry *dentry, __u32 mode, __u32 origin)
{
	struct arena_control __arena *control = ERMFS_CONTROL();
	__u64 name[ARENA_NAME_MAX / 8];
	struct creator_ids ids;
	arena_off_t off;
	__u32 flags;

	ERMFS_USE_ARENA();
	producer_enter(control);
	ids = creator_ids(control);
	if (enabled(control) && creator_wanted(control, ids)) {
		__builtin_memset(name, 0, sizeof(name));
		flags = bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dentry, d_name.name)) < 0
				? ARENA_NAME_UNREADABLE : 0;
		off = take_event(control, name, flags, mode, origin, -100, ids);
		if (off)
			publish(control, off);
	}
	producer_leave(control);
	return 0;
}

/* (struct inode *dir, struct dentry *dentry, umode_t mode[, dev_t dev]) for all six.
 * Not sleepable: inode_mkdir is not on the kernel's sleepable-LSM list, and nothing here
 * sleeps. The LSM programs never deny (return 0). */
SEC("lsm/inode_create")
int lsm_inode_create(unsigned long long *ctx)
{
	on_inode_create((struct dentry *)ctx[1], (__u32)ctx[2], ARENA_SYSCALL_INODE_CREATE);
	return 0;
}

SEC("lsm/inode_mkdir")
int lsm_inode_mkdir(unsigned long long *ctx)
{
	on_inode_create((struct dentry *)ctx[1], (__u32)ctx[2], ARENA_SYSCALL_INODE_MKDIR);
	return 0;
}

SEC("lsm/inode_mknod")
int lsm_inode_mknod(unsigned long long *ctx)
{
	on_inode_create((struct dentry *)ctx[1], (__u32)ctx[2], ARENA_SYSCALL_INODE_MKNOD);
	return 0;
}

SEC("fentry/security_inode_create")
int fentry_inode_create(unsigned long long *ctx)
{
	return on_inode_create((struct dentry *)ctx[1], (__u32)ctx[2], ARENA_SYSCALL_INODE_CREATE);
}

SEC("fentry/security_inode_mkdir")
int fentry_inode_mkdir(unsigned long long *ctx)
{
	return on_inode_create((struct dentry *)ctx[1], (__u32)ctx[2], ARENA_SYSCALL_INODE_MKDIR);
}

SEC("fentry/security_inode_mknod")
int fentry_inode_mknod(unsigned long long *ctx)
{
	return on_inode_create((struct dentry *)ctx[1], (__u32)ctx[2], ARENA_SYSCALL_INODE_MKNOD);
}

/* ---- syscall tracepoints: the name as given to the syscall ---- */

static __always_inline int on_enter(const char *name, __u32 mode, __u32 syscall, __s32 dirfd, __u64 user_how)
{
	struct arena_control __arena *control = ERMFS_CONTROL();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pending_creation call;
	struct creator_ids ids;

	ERMFS_USE_ARENA();
	if (!enabled(control))
		return 0;
	ids = creator_ids(control);
	if (!creator_wanted(control, ids))
		return 0;
	__builtin_memset(&call, 0, sizeof(call));
	call.user_name = (__u64)name;
	call.user_how = user_how;
	call.ids = ids;
	call.mode = mode;
	call.syscall = syscall;
	call.dirfd = dirfd;
	call.name_flags = read_user_path(call.name, name);
	/* A thread has one syscall in flight: this replaces a leftover whose exit never came. */
	if (bpf_map_update_elem(&pending, &pid_tgid, &call, BPF_ANY) != 0)
		count_drop(control, -ARENA_EFULL);
	return 0;
}

static __always_inline int on_exit(long ret)
{
	struct arena_control __arena *control = ERMFS_CONTROL();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pending_creation *call;
	struct open_how_prefix how;
	arena_off_t off;

	ERMFS_USE_ARENA();
	call = bpf_map_lookup_elem(&pending, &pid_tgid);
	if (!call)
		return 0;
	/* The call succeeded, so the kernel has read its arguments: memory that was not
	 * mapped at enter is now. An openat2 whose flags stay unknown is not reported. */
	if (ret >= 0 && call->user_how) {
		if (bpf_probe_read_user(&how, sizeof(how), (const void *)call->user_how) == 0 &&
		    (how.flags & ERMFS_O_CREAT))
			call->mode = (__u32)how.mode;
		else
			ret = -1; /* not a creation, or not knowable */
	}
	if (ret >= 0 && (call->name_flags & ARENA_NAME_UNREADABLE)) {
		call->name_flags = read_user_path(call->name, (const char *)call->user_name);
		if (!(call->name_flags & ARENA_NAME_UNREADABLE))
			arena_atomic_inc(&control->names_read_at_exit, ARENA_RELAXED);
	}
	producer_enter(control);
	/* A feed stopped while the call ran publishes nothing. */
	if (ret >= 0 && enabled(control)) {
		off = take_event(control, call->name, call->name_flags, call->mode, call->syscall, call->dirfd,
				 call->ids);
		if (off)
			publish(control, off);
	}
	producer_leave(control);
	bpf_map_delete_elem(&pending, &pid_tgid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[2] & ERMFS_O_CREAT))
		return 0;
	return on_enter((const char *)ctx->args[1], (__u32)ctx->args[3], ARENA_SYSCALL_OPENAT, (__s32)ctx->args[0], 0);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tp_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tp_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how_prefix how;
	const char *name = (const char *)ctx->args[1];

	if (bpf_probe_read_user(&how, sizeof(how), (const void *)ctx->args[2]) != 0)
		return on_enter(name, 0, ARENA_SYSCALL_OPENAT2, (__s32)ctx->args[0], ctx->args[2]);
	if (!(how.flags & ERMFS_O_CREAT))
		return 0;
	return on_enter(name, (__u32)how.mode, ARENA_SYSCALL_OPENAT2, (__s32)ctx->args[0], 0);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tp_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int tp_enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[0], (__u32)ctx->args[1], ARENA_SYSCALL_CREAT, -100, 0);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int tp_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_mkdirat")
int tp_enter_mkdirat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[1], (__u32)ctx->args[2], ARENA_SYSCALL_MKDIRAT, (__s32)ctx->args[0], 0);
}

SEC("tracepoint/syscalls/sys_exit_mkdirat")
int tp_exit_mkdirat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_mknodat")
int tp_enter_mknodat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[1], (__u32)ctx->args[2], ARENA_SYSCALL_MKNODAT, (__s32)ctx->args[0], 0);
}

SEC("tracepoint/syscalls/sys_exit_mknodat")
int tp_exit_mknodat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

/* Legacy x86-64 entry points (absent on arm64: the loader skips what does not exist). */
SEC("tracepoint/syscalls/sys_enter_open")
int tp_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[1] & ERMFS_O_CREAT))
		return 0;
	return on_enter((const char *)ctx->args[0], (__u32)ctx->args[2], ARENA_SYSCALL_OPEN, -100, 0);
}

SEC("tracepoint/syscalls/sys_exit_open")
int tp_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_mkdir")
int tp_enter_mkdir(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[0], (__u32)ctx->args[1], ARENA_SYSCALL_MKDIR, -100, 0);
}

SEC("tracepoint/syscalls/sys_exit_mkdir")
int tp_exit_mkdir(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_mknod")
int tp_enter_mknod(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[0], (__u32)ctx->args[1], ARENA_SYSCALL_MKNOD, -100, 0);
}

SEC("tracepoint/syscalls/sys_exit_mknod")
int tp_exit_mknod(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}
