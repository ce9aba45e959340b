/* A small shim over libbpf for Swift: plain C types and one opaque handle. libbpf's
 * own headers stay private to ermfs_libbpf.c (see PLATFORM notes on importing C
 * libraries). Failures return -errno; messages from libbpf go to the caller's buffer. */
#ifndef ERMFS_LIBBPF_H
#define ERMFS_LIBBPF_H

#include <stddef.h>
#include <stdint.h>

typedef struct ermfs_bpf_object ermfs_bpf_object;

/* What this process may do with BPF on this kernel. */
struct ermfs_bpf_probe_result {
	int euid;
	int cap_bpf, cap_perfmon, cap_sys_admin;   /* effective capabilities, 0/1 */
	int bpf_syscall_errno;  /* 0: BPF_MAP_CREATE of a plain array worked */
	int btf_present;        /* /sys/kernel/btf/vmlinux readable (CO-RE) */
	int arena_errno;        /* 0: an arena map could be created */
	int tracefs_mounted, tracefs_mounted_now, tracefs_errno;
	int bpffs_mounted, bpffs_mounted_now, bpffs_errno;
};

/* Probes capabilities and kernel support; when `mount_if_root` and we are root, mounts
 * tracefs at /sys/kernel/tracing and bpffs at /sys/fs/bpf if they are missing. */
void ermfs_bpf_probe(struct ermfs_bpf_probe_result *out, int mount_if_root);

/* The next free arena address (low 32 bits zero, 4 GiB apart) for one loaded object. */
uint64_t ermfs_bpf_next_arena_address(void);

/* Opens an object from memory, sets the arena map's map_extra to `arena_address`,
 * enables only the `program_count` programs named in `programs` (others are not
 * loaded), and loads it. libbpf's messages are appended to `log` (may be NULL). */
int ermfs_bpf_object_load(const void *bytes, size_t size, const char *name, uint64_t arena_address,
			  const char *const *programs, int program_count, ermfs_bpf_object **out, char *log,
			  size_t log_size);

/* Maps the arena at its fixed address (once); returns the base or NULL with *error set. */
void *ermfs_bpf_object_arena(ermfs_bpf_object *object, uint64_t *size, int *error);

/* Attaches a loaded program by name (libbpf picks the attach type from its section). */
int ermfs_bpf_object_attach(ermfs_bpf_object *object, const char *program, char *log, size_t log_size);

/* Runs a loaded SEC("syscall") program once (BPF_PROG_TEST_RUN); *retval gets its return. */
int ermfs_bpf_object_run(ermfs_bpf_object *object, const char *program, int *retval);

/* BPF ring buffer consumption (the benchmark baseline). The callback gets each
 * sample; ermfs_bpf_ringbuf_poll blocks in epoll up to timeout_ms, while
 * ermfs_bpf_ringbuf_consume only reads the shared pages. Both return the number of
 * samples handled or -errno. */
typedef int (*ermfs_ringbuf_sample_fn)(void *context, void *data, size_t size);
typedef struct ermfs_ringbuf ermfs_ringbuf;
int ermfs_bpf_ringbuf_open(ermfs_bpf_object *object, const char *map, ermfs_ringbuf_sample_fn sample,
			   void *context, ermfs_ringbuf **out);
int ermfs_bpf_ringbuf_poll(ermfs_ringbuf *ring, int timeout_ms);
int ermfs_bpf_ringbuf_consume(ermfs_ringbuf *ring);
void ermfs_bpf_ringbuf_free(ermfs_ringbuf *ring);

/* Detaches every link, unmaps the arena and closes the object. */
void ermfs_bpf_object_close(ermfs_bpf_object *object);

#endif
