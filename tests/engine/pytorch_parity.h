// Replays the PyTorch fixtures written by tests/make_fixtures.py through Netloom's ops.
//
// A fixture file tests/data/pytorch_<family>.safetensors (read with the engine's own
// safetensors reader) holds named cases; case C has
// inputs C.in0, C.in1 ..., PyTorch's outputs C.out, C.out1 ..., an upstream gradient C.gout
// (C.gout1 ...) for each output that carries one, and PyTorch's gradients C.grad0 ... of
// sum(out * gout) for the inputs that must get one. A test supplies a table mapping every
// case name to a lambda that makes the same call with Netloom's ops; run_case() compares the
// forward outputs and, through backward(), the gradients. Rows are the union of the file's
// cases and the table's, so a case present on only one side fails by name instead of being
// skipped.
#pragma once
#include <QtTest/QtTest>

#include <QDir>
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "testing.h"

namespace nl::parity {

using Inputs = std::vector<Tensor>;
using Outputs = std::vector<Tensor>;
using CaseFn = std::function<Outputs(const Inputs&)>;
using CaseTable = std::map<std::string, CaseFn>;
using CaseTensors = std::map<std::string, Tensor>;  // "in0", "out", "grad1", ... → tensor
using Fixture = std::map<std::string, CaseTensors>;  // case name → its tensors

inline QString data_dir() { return QStringLiteral(NETLOOM_TEST_DATA_DIR); }

inline std::string fixture_path(const std::string& family) {
  return (data_dir() + "/pytorch_" + QString::fromStdString(family) + ".safetensors").toStdString();
}

// The cases of one family, loaded once per process; `error` is set instead when the file
// cannot be read or a tensor name is not "<case>.<field>".
struct FamilyFixture {
  Fixture cases;
  std::string error;
};

inline const FamilyFixture& load_family(const std::string& family) {
  static std::map<std::string, FamilyFixture> cache;
  auto found = cache.find(family);
  if (found != cache.end()) return found->second;
  FamilyFixture& fx = cache[family];
  try {
    for (auto& [name, t] : load_safetensors(fixture_path(family))) {
      size_t dot = name.find('.');
      if (dot == std::string::npos) throw std::runtime_error("tensor name '" + name + "' has no '.<field>'");
      fx.cases[name.substr(0, dot)][name.substr(dot + 1)] = t;
    }
  } catch (const std::exception& e) {
    fx.error = e.what();
  }
  return fx;
}

// Field names, "out" being output 0 (as in make_fixtures.py).
inline std::string indexed(const char* stem, size_t k) { return stem + std::to_string(k); }
inline std::string out_field(const char* stem, size_t k) { return k == 0 ? stem : indexed(stem, k); }

// Float results must agree to 1e-4 relative; the absolute floor scales with the tensor's
// largest magnitude, since float32 sums of many terms carry error relative to their terms,
// not to a result that happens to cancel to near zero. Integer and boolean results are exact.
inline std::string compare_tensor(const std::string& what, const Tensor& actual, const Tensor& expected) {
  if (!actual.defined()) return what + ": undefined";
  if (actual.dtype() != expected.dtype())
    return what + ": dtype " + dtype_name(actual.dtype()) + ", expected " + dtype_name(expected.dtype());
  double rtol = 0, atol = 0;
  if (is_floating(expected.dtype())) {
    double peak = 1;
    for (double v : expected.to_vector<double>())
      if (std::isfinite(v)) peak = std::max(peak, std::fabs(v));
    rtol = 1e-4;
    atol = 1e-5 * peak;
  }
  std::string msg = testing::compare(actual, expected, rtol, atol);
  return msg.empty() ? msg : what + ": " + msg;
}

// Runs one case; returns "" when every output and gradient matches, else what differs.
inline std::string run_case(const CaseTensors& fx, const CaseFn& fn) {
  size_t n_in = 0, n_out = 0;
  while (fx.count(indexed("in", n_in))) ++n_in;
  while (fx.count(out_field("out", n_out))) ++n_out;
  std::set<std::string> known;
  for (size_t k = 0; k < n_in; ++k) known.insert({indexed("in", k), indexed("grad", k)});
  for (size_t k = 0; k < n_out; ++k) known.insert({out_field("out", k), out_field("gout", k)});
  for (const auto& [field, t] : fx)
    if (!known.count(field)) return "fixture field '" + field + "' is not an input, output or gradient";

  // Fresh copies: ops such as batch_norm update their inputs in place.
  Inputs in;
  for (size_t k = 0; k < n_in; ++k) {
    Tensor t = fx.at(indexed("in", k)).clone();
    if (fx.count(indexed("grad", k))) t.requires_grad_(true);
    in.push_back(t);
  }
  Outputs out;
  try {
    out = fn(in);
  } catch (const std::exception& e) {
    return std::string("forward threw: ") + e.what();
  }
  if (out.size() != n_out)
    return "op returned " + std::to_string(out.size()) + " outputs, fixture has " + std::to_string(n_out);
  for (size_t k = 0; k < n_out; ++k) {
    std::string msg = compare_tensor(out_field("out", k), out[k], fx.at(out_field("out", k)));
    if (!msg.empty()) return msg;
  }

  bool any_grad = false;
  for (size_t k = 0; k < n_in; ++k) any_grad = any_grad || fx.count(indexed("grad", k));
  if (!any_grad) return {};
  try {
    Tensor loss;
    for (size_t k = 0; k < n_out; ++k) {
      auto g = fx.find(out_field("gout", k));
      if (g == fx.end()) continue;
      Tensor term = sum(mul(out[k], g->second));
      loss = loss.defined() ? add(loss, term) : term;
    }
    if (!loss.defined()) return "fixture has input gradients but no upstream gradient (gout)";
    loss.backward();
  } catch (const std::exception& e) {
    return std::string("backward threw: ") + e.what();
  }
  for (size_t k = 0; k < n_in; ++k) {
    auto expected = fx.find(indexed("grad", k));
    if (expected == fx.end()) continue;
    // No gradient at all is acceptable only where PyTorch's is zero (sign, floor, ...).
    Tensor got = in[k].grad().defined() ? in[k].grad() : zeros_like(expected->second);
    std::string msg = compare_tensor(indexed("grad", k), got, expected->second);
    if (!msg.empty()) return msg;
  }
  return {};
}

// For a test's <family>_data(): one row per case in the fixture or the table.
inline void add_rows(const std::string& family, const CaseTable& table) {
  QTest::addColumn<QString>("name");
  if (!QDir(data_dir()).exists())
    QSKIP(qPrintable("fixture directory " + data_dir() + " is missing; run /usr/bin/python3 tests/make_fixtures.py"));
  const FamilyFixture& fx = load_family(family);
  if (!fx.error.empty()) {
    QTest::newRow("fixture file") << QString();  // fails in check_row with the load error
    return;
  }
  std::set<std::string> names;
  for (const auto& [name, t] : fx.cases) names.insert(name);
  for (const auto& [name, fn] : table) names.insert(name);
  for (const std::string& name : names) QTest::newRow(name.c_str()) << QString::fromStdString(name);
}

// For a test's <family>(): runs the current row's case.
inline void check_row(const std::string& family, const CaseTable& table) {
  QFETCH(QString, name);
  const FamilyFixture& fx = load_family(family);
  QVERIFY2(fx.error.empty(), fx.error.c_str());
  std::string case_name = name.toStdString();
  auto fixture = fx.cases.find(case_name);
  auto fn = table.find(case_name);
  QVERIFY2(fixture != fx.cases.end(),
           ("case '" + case_name + "' is in the test's table but not in " + fixture_path(family)).c_str());
  QVERIFY2(fn != table.end(), ("fixture case '" + case_name + "' has no entry in the test's table").c_str());
  std::string msg = run_case(fixture->second, fn->second);
  QVERIFY2(msg.empty(), msg.c_str());
}

}  // namespace nl::parity
