// Real FFT of a fixed size through FFTW3 (single precision).
//
// The plan is made once, in the constructor, under a process-wide lock (FFTW's planner is not
// thread-safe); executing it afterwards is. FFTW_ESTIMATE keeps every instance of a size bit-identical,
// which the streaming-equals-batch guarantees of the features and the denoiser rely on.
#ifndef RTVOICE_FFT_H_
#define RTVOICE_FFT_H_

#include <complex>
#include <cstddef>

namespace rtvoice {

class RealFft {
 public:
  // n: transform length in samples (any size > 1; FFTW is fastest for products of small primes).
  explicit RealFft(std::size_t n);
  ~RealFft();
  RealFft(const RealFft &) = delete;
  RealFft &operator=(const RealFft &) = delete;

  std::size_t Size() const { return n_; }
  std::size_t NumBins() const { return n_ / 2 + 1; }

  // in: n real samples; out: n/2+1 complex bins (unnormalised, e^{-i...} convention).
  void Forward(const float *in, std::complex<float> *out);
  // in: n/2+1 bins; out: n samples, scaled by n (unnormalised, like FFTW).
  void Inverse(const std::complex<float> *in, float *out);

 private:
  std::size_t n_;
  float *real_ = nullptr;
  void *spectrum_ = nullptr;  // fftwf_complex[n/2+1]
  void *forward_plan_ = nullptr;
  void *inverse_plan_ = nullptr;
};

}  // namespace rtvoice

#endif  // RTVOICE_FFT_H_
