// Image classification datasets laid out as folders: root/<class name>/<any sub-folders>/
// *.png | *.jpg | *.jpeg. Classes are the sub-folders of root sorted by name; images within a
// class are sorted by path, so the sample order is the same on every machine.
//
//   auto pets = nl::data::load_image_folder("pets", {.height = 64, .width = 64});
//   // input [3, 64, 64] in [0, 1]; class_names() == {"cat", "dog"}
//
// Every image is decoded into memory once (in parallel). Without a target size, all images
// must share one size; with one, each is resized (bilinear or nearest).
#pragma once
#include <memory>
#include <string>

#include "engine/data/dataset.h"
#include "engine/data/image_decode.h"

namespace nl::data {

struct ImageFolderOptions {
  int64_t height = 0;  // with width: resize every image to height × width; 0 keeps sizes
  int64_t width = 0;
  ResizeMode resize_mode = ResizeMode::Bilinear;
  int64_t channels = 0;  // 1 or 3; 0 = 3 when any image is in colour, else 1
};

std::shared_ptr<TensorDataset> load_image_folder(const std::string& root, const ImageFolderOptions& options = {});

}  // namespace nl::data
