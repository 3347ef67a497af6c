// The per-sample transforms: plain loops over contiguous Float32 samples. They avoid engine
// ops (autograd bookkeeping, OpenMP regions) since they run once per sample on the loader's
// worker thread.
#include "engine/data/transforms.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "engine/core/error.h"

namespace nl::data {
namespace {

Tensor float_input(const Tensor& x, const char* who) {
  NL_CHECK(x.defined(), who, ": the sample has no input");
  return x.to(Device::cpu()).to(DType::Float32).contiguous();
}

// [C, H, W] → (C, H, W); [H, W] → (1, H, W).
struct ImageDims {
  int64_t channels, height, width;
};
ImageDims image_dims(const Tensor& x, const char* who) {
  NL_CHECK(x.dim() == 2 || x.dim() == 3, who, ": needs an image input [C, H, W] or [H, W], got ", x.shape().str());
  if (x.dim() == 2) return {1, x.size(0), x.size(1)};
  return {x.size(0), x.size(1), x.size(2)};
}

class Compose final : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> parts) : parts_(std::move(parts)) {
    for (size_t i = 0; i < parts_.size(); ++i) NL_CHECK(parts_[i] != nullptr, "compose: transform ", i, " is null");
  }
  Example apply(Example example, Generator& gen) const override {
    for (const TransformPtr& t : parts_) example = t->apply(std::move(example), gen);
    return example;
  }
  std::string describe() const override {
    std::string s = "compose(";
    for (size_t i = 0; i < parts_.size(); ++i) s += (i ? ", " : "") + parts_[i]->describe();
    return s + ")";
  }

 private:
  std::vector<TransformPtr> parts_;
};

class Normalize final : public Transform {
 public:
  Normalize(std::vector<float> mean, std::vector<float> stddev) : mean_(std::move(mean)), stddev_(std::move(stddev)) {
    NL_CHECK(!mean_.empty() && mean_.size() == stddev_.size(), "normalize: ", mean_.size(), " means but ",
             stddev_.size(), " standard deviations");
    for (float s : stddev_) NL_CHECK(s > 0, "normalize: standard deviation ", s, " must be positive");
  }
  Example apply(Example example, Generator&) const override {
    Tensor x = float_input(example.input, "normalize");
    const int64_t channels = x.dim() == 0 ? 1 : x.size(0);
    NL_CHECK(mean_.size() == 1 || static_cast<int64_t>(mean_.size()) == channels, "normalize: ", mean_.size(),
             " means for an input ", x.shape().str(), " with ", channels, " channels");
    const int64_t per_channel = channels ? x.numel() / channels : 0;
    Tensor out = Tensor::empty(x.shape());
    const float* in = x.data<float>();
    float* o = out.data<float>();
    for (int64_t c = 0; c < channels; ++c) {
      const size_t k = mean_.size() == 1 ? 0 : static_cast<size_t>(c);
      const float m = mean_[k], inv = 1.0f / stddev_[k];
      for (int64_t i = c * per_channel; i < (c + 1) * per_channel; ++i) o[i] = (in[i] - m) * inv;
    }
    example.input = out;
    return example;
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "normalize(mean";
    for (float m : mean_) os << ' ' << m;
    os << ", stddev";
    for (float s : stddev_) os << ' ' << s;
    os << ')';
    return os.str();
  }

 private:
  std::vector<float> mean_, stddev_;
};

class RandomCrop final : public Transform {
 public:
  RandomCrop(int64_t height, int64_t width, int64_t padding) : height_(height), width_(width), padding_(padding) {
    NL_CHECK(height > 0 && width > 0, "random_crop: size ", height, "×", width, " must be positive");
    NL_CHECK(padding >= 0, "random_crop: padding ", padding, " must not be negative");
  }
  Example apply(Example example, Generator& gen) const override {
    Tensor x = float_input(example.input, "random_crop");
    const ImageDims d = image_dims(x, "random_crop");
    const int64_t padded_h = d.height + 2 * padding_, padded_w = d.width + 2 * padding_;
    NL_CHECK(padded_h >= height_ && padded_w >= width_, "random_crop: cannot cut ", height_, "×", width_, " from a ",
             d.height, "×", d.width, " image padded by ", padding_);
    // Window origin in padded coordinates; shifted back into the image's own coordinates.
    const int64_t top = static_cast<int64_t>(random_below(gen, padded_h - height_ + 1)) - padding_;
    const int64_t left = static_cast<int64_t>(random_below(gen, padded_w - width_ + 1)) - padding_;
    Shape out_shape = x.dim() == 3 ? Shape{d.channels, height_, width_} : Shape{height_, width_};
    Tensor out = Tensor::empty(out_shape);
    const float* in = x.data<float>();
    float* o = out.data<float>();
    std::fill_n(o, out.numel(), 0.0f);
    // Only the rows and columns of the window that fall inside the image are copied.
    const int64_t col_from = std::max<int64_t>(0, -left), col_to = std::min(width_, d.width - left);
    for (int64_t c = 0; c < d.channels; ++c)
      for (int64_t r = 0; r < height_; ++r) {
        const int64_t src_row = top + r;
        if (src_row < 0 || src_row >= d.height || col_from >= col_to) continue;
        std::memcpy(o + (c * height_ + r) * width_ + col_from,
                    in + (c * d.height + src_row) * d.width + left + col_from,
                    static_cast<size_t>(col_to - col_from) * sizeof(float));
      }
    example.input = out;
    return example;
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "random_crop(" << height_ << "×" << width_ << ", padding " << padding_ << ")";
    return os.str();
  }

 private:
  int64_t height_, width_, padding_;
};

class HorizontalFlip final : public Transform {
 public:
  explicit HorizontalFlip(double p) : p_(p) {
    NL_CHECK(p >= 0 && p <= 1, "horizontal_flip: probability ", p, " is outside [0, 1]");
  }
  Example apply(Example example, Generator& gen) const override {
    // Always draw, so later transforms see the same random stream whatever this one decides.
    const bool flip = gen.next_double() < p_;
    Tensor x = float_input(example.input, "horizontal_flip");
    const ImageDims d = image_dims(x, "horizontal_flip");
    if (!flip) {
      example.input = x;
      return example;
    }
    Tensor out = Tensor::empty(x.shape());
    const float* in = x.data<float>();
    float* o = out.data<float>();
    for (int64_t row = 0; row < d.channels * d.height; ++row)
      std::reverse_copy(in + row * d.width, in + (row + 1) * d.width, o + row * d.width);
    example.input = out;
    return example;
  }
  std::string describe() const override { return "horizontal_flip(p " + std::to_string(p_) + ")"; }

 private:
  double p_;
};

class OneHot final : public Transform {
 public:
  explicit OneHot(int64_t num_classes) : num_classes_(num_classes) {
    NL_CHECK(num_classes > 0, "one_hot: number of classes ", num_classes, " must be positive");
  }
  Example apply(Example example, Generator&) const override {
    const Tensor& t = example.target;
    NL_CHECK(t.defined() && t.numel() == 1 && t.dtype() == DType::Int64, "one_hot: needs an Int64 class-index target, "
             "got ", t.defined() ? t.shape().str() + " " + dtype_name(t.dtype()) : std::string("none"));
    const int64_t label = static_cast<int64_t>(t.item());
    NL_CHECK(label >= 0 && label < num_classes_, "one_hot: class index ", label, " is outside [0, ", num_classes_,
             ")");
    Tensor v = Tensor::empty({num_classes_});
    std::fill_n(v.data<float>(), num_classes_, 0.0f);
    v.data<float>()[label] = 1.0f;
    example.target = v;
    return example;
  }
  std::string describe() const override { return "one_hot(" + std::to_string(num_classes_) + ")"; }

 private:
  int64_t num_classes_;
};

}  // namespace

TransformPtr compose(std::vector<TransformPtr> transforms) { return std::make_shared<Compose>(std::move(transforms)); }
TransformPtr normalize(std::vector<float> mean, std::vector<float> stddev) {
  return std::make_shared<Normalize>(std::move(mean), std::move(stddev));
}
TransformPtr random_crop(int64_t height, int64_t width, int64_t padding) {
  return std::make_shared<RandomCrop>(height, width, padding);
}
TransformPtr horizontal_flip(double p) { return std::make_shared<HorizontalFlip>(p); }
TransformPtr one_hot(int64_t num_classes) { return std::make_shared<OneHot>(num_classes); }

}  // namespace nl::data
