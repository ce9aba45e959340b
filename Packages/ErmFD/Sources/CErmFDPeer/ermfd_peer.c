#define _GNU_SOURCE
#include "ermfd_peer.h"

#include <grp.h>
#include <unistd.h>

int ermfd_peer_become_user(uid_t uid, gid_t gid) {
  // Groups and gid first: once the uid is dropped, they can no longer be changed.
  if (setgroups(0, NULL) != 0) return -1;
  if (setresgid(gid, gid, gid) != 0) return -1;
  return setresuid(uid, uid, uid);
}
