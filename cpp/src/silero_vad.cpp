#include "rtvoice/silero_vad.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "dense_kernels.h"

namespace rtvoice {

namespace {
constexpr std::size_t kConvIn[4] = {129, 128, 64, 64};
constexpr std::size_t kConvOut[4] = {128, 64, 64, 128};
constexpr std::size_t kConvStride[4] = {1, 2, 2, 1};
constexpr std::size_t kKernel = 3;
constexpr std::size_t kGates = 4 * SileroVadModel::kHidden;
constexpr double kBasisTolerance = 1e-5;

// Input to the STFT: context + chunk + right reflection.
constexpr std::size_t kPadded = SileroVadModel::kContextSamples + SileroVadModel::kChunkSamples + 64;
constexpr std::size_t kFrames = (kPadded - SileroVadModel::kFftSize) / SileroVadModel::kHop + 1;  // 4

void CheckSize(const std::vector<float> &v, std::size_t expected, const std::string &name) {
  if (v.size() != expected)
    throw std::invalid_argument("SileroVadWeights " + name + " must have " + std::to_string(expected) +
                                " values, got " + std::to_string(v.size()));
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]))
      throw std::invalid_argument("SileroVadWeights " + name + " has a non-finite value at " + std::to_string(i));
  }
}

double PeriodicHann(std::size_t n, std::size_t size) {
  const double pi = 3.14159265358979323846;
  return 0.5 - 0.5 * std::cos(2.0 * pi * static_cast<double>(n) / static_cast<double>(size));
}

std::size_t OutFrames(std::size_t in_frames, std::size_t stride) { return (in_frames + 2 - kKernel) / stride + 1; }

LstmCell MakeLstm(const SileroVadWeights &w) {
  w.Validate();
  LstmConfig config;
  config.input_size = SileroVadModel::kHidden;
  config.hidden_size = SileroVadModel::kHidden;
  return LstmCell(config, w.lstm_weight_ih.data(), w.lstm_weight_hh.data(), w.lstm_bias_ih.data(),
                  w.lstm_bias_hh.data());
}

// y (out_frames x Cout) = ReLU(conv(x)), x is in_frames x Cin; `cols` is scratch for the im2col rows.
void ConvRelu(const SileroConvLayer &layer, const float *x, std::size_t in_frames, float *cols, float *y) {
  const std::size_t cin = layer.in_channels, cout = layer.out_channels;
  const std::size_t out_frames = OutFrames(in_frames, layer.stride);
  for (std::size_t t = 0; t < out_frames; ++t) {
    float *row = cols + t * kKernel * cin;
    for (std::size_t k = 0; k < kKernel; ++k) {
      // Input frame for tap k; zero padding of 1 on both sides.
      const std::ptrdiff_t s = static_cast<std::ptrdiff_t>(t * layer.stride + k) - 1;
      if (s < 0 || s >= static_cast<std::ptrdiff_t>(in_frames)) {
        std::memset(row + k * cin, 0, cin * sizeof(float));
      } else {
        std::memcpy(row + k * cin, x + static_cast<std::size_t>(s) * cin, cin * sizeof(float));
      }
    }
    std::memcpy(y + t * cout, layer.bias.data(), cout * sizeof(float));
  }
  kernels::MatMulAccumulate(cols, out_frames, kKernel * cin, layer.weight.data(), cout, y);
  kernels::Relu(y, out_frames * cout);
}
}  // namespace

// --- weights ----------------------------------------------------------------------------------------
void SileroVadWeights::Validate() const {
  const std::size_t n = SileroVadModel::kFftSize, bins = SileroVadModel::kBins;
  CheckSize(stft_basis, 2 * bins * n, "stft_basis (258, 1, 256)");
  for (int i = 0; i < 4; ++i) {
    const std::string name = "encoder." + std::to_string(i);
    CheckSize(conv_weight[i], kConvOut[i] * kConvIn[i] * kKernel,
              name + ".weight (" + std::to_string(kConvOut[i]) + ", " + std::to_string(kConvIn[i]) + ", 3)");
    CheckSize(conv_bias[i], kConvOut[i], name + ".bias");
  }
  CheckSize(lstm_weight_ih, kGates * SileroVadModel::kHidden, "rnn.weight_ih (512, 128)");
  CheckSize(lstm_weight_hh, kGates * SileroVadModel::kHidden, "rnn.weight_hh (512, 128)");
  CheckSize(lstm_bias_ih, kGates, "rnn.bias_ih (512)");
  CheckSize(lstm_bias_hh, kGates, "rnn.bias_hh (512)");
  CheckSize(out_weight, SileroVadModel::kHidden, "decoder.2.weight (1, 128, 1)");
  CheckSize(out_bias, 1, "decoder.2.bias (1)");

  // The STFT basis must be the periodic-Hann windowed DFT, or the FFT would compute something else.
  const double pi = 3.14159265358979323846;
  double worst = 0.0;
  for (std::size_t k = 0; k < bins; ++k) {
    for (std::size_t t = 0; t < n; ++t) {
      const double angle = 2.0 * pi * static_cast<double>((k * t) % n) / static_cast<double>(n);
      const double w = PeriodicHann(t, n);
      worst = std::max(worst, std::abs(stft_basis[k * n + t] - w * std::cos(angle)));
      worst = std::max(worst, std::abs(stft_basis[(bins + k) * n + t] + w * std::sin(angle)));
    }
  }
  if (worst > kBasisTolerance) {
    std::ostringstream os;
    os << "SileroVadWeights stft_basis is not a periodic-Hann 256-point DFT basis (max abs difference " << worst
       << "): not the silero_vad_16k_op15 model";
    throw std::invalid_argument(os.str());
  }
}

std::string SileroVadWeights::ToString() const {
  std::ostringstream os;
  os << "SileroVadWeights(stft_basis=" << stft_basis.size() << ", conv=[";
  for (int i = 0; i < 4; ++i) os << (i ? ", " : "") << conv_weight[i].size();
  os << "], lstm_weight_ih=" << lstm_weight_ih.size() << ", lstm_weight_hh=" << lstm_weight_hh.size()
     << ", out_weight=" << out_weight.size() << ")";
  return os.str();
}

// --- model ------------------------------------------------------------------------------------------
SileroVadModel::SileroVadModel(const SileroVadWeights &w) : lstm_(MakeLstm(w)) {
  for (int i = 0; i < 4; ++i) {
    SileroConvLayer &layer = conv_[i];
    layer.in_channels = kConvIn[i];
    layer.out_channels = kConvOut[i];
    layer.stride = kConvStride[i];
    layer.weight.assign(kKernel * kConvIn[i] * kConvOut[i], 0.0f);
    for (std::size_t co = 0; co < kConvOut[i]; ++co) {
      for (std::size_t ci = 0; ci < kConvIn[i]; ++ci) {
        for (std::size_t k = 0; k < kKernel; ++k) {
          layer.weight[(k * kConvIn[i] + ci) * kConvOut[i] + co] = w.conv_weight[i][(co * kConvIn[i] + ci) * kKernel + k];
        }
      }
    }
    layer.bias = w.conv_bias[i];
  }
  window_.resize(kFftSize);
  for (std::size_t t = 0; t < kFftSize; ++t) window_[t] = static_cast<float>(PeriodicHann(t, kFftSize));
  out_weight_ = w.out_weight;
  out_bias_ = w.out_bias[0];
}

// --- stream -----------------------------------------------------------------------------------------
SileroVad::SileroVad(std::shared_ptr<const SileroVadModel> model)
    : model_(std::move(model)), fft_(SileroVadModel::kFftSize) {
  if (!model_) throw std::invalid_argument("SileroVad needs a model");
  input_.assign(kPadded, 0.0f);
  frame_.assign(SileroVadModel::kFftSize, 0.0f);
  spectrum_.assign(SileroVadModel::kBins, {0.0f, 0.0f});
  std::size_t widest = 0;
  for (std::size_t i = 0; i < 4; ++i) widest = std::max(widest, kKernel * kConvIn[i]);
  im2col_.assign(kFrames * widest, 0.0f);
  act_a_.assign(kFrames * SileroVadModel::kBins, 0.0f);
  act_b_.assign(kFrames * SileroVadModel::kBins, 0.0f);
  h_.assign(SileroVadModel::kHidden, 0.0f);
  c_.assign(SileroVadModel::kHidden, 0.0f);
  lstm_workspace_.assign(model_->Lstm().WorkspaceSize(), 0.0f);
}

void SileroVad::Reset() {
  std::fill(input_.begin(), input_.end(), 0.0f);
  std::fill(h_.begin(), h_.end(), 0.0f);
  std::fill(c_.begin(), c_.end(), 0.0f);
  chunks_ = 0;
}

float SileroVad::Prob(const float *chunk) {
  constexpr std::size_t ctx = SileroVadModel::kContextSamples, len = SileroVadModel::kChunkSamples;
  constexpr std::size_t n = SileroVadModel::kFftSize, bins = SileroVadModel::kBins;
  // input_[0, 64) already holds the previous context.
  std::memcpy(input_.data() + ctx, chunk, len * sizeof(float));
  const std::size_t last = ctx + len - 1;  // reflect-pad 64 on the right (edge sample not repeated)
  for (std::size_t j = 0; j < 64; ++j) input_[last + 1 + j] = input_[last - 1 - j];

  // STFT magnitudes: frames x 129 into act_a_.
  const float *window = model_->Window().data();
  for (std::size_t f = 0; f < kFrames; ++f) {
    const float *src = input_.data() + f * SileroVadModel::kHop;
    for (std::size_t t = 0; t < n; ++t) frame_[t] = src[t] * window[t];
    fft_.Forward(frame_.data(), spectrum_.data());
    float *mag = act_a_.data() + f * bins;
    for (std::size_t k = 0; k < bins; ++k) {
      const float re = spectrum_[k].real(), im = spectrum_[k].imag();
      mag[k] = std::sqrt(re * re + im * im);
    }
  }
  // The next chunk's context: the last 64 samples of this input.
  std::memmove(input_.data(), input_.data() + len, ctx * sizeof(float));

  // Encoder: a -> b -> a -> b -> a.
  std::size_t frames = kFrames;
  float *in = act_a_.data(), *out = act_b_.data();
  for (int i = 0; i < 4; ++i) {
    const SileroConvLayer &layer = model_->Conv(i);
    ConvRelu(layer, in, frames, im2col_.data(), out);
    frames = OutFrames(frames, layer.stride);
    std::swap(in, out);
  }

  // Decoder: LSTM over the encoder frames, ReLU, 1x1 conv, sigmoid, mean over frames.
  const LstmCell &lstm = model_->Lstm();
  const float *wout = model_->OutWeight().data();
  double sum = 0.0;
  for (std::size_t t = 0; t < frames; ++t) {
    lstm.Step(in + t * SileroVadModel::kHidden, h_.data(), c_.data(), lstm_workspace_.data());
    float z = model_->OutBias();
    for (std::size_t j = 0; j < SileroVadModel::kHidden; ++j) z += wout[j] * std::max(h_[j], 0.0f);
    sum += 1.0 / (1.0 + std::exp(-static_cast<double>(z)));
  }
  ++chunks_;
  return static_cast<float>(sum / static_cast<double>(frames));
}

}  // namespace rtvoice
