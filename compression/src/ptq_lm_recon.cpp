// RepQuant's quantized-weight reconstruction for LLaMA-style decoders: the layer-wise
// AdaRound + LSQ engine (compression/src/reconstruct.cpp) driven over the calibration
// tokens exactly as reconstructLayers() drives it for the ViT (quantizers_repquant.cpp).
#include <algorithm>
#include <string>

#include "compression/torch/ptq_lm.h"

namespace cs::detail {


void reconstructLmLayers(LmPtqOutcome& out, const torch::Tensor& tokens, const ReconConfig& cfg, JobContext* job) {
  auto& v = *out.variant;
  // The folded FP model: the variant without input transforms, FP weights restored.
  auto fp = std::static_pointer_cast<DecoderLM>(v.clone());
  fp->inputTransforms.clear();
  for (auto& [name, w] : out.fpWeights) fp->setWeight(name + ".weight", w.clone());
  std::vector<std::string> order;  // out.targets is in execution order (layers())
  for (auto& name : out.targets)
    if (out.weightQuantizers.count(name) && out.fpWeights.count(name) && v.hasWeight(name + ".weight"))
      order.push_back(name);
  const torch::Device dev(cfg.device);
  for (size_t li = 0; li < order.size(); ++li) {
    const std::string& name = order[li];
    if (job && job->cancelled()) throw ReconCancelled();
    auto xFp = captureLayerInput(*fp, tokens, name, 8);
    auto xQ = captureLayerInput(v, tokens, name, 8);
    if (!xFp.defined() || !xQ.defined()) continue;
    torch::Tensor bias, biasDev;
    if (v.hasWeight(name + ".bias")) bias = v.weight(name + ".bias").detach().to(torch::kFloat).clone();
    if (bias.defined()) biasDev = bias.to(dev);
    const auto& wFp = out.fpWeights.at(name);
    torch::Tensor target;
    {
      torch::NoGradGuard ng;
      target = torch::linear(xFp, wFp, bias);
    }
    std::vector<UniformQuantizer> acts;
    if (auto aq = out.inputQuantizers.find(name); aq != out.inputQuantizers.end()) {
      UniformQuantizer q = aq->second;
      q.axis = -1;
      acts.push_back(q);
    }
    const bool hasAct = !acts.empty();
    ReconForward f = [&](const ReconState& s, const torch::Tensor& x) {
      return torch::linear(hasAct ? s.act(0, x) : x, s.weight(0), biasDev);
    };
    ReconConfig c = cfg;
    c.seed = cfg.seed + li;
    JobContext sub = job ? job->sub(double(li) / order.size(), double(li + 1) / order.size()) : JobContext();
    auto r = reconstruct({{wFp, out.weightQuantizers.at(name)}}, acts, f, xQ, target, c, job ? &sub : nullptr);
    v.setWeight(name + ".weight", r.weights[0].to(v.weight(name + ".weight").scalar_type()).clone());
    if (hasAct) {
      UniformQuantizer q = r.acts[0];
      out.inputQuantizers[name] = q;
      v.inputTransforms[name] = [q](const torch::Tensor& x) { return fakeQuant(x, q); };
    }
    out.recon.push_back({name, r.mseNearest, r.mseFinal, r.binaryFraction, r.flipFraction, r.kept});
  }
}

}  // namespace cs::detail
