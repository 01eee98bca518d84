#include <string>

#include "bindings.h"
#include "rtvoice/endpointer.h"

namespace rtvoice_py {

namespace {
using rtvoice::Endpointer;
using rtvoice::EndpointerConfig;
using rtvoice::SegmentEvent;

py::list EventList(const SegmentEvent *events, std::size_t n) {
  py::list out;
  for (std::size_t i = 0; i < n; ++i) {
    out.append(py::make_tuple(rtvoice::SegmentEventKindName(events[i].kind), events[i].sample, events[i].forced));
  }
  return out;
}
}  // namespace

void BindEndpointer(py::module_ &m) {
  py::class_<EndpointerConfig>(m, "EndpointerConfig", "Endpointer settings (see rtvoice/endpointer.h).")
      .def(py::init<>())
      .def_readwrite("sample_rate", &EndpointerConfig::sample_rate, "Hz")
      .def_readwrite("chunk_samples", &EndpointerConfig::chunk_samples, "samples per probability")
      .def_readwrite("threshold", &EndpointerConfig::threshold, "onset: prob >= threshold is speech")
      .def_readwrite("neg_threshold", &EndpointerConfig::neg_threshold,
                     "offset: prob < neg_threshold inside speech starts a silence")
      .def_readwrite("min_speech_ms", &EndpointerConfig::min_speech_ms, "ms; shorter bursts are ignored")
      .def_readwrite("min_silence_ms", &EndpointerConfig::min_silence_ms, "ms of trailing silence ending a segment")
      .def_readwrite("pad_before_ms", &EndpointerConfig::pad_before_ms, "ms kept before the onset")
      .def_readwrite("pad_after_ms", &EndpointerConfig::pad_after_ms, "ms kept after the speech (<= min_silence_ms)")
      .def_readwrite("max_segment_s", &EndpointerConfig::max_segment_s, "s; longer segments are split (forced)")
      .def("validate", &EndpointerConfig::Validate, "Raise ValueError for an inconsistent setting.")
      .def("__repr__", &EndpointerConfig::ToString);

  py::class_<Endpointer>(m, "Endpointer", R"doc(
Per-chunk speech probabilities -> speech_start / speech_end events at exact sample positions.

Events are (kind, sample, forced) tuples: kind "speech_start" or "speech_end", sample the int64 stream
position, forced True on both sides of a split made by max_segment_s.
)doc")
      .def(py::init<const EndpointerConfig &>(), py::arg("config"))
      .def(
          "accept",
          [](Endpointer &self, float prob, py::object num_samples) {
            const std::size_t n =
                num_samples.is_none() ? self.Config().chunk_samples : num_samples.cast<std::size_t>();
            SegmentEvent events[Endpointer::kMaxEventsPerCall];
            const std::size_t count = self.Accept(prob, n, events);
            return EventList(events, count);
          },
          py::arg("prob"), py::arg("num_samples") = py::none(),
          "Probability of the next chunk (num_samples samples, default chunk_samples). Returns the events it completes.")
      .def(
          "finish",
          [](Endpointer &self) {
            SegmentEvent events[Endpointer::kMaxEventsPerCall];
            const std::size_t count = self.Finish(events);
            return EventList(events, count);
          },
          "The stream ended: close an open segment. Returns its events.")
      .def("reset", &Endpointer::Reset, "Start a new stream at sample 0.")
      .def_property_readonly("position", &Endpointer::Position, "Samples accepted so far.")
      .def_property_readonly("in_segment", &Endpointer::InSegment, "A speech_start was emitted and no speech_end yet.")
      .def_property_readonly("config", &Endpointer::Config);
}

}  // namespace rtvoice_py
