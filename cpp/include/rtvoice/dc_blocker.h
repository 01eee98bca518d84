// DC blocker: a one-pole, one-zero high-pass that removes a constant (DC) offset and slow drift.
//
//   y[n] = x[n] - x[n-1] + R * y[n-1],   R = 1 - 2 * pi * cutoff_hz / sample_rate
//
// A zero at DC and a pole just inside it: the gain is 0 at 0 Hz, -3 dB near cutoff_hz and within
// 0.05 dB of unity from 10 * cutoff_hz up (speech has nothing below ~60 Hz). A step in the offset decays
// as R^n (time constant 1 / (2 * pi * cutoff_hz): 16 ms at 10 Hz). Why: a microphone or converter with a
// DC offset (0.3 of full scale is enough) makes the VAD hear no speech at all.
//
// Streaming: the state (x[n-1], y[n-1]) carries across Process() calls, so the output does not depend on
// how the input is cut into chunks (bit-exact). The state is kept in double. Input must be finite (the
// front end replaces NaN/Inf first); after construction Process() never allocates, locks or throws.
#ifndef RTVOICE_DC_BLOCKER_H_
#define RTVOICE_DC_BLOCKER_H_

#include <cstddef>
#include <string>

namespace rtvoice {

struct DcBlockerConfig {
  int sample_rate = 16000;  // Hz
  double cutoff_hz = 10.0;  // -3 dB corner (Hz), in (0, sample_rate / 100]

  void Validate() const;  // throws std::invalid_argument
  std::string ToString() const;
};

class DcBlocker {
 public:
  explicit DcBlocker(const DcBlockerConfig &config);

  // Filters n samples of `in` into `out` (in == out is allowed). Returns the mean of what was removed
  // (x - y) over these samples: the offset estimate, in sample units (0 for n == 0).
  double Process(const float *in, std::size_t n, float *out) noexcept;

  // Back to the state right after construction (a new stream).
  void Reset();

  double Coefficient() const { return r_; }  // R
  const DcBlockerConfig &Config() const { return config_; }

 private:
  DcBlockerConfig config_;
  double r_;
  double x1_ = 0.0, y1_ = 0.0;  // x[n-1], y[n-1]
};

}  // namespace rtvoice

#endif  // RTVOICE_DC_BLOCKER_H_
