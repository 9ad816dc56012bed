// Integer execution of a W8A8 ViT through LibTorch's quantized CPU kernels
// (compression/int8_exec.h, compression/torch/int8_exec.h).
#include "compression/torch/int8_exec.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <chrono>

#include "calibration.h"
#include "compression/int8_exec.h"
#include "compression/torch/quantizer.h"
#include "engine/runtime.h"
#include "engine/torch/tensors.h"
#include "variant_io.h"

namespace cs::detail {

namespace {

struct EngineName {
  const char* name;
  at::QEngine engine;
};
const std::vector<EngineName>& engineNames() {
  static const std::vector<EngineName> v = {{"onednn", at::kONEDNN}, {"x86", at::kX86}, {"fbgemm", at::kFBGEMM},
                                            {"qnnpack", at::kQNNPACK}};
  return v;
}

// Boxed call of a registered operator (the quantized ops are reached through the
// dispatcher; their C++ packed-params types are not part of the public headers).
c10::IValue callOp(const char* name, std::vector<c10::IValue> args) {
  auto op = c10::Dispatcher::singleton().findSchemaOrThrow(name, "");
  torch::jit::Stack stack(std::move(args));
  op.callBoxed(&stack);
  return stack.at(0);
}

}  // namespace

bool setQuantizedEngine(const std::string& name) {
  for (auto& e : engineNames())
    if (name == e.name) {
      auto sup = at::globalContext().supportedQEngines();
      if (std::find(sup.begin(), sup.end(), e.engine) == sup.end()) return false;
      at::globalContext().setQEngine(e.engine);
      return true;
    }
  return false;
}

struct Int8Vit::QLinear {
  c10::IValue packed;                 // LinearPackedParamsBase for the engine
  double inScale = 1;
  int64_t inZero = 0;
  double outScale = 1;
  int64_t outZero = 0;
  torch::Tensor weight, bias;         // fake-quantized FP weight (calibration pass)
  UniformQuantizer input;             // the RTN input quantizer
  mutable float outLo = 0, outHi = 0;  // calibration
  mutable bool seen = false;
};

Int8Vit::Int8Vit(const QuantizeResult& r, const std::string& engine, const torch::Tensor& calib) : engine_(engine) {
  auto vit = std::dynamic_pointer_cast<const VitModel>(r.variant.impl());
  if (!vit) throw std::invalid_argument(r.variant.name() + ": integer execution needs a native ViT");
  if (!r.saveInfo) throw std::invalid_argument(r.variant.name() + ": no quantizer parameters (not an RTN W8A8 result)");
  if (!setQuantizedEngine(engine)) throw std::invalid_argument("quantized engine '" + engine + "' is not supported by this LibTorch");
  vit_ = vit;
  for (auto& [n, t] : vit->namedTensors()) p_[n] = t;
  const auto& info = *r.saveInfo;
  torch::NoGradGuard ng;
  for (auto& l : vit->layers()) {
    if (!l.quantizable) continue;
    auto wq = info.weightQuantizers.find(l.name);
    auto aq = info.inputQuantizers.find(l.name);
    if (wq == info.weightQuantizers.end() || aq == info.inputQuantizers.end())
      throw std::invalid_argument(l.name + ": no 8-bit weight and input quantizer");
    const auto& W = wq->second;
    const auto& A = aq->second;
    if (W.bits != 8 || A.bits != 8 || A.symmetric || A.scale.numel() != 1)
      throw std::invalid_argument(l.name + ": integer kernels need W8 and per-tensor asymmetric A8");
    if (l.type != "Linear") {  // the patch-embedding conv stays FP on its fake-quantized weight and input
      patchInput_ = [A](const torch::Tensor& x) { return fakeQuant(x, A); };
      continue;
    }
    if (!W.symmetric) throw std::invalid_argument(l.name + ": integer kernels need symmetric (zero point 0) weights");
    auto q = std::make_shared<QLinear>();
    q->weight = p_.at(l.name + ".weight");
    q->bias = p_.at(l.name + ".bias");
    q->input = A;
    q->inScale = A.scale.item<double>();
    q->inZero = int64_t(A.zero.item<double>());
    auto scales = W.scale.reshape({-1}).to(torch::kDouble).expand({q->weight.size(0)}).contiguous();
    auto zeros = torch::zeros({q->weight.size(0)}, torch::kLong);
    auto qw = at::quantize_per_channel(q->weight.to(torch::kFloat).contiguous(), scales, zeros, 0, at::kQInt8);
    q->packed = callOp("quantized::linear_prepack", {qw, c10::optional<at::Tensor>(q->bias.to(torch::kFloat).contiguous())});
    lin_[l.name] = q;
  }
  // Output ranges of every Linear (its FP output on fake-quantized input and weight).
  {
    torch::InferenceMode g;
    for (int64_t i = 0; i < calib.size(0); i += 64) (void)run(calib.slice(0, i, std::min<int64_t>(i + 64, calib.size(0))), Mode::Calibrate);
  }
  for (auto& [n, q] : lin_) {
    auto oq = quantizerFromRange(torch::tensor(q->outLo), torch::tensor(q->outHi), 8, false);
    q->outScale = oq.scale.item<double>();
    q->outZero = int64_t(oq.zero.item<double>());
  }
  // One call through the kernels now, so a failing engine fails here.
  torch::InferenceMode g;
  (void)forward(calib.slice(0, 0, std::min<int64_t>(2, calib.size(0))));
}

std::vector<std::string> Int8Vit::int8Layers() const {
  std::vector<std::string> v;
  for (auto& [n, q] : lin_) v.push_back(n);
  return v;
}

torch::Tensor Int8Vit::linear(const std::string& name, const torch::Tensor& x, Mode mode) const {
  const auto& q = *lin_.at(name);
  if (mode == Mode::Calibrate) {
    auto y = torch::linear(fakeQuant(x, q.input), q.weight, q.bias);
    const float lo = y.min().item<float>(), hi = y.max().item<float>();
    q.outLo = q.seen ? std::min(q.outLo, lo) : lo;
    q.outHi = q.seen ? std::max(q.outHi, hi) : hi;
    q.seen = true;
    return y;
  }
  auto shape = x.sizes().vec();
  auto x2 = x.reshape({-1, shape.back()}).contiguous();
  auto qx = at::quantize_per_tensor(x2, q.inScale, q.inZero, at::kQUInt8);
  auto qy = callOp("quantized::linear", {qx, q.packed, q.outScale, q.outZero}).toTensor();
  shape.back() = qy.size(1);
  return qy.dequantize().reshape(shape);
}

torch::Tensor Int8Vit::forward(const torch::Tensor& images) const {
  torch::InferenceMode g;
  return run(images, Mode::Int8);
}

// Mirrors VitModel::tokens/forward (engine/src/vit.cpp) with the Linears swapped.
torch::Tensor Int8Vit::run(const torch::Tensor& images, Mode mode) const {
  const auto& cfg = vit_->config();
  const int D = cfg.dim, H = cfg.heads, hd = D / H;
  auto P = [&](const std::string& n) -> const torch::Tensor& { return p_.at(n); };
  auto ln = [&](const std::string& n, const torch::Tensor& x) {
    return torch::layer_norm(x, {D}, P(n + ".weight"), P(n + ".bias"), cfg.lnEps);
  };
  auto x = patchInput_ ? patchInput_(images) : images;
  x = torch::conv2d(x, P("patch_embed.proj.weight"), P("patch_embed.proj.bias"), cfg.patch);
  const int64_t B = x.size(0);
  x = x.flatten(2).transpose(1, 2);
  if (cfg.distilled)
    x = torch::cat({P("cls_token").expand({B, 1, D}), P("dist_token").expand({B, 1, D}), x}, 1) + P("pos_embed");
  else
    x = torch::cat({P("cls_token").expand({B, 1, D}), x}, 1) + P("pos_embed");
  const int64_t N = x.size(1);
  const double scale = 1.0 / std::sqrt(double(hd));
  for (int i = 0; i < cfg.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i);
    auto qkv = linear(b + ".attn.qkv", ln(b + ".norm1", x), mode).reshape({B, N, 3, H, hd}).permute({2, 0, 3, 1, 4});
    auto attn = torch::softmax(torch::matmul(qkv[0], qkv[1].transpose(-2, -1)) * scale, -1);
    auto o = torch::matmul(attn, qkv[2]).transpose(1, 2).reshape({B, N, D});
    x = x + linear(b + ".attn.proj", o, mode);
    auto h = torch::gelu(linear(b + ".mlp.fc1", ln(b + ".norm2", x), mode));
    x = x + linear(b + ".mlp.fc2", h, mode);
  }
  auto t = ln("norm", x);
  auto logits = linear("head", t.select(1, 0), mode);
  if (!cfg.distilled) return logits;
  return (logits + linear("head_dist", t.select(1, 1), mode)) / 2;
}

}  // namespace cs::detail

namespace cs {

std::vector<std::string> quantizedEngines() {
  std::vector<std::string> out;
  auto sup = at::globalContext().supportedQEngines();
  for (auto& e : detail::engineNames())
    if (std::find(sup.begin(), sup.end(), e.engine) != sup.end()) out.push_back(e.name);
  return out;
}

namespace {

struct Timing {
  double median = 0, p90 = 0;
};
template <class F>
Timing timeIt(F&& f, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t[std::min<size_t>(t.size() - 1, size_t(0.9 * t.size()))]};
}

}  // namespace

Result<Int8Report> benchInt8(const Model& model, const Int8Options& o, JobContext& job) {
  if (!model.valid()) return Error::badArgument("no model");
  if (model.family() != "vit")
    return Error{Error::Code::Unsupported, model.name() + ": integer execution is implemented for the native ViT only"};
  CS_TRY_RESULT(model.source(), {
    Int8Report rep;
    const auto& rt = runtimeInfo();
    rep.threads = rt.threads;
    rep.torchVersion = rt.torchVersion;
    rep.batch = o.batch;
    rep.repeats = o.repeats;
    Recipe r;
    r.method = "rtn";
    r.params = {{"wbits", 8}, {"abits", 8}, {"w_granularity", "per-channel"}, {"w_symmetric", true}, {"a_symmetric", false}};
    r.calibSamples = o.calibSamples;
    r.calibSeed = o.calibSeed;
    QuantizeOptions qo;
    qo.evaluate = false;
    JobContext qjob = job.sub(0.0, 0.2);
    auto q = quantize(model, r, qo, qjob);
    if (!q) return q.error();
    auto calib = detail::calibrationImages(o.calibSamples, o.calibSeed);
    if (!calib) return calib.error();

    std::unique_ptr<detail::Int8Vit> iv;
    std::vector<std::string> engines = o.engine == "auto" ? quantizedEngines() : std::vector<std::string>{o.engine};
    for (auto& e : engines) {
      try {
        iv = std::make_unique<detail::Int8Vit>(*q, e, calib->inputs);
        rep.enginesTried.push_back(e + ": ok");
        break;
      } catch (const std::exception& ex) {
        rep.enginesTried.push_back(e + ": " + std::string(ex.what()).substr(0, 300));
      }
    }
    if (engines.empty()) rep.enginesTried.push_back("no quantized engine in this LibTorch build");
    auto test = detail::fashionMnistTensors("test");
    if (!test) return test.error();
    const int64_t N = std::min<int64_t>(o.evalSamples, test->images.size(0));
    rep.evalSamples = int(N);
    torch::InferenceMode guard;
    int64_t cFp = 0, cFq = 0, cI8 = 0, agree = 0;
    double maxd = 0, sumd = 0, sumsq = 0;
    int64_t nlog = 0;
    for (int64_t i = 0; i < N; i += 250) {
      if (job.cancelled()) return Error::cancelled();
      const int64_t e = std::min<int64_t>(i + 250, N);
      auto x = test->images.slice(0, i, e);
      auto y = test->labels.slice(0, i, e);
      auto lf = model.impl()->run(x);
      auto lq = q->variant.impl()->run(x);
      cFp += lf.argmax(1).eq(y).sum().item<int64_t>();
      cFq += lq.argmax(1).eq(y).sum().item<int64_t>();
      if (iv) {
        auto li = iv->forward(x);
        cI8 += li.argmax(1).eq(y).sum().item<int64_t>();
        agree += li.argmax(1).eq(lq.argmax(1)).sum().item<int64_t>();
        auto d = (li - lq).abs();
        maxd = std::max(maxd, d.max().item<double>());
        sumd += d.sum().item<double>();
        sumsq += lq.pow(2).sum().item<double>();
        nlog += d.numel();
      }
      job.progress(0.2 + 0.4 * double(e) / N, "evaluating");
    }
    rep.fp32Accuracy = double(cFp) / N;
    rep.fakeQuantAccuracy = double(cFq) / N;
    if (iv) {
      rep.engine = iv->engine();
      rep.measured = true;
      rep.int8Accuracy = double(cI8) / N;
      rep.top1Agreement = double(agree) / N;
      rep.maxAbsLogitDiff = maxd;
      rep.meanAbsLogitDiff = sumd / double(nlog);
      rep.logitStd = std::sqrt(sumsq / double(nlog));
      rep.int8Layers = iv->int8Layers();
      rep.fpLayers = {"patch_embed.proj (conv, fake-quant W8A8 in FP32)", "LayerNorm", "attention matmuls + softmax",
                      "GELU", "residual adds"};
      rep.note = "measured: Linears run on LibTorch's quantized CPU kernels (" + rep.engine + ")";
    } else {
      rep.note = "simulated only: no quantized engine could run the model (see engines tried)";
    }
    if (o.time) {
      auto xb = test->images.slice(0, 0, std::min<int64_t>(o.batch, test->images.size(0))).contiguous();
      const double nb = double(xb.size(0));
      job.progress(0.6, "timing FP32");
      auto tf = timeIt([&] { (void)model.impl()->run(xb); }, o.warmup, o.repeats);
      rep.fp32MedianMs = tf.median * 1e3;
      rep.fp32P90Ms = tf.p90 * 1e3;
      rep.fp32ImagesPerSec = nb / tf.median;
      if (iv) {
        job.progress(0.8, "timing int8");
        auto ti = timeIt([&] { (void)iv->forward(xb); }, o.warmup, o.repeats);
        rep.int8MedianMs = ti.median * 1e3;
        rep.int8P90Ms = ti.p90 * 1e3;
        rep.int8ImagesPerSec = nb / ti.median;
        rep.speedup = rep.int8ImagesPerSec / rep.fp32ImagesPerSec;
      }
    }
    job.progress(1.0, "done");
    return rep;
  })
}

}  // namespace cs
