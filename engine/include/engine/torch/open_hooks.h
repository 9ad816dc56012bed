// Post-open hooks: lets a higher layer (compression/) finish a model that openModel()
// loaded from a file, e.g. re-attach the activation quantizers of a saved quantized
// variant, without the engine depending on that layer. Torch-facing (engine/ and
// compression/ only).
//
// A file that cannot run correctly without its hook names it in the metadata key
// "requires_loader" (copied into ModelImpl::properties by the native loaders);
// openModel() then fails with an error naming the file when no registered hook of that
// name is present (e.g. a program built without cs_compression), instead of silently
// returning a model without its quantizers.
// Threading: register hooks at start-up (static initialisation); openModel() only reads.
#pragma once
#include <functional>
#include <string>

#include "engine/torch/model_impl.h"

namespace cs::detail {

// Called with the freshly opened model (name, source and properties set). Throws
// EngineError for a bad file. `name` is what "requires_loader" refers to.
using ModelOpenHook = std::function<void(ModelImpl& model, const std::string& path)>;
void registerModelOpenHook(const std::string& name, ModelOpenHook hook);

// Runs the hook the model's "requires_loader" property names (if any). Throws
// EngineError naming `path` when that hook is not registered.
void applyModelOpenHooks(ModelImpl& model, const std::string& path);

}  // namespace cs::detail
