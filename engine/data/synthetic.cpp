// The synthetic datasets: spirals and blobs from closed-form draws, shapes rasterised by
// testing each pixel centre against the shape in its own rotated coordinates.
#include "engine/data/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "engine/core/error.h"

namespace nl::data {
namespace {

constexpr double kPi = std::numbers::pi;

double uniform_between(Generator& gen, double lo, double hi) { return lo + (hi - lo) * gen.next_double(); }

struct Point {
  double x, y;
};

// Even–odd rule; also right for the (non-convex) star outline.
bool inside_polygon(const Point* vertices, int count, double x, double y) {
  bool inside = false;
  for (int i = 0, j = count - 1; i < count; j = i++) {
    const Point& a = vertices[i];
    const Point& b = vertices[j];
    if ((a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

enum ShapeKind { kCircle, kSquare, kTriangle, kCross, kStar };
const char* const kShapeNames[] = {"circle", "square", "triangle", "cross", "star"};

// Whether local point (u, v) — pixel centre relative to the shape centre, rotated into the
// shape's frame — lies in a shape of "radius" r (its circumscribed circle, roughly).
bool inside_shape(ShapeKind shape, double u, double v, double r) {
  switch (shape) {
    case kCircle: return u * u + v * v <= r * r;
    case kSquare: {
      const double half = 0.8 * r;
      return std::fabs(u) <= half && std::fabs(v) <= half;
    }
    case kTriangle: {
      std::array<Point, 3> t;
      for (int k = 0; k < 3; ++k) {
        const double a = kPi / 2 + k * 2 * kPi / 3;
        t[k] = {r * std::cos(a), r * std::sin(a)};
      }
      return inside_polygon(t.data(), 3, u, v);
    }
    case kCross: {
      const double arm = 0.3 * r;
      return (std::fabs(u) <= arm && std::fabs(v) <= r) || (std::fabs(v) <= arm && std::fabs(u) <= r);
    }
    case kStar: {
      std::array<Point, 10> s;
      for (int k = 0; k < 10; ++k) {
        const double a = kPi / 2 + k * kPi / 5, radius = k % 2 ? 0.45 * r : r;
        s[k] = {radius * std::cos(a), radius * std::sin(a)};
      }
      return inside_polygon(s.data(), 10, u, v);
    }
  }
  return false;
}

// A shape's symmetry: rotating by more than this shows nothing new.
double rotation_period(ShapeKind shape) {
  switch (shape) {
    case kSquare:
    case kCross: return kPi / 2;
    case kTriangle: return 2 * kPi / 3;
    case kStar: return 2 * kPi / 5;
    default: return 2 * kPi;
  }
}

double luma(const float* rgb, int64_t channels) {
  return channels == 1 ? rgb[0] : 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
}

}  // namespace

std::shared_ptr<TensorDataset> make_spirals(const SpiralsOptions& o) {
  NL_CHECK(o.samples_per_class > 0, "make_spirals: samples_per_class ", o.samples_per_class, " must be positive");
  NL_CHECK(o.classes >= 2, "make_spirals: needs at least 2 classes, not ", o.classes);
  NL_CHECK(o.turns > 0 && o.noise >= 0, "make_spirals: turns must be positive and noise non-negative");
  const int64_t n = o.samples_per_class * o.classes;
  Tensor inputs = Tensor::empty({n, 2});
  Tensor targets = Tensor::empty({n}, DType::Int64);
  float* x = inputs.data<float>();
  int64_t* y = targets.data<int64_t>();
  Generator gen(o.seed);
  std::vector<std::string> names;
  for (int64_t c = 0; c < o.classes; ++c) names.push_back("arm " + std::to_string(c));
  // Sample i is arm i mod classes, so any prefix of the set is balanced.
  for (int64_t i = 0; i < n; ++i) {
    const int64_t arm = i % o.classes, k = i / o.classes;
    const double t = (k + 0.5) / o.samples_per_class;  // 0 at the centre, 1 at the outer end
    const double radius = 0.05 + 0.95 * t;
    const double angle = t * o.turns * 2 * kPi + arm * 2 * kPi / o.classes;
    x[2 * i] = static_cast<float>(radius * std::cos(angle) + o.noise * gen.next_normal());
    x[2 * i + 1] = static_cast<float>(radius * std::sin(angle) + o.noise * gen.next_normal());
    y[i] = arm;
  }
  return std::make_shared<TensorDataset>(inputs, targets, std::move(names));
}

std::shared_ptr<TensorDataset> make_blobs(const BlobsOptions& o) {
  NL_CHECK(o.samples > 0 && o.centers >= 1 && o.dims >= 1, "make_blobs: samples (", o.samples, "), centers (",
           o.centers, ") and dims (", o.dims, ") must be positive");
  NL_CHECK(o.spread >= 0 && o.center_range >= 0, "make_blobs: spread and center_range must be non-negative");
  Generator gen(o.seed);
  std::vector<double> centres(static_cast<size_t>(o.centers * o.dims));
  for (double& c : centres) c = uniform_between(gen, -o.center_range, o.center_range);
  Tensor inputs = Tensor::empty({o.samples, o.dims});
  Tensor targets = Tensor::empty({o.samples}, DType::Int64);
  float* x = inputs.data<float>();
  int64_t* y = targets.data<int64_t>();
  std::vector<std::string> names;
  for (int64_t c = 0; c < o.centers; ++c) names.push_back("blob " + std::to_string(c));
  for (int64_t i = 0; i < o.samples; ++i) {
    y[i] = i % o.centers;
    for (int64_t d = 0; d < o.dims; ++d)
      x[i * o.dims + d] = static_cast<float>(centres[y[i] * o.dims + d] + o.spread * gen.next_normal());
  }
  return std::make_shared<TensorDataset>(inputs, targets, std::move(names));
}

std::shared_ptr<TensorDataset> make_shapes(const ShapesOptions& o) {
  NL_CHECK(o.samples > 0, "make_shapes: samples ", o.samples, " must be positive");
  NL_CHECK(o.image_size >= 16 && o.image_size <= 256, "make_shapes: image_size ", o.image_size,
           " is outside 16 to 256");
  NL_CHECK(o.channels == 1 || o.channels == 3, "make_shapes: channels must be 1 or 3, not ", o.channels);
  NL_CHECK(o.classes >= 2 && o.classes <= 5, "make_shapes: classes must be 2 to 5, not ", o.classes);
  NL_CHECK(o.noise >= 0, "make_shapes: noise ", o.noise, " must be non-negative");
  const int64_t size = o.image_size, plane = size * size, channels = o.channels;
  Tensor inputs = Tensor::empty({o.samples, channels, size, size});
  Tensor targets = Tensor::empty({o.samples}, DType::Int64);
  float* pixels = inputs.data<float>();
  int64_t* y = targets.data<int64_t>();
  Generator gen(o.seed);
  for (int64_t i = 0; i < o.samples; ++i) {
    const ShapeKind shape = static_cast<ShapeKind>(i % o.classes);
    y[i] = shape;
    // Colours: redraw the foreground until its brightness differs enough from the
    // background's that the shape shows in every channel mix, grey included.
    float background[3], foreground[3];
    for (int64_t c = 0; c < channels; ++c) background[c] = gen.next_float();
    do {
      for (int64_t c = 0; c < channels; ++c) foreground[c] = gen.next_float();
    } while (std::fabs(luma(foreground, channels) - luma(background, channels)) < 0.3);
    const double radius = uniform_between(gen, 0.3, 0.45) * size;
    const double cx = uniform_between(gen, radius, size - radius), cy = uniform_between(gen, radius, size - radius);
    const double angle = uniform_between(gen, 0, rotation_period(shape));
    const double cos_a = std::cos(angle), sin_a = std::sin(angle);
    float* image = pixels + i * channels * plane;
    for (int64_t py = 0; py < size; ++py)
      for (int64_t px = 0; px < size; ++px) {
        const double dx = px + 0.5 - cx, dy = py + 0.5 - cy;
        const bool in = inside_shape(shape, cos_a * dx + sin_a * dy, -sin_a * dx + cos_a * dy, radius);
        const float* colour = in ? foreground : background;
        for (int64_t c = 0; c < channels; ++c) {
          const double v = colour[c] + o.noise * gen.next_normal();
          image[c * plane + py * size + px] = static_cast<float>(std::clamp(v, 0.0, 1.0));
        }
      }
  }
  return std::make_shared<TensorDataset>(
      inputs, targets, std::vector<std::string>(kShapeNames, kShapeNames + o.classes));
}

}  // namespace nl::data
