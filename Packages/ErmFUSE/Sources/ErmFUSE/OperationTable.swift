import CErmFUSE

/// The shim's table of C function pointers. Each entry is a non-capturing closure that
/// finds the `RequestAdapter` behind the context pointer and asks it.
enum OperationTable {
  static func adapter(_ context: UnsafeMutableRawPointer?) -> RequestAdapter {
    Unmanaged<RequestAdapter>.fromOpaque(context!).takeUnretainedValue()
  }

  static func make() -> ermfuse_operations {
    var ops = ermfuse_operations()
    ops.initialized = { context, connection in
      let adapter = OperationTable.adapter(context)
      let agreed = connection!.pointee
      adapter.writeback.store(agreed.want & OperationTable.writebackCacheCapability != 0, ordering: .relaxed)
      adapter.connection.withLock { $0 = agreed }
    }
    ops.quiet = { context in
      let fs = OperationTable.adapter(context).fs
      fs.reclaimRetiredMemory()
      return fs.configuration.allocator.statistics.bytesReserved
    }
    ops.lookup = { context, parent, name, out in OperationTable.adapter(context).lookup(parent, name!, &out!.pointee) }
    ops.forget = { context, inode, count in OperationTable.adapter(context).forget(inode, count) }
    ops.getattr = { context, inode, out in OperationTable.adapter(context).getattr(inode, &out!.pointee) }
    ops.setattr = { context, _, inode, changes, _, out in
      OperationTable.adapter(context).setattr(inode, changes!.pointee, &out!.pointee)
    }
    ops.readlink = { context, inode, target, capacity in
      OperationTable.adapter(context).readlink(inode, target!, capacity)
    }
    ops.mknod = { context, caller, parent, name, mode, device, out in
      OperationTable.adapter(context).mknod(caller!.pointee, parent, name!, mode, device, &out!.pointee)
    }
    ops.mkdir = { context, caller, parent, name, mode, out in
      OperationTable.adapter(context).mkdir(caller!.pointee, parent, name!, mode, &out!.pointee)
    }
    ops.unlink = { context, parent, name in OperationTable.adapter(context).unlink(parent, name!) }
    ops.rmdir = { context, parent, name in OperationTable.adapter(context).rmdir(parent, name!) }
    ops.symlink = { context, caller, target, parent, name, out in
      OperationTable.adapter(context).symlink(caller!.pointee, target!, parent, name!, &out!.pointee)
    }
    ops.rename = { context, parent, name, newParent, newName, flags in
      OperationTable.adapter(context).rename(parent, name!, newParent, newName!, flags)
    }
    ops.link = { context, inode, newParent, newName, out in
      OperationTable.adapter(context).link(inode, newParent, newName!, &out!.pointee)
    }
    ops.open = { context, inode, flags, fh in OperationTable.adapter(context).open(inode, flags, &fh!.pointee) }
    ops.read = { context, _, fh, buffer, size, offset in
      OperationTable.adapter(context).read(fh, buffer!, size, offset)
    }
    ops.write = { context, _, fh, buffer, size, offset in
      OperationTable.adapter(context).write(fh, buffer!, size, offset)
    }
    ops.release = { context, inode, fh in OperationTable.adapter(context).release(inode, fh) }
    ops.fsync = { context, _, fh, _ in OperationTable.adapter(context).fsync(fh) }
    ops.opendir = { context, inode, _, fh in OperationTable.adapter(context).opendir(inode, &fh!.pointee) }
    ops.readdir = { context, inode, _, offset, plus, buffer in
      OperationTable.adapter(context).readdir(inode, offset, plus != 0, buffer!)
    }
    ops.releasedir = { context, _, fh in OperationTable.adapter(context).releasedir(fh) }
    ops.statfs = { context, _, out in OperationTable.adapter(context).statfs(&out!.pointee) }
    ops.setxattr = { context, caller, inode, name, value, size, flags in
      OperationTable.adapter(context).setxattr(caller!.pointee, inode, name!, value, size, flags)
    }
    ops.getxattr = { context, caller, inode, name, buffer, capacity in
      OperationTable.adapter(context).getxattr(caller!.pointee, inode, name!, buffer, capacity)
    }
    ops.listxattr = { context, caller, inode, buffer, capacity in
      OperationTable.adapter(context).listxattr(caller!.pointee, inode, buffer, capacity)
    }
    ops.removexattr = { context, caller, inode, name in
      OperationTable.adapter(context).removexattr(caller!.pointee, inode, name!)
    }
    ops.create = { context, caller, parent, name, mode, flags, fh, out in
      OperationTable.adapter(context).create(caller!.pointee, parent, name!, mode, flags, &fh!.pointee, &out!.pointee)
    }
    ops.fallocate = { context, _, fh, mode, offset, length in
      OperationTable.adapter(context).fallocate(fh, mode, offset, length)
    }
    ops.lseek = { context, _, fh, offset, whence, result in
      OperationTable.adapter(context).lseek(fh, offset, whence, &result!.pointee)
    }
    ops.copy_file_range = { context, _, fhIn, offsetIn, _, fhOut, offsetOut, length, flags in
      OperationTable.adapter(context).copyFileRange(fhIn, offsetIn, fhOut, offsetOut, length, flags)
    }
    return ops
  }

  /// `FUSE_CAP_WRITEBACK_CACHE` (fuse_common.h).
  static let writebackCacheCapability: UInt32 = 1 << 16
}
