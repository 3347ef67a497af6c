// A small test harness for the GPU tests. Plain C++ on purpose: tests/gpu/run-on-device.sh
// builds these on GPU machines that have only the CUDA toolkit (no Qt), so Qt Test is out.
// Each test file is one executable registered with CTest; with no CUDA device it prints
// the reason and exits 77, which CTest reports as skipped.
//
// Rehearsal: `gpu_test_x --emulated` runs the cases on the emulated cuda:0 of
// tests/emulated_device where no GPU answers (CTest: gpu_emulated.*). The emulated device
// runs the CPU's kernels, so the comparisons are not a test of the CUDA kernels; they test
// the tests and everything above the kernels, so the first minutes on a real GPU are not
// spent on a broken test. Cases about the CUDA backend itself (its allocator, graphs,
// deferred checks, its own kernels called directly) start with NL_GPU_REAL_DEVICE_ONLY.
//
// The core is check_parity(): a test-backend-ops style comparison that runs one op (or a
// whole layer) on the CPU backend and on cuda:0 from the same inputs and compares the
// output and the gradient of every input that requires grad.
#pragma once
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/math_settings.h"
#include "engine/core/tensor.h"
#include "tests/tensor_compare.h"

namespace nl::gpu_test {

class Failure : public std::runtime_error {
 public:
  explicit Failure(const std::string& what) : std::runtime_error(what) {}
};

struct Register {
  Register(const char* name, void (*fn)());
};

template <class... A>
[[noreturn]] void fail_test(const char* file, int line, const A&... parts) {
  std::ostringstream os;
  os << file << ":" << line << ": ";
  (os << ... << parts);
  throw Failure(os.str());
}

// Empty when `actual` (any device) equals `expected` (any device) within
// |a - b| <= atol + rtol * |b| elementwise, else a message naming the first bad element.
using nl::testing::compare;

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct Tolerance {
  double rtol = 1e-4, atol = 1e-5;          // forward
  double grad_rtol = 1e-3, grad_atol = 1e-4;  // gradients (longer sums, other orders)
};

// Runs `fn` on `inputs` (CPU tensors; those with requires_grad get gradients) and on copies
// moved to cuda:0, then compares outputs and, when the output is floating, the gradients of
// sum(output * w) for a fixed random w. Throws Failure naming `what` and the first mismatch.
void check_parity(const std::string& what, const std::vector<Tensor>& inputs, const OpFn& fn,
                  Tolerance tol = {});

// Throws Failure naming `what` and the first bad element unless `actual` equals `expected`
// within |a - b| <= atol + rtol * |b| elementwise.
inline void expect_close(const std::string& what, const Tensor& actual, const Tensor& expected, double rtol,
                         double atol) {
  const std::string msg = compare(actual, expected, rtol, atol);
  if (!msg.empty()) throw Failure(what + ": " + msg);
}

// The message of the nl::Error that `f()` throws, or "" when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// `fn(device)` must throw nl::Error on the CPU and on cuda:0, with the same message (CUDA
// kernels refuse what the CPU's refuse, in the same words).
void same_error(const std::string& what, const std::function<void(Device)>& fn);

// A CPU float32 tensor of `shape` with values uniform in [lo, hi), reproducible by `seed`,
// optionally requiring grad.
Tensor random_input(const Shape& shape, uint64_t seed, bool requires_grad = true, double lo = -1, double hi = 1);

int run_all(int argc, char** argv);

// Sets allow_tf32 (engine/core/math_settings.h) for a scope: cases compare float32 products
// with TF32 off at tight tolerances, and with it on at TF32's.
class Tf32Scope {
 public:
  explicit Tf32Scope(bool on) : previous_(allow_tf32()) { set_allow_tf32(on); }
  ~Tf32Scope() { set_allow_tf32(previous_); }
  Tf32Scope(const Tf32Scope&) = delete;
  Tf32Scope& operator=(const Tf32Scope&) = delete;

 private:
  bool previous_;
};

// True while rehearsing on the emulated device.
bool emulated();
// Thrown by NL_GPU_REAL_DEVICE_ONLY while rehearsing: the case is reported and not run.
class RealDeviceOnly : public std::runtime_error {
 public:
  explicit RealDeviceOnly(const std::string& why) : std::runtime_error(why) {}
};

}  // namespace nl::gpu_test

#define NL_GPU_TEST(name)                                                  \
  static void name();                                                      \
  static ::nl::gpu_test::Register name##_registration(#name, &name);      \
  static void name()

// First statement of a case that tests the CUDA backend itself: skipped while rehearsing.
#define NL_GPU_REAL_DEVICE_ONLY(why)                                                  \
  do {                                                                                \
    if (::nl::gpu_test::emulated()) throw ::nl::gpu_test::RealDeviceOnly(why);        \
  } while (0)

#define NL_GPU_CHECK(cond, ...) \
  do {                          \
    if (!(cond)) ::nl::gpu_test::fail_test(__FILE__, __LINE__, "check failed: " #cond " ", ##__VA_ARGS__); \
  } while (0)
