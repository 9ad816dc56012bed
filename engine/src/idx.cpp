// IDX reader (MNIST format), gzip'd or plain via zlib's gzread (which passes plain
// files through). Torch-free.
#include <zlib.h>

#include <cstdlib>
#include <memory>

#include "engine/data.h"

namespace cs {
namespace {

struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

bool readAll(gzFile f, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    int chunk = static_cast<int>(std::min<size_t>(n, 1 << 30));
    int r = gzread(f, p, chunk);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

uint32_t be32(const uint8_t* b) { return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3]; }

// Reads header: magic (0,0,0x08,ndims) then ndims big-endian u32 sizes.
Result<std::vector<uint32_t>> readHeader(gzFile f, const std::string& path, int expectDims) {
  uint8_t magic[4];
  if (!readAll(f, magic, 4)) return Error::badFile(path, "empty or unreadable IDX file");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08)
    return Error::badFile(path, "not an IDX file of unsigned bytes (bad magic number)");
  if (magic[3] != expectDims)
    return Error::badFile(path, "IDX file has " + std::to_string(magic[3]) + " dimensions, expected " +
                                    std::to_string(expectDims));
  std::vector<uint32_t> dims(expectDims);
  for (auto& d : dims) {
    uint8_t b[4];
    if (!readAll(f, b, 4)) return Error::badFile(path, "truncated IDX header");
    d = be32(b);
  }
  return dims;
}

}  // namespace

Result<ImageSet> readIdxImages(const std::string& path) {
  GzFile g;
  g.f = gzopen(path.c_str(), "rb");
  if (!g.f) return Error::notFound(path + ": cannot open file");
  auto dims = readHeader(g.f, path, 3);
  if (!dims) return dims.error();
  ImageSet s;
  s.count = static_cast<int>((*dims)[0]);
  s.rows = static_cast<int>((*dims)[1]);
  s.cols = static_cast<int>((*dims)[2]);
  if (s.rows <= 0 || s.cols <= 0 || s.rows > 4096 || s.cols > 4096 || (*dims)[0] > 10'000'000)
    return Error::badFile(path, "implausible IDX image dimensions");
  s.pixels.resize(size_t(s.count) * s.rows * s.cols);
  if (!readAll(g.f, s.pixels.data(), s.pixels.size()))
    return Error::badFile(path, "truncated: expected " + std::to_string(s.count) + " images of " +
                                    std::to_string(s.rows) + "x" + std::to_string(s.cols));
  return s;
}

Result<std::vector<uint8_t>> readIdxLabels(const std::string& path) {
  GzFile g;
  g.f = gzopen(path.c_str(), "rb");
  if (!g.f) return Error::notFound(path + ": cannot open file");
  auto dims = readHeader(g.f, path, 1);
  if (!dims) return dims.error();
  if ((*dims)[0] > 10'000'000) return Error::badFile(path, "implausible label count");
  std::vector<uint8_t> labels((*dims)[0]);
  if (!readAll(g.f, labels.data(), labels.size()))
    return Error::badFile(path, "truncated: expected " + std::to_string(labels.size()) + " labels");
  return labels;
}

std::string fashionMnistDirectory() {
  if (const char* d = std::getenv("CSTUDIO_FMNIST")) return d;
  return "/usr/share/datasets/fashion-mnist";
}

Result<ImageSet> loadFashionMnist(const std::string& split) {
  const std::string prefix = split == "train" ? "train" : split == "test" ? "t10k" : "";
  if (prefix.empty()) return Error::badArgument("unknown Fashion-MNIST split '" + split + "' (train or test)");
  const std::string dir = fashionMnistDirectory();
  auto images = readIdxImages(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  if (!images) {
    if (images.error().code == Error::Code::NotFound)
      return Error::notFound(images.error().message + " (install Debian's dataset-fashion-mnist)");
    return images.error();
  }
  const std::string lpath = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  auto labels = readIdxLabels(lpath);
  if (!labels) return labels.error();
  if (static_cast<int>(labels->size()) != images->count)
    return Error::badFile(lpath, "has " + std::to_string(labels->size()) + " labels for " +
                                     std::to_string(images->count) + " images");
  images->labels = std::move(*labels);
  return std::move(*images);
}

const std::vector<std::string>& fashionMnistClassNames() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace cs
