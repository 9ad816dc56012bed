// safetensors reader/writer with validation (see engine/torch/tensors.h).
// Format: u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {str: str}}, data.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/torch/model_impl.h"
#include "engine/torch/tensors.h"

namespace cs::detail {
namespace {

struct DtypeInfo {
  const char* name;
  torch::Dtype dtype;
  int size;
};
const DtypeInfo kDtypes[] = {
    {"F32", torch::kFloat, 4}, {"F16", torch::kHalf, 2},   {"BF16", torch::kBFloat16, 2},
    {"F64", torch::kDouble, 8}, {"I64", torch::kLong, 8},  {"I32", torch::kInt, 4},
    {"I16", torch::kShort, 2},  {"I8", torch::kChar, 1},   {"U8", torch::kByte, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* byName(const std::string& n) {
  for (auto& d : kDtypes)
    if (n == d.name) return &d;
  return nullptr;
}
const DtypeInfo* byDtype(torch::Dtype t) {
  for (auto& d : kDtypes)
    if (t == d.dtype) return &d;
  return nullptr;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw EngineError(Error::badFile(path, what));
}

}  // namespace

torch::Tensor SafeTensors::get(const std::string& name) const {
  for (auto& [n, t] : tensors)
    if (n == name) return t;
  throw EngineError(Error::notFound("tensor '" + name + "' missing from checkpoint"));
}

bool SafeTensors::has(const std::string& name) const {
  for (auto& [n, t] : tensors)
    if (n == name) return true;
  return false;
}

Result<SafeTensors> readSafeTensors(const std::string& path) {
  CS_TRY_RESULT(path, {
    std::ifstream f(path, std::ios::binary);
    if (!f) return Error::notFound(path + ": cannot open file");
    f.seekg(0, std::ios::end);
    const uint64_t fileSize = static_cast<uint64_t>(f.tellg());
    f.seekg(0);
    if (fileSize < 8) fail(path, "not a safetensors file (shorter than its 8-byte header length)");
    uint8_t lenBytes[8];
    f.read(reinterpret_cast<char*>(lenBytes), 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | lenBytes[i];
    if (n == 0 || n > 100'000'000 || n > fileSize - 8)
      fail(path, "corrupt safetensors header length " + std::to_string(n) + " (file is " +
                     std::to_string(fileSize) + " bytes)");
    std::string header(n, '\0');
    f.read(header.data(), static_cast<std::streamsize>(n));
    nlohmann::json j = nlohmann::json::parse(header, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail(path, "safetensors header is not a JSON object");
    const uint64_t dataSize = fileSize - 8 - n;
    std::vector<char> data(dataSize);
    f.read(data.data(), static_cast<std::streamsize>(dataSize));
    if (!f) fail(path, "truncated while reading tensor data");

    SafeTensors st;
    struct Range {
      uint64_t b, e;
      std::string name;
    };
    std::vector<Range> ranges;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "__metadata__") {
        if (!it->is_object()) fail(path, "__metadata__ is not an object");
        for (auto m = it->begin(); m != it->end(); ++m)
          st.metadata[m.key()] = m->is_string() ? m->get<std::string>() : m->dump();
        continue;
      }
      const auto& e = *it;
      if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
        fail(path, "tensor '" + it.key() + "' lacks dtype/shape/data_offsets");
      const DtypeInfo* dt = e["dtype"].is_string() ? byName(e["dtype"].get<std::string>()) : nullptr;
      if (!dt) fail(path, "tensor '" + it.key() + "' has unsupported dtype " + e["dtype"].dump());
      std::vector<int64_t> shape;
      uint64_t numel = 1;
      for (auto& d : e["shape"]) {
        if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
          fail(path, "tensor '" + it.key() + "' has a bad shape " + e["shape"].dump());
        shape.push_back(d.get<int64_t>());
        numel *= static_cast<uint64_t>(shape.back());
      }
      auto& off = e["data_offsets"];
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        fail(path, "tensor '" + it.key() + "' has bad data_offsets");
      uint64_t b = off[0], en = off[1];
      if (b > en || en > dataSize)
        fail(path, "tensor '" + it.key() + "' data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                       "] outside the data section of " + std::to_string(dataSize) + " bytes");
      if (en - b != numel * dt->size)
        fail(path, "tensor '" + it.key() + "' has " + std::to_string(en - b) + " bytes but shape " +
                       e["shape"].dump() + " of " + dt->name + " needs " + std::to_string(numel * dt->size));
      ranges.push_back({b, en, it.key()});
      auto t = torch::empty(shape, torch::TensorOptions().dtype(dt->dtype));
      if (numel) std::memcpy(t.data_ptr(), data.data() + b, en - b);
      st.tensors.emplace_back(it.key(), t);
    }
    std::sort(ranges.begin(), ranges.end(), [](auto& a, auto& b) { return a.b < b.b; });
    for (size_t i = 1; i < ranges.size(); ++i)
      if (ranges[i].b < ranges[i - 1].e)
        fail(path, "tensors '" + ranges[i - 1].name + "' and '" + ranges[i].name + "' overlap");
    // Keep file order stable: sort by data offset (the order writers use).
    std::vector<std::pair<std::string, torch::Tensor>> ordered;
    for (auto& r : ranges)
      for (auto& p : st.tensors)
        if (p.first == r.name) ordered.push_back(p);
    st.tensors.swap(ordered);
    return st;
  })
}

Status writeSafeTensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  CS_TRY_RESULT(path, {
    nlohmann::ordered_json header;
    if (!metadata.empty()) {
      nlohmann::ordered_json m = nlohmann::ordered_json::object();
      for (auto& [k, v] : metadata) m[k] = v;
      header["__metadata__"] = m;
    }
    std::vector<torch::Tensor> blobs;
    uint64_t offset = 0;
    for (auto& [name, t0] : tensors) {
      auto t = t0.detach().to(torch::kCPU).contiguous();
      const DtypeInfo* dt = byDtype(t.scalar_type());
      if (!dt) return Error::badArgument("cannot write tensor '" + name + "': unsupported dtype");
      uint64_t bytes = t.numel() * dt->size;
      header[name] = {{"dtype", dt->name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
      offset += bytes;
      blobs.push_back(t);
    }
    std::string h = header.dump();
    while ((h.size() + 8) % 8) h.push_back(' ');  // align data to 8 bytes, as the reference writer does
    const std::string tmp = path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      if (!f) return Error::failed(tmp + ": cannot write");
      uint64_t n = h.size();
      uint8_t lenBytes[8];
      for (int i = 0; i < 8; ++i) lenBytes[i] = static_cast<uint8_t>(n >> (8 * i));
      f.write(reinterpret_cast<const char*>(lenBytes), 8);
      f.write(h.data(), static_cast<std::streamsize>(h.size()));
      for (auto& t : blobs)
        if (t.numel()) f.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
      f.flush();
      if (!f) return Error::failed(tmp + ": write failed (disk full?)");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) return Error::failed(path + ": cannot replace file");
    return Unit{};
  })
}

}  // namespace cs::detail
