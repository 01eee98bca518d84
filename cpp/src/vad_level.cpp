#include "rtvoice/vad_level.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace rtvoice {

namespace {
// A chunk this quiet (-120 dBFS RMS) is digital silence (a gap in a file, a muted input): it says nothing
// about the noise floor.
constexpr float kDigitalSilenceRms = 1e-6f;

const VadLevelConfig &Validated(const VadLevelConfig &config) {
  config.Validate();
  return config;
}

std::size_t WindowChunks(const VadLevelConfig &c) {
  const double chunks = static_cast<double>(c.window_s) * c.sample_rate / static_cast<double>(c.chunk_samples);
  return std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(chunks)));
}
}  // namespace

void VadLevelConfig::Validate() const {
  if (!(target_peak > 0.0f && target_peak <= 1.0f))
    throw std::invalid_argument("VadLevelConfig target_peak must be in (0, 1], got " + std::to_string(target_peak));
  if (!(max_gain_db >= 0.0f && max_gain_db <= 60.0f))
    throw std::invalid_argument("VadLevelConfig max_gain_db must be in [0, 60] dB, got " + std::to_string(max_gain_db));
  if (!(window_s >= 0.032f && window_s <= 30.0f))
    throw std::invalid_argument("VadLevelConfig window_s must be in [0.032, 30] s, got " + std::to_string(window_s));
  if (!(floor >= 0.0f && floor < target_peak))
    throw std::invalid_argument("VadLevelConfig floor must be in [0, target_peak), got " + std::to_string(floor));
  if (!(max_noise_rms > 0.0f && max_noise_rms <= target_peak))
    throw std::invalid_argument("VadLevelConfig max_noise_rms must be in (0, target_peak], got " +
                                std::to_string(max_noise_rms));
  if (sample_rate < 1000 || sample_rate > 768000)
    throw std::invalid_argument("VadLevelConfig sample_rate must be in [1000, 768000] Hz, got " +
                                std::to_string(sample_rate));
  if (chunk_samples == 0 || chunk_samples > 65536)
    throw std::invalid_argument("VadLevelConfig chunk_samples must be in [1, 65536], got " +
                                std::to_string(chunk_samples));
}

std::string VadLevelConfig::ToString() const {
  std::ostringstream os;
  os << "VadLevelConfig(enabled=" << (enabled ? "true" : "false") << ", target_peak=" << target_peak
     << ", max_gain_db=" << max_gain_db << ", window_s=" << window_s << ", floor=" << floor << ", max_noise_rms=" << max_noise_rms
     << ", sample_rate=" << sample_rate << ", chunk_samples=" << chunk_samples << ")";
  return os.str();
}

VadLevel::VadLevel(const VadLevelConfig &config)
    : config_(Validated(config)),
      max_gain_(std::pow(10.0f, config.max_gain_db / 20.0f)),
      peaks_(WindowChunks(config), 0.0f),
      rms_(WindowChunks(config), 0.0f) {}

float VadLevel::Gain(const float *chunk, std::size_t n) noexcept {
  float peak = 0.0f;
  double energy = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    peak = std::max(peak, std::fabs(chunk[i]));
    energy += static_cast<double>(chunk[i]) * chunk[i];
  }
  peaks_[next_] = peak;
  const float rms = n ? static_cast<float>(std::sqrt(energy / static_cast<double>(n))) : 0.0f;
  rms_[next_] = rms < kDigitalSilenceRms ? 0.0f : rms;
  next_ = (next_ + 1) % peaks_.size();
  if (!config_.enabled) return 1.0f;
  const float loudest = *std::max_element(peaks_.begin(), peaks_.end());
  if (loudest < config_.floor || loudest <= 0.0f) return 1.0f;
  float gain = config_.target_peak / loudest;
  float noise = 0.0f;  // the quietest chunk that is not digital silence
  for (const float r : rms_)
    if (r > 0.0f && (noise == 0.0f || r < noise)) noise = r;
  if (noise > 0.0f) gain = std::min(gain, config_.max_noise_rms / noise);
  return std::clamp(gain, 1.0f, max_gain_);
}

float VadLevel::Apply(const float *chunk, std::size_t n, float *out) noexcept {
  const float gain = Gain(chunk, n);
  for (std::size_t i = 0; i < n; ++i) out[i] = chunk[i] * gain;
  return gain;
}

void VadLevel::Reset() {
  std::fill(peaks_.begin(), peaks_.end(), 0.0f);
  std::fill(rms_.begin(), rms_.end(), 0.0f);
  next_ = 0;
}

}  // namespace rtvoice
