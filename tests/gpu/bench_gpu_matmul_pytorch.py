#!/usr/bin/env python3
# GPU matmul benchmark (PyTorch side): torch.matmul, i.e. cuBLAS, on cuda:0 for square
# n×n×n products in float32 with TF32 allowed and in bfloat16, timed as bench_gpu_matmul.cpp
# times Netloom (batches of back-to-back calls between two synchronizes, median of 7
# batches after warm-up). Prints {"bench":"matmul","n":...,"dtype":...,"torch_tflops":...}.
#
#   bench_gpu_matmul_pytorch.py [--sizes 1024,2048,4096]
import argparse
import json
import statistics
import time

import torch

torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True


def calls_per_batch(flops):
    return min(500, max(10, int(4e12 / flops)))


def tflops(n, dtype):
    dev = torch.device("cuda:0")
    a = torch.randn(n, n, device=dev).to(dtype)
    b = torch.randn(n, n, device=dev).to(dtype)
    flops = 2.0 * n * n * n
    reps = calls_per_batch(flops)
    for _ in range(3):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    per_call = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b)
        torch.cuda.synchronize()
        per_call.append((time.perf_counter() - t0) / reps)
    return flops / statistics.median(per_call) / 1e12


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1024,2048,4096")
    args = ap.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        for dtype, name in ((torch.float32, "tf32"), (torch.bfloat16, "bf16")):
            print(json.dumps({"bench": "matmul", "n": n, "dtype": name, "torch_tflops": round(tflops(n, dtype), 2)}),
                  flush=True)


if __name__ == "__main__":
    main()
