// PTQ methods beyond RTN (percentile, omse, smoothquant, repq-vit): their schemas and
// the quantize() path they take. Internal to compression/.
#pragma once
#include <vector>

#include "compression/quantize.h"

namespace cs::detail {

std::vector<MethodInfo> ptqMethodInfos();
bool isPtqMethod(const std::string& id);
Result<QuantizeResult> quantizePtq(const Model& model, const Recipe& recipe, const QuantizeOptions& opts,
                                   JobContext& job);

}  // namespace cs::detail
