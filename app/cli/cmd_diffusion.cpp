// `cstudio train ddpm-fmnist`: registers the diffusion zoo trainer (static initializer).
#include <iomanip>
#include <iostream>

#include "cli_common.h"
#include "engine/train.h"

namespace cs {
// Defined in engine/src/diffusion/train_ddpm.cpp (plain C++ signature, no torch).
Result<TrainReport> trainDdpmFmnist(const TrainOptions& o, JobContext& job);
}  // namespace cs

namespace cs::cli {
namespace {

int trainDdpm(const TrainArgs& a) {
  auto job = progressJob();
  TrainOptions o;
  o.epochs = a.epochs > 0 ? a.epochs : 30;
  o.seed = a.seed;
  o.outDir = a.outDir;
  o.maxTrainSamples = a.maxSamples;
  o.command = a.commandLine;
  o.device = a.device;
  auto r = trainDdpmFmnist(o, job);
  if (!r) return fail(r.error());
  nlohmann::json out = {{"model", "ddpm-fmnist"}, {"weights", r->weightsPath}, {"card", r->cardPath},
                        {"seconds", r->seconds},   {"parameters", r->parameters}, {"epoch_train_loss", r->epochTrainLoss}};
  if (a.json)
    printJson(out);
  else
    std::cout << "ddpm-fmnist: final train loss " << std::setprecision(4)
              << (r->epochTrainLoss.empty() ? 0.0 : r->epochTrainLoss.back()) << " after " << r->seconds
              << " s; weights " << r->weightsPath << "\n";
  return 0;
}

const bool registered = [] {
  trainers()["ddpm-fmnist"] = trainDdpm;
  return true;
}();

}  // namespace
}  // namespace cs::cli
