// Speech features: Kaldi-compatible filter-bank and MFCC (option names and defaults as in
// kaldi-native-fbank, except dither which defaults to 0 so output is deterministic), and Whisper's
// log-mel spectrogram.
#ifndef RTVOICE_FEATURES_H_
#define RTVOICE_FEATURES_H_

#include <complex>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "rtvoice/fft.h"
#include "rtvoice/framer.h"
#include "rtvoice/mel.h"

namespace rtvoice {

struct FrameExtractionOptions {
  float samp_freq = 16000.0f;      // Hz
  float frame_shift_ms = 10.0f;    // ms
  float frame_length_ms = 25.0f;   // ms
  float dither = 0.0f;             // Gaussian dither amplitude (0: off, deterministic)
  float preemph_coeff = 0.97f;
  bool remove_dc_offset = true;
  std::string window_type = "povey";  // hann|hanning, hamming, povey, rectangular, blackman
  bool round_to_power_of_two = true;
  float blackman_coeff = 0.42f;
  bool snip_edges = true;

  std::size_t WindowShift() const;       // samples
  std::size_t WindowSize() const;        // samples
  std::size_t PaddedWindowSize() const;  // samples (FFT size)
  void Validate() const;
  std::string ToString() const;
};

struct FbankOptions {
  FrameExtractionOptions frame_opts;
  MelBanksOptions mel_opts;  // num_bins defaults to 23 here, as in Kaldi's fbank
  bool use_energy = false;
  float energy_floor = 0.0f;
  bool raw_energy = true;
  bool htk_compat = false;
  bool use_log_fbank = true;
  bool use_power = true;

  FbankOptions() { mel_opts.num_bins = 23; }
  std::size_t Dim() const;
  void Validate() const;
  std::string ToString() const;
};

struct MfccOptions {
  FrameExtractionOptions frame_opts;
  MelBanksOptions mel_opts;
  int num_ceps = 13;
  bool use_energy = true;
  float energy_floor = 0.0f;
  bool raw_energy = true;
  float cepstral_lifter = 22.0f;
  bool htk_compat = false;

  MfccOptions() { mel_opts.num_bins = 23; }
  std::size_t Dim() const { return static_cast<std::size_t>(num_ceps); }
  void Validate() const;
  std::string ToString() const;
};

// Kaldi's per-frame processing shared by fbank and MFCC: dither, DC removal, raw log-energy,
// pre-emphasis, window, zero-pad, power spectrum.
class KaldiFrameProcessor {
 public:
  explicit KaldiFrameProcessor(const FrameExtractionOptions &opts);
  // frame: WindowSize() raw samples (modified in place). Fills PowerSpectrum(); returns the log
  // energy of the frame (raw: before pre-emphasis and window; else after windowing).
  float Process(float *frame, bool raw_energy);
  // Non-const: fbank may take its square root in place (use_power=false).
  std::vector<float> &PowerSpectrum() { return power_; }
  const FrameExtractionOptions &Options() const { return opts_; }

 private:
  FrameExtractionOptions opts_;
  std::vector<float> window_;
  std::vector<float> padded_;
  std::vector<std::complex<float>> spectrum_;
  std::vector<float> power_;
  RealFft fft_;
  std::mt19937 rng_{0};
  std::normal_distribution<float> gauss_{0.0f, 1.0f};
};

// Streaming computer for one feature kind: AcceptWaveform any chunking, then PopFrames.
class FeatureComputer {
 public:
  virtual ~FeatureComputer() = default;
  virtual std::size_t Dim() const = 0;
  void AcceptWaveform(const float *samples, std::size_t n) { framer_->AcceptWaveform(samples, n); }
  void InputFinished() { framer_->InputFinished(); }
  std::int64_t NumFramesReady() const { return framer_->NumFramesReady() - framer_->FramesPopped(); }
  // Appends every ready frame's features (Dim() values each) to `out`; returns how many frames.
  std::size_t PopFrames(std::vector<float> *out);
  void Reset() { framer_->Reset(); }

 protected:
  explicit FeatureComputer(const FrameExtractionOptions &frame_opts);
  virtual void ComputeFrame(float *raw_frame, float *features) = 0;
  KaldiFrameProcessor processor_;

 private:
  std::unique_ptr<Framer> framer_;
  std::vector<float> raw_;
};

class Fbank : public FeatureComputer {
 public:
  explicit Fbank(const FbankOptions &opts);
  std::size_t Dim() const override { return opts_.Dim(); }
  const FbankOptions &Options() const { return opts_; }
  const MelBank &Bank() const { return bank_; }

 private:
  void ComputeFrame(float *raw_frame, float *features) override;
  FbankOptions opts_;
  MelBank bank_;
  std::vector<float> mel_;
};

class Mfcc : public FeatureComputer {
 public:
  explicit Mfcc(const MfccOptions &opts);
  std::size_t Dim() const override { return opts_.Dim(); }
  const MfccOptions &Options() const { return opts_; }

 private:
  void ComputeFrame(float *raw_frame, float *features) override;
  MfccOptions opts_;
  MelBank bank_;
  std::vector<float> mel_;
  std::vector<float> dct_;     // (num_ceps, num_bins) row-major
  std::vector<float> lifter_;  // num_ceps
};

struct WhisperLogMelConfig {
  int n_mels = 80;           // 80 (tiny..large-v2) or 128 (large-v3)
  int sample_rate = 16000;   // Hz
  int n_fft = 400;           // samples
  int hop_length = 160;      // samples

  void Validate() const;
  std::string ToString() const;
};

// OpenAI Whisper's log_mel_spectrogram: centred STFT (reflect padding n_fft/2), periodic Hann, power,
// Slaney mel filters, log10 clamped at 1e-10 and at (max - 8), then (x + 4) / 4. The last STFT frame is
// dropped, so N samples give N / hop_length frames.
class WhisperLogMel {
 public:
  explicit WhisperLogMel(const WhisperLogMelConfig &config);
  std::size_t NumFrames(std::size_t num_samples) const { return num_samples / config_.hop_length; }
  // out: (n_mels, NumFrames(n)) row-major.
  void Compute(const float *audio, std::size_t n, float *out);
  const MelBank &Bank() const { return bank_; }
  const WhisperLogMelConfig &Config() const { return config_; }

 private:
  WhisperLogMelConfig config_;
  MelBank bank_;
  RealFft fft_;
  std::vector<float> window_;
  std::vector<float> frame_;
  std::vector<std::complex<float>> spectrum_;
  std::vector<float> power_;
  std::vector<float> mel_;
};

}  // namespace rtvoice

#endif  // RTVOICE_FEATURES_H_
