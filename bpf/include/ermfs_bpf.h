/* SPDX-License-Identifier: MIT */
/* Shared prologue of ERMFS BPF programs: libbpf's helper declarations and the arena
 * map definition. No vmlinux.h: hooks declare the few kernel types they read. */
#ifndef ERMFS_BPF_H
#define ERMFS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "arena_layout.h"

/* Debian's UAPI headers predate arenas (kernel 6.9). */
#define ERMFS_MAP_TYPE_ARENA 33
/* Pages in the arena; user space sizes its layout within this. */
#ifndef ERMFS_ARENA_PAGES
#define ERMFS_ARENA_PAGES (64u * 1024 * 1024 / ARENA_PAGE_SIZE)
#endif

struct {
	__uint(type, ERMFS_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, ERMFS_ARENA_PAGES);
} arena SEC(".maps");

/* The verifier allows addr_space_cast only in programs that reference the arena map. */
#define ERMFS_USE_ARENA() asm volatile("" ::"r"(&arena))

#define ERMFS_CONTROL() ARENA_PTR(0, struct arena_control, 0)

#endif /* ERMFS_BPF_H */
