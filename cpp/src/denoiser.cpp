#include "rtvoice/denoiser.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "rtvoice/framer.h"

namespace rtvoice {

namespace {

// IMCRA constants (Cohen 2003, table I), for a ~1.2 s search window of 8 sub-windows.


constexpr float kGamma0 = 4.6f;   // a-posteriori SNR threshold of the first speech-presence decision
constexpr float kGamma1 = 3.0f;   // upper threshold of the soft a-priori speech-absence probability
constexpr float kZeta0 = 1.67f;   // threshold of the smoothed-power / minimum ratio

constexpr int kSubWindows = 8;
// Power below which a bin counts as digital silence (float samples in [-1, 1]).
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

// e^x to ~1e-6 relative for x in [-87, 88] (clamped outside); branch-free so loops vectorise.
inline float FastExp(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float t = x * 1.44269504f;  // log2(e)
  std::int32_t i = static_cast<std::int32_t>(t);
  i -= (t < static_cast<float>(i)) ? 1 : 0;  // floor
  const float f = t - static_cast<float>(i);  // [0, 1)
  // 2^f, Taylor series of e^(f ln 2) to degree 6 (error < 2e-6 on [0, 1)).
  const float p =
      1.0f + f * (0.693147181f +
                  f * (0.240226507f + f * (0.0555041087f + f * (0.00961812911f + f * (0.00133335581f +
                                                                                          f * 0.000154035304f)))));
  return p * BitsToFloat((i + 127) << 23);
}

// ln x for normal x > 0, ~1e-7 absolute.
inline float FastLog(float x) {
  std::int32_t bits = FloatToBits(x);
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

// Exponential integral E1(v) for v > 0 (Abramowitz & Stegun 5.1.53 below 1, 5.1.56 above; < 5e-5
// relative error), branch-free.
inline float ExpIntE1(float v) {
  const float small = -FastLog(v) - 0.57721566f +
                      v * (0.99999193f + v * (-0.24991055f + v * (0.05519968f + v * (-0.00976004f + v * 0.00107857f))));
  const float large =
      FastExp(-v) / v * ((v * v + 2.334733f * v + 0.250621f) / (v * v + 3.330657f * v + 1.681534f));
  return v <= 1.0f ? small : large;
}

inline float DbToPower(float db) { return std::pow(10.0f, db / 10.0f); }

}  // namespace

void DenoiserConfig::Validate() const {
  if (sample_rate != 16000 && sample_rate != 48000)
    throw std::invalid_argument("Denoiser sample_rate must be 16000 or 48000 Hz, got " + std::to_string(sample_rate));
  if (window_ms != 20 && window_ms != 30 && window_ms != 40)
    throw std::invalid_argument("Denoiser window_ms must be 20, 30 or 40 (ms), got " + std::to_string(window_ms));
  if (!(gain_floor_db >= -60.0f && gain_floor_db < 0.0f))
    throw std::invalid_argument("Denoiser gain_floor_db must be in [-60, 0) dB, got " + std::to_string(gain_floor_db));
  if (!(min_apriori_snr_db >= -60.0f && min_apriori_snr_db <= 0.0f))
    throw std::invalid_argument("Denoiser min_apriori_snr_db must be in [-60, 0] dB, got " +
                                std::to_string(min_apriori_snr_db));
  if (!(dd_alpha >= 0.0f && dd_alpha < 1.0f))
    throw std::invalid_argument("Denoiser dd_alpha must be in [0, 1), got " + std::to_string(dd_alpha));
  if (!(noise_overestimate >= 1.0f && noise_overestimate <= 4.0f))
    throw std::invalid_argument("Denoiser noise_overestimate must be in [1, 4], got " +
                                std::to_string(noise_overestimate));
  if (!(min_search_s >= 0.4f && min_search_s <= 5.0f))
    throw std::invalid_argument("Denoiser min_search_s must be in [0.4, 5] s, got " + std::to_string(min_search_s));
}

std::string DenoiserConfig::ToString() const {
  std::ostringstream os;
  os << "DenoiserConfig(sample_rate=" << sample_rate << ", window_ms=" << window_ms
     << ", gain_floor_db=" << gain_floor_db << ", min_apriori_snr_db=" << min_apriori_snr_db
     << ", dd_alpha=" << dd_alpha << ", noise_overestimate=" << noise_overestimate
     << ", min_search_s=" << min_search_s << ")";
  return os.str();
}

namespace {
DenoiserConfig Validated(const DenoiserConfig &c) {
  c.Validate();
  return c;
}
}  // namespace

Denoiser::Denoiser(const DenoiserConfig &config)
    : config_(Validated(config)),
      hop_(static_cast<std::size_t>(config.sample_rate / 100)),
      window_(hop_ * static_cast<std::size_t>(config.window_ms / 10)),
      bins_(window_ / 2 + 1),
      fft_(window_) {
  const int hops_per_window = config_.window_ms / 10;
  sub_window_frames_ = std::max(1, static_cast<int>(std::lround(config_.min_search_s * 100.0f / kSubWindows)));
  gain_floor_log_ = std::log(std::pow(10.0f, config_.gain_floor_db / 20.0f));
  min_apriori_snr_ = DbToPower(config_.min_apriori_snr_db);
  // sqrt-Hann analysis x sqrt-Hann synthesis = periodic Hann, whose shifts by window/K sum to K/2;
  // the inverse FFT is scaled by window_.
  synthesis_scale_ = 2.0f / static_cast<float>(hops_per_window) / static_cast<float>(window_);

  window_fn_.resize(window_);
  for (std::size_t i = 0; i < window_; ++i)
    window_fn_[i] = static_cast<float>(std::sqrt(0.5 - 0.5 * std::cos(2.0 * M_PI * i / static_cast<double>(window_))));

  input_.assign(window_, 0.0f);
  overlap_.assign(window_, 0.0f);
  ready_.assign(hop_, 0.0f);
  frame_.assign(window_, 0.0f);
  spec_.assign(bins_, {0.0f, 0.0f});
  for (auto *v : {&power_, &smoothed_f_, &s_, &s_tilde_, &s_min_, &s_min_sw_, &s_min_tilde_, &s_min_tilde_sw_,
                  &indicator_, &noise_avg_, &noise_, &gamma_prev_, &gain_h1_prev_, &log_gain_h1_, &gain_, &likelihood_, &eta_, &zeta_, &zeta_local_, &zeta_global_, &gh_noise_, &gh_pbar_, &presence_, &s_c_, &s_c_min_, &s_c_sw_})
    v->assign(bins_, 0.0f);
  {
    const float bin_hz = static_cast<float>(config_.sample_rate) / static_cast<float>(window_);
    const int wg = std::max(1, static_cast<int>(std::lround(config_.global_hz / bin_hz)));
    global_w_.resize(static_cast<std::size_t>(2 * wg + 1));
    for (int j = -wg; j <= wg; ++j)
      global_w_[static_cast<std::size_t>(j + wg)] = 0.5f + 0.5f * std::cos(static_cast<float>(M_PI) * j / (wg + 1));
  }
  stored_min_.assign(static_cast<std::size_t>(kSubWindows) * bins_, 0.0f);
  stored_min_tilde_.assign(static_cast<std::size_t>(kSubWindows) * bins_, 0.0f);
  stored_c_.assign(static_cast<std::size_t>(kSubWindows) * bins_, 0.0f);
  Reset();
}

void Denoiser::Reset() {
  std::fill(input_.begin(), input_.end(), 0.0f);
  std::fill(overlap_.begin(), overlap_.end(), 0.0f);
  std::fill(ready_.begin(), ready_.end(), 0.0f);
  pos_ = 0;
  sub_window_count_ = 0;
  stored_next_ = 0;
  initialised_ = false;
  zeta_frame_prev_ = 0.0f;
  zeta_peak_ = 1.0f;
  frame_presence_ = 0.0f;
  speech_db_ = -200.0f;
  floor_db_ = 0.0f;
  std::fill(zeta_.begin(), zeta_.end(), 0.0f);
  frames_ = 0;
  non_finite_ = 0;
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
    // Sample t of a hop is answered by the frame finished before it (ready_[pos + 1]); the hop's last
    // sample by the frame it completes (ready_[0]).
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

void Denoiser::InitNoise(const float *sf) {
  for (std::size_t k = 0; k < bins_; ++k) {
    const float v = std::max(sf[k], kPowerEps);
    s_[k] = s_tilde_[k] = s_min_[k] = s_min_sw_[k] = s_min_tilde_[k] = s_min_tilde_sw_[k] = v;
    noise_avg_[k] = std::max(power_[k], kPowerEps);
    s_c_[k] = v;
    s_c_min_[k] = s_c_sw_[k] = v;
    if (config_.start_silent) {
      s_c_min_[k] = s_c_sw_[k] = kPowerEps;
      s_min_[k] = s_min_sw_[k] = s_min_tilde_[k] = s_min_tilde_sw_[k] = kPowerEps;
      noise_avg_[k] = kPowerEps;
    }
    noise_[k] = noise_avg_[k];
    gh_noise_[k] = noise_avg_[k];
    gh_pbar_[k] = 0.0f;
    gamma_prev_[k] = 1.0f;
    gain_h1_prev_[k] = 1.0f;
  }
  for (int u = 0; u < kSubWindows; ++u)
    std::copy_n(s_min_.begin(), bins_, stored_min_.begin() + static_cast<std::ptrdiff_t>(u * bins_));
  for (int u = 0; u < kSubWindows; ++u)
    std::copy_n(s_min_tilde_.begin(), bins_, stored_min_tilde_.begin() + static_cast<std::ptrdiff_t>(u * bins_));
  for (int u = 0; u < kSubWindows; ++u)
    std::copy_n(s_c_min_.begin(), bins_, stored_c_.begin() + static_cast<std::ptrdiff_t>(u * bins_));
  sub_window_count_ = 0;
  rotations_ = 0;
  stored_next_ = 0;
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

  // Frequency smoothing with the 3-tap Hann window (0.25, 0.5, 0.25), renormalised at the edges.
  float *Sf = smoothed_f_.data();
  Sf[0] = (0.5f * P[0] + 0.25f * P[1]) / 0.75f;
  for (std::size_t k = 1; k + 1 < K; ++k) Sf[k] = 0.25f * (P[k - 1] + P[k + 1]) + 0.5f * P[k];
  Sf[K - 1] = (0.5f * P[K - 1] + 0.25f * P[K - 2]) / 0.75f;

  // The estimator starts on the first full window that is not digital silence; until then the input
  // passes through unchanged.
  const bool full_window = frames_ >= static_cast<std::uint64_t>(N / hop_);
  if (!initialised_ && full_window && (config_.init_on_silence || total > kPowerEps * static_cast<float>(K))) InitNoise(Sf);
  frame_total_ = total;
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

// Cohen & Berdugo 2001: a-priori speech presence from the recursively averaged a-priori SNR, local
// (3 bins), global (+-global_hz) and over the whole frame. Writes P_local*P_global*P_frame to zeta_global_.
void Denoiser::OmlsaPresence() {
  const std::size_t K = bins_;
  const float lmin = std::log(std::pow(10.0f, config_.zeta_min_db / 10.0f));
  const float lspan = std::log(std::pow(10.0f, (config_.zeta_max_db - config_.zeta_min_db) / 10.0f));
  for (std::size_t k = 0; k < K; ++k) zeta_[k] = 0.7f * zeta_[k] + 0.3f * eta_[k];
  auto prob = [&](float z) { return std::min(std::max((FastLog(std::max(z, 1e-10f)) - lmin) / lspan, 0.0f), 1.0f); };
  const int wg = static_cast<int>(global_w_.size() / 2);
  for (std::size_t k = 0; k < K; ++k) {
    const std::size_t lo = k > 0 ? k - 1 : 0, hi = k + 1 < K ? k + 1 : K - 1;
    const float loc = (0.25f * zeta_[lo] + 0.5f * zeta_[k] + 0.25f * zeta_[hi]);
    float g = 0.0f, wsum = 0.0f;
    for (int j = -wg; j <= wg; ++j) {
      const long kk = static_cast<long>(k) + j;
      if (kk < 0 || kk >= static_cast<long>(K)) continue;
      g += global_w_[static_cast<std::size_t>(j + wg)] * zeta_[static_cast<std::size_t>(kk)];
      wsum += global_w_[static_cast<std::size_t>(j + wg)];
    }
    zeta_local_[k] = prob(loc);
    zeta_global_[k] = prob(g / wsum);
  }
  const float bin_hz = static_cast<float>(config_.sample_rate) / static_cast<float>(window_);
  const std::size_t k1 = std::min(K - 1, static_cast<std::size_t>(config_.frame_lo_hz / bin_hz));
  const std::size_t k2 = std::min(K - 1, static_cast<std::size_t>(config_.frame_hi_hz / bin_hz));
  float zf = 0.0f;
  for (std::size_t k = k1; k <= k2; ++k) zf += zeta_[k];
  zf /= static_cast<float>(k2 - k1 + 1);
  const float zmin = std::pow(10.0f, config_.zeta_min_db / 10.0f), zmax = std::pow(10.0f, config_.zeta_max_db / 10.0f);
  float pf = 0.0f;
  if (zf > zmin) {
    if (zf > zeta_frame_prev_) {
      pf = 1.0f;
      zeta_peak_ = std::min(std::max(zf, 1.0f), 10.0f);
    } else {
      const float r = zf / zeta_peak_;
      pf = r <= zmin ? 0.0f : (r >= zmax ? 1.0f : std::log(r / zmin) / std::log(zmax / zmin));
    }
  }
  zeta_frame_prev_ = zf;
  for (std::size_t k = 0; k < K; ++k) zeta_global_[k] *= zeta_local_[k] * pf;
}

void Denoiser::UpdateGains() {
  const float kAlphaS = config_.alpha_s, kBmin = config_.bmin, kAlphaD = config_.alpha_d;
  const std::size_t K = bins_;
  const float *P = power_.data();
  {
    // 1. A-posteriori and decision-directed a-priori SNR, LSA gain under speech presence.
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
      likelihood_[k] = (1.0f + eta) * FastExp(-v);  // 1 / generalised likelihood ratio
      eta_[k] = eta;
    }
    if (config_.presence_mode != 0) OmlsaPresence();

    // 2. IMCRA, first iteration: smoothed power, its running minimum, rough speech-absence indicator.
    const float *Sf = smoothed_f_.data();
    float *S = s_.data(), *Smin = s_min_.data(), *Ssw = s_min_sw_.data(), *I = indicator_.data();
    float *Sc = s_c_.data(), *Scmin = s_c_min_.data(), *Scsw = s_c_sw_.data();
    for (std::size_t k = 0; k < K; ++k) {
      S[k] = kAlphaS * S[k] + (1.0f - kAlphaS) * Sf[k];
      const float ac = Sf[k] < Sc[k] ? config_.alpha_s_down : kAlphaS;
      Sc[k] = ac * Sc[k] + (1.0f - ac) * Sf[k];
      Scmin[k] = std::min(Scmin[k], Sc[k]);
      Scsw[k] = std::min(Scsw[k], Sc[k]);
      Smin[k] = std::min(Smin[k], S[k]);
      Ssw[k] = std::min(Ssw[k], S[k]);
      const float inv = 1.0f / (kBmin * std::max(Smin[k], kPowerEps));
      I[k] = (P[k] * inv < kGamma0 && S[k] * inv < kZeta0) ? 1.0f : 0.0f;
    }

    // 3. Second iteration: smoothing over speech-absent bins only, its minimum, speech-presence probability.
    float *St = s_tilde_.data(), *Stmin = s_min_tilde_.data(), *Stsw = s_min_tilde_sw_.data();
    const float a_prob_slope = 1.0f / (kGamma1 - 1.0f);
    float cap_eff = config_.noise_cap;
    if (config_.noise_cap_clean > 0.0f && config_.clean_snr_hi_db > config_.clean_snr_db) {
      const float t = std::min(1.0f, std::max(0.0f, (snr_db_ - config_.clean_snr_db) / (config_.clean_snr_hi_db - config_.clean_snr_db)));
      cap_eff = std::exp((1.0f - t) * std::log(config_.noise_cap) + t * std::log(config_.noise_cap_clean));
    }
    for (std::size_t k = 0; k < K; ++k) {
      const std::size_t lo = k > 0 ? k - 1 : 0, hi = k + 1 < K ? k + 1 : K - 1;
      const float wl = k > 0 ? 0.25f : 0.0f, wh = k + 1 < K ? 0.25f : 0.0f;
      const float num = wl * I[lo] * P[lo] + 0.5f * I[k] * P[k] + wh * I[hi] * P[hi];
      const float den = wl * I[lo] + 0.5f * I[k] + wh * I[hi];
      const float sft = den > 0.0f ? num / den : St[k];
      St[k] = kAlphaS * St[k] + (1.0f - kAlphaS) * sft;
      Stmin[k] = std::min(Stmin[k], St[k]);
      Stsw[k] = std::min(Stsw[k], St[k]);
      const float inv = 1.0f / (kBmin * std::max(Stmin[k], kPowerEps));
      const float gmin = P[k] * inv, zeta = S[k] * inv;
      float q = gmin <= 1.0f ? 1.0f : (gmin < kGamma1 ? (kGamma1 - gmin) * a_prob_slope : 0.0f);
      q = zeta < kZeta0 ? q : 0.0f;
      if (config_.presence_mode == 1) q = 1.0f - zeta_global_[k];
      if (config_.presence_mode == 2) q = 1.0f - (1.0f - q) * zeta_global_[k];
      q = std::min(q, 0.98f);
      const float p = (1.0f - q) / ((1.0f - q) + q * likelihood_[k] + 1e-30f);

      presence_[k] = p;
      // 4. The speech-presence-steered noise average.
      const float ad = kAlphaD + (1.0f - kAlphaD) * p;
      noise_avg_[k] = ad * noise_avg_[k] + (1.0f - ad) * P[k];
      const float noise_prev_k = noise_[k];
      float nd = config_.noise_overestimate * noise_avg_[k];
      if (config_.noise_mode >= 1) {
        const float xi = std::pow(10.0f, config_.gh_xi_db / 10.0f);
        const float post = P[k] / std::max(gh_noise_[k], kPowerEps);
        float ph1 = 1.0f / (1.0f + (1.0f + xi) * FastExp(-post * xi / (1.0f + xi)));
        gh_pbar_[k] = 0.9f * gh_pbar_[k] + 0.1f * ph1;
        if (gh_pbar_[k] > 0.99f) ph1 = std::min(ph1, 0.99f);
        const float e = (1.0f - ph1) * P[k] + ph1 * gh_noise_[k];
        gh_noise_[k] = config_.gh_alpha * gh_noise_[k] + (1.0f - config_.gh_alpha) * e;
        nd = config_.noise_mode == 1 ? gh_noise_[k] * config_.noise_overestimate : std::max(nd, gh_noise_[k] * config_.noise_overestimate);
      }
      if (config_.noise_cap > 0.0f) {
        const float cap = config_.noise_cap * kBmin * Scmin[k];
        noise_avg_[k] = std::min(noise_avg_[k], cap / config_.noise_overestimate);
        nd = std::min(nd, cap);
      }
      noise_[k] = std::max(nd, config_.min_floor * kBmin * Scmin[k]);
      if (config_.noise_mode == 3) {  // G-H on the clamped estimate itself
        const float lam = noise_prev_k;
        const float xi = std::pow(10.0f, config_.gh_xi_db / 10.0f);
        const float post = P[k] / std::max(lam, kPowerEps);
        float ph1 = 1.0f / (1.0f + (1.0f + xi) * FastExp(-post * xi / (1.0f + xi)));
        gh_pbar_[k] = 0.9f * gh_pbar_[k] + 0.1f * ph1;
        if (gh_pbar_[k] > 0.99f) ph1 = std::min(ph1, 0.99f);
        const float e = (1.0f - ph1) * P[k] + ph1 * lam;
        float v = config_.gh_alpha * lam + (1.0f - config_.gh_alpha) * e;
        if (config_.noise_cap > 0.0f) v = std::min(v, cap_eff * kBmin * Scmin[k]);
        noise_[k] = std::max(v, config_.min_floor * kBmin * Scmin[k]);
      }
    }

    // Frame speech presence over the speech band gates the low bins (speech there comes with harmonics above).
    float pf = 1.0f;
    if (config_.lf_gate_hz > 0.0f) {
      const float bin_hz = static_cast<float>(config_.sample_rate) / static_cast<float>(window_);
      const std::size_t k1 = static_cast<std::size_t>(config_.band_lo_hz / bin_hz);
      const std::size_t k2 = std::min(K - 1, static_cast<std::size_t>(config_.band_hi_hz / bin_hz));
      float sum = 0.0f;
      for (std::size_t k = k1; k <= k2; ++k) sum += presence_[k];
      const float mean = sum / static_cast<float>(k2 - k1 + 1);
      frame_presence_ = std::max(mean, config_.gate_release * frame_presence_);
      pf = std::min(1.0f, std::max(0.0f, (frame_presence_ - config_.gate_lo) / (config_.gate_hi - config_.gate_lo)));
      for (std::size_t k = 0; k < K; ++k)
        if (config_.gate_all || static_cast<float>(k) * bin_hz < config_.lf_gate_hz) presence_[k] *= pf;
    }
    float floor_log = gain_floor_log_;
    if (config_.clean_snr_db > 0.0f) {
      float noise_total = 0.0f;
      if (config_.snr_ref_min) {
        for (std::size_t k = 0; k < K; ++k) noise_total += config_.bmin * s_c_min_[k];
      } else {
        for (std::size_t k = 0; k < K; ++k) noise_total += noise_[k];
      }
      const float lvl = 10.0f * std::log10(std::max(frame_total_, kPowerEps));
      const float nlvl = 10.0f * std::log10(std::max(noise_total, kPowerEps));
      speech_db_ = lvl > speech_db_ ? speech_db_ + config_.level_attack * (lvl - speech_db_) : speech_db_ - config_.level_release_db;
      speech_db_ = std::max(speech_db_, nlvl);
      const float snr = speech_db_ - nlvl;
      const float floor_db = config_.clean_snr_hi_db > config_.clean_snr_db
          ? config_.gain_floor_db * std::min(1.0f, std::max(0.0f, (config_.clean_snr_hi_db - snr) / (config_.clean_snr_hi_db - config_.clean_snr_db)))
          : std::min(0.0f, std::max(config_.gain_floor_db, snr - config_.clean_snr_db));
      floor_log = config_.no_floor_relax ? gain_floor_log_ : floor_db * 0.115129255f;  // ln(10)/20
      floor_db_ = floor_db;
      snr_db_ = snr;
    }
    const float floor_gain = std::exp(floor_log);
    for (std::size_t k = 0; k < K; ++k)
      gain_[k] = std::max(FastExp(presence_[k] * log_gain_h1_[k] + (1.0f - presence_[k]) * floor_log), floor_gain);
    {
      const float bin_hz = static_cast<float>(config_.sample_rate) / static_cast<float>(window_);
      for (std::size_t k = 0; k < K && static_cast<float>(k) * bin_hz < config_.low_cut_hz; ++k)
        gain_[k] = std::min(gain_[k], floor_gain);
    }

    // 5. Minimum search: every sub_window_frames_ frames, store the sub-window minima; the minimum over
    //    the last kSubWindows of them becomes the new running minimum.
    const int sub_len = (config_.startup_frames > 0 && rotations_ < kSubWindows) ? config_.startup_frames : sub_window_frames_;
    if (++sub_window_count_ >= sub_len) {
      sub_window_count_ = 0;
      ++rotations_;
      float *slot = stored_min_.data() + static_cast<std::size_t>(stored_next_) * K;
      float *slot_t = stored_min_tilde_.data() + static_cast<std::size_t>(stored_next_) * K;
      std::copy_n(Ssw, K, slot);
      std::copy_n(Scsw, K, stored_c_.data() + static_cast<std::size_t>(stored_next_) * K);
      std::copy_n(Stsw, K, slot_t);
      stored_next_ = (stored_next_ + 1) % kSubWindows;
      std::copy_n(stored_min_.data(), K, Smin);
      std::copy_n(stored_min_tilde_.data(), K, Stmin);
      std::copy_n(stored_c_.data(), K, Scmin);
      for (int u = 1; u < kSubWindows; ++u) {
        const float *row = stored_min_.data() + static_cast<std::size_t>(u) * K;
        const float *row_t = stored_min_tilde_.data() + static_cast<std::size_t>(u) * K;
        for (std::size_t k = 0; k < K; ++k) {
          Smin[k] = std::min(Smin[k], row[k]);
          Stmin[k] = std::min(Stmin[k], row_t[k]);
          Scmin[k] = std::min(Scmin[k], stored_c_[static_cast<std::size_t>(u) * K + k]);
        }
      }
      std::copy_n(S, K, Ssw);
      std::copy_n(St, K, Stsw);
      std::copy_n(Sc, K, Scsw);
    }
  }
}

}  // namespace rtvoice
