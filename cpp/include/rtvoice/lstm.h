// LSTM cell with explicit (h, c) state, PyTorch semantics.
//
// Weights come in PyTorch's layout and gate order (i, f, g, o):
//   weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H), bias_hh (4H), all row-major float32.
// One step computes
//   gates = W_ih x + b_ih + W_hh h + b_hh,  [i f g o] = gates split in four blocks of H
//   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),  h' = sigmoid(o) * tanh(c').
// The constructor copies the weights once into one contiguous matrix [W_ih | W_hh]^T of shape
// (I + H, 4H) with the two biases summed, so a step is a single vectorised matrix-vector product
// followed by a vectorised pointwise update. The cell is immutable after construction: any number of
// streams (threads) may share it, each with its own state and workspace. Step() never allocates.
#ifndef RTVOICE_LSTM_H_
#define RTVOICE_LSTM_H_

#include <cstddef>
#include <string>
#include <vector>

namespace rtvoice {

struct LstmConfig {
  std::size_t input_size = 128;   // I
  std::size_t hidden_size = 128;  // H

  void Validate() const;  // throws std::invalid_argument
  std::string ToString() const;
};

class LstmCell {
 public:
  // weight_ih: 4H*I floats, weight_hh: 4H*H floats; bias_ih, bias_hh: 4H floats each, or null (zeros).
  // Throws std::invalid_argument for a bad config, null weights or non-finite values.
  LstmCell(const LstmConfig &config, const float *weight_ih, const float *weight_hh, const float *bias_ih,
           const float *bias_hh);

  std::size_t InputSize() const { return input_; }
  std::size_t HiddenSize() const { return hidden_; }
  // Floats of scratch space Step() and Run() need.
  std::size_t WorkspaceSize() const { return input_ + hidden_ + 4 * hidden_; }

  // One time step: x has I values; h and c (H values each) hold the state and are overwritten with the
  // new state. workspace: WorkspaceSize() floats, not aliasing anything else.
  void Step(const float *x, float *h, float *c, float *workspace) const;

  // `steps` time steps over x (steps x I, row-major). h and c carry the state in and out; if `out` is
  // not null it receives every step's h (steps x H).
  void Run(const float *x, std::size_t steps, float *h, float *c, float *out, float *workspace) const;

 private:
  std::size_t input_;
  std::size_t hidden_;
  std::vector<float> weights_;  // (I + H) x 4H: row r < I is column r of W_ih, row I + k column k of W_hh
  std::vector<float> bias_;     // 4H: bias_ih + bias_hh
};

// The instruction set the dense kernels (LSTM, Silero VAD) run with on this CPU: "avx+fma" or
// "baseline" (SSE2 on x86-64). Chosen once per process; RTVOICE_KERNELS=baseline forces the baseline.
const char *DenseKernelIsa();

}  // namespace rtvoice

#endif  // RTVOICE_LSTM_H_
