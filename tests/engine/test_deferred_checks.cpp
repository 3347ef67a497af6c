// The per-thread queue of deferred device checks (engine/backends/deferred_checks.h): off by
// default, on inside a guard and off again after it, checks run in order when raised, the
// first error is thrown and the queue is empty afterwards, and the queue has a bound.
#include <thread>

#include "engine/backends/deferred_checks.h"
#include "engine/core/error.h"
#include "testing.h"

using namespace nl;

class TestDeferredChecks : public QObject {
  Q_OBJECT
 private slots:
  void guard_turns_deferral_on_for_its_scope_and_thread() {
    QVERIFY(!deferred_checks_enabled());
    {
      DeferredChecksGuard on(true);
      QVERIFY(deferred_checks_enabled());
      bool other_thread = true;
      std::thread([&] { other_thread = deferred_checks_enabled(); }).join();
      QVERIFY(!other_thread);
      {
        DeferredChecksGuard off(false);
        QVERIFY(!deferred_checks_enabled());
      }
      QVERIFY(deferred_checks_enabled());
    }
    QVERIFY(!deferred_checks_enabled());
  }

  void raise_runs_checks_in_order_and_throws_the_first_error() {
    std::vector<int> ran;
    defer_check([&] { ran.push_back(1); });
    defer_check([&] {
      ran.push_back(2);
      fail("embedding: index 9 at position 4 is out of range");
    });
    defer_check([&] { ran.push_back(3); });
    const std::string error = nl::testing::error_of([] { raise_deferred_errors(); });
    QCOMPARE(error, std::string("embedding: index 9 at position 4 is out of range"));
    QCOMPARE(ran, (std::vector<int>{1, 2}));
    raise_deferred_errors();  // the queue was emptied by the throw: nothing runs again
    QCOMPARE(ran.size(), size_t(2));
  }

  void a_thread_that_never_raises_cannot_grow_the_queue_without_bound() {
    int ran = 0;
    for (int i = 0; i < 5000; ++i) defer_check([&] { ++ran; });
    QVERIFY2(ran >= 4000, std::to_string(ran).c_str());  // run when the bound was reached
    raise_deferred_errors();
    QCOMPARE(ran, 5000);
  }
};

QTEST_APPLESS_MAIN(TestDeferredChecks)
#include "test_deferred_checks.moc"
