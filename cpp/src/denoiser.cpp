#include "rtvoice/denoiser.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace rtvoice {

namespace {

// IMCRA (Cohen 2003, table I), for a search window of about 1.2 s in 8 sub-windows.
constexpr float kAlphaS = 0.9f;   // time smoothing of the frequency-smoothed periodogram
constexpr float kBmin = 1.66f;    // bias of the minimum of the smoothed periodogram
constexpr float kGamma0 = 4.6f;   // a-posteriori SNR threshold of the rough speech-absence decision
constexpr float kGamma1 = 3.0f;   // upper threshold of the soft a-priori speech-absence probability
constexpr float kZeta0 = 1.67f;   // threshold of the smoothed power / minimum ratio
constexpr float kQMax = 0.98f;    // largest a-priori speech-absence probability
constexpr int kSubWindows = 8;
// Startup: the first kSubWindows sub-windows are this many frames long, so the minima (and with them
// the noise estimate, which starts at zero) settle within about 0.25 s.
constexpr int kStartupSubWindowFrames = 3;
// Minimum statistics for the noise bounds: smoothing that follows falls of the periodogram faster
// than rises, so the minimum reaches the floor within short speech pauses.
constexpr float kAlphaFastFall = 0.5f;
// Noise update (Gerkmann & Hendriks 2012): fixed a-priori SNR of the speech-presence hypothesis,
// recursive averaging, and the guard against stagnation.
constexpr float kSppXi = 31.622777f;  // 15 dB
constexpr float kNoiseAlpha = 0.9f;
constexpr float kSppBarAlpha = 0.9f;
constexpr float kSppStagnation = 0.99f;
// Upper bound of the noise estimate over Bmin * minimum, in noise and in clean speech.
constexpr float kNoiseCapNoisy = 32.0f;
constexpr float kNoiseCapClean = 2.0f;
// Long-term speech level: follows the frame power up (factor per frame) and falls 1 dB/s.
constexpr float kLevelAttack = 0.3f;
constexpr float kLevelReleaseDbPerFrame = 0.01f;
// Power below which a bin is treated as digital silence (float samples in [-1, 1]); also keeps the
// recursive averages out of denormal range.
constexpr float kPowerEps = 1e-14f;

inline float BitsToFloat(std::int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}
inline std::int32_t FloatToBits(float f) {
  std::int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

// e^x, relative error < 2e-6 for x in [-87, 88] (clamped outside); branch-free so loops vectorise.
inline float FastExp(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float t = x * 1.44269504f;  // log2(e)
  std::int32_t i = static_cast<std::int32_t>(t);
  i -= (t < static_cast<float>(i)) ? 1 : 0;  // floor
  const float f = t - static_cast<float>(i);  // [0, 1)
  // 2^f: Taylor series of e^(f ln 2) to degree 6.
  const float p =
      1.0f +
      f * (0.693147181f +
           f * (0.240226507f +
                f * (0.0555041087f + f * (0.00961812911f + f * (0.00133335581f + f * 0.000154035304f)))));
  return p * BitsToFloat((i + 127) << 23);
}

// ln x for normal x > 0, absolute error < 1e-6.
inline float FastLog(float x) {
  const std::int32_t bits = FloatToBits(x);
  std::int32_t e = ((bits >> 23) & 0xff) - 127;
  float m = BitsToFloat((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
  const bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e += big ? 1 : 0;
  const float s = (m - 1.0f) / (m + 1.0f);  // |s| < 0.172
  const float s2 = s * s;
  const float log_m = 2.0f * s * (1.0f + s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9)))));
  return static_cast<float>(e) * 0.693147181f + log_m;
}

// Exponential integral E1(v), v > 0: Abramowitz & Stegun 5.1.53 up to 1, 5.1.56 above (relative
// error < 5e-5); branch-free.
inline float ExpIntE1(float v) {
  const float small = -FastLog(v) - 0.57721566f +
                      v * (0.99999193f + v * (-0.24991055f + v * (0.05519968f + v * (-0.00976004f + v * 0.00107857f))));
  const float large =
      FastExp(-v) / v * ((v * v + 2.334733f * v + 0.250621f) / (v * v + 3.330657f * v + 1.681534f));
  return v <= 1.0f ? small : large;
}

DenoiserConfig Validated(const DenoiserConfig &c) {
  c.Validate();
  return c;
}

}  // namespace

void DenoiserConfig::Validate() const {
  auto fail = [](const std::string &what) { throw std::invalid_argument("Denoiser " + what); };
  if (sample_rate != 16000 && sample_rate != 48000)
    fail("sample_rate must be 16000 or 48000 Hz, got " + std::to_string(sample_rate));
  if (window_ms != 20 && window_ms != 30 && window_ms != 40)
    fail("window_ms must be 20, 30 or 40 (ms), got " + std::to_string(window_ms));
  if (!(gain_floor_db >= -60.0f && gain_floor_db < 0.0f))
    fail("gain_floor_db must be in [-60, 0) dB, got " + std::to_string(gain_floor_db));
  if (!(min_apriori_snr_db >= -60.0f && min_apriori_snr_db <= 0.0f))
    fail("min_apriori_snr_db must be in [-60, 0] dB, got " + std::to_string(min_apriori_snr_db));
  if (!(dd_alpha >= 0.0f && dd_alpha < 1.0f)) fail("dd_alpha must be in [0, 1), got " + std::to_string(dd_alpha));
  if (!(min_search_s >= 0.4f && min_search_s <= 5.0f))
    fail("min_search_s must be in [0.4, 5] s, got " + std::to_string(min_search_s));
  if (!(low_cut_hz >= 0.0f && low_cut_hz <= 500.0f))
    fail("low_cut_hz must be in [0, 500] Hz, got " + std::to_string(low_cut_hz));
  if (!(clean_snr_lo_db >= 0.0f && clean_snr_hi_db > clean_snr_lo_db && clean_snr_hi_db <= 200.0f))
    fail("needs 0 <= clean_snr_lo_db < clean_snr_hi_db <= 200 dB, got " + std::to_string(clean_snr_lo_db) + ", " +
         std::to_string(clean_snr_hi_db));
}

std::string DenoiserConfig::ToString() const {
  std::ostringstream os;
  os << "DenoiserConfig(sample_rate=" << sample_rate << ", window_ms=" << window_ms
     << ", gain_floor_db=" << gain_floor_db << ", min_apriori_snr_db=" << min_apriori_snr_db
     << ", dd_alpha=" << dd_alpha << ", min_search_s=" << min_search_s << ", low_cut_hz=" << low_cut_hz
     << ", clean_snr_lo_db=" << clean_snr_lo_db << ", clean_snr_hi_db=" << clean_snr_hi_db << ")";
  return os.str();
}

void Denoiser::MinimumSearch::Fill(std::size_t bins, int sub_windows, float value) {
  min.assign(bins, value);
  sub_min.assign(bins, value);
  stored.assign(bins * static_cast<std::size_t>(sub_windows), value);
}

void Denoiser::MinimumSearch::Update(const float *s, std::size_t bins) {
  for (std::size_t k = 0; k < bins; ++k) {
    min[k] = std::min(min[k], s[k]);
    sub_min[k] = std::min(sub_min[k], s[k]);
  }
}

void Denoiser::MinimumSearch::Rotate(const float *s, std::size_t bins, int sub_windows, int slot) {
  std::copy_n(sub_min.data(), bins, stored.data() + static_cast<std::size_t>(slot) * bins);
  std::copy_n(stored.data(), bins, min.data());
  for (int u = 1; u < sub_windows; ++u) {
    const float *row = stored.data() + static_cast<std::size_t>(u) * bins;
    for (std::size_t k = 0; k < bins; ++k) min[k] = std::min(min[k], row[k]);
  }
  std::copy_n(s, bins, sub_min.data());
}

Denoiser::Denoiser(const DenoiserConfig &config)
    : config_(Validated(config)),
      hop_(static_cast<std::size_t>(config.sample_rate / 100)),
      window_(hop_ * static_cast<std::size_t>(config.window_ms / 10)),
      bins_(window_ / 2 + 1),
      fft_(window_) {
  const int hops_per_window = config_.window_ms / 10;
  sub_window_frames_ = std::max(1, static_cast<int>(std::lround(config_.min_search_s * 100.0f / kSubWindows)));
  gain_floor_log_ = config_.gain_floor_db * static_cast<float>(M_LN10 / 20.0);
  min_apriori_snr_ = std::pow(10.0f, config_.min_apriori_snr_db / 10.0f);
  // sqrt-Hann analysis x sqrt-Hann synthesis = periodic Hann, whose shifts by window/K sum to K/2; the
  // inverse FFT is scaled by window_.
  synthesis_scale_ = 2.0f / static_cast<float>(hops_per_window) / static_cast<float>(window_);
  const double bin_hz = static_cast<double>(config_.sample_rate) / static_cast<double>(window_);
  low_cut_bins_ = std::min(bins_, static_cast<std::size_t>(std::ceil(config_.low_cut_hz / bin_hz)));

  window_fn_.resize(window_);
  for (std::size_t i = 0; i < window_; ++i)
    window_fn_[i] = static_cast<float>(std::sqrt(0.5 - 0.5 * std::cos(2.0 * M_PI * i / static_cast<double>(window_))));
  input_.resize(window_);
  overlap_.resize(window_);
  ready_.resize(hop_);
  frame_.resize(window_);
  spec_.resize(bins_);
  for (auto *v : {&power_, &smoothed_f_, &s_, &s_tilde_, &s_fast_, &indicator_, &presence_, &likelihood_, &noise_,
                  &spp_bar_, &gamma_prev_, &gain_h1_prev_, &log_gain_h1_, &gain_})
    v->resize(bins_);
  for (auto *m : {&min_s_, &min_tilde_, &min_fast_}) m->Fill(bins_, kSubWindows, kPowerEps);
  Reset();
}

void Denoiser::Reset() {
  std::fill(input_.begin(), input_.end(), 0.0f);
  std::fill(overlap_.begin(), overlap_.end(), 0.0f);
  std::fill(ready_.begin(), ready_.end(), 0.0f);
  pos_ = 0;
  initialised_ = false;
  frames_ = 0;
  non_finite_ = 0;
  // Everything else is set by Initialise() on the first full window.
}

void Denoiser::Process(const float *in, std::size_t n, float *out) noexcept {
  while (n > 0) {
    const std::size_t m = std::min(n, hop_ - pos_);
    float *dst = input_.data() + (window_ - hop_) + pos_;
    for (std::size_t i = 0; i < m; ++i) {
      const float x = in[i];
      const bool ok = std::isfinite(x);
      non_finite_ += ok ? 0 : 1;
      dst[i] = ok ? x : 0.0f;
    }
    // Sample j of a hop is answered from the frame finished before it (ready_[j + 1]); the hop's last
    // sample from the frame it completes (ready_[0]). Input is copied before output is written, so
    // in == out works.
    if (pos_ + m == hop_) {
      std::copy(ready_.begin() + static_cast<std::ptrdiff_t>(pos_ + 1), ready_.end(), out);
      ProcessFrame();
      out[m - 1] = ready_[0];
      pos_ = 0;
    } else {
      std::copy_n(ready_.begin() + static_cast<std::ptrdiff_t>(pos_ + 1), m, out);
      pos_ += m;
    }
    in += m;
    out += m;
    n -= m;
  }
}

void Denoiser::Initialise() {
  // Smoothed periodograms start at the first window; the minima and the noise estimate at (almost)
  // zero, so nothing is suppressed until the short startup search windows have seen the input.
  for (std::size_t k = 0; k < bins_; ++k) {
    const float v = std::max(smoothed_f_[k], kPowerEps);
    s_[k] = s_tilde_[k] = s_fast_[k] = v;
    noise_[k] = kPowerEps;
    spp_bar_[k] = 0.0f;
    gamma_prev_[k] = 1.0f;
    gain_h1_prev_[k] = 1.0f;
  }
  for (auto *m : {&min_s_, &min_tilde_, &min_fast_}) m->Fill(bins_, kSubWindows, kPowerEps);
  sub_window_count_ = 0;
  stored_next_ = 0;
  rotations_ = 0;
  speech_db_ = -200.0f;
  snr_db_ = 0.0f;
  floor_db_ = config_.gain_floor_db;
  initialised_ = true;
}

void Denoiser::ProcessFrame() {
  ++frames_;
  const std::size_t N = window_, K = bins_;
  for (std::size_t i = 0; i < N; ++i) frame_[i] = input_[i] * window_fn_[i];
  std::memmove(input_.data(), input_.data() + hop_, (N - hop_) * sizeof(float));
  fft_.Forward(frame_.data(), spec_.data());

  float *P = power_.data();
  float total = 0.0f;
  for (std::size_t k = 0; k < K; ++k) {
    P[k] = spec_[k].real() * spec_[k].real() + spec_[k].imag() * spec_[k].imag();
    total += P[k];
  }
  frame_power_ = total;
  // Frequency smoothing with the 3-tap Hann window (0.25, 0.5, 0.25), renormalised at the edges.
  float *Sf = smoothed_f_.data();
  Sf[0] = (0.5f * P[0] + 0.25f * P[1]) / 0.75f;
  for (std::size_t k = 1; k + 1 < K; ++k) Sf[k] = 0.25f * (P[k - 1] + P[k + 1]) + 0.5f * P[k];
  Sf[K - 1] = (0.5f * P[K - 1] + 0.25f * P[K - 2]) / 0.75f;

  // The estimator starts on the first full window; the partial windows before it pass unchanged.
  if (!initialised_ && frames_ >= static_cast<std::uint64_t>(N / hop_)) Initialise();
  if (initialised_) {
    UpdateGains();
  } else {
    std::fill(gain_.begin(), gain_.end(), 1.0f);
  }

  for (std::size_t k = 0; k < K; ++k) spec_[k] *= gain_[k];
  fft_.Inverse(spec_.data(), frame_.data());
  for (std::size_t i = 0; i < N; ++i) overlap_[i] += frame_[i] * window_fn_[i] * synthesis_scale_;
  std::copy_n(overlap_.begin(), hop_, ready_.begin());
  std::memmove(overlap_.data(), overlap_.data() + hop_, (N - hop_) * sizeof(float));
  std::fill(overlap_.end() - static_cast<std::ptrdiff_t>(hop_), overlap_.end(), 0.0f);
}

void Denoiser::UpdateGains() {
  const std::size_t K = bins_;
  const float *P = power_.data();
  const float *Sf = smoothed_f_.data();

  // 1. A-posteriori SNR against the previous noise estimate, decision-directed a-priori SNR, the LSA
  //    gain under speech presence (capped at 1) and the inverse generalised likelihood ratio.
  const float a = config_.dd_alpha;
  for (std::size_t k = 0; k < K; ++k) {
    const float gamma = P[k] / std::max(noise_[k], kPowerEps);
    float eta = a * gain_h1_prev_[k] * gain_h1_prev_[k] * gamma_prev_[k] + (1.0f - a) * std::max(gamma - 1.0f, 0.0f);
    eta = std::max(eta, min_apriori_snr_);
    const float v = std::max(gamma * eta / (1.0f + eta), 1e-7f);
    const float log_g = std::min(FastLog(eta / (1.0f + eta)) + 0.5f * ExpIntE1(v), 0.0f);
    log_gain_h1_[k] = log_g;
    gain_h1_prev_[k] = FastExp(log_g);
    gamma_prev_[k] = gamma;
    likelihood_[k] = (1.0f + eta) * FastExp(-v);
  }

  // 2. IMCRA first iteration: time smoothing, minimum, rough speech-absence indicator. Alongside, the
  //    fast-falling smoothing whose minimum bounds the noise estimate.
  float *S = s_.data(), *Sc = s_fast_.data(), *I = indicator_.data();
  for (std::size_t k = 0; k < K; ++k) {
    S[k] = std::max(kAlphaS * S[k] + (1.0f - kAlphaS) * Sf[k], kPowerEps);
    const float ac = Sf[k] < Sc[k] ? kAlphaFastFall : kAlphaS;
    Sc[k] = std::max(ac * Sc[k] + (1.0f - ac) * Sf[k], kPowerEps);
  }
  min_s_.Update(S, K);
  min_fast_.Update(Sc, K);
  const float *Smin = min_s_.min.data();
  for (std::size_t k = 0; k < K; ++k) {
    const float inv = 1.0f / (kBmin * Smin[k]);
    I[k] = (P[k] * inv < kGamma0 && S[k] * inv < kZeta0) ? 1.0f : 0.0f;
  }

  // 3. Second iteration: smoothing over the bins the first one found speech-free, its minimum, the
  //    a-priori speech-absence probability q and the speech-presence probability p.
  float *St = s_tilde_.data();
  for (std::size_t k = 0; k < K; ++k) {
    const std::size_t lo = k > 0 ? k - 1 : 0, hi = k + 1 < K ? k + 1 : K - 1;
    const float wl = k > 0 ? 0.25f : 0.0f, wh = k + 1 < K ? 0.25f : 0.0f;
    const float num = wl * I[lo] * P[lo] + 0.5f * I[k] * P[k] + wh * I[hi] * P[hi];
    const float den = wl * I[lo] + 0.5f * I[k] + wh * I[hi];
    const float sft = den > 0.0f ? num / den : St[k];
    St[k] = std::max(kAlphaS * St[k] + (1.0f - kAlphaS) * sft, kPowerEps);
  }
  min_tilde_.Update(St, K);
  const float *Stmin = min_tilde_.min.data();
  const float q_slope = 1.0f / (kGamma1 - 1.0f);
  for (std::size_t k = 0; k < K; ++k) {
    const float inv = 1.0f / (kBmin * Stmin[k]);
    const float gmin = P[k] * inv, zeta = S[k] * inv;
    float q = gmin <= 1.0f ? 1.0f : (gmin < kGamma1 ? (kGamma1 - gmin) * q_slope : 0.0f);
    q = zeta < kZeta0 ? std::min(q, kQMax) : 0.0f;
    presence_[k] = (1.0f - q) / ((1.0f - q) + q * likelihood_[k] + 1e-30f);
  }

  // 4. Noise: MMSE-SPP recursive averaging, bounded by the minimum statistics. The upper bound tightens
  //    as the long-term SNR (of the previous frame) rises.
  const float t_cap =
      std::min(1.0f, std::max(0.0f, (snr_db_ - config_.clean_snr_lo_db) / (config_.clean_snr_hi_db - config_.clean_snr_lo_db)));
  const float cap = kBmin * std::exp((1.0f - t_cap) * std::log(kNoiseCapNoisy) + t_cap * std::log(kNoiseCapClean));
  const float *Scmin = min_fast_.min.data();
  float noise_floor_total = 0.0f;
  for (std::size_t k = 0; k < K; ++k) {
    const float lam = noise_[k];
    const float post = P[k] / std::max(lam, kPowerEps);
    float ph1 = 1.0f / (1.0f + (1.0f + kSppXi) * FastExp(-post * kSppXi / (1.0f + kSppXi)));
    spp_bar_[k] = kSppBarAlpha * spp_bar_[k] + (1.0f - kSppBarAlpha) * ph1;
    ph1 = spp_bar_[k] > kSppStagnation ? std::min(ph1, kSppStagnation) : ph1;
    const float expected = (1.0f - ph1) * P[k] + ph1 * lam;
    const float updated = kNoiseAlpha * lam + (1.0f - kNoiseAlpha) * expected;
    const float lower = kBmin * Scmin[k];
    noise_[k] = std::max(std::min(updated, cap * Scmin[k]), lower);
    noise_floor_total += lower;
  }

  // 5. Long-term SNR: a speech-level tracker (fast up, 1 dB/s down) over the noise floor. It sets the
  //    floor gain: gain_floor_db up to clean_snr_lo_db, 0 dB from clean_snr_hi_db.
  const float level_db = 10.0f * std::log10(std::max(frame_power_, kPowerEps));
  const float floor_db = 10.0f * std::log10(std::max(noise_floor_total, kPowerEps));
  speech_db_ = level_db > speech_db_ ? speech_db_ + kLevelAttack * (level_db - speech_db_)
                                     : speech_db_ - kLevelReleaseDbPerFrame;
  speech_db_ = std::max(speech_db_, floor_db);
  snr_db_ = speech_db_ - floor_db;
  const float t_floor =
      std::min(1.0f, std::max(0.0f, (config_.clean_snr_hi_db - snr_db_) / (config_.clean_snr_hi_db - config_.clean_snr_lo_db)));
  floor_db_ = config_.gain_floor_db * t_floor;
  const float floor_log = gain_floor_log_ * t_floor;
  const float floor_gain = std::exp(floor_log);

  // 6. OM-LSA gain, never below the floor; below the low cut, never above it.
  for (std::size_t k = 0; k < K; ++k)
    gain_[k] = std::max(FastExp(presence_[k] * log_gain_h1_[k] + (1.0f - presence_[k]) * floor_log), floor_gain);
  for (std::size_t k = 0; k < low_cut_bins_; ++k) gain_[k] = std::min(gain_[k], floor_gain);

  // 7. Minimum search: at the end of each sub-window, store its minima; the minimum over the last
  //    kSubWindows of them becomes the running minimum.
  const int sub_len = rotations_ < kSubWindows ? kStartupSubWindowFrames : sub_window_frames_;
  if (++sub_window_count_ >= sub_len) {
    min_s_.Rotate(S, K, kSubWindows, stored_next_);
    min_tilde_.Rotate(St, K, kSubWindows, stored_next_);
    min_fast_.Rotate(Sc, K, kSubWindows, stored_next_);
    stored_next_ = (stored_next_ + 1) % kSubWindows;
    sub_window_count_ = 0;
    ++rotations_;
  }
}

}  // namespace rtvoice
