// Internal: TorchScript loader (engine/src only).
#pragma once
#include <memory>
#include <string>

namespace cs::detail {
class ModelImpl;
// Throws EngineError naming the file when it is not a TorchScript archive.
std::shared_ptr<ModelImpl> openTorchScript(const std::string& path);
}  // namespace cs::detail
