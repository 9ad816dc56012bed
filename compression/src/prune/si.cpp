// Sparsity Induction (SI): per-input-channel scale s and shift delta on the input of every
// prunable Linear, and a query/key scale s_a, trained block by block against the dense
// block outputs with the mask recomputed from the transformed weights every step, then
// folded into the model. See docs/pruning.md for the fold table and the conventions.
#include <chrono>
#include <cmath>
#include <set>

#include "compression/torch/prune_ops.h"

namespace cs::detail::prune {

namespace {

bool isOpt(const DecoderLM& m) { return m.config().arch == "opt"; }

// Site of a linear inside its block: 0 attention input, 1 o_proj input, 2 MLP input, 3 down input.
const char* siteName(int k) {
  static const char* names[] = {"attn_in", "attn_out", "mlp_in", "mlp_out"};
  return names[k];
}

int siteOf(const std::string& layer) {
  auto last = layer.substr(layer.rfind('.') + 1);
  if (last == "q_proj" || last == "k_proj" || last == "v_proj") return 0;
  if (last == "o_proj" || last == "out_proj") return 1;
  if (last == "gate_proj" || last == "up_proj" || last == "fc1") return 2;
  return 3;
}

// s_a [KV, hd/2] -> full per-kv-head vector [KV*hd] with the RoPE pairs tied.
torch::Tensor saFull(const LmConfig& c, const torch::Tensor& saHalf) {
  auto full = c.ropeInterleaved ? saHalf.repeat_interleave(2, 1) : torch::cat({saHalf, saHalf}, 1);
  return full.reshape({-1});
}

torch::Tensor mul(DecoderLM& m, const std::string& name, const torch::Tensor& f, int dim) {
  auto w = m.weight(name);
  auto out = w.dim() == 1 ? w * f : dim == 0 ? w * f.unsqueeze(1) : w * f.unsqueeze(0);
  m.setWeight(name, out.contiguous());
  return out;
}

void scaleRows(DecoderLM& m, const std::string& layer, const torch::Tensor& f) {
  mul(m, layer + ".weight", f, 0);
  if (m.hasWeight(layer + ".bias")) m.setWeight(layer + ".bias", (m.weight(layer + ".bias") * f).contiguous());
}

}  // namespace

torch::Tensor expandKvToHeads(const LmConfig& c, const torch::Tensor& kv) {
  const int64_t group = c.heads / c.kvHeads;
  return kv.reshape({c.kvHeads, 1, c.headDim}).expand({c.kvHeads, group, c.headDim}).reshape({-1});
}

std::vector<std::vector<std::string>> blockLinearGroups(const DecoderLM& m, int64_t i) {
  const auto p = m.layerPrefix(i);
  if (isOpt(m))
    return {{p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
            {p + "self_attn.out_proj"},
            {p + "fc1"},
            {p + "fc2"}};
  return {{p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
          {p + "self_attn.o_proj"},
          {p + "mlp.gate_proj", p + "mlp.up_proj"},
          {p + "mlp.down_proj"}};
}

void foldSi(DecoderLM& m, int64_t i, const std::vector<torch::Tensor>& s, const torch::Tensor& saKv) {
  torch::NoGradGuard ng;
  const auto& c = m.config();
  const auto p = m.layerPrefix(i);
  const bool opt = isOpt(m);
  auto groups = blockLinearGroups(m, i);
  auto colScale = [&](const std::vector<std::string>& layers, const torch::Tensor& f) {
    for (auto& l : layers) mul(m, l + ".weight", f, 1);
  };
  auto normDiv = [&](const std::string& norm, const torch::Tensor& f) {
    m.setWeight(norm + ".weight", (m.weight(norm + ".weight") / f).contiguous());
    if (m.hasWeight(norm + ".bias")) m.setWeight(norm + ".bias", (m.weight(norm + ".bias") / f).contiguous());
  };
  if (s.size() > 0 && s[0].defined()) {
    normDiv(p + (opt ? "self_attn_layer_norm" : "input_layernorm"), s[0]);
    colScale(groups[0], s[0]);
  }
  if (s.size() > 1 && s[1].defined()) {
    scaleRows(m, p + "self_attn.v_proj", 1.0 / s[1]);
    colScale(groups[1], expandKvToHeads(c, s[1]));
  }
  if (s.size() > 2 && s[2].defined()) {
    normDiv(p + (opt ? "final_layer_norm" : "post_attention_layernorm"), s[2]);
    colScale(groups[2], s[2]);
  }
  if (s.size() > 3 && s[3].defined()) {
    scaleRows(m, opt ? p + "fc1" : p + "mlp.up_proj", 1.0 / s[3]);
    colScale(groups[3], s[3]);
  }
  if (saKv.defined()) {
    auto kv = saKv.reshape({-1});
    scaleRows(m, p + "self_attn.q_proj", expandKvToHeads(c, kv));
    scaleRows(m, p + "self_attn.k_proj", 1.0 / kv);
  }
}

SiResult sparsityInduction(DecoderLM& model, const torch::Tensor& calib, const std::vector<std::string>& selected,
                           const SiOptions& opt, JobContext& job) {
  const auto t0 = std::chrono::steady_clock::now();
  SiResult res;
  const auto& c = model.config();
  const bool optArch = isOpt(model);
  std::set<std::string> sel(selected.begin(), selected.end());
  ForwardCtx plain;
  // dense block inputs, in batches
  std::vector<torch::Tensor> X;
  {
    torch::NoGradGuard ng;
    for (int64_t b0 = 0; b0 < calib.size(0); b0 += opt.batch)
      X.push_back(model.embed(calib.narrow(0, b0, std::min<int64_t>(opt.batch, calib.size(0) - b0)), plain));
  }
  std::vector<torch::Tensor> Xs = X;  // the student's block inputs (dense, or through the pruned blocks)
  const bool prunedInputs = opt.prunedInputs;
  const int64_t hd = c.headDim, KV = c.kvHeads;
  const int steps = static_cast<int>(X.size()) * std::max(0, opt.epochs);
  const double totalSteps = static_cast<double>(std::max<int64_t>(1, c.layers * std::max(1, steps)));
  int done = 0;
  for (int64_t i = 0; i < c.layers; ++i) {
    if (job.cancelled()) throw EngineError(Error::cancelled());
    auto groups = blockLinearGroups(model, i);
    // dense outputs and input statistics
    std::vector<torch::Tensor> Y;
    std::map<std::string, InputStats> stats;
    std::map<int, std::vector<torch::Tensor>> raw;  // per site, for the median (paper init)
    {
      torch::NoGradGuard ng;
      TapObserver obs = [&](const std::string& point, TapKind kind, const torch::Tensor& x) {
        if (kind == TapKind::LayerInput && sel.count(point)) {
          stats[point].add(x);
          if (opt.init == "paper" && (point == groups[siteOf(point)][0]))
            raw[siteOf(point)].push_back(x.reshape({-1, x.size(-1)}).clone());
        }
        return x;
      };
      ForwardCtx ctx{nullptr, &obs};
      for (auto& xb : X) Y.push_back(model.block(i, xb, ctx));
    }
    // parameters
    auto rmsInit = [&](int k) {
      const auto& st = stats[groups[k][0]];
      return (st.sqNorm(opt.shift ? st.mean() : torch::Tensor()) / static_cast<double>(st.n)).sqrt();
    };
    // log s, tied within a GQA group for the o_proj input, geometric mean 1
    auto normLog = [&](int k, torch::Tensor s0) {
      s0 = s0.clamp_min(1e-8).to(torch::kFloat32);
      if (k == 1) s0 = s0.reshape({KV, c.heads / KV, hd}).mean(1).reshape({-1});
      auto ls = s0.log();
      return (ls - ls.mean()).clamp(-7.0, 7.0).detach().clone();
    };
    std::vector<torch::Tensor> logS(4);
    std::vector<bool> siteOn(4, false);
    for (int k = 0; k < 4; ++k) {
      bool all = true;
      for (auto& l : groups[k]) all = all && sel.count(l);
      // OPT post-norm: the norm sits after the residual add, so its output is not the input.
      if (optArch && !c.optPreNorm && (k == 0 || k == 2)) all = false;
      siteOn[k] = all && opt.scale;
      if (!siteOn[k]) continue;
      const auto& st = stats[groups[k][0]];
      torch::Tensor s0;
      const auto mean = st.mean();
      if (opt.init == "ones" || opt.init == "auto") {  // auto starts at 1, the search below tries rms
        s0 = torch::ones_like(mean);
      } else if (opt.init == "paper") {
        auto all = torch::cat(raw[k], 0);
        auto med = std::get<0>(all.median(0)).to(torch::kFloat64);
        s0 = (med - mean).pow(2);
      } else {  // rms of the centred input
        s0 = rmsInit(k);
      }
      logS[k] = normLog(k, s0).requires_grad_(true);
    }
    std::map<std::string, torch::Tensor> delta;
    for (auto& g : groups)
      for (auto& l : g)
        if (sel.count(l) && opt.shift) delta[l] = stats[l].mean().to(torch::kFloat32).detach().clone().requires_grad_(true);
    torch::Tensor logSa;
    const bool qkOn = opt.qk && sel.count(groups[0][0]) && sel.count(groups[0][1]);
    if (qkOn) logSa = torch::zeros({KV, hd / 2}).requires_grad_(true);
    std::vector<torch::Tensor> params;
    for (auto& t : logS)
      if (t.defined()) params.push_back(t);
    for (auto& [l, d] : delta) params.push_back(d);
    if (logSa.defined()) params.push_back(logSa);

    auto sOfLayer = [&](const std::string& l) -> torch::Tensor {
      const int k = siteOf(l);
      if (!logS[k].defined()) return {};
      auto s = logS[k].exp();
      return k == 1 ? expandKvToHeads(c, s) : s;
    };
    auto rowScaleOf = [&](const std::string& l) -> torch::Tensor {
      if (!logSa.defined()) return {};
      auto last = l.substr(l.rfind('.') + 1);
      auto kv = saFull(c, logSa.exp());
      if (last == "q_proj") return expandKvToHeads(c, kv);
      if (last == "k_proj") return 1.0 / kv;
      return {};
    };
    auto transformedWeight = [&](const std::string& l, const torch::Tensor& w) {
      auto wt = w;
      if (auto s = sOfLayer(l); s.defined()) wt = wt * s.unsqueeze(0);
      if (auto r = rowScaleOf(l); r.defined()) wt = wt * r.unsqueeze(1);
      return wt;
    };
    // The fold divides the rows of a site's producer by that site's s (v_proj rows by the
    // o_proj input's s, up_proj/fc1 rows by the down_proj/fc2 input's s). A mask ranked
    // across rows (per layer, per column block) changes with those row factors, so the
    // masks and the regulariser use the weight exactly as it will be after the fold;
    // the forward keeps the factor on the consumer's side (row scaling commutes with a mask).
    auto producerRowFactor = [&](const std::string& l) -> torch::Tensor {
      auto last = l.substr(l.rfind('.') + 1);
      if (last == "v_proj" && logS[1].defined()) return (-logS[1]).exp();
      if ((last == "up_proj" || last == "fc1") && logS[3].defined()) return (-logS[3]).exp();
      return {};
    };
    auto foldedWeight = [&](const std::string& l, const torch::Tensor& w) {
      auto wt = transformedWeight(l, w);
      if (auto r = producerRowFactor(l); r.defined()) wt = wt * r.unsqueeze(1);
      return wt;
    };
    auto score = [&](const std::string& l, const torch::Tensor& wt) {
      torch::NoGradGuard ng;
      if (opt.metric == "magnitude") return magnitudeScores(wt);
      auto d = delta.count(l) ? delta[l].detach() : torch::Tensor();
      auto sq = stats[l].sqNorm(d).to(torch::kFloat32);
      if (auto s = sOfLayer(l); s.defined()) sq = sq / s.detach().pow(2);  // fast refresh, X~ = S^-1 (X - delta)
      return wandaScores(wt, sq);
    };
    Pattern maskPattern = opt.pattern;
    // SparseGPT proxy: its unstructured selection ranks w^2/[H^-1]_jj^2 across the rows of each
    // column block, so the diagonal-Hessian proxy ranks across the whole layer (row factors count).
    if (!maskPattern.nm() && maskPattern.scope == Scope::Block) maskPattern.scope = Scope::Layer;
    std::map<std::string, torch::Tensor> masks, powerU;
    LinearFn lin = [&](const std::string& l, const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
      if (!sel.count(l)) return b.defined() ? torch::linear(x, w, b) : torch::matmul(x, w.t());
      auto wt = transformedWeight(l, w);
      auto s = sOfLayer(l);
      torch::Tensor xt = x;
      torch::Tensor bias = b.defined() ? b : torch::zeros({w.size(0)});
      if (delta.count(l)) {
        xt = xt - delta[l];
        bias = bias + torch::mv(w, delta[l]);
      }
      if (s.defined()) xt = xt / s;
      if (auto r = rowScaleOf(l); r.defined()) bias = bias * r;
      return torch::linear(xt, wt * masks.at(l), bias);
    };
    // spectral norms of the transformed weights (power iteration, cached vectors)
    auto spectral = [&](bool detachAll) {
      torch::Tensor total = torch::zeros({});
      for (auto& g : groups)
        for (auto& l : g) {
          if (!sel.count(l)) continue;
          auto wt = foldedWeight(l, model.weight(l + ".weight"));
          torch::Tensor u;
          {
            torch::NoGradGuard ng;
            auto wd = wt.detach();
            u = powerU.count(l) ? powerU[l] : torch::ones({wd.size(0)}) / std::sqrt(static_cast<double>(wd.size(0)));
            torch::Tensor v;
            for (int it = 0; it < std::max(1, opt.powerIters); ++it) {
              v = torch::mv(wd.t(), u);
              v = v / (v.norm() + 1e-12);
              u = torch::mv(wd, v);
              u = u / (u.norm() + 1e-12);
            }
            powerU[l] = u;
            u = u.clone();
            powerU[l + "#v"] = v;
          }
          auto sigma = torch::dot(u, torch::mv(wt, powerU[l + "#v"]));
          total = total + (detachAll ? sigma.detach() : sigma);
        }
      return total;
    };
    double alpha = 0;
    if (opt.lambda > 0 && !params.empty()) {
      const double s0 = spectral(true).item<double>();
      alpha = s0 > 0 ? 1.0 / s0 : 0.0;
    }
    auto lossOf = [&](size_t b, bool grad) {
      {
        torch::NoGradGuard ng;
        for (auto& g : groups)
          for (auto& l : g)
            if (sel.count(l)) masks[l] = maskFromScores(score(l, foldedWeight(l, model.weight(l + ".weight"))), maskPattern);
      }
      ForwardCtx ctx;
      auto out = model.block(i, Xs[b], ctx, &lin);
      auto loss = (out - Y[b]).pow(2).mean() / (Y[b].pow(2).mean() + 1e-12);
      if (alpha > 0) loss = loss + opt.lambda * torch::exp(-alpha * spectral(!grad));
      return loss;
    };
    // si_init auto: per site, keep s = 1 or switch to the rms initialisation, whichever gives
    // the lower block loss (greedy over the sites, on up to 4 calibration batches). The rms
    // start is Wanda-like for the consumer but divides the producer's rows by s, which can
    // hurt a mask ranked across rows; the block objective decides, site by site.
    if (opt.init == "auto") {
      torch::NoGradGuard ng;
      const size_t nb = std::min<size_t>(X.size(), 4);
      auto probe = [&] {
        double v = 0;
        for (size_t b = 0; b < nb; ++b) v += lossOf(b, false).item<double>();
        return v / static_cast<double>(nb);
      };
      double best = probe();
      for (int k = 0; k < 4; ++k) {
        if (!logS[k].defined()) continue;
        auto keep = logS[k].detach().clone();
        logS[k].copy_(normLog(k, rmsInit(k)));
        const double v = probe();
        if (v < best) {
          best = v;
          res.rmsSites.push_back(model.layerPrefix(i) + siteName(k));
        } else {
          logS[k].copy_(keep);
        }
      }
    }
    double first = 0, last = 0;
    {
      torch::NoGradGuard ng;
      for (size_t b = 0; b < X.size(); ++b) first += lossOf(b, false).item<double>();
      first /= static_cast<double>(X.size());
    }
    if (!params.empty() && steps > 0) {
      torch::optim::AdamW adam(params, torch::optim::AdamWOptions(opt.lr).weight_decay(0.0));
      for (int e = 0; e < opt.epochs; ++e)
        for (size_t b = 0; b < X.size(); ++b) {
          if (job.cancelled()) throw EngineError(Error::cancelled());
          adam.zero_grad();
          auto loss = lossOf(b, true);
          loss.backward();
          adam.step();
          ++res.steps;
          ++done;
          job.progress(done / totalSteps, "SI block " + std::to_string(i + 1) + "/" + std::to_string(c.layers));
        }
    }
    {
      torch::NoGradGuard ng;
      for (size_t b = 0; b < X.size(); ++b) last += lossOf(b, false).item<double>();
      last /= static_cast<double>(X.size());
    }
    res.lossStart.push_back(first);
    res.lossEnd.push_back(last);
    // next block's inputs (before folding: the fold is block-local anyway)
    if (prunedInputs) {
      torch::NoGradGuard ng;
      ForwardCtx ctx;
      for (auto& xb : Xs) xb = model.block(i, xb, ctx, &lin);  // masks of the last lossOf: the final ones
    } else {
      Xs = Y;
    }
    X = std::move(Y);
    // fold
    torch::NoGradGuard ng;
    std::vector<torch::Tensor> sFold(4);
    for (int k = 0; k < 4; ++k)
      if (logS[k].defined()) sFold[k] = logS[k].detach().exp().clone();
    torch::Tensor saFold = logSa.defined() ? saFull(c, logSa.detach().exp()).reshape({KV, hd}).clone() : torch::Tensor();
    foldSi(model, i, sFold, saFold);
    for (int k = 0; k < 4; ++k) {
      if (!sFold[k].defined()) continue;
      SiSiteView v;
      v.name = model.layerPrefix(i) + siteName(k);
      v.layers = groups[k];
      auto sv = (k == 1 ? expandKvToHeads(c, sFold[k]) : sFold[k]).contiguous();
      v.scale.assign(sv.data_ptr<float>(), sv.data_ptr<float>() + sv.numel());
      res.sites.push_back(v);
    }
    for (auto& [l, d] : delta) {
      auto s = sFold[siteOf(l)];
      auto dd = d.detach().clone();
      if (s.defined()) dd = dd / (siteOf(l) == 1 ? expandKvToHeads(c, s) : s);
      res.shifts[l] = dd;
    }
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace cs::detail::prune
