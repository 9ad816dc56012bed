// Plain-C++ tensor snapshot (float32, row-major) for crossing the facade into
// app/, widgets/ and the CLI without torch headers. A value type; copies own data.
#pragma once
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace cs {

struct TensorData {
  std::vector<int64_t> shape;
  std::vector<float> values;
  int64_t numel() const {
    return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
  }
};

std::string shapeString(const std::vector<int64_t>& shape);  // "[64, 3, 4, 4]"

}  // namespace cs
