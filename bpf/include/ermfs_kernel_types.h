/* SPDX-License-Identifier: MIT */
/*
 * The few kernel types the hooks read, declared by hand with preserve_access_index so
 * libbpf relocates every field offset against the running kernel's BTF (CO-RE). Only
 * the fields used are listed; no generated vmlinux.h is committed.
 */
#ifndef ERMFS_KERNEL_TYPES_H
#define ERMFS_KERNEL_TYPES_H

struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct inode;

/* Context of tracepoint/syscalls/sys_enter_* and sys_exit_*. */
struct trace_event_raw_sys_enter {
	long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));

struct trace_event_raw_sys_exit {
	long id;
	long ret;
} __attribute__((preserve_access_index));

#endif /* ERMFS_KERNEL_TYPES_H */
