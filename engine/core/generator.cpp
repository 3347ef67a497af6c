// Generator: normal samples and state (de)serialisation.
#include "engine/core/generator.h"

#include <cmath>
#include <sstream>

#include "engine/core/error.h"

namespace nl {

double Generator::next_normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 0;
  while (u1 <= 1e-300) u1 = next_double();
  double u2 = next_double();
  double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2 * M_PI * u2);
}

std::string Generator::state() const {
  std::ostringstream os;
  os.precision(17);
  os << seed_ << ' ' << has_spare_ << ' ' << spare_ << ' ' << engine_;
  return os.str();
}

void Generator::set_state(const std::string& s) {
  std::istringstream is(s);
  Generator g;
  is >> g.seed_ >> g.has_spare_ >> g.spare_ >> g.engine_;
  NL_CHECK(!is.fail(), "Generator: malformed RNG state (", s.size(), " bytes)");
  *this = g;
}

Generator& default_generator() {
  static Generator gen(0x5eed);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace nl
