// libFuzzer entry for the torch.save archive reader (see CMakeLists.txt for the run
// command). Any input must end in a value or an Error: never a crash, a leak, an
// out-of-bounds access or an unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "archive_builder.h"
#include "engine/torch/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string archive;
  if (data[0] & 1) {
    std::vector<float> f(16);
    for (size_t i = 0; i < f.size(); ++i) f[i] = float(i);
    archive = csx::makeArchive(rest, {{"0", csx::floats(f)}}, (data[0] & 2) != 0);
  } else {
    archive = std::move(rest);
  }
  cs::detail::CheckpointOptions opt;
  opt.maxTotalBytes = int64_t(64) << 20;
  if (data[0] & 4) opt.key = "model";
  auto r = cs::detail::readTorchCheckpointBytes(archive, "fuzz.pt", opt);
  (void)r;
  return 0;
}
