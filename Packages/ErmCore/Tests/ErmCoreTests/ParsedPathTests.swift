import SystemPackage
import XCTest

@testable import ErmCore

/// `ParsedPath` splits a path exactly as swift-system's `FilePath` does (components, `.`
/// and `..` kinds, absolute or not, trailing slash), byte for byte.
final class ParsedPathTests: XCTestCase {
  /// The split `FilePath` makes of `bytes`.
  private func filePathSplit(_ bytes: [UInt8]) -> (absolute: Bool, components: [ParsedPath.Component]) {
    let path = (bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
      FilePath(platformString: $0.baseAddress!)
    }
    let components = path.components.map { component -> ParsedPath.Component in
      switch component.kind {
      case .currentDirectory: return .dot
      case .parentDirectory: return .dotDot
      default:
        return .name(FileName(bytes: component.withPlatformString { pointer in
          var out: [UInt8] = []
          var p = pointer
          while p.pointee != 0 { out.append(UInt8(bitPattern: p.pointee)); p += 1 }
          return out
        }))
      }
    }
    return (path.root != nil, components)
  }

  func testSplitsLikeFilePath() throws {
    let paths = [
      "/", "//", "///", "/a", "//a", "/a/", "/a//b", "/a/./b", "/a/../b", "/.", "/..", "/...",
      "/a/.", "/a/..", "/.hidden", "/..x", "/x..", "/a b/c\tde", "a", "a/b", "./a", "../a", ".", "..",
      "/caf\u{E9}", "/cafe\u{301}/x", "/" + String(repeating: "n", count: 255), "/a/b/c/d/e/f/g/",
    ]
    for text in paths {
      let parsed = try ParsedPath(text)
      let expected = filePathSplit(Array(text.utf8))
      XCTAssertEqual(parsed.components, expected.components, text)
      XCTAssertEqual(parsed.isAbsolute, expected.absolute, text)
      XCTAssertEqual(parsed.trailingSlash, text.hasSuffix("/"), text)
    }
    // Bytes that are not UTF-8 stay as they are.
    let odd: [UInt8] = [0x2F, 0xFF, 0xFE, 0x2F, 0x80, 0x2E]
    XCTAssertEqual(try ParsedPath(bytes: odd).components, filePathSplit(odd).components)
  }
}
