/* SPDX-License-Identifier: MIT */
/*
 * ermfs_creator.h - who is creating a file, counted in the feed owner's pid namespace,
 * and whether the feed wants it: the filter policy both file-creation producers
 * (file_events, file_events_ringbuf) share. Process ids mean something only within one
 * pid namespace; a feed started inside a container gives its own getpid().
 */
#ifndef ERMFS_CREATOR_H
#define ERMFS_CREATOR_H

#include "ermfs_bpf.h"

struct creator_ids {
	__u32 pid;   /* thread id */
	__u32 tgid;  /* process id */
};

/*
 * The current task's ids in control's pid namespace; 0/0 when it is not visible there.
 * In the initial namespace every task has its global ids (bpf_get_current_pid_tgid).
 * Elsewhere bpf_get_ns_current_pid_tgid answers only for tasks whose own namespace is
 * that one: tasks of a nested namespace are reported as 0 and never match a filter.
 */
static __always_inline struct creator_ids creator_ids(struct arena_control __arena *control)
{
	struct creator_ids ids = {0, 0};
	struct bpf_pidns_info ns;
	__u64 pid_tgid;

	if (control->filter_pidns_initial) {
		pid_tgid = bpf_get_current_pid_tgid();
		ids.pid = (__u32)pid_tgid;
		ids.tgid = (__u32)(pid_tgid >> 32);
	} else if (bpf_get_ns_current_pid_tgid(control->filter_pidns_dev, control->filter_pidns_ino, &ns,
					      sizeof(ns)) == 0) {
		ids.pid = ns.pid;
		ids.tgid = ns.tgid;
	}
	return ids;
}

/* Whether the feed wants creations by `ids` (filter_tgid 0: every process). */
static __always_inline int creator_wanted(struct arena_control __arena *control, struct creator_ids ids)
{
	return control->filter_tgid == 0 || (ids.tgid != 0 && ids.tgid == control->filter_tgid);
}

#endif /* ERMFS_CREATOR_H */
