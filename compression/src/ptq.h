// PTQ methods beyond RTN (percentile, omse, smoothquant, repq-vit): their schemas and
// the quantize() path they take. Internal to compression/.
#pragma once
#include <memory>
#include <vector>

#include "compression/quantize.h"

namespace cs::detail {

std::vector<MethodInfo> ptqMethodInfos();
bool isPtqMethod(const std::string& id);
struct PtqOutcome;
// The quantizer parameters a saved variant needs (compression/src/variant_io.cpp).
std::shared_ptr<const QuantVariantInfo> ptqVariantInfo(const PtqOutcome& outcome);
Result<QuantizeResult> quantizePtq(const Model& model, const Recipe& recipe, const QuantizeOptions& opts,
                                   JobContext& job);

}  // namespace cs::detail
