#include "bindings.h"

#include <cmath>

namespace rtvoice_py {

py::array_t<float, py::array::c_style> AsMonoFloat32(const py::handle &obj, const char *what, bool check_finite) {
  py::array arr = py::array::ensure(obj);
  if (!arr) throw py::type_error(std::string(what) + " must be a numeric array of samples");
  if (arr.dtype().kind() != 'f' && arr.dtype().kind() != 'i' && arr.dtype().kind() != 'u')
    throw py::type_error(std::string(what) + " must hold real numbers, got dtype " + std::string(py::str(arr.dtype())));
  if (arr.ndim() != 1)
    throw py::value_error(std::string(what) + " must be 1-D (mono samples), got shape " +
                          std::string(py::str(py::tuple(arr.attr("shape")))));
  auto out = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(arr);
  if (check_finite) {
    const float *p = out.data();
    for (py::ssize_t i = 0; i < out.size(); ++i) {
      if (!std::isfinite(p[i]))
        throw py::value_error(std::string(what) + " contains NaN or Inf at sample " + std::to_string(i));
    }
  }
  return out;
}

}  // namespace rtvoice_py

PYBIND11_MODULE(_core, m) {
  m.doc() = "rtvoice native core (C++17): ring buffers, framing, FFT-based features";
  rtvoice_py::BindRingBuffer(m);
  rtvoice_py::BindFeatures(m);
  rtvoice_py::BindDenoiser(m);
  rtvoice_py::BindDcBlocker(m);
  rtvoice_py::BindLstm(m);
  rtvoice_py::BindVad(m);
  rtvoice_py::BindVadLevel(m);
  rtvoice_py::BindEndpointer(m);
  rtvoice_py::BindFrontEnd(m);
  rtvoice_py::BindCallbackMeter(m);
  rtvoice_py::BindAudioStream(m);
}
