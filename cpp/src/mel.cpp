#include "rtvoice/mel.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace rtvoice {

void MelBank::Apply(const float *spectrum, float *out) const {
  for (std::size_t m = 0; m < filters_.size(); ++m) {
    const MelFilter &f = filters_[m];
    const float *s = spectrum + f.first_bin;
    float acc = 0.0f;
    for (std::size_t k = 0; k < f.weights.size(); ++k) acc += f.weights[k] * s[k];
    out[m] = acc;
  }
}

std::vector<float> MelBank::Dense() const {
  std::vector<float> dense(filters_.size() * num_fft_bins_, 0.0f);
  for (std::size_t m = 0; m < filters_.size(); ++m) {
    const MelFilter &f = filters_[m];
    std::copy(f.weights.begin(), f.weights.end(), dense.begin() + m * num_fft_bins_ + f.first_bin);
  }
  return dense;
}

void MelBanksOptions::Validate(float sample_rate) const {
  const float nyquist = 0.5f * sample_rate;
  const float high = high_freq > 0.0f ? high_freq : nyquist + high_freq;
  if (num_bins < 3) throw std::invalid_argument("num_bins must be >= 3, got " + std::to_string(num_bins));
  if (low_freq < 0.0f || low_freq >= nyquist || high <= 0.0f || high > nyquist || high <= low_freq) {
    std::ostringstream os;
    os << "bad mel frequency range: low_freq=" << low_freq << " Hz, high_freq=" << high_freq
       << " Hz (resolved to " << high << " Hz) for sample rate " << sample_rate << " Hz";
    throw std::invalid_argument(os.str());
  }
}

std::string MelBanksOptions::ToString() const {
  std::ostringstream os;
  os << "MelBanksOptions(num_bins=" << num_bins << ", low_freq=" << low_freq << ", high_freq=" << high_freq << ")";
  return os.str();
}

namespace {
// Kaldi computes its banks in single precision; matching that keeps the reference comparison tight.
inline float KaldiMel(float hz) { return 1127.0f * logf(1.0f + hz / 700.0f); }

MelBank FromDense(const std::vector<std::vector<float>> &rows, std::size_t num_fft_bins) {
  std::vector<MelFilter> filters;
  filters.reserve(rows.size());
  for (const auto &row : rows) {
    MelFilter f;
    std::size_t first = 0;
    while (first < row.size() && row[first] == 0.0f) ++first;
    std::size_t last = row.size();
    while (last > first && row[last - 1] == 0.0f) --last;
    f.first_bin = first < row.size() ? first : 0;
    f.weights.assign(row.begin() + f.first_bin, row.begin() + std::max(last, f.first_bin));
    filters.push_back(std::move(f));
  }
  return MelBank(std::move(filters), num_fft_bins);
}

double SlaneyHzToMel(double hz) {
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return hz >= min_log_hz ? min_log_mel + std::log(hz / min_log_hz) / logstep : hz / f_sp;
}

double SlaneyMelToHz(double mel) {
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return mel >= min_log_mel ? min_log_hz * std::exp(logstep * (mel - min_log_mel)) : f_sp * mel;
}
}  // namespace

MelBank KaldiMelBank(const MelBanksOptions &opts, float sample_rate, std::size_t padded_window_size) {
  opts.Validate(sample_rate);
  const std::size_t num_fft_bins = padded_window_size / 2;
  const float nyquist = 0.5f * sample_rate;
  const float low_freq = opts.low_freq;
  const float high_freq = opts.high_freq > 0.0f ? opts.high_freq : nyquist + opts.high_freq;
  const float fft_bin_width = sample_rate / static_cast<float>(padded_window_size);
  const float mel_low = KaldiMel(low_freq), mel_high = KaldiMel(high_freq);
  const float mel_delta = (mel_high - mel_low) / static_cast<float>(opts.num_bins + 1);

  std::vector<std::vector<float>> rows(opts.num_bins, std::vector<float>(num_fft_bins + 1, 0.0f));
  for (int b = 0; b < opts.num_bins; ++b) {
    const float left = mel_low + b * mel_delta;
    const float center = mel_low + (b + 1.0f) * mel_delta;
    const float right = mel_low + (b + 2.0f) * mel_delta;
    for (std::size_t i = 0; i < num_fft_bins; ++i) {
      const float mel = KaldiMel(fft_bin_width * static_cast<float>(i));
      if (mel > left && mel < right) {
        rows[b][i] = mel <= center ? (mel - left) / (center - left) : (right - mel) / (right - center);
      }
    }
  }
  return FromDense(rows, num_fft_bins + 1);
}

MelBank SlaneyMelBank(float sample_rate, std::size_t n_fft, std::size_t n_mels, double fmin, double fmax) {
  if (n_fft < 2 || n_mels == 0) throw std::invalid_argument("SlaneyMelBank needs n_fft >= 2 and n_mels >= 1");
  if (fmax < 0.0) fmax = 0.5 * sample_rate;
  if (fmin < 0.0 || fmax <= fmin || fmax > 0.5 * sample_rate + 1e-9)
    throw std::invalid_argument("SlaneyMelBank: need 0 <= fmin < fmax <= sample_rate/2");
  const std::size_t num_fft_bins = n_fft / 2 + 1;
  std::vector<double> fft_freqs(num_fft_bins);
  for (std::size_t k = 0; k < num_fft_bins; ++k)
    fft_freqs[k] = static_cast<double>(sample_rate) * static_cast<double>(k) / static_cast<double>(n_fft);
  const double mel_min = SlaneyHzToMel(fmin), mel_max = SlaneyHzToMel(fmax);
  std::vector<double> mel_freqs(n_mels + 2);
  for (std::size_t i = 0; i < n_mels + 2; ++i)
    mel_freqs[i] = SlaneyMelToHz(mel_min + (mel_max - mel_min) * static_cast<double>(i) / static_cast<double>(n_mels + 1));

  std::vector<std::vector<float>> rows(n_mels, std::vector<float>(num_fft_bins, 0.0f));
  for (std::size_t m = 0; m < n_mels; ++m) {
    const double lower_width = mel_freqs[m + 1] - mel_freqs[m];
    const double upper_width = mel_freqs[m + 2] - mel_freqs[m + 1];
    const double enorm = 2.0 / (mel_freqs[m + 2] - mel_freqs[m]);
    for (std::size_t k = 0; k < num_fft_bins; ++k) {
      const double lower = (fft_freqs[k] - mel_freqs[m]) / lower_width;
      const double upper = (mel_freqs[m + 2] - fft_freqs[k]) / upper_width;
      const double w = std::max(0.0, std::min(lower, upper));
      rows[m][k] = static_cast<float>(w * enorm);
    }
  }
  return FromDense(rows, num_fft_bins);
}

}  // namespace rtvoice
