// Errors as values. Every engine/compression facade call that can fail returns a
// cs::Result<T>: either a value or an Error naming the file (if any) and the problem.
// No exception crosses a facade: LibTorch/OpenCV exceptions are caught inside and
// turned into Errors. Plain C++, no Qt, no torch. Thread-safe as plain value types.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace cs {

struct Error {
  enum class Code { Failed, Cancelled, NotFound, BadFile, BadArgument, Unsupported };
  Code code = Code::Failed;
  std::string message;  // one line, names the file and the problem

  static Error failed(std::string m) { return {Code::Failed, std::move(m)}; }
  static Error cancelled() { return {Code::Cancelled, "cancelled"}; }
  static Error notFound(std::string m) { return {Code::NotFound, std::move(m)}; }
  static Error badFile(const std::string& file, const std::string& what) {
    return {Code::BadFile, file + ": " + what};
  }
  static Error badArgument(std::string m) { return {Code::BadArgument, std::move(m)}; }
  bool isCancelled() const { return code == Code::Cancelled; }
};

// Thrown inside the engine only (never across a facade); converted by CS_CATCH.
struct EngineError : std::runtime_error {
  Error error;
  explicit EngineError(Error e) : std::runtime_error(e.message), error(std::move(e)) {}
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT implicit on purpose
  Result(Error error) : v_(std::move(error)) {}      // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & {
    if (!ok()) throw EngineError(error());
    return std::get<0>(v_);
  }
  const T& value() const& {
    if (!ok()) throw EngineError(error());
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) throw EngineError(error());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};
using Status = Result<Unit>;
inline Status okStatus() { return Unit{}; }

}  // namespace cs
