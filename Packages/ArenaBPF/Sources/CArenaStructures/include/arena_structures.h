/* Plain-C view of the arena structures for Swift: the same bpf/include headers the
 * kernel programs use, compiled for user space, behind one dispatching entry per
 * operation. Only plain C types cross this header. Status: 0 or a negative
 * ARENA_E* code (see arena_common.h). */
#ifndef ERMFS_ARENA_STRUCTURES_H
#define ERMFS_ARENA_STRUCTURES_H

#include <stdint.h>

enum ermfs_arena_kind {
	ERMFS_ARENA_SPSC = 0,
	ERMFS_ARENA_MPMC = 1,
	ERMFS_ARENA_MSQUEUE = 2,
	ERMFS_ARENA_TREIBER = 3,
	ERMFS_ARENA_URING = 4,
	ERMFS_ARENA_HASHSET = 5,
};

/* Bytes structure `kind` of `capacity` occupies at its offset; 0 for an unknown kind. */
uint64_t ermfs_arena_bytes(int kind, uint32_t capacity);
int ermfs_arena_init(int kind, void *base, uint32_t at, uint32_t capacity, uint32_t pool);
int ermfs_arena_push(int kind, void *base, uint32_t at, uint64_t value);
int ermfs_arena_pop(int kind, void *base, uint32_t at, uint64_t *value);
int ermfs_arena_verify(int kind, void *base, uint32_t at, uint64_t *count);

/* io_uring-style pair, server side. */
int ermfs_arena_uring_take(void *base, uint32_t at, uint64_t *user_data, uint64_t *arg);
int ermfs_arena_uring_complete(void *base, uint32_t at, uint64_t user_data, int64_t res);
int ermfs_arena_uring_reap(void *base, uint32_t at, uint64_t *user_data, int64_t *res);
int ermfs_arena_hashset_contains(void *base, uint32_t at, uint64_t key);

/* The node pool. alloc returns a node offset, or 0 with *status set; an empty free
 * list first takes back parked nodes. free never fails for a node of the pool. park
 * (what BPF does when its loop budget is gone) puts a node on the parked list, reclaim
 * moves parked nodes to the free list and returns how many. verify (quiescent) counts
 * the free and the parked nodes. */
uint64_t ermfs_arena_pool_bytes(uint32_t node_size, uint32_t count);
int ermfs_arena_pool_init(void *base, uint32_t at, uint32_t node_size, uint32_t count);
uint32_t ermfs_arena_pool_alloc(void *base, uint32_t at, int *status);
int ermfs_arena_pool_free(void *base, uint32_t at, uint32_t node);
int ermfs_arena_pool_verify(void *base, uint32_t at, uint64_t *free_count, uint64_t *parked_count);
uint64_t ermfs_arena_pool_reclaim(void *base, uint32_t at);
void ermfs_arena_pool_park(void *base, uint32_t at, uint32_t node);

/* Makes sure every arena page of [base, base + bytes) exists. A BPF program cannot
 * allocate arena pages from a tracepoint, and its store to a page nobody faulted in is
 * dropped without a trace (its load reads 0): user space faults in every page a
 * layout uses before any program runs. */
void ermfs_arena_prefault(const void *base, uint64_t bytes);

/* Atomic access to arena words from Swift, through the same wrappers. */
uint64_t ermfs_arena_load_acquire(const void *address);
void ermfs_arena_store_release(void *address, uint64_t value);
void ermfs_arena_cpu_relax(void);

/* ---- the arena's control block and file-creation events (arena_layout.h) ---- */

/* Counters and lane results, read with acquire loads. */
struct ermfs_arena_counters {
	uint64_t event_sequence;
	uint64_t events_published;
	uint64_t events_dropped;
	uint64_t events_loop_budget;
	uint64_t names_read_at_exit;
	uint64_t lane_consumed;
	uint64_t lane_checksum;
	uint64_t lane_runs;
	int64_t lane_status;
	uint64_t lane_produced;
	uint64_t lane_produced_checksum;
	uint64_t lane_fill_next;
	uint64_t lane_fill_end;
	int64_t lane_fill_status;
	uint64_t doorbells_rung;
	uint64_t consumer_sleeping;
};

/* A copy of one event, in plain C types. */
struct ermfs_file_event {
	uint64_t sequence;
	uint64_t timestamp_ns;
	uint32_t pid;
	uint32_t tgid;
	uint32_t mode;
	uint32_t hook;
	uint32_t syscall;
	int32_t dirfd;
	uint32_t name_flags; /* ERMFS_NAME_* */
	uint32_t reserved;
	char comm[16];
	char name[256];
};

#define ERMFS_NAME_TRUNCATED 1u
#define ERMFS_NAME_UNREADABLE 2u
#define ERMFS_NAME_PATH 4u

uint32_t ermfs_arena_control_bytes(void);
uint32_t ermfs_arena_event_node_size(void);
uint64_t ermfs_arena_user_address(void);
void ermfs_arena_control_init(void *base);
void ermfs_arena_control_set_events(void *base, int kind, uint32_t at, uint32_t pool, uint32_t hook);
/* Which process to report (0: all), as an id in the pid namespace named by its nsfs
 * device and inode; `pidns_initial` when that is the initial namespace. Set while
 * events are disabled. */
void ermfs_arena_control_set_filter(void *base, uint32_t tgid, uint64_t pidns_dev, uint64_t pidns_ino,
				    int pidns_initial);
/* Producers publish only while enabled (a release store). */
void ermfs_arena_control_enable_events(void *base, int enabled);
/* Stops the producers and waits until none is inside code that takes or publishes a
 * node: afterwards every node of the pool stays where it is. */
void ermfs_arena_control_quiesce(void *base);
/* Zeroes the event counters (sequence, published, dropped, ...). Producers quiesced. */
void ermfs_arena_control_reset_event_counters(void *base);
/* Tests only: ARENA_FAULT_* points where BPF programs spend their loop budget. */
#define ERMFS_FAULT_BUDGET_AFTER_TAKE 1u
#define ERMFS_FAULT_BUDGET_BEFORE_PUSH 2u
void ermfs_arena_control_set_fault_injection(void *base, uint32_t points);
void ermfs_arena_control_set_lane(void *base, int kind, uint32_t at, uint64_t key_first, uint64_t key_count);
/* Kernel -> user lane: values lane_fill pushes next, [first, first + count). */
void ermfs_arena_control_set_fill(void *base, uint64_t first, uint64_t count);
void ermfs_arena_control_read(const void *base, struct ermfs_arena_counters *out);
/* Consumer side of the doorbell: a sequentially consistent exchange of the flag, so the
 * consumer's next look at the structure is ordered after it. */
void ermfs_arena_control_set_sleeping(void *base, int sleeping);
/* Pops one event offset from the structure, copies the event out and returns its node
 * to the pool. 0, or -ARENA_EEMPTY when there is none. */
int ermfs_arena_take_event(int kind, void *base, uint32_t at, uint32_t pool, struct ermfs_file_event *out);

/* gettid(2), which Swift's Glibc module does not export. */
int32_t ermfs_gettid(void);

#endif
