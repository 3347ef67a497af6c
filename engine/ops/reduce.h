// Reductions over any set of dimensions, with keepdim, and their gradients.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace nl {

Tensor sum(const Tensor& x);  // all elements → scalar
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// amax/amin: gradient is split evenly between tied maxima, as torch.amax does.
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Index (Int64) of the first maximum/minimum along `dim`; no gradient.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
// Variance with Bessel-style `correction` (1 = unbiased, as torch.var's default).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
// Standard deviation (torch.std); not named `std`, which would clash with namespace std.
Tensor stddev(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

}  // namespace nl
