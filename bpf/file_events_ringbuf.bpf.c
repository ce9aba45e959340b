/* SPDX-License-Identifier: MIT */
/*
 * file_events_ringbuf.bpf.c - the baseline for benchmarks: the same syscall
 * tracepoints as file_events.bpf.c, publishing through a BPF_MAP_TYPE_RINGBUF instead
 * of the arena. Filtering is read from the arena control block like the producer's.
 */
#include "ermfs_bpf.h"

#include "ermfs_creator.h"
#include "ermfs_kernel_types.h"

char LICENSE[] SEC("license") = "GPL";

#define ERMFS_O_CREAT 0100

/* Same payload as struct arena_file_event without the pool link. */
struct ringbuf_file_event {
	__u64 sequence;
	__u64 timestamp_ns;
	__u32 pid;
	__u32 tgid;
	__u32 mode;
	__u32 hook;
	__u32 syscall;
	__s32 dirfd;
	__u32 name_flags;
	__u32 reserved;
	char comm[ARENA_COMM_MAX];
	char name[ARENA_NAME_MAX];
};

struct pending_call {
	__u64 name;
	struct creator_ids ids;
	__u32 mode;
	__s32 dirfd;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pending_call);
} pending_calls SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int rb_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct arena_control __arena *control = ERMFS_CONTROL();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pending_call call;

	ERMFS_USE_ARENA();
	if (!(ctx->args[2] & ERMFS_O_CREAT) || control->magic != ARENA_CONTROL_MAGIC ||
	    !arena_atomic_load(&control->filter_enabled, ARENA_ACQUIRE))
		return 0;
	call.ids = creator_ids(control);
	if (!creator_wanted(control, call.ids))
		return 0;
	call.name = ctx->args[1];
	call.mode = (__u32)ctx->args[3];
	call.dirfd = (__s32)ctx->args[0];
	bpf_map_update_elem(&pending_calls, &pid_tgid, &call, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int rb_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	struct arena_control __arena *control = ERMFS_CONTROL();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pending_call *call = bpf_map_lookup_elem(&pending_calls, &pid_tgid);
	struct ringbuf_file_event *event;

	ERMFS_USE_ARENA();
	if (!call)
		return 0;
	if (ctx->ret >= 0 && arena_atomic_load(&control->filter_enabled, ARENA_ACQUIRE)) {
		event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
		if (!event) {
			arena_atomic_inc(&control->events_dropped, ARENA_RELAXED);
		} else {
			bpf_probe_read_user_str(event->name, sizeof(event->name), (const void *)call->name);
			bpf_get_current_comm(event->comm, sizeof(event->comm));
			event->sequence = arena_atomic_inc(&control->event_sequence, ARENA_RELAXED);
			event->timestamp_ns = bpf_ktime_get_ns();
			event->pid = call->ids.pid;
			event->tgid = call->ids.tgid;
			event->mode = call->mode;
			event->hook = ARENA_HOOK_TRACEPOINT;
			event->syscall = 1;
			event->dirfd = call->dirfd;
			event->name_flags = ARENA_NAME_PATH;
			event->reserved = 0;
			bpf_ringbuf_submit(event, 0);
			arena_atomic_inc(&control->events_published, ARENA_RELAXED);
		}
	}
	bpf_map_delete_elem(&pending_calls, &pid_tgid);
	return 0;
}
