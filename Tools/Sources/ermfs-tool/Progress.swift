import Foundation

/// A one-line progress bar on standard error; on a non-terminal it prints a line per quarter
/// so logs stay short.
struct ProgressBar {
    let title: String
    let total: Int
    private let interactive = isatty(STDERR_FILENO) == 1
    private var lastDrawn = -1

    init(title: String, total: Int) {
        self.title = title
        self.total = max(total, 1)
    }

    mutating func update(_ done: Int) {
        let percent = min(100, done * 100 / total)
        if interactive {
            guard percent != lastDrawn else { return }
            let width = 30
            let filled = width * percent / 100
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r\(title) [\(bar)] \(percent)%".utf8))
        } else {
            guard percent / 25 != lastDrawn / 25 || lastDrawn < 0 else { return }
            FileHandle.standardError.write(Data("\(title): \(percent)%\n".utf8))
        }
        lastDrawn = percent
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// Monotonic seconds for throughput figures.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Resident set size of this process in bytes, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
}

func formatRate(bytes: Int, seconds: Double) -> String {
    guard seconds > 0 else { return "-" }
    return String(format: "%.0f MB/s", Double(bytes) / seconds / 1e6)
}

/// Prints rows as an aligned text table.
func printTable(_ rows: [[String]]) {
    guard let columns = rows.map(\.count).max() else { return }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    for (r, row) in rows.enumerated() {
        let line = row.enumerated().map { i, cell in
            i == 0 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                   : String(repeating: " ", count: widths[i] - cell.count) + cell
        }.joined(separator: "  ")
        print(line)
        if r == 0 { print(String(repeating: "-", count: widths.reduce(0, +) + 2 * (columns - 1))) }
    }
}

/// True when the first `count` bytes of `buffer` are exactly `expected`.
func bytesEqual(_ buffer: [UInt8], _ expected: [UInt8], count: Int) -> Bool {
    guard count == expected.count else { return false }
    guard count > 0 else { return true }
    return buffer.withUnsafeBytes { b in
        expected.withUnsafeBytes { memcmp(b.baseAddress!, $0.baseAddress!, count) == 0 }
    }
}
