// Minimal zip reader (see zip_reader.h). Format reference: PKWARE APPNOTE 6.3.x,
// sections 4.3.7 (local header), 4.3.12 (central directory), 4.3.14-16 (zip64 and end
// of central directory records), 4.5.3 (zip64 extended information extra field).
#include "checkpoint/zip_reader.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace cs::detail::zip {
namespace {

[[noreturn]] void bad(const std::string& what) { throw std::runtime_error(what); }

uint16_t le16(const unsigned char* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
uint64_t le64(const unsigned char* p) { return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32); }

class FileSource : public Source {
 public:
  explicit FileSource(const std::string& path) : f_(std::fopen(path.c_str(), "rb")) {
    if (!f_) bad("cannot open file");
    if (std::fseek(f_, 0, SEEK_END) != 0) bad("cannot seek");
    long s = std::ftell(f_);
    if (s < 0) bad("cannot determine the file size");
    size_ = uint64_t(s);
  }
  ~FileSource() override {
    if (f_) std::fclose(f_);
  }
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, uint64_t n, void* dst) const override {
    if (offset > size_ || n > size_ - offset) bad("read past the end of the file (truncated?)");
    if (n == 0) return;
    if (fseeko(f_, off_t(offset), SEEK_SET) != 0) bad("cannot seek");
    if (std::fread(dst, 1, n, f_) != n) bad("short read");
  }

 private:
  std::FILE* f_;
  uint64_t size_ = 0;
};

class MemorySource : public Source {
 public:
  explicit MemorySource(const std::string& b) : b_(b) {}
  uint64_t size() const override { return b_.size(); }
  void read(uint64_t offset, uint64_t n, void* dst) const override {
    if (offset > b_.size() || n > b_.size() - offset) bad("read past the end of the data (truncated?)");
    if (n) std::memcpy(dst, b_.data() + offset, n);
  }

 private:
  const std::string& b_;
};

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEocdSig = 0x06054b50,
                   kZip64EocdSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;

}  // namespace

std::unique_ptr<Source> fileSource(const std::string& path) { return std::make_unique<FileSource>(path); }
std::unique_ptr<Source> memorySource(const std::string& bytes) { return std::make_unique<MemorySource>(bytes); }

Archive::Archive(std::unique_ptr<Source> src) : src_(std::move(src)) {
  const uint64_t fsize = src_->size();
  if (fsize < 22) bad("not a zip archive (too short)");
  // End of central directory: the last 22 bytes plus up to 65535 bytes of comment.
  const uint64_t tail = std::min<uint64_t>(fsize, 22 + 65535);
  std::vector<unsigned char> t(tail);
  src_->read(fsize - tail, tail, t.data());
  int64_t eocd = -1;
  for (int64_t i = int64_t(tail) - 22; i >= 0; --i)
    if (le32(&t[size_t(i)]) == kEocdSig) {
      eocd = i;
      break;
    }
  if (eocd < 0) bad("not a zip archive (no end-of-central-directory record; truncated?)");
  const unsigned char* e = &t[size_t(eocd)];
  uint64_t count = le16(e + 10), cdSize = le32(e + 12), cdOffset = le32(e + 16);
  const uint64_t eocdAbs = fsize - tail + uint64_t(eocd);
  if (count == 0xFFFF || cdSize == 0xFFFFFFFFu || cdOffset == 0xFFFFFFFFu) {
    if (eocdAbs < 20) bad("zip64 locator missing");
    unsigned char loc[20];
    src_->read(eocdAbs - 20, 20, loc);
    if (le32(loc) != kZip64LocatorSig) bad("zip64 locator missing");
    const uint64_t z64 = le64(loc + 8);
    unsigned char r[56];
    src_->read(z64, 56, r);
    if (le32(r) != kZip64EocdSig) bad("bad zip64 end-of-central-directory record");
    count = le64(r + 32);
    cdSize = le64(r + 40);
    cdOffset = le64(r + 48);
  }
  if (cdOffset > fsize || cdSize > fsize - cdOffset) bad("central directory out of range (truncated?)");
  if (count > cdSize / 46) bad("central directory entry count inconsistent with its size");
  std::vector<unsigned char> cd(cdSize);
  src_->read(cdOffset, cdSize, cd.data());
  size_t p = 0;
  entries_.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    if (cdSize - p < 46) bad("central directory truncated");
    const unsigned char* h = &cd[p];
    if (le32(h) != kCentralSig) bad("bad central directory entry signature");
    Entry en;
    en.method = le16(h + 10);
    en.compressedSize = le32(h + 20);
    en.size = le32(h + 24);
    const uint16_t nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
    en.localHeaderOffset = le32(h + 42);
    const size_t need = size_t(46) + nlen + xlen + clen;
    if (cdSize - p < need) bad("central directory entry truncated");
    en.name.assign(reinterpret_cast<const char*>(h + 46), nlen);
    // zip64 extended information: present fields follow the order size, csize, offset.
    const unsigned char* x = h + 46 + nlen;
    for (size_t q = 0; q + 4 <= xlen;) {
      const uint16_t id = le16(x + q), len = le16(x + q + 2);
      if (q + 4 + len > xlen) bad("bad zip extra field in entry '" + en.name + "'");
      if (id == 0x0001) {
        const unsigned char* f = x + q + 4;
        size_t left = len;
        auto take = [&](uint64_t& v) {
          if (left < 8) bad("short zip64 extra field in entry '" + en.name + "'");
          v = le64(f);
          f += 8;
          left -= 8;
        };
        if (en.size == 0xFFFFFFFFu) take(en.size);
        if (en.compressedSize == 0xFFFFFFFFu) take(en.compressedSize);
        if (en.localHeaderOffset == 0xFFFFFFFFu) take(en.localHeaderOffset);
      }
      q += 4 + len;
    }
    entries_.push_back(std::move(en));
    p += need;
  }
}

const Entry* Archive::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

uint64_t Archive::dataOffset(const Entry& e) const {
  unsigned char h[30];
  if (e.localHeaderOffset > src_->size() || src_->size() - e.localHeaderOffset < 30)
    bad("local header of '" + e.name + "' out of range (truncated?)");
  src_->read(e.localHeaderOffset, 30, h);
  if (le32(h) != kLocalSig) bad("bad local header signature for '" + e.name + "'");
  const uint64_t off = e.localHeaderOffset + 30 + le16(h + 26) + le16(h + 28);
  if (off > src_->size() || e.compressedSize > src_->size() - off)
    bad("data of '" + e.name + "' runs past the end of the archive (truncated?)");
  return off;
}

std::string Archive::readAll(const Entry& e, uint64_t maxBytes) const {
  if (e.method != 0)
    bad("entry '" + e.name + "' is compressed (method " + std::to_string(e.method) +
        "); torch.save writes stored entries only");
  if (e.size != e.compressedSize) bad("entry '" + e.name + "' has inconsistent sizes");
  if (e.size > maxBytes) bad("entry '" + e.name + "' is too large (" + std::to_string(e.size) + " bytes)");
  const uint64_t off = dataOffset(e);
  std::string s(size_t(e.size), '\0');
  src_->read(off, e.size, s.data());
  return s;
}

void Archive::readAt(const Entry& e, uint64_t offset, uint64_t n, void* dst) const {
  if (e.method != 0)
    bad("entry '" + e.name + "' is compressed (method " + std::to_string(e.method) +
        "); torch.save writes stored entries only");
  if (e.size != e.compressedSize) bad("entry '" + e.name + "' has inconsistent sizes");
  if (offset > e.size || n > e.size - offset) bad("read past the end of entry '" + e.name + "'");
  src_->read(dataOffset(e) + offset, n, dst);
}

}  // namespace cs::detail::zip
