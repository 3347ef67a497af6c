// The CUDA caching allocator and pinned host memory: blocks are reused without driver
// calls, empty_cache returns memory, an out-of-memory error names the size and leaves the
// process able to run a smaller job, the cache is given back before memory runs out, and
// a pinned buffer freed right after an asynchronous copy is not overwritten under it.
#include <string>

#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "engine/data/data.h"
#include "engine/nn/nn.h"
#include "engine/optim/optim.h"
#include "engine/ops/ops.h"
#include "engine/run/trainer.h"
#include "tests/gpu/gpu_testing.h"

using namespace nl;

namespace {
const Device kGpu = Device::cuda(0);
constexpr int64_t kMiB = 1024 * 1024;
}  // namespace

NL_GPU_TEST(freed_blocks_are_reused_without_the_driver) {
  NL_GPU_REAL_DEVICE_ONLY("the CUDA caching allocator and the GPU's memory");
  { Tensor warm = empty({16 * kMiB / 4}, {.device = kGpu}); }
  DeviceMemoryStats before = memory_stats(kGpu);
  for (int i = 0; i < 10; ++i) Tensor t = empty({16 * kMiB / 4}, {.device = kGpu});
  DeviceMemoryStats after = memory_stats(kGpu);
  NL_GPU_CHECK(after.driver_allocations == before.driver_allocations, "cudaMalloc called ",
               after.driver_allocations - before.driver_allocations, " times for cached sizes");
  NL_GPU_CHECK(after.cache_hits - before.cache_hits == 10);
  NL_GPU_CHECK(after.allocated_bytes == before.allocated_bytes, "bytes still allocated after the tensors died");
  NL_GPU_CHECK(after.device_total_bytes > 0 && after.reserved_bytes >= 16 * kMiB);
}

NL_GPU_TEST(empty_cache_returns_memory_to_the_driver) {
  NL_GPU_REAL_DEVICE_ONLY("the CUDA caching allocator and the GPU's memory");
  { Tensor t = empty({64 * kMiB / 4}, {.device = kGpu}); }
  const int64_t reserved = memory_stats(kGpu).reserved_bytes;
  empty_cache(kGpu);
  DeviceMemoryStats s = memory_stats(kGpu);
  NL_GPU_CHECK(s.reserved_bytes <= reserved - 64 * kMiB, "reserved ", s.reserved_bytes, " before ", reserved);
  NL_GPU_CHECK(s.reserved_bytes == s.allocated_bytes, "nothing cached after empty_cache");
}

NL_GPU_TEST(out_of_memory_names_the_size_and_a_smaller_run_succeeds) {
  const int64_t total = memory_stats(kGpu).device_total_bytes;
  std::string message;
  try {
    Tensor huge = empty({2 * total / 4}, {.device = kGpu});
  } catch (const OutOfMemoryError& e) {
    message = e.what();
  }
  NL_GPU_CHECK(!message.empty(), "no OutOfMemoryError for twice the GPU's memory");
  NL_GPU_CHECK(message.find("cuda:0 is out of memory") != std::string::npos, message);
  NL_GPU_CHECK(message.find("MiB") != std::string::npos, message);
  NL_GPU_CHECK(memory_stats(kGpu).out_of_memory_errors >= 1);

  // A forward pass too big for the GPU fails; a smaller one in the same process runs.
  message.clear();
  try {
    Tensor x = empty({total / 4 / 2 / 4096, 4096}, {.device = kGpu});  // half the GPU
    Tensor y = add(x, x);
    Tensor z = add(y, y);  // a third half: cannot fit
  } catch (const OutOfMemoryError& e) {
    message = e.what();
  }
  NL_GPU_CHECK(!message.empty(), "three half-GPU tensors fitted");
  Tensor a = randn({512, 512}).to(kGpu);
  Tensor b = randn({512, 512}).to(kGpu);
  Tensor c = matmul(a, b);
  Tensor expected = matmul(a.to(Device::cpu()), b.to(Device::cpu()));
  std::string diff = gpu_test::compare(c, expected, 1e-2, 1e-2);  // TF32
  NL_GPU_CHECK(diff.empty(), diff);
}

NL_GPU_TEST(the_cache_is_released_before_memory_runs_out) {
  NL_GPU_REAL_DEVICE_ONLY("the CUDA caching allocator and the GPU's memory");
  // Fill the cache with blocks of one size, then ask for one block bigger than what is
  // left: the allocator must give its cache back and succeed.
  empty_cache(kGpu);
  const int64_t free_bytes = memory_stats(kGpu).device_free_bytes;
  const int64_t chunk = 256 * kMiB;
  const int64_t chunks = free_bytes * 6 / 10 / chunk;
  {
    std::vector<Tensor> held;
    for (int64_t i = 0; i < chunks; ++i) held.push_back(empty({chunk / 4}, {.device = kGpu}));
  }  // all cached now, not returned
  const int64_t cached = memory_stats(kGpu).reserved_bytes - memory_stats(kGpu).allocated_bytes;
  NL_GPU_CHECK(cached >= chunks * chunk, "cached ", cached);
  const int64_t big = free_bytes * 7 / 10;
  Tensor t = empty({big / 4}, {.device = kGpu});  // needs the cached memory back
  NL_GPU_CHECK(t.numel() == big / 4);
}

NL_GPU_TEST(pinned_buffer_freed_after_an_async_copy_is_not_overwritten) {
  const int64_t n = 8 * kMiB / 4;
  Tensor gpu;
  {
    Tensor host = full({n}, 3.0).pin_memory();
    gpu = host.to(kGpu);  // asynchronous: the bytes may not have moved yet
  }  // the pinned block is freed here; it must not be handed out before the copy ran
  for (int i = 0; i < 4; ++i) {
    Tensor other = full({n}, -1.0).pin_memory();  // same size class: would take the block
    (void)other;
  }
  std::vector<float> v = gpu.to_vector<float>();
  for (int64_t i = 0; i < n; i += 4099) NL_GPU_CHECK(v[i] == 3.0f, "element ", i, " is ", v[i]);
  NL_GPU_CHECK(v[n - 1] == 3.0f);
}

NL_GPU_TEST(pin_memory_round_trip_keeps_values_and_dtype) {
  Tensor x = arange(0, 1000, 1, {.dtype = DType::Int64}).reshape({10, 100}).transpose(0, 1);
  Tensor pinned = x.pin_memory();
  NL_GPU_CHECK(pinned.is_contiguous() && pinned.dtype() == DType::Int64 && pinned.shape() == x.shape());
  Tensor back = pinned.to(kGpu).to(Device::cpu());
  std::string diff = gpu_test::compare(back, x, 0, 0);
  NL_GPU_CHECK(diff.empty(), diff);
}

NL_GPU_TEST(a_training_run_too_big_for_the_gpu_fails_cleanly_and_a_smaller_one_trains) {
  NL_GPU_REAL_DEVICE_ONLY("the CUDA caching allocator and the GPU's memory");
  // Linear(16 → 2^20): at batch 40,000 the output alone is 160 GiB, more than any GPU here.
  auto run_with_batch = [](int64_t batch) {
    const int64_t n = batch * 2;
    auto data = std::make_shared<data::TensorDataset>(randn({n, 16}), zeros({n}, {.dtype = DType::Int64}));
    data::DataLoader loader(data, {.batch_size = batch, .pin_memory = true});
    auto model = std::make_shared<nn::Linear>(16, int64_t(1) << 20);
    model->to(kGpu);
    auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.01});
    run::Trainer trainer(model, opt, {.epochs = 1, .device = kGpu});
    return trainer.fit(loader);
  };
  std::string message;
  try {
    run_with_batch(40000);
  } catch (const OutOfMemoryError& e) {
    message = e.what();
  }
  NL_GPU_CHECK(message.find("training step 1 on cuda:0") == 0, message);
  NL_GPU_CHECK(message.find("out of memory") != std::string::npos, message);
  const DeviceMemoryStats after = memory_stats(kGpu);
  NL_GPU_CHECK(after.reserved_bytes == after.allocated_bytes, "the cache was not emptied after the failed run");
  run::RunResult small = run_with_batch(64);
  NL_GPU_CHECK(small.status == run::RunStatus::Completed, small.message);
}
