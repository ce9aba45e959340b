import ErmFD

#if canImport(Glibc)
import Glibc
#endif

/// Stops `server` once standard input reaches end of file (the parent closed its pipe
/// or exited), from a thread of its own. Kept out of main.swift so the thread's entry
/// point is not main-actor isolated.
func stopWhenStandardInputCloses(_ server: ExportServer) {
  var watcher = pthread_t()
  let box = Unmanaged.passRetained(server).toOpaque()
  pthread_create(&watcher, nil, { raw in
    var byte: UInt8 = 0
    while Glibc.read(0, &byte, 1) > 0 {}
    Unmanaged<ExportServer>.fromOpaque(raw!).takeRetainedValue().stop()
    return nil
  }, box)
}
