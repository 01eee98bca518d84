// FrontEnd under real threads: a producer writing odd-sized blocks into the input ring, the worker, and a
// consumer polling events / probabilities / audio. Built plainly and under ThreadSanitizer.
//
// The VAD model here has synthetic weights (a genuine Hann DFT basis, pseudo-random layers): this test is
// about threading, not about speech. Its reference is the same model and endpointer run offline on one
// thread: the threaded front end must reproduce it exactly, lose no sample, and count every drop. The
// front end's first stage, the DC blocker (on by default), is run offline on the whole signal too.
//
// Usage: test_frontend_thread [samples]   (default 2,000,000; the sanitizer scripts pass a smaller one)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rtvoice/dc_blocker.h"
#include "rtvoice/denoiser.h"
#include "rtvoice/endpointer.h"
#include "rtvoice/frontend.h"
#include "rtvoice/silero_vad.h"
#include "rtvoice/vad_level.h"

using namespace rtvoice;

namespace {

int failures = 0;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                              \
      std::fprintf(stderr, "\n");                                     \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

struct Lcg {
  std::uint64_t s;
  explicit Lcg(std::uint64_t seed) : s(seed) {}
  std::uint32_t Next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>(s >> 33);
  }
  float Uniform(float lo, float hi) { return lo + (hi - lo) * (Next() / 2147483648.0f); }
};

std::shared_ptr<const SileroVadModel> SyntheticModel() {
  SileroVadWeights w;
  const double pi = 3.14159265358979323846;
  w.stft_basis.resize(258 * 256);
  for (int k = 0; k < 129; ++k) {
    for (int t = 0; t < 256; ++t) {
      const double win = 0.5 - 0.5 * std::cos(2 * pi * t / 256);
      const double a = 2 * pi * ((k * t) % 256) / 256;
      w.stft_basis[k * 256 + t] = static_cast<float>(win * std::cos(a));
      w.stft_basis[(129 + k) * 256 + t] = static_cast<float>(-win * std::sin(a));
    }
  }
  Lcg rng(42);
  const int in[4] = {129, 128, 64, 64}, out[4] = {128, 64, 64, 128};
  for (int i = 0; i < 4; ++i) {
    const float s = 1.0f / std::sqrt(3.0f * in[i]);
    w.conv_weight[i].resize(out[i] * in[i] * 3);
    for (auto &v : w.conv_weight[i]) v = rng.Uniform(-s, 2 * s);  // positive bias: louder -> larger
    w.conv_bias[i].resize(out[i]);
    for (auto &v : w.conv_bias[i]) v = rng.Uniform(-s, s);
  }
  auto fill = [&](std::vector<float> &v, std::size_t n, float s) {
    v.resize(n);
    for (auto &x : v) x = rng.Uniform(-s, s);
  };
  fill(w.lstm_weight_ih, 512 * 128, 0.09f);
  fill(w.lstm_weight_hh, 512 * 128, 0.09f);
  fill(w.lstm_bias_ih, 512, 0.09f);
  fill(w.lstm_bias_hh, 512, 0.09f);
  fill(w.out_weight, 128, 0.3f);
  w.out_bias = {0.0f};
  return std::make_shared<SileroVadModel>(w);
}

// Alternating loud (tones + noise) and quiet stretches of 0.3-2 s.
std::vector<float> Signal(std::size_t n) {
  std::vector<float> x(n);
  Lcg rng(7);
  std::size_t i = 0;
  bool loud = false;
  while (i < n) {
    const std::size_t len = std::min(n - i, static_cast<std::size_t>(rng.Uniform(4800, 32000)));
    const float f = rng.Uniform(100, 3000);
    for (std::size_t j = 0; j < len; ++j, ++i) {
      const float noise = rng.Uniform(-1, 1);
      x[i] = loud ? 0.3f * std::sin(2 * 3.14159265f * f * i / 16000.0f) + 0.05f * noise : 0.001f * noise;
    }
    loud = !loud;
  }
  return x;
}

struct Offline {
  std::vector<float> probs;
  std::vector<SegmentEvent> events;
};

Offline RunOffline(const std::vector<float> &x, std::shared_ptr<const SileroVadModel> model,
                   const EndpointerConfig &config) {
  Offline o;
  SileroVad vad(model);
  VadLevel level{VadLevelConfig{}};  // the front end's VAD hears a level-normalised copy (default settings)
  Endpointer ep(config);
  SegmentEvent ev[Endpointer::kMaxEventsPerCall];
  for (std::size_t i = 0; i < x.size(); i += 512) {
    const std::size_t n = std::min<std::size_t>(512, x.size() - i);
    float chunk[512] = {0};
    std::copy(x.begin() + i, x.begin() + i + n, chunk);
    level.Apply(chunk, 512, chunk);
    o.probs.push_back(vad.Prob(chunk));
    const std::size_t k = ep.Accept(o.probs.back(), n, ev);
    o.events.insert(o.events.end(), ev, ev + k);
  }
  const std::size_t k = ep.Finish(ev);
  o.events.insert(o.events.end(), ev, ev + k);
  return o;
}

// What the front end's DC blocker makes of the whole signal (x itself when it is off).
std::vector<float> Blocked(const std::vector<float> &x, const FrontEndConfig &fc) {
  if (!fc.dc_block) return x;
  DcBlocker blocker(fc.dc_blocker);
  std::vector<float> y(x.size());
  blocker.Process(x.data(), x.size(), y.data());
  return y;
}

void Produce(FrontEnd &fe, const std::vector<float> &x, bool wait_for_space) {
  Lcg rng(99);
  std::size_t i = 0;
  while (i < x.size()) {
    const std::size_t block = std::min<std::size_t>(x.size() - i, 1 + rng.Next() % 1024);
    if (!wait_for_space) {
      fe.Input().Write(x.data() + i, block);  // what does not fit is refused and counted
    } else {
      // A file reader may wait for space (an audio callback never does): write only what fits.
      std::size_t done = 0;
      while (done < block) {
        const std::size_t fits = std::min(block - done, fe.Input().Space());
        if (fits > 0) {
          done += fe.Input().Write(x.data() + i + done, fits);
        } else {
          std::this_thread::yield();
        }
      }
    }
    i += block;
  }
  fe.Finish();
}

struct Collected {
  std::vector<float> audio;
  std::vector<std::int64_t> audio_starts;
  std::vector<ChunkProbability> probs;
  std::vector<SegmentEvent> events;
};

void Drain(FrontEnd &fe, Collected &c) {
  SegmentEvent ev[64];
  ChunkProbability pr[256];
  for (std::size_t k; (k = fe.PopEvents(ev, 64)) > 0;) c.events.insert(c.events.end(), ev, ev + k);
  for (std::size_t k; (k = fe.PopProbabilities(pr, 256)) > 0;) c.probs.insert(c.probs.end(), pr, pr + k);
  while (const AudioBlock *b = fe.FrontAudio()) {
    c.audio_starts.push_back(b->start);
    c.audio.insert(c.audio.end(), b->samples, b->samples + b->size);
    fe.PopAudio();
  }
}

void Consume(FrontEnd &fe, Collected &c) {
  while (!fe.Done()) {
    fe.WaitForEvents(0.005);
    Drain(fe, c);
  }
  Drain(fe, c);  // what was queued before Done() became visible
}

EndpointerConfig ThresholdsFor(const std::vector<float> &probs) {
  std::vector<float> sorted = probs;
  std::sort(sorted.begin(), sorted.end());
  EndpointerConfig config;
  config.threshold = std::max(sorted[sorted.size() * 6 / 10], 1e-6f);
  config.neg_threshold = std::min(sorted[sorted.size() * 4 / 10], config.threshold);
  config.max_segment_s = 3.0;  // exercise forced splits too
  return config;
}

void TestThreadedEqualsOffline(std::size_t n, std::shared_ptr<const SileroVadModel> model, bool dc_block) {
  FrontEndConfig fc;
  fc.dc_block = dc_block;
  const std::vector<float> input = Signal(n);
  const std::vector<float> x = Blocked(input, fc);  // what the VAD and the consumer see
  CHECK(dc_block == (x != input), "the DC blocker %s", dc_block ? "changed nothing" : "ran while off");
  // Thresholds from the model's own output, so that this synthetic model produces segments.
  const EndpointerConfig config = ThresholdsFor(RunOffline(x, model, EndpointerConfig{}).probs);
  const Offline ref = RunOffline(x, model, config);
  CHECK(ref.events.size() >= 4, "synthetic model gave only %zu events", ref.events.size());

  fc.endpointer = config;
  fc.input_capacity_samples = 4096;  // small: the producer waits for space often
  fc.idle_sleep_ms = 0.5;
  FrontEnd fe(fc, model);
  fe.Start();
  Collected c;
  std::thread producer(Produce, std::ref(fe), std::cref(input), true);
  std::thread consumer(Consume, std::ref(fe), std::ref(c));
  producer.join();
  consumer.join();
  fe.Stop();
  CHECK(fe.Error().empty(), "worker error: %s", fe.Error().c_str());

  const FrontEndStats s = fe.Stats();
  CHECK(s.samples_in == n, "samples_in %llu != %zu", (unsigned long long)s.samples_in, n);
  CHECK(s.input_overflow == 0, "overflow %llu", (unsigned long long)s.input_overflow);
  CHECK(s.chunks == (n + 511) / 512, "chunks %llu", (unsigned long long)s.chunks);
  CHECK(s.audio_dropped_blocks == 0 && s.probs_dropped == 0 && s.events_dropped == 0, "unexpected drops");
  CHECK(c.audio.size() == n && std::equal(c.audio.begin(), c.audio.end(), x.begin()), "audio differs (%zu samples)",
        c.audio.size());
  for (std::size_t i = 0; i < c.audio_starts.size(); ++i) {
    CHECK(c.audio_starts[i] == static_cast<std::int64_t>(512 * i), "block %zu starts at %lld", i,
          (long long)c.audio_starts[i]);
  }
  CHECK(c.probs.size() == ref.probs.size(), "%zu probabilities, expected %zu", c.probs.size(), ref.probs.size());
  for (std::size_t i = 0; i < std::min(c.probs.size(), ref.probs.size()); ++i) {
    CHECK(c.probs[i].prob == ref.probs[i] && c.probs[i].sample == static_cast<std::int64_t>(512 * i),
          "chunk %zu: %g vs %g", i, c.probs[i].prob, ref.probs[i]);
  }
  CHECK(c.events.size() == ref.events.size(), "%zu events, expected %zu", c.events.size(), ref.events.size());
  int forced = 0;
  for (std::size_t i = 0; i < std::min(c.events.size(), ref.events.size()); ++i) {
    CHECK(c.events[i].kind == ref.events[i].kind && c.events[i].sample == ref.events[i].sample &&
              c.events[i].forced == ref.events[i].forced,
          "event %zu differs", i);
    CHECK(c.events[i].kind == (i % 2 == 0 ? SegmentEventKind::kSpeechStart : SegmentEventKind::kSpeechEnd),
          "event %zu out of order", i);
    forced += c.events[i].forced;
  }
  std::printf("  threaded == offline (DC blocker %s): %zu samples, %zu chunks, %zu events (%d forced), busy %.3f s\n",
              dc_block ? "on" : "off", n, c.probs.size(), c.events.size(), forced, s.busy_seconds);
}

// With the denoiser: clean sample i must be the enhanced input sample i (latency realigned), the tail
// flushed, and the probabilities those of the VAD on that clean stream.
void TestDenoisedEqualsOffline(std::size_t n, std::shared_ptr<const SileroVadModel> model) {
  for (const std::size_t size : {n, std::size_t{300}, std::size_t{12345}}) {
    const std::vector<float> x = Signal(size);
    FrontEndConfig fc;
    fc.denoise = true;
    fc.idle_sleep_ms = 0.5;
    FrontEnd fe(fc, model);
    const std::size_t latency = fe.DenoiserLatencySamples();
    fe.Start();
    Collected c;
    std::thread producer(Produce, std::ref(fe), std::cref(x), true);
    std::thread consumer(Consume, std::ref(fe), std::ref(c));
    producer.join();
    consumer.join();
    fe.Stop();
    Denoiser offline(fc.denoiser);
    std::vector<float> in = Blocked(x, fc), out(size + latency);
    in.resize(size + latency, 0.0f);
    offline.Process(in.data(), in.size(), out.data());
    const std::vector<float> clean(out.begin() + static_cast<std::ptrdiff_t>(latency), out.end());
    CHECK(c.audio == clean, "denoised audio differs from offline (%zu vs %zu samples)", c.audio.size(), clean.size());
    const Offline ref = RunOffline(clean, model, fc.endpointer);
    CHECK(c.probs.size() == ref.probs.size(), "%zu probabilities, expected %zu", c.probs.size(), ref.probs.size());
    for (std::size_t i = 0; i < std::min(c.probs.size(), ref.probs.size()); ++i)
      CHECK(c.probs[i].prob == ref.probs[i], "denoised chunk %zu: %g vs %g", i, c.probs[i].prob, ref.probs[i]);
  }
  std::printf("  denoised == offline denoiser + VAD, latency realigned\n");
}

void TestDropsAreCounted(std::size_t n, std::shared_ptr<const SileroVadModel> model) {
  const std::vector<float> x = Signal(n);
  FrontEndConfig fc;
  fc.endpointer = ThresholdsFor(RunOffline(x, model, EndpointerConfig{}).probs);
  fc.audio_queue_blocks = 4;
  fc.prob_queue_capacity = 8;
  fc.event_queue_capacity = 1;
  fc.idle_sleep_ms = 0.5;
  FrontEnd fe(fc, model);
  fe.Start();
  std::thread producer(Produce, std::ref(fe), std::cref(x), true);
  producer.join();
  fe.Stop();  // nobody consumed: the queues filled up and the rest was dropped
  Collected c;
  Drain(fe, c);
  const FrontEndStats s = fe.Stats();
  CHECK(s.samples_in == n, "samples_in");
  CHECK(c.audio_starts.size() == 4 && c.audio_starts.size() + s.audio_dropped_blocks == s.chunks,
        "audio: %zu kept + %llu dropped != %llu", c.audio_starts.size(), (unsigned long long)s.audio_dropped_blocks,
        (unsigned long long)s.chunks);
  CHECK(c.audio.size() + s.audio_dropped_samples == n, "audio samples kept + dropped != input");
  CHECK(c.probs.size() == 8 && c.probs.size() + s.probs_dropped == s.chunks, "probabilities kept + dropped");
  CHECK(c.events.size() == 1 && c.events.size() + s.events_dropped == s.events_emitted && s.events_emitted > 1,
        "events kept %zu + dropped %llu != emitted %llu", c.events.size(), (unsigned long long)s.events_dropped,
        (unsigned long long)s.events_emitted);
  CHECK(s.audio_queue_high_water == 4 && s.event_queue_high_water == 1, "high-water marks");
  std::printf("  drops counted: audio %llu blocks, probs %llu, events %llu of %llu\n",
              (unsigned long long)s.audio_dropped_blocks, (unsigned long long)s.probs_dropped,
              (unsigned long long)s.events_dropped, (unsigned long long)s.events_emitted);
}

void TestOverflowAndAbandon(std::size_t n, std::shared_ptr<const SileroVadModel> model) {
  const std::vector<float> x = Signal(std::min<std::size_t>(n, 100000));
  {
    // Not started: the ring fills, the rest is refused and counted.
    FrontEndConfig fc;
    fc.input_capacity_samples = 8192;
    FrontEnd fe(fc, model);
    Produce(fe, x, /*wait_for_space=*/false);
    const FrontEndStats s = fe.Stats();
    CHECK(s.input_overflow == x.size() - 8192, "overflow %llu", (unsigned long long)s.input_overflow);
    fe.Stop();  // starts, drains the 8192 samples, closes
    CHECK(fe.Stats().samples_in == 8192 && fe.Done(), "stop drained %llu", (unsigned long long)fe.Stats().samples_in);
  }
  {
    // Destroyed while running, with a producer and a consumer still busy until the end.
    auto fe = std::make_unique<FrontEnd>(FrontEndConfig{}, model);
    fe->Start();
    std::atomic<bool> stop{false};
    std::thread producer([&] {
      std::size_t i = 0;
      while (!stop.load()) {
        fe->Input().Write(x.data() + i, 256);
        i = (i + 256) % (x.size() - 256);
        std::this_thread::yield();
      }
    });
    std::thread consumer([&] {
      Collected c;
      while (!stop.load()) {
        fe->WaitForEvents(0.001);
        Drain(*fe, c);
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop.store(true);
    producer.join();
    consumer.join();
    fe.reset();  // no Finish(), no Stop()
  }
  {
    FrontEnd never_started(FrontEndConfig{}, model);
    never_started.Finish();
  }
  std::printf("  overflow counted, destruction without stop is safe\n");
}

}  // namespace

int main(int argc, char **argv) {
  const std::size_t n = argc > 1 ? static_cast<std::size_t>(std::strtoull(argv[1], nullptr, 10)) : 2000000;
  if (n < 100000) {
    std::fprintf(stderr, "need at least 100000 samples\n");
    return 2;
  }
  const auto model = SyntheticModel();
  TestThreadedEqualsOffline(n, model, true);
  TestThreadedEqualsOffline(n, model, false);
  TestDenoisedEqualsOffline(std::min<std::size_t>(n, 400000), model);
  TestDropsAreCounted(std::min<std::size_t>(n, 400000), model);
  TestOverflowAndAbandon(n, model);
  if (failures) {
    std::fprintf(stderr, "test_frontend_thread: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("test_frontend_thread: OK\n");
  return 0;
}
