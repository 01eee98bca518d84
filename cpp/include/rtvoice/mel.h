// Mel filter banks: Kaldi's triangular banks on the 1127*ln(1+f/700) scale, and the Slaney-normalised
// banks of librosa.filters.mel (htk=False, norm="slaney") that Whisper was trained with.
#ifndef RTVOICE_MEL_H_
#define RTVOICE_MEL_H_

#include <cstddef>
#include <string>
#include <vector>

namespace rtvoice {

// One triangular filter stored sparsely: weights for FFT bins [first_bin, first_bin + weights.size()).
struct MelFilter {
  std::size_t first_bin = 0;
  std::vector<float> weights;
};

class MelBank {
 public:
  MelBank() = default;
  MelBank(std::vector<MelFilter> filters, std::size_t num_fft_bins)
      : filters_(std::move(filters)), num_fft_bins_(num_fft_bins) {}

  // spectrum: num_fft_bins values; out: NumFilters() values.
  void Apply(const float *spectrum, float *out) const;
  std::size_t NumFilters() const { return filters_.size(); }
  std::size_t NumFftBins() const { return num_fft_bins_; }
  const std::vector<MelFilter> &Filters() const { return filters_; }
  // Row-major (NumFilters, NumFftBins) matrix, for inspection and tests.
  std::vector<float> Dense() const;

 private:
  std::vector<MelFilter> filters_;
  std::size_t num_fft_bins_ = 0;
};

struct MelBanksOptions {
  int num_bins = 25;          // number of triangular mel filters
  float low_freq = 20.0f;     // Hz
  float high_freq = 0.0f;     // Hz; <= 0 means Nyquist + high_freq

  void Validate(float sample_rate) const;
  std::string ToString() const;
};

// Kaldi's MelBanks for a padded window of `padded_window_size` samples (no VTLN). The bank spans
// padded/2 + 1 FFT bins; the Nyquist bin always gets weight 0, as in Kaldi.
MelBank KaldiMelBank(const MelBanksOptions &opts, float sample_rate, std::size_t padded_window_size);

// librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm="slaney"); fmax < 0 means sr/2.
MelBank SlaneyMelBank(float sample_rate, std::size_t n_fft, std::size_t n_mels, double fmin = 0.0,
                      double fmax = -1.0);

}  // namespace rtvoice

#endif  // RTVOICE_MEL_H_
