// A minimal test framework, so the native tests build anywhere CMake and a C++17 compiler do
// (the GPU machines included) without fetching anything.
//
//   VLA_TEST(group, name) { VLA_EXPECT(cond) << "context"; VLA_EXPECT_NEAR(a, b, tol); }
//
// The executable runs every test, or those whose "group.name" contains argv[1]; exits 1 on any
// failure. VLA_SKIP("reason") ends a test as skipped (counted and printed, never silent).
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace vla::test {

struct TestCase {
  std::string name;
  std::function<void()> fn;
};

std::vector<TestCase>& registry();
struct Registrar {
  Registrar(const char* group, const char* name, std::function<void()> fn) {
    registry().push_back({std::string(group) + "." + name, std::move(fn)});
  }
};

// Failure state of the running test.
struct State {
  int failures = 0;
  bool skipped = false;
  std::string skip_reason;
};
State& state();

struct Skip {
  std::string reason;
};

// Collects a failure message; reported when the statement ends.
class Failure {
 public:
  Failure(const char* file, int line, const std::string& what) {
    os_ << file << ":" << line << ": " << what;
  }
  ~Failure() {
    std::fprintf(stderr, "    FAIL %s\n", os_.str().c_str());
    state().failures++;
  }
  template <typename T>
  Failure& operator<<(const T& v) {
    os_ << " " << v;
    return *this;
  }

 private:
  std::ostringstream os_;
};

struct Sink {
  template <typename T>
  Sink& operator<<(const T&) { return *this; }
};

inline std::string near_message(double a, double b, double tol) {
  std::ostringstream os;
  os.precision(10);
  os << a << " vs " << b << " (|diff| " << std::fabs(a - b) << " > tol " << tol << ")";
  return os.str();
}

}  // namespace vla::test

#define VLA_TEST(group, name)                                                      \
  static void vla_test_##group##_##name();                                         \
  static ::vla::test::Registrar vla_registrar_##group##_##name(#group, #name,       \
                                                               vla_test_##group##_##name); \
  static void vla_test_##group##_##name()

#define VLA_EXPECT(cond) \
  if (cond) {            \
  } else                 \
    ::vla::test::Failure(__FILE__, __LINE__, "expected " #cond)

#define VLA_EXPECT_NEAR(a, b, tol)                                                             \
  if (double vla_a_ = (a), vla_b_ = (b), vla_t_ = (tol);                                      \
      std::fabs(vla_a_ - vla_b_) <= vla_t_)                                                    \
  {                                                                                            \
  } else                                                                                       \
    ::vla::test::Failure(__FILE__, __LINE__,                                                   \
                         std::string(#a " ~ " #b ": ") + ::vla::test::near_message(vla_a_, vla_b_, vla_t_))

// Expects `stmt` to throw vla::Error with `code`; the message must contain `fragment`.
#define VLA_EXPECT_THROWS(stmt, expected_code, fragment)                                                        \
  do {                                                                                                 \
    bool vla_thrown_ = false;                                                                          \
    try {                                                                                              \
      stmt;                                                                                            \
    } catch (const ::vla::Error& e) {                                                                  \
      vla_thrown_ = true;                                                                              \
      if (e.code() != (expected_code))                                                                          \
        ::vla::test::Failure(__FILE__, __LINE__, "wrong error code for " #stmt) << e.what();           \
      else if (std::string(e.what()).find(fragment) == std::string::npos)                             \
        ::vla::test::Failure(__FILE__, __LINE__, "message lacks '" fragment "': ") << e.what();        \
    }                                                                                                  \
    if (!vla_thrown_) ::vla::test::Failure(__FILE__, __LINE__, "expected an error from " #stmt);       \
  } while (0)

#define VLA_SKIP(reason) throw ::vla::test::Skip{reason}
