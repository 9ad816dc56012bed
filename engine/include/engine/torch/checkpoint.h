// Reader for torch.save state-dict archives (.pt/.pth written by torch >= 1.6: a zip
// container holding <root>/data.pkl and <root>/data/<key> storage blobs).
//
// The pickle in data.pkl is run by the project's own interpreter for the small subset
// that state dicts use (dicts, OrderedDict, lists, tuples, scalars, strings, tensor
// rebuild calls, typed storages through persistent ids). Globals are restricted to an
// allow-list (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter(_with_state), torch.<Type>Storage, torch.device);
// REDUCE runs only those. Nothing else is ever executed: any other global or opcode is
// refused with an error naming the file and the opcode or global.
//
// Every tensor is materialised as an independent (cloned, contiguous) tensor on the
// requested device; floating-point tensors are converted to the requested dtype
// whatever device/dtype they were saved from (e.g. a checkpoint saved on CUDA loads in
// a CPU-only build). Integer and bool tensors keep their dtype.
//
// Ownership: the returned tensors are owned by the caller. Threading: the functions are
// re-entrant (no shared state).
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/result.h"

namespace cs::detail {

using NamedTensorList = std::vector<std::pair<std::string, torch::Tensor>>;

struct CheckpointOptions {
  // Floating-point tensors are converted to this dtype (none: keep the saved dtype).
  std::optional<torch::Dtype> floatDtype = torch::kFloat32;
  torch::Device device = torch::kCPU;
  // Select one entry of a top-level dict (e.g. "model" for SAM 2's {"model": sd});
  // empty: flatten the whole object, nested dict keys joined with dots.
  std::string key;
  // Upper bound of the bytes of all tensors materialised (hostile-input guard).
  int64_t maxTotalBytes = int64_t(64) << 30;
};

// Reads a torch.save archive from disk. Errors name `path` and the problem.
Result<NamedTensorList> readTorchCheckpoint(const std::string& path, const CheckpointOptions& opt = {});
// Same, from bytes already in memory (`name` is used in error messages). For tests and
// the fuzz target.
Result<NamedTensorList> readTorchCheckpointBytes(const std::string& bytes, const std::string& name,
                                                 const CheckpointOptions& opt = {});
// True when the file starts like a zip archive holding a data.pkl (cheap sniffing).
bool looksLikeTorchCheckpoint(const std::string& path);

}  // namespace cs::detail
