// Job context for long engine calls: a progress sink and a cancel token.
// The caller owns the JobContext and keeps it alive for the whole call. The engine
// calls progress() from the worker thread it runs on (never from another thread),
// and checks cancelled() at chunk granularity (batch, layer, frame, step).
// The cancel flag may be set from any thread.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace cs {

class JobContext {
 public:
  using ProgressFn = std::function<void(double fraction, const std::string& stage)>;

  JobContext() : cancel_(std::make_shared<std::atomic<bool>>(false)) {}
  explicit JobContext(ProgressFn fn) : JobContext() { progress_ = std::move(fn); }

  void setProgress(ProgressFn fn) { progress_ = std::move(fn); }
  // fraction in [0,1]; stage is a short human-readable label ("calibrating", "layer 3/12").
  void progress(double fraction, const std::string& stage) const {
    if (progress_) progress_(fraction, stage);
  }
  bool cancelled() const { return cancel_->load(std::memory_order_relaxed); }
  void cancel() { cancel_->store(true); }
  std::shared_ptr<std::atomic<bool>> cancelToken() const { return cancel_; }
  void setCancelToken(std::shared_ptr<std::atomic<bool>> t) { cancel_ = std::move(t); }

  // A context that reports into a sub-range [lo, hi] of this one's progress.
  JobContext sub(double lo, double hi) const {
    JobContext c;
    c.cancel_ = cancel_;
    auto parent = progress_;
    if (parent)
      c.progress_ = [parent, lo, hi](double f, const std::string& s) { parent(lo + (hi - lo) * f, s); };
    return c;
  }

 private:
  ProgressFn progress_;
  std::shared_ptr<std::atomic<bool>> cancel_;
};

// A context that does nothing, for callers that need no progress.
inline JobContext& nullJob() {
  static thread_local JobContext ctx;
  return ctx;
}

}  // namespace cs
