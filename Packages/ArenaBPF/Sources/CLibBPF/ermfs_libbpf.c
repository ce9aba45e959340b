#define _GNU_SOURCE
#include "ermfs_libbpf.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#define ERMFS_MAP_TYPE_ARENA 33
#define ERMFS_MAX_LINKS 64
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

struct ermfs_bpf_object {
	struct bpf_object *object;
	uint64_t arena_address;
	void *arena;
	uint64_t arena_size;
	struct bpf_link *links[ERMFS_MAX_LINKS];
	int link_count;
};

/* libbpf's print callback is process-wide: route it to the calling thread's buffer. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_buffer;
static size_t log_size_;

static int capture_print(enum libbpf_print_level level, const char *format, va_list args)
{
	size_t used;

	if (level == LIBBPF_DEBUG || !log_buffer || log_size_ == 0)
		return 0;
	used = strnlen(log_buffer, log_size_);
	if (used + 1 < log_size_)
		vsnprintf(log_buffer + used, log_size_ - used, format, args);
	return 0;
}

static void capture_begin(char *log, size_t size)
{
	pthread_mutex_lock(&log_lock);
	log_buffer = log;
	log_size_ = size;
	if (log && size)
		log[0] = 0;
	libbpf_set_print(capture_print);
}

static void capture_end(void)
{
	log_buffer = NULL;
	log_size_ = 0;
	pthread_mutex_unlock(&log_lock);
}

static int has_capability(const struct __user_cap_data_struct *data, int cap)
{
	return (data[cap / 32].effective >> (cap % 32)) & 1;
}

static int fs_has_magic(const char *path, long magic)
{
	struct statfs fs;

	return statfs(path, &fs) == 0 && (long)fs.f_type == magic;
}

void ermfs_bpf_probe(struct ermfs_bpf_probe_result *out, int mount_if_root)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	int fd;

	memset(out, 0, sizeof(*out));
	out->euid = (int)geteuid();
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &header, data) == 0) {
		out->cap_bpf = has_capability(data, 39 /* CAP_BPF */);
		out->cap_perfmon = has_capability(data, 38 /* CAP_PERFMON */);
		out->cap_sys_admin = has_capability(data, CAP_SYS_ADMIN);
	}

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ermfs_probe", 4, 4, 1, NULL);
	out->bpf_syscall_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);

	out->btf_present = access("/sys/kernel/btf/vmlinux", R_OK) == 0;

	{
		LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE,
			    .map_extra = ermfs_bpf_next_arena_address());
		fd = bpf_map_create((enum bpf_map_type)ERMFS_MAP_TYPE_ARENA, "ermfs_arena", 0, 0, 1, &opts);
		out->arena_errno = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
	}

	out->tracefs_mounted = fs_has_magic("/sys/kernel/tracing", TRACEFS_MAGIC);
	if (!out->tracefs_mounted && mount_if_root && out->euid == 0) {
		if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
			out->tracefs_mounted = out->tracefs_mounted_now = 1;
		else
			out->tracefs_errno = errno;
	}
	out->bpffs_mounted = fs_has_magic("/sys/fs/bpf", BPF_FS_MAGIC);
	if (!out->bpffs_mounted && mount_if_root && out->euid == 0) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL) == 0)
			out->bpffs_mounted = out->bpffs_mounted_now = 1;
		else
			out->bpffs_errno = errno;
	}
}

uint64_t ermfs_bpf_next_arena_address(void)
{
	/* 1 << 44 upward in 4 GiB steps: the low 32 bits stay 0, which makes an arena
	 * offset a valid BPF arena pointer (docs/decisions/arena-layout.md). */
	static _Atomic uint64_t next_slot;

	return (1ull << 44) + (atomic_fetch_add(&next_slot, 1) << 32);
}

static int is_listed(const char *name, const char *const *programs, int count)
{
	for (int i = 0; i < count; i++)
		if (strcmp(name, programs[i]) == 0)
			return 1;
	return 0;
}

int ermfs_bpf_object_load(const void *bytes, size_t size, const char *name, uint64_t arena_address,
			  const char *const *programs, int program_count, ermfs_bpf_object **out, char *log,
			  size_t log_size)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name);
	struct ermfs_bpf_object *handle;
	struct bpf_program *program;
	struct bpf_map *arena;
	int error;

	*out = NULL;
	if ((arena_address & 0xffffffffull) != 0)
		return -EINVAL;
	handle = calloc(1, sizeof(*handle));
	if (!handle)
		return -ENOMEM;
	capture_begin(log, log_size);
	handle->object = bpf_object__open_mem(bytes, size, &opts);
	if (!handle->object) {
		error = -errno;
		goto fail;
	}
	arena = bpf_object__find_map_by_name(handle->object, "arena");
	if (arena) {
		/* Before load: libbpf 1.1 reads only 32 bits of a BTF map_extra. */
		error = bpf_map__set_map_extra(arena, arena_address);
		if (error)
			goto fail;
		handle->arena_address = arena_address;
		handle->arena_size = (uint64_t)bpf_map__max_entries(arena) * (uint64_t)sysconf(_SC_PAGESIZE);
	}
	bpf_object__for_each_program(program, handle->object)
		bpf_program__set_autoload(program, is_listed(bpf_program__name(program), programs, program_count));
	error = bpf_object__load(handle->object);
	if (error)
		goto fail;
	capture_end();
	*out = handle;
	return 0;
fail:
	capture_end();
	if (handle->object)
		bpf_object__close(handle->object);
	free(handle);
	return error < 0 ? error : -error;
}

void *ermfs_bpf_object_arena(ermfs_bpf_object *handle, uint64_t *size, int *error)
{
	struct bpf_map *arena;
	void *address;

	*error = 0;
	if (handle->arena) {
		*size = handle->arena_size;
		return handle->arena;
	}
	arena = bpf_object__find_map_by_name(handle->object, "arena");
	if (!arena) {
		*error = ENOENT;
		return NULL;
	}
	/* NOREPLACE: never clobber a mapping someone else placed there. */
	address = mmap((void *)(uintptr_t)handle->arena_address, handle->arena_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED_NOREPLACE, bpf_map__fd(arena), 0);
	if (address == MAP_FAILED) {
		*error = errno;
		return NULL;
	}
	handle->arena = address;
	*size = handle->arena_size;
	return address;
}

int ermfs_bpf_object_attach(ermfs_bpf_object *handle, const char *name, char *log, size_t log_size)
{
	struct bpf_program *program = bpf_object__find_program_by_name(handle->object, name);
	struct bpf_link *link;
	int error = 0;

	if (!program || bpf_program__fd(program) < 0)
		return -ENOENT;
	if (handle->link_count == ERMFS_MAX_LINKS)
		return -ENOSPC;
	capture_begin(log, log_size);
	link = bpf_program__attach(program);
	if (!link)
		error = -errno;
	capture_end();
	if (error)
		return error;
	handle->links[handle->link_count++] = link;
	return 0;
}

int ermfs_bpf_object_run(ermfs_bpf_object *handle, const char *name, int *retval)
{
	struct bpf_program *program = bpf_object__find_program_by_name(handle->object, name);
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int error;

	if (!program || bpf_program__fd(program) < 0)
		return -ENOENT;
	error = bpf_prog_test_run_opts(bpf_program__fd(program), &opts);
	if (error)
		return -errno;
	*retval = (int)opts.retval;
	return 0;
}

void ermfs_bpf_object_close(ermfs_bpf_object *handle)
{
	if (!handle)
		return;
	for (int i = handle->link_count - 1; i >= 0; i--)
		bpf_link__destroy(handle->links[i]);
	if (handle->arena)
		munmap(handle->arena, handle->arena_size);
	bpf_object__close(handle->object);
	free(handle);
}

int ermfs_bpf_ringbuf_open(ermfs_bpf_object *handle, const char *name, ermfs_ringbuf_sample_fn sample,
			   void *context, ermfs_ringbuf **out)
{
	struct bpf_map *map = bpf_object__find_map_by_name(handle->object, name);
	struct ring_buffer *ring;

	*out = NULL;
	if (!map)
		return -ENOENT;
	ring = ring_buffer__new(bpf_map__fd(map), (ring_buffer_sample_fn)sample, context, NULL);
	if (!ring)
		return -errno;
	*out = (ermfs_ringbuf *)ring;
	return 0;
}

int ermfs_bpf_ringbuf_poll(ermfs_ringbuf *ring, int timeout_ms)
{
	return ring_buffer__poll((struct ring_buffer *)ring, timeout_ms);
}

int ermfs_bpf_ringbuf_consume(ermfs_ringbuf *ring)
{
	return ring_buffer__consume((struct ring_buffer *)ring);
}

void ermfs_bpf_ringbuf_free(ermfs_ringbuf *ring)
{
	ring_buffer__free((struct ring_buffer *)ring);
}
