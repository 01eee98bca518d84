#include "rtvoice/features.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace rtvoice {

namespace {
const char *Bool(bool b) { return b ? "True" : "False"; }

std::size_t RoundUpToPowerOfTwo(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

inline float LogFloored(float x) { return std::log(std::max(x, FLT_EPSILON)); }
}  // namespace

// ---- options ----------------------------------------------------------------------------------

std::size_t FrameExtractionOptions::WindowShift() const {
  return static_cast<std::size_t>(samp_freq * 0.001f * frame_shift_ms);
}
std::size_t FrameExtractionOptions::WindowSize() const {
  return static_cast<std::size_t>(samp_freq * 0.001f * frame_length_ms);
}
std::size_t FrameExtractionOptions::PaddedWindowSize() const {
  return round_to_power_of_two ? RoundUpToPowerOfTwo(WindowSize()) : WindowSize();
}

void FrameExtractionOptions::Validate() const {
  if (!(samp_freq > 0.0f) || !std::isfinite(samp_freq)) throw std::invalid_argument("samp_freq must be a positive number of Hz");
  if (!(frame_shift_ms > 0.0f) || !(frame_length_ms > 0.0f))
    throw std::invalid_argument("frame_shift_ms and frame_length_ms must be > 0");
  if (WindowShift() == 0 || WindowSize() < 2)
    throw std::invalid_argument("frame shift/length round to too few samples: " + ToString());
  if (WindowSize() > (1u << 20)) throw std::invalid_argument("frame_length_ms is too long: " + ToString());
  if (dither < 0.0f) throw std::invalid_argument("dither must be >= 0");
  if (preemph_coeff < 0.0f || preemph_coeff > 1.0f) throw std::invalid_argument("preemph_coeff must be in [0, 1]");
  ParseWindowType(window_type);
}

std::string FrameExtractionOptions::ToString() const {
  std::ostringstream os;
  os << "FrameExtractionOptions(samp_freq=" << samp_freq << ", frame_shift_ms=" << frame_shift_ms
     << ", frame_length_ms=" << frame_length_ms << ", dither=" << dither << ", preemph_coeff=" << preemph_coeff
     << ", remove_dc_offset=" << Bool(remove_dc_offset) << ", window_type='" << window_type
     << "', round_to_power_of_two=" << Bool(round_to_power_of_two) << ", blackman_coeff=" << blackman_coeff
     << ", snip_edges=" << Bool(snip_edges) << ")";
  return os.str();
}

std::size_t FbankOptions::Dim() const { return static_cast<std::size_t>(mel_opts.num_bins) + (use_energy ? 1 : 0); }

void FbankOptions::Validate() const {
  frame_opts.Validate();
  mel_opts.Validate(frame_opts.samp_freq);
  if (static_cast<std::size_t>(mel_opts.num_bins) > frame_opts.PaddedWindowSize() / 2)
    throw std::invalid_argument("num_bins is larger than the number of FFT bins");
}

std::string FbankOptions::ToString() const {
  std::ostringstream os;
  os << "FbankOptions(frame_opts=" << frame_opts.ToString() << ", mel_opts=" << mel_opts.ToString()
     << ", use_energy=" << Bool(use_energy) << ", energy_floor=" << energy_floor << ", raw_energy=" << Bool(raw_energy)
     << ", htk_compat=" << Bool(htk_compat) << ", use_log_fbank=" << Bool(use_log_fbank)
     << ", use_power=" << Bool(use_power) << ")";
  return os.str();
}

void MfccOptions::Validate() const {
  frame_opts.Validate();
  mel_opts.Validate(frame_opts.samp_freq);
  if (num_ceps < 1 || num_ceps > mel_opts.num_bins)
    throw std::invalid_argument("num_ceps must be in [1, num_bins], got " + std::to_string(num_ceps));
  if (cepstral_lifter < 0.0f) throw std::invalid_argument("cepstral_lifter must be >= 0");
}

std::string MfccOptions::ToString() const {
  std::ostringstream os;
  os << "MfccOptions(frame_opts=" << frame_opts.ToString() << ", mel_opts=" << mel_opts.ToString()
     << ", num_ceps=" << num_ceps << ", use_energy=" << Bool(use_energy) << ", energy_floor=" << energy_floor
     << ", raw_energy=" << Bool(raw_energy) << ", cepstral_lifter=" << cepstral_lifter
     << ", htk_compat=" << Bool(htk_compat) << ")";
  return os.str();
}

// ---- Kaldi frame processing -------------------------------------------------------------------

KaldiFrameProcessor::KaldiFrameProcessor(const FrameExtractionOptions &opts)
    : opts_(opts),
      window_(MakeWindow(ParseWindowType(opts.window_type), opts.WindowSize(), opts.blackman_coeff)),
      padded_(opts.PaddedWindowSize(), 0.0f),
      spectrum_(opts.PaddedWindowSize() / 2 + 1),
      power_(opts.PaddedWindowSize() / 2 + 1),
      fft_(opts.PaddedWindowSize()) {}

float KaldiFrameProcessor::Process(float *frame, bool raw_energy) {
  const std::size_t n = opts_.WindowSize();
  if (opts_.dither != 0.0f) {
    for (std::size_t i = 0; i < n; ++i) frame[i] += opts_.dither * gauss_(rng_);
  }
  if (opts_.remove_dc_offset) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; ++i) sum += frame[i];
    const float mean = sum / static_cast<float>(n);
    for (std::size_t i = 0; i < n; ++i) frame[i] -= mean;
  }
  float log_energy = 0.0f;
  if (raw_energy) {
    float e = 0.0f;
    for (std::size_t i = 0; i < n; ++i) e += frame[i] * frame[i];
    log_energy = LogFloored(e);
  }
  if (opts_.preemph_coeff != 0.0f) {
    for (std::size_t i = n - 1; i > 0; --i) frame[i] -= opts_.preemph_coeff * frame[i - 1];
    frame[0] -= opts_.preemph_coeff * frame[0];
  }
  for (std::size_t i = 0; i < n; ++i) padded_[i] = frame[i] * window_[i];
  std::fill(padded_.begin() + n, padded_.end(), 0.0f);
  if (!raw_energy) {
    float e = 0.0f;
    for (std::size_t i = 0; i < n; ++i) e += padded_[i] * padded_[i];
    log_energy = LogFloored(e);
  }
  fft_.Forward(padded_.data(), spectrum_.data());
  for (std::size_t k = 0; k < power_.size(); ++k) power_[k] = std::norm(spectrum_[k]);
  return log_energy;
}

// ---- streaming feature computers --------------------------------------------------------------

namespace {
FramerConfig FramerFor(const FrameExtractionOptions &o) {
  FramerConfig c;
  c.frame_length = o.WindowSize();
  c.frame_shift = o.WindowShift();
  c.snip_edges = o.snip_edges;
  return c;
}
}  // namespace

FeatureComputer::FeatureComputer(const FrameExtractionOptions &frame_opts)
    : processor_((frame_opts.Validate(), frame_opts)),
      framer_(new Framer(FramerFor(frame_opts))),
      raw_(frame_opts.WindowSize()) {}

std::size_t FeatureComputer::PopFrames(std::vector<float> *out) {
  std::size_t count = 0;
  const std::size_t dim = Dim();
  while (framer_->PopFrame(raw_.data())) {
    out->resize(out->size() + dim);
    ComputeFrame(raw_.data(), out->data() + out->size() - dim);
    ++count;
  }
  return count;
}

Fbank::Fbank(const FbankOptions &opts)
    : FeatureComputer((opts.Validate(), opts.frame_opts)),
      opts_(opts),
      bank_(KaldiMelBank(opts.mel_opts, opts.frame_opts.samp_freq, opts.frame_opts.PaddedWindowSize())),
      mel_(opts.mel_opts.num_bins) {}

void Fbank::ComputeFrame(float *raw_frame, float *features) {
  const bool energy_needed = opts_.use_energy;
  float log_energy = processor_.Process(raw_frame, opts_.raw_energy || !energy_needed);
  std::vector<float> &power = processor_.PowerSpectrum();
  if (!opts_.use_power) {
    for (float &p : power) p = std::sqrt(p);
  }
  bank_.Apply(power.data(), mel_.data());
  if (opts_.use_log_fbank) {
    for (float &m : mel_) m = LogFloored(m);
  }
  const std::size_t mel_offset = (energy_needed && !opts_.htk_compat) ? 1 : 0;
  std::copy(mel_.begin(), mel_.end(), features + mel_offset);
  if (energy_needed) {
    if (opts_.energy_floor > 0.0f) log_energy = std::max(log_energy, std::log(opts_.energy_floor));
    features[opts_.htk_compat ? mel_.size() : 0] = log_energy;
  }
}

Mfcc::Mfcc(const MfccOptions &opts)
    : FeatureComputer((opts.Validate(), opts.frame_opts)),
      opts_(opts),
      bank_(KaldiMelBank(opts.mel_opts, opts.frame_opts.samp_freq, opts.frame_opts.PaddedWindowSize())),
      mel_(opts.mel_opts.num_bins) {
  const int n = opts.mel_opts.num_bins;
  dct_.assign(static_cast<std::size_t>(opts.num_ceps) * n, 0.0f);
  for (int k = 0; k < opts.num_ceps; ++k) {
    const double normalizer = k == 0 ? std::sqrt(1.0 / n) : std::sqrt(2.0 / n);
    for (int j = 0; j < n; ++j)
      dct_[static_cast<std::size_t>(k) * n + j] =
          static_cast<float>(normalizer * std::cos(M_PI / n * (j + 0.5) * k));
  }
  lifter_.assign(opts.num_ceps, 1.0f);
  if (opts.cepstral_lifter != 0.0f) {
    const double q = opts.cepstral_lifter;
    for (int i = 0; i < opts.num_ceps; ++i) lifter_[i] = static_cast<float>(1.0 + 0.5 * q * std::sin(M_PI * i / q));
  }
}

void Mfcc::ComputeFrame(float *raw_frame, float *features) {
  float log_energy = processor_.Process(raw_frame, opts_.raw_energy || !opts_.use_energy);
  bank_.Apply(processor_.PowerSpectrum().data(), mel_.data());
  for (float &m : mel_) m = LogFloored(m);
  const std::size_t n = mel_.size();
  for (int k = 0; k < opts_.num_ceps; ++k) {
    const float *row = dct_.data() + static_cast<std::size_t>(k) * n;
    float acc = 0.0f;
    for (std::size_t j = 0; j < n; ++j) acc += row[j] * mel_[j];
    features[k] = acc * lifter_[k];
  }
  if (opts_.use_energy) {
    if (opts_.energy_floor > 0.0f) log_energy = std::max(log_energy, std::log(opts_.energy_floor));
    features[0] = log_energy;
  }
  if (opts_.htk_compat) {
    // HTK order: C1..C(n-1), then C0 (or energy) last, with C0 scaled as HTK does.
    const float c0 = features[0] * (opts_.use_energy ? 1.0f : static_cast<float>(std::sqrt(2.0)));
    for (int k = 0; k + 1 < opts_.num_ceps; ++k) features[k] = features[k + 1];
    features[opts_.num_ceps - 1] = c0;
  }
}

// ---- Whisper ----------------------------------------------------------------------------------

void WhisperLogMelConfig::Validate() const {
  if (n_mels < 1 || n_mels > 512) throw std::invalid_argument("n_mels must be in [1, 512], got " + std::to_string(n_mels));
  if (sample_rate <= 0 || n_fft < 2 || hop_length < 1)
    throw std::invalid_argument("WhisperLogMel needs sample_rate > 0, n_fft >= 2, hop_length >= 1");
}

std::string WhisperLogMelConfig::ToString() const {
  std::ostringstream os;
  os << "WhisperLogMelConfig(n_mels=" << n_mels << ", sample_rate=" << sample_rate << ", n_fft=" << n_fft
     << ", hop_length=" << hop_length << ")";
  return os.str();
}

WhisperLogMel::WhisperLogMel(const WhisperLogMelConfig &config)
    : config_((config.Validate(), config)),
      bank_(SlaneyMelBank(static_cast<float>(config.sample_rate), config.n_fft, config.n_mels)),
      fft_(config.n_fft),
      window_(config.n_fft),
      frame_(config.n_fft),
      spectrum_(config.n_fft / 2 + 1),
      power_(config.n_fft / 2 + 1),
      mel_(config.n_mels) {
  for (int i = 0; i < config.n_fft; ++i)
    window_[i] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * M_PI * i / config.n_fft));  // periodic Hann
}

void WhisperLogMel::Compute(const float *audio, std::size_t n, float *out) {
  const std::size_t frames = NumFrames(n);
  if (frames == 0) return;
  const auto len = static_cast<std::int64_t>(n);
  const std::int64_t half = config_.n_fft / 2;
  const std::size_t n_mels = static_cast<std::size_t>(config_.n_mels);
  float max_log = -std::numeric_limits<float>::infinity();
  for (std::size_t t = 0; t < frames; ++t) {
    const std::int64_t start = static_cast<std::int64_t>(t) * config_.hop_length - half;
    if (start >= 0 && start + config_.n_fft <= len) {
      const float *src = audio + start;
      for (int i = 0; i < config_.n_fft; ++i) frame_[i] = src[i] * window_[i];
    } else {
      for (int i = 0; i < config_.n_fft; ++i) {
        std::int64_t s = start + i;
        // numpy's "reflect" padding (edge sample not repeated), repeated for very short input.
        while (len > 1 && (s < 0 || s >= len)) s = s < 0 ? -s : 2 * (len - 1) - s;
        frame_[i] = (len > 1 ? audio[s] : audio[0]) * window_[i];
      }
    }
    fft_.Forward(frame_.data(), spectrum_.data());
    for (std::size_t k = 0; k < power_.size(); ++k) power_[k] = std::norm(spectrum_[k]);
    bank_.Apply(power_.data(), mel_.data());
    for (std::size_t m = 0; m < n_mels; ++m) {
      const float v = std::log10(std::max(mel_[m], 1e-10f));
      out[m * frames + t] = v;
      max_log = std::max(max_log, v);
    }
  }
  const float floor = max_log - 8.0f;
  const std::size_t total = n_mels * frames;
  for (std::size_t i = 0; i < total; ++i) out[i] = (std::max(out[i], floor) + 4.0f) / 4.0f;
}

}  // namespace rtvoice
