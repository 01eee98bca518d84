#include "rtvoice/dc_blocker.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace rtvoice {

namespace {
constexpr double kPi = 3.14159265358979323846;

const DcBlockerConfig &Validated(const DcBlockerConfig &config) {
  config.Validate();
  return config;
}
}  // namespace

void DcBlockerConfig::Validate() const {
  if (sample_rate < 1000 || sample_rate > 768000)
    throw std::invalid_argument("DcBlockerConfig sample_rate must be in [1000, 768000] Hz, got " +
                                std::to_string(sample_rate));
  if (!(cutoff_hz > 0.0 && cutoff_hz <= sample_rate / 100.0))
    throw std::invalid_argument("DcBlockerConfig cutoff_hz must be in (0, sample_rate / 100] Hz, got " +
                                std::to_string(cutoff_hz));
}

std::string DcBlockerConfig::ToString() const {
  std::ostringstream os;
  os << "DcBlockerConfig(sample_rate=" << sample_rate << ", cutoff_hz=" << cutoff_hz << ")";
  return os.str();
}

DcBlocker::DcBlocker(const DcBlockerConfig &config)
    : config_(Validated(config)), r_(1.0 - 2.0 * kPi * config.cutoff_hz / config.sample_rate) {}

double DcBlocker::Process(const float *in, std::size_t n, float *out) noexcept {
  double removed = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = in[i];
    const double y = x - x1_ + r_ * y1_;
    x1_ = x;
    y1_ = y;
    out[i] = static_cast<float>(y);
    removed += x - y;
  }
  return n ? removed / static_cast<double>(n) : 0.0;
}

void DcBlocker::Reset() {
  x1_ = 0.0;
  y1_ = 0.0;
}

}  // namespace rtvoice
