#include "cli_common.h"

#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <sstream>

namespace cs::cli {
namespace {
std::shared_ptr<std::atomic<bool>> gCancel;
extern "C" void onSigint(int) {
  if (gCancel) gCancel->store(true);
}
}  // namespace

int fail(const Error& e) {
  std::cerr << "cstudio: error: " << e.message << std::endl;
  switch (e.code) {
    case Error::Code::Cancelled: return 130;
    case Error::Code::NotFound: return 3;
    case Error::Code::BadFile: return 4;
    case Error::Code::BadArgument: return 2;
    default: return 1;
  }
}

int fail(const std::string& message) { return fail(Error::failed(message)); }

JobContext progressJob(bool quiet) {
  JobContext job;
  gCancel = job.cancelToken();
  std::signal(SIGINT, onSigint);
  if (quiet) return job;
  struct State {
    std::chrono::steady_clock::time_point last{};
    std::string stage;
  };
  auto st = std::make_shared<State>();
  job.setProgress([st](double f, const std::string& stage) {
    auto now = std::chrono::steady_clock::now();
    if (stage == st->stage && now - st->last < std::chrono::milliseconds(500) && f < 1.0) return;
    st->last = now;
    st->stage = stage;
    char pct[16];
    std::snprintf(pct, sizeof pct, "[%3d%%] ", static_cast<int>(f * 100 + 0.5));
    std::cerr << pct << stage << std::endl;
  });
  return job;
}

void printJson(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

std::map<std::string, Trainer>& trainers() {
  static std::map<std::string, Trainer> t;
  return t;
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace cs::cli
