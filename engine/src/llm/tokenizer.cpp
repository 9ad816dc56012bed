// Tokenizers for the decoder LMs: byte-level and llama2.c's BPE (tok<N>.bin).
// No torch here.
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <unordered_map>

#include "engine/llm.h"

namespace cs {

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  std::string out;
  int prev = -1;
  for (int id : ids) {
    out += piece(prev, id);
    prev = id;
  }
  return out;
}

namespace {

class ByteTokenizer final : public Tokenizer {
 public:
  ByteTokenizer(int bos, int eos, int vocab) : bos_(bos), eos_(eos), vocab_(vocab) {}
  std::string kind() const override { return "bytes"; }
  int vocabSize() const override { return vocab_; }
  int bos() const override { return bos_; }
  int eos() const override { return eos_; }
  std::vector<int> encode(const std::string& text, bool addBos) const override {
    std::vector<int> ids;
    ids.reserve(text.size() + 1);
    if (addBos && bos_ >= 0) ids.push_back(bos_);
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string piece(int, int id) const override {
    if (id >= 0 && id < 256 && id != bos_ && id != eos_) return std::string(1, static_cast<char>(id));
    return {};
  }

 private:
  int bos_, eos_, vocab_;
};

// llama2.c BPE: pieces with scores; encoding adds a dummy leading space, starts from
// UTF-8 code points (unknown ones fall back to byte tokens id = byte + 3) and merges
// the adjacent pair whose concatenation is in the vocabulary with the highest score.
class Llama2cTokenizer final : public Tokenizer {
 public:
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::unordered_map<std::string, int> lookup;

  std::string kind() const override { return "llama2c-bpe"; }
  int vocabSize() const override { return static_cast<int>(pieces.size()); }
  int bos() const override { return 1; }
  int eos() const override { return 2; }

  int find(const std::string& s) const {
    auto it = lookup.find(s);
    return it == lookup.end() ? -1 : it->second;
  }

  std::vector<int> encode(const std::string& text, bool addBos) const override {
    std::vector<int> t;
    if (addBos) t.push_back(1);
    if (!text.empty()) {
      int sp = find(" ");
      if (sp >= 0) t.push_back(sp);
    }
    std::string cp;
    auto flush = [&] {
      if (cp.empty()) return;
      int id = find(cp);
      if (id >= 0) {
        t.push_back(id);
      } else {
        for (unsigned char c : cp) t.push_back(c + 3);
      }
      cp.clear();
    };
    for (size_t i = 0; i < text.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      if ((c & 0xC0) != 0x80) flush();  // a new code point starts
      cp.push_back(static_cast<char>(c));
      if (cp.size() >= 4) flush();
    }
    flush();
    // merges
    while (true) {
      float best = -1e10f;
      int bestId = -1;
      size_t bestIdx = 0;
      for (size_t i = 0; i + 1 < t.size(); ++i) {
        int id = find(pieces[t[i]] + pieces[t[i + 1]]);
        if (id >= 0 && scores[id] > best) {
          best = scores[id];
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestId < 0) break;
      t[bestIdx] = bestId;
      t.erase(t.begin() + static_cast<long>(bestIdx) + 1);
    }
    return t;
  }

  std::string piece(int prev, int id) const override {
    if (id < 0 || id >= vocabSize() || id == 1 || id == 2) return {};
    const char* p = pieces[id].c_str();
    if (prev == 1 && p[0] == ' ') ++p;
    unsigned int byte = 0;
    char tail = 0;
    std::string s;
    if (std::sscanf(p, "<0x%02X>%c", &byte, &tail) == 1 && std::strlen(p) == 6) {
      s = std::string(1, static_cast<char>(byte));
    } else {
      s = p;
    }
    // llama2.c's safe_printf: a lone non-printable, non-space byte prints nothing.
    if (s.size() == 1) {
      unsigned char c = static_cast<unsigned char>(s[0]);
      if (!(std::isprint(c) || std::isspace(c))) return {};
    }
    return s;
  }
};

}  // namespace

std::shared_ptr<const Tokenizer> makeByteTokenizer(int bos, int eos, int vocabSize) {
  return std::make_shared<ByteTokenizer>(bos, eos, vocabSize);
}

Result<std::shared_ptr<const Tokenizer>> loadLlama2cTokenizer(const std::string& path, int vocabSize) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::notFound(path + ": cannot open tokenizer");
  auto tok = std::make_shared<Llama2cTokenizer>();
  int32_t maxLen = 0;
  if (!in.read(reinterpret_cast<char*>(&maxLen), 4) || maxLen <= 0 || maxLen > 4096)
    return Error::badFile(path, "bad tokenizer header");
  for (int i = 0; i < vocabSize; ++i) {
    float score = 0;
    int32_t len = 0;
    if (!in.read(reinterpret_cast<char*>(&score), 4) || !in.read(reinterpret_cast<char*>(&len), 4))
      return Error::badFile(path, "truncated at token " + std::to_string(i) + " of " + std::to_string(vocabSize));
    if (len < 0 || len > maxLen) return Error::badFile(path, "bad length of token " + std::to_string(i));
    std::string s(static_cast<size_t>(len), '\0');
    if (len > 0 && !in.read(&s[0], len)) return Error::badFile(path, "truncated at token " + std::to_string(i));
    tok->lookup.emplace(s, i);
    tok->pieces.push_back(std::move(s));
    tok->scores.push_back(score);
  }
  return std::shared_ptr<const Tokenizer>(tok);
}

}  // namespace cs
