// Thin pybind11 layer over the C++ core: argument checks, array conversion, GIL release. No logic.
#ifndef RTVOICE_PYTHON_BINDINGS_H_
#define RTVOICE_PYTHON_BINDINGS_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

namespace rtvoice_py {

namespace py = pybind11;

// A 1-D float32 C-contiguous view of `obj` (converted if needed; lists and float64 are accepted).
// Raises ValueError for other shapes, non-finite samples (when check_finite) or non-numeric input.
py::array_t<float, py::array::c_style> AsMonoFloat32(const py::handle &obj, const char *what,
                                                     bool check_finite = true);

void BindRingBuffer(py::module_ &m);
void BindFeatures(py::module_ &m);
void BindDenoiser(py::module_ &m);
void BindDcBlocker(py::module_ &m);
void BindVadLevel(py::module_ &m);
void BindLstm(py::module_ &m);
void BindVad(py::module_ &m);
void BindEndpointer(py::module_ &m);
void BindFrontEnd(py::module_ &m);
void BindCallbackMeter(py::module_ &m);
void BindAudioStream(py::module_ &m);

}  // namespace rtvoice_py

#endif  // RTVOICE_PYTHON_BINDINGS_H_
