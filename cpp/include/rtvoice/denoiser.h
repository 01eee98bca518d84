// Streaming single-channel speech enhancement: OM-LSA gain, minima-controlled noise tracking.
//
// Short-time Fourier analysis with a 10 ms hop and a square-root periodic Hann window of `window_ms`
// (2, 3 or 4 hops), weighted overlap-add synthesis with the same window. Per frequency bin and frame:
//
//   - Speech-presence probability p: IMCRA (Cohen 2003, "Noise spectrum estimation in adverse
//     environments: improved minima controlled recursive averaging"): two iterations of time-frequency
//     smoothing and minimum search over `min_search_s` (8 sub-windows), giving the a-priori
//     speech-absence probability q, and p from q and the likelihood ratio.
//   - Noise power lambda: recursive averaging steered by the speech-presence posterior of the noisy
//     power against lambda itself (Gerkmann & Hendriks 2012, "Unbiased MMSE-based noise power
//     estimation with low complexity and low tracking delay"), bounded by minimum statistics:
//     Bmin * Smin <= lambda <= c * Bmin * Smin, Smin the minimum of a periodogram smoothed with fast
//     release. The lower bound makes a rise in noise level tracked within one search window
//     (about min_search_s * 9/8); the upper bound keeps speech from leaking into lambda. c is 32 in
//     noise and closes to 2 as the long-term SNR rises from clean_snr_lo_db to clean_snr_hi_db.
//   - Gain: the log-spectral-amplitude MMSE gain (Ephraim & Malah 1985) with a decision-directed
//     a-priori SNR, weighted by p as in OM-LSA (Cohen & Berdugo 2001): G = G_H1^p * G_floor^(1-p).
//     Weighting by p keeps the residual noise smooth (no musical noise): isolated noise peaks have a
//     low p and get the floor. G_floor is gain_floor_db in noise and relaxes to 0 dB (no suppression
//     at all) as the long-term SNR rises over the same range, so clean speech passes untouched.
//     Bins below low_cut_hz (no speech there) get the floor.
//
// Output sample t is the enhanced input sample t - LatencySamples() (one window minus one sample).
// Process() accepts any number of samples and gives the same output whatever the chunking; after
// construction it never allocates, locks or throws.
#ifndef RTVOICE_DENOISER_H_
#define RTVOICE_DENOISER_H_

#include <complex>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rtvoice/fft.h"

namespace rtvoice {

struct DenoiserConfig {
  int sample_rate = 16000;          // Hz: 16000 or 48000
  int window_ms = 40;               // analysis window (ms): 20, 30 or 40; latency is one window
  float gain_floor_db = -25.0f;     // gain where speech is absent, in noise (dB, < 0)
  float min_apriori_snr_db = -18.0f;  // lower bound of the decision-directed a-priori SNR (dB)
  float dd_alpha = 0.92f;           // decision-directed smoothing factor (0..1)
  float min_search_s = 1.2f;        // minimum-statistics search window (s)
  float low_cut_hz = 60.0f;         // bins below this get the floor gain (Hz; 0 = off)
  float clean_snr_lo_db = 20.0f;    // long-term SNR (dB) up to which suppression is full ...
  float clean_snr_hi_db = 30.0f;    // ... and from which the input passes unchanged

  void Validate() const;  // throws std::invalid_argument
  std::string ToString() const;
};

class Denoiser {
 public:
  explicit Denoiser(const DenoiserConfig &config);
  Denoiser(const Denoiser &) = delete;
  Denoiser &operator=(const Denoiser &) = delete;

  // Enhances n samples of `in` into exactly n samples of `out` (in == out is allowed), delayed by
  // LatencySamples(). Non-finite input samples are replaced by 0 and counted.
  void Process(const float *in, std::size_t n, float *out) noexcept;

  std::size_t LatencySamples() const { return window_ - 1; }
  std::size_t HopSamples() const { return hop_; }
  std::size_t WindowSamples() const { return window_; }
  // Non-finite samples replaced by 0 since construction or Reset().
  std::uint64_t NonFiniteSamples() const { return non_finite_; }
  // Frames (hops) processed since construction or Reset().
  std::uint64_t FramesProcessed() const { return frames_; }
  // Long-term SNR estimate (dB) and the floor gain it gives (dB), as of the last frame.
  float LongTermSnrDb() const { return snr_db_; }
  float FloorGainDb() const { return floor_db_; }

  // Back to the state right after construction.
  void Reset();
  const DenoiserConfig &Config() const { return config_; }

 private:
  // Running minimum over the last few sub-windows of a per-bin sequence (Martin 2001 / Cohen 2003).
  struct MinimumSearch {
    std::vector<float> min, sub_min, stored;  // bins, bins, sub_windows x bins
    void Fill(std::size_t bins, int sub_windows, float value);
    void Update(const float *s, std::size_t bins);
    void Rotate(const float *s, std::size_t bins, int sub_windows, int slot);
  };

  void ProcessFrame();
  void Initialise();
  void UpdateGains();

  DenoiserConfig config_;
  std::size_t hop_, window_, bins_, padded_;  // padded_: bins_ rounded up to a multiple of 4
  int sub_window_frames_;
  float gain_floor_log_, min_apriori_snr_, synthesis_scale_;
  std::size_t low_cut_bins_;

  RealFft fft_;
  std::vector<float> window_fn_;           // sqrt periodic Hann, window_ samples
  std::vector<float> input_;               // the last window_ input samples
  std::vector<float> overlap_;             // overlap-add accumulator, window_ samples
  std::vector<float> ready_;               // finished output of the last frame, hop_ samples
  std::vector<float> frame_;               // scratch, window_ samples
  std::vector<std::complex<float>> spec_;  // scratch, bins_

  // Per-bin state, padded_ each.
  std::vector<float> power_, smoothed_f_;          // |Y|^2 and its frequency smoothing
  std::vector<float> s_, s_tilde_, s_fast_;        // smoothed periodograms (IMCRA 1st, 2nd; floor)
  std::vector<float> indicator_, presence_, likelihood_;
  std::vector<float> noise_, spp_bar_;             // noise power estimate, smoothed noise-update SPP
  std::vector<float> gamma_prev_, gain_h1_prev_, log_gain_h1_, gain_, scratch_num_, scratch_den_;
  MinimumSearch min_s_, min_tilde_, min_fast_;

  std::size_t pos_ = 0;  // samples of the current hop received
  int sub_window_count_ = 0, stored_next_ = 0, rotations_ = 0;
  bool initialised_ = false;
  float frame_power_ = 0.0f, speech_db_ = -200.0f, snr_db_ = 0.0f, floor_db_ = 0.0f;
  std::uint64_t frames_ = 0, non_finite_ = 0;
};

}  // namespace rtvoice

#endif  // RTVOICE_DENOISER_H_
