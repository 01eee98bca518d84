// Private to the core: elementwise math over contiguous arrays, one pass per operation (a tight loop
// over the whole output is cheaper than interleaving logf with the per-frame FFT work).
#ifndef RTVOICE_SRC_VECTOR_MATH_H_
#define RTVOICE_SRC_VECTOR_MATH_H_

#include <cstddef>

namespace rtvoice {

// x[i] = log10(max(x[i], floor)) for i < n; returns the largest result (-inf when n == 0).
float Log10FlooredInPlace(float *x, std::size_t n, float floor);

}  // namespace rtvoice

#endif  // RTVOICE_SRC_VECTOR_MATH_H_
