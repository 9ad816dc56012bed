// Datasets: Fashion-MNIST from Debian's dataset-fashion-mnist (IDX, gzip'd or not).
// Values crossing the facade are plain C++. Loading is thread-safe (no shared state).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/result.h"

namespace cs {

struct ImageSet {
  int count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count*rows*cols, row-major
  std::vector<uint8_t> labels;  // count (empty if not loaded)
};

// Reads an IDX3 (images) file, gzip'd or plain. Errors name the file and the problem.
Result<ImageSet> readIdxImages(const std::string& path);
// Reads an IDX1 (labels) file.
Result<std::vector<uint8_t>> readIdxLabels(const std::string& path);

// Directory of Fashion-MNIST: $CSTUDIO_FMNIST or /usr/share/datasets/fashion-mnist.
std::string fashionMnistDirectory();
// split: "train" (60k) or "test" (10k).
Result<ImageSet> loadFashionMnist(const std::string& split);
const std::vector<std::string>& fashionMnistClassNames();

}  // namespace cs
