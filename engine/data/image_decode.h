// PNG (libpng) and JPEG (libjpeg) decoding into 8-bit pixels, conversion to [C, H, W] Float32
// tensors in [0, 1], and resizing — what image-folder datasets and sample previews need.
//
//   nl::Tensor img = nl::data::load_image("cat.jpg", 3);                   // [3, H, W]
//   nl::Tensor small = nl::data::resize_image(img, 64, 64, nl::data::ResizeMode::Bilinear);
//
// The format is chosen by the file's magic bytes, not its extension. PNG alpha is composited
// onto black; 16-bit PNGs are reduced to 8 bits; palette and low-bit-depth images are
// expanded. A JPEG that ends early (truncated download) is an error rather than an image
// with a grey bottom, which is what libjpeg would otherwise produce.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace nl::data {

// Images above this many pixels are refused before their pixels are allocated.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

struct DecodedImage {
  int64_t width = 0;
  int64_t height = 0;
  int64_t channels = 0;         // 1 (grey) or 3 (RGB)
  std::vector<uint8_t> pixels;  // row-major, channels interleaved
};

// `name` stands for the file in error messages.
DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name);
DecodedImage decode_image_file(const std::string& path);

// [channels, H, W] in [0, 1]; channels 0 keeps the image's own, 1 takes luma (BT.601) of
// colour images, 3 repeats grey.
Tensor image_to_tensor(const DecodedImage& image, int64_t channels = 0);
Tensor load_image(const std::string& path, int64_t channels = 0);

enum class ResizeMode { Nearest, Bilinear };
// A [C, H, W] (or [H, W]) Float32 image scaled to height × width. Bilinear samples at pixel
// centres (align_corners = false), as PyTorch and OpenCV do.
Tensor resize_image(const Tensor& image, int64_t height, int64_t width, ResizeMode mode);

}  // namespace nl::data
