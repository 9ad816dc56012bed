#include "core/ArenaImages.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace cs::arenastudio {
namespace {

const unsigned char kPngSig[8] = {137, 80, 78, 71, 13, 10, 26, 10};

[[noreturn]] void bad(const std::string& path, const std::string& what) {
    throw std::runtime_error(path + ": " + what);
}

std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

void putBe32(std::string& out, std::uint32_t v) {
    out.push_back(char(v >> 24));
    out.push_back(char(v >> 16));
    out.push_back(char(v >> 8));
    out.push_back(char(v));
}

int paeth(int a, int b, int c) {
    const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    if (pa <= pb && pa <= pc) return a;
    return pb <= pc ? b : c;
}

GrayImage decodePng(const std::string& path, const std::string& bytes) {
    const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
    size_t pos = 8;
    std::uint32_t w = 0, h = 0;
    int depth = 0, color = -1, interlace = 0;
    std::string idat;
    bool sawEnd = false;
    while (pos + 12 <= bytes.size()) {
        const std::uint32_t len = be32(d + pos);
        const std::string type(bytes.data() + pos + 4, 4);
        if (pos + 12 + size_t(len) > bytes.size()) bad(path, "truncated PNG chunk '" + type + "'");
        const unsigned char* data = d + pos + 8;
        if (type == "IHDR") {
            if (len < 13) bad(path, "short PNG header");
            w = be32(data);
            h = be32(data + 4);
            depth = data[8];
            color = data[9];
            interlace = data[12];
        } else if (type == "IDAT") {
            idat.append(reinterpret_cast<const char*>(data), len);
        } else if (type == "IEND") {
            sawEnd = true;
            break;
        }
        pos += 12 + size_t(len);
    }
    if (color < 0) bad(path, "PNG without IHDR");
    if (!sawEnd) bad(path, "truncated PNG (no IEND)");
    if (w == 0 || h == 0 || w > 16384 || h > 16384) bad(path, "unsupported PNG size");
    if (depth != 8) bad(path, "only 8-bit PNG is supported (bit depth " + std::to_string(depth) + ")");
    if (interlace != 0) bad(path, "interlaced PNG is not supported");
    int bpp = 0;
    switch (color) {
        case 0: bpp = 1; break;
        case 2: bpp = 3; break;
        case 4: bpp = 2; break;
        case 6: bpp = 4; break;
        default: bad(path, "unsupported PNG colour type " + std::to_string(color) + " (palette?)");
    }
    const size_t stride = size_t(w) * bpp;
    std::vector<unsigned char> raw(size_t(h) * (stride + 1));
    uLongf rawLen = static_cast<uLongf>(raw.size());
    if (uncompress(raw.data(), &rawLen, reinterpret_cast<const Bytef*>(idat.data()), static_cast<uLong>(idat.size())) != Z_OK ||
        rawLen != raw.size())
        bad(path, "corrupt PNG image data");
    std::vector<unsigned char> cur(stride), prev(stride, 0);
    GrayImage img;
    img.width = int(w);
    img.height = int(h);
    img.pixels.resize(size_t(w) * h);
    for (std::uint32_t y = 0; y < h; ++y) {
        const unsigned char* row = raw.data() + y * (stride + 1);
        const int filter = row[0];
        for (size_t x = 0; x < stride; ++x) {
            const int a = x >= size_t(bpp) ? cur[x - bpp] : 0, b = prev[x], c = x >= size_t(bpp) ? prev[x - bpp] : 0;
            int pred = 0;
            switch (filter) {
                case 0: pred = 0; break;
                case 1: pred = a; break;
                case 2: pred = b; break;
                case 3: pred = (a + b) / 2; break;
                case 4: pred = paeth(a, b, c); break;
                default: bad(path, "bad PNG filter type " + std::to_string(filter));
            }
            cur[x] = static_cast<unsigned char>(row[1 + x] + pred);
        }
        for (std::uint32_t x = 0; x < w; ++x) {
            const unsigned char* p = cur.data() + size_t(x) * bpp;
            const float g = (color == 2 || color == 6) ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : float(p[0]);
            img.pixels[size_t(y) * w + x] = g / 255.0f;
        }
        std::swap(cur, prev);
    }
    return img;
}

// Next whitespace-separated PGM header token (skips # comments).
std::string pgmToken(const std::string& s, size_t& pos) {
    while (pos < s.size()) {
        if (s[pos] == '#') {
            while (pos < s.size() && s[pos] != '\n') ++pos;
        } else if (std::isspace(static_cast<unsigned char>(s[pos]))) {
            ++pos;
        } else {
            break;
        }
    }
    const size_t start = pos;
    while (pos < s.size() && !std::isspace(static_cast<unsigned char>(s[pos]))) ++pos;
    return s.substr(start, pos - start);
}

GrayImage decodePgm(const std::string& path, const std::string& bytes) {
    size_t pos = 2;
    int w = 0, h = 0, maxv = 0;
    try {
        w = std::stoi(pgmToken(bytes, pos));
        h = std::stoi(pgmToken(bytes, pos));
        maxv = std::stoi(pgmToken(bytes, pos));
    } catch (const std::exception&) {
        bad(path, "bad PGM header");
    }
    ++pos;  // the single whitespace after maxval
    if (w <= 0 || h <= 0 || maxv <= 0 || maxv > 255) bad(path, "unsupported PGM (size or maxval)");
    if (bytes.size() < pos + size_t(w) * h) bad(path, "truncated PGM");
    GrayImage img{w, h, std::vector<float>(size_t(w) * h)};
    for (size_t i = 0; i < img.pixels.size(); ++i)
        img.pixels[i] = static_cast<unsigned char>(bytes[pos + i]) / float(maxv);
    return img;
}

}  // namespace

GrayImage readGrayImage(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) bad(path, "cannot open image");
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() >= 8 && std::equal(kPngSig, kPngSig + 8, reinterpret_cast<const unsigned char*>(bytes.data())))
        return decodePng(path, bytes);
    if (bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] == '5') return decodePgm(path, bytes);
    bad(path, "not a PNG or binary PGM image");
}

void writeGrayPng(const std::string& path, const GrayImage& img) {
    if (img.width <= 0 || img.height <= 0 || img.pixels.size() != size_t(img.width) * img.height)
        bad(path, "cannot write an empty or inconsistent image");
    std::string raw;
    raw.reserve(size_t(img.height) * (img.width + 1));
    for (int y = 0; y < img.height; ++y) {
        raw.push_back('\0');  // filter: none
        for (int x = 0; x < img.width; ++x) {
            const float v = std::clamp(img.pixels[size_t(y) * img.width + x], 0.0f, 1.0f);
            raw.push_back(static_cast<char>(static_cast<unsigned char>(std::lround(v * 255.0f))));
        }
    }
    uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
    std::string z(zlen, '\0');
    if (compress2(reinterpret_cast<Bytef*>(z.data()), &zlen, reinterpret_cast<const Bytef*>(raw.data()),
                  static_cast<uLong>(raw.size()), 9) != Z_OK)
        bad(path, "PNG compression failed");
    z.resize(zlen);
    std::string out(reinterpret_cast<const char*>(kPngSig), 8);
    auto chunk = [&out](const char* type, const std::string& data) {
        putBe32(out, static_cast<std::uint32_t>(data.size()));
        const std::string body = std::string(type, 4) + data;
        out += body;
        putBe32(out, static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()),
                                                       static_cast<uInt>(body.size()))));
    };
    std::string ihdr;
    putBe32(ihdr, static_cast<std::uint32_t>(img.width));
    putBe32(ihdr, static_cast<std::uint32_t>(img.height));
    ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit, gray, deflate, adaptive filters, no interlace
    chunk("IHDR", ihdr);
    chunk("IDAT", z);
    chunk("IEND", std::string());
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary);
        if (!f) bad(path, "cannot write image");
        f << out;
        if (!f) bad(path, "write failed");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) bad(path, "cannot move the written image into place");
}

GrayImage resizeBilinear(const GrayImage& src, int width, int height) {
    if (src.width == width && src.height == height) return src;
    GrayImage out{width, height, std::vector<float>(size_t(width) * height)};
    const double sx = double(src.width) / width, sy = double(src.height) / height;
    for (int y = 0; y < height; ++y) {
        const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, double(src.height - 1));
        const int y0 = int(fy), y1 = std::min(y0 + 1, src.height - 1);
        const double ty = fy - y0;
        for (int x = 0; x < width; ++x) {
            const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, double(src.width - 1));
            const int x0 = int(fx), x1 = std::min(x0 + 1, src.width - 1);
            const double tx = fx - x0;
            auto at = [&](int xx, int yy) { return double(src.pixels[size_t(yy) * src.width + xx]); };
            out.pixels[size_t(y) * width + x] = float((1 - ty) * ((1 - tx) * at(x0, y0) + tx * at(x1, y0)) +
                                                      ty * ((1 - tx) * at(x0, y1) + tx * at(x1, y1)));
        }
    }
    return out;
}

}  // namespace cs::arenastudio
