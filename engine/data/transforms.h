// Per-sample transforms (normalise, random crop with padding, horizontal flip, one-hot
// targets) that a DataLoader applies on its worker thread before stacking a batch.
//
//   auto augment = nl::data::compose({nl::data::random_crop(32, 32, 4), nl::data::horizontal_flip(0.5),
//                                     nl::data::normalize({0.49f, 0.48f, 0.45f}, {0.25f, 0.24f, 0.26f})});
//   nl::data::DataLoader loader(cifar, {.batch_size = 128, .shuffle = true, .transform = augment});
//
// Random transforms draw from the generator they are handed; the loader seeds one per batch
// from (seed, epoch, batch index), so an epoch's augmentations repeat exactly for a seed
// whether or not batches are prefetched. Transforms never modify their input tensors in place
// (they may share storage with the dataset) and hold no mutable state, so one object can
// serve several loaders at once.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/core/generator.h"
#include "engine/data/dataset.h"

namespace nl::data {

class Transform {
 public:
  virtual ~Transform() = default;
  virtual Example apply(Example example, Generator& gen) const = 0;
  // What it does, with its parameters ("random_crop(32×32, padding 4)"), for errors and the UI.
  virtual std::string describe() const = 0;
};

using TransformPtr = std::shared_ptr<const Transform>;

// Applies the transforms in order.
TransformPtr compose(std::vector<TransformPtr> transforms);
// input[c] = (input[c] − mean[c]) / stddev[c] along the input's first dimension (channels of
// an image, features of a vector). One value applies to every channel.
TransformPtr normalize(std::vector<float> mean, std::vector<float> stddev);
// Pads a [C, H, W] input with `padding` zeros on every side, then cuts a height × width
// window at a random position.
TransformPtr random_crop(int64_t height, int64_t width, int64_t padding = 0);
// Mirrors a [C, H, W] (or [H, W]) input left–right with probability p.
TransformPtr horizontal_flip(double p = 0.5);
// Turns an Int64 class-index target into a Float32 [num_classes] vector.
TransformPtr one_hot(int64_t num_classes);

}  // namespace nl::data
