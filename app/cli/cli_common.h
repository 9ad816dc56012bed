// Shared conventions of the `cstudio` verbs: results on stdout (JSON with --json),
// progress on stderr (throttled), one-line errors and non-zero exit codes.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/job.h"
#include "engine/result.h"

namespace cs::cli {

// Exit codes: 0 ok, 1 failure, 2 bad arguments (CLI11), 3 not found, 4 bad file, 130 cancelled.
int fail(const Error& e);
int fail(const std::string& message);
// A JobContext that prints "[ 42%] stage" lines on stderr at most every 0.5 s
// (and on every stage change), and is cancelled by SIGINT.
JobContext progressJob(bool quiet = false);
void printJson(const nlohmann::json& j);
// "a,b,,c" -> {a, b, c} (empty items dropped).
std::vector<std::string> splitList(const std::string& s);

// `cstudio train NAME`: families register their trainers here.
struct TrainArgs {
  std::string model;
  int epochs = -1;         // -1: the trainer's default
  uint64_t seed = 0;
  std::string outDir;
  int maxSamples = 0;
  bool json = false;
  std::string commandLine;
  std::string device = "cpu";
};
using Trainer = std::function<int(const TrainArgs&)>;
std::map<std::string, Trainer>& trainers();

}  // namespace cs::cli
