// Datasets, splits, the DataLoader (batching, shuffling per epoch, prefetching, shutdown and
// error hand-off), transforms and the synthetic datasets.
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "engine/data/data.h"
#include "testing.h"

using namespace nl;
using namespace nl::data;
using nl::testing::error_of;

namespace {

// N samples whose input [2, 3, 3] holds i + k/100 and whose target is i % 3.
std::shared_ptr<TensorDataset> numbered(int64_t n) {
  std::vector<float> xs;
  std::vector<int64_t> ys;
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 18; ++k) xs.push_back(static_cast<float>(i + k / 100.0));
    ys.push_back(i % 3);
  }
  return std::make_shared<TensorDataset>(tensor(xs, {n, 2, 3, 3}), tensor(ys, {n}));
}

// Which sample a row of a batch of numbered() came from.
int64_t sample_of_row(const Batch& b, int64_t row) {
  return std::lround(b.inputs.select(0, row).to_vector<float>()[0]);
}

// Wraps a dataset, counting calls and optionally sleeping or failing in get().
class SpyDataset final : public Dataset {
 public:
  explicit SpyDataset(DatasetPtr base) : base_(std::move(base)) {}
  int64_t size() const override { return base_->size(); }
  Example get(int64_t i) const override {
    ++gets;
    if (delay.count()) std::this_thread::sleep_for(delay);
    if (i == fail_at) fail("sample ", i, " is unreadable");
    return base_->get(i);
  }
  Shape input_shape() const override { return base_->input_shape(); }
  Shape target_shape() const override { return base_->target_shape(); }
  int64_t num_classes() const override { return base_->num_classes(); }
  const std::vector<std::string>& class_names() const override { return base_->class_names(); }
  mutable std::atomic<int64_t> gets{0};
  std::chrono::milliseconds delay{0};
  int64_t fail_at = -1;

 private:
  DatasetPtr base_;
};

std::vector<Batch> all_batches(DataLoader& loader) {
  std::vector<Batch> out;
  loader.begin_epoch();
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(), a.numel() * a.element_size()) == 0;
}

std::map<int64_t, int64_t> class_counts(const TensorDataset& d) {
  std::map<int64_t, int64_t> counts;
  for (int64_t y : d.targets().to_vector<int64_t>()) ++counts[y];
  return counts;
}

}  // namespace

class TestData : public QObject {
  Q_OBJECT
 private slots:
  void tensor_dataset_holds_samples_and_classes() {
    auto d = numbered(7);
    QCOMPARE(d->size(), 7);
    QCOMPARE(d->input_shape(), (Shape{2, 3, 3}));
    QCOMPARE(d->target_shape(), Shape{});
    QCOMPARE(d->num_classes(), 3);
    QCOMPARE(d->class_names(), (std::vector<std::string>{"0", "1", "2"}));
    Example e = d->get(4);
    QCOMPARE(e.input.shape(), (Shape{2, 3, 3}));
    QCOMPARE(e.input.to_vector<float>()[5], 4.05f);
    QCOMPARE(e.target.dtype(), DType::Int64);
    QCOMPARE(e.target.item(), 1.0);
    e.input.data<float>()[0] = -1;  // a sample is a copy: the dataset stays as it was
    QCOMPARE(d->get(4).input.to_vector<float>()[0], 4.0f);

    auto regression = TensorDataset(ones({3, 2}), zeros({3, 4}));
    QCOMPARE(regression.num_classes(), 0);
    QCOMPARE(regression.target_shape(), Shape{4});
    QCOMPARE(regression.get(2).target.dtype(), DType::Float32);

    QVERIFY(error_of([] { TensorDataset(ones({3, 2}), tensor(std::vector<int64_t>{0, 1}, {2})); })
                .find("3 inputs but 2 targets") != std::string::npos);
    QVERIFY(error_of([] { TensorDataset(ones({2, 2}), tensor(std::vector<int64_t>{0, -1}, {2})); })
                .find("cannot be negative") != std::string::npos);
    QVERIFY(error_of([] { TensorDataset(ones({2, 2}), tensor(std::vector<int64_t>{0, 2}, {2}), {"a", "b"}); })
                .find("only 2 class names") != std::string::npos);
    QVERIFY(error_of([&] { d->get(7); }).find("out of range") != std::string::npos);
  }

  void batches_from_the_fast_path_match_stacked_samples() {
    auto d = numbered(9);
    SpyDataset plain(d);  // only get(): uses Dataset::get_batch, which stacks samples
    std::vector<int64_t> idx = {8, 0, 3, 3};
    Batch fast = d->get_batch(idx), stacked = plain.get_batch(idx);
    QVERIFY(same_bytes(fast.inputs, stacked.inputs));
    QVERIFY(same_bytes(fast.targets, stacked.targets));
    QCOMPARE(fast.indices, idx);
    QCOMPARE(plain.gets.load(), 4);
    QCOMPARE(fast.inputs.shape(), (Shape{4, 2, 3, 3}));
    QCOMPARE(sample_of_row(fast, 0), 8);
  }

  void subsets_and_random_splits() {
    auto d = numbered(10);
    auto parts = random_split(d, {0.5, 0.3, 0.2}, 42);
    QCOMPARE(parts.size(), size_t(3));
    QCOMPARE(parts[0]->size(), 5);
    QCOMPARE(parts[1]->size(), 3);
    QCOMPARE(parts[2]->size(), 2);
    std::set<int64_t> seen;
    for (auto& p : parts)
      for (int64_t i : p->indices()) QVERIFY(seen.insert(i).second);
    QCOMPARE(seen.size(), size_t(10));
    QCOMPARE(random_split(d, {0.5, 0.3, 0.2}, 42)[0]->indices(), parts[0]->indices());
    QVERIFY(random_split(d, {0.5, 0.3, 0.2}, 43)[0]->indices() != parts[0]->indices());
    // Rounding leftovers go to the first parts.
    auto thirds = random_split(d, {1 / 3.0, 1 / 3.0, 1 / 3.0}, 1);
    QCOMPARE(thirds[0]->size(), 4);
    QCOMPARE(thirds[2]->size(), 3);
    auto counted = random_split_counts(d, {7, 3}, 5);
    QCOMPARE(counted[1]->size(), 3);

    const Subset& s = *parts[1];
    QCOMPARE(sample_of_row(s.get_batch(std::vector<int64_t>{2}), 0), s.indices()[2]);
    QCOMPARE(s.get(0).input.to_vector<float>()[0], static_cast<float>(s.indices()[0]));
    QCOMPARE(s.num_classes(), 3);
    QVERIFY(error_of([&] { random_split(d, {0.5, 0.6}, 1); }).find("add up to 1.1") != std::string::npos);
    QVERIFY(error_of([&] { random_split_counts(d, {5, 4}, 1); }).find("add up to 9") != std::string::npos);
    QVERIFY(error_of([&] { Subset(d, {0, 10}); }).find("index 10 is out of range") != std::string::npos);
  }

  void subsets_of_tensor_datasets_keep_the_row_copy_path() {
    auto base = numbered(6);
    Subset sub(base, {5, 1, 2});
    Batch b = sub.get_batch(std::vector<int64_t>{0, 2});
    QCOMPARE(sample_of_row(b, 0), 5);
    QCOMPARE(sample_of_row(b, 1), 2);
    QCOMPARE(b.indices, (std::vector<int64_t>{0, 2}));
    // Through a wrapper that only has get(), the same batch needs one get() per row.
    auto spy = std::make_shared<SpyDataset>(base);
    Subset sub_of_spy(spy, {5, 1, 2});
    Batch same = sub_of_spy.get_batch(std::vector<int64_t>{0, 2});
    QVERIFY(same_bytes(b.inputs, same.inputs));
    QCOMPARE(spy->gets.load(), 2);
  }

  void loader_cuts_batches_in_order() {
    auto d = numbered(10);
    DataLoader loader(d, {.batch_size = 4});
    QCOMPARE(loader.num_batches(), 3);
    std::vector<Batch> batches = all_batches(loader);
    QCOMPARE(batches.size(), size_t(3));
    QCOMPARE(batches[0].inputs.shape(), (Shape{4, 2, 3, 3}));
    QCOMPARE(batches[2].inputs.shape(), (Shape{2, 2, 3, 3}));
    QCOMPARE(batches[2].targets.shape(), Shape{2});
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t r = 0; r < batches[b].inputs.size(0); ++r) {
        QCOMPARE(sample_of_row(batches[b], r), b * 4 + r);
        QCOMPARE(batches[b].targets.to_vector<int64_t>()[r], (b * 4 + r) % 3);
      }
    QVERIFY(!loader.next().has_value());  // stays exhausted until the next epoch

    DataLoader dropping(d, {.batch_size = 4, .drop_last = true});
    QCOMPARE(dropping.num_batches(), 2);
    QCOMPARE(all_batches(dropping).size(), size_t(2));
    DataLoader exact(numbered(8), {.batch_size = 4, .drop_last = true});
    QCOMPARE(all_batches(exact).size(), size_t(2));
    QVERIFY(error_of([&] { DataLoader(d, {.batch_size = 0}); }).find("batch size 0") != std::string::npos);
  }

  void shuffled_orders_depend_on_seed_and_epoch_only() {
    auto d = numbered(50);
    DataLoaderOptions o{.batch_size = 8, .shuffle = true, .seed = 11};
    DataLoader a(d, o), b(d, o);
    auto order_of = [](DataLoader& l) {
      std::vector<int64_t> order;
      for (const Batch& batch : l) order.insert(order.end(), batch.indices.begin(), batch.indices.end());
      return order;
    };
    std::vector<int64_t> a0 = order_of(a), a1 = order_of(a);
    QCOMPARE(a.epoch(), 1);
    QCOMPARE(order_of(b), a0);
    QVERIFY(a0 != a1);  // a new epoch, a new order
    std::vector<int64_t> sorted = a0;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 50; ++i) QCOMPARE(sorted[i], i);
    QVERIFY(a0 != sorted);
    QCOMPARE(a0, a.epoch_order(0));
    // Resuming at epoch 1 sees exactly epoch 1's batches; the rows match the indices.
    DataLoader resumed(d, o);
    resumed.set_epoch(1);
    std::vector<Batch> batches = all_batches(resumed);
    std::vector<int64_t> r1;
    for (const Batch& batch : batches) {
      for (size_t r = 0; r < batch.indices.size(); ++r) QCOMPARE(sample_of_row(batch, r), batch.indices[r]);
      r1.insert(r1.end(), batch.indices.begin(), batch.indices.end());
    }
    QCOMPARE(r1, a1);
    DataLoader other_seed(d, {.batch_size = 8, .shuffle = true, .seed = 12});
    QVERIFY(order_of(other_seed) != a0);
  }

  void prefetching_delivers_the_synchronous_batches() {
    auto d = numbered(37);
    auto augment = compose({random_crop(3, 3, 1), horizontal_flip(0.5), normalize({0.5f}, {2.0f})});
    DataLoaderOptions o{.batch_size = 5, .shuffle = true, .seed = 3, .prefetch = 0, .transform = augment};
    DataLoader sync(d, o);
    o.prefetch = 3;
    DataLoader ahead(d, o);
    for (int epoch = 0; epoch < 2; ++epoch) {
      std::vector<Batch> s = all_batches(sync), p = all_batches(ahead);
      QCOMPARE(s.size(), size_t(8));
      QCOMPARE(p.size(), s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        QVERIFY(same_bytes(s[i].inputs, p[i].inputs));
        QVERIFY(same_bytes(s[i].targets, p[i].targets));
        QCOMPARE(s[i].indices, p[i].indices);
      }
    }
  }

  void destroying_or_restarting_mid_epoch_is_clean() {
    auto spy = std::make_shared<SpyDataset>(numbered(400));
    spy->delay = std::chrono::milliseconds(1);
    auto started = std::chrono::steady_clock::now();
    {
      DataLoader loader(spy, {.batch_size = 4, .prefetch = 4});
      QVERIFY(loader.next().has_value());
      // The worker stops once its queue is full: 1 taken + 4 queued + at most 1 in progress.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      QVERIFY(spy->gets.load() <= 6 * 4);
    }  // destroyed with batches queued and one being collated
    QVERIFY(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
    const int64_t after_destruction = spy->gets.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    QCOMPARE(spy->gets.load(), after_destruction);  // no thread left reading

    DataLoader loader(spy, {.batch_size = 4, .prefetch = 2});
    QVERIFY(loader.next().has_value());
    loader.begin_epoch();  // abandons epoch 0
    QCOMPARE(loader.epoch(), 1);
    std::optional<Batch> first = loader.next();
    QVERIFY(first.has_value());
    QCOMPARE(first->indices.front(), 0);
  }

  void worker_errors_reach_the_caller() {
    for (int prefetch : {0, 2}) {
      auto spy = std::make_shared<SpyDataset>(numbered(20));
      spy->fail_at = 13;
      DataLoader loader(spy, {.batch_size = 4, .prefetch = prefetch});
      int delivered = 0;
      std::string message = error_of([&] {
        while (loader.next()) ++delivered;
      });
      QCOMPARE(delivered, 3);  // batches 0–2 arrive; batch 3 holds sample 13
      QVERIFY2(message.find("batch 3 of epoch 0") != std::string::npos, message.c_str());
      QVERIFY2(message.find("sample 13 is unreadable") != std::string::npos, message.c_str());
      QVERIFY(!loader.next().has_value());
      spy->fail_at = -1;
      QCOMPARE(all_batches(loader).size(), size_t(5));  // a new epoch works again
    }
  }

  void normalize_and_one_hot() {
    Generator gen(1);
    Example e{tensor({1, 2, 3, 4, 5, 6}, {2, 3}), scalar_tensor(2, {.dtype = DType::Int64})};
    Example n = normalize({1, 4}, {2, 0.5})->apply(e, gen);
    QCOMPARE(n.input.to_vector<float>(), (std::vector<float>{0, 0.5, 1, 0, 2, 4}));
    QCOMPARE(e.input.to_vector<float>()[0], 1.0f);  // the input itself is untouched
    QVERIFY(error_of([&] { normalize({0, 0, 0}, {1, 1, 1})->apply(e, gen); }).find("3 means") != std::string::npos);
    QVERIFY(error_of([] { normalize({0}, {0}); }).find("must be positive") != std::string::npos);
    Example h = one_hot(4)->apply(e, gen);
    QCOMPARE(h.target.to_vector<float>(), (std::vector<float>{0, 0, 1, 0}));
    QVERIFY(error_of([&] { one_hot(2)->apply(e, gen); }).find("outside [0, 2)") != std::string::npos);
    // Through a loader, one-hot targets stack into [B, classes].
    DataLoader loader(numbered(6), {.batch_size = 6, .transform = one_hot(3)});
    Batch b = *loader.next();
    QCOMPARE(b.targets.shape(), (Shape{6, 3}));
    QCOMPARE(b.targets.to_vector<float>()[3 + 1], 1.0f);  // sample 1 is class 1
  }

  void random_crop_shifts_within_the_padding() {
    // A 1×4×4 image of 1..16: every crop must be the image shifted by (dy, dx) in [-2, 2]
    // with zeros where the shift leaves the image.
    Tensor img = arange(1, 17).reshape({1, 4, 4});
    auto crop = random_crop(4, 4, 2);
    Generator gen(5);
    std::set<std::pair<int, int>> shifts;
    for (int trial = 0; trial < 200; ++trial) {
      auto out = crop->apply({img, Tensor()}, gen).input.to_vector<float>();
      QCOMPARE(out.size(), size_t(16));
      bool matched = false;
      for (int dy = -2; dy <= 2 && !matched; ++dy)
        for (int dx = -2; dx <= 2 && !matched; ++dx) {
          bool ok = true;
          for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 4; ++x) {
              int sy = y + dy, sx = x + dx;
              float want = (sy >= 0 && sy < 4 && sx >= 0 && sx < 4) ? float(sy * 4 + sx + 1) : 0.0f;
              ok = ok && out[y * 4 + x] == want;
            }
          if (ok) matched = true, shifts.insert({dy, dx});
        }
      QVERIFY(matched);
    }
    QCOMPARE(shifts.size(), size_t(25));  // every offset occurs
    Tensor small = random_crop(2, 3, 0)->apply({img, Tensor()}, gen).input;
    QCOMPARE(small.shape(), (Shape{1, 2, 3}));
    QVERIFY(error_of([&] { random_crop(9, 9, 2)->apply({img, Tensor()}, gen); }).find("cannot cut 9×9") !=
            std::string::npos);
  }

  void horizontal_flip_mirrors_with_its_probability() {
    Tensor img = arange(0, 12).reshape({2, 2, 3});
    Generator gen(9);
    auto always = horizontal_flip(1.0)->apply({img, Tensor()}, gen).input.to_vector<float>();
    QCOMPARE(always, (std::vector<float>{2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9}));
    QCOMPARE(horizontal_flip(0.0)->apply({img, Tensor()}, gen).input.to_vector<float>(), img.to_vector<float>());
    int flipped = 0;
    auto half = horizontal_flip(0.5);
    for (int i = 0; i < 1000; ++i) flipped += half->apply({img, Tensor()}, gen).input.to_vector<float>()[0] == 2;
    QVERIFY2(flipped > 430 && flipped < 570, std::to_string(flipped).c_str());
    QVERIFY(error_of([&] { horizontal_flip(1)->apply({ones({5}), Tensor()}, gen); }).find("needs an image") !=
            std::string::npos);
  }

  void channel_statistics_measure_each_channel() {
    std::vector<float> xs;
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 4; ++k) xs.push_back(k < 2 ? float(i) : 10.0f);  // channel 0: i, channel 1: 10
    TensorDataset d(tensor(xs, {4, 2, 2}), tensor(std::vector<int64_t>{0, 0, 0, 0}, {4}));
    ChannelStatistics s = channel_statistics(d);
    QCOMPARE(s.mean.size(), size_t(2));
    QVERIFY(std::fabs(s.mean[0] - 1.5f) < 1e-6 && std::fabs(s.mean[1] - 10.0f) < 1e-6);
    QVERIFY(std::fabs(s.stddev[0] - std::sqrt(1.25f)) < 1e-5 && s.stddev[1] < 1e-3);
  }

  void synthetic_sets_are_deterministic_and_balanced() {
    auto spirals = make_spirals({.samples_per_class = 50, .classes = 3, .seed = 4});
    QCOMPARE(spirals->size(), 150);
    QCOMPARE(spirals->input_shape(), Shape{2});
    QVERIFY(same_bytes(spirals->inputs(), make_spirals({.samples_per_class = 50, .classes = 3, .seed = 4})->inputs()));
    QVERIFY(!same_bytes(spirals->inputs(), make_spirals({.samples_per_class = 50, .classes = 3, .seed = 5})->inputs()));
    for (auto [cls, count] : class_counts(*spirals)) QCOMPARE(count, 50);

    auto blobs = make_blobs({.samples = 301, .centers = 4, .dims = 5, .spread = 0.1, .seed = 2});
    QCOMPARE(blobs->input_shape(), Shape{5});
    for (auto [cls, count] : class_counts(*blobs)) QVERIFY(count == 75 || count == 76);
    QVERIFY(same_bytes(blobs->inputs(), make_blobs({.samples = 301, .centers = 4, .dims = 5, .spread = 0.1,
                                                     .seed = 2})->inputs()));
    // Tight clusters: every sample lies nearest to its own cluster's mean.
    std::vector<std::vector<double>> means(4, std::vector<double>(5, 0.0));
    auto x = blobs->inputs().to_vector<float>();
    auto y = blobs->targets().to_vector<int64_t>();
    for (size_t i = 0; i < y.size(); ++i)
      for (int d = 0; d < 5; ++d) means[y[i]][d] += x[i * 5 + d] / double(class_counts(*blobs)[y[i]]);
    for (size_t i = 0; i < y.size(); ++i) {
      int64_t best = -1;
      double best_dist = 1e300;
      for (int64_t c = 0; c < 4; ++c) {
        double dist = 0;
        for (int d = 0; d < 5; ++d) dist += std::pow(x[i * 5 + d] - means[c][d], 2);
        if (dist < best_dist) best_dist = dist, best = c;
      }
      QCOMPARE(best, y[i]);
    }

    for (int64_t channels : {1, 3}) {
      const int64_t size = channels == 1 ? 28 : 32;
      auto shapes = make_shapes({.samples = 50, .image_size = size, .channels = channels, .classes = 5, .seed = 8});
      QCOMPARE(shapes->input_shape(), (Shape{channels, size, size}));
      QCOMPARE(shapes->class_names(), (std::vector<std::string>{"circle", "square", "triangle", "cross", "star"}));
      for (auto [cls, count] : class_counts(*shapes)) QCOMPARE(count, 10);
      for (float v : shapes->inputs().to_vector<float>()) QVERIFY(v >= 0 && v <= 1);
      QVERIFY(same_bytes(shapes->inputs(), make_shapes({.samples = 50, .image_size = size, .channels = channels,
                                                          .classes = 5, .seed = 8})->inputs()));
    }
  }

  void shapes_are_large_and_contrasting() {
    // Without noise each image has exactly two colours; the shape's must cover a real part of
    // the image (not a few pixels) and differ clearly from the background.
    auto shapes = make_shapes({.samples = 100, .classes = 5, .noise = 0, .seed = 1});
    for (int64_t i = 0; i < 100; ++i) {
      auto px = shapes->get(i).input.to_vector<float>();
      std::map<float, int> colours;
      for (float v : px) ++colours[v];
      QCOMPARE(colours.size(), size_t(2));
      auto lo = colours.begin(), hi = std::next(lo);
      QVERIFY(hi->first - lo->first >= 0.3f);
      const int smaller = std::min(lo->second, hi->second);
      QVERIFY2(smaller >= 28 * 28 / 20, ("sample " + std::to_string(i)).c_str());
    }
  }
};

QTEST_APPLESS_MAIN(TestData)
#include "test_data.moc"
