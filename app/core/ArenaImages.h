// ArenaImages: the small grayscale image I/O the arena's Qt-free studio helpers need (output sets of
// image generators, the classifier judge). PNG (8-bit gray, gray+alpha, RGB, RGBA, non-interlaced;
// written as 8-bit gray) via zlib, and binary PGM (P5). Plain C++, no Qt, no torch: used by both
// `cstudio arena` and the Arena tab. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cs::arenastudio {

// A grayscale image, pixels row-major in [0, 1].
struct GrayImage {
    int width = 0, height = 0;
    std::vector<float> pixels;
};

// Reads a .png or .pgm file (by content, not by extension). Throws std::runtime_error naming the file.
GrayImage readGrayImage(const std::string& path);
// Writes an 8-bit grayscale PNG (values clamped to [0, 1]). Throws std::runtime_error naming the file.
void writeGrayPng(const std::string& path, const GrayImage& image);
// Bilinear resize (align-corners off), used to bring outputs of another size to the classifier's 28x28.
GrayImage resizeBilinear(const GrayImage& image, int width, int height);

}  // namespace cs::arenastudio
