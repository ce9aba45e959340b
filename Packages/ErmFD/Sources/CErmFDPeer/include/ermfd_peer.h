// What the test peer (ermfd-peer) needs from the C library and Swift's Glibc module
// lacks: setresuid/setresgid/setgroups are declared only under _GNU_SOURCE.
#ifndef ERMFD_PEER_H
#define ERMFD_PEER_H

#include <sys/types.h>

/// Becomes user `uid` and group `gid` for good: `setgroups(0, NULL)`, then
/// `setresgid(gid, gid, gid)` and `setresuid(uid, uid, uid)`, so SO_PEERCRED reports
/// `uid` on every later connect. 0 or -1 with errno (EPERM unless root).
int ermfd_peer_become_user(uid_t uid, gid_t gid);

#endif
