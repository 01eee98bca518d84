// Small dense kernels shared by the LSTM and the Silero VAD network (private to the core).
//
// Written as plain loops the compiler vectorises. Release builds target baseline x86-64 (SSE2); on CPUs
// with AVX and FMA an AVX+FMA build of the same loops is selected once, at first use (runtime dispatch,
// no -march=native). Setting RTVOICE_KERNELS=baseline in the environment forces the SSE2 build (tests
// compare both).
#ifndef RTVOICE_SRC_DENSE_KERNELS_H_
#define RTVOICE_SRC_DENSE_KERNELS_H_

#include <cstddef>

namespace rtvoice {
namespace kernels {

// y[t][j] += sum_r x[t][r] * w[r][j] for t < frames, j < m: x is frames x n (row-major), w is n x m
// (row-major), y is frames x m. Rows are added in ascending r; blocks of rows whose x values are all zero
// are skipped (ReLU outputs and zero padding are common).
void MatMulAccumulate(const float *x, std::size_t frames, std::size_t n, const float *w, std::size_t m, float *y);

// v = max(v, 0) elementwise.
void Relu(float *v, std::size_t n);

// LSTM pointwise update, PyTorch gate order: gates holds the 4*h pre-activations [i | f | g | o];
// c = sigmoid(f) * c + sigmoid(i) * tanh(g); h = sigmoid(o) * tanh(c). Absolute error of the
// activations <= 3e-7.
void LstmPointwise(const float *gates, std::size_t hidden, float *h, float *c);

// Elementwise logistic sigmoid and tanh (the same approximations LstmPointwise uses).
void Sigmoid(float *v, std::size_t n);
void Tanh(float *v, std::size_t n);

// The instruction set the kernels run with: "avx+fma" or "baseline".
const char *KernelIsa();

}  // namespace kernels
}  // namespace rtvoice

#endif  // RTVOICE_SRC_DENSE_KERNELS_H_
