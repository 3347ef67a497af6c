// Raw OpenBLAS sgemm at the GEMM shapes of the ResNet benchmark's 3x3 convolutions, in
// the two layouts conv2d can use: column matrices [K x L] (im2col, rows 4 KiB apart or
// padded, Note [Column padding]) and pixel-major rows [L x K] (Note [Pixel-major
// convolution]). Prints one JSON line per shape: GFLOP/s from process CPU time, best and
// median of 11 repetitions of one batch (64 images). Usage: bench_conv_gemm [threads]
#include <cblas.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Shape {
  const char* name;
  bool trans_a, trans_b;
  int m, n, k, lda, ldb, ldc;
  float beta;
};

void run(const Shape& s, int images) {
  std::vector<float> a(size_t(std::max(s.m, s.k)) * s.lda), b(size_t(std::max(s.k, s.n)) * s.ldb);
  std::vector<float> c(size_t(s.m) * s.ldc, 0.f);
  for (float& v : a) v = float(std::rand()) / RAND_MAX;
  for (float& v : b) v = float(std::rand()) / RAND_MAX;
  std::vector<double> times;
  for (int r = 0; r < 11; ++r) {
    const double t0 = cpu_seconds();
    for (int i = 0; i < images; ++i)
      cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans, s.m, s.n,
                  s.k, 1.f, a.data(), s.lda, b.data(), s.ldb, s.beta, c.data(), s.ldc);
    times.push_back(cpu_seconds() - t0);
  }
  std::sort(times.begin(), times.end());
  const double flop = 2.0 * s.m * s.n * s.k * images;
  std::printf("{\"bench\":\"conv_gemm\",\"shape\":\"%s\",\"m\":%d,\"n\":%d,\"k\":%d,\"best_gflops\":%.1f,"
              "\"median_gflops\":%.1f}\n",
              s.name, s.m, s.n, s.k, flop / times[0] * 1e-9, flop / times[5] * 1e-9);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  openblas_set_num_threads(argc > 1 ? std::atoi(argv[1]) : 1);
  // 32 -> 32 channels, 3x3, 32x32 pixels: K = 288, L = 1024.
  const Shape shapes[] = {
      {"fwd32 W.col", false, false, 32, 1024, 288, 288, 1024, 1024, 0.f},
      {"fwd32 W.col padded", false, false, 32, 1024, 288, 288, 1040, 1024, 0.f},
      {"fwd32 rows.W'^T", false, true, 1024, 32, 288, 288, 288, 32, 0.f},
      {"dx32 W^T.go", true, false, 288, 1024, 32, 288, 1024, 1024, 0.f},
      {"dx32 W^T.go padded", true, false, 288, 1024, 32, 288, 1024, 1040, 0.f},
      {"dx32 go^T.W'", false, false, 1024, 288, 32, 32, 288, 288, 0.f},
      {"dw32 go.col^T", false, true, 32, 288, 1024, 1024, 1024, 288, 1.f},
      {"dw32 go.col^T padded", false, true, 32, 288, 1024, 1024, 1040, 288, 1.f},
      {"dw32 rows^T.go^T", true, false, 288, 32, 1024, 288, 32, 32, 1.f},
      // 64 -> 64 channels, 3x3, 16x16 pixels: K = 576, L = 256.
      {"fwd64 W.col", false, false, 64, 256, 576, 576, 256, 256, 0.f},
      {"fwd64 rows.W'^T", false, true, 256, 64, 576, 576, 576, 64, 0.f},
      {"dx64 W^T.go", true, false, 576, 256, 64, 576, 256, 256, 0.f},
      {"dx64 go^T.W'", false, false, 256, 576, 64, 64, 576, 576, 0.f},
      {"dw64 go.col^T", false, true, 64, 576, 256, 256, 256, 576, 1.f},
      {"dw64 rows^T.go^T", true, false, 576, 64, 256, 576, 64, 64, 1.f},
  };
  for (const Shape& s : shapes) run(s, 64);
  return 0;
}
