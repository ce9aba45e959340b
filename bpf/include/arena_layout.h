/* SPDX-License-Identifier: MIT */
/*
 * arena_layout.h - where things live in the ERMFS arena (fixed offsets: libbpf 1.1
 * cannot place __arena globals). Page 0 holds the control block; user space lays out
 * everything else and writes the offsets here before attaching programs, so BPF and
 * user space agree without any relocation.
 */
#ifndef ERMFS_ARENA_LAYOUT_H
#define ERMFS_ARENA_LAYOUT_H

#include "arena_pool.h"

#define ARENA_CONTROL_MAGIC 0x45524d46u /* "ERMF" */
#define ARENA_LAYOUT_VERSION 2u
#define ARENA_PAGE_SIZE 4096u
/* The arena's user address: low 32 bits zero, so arena offsets are BPF pointers. */
#define ARENA_USER_ADDRESS (1ull << 44)

/* Structure kinds, shared with the user-space dispatcher. */
#define ARENA_KIND_SPSC 0
#define ARENA_KIND_MPMC 1
#define ARENA_KIND_MSQUEUE 2
#define ARENA_KIND_TREIBER 3
#define ARENA_KIND_URING 4
#define ARENA_KIND_HASHSET 5

/* Hooks the file-creation producer can run on, recorded in control.active_hook. */
#define ARENA_HOOK_NONE 0
#define ARENA_HOOK_LSM 1
#define ARENA_HOOK_FENTRY 2
#define ARENA_HOOK_TRACEPOINT 3

/* Fault injection (tests only; 0 in production): where a BPF program spends its whole
 * may_goto budget on purpose, to exercise the paths that run after it is gone. */
#define ARENA_FAULT_BUDGET_AFTER_TAKE 1u  /* lane pops: between taking a node and freeing it */
#define ARENA_FAULT_BUDGET_BEFORE_PUSH 2u /* file-event producer: before pushing an event */

struct arena_control {
	arena_u32 magic;
	arena_u32 version;
	/* kernel -> user: file-creation events (pool nodes pushed by offset) */
	arena_u32 event_kind;
	arena_off_t event_at;
	arena_off_t event_pool;
	arena_u32 active_hook;
	arena_u32 filter_enabled;  /* producer publishes only when nonzero */
	arena_u32 filter_tgid;     /* 0: every process; else a process id in the namespace below */
	/* The feed owner's pid namespace (nsfs st_dev/st_ino): filter and event ids count there. */
	arena_u64 filter_pidns_dev;
	arena_u64 filter_pidns_ino;
	arena_u32 filter_pidns_initial; /* 1: the initial namespace: global ids */
	arena_u32 fault_injection; /* tests only: ARENA_FAULT_* points that spend the loop budget */
	arena_u8 pad0_[ARENA_CACHE_LINE - 56];
	/* user -> kernel lane, drained by the SEC("syscall") program on demand */
	arena_u32 lane_kind;
	arena_off_t lane_at;
	arena_u64 lane_key_first;  /* hash set lane: keys [first, first + count) */
	arena_u64 lane_key_count;
	/* kernel -> user lane: lane_fill pushes lane_fill_next, +1, ... below lane_fill_end */
	arena_u64 lane_fill_next;  /* written by lane_fill (one run at a time) */
	arena_u64 lane_fill_end;
	arena_u8 pad4_[ARENA_CACHE_LINE - 40];
	/* written by the kernel (fetch-add: several CPUs at once) */
	arena_u64 event_sequence;
	arena_u64 events_published;
	arena_u64 events_dropped;  /* pool or structure full */
	arena_u64 events_loop_budget; /* may_goto budget exhausted */
	arena_u64 names_read_at_exit; /* unreadable at syscall entry (page not mapped yet) */
	arena_u8 pad1_[ARENA_CACHE_LINE - 40];
	/* Producers inside code that takes or publishes nodes (user space waits for 0). */
	arena_u64 producers_in_flight;
	arena_u8 pad3_[ARENA_CACHE_LINE - 8];
	arena_u64 lane_consumed;
	arena_u64 lane_checksum;   /* sum of consumed values */
	arena_s64 lane_status;     /* last drain's stop status */
	arena_u64 lane_runs;
	arena_u64 lane_produced;   /* values lane_fill pushed, and their sum */
	arena_u64 lane_produced_checksum;
	arena_s64 lane_fill_status; /* last fill's stop status */
	arena_u8 pad2_[ARENA_CACHE_LINE - 56];
	/* Doorbell (like io_uring's SQPOLL wakeup flag): the consumer sets `sleeping`
	 * before it blocks; a producer that publishes while it is set clears it and
	 * rings the doorbell ring buffer once. */
	arena_u64 consumer_sleeping;
	arena_u64 doorbells_rung;
};

#define ARENA_NAME_MAX 256
#define ARENA_COMM_MAX 16

/* One file-creation event; lives in a pool node, after struct arena_node. */
struct arena_file_event {
	struct arena_node node;    /* next (pool/queue link), value (unused) */
	arena_u64 sequence;
	arena_u64 timestamp_ns;    /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	arena_u32 pid;             /* thread id */
	arena_u32 tgid;            /* process id (both in the feed's pid namespace, 0: not visible) */
	arena_u32 mode;            /* create mode (O_CREAT/mkdir/mknod argument) */
	arena_u32 hook;            /* ARENA_HOOK_* that saw it */
	arena_u32 syscall;         /* which syscall or hook point */
	arena_s32 dirfd;
	arena_u32 name_flags;      /* ARENA_NAME_* */
	arena_u32 reserved;
	arena_u8 comm[ARENA_COMM_MAX];
	/* NUL-terminated. With ARENA_NAME_PATH the path as given to the creating call
	 * (relative to dirfd), else the new entry's own name (inode hooks: the dentry's). */
	arena_u8 name[ARENA_NAME_MAX];
};

#define ARENA_NAME_TRUNCATED 1u  /* the path did not fit: name holds its first bytes */
#define ARENA_NAME_UNREADABLE 2u /* the name's memory could not be read, even at exit */
#define ARENA_NAME_PATH 4u       /* name holds the path as given to the syscall */

#endif /* ERMFS_ARENA_LAYOUT_H */
