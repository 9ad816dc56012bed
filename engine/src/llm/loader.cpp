// Loading decoder LMs: Hugging Face directories (config.json + safetensors, sharded
// too), studio safetensors with the config in the metadata, and llama2.c .bin files.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/torch/llm_impl.h"
#include "engine/torch/tensors.h"
#include "tokenizer_io.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cs::detail {

namespace {

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw EngineError(Error::badFile(file, what));
}

template <class T>
T get(const json& j, const char* key, T dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  return it->get<T>();
}

int firstId(const json& j, const char* key, int dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (it->is_array()) return it->empty() ? dflt : (*it)[0].get<int>();
  return it->get<int>();
}

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EngineError(Error::notFound(path + ": cannot open"));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string shapeStr(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

// Expected tensors in canonical (pre-order) order with their shapes.
std::vector<std::pair<std::string, std::vector<int64_t>>> expectedTensors(const LmConfig& c, bool hasFinalNorm) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> e;
  const int64_t qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim;
  if (c.arch == "opt") {
    const std::string d = "model.decoder.";
    const int64_t wd = c.wordEmbedDim > 0 ? c.wordEmbedDim : c.dim;
    e.push_back({d + "embed_tokens.weight", {c.vocab, wd}});
    if (wd != c.dim) e.push_back({d + "project_in.weight", {c.dim, wd}});
    e.push_back({d + "embed_positions.weight", {c.maxSeq + c.optPosOffset, c.dim}});
    for (int64_t i = 0; i < c.layers; ++i) {
      const auto p = d + "layers." + std::to_string(i) + ".";
      for (auto n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
        e.push_back({p + "self_attn." + n + ".weight", {c.dim, c.dim}});
        e.push_back({p + "self_attn." + n + ".bias", {c.dim}});
      }
      e.push_back({p + "self_attn_layer_norm.weight", {c.dim}});
      e.push_back({p + "self_attn_layer_norm.bias", {c.dim}});
      e.push_back({p + "fc1.weight", {c.hidden, c.dim}});
      e.push_back({p + "fc1.bias", {c.hidden}});
      e.push_back({p + "fc2.weight", {c.dim, c.hidden}});
      e.push_back({p + "fc2.bias", {c.dim}});
      e.push_back({p + "final_layer_norm.weight", {c.dim}});
      e.push_back({p + "final_layer_norm.bias", {c.dim}});
    }
    if (hasFinalNorm) {
      e.push_back({d + "final_layer_norm.weight", {c.dim}});
      e.push_back({d + "final_layer_norm.bias", {c.dim}});
    }
    if (wd != c.dim) e.push_back({d + "project_out.weight", {wd, c.dim}});
    if (!c.tiedHead) e.push_back({"lm_head.weight", {c.vocab, wd}});
    return e;
  }
  e.push_back({"model.embed_tokens.weight", {c.vocab, c.dim}});
  for (int64_t i = 0; i < c.layers; ++i) {
    const auto p = "model.layers." + std::to_string(i) + ".";
    e.push_back({p + "input_layernorm.weight", {c.dim}});
    const std::pair<const char*, int64_t> attn[] = {{"q_proj", qd}, {"k_proj", kvd}, {"v_proj", kvd}};
    for (auto& [n, out] : attn) {
      e.push_back({p + "self_attn." + n + ".weight", {out, c.dim}});
      if (c.attentionBias) e.push_back({p + "self_attn." + n + ".bias", {out}});
    }
    e.push_back({p + "self_attn.o_proj.weight", {c.dim, qd}});
    if (c.attentionBias) e.push_back({p + "self_attn.o_proj.bias", {c.dim}});
    e.push_back({p + "post_attention_layernorm.weight", {c.dim}});
    for (auto n : {"gate_proj", "up_proj"}) {
      e.push_back({p + "mlp." + n + ".weight", {c.hidden, c.dim}});
      if (c.mlpBias) e.push_back({p + "mlp." + n + ".bias", {c.hidden}});
    }
    e.push_back({p + "mlp.down_proj.weight", {c.dim, c.hidden}});
    if (c.mlpBias) e.push_back({p + "mlp.down_proj.bias", {c.dim}});
  }
  e.push_back({"model.norm.weight", {c.dim}});
  if (!c.tiedHead) e.push_back({"lm_head.weight", {c.vocab, c.dim}});
  return e;
}

// Official names, accepting checkpoints saved from the bare model (no "model." prefix).
std::string canonicalName(const LmConfig& c, const std::string& n) {
  if (n.rfind("model.", 0) == 0 || n.rfind("lm_head.", 0) == 0) return n;
  if (c.arch == "opt" && n.rfind("decoder.", 0) == 0) return "model." + n;
  if (c.arch != "opt" && (n.rfind("layers.", 0) == 0 || n.rfind("embed_tokens.", 0) == 0 || n.rfind("norm.", 0) == 0))
    return "model." + n;
  return n;
}

std::shared_ptr<DecoderLM> assemble(LmConfig cfg, std::map<std::string, torch::Tensor> raw, const std::string& file,
                                    std::shared_ptr<const Tokenizer> tok) {
  std::map<std::string, torch::Tensor> byName;
  for (auto& [n, t] : raw) byName[canonicalName(cfg, n)] = t;
  if (cfg.tiedHead) byName.erase("lm_head.weight");
  else if (!byName.count("lm_head.weight")) cfg.tiedHead = true;  // no head stored: tied
  const bool finalNorm = byName.count("model.decoder.final_layer_norm.weight") > 0;
  std::vector<std::pair<std::string, torch::Tensor>> w;
  for (auto& [name, shape] : expectedTensors(cfg, finalNorm)) {
    auto it = byName.find(name);
    if (it == byName.end()) fail(file, "missing tensor " + name);
    if (it->second.sizes().vec() != shape)
      fail(file, "tensor " + name + " has shape " + shapeStr(it->second.sizes().vec()) + ", expected " + shapeStr(shape));
    if (!it->second.is_floating_point()) fail(file, "tensor " + name + " is not floating point");
    w.emplace_back(name, it->second);
  }
  if (!tok) tok = makeByteTokenizer(cfg.bos, cfg.eos, static_cast<int>(cfg.vocab));
  auto m = std::make_shared<DecoderLM>(cfg, std::move(w), std::move(tok));
  m->source = file;
  return m;
}

void checkConfig(const LmConfig& c, const std::string& file) {
  if (c.vocab <= 0 || c.dim <= 0 || c.hidden <= 0 || c.layers <= 0 || c.heads <= 0 || c.kvHeads <= 0 ||
      c.headDim <= 0 || c.maxSeq <= 0)
    fail(file, "config has a missing or non-positive size");
  if (c.heads % c.kvHeads != 0) fail(file, "num_attention_heads is not a multiple of num_key_value_heads");
  if (c.headDim % 2 != 0 && c.arch != "opt") fail(file, "head_dim must be even for RoPE");
  if (c.arch == "opt" && c.heads * c.headDim != c.dim) fail(file, "hidden_size not divisible by heads");
}

std::shared_ptr<DecoderLM> loadHfDir(const fs::path& dir) {
  const auto cfgPath = (dir / "config.json").string();
  auto cfg = LmConfig::fromJson(readText(cfgPath), cfgPath);
  std::map<std::string, torch::Tensor> raw;
  std::string weightsFile = (dir / "model.safetensors").string();
  std::vector<std::string> files;
  if (fs::exists(weightsFile)) {
    files.push_back(weightsFile);
  } else {
    const auto idx = (dir / "model.safetensors.index.json").string();
    if (!fs::exists(idx)) fail(dir.string(), "no model.safetensors or model.safetensors.index.json");
    json j;
    try {
      j = json::parse(readText(idx));
    } catch (const json::exception& e) {
      fail(idx, std::string("invalid JSON: ") + e.what());
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object()) fail(idx, "no weight_map");
    std::set<std::string> uniq;
    for (auto& [k, v] : j["weight_map"].items()) {
      auto f = v.get<std::string>();
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos) fail(idx, "bad shard name " + f);
      if (uniq.insert(f).second) files.push_back((dir / f).string());
    }
    weightsFile = idx;
  }
  for (const auto& f : files) {
    auto st = readSafeTensors(f);
    if (!st) throw EngineError(st.error());
    for (auto& [n, t] : st->tensors) raw[n] = t;
  }
  auto m = assemble(cfg, std::move(raw), weightsFile, nullptr);
  m->source = dir.string();
  m->name = dir.filename().string();
  return m;
}

std::shared_ptr<DecoderLM> loadStudioSafetensors(const std::string& path) {
  auto st = readSafeTensors(path);
  if (!st) throw EngineError(st.error());
  std::string cfgJson;
  auto it = st->metadata.find("lm_config");
  if (it != st->metadata.end()) {
    cfgJson = it->second;
  } else {
    auto side = fs::path(path).parent_path() / "config.json";
    if (!fs::exists(side)) fail(path, "no lm_config metadata and no config.json beside it");
    cfgJson = readText(side.string());
  }
  auto cfg = LmConfig::fromJson(cfgJson, path);
  std::map<std::string, torch::Tensor> raw;
  for (auto& [n, t] : st->tensors) raw[n] = t;
  std::shared_ptr<const Tokenizer> tok;
  auto tk = st->metadata.find("tokenizer");
  if (tk != st->metadata.end() && tk->second == "llama2c-bpe") {
    // Variants of llama2.c models carry their tokenizer (tok<N>.bin, base64) in the metadata;
    // older files only named it: use that file, else a tok<N>.bin/tokenizer.bin beside this one.
    auto emb = st->metadata.find("tokenizer_llama2c");
    if (emb != st->metadata.end()) {
      std::string bytes;
      if (!base64Decode(emb->second, bytes)) fail(path, "metadata tokenizer_llama2c is not valid base64");
      auto t = llama2cTokenizerFromBytes(bytes, static_cast<int>(cfg.vocab), path + " (metadata tokenizer_llama2c)");
      if (!t) throw EngineError(t.error());
      tok = t.value();
    } else {
      std::vector<fs::path> cands;
      auto named = st->metadata.find("tokenizer_file");
      if (named != st->metadata.end()) cands.emplace_back(named->second);
      for (auto c : {"tok" + std::to_string(cfg.vocab) + ".bin", std::string("tokenizer.bin")})
        cands.push_back(fs::path(path).parent_path() / c);
      for (auto& c : cands)
        if (fs::exists(c)) {
          auto t = loadLlama2cTokenizer(c.string(), static_cast<int>(cfg.vocab));
          if (!t) throw EngineError(t.error());
          tok = t.value();
          break;
        }
      if (!tok) fail(path, "llama2c-bpe model without its tokenizer (no tokenizer_llama2c metadata, no tok" +
                               std::to_string(cfg.vocab) + ".bin beside it)");
    }
  } else if (tk != st->metadata.end() && tk->second != "bytes") {
    fail(path, "unsupported tokenizer " + tk->second);
  }
  auto m = assemble(cfg, std::move(raw), path, tok);
  auto nm = st->metadata.find("name");
  m->name = nm != st->metadata.end() ? nm->second : fs::path(path).stem().string();
  for (auto& [k, v] : st->metadata)
    if (k != "lm_config" && k != "tokenizer_llama2c") m->properties["meta." + k] = v;
  return m;
}

std::shared_ptr<DecoderLM> loadLlama2c(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EngineError(Error::notFound(path + ": cannot open"));
  int32_t h[7];
  if (!in.read(reinterpret_cast<char*>(h), sizeof h)) fail(path, "truncated llama2.c header");
  LmConfig c;
  c.arch = "llama";
  c.dim = h[0];
  c.hidden = h[1];
  c.layers = h[2];
  c.heads = h[3];
  c.kvHeads = h[4];
  const bool shared = h[5] > 0;
  c.vocab = shared ? h[5] : -static_cast<int64_t>(h[5]);
  c.maxSeq = h[6];
  if (c.dim <= 0 || c.heads <= 0 || c.dim % c.heads != 0 || c.dim > 65536 || c.layers > 1024 || c.hidden > 1 << 20 ||
      c.vocab > 1 << 22 || c.maxSeq > 1 << 20)
    fail(path, "implausible llama2.c header");
  c.headDim = c.dim / c.heads;
  c.normEps = 1e-5;
  c.ropeInterleaved = true;
  c.tiedHead = shared;
  c.bos = 1;
  c.eos = 2;
  checkConfig(c, path);
  const int64_t kvd = c.kvHeads * c.headDim, L = c.layers;
  const std::vector<std::pair<std::string, std::vector<int64_t>>> arrays = {
      {"tok", {c.vocab, c.dim}},       {"attn_norm", {L, c.dim}},      {"wq", {L, c.dim, c.dim}},
      {"wk", {L, kvd, c.dim}},         {"wv", {L, kvd, c.dim}},        {"wo", {L, c.dim, c.dim}},
      {"ffn_norm", {L, c.dim}},        {"w1", {L, c.hidden, c.dim}},   {"w2", {L, c.dim, c.hidden}},
      {"w3", {L, c.hidden, c.dim}},    {"norm", {c.dim}},              {"rope", {c.maxSeq, c.headDim}}};
  int64_t total = 0;
  for (auto& a : arrays) {
    int64_t n = 1;
    for (auto s : a.second) n *= s;
    total += n;
  }
  if (!shared) total += c.vocab * c.dim;
  const auto fileSize = static_cast<int64_t>(fs::file_size(path));
  if (fileSize < 28 + total * 4)
    fail(path, "truncated: " + std::to_string(fileSize) + " bytes, the header needs " + std::to_string(28 + total * 4));
  std::map<std::string, torch::Tensor> a;
  for (auto& [name, shape] : arrays) {
    auto t = torch::empty(shape, torch::kFloat32);
    in.read(reinterpret_cast<char*>(t.data_ptr<float>()), t.numel() * 4);
    a[name] = t;
  }
  std::map<std::string, torch::Tensor> raw;
  raw["model.embed_tokens.weight"] = a["tok"];
  for (int64_t i = 0; i < L; ++i) {
    const auto p = "model.layers." + std::to_string(i) + ".";
    raw[p + "input_layernorm.weight"] = a["attn_norm"][i].clone();
    raw[p + "self_attn.q_proj.weight"] = a["wq"][i].clone();
    raw[p + "self_attn.k_proj.weight"] = a["wk"][i].clone();
    raw[p + "self_attn.v_proj.weight"] = a["wv"][i].clone();
    raw[p + "self_attn.o_proj.weight"] = a["wo"][i].clone();
    raw[p + "post_attention_layernorm.weight"] = a["ffn_norm"][i].clone();
    raw[p + "mlp.gate_proj.weight"] = a["w1"][i].clone();
    raw[p + "mlp.down_proj.weight"] = a["w2"][i].clone();
    raw[p + "mlp.up_proj.weight"] = a["w3"][i].clone();
  }
  raw["model.norm.weight"] = a["norm"];
  if (!shared) {
    auto t = torch::empty({c.vocab, c.dim}, torch::kFloat32);
    in.read(reinterpret_cast<char*>(t.data_ptr<float>()), t.numel() * 4);
    raw["lm_head.weight"] = t;
  }
  const auto dir = fs::path(path).parent_path();
  std::string tokPath;
  for (auto cand : {"tok" + std::to_string(c.vocab) + ".bin", std::string("tokenizer.bin")})
    if (fs::exists(dir / cand)) {
      tokPath = (dir / cand).string();
      break;
    }
  if (tokPath.empty()) fail(path, "no tokenizer beside it (tok" + std::to_string(c.vocab) + ".bin or tokenizer.bin)");
  auto tok = loadLlama2cTokenizer(tokPath, static_cast<int>(c.vocab));
  if (!tok) throw EngineError(tok.error());
  auto m = assemble(c, std::move(raw), path, tok.value());
  m->name = fs::path(path).stem().string();
  m->properties["tokenizer"] = tokPath;
  return m;
}

}  // namespace

LmConfig LmConfig::fromJson(const std::string& text, const std::string& file) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(file, std::string("invalid JSON: ") + e.what());
  }
  LmConfig c;
  try {
    const auto type = get<std::string>(j, "model_type", "");
    c.fileDtype = get<std::string>(j, "dtype", get<std::string>(j, "torch_dtype", "float32"));
    c.vocab = get<int64_t>(j, "vocab_size", 0);
    c.dim = get<int64_t>(j, "hidden_size", 0);
    c.layers = get<int64_t>(j, "num_hidden_layers", 0);
    c.heads = get<int64_t>(j, "num_attention_heads", 0);
    c.bos = firstId(j, "bos_token_id", 1);
    c.eos = firstId(j, "eos_token_id", 2);
    if (type == "llama") {
      c.arch = "llama";
      c.hidden = get<int64_t>(j, "intermediate_size", 0);
      c.kvHeads = get<int64_t>(j, "num_key_value_heads", c.heads);
      c.headDim = get<int64_t>(j, "head_dim", c.heads > 0 ? c.dim / c.heads : 0);
      c.maxSeq = get<int64_t>(j, "max_position_embeddings", 2048);
      c.normEps = get<double>(j, "rms_norm_eps", 1e-6);
      c.ropeTheta = get<double>(j, "rope_theta", 10000.0);
      std::string ropeType = "default";
      for (auto key : {"rope_parameters", "rope_scaling"}) {
        auto it = j.find(key);
        if (it == j.end() || !it->is_object()) continue;
        c.ropeTheta = get<double>(*it, "rope_theta", c.ropeTheta);
        ropeType = get<std::string>(*it, "rope_type", get<std::string>(*it, "type", ropeType));
      }
      if (ropeType != "default") fail(file, "unsupported rope type " + ropeType);
      c.ropeInterleaved = get<bool>(j, "cs_rope_interleaved", false);
      c.tiedHead = get<bool>(j, "tie_word_embeddings", false);
      c.attentionBias = get<bool>(j, "attention_bias", false);
      c.mlpBias = get<bool>(j, "mlp_bias", false);
      const auto act = get<std::string>(j, "hidden_act", "silu");
      if (act != "silu") fail(file, "unsupported hidden_act " + act);
    } else if (type == "opt") {
      c.arch = "opt";
      c.hidden = get<int64_t>(j, "ffn_dim", 0);
      c.kvHeads = c.heads;
      c.headDim = c.heads > 0 ? c.dim / c.heads : 0;
      c.maxSeq = get<int64_t>(j, "max_position_embeddings", 2048);
      c.normEps = 1e-5;
      c.optPreNorm = get<bool>(j, "do_layer_norm_before", true);
      c.wordEmbedDim = get<int64_t>(j, "word_embed_proj_dim", c.dim);
      c.tiedHead = get<bool>(j, "tie_word_embeddings", true);
      if (!get<bool>(j, "enable_bias", true)) fail(file, "OPT without biases is not supported");
      if (!get<bool>(j, "layer_norm_elementwise_affine", true)) fail(file, "OPT without LayerNorm affine is not supported");
      const auto act = get<std::string>(j, "activation_function", "relu");
      if (act != "relu") fail(file, "unsupported activation_function " + act);
    } else {
      fail(file, "unsupported model_type '" + type + "' (llama or opt)");
    }
  } catch (const json::exception& e) {
    fail(file, std::string("bad config value: ") + e.what());
  }
  checkConfig(c, file);
  return c;
}

std::string LmConfig::toJson() const {
  json j;
  j["model_type"] = arch;
  j["vocab_size"] = vocab;
  j["hidden_size"] = dim;
  j["num_hidden_layers"] = layers;
  j["num_attention_heads"] = heads;
  j["bos_token_id"] = bos;
  j["eos_token_id"] = eos;
  j["max_position_embeddings"] = maxSeq;
  j["tie_word_embeddings"] = tiedHead;
  j["dtype"] = fileDtype;
  if (arch == "opt") {
    j["ffn_dim"] = hidden;
    j["do_layer_norm_before"] = optPreNorm;
    j["word_embed_proj_dim"] = wordEmbedDim > 0 ? wordEmbedDim : dim;
    j["activation_function"] = "relu";
  } else {
    j["intermediate_size"] = hidden;
    j["num_key_value_heads"] = kvHeads;
    j["head_dim"] = headDim;
    j["rms_norm_eps"] = normEps;
    j["rope_parameters"] = {{"rope_theta", ropeTheta}, {"rope_type", "default"}};
    j["hidden_act"] = "silu";
    j["attention_bias"] = attentionBias;
    j["mlp_bias"] = mlpBias;
    if (ropeInterleaved) j["cs_rope_interleaved"] = true;
  }
  return j.dump();
}

bool looksLikeLanguageModel(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "config.json", ec)) return true;
    return fs::exists(p / "model.safetensors", ec);
  }
  const auto ext = p.extension().string();
  if (ext == ".bin") return true;
  return false;
}

std::shared_ptr<DecoderLM> loadDecoderLM(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (!fs::exists(p, ec)) throw EngineError(Error::notFound(path + ": no such file or directory"));
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "config.json", ec)) return loadHfDir(p);
    if (fs::exists(p / "model.safetensors", ec)) return loadStudioSafetensors((p / "model.safetensors").string());
    fail(path, "not a language model directory (no config.json or model.safetensors)");
  }
  if (p.extension() == ".bin") return loadLlama2c(path);
  if (p.extension() == ".safetensors") {
    auto side = p.parent_path() / "config.json";
    if (fs::exists(side, ec) && p.filename() == "model.safetensors") return loadHfDir(p.parent_path());
    return loadStudioSafetensors(path);
  }
  fail(path, "unknown language model format (expected a directory, .safetensors or llama2.c .bin)");
}

std::shared_ptr<ModelImpl> openLanguageModel(const std::string& path) { return loadDecoderLM(path); }

Status saveDecoderLM(const DecoderLM& m, const std::string& path, bool fp16,
                     const std::map<std::string, std::string>& extraMetadata) {
  auto cfg = m.config();
  cfg.fileDtype = fp16 ? "float16" : "float32";
  std::vector<std::pair<std::string, torch::Tensor>> ts;
  {
    torch::NoGradGuard ng;
    for (auto& [n, t] : m.namedTensors()) ts.emplace_back(n, t.detach().to(fp16 ? torch::kFloat16 : torch::kFloat32).contiguous());
  }
  auto meta = extraMetadata;
  meta["lm_config"] = cfg.toJson();
  meta["family"] = cfg.arch;
  meta["tokenizer"] = m.tokenizer() ? m.tokenizer()->kind() : "bytes";
  if (m.tokenizer() && m.tokenizer()->kind() == "llama2c-bpe") {
    meta["tokenizer_llama2c"] = base64Encode(llama2cTokenizerBytes(*m.tokenizer()));
    auto src = m.properties.find("tokenizer");
    if (src != m.properties.end()) meta["tokenizer_file"] = src->second;
  }
  return writeSafeTensors(path, ts, meta);
}

}  // namespace cs::detail
