// DataLoader: cuts a dataset into batches (optionally shuffled per epoch and transformed per
// sample) and collates them on a background thread a few batches ahead of the training step.
//
//   nl::data::DataLoader loader(train, {.batch_size = 64, .shuffle = true, .seed = 7});
//   for (int64_t epoch = 0; epoch < 10; ++epoch) {
//     loader.set_epoch(epoch);                    // optional: epochs also advance by themselves
//     for (const nl::data::Batch& b : loader) step(b.inputs, b.targets);
//   }
//
// Note [Epoch order]: an epoch's sample order and its transforms' random draws are a pure
// function of (seed, epoch), so a resumed run that calls set_epoch(e) sees exactly the
// batches an uninterrupted run saw, and prefetching changes nothing but timing. begin_epoch()
// starts the epoch set by set_epoch() (or the one after the previous epoch).
//
// Note [Prefetch]: with options.prefetch > 0, begin_epoch() starts one worker thread that
// collates batches in order into a queue holding at most `prefetch` ready batches; next()
// takes from the queue. An exception in the worker (a failing read, a bad transform) is
// handed to the caller by the next() that reaches that batch, as an nl::Error naming the
// batch and carrying the original message. Starting another epoch or destroying the loader
// stops the worker after the batch it is collating and discards what was queued.
#pragma once
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/data/transforms.h"

namespace nl::data {

struct DataLoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = false;
  uint64_t seed = 0;
  bool drop_last = false;  // skip a final batch smaller than batch_size
  int prefetch = 2;        // ready batches queued ahead (at most 64); 0 collates inside next()
  TransformPtr transform;  // applied per sample before stacking; may be null
  // Batches in page-locked host memory (when a CUDA device answers), so copies to the GPU
  // run asynchronously beside the step. Set by training runs on a GPU.
  bool pin_memory = false;
};

class DataLoader {
 public:
  explicit DataLoader(DatasetPtr dataset, DataLoaderOptions options = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  const Dataset& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  int64_t num_batches() const;  // per epoch

  void set_epoch(int64_t epoch);
  // The epoch in progress (or last run); -1 before the first.
  int64_t epoch() const { return epoch_; }
  // Starts the next epoch (Note [Epoch order]), abandoning one in progress.
  void begin_epoch();
  // The epoch's next batch, or nullopt once it is exhausted. Starts an epoch when none has
  // been started yet.
  std::optional<Batch> next();
  // The dataset indices an epoch visits, in order (the identity unless shuffling).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  // Range-for: begin() starts an epoch and walks it batch by batch.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    explicit Iterator(DataLoader* loader) : loader_(loader), current_(loader->next()) {}
    const Batch& operator*() const { return *current_; }
    const Batch* operator->() const { return &*current_; }
    Iterator& operator++() {
      current_ = loader_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return !current_.has_value(); }

   private:
    DataLoader* loader_ = nullptr;
    std::optional<Batch> current_;
  };
  Iterator begin() {
    begin_epoch();
    return Iterator(this);
  }
  std::default_sentinel_t end() const { return std::default_sentinel; }

 private:
  struct Worker;
  // Batch `index` of the current epoch: the same whichever thread makes it.
  Batch make_batch(int64_t index) const;
  // The samples at `indices` (batch `index` of the epoch), transformed and stacked.
  Batch gather_batch(std::span<const int64_t> indices, int64_t index) const;
  void stop_worker();

  DatasetPtr dataset_;
  DataLoaderOptions options_;
  int64_t epoch_ = -1;
  int64_t pending_epoch_ = 0;
  std::vector<int64_t> order_;
  int64_t cursor_ = 0;  // synchronous mode: next batch to make
  bool started_ = false;
  bool finished_ = false;
  std::unique_ptr<Worker> worker_;
};

}  // namespace nl::data
