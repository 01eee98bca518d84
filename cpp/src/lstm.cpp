#include "rtvoice/lstm.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "dense_kernels.h"

namespace rtvoice {

namespace {
constexpr std::size_t kMaxLstmSize = 8192;

void CheckFinite(const float *p, std::size_t n, const char *what) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) throw std::invalid_argument(std::string("LstmCell ") + what + " has a non-finite value");
  }
}
}  // namespace

void LstmConfig::Validate() const {
  if (input_size == 0 || input_size > kMaxLstmSize)
    throw std::invalid_argument("LstmConfig input_size must be in [1, 8192], got " + std::to_string(input_size));
  if (hidden_size == 0 || hidden_size > kMaxLstmSize)
    throw std::invalid_argument("LstmConfig hidden_size must be in [1, 8192], got " + std::to_string(hidden_size));
}

std::string LstmConfig::ToString() const {
  std::ostringstream os;
  os << "LstmConfig(input_size=" << input_size << ", hidden_size=" << hidden_size << ")";
  return os.str();
}

LstmCell::LstmCell(const LstmConfig &config, const float *weight_ih, const float *weight_hh, const float *bias_ih,
                   const float *bias_hh)
    : input_(config.input_size), hidden_(config.hidden_size) {
  config.Validate();
  if (weight_ih == nullptr || weight_hh == nullptr) throw std::invalid_argument("LstmCell weights must not be null");
  const std::size_t gates = 4 * hidden_;
  CheckFinite(weight_ih, gates * input_, "weight_ih");
  CheckFinite(weight_hh, gates * hidden_, "weight_hh");
  if (bias_ih) CheckFinite(bias_ih, gates, "bias_ih");
  if (bias_hh) CheckFinite(bias_hh, gates, "bias_hh");

  weights_.assign((input_ + hidden_) * gates, 0.0f);
  for (std::size_t g = 0; g < gates; ++g) {
    for (std::size_t i = 0; i < input_; ++i) weights_[i * gates + g] = weight_ih[g * input_ + i];
    for (std::size_t k = 0; k < hidden_; ++k) weights_[(input_ + k) * gates + g] = weight_hh[g * hidden_ + k];
  }
  bias_.assign(gates, 0.0f);
  for (std::size_t g = 0; g < gates; ++g) {
    // Same association as PyTorch's reference formula: (W_ih x + b_ih) + (W_hh h + b_hh) differs from
    // this only in rounding.
    bias_[g] = (bias_ih ? bias_ih[g] : 0.0f) + (bias_hh ? bias_hh[g] : 0.0f);
  }
}

void LstmCell::Step(const float *x, float *h, float *c, float *workspace) const {
  const std::size_t gates = 4 * hidden_;
  float *xh = workspace;                     // [x | h], I + H
  float *pre = workspace + input_ + hidden_;  // 4H gate pre-activations
  std::memcpy(xh, x, input_ * sizeof(float));
  std::memcpy(xh + input_, h, hidden_ * sizeof(float));
  std::memcpy(pre, bias_.data(), gates * sizeof(float));
  kernels::MatMulAccumulate(xh, 1, input_ + hidden_, weights_.data(), gates, pre);
  kernels::LstmPointwise(pre, hidden_, h, c);
}

void LstmCell::Run(const float *x, std::size_t steps, float *h, float *c, float *out, float *workspace) const {
  for (std::size_t t = 0; t < steps; ++t) {
    Step(x + t * input_, h, c, workspace);
    if (out) std::memcpy(out + t * hidden_, h, hidden_ * sizeof(float));
  }
}

const char *DenseKernelIsa() { return kernels::KernelIsa(); }

}  // namespace rtvoice
