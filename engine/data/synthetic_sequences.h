// A synthetic sequence-classification set for recurrent models (the LSTM example): noisy
// sine waves whose class is their frequency. Pure function of its options, balanced.
//
//   auto waves = nl::data::make_sequences({.samples = 2000, .length = 32, .classes = 4});
//   // input [32, 1] (time steps × features, batch-first after batching); classes "1 cycle" …
//
// Class k oscillates k + 1 times over the sequence (±10% per sample), with a random phase,
// an amplitude in [0.5, 1.5] and Gaussian noise; extra features repeat the wave with their
// own phase. Phase and amplitude vary, so the class cannot be read from any single time
// step: a model has to integrate over the sequence, which a one-layer LSTM with 32 hidden
// units does to well over 90% accuracy within a few epochs.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/data/dataset.h"

namespace nl::data {

struct SequencesOptions {
  int64_t samples = 1000;  // sample i has class i mod classes
  int64_t length = 32;     // time steps, at least 4 × classes (so the fastest wave has 4 steps per cycle)
  int64_t features = 1;
  int64_t classes = 4;  // 2 to 8
  double noise = 0.1;   // standard deviation of the Gaussian noise on every value
  uint64_t seed = 0;
};

std::shared_ptr<TensorDataset> make_sequences(const SequencesOptions& options = {});

}  // namespace nl::data
