// Torch-facing helpers shared by engine/ and compression/: conversions between
// torch::Tensor and the plain TensorData, safetensors I/O, Fashion-MNIST batches.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "engine/data.h"
#include "engine/result.h"
#include "engine/tensor_data.h"

namespace cs::detail {

TensorData toTensorData(const torch::Tensor& t);
torch::Tensor fromTensorData(const TensorData& d);

// safetensors: ordered map name -> tensor, plus the __metadata__ string map.
struct SafeTensors {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  std::map<std::string, std::string> metadata;
  torch::Tensor get(const std::string& name) const;  // throws EngineError naming the tensor
  bool has(const std::string& name) const;
};
// Reads and validates (header size, JSON, dtypes, shapes vs byte ranges, overlaps,
// bounds). Supported dtypes: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL.
Result<SafeTensors> readSafeTensors(const std::string& path);
// Writes atomically (temp file + rename) so a crash never leaves a half file.
Status writeSafeTensors(const std::string& path,
                        const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                        const std::map<std::string, std::string>& metadata = {});

// Fashion-MNIST as float tensors: images [N,1,28,28] normalized with the dataset's
// mean/std (0.2860, 0.3530); labels [N] int64.
struct FmnistTensors {
  torch::Tensor images, labels;
};
Result<FmnistTensors> fashionMnistTensors(const std::string& split);
constexpr double kFmnistMean = 0.2860, kFmnistStd = 0.3530;

}  // namespace cs::detail
