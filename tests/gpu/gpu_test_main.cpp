// main() of every GPU test executable: runs the registered cases (an optional argument
// filters them by name); exit code 77 (skipped) when no CUDA device answers.
#include "tests/gpu/gpu_testing.h"

int main(int argc, char** argv) { return nl::gpu_test::run_all(argc, argv); }
