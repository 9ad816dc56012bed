// Post-open hook registry (see engine/torch/open_hooks.h).
#include "engine/torch/open_hooks.h"

#include <map>
#include <mutex>

namespace cs::detail {
namespace {
std::mutex& hookMutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, ModelOpenHook>& hooks() {
  static std::map<std::string, ModelOpenHook> h;
  return h;
}
}  // namespace

void registerModelOpenHook(const std::string& name, ModelOpenHook hook) {
  std::lock_guard<std::mutex> lock(hookMutex());
  hooks()[name] = std::move(hook);
}

void applyModelOpenHooks(ModelImpl& model, const std::string& path) {
  auto it = model.properties.find("requires_loader");
  if (it == model.properties.end()) return;
  ModelOpenHook hook;
  {
    std::lock_guard<std::mutex> lock(hookMutex());
    auto h = hooks().find(it->second);
    if (h != hooks().end()) hook = h->second;
  }
  if (!hook)
    throw EngineError(Error::badFile(path, "needs the '" + it->second +
                                               "' loader, which this program does not include (built without "
                                               "the compression library?)"));
  hook(model, path);
}

}  // namespace cs::detail
