// The GPU test harness: registry, runner (skip with exit code 77 when no device answers),
// tensor comparison and the CPU-vs-CUDA parity check.
#include "tests/gpu/gpu_testing.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/backends/backend.h"
#include "engine/core/generator.h"
#include "engine/ops/ops.h"
#include "tests/emulated_device/emulated_device.h"

namespace nl::gpu_test {
namespace {

struct Case {
  const char* name;
  void (*fn)();
};

std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

std::unique_ptr<testing::EmulatedDevice>& emulation() {
  static std::unique_ptr<testing::EmulatedDevice> device;
  return device;
}

}  // namespace

bool emulated() { return emulation() && emulation()->is_emulated(); }

Register::Register(const char* name, void (*fn)()) { registry().push_back({name, fn}); }

void same_error(const std::string& what, const std::function<void(Device)>& fn) {
  auto message = [&](Device d) -> std::string {
    try {
      fn(d);
    } catch (const Error& e) {
      return e.what();
    }
    throw Failure(what + ": no error on " + d.str());
  };
  const std::string cpu = message(Device::cpu());
  const std::string gpu = message(Device::cuda(0));
  if (cpu != gpu) throw Failure(what + ": CUDA says \"" + gpu + "\", the CPU says \"" + cpu + "\"");
}

Tensor random_input(const Shape& shape, uint64_t seed, bool requires_grad, double lo, double hi) {
  Generator gen(seed);
  Tensor t = uniform(shape, lo, hi, {}, &gen);
  if (requires_grad) t.requires_grad_(true);
  return t;
}

void check_parity(const std::string& what, const std::vector<Tensor>& inputs, const OpFn& fn, Tolerance tol) {
  // Leaves on each device, same values; requires_grad carried over.
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : inputs) {
    Tensor c = t.detach().clone();
    Tensor g = t.detach().to(Device::cuda(0));
    if (t.requires_grad()) {
      c.requires_grad_(true);
      g.requires_grad_(true);
    }
    cpu.push_back(c);
    gpu.push_back(g);
  }
  Tensor out_cpu = fn(cpu);
  Tensor out_gpu;
  try {
    out_gpu = fn(gpu);
  } catch (const std::exception& e) {
    throw Failure(what + ": the CUDA run threw: " + e.what());
  }
  if (out_gpu.device() != Device::cuda(0))
    throw Failure(what + ": the output is on " + out_gpu.device().str() + ", expected cuda:0");
  if (out_gpu.dtype() != out_cpu.dtype())
    throw Failure(what + ": output dtype " + dtype_name(out_gpu.dtype()) + " on CUDA, " +
                  dtype_name(out_cpu.dtype()) + " on the CPU");
  std::string msg = compare(out_gpu, out_cpu, tol.rtol, tol.atol);
  if (!msg.empty()) throw Failure(what + ": forward differs: " + msg);

  if (!is_floating(out_cpu.dtype()) || !out_cpu.requires_grad()) return;
  Tensor w = random_input(out_cpu.shape(), 0xC0FFEE, false);
  sum(mul(out_cpu, w)).backward();
  sum(mul(out_gpu, w.to(Device::cuda(0)))).backward();
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (!cpu[i].requires_grad()) continue;
    Tensor gc = cpu[i].grad(), gg = gpu[i].grad();
    if (!gc.defined() && !gg.defined()) continue;
    if (gc.defined() != gg.defined())
      throw Failure(what + ": input " + std::to_string(i) + " has a gradient on only one device");
    if (gg.device() != Device::cuda(0))
      throw Failure(what + ": the gradient of input " + std::to_string(i) + " is on " + gg.device().str());
    msg = compare(gg, gc, tol.grad_rtol, tol.grad_atol);
    if (!msg.empty()) throw Failure(what + ": gradient of input " + std::to_string(i) + " differs: " + msg);
  }
}

int run_all(int argc, char** argv) {
  const bool rehearse = argc > 1 && std::strcmp(argv[1], "--emulated") == 0;
  if (rehearse) {
    --argc;
    ++argv;
  }
  if (!backend_available(Device::cuda(0))) {
    if (!rehearse) {
      std::printf("SKIP: %s\n", device_unavailable_reason(Device::cuda(0)).c_str());
      return 77;  // CTest's SKIP_RETURN_CODE for these tests
    }
    emulation() = std::make_unique<testing::EmulatedDevice>();
    // A small "GPU", so the out-of-memory cases rehearse without taking the host's memory.
    testing::EmulatedDevice::set_memory_limit(256ll << 20);
    // Multi-tensor optimiser kernels, as the CUDA backend has (Adam's graph replays need them).
    testing::EmulatedDevice::set_fused_updates(true);
    std::printf("EMULATED: no GPU answers; rehearsing on the emulated cuda:0 (tests/emulated_device)\n");
  }
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int failed = 0, ran = 0, skipped = 0;
  for (const Case& c : registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    ++ran;
    auto start = std::chrono::steady_clock::now();
    try {
      c.fn();
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      std::printf("PASS   %s (%.0f ms)\n", c.name, ms);
    } catch (const RealDeviceOnly& e) {
      ++skipped;
      std::printf("SKIP   %s: %s\n", c.name, e.what());
    } catch (const std::exception& e) {
      ++failed;
      std::printf("FAIL!  %s: %s\n", c.name, e.what());
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed, %d need a real GPU\n", ran - failed - skipped, failed, skipped);
  return failed == 0 ? 0 : 1;
}

}  // namespace nl::gpu_test
