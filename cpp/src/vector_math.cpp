#include "vector_math.h"

#include <cmath>
#include <limits>

namespace rtvoice {

float Log10FlooredInPlace(float *x, std::size_t n, float floor) {
  // log10 through logf, which glibc computes faster than log10f.
  constexpr float kInvLn10 = 0.434294481903251827651f;
  for (std::size_t i = 0; i < n; ++i) x[i] = std::log(x[i] > floor ? x[i] : floor) * kInvLn10;
  float best = -std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < n; ++i) best = x[i] > best ? x[i] : best;
  return best;
}

}  // namespace rtvoice
