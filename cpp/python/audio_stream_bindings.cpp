#include "bindings.h"
#include "rtvoice/audio_stream.h"

namespace rtvoice_py {

namespace {
using rtvoice::AudioStream;
using rtvoice::AudioStreamConfig;
using rtvoice::CallbackMeter;
using rtvoice::CaptureStream;
using rtvoice::PlaybackStream;
using rtvoice::RingBuffer;

AudioStreamConfig MakeConfig(int device, int channels, double sample_rate, int frames_per_buffer,
                             double suggested_latency_s, bool realtime) {
  AudioStreamConfig c;
  c.device = device;
  c.channels = channels;
  c.sample_rate = sample_rate;
  c.frames_per_buffer = frames_per_buffer;
  c.suggested_latency_s = suggested_latency_s;
  c.realtime = realtime;
  c.Validate();
  return c;
}

py::dict CountersDict(const AudioStream &s) {
  const rtvoice::AudioStreamCounters c = s.Counters();
  py::dict d;
  d["callbacks"] = c.callbacks;
  d["frames"] = c.frames;
  d["status_callbacks"] = c.status_callbacks;
  d["input_overflows"] = c.input_overflows;
  d["input_underflows"] = c.input_underflows;
  d["output_underflows"] = c.output_underflows;
  d["output_overflows"] = c.output_overflows;
  d["ring_refused_frames"] = c.ring_refused_frames;
  d["silence_frames"] = c.silence_frames;
  d["discards"] = c.discards;
  d["discarded_frames"] = c.discarded_frames;
  return d;
}

#define RTVOICE_STREAM_ARGS                                                                                  \
  py::arg("config"), py::arg("ring"), py::arg("meter"), py::arg("entry_meter") = nullptr, py::keep_alive<1, 3>(), \
      py::keep_alive<1, 4>(), py::keep_alive<1, 5>()
}  // namespace

void BindAudioStream(py::module_ &m) {
  m.attr("has_native_audio") = rtvoice::NativeAudioAvailable();
  static py::exception<rtvoice::AudioStreamError> error(m, "AudioStreamError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const rtvoice::AudioStreamError &e) {
      py::set_error(error, e.what());
    }
  });

  py::class_<AudioStreamConfig>(m, "AudioStreamConfig", "Options of a CaptureStream / PlaybackStream.")
      .def(py::init(&MakeConfig), py::arg("device") = -1, py::arg("channels") = 1, py::arg("sample_rate") = 48000.0,
           py::arg("frames_per_buffer") = 0, py::arg("suggested_latency_s") = -1.0, py::arg("realtime") = false)
      .def_readonly("device", &AudioStreamConfig::device, "PortAudio device index (-1: default device).")
      .def_readonly("channels", &AudioStreamConfig::channels, "Interleaved channels.")
      .def_readonly("sample_rate", &AudioStreamConfig::sample_rate, "Hz.")
      .def_readonly("frames_per_buffer", &AudioStreamConfig::frames_per_buffer, "Frames per callback (0: PortAudio's choice).")
      .def_readonly("suggested_latency_s", &AudioStreamConfig::suggested_latency_s,
                    "Suggested latency (s; < 0: the device's default low latency).")
      .def_readonly("realtime", &AudioStreamConfig::realtime, "SCHED_FIFO callback thread requested (ALSA only).")
      .def("__repr__", &AudioStreamConfig::ToString);

  py::class_<AudioStream>(m, "AudioStream", "A PortAudio stream whose callback is native code only (base class).")
      .def("start", &AudioStream::Start, py::call_guard<py::gil_scoped_release>(), "Start (or restart) the callbacks.")
      .def("stop", &AudioStream::Stop, py::call_guard<py::gil_scoped_release>(),
           "Stop; returns once the last callback has run. No-op when stopped or closed.")
      .def("close", &AudioStream::Close, py::call_guard<py::gil_scoped_release>(),
           "Abort if running (no wait for a stalled device), close, release PortAudio. Idempotent.")
      .def_property_readonly("active", &AudioStream::IsActive, "Callbacks are running (False once PortAudio ended the stream).")
      .def_property_readonly("closed", [](const AudioStream &s) { return !s.IsOpen(); })
      .def_property_readonly("finished", &AudioStream::Finished,
                             "The stream-finished callback ran since the last start (stopped, or ended by PortAudio).")
      .def_property_readonly("latency", &AudioStream::LatencySeconds, "Latency PortAudio reports (s).")
      .def_property_readonly("samplerate", &AudioStream::SampleRate, "Rate the stream runs at (Hz).")
      .def_property_readonly("device", &AudioStream::Device, "PortAudio device index.")
      .def_property_readonly("realtime", &AudioStream::Realtime,
                             "SCHED_FIFO was requested for the callback thread (ALSA host API; PortAudio falls back silently when not permitted).")
      .def_property_readonly("frames", &AudioStream::Frames, "Frames delivered by the callbacks so far.")
      .def_property_readonly("config", &AudioStream::Config)
      .def("counters", &CountersDict,
           "dict: callbacks, frames, status_callbacks, input_overflows, input_underflows, output_underflows, "
           "output_overflows, ring_refused_frames, silence_frames, discards, discarded_frames.");

  py::class_<CaptureStream, AudioStream>(m, "CaptureStream", R"doc(
Input stream whose PortAudio callback copies the device's float32 frames into `ring` (native code only: no
Python, no GIL) and records its duration in `meter` (from PortAudio's timestamp, see CallbackMeter) and
`entry_meter` (optional: from native entry). Opened on construction, started by ``start()``.

Args:
    config: an AudioStreamConfig (device index, channels = ring.channels, rate in Hz, ...).
    ring: the RingBuffer the callback writes (frames refused when full are counted).
    meter, entry_meter: CallbackMeters (kept alive by the stream).
)doc")
      .def(py::init([](const AudioStreamConfig &config, RingBuffer &ring, CallbackMeter &meter, CallbackMeter *entry_meter) {
             return new CaptureStream(config, &ring, &meter, entry_meter);
           }),
           RTVOICE_STREAM_ARGS);

  py::class_<PlaybackStream, AudioStream>(m, "PlaybackStream", R"doc(
Output stream whose PortAudio callback copies float32 frames from `ring` into the device buffer, zero-filling
what is missing (native code only: no Python, no GIL), and records its duration in `meter` / `entry_meter`.
``request_discard()`` (any thread) makes the next callback drop everything queued first (barge-in).
)doc")
      .def(py::init([](const AudioStreamConfig &config, RingBuffer &ring, CallbackMeter &meter, CallbackMeter *entry_meter) {
             return new PlaybackStream(config, &ring, &meter, entry_meter);
           }),
           RTVOICE_STREAM_ARGS)
      .def("request_discard", &PlaybackStream::RequestDiscard,
           "The next callback drops every queued frame before it reads (O(1)); any thread.");
}

}  // namespace rtvoice_py
