#include "rtvoice/denoiser.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

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

// Four floats at a time through GCC/Clang vector extensions (SSE2 on x86-64, NEON on ARM, plain code
// elsewhere): the per-bin work is transcendental functions that compilers do not vectorise on their own.
typedef float F4 __attribute__((vector_size(16)));
typedef std::int32_t I4 __attribute__((vector_size(16)));

inline F4 Load(const float *p) {
  F4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void Store(float *p, F4 v) { std::memcpy(p, &v, sizeof v); }
inline F4 Splat(float x) { return F4{x, x, x, x}; }
inline F4 AsFloat(I4 v) {
  F4 f;
  std::memcpy(&f, &v, sizeof f);
  return f;
}
inline I4 AsInt(F4 v) {
  I4 i;
  std::memcpy(&i, &v, sizeof i);
  return i;
}
// mask lanes are all ones (a) or all zeros (b), as vector comparisons give them.
inline F4 Select(I4 mask, F4 a, F4 b) { return AsFloat((mask & AsInt(a)) | (~mask & AsInt(b))); }
#if defined(__SSE__)
inline F4 Min(F4 a, F4 b) { return _mm_min_ps(a, b); }  // a < b ? a : b, one instruction
inline F4 Max(F4 a, F4 b) { return _mm_max_ps(a, b); }
#else
inline F4 Min(F4 a, F4 b) { return Select(a < b, a, b); }
inline F4 Max(F4 a, F4 b) { return Select(a > b, a, b); }
#endif

// e^x, relative error < 2e-6 for x in [-87, 88] (clamped outside).
inline F4 FastExp(F4 x) {
  x = Max(Min(x, Splat(88.0f)), Splat(-87.0f));
  const F4 t = x * 1.44269504f;  // log2(e)
  I4 i = __builtin_convertvector(t, I4);
  i += (t < __builtin_convertvector(i, F4));  // floor: the comparison is -1 where truncation rounded up
  const F4 f = t - __builtin_convertvector(i, F4);  // [0, 1)
  // 2^f: Taylor series of e^(f ln 2) to degree 6.
  const F4 p =
      1.0f +
      f * (0.693147181f +
           f * (0.240226507f +
                f * (0.0555041087f + f * (0.00961812911f + f * (0.00133335581f + f * 0.000154035304f)))));
  return p * AsFloat((i + 127) << 23);
}

// ln x for normal x > 0, absolute error < 1e-6.
inline F4 FastLog(F4 x) {
  const I4 bits = AsInt(x);
  I4 e = ((bits >> 23) & 0xff) - 127;
  F4 m = AsFloat((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
  const I4 big = m > 1.41421356f;
  m = Select(big, m * 0.5f, m);
  e -= big;
  const F4 s = (m - 1.0f) / (m + 1.0f);  // |s| < 0.172
  const F4 s2 = s * s;
  const F4 log_m = 2.0f * s * (1.0f + s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9)))));
  return __builtin_convertvector(e, F4) * 0.693147181f + log_m;
}

// Exponential integral E1(v), v > 0: Abramowitz & Stegun 5.1.53 up to 1, 5.1.56 above (relative
// error < 5e-5).
// exp_minus_v: e^-v, which the caller needs as well.
inline F4 ExpIntE1(F4 v, F4 exp_minus_v) {
  const F4 small = -FastLog(v) - 0.57721566f +
                   v * (0.99999193f + v * (-0.24991055f + v * (0.05519968f + v * (-0.00976004f + v * 0.00107857f))));
  const F4 large = exp_minus_v / v * ((v * v + 2.334733f * v + 0.250621f) / (v * v + 3.330657f * v + 1.681534f));
  return Select(v <= 1.0f, small, large);
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
  sub_min.assign(bins, std::numeric_limits<float>::max());  // the first sub-window's own minimum
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
      padded_((bins_ + 3) / 4 * 4),
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
                  &spp_bar_, &gamma_prev_, &gain_h1_prev_, &log_gain_h1_, &gain_, &scratch_num_, &scratch_den_})
    v->assign(padded_, 0.0f);
  for (auto *m : {&min_s_, &min_tilde_, &min_fast_}) m->Fill(padded_, kSubWindows, kPowerEps);
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
  for (std::size_t k = 0; k < padded_; ++k) {
    const float v = std::max(smoothed_f_[k], kPowerEps);
    s_[k] = s_tilde_[k] = s_fast_[k] = v;
    noise_[k] = kPowerEps;
    spp_bar_[k] = 0.0f;
    gamma_prev_[k] = 1.0f;
    gain_h1_prev_[k] = 1.0f;
  }
  for (auto *m : {&min_s_, &min_tilde_, &min_fast_}) m->Fill(padded_, kSubWindows, kPowerEps);
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
  // Bin arrays are padded to a multiple of 4 (padded_); the padding holds zero power and harmless state.
  const std::size_t K = bins_, KP = padded_;
  const float *P = power_.data(), *Sf = smoothed_f_.data();
  float *noise = noise_.data(), *gamma_prev = gamma_prev_.data(), *gh1_prev = gain_h1_prev_.data();
  float *log_gh1 = log_gain_h1_.data(), *likelihood = likelihood_.data(), *presence = presence_.data();
  float *spp_bar = spp_bar_.data(), *gain = gain_.data(), *I = indicator_.data();
  float *S = s_.data(), *Sc = s_fast_.data(), *St = s_tilde_.data();
  const F4 eps = Splat(kPowerEps), zero = Splat(0.0f), one = Splat(1.0f);

  // 1. A-posteriori SNR against the previous noise estimate, decision-directed a-priori SNR, the LSA
  //    gain under speech presence (capped at 1) and the inverse generalised likelihood ratio.
  const float a = config_.dd_alpha;
  for (std::size_t k = 0; k < KP; k += 4) {
    const F4 gamma = Load(P + k) / Max(Load(noise + k), eps);
    const F4 g1 = Load(gh1_prev + k);
    F4 eta = a * g1 * g1 * Load(gamma_prev + k) + (1.0f - a) * Max(gamma - 1.0f, zero);
    eta = Max(eta, Splat(min_apriori_snr_));
    const F4 v = Max(gamma * eta / (1.0f + eta), Splat(1e-7f));
    const F4 exp_minus_v = FastExp(-v);
    const F4 log_g = Min(FastLog(eta / (1.0f + eta)) + 0.5f * ExpIntE1(v, exp_minus_v), zero);
    Store(log_gh1 + k, log_g);
    Store(gh1_prev + k, FastExp(log_g));
    Store(gamma_prev + k, gamma);
    Store(likelihood + k, (1.0f + eta) * exp_minus_v);
  }

  // 2. IMCRA first iteration: time smoothing, minimum, rough speech-absence indicator. Alongside, the
  //    fast-falling smoothing whose minimum bounds the noise estimate.
  for (std::size_t k = 0; k < KP; k += 4) {
    const F4 sf = Load(Sf + k), sc = Load(Sc + k);
    Store(S + k, Max(kAlphaS * Load(S + k) + (1.0f - kAlphaS) * sf, eps));
    const F4 ac = Select(sf < sc, Splat(kAlphaFastFall), Splat(kAlphaS));
    Store(Sc + k, Max(ac * sc + (1.0f - ac) * sf, eps));
  }
  min_s_.Update(S, KP);
  min_fast_.Update(Sc, KP);
  const float *Smin = min_s_.min.data();
  for (std::size_t k = 0; k < KP; k += 4) {
    const F4 inv = 1.0f / (kBmin * Load(Smin + k));
    const I4 absent = (Load(P + k) * inv < kGamma0) & (Load(S + k) * inv < kZeta0);
    Store(I + k, Select(absent, one, zero));
  }

  // 3. Second iteration: smoothing over the bins the first one found speech-free (3-tap Hann window,
  //    renormalised), its minimum, the a-priori speech-absence probability q and the presence p.
  float *num = scratch_num_.data(), *den = scratch_den_.data();
  for (std::size_t k = 0; k < KP; k += 4) Store(num + k, Load(I + k) * Load(P + k));  // I*P, smoothed below
  {
    float prev_ip = 0.0f, prev_i = 0.0f;  // neighbours below bin 0 count as absent
    for (std::size_t k = 0; k < K; ++k) {
      const float ip = num[k], ii = I[k];
      const float next_ip = k + 1 < K ? num[k + 1] : 0.0f, next_i = k + 1 < K ? I[k + 1] : 0.0f;
      num[k] = 0.25f * (prev_ip + next_ip) + 0.5f * ip;
      den[k] = 0.25f * (prev_i + next_i) + 0.5f * ii;
      prev_ip = ip;
      prev_i = ii;
    }
    for (std::size_t k = K; k < KP; ++k) num[k] = den[k] = 0.0f;
  }
  for (std::size_t k = 0; k < KP; k += 4) {
    const F4 d = Load(den + k), st = Load(St + k);
    const F4 sft = Select(d > 0.0f, Load(num + k) / Max(d, Splat(1e-30f)), st);
    Store(St + k, Max(kAlphaS * st + (1.0f - kAlphaS) * sft, eps));
  }
  min_tilde_.Update(St, KP);
  const float *Stmin = min_tilde_.min.data();
  const float q_slope = 1.0f / (kGamma1 - 1.0f);
  for (std::size_t k = 0; k < KP; k += 4) {
    const F4 inv = 1.0f / (kBmin * Load(Stmin + k));
    const F4 gmin = Load(P + k) * inv, zeta = Load(S + k) * inv;
    F4 q = Select(gmin <= 1.0f, one, Max((kGamma1 - gmin) * q_slope, zero));
    q = Select(zeta < kZeta0, Min(q, Splat(kQMax)), zero);
    Store(presence + k, (1.0f - q) / ((1.0f - q) + q * Load(likelihood + k) + 1e-30f));
  }

  // 4. Noise: MMSE-SPP recursive averaging, bounded by the minimum statistics. The upper bound tightens
  //    as the long-term SNR (of the previous frame) rises.
  const float t_cap = std::min(
      1.0f, std::max(0.0f, (snr_db_ - config_.clean_snr_lo_db) / (config_.clean_snr_hi_db - config_.clean_snr_lo_db)));
  const float cap = kBmin * std::exp((1.0f - t_cap) * std::log(kNoiseCapNoisy) + t_cap * std::log(kNoiseCapClean));
  const float *Scmin = min_fast_.min.data();
  for (std::size_t k = 0; k < KP; k += 4) {
    const F4 lam = Load(noise + k), p = Load(P + k), scmin = Load(Scmin + k);
    const F4 post = p / Max(lam, eps);
    F4 ph1 = 1.0f / (1.0f + (1.0f + kSppXi) * FastExp(-post * (kSppXi / (1.0f + kSppXi))));
    const F4 bar = kSppBarAlpha * Load(spp_bar + k) + (1.0f - kSppBarAlpha) * ph1;
    Store(spp_bar + k, bar);
    ph1 = Select(bar > kSppStagnation, Min(ph1, Splat(kSppStagnation)), ph1);
    const F4 expected = (1.0f - ph1) * p + ph1 * lam;
    const F4 updated = kNoiseAlpha * lam + (1.0f - kNoiseAlpha) * expected;
    Store(noise + k, Max(Min(updated, cap * scmin), kBmin * scmin));
  }
  float noise_floor_total = 0.0f;
  for (std::size_t k = 0; k < K; ++k) noise_floor_total += Scmin[k];
  noise_floor_total *= kBmin;

  // 5. Long-term SNR: a speech-level tracker (fast up, 1 dB/s down) over the noise floor. It sets the
  //    floor gain: gain_floor_db up to clean_snr_lo_db, 0 dB from clean_snr_hi_db.
  const float level_db = 10.0f * std::log10(std::max(frame_power_, kPowerEps));
  const float floor_db = 10.0f * std::log10(std::max(noise_floor_total, kPowerEps));
  // Until the startup search has seen the input the floor is meaningless: the level starts from it.
  if (rotations_ >= kSubWindows)
    speech_db_ = level_db > speech_db_ ? speech_db_ + kLevelAttack * (level_db - speech_db_)
                                       : speech_db_ - kLevelReleaseDbPerFrame;
  speech_db_ = std::max(speech_db_, floor_db);
  snr_db_ = speech_db_ - floor_db;
  const float t_floor = std::min(
      1.0f, std::max(0.0f, (config_.clean_snr_hi_db - snr_db_) / (config_.clean_snr_hi_db - config_.clean_snr_lo_db)));
  floor_db_ = config_.gain_floor_db * t_floor;
  const float floor_log = gain_floor_log_ * t_floor;
  const float floor_gain = std::exp(floor_log);

  // 6. OM-LSA gain, never below the floor; below the low cut, never above it.
  for (std::size_t k = 0; k < KP; k += 4) {
    const F4 p = Load(presence + k);
    Store(gain + k, Max(FastExp(p * Load(log_gh1 + k) + (1.0f - p) * floor_log), Splat(floor_gain)));
  }
  for (std::size_t k = 0; k < low_cut_bins_; ++k) gain[k] = std::min(gain[k], floor_gain);

  // 7. Minimum search: at the end of each sub-window, store its minima; the minimum over the last
  //    kSubWindows of them becomes the running minimum.
  const int sub_len = rotations_ < kSubWindows ? kStartupSubWindowFrames : sub_window_frames_;
  if (++sub_window_count_ >= sub_len) {
    min_s_.Rotate(S, KP, kSubWindows, stored_next_);
    min_tilde_.Rotate(St, KP, kSubWindows, stored_next_);
    min_fast_.Rotate(Sc, KP, kSubWindows, stored_next_);
    stored_next_ = (stored_next_ + 1) % kSubWindows;
    sub_window_count_ = 0;
    ++rotations_;
  }
}

}  // namespace rtvoice
