// Writes a seed corpus for fuzz_checkpoint into the folder given as argv[1].
#include <fstream>
#include <string>

#include "archive_builder.h"

using namespace csx;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string dir = argv[1];
  int n = 0;
  auto put = [&](char mode, const std::string& body) {
    std::ofstream(dir + "/seed" + std::to_string(n++), std::ios::binary) << mode << body;
  };
  const std::string dict = std::string("\x80\x02}(", 4) + pUni("w") + pTensor("0", 16, {4, 4}) + pUni("b") +
                           pTensor("0", 16, {2}, 3) + "u.";
  const std::string nested = std::string("\x80\x02}(", 4) + pUni("model") + "}(" + pUni("a") + pTensor("0", 16, {16}) +
                             "u" + pUni("epoch") + pInt(3) + "u.";
  const std::string od = std::string("\x80\x02", 2) + pGlobal("collections", "OrderedDict") + ")Rq\x00(" + pUni("x") +
                         pTensor("0", 16, {2, 8}) + "u}b.";
  for (const auto& p : {dict, nested, od}) {
    put(1, p);
    put(3, p);
    put(5, p);
    std::vector<float> f(16, 1.f);
    put(0, makeArchive(p, {{"0", floats(f)}}));
    put(0, makeArchive(p, {{"0", floats(f)}}, true));
  }
  return 0;
}
