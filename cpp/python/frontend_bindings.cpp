#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "rtvoice/frontend.h"

namespace rtvoice_py {

namespace {
using rtvoice::AudioBlock;
using rtvoice::ChunkProbability;
using rtvoice::FrontEnd;
using rtvoice::FrontEndConfig;
using rtvoice::FrontEndStats;
using rtvoice::SegmentEvent;

void RaiseIfFailed(const FrontEnd &fe) {
  const std::string error = fe.Error();
  if (!error.empty()) throw std::runtime_error("front-end worker failed: " + error);
}

// Contiguous clean audio from the queue: (start sample, float32 array). Stops before a gap left by
// dropped blocks, so the array is always one contiguous stretch.
py::tuple ReadAudio(FrontEnd &fe, std::int64_t *next_start) {
  std::vector<float> samples;
  std::int64_t start = *next_start;
  {
    py::gil_scoped_release release;
    const AudioBlock *block = fe.FrontAudio();
    if (block) start = block->start;
    std::int64_t expected = start;
    while (block && block->start == expected) {
      samples.insert(samples.end(), block->samples, block->samples + block->size);
      expected += block->size;
      fe.PopAudio();
      block = fe.FrontAudio();
    }
    *next_start = expected;
  }
  py::array_t<float> out(static_cast<py::ssize_t>(samples.size()));
  std::copy(samples.begin(), samples.end(), out.mutable_data());
  return py::make_tuple(start, out);
}

struct PyFrontEnd {
  std::unique_ptr<FrontEnd> fe;
  std::int64_t next_audio = 0;  // where the next read_audio() continues when nothing is queued
};
}  // namespace

void BindFrontEnd(py::module_ &m) {
  py::class_<FrontEndConfig> config(m, "FrontEndConfig", "Front-end settings (see rtvoice/frontend.h).");
  config.def_readwrite("denoiser", &FrontEndConfig::denoiser, "DenoiserConfig used when denoise is true");
  config.def(py::init<>())
      .def_readwrite("sample_rate", &FrontEndConfig::sample_rate, "Hz (16000 only)")
      .def_readwrite("input_capacity_samples", &FrontEndConfig::input_capacity_samples,
                     "input ring capacity in samples (rounded up to a power of two)")
      .def_readwrite("dc_block", &FrontEndConfig::dc_block, "remove a DC offset first (one-pole high-pass)")
      .def_readwrite("dc_blocker", &FrontEndConfig::dc_blocker, "DcBlockerConfig used when dc_block is true")
      .def_readwrite("denoise", &FrontEndConfig::denoise, "run the denoiser before the VAD")
      .def_readwrite("vad_level", &FrontEndConfig::vad_level, "VadLevelConfig: gain on the VAD's copy of the audio")
      .def_readwrite("endpointer", &FrontEndConfig::endpointer, "EndpointerConfig")
      .def_readwrite("audio_queue_blocks", &FrontEndConfig::audio_queue_blocks,
                     "clean-audio queue capacity in blocks of 512 samples")
      .def_readwrite("prob_queue_capacity", &FrontEndConfig::prob_queue_capacity, "probability queue capacity (chunks)")
      .def_readwrite("event_queue_capacity", &FrontEndConfig::event_queue_capacity, "event queue capacity")
      .def_readwrite("idle_sleep_ms", &FrontEndConfig::idle_sleep_ms,
                     "ms the worker sleeps while less than one chunk is waiting")
      .def("validate", &FrontEndConfig::Validate, "Raise ValueError for an inconsistent setting.")
      .def("__repr__", &FrontEndConfig::ToString);

  py::class_<PyFrontEnd>(m, "FrontEnd", R"doc(
Native front end: a C++ worker thread running Silero VAD and the endpointer on audio written into
``input`` (a RingBuffer of 16 kHz mono float32). See rtvoice.frontend.front_end for the Python face.
)doc")
      .def(py::init([](const FrontEndConfig &config, std::shared_ptr<rtvoice::SileroVadModel> model) {
             auto out = new PyFrontEnd;
             out->fe = std::make_unique<FrontEnd>(config, std::move(model));
             return out;
           }),
           py::arg("config"), py::arg("model"))
      .def_property_readonly(
          "input", [](PyFrontEnd &self) -> rtvoice::RingBuffer & { return self.fe->Input(); },
          py::return_value_policy::reference_internal, "The RingBuffer a source writes samples into.")
      .def("start", [](PyFrontEnd &self) { self.fe->Start(); }, "Launch the worker thread.")
      .def("finish", [](PyFrontEnd &self) { self.fe->Finish(); }, "The input ended (idempotent).")
      .def(
          "stop",
          [](PyFrontEnd &self) {
            py::gil_scoped_release release;
            self.fe->Stop();
          },
          "finish(), wait until all input is processed, join the worker.")
      .def_property_readonly("started", [](const PyFrontEnd &self) { return self.fe->Started(); })
      .def_property_readonly("done", [](const PyFrontEnd &self) { return self.fe->Done(); },
                             "All input processed after finish() (or the worker failed).")
      .def_property_readonly("error", [](const PyFrontEnd &self) { return self.fe->Error(); },
                             "Why the worker stopped early ('' if it did not).")
      .def(
          "wait_for_events",
          [](PyFrontEnd &self, double timeout_s) {
            bool ready;
            {
              py::gil_scoped_release release;
              ready = self.fe->WaitForEvents(timeout_s);
            }
            RaiseIfFailed(*self.fe);
            return ready;
          },
          py::arg("timeout_s"), "Block (GIL released) until events are queued, done, or timeout_s seconds.")
      .def(
          "pop_events",
          [](PyFrontEnd &self) {
            RaiseIfFailed(*self.fe);
            py::list out;
            SegmentEvent events[64];
            for (std::size_t n; (n = self.fe->PopEvents(events, 64)) > 0;) {
              for (std::size_t i = 0; i < n; ++i)
                out.append(py::make_tuple(rtvoice::SegmentEventKindName(events[i].kind), events[i].sample,
                                          events[i].forced));
            }
            return out;
          },
          "Queued events as (kind, sample, forced) tuples; never blocks.")
      .def(
          "read_audio", [](PyFrontEnd &self) { return ReadAudio(*self.fe, &self.next_audio); },
          "(start_sample, float32 array): the contiguous clean audio queued so far; never blocks.")
      .def(
          "read_probabilities",
          [](PyFrontEnd &self) {
            std::vector<ChunkProbability> items;
            ChunkProbability buffer[256];
            for (std::size_t n; (n = self.fe->PopProbabilities(buffer, 256)) > 0;) items.insert(items.end(), buffer, buffer + n);
            py::array_t<std::int64_t> samples(static_cast<py::ssize_t>(items.size()));
            py::array_t<float> probs(static_cast<py::ssize_t>(items.size()));
            for (std::size_t i = 0; i < items.size(); ++i) {
              samples.mutable_data()[i] = items[i].sample;
              probs.mutable_data()[i] = items[i].prob;
            }
            return py::make_tuple(samples, probs);
          },
          "(chunk start samples int64 array, speech probabilities float32 array) queued so far.")
      .def_property_readonly(
          "stats",
          [](const PyFrontEnd &self) {
            const FrontEndStats s = self.fe->Stats();
            py::dict d;
            d["samples_in"] = s.samples_in;
            d["input_overflow"] = s.input_overflow;
            d["nonfinite_samples"] = s.nonfinite_samples;
            d["dc_offset_max"] = s.dc_offset_max;
            d["vad_gain_max_db"] = s.vad_gain_max_db;
            d["vad_raised_chunks"] = s.vad_raised_chunks;
            d["chunks"] = s.chunks;
            d["audio_dropped_blocks"] = s.audio_dropped_blocks;
            d["audio_dropped_samples"] = s.audio_dropped_samples;
            d["probs_dropped"] = s.probs_dropped;
            d["events_dropped"] = s.events_dropped;
            d["events_emitted"] = s.events_emitted;
            d["audio_queue_high_water"] = s.audio_queue_high_water;
            d["prob_queue_high_water"] = s.prob_queue_high_water;
            d["event_queue_high_water"] = s.event_queue_high_water;
            d["input_high_water"] = s.input_high_water;
            d["busy_seconds"] = s.busy_seconds;
            return d;
          },
          "Counters (samples, drops, queue high-water marks, worker busy time in seconds).")
      .def_property_readonly("config", [](const PyFrontEnd &self) { return self.fe->Config(); })
      .def_property_readonly("denoiser_latency_samples",
                             [](const PyFrontEnd &self) { return self.fe->DenoiserLatencySamples(); },
                             "Denoiser delay the worker realigns (samples; 0 without denoiser).");
}

}  // namespace rtvoice_py
