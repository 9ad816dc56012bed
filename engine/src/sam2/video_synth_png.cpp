// PNG export of synthetic videos (OpenCV; left out of the CS_MINIMAL build with the other
// video*.cpp files). See engine/sam2_micro.h.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <iomanip>
#include <sstream>

#include "engine/sam2_micro.h"

namespace cs {
namespace fs = std::filesystem;

Status writeSynthVideo(const SynthVideo& v, const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> sub{"frames", "masks"};
  for (int k = 1; k <= v.objects; ++k) sub.push_back("obj" + std::to_string(k));
  for (const auto& s : sub) {
    fs::create_directories(fs::path(dir) / s, ec);
    if (ec) return Error::failed(dir + "/" + s + ": cannot create (" + ec.message() + ")");
  }
  for (int t = 0; t < v.frames; ++t) {
    std::ostringstream n;
    n << std::setw(5) << std::setfill('0') << t << ".png";
    cv::Mat rgb(v.size, v.size, CV_8UC3, const_cast<uint8_t*>(v.rgb[t].data())), bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    auto write = [&](const std::string& s, const cv::Mat& m) -> Status {
      const auto p = (fs::path(dir) / s / n.str()).string();
      try {
        if (!cv::imwrite(p, m)) return Error::failed(p + ": cannot write PNG");
      } catch (const cv::Exception& e) {
        return Error::failed(p + ": " + e.what());
      }
      return okStatus();
    };
    auto st = write("frames", bgr);
    if (!st.ok()) return st;
    cv::Mat lab(v.size, v.size, CV_8UC1, const_cast<uint8_t*>(v.label[t].data()));
    if (!(st = write("masks", lab)).ok()) return st;
    for (int k = 1; k <= v.objects; ++k) {
      cv::Mat m = (lab == k);
      if (!(st = write("obj" + std::to_string(k), m)).ok()) return st;
    }
  }
  return okStatus();
}

}  // namespace cs
