#include "rtvoice/audio_stream.h"

#include <cmath>
#include <cstring>
#include <mutex>
#include <sstream>

#if RTVOICE_HAVE_PORTAUDIO
#include <portaudio.h>
#if __has_include(<pa_linux_alsa.h>)
#include <pa_linux_alsa.h>
#define RTVOICE_HAVE_PA_ALSA 1
#endif
#endif

namespace rtvoice {

bool NativeAudioAvailable() noexcept { return RTVOICE_HAVE_PORTAUDIO != 0; }

void AudioStreamConfig::Validate() const {
  if (device < -1) throw std::invalid_argument("AudioStreamConfig.device must be a PortAudio index >= 0 or -1 (default), got " + std::to_string(device));
  if (channels < 1 || channels > 64) throw std::invalid_argument("AudioStreamConfig.channels must be 1 to 64, got " + std::to_string(channels));
  if (!(sample_rate >= 1000.0 && sample_rate <= 768000.0))
    throw std::invalid_argument("AudioStreamConfig.sample_rate must be 1000 to 768000 Hz, got " + std::to_string(sample_rate));
  if (frames_per_buffer < 0 || frames_per_buffer > (1 << 20))
    throw std::invalid_argument("AudioStreamConfig.frames_per_buffer must be 0 (PortAudio's choice) to 1048576 frames, got " +
                                std::to_string(frames_per_buffer));
  if (!std::isfinite(suggested_latency_s) || suggested_latency_s > 10.0)
    throw std::invalid_argument("AudioStreamConfig.suggested_latency_s must be finite and <= 10 s (< 0: device default), got " +
                                std::to_string(suggested_latency_s));
}

std::string AudioStreamConfig::ToString() const {
  std::ostringstream os;
  os << "AudioStreamConfig(device=" << device << ", channels=" << channels << ", sample_rate=" << sample_rate
     << ", frames_per_buffer=" << frames_per_buffer << ", suggested_latency_s=" << suggested_latency_s
     << ", realtime=" << (realtime ? "True" : "False") << ")";
  return os.str();
}

AudioStreamCounters AudioStream::Counters() const noexcept {
  AudioStreamCounters c;
  c.callbacks = callbacks_.load(std::memory_order_relaxed);
  c.frames = frames_.load(std::memory_order_relaxed);
  c.status_callbacks = status_callbacks_.load(std::memory_order_relaxed);
  c.input_overflows = input_overflows_.load(std::memory_order_relaxed);
  c.input_underflows = input_underflows_.load(std::memory_order_relaxed);
  c.output_underflows = output_underflows_.load(std::memory_order_relaxed);
  c.output_overflows = output_overflows_.load(std::memory_order_relaxed);
  c.ring_refused_frames = ring_refused_frames_.load(std::memory_order_relaxed);
  c.silence_frames = silence_frames_.load(std::memory_order_relaxed);
  c.discards = discards_.load(std::memory_order_relaxed);
  c.discarded_frames = discarded_frames_.load(std::memory_order_relaxed);
  return c;
}

AudioStream::AudioStream(const AudioStreamConfig &config, RingBuffer *ring, CallbackMeter *meter, CallbackMeter *entry_meter)
    : config_(config), ring_(ring), meter_(meter), entry_meter_(entry_meter) {
  config_.Validate();
  if (ring_ == nullptr || meter_ == nullptr) throw std::invalid_argument("an audio stream needs a ring buffer and a meter");
  if (ring_->Channels() != static_cast<std::size_t>(config_.channels))
    throw std::invalid_argument("the ring buffer has " + std::to_string(ring_->Channels()) + " channels, the stream " +
                                std::to_string(config_.channels));
}

AudioStream::~AudioStream() {
  try {
    Close();
  } catch (...) {
  }
}

void AudioStream::CountStatus(unsigned long flags) noexcept {
#if RTVOICE_HAVE_PORTAUDIO
  if (flags == 0) return;
  Bump(status_callbacks_);
  if (flags & paInputOverflow) Bump(input_overflows_);
  if (flags & paInputUnderflow) Bump(input_underflows_);
  if (flags & paOutputUnderflow) Bump(output_underflows_);
  if (flags & paOutputOverflow) Bump(output_overflows_);
#else
  (void)flags;
#endif
}

#if RTVOICE_HAVE_PORTAUDIO

namespace {
// Our own Pa_Initialize/Pa_OpenStream/Pa_CloseStream/Pa_Terminate calls never overlap (PortAudio's are not
// thread-safe). Never taken in a callback.
std::mutex &PaMutex() {
  static std::mutex m;
  return m;
}

[[noreturn]] void Fail(const std::string &what, PaError error) {
  throw AudioStreamError(what + ": " + Pa_GetErrorText(error) +
                             (error == paUnanticipatedHostError && Pa_GetLastHostErrorInfo()->errorText
                                  ? std::string(" (") + Pa_GetLastHostErrorInfo()->errorText + ")"
                                  : std::string()),
                         error);
}

// The span of one callback: from PortAudio's timestamp (or native entry) for `meter`, from native entry for
// `entry_meter`. Begin on construction, End on Finish().
class CallbackTimer {
 public:
  CallbackTimer(CallbackMeter *meter, CallbackMeter *entry_meter, const PaStreamCallbackTimeInfo *time_info) noexcept
      : meter_(meter), entry_meter_(entry_meter), entry_s_(MonotonicSeconds()),
        span_(meter->Begin(time_info != nullptr ? time_info->currentTime : 0.0)) {}
  void Finish() noexcept {
    if (!meter_->Enabled()) return;
    meter_->End(span_);
    if (entry_meter_ != nullptr) entry_meter_->Record(MonotonicSeconds() - entry_s_);
  }

 private:
  CallbackMeter *meter_;
  CallbackMeter *entry_meter_;
  double entry_s_;
  CallbackSpan span_;
};
}  // namespace

struct AudioStreamCallbacks {
  static int Capture(const void *input, void *, unsigned long frames, const PaStreamCallbackTimeInfo *time_info,
                     PaStreamCallbackFlags flags, void *user) noexcept {
    auto *self = static_cast<CaptureStream *>(static_cast<AudioStream *>(user));
    CallbackTimer timer(self->meter_, self->entry_meter_, time_info);
    if (input != nullptr) {
      const std::size_t written = self->ring_->Write(static_cast<const float *>(input), frames);
      if (written < frames) AudioStream::Bump(self->ring_refused_frames_, frames - written);
    }
    AudioStream::Bump(self->frames_, frames);
    AudioStream::Bump(self->callbacks_);
    self->CountStatus(flags);
    timer.Finish();
    return paContinue;
  }

  static int Playback(const void *, void *output, unsigned long frames, const PaStreamCallbackTimeInfo *time_info,
                      PaStreamCallbackFlags flags, void *user) noexcept {
    auto *self = static_cast<PlaybackStream *>(static_cast<AudioStream *>(user));
    CallbackTimer timer(self->meter_, self->entry_meter_, time_info);
    const std::uint64_t requests = self->discard_requests_.load(std::memory_order_acquire);
    if (requests != self->discard_seen_) {
      self->discard_seen_ = requests;
      AudioStream::Bump(self->discarded_frames_, self->ring_->Discard());
      AudioStream::Bump(self->discards_);
    }
    const std::size_t got = self->ring_->ReadOrSilence(static_cast<float *>(output), frames);
    if (got < frames) AudioStream::Bump(self->silence_frames_, frames - got);
    AudioStream::Bump(self->frames_, frames);
    AudioStream::Bump(self->callbacks_);
    self->CountStatus(flags);
    timer.Finish();
    return paContinue;
  }

  static void Finished(void *user) noexcept {
    static_cast<AudioStream *>(user)->finished_.store(true, std::memory_order_release);
  }
};

void AudioStream::Open(bool input) {
  std::lock_guard<std::mutex> lock(PaMutex());
  PaError error = Pa_Initialize();
  if (error != paNoError) Fail("cannot initialise PortAudio", error);
  initialized_ = true;
  try {
    const PaDeviceIndex device = config_.device >= 0 ? config_.device
                                 : input           ? Pa_GetDefaultInputDevice()
                                                   : Pa_GetDefaultOutputDevice();
    if (device == paNoDevice) throw AudioStreamError(std::string("no default ") + (input ? "input" : "output") + " device", paNoDevice);
    if (device >= Pa_GetDeviceCount())
      throw AudioStreamError("no PortAudio device " + std::to_string(device) + " (there are " +
                                 std::to_string(Pa_GetDeviceCount()) + ")", paInvalidDevice);
    const PaDeviceInfo *info = Pa_GetDeviceInfo(device);
    const int max_channels = input ? info->maxInputChannels : info->maxOutputChannels;
    if (config_.channels > max_channels)
      throw AudioStreamError("device " + std::to_string(device) + " (" + info->name + ") has " + std::to_string(max_channels) +
                                 (input ? " input" : " output") + " channels, asked for " + std::to_string(config_.channels),
                             paInvalidChannelCount);
    PaStreamParameters params;
    std::memset(&params, 0, sizeof(params));
    params.device = device;
    params.channelCount = config_.channels;
    params.sampleFormat = paFloat32;  // interleaved
    params.suggestedLatency = config_.suggested_latency_s >= 0.0 ? config_.suggested_latency_s
                              : input ? info->defaultLowInputLatency
                                      : info->defaultLowOutputLatency;
    params.hostApiSpecificStreamInfo = nullptr;
    PaStream *stream = nullptr;
    error = Pa_OpenStream(&stream, input ? &params : nullptr, input ? nullptr : &params, config_.sample_rate,
                          config_.frames_per_buffer > 0 ? static_cast<unsigned long>(config_.frames_per_buffer)
                                                        : paFramesPerBufferUnspecified,
                          paNoFlag, input ? &AudioStreamCallbacks::Capture : &AudioStreamCallbacks::Playback,
                          static_cast<AudioStream *>(this));
    if (error != paNoError)
      Fail(std::string("cannot open ") + (input ? "input" : "output") + " device " + std::to_string(device) + " (" +
               info->name + ") at " + std::to_string(static_cast<long>(config_.sample_rate)) + " Hz, " +
               std::to_string(config_.channels) + " ch",
           error);
    stream_ = stream;
    device_ = device;
    error = Pa_SetStreamFinishedCallback(stream, &AudioStreamCallbacks::Finished);
    if (error != paNoError) Fail("cannot set the stream-finished callback", error);
#ifdef RTVOICE_HAVE_PA_ALSA
    const PaHostApiInfo *host = Pa_GetHostApiInfo(info->hostApi);
    if (config_.realtime && host != nullptr && host->type == paALSA) {
      PaAlsa_EnableRealtimeScheduling(stream, 1);
      realtime_ = true;
    }
#endif
  } catch (...) {
    if (stream_ != nullptr) Pa_CloseStream(static_cast<PaStream *>(stream_));
    stream_ = nullptr;
    Pa_Terminate();
    initialized_ = false;
    throw;
  }
}

void AudioStream::Start() {
  if (stream_ == nullptr) throw AudioStreamError("the stream is closed", 0);
  auto *stream = static_cast<PaStream *>(stream_);
  if (Pa_IsStreamActive(stream) == 1) return;
  if (Pa_IsStreamStopped(stream) == 0) Pa_StopStream(stream);  // ended by PortAudio: stop before restarting
  finished_.store(false, std::memory_order_release);
  PaError error = Pa_StartStream(stream);
#ifdef RTVOICE_HAVE_PA_ALSA
  if (error != paNoError && realtime_) {
    // The process may not create a SCHED_FIFO thread (no CAP_SYS_NICE, RLIMIT_RTPRIO 0): normal scheduling.
    PaAlsa_EnableRealtimeScheduling(stream, 0);
    realtime_ = false;
    error = Pa_StartStream(stream);
  }
#endif
  if (error != paNoError) Fail("cannot start the stream", error);
}

void AudioStream::Stop() {
  if (stream_ == nullptr) return;
  auto *stream = static_cast<PaStream *>(stream_);
  if (Pa_IsStreamStopped(stream) == 1) return;
  const PaError error = Pa_StopStream(stream);
  if (error != paNoError && error != paStreamIsStopped) Fail("cannot stop the stream", error);
}

void AudioStream::Close() {
  if (stream_ != nullptr) {
    auto *stream = static_cast<PaStream *>(stream_);
    // Abort, not stop: Pa_StopStream would wait for a stalled device (a suspended sink) to deliver again.
    if (Pa_IsStreamStopped(stream) == 0) Pa_AbortStream(stream);
    std::lock_guard<std::mutex> lock(PaMutex());
    const PaError error = Pa_CloseStream(stream);
    stream_ = nullptr;
    if (initialized_) Pa_Terminate();
    initialized_ = false;
    if (error != paNoError) Fail("cannot close the stream", error);
  }
}

bool AudioStream::IsActive() const noexcept {
  return stream_ != nullptr && Pa_IsStreamActive(static_cast<PaStream *>(stream_)) == 1;
}

double AudioStream::LatencySeconds() const noexcept {
  if (stream_ == nullptr) return 0.0;
  const PaStreamInfo *info = Pa_GetStreamInfo(static_cast<PaStream *>(stream_));
  if (info == nullptr) return 0.0;
  return info->inputLatency > 0.0 ? info->inputLatency : info->outputLatency;
}

double AudioStream::SampleRate() const noexcept {
  if (stream_ == nullptr) return 0.0;
  const PaStreamInfo *info = Pa_GetStreamInfo(static_cast<PaStream *>(stream_));
  return info == nullptr ? 0.0 : info->sampleRate;
}

#else  // built without PortAudio: the classes exist, constructing one fails.

void AudioStream::Open(bool) {
  throw AudioStreamError("rtvoice was built without PortAudio (install portaudio19-dev and rebuild)", 0);
}
void AudioStream::Start() { throw AudioStreamError("the stream is closed", 0); }
void AudioStream::Stop() {}
void AudioStream::Close() {}
bool AudioStream::IsActive() const noexcept { return false; }
double AudioStream::LatencySeconds() const noexcept { return 0.0; }
double AudioStream::SampleRate() const noexcept { return 0.0; }

#endif

CaptureStream::CaptureStream(const CaptureStreamConfig &config, RingBuffer *ring, CallbackMeter *meter,
                             CallbackMeter *entry_meter)
    : AudioStream(config, ring, meter, entry_meter) {
  Open(true);
}

PlaybackStream::PlaybackStream(const PlaybackStreamConfig &config, RingBuffer *ring, CallbackMeter *meter,
                               CallbackMeter *entry_meter)
    : AudioStream(config, ring, meter, entry_meter) {
  Open(false);
}

}  // namespace rtvoice
