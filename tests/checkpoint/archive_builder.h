// Builds small torch.save-like archives in memory for the checkpoint tests and the
// fuzz seed corpus: stored zip entries (optionally with zip64 records) and hand-written
// pickle byte strings.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace csx {

inline void put16(std::string& s, uint32_t v) {
  s += char(v & 0xff);
  s += char((v >> 8) & 0xff);
}
inline void put32(std::string& s, uint32_t v) {
  put16(s, v & 0xffff);
  put16(s, v >> 16);
}
inline void put64(std::string& s, uint64_t v) {
  put32(s, uint32_t(v));
  put32(s, uint32_t(v >> 32));
}

// Stored zip of (name, data) entries. zip64: write zip64 EOCD + locator and mark the
// classic EOCD fields as 0xFFFF/0xFFFFFFFF, and put offsets/sizes in zip64 extra fields.
inline std::string makeZip(const std::vector<std::pair<std::string, std::string>>& files, bool zip64 = false) {
  std::string out, cd;
  for (const auto& [name, data] : files) {
    const uint32_t off = uint32_t(out.size());
    put32(out, 0x04034b50);
    put16(out, 20); put16(out, 0); put16(out, 0);  // version, flags, method stored
    put16(out, 0); put16(out, 0);                  // time, date
    put32(out, 0);                                 // crc (not checked)
    put32(out, uint32_t(data.size())); put32(out, uint32_t(data.size()));
    put16(out, uint16_t(name.size())); put16(out, 0);
    out += name;
    out += data;
    put32(cd, 0x02014b50);
    put16(cd, 45); put16(cd, 45); put16(cd, 0); put16(cd, 0); put16(cd, 0); put16(cd, 0);
    put32(cd, 0);
    std::string extra;
    if (zip64) {
      put16(extra, 1); put16(extra, 24);
      put64(extra, data.size()); put64(extra, data.size()); put64(extra, off);
    }
    put32(cd, zip64 ? 0xffffffffu : uint32_t(data.size()));
    put32(cd, zip64 ? 0xffffffffu : uint32_t(data.size()));
    put16(cd, uint16_t(name.size())); put16(cd, uint16_t(extra.size())); put16(cd, 0);
    put16(cd, 0); put16(cd, 0); put32(cd, 0);
    put32(cd, zip64 ? 0xffffffffu : off);
    cd += name;
    cd += extra;
  }
  const uint64_t cdOff = out.size();
  out += cd;
  if (zip64) {
    const uint64_t z64 = out.size();
    put32(out, 0x06064b50); put64(out, 44); put16(out, 45); put16(out, 45); put32(out, 0); put32(out, 0);
    put64(out, files.size()); put64(out, files.size()); put64(out, cd.size()); put64(out, cdOff);
    put32(out, 0x07064b50); put32(out, 0); put64(out, z64); put32(out, 1);
  }
  put32(out, 0x06054b50);
  put16(out, 0); put16(out, 0);
  put16(out, zip64 ? 0xffff : uint16_t(files.size())); put16(out, zip64 ? 0xffff : uint16_t(files.size()));
  put32(out, zip64 ? 0xffffffffu : uint32_t(cd.size()));
  put32(out, zip64 ? 0xffffffffu : uint32_t(cdOff));
  put16(out, 0);
  return out;
}

// Pickle fragments (protocol 2).
inline std::string pUni(const std::string& s) {
  std::string o = "X";
  put32(o, uint32_t(s.size()));
  return o + s;
}
inline std::string pInt(int v) {
  std::string o;
  if (v >= 0 && v < 256) return std::string("K") + char(v);
  if (v >= 0 && v < 65536) { o = "M"; put16(o, uint32_t(v)); return o; }
  o = "J";
  put32(o, uint32_t(v));
  return o;
}
inline std::string pGlobal(const std::string& mod, const std::string& name) { return "c" + mod + "\n" + name + "\n"; }
// A float32 tensor of `size` (row-major) over storage `key` with `numel` elements.
inline std::string pTensor(const std::string& key, int numel, const std::vector<int>& size, int offset = 0,
                           const std::string& location = "cuda:0") {
  std::string o = pGlobal("torch._utils", "_rebuild_tensor_v2");
  o += "((" + pUni("storage") + pGlobal("torch", "FloatStorage") + pUni(key) + pUni(location) + pInt(numel) + "tQ";
  o += pInt(offset) + "(";
  for (int s : size) o += pInt(s);
  o += "t(";
  int st = 1;
  std::vector<int> strides(size.size());
  for (int k = int(size.size()) - 1; k >= 0; --k) { strides[size_t(k)] = st; st *= size[size_t(k)]; }
  for (int s : strides) o += pInt(s);
  o += "t\x89" + pGlobal("collections", "OrderedDict") + ")Rt" + "R";
  return o;
}
inline std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}
// archive/data.pkl + archive/byteorder + archive/data/<key> entries.
inline std::string makeArchive(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages,
                               bool zip64 = false) {
  std::vector<std::pair<std::string, std::string>> f = {{"archive/data.pkl", pickle}, {"archive/byteorder", "little"}};
  for (const auto& [k, d] : storages) f.push_back({"archive/data/" + k, d});
  return makeZip(f, zip64);
}

}  // namespace csx
