#include "dense_kernels.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace rtvoice {
namespace kernels {

namespace {

// Everything below is force-inlined into the per-ISA entry points, so each is compiled for that ISA
// (an out-of-line copy would be baseline code, and __builtin_fmaf there a libm call).
#define RTVOICE_INLINE inline __attribute__((always_inline))

// a * b + c, fused (one rounding) where the build has FMA, else two roundings.
template <bool kFma>
RTVOICE_INLINE float MulAdd(float a, float b, float c) {
  if constexpr (kFma) {
    return __builtin_fmaf(a, b, c);
  } else {
    return a * b + c;
  }
}

template <bool kFma>
RTVOICE_INLINE void MatMulAccumulateImpl(const float *x, std::size_t frames, std::size_t n, const float *w, std::size_t m,
                                 float *y) {
  std::size_t r = 0;
  for (; r + 4 <= n; r += 4) {
    const float *__restrict w0 = w + r * m;
    const float *__restrict w1 = w0 + m;
    const float *__restrict w2 = w1 + m;
    const float *__restrict w3 = w2 + m;
    for (std::size_t t = 0; t < frames; ++t) {
      const float *xt = x + t * n + r;
      const float a0 = xt[0], a1 = xt[1], a2 = xt[2], a3 = xt[3];
      if (a0 == 0.0f && a1 == 0.0f && a2 == 0.0f && a3 == 0.0f) continue;
      float *__restrict yt = y + t * m;
      for (std::size_t j = 0; j < m; ++j) {
        yt[j] = MulAdd<kFma>(a3, w3[j], MulAdd<kFma>(a2, w2[j], MulAdd<kFma>(a1, w1[j], MulAdd<kFma>(a0, w0[j], yt[j]))));
      }
    }
  }
  for (; r < n; ++r) {
    const float *__restrict w0 = w + r * m;
    for (std::size_t t = 0; t < frames; ++t) {
      const float a0 = x[t * n + r];
      if (a0 == 0.0f) continue;
      float *__restrict yt = y + t * m;
      for (std::size_t j = 0; j < m; ++j) yt[j] = MulAdd<kFma>(a0, w0[j], yt[j]);
    }
  }
}

// exp(x) for x in [-87, 88] (clamped outside), Cephes' single-precision polynomial: about 1 ulp.
// Branch-free so that loops calling it vectorise.
template <bool kFma>
RTVOICE_INLINE float Exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (round-to-nearest, no libm call).
  constexpr float kMagic = 12582912.0f;
  const float fn = (x * 1.44269504088896341f + kMagic) - kMagic;
  // r = x - n ln2 in two steps (Cody-Waite) keeps r exact enough for the polynomial.
  float r = MulAdd<kFma>(fn, -0.693359375f, x);
  r = MulAdd<kFma>(fn, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = MulAdd<kFma>(p, r, 1.3981999507e-3f);
  p = MulAdd<kFma>(p, r, 8.3334519073e-3f);
  p = MulAdd<kFma>(p, r, 4.1665795894e-2f);
  p = MulAdd<kFma>(p, r, 1.6666665459e-1f);
  p = MulAdd<kFma>(p, r, 5.0000001201e-1f);
  p = MulAdd<kFma>(p, r * r, r) + 1.0f;
  // 2^n assembled in the exponent field; n is in [-126, 127] after the clamp. (n + 127) * 2^23 is exact
  // in float, so one float->int conversion builds the bits (no integer shift: AVX without AVX2 has none).
  const std::int32_t bits = static_cast<std::int32_t>((fn + 127.0f) * 8388608.0f);
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

template <bool kFma>
RTVOICE_INLINE float Sigmoid1(float x) {
  return 1.0f / (1.0f + Exp<kFma>(-x));
}

// tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|): absolute error below 3e-7 everywhere.
template <bool kFma>
RTVOICE_INLINE float Tanh1(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float e = Exp<kFma>(-2.0f * ax);
  const float t = (1.0f - e) / (1.0f + e);
  return x < 0.0f ? -t : t;
}

template <bool kFma>
RTVOICE_INLINE void LstmPointwiseImpl(const float *gates, std::size_t hidden, float *h, float *c) {
  const float *__restrict gi = gates;
  const float *__restrict gf = gates + hidden;
  const float *__restrict gg = gates + 2 * hidden;
  const float *__restrict go = gates + 3 * hidden;
  float *__restrict hh = h;
  float *__restrict cc = c;
  for (std::size_t j = 0; j < hidden; ++j) {
    const float i = Sigmoid1<kFma>(gi[j]);
    const float f = Sigmoid1<kFma>(gf[j]);
    const float g = Tanh1<kFma>(gg[j]);
    const float o = Sigmoid1<kFma>(go[j]);
    const float cn = f * cc[j] + i * g;
    cc[j] = cn;
    hh[j] = o * Tanh1<kFma>(cn);
  }
}

template <bool kFma>
RTVOICE_INLINE void SigmoidImpl(float *v, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) v[j] = Sigmoid1<kFma>(v[j]);
}

template <bool kFma>
RTVOICE_INLINE void TanhImpl(float *v, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) v[j] = Tanh1<kFma>(v[j]);
}

// --- the two builds ---------------------------------------------------------------------------
// The kernels only touch memory the calling stream owns (or immutable, shared weights), so
// ThreadSanitizer builds leave them uninstrumented: instrumenting every multiply-add slows the
// threaded front-end tests 50-fold and finds nothing the callers' instrumentation would not.
#if defined(__SANITIZE_THREAD__)
#define RTVOICE_NO_TSAN __attribute__((no_sanitize_thread))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RTVOICE_NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef RTVOICE_NO_TSAN
#define RTVOICE_NO_TSAN
#endif
struct Table {
  void (*matmul)(const float *, std::size_t, std::size_t, const float *, std::size_t, float *);
  void (*lstm)(const float *, std::size_t, float *, float *);
  void (*sigmoid)(float *, std::size_t);
  void (*tanh)(float *, std::size_t);
  const char *isa;
};

RTVOICE_NO_TSAN void MatMulBaseline(const float *x, std::size_t frames, std::size_t n, const float *w, std::size_t m, float *y) {
  MatMulAccumulateImpl<false>(x, frames, n, w, m, y);
}
RTVOICE_NO_TSAN void LstmBaseline(const float *g, std::size_t hidden, float *h, float *c) { LstmPointwiseImpl<false>(g, hidden, h, c); }
void SigmoidBaseline(float *v, std::size_t n) { SigmoidImpl<false>(v, n); }
void TanhBaseline(float *v, std::size_t n) { TanhImpl<false>(v, n); }

#if defined(__x86_64__) || defined(__i386__)
#define RTVOICE_HAVE_AVX_FMA_BUILD 1
#define RTVOICE_AVX_FMA __attribute__((target("avx,fma"))) RTVOICE_NO_TSAN
RTVOICE_AVX_FMA void MatMulAvxFma(const float *x, std::size_t frames, std::size_t n, const float *w, std::size_t m,
                                  float *y) {
  MatMulAccumulateImpl<true>(x, frames, n, w, m, y);
}
RTVOICE_AVX_FMA void LstmAvxFma(const float *g, std::size_t hidden, float *h, float *c) {
  LstmPointwiseImpl<true>(g, hidden, h, c);
}
RTVOICE_AVX_FMA void SigmoidAvxFma(float *v, std::size_t n) { SigmoidImpl<true>(v, n); }
RTVOICE_AVX_FMA void TanhAvxFma(float *v, std::size_t n) { TanhImpl<true>(v, n); }
#endif

Table ChooseTable() {
  const char *forced = std::getenv("RTVOICE_KERNELS");
  const bool baseline_only = forced != nullptr && std::strcmp(forced, "baseline") == 0;
#ifdef RTVOICE_HAVE_AVX_FMA_BUILD
  __builtin_cpu_init();
  if (!baseline_only && __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma")) {
    return Table{MatMulAvxFma, LstmAvxFma, SigmoidAvxFma, TanhAvxFma, "avx+fma"};
  }
#endif
  (void)baseline_only;
  return Table{MatMulBaseline, LstmBaseline, SigmoidBaseline, TanhBaseline, "baseline"};
}

const Table &Kernels() {
  static const Table table = ChooseTable();  // thread-safe one-time initialisation
  return table;
}

}  // namespace

void MatMulAccumulate(const float *x, std::size_t frames, std::size_t n, const float *w, std::size_t m, float *y) {
  Kernels().matmul(x, frames, n, w, m, y);
}

void Relu(float *v, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) v[j] = v[j] > 0.0f ? v[j] : 0.0f;
}

void LstmPointwise(const float *gates, std::size_t hidden, float *h, float *c) {
  Kernels().lstm(gates, hidden, h, c);
}

void Sigmoid(float *v, std::size_t n) { Kernels().sigmoid(v, n); }
void Tanh(float *v, std::size_t n) { Kernels().tanh(v, n); }

const char *KernelIsa() { return Kernels().isa; }

}  // namespace kernels
}  // namespace rtvoice
