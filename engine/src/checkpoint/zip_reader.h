// Minimal read-only zip reader for torch.save archives (internal to engine/src/checkpoint).
// Reads the central directory (zip64 records and extra fields included), validates every
// offset and size against the source size, and serves stored (uncompressed) entries.
// Torch-free so that it can be fuzzed cheaply. Errors are thrown as std::runtime_error
// with a message that names the problem (the caller adds the file name).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cs::detail::zip {

// Random-access bytes: a file (read on demand) or a memory buffer.
class Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly n bytes at offset into dst; throws when out of range or on I/O error.
  virtual void read(uint64_t offset, uint64_t n, void* dst) const = 0;
};
std::unique_ptr<Source> fileSource(const std::string& path);  // throws if unreadable
std::unique_ptr<Source> memorySource(const std::string& bytes);  // references `bytes`

struct Entry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflate
  uint64_t compressedSize = 0, size = 0;
  uint64_t localHeaderOffset = 0;
};

class Archive {
 public:
  explicit Archive(std::unique_ptr<Source> src);  // parses the central directory; throws
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  // Offset of the entry's data (after its local header), validated to be in range.
  uint64_t dataOffset(const Entry& e) const;
  // Whole content of a stored entry (refuses compressed entries and sizes over maxBytes).
  std::string readAll(const Entry& e, uint64_t maxBytes) const;
  // n bytes of a stored entry's data at `offset` within the entry.
  void readAt(const Entry& e, uint64_t offset, uint64_t n, void* dst) const;
  const Source& source() const { return *src_; }

 private:
  std::unique_ptr<Source> src_;
  std::vector<Entry> entries_;
};

}  // namespace cs::detail::zip
