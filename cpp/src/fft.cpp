#include "rtvoice/fft.h"

#include <fftw3.h>

#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

namespace rtvoice {

namespace {
std::mutex &PlannerMutex() {
  static std::mutex m;
  return m;
}
}  // namespace

RealFft::RealFft(std::size_t n) : n_(n) {
  if (n < 2) throw std::invalid_argument("RealFft size must be >= 2, got " + std::to_string(n));
  real_ = fftwf_alloc_real(n);
  fftwf_complex *spectrum = fftwf_alloc_complex(n / 2 + 1);
  spectrum_ = spectrum;
  if (!real_ || !spectrum) {
    fftwf_free(real_);
    fftwf_free(spectrum);
    throw std::bad_alloc();
  }
  std::lock_guard<std::mutex> lock(PlannerMutex());
  const int size = static_cast<int>(n);
  forward_plan_ = fftwf_plan_dft_r2c_1d(size, real_, spectrum, FFTW_ESTIMATE);
  inverse_plan_ = fftwf_plan_dft_c2r_1d(size, spectrum, real_, FFTW_ESTIMATE);
  if (!forward_plan_ || !inverse_plan_) throw std::runtime_error("FFTW could not plan size " + std::to_string(n));
}

RealFft::~RealFft() {
  std::lock_guard<std::mutex> lock(PlannerMutex());
  if (forward_plan_) fftwf_destroy_plan(static_cast<fftwf_plan>(forward_plan_));
  if (inverse_plan_) fftwf_destroy_plan(static_cast<fftwf_plan>(inverse_plan_));
  fftwf_free(real_);
  fftwf_free(spectrum_);
}

void RealFft::Forward(const float *in, std::complex<float> *out) {
  std::memcpy(real_, in, n_ * sizeof(float));
  fftwf_execute(static_cast<fftwf_plan>(forward_plan_));
  std::memcpy(static_cast<void *>(out), spectrum_, NumBins() * sizeof(fftwf_complex));
}

void RealFft::Inverse(const std::complex<float> *in, float *out) {
  // c2r destroys its input, so it always works on the private copy.
  std::memcpy(spectrum_, static_cast<const void *>(in), NumBins() * sizeof(fftwf_complex));
  fftwf_execute(static_cast<fftwf_plan>(inverse_plan_));
  std::memcpy(out, real_, n_ * sizeof(float));
}

}  // namespace rtvoice
