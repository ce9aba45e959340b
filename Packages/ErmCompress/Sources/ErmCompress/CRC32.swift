import CErmISAL

/// CRC-32 with the gzip polynomial, as in every gzip trailer and in the index entries of
/// raw chunks. Computed by ISA-L's `crc32_gzip_refl` (carry-less multiply, tens of GB/s
/// here), so checking a raw chunk costs far less than reading it. Public so that callers
/// building an index themselves (ErmCore's in-place fallback) checksum raw chunks alike.
public enum CRC32 {
  /// The CRC-32 of `bytes`.
  public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { update(0, bytes) }

  /// `crc` continued over `bytes` (start with 0).
  public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    erm_isal_crc32(crc, bytes.baseAddress, bytes.count)
  }
}
