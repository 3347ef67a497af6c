// The engine's exception type and a check macro that builds its message lazily.
// Every error says which op failed and why (shapes, dtypes, devices), so a user sees
// "matmul: inner dimensions differ: [2, 3] @ [4, 5]" rather than a crash.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace nl {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A device (or the host) refused memory. Separate so callers can free caches and retry
// smaller; the message names the device, the size asked for and what is in use.
class OutOfMemoryError : public Error {
 public:
  explicit OutOfMemoryError(const std::string& what) : Error(what) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

template <class... A>
[[noreturn]] void fail(const A&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  throw Error(os.str());
}

}  // namespace nl

#define NL_CHECK(cond, ...)                 \
  do {                                      \
    if (!(cond)) ::nl::fail(__VA_ARGS__);   \
  } while (0)
