// Streaming single-channel speech enhancement: OM-LSA gain with IMCRA noise tracking.
//
// Short-time Fourier analysis with a 10 ms hop and a square-root periodic Hann window of
// `window_ms` (a whole number of hops), weighted overlap-add synthesis with the same window.
// Per frequency bin and frame:
//   - noise power: IMCRA (Cohen 2003, "Noise spectrum estimation in adverse environments: improved
//     minima controlled recursive averaging"): two iterations of smoothing and minimum tracking over
//     `min_search_s` split into 8 sub-windows, a speech-presence probability from them, and a
//     recursive average of the noisy power steered by that probability. A rise in noise level is
//     followed within about min_search_s * 9/8 plus a few frames; a fall at once.
//   - gain: the log-spectral-amplitude MMSE gain (Ephraim & Malah 1985) under speech presence, with a
//     decision-directed a-priori SNR, combined with the floor as in OM-LSA (Cohen & Berdugo 2001):
//     G = G_H1^p * G_floor^(1-p), p the speech-presence probability. Weighting by p is what keeps the
//     residual noise smooth (no musical noise): isolated noise peaks have low p and get the floor.
//
// Output sample t is the enhanced input sample t - LatencySamples(); LatencySamples() is one window
// minus one sample. Process() accepts any number of samples and gives the same output whatever the
// chunking; after construction it never allocates, locks or throws.
#ifndef RTVOICE_DENOISER_H_
#define RTVOICE_DENOISER_H_

#include <complex>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rtvoice/fft.h"

namespace rtvoice {

struct DenoiserConfig {
  int sample_rate = 16000;          // Hz: 16000 or 48000
  int window_ms = 20;               // analysis window, ms: 20, 30 or 40 (2, 3 or 4 hops of 10 ms)
  float gain_floor_db = -18.0f;     // attenuation where speech is absent (dB, < 0)
  float min_apriori_snr_db = -18.0f;  // lower bound of the a-priori SNR estimate (dB)
  float dd_alpha = 0.92f;           // decision-directed smoothing of the a-priori SNR (0..1)
  float noise_overestimate = 1.47f; // IMCRA bias factor beta applied to the averaged noise power (>= 1)
  float min_search_s = 1.2f;        // minimum-statistics search window (s); sets tracking speed
  float min_floor = 0.0f;  // EXPERIMENT
  float low_cut_hz = 0.0f;
  float lf_gate_hz = 0.0f, band_lo_hz = 300.0f, band_hi_hz = 3000.0f, gate_release = 0.9f, gate_lo = 0.05f, gate_hi = 0.3f; bool gate_all = false;
  bool init_on_silence = false; float clean_snr_db = 0.0f, level_attack = 0.3f, level_release_db = 0.01f;
  float alpha_s = 0.9f, alpha_s_down = 0.9f, bmin = 1.66f, alpha_d = 0.85f;
  float noise_cap = 0.0f, clean_snr_hi_db = 0.0f; bool snr_ref_min = false; float noise_cap_clean = 0.0f; bool no_floor_relax = false;
  bool start_silent = false; int startup_frames = 0;
  int noise_mode = 0; float gh_xi_db = 15.0f, gh_alpha = 0.8f;
  int presence_mode = 0;            // EXPERIMENT 0 imcra, 1 omlsa, 2 product
  float frame_lo_hz = 0.0f, frame_hi_hz = 8000.0f, global_hz = 500.0f;
  float zeta_min_db = -10.0f, zeta_max_db = -5.0f;

  void Validate() const;  // throws std::invalid_argument
  std::string ToString() const;
};

class Denoiser {
 public:
  explicit Denoiser(const DenoiserConfig &config);
  Denoiser(const Denoiser &) = delete;
  Denoiser &operator=(const Denoiser &) = delete;

  // Enhances n samples of `in` into exactly n samples of `out` (in == out is allowed). Output is
  // delayed by LatencySamples(). Non-finite input samples are replaced by 0 and counted.
  void Process(const float *in, std::size_t n, float *out) noexcept;

  std::size_t LatencySamples() const { return window_ - 1; }
  std::size_t HopSamples() const { return hop_; }
  std::size_t WindowSamples() const { return window_; }
  // Non-finite samples replaced by 0 since construction or Reset().
  std::uint64_t NonFiniteSamples() const { return non_finite_; }
  // Frames processed since construction or Reset().
  std::uint64_t FramesProcessed() const { return frames_; }

  // Back to the state right after construction.
  void Reset();
  std::vector<float> DebugState(int which) const { switch (which) { case 0: return noise_; case 1: return presence_; case 2: return gain_; case 3: return power_; case 4: return s_min_; case 6: return s_; case 7: return s_tilde_; case 8: return s_min_tilde_; case 9: return indicator_; default: return gh_noise_; } }
  const DenoiserConfig &Config() const { return config_; }

 private:
  void ProcessFrame();
  void InitNoise(const float *sf);
  void UpdateGains();
  void OmlsaPresence();

  DenoiserConfig config_;
  std::size_t hop_, window_, bins_;
  int sub_windows_ = 8, sub_window_frames_;
  float gain_floor_log_, min_apriori_snr_, synthesis_scale_;

  RealFft fft_;
  std::vector<float> window_fn_;           // sqrt periodic Hann, window_ samples
  std::vector<float> input_;               // the last window_ input samples
  std::vector<float> overlap_;             // overlap-add accumulator, window_ samples
  std::vector<float> ready_;               // finished output of the last frame, hop_ samples
  std::vector<float> frame_;               // scratch, window_ samples
  std::vector<std::complex<float>> spec_;  // scratch, bins_

  // Per-bin state (bins_ each).
  std::vector<float> power_, smoothed_f_, s_, s_tilde_, s_min_, s_min_sw_, s_min_tilde_, s_min_tilde_sw_;
  std::vector<float> indicator_, noise_avg_, noise_, gamma_prev_, gain_h1_prev_, log_gain_h1_, likelihood_, gain_, eta_, zeta_, zeta_local_, zeta_global_, global_w_;
  float zeta_frame_prev_ = 0.0f, zeta_peak_ = 1.0f;
  std::vector<float> gh_noise_, gh_pbar_, presence_, s_c_, s_c_min_, s_c_sw_, stored_c_;
  float frame_presence_ = 0.0f, frame_total_ = 0.0f, speech_db_ = -200.0f, floor_db_ = 0.0f, snr_db_ = 0.0f;
 public:
  float SnrDb() const { return snr_db_; }
  float FloorDb() const { return floor_db_; }
  float SpeechDb() const { return speech_db_; }
 private:
  std::vector<float> stored_min_, stored_min_tilde_;  // sub_windows_ x bins_

  std::size_t pos_ = 0;  // samples of the current hop received
  int sub_window_count_ = 0, stored_next_ = 0, rotations_ = 0;
  bool initialised_ = false;
  std::uint64_t frames_ = 0, non_finite_ = 0;
};

}  // namespace rtvoice

#endif  // RTVOICE_DENOISER_H_
