// torch.save state-dict reader: zip container + a restricted pickle interpreter
// (see engine/torch/checkpoint.h). Opcode semantics follow CPython's
// Lib/pickletools.py documentation; only the subset state dicts use is accepted.
#include "engine/torch/checkpoint.h"

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "checkpoint/zip_reader.h"

namespace cs::detail {
namespace {

[[noreturn]] void bad(const std::string& what) { throw std::runtime_error(what); }

// ---------------------------------------------------------------------------------------
// Pickle values. All values are owned by the interpreter's arena and referenced by raw
// pointers, so hostile self-referencing containers cannot leak or double free.
struct Value {
  enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor, Mark };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                                    // Str, Bytes; Global: "module.name"
  std::vector<Value*> items;                        // Tuple, List
  std::vector<std::pair<Value*, Value*>> dict;      // Dict (insertion order)
  torch::Tensor tensor;                             // Tensor; Storage: 1-D typed data
  torch::ScalarType storageType = torch::kFloat;    // Global of a storage type, Storage
};
using K = Value::Kind;

const char* kindName(K k) {
  switch (k) {
    case K::None: return "None";
    case K::Bool: return "bool";
    case K::Int: return "int";
    case K::Float: return "float";
    case K::Str: return "str";
    case K::Bytes: return "bytes";
    case K::Tuple: return "tuple";
    case K::List: return "list";
    case K::Dict: return "dict";
    case K::Global: return "global";
    case K::Storage: return "storage";
    case K::Tensor: return "tensor";
    case K::Mark: return "mark";
  }
  return "?";
}

// torch.<Name>Storage -> dtype.
bool storageDtype(const std::string& name, torch::ScalarType& out) {
  static const std::map<std::string, torch::ScalarType> m = {
      {"FloatStorage", torch::kFloat},   {"DoubleStorage", torch::kDouble}, {"HalfStorage", torch::kHalf},
      {"BFloat16Storage", torch::kBFloat16}, {"LongStorage", torch::kLong}, {"IntStorage", torch::kInt},
      {"ShortStorage", torch::kShort},   {"CharStorage", torch::kChar},     {"ByteStorage", torch::kByte},
      {"BoolStorage", torch::kBool}};
  auto it = m.find(name);
  if (it == m.end()) return false;
  out = it->second;
  return true;
}

constexpr size_t kMaxStack = 1 << 20, kMaxValues = 1 << 24, kMaxDepth = 64;

class Unpickler {
 public:
  Unpickler(const std::string& data, const zip::Archive& zipArchive, std::string root, const CheckpointOptions& opt)
      : d_(data), zip_(zipArchive), root_(std::move(root)), opt_(opt) {}

  Value* run() {
    for (;;) {
      if (pos_ >= d_.size()) bad("pickle ends without STOP (truncated?)");
      const size_t at = pos_;
      const uint8_t op = u8();
      switch (op) {
        case 0x80: {  // PROTO
          const uint8_t v = u8();
          if (v < 2 || v > 5) bad("unsupported pickle protocol " + std::to_string(v));
          break;
        }
        case 0x95: take(8); break;  // FRAME: framing is transparent for a whole buffer
        case '.': {                 // STOP
          Value* v = pop();
          return v;
        }
        case '}': push(make(K::Dict)); break;
        case ']': push(make(K::List)); break;
        case ')': push(make(K::Tuple)); break;
        case '(': push(&mark_); break;
        case '0': pop(); break;                      // POP
        case '1': popMark(); break;                  // POP_MARK
        case '2': push(top()); break;                // DUP
        case 'N': push(make(K::None)); break;
        case 0x88: push(boolean(true)); break;
        case 0x89: push(boolean(false)); break;
        case 'K': push(integer(u8())); break;        // BININT1
        case 'M': push(integer(le(2))); break;       // BININT2
        case 'J': push(integer(int32_t(uint32_t(le(4))))); break;  // BININT
        case 0x8a: {                                 // LONG1
          const uint8_t n = u8();
          if (n > 8) bad("LONG1 integer of " + std::to_string(n) + " bytes does not fit in 64 bits");
          const std::string b = take(n);
          uint64_t v = 0;
          for (int k = int(n) - 1; k >= 0; --k) v = (v << 8) | uint8_t(b[size_t(k)]);
          if (n > 0 && n < 8 && (uint8_t(b[n - 1]) & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
          push(integer(int64_t(v)));
          break;
        }
        case 'G': {  // BINFLOAT: big-endian double
          const std::string b = take(8);
          uint64_t v = 0;
          for (int k = 0; k < 8; ++k) v = (v << 8) | uint8_t(b[size_t(k)]);
          Value* x = make(K::Float);
          std::memcpy(&x->f, &v, 8);
          push(x);
          break;
        }
        case 'X': push(str(K::Str, take(le(4)))); break;     // BINUNICODE
        case 0x8c: push(str(K::Str, take(u8()))); break;     // SHORT_BINUNICODE
        case 0x8d: push(str(K::Str, take(le(8)))); break;    // BINUNICODE8
        case 'T': push(str(K::Str, take(le(4)))); break;     // BINSTRING (py2 str)
        case 'U': push(str(K::Str, take(u8()))); break;      // SHORT_BINSTRING
        case 'B': push(str(K::Bytes, take(le(4)))); break;   // BINBYTES
        case 'C': push(str(K::Bytes, take(u8()))); break;    // SHORT_BINBYTES
        case 0x8e: push(str(K::Bytes, take(le(8)))); break;  // BINBYTES8
        case 'q': memo(u8(), top()); break;                  // BINPUT
        case 'r': memo(le(4), top()); break;                 // LONG_BINPUT
        case 0x94: memo(memo_.size(), top()); break;         // MEMOIZE
        case 'h': push(memoGet(u8())); break;                // BINGET
        case 'j': push(memoGet(le(4))); break;               // LONG_BINGET
        case 0x85: tupleN(1); break;
        case 0x86: tupleN(2); break;
        case 0x87: tupleN(3); break;
        case 't': {  // TUPLE
          Value* t = make(K::Tuple);
          t->items = popMark();
          push(t);
          break;
        }
        case 'a': {  // APPEND
          Value* v = pop();
          list(top())->items.push_back(v);
          break;
        }
        case 'e': {  // APPENDS
          auto xs = popMark();
          Value* l = list(top());
          l->items.insert(l->items.end(), xs.begin(), xs.end());
          break;
        }
        case 's': {  // SETITEM
          Value* v = pop();
          Value* k = pop();
          dict(top())->dict.emplace_back(k, v);
          break;
        }
        case 'u': {  // SETITEMS
          auto xs = popMark();
          if (xs.size() % 2) bad("SETITEMS with an odd number of items");
          Value* dct = dict(top());
          for (size_t k = 0; k < xs.size(); k += 2) dct->dict.emplace_back(xs[k], xs[k + 1]);
          break;
        }
        case 'c': {  // GLOBAL "module\nname\n"
          const std::string mod = line(), name = line();
          push(global(mod, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Value* name = pop();
          Value* mod = pop();
          if (mod->kind != K::Str || name->kind != K::Str) bad("STACK_GLOBAL expects two strings");
          push(global(mod->s, name->s));
          break;
        }
        case 'R': {  // REDUCE
          Value* args = pop();
          Value* fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 'Q': push(persistent(pop())); break;  // BINPERSID
        case 'b': {                                 // BUILD: state of an OrderedDict / parameter
          Value* state = pop();
          (void)state;
          Value* obj = top();
          if (obj->kind != K::Dict && obj->kind != K::Tensor)
            bad("BUILD on a " + std::string(kindName(obj->kind)) + " is not supported");
          break;
        }
        default: {
          char buf[64];
          std::snprintf(buf, sizeof buf, "unsupported pickle opcode 0x%02x at offset %zu", unsigned(op), at);
          bad(buf);
        }
      }
    }
  }

  int64_t totalBytes = 0;

 private:
  // --- input ---
  uint8_t u8() {
    if (pos_ >= d_.size()) bad("pickle truncated");
    return uint8_t(d_[pos_++]);
  }
  uint64_t le(int n) {
    if (d_.size() - pos_ < size_t(n)) bad("pickle truncated");
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | uint8_t(d_[pos_ + size_t(k)]);
    pos_ += size_t(n);
    return v;
  }
  std::string take(uint64_t n) {
    if (n > d_.size() - pos_) bad("pickle truncated (string or frame of " + std::to_string(n) + " bytes)");
    std::string s = d_.substr(pos_, size_t(n));
    pos_ += size_t(n);
    return s;
  }
  std::string line() {
    const size_t e = d_.find('\n', pos_);
    if (e == std::string::npos || e - pos_ > 256) bad("bad GLOBAL operand");
    std::string s = d_.substr(pos_, e - pos_);
    pos_ = e + 1;
    return s;
  }

  // --- values and stack ---
  Value* make(K k) {
    if (arena_.size() >= kMaxValues) bad("too many pickle values");
    arena_.push_back(std::make_unique<Value>());
    arena_.back()->kind = k;
    return arena_.back().get();
  }
  Value* boolean(bool b) {
    Value* v = make(K::Bool);
    v->b = b;
    return v;
  }
  Value* integer(int64_t i) {
    Value* v = make(K::Int);
    v->i = i;
    return v;
  }
  Value* str(K k, std::string s) {
    Value* v = make(k);
    v->s = std::move(s);
    return v;
  }
  void push(Value* v) {
    if (stack_.size() >= kMaxStack) bad("pickle stack too deep");
    stack_.push_back(v);
  }
  Value* pop() {
    if (stack_.empty() || stack_.back() == &mark_) bad("pickle stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.empty() || stack_.back() == &mark_) bad("pickle stack underflow");
    return stack_.back();
  }
  std::vector<Value*> popMark() {
    size_t k = stack_.size();
    while (k > 0 && stack_[k - 1] != &mark_) --k;
    if (k == 0) bad("MARK not found on the pickle stack");
    std::vector<Value*> xs(stack_.begin() + long(k), stack_.end());
    stack_.resize(k - 1);
    return xs;
  }
  void tupleN(size_t n) {
    if (stack_.size() < n) bad("pickle stack underflow");
    Value* t = make(K::Tuple);
    for (size_t k = 0; k < n; ++k) {
      Value* v = stack_[stack_.size() - n + k];
      if (v == &mark_) bad("pickle stack underflow");
      t->items.push_back(v);
    }
    stack_.resize(stack_.size() - n);
    push(t);
  }
  void memo(uint64_t idx, Value* v) {
    if (memo_.size() >= kMaxValues) bad("too many memo entries");
    memo_[idx] = v;
  }
  Value* memoGet(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) bad("memo key " + std::to_string(idx) + " not found");
    return it->second;
  }
  Value* list(Value* v) {
    if (v->kind != K::List) bad("APPEND to a " + std::string(kindName(v->kind)));
    return v;
  }
  Value* dict(Value* v) {
    if (v->kind != K::Dict) bad("SETITEM on a " + std::string(kindName(v->kind)));
    return v;
  }

  // --- globals, calls, storages ---
  Value* global(const std::string& mod, const std::string& name) {
    const std::string full = mod + "." + name;
    static const std::set<std::string> allowed = {
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "torch.device"};
    torch::ScalarType st;
    const bool isStorage = mod == "torch" && storageDtype(name, st);
    if (!allowed.count(full) && !isStorage) bad("refusing pickle global '" + full + "' (not on the allow-list)");
    Value* g = make(K::Global);
    g->s = full;
    if (isStorage) g->storageType = st;
    return g;
  }

  static const std::vector<Value*>& args(Value* a, const std::string& fn, size_t minN, size_t maxN) {
    if (a->kind != K::Tuple) bad(fn + ": arguments are not a tuple");
    if (a->items.size() < minN || a->items.size() > maxN) bad(fn + ": wrong number of arguments");
    return a->items;
  }
  static std::vector<int64_t> ints(Value* v, const std::string& what) {
    if (v->kind != K::Tuple && v->kind != K::List) bad(what + " is not a tuple");
    std::vector<int64_t> o;
    for (Value* x : v->items) {
      if (x->kind != K::Int) bad(what + " holds a non-integer");
      o.push_back(x->i);
    }
    return o;
  }

  Value* reduce(Value* fn, Value* a) {
    if (fn->kind != K::Global) bad("REDUCE on a " + std::string(kindName(fn->kind)) + " (only allow-listed callables)");
    const std::string& f = fn->s;
    if (f == "collections.OrderedDict") {
      const auto& xs = args(a, f, 0, 0);
      (void)xs;
      return make(K::Dict);
    }
    if (f == "torch.device") {
      const auto& xs = args(a, f, 1, 2);
      if (xs[0]->kind != K::Str) bad("torch.device: expects a string");
      return str(K::Str, xs[0]->s);
    }
    if (f == "torch._utils._rebuild_parameter" || f == "torch._utils._rebuild_parameter_with_state") {
      const auto& xs = args(a, f, 3, 4);
      if (xs[0]->kind != K::Tensor) bad(f + ": first argument is not a tensor");
      return xs[0];
    }
    if (f == "torch._utils._rebuild_tensor_v2") {
      const auto& xs = args(a, f, 6, 7);
      if (xs[0]->kind != K::Storage) bad(f + ": first argument is not a storage");
      if (xs[1]->kind != K::Int) bad(f + ": storage offset is not an integer");
      const auto size = ints(xs[2], "tensor size"), stride = ints(xs[3], "tensor stride");
      if (size.size() != stride.size() || size.size() > 16) bad(f + ": size and stride disagree");
      const torch::Tensor& storage = xs[0]->tensor;
      const int64_t numel = storage.numel(), off = xs[1]->i;
      int64_t elems = 1, last = off;
      for (size_t k = 0; k < size.size(); ++k) {
        if (size[k] < 0 || stride[k] < 0) bad(f + ": negative size or stride");
        if (size[k] == 0) elems = 0;
        if (elems) {
          if (size[k] > (int64_t(1) << 40) || stride[k] > (int64_t(1) << 40)) bad(f + ": size out of range");
          elems *= size[k];
          if (elems > (int64_t(1) << 40)) bad(f + ": size out of range");
          last += (size[k] - 1) * stride[k];
        }
      }
      if (off < 0 || (elems > 0 && (off >= numel || last >= numel)))
        bad(f + ": view exceeds its storage (" + std::to_string(numel) + " elements)");
      Value* t = make(K::Tensor);
      if (elems == 0)
        t->tensor = torch::empty(size, storage.options());
      else
        t->tensor = storage.as_strided(size, stride, off).clone(at::MemoryFormat::Contiguous);
      return t;
    }
    bad("REDUCE on '" + f + "' is not allowed");
  }

  // ('storage', storage_type, key, location, numel) -> a 1-D typed tensor over archive/data/<key>.
  Value* persistent(Value* pid) {
    if (pid->kind != K::Tuple || pid->items.size() != 5) bad("unsupported persistent id (expected a storage tuple)");
    const auto& xs = pid->items;
    if (xs[0]->kind != K::Str || xs[0]->s != "storage") bad("unsupported persistent id type");
    if (xs[1]->kind != K::Global || xs[1]->s.rfind("torch.", 0) != 0 || xs[1]->s.find("Storage") == std::string::npos)
      bad("persistent id: not a storage type");
    if (xs[2]->kind != K::Str) bad("persistent id: storage key is not a string");
    if (xs[3]->kind != K::Str) bad("persistent id: storage location is not a string");
    if (xs[4]->kind != K::Int || xs[4]->i < 0) bad("persistent id: bad element count");
    const std::string& key = xs[2]->s;
    auto it = storages_.find(key);
    if (it != storages_.end()) return it->second;
    const torch::ScalarType dt = xs[1]->storageType;
    const std::string entryName = root_ + "data/" + key;
    const zip::Entry* e = zip_.find(entryName);
    if (!e) bad("storage '" + key + "' missing (no entry " + entryName + ")");
    const int64_t esize = int64_t(c10::elementSize(dt));
    const int64_t numel = xs[4]->i;
    if (uint64_t(numel) > e->size / uint64_t(esize))
      bad("storage '" + key + "' declares " + std::to_string(numel) + " elements but its entry holds " +
          std::to_string(e->size) + " bytes");
    totalBytes += numel * esize;
    if (totalBytes > opt_.maxTotalBytes) bad("tensors exceed the size limit");
    Value* s = make(K::Storage);
    s->storageType = dt;
    s->tensor = torch::empty({numel}, torch::TensorOptions().dtype(dt));  // saved location is ignored: CPU
    if (numel) zip_.readAt(*e, 0, uint64_t(numel * esize), s->tensor.data_ptr());
    storages_[key] = s;
    return s;
  }

  const std::string& d_;
  const zip::Archive& zip_;
  const std::string root_;
  const CheckpointOptions& opt_;
  size_t pos_ = 0;
  Value mark_ = markValue();
  static Value markValue() {
    Value v;
    v.kind = K::Mark;
    return v;
  }
  std::vector<std::unique_ptr<Value>> arena_;
  std::vector<Value*> stack_;
  std::unordered_map<uint64_t, Value*> memo_;
  std::map<std::string, Value*> storages_;
};

std::string keyString(const Value* k) {
  switch (k->kind) {
    case K::Str: return k->s;
    case K::Int: return std::to_string(k->i);
    case K::Bool: return k->b ? "True" : "False";
    case K::None: return "None";
    default: bad("unsupported dict key type " + std::string(kindName(k->kind)));
  }
}

void flatten(const Value* v, const std::string& prefix, size_t depth, NamedTensorList& out,
             std::set<const Value*>& onPath, const CheckpointOptions& opt) {
  if (depth > kMaxDepth) bad("nesting too deep");
  if (v->kind == K::Tensor) {
    torch::Tensor t = v->tensor;
    if (opt.floatDtype && t.is_floating_point()) t = t.to(*opt.floatDtype);
    if (opt.device != torch::Device(torch::kCPU)) t = t.to(opt.device);
    out.emplace_back(prefix, t);
    return;
  }
  if (v->kind != K::Dict && v->kind != K::List && v->kind != K::Tuple) return;  // scalars, strings: skipped
  if (!onPath.insert(v).second) bad("self-referencing container");
  const std::string pre = prefix.empty() ? "" : prefix + ".";
  if (v->kind == K::Dict) {
    for (const auto& [k, x] : v->dict) flatten(x, pre + keyString(k), depth + 1, out, onPath, opt);
  } else {
    for (size_t i = 0; i < v->items.size(); ++i) flatten(v->items[i], pre + std::to_string(i), depth + 1, out, onPath, opt);
  }
  onPath.erase(v);
}

NamedTensorList readArchive(std::unique_ptr<zip::Source> src, const CheckpointOptions& opt) {
  {
    unsigned char magic[2] = {0, 0};
    if (src->size() >= 2) src->read(0, 2, magic);
    if (magic[0] == 0x80) bad("legacy (pre-1.6, non-zip) torch.save format is not supported; re-save with a newer torch");
  }
  zip::Archive z(std::move(src));
  // The archive's single top-level folder is arbitrary ("archive/", "<stem>/").
  const zip::Entry* pkl = nullptr;
  for (const auto& e : z.entries()) {
    const auto slash = e.name.find('/');
    if (slash != std::string::npos && e.name.substr(slash + 1) == "data.pkl") {
      pkl = &e;
      break;
    }
  }
  if (!pkl) {
    for (const auto& e : z.entries())
      if (e.name.size() >= 13 && e.name.compare(e.name.size() - 13, 13, "constants.pkl") == 0)
        bad("this is a TorchScript archive (torch.jit.save), not a torch.save state dict");
    bad("no data.pkl in the archive (not a torch.save file)");
  }
  const std::string root = pkl->name.substr(0, pkl->name.find('/') + 1);
  if (const zip::Entry* bo = z.find(root + "byteorder")) {
    const std::string order = z.readAll(*bo, 64);
    if (order != "little") bad("byte order '" + order + "' is not supported");
  }
  const std::string data = z.readAll(*pkl, uint64_t(1) << 31);
  Unpickler u(data, z, root, opt);
  const Value* rootVal = u.run();
  if (!opt.key.empty()) {
    if (rootVal->kind != K::Dict) bad("key '" + opt.key + "' requested but the checkpoint is a " + kindName(rootVal->kind));
    const Value* sel = nullptr;
    std::string keys;
    for (const auto& [k, x] : rootVal->dict) {
      if (k->kind == K::Str && k->s == opt.key) sel = x;
      if (k->kind == K::Str) keys += (keys.empty() ? "" : ", ") + k->s;
    }
    if (!sel) bad("no top-level key '" + opt.key + "' (keys: " + keys + ")");
    rootVal = sel;
  }
  NamedTensorList out;
  std::set<const Value*> onPath;
  flatten(rootVal, rootVal->kind == K::Tensor ? "tensor" : "", 0, out, onPath, opt);
  return out;
}

}  // namespace

Result<NamedTensorList> readTorchCheckpoint(const std::string& path, const CheckpointOptions& opt) {
  try {
    return readArchive(zip::fileSource(path), opt);
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::badFile(path, std::string("torch.save archive: ") + e.what());
  }
}

Result<NamedTensorList> readTorchCheckpointBytes(const std::string& bytes, const std::string& name,
                                                 const CheckpointOptions& opt) {
  try {
    return readArchive(zip::memorySource(bytes), opt);
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::badFile(name, std::string("torch.save archive: ") + e.what());
  }
}

bool looksLikeTorchCheckpoint(const std::string& path) {
  try {
    zip::Archive z(zip::fileSource(path));
    for (const auto& e : z.entries()) {
      const auto slash = e.name.find('/');
      if (slash != std::string::npos && e.name.substr(slash + 1) == "data.pkl") return true;
    }
  } catch (const std::exception&) {
  }
  return false;
}

}  // namespace cs::detail
