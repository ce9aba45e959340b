import Foundation
import Synchronization

/// The write end of the catcher's pipe, read by the signal handler. Set before any handler
/// is installed and never changed while one is: the handler only loads it.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1
/// The first signal caught since the catcher was installed (0: none).
private let firstCaughtSignal = Atomic<Int32>(0)

/// Catches signals for a while instead of dying of them, so a command can clean up (demo's
/// tmpfs copy) or pass them on (exec's child), then restores what was there before.
///
/// The handler does only async-signal-safe work: an atomic store and a `write` of two
/// bytes (the signal, and 1 when a process sent it with kill/sigqueue, 0 when the kernel
/// did, e.g. the terminal's Ctrl-C, which already reached the whole foreground group) to
/// a pipe the command can `poll`. A signal ignored when the catcher is installed stays
/// ignored (a shell starts background jobs with SIGINT ignored, and means it).
/// One catcher at a time.
final class SignalCatcher {
    /// A caught signal: its number, and whether a process sent it (rather than the kernel).
    struct Caught {
        var signal: Int32
        var sentByProcess: Bool
    }

    /// Readable when a signal has been caught; drain it with ``pending()``.
    let descriptor: Int32
    private let writeEnd: Int32
    private var saved: [(Int32, sigaction)] = []

    /// Installs the handler for each of `signals` that is not ignored right now.
    /// The corresponding C functions are `pipe`, `fcntl` and `sigaction`.
    init(_ signals: [Int32]) throws {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw ToolError("pipe: \(String(cString: strerror(errno)))") }
        // Close-on-exec (exec's child must not inherit it) and non-blocking (the handler
        // must never block; ``pending()`` must not either). Swift's Glibc lacks pipe2.
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        (descriptor, writeEnd) = (ends[0], ends[1])
        signalPipeWriteEnd = writeEnd
        firstCaughtSignal.store(0, ordering: .sequentiallyConsistent)
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { signal, info, _ in
            let byProcess: UInt8 = (info?.pointee.si_code ?? 0) == SI_KERNEL ? 0 : 1
            _ = firstCaughtSignal.compareExchange(expected: 0, desired: signal, ordering: .sequentiallyConsistent)
            var record: (UInt8, UInt8) = (UInt8(truncatingIfNeeded: signal), byProcess)
            let saved = errno  // a handler must leave errno as it found it
            _ = withUnsafeBytes(of: &record) { write(signalPipeWriteEnd, $0.baseAddress, 2) }
            errno = saved
        }
        action.sa_flags = SA_SIGINFO | SA_RESTART
        sigfillset(&action.sa_mask)
        for signal in signals {
            var previous = sigaction()
            guard sigaction(signal, nil, &previous) == 0 else { continue }
            // SIG_IGN is the handler value 1 (C compares the pointers; Swift cannot).
            if unsafeBitCast(previous.__sigaction_handler.sa_handler, to: Int.self) == 1 { continue }
            if sigaction(signal, &action, nil) == 0 { saved.append((signal, previous)) }
        }
    }

    /// The first signal caught so far, if any.
    var caughtSignal: Int32? {
        let signal = firstCaughtSignal.load(ordering: .sequentiallyConsistent)
        return signal == 0 ? nil : signal
    }

    /// Every signal caught since the last call, in order (without blocking).
    func pending() -> [Caught] {
        var caught: [Caught] = []
        var record: (UInt8, UInt8) = (0, 0)
        while withUnsafeMutableBytes(of: &record, { read(descriptor, $0.baseAddress, 2) }) == 2 {
            caught.append(Caught(signal: Int32(record.0), sentByProcess: record.1 != 0))
        }
        return caught
    }

    /// Puts back the dispositions found at `init`. Signals caught stay readable.
    func restore() {
        for (signal, var previous) in saved { sigaction(signal, &previous, nil) }
        saved = []
    }

    deinit {
        restore()
        signalPipeWriteEnd = -1
        close(descriptor)
        close(writeEnd)
    }
}
