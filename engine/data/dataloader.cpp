// DataLoader: epoch orders, batch collation and the prefetching worker thread
// (Notes [Epoch order] and [Prefetch] in dataloader.h).
#include "engine/data/dataloader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "engine/core/error.h"

namespace nl::data {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Independent streams per (seed, epoch[, batch]): neighbouring seeds or epochs must not give
// correlated orders, which seeding a Mersenne Twister with seed + epoch would risk.
uint64_t mix(uint64_t a, uint64_t b) { return splitmix64(a ^ splitmix64(b)); }
constexpr uint64_t kTransformStream = 0x7472616E73666F72ull;  // keeps augmentation draws apart from shuffling

}  // namespace

struct DataLoader::Worker {
  std::mutex mutex;
  std::condition_variable space_or_stop;  // the worker waits for room in the queue
  std::condition_variable ready_or_done;  // next() waits for a batch
  std::deque<Batch> ready;
  std::exception_ptr error;  // reported after the batches queued before it
  bool done = false;
  bool stop = false;
  std::thread thread;
};

DataLoader::DataLoader(DatasetPtr dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  NL_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  NL_CHECK(options_.batch_size > 0, "DataLoader: batch size ", options_.batch_size, " must be positive");
  NL_CHECK(options_.prefetch >= 0 && options_.prefetch <= 64, "DataLoader: prefetch depth ", options_.prefetch,
           " is outside [0, 64]");
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::set_epoch(int64_t epoch) {
  NL_CHECK(epoch >= 0, "DataLoader::set_epoch: epoch ", epoch, " is negative");
  pending_epoch_ = epoch;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  if (options_.shuffle) {
    Generator gen(mix(options_.seed, static_cast<uint64_t>(epoch)));
    return random_permutation(dataset_->size(), gen);
  }
  std::vector<int64_t> order(static_cast<size_t>(dataset_->size()));
  std::iota(order.begin(), order.end(), int64_t{0});
  return order;
}

Batch DataLoader::make_batch(int64_t index) const {
  const int64_t first = index * options_.batch_size;
  const int64_t count = std::min<int64_t>(options_.batch_size, static_cast<int64_t>(order_.size()) - first);
  std::span<const int64_t> indices(order_.data() + first, static_cast<size_t>(count));
  try {
    Batch batch = gather_batch(indices, index);
    if (options_.pin_memory) {
      // On the loader's thread, so the step only queues an asynchronous copy.
      batch.inputs = batch.inputs.pin_memory();
      if (batch.targets.defined()) batch.targets = batch.targets.pin_memory();
    }
    return batch;
  } catch (const std::exception& e) {
    fail("DataLoader: batch ", index, " of epoch ", epoch_, ": ", e.what());
  }
}

Batch DataLoader::gather_batch(std::span<const int64_t> indices, int64_t index) const {
  if (!options_.transform) return dataset_->get_batch(indices);
  const uint64_t epoch_stream = mix(options_.seed ^ kTransformStream, static_cast<uint64_t>(epoch_));
  Generator gen(mix(epoch_stream, static_cast<uint64_t>(index)));
  std::vector<Example> examples;
  examples.reserve(indices.size());
  for (int64_t i : indices) examples.push_back(options_.transform->apply(dataset_->get(i), gen));
  Batch batch = collate(examples);
  batch.indices.assign(indices.begin(), indices.end());
  return batch;
}

void DataLoader::begin_epoch() {
  stop_worker();
  epoch_ = pending_epoch_;
  pending_epoch_ = epoch_ + 1;
  order_ = epoch_order(epoch_);
  cursor_ = 0;
  started_ = true;
  finished_ = false;
  const int64_t batches = num_batches();
  if (options_.prefetch == 0 || batches == 0) return;

  worker_ = std::make_unique<Worker>();
  Worker* w = worker_.get();
  const size_t depth = static_cast<size_t>(options_.prefetch);
  // The worker reads order_, options_ and dataset_, which stay fixed until stop_worker()
  // has joined it.
  w->thread = std::thread([this, w, depth, batches] {
    for (int64_t b = 0; b < batches; ++b) {
      {
        std::unique_lock lock(w->mutex);
        w->space_or_stop.wait(lock, [&] { return w->stop || w->ready.size() < depth; });
        if (w->stop) return;
      }
      try {
        Batch batch = make_batch(b);
        std::lock_guard lock(w->mutex);
        w->ready.push_back(std::move(batch));
      } catch (...) {
        std::lock_guard lock(w->mutex);
        w->error = std::current_exception();
        w->done = true;
        w->ready_or_done.notify_one();
        return;
      }
      w->ready_or_done.notify_one();
    }
    std::lock_guard lock(w->mutex);
    w->done = true;
    w->ready_or_done.notify_one();
  });
}

std::optional<Batch> DataLoader::next() {
  if (!started_) begin_epoch();
  if (finished_) return std::nullopt;
  if (!worker_) {
    if (cursor_ >= num_batches()) {
      finished_ = true;
      return std::nullopt;
    }
    try {
      return make_batch(cursor_++);
    } catch (...) {
      finished_ = true;  // as with the worker: an epoch that failed does not continue
      throw;
    }
  }
  std::unique_lock lock(worker_->mutex);
  worker_->ready_or_done.wait(lock, [&] { return !worker_->ready.empty() || worker_->done; });
  if (!worker_->ready.empty()) {
    Batch batch = std::move(worker_->ready.front());
    worker_->ready.pop_front();
    lock.unlock();
    worker_->space_or_stop.notify_one();
    return batch;
  }
  std::exception_ptr error = worker_->error;
  lock.unlock();
  stop_worker();
  finished_ = true;
  if (error) std::rethrow_exception(error);
  return std::nullopt;
}

void DataLoader::stop_worker() {
  if (!worker_) return;
  {
    std::lock_guard lock(worker_->mutex);
    worker_->stop = true;
  }
  worker_->space_or_stop.notify_all();
  if (worker_->thread.joinable()) worker_->thread.join();
  worker_.reset();
}

}  // namespace nl::data
