// Two-thread transfer throughput, 256-frame blocks: rtvoice::RingBuffer versus a mutex-guarded ring
// (the usual lock-based alternative). Usage: bench_ring_buffer rtvoice|mutex [frames]
// Prints the achieved GB/s; bench/test_bench_core.py times whole runs of both.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rtvoice/ring_buffer.h"

namespace {
constexpr std::size_t kBlock = 256;

class MutexRing {
 public:
  explicit MutexRing(std::size_t capacity) : data_(capacity) {}
  std::size_t Write(const float *src, std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t k = std::min(n, data_.size() - size_);
    for (std::size_t i = 0; i < k; ++i) data_[(head_ + size_ + i) % data_.size()] = src[i];
    size_ += k;
    return k;
  }
  std::size_t Read(float *dst, std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t k = std::min(n, size_);
    for (std::size_t i = 0; i < k; ++i) dst[i] = data_[(head_ + i) % data_.size()];
    head_ = (head_ + k) % data_.size();
    size_ -= k;
    return k;
  }

 private:
  std::mutex mutex_;
  std::vector<float> data_;
  std::size_t head_ = 0, size_ = 0;
};

template <typename Ring>
double Transfer(Ring &ring, std::size_t frames) {
  const auto t0 = std::chrono::steady_clock::now();
  std::thread producer([&] {
    std::vector<float> block(kBlock, 1.0f);
    for (std::size_t sent = 0; sent < frames;) {
      const std::size_t n = ring.Write(block.data(), kBlock);
      sent += n;
      if (n == 0) std::this_thread::yield();
    }
  });
  std::vector<float> out(kBlock);
  double checksum = 0;
  for (std::size_t got = 0; got < frames;) {
    const std::size_t n = ring.Read(out.data(), kBlock);
    got += n;
    if (n == 0) std::this_thread::yield();
    else checksum += out[0];
  }
  producer.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (checksum <= 0) std::fprintf(stderr, "nothing moved\n");
  return seconds;
}
}  // namespace

int main(int argc, char **argv) {
  const std::string impl = argc > 1 ? argv[1] : "rtvoice";
  const std::size_t frames = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 50000000ull;
  // Under the sanitizer runner every test_* and bench_* program gets a small frame count.
  double seconds;
  if (impl == "mutex") {
    MutexRing ring(1 << 14);
    seconds = Transfer(ring, frames);
  } else {
    rtvoice::RingBufferConfig config;
    config.capacity_frames = 1 << 14;
    rtvoice::RingBuffer ring(config);
    seconds = Transfer(ring, frames);
  }
  std::printf("%s: %zu frames in %.4f s = %.3f GB/s\n", impl.c_str(), frames, seconds, frames * 4.0 / seconds / 1e9);
  return 0;
}
