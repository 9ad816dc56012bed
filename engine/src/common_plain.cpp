// Small torch-free helpers of the facade.
#include <sstream>

#include "engine/tensor_data.h"

namespace cs {

std::string shapeString(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

}  // namespace cs
