// Tokenizers for the decoder LMs: byte-level and llama2.c's BPE (tok<N>.bin).
// No torch here.
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <unordered_map>

#include "engine/llm.h"
#include "tokenizer_io.h"

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
    // Merges: repeatedly the adjacent pair with the highest score, the leftmost on ties
    // (llama2.c's rule). A max-heap of candidate pairs over a linked list keeps this
    // O(n log n); the naive rescan is O(n^2) and took minutes on a 64 KB text. Stale heap
    // entries (a side already merged) are skipped when popped.
    const size_t n = t.size();
    if (n < 2) return t;
    std::vector<int> prev(n), next(n);
    std::vector<char> alive(n, 1);
    for (size_t i = 0; i < n; ++i) {
      prev[i] = static_cast<int>(i) - 1;
      next[i] = i + 1 < n ? static_cast<int>(i + 1) : -1;
    }
    struct Cand {
      float score;
      int left, right, leftId, rightId, merged;
    };
    auto worse = [](const Cand& a, const Cand& b) {  // heap order: higher score, then leftmost
      if (a.score != b.score) return a.score < b.score;
      return a.left > b.left;
    };
    std::vector<Cand> heap;
    auto push = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      const int id = find(pieces[t[l]] + pieces[t[r]]);
      if (id < 0) return;
      heap.push_back({scores[id], l, r, t[l], t[r], id});
      std::push_heap(heap.begin(), heap.end(), worse);
    };
    for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int>(i), static_cast<int>(i + 1));
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), worse);
      const Cand c = heap.back();
      heap.pop_back();
      if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right || t[c.left] != c.leftId ||
          t[c.right] != c.rightId)
        continue;
      t[c.left] = c.merged;
      alive[c.right] = 0;
      next[c.left] = next[c.right];
      if (next[c.right] >= 0) prev[next[c.right]] = c.left;
      push(prev[c.left], c.left);
      push(c.left, next[c.left]);
    }
    std::vector<int> out;
    out.reserve(n);
    for (int i = 0; i >= 0; i = next[i]) out.push_back(t[i]);
    return out;
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

namespace {

Result<std::shared_ptr<const Tokenizer>> readLlama2cTokenizer(std::istream& in, const std::string& path, int vocabSize) {
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

}  // namespace

Result<std::shared_ptr<const Tokenizer>> loadLlama2cTokenizer(const std::string& path, int vocabSize) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::notFound(path + ": cannot open tokenizer");
  return readLlama2cTokenizer(in, path, vocabSize);
}

namespace detail {

std::string llama2cTokenizerBytes(const Tokenizer& t) {
  auto* tok = dynamic_cast<const Llama2cTokenizer*>(&t);
  if (!tok) return {};
  int32_t maxLen = 1;
  for (auto& p : tok->pieces) maxLen = std::max<int32_t>(maxLen, static_cast<int32_t>(p.size()));
  std::string out;
  auto put = [&out](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  put(&maxLen, 4);
  for (size_t i = 0; i < tok->pieces.size(); ++i) {
    const float score = tok->scores[i];
    const auto len = static_cast<int32_t>(tok->pieces[i].size());
    put(&score, 4);
    put(&len, 4);
    put(tok->pieces[i].data(), tok->pieces[i].size());
  }
  return out;
}

Result<std::shared_ptr<const Tokenizer>> llama2cTokenizerFromBytes(const std::string& bytes, int vocabSize,
                                                                   const std::string& origin) {
  std::istringstream in(bytes);
  return readLlama2cTokenizer(in, origin, vocabSize);
}

namespace {
const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64Encode(const std::string& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    if (n > 1) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (n > 2) v |= static_cast<uint8_t>(bytes[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += n > 1 ? kB64[(v >> 6) & 63] : '=';
    out += n > 2 ? kB64[v & 63] : '=';
  }
  return out;
}

bool base64Decode(const std::string& text, std::string& out) {
  if (text.size() % 4 != 0) return false;
  out.clear();
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      int d;
      if (c == '=' && k >= 2 && i + 4 == text.size()) {
        d = 0;
        ++pad;
      } else {
        if (pad) return false;
        const char* p = std::strchr(kB64, c);
        if (!p || c == '\0') return false;
        d = static_cast<int>(p - kB64);
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 255);
    if (pad < 2) out += static_cast<char>((v >> 8) & 255);
    if (pad < 1) out += static_cast<char>(v & 255);
  }
  return true;
}

}  // namespace detail

}  // namespace cs
