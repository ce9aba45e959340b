#define _GNU_SOURCE
#include "arena_test_support.h"

#include <errno.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

static long result(long r)
{
	return r < 0 ? -errno : r;
}

long ermfs_test_open(const char *path, int flags, uint32_t mode)
{
#ifdef SYS_open
	return result(syscall(SYS_open, path, flags, mode));
#else
	return -ENOSYS;
#endif
}

long ermfs_test_openat(int dirfd, const char *path, int flags, uint32_t mode)
{
	return result(syscall(SYS_openat, dirfd, path, flags, mode));
}

long ermfs_test_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode)
{
	struct open_how how = {.flags = flags, .mode = mode};

	return result(syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

long ermfs_test_creat(const char *path, uint32_t mode)
{
#ifdef SYS_creat
	return result(syscall(SYS_creat, path, mode));
#else
	return -ENOSYS;
#endif
}

long ermfs_test_mkdir(const char *path, uint32_t mode)
{
#ifdef SYS_mkdir
	return result(syscall(SYS_mkdir, path, mode));
#else
	return -ENOSYS;
#endif
}

long ermfs_test_mkdirat(int dirfd, const char *path, uint32_t mode)
{
	return result(syscall(SYS_mkdirat, dirfd, path, mode));
}

long ermfs_test_mknod(const char *path, uint32_t mode)
{
#ifdef SYS_mknod
	return result(syscall(SYS_mknod, path, mode, 0));
#else
	return -ENOSYS;
#endif
}

long ermfs_test_mknodat(int dirfd, const char *path, uint32_t mode)
{
	return result(syscall(SYS_mknodat, dirfd, path, mode, 0));
}
