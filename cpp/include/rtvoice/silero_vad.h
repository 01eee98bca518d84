// Silero VAD (v5, 16 kHz) computed natively.
//
// The network, per 512-sample chunk (32 ms at 16 kHz), exactly as the ONNX graph
// silero_vad_16k_op15.onnx computes it when driven the way the silero package drives it:
//   x = [last 64 samples of the previous input (zeros at the start) | 512 new samples]   (576)
//   reflect-pad 64 samples on the right                                                  (640)
//   STFT: 4 frames of 256 samples, hop 128, periodic Hann window, magnitude of 129 bins
//   conv 129->128 (k3, s1) -> conv 128->64 (k3, s2) -> conv 64->64 (k3, s2) -> conv 64->128 (k3, s1),
//     all zero-padded by 1, ReLU after each                                          (1 frame x 128)
//   LSTMCell(128, 128) with (h, c) carried from chunk to chunk
//   ReLU -> 1x1 conv 128->1 -> sigmoid -> mean over frames = speech probability
// The graph's STFT is a convolution with a 258 x 256 basis; that basis is exactly a periodic-Hann
// windowed 256-point DFT (cosine rows, then minus-sine rows), which SileroVadModel checks, so an FFT
// computes the same magnitudes.
//
// SileroVadModel holds the repacked weights and is immutable (share one across streams and threads);
// SileroVad is one stream's state (context, h, c) and scratch. Prob() never allocates.
#ifndef RTVOICE_SILERO_VAD_H_
#define RTVOICE_SILERO_VAD_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "rtvoice/fft.h"
#include "rtvoice/lstm.h"

namespace rtvoice {

// The initializers of silero_vad_16k_op15.onnx, in their ONNX (PyTorch) layouts, row-major float32.
struct SileroVadWeights {
  std::vector<float> stft_basis;       // model.stft.forward_basis_buffer            (258, 1, 256)
  std::vector<float> conv_weight[4];   // model.encoder.{0..3}.reparam_conv.weight   (Cout, Cin, 3)
  std::vector<float> conv_bias[4];     // model.encoder.{0..3}.reparam_conv.bias     (Cout)
  std::vector<float> lstm_weight_ih;   // model.decoder.rnn.weight_ih                (512, 128)
  std::vector<float> lstm_weight_hh;   // model.decoder.rnn.weight_hh                (512, 128)
  std::vector<float> lstm_bias_ih;     // model.decoder.rnn.bias_ih                  (512)
  std::vector<float> lstm_bias_hh;     // model.decoder.rnn.bias_hh                  (512)
  std::vector<float> out_weight;       // model.decoder.decoder.2.weight             (1, 128, 1)
  std::vector<float> out_bias;         // model.decoder.decoder.2.bias               (1)

  // Sizes, finiteness, and that stft_basis is the periodic-Hann DFT basis (max abs error 1e-5).
  // Throws std::invalid_argument naming the first problem.
  void Validate() const;
  std::string ToString() const;
};

// One convolution layer of the encoder, weights repacked for kernels::MatMulAccumulate.
struct SileroConvLayer {
  std::size_t in_channels = 0, out_channels = 0, stride = 1;
  std::vector<float> weight;  // (3 * in_channels, out_channels): row k * Cin + ci
  std::vector<float> bias;    // out_channels
};

class SileroVadModel {
 public:
  static constexpr int kSampleRate = 16000;
  static constexpr std::size_t kChunkSamples = 512;
  static constexpr std::size_t kContextSamples = 64;
  static constexpr std::size_t kFftSize = 256;
  static constexpr std::size_t kHop = 128;
  static constexpr std::size_t kBins = kFftSize / 2 + 1;
  static constexpr std::size_t kHidden = 128;

  explicit SileroVadModel(const SileroVadWeights &weights);  // validates

  const SileroConvLayer &Conv(int i) const { return conv_[i]; }
  const LstmCell &Lstm() const { return lstm_; }
  const std::vector<float> &Window() const { return window_; }  // periodic Hann, 256
  const std::vector<float> &OutWeight() const { return out_weight_; }
  float OutBias() const { return out_bias_; }

 private:
  SileroConvLayer conv_[4];
  LstmCell lstm_;
  std::vector<float> window_;
  std::vector<float> out_weight_;
  float out_bias_ = 0.0f;
};

class SileroVad {
 public:
  static constexpr std::size_t kChunkSamples = SileroVadModel::kChunkSamples;

  explicit SileroVad(std::shared_ptr<const SileroVadModel> model);
  SileroVad(const SileroVad &) = delete;
  SileroVad &operator=(const SileroVad &) = delete;

  // Speech probability of the next kChunkSamples samples (16 kHz, nominally in [-1, 1]). Updates the
  // 64-sample context and the LSTM state. Samples must be finite (the caller checks; a NaN would poison
  // the state until Reset()).
  float Prob(const float *chunk);

  // Back to the start of a stream: zero context, zero LSTM state.
  void Reset();

  std::size_t ChunksProcessed() const { return chunks_; }
  const float *H() const { return h_.data(); }  // LSTM state, kHidden each
  const float *C() const { return c_.data(); }
  const std::shared_ptr<const SileroVadModel> &Model() const { return model_; }

 private:
  std::shared_ptr<const SileroVadModel> model_;
  RealFft fft_;
  std::vector<float> input_;     // context + chunk + reflection (640)
  std::vector<float> frame_;     // 256 windowed samples
  std::vector<std::complex<float>> spectrum_;  // 129 bins
  std::vector<float> im2col_;    // scratch: frames x (3 * Cin) for the widest layer
  std::vector<float> act_a_, act_b_;  // activations (frames x channels)
  std::vector<float> h_, c_, lstm_workspace_;
  std::size_t chunks_ = 0;
};

}  // namespace rtvoice

#endif  // RTVOICE_SILERO_VAD_H_
